// The JSON protocol (docs/protocol.md) over a WebSocket at /json: one JSON
// object per text message.  Requests carry an id and get a Promise for
// their reply; events go to onEvent.  When the socket closes without the
// user asking, it is opened again after a backoff (1 s, 2 s, 4 s... up to
// 30 s, with jitter), and onOpen runs again so the app can log in, rejoin
// and catch up.

export class RequestError extends Error {
  constructor(reply) {
    super(reply.message || reply.code);
    this.code = reply.code;
    this.reply = reply;
  }
}

export function jsonUrl(location) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/json`;
}

const MAX_BACKOFF = 30;

export class Connection {
  constructor(url, handlers) {
    this.url = url;
    this.handlers = handlers; // onState(state, detail), onOpen(welcome), onEvent(event)
    this.socket = null;
    this.nextId = 1;
    this.pending = new Map();
    this.attempt = 0;
    this.wanted = false;
    this.retryTimer = null;
    this.pingTimer = null;
    this.countdown = null;
    this.welcome = null;
  }

  start() {
    this.wanted = true;
    this.open();
  }

  open() {
    clearTimeout(this.retryTimer);
    clearInterval(this.countdown);
    this.welcome = null;
    this.handlers.onState("connecting", this.attempt ? `attempt ${this.attempt + 1}` : "");
    let socket;
    try {
      socket = new WebSocket(this.url);
    } catch (error) {
      this.handlers.onState("disconnected", String(error));
      return;
    }
    this.socket = socket;
    socket.addEventListener("message", (ev) => this.received(socket, ev.data));
    socket.addEventListener("close", (ev) => this.closed(socket, ev));
    socket.addEventListener("error", () => {});
  }

  received(socket, data) {
    if (socket !== this.socket || typeof data !== "string") return;
    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }
    if (message === null || typeof message !== "object") return;
    if (message.type === "welcome") {
      this.welcome = message;
      this.attempt = 0;
      this.keepAlive(message.idle_timeout);
      this.handlers.onState("connected", "");
      this.handlers.onOpen(message);
      return;
    }
    if ((message.type === "ok" || message.type === "error") && message.id !== undefined) {
      const waiting = this.pending.get(message.id);
      if (waiting) {
        this.pending.delete(message.id);
        if (message.type === "ok") waiting.resolve(message);
        else waiting.reject(new RequestError(message));
      }
      return;
    }
    if (message.type === "bye") this.bye = message;
    this.handlers.onEvent(message);
  }

  // Pings at a third of the server's idle timeout keep a quiet connection
  // open, and a ping not answered within 20 s means the connection is dead.
  keepAlive(idleTimeout) {
    clearInterval(this.pingTimer);
    const every = idleTimeout > 0 ? Math.max(5, idleTimeout / 3) : 60;
    const socket = this.socket;
    this.pingTimer = setInterval(() => {
      if (socket !== this.socket) return;
      const dead = setTimeout(() => socket.close(), 20000);
      this.request({ cmd: "ping" }).then(() => clearTimeout(dead), () => clearTimeout(dead));
    }, every * 1000);
  }

  closed(socket, ev) {
    if (socket !== this.socket) return;
    this.socket = null;
    clearInterval(this.pingTimer);
    for (const waiting of this.pending.values()) {
      waiting.reject(new RequestError({ code: "disconnected", message: "the connection closed" }));
    }
    this.pending.clear();
    const bye = this.bye;
    this.bye = null;
    const reason = bye ? bye.reason || bye.code : ev.reason || "the connection closed";
    // The user quit, or an operator put them out: stay out until asked.
    if (!this.wanted) {
      this.handlers.onState("idle", "");
      return;
    }
    if (bye && (bye.code === "quit" || bye.code === "killed")) {
      this.wanted = false;
      this.handlers.onState("disconnected", reason);
      return;
    }
    this.scheduleRetry(reason);
  }

  scheduleRetry(reason) {
    const base = Math.min(MAX_BACKOFF, 2 ** this.attempt);
    const delay = base * (0.75 + Math.random() * 0.5);
    this.attempt += 1;
    let left = Math.ceil(delay);
    this.handlers.onState("waiting", `${reason}; reconnecting in ${left} s`);
    clearInterval(this.countdown);
    this.countdown = setInterval(() => {
      left -= 1;
      if (left > 0) this.handlers.onState("waiting", `${reason}; reconnecting in ${left} s`);
    }, 1000);
    this.retryTimer = setTimeout(() => this.open(), delay * 1000);
  }

  // Try again now (the "reconnect" button).
  reconnectNow() {
    this.wanted = true;
    if (this.socket) return;
    this.attempt = 0;
    this.open();
  }

  // Close for good (the user logs out or quits).
  stop(reason) {
    this.wanted = false;
    clearTimeout(this.retryTimer);
    clearInterval(this.countdown);
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.send({ cmd: "quit", reason: reason || "" });
    } else if (this.socket) {
      this.socket.close();
    }
  }

  get connected() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN && this.welcome !== null;
  }

  send(message) {
    if (!this.socket || this.socket.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  request(message) {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (!this.send({ ...message, id })) {
        reject(new RequestError({ code: "disconnected", message: "not connected" }));
        return;
      }
      this.pending.set(id, { resolve, reject });
    });
  }
}

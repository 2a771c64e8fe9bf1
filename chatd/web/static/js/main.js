// chatd's web client: the app.  It speaks the JSON protocol over a
// WebSocket (connection.js), keeps buffers (model.js), renders text with
// format.js and runs slash commands with commands.js; its lines and
// history (lines.js), events (events.js) and view (view.js) are methods
// of App kept in modules of their own.  Every piece of text
// from the server reaches the page through textContent or text nodes.

import { Connection, RequestError, jsonUrl } from "./connection.js";
import { strip } from "./format.js";
import { Buffer, fold, isChannel } from "./model.js";
import * as commands from "./commands.js";
import { $, el, clock, timeOf } from "./dom.js";
import { CATCH_UP_PAGE, HISTORY_PAGE, Lines } from "./lines.js";
import { Events } from "./events.js";
import { View } from "./view.js";

const SESSION_KEY = "chatd.session";
const OWN_ACTIONS = new Set(["kick", "topic", "op", "deop", "voice", "devoice", "ban", "unban", "mode", "away", "invite"]);

function loadSession() {
  try {
    const saved = JSON.parse(sessionStorage.getItem(SESSION_KEY) || "null");
    return saved && typeof saved.nick === "string" ? saved : null;
  } catch {
    return null;
  }
}

class App {
  constructor() {
    this.buffers = new Map();
    this.order = [];
    this.active = null;
    this.me = null;
    this.account = null;
    this.session = loadSession();
    this.loggedIn = false;
    this.connectedOnce = false;
    this.typingSupported = true;
    this.markersSupported = true;
    this.typingState = { target: null, sentAt: 0, timer: null };
    this.typingQuietUntil = 0;
    this.markTimer = null;
    this.listCache = [];
    this.connection = new Connection(jsonUrl(location), {
      onState: (state, detail) => this.showState(state, detail),
      onOpen: (welcome) => this.opened(welcome),
      onEvent: (event) => this.event(event),
    });
    this.server = this.addBuffer(new Buffer("server", "server"));
    this.bindUi();
    this.select(this.server);
    if (this.session) {
      this.fillLogin(this.session);
      this.hideLogin();
      this.connection.start();
    } else {
      this.showLogin("");
    }
  }

  // ---- connection and login ------------------------------------------

  showState(state, detail) {
    const conn = $("conn");
    // "connected" once logged in and joined; until then, connecting.
    conn.dataset.state = state === "connected" && !this.loggedIn ? "connecting" : state;
    const words = {
      idle: "Not connected",
      connecting: "Connecting…",
      connected: this.loggedIn ? "Connected" : "Logging in…",
      waiting: "Disconnected",
      disconnected: "Disconnected",
    };
    const text = detail ? `${words[state]}: ${detail}` : words[state];
    $("conn-text").textContent = text;
    conn.title = text;
    // The login form covers the top bar: it shows the state too.
    $("login-conn").dataset.state = conn.dataset.state;
    $("login-conn-text").textContent = text;
    $("reconnect").hidden = !(state === "waiting" || (state === "disconnected" && this.session));
    if (state === "waiting" || state === "disconnected") {
      for (const buffer of this.buffers.values()) buffer.typing.clear();
      this.renderTyping();
      if (this.loggedIn) this.statusLine(`Disconnected: ${detail || "the connection closed"}`);
      this.loggedIn = false;
    }
    const usable = state === "connected" && this.loggedIn;
    $("input").disabled = !this.session;
    $("send").disabled = !usable;
    document.body.dataset.connection = usable ? "up" : state;
  }

  statusLine(text) {
    for (const buffer of this.buffers.values()) {
      if (buffer.kind === "server" || buffer.joined || buffer.kind === "query") this.info(buffer, text);
    }
  }

  async opened() {
    const session = this.session;
    if (!session) {
      this.connection.stop();
      return;
    }
    const reconnecting = this.connectedOnce;
    try {
      if (session.register) {
        const reply = await this.connection.request({ cmd: "register", account: session.account, password: session.password });
        session.account = reply.account;
        session.register = false;
        this.saveSession();
      } else if (session.password) {
        const reply = await this.connection.request({ cmd: "login", account: session.account, password: session.password });
        session.account = reply.account;
      }
      this.account = session.password ? session.account : null;
      await this.takeNick(session.nick, reconnecting || session.restored, this.account);
    } catch (error) {
      if (error.code === "disconnected") return;
      if (!reconnecting) {
        this.connection.stop();
        this.session = null;
        sessionStorage.removeItem(SESSION_KEY);
        this.showLogin(error.message);
        return;
      }
      this.info(this.server, `Could not log in again: ${error.message}`, "error");
      this.connection.stop();
      return;
    }
    const channels = reconnecting
      ? [...this.buffers.values()].filter((b) => b.kind === "channel" && b.wanted).map((b) => b.name)
      : session.channels || [];
    const queries = reconnecting
      ? [...this.buffers.values()].filter((b) => b.kind === "query").map((b) => b.name)
      : session.queries || [];
    const active = session.active;
    this.loggedIn = true;
    this.connectedOnce = true;
    session.restored = true;
    this.hideLogin();
    this.showState("connected", "");
    $("me-nick").textContent = this.me;
    if (reconnecting) this.statusLine("Reconnected");
    // One channel after the other: each join costs a flood-control token,
    // and a burst of refused ones would count towards a disconnection.
    for (const name of channels) {
      if (!this.connection.connected) return;
      await this.join(name, undefined, false).catch((e) => this.failed(this.server, e));
    }
    await Promise.all(queries.map((name) => this.openQuery(name, false, reconnecting)));
    if (!reconnecting && active) {
      const buffer = this.buffers.get(fold(active));
      if (buffer) this.select(buffer);
    }
    this.saveSession();
  }

  // Takes the nick; when it is still held (a reload, a reconnection before
  // the server saw the old connection go), waits and tries again, then
  // falls back to nick_, nick__...
  // An account's second device takes nick_ at once.
  async takeNick(nick, patient, account) {
    const delays = patient ? [500, 1000, 2000, 4000] : [];
    const others = patient || account ? [`${nick}_`, `${nick}__`, `${nick}___`] : [];
    const tries = [...delays.map(() => nick), nick, ...others];
    for (let attempt = 0; attempt < tries.length; attempt++) {
      try {
        const reply = await this.connection.request({ cmd: "nick", nick: tries[attempt] });
        this.me = reply.nick;
        return;
      } catch (error) {
        if (error.code !== "nick_in_use" || attempt === tries.length - 1) throw error;
        if (attempt < delays.length) await new Promise((resolve) => setTimeout(resolve, delays[attempt]));
      }
    }
  }

  fillLogin(session) {
    $("login-nick").value = session.nick;
    $("login-channels").value = (session.channels || []).join(" ");
  }

  showLogin(error) {
    $("login").hidden = false;
    $("login-error").textContent = error || "";
    $("login-submit").disabled = false;
    $("input").disabled = true;
    this.showState("idle", "");
    $("login-nick").focus();
  }

  hideLogin() {
    $("login").hidden = true;
  }

  submitLogin(ev) {
    ev.preventDefault();
    const nick = $("login-nick").value.trim();
    const password = $("login-password").value;
    const register = $("login-register").checked;
    if (register && !password) {
      $("login-error").textContent = "Registering an account needs a password.";
      return;
    }
    const channels = $("login-channels")
      .value.split(/[\s,]+/)
      .filter(Boolean)
      .map((c) => (isChannel(c) ? c : `#${c}`));
    this.session = { nick, account: password ? nick : null, password: password || null, register, channels, queries: [] };
    $("login-error").textContent = "";
    $("login-submit").disabled = true;
    $("login-password").value = "";
    this.connectedOnce = false;
    this.connection.start();
  }

  // The nick, channels and conversations live in this tab's sessionStorage
  // (the password too, for an account), so that a reload logs in again
  // and rejoins; closing the tab or logging out forgets them.
  saveSession() {
    if (!this.session) return;
    const wanted = [...this.buffers.values()];
    if (this.loggedIn) {
      this.session.channels = wanted.filter((b) => b.kind === "channel" && b.wanted).map((b) => b.name);
      this.session.queries = wanted.filter((b) => b.kind === "query").map((b) => b.name);
      this.session.active = this.active && this.active.kind !== "server" ? this.active.name : null;
    }
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(this.session));
  }

  logout(reason) {
    this.connection.stop(reason || "");
    sessionStorage.removeItem(SESSION_KEY);
    this.session = null;
    this.loggedIn = false;
    this.connectedOnce = false;
    for (const buffer of [...this.buffers.values()]) if (buffer.kind !== "server") this.removeBuffer(buffer);
    this.showLogin("");
    return null;
  }

  // A request; the replies to our own actions (kick, topic, modes...) are
  // shown as the others' events would be, since the protocol sends nobody
  // an event about what they did themselves.
  request(message) {
    return this.connection.request(message).then((reply) => {
      if (OWN_ACTIONS.has(message.cmd)) this.ownResult(message, reply);
      return reply;
    });
  }

  failed(buffer, error) {
    if (error && error.code === "disconnected") return;
    this.info(buffer || this.active, error instanceof Error ? error.message : String(error), "error");
  }

  // ---- buffers --------------------------------------------------------

  addBuffer(buffer) {
    this.buffers.set(buffer.key, buffer);
    this.order.push(buffer);
    this.order.sort((a, b) => {
      const rank = { server: 0, channel: 1, query: 2 };
      return rank[a.kind] - rank[b.kind] || fold(a.name).localeCompare(fold(b.name));
    });
    const log = el("div", "log");
    log.setAttribute("role", "log");
    log.setAttribute("aria-label", buffer.kind === "server" ? "Server messages" : `Messages in ${buffer.name}`);
    log.tabIndex = 0;
    log.hidden = true;
    const older = el("button", "older small", "Load older messages");
    older.type = "button";
    older.hidden = true;
    older.addEventListener("click", () => this.loadOlder(buffer));
    log.append(older);
    log.addEventListener("scroll", () => {
      if (log.scrollTop < 80) this.loadOlder(buffer);
      if (buffer === this.active) this.maybeMarkRead();
    });
    buffer.log = log;
    buffer.olderButton = older;
    $("logs").append(log);
    this.renderBufferList();
    return buffer;
  }

  removeBuffer(buffer) {
    this.buffers.delete(buffer.key);
    this.order = this.order.filter((b) => b !== buffer);
    buffer.log.remove();
    if (this.active === buffer) this.select(this.order[Math.max(0, this.order.length - 1)]);
    this.renderBufferList();
    this.saveSession();
  }

  bufferFor(name) {
    const key = fold(name.replace(/^@(?=#)/, ""));
    let buffer = this.buffers.get(key);
    if (!buffer) {
      buffer = new Buffer(name.replace(/^@(?=#)/, ""), isChannel(name.replace(/^@/, "")) ? "channel" : "query");
      this.addBuffer(buffer);
    }
    return buffer;
  }

  select(buffer) {
    if (!buffer) return;
    if (this.active) this.active.log.hidden = true;
    this.active = buffer;
    buffer.log.hidden = false;
    buffer.unread = 0;
    buffer.highlight = false;
    $("buffer-name").textContent = buffer.kind === "server" ? "chatd" : buffer.name;
    this.renderHeader();
    this.renderMembers();
    this.renderBufferList();
    this.renderTyping();
    this.updateOlderButton(buffer);
    this.scrollToBottom(buffer);
    this.closePanels();
    this.saveSession();
    this.maybeMarkRead();
    this.fillUp(buffer);
  }

  move(step) {
    if (!this.order.length) return;
    const index = this.order.indexOf(this.active);
    this.select(this.order[(index + step + this.order.length) % this.order.length]);
  }

  // A private conversation; its history (kept for accounts only) is read
  // when it opens, and again after a reconnection (refresh).
  openQuery(nick, focus, refresh = false) {
    const buffer = this.bufferFor(nick);
    if (focus) this.select(buffer);
    this.saveSession();
    if ((!buffer.historyLoaded || refresh) && this.account && this.connection.connected) {
      buffer.historyLoaded = true;
      return this.catchUp(buffer).then(() => buffer);
    }
    return Promise.resolve(buffer);
  }

  closeBuffer(buffer) {
    if (buffer.kind === "channel" && buffer.joined) return this.leave(buffer.name, "");
    if (buffer.kind !== "server") this.removeBuffer(buffer);
    return null;
  }

  clearBuffer(buffer) {
    for (const line of buffer.lines) line.el.remove();
    buffer.lines = buffer.lines.filter(() => false);
    return null;
  }

  // ---- actions ------------------------------------------------------------

  // A request that flood control may refuse at first (rejoining many
  // channels at once): tried again after the retry_after it gives.
  async patiently(message) {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.request(message);
      } catch (error) {
        if (error.code !== "rate_limited" || attempt >= 5) throw error;
        await new Promise((resolve) => setTimeout(resolve, 1000 * (error.reply.retry_after || 1)));
      }
    }
  }

  async join(name, key, focus) {
    const request = { cmd: "join", channel: name, history: HISTORY_PAGE };
    if (key) request.key = key;
    const existing = this.buffers.get(fold(name));
    if (existing && existing.newestMsgid) request.history = CATCH_UP_PAGE;
    const reply = await this.patiently(request);
    const buffer = this.bufferFor(reply.channel);
    buffer.name = reply.channel;
    buffer.joined = true;
    buffer.wanted = true;
    buffer.historyReadable = true;
    buffer.topic = reply.topic || "";
    buffer.setMembers(reply.members || [], reply.privileges, reply.accounts);
    if ("read_marker" in reply) buffer.readMarker = reply.read_marker;
    else this.markersSupported = false;
    buffer.log.setAttribute("aria-label", `Messages in ${buffer.name}`);
    if (focus || !this.active || this.active === this.server) this.select(buffer);
    this.saveSession();
    this.renderBufferList();
    if (buffer === this.active) {
      this.renderHeader();
      this.renderMembers();
    }
    this.request({ cmd: "who", channel: buffer.name }).then(
      (who) => {
        for (const [nick, message] of Object.entries(who.away || {})) {
          const member = buffer.member(nick);
          if (member) member.away = message;
        }
        if (buffer === this.active) this.renderMembers();
      },
      () => {},
    );
    this.request({ cmd: "mode", channel: buffer.name }).then(
      (modes) => {
        buffer.modes = modes.modes || {};
        if (buffer === this.active) this.renderHeader();
      },
      () => {},
    );
    await this.catchUp(buffer, "history" in reply ? reply.history : undefined);
    return buffer;
  }

  async leave(name, reason) {
    const reply = await this.request({ cmd: "leave", channel: name, reason: reason || "" });
    const buffer = this.buffers.get(fold(reply.channel));
    if (buffer) {
      buffer.joined = false;
      buffer.wanted = false;
      this.removeBuffer(buffer);
    }
    return null;
  }

  async changeNick(nick) {
    const reply = await this.request({ cmd: "nick", nick });
    // The nick asked for from now on, at a reload or a reconnection.
    if (this.session) this.session.nick = reply.nick;
    this.renamed(this.me, reply.nick);
    return null;
  }

  // Sends text to a buffer: shown at once, confirmed (msgid, time) by the
  // reply, marked "not sent" if it fails.
  async say(buffer, text, action) {
    if (!text) return null;
    if (buffer.kind === "server") throw new Error("this is the server's buffer: join a channel (/join #channel) or open a conversation (/query nick)");
    this.typingDone(true);
    const item = { from: this.me, to: buffer.name, text, action, ts: new Date().toISOString() };
    const element = this.messageElement(item);
    element.classList.add("pending");
    const line = { msgid: null, ts: null, el: element, pending: true, text };
    this.place(buffer, line);
    this.scrollToBottom(buffer);
    const request = { cmd: "msg", to: buffer.name, text };
    if (action) request.action = true;
    try {
      const reply = await this.request(request);
      if (buffer.msgids.has(reply.msgid)) {
        // history brought it back first
        element.remove();
        buffer.lines.splice(buffer.lines.indexOf(line), 1);
      } else {
        line.msgid = reply.msgid;
        line.ts = reply.ts;
        line.pending = false;
        buffer.msgids.add(reply.msgid);
        element.dataset.msgid = reply.msgid;
        element.classList.remove("pending");
        const time = element.querySelector("time");
        const when = timeOf(reply.ts);
        time.textContent = clock(when);
        time.dateTime = when.toISOString();
        if (reply.away) this.info(buffer, `${reply.to} is away: ${strip(reply.away)}`);
      }
    } catch (error) {
      element.classList.remove("pending");
      element.classList.add("failed");
      element.title = `not sent: ${error.message}`;
      throw error;
    }
    return null;
  }

  async showTopic(channel) {
    const reply = await this.request({ cmd: "topic", channel });
    this.info(this.bufferFor(reply.channel), reply.topic ? `Topic of ${reply.channel}: ${strip(reply.topic)}` : `${reply.channel} has no topic`);
    return null;
  }

  async showModes(channel) {
    const reply = await this.request({ cmd: "mode", channel });
    const names = Object.entries(reply.modes).map(([k, v]) => (v === true ? k : `${k}=${v}`));
    this.info(this.active, `Modes of ${reply.channel}: ${names.join(", ") || "none"}`);
    return null;
  }

  async showBans(channel, list = "ban") {
    const reply = await this.request({ cmd: "bans", channel, list });
    if (!reply.entries.length) this.info(this.active, `The ${list} list of ${reply.channel} is empty`);
    for (const entry of reply.entries) this.info(this.active, `${list} ${entry.mask} (by ${entry.by})`);
    return null;
  }

  async showNames(channel) {
    const reply = await this.request({ cmd: "who", channel });
    const names = reply.members.map((nick) => {
      const privileges = reply.privileges[nick] || [];
      return (privileges.includes("op") ? "@" : privileges.includes("voice") ? "+" : "") + nick;
    });
    this.info(this.active, `${reply.channel}: ${names.join(" ")}`);
    return null;
  }

  async submit(ev) {
    ev.preventDefault();
    const input = $("input");
    const line = input.value;
    if (!line.trim()) return;
    if (!this.loggedIn || !this.connection.connected) {
      this.info(this.active, "Not connected: the message was not sent (it is still in the box)", "error");
      return;
    }
    input.value = "";
    const buffer = this.active;
    try {
      await commands.run(this, line);
    } catch (error) {
      this.failed(buffer, error);
      if (error instanceof RequestError && error.code === "rate_limited" && !input.value) input.value = line;
    }
  }

  bindUi() {
    $("login-form").addEventListener("submit", (ev) => this.submitLogin(ev));
    $("composer").addEventListener("submit", (ev) => this.submit(ev));
    const input = $("input");
    input.addEventListener("input", () => this.typed());
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Tab" && !ev.shiftKey && input.value && this.complete(input)) ev.preventDefault();
      if (ev.key === "PageUp" || ev.key === "PageDown") {
        const log = this.active.log;
        log.scrollTop += (ev.key === "PageUp" ? -1 : 1) * log.clientHeight * 0.9;
        ev.preventDefault();
      }
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.altKey && (ev.key === "ArrowUp" || ev.key === "ArrowDown")) {
        ev.preventDefault();
        this.move(ev.key === "ArrowUp" ? -1 : 1);
        if (!$("login").hidden) return;
        input.focus();
      } else if (ev.altKey && (ev.key === "j" || ev.key === "J")) {
        ev.preventDefault();
        this.togglePanel("buffers", true);
        $("join-input").focus();
      } else if (ev.key === "Escape") {
        this.closePanels();
      }
    });
    $("toggle-buffers").addEventListener("click", () => this.togglePanel("buffers"));
    $("toggle-members").addEventListener("click", () => this.togglePanel("members"));
    $("scrim").addEventListener("click", () => this.closePanels());
    $("reconnect").addEventListener("click", () => {
      if (!this.session) return;
      this.connection.reconnectNow();
    });
    $("logout").addEventListener("click", () => this.logout("logged out"));
    $("open-list").addEventListener("click", () => this.openList(""));
    $("list-filter").addEventListener("input", () => this.renderList());
    $("join-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const name = $("join-input").value.trim();
      if (!name) return;
      $("join-input").value = "";
      this.join(isChannel(name) ? name : `#${name}`, undefined, true).then(
        () => input.focus(),
        (e) => this.failed(this.active, e),
      );
    });
    for (const button of $("member-dialog").querySelectorAll("[data-action]")) {
      button.addEventListener("click", () => this.memberAction(button.dataset.action));
    }
    $("edit-topic").addEventListener("click", () => this.openTopic());
    $("topic-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const buffer = this.active;
      $("topic-dialog").close();
      try {
        await this.request({ cmd: "topic", channel: buffer.name, topic: $("topic-input").value });
      } catch (error) {
        this.failed(buffer, error);
      }
      input.focus();
    });
    $("channel-settings").addEventListener("click", () => this.openSettings());
    $("leave").addEventListener("click", () => {
      Promise.resolve(this.closeBuffer(this.active)).catch((e) => this.failed(this.active, e));
    });
    $("settings-form").addEventListener("submit", (ev) => this.saveSettings(ev));
    for (const button of document.querySelectorAll("[data-close]")) {
      button.addEventListener("click", () => button.closest("dialog").close());
    }
    document.addEventListener("visibilitychange", () => this.maybeMarkRead());
    window.addEventListener("focus", () => this.maybeMarkRead());
    window.addEventListener("pageshow", (ev) => {
      if (ev.persisted && this.session) this.connection.reconnectNow();
    });
    // Leave at once on reload or close, so the nick is free for the next page.
    window.addEventListener("pagehide", () => {
      if (this.connection.socket && this.connection.socket.readyState === WebSocket.OPEN) {
        this.connection.wanted = false;
        this.connection.socket.close(1000, "page closed");
      }
    });
  }
}

Object.assign(App.prototype, Lines, Events, View);

window.chatd = new App();

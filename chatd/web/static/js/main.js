// chatd's web client: the app.  It speaks the JSON protocol over a
// WebSocket (connection.js), keeps buffers (model.js), renders text with
// format.js and runs slash commands with commands.js.  Every piece of text
// from the server reaches the page through textContent or text nodes.

import { Connection, RequestError, jsonUrl } from "./connection.js";
import { render, strip, nickClass } from "./format.js";
import { Buffer, fold, isChannel, mark } from "./model.js";
import * as commands from "./commands.js";

const HISTORY_PAGE = 50;
const CATCH_UP_PAGE = 100;
const CATCH_UP_PAGES = 10;
const TYPING_SEND_EVERY = 3000;
const TYPING_PAUSED_AFTER = 5000;
const TYPING_SHOWN_FOR = { active: 6000, paused: 30000 };
const SESSION_KEY = "chatd.session";
const OWN_ACTIONS = new Set(["kick", "topic", "op", "deop", "voice", "devoice", "ban", "unban", "mode", "away", "invite"]);

const $ = (id) => document.getElementById(id);

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function timeOf(ts) {
  const date = ts ? new Date(ts) : new Date();
  return Number.isNaN(date.getTime()) ? new Date() : date;
}

function clock(date) {
  return date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
}

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

  // ---- lines ------------------------------------------------------------

  scrolledToBottom(buffer) {
    const log = buffer.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  }

  scrollToBottom(buffer) {
    buffer.log.scrollTop = buffer.log.scrollHeight;
  }

  // Puts a line element in a buffer in msgid order; returns false for a
  // msgid already shown.
  place(buffer, line) {
    if (line.msgid) {
      if (buffer.msgids.has(line.msgid)) return false;
      buffer.msgids.add(line.msgid);
    }
    const stick = this.scrolledToBottom(buffer);
    const index = line.msgid ? buffer.insertionIndex(line.msgid) : buffer.lines.length;
    const before = buffer.lines[index];
    if (before) buffer.log.insertBefore(line.el, before.el);
    else buffer.log.append(line.el);
    buffer.lines.splice(index, 0, line);
    if (stick && index === buffer.lines.length - 1) this.scrollToBottom(buffer);
    return true;
  }

  info(buffer, text, kind = "info") {
    const line = el("div", `line ${kind}`);
    const when = new Date();
    const time = el("time", "ts", clock(when));
    time.dateTime = when.toISOString();
    line.append(time, el("span", "text", text));
    this.place(buffer, { msgid: null, ts: null, el: line });
  }

  // A line about something that happened: a join, a kick, a mode...
  eventLine(buffer, item, parts) {
    const line = el("div", "line event");
    const when = timeOf(item.ts);
    const time = el("time", "ts", clock(when));
    time.dateTime = when.toISOString();
    time.title = when.toLocaleString();
    const text = el("span", "text");
    for (const part of parts) {
      if (part && typeof part === "object") text.append(part);
      else text.append(document.createTextNode(part));
    }
    line.append(time, text);
    return this.place(buffer, { msgid: item.msgid || null, ts: item.ts || null, el: line });
  }

  nickNode(nick) {
    return el("span", `nick ${nickClass(nick)}`, nick);
  }

  messageElement(item) {
    const mine = this.me && fold(item.from) === fold(this.me);
    const kinds = ["line", "msg"];
    if (item.action) kinds.push("action");
    if (item.notice) kinds.push("notice");
    if (mine) kinds.push("mine");
    const line = el("div", kinds.join(" "));
    const when = timeOf(item.ts);
    const time = el("time", "ts", clock(when));
    time.dateTime = when.toISOString();
    time.title = when.toLocaleString();
    line.append(time);
    if (item.to && item.to.startsWith("@#")) line.append(el("span", "to-ops", "[ops] "));
    const who = this.nickNode(item.from);
    if (item.action) line.append(el("span", "sigil", "* "), who, " ");
    else if (item.notice) line.append(el("span", "sigil", "-"), who, el("span", "sigil", "- "));
    else line.append(el("span", "sigil", "<"), who, el("span", "sigil", "> "));
    const text = el("span", "text");
    text.append(render(item.text));
    line.append(text);
    if (!mine && this.me && this.mentions(item.text)) line.classList.add("highlight");
    if (item.msgid) line.dataset.msgid = item.msgid;
    return line;
  }

  mentions(text) {
    const plain = strip(text).toLowerCase();
    const nick = fold(this.me);
    let at = plain.indexOf(nick);
    while (at >= 0) {
      const before = at === 0 ? "" : plain[at - 1];
      const after = plain[at + nick.length] || "";
      if (!/[a-z0-9_\-[\]{}|^`\\]/.test(before) && !/[a-z0-9_\-[\]{}|^`\\]/.test(after)) return true;
      at = plain.indexOf(nick, at + 1);
    }
    return false;
  }

  // A message, live or from history; counts as unread where it should.
  showMessage(buffer, item, fromHistory, fresh = false) {
    const mine = this.me && fold(item.from) === fold(this.me);
    if (mine && item.msgid && !buffer.msgids.has(item.msgid)) {
      // A message of ours whose reply never came (the connection went)
      // comes back from history: it was sent after all.
      const failed = buffer.lines.find((l) => l.pending && l.text === item.text);
      if (failed) {
        failed.el.remove();
        buffer.lines.splice(buffer.lines.indexOf(failed), 1);
      }
    }
    const placed = this.place(buffer, { msgid: item.msgid || null, ts: item.ts || null, el: this.messageElement(item) });
    if (!placed) return false;
    buffer.typing.delete(fold(item.from));
    if (buffer === this.active) this.renderTyping();
    if (mine) return true;
    const seen = buffer === this.active && document.visibilityState === "visible" && this.scrolledToBottom(buffer);
    const unreadByMarker = !fromHistory || fresh || (buffer.readMarker && item.ts && item.ts > buffer.readMarker);
    if (!seen && unreadByMarker) {
      buffer.unread += 1;
      if (buffer.kind === "query" || this.mentions(item.text)) buffer.highlight = true;
      this.renderBufferList();
    }
    if (buffer === this.active) this.maybeMarkRead();
    return true;
  }

  // ---- history ------------------------------------------------------------

  historyItem(buffer, item, newerThan) {
    if (item.type === "message") return this.showMessage(buffer, item, true, Boolean(newerThan && item.msgid > newerThan));
    const parts = this.describe(item);
    return parts ? this.eventLine(buffer, item, parts) : false;
  }

  // A page of history; items after newerThan (the newest msgid shown
  // before a reconnection) are news, and count as unread.
  merge(buffer, page, newerThan) {
    if (!page || !Array.isArray(page.items)) return;
    for (const item of page.items) this.historyItem(buffer, item, newerThan);
  }

  // After joining (or reconnecting): the newest page, and, when this
  // buffer showed messages before, every page after the newest of them.
  async catchUp(buffer, joinPage) {
    const known = buffer.newestMsgid;
    let page = joinPage;
    if (page === undefined) {
      try {
        page = await this.request({ cmd: "history", target: buffer.name, latest: true, limit: known ? CATCH_UP_PAGE : HISTORY_PAGE });
      } catch (error) {
        if (!["history_off", "account_required", "history_hidden", "not_on_channel"].includes(error.code)) this.failed(buffer, error);
        return;
      }
    }
    if (page === null) {
      buffer.historyReadable = false;
      return;
    }
    const first = page.items && page.items.length ? page.items[0].msgid : null;
    const hadNone = buffer.oldestMsgid === null;
    this.merge(buffer, page, known);
    if (hadNone) buffer.more = Boolean(page.more);
    // A gap between what we showed and this page: read forward from ours.
    if (known && first && first > known && page.more) {
      let after = known;
      for (let k = 0; k < CATCH_UP_PAGES; k++) {
        let next;
        try {
          next = await this.request({ cmd: "history", target: buffer.name, after, limit: CATCH_UP_PAGE });
        } catch {
          break;
        }
        this.merge(buffer, next, known);
        if (!next.more || !next.items.length) break;
        after = next.items[next.items.length - 1].msgid;
        if (after >= first) break;
      }
    }
    this.updateOlderButton(buffer);
    if (buffer === this.active) this.fillUp(buffer);
  }

  async loadOlder(buffer) {
    if (!buffer.more || buffer.loadingOlder || !this.connection.connected || !buffer.historyReadable) return;
    const before = buffer.oldestMsgid;
    if (!before) return;
    buffer.loadingOlder = true;
    buffer.olderButton.textContent = "Loading…";
    const log = buffer.log;
    const height = log.scrollHeight;
    const top = log.scrollTop;
    try {
      const page = await this.request({ cmd: "history", target: buffer.name, before, limit: HISTORY_PAGE });
      this.merge(buffer, page);
      buffer.more = Boolean(page.more);
      log.scrollTop = top + (log.scrollHeight - height);
    } catch (error) {
      buffer.more = false;
      this.failed(buffer, error);
    } finally {
      buffer.loadingOlder = false;
      this.updateOlderButton(buffer);
    }
    if (buffer === this.active) this.fillUp(buffer);
  }

  // Loads older pages until the log can scroll, so that scrolling up can
  // ask for more.
  fillUp(buffer) {
    const log = buffer.log;
    if (buffer.more && !buffer.loadingOlder && log.scrollHeight <= log.clientHeight + 80) this.loadOlder(buffer);
  }

  updateOlderButton(buffer) {
    buffer.olderButton.hidden = !buffer.more || !buffer.historyReadable;
    buffer.olderButton.textContent = "Load older messages";
  }

  // Read markers: the newest message's time once the buffer is on screen
  // and scrolled to the bottom.
  maybeMarkRead() {
    const buffer = this.active;
    if (!buffer || buffer.kind === "server" || !this.markersSupported || !this.loggedIn) return;
    if (document.visibilityState !== "visible" || !this.scrolledToBottom(buffer)) return;
    if (buffer.unread) {
      buffer.unread = 0;
      buffer.highlight = false;
      this.renderBufferList();
    }
    const ts = buffer.newestTs;
    if (!ts || (buffer.readMarker && buffer.readMarker >= ts)) return;
    clearTimeout(this.markTimer);
    this.markTimer = setTimeout(() => {
      if (!this.connection.connected) return;
      this.request({ cmd: "mark_read", target: buffer.name, ts }).then(
        (reply) => {
          buffer.readMarker = reply.read_marker;
        },
        (error) => {
          if (["history_off", "unavailable", "unknown_command"].includes(error.code)) this.markersSupported = false;
        },
      );
    }, 1000);
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

  // ---- typing -------------------------------------------------------------

  typed() {
    const buffer = this.active;
    const text = $("input").value;
    if (!this.typingSupported || !this.loggedIn || !buffer || buffer.kind === "server") return;
    if (Date.now() < this.typingQuietUntil) return;
    if (!text || text.startsWith("/")) {
      this.typingDone();
      return;
    }
    const state = this.typingState;
    const now = Date.now();
    if (state.target !== buffer.name || now - state.sentAt > TYPING_SEND_EVERY) {
      if (state.target && state.target !== buffer.name) this.sendTyping(state.target, "done");
      state.target = buffer.name;
      state.sentAt = now;
      this.sendTyping(buffer.name, "active");
    }
    clearTimeout(state.timer);
    state.timer = setTimeout(() => {
      if (state.target) this.sendTyping(state.target, "paused");
      state.sentAt = 0;
    }, TYPING_PAUSED_AFTER);
  }

  // The input was cleared without sending: "done".  After a message the
  // others need no "done": the message ends the typing.
  typingDone(sent = false) {
    const state = this.typingState;
    clearTimeout(state.timer);
    if (state.target && !sent) this.sendTyping(state.target, "done");
    state.target = null;
    state.sentAt = 0;
  }

  sendTyping(target, state) {
    if (!this.typingSupported || !this.connection.connected) return;
    this.request({ cmd: "typing", to: target, state }).catch((error) => {
      // A server without typing notices: stop sending them.
      if (error.code === "unknown_command" || error.code === "bad_args") this.typingSupported = false;
      // Typing costs a flood-control token: never spend more on it.
      if (error.code === "rate_limited") this.typingQuietUntil = Date.now() + 1000 * (error.reply.retry_after || 5);
    });
  }

  typingEvent(event) {
    const mine = this.me && fold(event.to) === fold(this.me);
    const buffer = this.buffers.get(fold(mine ? event.from : event.to.replace(/^@/, "")));
    if (!buffer) return;
    const key = fold(event.from);
    const old = buffer.typing.get(key);
    if (old) clearTimeout(old.timer);
    if (event.state === "active" || event.state === "paused") {
      const timer = setTimeout(() => {
        buffer.typing.delete(key);
        if (buffer === this.active) this.renderTyping();
      }, TYPING_SHOWN_FOR[event.state]);
      buffer.typing.set(key, { nick: event.from, timer, state: event.state });
    } else {
      buffer.typing.delete(key);
    }
    if (buffer === this.active) this.renderTyping();
  }

  stopTyping(nick) {
    for (const buffer of this.buffers.values()) {
      const entry = buffer.typing.get(fold(nick));
      if (entry) {
        clearTimeout(entry.timer);
        buffer.typing.delete(fold(nick));
      }
    }
    this.renderTyping();
  }

  // "alice is typing…"; someone who paused is shown too (IRCv3 says for
  // 30 s), as having paused.
  renderTyping() {
    const buffer = this.active;
    const entries = buffer ? [...buffer.typing.values()] : [];
    if (entries.length === 1 && entries[0].state === "paused") {
      $("typing").textContent = `${entries[0].nick} has stopped typing`;
      return;
    }
    const nicks = entries.map((t) => t.nick);
    let text = "";
    if (nicks.length === 1) text = `${nicks[0]} is typing…`;
    else if (nicks.length === 2) text = `${nicks[0]} and ${nicks[1]} are typing…`;
    else if (nicks.length > 2) text = "Several people are typing…";
    $("typing").textContent = text;
  }

  // ---- events -------------------------------------------------------------

  // The words for an event, as parts (strings and nick nodes); null for
  // none.
  describe(event) {
    const nick = (n) => this.nickNode(n);
    switch (event.type) {
      case "join":
        return ["→ ", nick(event.nick), " joined"];
      case "leave":
        return ["← ", nick(event.nick), " left", event.reason ? ` (${strip(event.reason)})` : ""];
      case "quit":
        return ["← ", nick(event.nick), " quit", event.reason ? ` (${strip(event.reason)})` : ""];
      case "kick":
        return ["✕ ", nick(event.by), " kicked ", nick(event.nick), event.reason ? ` (${strip(event.reason)})` : ""];
      case "nick":
        return [nick(event.old), " is now known as ", nick(event.new)];
      case "topic": {
        const topic = el("span", "topic-text");
        topic.append(render(event.topic));
        return event.topic ? [nick(event.by), " set the topic: ", topic] : [nick(event.by), " cleared the topic"];
      }
      case "mode":
        return [event.by ? nick(event.by) : "The server", " ", this.describeChanges(event.changes)];
      default:
        return null;
    }
  }

  describeChanges(changes) {
    const words = (changes || []).map((c) => {
      const target = c.param === undefined ? "" : ` ${c.param}`;
      switch (c.mode) {
        case "op":
          return c.set ? `made${target} an operator` : `took operator from${target}`;
        case "voice":
          return c.set ? `gave voice to${target}` : `took voice from${target}`;
        case "ban":
          return c.set ? `banned${target}` : `lifted the ban on${target}`;
        case "except":
        case "invite_except":
          return `${c.set ? "added" : "removed"}${target} ${c.set ? "to" : "from"} the ${c.mode.replace("_", " ")} list`;
        case "key":
          return c.set ? "set a key" : "removed the key";
        case "limit":
          return c.set ? `set the limit to${target}` : "removed the limit";
        default:
          return `${c.set ? "set" : "unset"} ${c.mode.replace("_", " ")}`;
      }
    });
    return words.join(", ") || "changed nothing";
  }

  event(event) {
    const type = event.type;
    if (type === "message") {
      const to = event.to || "";
      const mine = this.me && fold(to) === fold(this.me);
      const target = isChannel(to.replace(/^@/, "")) ? to : mine ? event.from : to;
      const buffer = this.bufferFor(target);
      if (buffer.kind === "query") this.saveSession();
      this.showMessage(buffer, event, false);
      return;
    }
    if (type === "typing") {
      this.typingEvent(event);
      return;
    }
    if (type === "join" || type === "leave" || type === "kick" || type === "topic" || type === "mode") {
      const buffer = this.buffers.get(fold(event.channel));
      if (!buffer) return;
      if (type === "join") buffer.addMember(event.nick, event.account);
      if (type === "leave" || type === "kick") this.stopTyping(event.nick);
      if (type === "leave") buffer.removeMember(event.nick);
      if (type === "kick") {
        buffer.removeMember(event.nick);
        if (fold(event.nick) === fold(this.me)) {
          buffer.joined = false;
          buffer.wanted = false;
          buffer.members.clear();
          this.eventLine(buffer, event, ["✕ ", this.nickNode(event.by), " kicked you", event.reason ? ` (${strip(event.reason)})` : "", ". /join to come back"]);
          this.saveSession();
          this.refresh(buffer);
          return;
        }
      }
      if (type === "topic") buffer.topic = event.topic;
      if (type === "mode") this.applyModes(buffer, event.changes);
      this.eventLine(buffer, event, this.describe(event));
      this.refresh(buffer);
      return;
    }
    if (type === "nick") {
      this.renamed(event.old, event.new, event);
      return;
    }
    if (type === "quit") {
      this.stopTyping(event.nick);
      for (const buffer of this.buffers.values()) {
        if (buffer.removeMember(event.nick) || (buffer.kind === "query" && fold(buffer.name) === fold(event.nick))) {
          this.eventLine(buffer, event, this.describe(event));
          this.refresh(buffer);
        }
      }
      return;
    }
    if (type === "away") {
      for (const buffer of this.buffers.values()) {
        const member = buffer.member(event.nick);
        if (member) member.away = event.message;
        if (buffer === this.active) this.renderMembers();
      }
      return;
    }
    if (type === "account") {
      for (const buffer of this.buffers.values()) {
        const member = buffer.member(event.nick);
        if (member) member.account = event.account;
      }
      return;
    }
    if (type === "invite") {
      this.info(this.server, `${event.by} invites you to ${event.channel}: /join ${event.channel}`);
      this.info(this.active, `${event.by} invites you to ${event.channel}: /join ${event.channel}`);
      return;
    }
    if (type === "redact") {
      const buffer = this.buffers.get(fold(event.target)) || this.buffers.get(fold(event.by));
      const line = buffer && buffer.lines.find((l) => l.msgid === event.msgid);
      if (line) {
        const text = line.el.querySelector(".text");
        if (text) text.textContent = `(deleted by ${event.by}${event.reason ? `: ${strip(event.reason)}` : ""})`;
        line.el.classList.add("redacted");
      }
      return;
    }
    if (type === "read_marker") {
      const buffer = this.buffers.get(fold(event.target));
      if (!buffer) return;
      buffer.readMarker = event.read_marker;
      buffer.unread = buffer.lines.filter((l) => l.msgid && l.ts && l.ts > event.read_marker && l.el.classList.contains("msg") && !l.el.classList.contains("mine")).length;
      if (!buffer.unread) buffer.highlight = false;
      this.renderBufferList();
      return;
    }
    if (type === "wallops") {
      this.info(this.server, `wallops from ${event.by}: ${strip(event.text)}`);
      return;
    }
    if (type === "bye") {
      this.info(this.server, `The server said goodbye: ${event.reason} (${event.code})`, "error");
    }
  }

  applyModes(buffer, changes) {
    for (const change of changes || []) {
      if (change.mode === "op" || change.mode === "voice") {
        const member = buffer.member(change.param);
        if (member) member.privileges[change.set ? "add" : "delete"](change.mode);
      } else if (["ban", "except", "invite_except"].includes(change.mode)) {
        // lists are read when the settings open
      } else if (change.set) {
        buffer.modes[change.mode] = change.param === undefined ? true : change.param;
      } else {
        delete buffer.modes[change.mode];
      }
    }
  }

  renamed(old, nick, event) {
    if (!old) return;
    const mine = this.me && fold(old) === fold(this.me);
    if (mine) {
      this.me = nick;
      $("me-nick").textContent = nick;
      this.saveSession();
    }
    for (const buffer of [...this.buffers.values()]) {
      const inChannel = buffer.renameMember(old, nick);
      const isQuery = buffer.kind === "query" && fold(buffer.name) === fold(old);
      if (isQuery && !this.buffers.has(fold(nick))) {
        this.buffers.delete(buffer.key);
        buffer.name = nick;
        buffer.key = fold(nick);
        this.buffers.set(buffer.key, buffer);
      }
      if (inChannel || isQuery || (mine && buffer.kind === "server")) {
        this.eventLine(buffer, event || {}, mine ? ["You are now known as ", this.nickNode(nick)] : this.describe({ type: "nick", old, new: nick }));
        this.refresh(buffer);
      }
    }
    this.renderBufferList();
  }

  refresh(buffer) {
    if (buffer === this.active) {
      this.renderHeader();
      this.renderMembers();
    }
    this.renderBufferList();
  }

  // ---- rendering ----------------------------------------------------------

  iAmOp(buffer) {
    const me = buffer && this.me ? buffer.member(this.me) : null;
    return Boolean(me && me.privileges.has("op"));
  }

  renderHeader() {
    const buffer = this.active;
    const topic = $("topic");
    topic.replaceChildren();
    if (buffer.kind === "channel") {
      if (buffer.topic) topic.append(render(buffer.topic));
      else topic.append(el("span", "hint", buffer.joined ? "No topic" : "You are not in this channel"));
      topic.title = strip(buffer.topic || "");
    } else if (buffer.kind === "query") {
      topic.append(el("span", "hint", "Private conversation"));
    } else {
      topic.append(el("span", "hint", this.me ? `You are ${this.me}` : ""));
    }
    const op = this.iAmOp(buffer);
    $("buffer-name").textContent = buffer.kind === "server" ? "chatd" : buffer.name;
    $("edit-topic").hidden = !(buffer.kind === "channel" && buffer.joined && (op || !buffer.modes.topic_ops));
    $("channel-settings").hidden = !(buffer.kind === "channel" && buffer.joined && op);
    $("toggle-members").hidden = buffer.kind !== "channel";
    const leave = $("leave");
    leave.hidden = buffer.kind === "server";
    leave.textContent = buffer.kind === "channel" && buffer.joined ? "Leave" : "Close";
    leave.title = buffer.kind === "channel" && buffer.joined ? `Leave ${buffer.name}` : `Close ${buffer.name}`;
    document.body.classList.toggle("no-members", buffer.kind !== "channel");
  }

  renderMembers() {
    const buffer = this.active;
    const list = $("member-list");
    list.replaceChildren();
    if (buffer.kind !== "channel") {
      $("member-count").textContent = "Members";
      return;
    }
    const members = buffer.sortedMembers();
    $("member-count").textContent = `${members.length} member${members.length === 1 ? "" : "s"}`;
    $("member-toggle-count").textContent = `${members.length} ${members.length === 1 ? "member" : "members"}`;
    for (const member of members) {
      const item = el("li");
      const button = el("button", "member");
      button.type = "button";
      const sign = mark(member);
      button.append(el("span", "mark", sign), el("span", `nick ${nickClass(member.nick)}`, member.nick));
      if (member.away) {
        button.classList.add("away");
        button.title = `away: ${strip(member.away)}`;
      }
      button.setAttribute("aria-label", `${sign === "@" ? "operator " : sign === "+" ? "voiced " : ""}${member.nick}${member.away ? " (away)" : ""}`);
      button.addEventListener("click", () => this.openMember(buffer, member.nick));
      item.append(button);
      list.append(item);
    }
  }

  renderBufferList() {
    const list = $("buffer-list");
    list.replaceChildren();
    let total = 0;
    let section = null;
    for (const buffer of this.order) {
      if (buffer.kind !== section && buffer.kind !== "server") {
        section = buffer.kind;
        const heading = el("li", "section", buffer.kind === "channel" ? "Channels" : "Conversations");
        heading.setAttribute("aria-hidden", "true");
        list.append(heading);
      }
      const item = el("li");
      const button = el("button", `buffer ${buffer.kind}`);
      button.type = "button";
      button.dataset.key = buffer.key;
      const label = buffer.kind === "server" ? "Server" : buffer.name;
      button.append(el("span", "name", label));
      if (buffer.kind === "channel" && !buffer.joined) button.classList.add("parted");
      if (buffer.unread && buffer !== this.active) {
        const badge = el("span", `badge${buffer.highlight ? " highlight" : ""}`, String(buffer.unread));
        badge.setAttribute("aria-label", `${buffer.unread} unread`);
        button.append(badge);
        total += buffer.unread;
      }
      if (buffer === this.active) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => {
        this.select(buffer);
        $("input").focus();
      });
      item.append(button);
      list.append(item);
    }
    const all = $("unread-all");
    all.hidden = total === 0;
    all.textContent = total ? String(total) : "";
    document.title = `${total ? `(${total}) ` : ""}${this.active && this.active.kind !== "server" ? `${this.active.name} – ` : ""}chatd`;
  }

  // ---- dialogs and panels -----------------------------------------------

  openMember(buffer, nick) {
    const dialog = $("member-dialog");
    const member = buffer.member(nick);
    if (!member) return;
    this.memberTarget = { buffer, nick: member.nick };
    $("member-title").textContent = `${mark(member)}${member.nick}`;
    const facts = [];
    if (member.privileges.has("op")) facts.push("operator");
    else if (member.privileges.has("voice")) facts.push("voiced");
    if (member.account) facts.push(`account ${member.account}`);
    if (member.away) facts.push(`away: ${strip(member.away)}`);
    $("member-info").textContent = facts.join(" · ");
    const op = this.iAmOp(buffer);
    for (const node of dialog.querySelectorAll("[data-op]")) node.hidden = !op;
    if (op) {
      dialog.querySelector('[data-action="op"]').hidden = member.privileges.has("op");
      dialog.querySelector('[data-action="deop"]').hidden = !member.privileges.has("op");
      dialog.querySelector('[data-action="voice"]').hidden = member.privileges.has("voice");
      dialog.querySelector('[data-action="devoice"]').hidden = !member.privileges.has("voice");
    }
    $("member-reason").value = "";
    dialog.showModal();
  }

  async memberAction(action) {
    const target = this.memberTarget;
    $("member-dialog").close();
    if (!target) return;
    const { buffer, nick } = target;
    const reason = $("member-reason").value;
    try {
      if (action === "query") {
        await this.openQuery(nick, true);
      } else if (action === "kick") {
        await this.request({ cmd: "kick", channel: buffer.name, nick, reason });
      } else if (action === "ban" || action === "kickban") {
        await this.request({ cmd: "ban", channel: buffer.name, mask: `${nick}!*@*` });
        if (action === "kickban") await this.request({ cmd: "kick", channel: buffer.name, nick, reason });
      } else {
        await this.request({ cmd: action, channel: buffer.name, nick });
      }
    } catch (error) {
      this.failed(buffer, error);
    }
    $("input").focus();
  }

  ownResult(request, reply) {
    const buffer = reply.channel ? this.buffers.get(fold(reply.channel)) : null;
    const ev = { ts: new Date().toISOString() };
    if (reply.cmd === "kick" && buffer) {
      buffer.removeMember(reply.nick);
      this.eventLine(buffer, ev, this.describe({ type: "kick", by: this.me, nick: reply.nick, reason: reply.reason }));
    } else if (reply.cmd === "topic" && buffer && typeof request.topic === "string") {
      buffer.topic = reply.topic;
      this.eventLine(buffer, ev, this.describe({ type: "topic", by: this.me, topic: reply.topic }));
    } else if (reply.changes && reply.changes.length && buffer) {
      this.applyModes(buffer, reply.changes);
      this.eventLine(buffer, ev, this.describe({ type: "mode", by: this.me, changes: reply.changes }));
    } else if (reply.cmd === "away") {
      this.info(this.active, reply.message === null ? "You are back" : `You are away: ${strip(reply.message)}`);
    } else if (reply.cmd === "invite") {
      this.info(this.active, `Invited ${reply.nick} to ${reply.channel}`);
    } else if (reply.cmd === "mode" && reply.modes && buffer) {
      buffer.modes = reply.modes;
    }
    if (buffer) this.refresh(buffer);
  }

  async openList(filter) {
    const dialog = $("list-dialog");
    $("list-filter").value = filter || "";
    $("list-status").textContent = "Loading…";
    $("list-rows").replaceChildren();
    if (!dialog.open) dialog.showModal();
    try {
      const reply = await this.request({ cmd: "list" });
      this.listCache = reply.channels;
      $("list-status").textContent = `${reply.channels.length} channel${reply.channels.length === 1 ? "" : "s"}`;
      this.renderList();
    } catch (error) {
      $("list-status").textContent = error.message;
    }
    return null;
  }

  renderList() {
    const filter = fold($("list-filter").value.trim());
    const rows = $("list-rows");
    rows.replaceChildren();
    for (const entry of this.listCache) {
      if (filter && !fold(entry.channel).includes(filter) && !fold(strip(entry.topic)).includes(filter)) continue;
      const item = el("li", "list-row");
      const mine = this.buffers.get(fold(entry.channel));
      const joined = Boolean(mine && mine.joined);
      const join = el("button", "small", joined ? "Open" : "Join");
      join.type = "button";
      join.setAttribute("aria-label", `${joined ? "Open" : "Join"} ${entry.channel}`);
      join.addEventListener("click", () => {
        $("list-dialog").close();
        if (joined) this.select(mine);
        else this.join(entry.channel, undefined, true).catch((e) => this.failed(this.active, e));
        $("input").focus();
      });
      const topic = el("span", "list-topic");
      topic.append(render(entry.topic || ""));
      item.append(el("span", "list-name", entry.channel), el("span", "list-count", `${entry.members}`), topic, join);
      rows.append(item);
    }
  }

  openTopic() {
    const buffer = this.active;
    if (buffer.kind !== "channel") return;
    $("topic-input").value = buffer.topic;
    $("topic-title").textContent = `Topic of ${buffer.name}`;
    $("topic-dialog").showModal();
  }

  async openSettings() {
    const buffer = this.active;
    if (buffer.kind !== "channel") return;
    const form = $("settings-form");
    $("settings-title").textContent = `Settings of ${buffer.name}`;
    $("settings-error").textContent = "";
    try {
      const reply = await this.request({ cmd: "mode", channel: buffer.name });
      buffer.modes = reply.modes || {};
    } catch (error) {
      this.failed(buffer, error);
      return;
    }
    for (const name of ["no_external", "topic_ops", "moderated", "invite_only", "secret"]) form.elements[name].checked = Boolean(buffer.modes[name]);
    form.elements.key.value = typeof buffer.modes.key === "string" ? buffer.modes.key : "";
    form.elements.limit.value = buffer.modes.limit || "";
    this.settingsBuffer = buffer;
    await this.renderBans(buffer);
    $("settings-dialog").showModal();
  }

  async renderBans(buffer) {
    const list = $("settings-bans");
    list.replaceChildren();
    try {
      const reply = await this.request({ cmd: "bans", channel: buffer.name });
      if (!reply.entries.length) list.append(el("li", "hint", "No bans"));
      for (const entry of reply.entries) {
        const item = el("li");
        const unban = el("button", "small", "Unban");
        unban.type = "button";
        unban.setAttribute("aria-label", `Unban ${entry.mask}`);
        unban.addEventListener("click", async () => {
          try {
            await this.request({ cmd: "unban", channel: buffer.name, mask: entry.mask });
            await this.renderBans(buffer);
          } catch (error) {
            $("settings-error").textContent = error.message;
          }
        });
        item.append(el("code", "", entry.mask), " ", unban);
        list.append(item);
      }
    } catch (error) {
      list.append(el("li", "error", error.message));
    }
  }

  async saveSettings(ev) {
    ev.preventDefault();
    const buffer = this.settingsBuffer;
    const form = $("settings-form");
    const set = {};
    const unset = [];
    for (const name of ["no_external", "topic_ops", "moderated", "invite_only", "secret"]) {
      const on = form.elements[name].checked;
      if (on && !buffer.modes[name]) set[name] = true;
      if (!on && buffer.modes[name]) unset.push(name);
    }
    const key = form.elements.key.value;
    const oldKey = typeof buffer.modes.key === "string" ? buffer.modes.key : "";
    if (key !== oldKey) {
      if (oldKey) unset.push("key");
      if (key) set.key = key;
    }
    const limit = form.elements.limit.value ? Number(form.elements.limit.value) : null;
    if (limit !== (buffer.modes.limit || null)) {
      if (limit === null) unset.push("limit");
      else set.limit = limit;
    }
    try {
      if (Object.keys(set).length || unset.length) await this.request({ cmd: "mode", channel: buffer.name, set, unset });
      $("settings-dialog").close();
      $("input").focus();
    } catch (error) {
      $("settings-error").textContent = error.message;
    }
  }

  togglePanel(id, open) {
    const panel = $(id);
    const button = $(id === "buffers" ? "toggle-buffers" : "toggle-members");
    const show = open === undefined ? !panel.classList.contains("open") : open;
    this.closePanels();
    panel.classList.toggle("open", show);
    button.setAttribute("aria-expanded", String(show));
    $("scrim").hidden = !show;
    if (show) {
      const first = panel.querySelector("button, input");
      if (first) first.focus();
    }
  }

  closePanels() {
    for (const id of ["buffers", "members"]) $(id).classList.remove("open");
    $("toggle-buffers").setAttribute("aria-expanded", "false");
    $("toggle-members").setAttribute("aria-expanded", "false");
    $("scrim").hidden = true;
  }

  // Tab completes a nick of the active channel at the cursor.
  complete(input) {
    const buffer = this.active;
    const upTo = input.value.slice(0, input.selectionStart);
    const word = /[^\s]*$/.exec(upTo)[0];
    if (!word) return false;
    const candidates = buffer.kind === "channel" ? buffer.sortedMembers().map((m) => m.nick) : [buffer.name];
    const found = candidates.find((nick) => fold(nick).startsWith(fold(word)) && fold(nick) !== fold(this.me || ""));
    if (!found) return false;
    const suffix = upTo.length === word.length ? ": " : " ";
    const before = upTo.slice(0, upTo.length - word.length);
    input.value = before + found + suffix + input.value.slice(input.selectionStart);
    const at = before.length + found.length + suffix.length;
    input.setSelectionRange(at, at);
    return true;
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

window.chatd = new App();

// The app's events (a mixin of App, main.js): what the server tells of
// the others (messages, joins, kicks, modes, nick changes, typing...) as
// changes to the buffers and lines on screen; and our own typing notices.

import { render, strip } from "./format.js";
import { fold, isChannel } from "./model.js";
import { $, el } from "./dom.js";

const TYPING_SEND_EVERY = 3000;
const TYPING_PAUSED_AFTER = 5000;
const TYPING_SHOWN_FOR = { active: 6000, paused: 30000 };

export const Events = {
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
  },

  // The input was cleared without sending: "done".  After a message the
  // others need no "done": the message ends the typing.
  typingDone(sent = false) {
    const state = this.typingState;
    clearTimeout(state.timer);
    if (state.target && !sent) this.sendTyping(state.target, "done");
    state.target = null;
    state.sentAt = 0;
  },

  sendTyping(target, state) {
    if (!this.typingSupported || !this.connection.connected) return;
    this.request({ cmd: "typing", to: target, state }).catch((error) => {
      // A server without typing notices: stop sending them.
      if (error.code === "unknown_command" || error.code === "bad_args") this.typingSupported = false;
      // Typing costs a flood-control token: never spend more on it.
      if (error.code === "rate_limited") this.typingQuietUntil = Date.now() + 1000 * (error.reply.retry_after || 5);
    });
  },

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
  },

  stopTyping(nick) {
    for (const buffer of this.buffers.values()) {
      const entry = buffer.typing.get(fold(nick));
      if (entry) {
        clearTimeout(entry.timer);
        buffer.typing.delete(fold(nick));
      }
    }
    this.renderTyping();
  },

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
  },

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
  },

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
  },

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
    if (type === "oper") {
      this.info(this.server, `You are no longer a server operator: ${strip(event.reason)}`);
      return;
    }
    if (type === "bye") {
      this.info(this.server, `The server said goodbye: ${event.reason} (${event.code})`, "error");
    }
  },

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
  },

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
  },

  refresh(buffer) {
    if (buffer === this.active) {
      this.renderHeader();
      this.renderMembers();
    }
    this.renderBufferList();
  },
};

// The app's lines and history (a mixin of App, main.js): messages and
// events placed in a buffer in msgid order, each msgid once; the history
// read when joining, when scrolling up and after a reconnection; unread
// counts and read markers.

import { render, strip, nickClass } from "./format.js";
import { fold } from "./model.js";
import { el, clock, timeOf } from "./dom.js";

// Messages a join asks for, and a page when scrolling up.
export const HISTORY_PAGE = 50;
// A page when catching up after a reconnection, and at most how many.
export const CATCH_UP_PAGE = 100;
const CATCH_UP_PAGES = 10;

export const Lines = {
  // ---- lines ------------------------------------------------------------

  scrolledToBottom(buffer) {
    const log = buffer.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  },

  scrollToBottom(buffer) {
    buffer.log.scrollTop = buffer.log.scrollHeight;
  },

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
  },

  info(buffer, text, kind = "info") {
    const line = el("div", `line ${kind}`);
    const when = new Date();
    const time = el("time", "ts", clock(when));
    time.dateTime = when.toISOString();
    line.append(time, el("span", "text", text));
    this.place(buffer, { msgid: null, ts: null, el: line });
  },

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
  },

  nickNode(nick) {
    return el("span", `nick ${nickClass(nick)}`, nick);
  },

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
  },

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
  },

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
  },

  // ---- history ------------------------------------------------------------

  historyItem(buffer, item, newerThan) {
    if (item.type === "message") return this.showMessage(buffer, item, true, Boolean(newerThan && item.msgid > newerThan));
    const parts = this.describe(item);
    return parts ? this.eventLine(buffer, item, parts) : false;
  },

  // A page of history; items after newerThan (the newest msgid shown
  // before a reconnection) are news, and count as unread.
  merge(buffer, page, newerThan) {
    if (!page || !Array.isArray(page.items)) return;
    for (const item of page.items) this.historyItem(buffer, item, newerThan);
  },

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
  },

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
  },

  // Loads older pages until the log can scroll, so that scrolling up can
  // ask for more.
  fillUp(buffer) {
    const log = buffer.log;
    if (buffer.more && !buffer.loadingOlder && log.scrollHeight <= log.clientHeight + 80) this.loadOlder(buffer);
  },

  updateOlderButton(buffer) {
    buffer.olderButton.hidden = !buffer.more || !buffer.historyReadable;
    buffer.olderButton.textContent = "Load older messages";
  },

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
  },
};

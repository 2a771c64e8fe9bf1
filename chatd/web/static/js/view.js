// The app's view (a mixin of App, main.js): the top bar, the channel and
// member lists, the dialogs (member menu, channel list, topic, settings),
// the phone panels and nick completion.

import { render, strip, nickClass } from "./format.js";
import { fold, mark } from "./model.js";
import { $, el } from "./dom.js";

export const View = {
  // ---- rendering ----------------------------------------------------------

  iAmOp(buffer) {
    const me = buffer && this.me ? buffer.member(this.me) : null;
    return Boolean(me && me.privileges.has("op"));
  },

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
  },

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
  },

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
  },

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
  },

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
  },

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
  },

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
  },

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
  },

  openTopic() {
    const buffer = this.active;
    if (buffer.kind !== "channel") return;
    $("topic-input").value = buffer.topic;
    $("topic-title").textContent = `Topic of ${buffer.name}`;
    $("topic-dialog").showModal();
  },

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
  },

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
  },

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
  },

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
  },

  closePanels() {
    for (const id of ["buffers", "members"]) $(id).classList.remove("open");
    $("toggle-buffers").setAttribute("aria-expanded", "false");
    $("toggle-members").setAttribute("aria-expanded", "false");
    $("scrim").hidden = true;
  },

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
  },
};

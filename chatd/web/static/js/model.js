// Buffers: a channel, a private conversation, or the server's own lines.
// A buffer holds its lines in time order, the msgids it has shown (so a
// message that comes twice, live and again from history after a
// reconnection, is shown once), its members and its unread count.

// Names match without regard to ASCII case (CASEMAPPING=ascii).
export function fold(name) {
  return name.replace(/[A-Z]/g, (c) => c.toLowerCase());
}

export function isChannel(name) {
  return name.startsWith("#");
}

const RANK = { op: 0, voice: 1 };

export class Buffer {
  constructor(name, kind) {
    this.name = name;
    this.kind = kind; // "channel" | "query" | "server"
    this.key = kind === "server" ? "*server" : fold(name);
    this.lines = []; // {msgid, ts, el, pending?}
    this.msgids = new Set();
    this.members = new Map(); // folded nick -> {nick, privileges: Set, away}
    this.topic = "";
    this.modes = {};
    this.joined = false;
    this.unread = 0;
    this.highlight = false;
    this.more = false; // older history exists
    this.loadingOlder = false;
    this.historyReadable = kind !== "server";
    this.readMarker = null;
    this.typing = new Map(); // folded nick -> {nick, timer}
    this.log = null; // its scroll container, made by the view
  }

  get newestMsgid() {
    for (let k = this.lines.length - 1; k >= 0; k--) if (this.lines[k].msgid) return this.lines[k].msgid;
    return null;
  }

  get oldestMsgid() {
    for (const line of this.lines) if (line.msgid) return line.msgid;
    return null;
  }

  get newestTs() {
    for (let k = this.lines.length - 1; k >= 0; k--) if (this.lines[k].ts && this.lines[k].msgid) return this.lines[k].ts;
    return null;
  }

  // Where a line with this msgid goes: the index of the first line with a
  // later msgid, searched from the end (most lines are new ones).
  insertionIndex(msgid) {
    let index = this.lines.length;
    for (let k = this.lines.length - 1; k >= 0; k--) {
      const other = this.lines[k].msgid;
      if (other && other < msgid) break;
      if (other && other > msgid) index = k;
    }
    return index;
  }

  setMembers(nicks, privileges, accounts) {
    this.members.clear();
    for (const nick of nicks) {
      this.members.set(fold(nick), {
        nick,
        privileges: new Set((privileges && privileges[nick]) || []),
        account: (accounts && accounts[nick]) || null,
        away: null,
      });
    }
  }

  addMember(nick, account) {
    if (!this.members.has(fold(nick))) {
      this.members.set(fold(nick), { nick, privileges: new Set(), account: account || null, away: null });
    }
  }

  removeMember(nick) {
    return this.members.delete(fold(nick));
  }

  member(nick) {
    return this.members.get(fold(nick)) || null;
  }

  renameMember(old, nick) {
    const entry = this.members.get(fold(old));
    if (!entry) return false;
    this.members.delete(fold(old));
    entry.nick = nick;
    this.members.set(fold(nick), entry);
    return true;
  }

  // Operators first, then voiced members, then the rest, each by name.
  sortedMembers() {
    const rank = (m) => Math.min(3, ...[...m.privileges].map((p) => RANK[p] ?? 3));
    return [...this.members.values()].sort(
      (a, b) => rank(a) - rank(b) || fold(a.nick).localeCompare(fold(b.nick)),
    );
  }
}

// The mark shown before a member's nick: @ operator, + voice.
export function mark(member) {
  if (!member) return "";
  if (member.privileges.has("op")) return "@";
  if (member.privileges.has("voice")) return "+";
  return "";
}

// Slash commands typed in the message box.  Each turns into requests of
// the JSON protocol (docs/protocol.md) through the app's methods; a line
// that does not start with "/" (or starts with "//") is a message.

import { isChannel } from "./model.js";

const FLAGS = { n: "no_external", t: "topic_ops", m: "moderated", i: "invite_only", s: "secret" };
const PRIVILEGES = { o: ["op", "deop"], v: ["voice", "devoice"] };
const LISTS = { b: "ban", e: "except", I: "invite_except" };

export const HELP = [
  ["/join #channel [key]", "join a channel (Alt+J focuses the join box)"],
  ["/part [#channel] [reason]", "leave a channel (also /leave)"],
  ["/me text", "an action: * you text"],
  ["/msg nick|#channel text", "send a message without switching"],
  ["/query nick [text]", "open a private conversation"],
  ["/nick newnick", "change your nick"],
  ["/topic [text]", "show the topic, or set it"],
  ["/kick nick [reason]", "put someone out (operators)"],
  ["/ban mask", "ban a nick or nick!user@host mask (operators); /unban mask"],
  ["/kickban nick [reason]", "ban nick!*@* and kick"],
  ["/op nick, /deop, /voice, /devoice", "give or take privileges (operators)"],
  ["/mode [+-ntmisk key l limit o nick v nick b mask]", "show or change the channel's modes"],
  ["/invite nick [#channel]", "invite someone"],
  ["/away [message]", "mark yourself away; /back to return"],
  ["/list", "the channel list"],
  ["/names", "who is here"],
  ["/close", "leave the channel or close the conversation"],
  ["/clear", "clear this buffer's lines from the screen"],
  ["/quote {json}", "send a raw JSON request"],
  ["/quit [reason]", "disconnect and log out"],
];

function splitFirst(text) {
  const trimmed = text.trim();
  const at = trimmed.search(/\s/);
  return at < 0 ? [trimmed, ""] : [trimmed.slice(0, at), trimmed.slice(at).trim()];
}

// The channel a command names, or the active one.
function channelArg(app, rest) {
  const [first, after] = splitFirst(rest);
  if (isChannel(first)) return [first, after];
  const active = app.active;
  if (active.kind !== "channel") throw new Error("this command needs a channel: give one, or use it in a channel");
  return [active.name, rest.trim()];
}

// "/mode +mk-t key" as the requests that carry it out.
export function modeRequests(channel, modestring, params) {
  const set = {};
  const unset = [];
  const extra = [];
  let sign = "+";
  for (const ch of modestring) {
    if (ch === "+" || ch === "-") {
      sign = ch;
    } else if (ch in FLAGS) {
      if (sign === "+") set[FLAGS[ch]] = true;
      else unset.push(FLAGS[ch]);
    } else if (ch === "k") {
      if (sign === "+") {
        if (!params.length) throw new Error("+k needs a key");
        set.key = params.shift();
      } else {
        unset.push("key");
        if (params.length && !/^[+-]/.test(params[0])) params.shift();
      }
    } else if (ch === "l") {
      if (sign === "+") {
        const limit = Number(params.shift());
        if (!Number.isInteger(limit)) throw new Error("+l needs a whole number");
        set.limit = limit;
      } else {
        unset.push("limit");
      }
    } else if (ch in PRIVILEGES) {
      const nick = params.shift();
      if (!nick) throw new Error(`${sign}${ch} needs a nick`);
      extra.push({ cmd: PRIVILEGES[ch][sign === "+" ? 0 : 1], channel, nick });
    } else if (ch in LISTS) {
      const mask = params.shift();
      if (!mask) {
        extra.push({ cmd: "bans", channel, list: LISTS[ch] });
      } else {
        extra.push({ cmd: sign === "+" ? "ban" : "unban", channel, mask, list: LISTS[ch] });
      }
    } else {
      throw new Error(`unknown mode letter ${ch}`);
    }
  }
  const requests = [];
  if (Object.keys(set).length || unset.length) {
    const request = { cmd: "mode", channel };
    if (Object.keys(set).length) request.set = set;
    if (unset.length) request.unset = unset;
    requests.push(request);
  }
  return requests.concat(extra);
}

// Runs one line of input; returns a Promise (errors are the app's to show).
export async function run(app, line) {
  if (!line.startsWith("/") || line.startsWith("//")) {
    return app.say(app.active, line.startsWith("//") ? line.slice(1) : line, false);
  }
  const [word, rest] = splitFirst(line.slice(1));
  const name = word.toLowerCase();
  switch (name) {
    case "me":
      if (!rest) throw new Error("/me needs some text");
      return app.say(app.active, rest, true);
    case "j":
    case "join": {
      const [channel, key] = splitFirst(rest);
      if (!channel) throw new Error("/join #channel");
      return app.join(isChannel(channel) ? channel : `#${channel}`, key || undefined, true);
    }
    case "part":
    case "leave": {
      const [channel, reason] = channelArg(app, rest);
      return app.leave(channel, reason);
    }
    case "msg": {
      const [target, text] = splitFirst(rest);
      if (!target || !text) throw new Error("/msg nick|#channel text");
      return app.say(app.bufferFor(target), text, false);
    }
    case "q":
    case "query": {
      const [nick, text] = splitFirst(rest);
      if (!nick) throw new Error("/query nick");
      const buffer = app.openQuery(nick, true);
      if (text) return app.say(buffer, text, false);
      return null;
    }
    case "nick":
      if (!rest) throw new Error("/nick newnick");
      return app.changeNick(rest.split(/\s/)[0]);
    case "topic": {
      const [channel, text] = channelArg(app, rest);
      return text ? app.request({ cmd: "topic", channel, topic: text }) : app.showTopic(channel);
    }
    case "kick": {
      const [channel, after] = channelArg(app, rest);
      const [nick, reason] = splitFirst(after);
      if (!nick) throw new Error("/kick nick [reason]");
      return app.request({ cmd: "kick", channel, nick, reason });
    }
    case "kickban": {
      const [channel, after] = channelArg(app, rest);
      const [nick, reason] = splitFirst(after);
      if (!nick) throw new Error("/kickban nick [reason]");
      await app.request({ cmd: "ban", channel, mask: `${nick}!*@*` });
      return app.request({ cmd: "kick", channel, nick, reason });
    }
    case "ban":
    case "unban": {
      const [channel, mask] = channelArg(app, rest);
      if (!mask) return app.showBans(channel);
      return app.request({ cmd: name, channel, mask: mask.split(/\s/)[0] });
    }
    case "op":
    case "deop":
    case "voice":
    case "devoice": {
      const [channel, after] = channelArg(app, rest);
      const nicks = after.split(/\s+/).filter(Boolean);
      if (!nicks.length) throw new Error(`/${name} nick`);
      for (const nick of nicks) await app.request({ cmd: name, channel, nick });
      return null;
    }
    case "mode": {
      const [channel, after] = channelArg(app, rest);
      const [modestring, ...params] = after.split(/\s+/).filter(Boolean);
      if (!modestring) return app.showModes(channel);
      for (const request of modeRequests(channel, modestring, params)) {
        if (request.cmd === "bans") await app.showBans(channel, request.list);
        else await app.request(request);
      }
      return null;
    }
    case "invite": {
      const [nick, after] = splitFirst(rest);
      if (!nick) throw new Error("/invite nick [#channel]");
      const [channel] = channelArg(app, after);
      return app.request({ cmd: "invite", channel, nick });
    }
    case "away":
      return app.request({ cmd: "away", message: rest || null });
    case "back":
      return app.request({ cmd: "away" });
    case "list":
      return app.openList(rest);
    case "names":
    case "who": {
      const [channel] = channelArg(app, rest);
      return app.showNames(channel);
    }
    case "close":
      return app.closeBuffer(app.active);
    case "clear":
      return app.clearBuffer(app.active);
    case "quote":
    case "raw": {
      let request;
      try {
        request = JSON.parse(rest);
      } catch {
        throw new Error("/quote needs a JSON object");
      }
      const reply = await app.request(request);
      app.info(app.active, JSON.stringify(reply));
      return null;
    }
    case "quit":
      return app.logout(rest);
    case "help":
      for (const [usage, what] of HELP) app.info(app.active, `${usage}: ${what}`);
      app.info(app.active, "Keys: Enter sends, Alt+Up/Down switch buffers, Tab completes nicks, PageUp/PageDown scroll, Escape closes menus");
      return null;
    default:
      throw new Error(`unknown command /${word}: /help lists them (start with // to send a line beginning with /)`);
  }
}

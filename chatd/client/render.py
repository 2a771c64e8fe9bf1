# -*- test-case-name: tests.test_client -*-
"""
What a person reads: L{render} turns one decoded line from the server into
lines to show, a pure function.  Rendered lines keep the IRC formatting codes
of the text they quote (see L{chatd.client.formatting}).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone, tzinfo
from typing import Any, Callable, Union

from chatd.client.formatting import COLOUR, FORMAT_CODE, RESET, printable
from chatd.client.modes import LETTERS, MEANINGS, mode_string, prefixed


class _Malformed(Exception):
    pass


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise _Malformed(key)
    return value


def _str_list(obj: dict[str, Any], key: str) -> list[str]:
    value = obj.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Malformed(key)
    return value


def parse_ts(ts: object) -> float | None:
    """Seconds since the epoch of a UTC ISO 8601 time, or None."""
    if not isinstance(ts, str):
        return None
    text = ts[:-1] + "+00:00" if ts.endswith("Z") else ts
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.timestamp()


def hhmm(seconds: float, tz: tzinfo | None = None) -> str:
    """C{HH:MM} of a time, in C{tz} (local time when None)."""
    if tz is None:
        return datetime.fromtimestamp(seconds).strftime("%H:%M")
    return datetime.fromtimestamp(seconds, tz).strftime("%H:%M")


def _field(text: str) -> str:
    """
    Server-provided text shown in the middle of a line: its formatting
    codes, if any, end with it (as an IRC client shows it).
    """
    return text + RESET if FORMAT_CODE.search(text) else text


def _reason(reason: str) -> str:
    return f" ({_field(reason)})" if reason else ""


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def bad_line(line: object) -> str:
    """The complaint about a line from the server that makes no sense."""
    if isinstance(line, bytes):
        text = line.decode("utf-8", "backslashreplace")
    elif isinstance(line, str):
        text = line
    else:
        text = json.dumps(line, ensure_ascii=False)
    if len(text) > 200:
        text = text[:200] + "..."
    # As it came: formatting codes too are shown as escapes.
    return f"! bad line from server: {printable(text)}"


#: Error codes whose server message speaks of the wire protocol (or may):
#: the client says it its own way, by code, whatever the message.
_CLIENT_WORDING = {
    "nick_required": "choose a nick first: /nick NAME",
    "unknown_command": "the server does not know this command",
    "not_oper": "only server operators can do that (/oper NAME PASSWORD)",
}
#: Errors about a channel that the client words with the command that
#: helps, when it knows the channel (from the request): {channel} is it.
_CHANNEL_WORDING = {
    "bad_key": "{channel} needs a key: /join {channel} KEY",
    "invite_only": "{channel} is invite only: ask an operator for /invite",
    "banned": "you are banned from {channel}",
    "channel_full": "{channel} is full: it has as many members as its limit",
    "not_channel_operator": "you are not an operator of {channel}: only"
    " operators (@ in /who {channel}) can do that",
    "key_set": "{channel} has a key already: /mode -k removes it first",
}


def _error_wording(code: str, request: dict[str, Any]) -> str | None:
    nick = request.get("nick")
    if code == "nick_reserved" and isinstance(nick, str):
        return (
            f"{nick} belongs to an account: log in to it first (/login {nick}"
            " PASSWORD), or choose another nick"
        )
    wording = _CLIENT_WORDING.get(code)
    channel = request.get("channel")
    if wording is None and isinstance(channel, str) and code in _CHANNEL_WORDING:
        if code == "bad_key" and isinstance(request.get("key"), str):
            return f"that is not the key of {channel}: /join {channel} KEY"
        wording = _CHANNEL_WORDING[code].format(channel=channel)
    return wording


def _is_channel(to: str) -> bool:
    """A channel, or a channel's operators or voiced (C{@#chan}, C{+#chan})."""
    return to.lstrip("@+").startswith("#")


def _members(obj: dict[str, Any]) -> list[str]:
    """The members of a join or who reply, operators as @nick, voiced +nick."""
    members = _str_list(obj, "members")
    privileges = obj.get("privileges")
    if not isinstance(privileges, dict):
        return members
    shown = []
    for member in members:
        held = privileges.get(member)
        shown.append(prefixed(member, held) if isinstance(held, list) else member)
    return shown


def _changes(obj: dict[str, Any]) -> list[tuple[str, bool, Any]]:
    """The C{changes} of a mode event or reply as (name, set, param)."""
    value = obj.get("changes")
    if not isinstance(value, list):
        raise _Malformed("changes")
    changes = []
    for change in value:
        if not isinstance(change, dict):
            raise _Malformed("changes")
        on, param = change.get("set"), change.get("param")
        if not isinstance(on, bool) or isinstance(param, (bool, list, dict)):
            raise _Malformed("changes")
        changes.append((_str(change, "mode"), on, param))
    return changes


def _describe(
    who: str, channel: str, changes: list[tuple[str, bool, Any]], nick: str | None
) -> list[str]:
    """
    What C{who} did to C{channel}, one phrase a line: privileges and bans
    in words, every other change in one IRC mode string.
    """
    me = nick.lower() if nick else None
    plain = []
    phrases = []
    for name, on, param in changes:
        if name in ("op", "voice") and isinstance(param, str):
            whom = "you" if param.lower() == me else param
            what = "operator status" if name == "op" else "voice"
            if on:
                phrases.append(f"gave {whom} {what} on {channel}")
            else:
                phrases.append(f"took {what} from {whom} on {channel}")
        elif name == "ban" and isinstance(param, str):
            if on:
                phrases.append(f"banned {param} from {channel}")
            else:
                phrases.append(f"lifted the ban on {param} in {channel}")
        else:
            plain.append((name, on, param))
    if plain:
        phrases.insert(0, f"set mode {mode_string(plain)} on {channel}")
    return [f"{who} {phrase}" for phrase in phrases]


def _modes(channel: str, obj: dict[str, Any]) -> str:
    """A channel's modes, as IRC writes them and in words."""
    modes = obj.get("modes")
    if not isinstance(modes, dict):
        raise _Malformed("modes")
    settings: list[tuple[str, bool, Any]] = []
    words = []
    for name in sorted(modes, key=lambda n: "ntmiskl".find(LETTERS.get(n, "?"))):
        value = modes[name]
        if value is False or value is None:
            continue
        if name == "key":
            settings.append((name, True, value))
            words.append(f"key {value}")
        elif name == "limit":
            settings.append((name, True, value))
            words.append(f"at most {value} members")
        else:
            settings.append((name, True, None))
            words.append(MEANINGS.get(name, name))
    if not settings:
        return f"* {channel} has no modes set"
    return f"* {channel} has modes {mode_string(settings)}: {', '.join(words)}"


#: The lists C{bans} shows, by the C{list} argument.
_LIST_NAMES = {
    "ban": ("ban", "bans"),
    "except": ("ban exception", "ban exceptions"),
    "invite_except": ("invite exception", "invite exceptions"),
}


def _day_and_time(seconds: float, tz: tzinfo | None) -> str:
    when = datetime.fromtimestamp(seconds, tz)
    return when.strftime("%Y-%m-%d %H:%M")


def render(
    obj: object,
    request: dict[str, Any] | None = None,
    *,
    now: float = 0.0,
    tz: tzinfo | None = None,
    nick: str | None = None,
) -> list[str]:
    """
    The lines a person reads for one decoded line from the server.

    @param request: the request an C{ok} or C{error} replies to, when known.
    @param now: the current time, shown on events that carry none.
    @param tz: the time zone for times (local time when None).
    @param nick: your own nick, shown on your own messages.
    """
    if not isinstance(obj, dict):
        return [bad_line(obj)]
    try:
        return _render(obj, request or {}, now, tz, nick)
    except (_Malformed, TypeError, ValueError, OverflowError):
        return [bad_line(obj)]


def _render(
    obj: dict[str, Any],
    request: dict[str, Any],
    now: float,
    tz: tzinfo | None,
    nick: str | None,
) -> list[str]:
    kind = _str(obj, "type")
    clock = hhmm(now, tz)
    if kind == "message":
        sender, to, text = _str(obj, "from"), _str(obj, "to"), _str(obj, "text")
        ts = parse_ts(obj.get("ts"))
        when = clock if ts is None else hhmm(ts, tz)
        if obj.get("action") is True:  # even on a notice: an action first
            if _is_channel(to):
                return [f"{when} {to} * {sender} {text}"]
            return [f"{when} * {sender} {text}"]
        if obj.get("notice") is True:
            if _is_channel(to):
                return [f"{when} {to} -{sender}- {text}"]
            return [f"{when} -{sender}- {text}"]
        if _is_channel(to):
            return [f"{when} {to} <{sender}> {text}"]
        return [f"{when} *{sender}* {text}"]
    if kind == "join":
        return [f"{clock} * {_str(obj, 'nick')} joined {_str(obj, 'channel')}"]
    if kind == "leave":
        who, channel = _str(obj, "nick"), _str(obj, "channel")
        return [f"{clock} * {who} left {channel}{_reason(_str(obj, 'reason'))}"]
    if kind == "nick":
        return [f"{clock} * {_str(obj, 'old')} is now known as {_str(obj, 'new')}"]
    if kind == "quit":
        return [f"{clock} * {_str(obj, 'nick')} quit{_reason(_str(obj, 'reason'))}"]
    if kind == "away":
        who, message = _str(obj, "nick"), obj.get("message")
        if isinstance(message, str) and message:
            return [f"{clock} * {who} is away: {message}"]
        return [f"{clock} * {who} is back"]
    if kind == "topic":
        by, channel, topic = _str(obj, "by"), _str(obj, "channel"), _str(obj, "topic")
        if topic:
            return [f"{clock} * {by} set the topic of {channel} to: {topic}"]
        return [f"{clock} * {by} cleared the topic of {channel}"]
    if kind == "mode":
        # No one: the server itself (a registered channel's access list).
        channel, by = _str(obj, "channel"), _str(obj, "by") or "the server"
        return [
            f"{clock} * {line}" for line in _describe(by, channel, _changes(obj), nick)
        ]
    if kind == "kick":
        kicked, channel, by = _str(obj, "nick"), _str(obj, "channel"), _str(obj, "by")
        reason = obj.get("reason")
        why = _reason(reason) if isinstance(reason, str) else ""
        if nick is not None and kicked.lower() == nick.lower():
            return [f"{clock} * you were kicked from {channel} by {by}{why}"]
        return [f"{clock} * {by} kicked {kicked} from {channel}{why}"]
    if kind == "invite":
        channel, by = _str(obj, "channel"), _str(obj, "by")
        return [f"{clock} * {by} invites you to {channel} (/join {channel})"]
    if kind == "account":
        who, account = _str(obj, "nick"), obj.get("account")
        if account is None:
            return [f"{clock} * {who} logged out"]
        if not isinstance(account, str):
            raise _Malformed("account")
        return [f"{clock} * {who} is now logged in as {account}"]
    if kind == "wallops":
        return [f"{clock} [wallops] {_str(obj, 'by')}: {_str(obj, 'text')}"]
    if kind == "oper":
        why = _reason(_str(obj, "reason"))
        return [f"{clock} * you are no longer a server operator{why}"]
    if kind == "redact":
        by, target = _str(obj, "by"), _str(obj, "target")
        where = f"in {target}" if _is_channel(target) else "of your conversation"
        why = _reason(_str(obj, "reason"))
        return [f"{clock} * {by} deleted a message {where} from the history{why}"]
    if kind == "read_marker":
        _str(obj, "target")
        return []  # another of our connections read further: nothing to show
    if kind == "typing":
        _str(obj, "from"), _str(obj, "to"), _str(obj, "state")
        return []  # someone is typing: a line each keystroke would drown the chat
    if kind == "bye":
        code, reason = _str(obj, "code"), _str(obj, "reason")
        if code == "quit":
            return [f"* you have quit{_reason(reason)}"]
        if code == "killed":
            return [f"* a server operator disconnected you{_reason(reason)}"]
        return [f"* server closed the connection: {code}{_reason(reason)}"]
    if kind == "welcome":
        server = _str(obj, "server")
        version = obj.get("version")
        name = f"{server} {version}" if isinstance(version, str) else server
        name = _field(name)
        lines = [f"* connected to {name} (protocol {obj.get('protocol')})"]
        if obj.get("protocol") != 1:
            lines.append("! this client speaks protocol 1; expect surprises")
        return lines
    if kind == "error":
        code, message = _str(obj, "code"), _str(obj, "message")
        return [f"! {code}: {_error_wording(code, request) or message}"]
    if kind == "ok":
        today = datetime.fromtimestamp(now, tz).strftime("%Y-%m-%d")
        return _render_ok(obj, request, clock, tz, nick, today)
    raise _Malformed("type")


def _render_ok(
    obj: dict[str, Any],
    request: dict[str, Any],
    clock: str,
    tz: tzinfo | None,
    nick: str | None,
    today: str = "",
) -> list[str]:
    cmd = _str(obj, "cmd")
    if cmd == "nick":
        return [f"{clock} * you are now known as {_str(obj, 'nick')}"]
    if cmd == "join":
        channel, topic = _str(obj, "channel"), _str(obj, "topic")
        names = ", ".join(_members(obj))
        about = f"topic: {_field(topic)}" if topic else "no topic"
        lines = [f"{clock} * you joined {channel} ({about}; members: {names})"]
        scrollback = obj.get("history")
        if isinstance(scrollback, dict):
            items = _items(scrollback)
            if items:
                lines.extend(_earlier(channel, items, scrollback, tz, nick, today))
        return lines
    if cmd == "history":
        target = _about(obj, request, "target")
        items = _items(obj)
        if not items:
            return [f"* no earlier messages in {target}"]
        return _earlier(target, items, obj, tz, nick, today)
    if cmd == "search":
        items = _items(obj)
        text = request.get("text")
        what = f" with {text}" if isinstance(text, str) else ""
        if not items:
            return [f"* no messages{what}"]
        found = f"{plural(len(items), 'message')}{what}"
        lines = [f"* {found}, newest first:"]
        lines.extend(history_lines(items, tz, nick, today))
        return lines
    if cmd == "mark_read":
        return []
    if cmd == "redact":
        return [
            f"{clock} * the message is deleted from {_about(obj, request, 'target')}"
        ]
    if cmd == "leave":
        return [f"{clock} * you left {_str(obj, 'channel')}"]
    if cmd == "msg":
        to = _str(obj, "to")
        ts = parse_ts(obj.get("ts"))
        when = clock if ts is None else hhmm(ts, tz)
        text = request.get("text")
        if not isinstance(text, str):
            return [f"{when} -> {to}: (sent)"]
        if request.get("action") is True:
            act = f"* {nick or 'you'} {text}"
            if _is_channel(to):
                return [f"{when} {to} {act}"]
            return [f"{when} -> *{to}* {act}"]
        if _is_channel(to):
            return [f"{when} {to} <{nick or 'you'}> {text}"]
        lines = [f"{when} -> *{to}* {text}"]
        away = obj.get("away")
        if isinstance(away, str):
            lines.append(f"* {to} is away: {away}")
        return lines
    if cmd == "list":
        channels = obj.get("channels")
        if not isinstance(channels, list):
            raise _Malformed("channels")
        if not channels:
            return ["* there are no channels (/join #name creates one)"]
        lines = [f"* {plural(len(channels), 'channel')}:"]
        for entry in channels:
            if not isinstance(entry, dict):
                raise _Malformed("channels")
            count = entry.get("members")
            if not isinstance(count, int) or isinstance(count, bool):
                raise _Malformed("members")
            topic = _str(entry, "topic")
            line = f"*   {_str(entry, 'channel')} ({plural(count, 'member')})"
            lines.append(f"{line}: {topic}" if topic else line)
        return lines
    if cmd == "who":
        members = _str_list(obj, "members")
        if not members:  # a registered channel stays when empty
            return [f"* {_str(obj, 'channel')} has no members"]
        shown = _members(obj)
        away = obj.get("away")
        away = away if isinstance(away, dict) else {}
        lines = [
            f"* {_str(obj, 'channel')} has {plural(len(members), 'member')}: "
            + ", ".join(
                f"{s} (away)" if m in away else s for m, s in zip(members, shown)
            )
        ]
        lines.extend(
            f"*   {m} is away: {away[m]}"
            for m in members
            if isinstance(away.get(m), str)
        )
        accounts = obj.get("accounts")
        if isinstance(accounts, dict):
            logged_in = [
                m if accounts[m].lower() == m.lower() else f"{m} (as {accounts[m]})"
                for m in members
                if isinstance(accounts.get(m), str)
            ]
            if logged_in:
                lines.append(f"*   logged in: {', '.join(logged_in)}")
        return lines
    if cmd == "away":
        message = obj.get("message")
        if isinstance(message, str):
            return [f"{clock} * you are marked away: {message}"]
        return [f"{clock} * you are back"]
    if cmd == "topic":
        channel, topic = _str(obj, "channel"), _str(obj, "topic")
        if "topic" in request:
            if topic:
                return [f"{clock} * you set the topic of {channel} to: {topic}"]
            return [f"{clock} * you cleared the topic of {channel}"]
        if topic:
            return [f"* the topic of {channel} is: {topic}"]
        return [f"* {channel} has no topic"]
    if cmd == "help":
        commands = obj.get("commands")
        if not isinstance(commands, dict):
            raise _Malformed("commands")
        return ["* the server knows: " + ", ".join(sorted(map(str, commands)))]
    if cmd in ("mode", "op", "deop", "voice", "devoice", "ban", "unban"):
        channel = _about(obj, request, "channel")
        if cmd == "mode" and "set" not in request and "unset" not in request:
            return [_modes(channel, obj)]
        changes = _changes(obj)
        if not changes:
            return [f"{clock} * nothing to change on {channel}"]
        return [
            f"{clock} * {line}" for line in _describe("you", channel, changes, nick)
        ]
    if cmd == "kick":
        channel, kicked = _about(obj, request, "channel"), _about(obj, request, "nick")
        reason = request.get("reason")
        why = _reason(reason) if isinstance(reason, str) else ""
        return [f"{clock} * you kicked {kicked} from {channel}{why}"]
    if cmd == "invite":
        channel, invited = _about(obj, request, "channel"), _about(obj, request, "nick")
        return [f"{clock} * you invited {invited} to {channel}"]
    if cmd == "bans":
        return _bans(obj, request, tz)
    if cmd in _ACCOUNT_REPLIES:
        return _ACCOUNT_REPLIES[cmd](obj, request, clock, nick)
    if cmd == "ping":
        return ["* pong"]
    if cmd == "quit":
        return []
    return [f"* ok: {cmd}"]


# History: scrollback, /history and /search.

#: Starts every line of history, so that it is not taken for a live one.
HISTORY_MARK = "| "
#: And shows it grey on a terminal (IRC colour 14).
_HISTORY_COLOUR = COLOUR + "14"


def _items(obj: dict[str, Any]) -> list[dict[str, Any]]:
    items = obj.get("items")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise _Malformed("items")
    return items


def _earlier(
    target: str,
    items: list[dict[str, Any]],
    page: dict[str, Any],
    tz: tzinfo | None,
    nick: str | None,
    today: str,
) -> list[str]:
    """A page of C{target}'s history, oldest first, with what to type for more."""
    more = page.get("more") is True
    said = plural(len(items), "earlier message")
    then = f" (/history {target} for more)" if more else ""
    lines = [f"* {said} in {target}{then}:"]
    lines.extend(history_lines(items, tz, nick, today))
    return lines


def history_lines(
    items: list[dict[str, Any]],
    tz: tzinfo | None,
    nick: str | None,
    today: str = "",
) -> list[str]:
    """
    Items of a history as the live events they were, each with its time
    (and its day, when not today), marked with L{HISTORY_MARK} and grey.
    """
    lines = []
    for item in items:
        kind = _str(item, "type")
        if kind in ("ok", "error", "welcome", "bye", "read_marker", "redact"):
            raise _Malformed("items")
        ts = parse_ts(item.get("ts"))
        if ts is None:
            raise _Malformed("ts")
        when = hhmm(ts, tz)
        day = datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d ")
        sender = item.get("from")
        mine = (
            kind == "message"
            and isinstance(sender, str)
            and nick is not None
            and sender.lower() == nick.lower()
            and not _is_channel(_str(item, "to"))
        )
        if mine:  # a private message we sent: as our own are shown
            act = f"* {sender} " if item.get("action") is True else ""
            shown = [f"{when} -> *{_str(item, 'to')}* {act}{_str(item, 'text')}"]
        else:
            shown = _render(item, {}, ts, tz, nick)
        for line in shown:
            if today and not _same_day(ts, tz, today):
                line = day + line
            lines.append(f"{_HISTORY_COLOUR}{HISTORY_MARK}{line}{RESET}")
    return lines


def _same_day(ts: float, tz: tzinfo | None, today: str) -> bool:
    return datetime.fromtimestamp(ts, tz).strftime("%Y-%m-%d") == today


def _about(obj: dict[str, Any], request: dict[str, Any], key: str) -> str:
    """C{key} of a reply, or of its request when the reply does not say."""
    value = obj.get(key, request.get(key))
    if not isinstance(value, str):
        raise _Malformed(key)
    return value


def _bans(obj: dict[str, Any], request: dict[str, Any], tz: tzinfo | None) -> list[str]:
    """A channel's ban (or exception) list, oldest first."""
    channel = _about(obj, request, "channel")
    kind = _about(obj, request, "list")
    one, many = _LIST_NAMES.get(kind, (kind, kind))
    entries = obj.get("entries")
    if not isinstance(entries, list):
        raise _Malformed("entries")
    if not entries:
        return [f"* {channel} has no {many}"]
    lines = [f"* {channel} has {plural(len(entries), one)}:"]
    for entry in entries:
        if not isinstance(entry, dict):
            raise _Malformed("entries")
        line = f"*   {_str(entry, 'mask')}"
        by = entry.get("by")
        if isinstance(by, str) and by:
            line += f" by {by}"
        ts = parse_ts(entry.get("ts"))
        if ts is not None:
            line += f" on {_day_and_time(ts, tz)}"
        lines.append(line)
    return lines


# Accounts, server operators and registered channels.

_Reply = Callable[[dict[str, Any], dict[str, Any], str, Union[str, None]], list[str]]


def _registered(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    account = _str(obj, "account")
    return [f"{clock} * you registered the account {account}, and are logged in to it"]


def _logged_in(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    if "challenge" in obj:  # the first step of a SCRAM login
        return []
    return [f"{clock} * you are logged in as {_str(obj, 'account')}"]


def _logged_out(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    return [f"{clock} * you are logged out"]


def _passwd(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    return ["* your password is changed"]


def _dropped(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    account = _str(obj, "account")
    return [
        f"{clock} * the account {account} is deleted: you are logged out, and"
        " its nick is free"
    ]


def _oper(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    return [f"{clock} * you are a server operator ({_str(obj, 'oper')})"]


def _killed(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    reason = request.get("reason")
    why = _reason(reason) if isinstance(reason, str) else ""
    return [f"{clock} * you disconnected {_about(obj, request, 'nick')}{why}"]


def _wallops(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    text = request.get("text")
    if not isinstance(text, str):
        return [f"{clock} [wallops] (sent)"]
    return [f"{clock} [wallops] {nick or 'you'}: {text}"]


def _rehashed(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    summary = obj.get("summary")
    said = f": {_field(summary)}" if isinstance(summary, str) and summary else ""
    return [f"{clock} * the server reloaded its config file{said}"]


def _channel_registered(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    channel, founder = _about(obj, request, "channel"), _str(obj, "founder")
    return [
        f"{clock} * {channel} is registered to {founder}: its topic, modes and"
        " bans stay, even when it is empty"
    ]


def _channel_dropped(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    return [f"{clock} * {_about(obj, request, 'channel')} is no longer registered"]


def _access(
    obj: dict[str, Any], request: dict[str, Any], clock: str, nick: str | None
) -> list[str]:
    channel = _about(obj, request, "channel")
    access = obj.get("access")
    if not isinstance(access, dict) or not all(
        isinstance(v, str) for v in access.values()
    ):
        raise _Malformed("access")
    account = request.get("account")
    if isinstance(account, str):
        level = access.get(account)
        for name, value in access.items():  # as the server spells the account
            if name.lower() == account.lower():
                account, level = name, value
        if level is None:
            return [f"{clock} * {account} gets nothing on joining {channel}"]
        what = "operator status" if level == "op" else level
        return [f"{clock} * {account} gets {what} on joining {channel}"]
    founder = obj.get("founder")
    of = f" (founder {founder})" if isinstance(founder, str) else ""
    if not access:
        return [f"* the access list of {channel}{of} is empty"]
    lines = [f"* the access list of {channel}{of}:"]
    lines.extend(f"*   {name}: {level}" for name, level in access.items())
    return lines


_ACCOUNT_REPLIES: dict[str, _Reply] = {
    "register": _registered,
    "login": _logged_in,
    "logout": _logged_out,
    "passwd": _passwd,
    "drop_account": _dropped,
    "oper": _oper,
    "kill": _killed,
    "wallops": _wallops,
    "rehash": _rehashed,
    "register_channel": _channel_registered,
    "drop_channel": _channel_dropped,
    "access": _access,
}

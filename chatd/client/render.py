# -*- test-case-name: tests.test_client -*-
"""
What a person reads: L{render} turns one decoded line from the server into
lines to show, a pure function.  Rendered lines keep the IRC formatting codes
of the text they quote (see L{chatd.client.formatting}).
"""

from __future__ import annotations

import json
from datetime import datetime, timezone, tzinfo
from typing import Any

from chatd.client.formatting import FORMAT_CODE, RESET, printable


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
}


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
            if to.startswith("#"):
                return [f"{when} {to} * {sender} {text}"]
            return [f"{when} * {sender} {text}"]
        if obj.get("notice") is True:
            if to.startswith("#"):
                return [f"{when} {to} -{sender}- {text}"]
            return [f"{when} -{sender}- {text}"]
        if to.startswith("#"):
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
    if kind == "bye":
        code, reason = _str(obj, "code"), _str(obj, "reason")
        if code == "quit":
            return [f"* you have quit{_reason(reason)}"]
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
        return [f"! {code}: {_CLIENT_WORDING.get(code, message)}"]
    if kind == "ok":
        return _render_ok(obj, request, clock, tz, nick)
    raise _Malformed("type")


def _render_ok(
    obj: dict[str, Any],
    request: dict[str, Any],
    clock: str,
    tz: tzinfo | None,
    nick: str | None,
) -> list[str]:
    cmd = _str(obj, "cmd")
    if cmd == "nick":
        return [f"{clock} * you are now known as {_str(obj, 'nick')}"]
    if cmd == "join":
        channel, topic = _str(obj, "channel"), _str(obj, "topic")
        names = ", ".join(_str_list(obj, "members"))
        about = f"topic: {_field(topic)}" if topic else "no topic"
        return [f"{clock} * you joined {channel} ({about}; members: {names})"]
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
            if to.startswith("#"):
                return [f"{when} {to} {act}"]
            return [f"{when} -> *{to}* {act}"]
        if to.startswith("#"):
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
        away = obj.get("away")
        away = away if isinstance(away, dict) else {}
        lines = [
            f"* {_str(obj, 'channel')} has {plural(len(members), 'member')}: "
            + ", ".join(f"{m} (away)" if m in away else m for m in members)
        ]
        lines.extend(
            f"*   {m} is away: {away[m]}"
            for m in members
            if isinstance(away.get(m), str)
        )
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
    if cmd == "ping":
        return ["* pong"]
    if cmd == "quit":
        return []
    return [f"* ok: {cmd}"]

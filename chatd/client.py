# -*- test-case-name: tests.test_client -*-
"""
The console client of chatd:
C{chatd-client [--nick NAME] [--tls [--ca FILE | --insecure]] [HOST [PORT]]}.

Three layers, each testable on its own:

  - L{parse_input} turns a typed line into an action (a request for the
    server, a connect, a quit, help, or a complaint about the input) and
    L{render} turns a line from the server into lines a person reads.  Both
    are pure functions.  Rendered lines keep the IRC formatting codes (bold,
    colours...) that message text, topics and reasons may carry; the front
    end shows them with L{to_ansi} on a terminal or drops them with
    L{strip_formatting}, and both make every other control character
    visible.
  - L{ChatClient} is the session: it owns the connection (a
    L{ChatConnection}), numbers requests so replies can be matched to them,
    queues typed lines until the server's C{welcome} (and then feeds them one
    reply at a time, so a piped script reads in order), and keeps the nick,
    the joined channels and the current channel.
  - L{chatd.console} holds the two front ends on standard input: a terminal
    one (line editing and history, output above the input line) and a piped
    one (plain lines, for scripts).

With C{--tls} every connection, C{/connect}'s too, is made with TLS (L{TLS}).
The server's certificate is checked by default: it must chain to an
authority the system trusts, or to one of the certificates of C{--ca FILE},
and be for the host name (or IP address) connected to.  C{--insecure} turns
the check off, for test setups with a self-signed certificate.  A failed
handshake or check is one C{! not connected: ...} line, as a refused
connection is.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import unicodedata
from collections import deque
from datetime import datetime, timezone, tzinfo
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Union, cast

from twisted.internet import error as neterror
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IHandshakeListener,
    IReactorSSL,
    IReactorTCP,
)
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.task import LoopingCall
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chatd.core import AWAY_MAX, REASON_MAX, TEXT_MAX, TOPIC_MAX

if TYPE_CHECKING:
    from twisted.internet.ssl import Certificate

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8123

# How long to wait for the server's bye and close after our quit, and for a
# TCP connection to be made.
QUIT_TIMEOUT = 5.0
#: The longest wait the client accepts from flood control before it gives
#: up on sending a request again (and shows the error instead).
RETRY_MAX = 60.0
#: Sent again this long after the server's retry_after, so that a server
#: that counts to the millisecond lets it through.
RETRY_MARGIN = 0.01
CONNECT_TIMEOUT = 10.0
#: A chatd server says welcome (or bye) at once; a server that has said
#: neither this long after the connection was made speaks something else
#: (an IRC server waits for its client to speak first).
WELCOME_TIMEOUT = 2.0
#: Reconnecting after a lost connection waits this long, doubling up to
#: RECONNECT_MAX between attempts.
RECONNECT_FIRST = 1.0
RECONNECT_MAX = 30.0
#: bye codes after which reconnecting by itself would not help: the server
#: hung up because the client had no nick, which a new connection has not
#: either.
NO_RECONNECT = frozenset({"quit", "register_timeout"})
#: /whois asks at most this many channels who is in them.
WHOIS_CHANNELS = 100

HELP_LINES = [
    "* commands:",
    "*   /connect [HOST [PORT]]     connect (again) to a server, keeping nick"
    " and channels",
    "*   /nick NAME                 take or change your nick",
    "*   /join #chan                join a channel; it becomes the current one",
    "*   /leave [#chan] [reason]    leave a channel (default: the current one);"
    " /part too",
    "*   /msg TARGET TEXT           say TEXT to a channel or privately to a nick",
    "*   /query NICK [TEXT]         talk privately to NICK with plain lines;"
    " /query #chan or /join goes back",
    "*   /me TEXT                   act in the current channel: * yournick TEXT",
    "*   /list                      list the channels",
    "*   /who [#chan]               list the members of a channel; /names too",
    "*   /whois NICK                which channels NICK is in",
    "*   /topic [#chan] [text]      show or set a channel's topic",
    "*   /away [message]            mark yourself away; without a message, back",
    "*   /ping                      the time the server takes to answer",
    "*   /quit [reason]             disconnect and exit",
    "*   /help                      this list",
    "* anything else is said in the current channel (start it with // to say"
    " a line beginning with /)",
    "* in a terminal, Ctrl-W deletes a word, Ctrl-U the line; Ctrl-B types"
    " bold, Ctrl-] italic, Ctrl-_ underline, Ctrl-V reverse and Ctrl-O plain"
    " again",
]


# Actions parse_input returns.


class Send(NamedTuple):
    """A request for the server, without its C{id}."""

    request: dict[str, Any]


class Connect(NamedTuple):
    """(Re)connect; C{host} None means the last server again."""

    host: str | None
    port: int


class Quit(NamedTuple):
    reason: str


class Help(NamedTuple):
    pass


class Query(NamedTuple):
    """
    Make C{target} (a nick, or a channel one is in) where plain lines go,
    then say C{text} to it if any; a C{target} of None ends a query.
    """

    target: str | None
    text: str = ""


class Whois(NamedTuple):
    """Find the channels C{nick} is in."""

    nick: str


class Ping(NamedTuple):
    """Ping the server and show the round-trip time."""


class Rejoin(NamedTuple):
    """Join a channel again after a reconnection (queued by the session)."""

    channel: str


class Reaway(NamedTuple):
    """Be away again after a reconnection (queued by the session)."""

    message: str


class Problem(NamedTuple):
    """Something wrong with what was typed; shown as C{! message}."""

    message: str


Action = Union[Send, Connect, Quit, Help, Query, Whois, Ping, Rejoin, Reaway, Problem]


_SPACES = re.compile("[ \t]+")


def _split(text: str, maxsplit: int = 0) -> list[str]:
    """
    The words of C{text}, separated by spaces and tabs only: Python's
    C{str.split} also splits on (and C{strip} removes) the formatting codes
    C{\\x1d}, C{\\x1e} and C{\\x1f}, which belong to the text.
    """
    text = text.strip(" \t")
    return _SPACES.split(text, maxsplit) if text else []


def _channel_name(word: str) -> str:
    return word if word.startswith("#") else "#" + word


def _split_channel(rest: str, current: str | None) -> tuple[str | None, str]:
    """
    Read C{[#chan] [text]}: the channel when the first word is one, else the
    current channel, and the rest.
    """
    if rest.startswith("#"):
        words = _split(rest, 1)
        return words[0], words[1] if len(words) > 1 else ""
    return current, rest


def _blank(text: str) -> bool:
    """Nothing to see: only spaces (any Unicode space) and formatting codes."""
    return not strip_codes(text).strip()


ONLY_SPACES = "not sent: the message is only spaces"


def _too_long(what: str, text: str, limit: int) -> Problem | None:
    if len(text) > limit:
        return Problem(
            f"not sent: a {what} is at most {limit} characters, and this one"
            f" has {len(text)}"
        )
    return None


def parse_input(
    line: str, current_channel: str | None, query: str | None = None
) -> Action | None:
    """
    Turn one typed line into an action, or None for an empty line.

    C{current_channel} is the channel commands apply to by default, and
    C{query} the nick of a private conversation (L{Query}), if any: plain
    text goes to C{query}, else to C{current_channel}.  Nothing here talks
    to the server: mistakes that can be seen locally (an unknown command, a
    missing argument, a message of spaces only, a topic or reason over the
    server's limit, text with no channel to go to) are a L{Problem}.  Text
    over L{TEXT_MAX} is left to the session, which splits it.
    """
    line = line.rstrip("\r\n")
    if not line:
        return None
    if line.startswith("/") and not line.startswith("//"):
        words = _split(line[1:], 1)
        if not words:
            return Problem("an empty command; /help lists them")
        name = words[0].lower()
        rest = words[1] if len(words) > 1 else ""
        return _parse_command(name, rest, current_channel, query)
    if _blank(line):
        return Problem(ONLY_SPACES)
    if line.startswith("//"):
        line = line[1:]
    to = query or current_channel
    if to is None:
        return Problem(
            "you are not in a channel: /join #channel first, or /msg NICK text"
        )
    return Send({"cmd": "msg", "to": to, "text": line})


def _parse_command(
    name: str, rest: str, current: str | None, query: str | None
) -> Action:
    args = _split(rest)
    if name == "connect":
        if len(args) > 2:
            return Problem("usage: /connect HOST PORT")
        if not args:
            return Connect(None, DEFAULT_PORT)
        port = DEFAULT_PORT
        if len(args) == 2:
            try:
                port = int(args[1])
            except ValueError:
                port = -1
            if not 0 < port < 65536:
                return Problem(
                    f"not a port number: {args[1]} (usage: /connect HOST PORT)"
                )
        return Connect(args[0], port)
    if name == "nick":
        if len(args) != 1:
            return Problem("usage: /nick NAME")
        return Send({"cmd": "nick", "nick": args[0]})
    if name == "join":
        if len(args) != 1:
            return Problem("usage: /join #channel")
        return Send({"cmd": "join", "channel": _channel_name(args[0])})
    if name in ("leave", "part"):
        channel, reason = _split_channel(rest, current)
        if channel is None:
            return Problem(
                f"you are not in a channel (usage: /{name} [#chan] [reason])"
            )
        request: dict[str, Any] = {"cmd": "leave", "channel": channel}
        if reason:
            problem = _too_long("reason", reason, REASON_MAX)
            if problem:
                return problem
            request["reason"] = reason
        return Send(request)
    if name == "msg":
        words = _split(rest, 1)
        if len(words) < 2:
            return Problem("usage: /msg TARGET TEXT")
        if _blank(words[1]):
            return Problem(ONLY_SPACES)
        return Send({"cmd": "msg", "to": words[0], "text": words[1]})
    if name == "query":
        words = _split(rest, 1)
        if not words:
            return Query(None)
        text = words[1] if len(words) > 1 else ""
        if words[0].startswith("#"):
            if text:
                return Problem("usage: /query #chan (then type to it)")
            return Query(words[0])
        if text and _blank(text):
            return Problem(ONLY_SPACES)
        return Query(words[0], text)
    if name == "me":
        if _blank(rest):
            return Problem("usage: /me TEXT")
        to = query or current
        if to is None:
            return Problem("you are not in a channel: /join #channel first")
        return Send({"cmd": "msg", "to": to, "text": rest, "action": True})
    if name == "list":
        if args:
            return Problem("usage: /list")
        return Send({"cmd": "list"})
    if name in ("who", "names"):
        if len(args) > 1:
            return Problem(f"usage: /{name} [#chan]")
        channel = _channel_name(args[0]) if args else current
        if channel is None:
            return Problem(f"you are not in a channel (usage: /{name} [#chan])")
        return Send({"cmd": "who", "channel": channel})
    if name == "whois":
        if len(args) != 1:
            return Problem("usage: /whois NICK")
        return Whois(args[0])
    if name == "topic":
        channel, text = _split_channel(rest, current)
        if channel is None:
            return Problem("you are not in a channel (usage: /topic [#chan] [text])")
        request = {"cmd": "topic", "channel": channel}
        if text:
            problem = _too_long("topic", text, TOPIC_MAX)
            if problem:
                return problem
            request["topic"] = text
        return Send(request)
    if name == "ping":
        if args:
            return Problem("usage: /ping")
        return Ping()
    if name == "away":
        if rest.strip():
            problem = _too_long("away message", rest, AWAY_MAX)
            return problem or Send({"cmd": "away", "message": rest})
        return Send({"cmd": "away"})
    if name == "quit":
        problem = _too_long("reason", rest, REASON_MAX)
        return problem or Quit(rest)
    if name == "help":
        return Help()
    return Problem(f"unknown command /{name} (/help lists them)")


def split_text(text: str, chars: int, budget: int = 0) -> list[str]:
    """
    C{text} cut into pieces of at most C{chars} characters and, when
    C{budget} is not 0, of at most C{budget} bytes as JSON string content:
    at the last space of a piece when there is one in its second half (the
    space is dropped), else at the limit.  Pieces of spaces only are left
    out.
    """
    pieces: list[str] = []
    start = 0
    while len(text) - start > 0:
        end = start
        size = 0
        while end < len(text) and end - start < chars:
            if budget:
                size += _json_size(text[end])
                if size > budget:
                    break
            end += 1
        if end == start:  # one character over the budget: let the server say
            end = start + 1
        cut = end
        if end < len(text):
            space = text.rfind(" ", start + (end - start) // 2, end + 1)
            if space > start:
                cut = space
        piece = text[start:cut]
        if not _blank(piece):
            pieces.append(piece)
        start = cut + 1 if cut < len(text) and text[cut] == " " else cut
    return pieces


def _json_size(ch: str) -> int:
    """The bytes C{ch} takes in a request (see L{encode_request})."""
    if " " <= ch < "\x7f" and ch not in '"\\':
        return 1
    encoded = json.dumps(ch, ensure_ascii=False)[1:-1]
    return len(encoded.encode("utf-8", "backslashreplace"))


# Rendering.


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
    return text + RESET if _FORMAT_CODE.search(text) else text


def _reason(reason: str) -> str:
    return f" ({_field(reason)})" if reason else ""


def _count(n: int, word: str) -> str:
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
        lines = [f"* {_count(len(channels), 'channel')}:"]
        for entry in channels:
            if not isinstance(entry, dict):
                raise _Malformed("channels")
            count = entry.get("members")
            if not isinstance(count, int) or isinstance(count, bool):
                raise _Malformed("members")
            topic = _str(entry, "topic")
            line = f"*   {_str(entry, 'channel')} ({_count(count, 'member')})"
            lines.append(f"{line}: {topic}" if topic else line)
        return lines
    if cmd == "who":
        members = _str_list(obj, "members")
        away = obj.get("away")
        away = away if isinstance(away, dict) else {}
        lines = [
            f"* {_str(obj, 'channel')} has {_count(len(members), 'member')}: "
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


#: Format characters (category Cf) that reorder text: bidi embeddings,
#: overrides and isolates can make a line read differently from what it
#: says ("Trojan Source"), and interlinear annotations can hide text.
_DISGUISING = frozenset(
    "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufff9\ufffa\ufffb"
)


def _escaped(ch: str) -> bool:
    """
    Whether C{ch} must not reach the terminal as it is: a C0 or C1 control
    or DEL (Cc), a lone surrogate (Cs), a line or paragraph separator
    (U+2028, U+2029), or one of L{_DISGUISING}.  Other format characters
    (zero-width joiners and non-joiners, variation selectors, emoji tags,
    soft hyphens, directional marks) are part of the writing and stay.
    """
    return unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _DISGUISING


def printable(text: str) -> str:
    """
    C{text} with control characters made visible, so that nothing from the
    server can move the cursor, change the terminal or disguise a line (see
    L{_escaped}); a tab is four spaces.  This shows the formatting codes as
    escapes too: L{to_ansi} and L{strip_formatting} are how they are shown
    to a person.
    """
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if ch == "\t":
            out.append("    ")
        elif _escaped(ch):
            out.append(ascii(ch)[1:-1])
        else:
            out.append(ch)
    return "".join(out)


# Formatting: the codes IRC clients put in text, as described in
# https://modern.ircdocs.horse/formatting.  Bold, italic, underline,
# reverse, strikethrough and monospace each toggle; reset ends them all.

BOLD = "\x02"
COLOUR = "\x03"  # then FG[,BG], each 1 or 2 digits; alone, resets the colours
HEX_COLOUR = "\x04"  # then RRGGBB[,RRGGBB]; not shown, only removed
RESET = "\x0f"
MONOSPACE = "\x11"
REVERSE = "\x16"
ITALIC = "\x1d"
STRIKETHROUGH = "\x1e"
UNDERLINE = "\x1f"

_FORMAT_CODE = re.compile(
    "\x03(?:([0-9]{1,2})(?:,([0-9]{1,2}))?)?"
    "|\x04(?:([0-9A-Fa-f]{6})(?:,([0-9A-Fa-f]{6}))?)?"
    "|[\x02\x0f\x11\x16\x1d\x1e\x1f]"
)

# The SGR attribute each toggle turns on; monospace changes nothing on a
# terminal, whose text is monospaced anyway.
_TOGGLES = {BOLD: 1, ITALIC: 3, UNDERLINE: 4, REVERSE: 7, STRIKETHROUGH: 9}

# mIRC colours 0-15 as the terminal's 16 colours (0-7 normal, 8-15 bright)...
_ANSI_16 = (15, 0, 4, 2, 9, 1, 5, 3, 11, 10, 6, 14, 12, 13, 8, 7)
# ... and 16-98 as the 256-colour palette's, as modern.ircdocs.horse maps them.
# fmt: off
_ANSI_256 = (
    52, 94, 100, 58, 22, 29, 23, 24, 17, 54, 53, 89,
    88, 130, 142, 64, 28, 35, 30, 25, 18, 91, 90, 125,
    124, 166, 184, 106, 34, 49, 37, 33, 19, 129, 127, 161,
    196, 208, 226, 154, 46, 86, 51, 75, 21, 171, 201, 198,
    203, 215, 227, 191, 83, 122, 87, 111, 63, 177, 207, 205,
    217, 223, 229, 193, 157, 158, 159, 153, 147, 183, 219, 212,
    16, 233, 235, 237, 239, 241, 244, 247, 250, 254, 231,
)
# fmt: on
_DEFAULT_COLOUR = 99


class _Style(NamedTuple):
    """The formatting in force: SGR attributes on, and mIRC colours."""

    attributes: frozenset[int] = frozenset()
    fg: int = _DEFAULT_COLOUR
    bg: int = _DEFAULT_COLOUR


_PLAIN = _Style()


def strip_codes(text: str) -> str:
    """C{text} without its formatting codes (colour numbers included)."""
    return _FORMAT_CODE.sub("", text)


def strip_formatting(text: str) -> str:
    """
    A line for output that shows no formatting (a pipe, C{NO_COLOR},
    C{--no-format}): the formatting codes removed, other control characters
    made visible.
    """
    return printable(strip_codes(text))


def to_ansi(text: str) -> str:
    """
    A line for a terminal: the formatting codes turned into ANSI SGR
    sequences, other control characters made visible.  Attributes are reset
    at the end of the line, so nothing bleeds into what follows.
    """
    out: list[str] = []
    style = shown = _PLAIN
    start = 0
    for code in _FORMAT_CODE.finditer(text):
        if code.start() > start:
            if style != shown:
                out.append(_sgr(style))
                shown = style
            out.append(printable(text[start : code.start()]))
        style = _apply(style, code)
        start = code.end()
    if start < len(text):
        if style != shown:
            out.append(_sgr(style))
            shown = style
        out.append(printable(text[start:]))
    if shown != _PLAIN:
        out.append(_sgr(_PLAIN))
    return "".join(out)


def _apply(style: _Style, code: re.Match[str]) -> _Style:
    """The style after one formatting code."""
    char = code.group()[0]
    if char == RESET:
        return _PLAIN
    if char == COLOUR:
        fg, bg = code.group(1, 2)
        if fg is None:
            return style._replace(fg=_DEFAULT_COLOUR, bg=_DEFAULT_COLOUR)
        if bg is None:
            return style._replace(fg=int(fg))
        return style._replace(fg=int(fg), bg=int(bg))
    if char == HEX_COLOUR:
        # Not shown: what it colours is shown in the default colours.
        if code.group(4) is None and code.group(3) is not None:
            return style._replace(fg=_DEFAULT_COLOUR)
        return style._replace(fg=_DEFAULT_COLOUR, bg=_DEFAULT_COLOUR)
    attribute = _TOGGLES.get(char)
    if attribute is None:  # monospace
        return style
    return style._replace(attributes=style.attributes ^ {attribute})


def _sgr(style: _Style) -> str:
    """The SGR sequence that sets C{style} from any other."""
    params = ["0", *map(str, sorted(style.attributes))]
    if style.fg != _DEFAULT_COLOUR:
        params.append(_colour(style.fg, 30))
    if style.bg != _DEFAULT_COLOUR:
        params.append(_colour(style.bg, 40))
    return "\x1b[" + ";".join(params) + "m"


def _colour(colour: int, base: int) -> str:
    """The SGR parameter for a mIRC colour, with base 30 (fg) or 40 (bg)."""
    if colour < 16:
        ansi = _ANSI_16[colour]
        return str(base + ansi if ansi < 8 else base + 60 + ansi - 8)
    return f"{base + 8};5;{_ANSI_256[colour - 16]}"


def _describe_failure(reason: Failure) -> str:
    if reason.check(neterror.ConnectionRefusedError):
        return "connection refused"
    if reason.check(neterror.DNSLookupError):
        return "host not found"
    if reason.check(neterror.TimeoutError):
        return "timed out"
    message = str(reason.getErrorMessage()).strip()
    return message.rstrip(".") or type(reason.value).__name__


# TLS.

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL
)


def load_certificates(path: str) -> tuple[Certificate, ...]:
    """
    The certificates in a PEM file (C{--ca}): a server's own self-signed
    certificate, or the authorities to trust.

    @raise OSError: the file cannot be read.
    @raise ValueError: it holds no certificate, or a broken one.
    """
    from OpenSSL import crypto
    from twisted.internet.ssl import Certificate

    with open(path, "rb") as f:
        data = f.read()
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks:
        raise ValueError("no PEM certificate (-----BEGIN CERTIFICATE-----) in it")
    certificates = []
    for block in blocks:
        try:
            certificates.append(Certificate.loadPEM(block))
        except crypto.Error as e:
            raise ValueError(f"a broken certificate in it: {e}") from None
    return tuple(certificates)


class TLS(NamedTuple):
    """
    How the client speaks TLS (C{--tls}), on every connection it makes.

    @ivar ca: the certificates to trust (C{--ca}); None trusts the
        authorities the system trusts.
    @ivar insecure: check nothing about the server's certificate
        (C{--insecure}).
    """

    ca: tuple[Certificate, ...] | None = None
    insecure: bool = False

    def creator(self, host: str) -> Any:
        """
        The TLS settings for a connection to C{host}: unless insecure, the
        server's certificate must chain to a trusted certificate and be for
        C{host} (a name or an IP address).

        @raise ValueError: C{host} is no name a certificate can be for.
        """
        from twisted.internet import ssl

        if self.insecure:
            return ssl.CertificateOptions()  # it verifies nothing by default
        if self.ca is None:
            trust = ssl.platformTrust()
        else:
            trust = ssl.trustRootFromCertificates(list(self.ca))
        return ssl.optionsForClientTLS(host, trustRoot=trust)


def check_identity(handle: Any, host: str) -> None:
    """
    Check that the certificate of a TLS connection (its pyOpenSSL
    C{Connection}) is for C{host}.  L{TLS.creator}'s settings check this
    already; but some Twisted releases let a certificate without any
    subjectAltName through, so the client checks again after the handshake.

    @raise service_identity.VerificationError: it is for another host.
    @raise service_identity.CertificateError: it names no host at all.
    """
    from service_identity.pyopenssl import verify_hostname, verify_ip_address
    from twisted.internet.abstract import isIPAddress, isIPv6Address

    if isIPAddress(host) or isIPv6Address(host):
        verify_ip_address(handle, host)
    else:
        verify_hostname(handle, host)


# What the server sends when it does not speak TLS, as OpenSSL sees it.
_NOT_TLS = (
    "wrong version number",
    "packet length too long",
    "record layer failure",
    "unknown protocol",
    "http request",
)


def _openssl_reasons(error: BaseException) -> list[str]:
    """The reasons in a pyOpenSSL C{SSL.Error}: [(library, function, reason)]."""
    reasons = []
    for entry in error.args[0] if error.args else ():
        if isinstance(entry, tuple) and entry:
            reasons.append(str(entry[-1]))
    return reasons or [str(error) or type(error).__name__]


def _peer_chain(connection: ChatConnection) -> list[Any]:
    """
    The certificates the server sent, leaf first, as C{cryptography}
    certificates; also after a failed handshake.
    """
    get_handle = getattr(connection.transport, "getHandle", None)
    try:
        handle = get_handle() if get_handle is not None else None
        chain = handle.get_peer_cert_chain() if handle is not None else None
        if not chain and handle is not None:
            leaf = handle.get_peer_certificate()
            chain = [leaf] if leaf is not None else []
        return [cert.to_cryptography() for cert in chain or ()]
    except Exception:  # nothing to show: the description says less
        return []


def _valid(cert: Any, end: str) -> datetime:
    """C{not_valid_before} or C{not_valid_after}, in UTC, for any release."""
    utc = getattr(cert, f"{end}_utc", None)
    if utc is not None:
        return cast(datetime, utc)
    return cast(datetime, getattr(cert, end)).replace(tzinfo=timezone.utc)


def _names(cert: Any) -> list[str]:
    """The host names and addresses a certificate is for."""
    from cryptography import x509

    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    names = sans.value.get_values_for_type(x509.DNSName)
    names += [str(ip) for ip in sans.value.get_values_for_type(x509.IPAddress)]
    return [str(name) for name in names]


def _why_untrusted(chain: list[Any], tls: TLS) -> str:
    """Why the server's certificate did not verify, as far as can be told."""
    if not chain:
        return "the server's certificate is not trusted"
    leaf = chain[0]
    now = datetime.now(timezone.utc)
    not_after = _valid(leaf, "not_valid_after")
    if not_after < now:
        return f"the certificate expired on {not_after:%Y-%m-%d %H:%M} UTC"
    not_before = _valid(leaf, "not_valid_before")
    if not_before > now:
        return f"the certificate is not valid before {not_before:%Y-%m-%d %H:%M} UTC"
    if len(chain) == 1 and leaf.issuer == leaf.subject:
        if tls.ca is None:
            return (
                "self-signed certificate, which the system does not trust;"
                " --ca FILE can trust it"
            )
        return "self-signed certificate, which is not in --ca"
    issuer = chain[-1].issuer.rfc4514_string() or "?"
    if tls.ca is None:
        return f"issued by {issuer}, which the system does not trust"
    return f"issued by {issuer}, which is not in --ca"


def _describe_tls_failure(
    reason: Failure, connection: ChatConnection, host: str, tls: TLS
) -> str:
    """
    Why a TLS connection to C{host} ended before its handshake (and the
    certificate check) was done: one line, such as C{certificate verify
    failed: self-signed certificate; ...}.
    """
    from OpenSSL import SSL
    from service_identity import CertificateError, VerificationError

    if reason.check(VerificationError, CertificateError):
        chain = _peer_chain(connection)
        names = _names(chain[0]) if chain else []
        if not chain:
            why = f"the certificate is not for {host}"
        elif not names:
            why = f"the certificate names no host (no subjectAltName), not {host}"
        else:
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            why = f"the certificate is for {shown}, not {host}"
        return f"certificate verify failed: {why}"
    if reason.check(SSL.Error):
        reasons = _openssl_reasons(cast(BaseException, reason.value))
        if "certificate verify failed" in reasons:
            why = _why_untrusted(_peer_chain(connection), tls)
            return f"certificate verify failed: {why}"
        text = ", ".join(dict.fromkeys(reasons))
        if any(r in _NOT_TLS for r in reasons):
            text += "; does the server speak TLS on this port?"
        return f"TLS handshake failed: {text}"
    if reason.check(neterror.ConnectionDone, neterror.ConnectionLost):
        return "TLS handshake failed: the server closed the connection"
    return f"TLS handshake failed: {_describe_failure(reason)}"


# The session.


@implementer(IHandshakeListener)
class ChatConnection(LineReceiver):
    """
    One connection to a server; it hands every line to its L{ChatClient}.

    @ivar secured: over TLS, the handshake and the certificate check are done.
    @ivar rejected: over TLS, why the client's own check of the certificate
        failed (and the connection was cut off), or None.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    secured = False
    rejected: Failure | None = None

    def __init__(self, client: ChatClient) -> None:
        self.client = client

    def connectionMade(self) -> None:
        self.client._connection_made(self)

    def handshakeCompleted(self) -> None:
        self.client._handshake_completed(self)

    def lineReceived(self, line: bytes) -> None:
        self.client._line_received(self, line)

    def lineLengthExceeded(self, line: bytes) -> None:
        self.client._print(bad_line(line[:200]) + " (line too long)")
        if self.transport is not None:
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = neterror.ConnectionDone) -> None:  # type: ignore[assignment]
        self.client._connection_lost(self, reason)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data + b"\n")


def encode_request(request: dict[str, Any]) -> bytes:
    """One request line, without its line ending."""
    data = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate (from a badly decoded input line) cannot be UTF-8.
    return data.encode("utf-8", "backslashreplace")


class _ConnectionFactory(ClientFactory):
    def __init__(self, client: ChatClient) -> None:
        self.client = client

    def buildProtocol(self, addr: IAddress | None) -> Protocol:
        protocol = ChatConnection(self.client)
        protocol.factory = self
        return protocol

    def clientConnectionFailed(self, connector: object, reason: Failure) -> None:
        self.client._connect_failed(self, reason)


_END = object()  # marks the end of input in the inbox

#: Commands that cost the sender flood-control tokens (see docs/security.md):
#: one of them let through at once means the server no longer slows us down.
_COSTLY = frozenset({"msg", "join", "leave", "nick", "topic"})

#: The start of an IRC line: optional tags and prefix, then a command or a
#: numeric (``ERROR :Closing Link``, ``:irc.example NOTICE * :hi``).
_IRC_LINE = re.compile(rb"^(@\S+ +)?(:\S+ +)?([A-Za-z]+|[0-9]{3})( |$)")


def alternate_nick(nick: str) -> str:
    """The nick tried when C{nick} is taken on reconnecting: C{nick_}."""
    return (nick if len(nick) < 30 else nick[:29]) + "_"


class _Out:
    """
    A request on its way, until its reply comes.

    @ivar silent: neither the reply nor a slowdown is shown (keepalive).
    @ivar then: called with the reply and this record before anything else
        is done with it; True means it has been dealt with.
    @ivar restore: a join of L{ChatClient.channels} again after a
        reconnection: it does not change which channel is current.
    @ivar alternate: a nick taken because ours was in use on reconnecting:
        the next reconnection tries ours again.
    @ivar retried: it was refused by flood control and sent again.
    """

    __slots__ = (
        "alternate",
        "request",
        "restore",
        "retried",
        "sent_at",
        "silent",
        "then",
    )

    def __init__(
        self,
        request: dict[str, Any],
        *,
        silent: bool = False,
        then: Callable[[dict[str, Any], _Out], bool] | None = None,
        restore: bool = False,
        alternate: bool = False,
    ) -> None:
        self.request = request
        self.silent = silent
        self.then = then
        self.restore = restore
        self.alternate = alternate
        self.retried = False
        self.sent_at = 0.0


class ChatClient:
    """
    A chat session: typed lines in, server lines out to C{output}.

    It keeps who you are across connections: C{want_nick} and C{channels}
    (the last one current) are taken again on every new connection, made by
    C{/connect} or by the client itself after the server went away (in
    interactive use only; see L{_connection_lost}).

    @ivar output: called with each line to show (no line ending).
    @ivar display: makes each line fit for C{output}: L{to_ansi} for a
        terminal, L{strip_formatting} (the default) for anything else.
    @ivar changed: called when the prompt may have changed.
    @ivar finished: called once with the exit status when the client is done.
    @ivar tls: how to speak TLS on every connection (C{--tls}), or None for
        plain TCP.
    @ivar nick: the nick the server gave us on this connection, or None.
    @ivar want_nick: the nick to take on connecting (C{--nick}, then the
        last one the user took).
    @ivar channels: the channels we are in, or were in and will join again
        once connected, in the order they became current (the last one is).
    @ivar query: the nick plain lines go to (C{/query}), or None.
    """

    def __init__(
        self,
        reactor: IReactorTCP,
        *,
        interactive: bool = False,
        tz: tzinfo | None = None,
        output: Callable[[str], None] = print,
        display: Callable[[str], str] = strip_formatting,
        changed: Callable[[], None] = lambda: None,
        finished: Callable[[int], None] = lambda status: None,
        tls: TLS | None = None,
        nick: str | None = None,
    ) -> None:
        self.reactor = reactor
        self.tls = tls
        self.clock: Any = reactor  # IReactorTime too
        self.interactive = interactive
        self.tz = tz
        self.output = output
        self.display = display
        self.changed = changed
        self.finished = finished

        self.server: tuple[str, int] = (DEFAULT_HOST, DEFAULT_PORT)
        self.nick: str | None = None
        self.want_nick = nick
        self.channels: list[str] = []
        #: our away message, set again after a reconnection; None: here
        self.away: str | None = None
        self.query: str | None = None
        self.connection: ChatConnection | None = None
        self.welcomed = False
        self.max_line = 0  # from the welcome; 0 when unknown

        self._joined: set[str] = set()  # channels joined on this connection, folded
        self._attempt: _ConnectionFactory | None = None
        self._inbox: deque[object] = deque()
        self._pumping = False
        self._pending: dict[int, _Out] = {}
        self._next_id = 0
        self._quit_sent = False
        self._quitting = False
        self._failed = False
        self._done = False
        self._last_sent = 0.0
        self._quit_timer: IDelayedCall | None = None
        #: a request the server's flood control refused, to send again
        self._retry: IDelayedCall | None = None
        #: the server's flood control is slowing us down (told once)
        self._slowed = False
        self._keepalive: LoopingCall | None = None
        self._welcome_timer: IDelayedCall | None = None
        self._bye: str | None = None  # the code of this connection's bye
        self._not_chatd = False  # this connection is to something else
        #: reconnecting by itself after the connection was lost
        self._reconnecting = False
        self._reconnect_call: IDelayedCall | None = None
        self._backoff = RECONNECT_FIRST

    # What the front ends call.

    @property
    def channel(self) -> str | None:
        """The current channel: where commands apply by default."""
        return self.channels[-1] if self.channels else None

    def prompt(self) -> str:
        if self.connection is None and self._attempt is None:
            if self._reconnect_call is not None:
                return "(reconnecting)> "
            return "(not connected)> "
        if not self.welcomed:
            return "(connecting)> "
        target = f"*{self.query}*" if self.query else self.channel
        parts = [p for p in (self.nick and f"[{self.nick}]", target) if p]
        return " ".join(parts) + "> "

    def connect(self, host: str, port: int) -> None:
        """
        Connect to a server, dropping the current connection if any; the
        nick and channels are taken again there.
        """
        self._stop_reconnecting()
        self._open(host, port)

    def interrupt(self) -> None:
        """
        Quit now (Ctrl-C), whatever is queued; a second interrupt does not
        wait for the server any more.
        """
        self._inbox.clear()
        if self._quitting:
            self._finish()
        else:
            self._quit("")

    def handle_input(self, line: str) -> None:
        """A line was typed (or read from a pipe)."""
        if self.interactive and not self.welcomed:
            action = parse_input(line, self.channel, self.query)
            if isinstance(action, Quit):
                # Not connected (yet): nothing to wait for.
                self._inbox.clear()
                self._quit(action.reason)
                return
        self._inbox.append(line)
        self._pump()

    def input_ended(self) -> None:
        """No more input: quit once everything before has been answered."""
        if self.interactive and not self.welcomed:
            self.interrupt()  # Ctrl-D while (re)connecting: nothing to wait for
            return
        self._inbox.append(_END)
        self._pump()

    # Input, one line at a time.

    def _ready(self) -> bool:
        if self._done or self._quitting:
            return False
        if self._attempt is not None and not self.welcomed:
            return False  # wait for the welcome (or the failure)
        return not self._pending and self._retry is None

    def _pump(self) -> None:
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._inbox and self._ready():
                item = self._inbox.popleft()
                if item is _END:
                    self._end_of_input()
                elif isinstance(item, str):
                    self._do(parse_input(item, self.channel, self.query))
                else:
                    self._do(cast(Action, item))
        finally:
            self._pumping = False

    def _do(self, action: Action | None) -> None:
        if action is None:
            return
        if isinstance(action, Problem):
            self._print(f"! {action.message}")
        elif isinstance(action, Help):
            for line in HELP_LINES:
                self._print(line)
            if self.welcomed:
                self._send({"cmd": "help"})
        elif isinstance(action, Connect):
            host = action.host
            if host is None:
                host, port = self.server
            else:
                port = action.port
            self.connect(host, port)
        elif isinstance(action, Quit):
            self._quit(action.reason)
        elif isinstance(action, Query):
            self._query(action)
        elif isinstance(action, Rejoin):
            if self.welcomed and self.nick is not None:
                channel = action.channel
                self._send(
                    {"cmd": "join", "channel": channel},
                    restore=True,
                    then=self._rejoin_failed,
                )
        elif isinstance(action, Reaway):
            if self.welcomed and self.nick is not None:
                self._send({"cmd": "away", "message": action.message})
        elif not self.welcomed:
            self._not_connected_now()
        elif isinstance(action, Ping):
            self._send({"cmd": "ping"}, then=self._pong)
        elif isinstance(action, Whois):
            self._whois(action.nick)
        else:
            self._send_request(action.request)

    def _not_connected_now(self) -> None:
        self._failed = True
        call = self._reconnect_call
        if call is not None and call.active():
            wait = max(call.getTime() - self.clock.seconds(), 0.0)
            self._print(
                f"! not connected: reconnecting in {wait:.0f} s"
                " (/connect tries now, /quit stops)"
            )
        else:
            self._print("! not connected (use /connect HOST PORT)")

    def _query(self, action: Query) -> None:
        target = action.target
        if target is None:
            if self.query is None:
                self._print("! no private conversation to end (usage: /query NICK)")
                return
            where = self.channel or "nowhere: /join #channel"
            self._print(f"* no longer talking to {self.query}; lines go to {where}")
            self.query = None
        elif target.startswith("#"):
            folded = target.lower()
            found = [c for c in self.channels if c.lower() == folded]
            if not found:
                self._print(f"! you are not in {target}: /join {target} first")
                return
            self.channels = [c for c in self.channels if c.lower() != folded]
            self.channels.append(found[0])
            self.query = None
            self._print(f"* lines go to {found[0]}")
        else:
            self.query = target
            self._print(
                f"* talking privately to {target}: plain lines go to them"
                " (/query alone or /join goes back)"
            )
        self.changed()
        if target is not None and action.text:
            self._do(Send({"cmd": "msg", "to": target, "text": action.text}))

    def _send_request(self, request: dict[str, Any]) -> None:
        """
        Send a request the user asked for; text too long for one message
        (more than L{TEXT_MAX} characters, or more than the server's
        C{max_line} bytes) goes as several, cut at spaces where possible.
        """
        text = request.get("text")
        if request.get("cmd") == "msg" and isinstance(text, str):
            budget = 0
            if self.max_line:
                empty = encode_request({**request, "text": "", "id": 2**53})
                budget = self.max_line - len(empty)
            too_big = budget and len(encode_request(request)) - len(empty) > budget
            if (len(text) > TEXT_MAX or too_big) and budget >= 0:
                pieces = split_text(text, TEXT_MAX, budget)
                if len(pieces) > 1:
                    limit = (
                        f"{TEXT_MAX} characters"
                        if len(text) > TEXT_MAX
                        else f"{self.max_line} bytes"
                    )
                    self._print(
                        f"* {len(text)} characters are more than one message"
                        f" holds ({limit}): sending them as {len(pieces)}"
                        " messages"
                    )
                    more = [Send({**request, "text": p}) for p in pieces[1:]]
                    self._inbox.extendleft(reversed(more))
                if pieces:
                    request = {**request, "text": pieces[0]}
        self._send(request)

    def _send(
        self,
        request: dict[str, Any],
        silent: bool = False,
        *,
        then: Callable[[dict[str, Any], _Out], bool] | None = None,
        restore: bool = False,
        alternate: bool = False,
    ) -> None:
        out = _Out(
            request, silent=silent, then=then, restore=restore, alternate=alternate
        )
        self._transmit(out)

    def _transmit(self, out: _Out) -> None:
        assert self.connection is not None
        request_id = self._next_id + 1
        data = encode_request({**out.request, "id": request_id})
        if self.max_line and len(data) > self.max_line:
            # The server would hang up on it: say so instead.
            self._print(
                f"! too long: the server takes at most {self.max_line} bytes"
                f" a line, and this is {len(data)}"
            )
            return
        self._next_id = request_id
        self._pending[request_id] = out
        out.sent_at = self._last_sent = self.clock.seconds()
        self.connection.send(data)

    def _pong(self, reply: dict[str, Any], out: _Out) -> bool:
        if reply.get("type") != "ok":
            return False
        rtt = (self.clock.seconds() - out.sent_at) * 1000
        self._print(f"* pong from {self.server[0]} in {rtt:.0f} ms")
        return True

    def _whois(self, nick: str) -> None:
        """
        What the protocol can tell of a nick: the channels it is in, from
        C{list} and then C{who} on each channel (it has no whois).
        """
        found: list[str] = []
        spelled = [nick]
        folded = nick.lower()

        def look(channels: list[str], total: int) -> None:
            if not channels:
                if found:
                    self._print(f"* {spelled[0]} is in {', '.join(found)}")
                else:
                    looked = min(total, WHOIS_CHANNELS)
                    self._print(
                        f"* {nick} is in none of the {_count(looked, 'channel')}"
                        " (chatd tells no more: it may still be connected;"
                        f" /msg {nick} TEXT tries)"
                    )
                return
            channel = channels.pop(0)

            def who(reply: dict[str, Any], out: _Out) -> bool:
                members = reply.get("members")
                if reply.get("type") == "ok" and isinstance(members, list):
                    for member in members:
                        if isinstance(member, str) and member.lower() == folded:
                            spelled[0] = member
                            found.append(str(reply.get("channel", channel)))
                look(channels, total)
                return True

            self._send({"cmd": "who", "channel": channel}, then=who)

        def listed(reply: dict[str, Any], out: _Out) -> bool:
            entries = reply.get("channels")
            if reply.get("type") != "ok" or not isinstance(entries, list):
                return False
            names = [
                e["channel"]
                for e in entries
                if isinstance(e, dict) and isinstance(e.get("channel"), str)
            ]
            look(names[:WHOIS_CHANNELS], len(names))
            return True

        if self.nick is None:
            self._print("! choose a nick first: /nick NAME")
            return
        self._send({"cmd": "list"}, then=listed)

    def _quit(self, reason: str) -> None:
        self._quitting = True
        self._stop_reconnecting()
        if self.connection is None:
            self._finish()
            return
        if not self._quit_sent and self.welcomed:
            self._quit_sent = True
            self._send({"cmd": "quit", "reason": reason} if reason else {"cmd": "quit"})
        else:
            assert self.connection.transport is not None
            self.connection.transport.loseConnection()
        if self._quit_timer is None:
            self._quit_timer = self.clock.callLater(QUIT_TIMEOUT, self._quit_timed_out)

    def _quit_timed_out(self) -> None:
        self._quit_timer = None
        self._print("! the server did not close the connection; closing it")
        self._finish()

    def _end_of_input(self) -> None:
        if self.connection is not None:
            self._quit("")
        else:
            self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        if self._quit_timer is not None and self._quit_timer.active():
            self._quit_timer.cancel()
        self._quit_timer = None
        self._stop_keepalive()
        self._stop_reconnecting()
        self._cancel_welcome_timer()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        connection, self.connection = self.connection, None
        if connection is not None and connection.transport is not None:
            connection.transport.loseConnection()
        self.finished(1 if self._failed and not self.interactive else 0)

    # The connection.

    def _where(self) -> str:
        return f"{self.server[0]} port {self.server[1]}"

    def _open(self, host: str, port: int) -> None:
        self.server = (host, port)
        if self.connection is not None:
            self._print(f"* leaving {self._where()}")
            old, self.connection = self.connection, None
            self._reset()
            assert old.transport is not None
            old.transport.loseConnection()
        tls = self.tls
        if tls is not None and tls.insecure:
            self._print(
                "* warning: --insecure: the server's certificate is not checked"
            )
        over = " with TLS" if tls is not None else ""
        self._print(f"* connecting to {host} port {port}{over} ...")
        factory = self._attempt = _ConnectionFactory(self)
        if tls is None:
            self.reactor.connectTCP(host, port, factory, timeout=CONNECT_TIMEOUT)
        else:
            try:
                creator = tls.creator(host)
            except ValueError as e:  # idna's errors are UnicodeErrors
                problem = ValueError(f"no certificate can be for {host!r}: {e}")
                self._connect_failed(factory, Failure(problem))
                return
            reactor = cast(IReactorSSL, self.reactor)
            reactor.connectSSL(
                host, port, factory, creator, timeout=CONNECT_TIMEOUT, bindAddress=None
            )
        self.changed()

    def _schedule_reconnect(self) -> float:
        """Try again after the next backoff delay; return the delay."""
        delay = self._backoff
        self._backoff = min(delay * 2, RECONNECT_MAX)
        self._reconnecting = True
        self._reconnect_call = self.clock.callLater(delay, self._reconnect)
        return delay

    def _reconnect(self) -> None:
        self._reconnect_call = None
        self._open(*self.server)

    def _stop_reconnecting(self) -> None:
        if self._reconnect_call is not None and self._reconnect_call.active():
            self._reconnect_call.cancel()
        self._reconnect_call = None
        self._reconnecting = False
        self._backoff = RECONNECT_FIRST

    def _reset(self) -> None:
        """Forget the connection; who we are (nick, channels) is kept."""
        self.nick = None
        self._joined.clear()
        self.welcomed = False
        self.max_line = 0
        self._pending.clear()
        if self._retry is not None:
            if self._retry.active():
                self._retry.cancel()
            self._retry = None
        self._slowed = False
        self._quit_sent = False
        self._bye = None
        self._not_chatd = False
        self._cancel_welcome_timer()
        self._stop_keepalive()

    def _connection_made(self, connection: ChatConnection) -> None:
        if connection.factory is not self._attempt or self._done:
            assert connection.transport is not None
            connection.transport.loseConnection()
            return
        self.connection = connection
        # Over TLS the handshake comes first: the wait starts again after it.
        wait = WELCOME_TIMEOUT if self.tls is None else CONNECT_TIMEOUT
        self._welcome_timer = self.clock.callLater(wait, self._no_welcome, connection)

    def _cancel_welcome_timer(self) -> None:
        if self._welcome_timer is not None and self._welcome_timer.active():
            self._welcome_timer.cancel()
        self._welcome_timer = None

    def _no_welcome(self, connection: ChatConnection) -> None:
        self._welcome_timer = None
        if connection is self.connection and not self.welcomed:
            self._not_chatd_server(connection, None)

    def _not_chatd_server(self, connection: ChatConnection, line: bytes | None) -> None:
        """
        The server's first line (or its silence) shows it does not speak
        chatd's protocol: say so, and hang up without reconnecting.
        """
        self._cancel_welcome_timer()
        self._not_chatd = True
        self._failed = True
        self._stop_reconnecting()
        if line is None:
            why = (
                f"it said nothing within {WELCOME_TIMEOUT:g} s; is this an IRC"
                " port? (IRC servers wait for the client to speak first)"
            )
        else:
            text = line.decode("utf-8", "backslashreplace")
            shown = printable(text[:80] + ("..." if len(text) > 80 else ""))
            if _IRC_LINE.match(line):
                why = f"it sent IRC: {shown}; is this the IRC port?"
            else:
                why = f"it sent: {shown}"
        self._print(
            f"! not connected: {self._where()} does not speak chatd's JSON"
            f" protocol ({why})"
        )
        if self.interactive:
            self._print("! /connect HOST PORT tries another")
        assert connection.transport is not None
        connection.transport.loseConnection()

    def _handshake_completed(self, connection: ChatConnection) -> None:
        """The TLS handshake is done: check the certificate's host again."""
        if connection is not self.connection or connection.secured:
            return  # a renegotiation
        assert connection.transport is not None
        if self.tls is not None and not self.tls.insecure:
            try:
                handle = connection.transport.getHandle()  # type: ignore[attr-defined]
                check_identity(handle, self.server[0])
            except Exception:
                connection.rejected = Failure()
                connection.transport.abortConnection()  # type: ignore[attr-defined]
                return
        connection.secured = True
        if not self.welcomed:
            self._cancel_welcome_timer()
            self._welcome_timer = self.clock.callLater(
                WELCOME_TIMEOUT, self._no_welcome, connection
            )

    def _connect_failed(self, factory: _ConnectionFactory, reason: Failure) -> None:
        if factory is not self._attempt:
            return
        self._attempt = None
        why = _describe_failure(reason)
        if self._reconnecting and not self._quitting and not self._done:
            delay = self._schedule_reconnect()
            self._print(
                f"! not connected: {why} ({self._where()}); reconnecting in {delay:g} s"
            )
            self.changed()
            return
        self._not_connected(why)
        self.changed()
        self._after_close()

    def _not_connected(self, why: str) -> None:
        self._failed = True
        self._print(f"! not connected: {why} ({self._where()})")
        if self.interactive:
            self._print("! /connect HOST PORT tries again")

    def _connection_lost(self, connection: ChatConnection, reason: Failure) -> None:
        """
        The connection ended.  In interactive use the client connects again
        by itself, with a growing delay, unless we quit, the server was not
        chatd, TLS failed, or the server's bye says a new connection would
        fare no better (L{NO_RECONNECT}).  Piped, a script that lost its
        server stops: its later lines are not sent and it exits with 1.
        """
        if connection is not self.connection:
            return
        self.connection = None
        self._attempt = None
        welcomed, bye, not_chatd = self.welcomed, self._bye, self._not_chatd
        self._reset()
        self.changed()
        if self._quitting or self._done:
            self._finish()
            return
        if not_chatd:
            self._after_close()
            return
        if self.tls is not None and not connection.secured:
            # The TLS handshake or the certificate check failed: this was
            # never a connection to the server.
            self._stop_reconnecting()
            why = connection.rejected or reason
            host = self.server[0]
            self._not_connected(_describe_tls_failure(why, connection, host, self.tls))
            self._after_close()
            return
        if (
            self.interactive
            and (welcomed or self._reconnecting)
            and bye not in NO_RECONNECT
        ):
            delay = self._schedule_reconnect()
            self._print(
                f"! disconnected from server ({self._where()}); reconnecting in"
                f" {delay:g} s (/quit stops)"
            )
            self.changed()
            self._after_close()
            return
        self._stop_reconnecting()
        self._failed = True  # a script's later lines will not be sent
        self._print(
            f"! disconnected from server ({self._where()});"
            f" /connect {self.server[0]} {self.server[1]} reconnects"
        )
        self._after_close()

    def _after_close(self) -> None:
        if self._quitting:
            self._finish()
        else:
            self._pump()

    def _line_received(self, connection: ChatConnection, line: bytes) -> None:
        if connection is not self.connection or connection.rejected is not None:
            return
        line = line.strip()
        if not line:
            return
        try:
            obj = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            obj = None
        kind = obj.get("type") if isinstance(obj, dict) else None
        if not self.welcomed and self._bye is None and kind not in ("welcome", "bye"):
            self._not_chatd_server(connection, line)
            return
        if not isinstance(obj, dict):
            self._print(bad_line(line))
            return
        out: _Out | None = None
        if kind in ("ok", "error"):
            request_id = obj.get("id")
            if isinstance(request_id, int) and not isinstance(request_id, bool):
                out = self._pending.pop(request_id, None)
        if out is not None:
            if self._slowed_down(obj, out):
                return
            if out.request.get("cmd") in _COSTLY and not out.retried:
                self._slowed = False  # let through at once: the slowdown is over
            if out.then is not None and out.then(obj, out):
                self._pump()
                return
        request = out.request if out is not None else None
        lines = render(
            obj, request, now=self.clock.seconds(), tz=self.tz, nick=self.nick
        )
        malformed = bool(lines) and lines[0].startswith("! bad line")
        if malformed:
            lines = [bad_line(line)]  # as it came, not as parsed
        if kind == "ok" and out is not None and not malformed:
            self._update(obj, out)
        if kind == "bye":
            code = obj.get("code")
            self._bye = code if isinstance(code, str) else "?"
            self._cancel_welcome_timer()
        if out is None or not out.silent:
            for text in lines:
                self._print(text)
        if kind == "welcome" and not self.welcomed:
            self._welcomed(obj)
        self._pump()

    def _welcomed(self, welcome: dict[str, Any]) -> None:
        """The server said welcome: take our nick (and then channels) again."""
        self.welcomed = True
        self._cancel_welcome_timer()
        self._stop_reconnecting()
        self._start_keepalive(welcome.get("idle_timeout"))
        max_line = welcome.get("max_line")
        if isinstance(max_line, int) and not isinstance(max_line, bool):
            self.max_line = max(max_line, 0)
        self.changed()
        if self.want_nick is not None:
            self._send({"cmd": "nick", "nick": self.want_nick}, then=self._nick_refused)
        elif self.interactive:
            self._print(
                "* choose a nick with /nick NAME; the server hangs up after a"
                " minute without one"
            )

    def _nick_refused(self, reply: dict[str, Any], out: _Out) -> bool:
        """
        The nick taken on connecting was refused: in use, try nick_ once;
        else ask for one (the channels are joined once we have a nick).
        """
        if reply.get("type") != "error":
            return False
        nick = out.request["nick"]
        if reply.get("code") == "nick_in_use" and not out.alternate:
            other = alternate_nick(nick)
            self._print(
                f"! the nick {nick} is taken; trying {other}"
                f" (/nick {nick} takes it back once it is free)"
            )
            self._send(
                {"cmd": "nick", "nick": other},
                then=self._nick_refused,
                alternate=True,
            )
            return True
        for text in render(reply, out.request, now=self.clock.seconds(), tz=self.tz):
            self._print(text)
        waiting = [c for c in self.channels if c.lower() not in self._joined]
        then = f"; then {', '.join(waiting)} are joined again" if waiting else ""
        self._print(f"! choose a nick with /nick NAME{then}")
        return True

    def _rejoin_failed(self, reply: dict[str, Any], out: _Out) -> bool:
        if reply.get("type") == "error":
            folded = str(out.request["channel"]).lower()
            self.channels = [c for c in self.channels if c.lower() != folded]
            self.changed()
        return False

    def _slowed_down(self, reply: dict[str, Any], out: _Out) -> bool:
        """
        The server's flood control refused a request (C{rate_limited}):
        send it again just after C{retry_after} seconds, keeping the order
        of what was typed, rather than lose it.  Said once per slowdown:
        until a costly request goes through at its first try.
        """
        wait = reply.get("retry_after")
        if (
            reply.get("type") != "error"
            or reply.get("code") != "rate_limited"
            or not isinstance(wait, (int, float))
            or isinstance(wait, bool)
            or not 0 <= wait <= RETRY_MAX
        ):
            return False
        if not out.silent and not self._slowed:
            self._print(
                "* the server asks us to slow down: sending at its pace"
                f" (the next line in {wait:g} s)"
            )
        self._slowed = True
        out.retried = True
        self._retry = self.clock.callLater(wait + RETRY_MARGIN, self._send_again, out)
        return True

    def _send_again(self, out: _Out) -> None:
        self._retry = None
        if self.connection is not None and self.welcomed and not self._done:
            self._transmit(out)
        self._pump()

    def _update(self, reply: dict[str, Any], out: _Out) -> None:
        """Follow the state an ok reply tells of."""
        cmd = reply.get("cmd")
        if cmd == "nick":
            had = self.nick
            self.nick = reply["nick"]
            if not out.alternate:
                self.want_nick = self.nick
            if had is None:
                # Our channels again, before anything typed meanwhile.
                waiting = [c for c in self.channels if c.lower() not in self._joined]
                again: list[Action] = [Rejoin(c) for c in waiting]
                if self.away is not None:
                    again.append(Reaway(self.away))
                self._inbox.extendleft(reversed(again))
        elif cmd == "join":
            channel = reply["channel"]
            folded = channel.lower()
            self._joined.add(folded)
            if out.restore:  # where it was, as the server spells it
                self.channels = [
                    channel if c.lower() == folded else c for c in self.channels
                ]
            else:  # it becomes the current one
                self.channels = [c for c in self.channels if c.lower() != folded]
                self.channels.append(channel)
                self.query = None
        elif cmd == "leave":
            folded = reply["channel"].lower()
            self.channels = [c for c in self.channels if c.lower() != folded]
            self._joined.discard(folded)
        elif cmd == "away":
            message = reply.get("message")
            self.away = message if isinstance(message, str) else None
        else:
            return
        self.changed()

    def _start_keepalive(self, idle_timeout: object) -> None:
        """
        Keep an idle session from being reaped: a silent ping whenever
        nothing was sent for a third of the server's idle timeout.
        """
        if not isinstance(idle_timeout, (int, float)) or idle_timeout <= 0:
            return
        interval = max(idle_timeout / 3.0, 1.0)

        def tick() -> None:
            idle = self.clock.seconds() - self._last_sent
            if self.welcomed and not self._quit_sent and idle >= interval:
                self._send({"cmd": "ping"}, silent=True)

        self._keepalive = LoopingCall(tick)
        self._keepalive.clock = self.clock
        self._keepalive.start(interval, now=False)

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None

    def _print(self, text: str) -> None:
        self.output(self.display(text))


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="chatd-client",
        description=(
            "The console client of chatd. Type /help once it runs. In a"
            " terminal it edits lines and keeps a history; with piped input it"
            " reads commands line by line, quits at the end of the input, and"
            " exits with status 1 if it could not send them all. In a terminal"
            " it reconnects by itself when the server goes away, taking its"
            " nick and channels again."
        ),
        epilog="example: printf '/nick alice\\n/join #general\\nhello\\n'"
        " | chatd-client 127.0.0.1 8123; over TLS, with the server's own"
        " self-signed certificate: chatd-client --tls --ca cert.pem localhost"
        " 8124",
    )
    parser.add_argument(
        "host", nargs="?", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}"
    )
    parser.add_argument(
        "port",
        nargs="?",
        type=int,
        default=DEFAULT_PORT,
        help=f"default {DEFAULT_PORT}",
    )
    parser.add_argument(
        "--nick",
        metavar="NAME",
        help="take this nick on connecting (default: none; /nick NAME takes one later)",
    )
    parser.add_argument(
        "--no-format",
        action="store_true",
        help="show bold, colours and the other IRC formatting as plain text (so"
        " does a NO_COLOR environment variable, and output that is not a"
        " terminal)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS (so does /connect): the server's certificate"
        " must be signed by an authority the system trusts (or be in --ca)"
        " and be for HOST, else the client does not connect",
    )
    parser.add_argument(
        "--ca",
        metavar="FILE",
        help="with --tls: trust the certificates in this PEM file instead of"
        " the system's authorities, e.g. a test server's own self-signed"
        " certificate",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="with --tls: do not check the server's certificate at all, for"
        " test setups with a self-signed certificate (--ca checks it)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"not a port number: {args.port}")
    args.client_tls = None
    if not args.tls:
        for option, given in (("--insecure", args.insecure), ("--ca", args.ca)):
            if given:
                parser.error(f"{option} goes with --tls, which is not given")
        return args
    if args.insecure and args.ca is not None:
        parser.error("--insecure checks no certificate: it does not go with --ca")
    ca = None
    if args.ca is not None:
        try:
            ca = load_certificates(args.ca)
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else e
            parser.error(f"--ca {args.ca}: {why}")
    args.client_tls = TLS(ca=ca, insecure=args.insecure)
    return args


def main(argv: list[str] | None = None) -> None:
    """The C{chatd-client} command."""
    from chatd import console

    args = parse_args(sys.argv[1:] if argv is None else argv)
    sys.exit(
        console.run(
            args.host,
            args.port,
            formatting=not args.no_format,
            tls=args.client_tls,
            nick=args.nick,
        )
    )


if __name__ == "__main__":
    main()

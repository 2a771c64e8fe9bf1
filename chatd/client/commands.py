# -*- test-case-name: tests.test_client -*-
"""
What a person types: L{parse_input} turns one typed line into an action (a
request for the server, a connect, a quit, help, or a complaint about the
input), without talking to the server; L{HELP_LINES} lists the commands.
L{split_text} cuts a message too long for one request into several.
"""

from __future__ import annotations

import json
import re
from typing import Any, NamedTuple, Union

from chatd.client.connection import DEFAULT_PORT
from chatd.client.formatting import strip_codes
from chatd.core import AWAY_MAX, REASON_MAX, TOPIC_MAX

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

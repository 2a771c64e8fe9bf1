# -*- test-case-name: tests.test_bench -*-
"""
The soak's side of the wire: the numbered texts it sends to #soak, and how
it reads what the server writes (IRC lines, their close reasons and error
numerics, the JSON line types).

These tables are written down here, not imported from the server, on
purpose: the soak is the server's judge, and a judge that took the
server's own list would pass whatever the server sends.
"""

from __future__ import annotations

import re

PAD = "abcdefghijklmnopqrstuvwxyz"
STAMP = re.compile(r"S(\d+) (\d+) (\d+) ")


def stamped(stream: int, seq: int, length: int) -> str:
    """The text of message C{seq} of C{stream}: a function of the two."""
    return f"S{stream} {seq} {length} " + PAD[(stream + seq) % 26] * length


def fold(name: str) -> str:
    """chatd's case mapping (ASCII)."""
    return name.lower()


# -- IRC lines -------------------------------------------------------------


def parse_irc(line: str) -> tuple[dict[str, str], str, str, list[str]] | None:
    """(tags, prefix, COMMAND, params) of a server's line; None if malformed."""
    tags: dict[str, str] = {}
    rest = line
    if rest.startswith("@"):
        head, sep, rest = rest.partition(" ")
        if not sep or len(head) < 2:
            return None
        for item in head[1:].split(";"):
            key, _, value = item.partition("=")
            if not key:
                return None
            tags[key] = value
    prefix = ""
    if rest.startswith(":"):
        prefix, sep, rest = rest[1:].partition(" ")
        if not sep or not prefix:
            return None
    head, sep, trailing = rest.partition(" :")
    params = head.split(" ")
    command = params.pop(0)
    if any(not p for p in params):
        return None
    if sep:
        params.append(trailing)
    if not (command.isalpha() or (command.isdigit() and len(command) == 3)):
        return None
    return tags, prefix, command.upper(), params


#: ERROR :Closing Link: host (REASON) -> the JSON bye code it stands for
IRC_CLOSES = (
    ("Quit:", "quit"),
    ("Client Quit", "quit"),
    ("Excess Flood", "flood"),
    ("SendQ exceeded", "sendq_exceeded"),
    ("Registration timed out", "register_timeout"),
    ("Too many connections", "too_many_connections"),
    ("Too many new connections", "connecting_too_fast"),
    ("Ping timeout", "idle_timeout"),
    ("the server is full", "server_full"),
    ("the server is shutting down", "shutdown"),
)

IRC_ERRORS = {
    "401": "no_such_nick",
    "403": "no_such_channel",
    "404": "cannot_send",
    "406": "was_no_such_nick",
    "407": "too_many_targets",
    "409": "no_origin",
    "410": "bad_cap",
    "411": "no_recipient",
    "412": "no_text",
    "417": "input_too_long",
    "421": "unknown_command",
    "431": "no_nick",
    "432": "bad_nick",
    "433": "nick_in_use",
    "442": "not_in_channel",
    "482": "not_channel_operator",
    "451": "not_registered",
    "461": "need_more_params",
    "462": "already_registered",
    "472": "unknown_mode",
    "501": "unknown_umode",
    "502": "users_dont_match",
}


def irc_close_code(text: str) -> tuple[str, str]:
    """(code, reason) of an IRC C{ERROR} line's text."""
    start, end = text.find("("), text.rfind(")")
    reason = text[start + 1 : end] if 0 <= start < end else text
    for needle, code in IRC_CLOSES:
        if reason.startswith(needle):
            return code, reason
    return "error", reason


JSON_TYPES = frozenset(
    (
        "welcome",
        "ok",
        "error",
        "message",
        "join",
        "leave",
        "topic",
        "nick",
        "quit",
        "away",
        "bye",
    )
)


def command_of(raw: bytes, proto: str) -> str:
    """The command of a malformed line, for grouping (IRC), or '-'."""
    if proto != "irc":
        return "-"
    words = raw.split(b" ")
    while words and words[0][:1] in (b"@", b":"):
        words.pop(0)
    word = words[0] if words else b""
    return word.decode("ascii", "replace") if word.isalnum() else "?"

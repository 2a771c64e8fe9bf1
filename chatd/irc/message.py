# -*- test-case-name: tests.test_irc -*-
"""
IRC on the wire: parsing and building lines with IRCv3 message tags,
times, masks, and text cut to fit a line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from chatd.net.times import format_time

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from chatd.core import Change, Origin, User


#: Bytes of a line without its tags, CR LF included (RFC 1459).
LINE_MAX = 512
#: Bytes of a line's tag section, "@" and the space after it included, as
#: a server may send it, and as a client may.
TAGS_MAX = 8191
CLIENT_TAGS_MAX = 4096
LABEL_MAX = 64


class Line(NamedTuple):
    """One parsed IRC line."""

    tags: dict[str, str]
    prefix: str
    command: str
    params: list[str]


class BadLine(ValueError):
    """A line that is not IRC at all (no command)."""


_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_TAG_ESCAPES = str.maketrans(
    {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
)


def unescape_tag(value: str) -> str:
    """A tag value as sent, with IRCv3's escapes undone."""
    if "\\" not in value:
        return value
    out = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_TAG_UNESCAPES.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def format_tags(tags: Mapping[str, str]) -> str:
    """C{key=value;key2} (a key with an empty value has no C{=})."""
    return ";".join(
        f"{key}={escape_tag(value)}" if value else key for key, value in tags.items()
    )


def parse(text: str) -> Line:
    """
    Parse one line (without its line ending): C{@tags :prefix COMMAND
    params :trailing}.  Only spaces separate parameters.
    """
    tags: dict[str, str] = {}
    rest = text.lstrip(" ")
    if rest.startswith("@"):
        raw, _, rest = rest[1:].partition(" ")
        for item in raw.split(";"):
            if item:
                key, _, value = item.partition("=")
                tags[key] = unescape_tag(value)
        rest = rest.lstrip(" ")
    prefix = ""
    if rest.startswith(":"):
        prefix, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    trailing = None
    if " :" in rest:
        rest, trailing = rest.split(" :", 1)
    elif rest.startswith(":"):
        rest, trailing = "", rest[1:]
    params = [p for p in rest.split(" ") if p]
    if not params:
        raise BadLine(text)
    command = params.pop(0).upper()
    if trailing is not None:
        params.append(trailing)
    return Line(tags, prefix, command, params)


def build(command: str, *params: str, prefix: str = "", text: bool = False) -> str:
    """
    One line without tags or line ending; the last parameter is written as
    a trailing one (after C{:}) when it must be, or always if it is C{text}
    (a message, topic or reason, which clients expect there).
    """
    parts = [f":{prefix}", command] if prefix else [command]
    if params:
        *middle, last = params
        parts.extend(middle)
        if text or not last or " " in last or last.startswith(":"):
            last = ":" + last
        parts.append(last)
    return " ".join(parts)


def irc_host(host: str) -> str:
    """A host usable in IRC: an IPv6 address must not begin with a colon."""
    return "0" + host if host.startswith(":") else host


def mask(nick: str, user: User | Origin) -> str:
    return f"{nick}!{user.username or 'unknown'}@{irc_host(user.host)}"


def mode_params(changes: Iterable[Change]) -> list[str]:
    """
    C{changes} as a C{MODE} line's parameters: the letters with a sign
    before each run (C{+o-v}), then the parameters in order.
    """
    letters = []
    params = []
    sign = ""
    for change in changes:
        want = "+" if change.adding else "-"
        if want != sign:
            letters.append(want)
            sign = want
        letters.append(change.mode)
        if change.param is not None:
            params.append(change.param)
    return ["".join(letters), *params]


def split_text(text: str, room: int) -> list[str]:
    """
    C{text} in pieces of at most C{room} UTF-8 bytes, cut between
    characters, preferably at a space.
    """
    data = text.encode("utf-8")
    if len(data) <= room:
        return [text]
    pieces = []
    while len(data) > room:
        cut = room
        while cut > 0 and (data[cut] & 0xC0) == 0x80:
            cut -= 1  # not inside a character
        space = data.rfind(b" ", 0, cut)
        if space > room // 2:
            cut = space + 1
        pieces.append(data[:cut].decode("utf-8"))
        data = data[cut:]
    if data:
        pieces.append(data.decode("utf-8"))
    return pieces


def ctcp_action(text: str) -> str | None:
    """The text of a CTCP ACTION (C{\\x01ACTION waves\\x01}), or None."""
    if text.startswith("\x01ACTION") and text[7:8] in (" ", "\x01", ""):
        return text[8:].rstrip("\x01") if len(text) > 8 else ""
    return None


__all__ = [
    "CLIENT_TAGS_MAX",
    "LABEL_MAX",
    "LINE_MAX",
    "TAGS_MAX",
    "BadLine",
    "Line",
    "build",
    "ctcp_action",
    "escape_tag",
    "format_tags",
    "format_time",
    "irc_host",
    "mask",
    "parse",
    "split_text",
    "unescape_tag",
]

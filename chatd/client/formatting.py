# -*- test-case-name: tests.test_client -*-
"""
Text fit for a terminal: L{printable} makes control characters visible, and
the IRC formatting codes (bold, colours...) that message text, topics and
reasons may carry are shown with L{to_ansi} on a terminal or dropped with
L{strip_formatting}; L{display_for} chooses between the two.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Callable, NamedTuple

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

FORMAT_CODE = re.compile(
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
    return FORMAT_CODE.sub("", text)


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
    for code in FORMAT_CODE.finditer(text):
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


def display_for(
    terminal: bool, formatting: bool, environ: Mapping[str, str]
) -> Callable[[str], str]:
    """
    How to show lines: L{to_ansi} when output is a C{terminal}, unless
    C{formatting} is off (C{--no-format}) or C{NO_COLOR} is set to anything
    but the empty string (https://no-color.org); else L{strip_formatting}.
    """
    if terminal and formatting and not environ.get("NO_COLOR"):
        return to_ansi
    return strip_formatting

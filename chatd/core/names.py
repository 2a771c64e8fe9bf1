# -*- test-case-name: tests.test_names -*-
"""
Names and text: what a valid nick, channel name, message, topic or reason
is, what makes two channel names the same, and which characters a name may
not hide (the rules against names that look like other names).

A channel name may not carry a character that shows as nothing or changes
the direction of the text around it (see L{invisible}): C{#gen\\u00aderal}
with a soft hyphen would otherwise list as a second C{#general}.  And two
names are the same channel when their Unicode confusable skeletons (UTS #39,
U{https://www.unicode.org/reports/tr39/#Confusable_Detection}) are equal
after IRC's ASCII case folding, so C{#gen\\u0435ral} with a Cyrillic e is
C{#general}, as ergo does for nicks.

Like the core, this module knows nothing about wires or reactors.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from pathlib import Path

from chatd.core.errors import ChatError

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(name: str) -> str:
    """
    The key a nick is compared by: ASCII letters folded to lower case and
    nothing else (IRC's C{CASEMAPPING=ascii}).
    """
    if name.isascii():
        return name.lower()
    return name.translate(_ASCII_LOWER)


#: Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties.txt, 15.0):
#: characters a renderer shows as nothing when it does not support them.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)
#: Blank characters of no category below: the braille pattern blank.
_BLANK = frozenset("\u2800")
#: Format (Cf), unassigned (Cn), private use (Co), surrogates (Cs),
#: controls (Cc), and separators (Zs, Zl, Zp): invisible, unknown or
#: direction-changing.
_HIDDEN_CATEGORIES = frozenset({"Cf", "Cn", "Co", "Cs", "Cc", "Zs", "Zl", "Zp"})


def default_ignorable(char: str) -> bool:
    """Whether C{char} has Unicode's Default_Ignorable_Code_Point property."""
    c = ord(char)
    return any(low <= c <= high for low, high in _DEFAULT_IGNORABLE)


def invisible(char: str) -> bool:
    """
    Whether a name may not carry C{char}: a default-ignorable code point
    (soft hyphen, zero-width space and joiners, variation selectors, tags),
    a bidi control (embeddings, overrides, isolates, marks), any other
    format character, a control, a separator, a blank (U+2800), or a code
    point that is unassigned or for private use, whose look nobody knows.
    """
    return (
        unicodedata.category(char) in _HIDDEN_CATEGORIES
        or default_ignorable(char)
        or char in _BLANK
    )


@lru_cache(maxsize=1024)
def first_invisible(name: str) -> str | None:
    """The first character of C{name} that L{invisible} refuses, or None."""
    for char in name:
        if invisible(char):
            return char
    return None


_PROTOTYPES: dict[str, str] | None = None


def _prototypes() -> dict[str, str]:
    """Each confusable character's prototype, from chatd/core/confusables.tsv."""
    global _PROTOTYPES
    if _PROTOTYPES is None:
        table: dict[str, str] = {}
        path = Path(__file__).with_name("confusables.tsv")
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.startswith("#"):
                    continue
                source, target = line.rstrip("\n").split("\t")
                table[chr(int(source, 16))] = "".join(
                    chr(int(c, 16)) for c in target.split()
                )
        _PROTOTYPES = table
    return _PROTOTYPES


def skeleton(text: str) -> str:
    """
    UTS #39's C{skeleton(text)}: NFD, default-ignorable code points removed,
    each character replaced by its prototype, NFD again.  Two strings that
    look alike have the same skeleton (C{"\\u0440\\u0430ypal"} and C{"paypal"}).
    """
    prototypes = _prototypes()
    text = unicodedata.normalize("NFD", text)
    mapped = "".join(
        prototypes.get(char, char) for char in text if not default_ignorable(char)
    )
    return unicodedata.normalize("NFD", mapped)


@lru_cache(maxsize=4096)
def channel_key(name: str) -> str:
    """
    The key a channel name is compared by: folded to ASCII lower case, then
    its confusable skeleton, folded again (a skeleton may have capitals).
    C{#General}, C{#gen\\u0435ral} (a Cyrillic e) and C{#GEN\\u0415RAL} (a
    Cyrillic capital E) have one key, so they are one channel.
    """
    return fold(skeleton(fold(name)))


__all__ = [
    "channel_key",
    "default_ignorable",
    "first_invisible",
    "fold",
    "invisible",
    "skeleton",
]


# -- nicks, channel names and text ------------------------------------------

NICK_MAX = 30
CHANNEL_MAX = 50  # including the leading '#'
TEXT_MAX = 4000
TOPIC_MAX = 390
REASON_MAX = 390
AWAY_MAX = 390
#: How many departed nicks the server remembers (IRC's WHOWAS).
HISTORY_MAX = 1000
CTCP_MAX = 400

#: IRC's formatting codes, the only control characters text may carry
#: besides tab: bold, colour, reset, monospace, reverse, italic,
#: strikethrough and underline.
FORMATTING = "\x02\x03\x0f\x11\x16\x1d\x1e\x1f"

_NICK_CHARS = r"A-Za-z\[\]\\`_^{|}"
_NICK = re.compile(rf"[{_NICK_CHARS}][{_NICK_CHARS}0-9-]{{0,{NICK_MAX - 1}}}\Z")
# Unicode category Cc (C0 controls, DEL, C1 controls) and lone surrogates.
_CC = "\x00-\x1f\x7f-\x9f"
_SURROGATES = "\ud800-\udfff"
# Every code point Python calls whitespace; all of them lie below U+3001.
_SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_CHANNEL = re.compile(
    f"#[^,{re.escape(_SPACES)}{_CC}{_SURROGATES}]{{1,{CHANNEL_MAX - 1}}}\\Z"
)
# Control characters that text may not carry: all but tab and formatting.
_BAD_CONTROLS = "".join(
    chr(c)
    for c in [*range(0x20), *range(0x7F, 0xA0)]
    if chr(c) != "\t" and chr(c) not in FORMATTING
)
_BAD_TEXT = re.compile(f"[{re.escape(_BAD_CONTROLS)}{_SURROGATES}]")
# Topics, reasons and away messages: the same, and no tab either.
_BAD_LINE = re.compile(f"[\t{re.escape(_BAD_CONTROLS)}{_SURROGATES}]")
_BAD_CTCP = re.compile(f"[\x00\x01\r\n{_SURROGATES}]")


def is_valid_nick(nick: str) -> bool:
    """
    1 to 30 of ASCII letters, digits and C{-_[]{}|^`\\}, not starting with a
    digit or C{-}.
    """
    return _NICK.match(nick) is not None


def is_valid_channel(name: str) -> bool:
    """
    C{#} and 1 to 49 further code points, none of them whitespace, a comma,
    a control character, a lone surrogate, or a character that shows as
    nothing or turns the text's direction (L{invisible}).
    """
    return _CHANNEL.match(name) is not None and (
        name.isascii() or first_invisible(name) is None
    )


def check_nick(nick: str) -> None:
    if not is_valid_nick(nick):
        raise ChatError(
            "bad_nick",
            f"{nick!r} is not a valid nick: 1 to {NICK_MAX} ASCII letters, digits "
            "or -_[]{}|^`\\, not starting with a digit or -",
        )


def check_channel(name: str) -> None:
    if _CHANNEL.match(name) is None:
        raise ChatError(
            "bad_channel",
            f"{name!r} is not a valid channel name: # and 1 to {CHANNEL_MAX - 1} "
            "characters, no whitespace, commas or control characters",
        )
    hidden = None if name.isascii() else first_invisible(name)
    if hidden is not None:
        raise ChatError(
            "bad_channel",
            f"{name!r} is not a valid channel name: it contains U+{ord(hidden):04X}"
            f" ({unicodedata.name(hidden, 'unassigned')}), which shows as nothing"
            " or changes the direction of the text",
        )


def check_text(text: str, field: str = "text") -> None:
    """
    Message text: 1 to 4000 code points, no control character but tab and
    IRC's formatting codes (L{FORMATTING}).
    """
    if not text:
        raise ChatError("bad_args", f"field {field!r} must not be empty")
    if len(text) > TEXT_MAX:
        raise ChatError(
            "bad_args", f"field {field!r} is longer than {TEXT_MAX} characters"
        )
    if _BAD_TEXT.search(text):
        raise ChatError(
            "bad_args",
            f"field {field!r} contains a control character other than tab and "
            "formatting codes, or an invalid code point",
        )


def check_line(value: str, field: str, limit: int) -> None:
    """
    A topic, reason or away message: 0 to C{limit} code points, no control
    characters but IRC's formatting codes.
    """
    if len(value) > limit:
        raise ChatError(
            "bad_args", f"field {field!r} is longer than {limit} characters"
        )
    if _BAD_LINE.search(value):
        raise ChatError(
            "bad_args",
            f"field {field!r} contains a control character other than "
            "formatting codes, or an invalid code point",
        )


def clean_line(value: str, limit: int) -> str:
    """
    C{value} made a valid reason or real name: the characters L{check_line}
    refuses removed, and cut to C{limit}.  For text whose sender is leaving
    anyway, where refusing would lose more than cleaning.
    """
    return _BAD_LINE.sub("", value)[:limit]

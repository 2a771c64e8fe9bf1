# -*- test-case-name: tests.test_names -*-
"""
What makes two channel names the same, and which characters a name may not
hide: the rules against names that look like other names.

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

import unicodedata
from functools import lru_cache
from pathlib import Path

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
    """Each confusable character's prototype, from chatd/confusables.tsv."""
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

# -*- test-case-name: tests.core.test_msgids -*-
"""
Message ids (IRCv3 C{msgid}) that are unique across restarts and across
nodes, and sort by time.

An id is 28 characters of C{0-9A-Z}: the millisecond it was made in
Crockford's base 32 (10 characters, as a ULID's), 40 random bits chosen when
the L{MessageIds} is made (8 characters: which run of which node), and a
counter (10 hexadecimal digits).  Ids from one run sort in the order they
were made, even if the clock steps back; ids from different runs sort by
their millisecond.  Two runs share an id only if they draw the same 40
random bits and make an id in the same millisecond with the same counter.
"""

from __future__ import annotations

import os

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

#: How long an id is.
LENGTH = 28


def base32(number: int, width: int) -> str:
    """C{number} in Crockford's base 32, C{width} characters, zero-padded."""
    digits = []
    for _ in range(width):
        number, digit = divmod(number, 32)
        digits.append(CROCKFORD[digit])
    if number:
        raise ValueError(f"does not fit in {width} base-32 digits")
    return "".join(reversed(digits))


def millisecond_of(msgid: str) -> int | None:
    """The millisecond an id of this module was made in, or None if it is not one."""
    if len(msgid) != LENGTH:
        return None
    ms = 0
    for char in msgid[:10]:
        digit = CROCKFORD.find(char)
        if digit < 0:
            return None
        ms = ms * 32 + digit
    return ms


class MessageIds:
    """A source of ids for one run of one node."""

    def __init__(self, node: bytes | None = None) -> None:
        node = os.urandom(5) if node is None else node
        self._node = base32(int.from_bytes(node[:5], "big"), 8)
        self._count = 0
        self._ms = -1
        self._prefix = ""

    def __call__(self, now: float) -> str:
        """A new id, made at C{now} (seconds since the epoch)."""
        ms = int(now * 1000)
        if ms > self._ms:
            # Once a millisecond at most; a clock that steps back keeps the
            # latest millisecond, so that the ids still sort as made.
            self._ms = ms
            self._prefix = base32(max(ms, 0), 10) + self._node
        self._count += 1
        return f"{self._prefix}{self._count:010X}"

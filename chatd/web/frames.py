# -*- test-case-name: tests.web.test_frames -*-
"""
WebSocket frames as a server sends them (RFC 6455 section 5.2): final,
unmasked, uncompressed, so the same bytes may go to every client; and the
split of a session's lines into one message each.
"""

from __future__ import annotations

import struct

#: The opcodes of a text and a binary message.
TEXT = 0x1
BINARY = 0x2

_SHORT = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def frame(payload: bytes, opcode: int = TEXT) -> bytes:
    """One whole message of C{payload}: a final frame, not masked."""
    first = 0x80 | opcode
    size = len(payload)
    if size < 126:
        return bytes((first, size)) + payload
    if size < 1 << 16:
        return _SHORT.pack(first, 126, size) + payload
    return _LONG.pack(first, 127, size) + payload


def frame_lines(data: bytes, separator: bytes, opcode: int) -> tuple[bytes, bytes]:
    """
    Each complete line of C{data} (ended by C{separator}, which is left
    out) as a message of its own; and what follows the last separator,
    an incomplete line to wait for its end.
    """
    lines = data.split(separator)
    rest = lines.pop()
    if len(lines) == 1:
        return frame(lines[0], opcode), rest
    return b"".join([frame(line, opcode) for line in lines]), rest


__all__ = ["BINARY", "TEXT", "frame", "frame_lines"]

"""WebSocket frames as chatd sends them, read back by autobahn's parser's rules."""

from __future__ import annotations

import struct

from twisted.trial.unittest import SynchronousTestCase

from chatd.web.frames import BINARY, TEXT, frame, frame_lines


def unframe(data: bytes) -> list[tuple[int, bytes]]:
    """(opcode, payload) of each frame in C{data}: final and unmasked, or fail."""
    out = []
    while data:
        first, second = data[0], data[1]
        assert first & 0x80, "not final"
        assert not second & 0x80, "masked"
        size, at = second & 0x7F, 2
        if size == 126:
            (size,), at = struct.unpack("!H", data[2:4]), 4
        elif size == 127:
            (size,), at = struct.unpack("!Q", data[2:10]), 10
        out.append((first & 0x0F, data[at : at + size]))
        data = data[at + size :]
    return out


class FrameTests(SynchronousTestCase):
    def test_lengths(self) -> None:
        """Each length form (7-bit, 16-bit, 64-bit) at its edges."""
        for size in (0, 1, 125, 126, 65535, 65536, 70000):
            payload = bytes(size)
            self.assertEqual(unframe(frame(payload)), [(TEXT, payload)])
        self.assertEqual(len(frame(bytes(125))), 127)
        self.assertEqual(len(frame(bytes(126))), 130)
        self.assertEqual(len(frame(bytes(65536))), 65546)

    def test_binary(self) -> None:
        self.assertEqual(unframe(frame(b"x", BINARY)), [(BINARY, b"x")])

    def test_lines(self) -> None:
        """Each line a message without its ending; a partial line kept back."""
        framed, rest = frame_lines(b"A\r\nBB\r\nC", b"\r\n", TEXT)
        self.assertEqual(unframe(framed), [(TEXT, b"A"), (TEXT, b"BB")])
        self.assertEqual(rest, b"C")
        framed, rest = frame_lines(b'{"a":1}\n', b"\n", TEXT)
        self.assertEqual(unframe(framed), [(TEXT, b'{"a":1}')])
        self.assertEqual(rest, b"")
        self.assertEqual(frame_lines(b"", b"\n", TEXT), (b"", b""))

# -*- test-case-name: tests.test_bench_ws -*-
"""
The client side of RFC 6455, as little of it as the load generator needs.

No Twisted and no WebSocket library here: the generator is a plain
C{epoll} loop and must cost far less than the server it measures.  What
there is:

  - the opening handshake: an HTTP/1.1 upgrade request with a random
    C{Sec-WebSocket-Key}, and a check of the server's C{101} answer
    (C{Sec-WebSocket-Accept}, the subprotocol);
  - client frames, masked as the RFC requires (section 5.3: a fresh,
    unpredictable key per frame), the keys drawn from C{os.urandom} a
    thousand at a time;
  - an incremental reader of server frames (L{FrameReader}) for the
    probes, which parse every message, and for every client while it
    registers;
  - for the counters, which must stay as cheap as over TCP, a count of the
    delivery marker in the raw byte stream (L{RawCounter}), which is exact
    for the reasons given there, and a watch for the few control messages
    a counter must answer (L{RawCounter.replies}).
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from dataclasses import dataclass

#: RFC 6455 section 1.3
GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

CONTINUATION = 0x0
TEXT = 0x1
BINARY = 0x2
CLOSE = 0x8
PING = 0x9
PONG = 0xA

#: Longest control frame: a 125-byte payload after a two-byte header.
CONTROL_MAX = 127
#: What a counter keeps of its stream between reads: enough for a whole
#: control frame and for any marker that straddles two reads (also written
#: out in L{chatd.bench.load.Load._read_ws}).
CARRY = 256
#: The longest handshake answer the generator waits for.
HANDSHAKE_MAX = 16384


class WebSocketError(Exception):
    """The server refused the upgrade or broke the protocol."""


def new_key() -> bytes:
    """A C{Sec-WebSocket-Key}: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16))


def accept_for(key: bytes) -> bytes:
    """The C{Sec-WebSocket-Accept} a server must answer C{key} with."""
    return base64.b64encode(hashlib.sha1(key + GUID).digest())


def request(
    host: str, port: int, path: str, key: bytes, subprotocol: str | None
) -> bytes:
    """The opening handshake's HTTP request (RFC 6455 section 4.1)."""
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {hostport}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key.decode()}",
        "Sec-WebSocket-Version: 13",
    ]
    if subprotocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {subprotocol}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def handshake_end(buf: bytes, key: bytes, subprotocol: str | None) -> int | None:
    """
    Where the server's answer to the handshake ends in C{buf} (frames may
    follow), or None while it is incomplete; L{WebSocketError} if the
    server refused the upgrade or answered it wrongly.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > HANDSHAKE_MAX:
            raise WebSocketError(f"no end to the handshake answer: {buf[:200]!r}")
        return None
    head = buf[:end].decode("latin-1").split("\r\n")
    status = head[0].split(" ", 2)
    if len(status) < 2 or not status[0].startswith("HTTP/1.") or status[1] != "101":
        body = buf[end + 4 : end + 204].decode("latin-1", "replace").strip()
        raise WebSocketError(
            f"the server refused the upgrade: {head[0]!r}"
            + (f" ({body!r})" if body else "")
        )
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        raise WebSocketError(f"101 without Upgrade: websocket: {head!r}")
    if "upgrade" not in headers.get("connection", "").lower():
        raise WebSocketError(f"101 without Connection: Upgrade: {head!r}")
    if headers.get("sec-websocket-accept", "").encode() != accept_for(key):
        raise WebSocketError(
            f"wrong Sec-WebSocket-Accept {headers.get('sec-websocket-accept')!r}"
        )
    chosen = headers.get("sec-websocket-protocol")
    if chosen != subprotocol:
        raise WebSocketError(
            f"asked for subprotocol {subprotocol!r}, the server chose {chosen!r}"
        )
    if "sec-websocket-extensions" in headers:
        # none was offered, so none may be used (RFC 6455 section 9.1)
        raise WebSocketError(
            f"extensions never offered: {headers['sec-websocket-extensions']!r}"
        )
    return end + 4


class Masker:
    """
    Client frames, each with its own masking key.  The keys come from
    C{os.urandom} (the RFC asks for a strong source of entropy), drawn
    C{batch} at a time so that a frame costs a slice, not a system call.
    """

    def __init__(self, batch: int = 1024) -> None:
        self._size = 4 * batch
        self._pool = b""
        self._at = 0

    def key(self) -> bytes:
        at = self._at
        if at + 4 > len(self._pool):
            self._pool = os.urandom(self._size)
            at = 0
        self._at = at + 4
        return self._pool[at : at + 4]

    def frame(self, payload: bytes, opcode: int = TEXT) -> bytes:
        """One final, masked frame of C{payload}."""
        n = len(payload)
        if n < 126:
            head = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
        key = self.key()
        return head + key + mask(payload, key)

    def lines(self, data: bytes) -> bytes:
        """
        A text frame per line of C{data} (lines end in LF or CRLF; the line
        ending is not sent: one IRC line, or one JSON object, a message).
        """
        frame = self.frame
        return b"".join(
            frame(line[:-1] if line.endswith(b"\r") else line)
            for line in data.split(b"\n")
            if line and line != b"\r"
        )


def mask(payload: bytes, key: bytes) -> bytes:
    """C{payload} XOR the repeated 4-byte C{key} (masking and unmasking)."""
    n = len(payload)
    if not n:
        return b""
    keys = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(keys, "big")).to_bytes(
        n, "big"
    )


@dataclass
class Closed:
    """A close frame from the server."""

    code: int | None
    reason: str

    def __str__(self) -> str:
        if self.code is None:
            return "closed without a code"
        return f"closed with {self.code}" + (f" {self.reason!r}" if self.reason else "")


class FrameReader:
    """
    Server frames parsed as they arrive, however the reads cut them.

    L{feed} returns the data messages completed so far (fragmented ones
    reassembled) and keeps what is incomplete.  It answers pings (in
    L{replies}, masked, to be sent), keeps a close frame in L{closed}, and
    counts in L{unusual} every frame that breaks what L{RawCounter}'s
    count relies on: a fragment, a masked or reserved-bit frame, an unknown
    opcode, or a message that begins with one of C{bad_starts}.
    """

    def __init__(self, masker: Masker, bad_starts: tuple[bytes, ...] = ()) -> None:
        self.masker = masker
        self.bad_starts = bad_starts
        self.buf = b""
        self.replies = b""
        self.closed: Closed | None = None
        self.unusual = 0
        #: what went wrong first, for the report
        self.first_unusual = ""
        self._parts: list[bytes] = []
        self._opcode = 0

    @property
    def idle(self) -> bool:
        """At a frame boundary with no message half-read."""
        return not self.buf and not self._parts

    def _odd(self, why: str) -> None:
        self.unusual += 1
        if not self.first_unusual:
            self.first_unusual = why

    def feed(self, data: bytes) -> list[bytes]:
        buf = self.buf + data if self.buf else data
        out: list[bytes] = []
        at = 0
        n = len(buf)
        while n - at >= 2:
            b0 = buf[at]
            b1 = buf[at + 1]
            length = b1 & 0x7F
            start = at + 2
            if length == 126:
                start = at + 4
                if start > n:
                    break
                length = int.from_bytes(buf[at + 2 : start], "big")
            elif length == 127:
                start = at + 10
                if start > n:
                    break
                length = int.from_bytes(buf[at + 2 : start], "big")
            key = b""
            if b1 & 0x80:
                key = buf[start : start + 4]
                start += 4
            end = start + length
            if end > n:
                break
            payload = buf[start:end]
            at = end
            if key:
                self._odd("a masked frame from the server")
                payload = mask(payload, key)
            if b0 & 0x70:
                self._odd(f"reserved bits set in {b0:#04x}")
            self._frame(b0 & 0x80, b0 & 0x0F, payload, out)
        self.buf = buf[at:]
        return out

    def _frame(self, fin: int, opcode: int, payload: bytes, out: list[bytes]) -> None:
        if opcode >= 0x8:
            if not fin:
                self._odd("a fragmented control frame")
            if opcode == PING:
                self.replies += self.masker.frame(payload, PONG)
            elif opcode == CLOSE:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else None
                reason = payload[2:].decode("utf-8", "replace")
                self.closed = Closed(code, reason)
            elif opcode != PONG:
                self._odd(f"unknown control opcode {opcode:#x}")
            return
        if opcode == CONTINUATION:
            if not self._parts:
                self._odd("a continuation with no message to continue")
                return
            self._parts.append(payload)
        elif opcode in (TEXT, BINARY):
            if self._parts:
                self._odd("a new message inside a fragmented one")
            self._parts = [payload]
            self._opcode = opcode
        else:
            self._odd(f"unknown data opcode {opcode:#x}")
            return
        if not fin:
            self._odd("a fragmented message")
            return
        message = b"".join(self._parts) if len(self._parts) > 1 else self._parts[0]
        self._parts = []
        if self.bad_starts and message.startswith(self.bad_starts):
            self._odd(f"a message beginning like the marker: {message[:40]!r}")
        out.append(message)


def bad_starts(marker: bytes) -> tuple[bytes, ...]:
    """
    The proper suffixes of C{marker}: a server message beginning with one
    of them could, with the frame header before it, look like a marker to
    L{RawCounter}.
    """
    return tuple(marker[i:] for i in range(1, len(marker)))


#: Control frames a counter must answer: a WebSocket ping, or (IRC) a PING
#: line, which chatd sends with no prefix; group 1 is the payload's length.
_PING_FRAME = re.compile(rb"\x89([\x00-\x7d])")
_IRC_PING = re.compile(rb"\x81([\x06-\x7d])PING ")


class RawCounter:
    """
    The counters' cheap count of deliveries over WebSocket: the delivery
    marker counted in the raw byte stream, frame headers and all, with one
    C{bytes.count} per read, as over TCP.

    Why that count is exact (each occurrence of the marker in the stream is
    one in a message, and the reverse): server frames are not masked, so a
    message's bytes are in the stream as they are.  Every frame begins with
    a byte with its top bit set (FIN: the server sends each message in one
    frame), and the markers are ASCII, so no occurrence can contain a
    frame's first byte: it lies inside one frame, in its payload, or
    begins in its length bytes and runs into its payload.  The second
    would need a payload beginning with a proper suffix of the marker
    (L{bad_starts}); an IRC server's message begins with C{:} or C{@}, or
    with a command (C{PING}, C{ERROR}), a JSON one with C{{}, so none
    does.  The probes, which parse every frame (L{FrameReader}), check
    these premises on what they receive; and an occurrence split by a read
    is counted once, on the read that completes it (L{count}).

    A counter must also stay alive: it answers WebSocket pings and IRC
    PINGs, found by a search of the raw stream (L{replies}) that the
    caller runs only when a read may hold one (L{may_ping}).
    """

    __slots__ = ("irc", "masker")

    def __init__(self, masker: Masker, irc: bool) -> None:
        self.masker = masker
        self.irc = irc

    @staticmethod
    def count(carry: bytes, data: bytes, marker: bytes) -> int:
        """
        Occurrences of C{marker} that end in C{data}, C{carry} being what
        came before it (at least C{len(marker) - 1} bytes of it, if there
        were that many): those inside C{data}, and those that straddle the
        two, which need a byte of each, so nothing is counted twice.
        """
        k = len(marker) - 1
        return data.count(marker) + (carry[-k:] + data[:k]).count(marker)

    def may_ping(self, carry: bytes, data: bytes, held: bool) -> bool:
        """
        Whether C{data} may end a ping: a ping frame's first byte, or (IRC)
        C{PING }, is in it or straddles C{carry} and it, or a ping was
        C{held} (begun but not ended) by the read before.
        """
        return (
            held
            or b"\x89" in data
            or (self.irc and (b"PING " in data or b"PING " in carry[-4:] + data[:4]))
        )

    def replies(self, carry: bytes, data: bytes) -> tuple[bytes, bool]:
        """
        Masked answers to the pings that end in C{data} (C{carry}: the last
        L{CARRY} bytes before it), each answered on the one read that ends
        it; and whether a ping begun in C{data} is still to end (to be
        passed to L{may_ping} with the next read).  A stray match (a ping
        byte inside a longer frame's length or text) costs at most an
        unsolicited pong, which the RFC allows, or an extra PONG line,
        which any server takes.
        """
        window = carry + data
        old = len(carry)
        size = len(window)
        out = []
        # a ping's first byte, its length still to come
        held = window.endswith(b"\x89")
        patterns = (_PING_FRAME, _IRC_PING) if self.irc else (_PING_FRAME,)
        for pattern in patterns:
            for m in pattern.finditer(window):
                start = m.start() + 2
                end = start + m.group(1)[0]
                if end > size:
                    held = True
                elif end > old:
                    payload = window[start:end]
                    if pattern is _PING_FRAME:
                        out.append(self.masker.frame(payload, PONG))
                    else:
                        out.append(self.masker.frame(b"PONG" + payload[4:]))
        return b"".join(out), held


def carry_after(carry: bytes, data: bytes) -> bytes:
    """The last L{CARRY} bytes of C{carry} followed by C{data}."""
    if len(data) >= CARRY:
        return data[-CARRY:]
    return (carry + data)[-CARRY:]

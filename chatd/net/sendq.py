# -*- test-case-name: tests.test_sendq,tests.test_abuse -*-
"""
What waits to be sent to one connection (its SendQ), counted in both places
it can wait: Twisted's buffer in this process, and the kernel's send buffer
of the connection's socket.

Left alone, Linux grows a TCP socket's send buffer up to C{net.ipv4.tcp_wmem}'s
maximum (4 MiB by default) while the peer does not read, and only then does
Twisted's buffer start to fill; a cap that counts Twisted's buffer alone lets
every client that stops reading pin megabytes of kernel memory first.  So a
connection under a SendQ cap gets (L{KernelQueue.attach}):

  - a send buffer capped to about a quarter of the cap (C{SO_SNDBUF}, which
    also switches the kernel's autotuning off for it), so the kernel never
    holds more than half the cap for it, and Twisted says it is backed up
    before the two together can pass the cap;
  - a count of what the kernel still holds for it (C{SIOCOUTQ}), asked once
    each time it backs up (Twisted's buffer fills only once the kernel's is
    full, so that figure holds while it stays backed up) and added to
    Twisted's buffer on each checked write: a connection that keeps up
    costs nothing per write, and one that is behind no system call.

See docs/security.md ("Slow readers") for why this split.
"""

from __future__ import annotations

import socket
import struct
import sys
from typing import Any

try:
    import fcntl
    import termios
except ImportError:  # pragma: no cover - not on Windows
    fcntl = termios = None  # type: ignore[assignment]

#: Linux's C{SIOCOUTQ} (the same number as C{TIOCOUTQ}): the bytes a socket's
#: send queue holds, sent but not acknowledged and not yet sent (for a UNIX
#: socket, the memory its unread writes take, overhead included).  Elsewhere
#: the kernel's part is bounded by the capped send buffer only.
SIOCOUTQ: int | None = (
    getattr(termios, "TIOCOUTQ", None) if sys.platform.startswith("linux") else None
)
_INT = struct.Struct("i")
_ZERO = bytes(_INT.size)

#: Twisted's own threshold for saying a transport's buffer is full.
PAUSE_AT = 1 << 16
#: Neither the pause threshold nor the read size goes below this for tiny caps.
SMALLEST = 4096


def unsent(transport: object) -> int:
    """
    How many bytes written to C{transport} are still in user space, waiting
    for the kernel to take them: a TCP transport's buffer, or for TLS the
    buffer of the TCP transport beneath it plus what TLS holds back until
    its handshake is done.
    """
    total = 0
    for _ in range(4):
        data = getattr(transport, "dataBuffer", None)
        if data is not None:
            offset = getattr(transport, "offset", 0)
            temp = getattr(transport, "_tempDataLen", 0)
            return total + len(data) - offset + temp
        held = getattr(transport, "_appSendBuffer", None)
        if held:
            total += sum(len(chunk) for chunk in held)
        transport = getattr(transport, "transport", None)
        if transport is None:
            break
    return total


def socket_transport(transport: object) -> Any:
    """
    The transport that owns the socket beneath C{transport} (itself for TCP
    and UNIX, the TCP transport beneath TLS or a WebSocket's framing), or
    None (a test's StringTransport).
    """
    for _ in range(4):
        if isinstance(getattr(transport, "socket", None), socket.socket):
            return transport
        transport = getattr(transport, "transport", None)
        if transport is None:
            break
    return None


def kernel_unsent(sock: socket.socket) -> int:
    """What the kernel still holds to send on C{sock} (0 if it cannot say)."""
    if SIOCOUTQ is None:
        return 0
    try:
        held: int = _INT.unpack(fcntl.ioctl(sock.fileno(), SIOCOUTQ, _ZERO))[0]
    except (OSError, ValueError):  # closed, or not a socket the ioctl knows
        return 0
    return held


class KernelQueue:
    """
    The kernel's part of one connection's SendQ: its socket, and how much
    its capped send buffer can hold at most (L{bound}).
    """

    __slots__ = ("bound", "sock")

    def __init__(self, sock: socket.socket, bound: int) -> None:
        self.sock = sock
        #: the most the kernel can hold for the socket: twice what
        #: C{getsockopt(SO_SNDBUF)} reports (the kernel lets its queue pass
        #: the buffer's size by one write, and on UNIX sockets counts overhead)
        self.bound = bound

    @classmethod
    def attach(cls, transport: object, max_sendq: int) -> KernelQueue | None:
        """
        Cap the send buffer of the socket beneath C{transport} so that the
        kernel holds at most half of C{max_sendq} for it, and for caps under
        128 KiB make Twisted say it is backed up at half the cap rather than
        at 64 KiB.  None if there is no socket beneath (tests), or it would
        not take the cap.
        """
        owner = socket_transport(transport)
        if owner is None or max_sendq <= 0:
            return None
        sock: socket.socket = owner.socket
        try:
            # Linux doubles the value asked for (the rest is its overhead);
            # it will not go below its minimum (4608 bytes).
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, max(max_sendq // 8, 1))
            size = sock.getsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF)
        except OSError:
            return None
        if max_sendq // 2 < PAUSE_AT:
            owner.bufferSize = max(max_sendq // 2, SMALLEST)
        return cls(sock, 2 * size)

    def unsent(self) -> int:
        return kernel_unsent(self.sock)

# -*- test-case-name: tests.web.test_metrics -*-
"""
Bytes sent to clients, read from the kernel when they are asked for.

Counting each write would cost every delivery a little; the kernel already
counts what each TCP connection's peer acknowledged (C{tcpi_bytes_acked}
in Linux's C{TCP_INFO}, since 4.1).  L{SentBytes} reads it for every open
connection when the metrics are scraped and keeps a running total of what
grew since the last reading, so a scrape costs one C{getsockopt} a
connection and a delivery nothing.  What a connection sent after the last
reading and before it closed is not counted: at most one scrape
interval's worth a closed connection.  The figure is of bytes on the wire:
TLS records and WebSocket frames included.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterable
from typing import Any
from weakref import WeakKeyDictionary

from chatd.net.sendq import socket_transport

#: Linux's C{TCP_INFO} option (absent elsewhere: nothing is counted there).
TCP_INFO: int | None = getattr(socket, "TCP_INFO", None)
#: Where C{tcpi_bytes_acked} is in C{struct tcp_info}, and its size.
_BYTES_ACKED = struct.Struct("=Q")
_OFFSET = 120
_ASK = 232


def bytes_acked(sock: socket.socket) -> int | None:
    """How many bytes C{sock}'s peer has acknowledged, or None if unknown."""
    if TCP_INFO is None:
        return None
    try:
        info = sock.getsockopt(socket.IPPROTO_TCP, TCP_INFO, _ASK)
    except OSError:  # closed, or not TCP (a UNIX socket)
        return None
    if len(info) < _OFFSET + _BYTES_ACKED.size:
        return None  # a kernel older than 4.1
    acked: int = _BYTES_ACKED.unpack_from(info, _OFFSET)[0]
    return acked


class SentBytes:
    """A running total of the bytes some connections' peers acknowledged."""

    def __init__(self) -> None:
        self.total = 0
        self._seen: WeakKeyDictionary[Any, int] = WeakKeyDictionary()

    def update(self, connections: Iterable[Any]) -> int:
        """Add what each of C{connections} sent since last asked; the total."""
        seen = self._seen
        for conn in connections:
            # The TCP transport beneath TLS or a WebSocket's framing too.
            owner = socket_transport(getattr(conn, "transport", None))
            if owner is None:
                continue
            now = bytes_acked(owner.socket)
            if now is None:
                continue
            before = seen.get(conn, 0)
            if now > before:
                self.total += now - before
                seen[conn] = now
        return self.total


__all__ = ["SentBytes", "bytes_acked"]

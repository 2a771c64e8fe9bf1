# -*- test-case-name: tests.web.test_websocket -*-
"""
The transport a session sees over WebSocket: what it writes, a line or
several at a time, goes out as one WebSocket message per line; everything
else (the peer, producers, pausing, the buffer the SendQ counts) is the real
connection's beneath it.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress

from chatd.web.frames import frame_lines

if TYPE_CHECKING:
    from chatd.web.door import WebSocketDoor


def forwarded_peer(real: IAddress, host: str, port: int = 0) -> IAddress:
    """
    C{real} (the TCP peer) with C{host} in its place, if they differ, and
    then C{port} (where the client came from, when a PROXY header said).
    """
    if getattr(real, "host", None) == host:
        return real
    port = port or getattr(real, "port", 0)
    if ":" in host:
        return IPv6Address("TCP", host, port)
    return IPv4Address("TCP", host, port)


class WebSocketTransport:
    """
    Frames a session's writes: each line (ended by C{separator}: CR LF for
    IRC, LF for JSON) becomes one message, with the C{opcode} of the
    negotiated subprotocol, written to the real transport at once.

    C{transport} is the real one (TCP, or TLS over TCP) so that
    L{chatd.net.sendq} finds its buffer and socket as it does a TCP
    session's.  L{raw_write} is the fan-out fast path's writer: bytes framed
    already (L{chatd.web.sessions}).

    Nothing is written once the WebSocket is closing (L{loseConnection}, or
    the client's close frame): its close frame is its last.
    """

    #: IRC's close code and reason when the session closes (set by the session)
    close_code = 1000
    close_reason = ""

    def __init__(
        self, door: WebSocketDoor, separator: bytes, opcode: int, peer: IAddress
    ) -> None:
        self.door = door
        transport: Any = door.transport
        self.transport = transport
        #: the fan-out fast path's writer: bytes already framed
        self.raw_write: Callable[[bytes], None] = transport.write
        self.separator = separator
        self.opcode = opcode
        self.peer = peer
        self.connected = True
        self.disconnecting = False
        #: the WebSocket is closing: nothing more is written
        self.silent = False
        self._rest = b""

    def write(self, data: bytes) -> None:
        if self.silent:
            return
        framed, self._rest = frame_lines(self._rest + data, self.separator, self.opcode)
        if framed:
            self.transport.write(framed)

    def writeSequence(self, data: list[bytes]) -> None:
        self.write(b"".join(data))

    def closing(self) -> None:
        """The WebSocket is closing: write nothing more."""
        self.silent = True

    def loseConnection(self) -> None:
        """Close the WebSocket with the session's code and reason."""
        if self.disconnecting or not self.connected:
            return
        self.disconnecting = self.silent = True
        # The client's close frame must be read for the closing handshake,
        # even if the session had stopped reading (flood, a held command).
        self.transport.resumeProducing()
        self.door.close_with(self.close_code, self.close_reason)

    def abortConnection(self) -> None:
        self.disconnecting = self.silent = True
        self.transport.abortConnection()

    def lost(self) -> None:
        """The connection beneath is gone."""
        self.connected = False
        self.disconnecting = self.silent = True

    def getPeer(self) -> IAddress:
        return self.peer

    def getHost(self) -> IAddress:
        host: IAddress = self.transport.getHost()
        return host

    def setTcpNoDelay(self, enabled: bool) -> None:
        set_no_delay = getattr(self.transport, "setTcpNoDelay", None)
        if set_no_delay is not None:
            with contextlib.suppress(OSError):
                set_no_delay(enabled)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.transport.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        self.transport.unregisterProducer()

    def pauseProducing(self) -> None:
        self.transport.pauseProducing()

    def resumeProducing(self) -> None:
        self.transport.resumeProducing()

    def stopProducing(self) -> None:
        self.transport.stopProducing()


__all__ = ["WebSocketTransport", "forwarded_peer"]

# -*- test-case-name: tests.web.test_websocket -*-
"""
The WebSocket doors of the web listener (autobahn over twisted.web): the
C{Origin} check and C{X-Forwarded-For} before the handshake, the choice of
IRCv3 subprotocol, and the hand-over of each open WebSocket to an IRC or
JSON session (L{chatd.web.sessions}) on the listener's IRC or JSON factory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from autobahn.twisted.websocket import (
    WebSocketServerFactory,
    WebSocketServerProtocol,
)
from twisted.internet.error import ConnectionDone
from twisted.protocols.policies import ProtocolWrapper
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request

import chatd
from chatd.log import logger
from chatd.net.connection import format_peer, host_of
from chatd.web.forwarded import client_address
from chatd.web.frames import BINARY, TEXT
from chatd.web.sessions import WebIRC, WebJSON, WebSession
from chatd.web.transport import WebSocketTransport, forwarded_peer

if TYPE_CHECKING:
    from chatd.web.site import WebListener

log = logger(__name__)

#: IRCv3's WebSocket subprotocols, and the message type each exchanges.
SUBPROTOCOLS = {"text.ircv3.net": TEXT, "binary.ircv3.net": BINARY}
#: A close reason is at most 123 bytes of UTF-8 (RFC 6455 section 5.5).
REASON_MAX = 123


def _reason(text: str) -> bytes:
    data = text.encode("utf-8")
    if len(data) <= REASON_MAX:
        return data
    return data[:REASON_MAX].decode("utf-8", "ignore").encode("utf-8")


class WebSocketDoor(WebSocketServerProtocol):
    """
    One WebSocket connection: the handshake (autobahn's), then every
    message handed to its session, and its session's writes and close
    going out through a L{WebSocketTransport}.
    """

    factory: DoorFactory
    #: the client's address, as the resource worked it out (PROXY, then
    #: X-Forwarded-For), and the port it came from
    client_host: str | None = None
    client_port = 0
    session: WebSession | None = None
    shim: WebSocketTransport | None = None
    opcode = TEXT
    #: the latest ping not answered while the session's output was backed
    #: up, answered once it drains (L{drained})
    pending_pong: bytes | None = None

    def connectionMade(self) -> None:
        # twisted.web's HTTP channel registered itself as the connection's
        # producer; the session registers its own output watch (the SendQ).
        transport: Any = self.transport
        transport.unregisterProducer()
        super().connectionMade()
        self.maxMessagePayloadSize = self.factory.message_max()
        self.maxFramePayloadSize = self.maxMessagePayloadSize

    def onConnect(self, request: Any) -> str | None:
        return self.factory.choose(self, list(request.protocols or ()))

    def onOpen(self) -> None:
        self.factory.open_session(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        session = self.session
        if session is not None:
            session.ws_message(payload)

    def onPing(self, payload: bytes) -> None:
        """
        A ping is answered with a pong as other output is written: minding
        the SendQ.  While the session's output is backed up no pong is
        queued; only the latest ping is remembered and answered once the
        output drains (RFC 6455 section 5.5.3 allows answering only the
        latest).  The pongs held back count against the SendQ as if they had
        been written, so a client that sends pings and never reads is closed
        with 4001, as for any other output, without costing memory.
        """
        session = self.session
        if session is None:
            super().onPing(payload)
            return
        if session.closing:
            return
        if session.backed_up:
            self.pending_pong = payload
            session.owed += 2 + len(payload)
            session.check_sendq()
            return
        self.pending_pong = None
        super().onPing(payload)
        session.check_sendq()

    def drained(self) -> None:
        """The session's output drained: answer the ping held back, if any."""
        payload, self.pending_pong = self.pending_pong, None
        session = self.session
        if session is not None:
            session.owed = 0
        if payload is not None and session is not None and not session.closing:
            super().onPing(payload)
            session.check_sendq()

    def onCloseFrame(self, code: int, reasonRaw: bytes) -> Any:
        session = self.session
        if session is not None:
            session.ws_closing()
        return super().onCloseFrame(code, reasonRaw)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        session, shim = self.session, self.shim
        self.session = self.shim = None
        if session is not None and shim is not None:
            shim.lost()
            session.connectionLost(Failure(ConnectionDone()))

    def sendCloseFrame(
        self,
        code: int | None = None,
        reasonUtf8: bytes | None = None,
        isReply: bool = False,
    ) -> None:
        super().sendCloseFrame(code=code, reasonUtf8=reasonUtf8, isReply=isReply)
        session = self.session
        if session is not None and not isReply and not session.closing:
            # autobahn closes the WebSocket itself: a protocol error, text
            # that is not UTF-8, a message too big
            session.ws_failed(code)

    def close_with(self, code: int, reason: str) -> None:
        """Start the closing handshake with C{code} and C{reason}."""
        self.sendCloseFrame(code=code, reasonUtf8=_reason(reason), isReply=False)


class DoorFactory(WebSocketServerFactory):
    """
    The WebSocket side of one door: C{irc} (IRCv3's subprotocols) or
    C{json}.  No compression is offered (every client is sent the same
    bytes) and no WebSocket pings (the sessions have their own idle rules).
    """

    protocol = WebSocketDoor  # type: ignore[assignment]

    def __init__(self, listener: WebListener, kind: str) -> None:
        super().__init__(server=f"chatd/{chatd.__version__}")
        self.listener = listener
        self.kind = kind
        self.setProtocolOptions(
            perMessageCompressionAccept=lambda offers: None,
            autoPingInterval=0,
            # The handshake is read with the HTTP request (twisted.web's
            # timeout), and a closing handshake is bounded by the session's
            # own lingering close (LINGER, on the listener's clock).
            openHandshakeTimeout=0,
            closeHandshakeTimeout=0,
            requireMaskedClientFrames=True,
            failByDrop=False,
        )

    def message_max(self) -> int:
        """
        The longest message read at all (longer: close 1009).  Up to it, a
        message is judged as the TCP listener judges a line: twice the
        longest line, so that a line too long is refused in the adapter's
        words, as over TCP.
        """
        if self.kind == "irc":
            return 2 * self.listener.irc.line_limit
        return 2 * (self.listener.json.max_line + 1)

    def choose(self, door: WebSocketDoor, offered: list[str]) -> str | None:
        """
        The subprotocol to accept: for IRC the first of IRCv3's the client
        offers, in its order of preference; none (text messages out, either
        kind in) if it offers neither.  JSON has none.
        """
        if self.kind != "irc":
            return None
        for name in offered:
            opcode = SUBPROTOCOLS.get(name)
            if opcode is not None:
                door.opcode = opcode
                return name
        return None

    def open_session(self, door: WebSocketDoor) -> None:
        """Start the session of a WebSocket that just opened."""
        listener = self.listener
        transport: Any = door.transport
        real = transport.getPeer()
        peer = forwarded_peer(real, door.client_host or host_of(real), door.client_port)
        session: WebSession
        if self.kind == "irc":
            session = WebIRC(door.opcode)
            session.factory = listener.irc
            separator = b"\r\n"
        else:
            session = WebJSON()
            session.factory = listener.json
            separator = b"\n"
        shim = WebSocketTransport(door, separator, door.opcode, peer)
        door.session, door.shim = session, shim
        session.shim = shim
        session.makeConnection(shim)


def _upgrading(request: Request) -> bool:
    upgrade = request.getHeader(b"upgrade") or b""
    return upgrade.strip().lower() == b"websocket"


class DoorResource(Resource):
    """
    The twisted.web resource of a door: checks the page's C{Origin}, works
    out the client's address, then gives the connection to autobahn (as
    autobahn's own C{WebSocketResource} does).
    """

    isLeaf = True

    def __init__(self, factory: DoorFactory) -> None:
        super().__init__()
        self.factory = factory

    def render(self, request: Request) -> bytes | int:
        if not _upgrading(request):
            request.setResponseCode(426, b"Upgrade Required")
            request.setHeader(b"upgrade", b"websocket")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return (
                f"This is chatd's {self.factory.kind.upper()} over WebSocket: "
                "connect with a WebSocket client (see docs/web.md).\n"
            ).encode()
        listener = self.factory.listener
        origin = request.getHeader(b"origin")
        host = request.getHeader(b"host")
        refusal = listener.origins.refusal(
            None if origin is None else origin.decode("latin-1"),
            None if host is None else host.decode("latin-1"),
        )
        # the peer, or on a proxy: endpoint the client its PROXY header names
        real = getattr(request.channel, "chatd_client", None)
        if real is None:
            real = request.getClientAddress()
        if refusal is not None:
            listener.handshake_refusals.refused(peer=format_peer(real), reason=refusal)
            request.setResponseCode(403, b"Forbidden")
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return (refusal + "\n").encode()
        forwarded = request.requestHeaders.getRawHeaders(b"x-forwarded-for")
        client = client_address(
            host_of(real),
            ",".join(v.decode("latin-1") for v in forwarded) if forwarded else None,
            listener.trusted,
        )
        return self._hand_over(request, real, client)

    def _hand_over(self, request: Request, real: Any, client: str) -> bytes | int:
        channel: Any = request.channel
        if channel.transport is None:  # HTTP/2: no WebSocket over it
            request.setResponseCode(426, b"Upgrade Required")
            return b"WebSocket needs HTTP/1.1\n"
        door = cast(
            WebSocketDoor, self.factory.buildProtocol(request.getClientAddress())
        )
        door.client_host = client
        handed_over = getattr(channel, "handed_over", None)
        if handed_over is not None:  # counted as a session from now on
            handed_over()
        # Take the connection over from twisted.web, as autobahn's
        # WebSocketResource does.
        transport, channel.transport = channel.transport, None
        if isinstance(transport, ProtocolWrapper):  # TLS
            transport.wrappedProtocol = door
        elif isinstance(transport.protocol, ProtocolWrapper):
            transport.protocol.wrappedProtocol = door
        else:
            transport.protocol = door
        door.makeConnection(transport)
        # twisted.web paused reading while it served the request.
        resume = getattr(transport, "resumeProducing", None)
        if resume is not None:
            resume()
        # autobahn reads the handshake again from the request's bytes.
        data = request.method + b" " + request.uri + b" HTTP/1.1\r\n"
        for name, values in request.requestHeaders.getAllRawHeaders():
            data += name + b": " + b",".join(values) + b"\r\n"
        data += b"\r\n"
        # What the client sent after its handshake, in the same read (a
        # program need not wait for the answer), twisted.web would keep for
        # a next request: it goes to the WebSocket, after the handshake.
        buffered = getattr(channel, "_dataBuffer", None)
        if buffered:
            data += b"".join(buffered)
            del buffered[:]
        channel.rawDataReceived = door.dataReceived
        door.dataReceived(data)
        return NOT_DONE_YET


__all__ = ["SUBPROTOCOLS", "DoorFactory", "DoorResource", "WebSocketDoor"]

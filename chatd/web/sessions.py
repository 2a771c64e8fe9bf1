# -*- test-case-name: tests.web.test_websocket -*-
"""
The IRC and JSON sessions over WebSocket: the same protocols as over TCP
(L{IRCProtocol}, L{JSONSession}), with their lines framed as one message
each (L{chatd.web.transport}), a WebSocket close code for every way a
connection ends (L{CLOSE_CODES}), and the fan-out fast path encoding and
framing a channel message once per wire form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatd.irc.protocol import IRCProtocol
from chatd.jsonproto import codec
from chatd.jsonproto.session import JSONSession
from chatd.net.connection import Connection
from chatd.net.limits import Refusal
from chatd.web.frames import TEXT, frame, frame_lines

if TYPE_CHECKING:
    from chatd.core import Event
    from chatd.web.transport import WebSocketTransport

#: A connection's end (the code its TCP client is given: JSON's C{bye}
#: code) -> the WebSocket close code its WebSocket client is given, with
#: the same reason.  The client's own close keeps the client's code.
CLOSE_CODES: dict[str, int] = {
    "quit": 1000,
    "shutdown": 1001,
    "flood": 4000,
    "sendq_exceeded": 4001,
    "idle_timeout": 4002,
    "register_timeout": 4003,
    "killed": 4004,
    "line_too_long": 4005,
    "server_full": 4006,
    "too_many_connections": 4007,
    "connecting_too_fast": 4008,
}
#: Any other reason the server closes a connection: policy violation.
OTHER_CLOSE = 1008
#: The WebSocket layer's own closes (autobahn's), and what the others are
#: told of the user's quit.
WEBSOCKET_ERRORS = {
    1002: "WebSocket protocol error",
    1007: "WebSocket text that is not UTF-8",
    1009: "WebSocket message too big",
}


def close_code(code: str) -> int:
    """The WebSocket close code for a connection ended for C{code}."""
    return CLOSE_CODES.get(code, OTHER_CLOSE)


def _discard(data: bytes) -> None:
    """The fast path's writer once the WebSocket is closing."""


class WebSession(Connection):
    """
    What a session over WebSocket changes of its TCP self: its last words
    carry a close code, and the fan-out fast path writes bytes framed
    already, straight to the connection beneath.  Mixed in before the
    adapter's protocol class.
    """

    #: the transport, as what it is (the door sets it)
    shim: WebSocketTransport

    def ws_message(self, payload: bytes) -> None:
        """One message from the client: one line (IRC) or request (JSON)."""
        raise NotImplementedError

    def say_goodbye(self, code: str, reason: str) -> None:
        shim = self.shim
        shim.close_code = close_code(code)
        shim.close_reason = reason
        super().say_goodbye(code, reason)

    def guard(self) -> Refusal | None:
        refusal = super().guard()
        if refusal is None:
            self.wire_write = self.shim.raw_write
        return refusal

    def output_drained(self) -> None:
        if not self.backed_up:
            return
        self.backed_up = False
        if not self.closing:
            self.wire_write = self.shim.raw_write
            if self.user is not None:
                self.factory.chat.session_changed(self.user)
            self.shim.door.drained()

    def _checked_write(self, data: bytes) -> None:
        if not self.closing:
            self.shim.raw_write(data)
            self.check_sendq()

    def end(self) -> None:
        self.ws_closing()
        super().end()

    def ws_closing(self) -> None:
        """
        The WebSocket is closing (our close frame, or the client's): the
        fast path writes nothing more, as a close frame must be the last.
        """
        self.shim.closing()
        self._stop_fanout()

    def _stop_fanout(self) -> None:
        if getattr(self, "wire_write", _discard) is not _discard:
            self.wire_write = _discard
            if self.user is not None:
                self.factory.chat.session_changed(self.user)

    def ws_failed(self, code: int | None) -> None:
        """
        The WebSocket layer closed the connection itself (L{WEBSOCKET_ERRORS}):
        end the session as a goodbye would, without words of its own, and
        take the user out of the chat.
        """
        if self.closing:
            return
        reason = WEBSOCKET_ERRORS.get(code or 0, "WebSocket error")
        self.goodbye = "websocket_error"
        self.closing = True
        self.end()
        if self.user is not None:
            self.factory.chat.disconnect(self.user, reason)

    def sendq_exceeded(self) -> None:
        """
        Over the SendQ: nothing more is written from now, and the goodbye
        (the adapter's last words, the close frame) goes out on the next
        turn.  This runs inside a write, and under TLS inside the TLS
        transport's flush of its gathered writes, which would lose what is
        written meanwhile.
        """
        self.goodbye = "sendq_exceeded"
        self.closing = True
        self._stop_fanout()
        self.factory.clock.callLater(0, self._sendq_goodbye)

    def _sendq_goodbye(self) -> None:
        if self.shim.connected and not self.shim.silent:
            self.closing = False
            super().sendq_exceeded()


class WebIRC(WebSession, IRCProtocol):
    """
    IRC over WebSocket (IRCv3's C{text.ircv3.net} and C{binary.ircv3.net}):
    each message from the client is a line, as if it had ended in CR LF, so
    length, flood and every other rule is the TCP listener's.
    """

    log_prefix = "WebSocket IRC "

    def __init__(self, opcode: int = TEXT) -> None:
        super().__init__()
        self.opcode = opcode
        self._ws_prefix = f"ws{opcode}"
        self.wire_key = self._ws_prefix + self.irc_key

    def caps_changed(self) -> None:
        super().caps_changed()
        self.wire_key = self._ws_prefix + self.irc_key

    def ws_message(self, payload: bytes) -> None:
        self.dataReceived(payload + b"\n")

    def wire_encode(self, event: Event) -> bytes:
        """C{event}'s lines for these capabilities, framed: once per event."""
        key = self.wire_key
        data: bytes | None = event.wire.get(key)
        if data is None:
            data = event.wire[key] = frame_lines(
                self.encoded(event), b"\r\n", self.opcode
            )[0]
        return data


class WebJSON(WebSession, JSONSession):
    """
    The JSON protocol over WebSocket: a request per text message, and each
    reply and event a text message of its own.
    """

    wire_key = "ws-json"
    log_prefix = "WebSocket JSON "

    def ws_message(self, payload: bytes) -> None:
        self.received(payload)

    def wire_encode(self, event: Event) -> bytes:
        """C{event} as JSON clients see it, framed: once per event."""
        data: bytes | None = event.wire.get("ws-json")
        if data is None:
            line = codec.encode_event(event)
            data = event.wire["ws-json"] = frame(line[:-1]) if line else b""
        return data


__all__ = ["CLOSE_CODES", "WebIRC", "WebJSON", "WebSession", "close_code"]

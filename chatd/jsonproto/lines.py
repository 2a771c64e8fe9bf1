# -*- test-case-name: tests.test_protocol -*-
"""
The JSON protocol over TCP as lines: a L{LineReceiver} framing over the
L{JSONSession}, and the factory that listens for it.
"""

from __future__ import annotations

from twisted.protocols.basic import LineReceiver

from chatd.jsonproto.session import JSONSession
from chatd.net.listener import Listener


class ChatProtocol(JSONSession, LineReceiver):
    """One JSON-lines connection: a request per line."""

    delimiter = b"\n"

    def connectionMade(self) -> None:
        self.MAX_LENGTH = self.factory.max_line + 1  # room for a \r before the \n
        JSONSession.connectionMade(self)

    def dataReceived(self, data: bytes) -> None:
        if not self.closing:  # after our goodbye, input is dropped unread
            LineReceiver.dataReceived(self, data)

    lineReceived = JSONSession.received

    def lineLengthExceeded(self, line: bytes) -> None:
        self._too_long()

    def input_rest(self) -> None:
        rest, self._buffer = self._buffer, b""
        if rest:
            self.received(rest)


class ChatFactory(Listener):
    """
    Builds a L{ChatProtocol} per JSON-lines connection over one shared
    L{Chat}, and reaps connections that have been silent too long.
    """

    protocol = ChatProtocol  # type: ignore[assignment]
    kind = "JSON"


__all__ = ["ChatFactory", "ChatProtocol"]

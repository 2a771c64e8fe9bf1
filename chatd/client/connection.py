# -*- test-case-name: tests.test_client -*-
"""
One connection to a server: L{ChatConnection} (JSON lines in and out, handed
to its L{ChatClient}), the factory that makes it, L{encode_request} and
and L{describe_failure}
(why a connection could not be made).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from twisted.internet import error as neterror
from twisted.internet.interfaces import IAddress, IHandshakeListener
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chatd.client.render import bad_line

if TYPE_CHECKING:
    from chatd.client.session import ChatClient

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8123


@implementer(IHandshakeListener)
class ChatConnection(LineReceiver):
    """
    One connection to a server; it hands every line to its L{ChatClient}.

    @ivar secured: over TLS, the handshake and the certificate check are done.
    @ivar rejected: over TLS, why the client's own check of the certificate
        failed (and the connection was cut off), or None.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    secured = False
    rejected: Failure | None = None

    def __init__(self, client: ChatClient) -> None:
        self.client = client

    def connectionMade(self) -> None:
        self.client._connection_made(self)

    def handshakeCompleted(self) -> None:
        self.client._handshake_completed(self)

    def lineReceived(self, line: bytes) -> None:
        self.client._line_received(self, line)

    def lineLengthExceeded(self, line: bytes) -> None:
        self.client._print(bad_line(line[:200]) + " (line too long)")
        if self.transport is not None:
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = neterror.ConnectionDone) -> None:  # type: ignore[assignment]
        self.client._connection_lost(self, reason)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data + b"\n")


def encode_request(request: dict[str, Any]) -> bytes:
    """One request line, without its line ending."""
    data = json.dumps(request, ensure_ascii=False, separators=(",", ":"))
    # A lone surrogate (from a badly decoded input line) cannot be UTF-8.
    return data.encode("utf-8", "backslashreplace")


class ConnectionFactory(ClientFactory):
    def __init__(self, client: ChatClient) -> None:
        self.client = client

    def buildProtocol(self, addr: IAddress | None) -> Protocol:
        protocol = ChatConnection(self.client)
        protocol.factory = self
        return protocol

    def clientConnectionFailed(self, connector: object, reason: Failure) -> None:
        self.client._connect_failed(self, reason)


def describe_failure(reason: Failure) -> str:
    if reason.check(neterror.ConnectionRefusedError):
        return "connection refused"
    if reason.check(neterror.DNSLookupError):
        return "host not found"
    if reason.check(neterror.TimeoutError):
        return "timed out"
    message = str(reason.getErrorMessage()).strip()
    return message.rstrip(".") or type(reason.value).__name__

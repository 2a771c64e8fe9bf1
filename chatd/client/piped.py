# -*- test-case-name: tests.test_client -*-
"""
The client's scriptable front end, when standard input or output is not a
terminal: L{PipedUI} reads plain lines and writes plain lines.
"""

from __future__ import annotations

from typing import Any, Callable

from twisted.internet import stdio
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chatd.client.session import ChatClient
from chatd.client.tls import TLS


@implementer(IHalfCloseableProtocol)
class PipedUI(LineReceiver):
    """Lines from a pipe in, lines out: the scriptable front end."""

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, on_close: Callable[[], None]) -> None:
        self.on_close = on_close
        self.client: ChatClient | None = None

    def lineReceived(self, line: bytes) -> None:
        assert self.client is not None
        self.client.handle_input(line.decode("utf-8", "replace"))

    def readConnectionLost(self) -> None:
        assert self.client is not None
        rest, self._buffer = self._buffer, b""
        if rest.strip():  # a last line without its newline
            self.lineReceived(rest)
        self.client.input_ended()

    def writeConnectionLost(self) -> None:
        pass

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        self.on_close()

    def show(self, text: str) -> None:
        if self.transport is not None:
            self.transport.write(text.encode("utf-8", "backslashreplace") + b"\n")

    def close(self) -> None:
        if self.transport is not None:
            self.transport.loseConnection()


def run_piped(
    reactor: Any,
    host: str,
    port: int,
    display: Callable[[str], str],
    stop: Callable[[], None],
    tls: TLS | None = None,
    nick: str | None = None,
    credentials: tuple[str, str] | None = None,
) -> int:
    """Run the client on piped standard input and output."""
    status: list[int] = []
    ui = PipedUI(stop)

    def finished(code: int) -> None:
        status.append(code)
        ui.close()

    client = ChatClient(
        reactor,
        interactive=False,
        output=ui.show,
        display=display,
        finished=finished,
        tls=tls,
        nick=nick,
        credentials=credentials,
    )
    ui.client = client
    stdio.StandardIO(ui, reactor=reactor)
    client.connect(host, port)
    reactor.run()
    return status[0] if status else 1

"""
WebSocket test fixtures: a chatd web listener on loopback (its own Clock
for idle and registration timeouts) and autobahn's client, in the test's
reactor.  Every wait is bounded (L{WAIT}); nothing sleeps.
"""

from __future__ import annotations

import json
import socket
from typing import Any, Callable

from autobahn.twisted.websocket import (
    WebSocketClientFactory,
    WebSocketClientProtocol,
)
from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import Clock
from twisted.protocols.basic import LineReceiver as LineReceiverBase
from twisted.trial.unittest import TestCase
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers

from chatd.core import Chat
from chatd.irc.factory import IRCFactory
from chatd.service import ChatService
from chatd.web.site import WebListener

#: The longest any one expected message may take, in seconds: a bound for a
#: broken server only; a passing test never waits for it.
WAIT = 10.0


class Client(WebSocketClientProtocol):
    """A WebSocket client that keeps what it is sent."""

    factory: ClientFactory

    def connectionMade(self) -> None:
        if self.factory.small_window:
            self.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        super().connectionMade()

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[tuple[bytes, bool]] = []
        self.taken = 0
        self._waiting: list[tuple[Callable[[bytes], bool], Deferred[bytes]]] = []
        self.closed: Deferred[tuple[int | None, str | None]] = Deferred()
        self.subprotocol: str | None = None

    def onConnect(self, response: Any) -> None:
        self.subprotocol = response.protocol or None

    def onOpen(self) -> None:
        self.factory.opened.callback(self)

    def onMessage(self, payload: bytes, isBinary: bool) -> None:
        self.messages.append((payload, isBinary))
        for item in list(self._waiting):
            test, d = item
            if test(payload):
                self._waiting.remove(item)
                self.taken = len(self.messages)
                d.callback(payload)

    def onClose(self, wasClean: bool, code: int | None, reason: str | None) -> None:
        if not self.factory.opened.called:
            self.factory.opened.errback(ConnectionError(reason or "refused"))
        for _, d in self._waiting:
            d.errback(ConnectionError(f"closed {code} {reason}"))
        self._waiting = []
        self.closed.callback((code, reason))

    def read_again(self) -> None:
        """Read again, at full speed, after C{transport.pauseProducing()}."""
        self.transport.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.transport.resumeProducing()

    def send(self, text: str | bytes, binary: bool = False) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        self.sendMessage(data, isBinary=binary)

    def wait(self, test: Callable[[bytes], bool]) -> Deferred[bytes]:
        """The first message from now (or unseen yet) for which C{test} holds."""
        for i in range(self.taken, len(self.messages)):
            payload = self.messages[i][0]
            if test(payload):
                self.taken = i + 1
                return _succeeded(payload)
        d: Deferred[bytes] = Deferred()
        self._waiting.append((test, d))
        d.addTimeout(WAIT, reactor)
        return d

    def line(self, part: str) -> Deferred[bytes]:
        """The first IRC line containing C{part}."""
        return self.wait(lambda p: part.encode() in p)

    def json(self, **fields: Any) -> Deferred[dict[str, Any]]:
        """The first JSON object with C{fields}."""

        def test(payload: bytes) -> bool:
            obj = json.loads(payload)
            return all(obj.get(k) == v for k, v in fields.items())

        return self.wait(test).addCallback(json.loads)

    def request(self, **obj: Any) -> None:
        self.send(json.dumps(obj))


def _succeeded(value: bytes) -> Deferred[bytes]:
    d: Deferred[bytes] = Deferred()
    d.callback(value)
    return d


class ClientFactory(WebSocketClientFactory):
    protocol = Client

    def __init__(self, url: str, small_window: bool = False, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self.opened: Deferred[Client] = Deferred()
        self.small_window = small_window


class WebTestCase(TestCase):
    """A chatd service with a web listener (and a TCP IRC one) on loopback."""

    timeout = 60
    #: the web listener's options
    web_options: dict[str, Any] = {}
    #: the TCP IRC listener's
    irc_options: dict[str, Any] = {}
    #: the client side's TLS options, for a web listener on TLS
    tls: Any = None

    def web_listen(self) -> str:
        """The web listener's endpoint string."""
        return "tcp:0:interface=127.0.0.1"

    def setUp(self) -> None:
        self.chat = Chat(max_users=50)
        self.clock = Clock()
        self.clock.advance(1_800_000_000)
        options = {"idle_timeout": 60, "gate": None, **self.web_options}
        self.web = WebListener(self.chat, self.clock, **options)
        self.irc = IRCFactory(
            self.chat, self.clock, **{"idle_timeout": 60, **self.irc_options}
        )
        listen = ["tcp:0:interface=127.0.0.1"]
        self.service = ChatService(
            reactor, [(self.web, [self.web_listen()]), (self.irc, listen)]
        )
        self.service.startService()
        self.addCleanup(self._stop)
        self.port, self.irc_port = (p.getHost().port for p in self.service.ports)
        self.clients: list[Client] = []

    @inlineCallbacks
    def _stop(self) -> Any:
        """
        Stop the service (each WebSocket still open is closed with 1001, and
        its client answers) and wait until every client has seen its close.
        """
        if self.service.running:
            yield self.service.stopService()
        for client in self.clients:
            if not client.closed.called:
                yield client.closed

    def connect(
        self, path: str = "/", protocols: list[str] | None = None, **kwargs: Any
    ) -> Deferred[Client]:
        """A WebSocket client of C{path}, once its WebSocket is open."""
        scheme = "ws" if self.tls is None else "wss"
        url = f"{scheme}://127.0.0.1:{self.port}{path}"
        factory = ClientFactory(url, protocols=protocols or [], **kwargs)
        if self.tls is None:
            reactor.connectTCP("127.0.0.1", self.port, factory)  # type: ignore[attr-defined]
        else:
            reactor.connectSSL("127.0.0.1", self.port, factory, self.tls)  # type: ignore[attr-defined]

        def opened(client: Client) -> Client:
            self.clients.append(client)
            return client

        return factory.opened.addCallback(opened)

    def tcp_irc(self) -> Deferred[LineClient]:
        """A TCP IRC client of the IRC listener."""
        from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol

        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.irc_port)
        d: Deferred[LineClient] = connectProtocol(endpoint, LineClient())

        def connected(client: LineClient) -> LineClient:
            self.addCleanup(
                lambda: client.transport and client.transport.abortConnection()
            )
            return client

        return d.addCallback(connected)

    def get(
        self, path: str, headers: dict[bytes, list[bytes]] | None = None
    ) -> Deferred[tuple[int, bytes, Any]]:
        agent = Agent(reactor)
        d = agent.request(
            b"GET",
            f"http://127.0.0.1:{self.port}{path}".encode(),
            Headers(headers or {}),
        )

        def body(response: Any) -> Deferred[tuple[int, bytes, Any]]:
            return readBody(response).addCallback(
                lambda data: (response.code, data, response.headers)
            )

        return d.addCallback(body)

    @inlineCallbacks
    def irc_user(self, nick: str, path: str = "/", **kwargs: Any) -> Any:
        """An IRC user over WebSocket (text.ircv3.net), registered as C{nick}."""
        client = yield self.connect(path, ["text.ircv3.net"], **kwargs)
        client.send(f"NICK {nick}")
        client.send(f"USER {nick[0]} 0 * :{nick}")
        yield client.line(" 001 ")
        return client

    @inlineCallbacks
    def tcp_user(self, nick: str) -> Any:
        """An IRC user over TCP, registered as C{nick}."""
        client = yield self.tcp_irc()
        client.send(f"NICK {nick}")
        client.send(f"USER {nick[0]} 0 * :{nick}")
        yield client.line(" 001 ")
        return client

    def advance(self, seconds: float, step: float = 1.0) -> None:
        """Move the listeners' clock on by C{seconds}, C{step} at a time."""
        for _ in range(int(seconds / step)):
            self.clock.advance(step)


class LineClient(LineReceiverBase):
    """A TCP IRC client in the test's reactor that keeps the lines it gets."""

    delimiter = b"\r\n"

    def __init__(self) -> None:
        self.lines: list[bytes] = []
        self._waiting: list[tuple[bytes, Deferred[bytes]]] = []

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)
        for item in list(self._waiting):
            part, d = item
            if part in line:
                self._waiting.remove(item)
                d.callback(line)

    def line(self, part: str) -> Deferred[bytes]:
        """The first line containing C{part}, from the start."""
        for line in self.lines:
            if part.encode() in line:
                self.lines.remove(line)
                return _succeeded(line)
        d: Deferred[bytes] = Deferred()
        self._waiting.append((part.encode(), d))
        d.addTimeout(WAIT, reactor)
        return d

    def send(self, line: str) -> None:
        self.sendLine(line.encode("utf-8"))

"""The web listener's plain HTTP side, and the Origin check of handshakes."""

from __future__ import annotations

import os
import re
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import inlineCallbacks
from twisted.internet.error import ConnectionDone
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chatd.core import Chat
from chatd.net.limits import AddressLimit, Gate
from chatd.net.proxy import QUIET
from chatd.web.site import (
    CONTENT_SECURITY_POLICY,
    HEAD_TIMEOUT,
    STATIC,
    WebListener,
)
from tests.web.support import WebTestCase

#: a WebSocket handshake's headers, for a plain HTTP client
HANDSHAKE = {
    b"upgrade": [b"websocket"],
    b"connection": [b"Upgrade"],
    b"sec-websocket-key": [b"dGhlIHNhbXBsZSBub25jZQ=="],
    b"sec-websocket-version": [b"13"],
}


class NotBuiltTests(WebTestCase):
    def setUp(self) -> None:
        self.web_options = {"static": self.mktemp()}
        super().setUp()

    @inlineCallbacks
    def test_root_without_client(self) -> Any:
        """Without the client's files, / says so in plain text."""
        code, body, headers = yield self.get("/")
        self.assertEqual(code, 200)
        self.assertIn(b"web client is not built", body)
        self.assertEqual(
            headers.getRawHeaders(b"content-type"), [b"text/plain; charset=utf-8"]
        )

    @inlineCallbacks
    def test_healthz(self) -> Any:
        code, body, _ = yield self.get("/healthz")
        self.assertEqual((code, body), (200, b"ok\n"))

    @inlineCallbacks
    def test_door_without_upgrade(self) -> Any:
        """A browser's plain GET of a WebSocket door: 426, and why."""
        code, body, _ = yield self.get("/irc")
        self.assertEqual(code, 426)
        self.assertIn(b"WebSocket", body)
        code, _, _ = yield self.get("/json")
        self.assertEqual(code, 426)

    @inlineCallbacks
    def test_unknown_path(self) -> Any:
        code, _, _ = yield self.get("/nothing-here")
        self.assertEqual(code, 404)


class ClientFilesTests(WebTestCase):
    def setUp(self) -> None:
        static = self.mktemp()
        os.makedirs(os.path.join(static, "assets"))
        with open(os.path.join(static, "index.html"), "w") as f:
            f.write("<!doctype html><title>chatd</title>")
        with open(os.path.join(static, "assets", "app.js"), "w") as f:
            f.write("console.log(1)")
        self.web_options = {"static": static}
        super().setUp()

    @inlineCallbacks
    def test_index(self) -> Any:
        code, body, headers = yield self.get("/")
        self.assertEqual(code, 200)
        self.assertEqual(body, b"<!doctype html><title>chatd</title>")
        self.assertEqual(headers.getRawHeaders(b"content-type")[0][:9], b"text/html")

    @inlineCallbacks
    def test_files(self) -> Any:
        code, body, headers = yield self.get("/assets/app.js")
        self.assertEqual((code, body), (200, b"console.log(1)"))
        self.assertEqual(headers.getRawHeaders(b"content-type"), [b"text/javascript"])
        self.assertEqual(headers.getRawHeaders(b"x-content-type-options"), [b"nosniff"])

    @inlineCallbacks
    def test_cannot_be_framed(self) -> Any:
        """
        The client and its files carry its Content-Security-Policy, with
        frame-ancestors 'none', and X-Frame-Options: no site can frame it.
        """
        for path in ("/", "/assets/app.js"):
            _, _, headers = yield self.get(path)
            [policy] = headers.getRawHeaders(b"content-security-policy")
            self.assertIn(b"frame-ancestors 'none'", policy)
            self.assertIn(b"default-src 'self'", policy)
            self.assertEqual(headers.getRawHeaders(b"x-frame-options"), [b"DENY"])

    def test_policy_is_the_pages(self) -> None:
        """The header's policy is the one the shipped page's meta tag says, and more."""
        with open(os.path.join(STATIC, "index.html")) as f:
            page = f.read()
        meta = re.search(
            r'http-equiv="Content-Security-Policy" content="([^"]*)"', page
        )
        assert meta is not None
        self.assertEqual(
            CONTENT_SECURITY_POLICY, meta.group(1) + "; frame-ancestors 'none'"
        )

    @inlineCallbacks
    def test_no_listing(self) -> Any:
        code, _, _ = yield self.get("/assets/")
        self.assertEqual(code, 404)

    @inlineCallbacks
    def test_websocket_at_root(self) -> Any:
        """The same / is IRC over WebSocket for a handshake."""
        client = yield self.irc_user("alice", "/")
        self.assertEqual(client.subprotocol, "text.ircv3.net")


class OriginTests(WebTestCase):
    web_options = {"origins": ("https://kiwiirc.com",)}

    @inlineCallbacks
    def test_foreign_page_refused(self) -> Any:
        """A page from elsewhere gets 403 and the reason, before any WebSocket."""
        headers = {**HANDSHAKE, b"origin": [b"https://evil.example"]}
        code, body, _ = yield self.get("/irc", headers)
        self.assertEqual(code, 403)
        self.assertEqual(
            body,
            b"pages from https://evil.example may not connect here "
            b"(the server's [web] origins does not list it)\n",
        )
        self.assertEqual(self.web.connections, set())

    @inlineCallbacks
    def test_refusals_logged_once_per_burst(self) -> Any:
        """
        Refused handshakes are logged as refused PROXY connections are: the
        first with its reason, the rest of the burst as one count.
        """
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        headers = {**HANDSHAKE, b"origin": [b"https://evil.example"]}
        for _ in range(3):
            code, _, _ = yield self.get("/irc", headers)
            self.assertEqual(code, 403)
        self.advance(QUIET)
        lines = [formatEvent(e) for e in events if "WebSocket" in formatEvent(e)]
        self.assertEqual(len(lines), 2, lines)
        self.assertTrue(
            lines[0].startswith("refused a WebSocket from 127.0.0.1:"), lines[0]
        )
        self.assertIn("pages from https://evil.example may not connect", lines[0])
        self.assertEqual(lines[1], "refused 2 more WebSocket handshakes")

    @inlineCallbacks
    def test_same_origin(self) -> Any:
        """The listener's own pages (Origin matching Host) are let in."""
        client = yield self.connect("/json", origin=f"http://127.0.0.1:{self.port}")
        yield client.json(type="welcome")

    @inlineCallbacks
    def test_listed_origin(self) -> Any:
        client = yield self.connect("/json", origin="https://kiwiirc.com")
        yield client.json(type="welcome")

    @inlineCallbacks
    def test_no_origin(self) -> Any:
        """A program (no Origin header) is let in."""
        client = yield self.connect("/json")
        yield client.json(type="welcome")


def _http(data: bytes, **options: Any) -> StringTransport:
    """What the web listener answers C{data}, on a connection of its own."""
    web = WebListener(Chat(), Clock(), gate=None, **options)
    protocol = web.buildProtocol(IPv4Address("TCP", "192.0.2.1", 5555))
    assert protocol is not None
    transport = StringTransport(peerAddress=IPv4Address("TCP", "192.0.2.1", 5555))
    protocol.makeConnection(transport)
    protocol.dataReceived(data)
    return transport


class BodyTests(SynchronousTestCase):
    """chatd takes no request body: a long or chunked one is refused unread."""

    def test_long_body_refused_before_it_is_read(self) -> None:
        transport = _http(
            b"POST /healthz HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
            b"Content-Length: 10000000000\r\n\r\n" + b"x" * 5000
        )
        answer = transport.value()
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)
        self.assertNotIn(b"100 Continue", answer)
        self.assertTrue(answer.endswith(b"nor a chunked one\n"), answer)
        self.assertTrue(transport.disconnecting)

    def test_chunked_body_refused(self) -> None:
        transport = _http(
            b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"5\r\nhello\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        answer = transport.value()
        self.assertTrue(answer.startswith(b"HTTP/1.1 413 "), answer)
        self.assertEqual(answer.count(b"HTTP/1.1 "), 1)  # not the next request
        self.assertTrue(transport.disconnecting)

    def test_small_body_and_none(self) -> None:
        """A short body is read (and ignored); no body is the usual case."""
        answer = _http(
            b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd"
        ).value()
        self.assertTrue(answer.startswith(b"HTTP/1.1 405 "), answer)
        answer = _http(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").value()
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
        self.assertTrue(answer.endswith(b"\r\n\r\nok\n"), answer)


class ConnectionLimitTests(SynchronousTestCase):
    """
    Plain HTTP connections: a deadline for each request head, and a cap per
    address (the gate's C{per_address}, counted apart from sessions).
    """

    def setUp(self) -> None:
        self.clock = Clock()
        self.web = WebListener(
            Chat(), self.clock, gate=Gate(AddressLimit(per_address=2, connects=0))
        )

    def open(self, host: str = "192.0.2.1") -> tuple[Any, StringTransport]:
        address = IPv4Address("TCP", host, 5555)
        protocol = self.web.buildProtocol(address)
        transport = StringTransport(peerAddress=address)
        protocol.makeConnection(transport)  # type: ignore[union-attr]
        return protocol, transport

    def test_slow_request_head_is_cut_off(self) -> None:
        """
        A request head sent a byte at a time (slowloris) is cut off
        HEAD_TIMEOUT seconds after the connection opened, however often
        a byte comes.
        """
        protocol, transport = self.open()
        head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
        for i, byte in enumerate(head):
            if self.clock.seconds() >= HEAD_TIMEOUT:
                break
            protocol.dataReceived(bytes([byte]))
            self.clock.advance(0.5)
            if self.clock.seconds() < HEAD_TIMEOUT:
                self.assertFalse(transport.disconnecting, i)
        self.assertTrue(transport.disconnected)  # aborted
        self.assertEqual(transport.value(), b"")

    def test_slow_body_is_cut_off(self) -> None:
        """The deadline is for the whole request: a short body trickling in too."""
        protocol, transport = self.open()
        protocol.dataReceived(
            b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4000\r\n\r\n"
        )
        for _ in range(int(HEAD_TIMEOUT * 2) - 1):
            protocol.dataReceived(b"a")
            self.clock.advance(0.5)
        self.assertFalse(transport.disconnecting)
        protocol.dataReceived(b"a")
        self.clock.advance(0.5)
        self.assertTrue(transport.disconnected)
        self.assertEqual(transport.value(), b"")

    def test_deadline_for_each_request(self) -> None:
        """
        A head sent in time is answered; the next request's head has
        HEAD_TIMEOUT seconds from the end of the response, so a connection
        left idle between requests is closed then too.
        """
        protocol, transport = self.open()
        self.clock.advance(HEAD_TIMEOUT - 1)
        protocol.dataReceived(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(transport.value().startswith(b"HTTP/1.1 200 "))
        self.clock.advance(HEAD_TIMEOUT - 1)
        self.assertFalse(transport.disconnecting)
        self.clock.advance(1)
        self.assertTrue(transport.disconnecting)

    def test_per_address_cap(self) -> None:
        first, _ = self.open()
        self.open()
        _, third = self.open()
        answer = third.value()
        self.assertTrue(answer.startswith(b"HTTP/1.1 503 "), answer)
        self.assertTrue(
            answer.endswith(
                b"too many connections from your address (at most 2 at once)\n"
            )
        )
        self.assertTrue(third.disconnecting)
        # another address is not affected
        _, other = self.open("192.0.2.2")
        self.assertFalse(other.disconnecting)
        # a closed connection gives its place back
        first.connectionLost(Failure(ConnectionDone()))
        _, fourth = self.open()
        self.assertFalse(fourth.disconnecting)
        self.assertEqual(fourth.value(), b"")

    def test_loopback_exempt(self) -> None:
        """Loopback is exempt, as from the gate's own limits."""
        for _ in range(3):
            _, transport = self.open("127.0.0.1")
            self.assertFalse(transport.disconnecting)

    def test_idle_timeout_not_logged(self) -> None:
        """twisted.web's timeout closes quietly: chatd logs no HTTP."""
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        protocol, transport = self.open()
        protocol.timeoutConnection()
        self.assertTrue(transport.disconnecting)
        protocol.forceAbortClient()
        self.assertTrue(transport.disconnected)
        self.assertEqual([formatEvent(e) for e in events], [])


class HeadTests(SynchronousTestCase):
    """HEAD: GET's headers, without a body and without a warning logged."""

    def head(self, path: bytes, **options: Any) -> bytes:
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        answer = _http(b"HEAD " + path + b" HTTP/1.1\r\nHost: x\r\n\r\n", **options)
        self.assertEqual([formatEvent(e) for e in events], [])
        return answer.value()

    def test_healthz(self) -> None:
        answer = self.head(b"/healthz")
        self.assertTrue(answer.startswith(b"HTTP/1.1 200 "), answer)
        self.assertIn(b"\r\nContent-Length: 3\r\n", answer)
        self.assertTrue(answer.endswith(b"\r\n\r\n"), answer)

    def test_others(self) -> None:
        for path in (b"/irc", b"/nothing-here", b"/"):
            answer = self.head(path, static=self.mktemp())
            self.assertTrue(answer.endswith(b"\r\n\r\n"), answer)

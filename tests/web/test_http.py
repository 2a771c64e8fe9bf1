"""The web listener's plain HTTP side, and the Origin check of handshakes."""

from __future__ import annotations

import os
from typing import Any

from twisted.internet.defer import inlineCallbacks

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

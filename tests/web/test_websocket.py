"""IRC and the JSON protocol over WebSocket, end to end on loopback."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import inlineCallbacks

from tests.web.support import WebTestCase


class IRCOverWebSocketTests(WebTestCase):
    @inlineCallbacks
    def test_text_subprotocol(self) -> Any:
        """
        A client offering text.ircv3.net gets it, registers with one line
        per message and is sent one line per text message, without CR LF.
        """
        client = yield self.connect("/", ["text.ircv3.net"])
        self.assertEqual(client.subprotocol, "text.ircv3.net")
        client.send("NICK alice")
        client.send("USER a 0 * :Alice")
        welcome = yield client.line(" 001 ")
        self.assertTrue(welcome.startswith(b":chatd.local 001 alice "))
        self.assertFalse(any(p.endswith(b"\n") for p, _ in client.messages))
        self.assertFalse(any(binary for _, binary in client.messages))


class JSONOverWebSocketTests(WebTestCase):
    @inlineCallbacks
    def test_request_and_reply(self) -> Any:
        client = yield self.connect("/json")
        welcome = yield client.json(type="welcome")
        self.assertEqual(welcome["server"], "chatd")
        client.request(cmd="nick", nick="alice", id=1)
        reply = yield client.json(type="ok", id=1)
        self.assertEqual(reply["nick"], "alice")
        for payload, binary in client.messages:
            self.assertFalse(binary)
            json.loads(payload)


class SubprotocolTests(WebTestCase):
    @inlineCallbacks
    def register(self, client: Any, nick: str) -> Any:
        client.send(f"NICK {nick}")
        client.send(f"USER {nick} 0 * :{nick}")
        yield client.line(" 001 ")

    @inlineCallbacks
    def test_binary_subprotocol(self) -> Any:
        """binary.ircv3.net, preferred first, is chosen: binary messages."""
        client = yield self.connect("/irc", ["binary.ircv3.net", "text.ircv3.net"])
        self.assertEqual(client.subprotocol, "binary.ircv3.net")
        yield self.register(client, "alice")
        self.assertTrue(all(binary for _, binary in client.messages))

    @inlineCallbacks
    def test_order_of_preference(self) -> Any:
        client = yield self.connect("/irc", ["text.ircv3.net", "binary.ircv3.net"])
        self.assertEqual(client.subprotocol, "text.ircv3.net")

    @inlineCallbacks
    def test_none_offered(self) -> Any:
        """
        A legacy client offering no subprotocol is answered without one, in
        text messages, and may send binary or text.
        """
        client = yield self.connect("/")
        self.assertIsNone(client.subprotocol)
        client.send(b"NICK alice", binary=True)
        client.send("USER a 0 * :Alice")
        yield client.line(" 001 ")
        self.assertFalse(any(binary for _, binary in client.messages))


class MixedChannelTests(WebTestCase):
    @inlineCallbacks
    def test_websocket_and_tcp_users_talk(self) -> Any:
        """
        An IRC user over WebSocket and one over TCP in one channel see each
        other's messages; over WebSocket each line is its own message.
        """
        web = yield self.connect("/", ["text.ircv3.net"])
        web.send("NICK alice")
        web.send("USER a 0 * :Alice")
        yield web.line(" 001 ")
        web.send("JOIN #general")
        yield web.line(" 366 ")
        tcp = yield self.tcp_irc()
        tcp.send("NICK bob")
        tcp.send("USER b 0 * :Bob")
        yield tcp.line(" 001 ")
        tcp.send("JOIN #general")
        yield tcp.line(" 366 ")
        yield web.line(":bob!")
        tcp.send("PRIVMSG #general :hello from TCP")
        seen = yield web.line("hello from TCP")
        self.assertEqual(seen, b":bob!~b@127.0.0.1 PRIVMSG #general :hello from TCP")
        web.send("PRIVMSG #general :hello from the browser")
        line = yield tcp.line("hello from the browser")
        self.assertEqual(
            line, b":alice!~a@127.0.0.1 PRIVMSG #general :hello from the browser"
        )

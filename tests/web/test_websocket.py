"""IRC and the JSON protocol over WebSocket, end to end on loopback."""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks

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


class FanOutTests(WebTestCase):
    @inlineCallbacks
    def test_json_member(self) -> Any:
        """A JSON user over WebSocket is sent a channel's messages, one object each."""
        client = yield self.connect("/json")
        client.request(cmd="nick", nick="carol")
        client.request(cmd="join", channel="#a", id=1)
        yield client.json(type="ok", id=1)
        bob = yield self.tcp_user("bob")
        bob.send("JOIN #a")
        yield bob.line(" 366 ")
        bob.send("PRIVMSG #a :one")
        bob.send("PRIVMSG #a :two")
        first = yield client.json(type="message", text="one")
        self.assertEqual((first["from"], first["to"]), ("bob", "#a"))
        yield client.json(type="message", text="two")

    @inlineCallbacks
    def test_encoded_and_framed_once(self) -> Any:
        """
        A channel message is encoded once for every IRC client with the same
        capabilities, whatever its transport, and framed once per message
        type: the members over WebSocket are written the same bytes.
        """
        from chatd.web import sessions

        users = []
        for nick, protocols in (
            ("t1", ["text.ircv3.net"]),
            ("t2", ["text.ircv3.net"]),
            ("b1", ["binary.ircv3.net"]),
            ("b2", ["binary.ircv3.net"]),
        ):
            client = yield self.connect("/", protocols)
            client.send(f"NICK {nick}")
            client.send(f"USER {nick} 0 * :{nick}")
            client.send("JOIN #a")
            yield client.line(" 366 ")
            users.append(client)
        bob = yield self.tcp_user("bob")
        bob.send("JOIN #a")
        yield bob.line(" 366 ")
        encoded: list[Any] = []
        framed: list[bytes] = []
        encode = self.irc.encode
        frame_lines = sessions.frame_lines

        def counting_encode(event: Any, *variant: Any) -> bytes:
            encoded.append(event)
            return encode(event, *variant)

        def counting_frame(data: bytes, *args: Any) -> Any:
            framed.append(data)
            return frame_lines(data, *args)

        self.patch(self.irc, "encode", counting_encode)
        self.patch(self.web.irc, "encode", counting_encode)
        self.patch(sessions, "frame_lines", counting_frame)
        bob.send("PRIVMSG #a :to all")
        for client in users:
            yield client.line("to all")
        self.assertEqual(len(encoded), 1)
        self.assertEqual(len(framed), 2)
        binary = [c.messages[-1] for c in users]
        self.assertEqual(
            binary,
            [
                (b":bob!~b@127.0.0.1 PRIVMSG #a :to all", flag)
                for flag in (False, False, True, True)
            ],
        )


class RawHandshakeTests(WebTestCase):
    @inlineCallbacks
    def test_frames_with_the_handshake(self) -> Any:
        """
        A program that sends its first messages with its handshake, in one
        write, without waiting for the answer, has them read.
        """
        import os

        from twisted.internet import reactor
        from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
        from twisted.internet.protocol import Protocol

        def masked(payload: bytes, opcode: int = 1) -> bytes:
            mask = os.urandom(4)
            body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body

        received: list[bytes] = []
        done: Deferred[None] = Deferred()
        lost: Deferred[None] = Deferred()

        class Raw(Protocol):
            def dataReceived(self, data: bytes) -> None:
                received.append(data)
                if b"PONG chatd.local sync" in b"".join(received) and not done.called:
                    done.callback(None)

            def connectionLost(self, reason: object = None) -> None:
                lost.callback(None)

        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port)
        raw = yield connectProtocol(endpoint, Raw())
        raw.transport.write(
            b"GET /irc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: text.ircv3.net\r\n\r\n"
            + masked(b"NICK zed")
            + masked(b"USER z 0 * :z")
            + masked(b"PING sync")
        )
        done.addTimeout(10, reactor)
        yield done
        data = b"".join(received)
        self.assertTrue(data.startswith(b"HTTP/1.1 101 Switching Protocols\r\n"))
        self.assertIn(b":chatd.local 001 zed :", data)
        raw.transport.write(masked(b"\x03\xe8", opcode=8))  # close, 1000
        lost.addTimeout(10, reactor)
        yield lost

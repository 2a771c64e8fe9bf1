"""
The TCP listeners' limits over WebSocket, with the close code each ends
with: flood, SendQ, idle and registration timeouts, line length, the
per-address limits, quit and shutdown.
"""

from __future__ import annotations

from typing import Any

from twisted.internet import reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import deferLater

from chatd.net.limits import AddressLimit, FloodLimit, Gate
from tests.web.support import WebTestCase


class CloseCodeTests(WebTestCase):
    @inlineCallbacks
    def test_quit(self) -> Any:
        """QUIT: ERROR as over TCP, then close 1000 with its reason."""
        alice = yield self.irc_user("alice")
        alice.send("QUIT :bye now")
        yield alice.line("ERROR :Closing Link")
        code, reason = yield alice.closed
        self.assertEqual((code, reason), (1000, "Quit: bye now"))

    @inlineCallbacks
    def test_json_quit(self) -> Any:
        client = yield self.connect("/json")
        client.request(cmd="quit", reason="done")
        bye = yield client.json(type="bye")
        self.assertEqual(bye["code"], "quit")
        code, _ = yield client.closed
        self.assertEqual(code, 1000)

    @inlineCallbacks
    def test_shutdown(self) -> Any:
        """Shutdown: every WebSocket closes with 1001, going away."""
        alice = yield self.irc_user("alice")
        json_client = yield self.connect("/json")
        yield json_client.json(type="welcome")
        yield self.service.stopService()
        code, reason = yield alice.closed
        self.assertEqual((code, reason), (1001, "the server is shutting down"))
        code, _ = yield json_client.closed
        self.assertEqual(code, 1001)
        self.assertEqual(self.web.connections, set())

    @inlineCallbacks
    def test_client_closes(self) -> Any:
        """The client's own close: its user quits, as when a TCP client goes."""
        alice = yield self.irc_user("alice")
        alice.send("JOIN #a")
        yield alice.line(" 366 ")
        bob = yield self.tcp_user("bob")
        bob.send("JOIN #a")
        yield bob.line(" 366 ")
        alice.sendClose(1000, "leaving")
        code, _ = yield alice.closed
        self.assertEqual(code, 1000)
        quit = yield bob.line(" QUIT ")
        self.assertTrue(quit.startswith(b":alice!"))
        self.assertNotIn("alice", self.chat.nicks)


class LingerTests(WebTestCase):
    web_options = {"register_timeout": 30}

    @inlineCallbacks
    def test_close_never_answered(self) -> Any:
        """
        A client that never answers the server's close is cut off after
        10 seconds, as a TCP client that does not close is.
        """
        from twisted.internet import reactor
        from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
        from twisted.internet.protocol import Protocol

        received: list[bytes] = []
        lost: Deferred[None] = Deferred()

        class Mute(Protocol):
            def dataReceived(self, data: bytes) -> None:
                received.append(data)

            def connectionLost(self, reason: object = None) -> None:
                lost.callback(None)

        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port)
        mute = yield connectProtocol(endpoint, Mute())
        mute.transport.write(
            b"GET /json HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        for _ in range(500):
            if self.web.json.connections:
                break
            yield deferLater(reactor, 0.01, lambda: None)
        self.advance(31)  # no nick: closed for the registration timeout
        for _ in range(500):
            if b"\x88" in b"".join(received):
                break
            yield deferLater(reactor, 0.01, lambda: None)
        self.assertFalse(lost.called)
        self.clock.advance(10)
        lost.addTimeout(10, reactor)
        yield lost
        self.assertEqual(self.web.json.connections, set())


class KillTests(WebTestCase):
    @inlineCallbacks
    def test_killed(self) -> Any:
        """A server operator's KILL: its ERROR, then close 4004 with the reason."""
        alice = yield self.irc_user("alice")
        bob = yield self.tcp_user("bob")
        oper = self.chat.nicks["bob"]
        oper.oper = "admin"
        self.chat.kill(oper, "alice", "spam")
        yield alice.line("ERROR :Closing Link: 127.0.0.1 (Killed (bob (spam)))")
        code, reason = yield alice.closed
        self.assertEqual((code, reason), (4004, "Killed (bob (spam))"))
        self.assertTrue(bob.connected)


class FloodTests(WebTestCase):
    web_options = {"flood": FloodLimit(burst=5, rate=2.0, excess=10)}

    @inlineCallbacks
    def test_irc_flood(self) -> Any:
        """Too far ahead of the flood allowance: Excess Flood, close 4000."""
        alice = yield self.irc_user("alice")
        for n in range(30):
            alice.send(f"PRIVMSG alice :{n}")
        yield alice.line("ERROR :Closing Link: 127.0.0.1 (Excess Flood)")
        code, reason = yield alice.closed
        self.assertEqual((code, reason), (4000, "Excess Flood"))

    @inlineCallbacks
    def test_json_flood(self) -> Any:
        client = yield self.connect("/json")
        client.request(cmd="nick", nick="alice")
        for n in range(40):
            client.request(cmd="msg", to="alice", text=str(n))
        bye = yield client.json(type="bye")
        self.assertEqual(bye["code"], "flood")
        code, _ = yield client.closed
        self.assertEqual(code, 4000)


class TimeoutTests(WebTestCase):
    web_options = {"register_timeout": 30}

    @inlineCallbacks
    def test_registration_timeout(self) -> Any:
        client = yield self.connect("/", ["text.ircv3.net"])
        self.advance(31)
        yield client.line("ERROR :Closing Link")
        code, reason = yield client.closed
        self.assertEqual((code, reason), (4003, "Registration timed out"))

    @inlineCallbacks
    def test_json_registration_timeout(self) -> Any:
        client = yield self.connect("/json")
        self.advance(31)
        bye = yield client.json(type="bye")
        self.assertEqual(bye["code"], "register_timeout")
        code, _ = yield client.closed
        self.assertEqual(code, 4003)

    @inlineCallbacks
    def test_idle_timeout(self) -> Any:
        """Pinged at half the idle timeout, reaped at all of it: 4002."""
        alice = yield self.irc_user("alice")
        self.advance(31)
        yield alice.line("PING chatd.local")
        self.advance(31)
        yield alice.line("ERROR :Closing Link")
        code, reason = yield alice.closed
        self.assertEqual((code, reason), (4002, "Ping timeout: 60 seconds"))

    @inlineCallbacks
    def test_pong_keeps_alive(self) -> Any:
        alice = yield self.irc_user("alice")
        self.advance(31)
        yield alice.line("PING chatd.local")
        alice.send("PONG chatd.local")
        alice.send("PING :sync")
        yield alice.line("PONG")
        self.advance(31)
        self.assertIn("alice", self.chat.nicks)


class LineLengthTests(WebTestCase):
    @inlineCallbacks
    def test_irc_too_long(self) -> Any:
        """A message longer than an IRC line: 417 and skipped, as over TCP."""
        alice = yield self.irc_user("alice")
        alice.send("PRIVMSG alice :" + "x" * 600)
        yield alice.line(" 417 alice :Input line was too long")
        alice.send("PING :still here")
        yield alice.line("still here")

    @inlineCallbacks
    def test_json_too_long(self) -> Any:
        """A JSON request longer than max_line: bye line_too_long, 4005."""
        client = yield self.connect("/json")
        client.request(cmd="msg", to="x", text="x" * 20000)
        bye = yield client.json(type="bye")
        self.assertEqual(bye["code"], "line_too_long")
        code, _ = yield client.closed
        self.assertEqual(code, 4005)

    @inlineCallbacks
    def test_far_too_long(self) -> Any:
        """
        Beyond twice the longest line the message is not read: 1009, and
        the others see the user quit.
        """
        alice = yield self.irc_user("alice")
        alice.send("JOIN #a")
        yield alice.line(" 366 ")
        bob = yield self.tcp_user("bob")
        bob.send("JOIN #a")
        yield bob.line(" 366 ")
        alice.send("PRIVMSG alice :" + "x" * 40000)
        code, _ = yield alice.closed
        self.assertEqual(code, 1009)
        quit = yield bob.line(" QUIT ")
        self.assertEqual(quit, b":alice!~a@127.0.0.1 QUIT :WebSocket message too big")
        self.assertEqual(self.web.irc.disconnections, {"websocket_error": 1})

    @inlineCallbacks
    def test_text_not_utf8(self) -> Any:
        """A text message that is not UTF-8 breaks the WebSocket: 1007."""
        alice = yield self.irc_user("alice")
        alice.send(b"PRIVMSG alice :caf\xe9")
        code, _ = yield alice.closed
        self.assertEqual(code, 1007)
        self.assertNotIn("alice", self.chat.nicks)

    @inlineCallbacks
    def test_binary_not_utf8(self) -> Any:
        """In a binary message it is refused as over TCP, and the client stays."""
        alice = yield self.irc_user("alice")
        alice.send(b"PRIVMSG alice :caf\xe9", binary=True)
        yield alice.line("FAIL PRIVMSG INVALID_UTF8")
        alice.send("PING :still")
        yield alice.line("PONG chatd.local still")

    @inlineCallbacks
    def test_newline_inside(self) -> Any:
        """A LF inside a message ends a line there, as it would over TCP."""
        alice = yield self.irc_user("alice")
        alice.send("PING :one\nPING :two")
        yield alice.line("PONG chatd.local one")
        yield alice.line("PONG chatd.local two")


class PerAddressTests(WebTestCase):
    web_options = {
        "gate": Gate(AddressLimit(per_address=1, exempt_loopback=False)),
    }

    @inlineCallbacks
    def test_too_many(self) -> Any:
        """The per-address limit counts WebSocket sessions: 4007."""
        yield self.irc_user("alice")
        second = yield self.connect("/", ["text.ircv3.net"])
        yield second.line("ERROR :")
        code, _ = yield second.closed
        self.assertEqual(code, 4007)

    @inlineCallbacks
    def test_websocket_counted_once(self) -> Any:
        """
        A WebSocket counts as a session, not also as an HTTP connection; plain
        HTTP connections have a cap of their own, with the same limit.
        """
        yield self.irc_user("alice")  # would be refused if counted twice
        code, body, _ = yield self.get("/healthz")
        self.assertEqual((code, body), (200, b"ok\n"))
        self.assertEqual(self.web._http_counts, {})


class SendQTests(WebTestCase):
    web_options = {"max_sendq": 32 * 1024}
    irc_options = {"flood": FloodLimit(burst=0)}

    @inlineCallbacks
    def test_slow_reader(self) -> Any:
        """
        A WebSocket client that stops reading is dropped at the SendQ cap,
        counted in the connection beneath (the fan-out writes frames
        straight to it): the others see it quit, and once it reads again it
        finds ERROR and close 4001.
        """
        alice = yield self.irc_user("alice", small_window=True)
        alice.send("JOIN #a")
        yield alice.line(" 366 ")
        bob = yield self.tcp_user("bob")
        bob.send("JOIN #a")
        yield bob.line(" 366 ")
        alice.transport.pauseProducing()
        text = "y" * 400
        for batch in range(200):  # at most 200 * 20 * 440 bytes: 1.7 MB
            for n in range(20):
                bob.send(f"PRIVMSG #a :{batch} {n} {text}")
            bob.send(f"PING :{batch}")
            yield bob.line(f"PONG chatd.local {batch}")
            self.clock.advance(0)  # a dropped reader is taken out next turn
            if "alice" not in self.chat.nicks:
                break
        quit = yield bob.line(" QUIT ")
        self.assertEqual(quit, b":alice!~a@127.0.0.1 QUIT :SendQ exceeded")
        self.assertLess(batch, 199)
        alice.read_again()
        code, reason = yield alice.closed
        self.assertEqual((code, reason), (4001, "SendQ exceeded"))
        lines = [p for p, _ in alice.messages]
        self.assertEqual(lines[-1], b"ERROR :Closing Link: 127.0.0.1 (SendQ exceeded)")


class PingFloodTests(WebTestCase):
    #: big enough that the client is not over it when its output first
    #: backs up: the pongs it is owed after that must count
    web_options = {"max_sendq": 1024 * 1024}

    @inlineCallbacks
    def test_pings_never_read(self) -> Any:
        """
        A client that sends WebSocket pings and never reads is not answered
        beyond its SendQ: it is closed with 4001 and the pongs the server
        holds for it stay bounded.
        """
        alice = yield self.irc_user("alice", small_window=True)
        bob = yield self.tcp_user("bob")
        alice.transport.pauseProducing()
        for batch in range(400):  # at most 400 * 50 * 131 bytes of pongs: 2.6 MB
            for _ in range(50):
                alice.sendPing(b"p" * 125)
            bob.send(f"PING :{batch}")
            yield bob.line(f"PONG chatd.local {batch}")
            self.clock.advance(0)  # a dropped reader is taken out next turn
            if "alice" not in self.chat.nicks:
                break
        self.assertNotIn("alice", self.chat.nicks)
        alice.read_again()
        code, reason = yield alice.closed
        self.assertEqual((code, reason), (4001, "SendQ exceeded"))

    @inlineCallbacks
    def test_latest_ping_answered_on_drain(self) -> Any:
        """
        While a client's output is backed up its pings are not answered;
        once it reads again, the latest is.
        """
        alice = yield self.irc_user("alice", small_window=True)
        bob = yield self.tcp_user("bob")
        [session] = self.web.connections
        pongs: list[bytes] = []
        alice.onPong = pongs.append  # type: ignore[method-assign]
        alice.transport.pauseProducing()
        sent = 0
        for batch in range(400):
            for _ in range(50):
                alice.sendPing(b"p" * 125)
                sent += 1
            bob.send(f"PING :{batch}")
            yield bob.line(f"PONG chatd.local {batch}")
            if session.shim.door.pending_pong is not None:
                break
        self.assertIsNotNone(session.shim.door.pending_pong)
        alice.sendPing(b"the latest")
        bob.send("PING :last")
        yield bob.line("PONG chatd.local last")
        alice.read_again()
        got: Deferred[bytes] = Deferred()
        alice.onPong = lambda payload: (  # type: ignore[method-assign]
            pongs.append(payload),
            payload == b"the latest" and not got.called and got.callback(payload),
        )
        got.addTimeout(10, reactor)
        yield got
        self.assertLess(len(pongs), sent + 1)

    @inlineCallbacks
    def test_ping_answered(self) -> Any:
        """A client that reads gets a pong for its ping."""
        alice = yield self.irc_user("alice")
        got: Deferred[bytes] = Deferred()
        alice.onPong = got.callback  # type: ignore[method-assign]
        alice.sendPing(b"hello")
        payload = yield got
        self.assertEqual(payload, b"hello")

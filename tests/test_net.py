"""
The connection base both adapters share (chatd.net.connection): a handler
may return a Deferred, and the connection's later input waits for it.
Test-only handlers are registered for the test and fired by hand.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred, succeed
from twisted.trial.unittest import SynchronousTestCase

from chatd.core import ChatError
from chatd.irc.factory import IRCFactory
from chatd.irc.message import Line, build
from chatd.irc.protocol import COMMANDS as IRC_COMMANDS
from chatd.irc.protocol import IRCProtocol
from chatd.jsonproto import codec
from chatd.jsonproto.lines import ChatProtocol
from chatd.jsonproto.session import COMMANDS as JSON_COMMANDS
from chatd.net.connection import HELD_MAX
from chatd.net.limits import FloodLimit
from tests.support import Server
from tests.test_irc import IRCClient


class JSONLaterTests(SynchronousTestCase):
    """A JSON command whose handler returns a Deferred."""

    def setUp(self) -> None:
        self.server = Server()
        self.pending: list[tuple[Deferred[bytes], codec.Request]] = []

        def do_slow(proto: ChatProtocol, request: codec.Request) -> Deferred[bytes]:
            d: Deferred[bytes] = Deferred()
            self.pending.append((d, request))
            return d

        JSON_COMMANDS["slow"] = ('{"cmd":"slow"} - finishes later (tests)', False)
        self.addCleanup(JSON_COMMANDS.pop, "slow")
        ChatProtocol.do_slow = do_slow  # type: ignore[attr-defined]
        self.addCleanup(delattr, ChatProtocol, "do_slow")

    def test_later_lines_wait_and_run_in_order(self) -> None:
        alice = self.server.user("alice")
        alice.send({"cmd": "slow", "id": 1})
        alice.send({"cmd": "ping", "id": 2})
        alice.send({"cmd": "ping", "id": 3})
        self.assertEqual(alice.lines(), [])
        self.assertEqual(alice.transport.producerState, "paused")
        [(d, request)] = self.pending
        d.callback(codec.ok("slow", request.request_id))
        self.assertEqual(
            [(r["cmd"], r["id"]) for r in alice.lines()],
            [("slow", 1), ("ping", 2), ("ping", 3)],
        )
        self.assertEqual(alice.transport.producerState, "producing")
        self.assertEqual(alice.request("ping", id=4)["id"], 4)

    def test_a_held_command_may_finish_later_too(self) -> None:
        alice = self.server.user("alice")
        alice.send({"cmd": "slow", "id": 1})
        alice.send({"cmd": "slow", "id": 2})
        alice.send({"cmd": "ping", "id": 3})
        self.pending[0][0].callback(codec.ok("slow", 1))
        self.assertEqual([r["id"] for r in alice.lines()], [1])
        self.pending[1][0].callback(codec.ok("slow", 2))
        self.assertEqual([r["id"] for r in alice.lines()], [2, 3])

    def test_chat_error_is_reported_like_at_once(self) -> None:
        alice = self.server.user("alice")
        alice.send({"cmd": "slow", "id": 1})
        alice.send({"cmd": "ping", "id": 2})
        self.pending[0][0].errback(ChatError("no_such_nick", "no user is called x"))
        error, pong = alice.lines()
        self.assertEqual(
            error,
            {
                "type": "error",
                "cmd": "slow",
                "id": 1,
                "code": "no_such_nick",
                "message": "no user is called x",
            },
        )
        self.assertEqual((pong["cmd"], pong["id"]), ("ping", 2))

    def test_other_failure_is_an_internal_error(self) -> None:
        alice = self.server.user("alice")
        alice.send({"cmd": "slow", "id": 1})
        alice.send({"cmd": "ping", "id": 2})
        self.pending[0][0].errback(ZeroDivisionError())
        error, pong = alice.lines()
        self.assertEqual((error["code"], error["id"]), ("internal_error", 1))
        self.assertNotIn("Traceback", error["message"])
        self.assertEqual(pong["id"], 2)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_already_fired(self) -> None:
        alice = self.server.user("alice")
        ChatProtocol.do_slow = lambda proto, request: succeed(  # type: ignore[attr-defined]
            codec.ok("slow", request.request_id)
        )
        self.assertEqual(alice.request("slow", id=7)["id"], 7)
        self.assertEqual(alice.request("ping", id=8)["id"], 8)

    def test_closed_while_waiting(self) -> None:
        alice = self.server.user("alice")
        bob = self.server.user("bob")
        alice.send({"cmd": "slow", "id": 1})
        alice.send({"cmd": "ping", "id": 2})
        alice.transport.loseConnection()
        self.assertFalse(alice.connected)
        alice.lines()
        self.pending[0][0].callback(codec.ok("slow", 1))
        self.assertEqual(alice.transport.value(), b"")
        # a failure after the close is still logged, and nothing is raised
        alice2 = self.server.user("carol")
        alice2.send({"cmd": "slow", "id": 1})
        alice2.transport.loseConnection()
        self.pending[1][0].errback(ZeroDivisionError())
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(bob.request("ping", id=1)["type"], "ok")

    def test_client_ends_while_waiting(self) -> None:
        alice = self.server.user("alice")
        alice.send_raw(b'{"cmd":"slow","id":1}\n{"cmd":"ping","id":2}')
        alice.proto.readConnectionLost()
        self.assertTrue(alice.connected)
        self.pending[0][0].callback(codec.ok("slow", 1))
        self.assertEqual([r["id"] for r in alice.lines()], [1, 2])
        self.assertFalse(alice.connected)

    def test_held_lines_are_bounded(self) -> None:
        alice = self.server.user("alice")
        alice.send({"cmd": "slow", "id": 1})
        alice.send_raw(b'{"cmd":"ping"}\n' * (HELD_MAX + 1))
        [bye] = alice.lines()
        self.assertEqual((bye["type"], bye["code"]), ("bye", "flood"))
        self.assertFalse(alice.connected)
        self.pending[0][0].callback(codec.ok("slow", 1))
        self.assertEqual(alice.lines(), [])

    def test_held_lines_still_have_their_length_limit(self) -> None:
        server = Server(max_line=100)
        alice = server.user("alice")
        alice.send({"cmd": "slow", "id": 1})
        alice.send_raw(b'{"cmd":"ping","pad":"' + b"x" * 200 + b'"}\n')
        [bye] = alice.lines()
        self.assertEqual(bye["code"], "line_too_long")


class IRCLaterTests(SynchronousTestCase):
    """An IRC command whose handler returns a Deferred."""

    def setUp(self) -> None:
        self.server = Server()
        self.factory = IRCFactory(
            self.server.chat,
            self.server.clock,
            server_name="irc.test",
            created=0,
            flood=FloodLimit(burst=0),
        )
        self.pending: list[Deferred[None]] = []

        def irc_SLOW(proto: IRCProtocol, line: Line) -> Deferred[None]:
            d: Deferred[None] = Deferred()
            # what the handler says when it is done
            d.addCallback(
                lambda _: proto.write(
                    build("NOTICE", proto.me, "done", prefix="irc.test")
                )
            )
            self.pending.append(d)
            return d

        IRC_COMMANDS["SLOW"] = (irc_SLOW, 0, True)
        self.addCleanup(IRC_COMMANDS.pop, "SLOW")

    def tearDown(self) -> None:
        self.assertEqual(list(self.server.chat.check_invariants()), [])

    def irc(self, nick: str, *caps: str) -> IRCClient:
        client = IRCClient(self.factory, 50000 + len(self.server.chat.users))
        client.register(nick, *caps)
        return client

    def test_later_lines_wait_and_run_in_order(self) -> None:
        alice = self.irc("alice")
        alice.send("SLOW", "PING one", "PING two")
        self.assertEqual(alice.lines(), [])
        self.assertEqual(alice.transport.producerState, "paused")
        self.pending[0].callback(None)
        self.assertEqual(
            [(r.command, r.params[-1]) for r in alice.lines()],
            [("NOTICE", "done"), ("PONG", "one"), ("PONG", "two")],
        )
        self.assertEqual(alice.transport.producerState, "producing")
        self.assertEqual(alice.codes("PING x"), ["PONG"])

    def test_chat_error_goes_through_the_numerics_table(self) -> None:
        alice = self.irc("alice")
        alice.send("SLOW #nowhere", "PING x")
        self.pending[0].errback(ChatError("no_such_channel", "no channel #nowhere"))
        error, pong = alice.lines()
        self.assertEqual(error.command, "403")
        self.assertEqual(error.params, ["alice", "#nowhere", "No such channel"])
        self.assertEqual(pong.command, "PONG")

    def test_other_failure_is_an_internal_error(self) -> None:
        alice = self.irc("alice")
        alice.send("SLOW", "PING x")
        self.pending[0].errback(ZeroDivisionError())
        fail, pong = alice.lines()
        self.assertEqual(fail.command, "FAIL")
        self.assertEqual(fail.params[:2], ["SLOW", "INTERNAL_ERROR"])
        self.assertEqual(pong.command, "PONG")
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    def test_label_covers_what_comes_later(self) -> None:
        alice = self.irc("alice", "labeled-response", "batch")
        alice.send("@label=a1 SLOW", "@label=a2 PING x")
        self.assertEqual(alice.lines(), [])
        self.pending[0].callback(None)
        notice, pong = alice.lines()
        self.assertEqual((notice.command, notice.tags), ("NOTICE", {"label": "a1"}))
        self.assertEqual((pong.command, pong.tags), ("PONG", {"label": "a2"}))

    def test_closed_while_waiting(self) -> None:
        alice = self.irc("alice")
        alice.send("SLOW", "PING x")
        alice.send("QUIT :bye")
        alice.transport.loseConnection()
        self.assertFalse(alice.connected)
        alice.raw()
        self.pending[0].callback(None)
        self.assertEqual(alice.raw(), [])

    def test_flood_delay_and_a_later_handler_share_the_hold(self) -> None:
        self.factory.flood = FloodLimit(burst=1, rate=1.0, excess=20)
        alice = self.irc("alice")
        alice.send("JOIN #a", "SLOW", "JOIN #b", "PING x")
        # JOIN #a ran; SLOW waits on its Deferred; the rest is held behind it
        first = alice.lines()[0]
        self.assertEqual(first.command, "JOIN")
        self.pending[0].callback(None)
        # JOIN #b costs a token the bucket does not have yet: still delayed
        [done] = alice.lines()
        self.assertEqual(done.params[-1], "done")
        self.server.clock.advance(1.0)
        commands = [r.command for r in alice.lines()]
        self.assertEqual((commands[0], commands[-1]), ("JOIN", "PONG"))

    def test_held_lines_are_bounded(self) -> None:
        alice = self.irc("alice")
        alice.send("SLOW")
        alice.send_raw(b"PING x\r\n" * (HELD_MAX + 1))
        self.assertFalse(alice.connected)
        self.assertIn("Excess Flood", alice.raw()[-1])
        self.pending[0].callback(None)

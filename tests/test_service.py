"""
The service over real loopback sockets: several clients talking, listening
errors, and shutdown that says goodbye.
"""

from __future__ import annotations

import json
import platform
import socket
from typing import Any, Callable

from twisted.internet import reactor, threads
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import EventLoggingObserver, StringTransport
from twisted.logger import formatEvent, globalLogPublisher
from twisted.protocols.basic import LineReceiver
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatd import service as service_module
from chatd.core import Channel, Chat
from chatd.irc.factory import IRCFactory
from chatd.jsonproto.lines import ChatFactory
from chatd.memory import MIN_DROP, TRIM_INTERVAL, MemoryTrim, malloc_trim
from chatd.service import ChatService, ListenError


class LineClient(LineReceiver):
    """A test client that keeps every line and can wait for one."""

    delimiter = b"\n"

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.waiting: list[
            tuple[Callable[[dict[str, Any]], bool], Deferred[dict[str, Any]]]
        ] = []
        self.closed: Deferred[None] = Deferred()

    def lineReceived(self, line: bytes) -> None:
        obj = json.loads(line)
        self.received.append(obj)
        for entry in list(self.waiting):
            if entry[0](obj):
                self.waiting.remove(entry)
                entry[1].callback(obj)

    def connectionLost(self, reason: object = None) -> None:
        self.closed.callback(None)

    def send(self, **obj: Any) -> None:
        self.sendLine(json.dumps(obj).encode())

    def wait_for(self, **match: Any) -> Deferred[dict[str, Any]]:
        def test(obj: dict[str, Any]) -> bool:
            return all(obj.get(k) == v for k, v in match.items())

        for obj in self.received:
            if test(obj):
                return succeed(obj)
        d: Deferred[dict[str, Any]] = Deferred()
        self.waiting.append((test, d))
        return d

    def request(self, **obj: Any) -> Deferred[dict[str, Any]]:
        rid = len(self.received) + 1000 + len(self.waiting)
        d = self.wait_for(id=rid)
        self.send(id=rid, **obj)
        return d


class LoopbackTests(TestCase):
    timeout = 20

    def setUp(self) -> None:
        self.chat = Chat(max_users=50)
        self.factory = ChatFactory(self.chat, reactor, idle_timeout=60)
        self.service = ChatService(
            reactor, [(self.factory, ["tcp:0:interface=127.0.0.1"])]
        )
        self.service.startService()
        self.addCleanup(self._stop)
        self.port = self.service.ports[0].getHost().port

    def _stop(self) -> Deferred[None] | None:
        if self.service.running:
            return self.service.stopService()
        return None

    @inlineCallbacks
    def connect(self, nick: str | None = None, *channels: str):  # type: ignore[no-untyped-def]
        client = LineClient()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port)
        welcome = client.wait_for(type="welcome")
        yield connectProtocol(endpoint, client)
        yield welcome
        if nick is not None:
            reply = yield client.request(cmd="nick", nick=nick)
            self.assertEqual(reply["type"], "ok")
        for channel in channels:
            reply = yield client.request(cmd="join", channel=channel)
            self.assertEqual(reply["type"], "ok")
        return client

    @inlineCallbacks
    def test_several_clients_in_several_channels(self):  # type: ignore[no-untyped-def]
        alice = yield self.connect("alice", "#tea", "#coffee")
        bob = yield self.connect("bob", "#tea")
        carol = yield self.connect("carol", "#coffee")
        # Each message reaches exactly the other members of its channel.
        got_bob = bob.wait_for(type="message", text="tea time")
        reply = yield alice.request(cmd="msg", to="#tea", text="tea time")
        self.assertEqual(reply["type"], "ok")
        msg = yield got_bob
        self.assertEqual(
            (msg["from"], msg["to"], msg["ts"]), ("alice", "#tea", reply["ts"])
        )
        got_alice = alice.wait_for(type="message", text="coffee?")
        yield carol.request(cmd="msg", to="#coffee", text="coffee?")
        yield got_alice
        got_carol = carol.wait_for(type="message", to="carol")
        yield bob.request(cmd="msg", to="Carol", text="a secret")
        private = yield got_carol
        self.assertEqual(private["text"], "a secret")
        # Quit: the others see one quit each and the connection closes.
        quits = [alice.wait_for(type="quit", nick="bob")]
        bob.send(cmd="quit", reason="bedtime")
        yield bob.closed
        self.assertEqual([m["type"] for m in bob.received[-2:]], ["ok", "bye"])
        event = yield quits[0]
        self.assertEqual(event["reason"], "bedtime")
        self.assertFalse(any(m.get("text") == "tea time" for m in carol.received))
        self.assertFalse(
            any(
                m["type"] == "message"
                for m in alice.received
                if m.get("from") == "alice"
            )
        )
        # A dropped connection is a quit too.
        dropped = alice.wait_for(type="quit", nick="carol")
        carol.transport.loseConnection()
        event = yield dropped
        self.assertEqual(event["reason"], "connection closed")

    @inlineCallbacks
    def test_shutdown_says_bye_to_everyone(self):  # type: ignore[no-untyped-def]
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        clients = []
        for nick in ["a", "b", "c"]:
            clients.append((yield self.connect(nick, "#x")))
        anon = yield self.connect()
        yield self.service.stopService()
        for client in [*clients, anon]:
            yield client.closed
            self.assertEqual(
                client.received[-1],
                {
                    "type": "bye",
                    "code": "shutdown",
                    "reason": "the server is shutting down",
                },
            )
            # Nobody saw the others quit during the shutdown.
            self.assertFalse(any(m["type"] == "quit" for m in client.received))
        self.assertIn("chatd stopped", [formatEvent(e) for e in events])
        # The port is closed.
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", self.port)), 0)

    def test_piped_requests_get_every_reply(self) -> None:
        """
        Like `printf ... | nc`: requests, then a half-close; every reply
        still arrives before the server closes.
        """
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        self.addCleanup(s.close)
        received = s.makefile("rb")
        self.addCleanup(received.close)

        def send_and_half_close(welcome: bytes) -> Deferred[bytes]:
            self.assertEqual(json.loads(welcome)["type"], "welcome")
            # Sent from the reactor's thread, so the server sees the requests
            # and the end of input together, after the welcome went out.
            s.sendall(b'{"cmd":"nick","nick":"pipe"}\n{"cmd":"list","id":1}\n')
            s.shutdown(socket.SHUT_WR)
            return threads.deferToThread(received.read)

        def check(data: bytes) -> None:
            lines = [json.loads(line) for line in data.splitlines()]
            self.assertEqual(
                [(m["type"], m.get("cmd")) for m in lines],
                [("ok", "nick"), ("ok", "list")],
            )
            self.assertEqual(self.chat.nicks, {})

        d = threads.deferToThread(received.readline)
        d.addCallback(send_and_half_close)
        return d.addCallback(check)

    def test_listen_error(self) -> None:
        factory = ChatFactory(Chat(), reactor)
        busy = ChatService(
            reactor, [(factory, [f"tcp:{self.port}:interface=127.0.0.1"])]
        )
        e = self.assertRaises(ListenError, busy.privilegedStartService)
        self.assertIn(f"tcp:{self.port}", str(e))
        self.assertIn("in use", str(e))
        self.assertEqual(busy.ports, [])


class NoDelayTests(TestCase):
    """
    Both listeners turn Nagle's algorithm off, so a lone chat line is not
    held back for the peer's delayed ACK (up to 40 ms on Linux).
    """

    timeout = 20

    @inlineCallbacks
    def test_accepted_connections_send_at_once(self):  # type: ignore[no-untyped-def]
        chat = Chat(max_users=10)
        factories = [
            ChatFactory(chat, reactor, idle_timeout=60),
            IRCFactory(chat, reactor, idle_timeout=60),
        ]
        service = ChatService(
            reactor, [(f, ["tcp:0:interface=127.0.0.1"]) for f in factories]
        )
        service.startService()
        self.addCleanup(service.stopService)
        for factory, port in zip(factories, service.ports):
            client = LineClient()
            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
            yield connectProtocol(endpoint, client)
            for _ in range(200):  # until the server side has accepted it
                if factory.connections:
                    break
                yield deferLater(reactor, 0.01, lambda: None)
            (proto,) = factory.connections
            handle = proto.transport.getHandle()
            self.assertTrue(
                handle.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY),
                type(factory).__name__,
            )
            client.transport.loseConnection()


class DrainTests(SynchronousTestCase):
    def test_stuck_connections_are_aborted_after_a_while(self) -> None:
        """A peer that never lets go cannot hold shutdown up forever."""
        clock = Clock()
        factory = ChatFactory(Chat(), clock)
        service = ChatService(clock, [(factory, [])])
        service.startService()
        proto = factory.buildProtocol(None)
        aborted = []
        transport = StringTransport()
        transport.abortConnection = lambda: aborted.append(True)  # type: ignore[method-assign]
        proto.makeConnection(transport)
        d = service.stopService()
        self.assertIn(b'"code":"shutdown"', transport.value())
        self.assertNoResult(d)
        clock.advance(5)
        self.successResultOf(d)
        self.assertEqual(aborted, [True])


class MemoryTrimTests(SynchronousTestCase):
    """The heap is given back to the system after a crowd has left."""

    def test_trims_after_many_connections_have_gone(self) -> None:
        clock, trims, count = Clock(), [], [0]
        memory = MemoryTrim(lambda: count[0], lambda: trims.append(count[0]), clock)
        memory.start()

        def after(n: int) -> list[int]:
            count[0] = n
            clock.advance(TRIM_INTERVAL)
            return trims

        self.assertEqual(after(2000), [])
        self.assertEqual(after(1600), [])  # a fifth gone: not yet
        self.assertEqual(after(1400), [1400])  # 600 gone
        self.assertEqual(after(1400), [1400])  # once
        self.assertEqual(after(1000), [1400, 1000])  # 400 gone since
        self.assertEqual(after(100), [1400, 1000, 100])
        # fewer than MIN_DROP gone is never worth it, even if most are
        self.assertEqual(after(100 - MIN_DROP + 1), [1400, 1000, 100])
        memory.stop()
        self.assertEqual(after(5000), [1400, 1000, 100])
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_service_trims_when_its_clients_leave(self) -> None:
        trims: list[int] = []
        self.patch(service_module, "malloc_trim", lambda: lambda: trims.append(1))
        clock = Clock()
        factory = ChatFactory(Chat(), clock)
        service = ChatService(clock, [(factory, [])])
        service.startService()
        protos = [factory.buildProtocol(None) for _ in range(100)]
        for proto in protos:
            proto.makeConnection(StringTransport())
        clock.advance(TRIM_INTERVAL)
        for proto in protos[:80]:
            proto.connectionLost(None)
        self.assertEqual(trims, [])
        clock.advance(TRIM_INTERVAL)
        self.assertEqual(trims, [1])
        service.stopService()

    def test_malloc_trim_on_glibc(self) -> None:
        trim = malloc_trim()
        if platform.libc_ver()[0] != "glibc":
            self.assertIsNone(trim)
            return
        assert trim is not None
        self.assertIn(trim(), (0, 1))


class StateCheckTests(SynchronousTestCase):
    def stop(self, chat: Chat) -> list[str]:
        clock = Clock()
        service = ChatService(clock, [(ChatFactory(chat, clock), [])])
        service.startService()
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        service.stopService()
        return [formatEvent(e) for e in observer if e["log_level"].name == "error"]

    def test_sound_state_logs_nothing(self) -> None:
        self.assertEqual(self.stop(Chat()), [])

    def test_inconsistent_state_is_logged_at_shutdown(self) -> None:
        chat = Chat()
        chat.channels["#ghost"] = Channel("#ghost")  # a bug would do this
        self.assertEqual(
            self.stop(chat),
            ["inconsistent state: <Channel #ghost (0 members)> is empty"],
        )

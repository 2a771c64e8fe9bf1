"""
The service over real loopback sockets: several clients talking, listening
errors, and shutdown that says goodbye; and config reloads (on a memory
reactor), by call and by SIGHUP.
"""

from __future__ import annotations

import base64
import json
import os
import platform
import signal
import socket
from pathlib import Path
from typing import Any, Callable

from twisted.internet import reactor, threads
from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import CannotListenError
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import (
    EventLoggingObserver,
    MemoryReactorClock,
    StringTransport,
)
from twisted.logger import LogLevel, formatEvent, globalLogPublisher
from twisted.protocols.basic import LineReceiver
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatd import service as service_module
from chatd.config import ConfigError, NoConfigFile, OperSpec
from chatd.core import Channel, Chat
from chatd.irc.factory import IRCFactory
from chatd.jsonproto.lines import ChatFactory
from chatd.log import get_level, set_level
from chatd.memory import MIN_DROP, TRIM_INTERVAL, MemoryTrim, malloc_trim
from chatd.net.limits import FloodLimit
from chatd.net.listener import Listener
from chatd.service import DRAIN_TIMEOUT, ChatService, ListenError, ReloadResult
from chatd.tap import Options, makeService


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


class ListeningReactor(MemoryReactorClock):
    """
    A MemoryReactorClock whose TCP ports are open until stopListening,
    which refuses a port open already and the ports in C{taken}.
    """

    def __init__(self) -> None:
        super().__init__()
        self.taken: set[int] = set()
        self.open: dict[int, _Port] = {}

    def listenTCP(  # type: ignore[override]
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> _Port:
        if port in self.taken or port in self.open:
            raise CannotListenError(interface, port, OSError(98, "in use"))
        self.open[port] = _Port(self, port, factory)
        return self.open[port]


class _Port:
    def __init__(self, reactor: ListeningReactor, port: int, factory: Any) -> None:
        self.reactor, self.port, self.factory = reactor, port, factory

    def stopListening(self) -> None:
        del self.reactor.open[self.port]

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", "0.0.0.0", self.port)


def fake_hash() -> str:
    """Something shaped like chatd-admin hash-password's output, made now."""
    salt = base64.b64encode(os.urandom(16)).decode()
    return f"$scrypt$ln=15,r=8,p=1${salt}${salt}"


class ReloadTests(SynchronousTestCase):
    """ChatService.reload: the whole file, checked, applied at once."""

    def setUp(self) -> None:
        self.addCleanup(set_level, get_level())
        self.reactor = ListeningReactor()
        self.directory = Path(self.mktemp()).resolve()
        self.directory.mkdir()
        self.path = self.directory / "chatd.toml"
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)

    def start(self, text: str, *args: str) -> ChatService:
        """chatd started as twistd would with C{--config} a file of C{text}."""
        self.path.write_text(text, "utf-8")
        options = Options()
        options.parseOptions(["--config", str(self.path), *args])
        service = makeService(options, self.reactor)
        service.startService()
        self.addCleanup(self.stop, service)
        return service

    def stop(self, service: ChatService) -> None:
        if service.running:
            service.stopService()
            self.reactor.advance(DRAIN_TIMEOUT)

    def reload(self, service: ChatService, text: str) -> ReloadResult:
        self.path.write_text(text, "utf-8")
        return self.successResultOf(service.reload())

    def fails(self, service: ChatService, text: str) -> ConfigError:
        self.path.write_text(text, "utf-8")
        return self.failureResultOf(service.reload(), ConfigError).value

    def connect(self, factory: Listener, host: str = "192.0.2.1") -> Any:
        proto = factory.buildProtocol(IPv4Address("TCP", host, 1234))
        transport = StringTransport(peerAddress=IPv4Address("TCP", host, 1234))
        proto.makeConnection(transport)
        return proto

    def logged(self, level: LogLevel) -> list[str]:
        return [formatEvent(e) for e in self.events if e["log_level"] == level]

    def test_limits(self) -> None:
        service = self.start("[json]\nlisten = ['tcp:7001']\n")
        [factory] = service.factories
        proto = self.connect(factory)
        assert proto.bucket is not None and factory.gate is not None
        result = self.reload(
            service,
            "[json]\nlisten = ['tcp:7001']\n"
            "[limits]\nmax_clients = 9\nidle_timeout = 10\nmax_line = 512\n"
            "register_timeout = 0\nmax_sendq = '64K'\nmax_per_ip = 3\n"
            "connects_per_minute = 0\nexempt_ip = ['10.0.0.0/8']\n"
            "exempt_loopback = false\n"
            "[flood]\nburst = 4\nrate = 0.5\nexcess = 7\n",
        )
        self.assertEqual(factory.chat.max_users, 9)
        self.assertEqual((factory.idle_timeout, factory.max_line), (10, 512))
        self.assertEqual((factory.register_timeout, factory.max_sendq), (0, 64 << 10))
        self.assertEqual(factory.flood, FloodLimit(4, 0.5, 7))
        limit = factory.gate.limit
        self.assertEqual((limit.per_address, limit.connects), (3, 0))
        self.assertEqual([str(n) for n in limit.exempt], ["10.0.0.0/8"])
        self.assertFalse(limit.exempt_loopback)
        self.assertEqual(factory.gate.connections("192.0.2.1"), 1)  # still counted
        # the open connection goes on under the new flood limit...
        self.assertEqual((proto.bucket.burst, proto.bucket.rate), (4, 0.5))
        self.assertFalse(proto.transport.disconnecting)
        # ...and the new idle timeout, its timer restarted
        self.reactor.advance(9)
        self.assertFalse(proto.transport.disconnecting)
        self.reactor.advance(3)
        self.assertIn(b'"code":"idle_timeout"', proto.transport.value())
        self.assertIn("flood.rate: 2.0 -> 0.5", result.changed)
        self.assertIn("limits.max_sendq: 1048576 -> 65536", result.changed)
        self.assertEqual(len(result.changed), 12)
        self.assertEqual(result.restart, ())
        self.assertIs(service.settings, result.settings)
        self.assertIn(
            f"config reloaded from {self.path}: limits.max_clients: 1000 -> 9; ",
            "\n".join(self.logged(LogLevel.info)),
        )

    def test_nothing_changed(self) -> None:
        service = self.start("[flood]\nrate = 3\n")
        result = self.reload(service, "[flood]\nrate = 3.0  # the same\n")
        self.assertEqual((result.changed, str(result)), ((), "nothing changed"))

    def test_motd_is_read_again(self) -> None:
        motd = self.directory / "motd.txt"
        motd.write_text("old news\n", "utf-8")
        config = "[irc]\nlisten = ['tcp:6667']\n[server]\nmotd = 'motd.txt'\n"
        service = self.start(config)
        irc = service.factories[1]
        first = self.connect(irc)
        first.dataReceived(b"NICK a\r\nUSER a 0 * :A\r\n")
        self.assertIn(b"372 a :- old news\r\n", first.transport.value())
        motd.write_text("new news\nline two\n", "utf-8")
        result = self.reload(service, config)
        self.assertEqual(result.changed, (f"server.motd: read {motd} (2 lines)",))
        second = self.connect(irc)
        second.dataReceived(b"NICK b\r\nUSER b 0 * :B\r\n")
        self.assertIn(b"372 b :- new news\r\n", second.transport.value())
        self.assertNotIn(b"old news", second.transport.value())
        # and without one
        result = self.reload(service, "[irc]\nlisten = ['tcp:6667']\n")
        self.assertEqual(result.changed, (f"server.motd: {motd} -> none",))
        third = self.connect(irc)
        third.dataReceived(b"NICK c\r\nUSER c 0 * :C\r\n")
        self.assertIn(b"422 c :MOTD File is missing", third.transport.value())

    def test_listeners_added_and_closed(self) -> None:
        service = self.start("[json]\nlisten = ['tcp:7001', 'tcp:7002']\n")
        [json_factory] = service.factories
        self.assertEqual(sorted(self.reactor.open), [7001, 7002])
        staying = self.connect(json_factory)
        result = self.reload(
            service,
            "[json]\nlisten = ['tcp:7002', 'tcp:7003']\n"
            "[irc]\nport = 6667\nlisten = ['tcp:6697']\n",
        )
        self.assertEqual(sorted(self.reactor.open), [6667, 6697, 7002, 7003])
        self.assertEqual(
            result.changed,
            (
                "stopped listening for JSON on tcp:7001",
                "listening for JSON on tcp:7003",
                "listening for IRC on tcp:6667:backlog=1024",
                "listening for IRC on tcp:6697",
            ),
        )
        json_again, irc = service.factories
        self.assertIs(json_again, json_factory)
        self.assertIsInstance(irc, IRCFactory)
        self.assertIs(irc.chat, json_factory.chat)
        self.assertIs(irc.gate, json_factory.gate)
        self.assertIs(self.reactor.open[6667].factory, irc)
        self.assertEqual(service.listeners[1][1], ["tcp:6667:backlog=1024", "tcp:6697"])
        self.assertFalse(staying.transport.disconnecting)
        self.assertIn(staying, json_factory.connections)
        # the new listener's timers run: a silent IRC client is pinged
        client = self.connect(irc)
        client.dataReceived(b"NICK a\r\nUSER a 0 * :A\r\n")
        self.reactor.advance(100)
        self.assertIn(b"PING", client.transport.value())
        # IRC closed again: its clients stay, its factory too
        self.reload(service, "[json]\nlisten = ['tcp:7002', 'tcp:7003']\n")
        self.assertEqual(sorted(self.reactor.open), [7002, 7003])
        self.assertEqual(service.listeners[1], (irc, []))
        self.assertIn(client, irc.connections)
        # stopping says goodbye to everyone, on every listener
        service.stopService()
        self.assertIn(b"ERROR :Closing Link", client.transport.value())
        self.assertEqual(self.reactor.open, {})

    def test_an_endpoint_rewritten_for_the_same_port(self) -> None:
        service = self.start("[json]\nport = 7001\n")
        self.reload(service, "[json]\nlisten = ['tcp:7001:interface=0.0.0.0']\n")
        self.assertEqual(list(self.reactor.open), [7001])
        self.assertEqual(service.listeners[0][1], ["tcp:7001:interface=0.0.0.0"])

    def test_a_port_that_cannot_be_had_changes_nothing(self) -> None:
        service = self.start("[json]\nlisten = ['tcp:7001', 'tcp:7002']\n")
        [factory] = service.factories
        self.reactor.taken.add(7005)
        before = service.settings
        error = self.fails(
            service,
            "[json]\nlisten = ['tcp:7001', 'tcp:7003', 'tcp:7005']\n"
            "[irc]\nlisten = ['tcp:6667']\n[flood]\nrate = 9\n",
        )
        self.assertEqual(error.key, "json.listen")
        self.assertEqual(
            str(error),
            f"{self.path}: json.listen: cannot listen on 'tcp:7005': "
            "Couldn't listen on any:7005: [Errno 98] in use.",
        )
        self.assertEqual(sorted(self.reactor.open), [7001, 7002])
        self.assertEqual(len(service.ports), 2)
        self.assertEqual(service.factories, [factory])
        self.assertEqual(factory.flood.rate, 2)
        self.assertIs(service.settings, before)
        [line] = self.logged(LogLevel.error)
        self.assertEqual(line, f"config not reloaded, nothing changed: {error}")

    def test_an_invalid_file_changes_nothing(self) -> None:
        service = self.start("[flood]\nrate = 3\n")
        [factory] = service.factories
        before = service.settings
        error = self.fails(service, "[flood]\nrate = 9\n[limits]\nmax_clients = 0\n")
        self.assertEqual(
            str(error),
            f"{self.path}: limits.max_clients: must be a whole number, 1 or more (got 0)",
        )
        self.assertEqual(factory.flood.rate, 3)
        self.assertIs(service.settings, before)
        self.assertEqual(
            self.logged(LogLevel.error),
            [f"config not reloaded, nothing changed: {error}"],
        )
        # nor does a file that is gone, or is not TOML
        self.path.unlink()
        self.failureResultOf(service.reload(), ConfigError)
        self.fails(service, "[flood\n")
        self.assertEqual(factory.flood.rate, 3)
        # nor an empty file, most likely caught half-written: as all
        # defaults it would close listeners and drop every operator
        for blank in ("", " \n\n"):
            error = self.fails(service, blank)
            self.assertIn("is empty: a file being written?", str(error))
            self.assertIs(service.settings, before)
        # (a file of comments only, as chatd.example.toml, is all defaults)
        self.reload(service, "# nothing set\n")
        self.assertEqual(factory.flood.rate, 2)

    def test_the_command_line_still_wins(self) -> None:
        service = self.start("[flood]\nrate = 3\n", "--flood-rate", "5")
        [factory] = service.factories
        result = self.reload(service, "[flood]\nrate = 9\nburst = 4\n")
        self.assertEqual(factory.flood, FloodLimit(4, 5, 20))
        self.assertEqual(result.changed, ("flood.burst: 10 -> 4",))

    def test_what_needs_a_restart(self) -> None:
        service = self.start("[irc]\nport = 6667\n")
        irc = service.factories[1]
        result = self.reload(
            service,
            "[irc]\nport = 6667\n"
            "[server]\nname = 'irc.example.org'\n"
            "[storage]\nurl = 'postgresql://chatd:hunter2@db/chatd'\n"
            "[flood]\nrate = 3\n",
        )
        self.assertEqual(result.restart, ("server.name", "storage.url"))
        self.assertEqual(result.changed, ("flood.rate: 2.0 -> 3.0",))
        self.assertEqual(
            str(result),
            "flood.rate: 2.0 -> 3.0 (server.name, storage.url: only at a restart)",
        )
        self.assertEqual(irc.server_name, "chatd.local")  # type: ignore[attr-defined]
        assert service.settings is not None
        self.assertEqual(service.settings.server.name, "chatd.local")
        self.assertEqual(service.settings.storage.url, "sqlite")
        self.assertEqual(service.settings.flood.rate, 3)
        warnings = self.logged(LogLevel.warn)
        self.assertEqual(
            warnings,
            [
                f"server.name changed in {self.path}, but only a restart changes "
                'it (it stays "chatd.local")',
                f"storage.url changed in {self.path}, but only a restart changes "
                "it (it stays sqlite)",
            ],
        )
        # Said again on the next reload: the file still differs.
        self.reload(service, self.path.read_text("utf-8"))
        self.assertEqual(len(self.logged(LogLevel.warn)), 4)
        self.assertFalse([e for e in self.events if "hunter2" in formatEvent(e)])

    def test_operators_and_log_level(self) -> None:
        service = self.start("")
        self.assertEqual(service.opers, ())
        hash_ = fake_hash()
        result = self.reload(
            service,
            "[server]\nlog_level = 'debug'\n"
            f"[[oper]]\nname = 'alice'\npassword = '{hash_}'\n"
            f"[[oper]]\nname = 'bob'\npassword = '{hash_}'\nhostmask = 'bob!*@*'\n",
        )
        self.assertEqual(
            service.opers,
            (OperSpec("alice", hash_), OperSpec("bob", hash_, "bob!*@*")),
        )
        self.assertEqual(get_level(), LogLevel.debug)
        self.assertEqual(
            result.changed,
            ('server.log_level: "info" -> "debug"', "oper: alice added, bob added"),
        )
        result = self.reload(
            service,
            f"[[oper]]\nname = 'bob'\npassword = '{hash_}'\n"
            f"[[oper]]\nname = 'carol'\npassword = '{hash_}'\n",
        )
        self.assertEqual(
            result.changed[1], "oper: carol added, alice removed, bob changed"
        )
        self.assertEqual(get_level(), LogLevel.info)
        self.assertFalse([e for e in self.events if hash_ in formatEvent(e)])

    def test_rehash_and_what_follows_a_reload(self) -> None:
        """REHASH gets one line; what keeps a copy of the settings is told."""
        service = self.start("")
        seen: list[float] = []
        service.on_reload.append(lambda settings: 1 / 0)
        service.on_reload.append(lambda settings: seen.append(settings.flood.rate))
        self.path.write_text("[flood]\nrate = 3\n", "utf-8")
        line = self.successResultOf(service.rehash())
        self.assertEqual(line, "flood.rate: 2.0 -> 3.0")
        self.assertEqual(seen, [3.0])  # a broken follower stops nobody
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.path.write_text("[flood]\nrate = 0\n", "utf-8")
        failure = self.failureResultOf(service.rehash(), ConfigError)
        self.assertEqual(
            failure.getErrorMessage(),
            f"{self.path}: flood.rate: must be a number above 0 (got 0)",
        )
        self.assertEqual(seen, [3.0])

    def test_without_a_config_file(self) -> None:
        message = "no config file to reload: chatd was started without --config"
        options = Options()
        options.parseOptions([])
        service = makeService(options, self.reactor)
        for chat in (service, ChatService(Clock(), [])):
            error = self.failureResultOf(chat.reload(), NoConfigFile).value
            self.assertEqual(str(error), message)
            self.assertIsInstance(error, ConfigError)
        self.assertEqual(self.logged(LogLevel.warn), [message, message])

    def test_one_reload_at_a_time(self) -> None:
        service = self.start("[json]\nlisten = ['tcp:7001']\n")
        stopping: Deferred[None] = Deferred()
        port = self.reactor.open[7001]
        self.patch(port, "stopListening", lambda: stopping)
        self.path.write_text("[json]\nlisten = ['tcp:7002']\n", "utf-8")
        first_d = service.reload()
        second_d = service.reload()
        self.assertNoResult(first_d)
        self.assertNoResult(second_d)
        del self.reactor.open[7001]
        stopping.callback(None)
        self.assertEqual(
            self.successResultOf(first_d).changed,
            (
                "stopped listening for JSON on tcp:7001",
                "listening for JSON on tcp:7002",
            ),
        )
        self.assertEqual(self.successResultOf(second_d).changed, ())


class SighupTests(SynchronousTestCase):
    """SIGHUP reloads, under a real reactor; the handler before is put back."""

    def test_sighup_reloads(self) -> None:
        self.addCleanup(set_level, get_level())
        path = Path(self.mktemp()).resolve()
        # The listener is named, not the default 8123, which a chatd the
        # developer runs beside the tests may hold (the reload would then
        # fail to listen, and rightly change nothing).
        listen = '[json]\nlisten = ["tcp:0:interface=127.0.0.1"]\n'
        path.write_text(listen + "[flood]\nrate = 3\n", "utf-8")
        options = Options()
        options.parseOptions(["--config", str(path)])
        factory = ChatFactory(Chat(), reactor, flood=FloodLimit(10, 3, 20))
        service = ChatService(
            reactor,
            [(factory, ["tcp:0:interface=127.0.0.1"])],
            settings=options.settings,
            source=options.source,
        )
        before = signal.getsignal(signal.SIGHUP)
        service.startService()
        self.addCleanup(lambda: service.running and service.stopService())
        handler = signal.getsignal(signal.SIGHUP)
        self.assertNotEqual(handler, before)
        assert callable(handler)
        calls: list[Callable[[], object]] = []
        original = reactor.callFromThread

        def from_thread(f: Callable[..., object], *args: object) -> None:
            # Only the service's own calls: a thread pool left by another
            # test may call in too.
            if getattr(f, "__self__", None) is service:
                calls.append(f)
            else:
                original(f, *args)

        self.patch(reactor, "callFromThread", from_thread)
        path.write_text(listen + "[flood]\nrate = 7\n", "utf-8")
        handler(signal.SIGHUP, None)
        self.assertEqual(factory.flood.rate, 3)  # not inside the handler...
        [reload_now] = calls
        reload_now()  # ...but from the reactor's loop
        self.assertEqual(factory.flood.rate, 7)
        # a bad file is logged, not raised into the reactor
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        path.write_text(listen + "[flood]\nrate = 0\n", "utf-8")
        handler(signal.SIGHUP, None)
        calls[-1]()
        self.assertIn(
            f"config not reloaded, nothing changed: {path}: flood.rate",
            "\n".join(formatEvent(e) for e in events),
        )
        self.assertEqual(factory.flood.rate, 7)
        service.stopService()
        self.assertEqual(signal.getsignal(signal.SIGHUP), before)

    def test_no_handler_under_a_test_clock(self) -> None:
        before = signal.getsignal(signal.SIGHUP)
        clock = Clock()
        service = ChatService(clock, [(ChatFactory(Chat(), clock), [])])
        service.startService()
        self.assertEqual(signal.getsignal(signal.SIGHUP), before)
        service.stopService()


class AccountsStartTests(TestCase):
    """The accounts are read after the service starts, on the real reactor."""

    def serve(self, *args: str) -> ChatService:
        options = Options()
        options.parseOptions(
            [
                "--listen",
                "tcp:0:interface=127.0.0.1",
                "--state-dir",
                self.mktemp(),
                *list(args),
            ]
        )
        return makeService(options, reactor)

    @inlineCallbacks
    def test_clients_wait_until_the_accounts_are_read(self) -> Any:
        service = self.serve()
        service.startService()
        self.addCleanup(lambda: service.stopService() if service.running else None)
        [port] = service.ports
        # Bound at once, but not accepting: a client is kept in the backlog.
        self.assertFalse(service.accounts.started)  # type: ignore[union-attr]
        yield service.ready
        self.assertTrue(service.accounts.started)  # type: ignore[union-attr]
        client = LineClient()
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)
        yield connectProtocol(endpoint, client)
        welcome = yield client.wait_for(type="welcome")
        self.assertEqual(welcome["protocol"], 1)
        client.transport.loseConnection()
        yield client.closed

    def test_accounts_read_after_the_service_stopped(self) -> None:
        # The store opens in a thread: a service stopped before it is open
        # starts nothing when it is (the history's hourly expiry was left
        # running on the reactor, which trial then found in a later test).
        started: list[str] = []

        class Keeper:
            def start(self) -> None:
                started.append("expiry")

            def stop(self) -> Any:
                return succeed(None)

        running = MemoryReactorClock()
        running.running = True
        service = ChatService(running, [])
        service.history = Keeper()  # type: ignore[assignment]
        service.startService()
        service.stopService()
        service._accounts_ready(None)
        self.assertEqual(started, [])
        service.startService()
        service._accounts_ready(None)
        self.assertEqual(started, ["expiry"])

    def test_stopped_while_reading_the_accounts(self) -> None:
        # A store that fails after the service was stopped (its stop closed
        # it) must not stop the reactor: under trial that ends the run.
        from twisted.python.failure import Failure

        from chatd.store.errors import StoreError

        stopped: list[str] = []

        class Running(MemoryReactorClock):
            def stop(self) -> None:
                stopped.append("stop")

        running = Running()
        running.running = True
        service = ChatService(running, [])
        service.startService()
        service.stopService()
        service._accounts_failed(Failure(StoreError("the store is not open")))
        self.assertEqual(stopped, [])
        self.assertFalse(service.failed)
        # While running, the same failure stops the server.
        service.startService()
        service._accounts_failed(Failure(StoreError("cannot open it")))
        self.assertEqual(stopped, ["stop"])
        self.assertTrue(service.failed)

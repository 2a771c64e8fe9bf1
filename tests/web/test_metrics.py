"""
/metrics: what Prometheus reads changes as people connect, join, talk and
leave, and for each way a connection ends; the reactor's lag on a Clock;
the [metrics] settings; the page over HTTP on loopback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import reactor
from twisted.internet.address import IPv4Address
from twisted.internet.defer import inlineCallbacks
from twisted.internet.error import CannotListenError
from twisted.internet.task import Clock, deferLater
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase
from twisted.web.client import Agent, readBody
from twisted.web.http_headers import Headers
from twisted.web.test.requesthelper import DummyRequest

from chatd.config import ConfigError, ConfigSource
from chatd.core import Chat
from chatd.service import DRAIN_TIMEOUT, ChatService
from chatd.store import HistoryItem, SQLiteStore
from chatd.tap import Options, makeService
from chatd.timing import Durations, ReactorLag
from chatd.web.metrics import Metrics, MetricsPage, metrics_resource
from chatd.web.site import WebListener
from tests.web.support import ClientFactory

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(metrics: Metrics) -> Samples:
    """What a scrape shows, parsed as Prometheus parses it, by name and labels."""
    found: Samples = {}
    for family in text_string_to_metric_families(metrics.text().decode("utf-8")):
        for sample in family.samples:
            found[sample.name, frozenset(sample.labels.items())] = sample.value
    return found


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


class _Port:
    def __init__(self, number: int, factory: Any) -> None:
        self.number, self.factory = number, factory
        self.listening = True

    def stopListening(self) -> None:
        self.listening = False

    def getHost(self) -> IPv4Address:
        return IPv4Address("TCP", "0.0.0.0", self.number)


class PortsReactor(MemoryReactorClock):
    """A memory reactor whose TCP ports say where they listen."""

    def __init__(self) -> None:
        super().__init__()
        self.opened: list[_Port] = []

    def listenTCP(  # type: ignore[override]
        self, port: int, factory: Any, backlog: int = 50, interface: str = ""
    ) -> _Port:
        if port == 1:
            raise CannotListenError(interface, port, OSError(13, "denied"))
        self.opened.append(_Port(port, factory))
        return self.opened[-1]


class Service(SynchronousTestCase):
    """A whole server from its options, on a memory reactor."""

    def start(self, *args: str, history: bool = False) -> ChatService:
        state = Path(self.mktemp())
        state.mkdir()
        options = Options()
        options.parseOptions(
            [
                "--database",
                "memory:",
                "--state-dir",
                str(state),
                "--listen",
                "tcp:8123",
                "--irc-listen",
                "tcp:6667",
                "--irc-listen",
                "tcp:6697",
                *([] if history else ["--no-history"]),
                *args,
            ]
        )
        self.reactor = PortsReactor()
        service = makeService(options, self.reactor)
        service.startService()
        self.addCleanup(self.stop, service)
        return service

    def stop(self, service: ChatService) -> None:
        if service.running:
            service.stopService()
            self.reactor.advance(DRAIN_TIMEOUT)

    def connect(self, service: ChatService, kind: str, port: int = 0) -> Any:
        [factory] = [f for f in service.factories if f.kind == kind]
        address = IPv4Address("TCP", "192.0.2.1", 40000 + len(factory.connections))
        proto = factory.buildProtocol(address)
        port = port or {"JSON": 8123, "IRC": 6667}[kind]
        transport = StringTransport(
            hostAddress=IPv4Address("TCP", "198.51.100.1", port), peerAddress=address
        )
        proto.makeConnection(transport)
        return proto

    def json_user(self, service: ChatService, nick: str, *channels: str) -> Any:
        proto = self.connect(service, "JSON")
        send(proto, {"cmd": "nick", "nick": nick})
        for channel in channels:
            send(proto, {"cmd": "join", "channel": channel})
        proto.transport.clear()
        return proto

    def irc_user(self, service: ChatService, nick: str, *channels: str) -> Any:
        proto = self.connect(service, "IRC")
        proto.dataReceived(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
        for channel in channels:
            proto.dataReceived(f"JOIN {channel}\r\n".encode())
        proto.transport.clear()
        return proto


def send(proto: Any, request: dict[str, Any]) -> None:
    proto.dataReceived(json.dumps(request).encode() + b"\n")


class ScrapeTests(Service):
    def test_every_metric_is_chatd_s_or_the_process_s_and_says_what_it_is(
        self,
    ) -> None:
        service = self.start(history=True)
        assert service.metrics is not None
        text = service.metrics.text().decode("utf-8")
        families = list(text_string_to_metric_families(text))
        names = {f.name for f in families}
        self.assertTrue(
            {
                "chatd_connections",
                "chatd_users",
                "chatd_channels",
                "chatd_messages",
                "chatd_deliveries",
                "chatd_channel_message_bytes",
                "chatd_disconnections",
                "chatd_history_written",
                "chatd_history_unwritten",
                "chatd_history_lag_seconds",
                "chatd_reactor_lag_seconds",
            }
            <= names,
            names,
        )
        for family in families:
            self.assertTrue(
                family.name.startswith(("chatd_", "process_", "python_")), family.name
            )
            self.assertTrue(family.documentation, family.name)

    def test_connections_by_protocol_and_listener(self) -> None:
        service = self.start()
        assert service.metrics is not None
        self.connect(service, "JSON")
        self.connect(service, "IRC", 6667)
        self.connect(service, "IRC", 6697)
        self.connect(service, "IRC", 6697)
        found = scrape(service.metrics)
        self.assertEqual(
            value(found, "chatd_connections", protocol="json", listener="tcp:8123"), 1
        )
        self.assertEqual(
            value(found, "chatd_connections", protocol="irc", listener="tcp:6667"), 1
        )
        self.assertEqual(
            value(found, "chatd_connections", protocol="irc", listener="tcp:6697"), 2
        )
        self.assertEqual(value(found, "chatd_users_registering"), 4)

    def test_users_channels_messages_and_deliveries(self) -> None:
        service = self.start()
        assert service.metrics is not None
        alice = self.json_user(service, "alice", "#a")
        bob = self.json_user(service, "bob", "#a")
        carol = self.irc_user(service, "carol", "#a", "#b")
        found = scrape(service.metrics)
        self.assertEqual(value(found, "chatd_users"), 3)
        self.assertEqual(value(found, "chatd_users_registering"), 0)
        self.assertEqual(value(found, "chatd_channels"), 2)
        self.assertEqual(value(found, "chatd_messages_total"), 0)

        bob.transport.clear()
        send(alice, {"cmd": "msg", "to": "#a", "text": "hello"})
        found = scrape(service.metrics)
        self.assertEqual(value(found, "chatd_messages_total"), 1)
        # bob and carol, not alice herself
        self.assertEqual(value(found, "chatd_deliveries_total"), 2)
        self.assertEqual(
            value(found, "chatd_channel_message_bytes_total"),
            len(bob.transport.value()) + len(carol.transport.value()),
        )

        send(bob, {"cmd": "msg", "to": "carol", "text": "psst"})
        found = scrape(service.metrics)
        self.assertEqual(value(found, "chatd_messages_total"), 2)
        self.assertEqual(value(found, "chatd_deliveries_total"), 3)

    def test_disconnections_by_reason(self) -> None:
        service = self.start(
            "--idle-timeout",
            "100",
            "--register-timeout",
            "10",
            "--flood-burst",
            "1",
            "--flood-excess",
            "1",
            "--max-per-ip",
            "20",
            "--max-line",
            "100",
        )
        assert service.metrics is not None
        chat = service.factories[0].chat

        def ended(protocol: str) -> dict[str, float]:
            return {
                dict(labels)["reason"]: count
                for (name, labels), count in scrape(service.metrics).items()
                if name == "chatd_disconnections_total"
                and dict(labels)["protocol"] == protocol
            }

        quitter = self.json_user(service, "quitter")
        send(quitter, {"cmd": "quit"})
        quitter.connectionLost(None)
        self.assertEqual(ended("json"), {"quit": 1})

        irc_quitter = self.irc_user(service, "ircquit")
        irc_quitter.dataReceived(b"QUIT :bye\r\n")
        irc_quitter.connectionLost(None)
        self.assertEqual(ended("irc"), {"quit": 1})

        gone = self.json_user(service, "gone")
        gone.connectionLost(None)
        self.assertEqual(ended("json")["connection_closed"], 1)

        flooder = self.json_user(service, "flooder")
        for _ in range(5):
            send(flooder, {"cmd": "join", "channel": "#x"})
        flooder.connectionLost(None)
        self.assertEqual(ended("json")["flood"], 1)

        long = self.json_user(service, "long")
        long.dataReceived(b"x" * 200 + b"\n")
        long.connectionLost(None)
        self.assertEqual(ended("json")["line_too_long"], 1)

        oper = self.json_user(service, "oper")
        victim = self.json_user(service, "victim")
        oper.user.oper = "alice"
        chat.kill(oper.user, "victim", "spam")
        victim.connectionLost(None)
        self.assertEqual(ended("json")["killed"], 1)

        slow = self.json_user(service, "slow")
        slow.transport.dataBuffer = b"x" * (2 << 20)  # as a TCP transport's
        slow.output_backed_up()
        slow.connectionLost(None)
        self.assertEqual(ended("json")["sendq_exceeded"], 1)

        late = self.connect(service, "JSON")
        self.reactor.advance(11)
        late.connectionLost(None)
        self.assertEqual(ended("json")["register_timeout"], 1)

        oper.connectionLost(None)
        idle = self.irc_user(service, "idle")
        self.reactor.advance(150)
        idle.connectionLost(None)
        self.assertEqual(ended("irc")["idle_timeout"], 1)

        last = self.json_user(service, "last")
        service.stopService()
        last.connectionLost(None)
        self.assertEqual(ended("json")["shutdown"], 1)

    def test_refusals_are_counted_with_their_code(self) -> None:
        service = self.start("--max-per-ip", "1", "--no-exempt-loopback")
        assert service.metrics is not None
        self.connect(service, "JSON")
        refused = self.connect(service, "JSON")
        refused.connectionLost(None)
        found = scrape(service.metrics)
        self.assertEqual(
            value(
                found,
                "chatd_disconnections_total",
                protocol="json",
                reason="too_many_connections",
            ),
            1,
        )

    def test_history_writes_and_lag(self) -> None:
        service = self.start(history=True)
        assert service.metrics is not None
        alice = self.json_user(service, "alice", "#a")
        self.json_user(service, "bob", "#a")
        send(alice, {"cmd": "msg", "to": "#a", "text": "kept"})
        found = scrape(service.metrics)
        self.assertEqual(value(found, "chatd_messages_total"), 1)
        written = value(found, "chatd_history_written_total")
        self.assertGreaterEqual(value(found, "chatd_history_unwritten"), 1)
        self.assertEqual(value(found, "chatd_history_lag_seconds"), 0)
        # the clock moves before the log's timer has run: the lag shows it
        self.reactor.seconds = lambda: self.reactor.rightNow + 0.15  # type: ignore[method-assign]
        self.assertAlmostEqual(
            value(scrape(service.metrics), "chatd_history_lag_seconds"), 0.15
        )
        del self.reactor.seconds
        self.reactor.advance(1)
        found = scrape(service.metrics)
        self.assertGreater(value(found, "chatd_history_written_total"), written)
        self.assertEqual(value(found, "chatd_history_unwritten"), 0)
        self.assertEqual(value(found, "chatd_history_lag_seconds"), 0)

    def test_reactor_lag_is_measured_while_running(self) -> None:
        service = self.start()
        assert service.metrics is not None
        self.reactor.advance(1)
        self.reactor.advance(1)
        found = scrape(service.metrics)
        self.assertEqual(value(found, "chatd_reactor_lag_seconds_count"), 2)
        service.stopService()
        self.assertEqual(
            [c for c in self.reactor.getDelayedCalls() if "_fired" in repr(c)], []
        )


class StoreTimingTests(TestCase):
    """Each transaction of the SQL store is timed, by kind, once."""

    @inlineCallbacks
    def test_each_transaction(self) -> Any:
        store = SQLiteStore(str(Path(self.mktemp()).resolve()) + ".db", reactor)
        ticks = iter(range(100))
        store.timer = lambda: float(next(ticks))  # each timed call: 1 s
        yield store.open()
        self.addCleanup(store.close)
        opening = {kind: t.count for kind, t in store.timings.items()}
        item = HistoryItem(
            "m1", "#a", 1.0, "message", "alice", "a", "h", None, "#a", "hi"
        )
        yield store.append_history([item, item._replace(msgid="m2")])
        yield store.history_latest("#a", 10)
        yield store.load_accounts()
        counts = {kind: t.count - opening[kind] for kind, t in store.timings.items()}
        self.assertEqual(
            counts, {"history_append": 1, "history_read": 1, "write": 0, "read": 1}
        )
        self.assertEqual(store.timings["history_append"].total, 1.0)
        metrics = Metrics(ChatService(reactor, []), reactor)
        service = metrics.service
        service.accounts = type("Accounts", (), {"store": store, "accounts": None})()  # type: ignore[assignment]
        service.accounts.accounts = type("Registry", (), {"records": {}})()  # type: ignore[union-attr]
        found = scrape(metrics)
        self.assertEqual(
            value(
                found,
                "chatd_store_operation_seconds_count",
                operation="history_append",
            ),
            1,
        )
        self.assertEqual(
            value(
                found,
                "chatd_store_operation_seconds_bucket",
                operation="history_append",
                le="1.0",
            ),
            1,
        )


class RouterCountTests(SynchronousTestCase):
    """The core counts once per message, whoever the recipients are."""

    def test_skip_not_a_member_and_sessions_without_a_wire_form(self) -> None:
        chat = Chat()
        delivered: list[Any] = []

        class Session:
            def deliver(self, event: Any) -> None:
                delivered.append(event)

        alice = chat.connect(Session(), "a", "h", 0.0)
        bob = chat.connect(Session(), "b", "h", 0.0)
        chat.set_nick(alice, "alice", 0.0)
        chat.set_nick(bob, "bob", 0.0)
        chat.join(bob, "#a", 0.0).modes.flags.discard("n")
        chat.send(alice, "#a", "hi", 0.0)  # alice is not in it
        traffic = chat.router.traffic  # type: ignore[attr-defined]
        self.assertEqual((traffic.messages, traffic.deliveries), (1, 1))
        self.assertEqual(traffic.channel_bytes, 0)  # nothing was encoded
        self.assertEqual(len(delivered), 1)


class ReactorLagTests(SynchronousTestCase):
    def test_how_late_the_timer_fires(self) -> None:
        clock = Clock()
        lag = ReactorLag(clock)
        lag.startService()
        clock.advance(1)
        self.assertEqual((lag.latest, lag.durations.count), (0.0, 1))
        # the reactor was busy for 3.5 s: the timer due at 2 fires at 5.5
        clock.advance(4.5)
        self.assertEqual((lag.latest, lag.durations.count), (3.5, 2))
        self.assertEqual(lag.durations.total, 3.5)
        # and the next is due a second after that
        clock.advance(1)
        self.assertEqual((lag.latest, lag.durations.count), (0.0, 3))
        lag.stopService()
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_durations_as_buckets(self) -> None:
        durations = Durations((0.1, 1.0))
        for seconds in (0.05, 0.1, 0.5, 3.0):
            durations.add(seconds)
        self.assertEqual(durations.cumulative(), [("0.1", 2), ("1.0", 3), ("+Inf", 4)])
        self.assertEqual(durations.count, 4)


class SettingsTests(Service):
    def test_on_by_default_on_the_web_listener(self) -> None:
        service = self.start()
        self.assertIsNotNone(service.metrics)
        self.assertIsInstance(metrics_resource(service), MetricsPage)
        self.assertEqual(service.metrics_ports, [])

    def test_no_metrics(self) -> None:
        service = self.start("--no-metrics")
        self.assertIsNone(service.metrics)
        self.assertIsNone(metrics_resource(service))
        self.assertEqual(
            [c for c in self.reactor.getDelayedCalls() if "_fired" in repr(c)], []
        )

    def test_a_listener_of_their_own(self) -> None:
        service = self.start("--metrics-listen", "tcp:9123:interface=127.0.0.1")
        # served there, and not on the web listener
        self.assertIsNone(metrics_resource(service))
        [port] = service.metrics_ports
        self.assertEqual(port.getHost().port, 9123)
        request = DummyRequest([b"metrics"])
        resource = port.factory.resource.getChildWithDefault(b"metrics", request)
        self.assertIn(b"chatd_connections", resource.render(request))
        service.stopService()
        self.assertFalse(port.listening)

    def test_a_listener_that_cannot_be_had_stops_the_server(self) -> None:
        error = self.assertRaises(SystemExit, self.start, "--metrics-listen", "tcp:1")
        self.assertIn("cannot listen on 'tcp:1'", str(error))

    def test_from_the_file(self) -> None:
        path = Path(self.mktemp())
        path.write_text(
            '[metrics]\nenabled = true\nlisten = ["tcp:9123:interface=127.0.0.1"]\n'
        )
        settings = ConfigSource.of(str(path), {}).load()
        self.assertEqual(settings.metrics.listen, ("tcp:9123:interface=127.0.0.1",))
        self.assertFalse(settings.metrics.on_web)
        path.write_text("[metrics]\nenabled = false\n")
        settings = ConfigSource.of(str(path), {}).load()
        self.assertFalse(settings.metrics.enabled)
        self.assertFalse(settings.metrics.on_web)

    def test_a_listener_for_metrics_that_are_off_is_an_error(self) -> None:
        path = Path(self.mktemp())
        path.write_text('[metrics]\nenabled = false\nlisten = ["tcp:9123"]\n')
        error = self.assertRaises(ConfigError, ConfigSource.of(str(path), {}).load)
        self.assertEqual(error.key, "metrics.listen")
        self.assertIn("metrics are off", str(error))
        source = ConfigSource.of(
            None, {"metrics.enabled": True, "metrics.listen": ["tcp:9123"]}
        )
        # --no-metrics (a negated flag, given) with --metrics-listen
        self.assertRaises(ConfigError, source.load)

    def test_a_reload_keeps_them_as_they_started(self) -> None:
        path = Path(self.mktemp())
        path.write_text("[metrics]\nenabled = true\n")
        service = self.start("--config", str(path))
        path.write_text('[metrics]\nlisten = ["tcp:9124"]\n')
        result = self.successResultOf(service.reload())
        self.assertEqual(result.restart, ("metrics.listen",))
        assert service.settings is not None
        self.assertEqual(service.settings.metrics.listen, ())
        self.assertEqual(service.metrics_ports, [])

    def test_a_bad_endpoint(self) -> None:
        path = Path(self.mktemp())
        path.write_text('[metrics]\nlisten = ["nonsense:1"]\n')
        error = self.assertRaises(ConfigError, ConfigSource.of(str(path), {}).load)
        self.assertEqual(error.key, "metrics.listen[0]")


class PageTests(SynchronousTestCase):
    def test_text_format_and_its_type(self) -> None:
        metrics = Metrics(ChatService(Clock(), []), Clock())
        request = DummyRequest([b""])
        body = MetricsPage(metrics.registry).render_GET(request)
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"content-type"),
            [b"text/plain; version=0.0.4; charset=utf-8"],
        )
        self.assertIn(b"# TYPE chatd_build_info gauge", body)

    def test_openmetrics_when_asked_for(self) -> None:
        metrics = Metrics(ChatService(Clock(), []), Clock())
        request = DummyRequest([b""])
        request.requestHeaders.setRawHeaders(
            b"accept", [b"application/openmetrics-text; version=1.0.0"]
        )
        body = MetricsPage(metrics.registry).render_GET(request)
        [kind] = request.responseHeaders.getRawHeaders(b"content-type")
        self.assertTrue(kind.startswith(b"application/openmetrics-text"), kind)
        self.assertTrue(body.endswith(b"# EOF\n"))

    def test_a_failing_collection_is_a_500_without_a_traceback(self) -> None:
        metrics = Metrics(ChatService(Clock(), []), Clock())
        metrics.service.listening = None  # type: ignore[assignment]
        request = DummyRequest([b""])
        body = MetricsPage(metrics.registry).render_GET(request)
        self.assertEqual(request.responseCode, 500)
        self.assertNotIn(b"Traceback", body)
        self.assertEqual(len(self.flushLoggedErrors(TypeError)), 1)


class LoopbackTests(TestCase):
    """The page as Prometheus gets it: HTTP on 127.0.0.1."""

    @inlineCallbacks
    def test_get(self) -> Any:
        metrics = Metrics(ChatService(reactor, []), reactor)
        port = reactor.listenTCP(0, metrics.site(), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        agent = Agent(reactor)
        url = f"http://127.0.0.1:{port.getHost().port}".encode()
        response = yield agent.request(
            b"GET", url + b"/metrics", Headers({b"accept": [b"text/plain"]})
        )
        body = yield readBody(response)
        self.assertEqual(response.code, 200)
        names = {f.name for f in text_string_to_metric_families(body.decode())}
        self.assertIn("chatd_build_info", names)
        response = yield agent.request(b"GET", url + b"/elsewhere")
        yield readBody(response)
        self.assertEqual(response.code, 404)
        response = yield agent.request(b"POST", url + b"/metrics")
        yield readBody(response)
        self.assertEqual(response.code, 405)


class WebListenerTests(TestCase):
    """/metrics on the web listener, counting its WebSocket sessions."""

    timeout = 60

    def start(self, *args: str) -> ChatService:
        state = Path(self.mktemp())
        state.mkdir()
        options = Options()
        loopback = "tcp:0:interface=127.0.0.1"
        options.parseOptions(
            [
                *("--database", "memory:", "--state-dir", str(state)),
                *("--listen", loopback, "--web-listen", loopback, "--no-history"),
                *args,
            ]
        )
        service = makeService(options, reactor)
        service.startService()
        self.addCleanup(service.stopService)
        [self.web] = [f for f in service.factories if isinstance(f, WebListener)]
        [port] = [p for (f, _), p in service.listening().items() if f is self.web]
        self.url = f"127.0.0.1:{port.getHost().port}"
        return service

    @inlineCallbacks
    def get(self, path: str) -> Any:
        response = yield Agent(reactor).request(
            b"GET", f"http://{self.url}{path}".encode()
        )
        body = yield readBody(response)
        return response.code, body

    @inlineCallbacks
    def scrape(self) -> Any:
        code, body = yield self.get("/metrics")
        self.assertEqual(code, 200)
        found: Samples = {}
        for family in text_string_to_metric_families(body.decode("utf-8")):
            for sample in family.samples:
                found[sample.name, frozenset(sample.labels.items())] = sample.value
        return found

    @inlineCallbacks
    def connect(self, path: str, protocols: list[str]) -> Any:
        factory = ClientFactory(f"ws://{self.url}{path}", protocols=protocols)
        host, port = self.url.split(":")
        reactor.connectTCP(host, int(port), factory)  # type: ignore[attr-defined]
        client = yield factory.opened
        self.addCleanup(lambda: client.transport and client.transport.abortConnection())
        return client

    @inlineCallbacks
    def test_websocket_sessions_by_kind(self) -> Any:
        self.start()
        where = "tcp:0:interface=127.0.0.1"
        irc = yield self.connect("/irc", ["text.ircv3.net"])
        irc.send("NICK alice")
        irc.send("USER a 0 * :Alice")
        yield irc.line(" 001 ")
        json_client = yield self.connect("/json", [])
        yield json_client.json(type="welcome")
        found = yield self.scrape()
        self.assertEqual(
            value(found, "chatd_connections", protocol="ws-irc", listener=where), 1
        )
        self.assertEqual(
            value(found, "chatd_connections", protocol="ws-json", listener=where), 1
        )
        self.assertEqual(value(found, "chatd_users"), 1)
        json_client.sendClose(1000)
        yield json_client.closed
        for _ in range(500):  # the server's side goes on the next turns
            if not self.web.json.connections:
                break
            yield deferLater(reactor, 0.01, lambda: None)
        found = yield self.scrape()
        self.assertEqual(
            value(
                found,
                "chatd_disconnections_total",
                protocol="ws-json",
                reason="connection_closed",
            ),
            1,
        )
        self.assertEqual(
            value(found, "chatd_connections", protocol="ws-json", listener=where), 0
        )

    @inlineCallbacks
    def test_not_there_when_served_elsewhere_or_off(self) -> Any:
        service = self.start("--metrics-listen", "tcp:0:interface=127.0.0.1")
        code, _ = yield self.get("/metrics")
        self.assertEqual(code, 404)
        [port] = service.metrics_ports
        self.url = f"127.0.0.1:{port.getHost().port}"
        yield self.scrape()

    @inlineCallbacks
    def test_off(self) -> Any:
        self.start("--no-metrics")
        code, _ = yield self.get("/metrics")
        self.assertEqual(code, 404)
        code, _ = yield self.get("/healthz")
        self.assertEqual(code, 200)

# -*- test-case-name: tests.web.test_metrics -*-
"""
Prometheus metrics at C{/metrics}, read from the server's state when they
are scraped.

Nothing is counted for the metrics on the way a message goes: they read
what the server keeps anyway (its connections, users and channels, the
history log's counts) and a few plain integers the server keeps for them
(L{chatd.core.router.Traffic}, counted once per message;
L{chatd.net.listener.Listener.disconnections}, once per connection; the
store's L{chatd.timing.Durations}, once per transaction).  A scrape turns
them into Prometheus's text format, in the reactor's thread, so that it
sees a consistent state (prometheus_client's own Twisted resource would
run it in a thread beside the reactor).

docs/operations.md says what each metric means.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector, CollectorRegistry
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.web import http
from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site

import chatd
from chatd.log import logger
from chatd.timing import Durations, ReactorLag
from chatd.web.site import WebListener

if TYPE_CHECKING:
    from chatd.core import Chat
    from chatd.net.listener import Listener
    from chatd.service import ChatService

log = logger(__name__)

#: The path metrics are served at, on the web listener and on their own.
PATH = b"metrics"


def protocol_of(listener: Listener) -> str:
    """The C{protocol} label of a listener's connections: json, irc..."""
    return listener.kind.lower().replace(" ", "-")


class ChatCollector(Collector):
    """Reads the server's state into metric families at each scrape."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        metrics = self.metrics
        service = metrics.service
        yield _info()
        yield from self._connections()
        chat = metrics.chat()
        if chat is not None:
            yield from _chat(chat)
        accounts = service.accounts
        if accounts is not None:
            yield _gauge(
                "chatd_accounts",
                "Registered accounts.",
                len(accounts.accounts.records),
            )
        history = service.history
        if history is not None:
            yield from _history(history.log, metrics.clock.seconds())
        store = None if accounts is None else accounts.store
        timings = getattr(store, "timings", None)
        if timings:
            yield _store(timings)
        lag = metrics.lag
        yield _gauge(
            "chatd_reactor_last_lag_seconds",
            "How late the last once-a-second timer fired: how long the "
            "reactor was busy with something else.",
            lag.latest,
        )
        yield _histogram(
            "chatd_reactor_lag_seconds",
            "How late a timer set for every second fired, once a second.",
            [([], lag.durations)],
        )

    def _connections(self) -> Iterator[Metric]:
        connections = GaugeMetricFamily(
            "chatd_connections",
            "Open client connections, by wire protocol and the listener "
            "(endpoint string) they came in on.",
            labels=["protocol", "listener"],
        )
        ended = CounterMetricFamily(
            "chatd_disconnections",
            "Connections ended, by wire protocol and why: the code the client "
            "was told (flood, sendq_exceeded, idle_timeout, register_timeout, "
            "killed, quit, shutdown, line_too_long, a refusal such as "
            "too_many_connections), or connection_closed when the client went.",
            labels=["protocol", "reason"],
        )
        for protocol, listener, where in self.metrics.listeners():
            for endpoint, count in _by_endpoint(listener, where).items():
                connections.add_metric([protocol, endpoint], count)
            for reason, count in sorted(listener.disconnections.items()):
                ended.add_metric([protocol, reason], count)
        yield connections
        yield ended


def _info() -> Metric:
    info = GaugeMetricFamily(
        "chatd_build_info", "The chatd version running (always 1).", labels=["version"]
    )
    info.add_metric([chatd.__version__], 1)
    return info


def _gauge(name: str, help: str, value: float) -> Metric:
    return GaugeMetricFamily(name, help, value=value)


def _counter(name: str, help: str, value: float) -> Metric:
    return CounterMetricFamily(name, help, value=value)


def _histogram(
    name: str, help: str, series: list[tuple[list[str], Durations]], labels: Any = ()
) -> Metric:
    family = HistogramMetricFamily(name, help, labels=list(labels))
    for values, durations in series:
        family.add_metric(values, durations.cumulative(), durations.total)
    return family


def _chat(chat: Chat) -> Iterator[Metric]:
    yield _gauge(
        "chatd_users",
        "Users with a nick (registered with the server).",
        len(chat.nicks),
    )
    yield _gauge(
        "chatd_users_registering",
        "Connections that have not chosen a nick yet.",
        len(chat.users) - len(chat.nicks),
    )
    yield _gauge(
        "chatd_channels", "Channels (with members, or registered).", len(chat.channels)
    )
    yield _gauge(
        "chatd_channels_registered",
        "Registered channels.",
        sum(1 for c in chat.channels.values() if c.founder is not None),
    )
    traffic = getattr(chat.router, "traffic", None)
    if traffic is None:
        return
    yield _counter(
        "chatd_messages",
        "Messages, notices and actions sent, to channels and to users "
        "(TAGMSG and CTCP are not counted).",
        traffic.messages,
    )
    yield _counter(
        "chatd_deliveries",
        "Copies of those messages handed to their recipients (a channel "
        "message to 100 other members is 100).",
        traffic.deliveries,
    )
    yield _counter(
        "chatd_channel_message_bytes",
        "Bytes of channel messages written to members, in each member's wire "
        "form (private messages, replies, TLS and WebSocket framing are not "
        "counted).",
        traffic.channel_bytes,
    )


def _history(log: Any, now: float) -> Iterator[Metric]:
    yield _counter(
        "chatd_history_written", "History items written to the store.", log.written
    )
    yield _counter(
        "chatd_history_lost",
        "History items the store failed to write (logged as errors).",
        log.lost,
    )
    yield _gauge(
        "chatd_history_unwritten",
        "History items waiting to be written, or being written.",
        log.unwritten,
    )
    oldest = log.oldest_unwritten
    yield _gauge(
        "chatd_history_lag_seconds",
        "How long ago the oldest history item not yet written happened "
        "(0 when everything is written).",
        0.0 if oldest is None else max(0.0, now - oldest),
    )


def _store(timings: dict[str, Durations]) -> Metric:
    return _histogram(
        "chatd_store_operation_seconds",
        "How long the store took to answer, per transaction, from the call "
        "(waiting behind others included) to the answer: history_append "
        "(one batch of history), history_read, write, read.",
        [([kind], durations) for kind, durations in timings.items()],
        labels=["operation"],
    )


def _by_endpoint(
    listener: Listener, where: list[tuple[str, IListeningPort]]
) -> dict[str, int]:
    """
    C{listener}'s open connections counted by the endpoint each came in
    on: every one on its only endpoint, or by the local port when it has
    several (a system call per connection, at a scrape only).
    """
    count = len(listener.connections)
    if len(where) <= 1:
        return {where[0][0] if where else "": count}
    ports = {_local(port): d for d, port in where}
    counts = {d: 0 for d, _ in where}
    for proto in list(listener.connections):
        try:
            found = ports.get(_local(proto.transport))
        except Exception:  # gone meanwhile, or not a socket
            found = None
        key = found if found is not None else where[0][0]
        counts[key] += 1
    return counts


def _local(transport: Any) -> object:
    """What tells a listening port's connections from another's."""
    host = transport.getHost()
    port = getattr(host, "port", None)
    return port if port is not None else getattr(host, "name", None)


class Metrics:
    """
    The server's metrics: one registry with its collector, the reactor-lag
    timer, and the resource that serves them.
    """

    def __init__(self, service: ChatService, clock: IReactorTime) -> None:
        self.service = service
        self.clock = clock
        self.lag = ReactorLag(clock)
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(ChatCollector(self))
        self.registry.register(ProcessCollector(registry=None))
        self.registry.register(PlatformCollector(registry=None))

    def chat(self) -> Chat | None:
        factories = self.service.factories
        return factories[0].chat if factories else None

    def listeners(
        self,
    ) -> Iterator[tuple[str, Listener, list[tuple[str, IListeningPort]]]]:
        """
        Every listener with its C{protocol} label and the (endpoint, port)
        pairs it listens on.  The web listener's connections are those of
        its IRC and JSON factories: C{ws-irc} and C{ws-json}.
        """
        ports = self.service.listening()
        for factory in self.service.factories:
            where = [(d, p) for (f, d), p in ports.items() if f is factory]
            inner = factory.factories if isinstance(factory, WebListener) else ()
            if inner:
                for each in inner:
                    yield "ws-" + protocol_of(each), each, where
            else:
                yield protocol_of(factory), factory, where

    def resource(self) -> Resource:
        """What serves them: mount it at C{/metrics}."""
        return MetricsPage(self.registry)

    def site(self) -> Site:
        """A site serving C{/metrics} alone, for C{metrics.listen}."""
        root = _Root()
        root.putChild(PATH, self.resource())
        return QuietSite(root)

    def start(self) -> None:
        self.lag.startService()

    def stop(self) -> None:
        if self.lag.running:
            self.lag.stopService()

    def text(self) -> bytes:
        """The metrics in Prometheus's text format, as a scrape gets them."""
        encoder, _ = choose_encoder("")
        return bytes(encoder(self.registry))


class MetricsPage(Resource):
    """
    C{GET /metrics}: the registry in Prometheus's text format (or
    OpenMetrics, if the scraper asks for it).
    """

    isLeaf = True

    def __init__(self, registry: CollectorRegistry) -> None:
        super().__init__()
        self.registry = registry

    def render_GET(self, request: Request) -> bytes:
        accept = request.getHeader("accept") or ""
        encoder, content_type = choose_encoder(accept)
        try:
            body = encoder(self.registry)
        except Exception:
            log.failure("could not collect the metrics")
            request.setResponseCode(500)
            request.setHeader("content-type", "text/plain; charset=utf-8")
            return b"internal error: the metrics could not be collected\n"
        request.setHeader("content-type", content_type)
        return bytes(body)


class _Root(Resource):
    """Nothing but L{PATH}: every other path is 404 Not Found."""

    def getChild(self, path: bytes, request: Request) -> IResource:
        return notFound()


class QuietSite(Site):
    """A site that writes no access log line for each scrape."""

    def log(self, request: http.Request) -> None:
        pass


def metrics_resource(service: ChatService) -> Resource | None:
    """
    The C{/metrics} resource for the web listener, or None if it must not
    serve it (C{metrics.enabled = false}, or C{metrics.listen} serves it).
    """
    metrics = service.metrics
    settings = service.settings
    if metrics is None or (settings is not None and not settings.metrics.on_web):
        return None
    return metrics.resource()


__all__ = [
    "PATH",
    "ChatCollector",
    "Metrics",
    "MetricsPage",
    "metrics_resource",
    "protocol_of",
]

# -*- test-case-name: tests.test_service -*-
"""
The running server: listeners on endpoint strings, the idle reaper, an
orderly shutdown that says goodbye to every client, and config reloads
(C{SIGHUP}, and later the operators' REHASH) that change limits, the MOTD,
operators, listeners and the log level without dropping anyone.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Any

from twisted.application.service import Service
from twisted.internet.base import ReactorBase
from twisted.internet.defer import (
    Deferred,
    DeferredList,
    DeferredLock,
    TimeoutError,
    inlineCallbacks,
    maybeDeferred,
    succeed,
)
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.python.failure import Failure

import chatd
from chatd.accounts.service import AccountsService
from chatd.config import (
    BY_KEY,
    ConfigError,
    ConfigSource,
    NoConfigFile,
    OperSpec,
    Settings,
    changes,
    redact,
    show,
)
from chatd.core import Chat
from chatd.history.service import HistoryKeeper
from chatd.irc.factory import IRCFactory
from chatd.jsonproto.lines import ChatFactory
from chatd.log import LEVELS, logger, set_level
from chatd.memory import MemoryTrim, malloc_trim
from chatd.net.connection import Connection, format_peer
from chatd.net.limits import Gate
from chatd.net.listener import Listener
from chatd.net.proxy import server_endpoint, split_endpoint
from chatd.store.errors import StoreError
from chatd.web.metrics import Metrics, metrics_resource
from chatd.web.site import WebListener

log = logger(__name__)

#: How long shutdown waits for the last goodbyes to be written.
DRAIN_TIMEOUT = 5.0


class ListenError(SystemExit):
    """
    An endpoint could not be listened on.  It is a L{SystemExit}, so twistd
    stops with status 1 rather than a traceback.  Its message (C{str()})
    says why; the service has logged it already, so its exit C{code} is the
    bare status 1 and Python does not print the message a second time.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = 1


class ListenFailed(Exception):
    """
    An endpoint could not be listened on, in a daemon that twistd has
    forked: twistd's waiting parent learns of an L{Exception} through its
    status pipe, prints it and exits 1, but a L{SystemExit} would leave it
    waiting for ever.  The message is short, as twistd shows 100 bytes.
    """


@dataclass(frozen=True)
class ReloadResult:
    """
    What a reload did: a line for each change applied (C{changed}) and the
    keys that changed but wait for a restart (C{restart}); C{str()} says
    both in one line.
    """

    settings: Settings
    changed: tuple[str, ...]
    restart: tuple[str, ...]

    def __str__(self) -> str:
        text = "; ".join(self.changed) or "nothing changed"
        if self.restart:
            text += f" ({', '.join(self.restart)}: only at a restart)"
        return text


def _blank(path: str) -> bool:
    """Whether the file at C{path} holds nothing but white space."""
    try:
        with open(path, "rb") as f:
            return not f.read().strip()
    except OSError:
        return False  # the load says why


class ChatService(Service):
    """
    Serves each adapter's L{Listener} on its endpoints: C{listeners} pairs
    a factory (JSON lines, IRC...) with the endpoint strings it listens on.
    The factories share one core.

    Listening happens in L{privilegedStartService}, so twistd can bind low
    ports before it drops privileges, and a port that cannot be had stops
    the daemon at once with a clear message instead of leaving it half up.

    Made by L{from_settings}, it also knows its L{Settings} and where they
    came from (C{source}), and L{reload}s them on C{SIGHUP}.
    """

    name = "chatd"

    def __init__(
        self,
        reactor: Any,
        listeners: list[tuple[Listener, list[str]]],
        daemon: bool = False,
        *,
        settings: Settings | None = None,
        source: ConfigSource | None = None,
    ) -> None:
        self.reactor = reactor
        #: twistd forked us (it was run without -n): see L{ListenFailed}
        self.daemon = daemon
        self.listeners = [(factory, list(listen)) for factory, listen in listeners]
        self._ports: dict[tuple[Listener, str], IListeningPort] = {}
        self.memory: MemoryTrim | None = None
        #: fires when the server lets clients in (its accounts are read)
        self.ready: Deferred[None] = succeed(None)
        #: the accounts could not be read: the server is stopping
        self.failed = False
        #: the settings in force (those that need a restart as started)
        self.settings = settings
        self.source = source
        #: the server operators, from the config file's [[oper]] tables
        self.opers: tuple[OperSpec, ...] = () if settings is None else settings.opers
        #: called with the new settings after each reload has applied them,
        #: for what keeps its own copy (the operator blocks, account rules)
        self.on_reload: list[Callable[[Settings], object]] = []
        self._reloads = DeferredLock()
        #: while our SIGHUP handler is installed: the one it replaced
        self._sighup_before: Any = None
        #: the accounts, operators, store and registered channels (None in
        #: tests that build a bare service)
        self.accounts: AccountsService | None = None
        #: the history (None when it is off, and in bare tests)
        self.history: HistoryKeeper | None = None
        #: Prometheus's metrics (None when they are off, and in bare tests)
        self.metrics: Metrics | None = None
        #: the ports of metrics.listen, which serve /metrics alone
        self.metrics_ports: list[IListeningPort] = []

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        reactor: Any,
        *,
        source: ConfigSource | None = None,
        daemon: bool = False,
    ) -> ChatService:
        """The service that C{settings} describe, read from C{source}."""
        set_level(LEVELS[settings.server.log_level])
        service = cls(reactor, [], daemon, settings=settings, source=source)
        chat = Chat(max_users=settings.limits.max_clients)
        service.accounts = AccountsService(chat, settings, reactor)
        service.on_reload.append(service.accounts.reloaded)
        if settings.history.enabled:
            service.history = HistoryKeeper(
                chat, service.accounts.store, settings.history, reactor
            )
            keeper = service.history
            service.on_reload.append(lambda s: keeper.reloaded_history(s.history))
        if settings.metrics.enabled:
            service.metrics = Metrics(service, reactor)
        # one gate for every listener: the limits are per address, not port
        gate = Gate(settings.limits.address_limit)
        for table, endpoints in settings.endpoints.items():
            if endpoints or table == "json":
                factory = _factory(table, settings, chat, gate, reactor)
                service.listeners.append((service._equip(factory), list(endpoints)))
        return service

    def _equip(self, factory: Listener) -> Listener:
        """Give a listener the server's accounts, operators and REHASH."""
        accounts = self.accounts
        if accounts is not None:
            factory.accounts = accounts.accounts
            factory.opers = accounts.opers
            if isinstance(factory, IRCFactory):
                factory.gateways = accounts.gateways
        factory.history = None if self.history is None else self.history.history
        if self.source is not None and self.source.path is not None:
            factory.rehash = self.rehash
        if self.settings is not None:
            factory.trusted_proxies = self.settings.proxy.trusted
        if isinstance(factory, WebListener):
            # None when metrics are off or served on a listener of their own
            factory.mount("metrics", metrics_resource(self))
        return factory

    @property
    def factories(self) -> list[Listener]:
        return [factory for factory, _ in self.listeners]

    @property
    def ports(self) -> list[IListeningPort]:
        """The ports listened on, in the order they were opened."""
        return list(self._ports.values())

    def listening(self) -> dict[tuple[Listener, str], IListeningPort]:
        """Each listener's ports, by the listener and the endpoint string."""
        return dict(self._ports)

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        for factory, listen in self.listeners:
            for description in listen:
                self._listen(factory, description)
        if self.metrics is not None and self.settings is not None:
            site = self.metrics.site()
            for description in self.settings.metrics.listen:
                self._open(site, description, self._metrics_listening)
        if self.accounts is not None and not self.accounts.started:
            # Bound (a port in use stops the server now), but nobody is let
            # in before the accounts are read: the kernel queues them.
            for port in self._ports.values():
                pause = getattr(port, "stopReading", None)
                if pause is not None:
                    pause()

    def _listen(self, factory: Listener, description: str) -> None:
        self._open(factory, description, self._listening)

    def _open(
        self,
        factory: Any,
        description: str,
        then: Callable[[IListeningPort, Any, str], object],
    ) -> None:
        """Listen on C{description}; C{then} is given the port; stop if not."""
        failures: list[Failure] = []
        d = server_endpoint(self.reactor, description, factory).listen(factory)
        d.addCallbacks(then, failures.append, (factory, description))
        if failures:
            self._stop_listening()
            message = (
                f"chatd cannot listen on {description!r}: "
                f"{failures[0].getErrorMessage()}"
            )
            log.critical("{message}", message=message)
            if self.daemon:
                why = failures[0].value
                reason = getattr(getattr(why, "socketError", None), "strerror", None)
                raise ListenFailed(f"cannot listen on {description}: {reason or why}")
            raise ListenError(message)

    def _listening(
        self, port: IListeningPort, factory: Listener, description: str
    ) -> IListeningPort:
        self._ports[factory, description] = port
        log.info(
            "chatd listening for {kind} on {address} ({description})",
            kind=factory.kind,
            address=format_peer(port.getHost()),
            description=description,
        )
        if split_endpoint(description)[0] and not factory.trusted_proxies:
            log.warn(
                "{description} takes connections only from trusted proxies, and "
                "[proxy] trusted (--trusted-proxy) names none: it refuses everyone",
                description=description,
            )
        return port

    def _metrics_listening(
        self, port: IListeningPort, site: object, description: str
    ) -> IListeningPort:
        self.metrics_ports.append(port)
        log.info(
            "chatd serving metrics on {address} ({description})",
            address=format_peer(port.getHost()),
            description=description,
        )
        return port

    def startService(self) -> None:
        if not self._ports and any(listen for _, listen in self.listeners):
            self.privilegedStartService()
        super().startService()
        if self.metrics is not None:
            self.metrics.start()
        for factory in self.factories:
            factory.start_reaping()
        trim = malloc_trim()
        if trim is not None and self.factories:
            self.memory = MemoryTrim(
                self.connection_count, trim, self.factories[0].clock
            )
            self.memory.start()
        self._catch_sighup()
        if self.accounts is not None and not self.accounts.started:
            self.ready = self.accounts.start()
            self.ready.addCallbacks(self._accounts_ready, self._accounts_failed)
        log.info("chatd {version} started", version=chatd.__version__)

    def _accounts_ready(self, _: Any) -> None:
        if not self.running:
            # Stopped while the accounts were being read: start nothing (the
            # history's expiry would run on, its ports are closed).
            return
        if self.history is not None:
            self.history.start()
        for port in self._ports.values():
            resume = getattr(port, "startReading", None)
            if resume is not None:
                resume()
        log.info("chatd is ready: accounts and registered channels are loaded")

    def _accounts_failed(self, failure: Failure) -> None:
        """The store cannot be used: say why and stop, with status 1."""
        if not self.running:
            # Stopped while the accounts were being read: nothing to stop.
            log.info(
                "stopped before the accounts were read: {error}",
                error=failure.getErrorMessage(),
            )
            return
        log.critical("chatd cannot start: {error}", error=failure.getErrorMessage())
        if failure.check(StoreError) is None:
            log.failure("while reading the accounts", failure)
        self.failed = True
        reactor = self.reactor
        if hasattr(reactor, "addSystemEventTrigger") and reactor.running:
            # twistd has no exit status of its own to set: leave with 1
            # once the shutdown (and its goodbyes) are done.
            reactor.addSystemEventTrigger("after", "shutdown", os._exit, 1)
            reactor.stop()

    # reloading

    def _catch_sighup(self) -> None:
        """
        Reload on SIGHUP, under a real reactor in the main thread (not
        under a test's Clock or MemoryReactor, where no signal comes).
        """
        if not hasattr(signal, "SIGHUP") or not isinstance(self.reactor, ReactorBase):
            return
        if threading.current_thread() is not threading.main_thread():
            return
        before = signal.signal(signal.SIGHUP, self._sighup)
        self._sighup_before = signal.SIG_DFL if before is None else before

    def _release_sighup(self) -> None:
        if self._sighup_before is not None:
            signal.signal(signal.SIGHUP, self._sighup_before)
            self._sighup_before = None

    def _sighup(self, signum: int, frame: object) -> None:
        # A handler runs between any two bytecodes, perhaps inside the
        # reactor's own code: the reload waits for the reactor's loop.
        self.reactor.callFromThread(self._reload_on_signal)

    def _reload_on_signal(self) -> None:
        log.info("SIGHUP: reloading {file}", file=self.source and self.source.path)
        self.reload().addErrback(self._reload_failed)

    def _reload_failed(self, failure: Failure) -> None:
        if not failure.check(ConfigError):  # which reload() has logged
            log.failure("config reload failed", failure)

    def rehash(self) -> Deferred[str]:
        """L{reload}, with its result as the one line to show an operator."""
        return self.reload().addCallback(str)

    def reload(self) -> Deferred[ReloadResult]:
        """
        Read the config file again (and the MOTD) and, if all of it is
        valid and every new endpoint can be listened on, apply all of it at
        once: limits, MOTD, operators, listeners added or closed (their
        clients stay connected), log level.  Options given on the command
        line still win.  The result, or the L{ConfigError} (a
        L{NoConfigFile} without C{--config}) after which nothing changed,
        is logged too.  Keys that need a restart are kept as they are, with
        a warning.  Reloads run one at a time.
        """
        return self._reloads.run(self._reload)

    @inlineCallbacks
    def _reload(self) -> Generator[Deferred[Any], Any, ReloadResult]:
        old, source = self.settings, self.source
        if old is None or source is None or source.path is None:
            error = NoConfigFile()
            log.warn("{error}", error=str(error))
            raise error
        try:
            if source.file is not None and _blank(source.file):
                # Most likely caught half-written by an editor or a deploy:
                # read as "all defaults", it would close every listener but
                # JSON's on 8123 and drop every operator.
                raise ConfigError(
                    source.path,
                    "is empty: a file being written? (an empty file reads as "
                    "all defaults, which a running server does not take on a "
                    "reload)",
                    file=source.path,
                )
            loaded = source.load()
            restart = tuple(
                key
                for key, _, _ in changes(old, loaded)
                if key in BY_KEY and BY_KEY[key].restart
            )
            # What needs a restart stays as it started.
            new = replace(
                loaded,
                server=replace(
                    loaded.server, name=old.server.name, network=old.server.network
                ),
                storage=old.storage,
                metrics=old.metrics,
            )
            listening = yield self._relisten(new, source.path)
        except ConfigError as e:
            log.error("config not reloaded, nothing changed: {error}", error=str(e))
            raise
        return self._apply(listening, new, restart, source.path)

    @inlineCallbacks
    def _relisten(
        self, new: Settings, file: str
    ) -> Generator[Deferred[Any], Any, list[str]]:
        """
        Close the listeners C{new} no longer has and open those it adds
        (with a new factory for a wire format not served yet).  If one
        cannot be opened, put back the ones closed and fail with a
        L{ConfigError}.  The lines say what changed.
        """
        factories = {factory.kind.lower(): factory for factory in self.factories}
        first = self.factories[0]
        for table, endpoints in new.endpoints.items():
            if endpoints and table not in factories:
                factories[table] = self._equip(
                    _factory(table, new, first.chat, first.gate, first.clock)
                )
        wanted = {(t, d) for t, endpoints in new.endpoints.items() for d in endpoints}
        closing = [
            (key, port)
            for key, port in self._ports.items()
            if (key[0].kind.lower(), key[1]) not in wanted
        ]
        have = {(factory.kind.lower(), d) for factory, d in self._ports}
        opening = [
            (factories[table], d)
            for table, endpoints in new.endpoints.items()
            for d in endpoints
            if (table, d) not in have
        ]
        if not self.running:  # startService listens on the new lists
            return self._commit(factories, new, [], [])
        for key, _ in closing:
            del self._ports[key]
        # Closed first, so that an endpoint string changed for the same
        # port can have it.
        yield _all([port.stopListening() for _, port in closing])
        results = yield _all([self._try_listen(f, e) for f, e in opening])
        opened = [value for ok, value in results if ok]
        failed = [(at, value) for (ok, value), at in zip(results, opening) if not ok]
        if not failed:
            return self._commit(factories, new, [k for k, _ in closing], opened)
        (factory, description), why = failed[0]
        table = factory.kind.lower()
        port = new.value(f"{table}.port")
        tcp = description.startswith(f"tcp:{port}:")
        where = f"{table}.port" if tcp else f"{table}.listen"
        error = ConfigError(
            f"{file}: {where}",
            f"cannot listen on {description!r}: {why.getErrorMessage()}",
            file=file,
            key=where,
        )
        yield _all([p.stopListening() for _, _, p in opened])
        again = yield _all([self._try_listen(f, e) for (f, e), _ in closing])
        self._put_back(again)
        raise error

    def _try_listen(
        self, factory: Listener, description: str
    ) -> Deferred[tuple[Listener, str, IListeningPort]]:
        d = maybeDeferred(server_endpoint, self.reactor, description, factory)
        d.addCallback(lambda endpoint: endpoint.listen(factory))
        d.addCallback(lambda port: (factory, description, port))
        return d

    def _put_back(self, results: list[tuple[bool, Any]]) -> None:
        for ok, value in results:
            if ok:
                factory, description, port = value
                self._ports[factory, description] = port
            else:
                log.critical(
                    "could not listen again after a failed reload: {why}",
                    why=value.getErrorMessage(),
                )

    def _commit(
        self,
        factories: dict[str, Listener],
        new: Settings,
        closed: list[tuple[Listener, str]],
        opened: list[tuple[Listener, str, IListeningPort]],
    ) -> list[str]:
        """Take on the new listeners; say what changed."""
        lines = []
        for factory, description in closed:
            lines.append(f"stopped listening for {factory.kind} on {description}")
            log.info(
                "chatd stopped listening for {kind} on {description}; "
                "its clients stay connected",
                kind=factory.kind,
                description=description,
            )
        for factory, description, port in opened:
            self._listening(port, factory, description)
            lines.append(f"listening for {factory.kind} on {description}")
        served = self.factories
        for factory in factories.values():
            if factory not in served:
                self.listeners.append((factory, []))
                if self.running:
                    factory.start_reaping()
        self.listeners = [
            (factory, list(new.endpoints[factory.kind.lower()]))
            for factory, _ in self.listeners
        ]
        return lines

    def _apply(
        self, listening: list[str], new: Settings, restart: tuple[str, ...], file: str
    ) -> ReloadResult:
        """Apply C{new}, whose listeners are open already, all at once."""
        old = self.settings
        assert old is not None
        found = changes(old, new)
        limits = new.limits
        for factory in self.factories:
            factory.trusted_proxies = new.proxy.trusted
            factory.apply_limits(
                max_line=limits.max_line,
                idle_timeout=limits.idle_timeout,
                flood=new.flood.limit,
                max_sendq=limits.max_sendq,
                register_timeout=limits.register_timeout,
            )
            if isinstance(factory, WebListener):
                factory.configure(new.web.origins, new.proxy.trusted)
            if (
                isinstance(factory, (IRCFactory, WebListener))
                and new.server.motd != old.server.motd
            ):
                motd = new.server.motd
                factory.set_motd(None if motd is None else list(motd.lines))
        first = self.factories[0]
        first.chat.max_users = limits.max_clients
        if first.gate is not None:
            first.gate.set_limit(limits.address_limit, first.clock.seconds())
        set_level(LEVELS[new.server.log_level])
        self.opers = new.opers
        self.settings = new
        changed = listening + [
            _describe(key, before, after)
            for key, before, after in found
            if not key.startswith(("json.", "irc.", "web.port", "web.listen"))
        ]
        result = ReloadResult(new, tuple(changed), restart)
        for follow in self.on_reload:
            try:
                follow(new)
            except Exception:
                log.failure("{follow} failed on a config reload", follow=follow)
        log.info("config reloaded from {file}: {result}", file=file, result=str(result))
        for key in restart:
            log.warn(
                "{key} changed in {file}, but only a restart changes it "
                "(it stays {value})",
                key=key,
                file=file,
                value=_show(key, old.value(key)),
            )
        return result

    def connection_count(self) -> int:
        """How many connections are open, on every listener."""
        return sum(len(factory.connections) for factory in self.factories)

    def _stop_listening(self) -> list[Deferred[Any]]:
        ports = self.ports + self.metrics_ports
        self._ports.clear()
        self.metrics_ports = []
        return [d for d in (p.stopListening() for p in ports) if d is not None]

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self._release_sighup()
        factories = self.factories
        self.check_state()
        for factory in factories:
            factory.stop_reaping()
        if self.memory is not None:
            self.memory.stop()
            self.memory = None
        if self.metrics is not None:
            self.metrics.stop()
        stopped = self._stop_listening()
        # Everyone, on every listener, is told before anyone is taken out of
        # the chat, so nobody sees the others quit.
        closed = [factory.say_goodbye() for factory in factories]
        for factory, protos in zip(factories, closed):
            factory.disconnect_all(protos)
        drained: Deferred[None] = Deferred()
        DeferredList([f.when_drained() for f in factories]).addCallback(
            lambda _: None if drained.called else drained.callback(None)
        )
        if factories:
            clock: IReactorTime = factories[0].clock
            drained.addTimeout(DRAIN_TIMEOUT, clock)
        drained.addErrback(self._drain_timed_out)
        done: Deferred[Any] = DeferredList([*stopped, drained], consumeErrors=True)
        accounts = self.accounts
        if accounts is not None:
            history = self.history
            if history is not None:
                # Everything said, the goodbyes' quits included, is written
                # before the store closes.
                done.addCallback(lambda _: history.stop())
                done.addErrback(lambda f: log.failure("while writing the history", f))
            done.addCallback(lambda _: accounts.stop())
            done.addErrback(lambda f: log.failure("while closing the account store", f))
        done.addCallback(lambda _: log.info("chatd stopped"))
        return done

    def check_state(self) -> None:
        """
        Log, as errors, every way the chat's state is inconsistent (none,
        unless there is a bug): run at shutdown, so that a long run, such
        as chatd-bench's soak, ends with a verdict in the log.
        """
        chats = {id(f.chat): f.chat for f in self.factories}
        for chat in chats.values():
            for problem in chat.check_invariants():
                log.error("inconsistent state: {problem}", problem=problem)

    def _drain_timed_out(self, failure: Failure) -> None:
        failure.trap(TimeoutError)
        left: list[Connection] = [
            proto for factory in self.factories for proto in factory.connections
        ]
        log.warn(
            "{count} connections still open after {timeout} s; closing anyway",
            count=len(left),
            timeout=DRAIN_TIMEOUT,
        )
        for proto in left:
            proto.transport.abortConnection()


def _factory(
    table: str, settings: Settings, chat: Chat, gate: Gate | None, clock: Any
) -> Listener:
    """The listener for a table of endpoints (C{json}, C{irc}, C{web})."""
    limits = settings.limits
    common: dict[str, Any] = {
        "max_line": limits.max_line,
        "idle_timeout": limits.idle_timeout,
        "flood": settings.flood.limit,
        "max_sendq": limits.max_sendq,
        "register_timeout": limits.register_timeout,
        "gate": gate,
    }
    motd = settings.server.motd
    if table == "web":
        return WebListener(
            chat,
            clock,
            server_name=settings.server.name,
            network=settings.server.network,
            motd=None if motd is None else list(motd.lines),
            origins=settings.web.origins,
            trusted=settings.proxy.trusted,
            **common,
        )
    if table == "irc":
        return IRCFactory(
            chat,
            clock,
            server_name=settings.server.name,
            network=settings.server.network,
            motd=None if motd is None else list(motd.lines),
            **common,
        )
    return ChatFactory(chat, clock, **common)


def _all(ds: list[Deferred[Any] | None]) -> Deferred[list[tuple[bool, Any]]]:
    """Wait for every one of C{ds} (None: done already); their outcomes."""
    return DeferredList([d or succeed(None) for d in ds], consumeErrors=True)


def _show(key: str, value: Any) -> str:
    if key == "storage.url":
        return redact(value)
    if key == "server.motd":
        return "none" if value is None else value.path
    return show(value)


def _describe(key: str, before: Any, after: Any) -> str:
    """One line for a change applied by a reload."""
    if key in ("oper", "webirc"):
        old = {oper.name: oper for oper in before}
        new = {oper.name: oper for oper in after}
        words = [f"{name} added" for name in new if name not in old]
        words += [f"{name} removed" for name in old if name not in new]
        words += [f"{n} changed" for n in new if n in old and new[n] != old[n]]
        return f"{key}: " + (", ".join(words) or "reordered")
    if key == "server.motd" and after is not None:
        return f"server.motd: read {after.path} ({len(after.lines)} lines)"
    return f"{key}: {_show(key, before)} -> {_show(key, after)}"


__all__ = ["ChatService", "ListenError", "ListenFailed", "ReloadResult"]

# -*- test-case-name: tests.test_service -*-
"""
The running server: listeners on endpoint strings, the idle reaper, and an
orderly shutdown that says goodbye to every client.
"""

from __future__ import annotations

from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, DeferredList, TimeoutError
from twisted.internet.endpoints import serverFromString
from twisted.internet.interfaces import IListeningPort, IReactorTime
from twisted.python.failure import Failure

import chatd
from chatd.log import logger
from chatd.memory import MemoryTrim, malloc_trim
from chatd.net.connection import Connection, format_peer
from chatd.net.listener import Listener

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


class ChatService(Service):
    """
    Serves each adapter's L{Listener} on its endpoints: C{listeners} pairs
    a factory (JSON lines, IRC...) with the endpoint strings it listens on.
    The factories share one core.

    Listening happens in L{privilegedStartService}, so twistd can bind low
    ports before it drops privileges, and a port that cannot be had stops
    the daemon at once with a clear message instead of leaving it half up.
    """

    name = "chatd"

    def __init__(
        self,
        reactor: Any,
        listeners: list[tuple[Listener, list[str]]],
        daemon: bool = False,
    ) -> None:
        self.reactor = reactor
        #: twistd forked us (it was run without -n): see L{ListenFailed}
        self.daemon = daemon
        self.listeners = [(factory, list(listen)) for factory, listen in listeners]
        self.ports: list[IListeningPort] = []
        self.memory: MemoryTrim | None = None

    @property
    def factories(self) -> list[Listener]:
        return [factory for factory, _ in self.listeners]

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        for factory, listen in self.listeners:
            for description in listen:
                self._listen(factory, description)

    def _listen(self, factory: Listener, description: str) -> None:
        failures: list[Failure] = []
        d = serverFromString(self.reactor, description).listen(factory)
        d.addCallbacks(self._listening, failures.append, (factory, description))
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
    ) -> None:
        self.ports.append(port)
        log.info(
            "chatd listening for {kind} on {address} ({description})",
            kind=factory.kind,
            address=format_peer(port.getHost()),
            description=description,
        )

    def startService(self) -> None:
        if not self.ports and any(listen for _, listen in self.listeners):
            self.privilegedStartService()
        super().startService()
        for factory in self.factories:
            factory.start_reaping()
        trim = malloc_trim()
        if trim is not None and self.factories:
            self.memory = MemoryTrim(
                self.connection_count, trim, self.factories[0].clock
            )
            self.memory.start()
        log.info("chatd {version} started", version=chatd.__version__)

    def connection_count(self) -> int:
        """How many connections are open, on every listener."""
        return sum(len(factory.connections) for factory in self.factories)

    def _stop_listening(self) -> list[Deferred[Any]]:
        ports, self.ports = self.ports, []
        return [d for d in (p.stopListening() for p in ports) if d is not None]

    def stopService(self) -> Deferred[None]:
        super().stopService()
        factories = self.factories
        self.check_state()
        for factory in factories:
            factory.stop_reaping()
        if self.memory is not None:
            self.memory.stop()
            self.memory = None
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
        done = DeferredList([*stopped, drained], consumeErrors=True)
        done.addCallback(lambda _: log.info("chatd stopped"))
        return done  # type: ignore[return-value]

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


__all__ = ["ChatService", "ListenError", "ListenFailed"]

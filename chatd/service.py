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
from chatd.protocol import ChatFactory, format_peer

log = logger(__name__)

#: How long shutdown waits for the last goodbyes to be written.
DRAIN_TIMEOUT = 5.0


class ListenError(SystemExit):
    """
    An endpoint could not be listened on.  It is a L{SystemExit}, so twistd
    stops with this message and status 1 rather than a traceback.
    """


class ChatService(Service):
    """
    Serves one L{ChatFactory} on every endpoint in C{listen}.

    Listening happens in L{privilegedStartService}, so twistd can bind low
    ports before it drops privileges, and a port that cannot be had stops
    the daemon at once with a clear message instead of leaving it half up.
    """

    name = "chatd"

    def __init__(self, reactor: Any, listen: list[str], factory: ChatFactory) -> None:
        self.reactor = reactor
        self.listen = list(listen)
        self.factory = factory
        self.ports: list[IListeningPort] = []

    def privilegedStartService(self) -> None:
        super().privilegedStartService()
        for description in self.listen:
            failures: list[Failure] = []
            d = serverFromString(self.reactor, description).listen(self.factory)
            d.addCallbacks(self._listening, failures.append, (description,))
            if failures:
                self._stop_listening()
                message = (
                    f"chatd cannot listen on {description!r}: "
                    f"{failures[0].getErrorMessage()}"
                )
                log.critical("{message}", message=message)
                raise ListenError(message)

    def _listening(self, port: IListeningPort, description: str) -> None:
        self.ports.append(port)
        log.info(
            "chatd listening on {address} ({description})",
            address=format_peer(port.getHost()),
            description=description,
        )

    def startService(self) -> None:
        if not self.ports and self.listen:
            self.privilegedStartService()
        super().startService()
        self.factory.start_reaping()
        log.info("chatd {version} started", version=chatd.__version__)

    def _stop_listening(self) -> list[Deferred[Any]]:
        ports, self.ports = self.ports, []
        return [d for d in (p.stopListening() for p in ports) if d is not None]

    def stopService(self) -> Deferred[None]:
        super().stopService()
        self.factory.stop_reaping()
        stopped = self._stop_listening()
        self.factory.shut_down()
        drained = self.factory.when_drained()
        clock: IReactorTime = self.factory.clock
        drained.addTimeout(DRAIN_TIMEOUT, clock)
        drained.addErrback(self._drain_timed_out)
        done = DeferredList([*stopped, drained], consumeErrors=True)
        done.addCallback(lambda _: log.info("chatd stopped"))
        return done  # type: ignore[return-value]

    def _drain_timed_out(self, failure: Failure) -> None:
        failure.trap(TimeoutError)
        log.warn(
            "{count} connections still open after {timeout} s; closing anyway",
            count=len(self.factory.connections),
            timeout=DRAIN_TIMEOUT,
        )
        for proto in list(self.factory.connections):
            proto.transport.abortConnection()


__all__ = ["ChatService", "ListenError"]

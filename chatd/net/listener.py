# -*- test-case-name: tests.test_protocol,tests.test_irc -*-
"""
What every wire adapter's factory shares: the core, the clock, the set of
live connections, the idle reaper, the registration timeout, admission per
address, the watch on each connection's unsent output, and an orderly
goodbye at shutdown.

Adapters (JSON lines, IRC) subclass L{Listener} and build protocols on
L{chatd.net.connection.Connection}; they never import each other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IReactorTime
from twisted.internet.protocol import ServerFactory
from twisted.internet.task import LoopingCall

from chatd.log import logger
from chatd.net.connection import Connection
from chatd.net.limits import DEFAULT_FLOOD, FloodLimit, Gate, Refusal

if TYPE_CHECKING:
    from chatd.accounts.opers import Opers
    from chatd.accounts.registry import Accounts
    from chatd.core import Chat
    from chatd.history.reader import History

log = logger(__name__)

#: The default cap on a connection's unsent output (IRC's SendQ).
MAX_SENDQ = 1 << 20
#: How often registration timeouts and refusal bursts are looked at.
TICK = 1.0
#: A burst of refusals is over after this long without one.
QUIET = 10.0


class Listener(ServerFactory):
    """
    Builds one protocol per connection over a shared L{Chat}, and reaps
    connections that have been silent too long.
    """

    noisy = False  # chatd logs its own listening and connection lines
    #: The wire format, for logs.
    kind = "?"
    #: The server's accounts and operator blocks (None: the server has no
    #: accounts, as in most unit tests); the service sets them.
    accounts: Accounts | None = None
    opers: Opers | None = None
    #: What users may read of the history (None: history is off, as in most
    #: unit tests); the service sets it.
    history: History | None = None
    #: Reload the config file (REHASH): the service sets it when it has one.
    rehash: Callable[[], Deferred[str]] | None = None
    #: The networks whose PROXY headers are believed on a C{proxy:}
    #: endpoint (the config's C{[proxy] trusted}; L{chatd.net.proxy}).
    trusted_proxies: tuple[Any, ...] = ()

    def __init__(
        self,
        chat: Chat,
        clock: IReactorTime,
        max_line: int = 16384,
        idle_timeout: float = 180.0,
        *,
        flood: FloodLimit = DEFAULT_FLOOD,
        max_sendq: int = MAX_SENDQ,
        register_timeout: float = 60.0,
        gate: Gate | None = None,
    ) -> None:
        self.chat = chat
        self.clock = clock
        self.max_line = max_line
        self.idle_timeout = idle_timeout
        self.flood = flood
        self.max_sendq = max_sendq
        self.register_timeout = register_timeout
        #: admission per address, shared by every listener of a server
        self.gate = gate
        self.connections: set[Connection] = set()
        #: connections without a nick yet, oldest first, with when they came
        self.registering: dict[Connection, float] = {}
        self._reaper: LoopingCall | None = None
        self._ticker: LoopingCall | None = None
        self._reaping = False
        #: refusals by the core (server full) in the current burst
        self._refused = 0
        self._last_refused = 0.0
        self._drained: list[Deferred[None]] = []
        #: saying goodbye to everyone: close at once, without lingering
        self.stopping = False
        #: connections ended so far, by why (L{Connection.goodbye}), for
        #: the metrics
        self.disconnections: dict[str, int] = {}

    def buildProtocol(self, addr: IAddress | None) -> Any:
        """
        A connection from C{addr}: the peer's address, or on a C{proxy:}
        endpoint the client's, which the PROXY header gave
        (L{chatd.net.proxy}).
        """
        proto = super().buildProtocol(addr)
        if proto is not None:
            proto.address = addr  # type: ignore[attr-defined]
        return proto

    @property
    def idle_timeout_reported(self) -> int | float:
        t = self.idle_timeout
        return int(t) if t == int(t) else t

    @property
    def reap_interval(self) -> float:
        """
        How often the reaper looks: nobody outlives the timeout by more than
        a quarter of it or two seconds, whichever is more.
        """
        t = self.idle_timeout
        return min(t, max(t / 4.0, 2.0))

    def start_reaping(self) -> None:
        """
        Start the timers: the idle reaper, and the once-a-second tick when
        there are registration timeouts or refusal bursts to look after.
        """
        self._reaping = True
        if self._ticker is None and (
            self.register_timeout > 0 or self.gate is not None
        ):
            self._ticker = LoopingCall(self.tick)
            self._ticker.clock = self.clock
            self._ticker.start(TICK, now=False)
        if self.idle_timeout <= 0 or self._reaper is not None:
            return
        self._reaper = LoopingCall(self.reap)
        self._reaper.clock = self.clock
        self._reaper.start(self.reap_interval, now=False)

    def stop_reaping(self) -> None:
        self._reaping = False
        for timer in (self._reaper, self._ticker):
            if timer is not None and timer.running:
                timer.stop()
        self._reaper = self._ticker = None

    def apply_limits(
        self,
        *,
        max_line: int,
        idle_timeout: float,
        flood: FloodLimit,
        max_sendq: int,
        register_timeout: float,
    ) -> None:
        """
        Take new limits while serving (a config reload).  Open connections
        get the new idle and registration timeouts, SendQ cap, flood burst,
        rate and excess at once; the line length they were told, and
        whether flood control or the SendQ watch is on at all, stay as they
        were when they connected.
        """
        reaping = self._reaping
        self.stop_reaping()
        if flood.enabled and self.flood.enabled:
            now = self.clock.seconds()
            for proto in self.connections:
                if proto.bucket is not None:
                    proto.bucket.retune(flood, now)
        self.flood = flood
        self.max_line = max_line
        self.idle_timeout = idle_timeout
        self.max_sendq = max_sendq
        if register_timeout <= 0:
            self.registering.clear()
        self.register_timeout = register_timeout
        if reaping:
            self.start_reaping()

    # admission and registration

    def admit(self, proto: Connection) -> Refusal | None:
        """Let C{proto} in under the per-address limits, or say why not."""
        gate = self.gate
        if gate is None:
            return None
        key, refusal, first = gate.admit(proto.host, self.clock.seconds())
        if refusal is None:
            proto._gate_key = key
        elif first:
            log.info(
                "refusing connections from {address}: {reason} "
                "(further refusals are counted, not logged)",
                address=key,
                reason=refusal.message,
            )
        return refusal

    def refused(self, peer: str, reason: str) -> None:
        """
        The core refused a connection (the server is full): log the first
        of a burst, count the rest.
        """
        self._last_refused = self.clock.seconds()
        self._refused += 1
        if self._refused == 1:
            log.info(
                "refused {peer}: {reason} (further refusals are counted, not logged)",
                peer=peer,
                reason=reason,
            )

    def release(self, key: str) -> None:
        if self.gate is not None:
            self.gate.release(key)

    def registering_started(self, proto: Connection) -> None:
        """C{proto} is in and has no nick yet: its registration clock starts."""
        self.connections.add(proto)
        if self.register_timeout > 0:
            self.registering[proto] = self.clock.seconds()

    def registration_done(self, proto: Connection) -> None:
        self.registering.pop(proto, None)

    def tick(self) -> None:
        """Close connections too slow to register; log the refusal bursts that ended."""
        now = self.clock.seconds()
        if self.registering:
            deadline = now - self.register_timeout
            late = []
            for proto, since in self.registering.items():
                if since > deadline:
                    break
                late.append(proto)
            for proto in late:
                self.registering.pop(proto, None)
                self.registration_timed_out(proto)
        if self._refused and now - self._last_refused >= QUIET:
            if self._refused > 1:
                log.info(
                    "refused {count} more connections: the server is full",
                    count=self._refused - 1,
                )
            self._refused = 0
        if self.gate is not None:
            for address, count in self.gate.ended_bursts(now, QUIET):
                log.info(
                    "refused {count} more connections from {address}",
                    count=count,
                    address=address,
                )

    def registration_timed_out(self, proto: Connection) -> None:
        timeout = self.register_timeout
        seconds = int(timeout) if timeout == int(timeout) else timeout
        log.info("{peer} did not register in time", peer=proto.peer)
        proto.close(
            "register_timeout",
            f"no nick chosen within {seconds} seconds",
            "registration timed out",
        )

    def reap(self) -> None:
        """Disconnect every connection that has sent nothing for too long."""
        deadline = self.clock.seconds() - self.idle_timeout
        for proto in [p for p in self.connections if p.last_seen <= deadline]:
            self.reap_one(proto)

    def reap_one(self, proto: Connection) -> None:
        timeout = self.idle_timeout_reported
        log.info("reaping idle {peer}", peer=proto.peer)
        proto.close(
            "idle_timeout",
            f"no activity for {timeout} seconds",
            f"idle for {timeout} seconds",
        )

    def say_goodbye(self) -> list[Connection]:
        """
        Say goodbye (C{shutdown}) to every connection and close them, without
        telling anyone else yet; return the connections closed.
        """
        self.stopping = True
        protos = list(self.connections)
        for proto in protos:
            proto.close("shutdown", "the server is shutting down", None)
        return protos

    def disconnect_all(self, protos: list[Connection]) -> None:
        """Take the users of C{protos} out of the chat after L{say_goodbye}."""
        for proto in protos:
            if proto.user is not None:
                self.chat.disconnect(proto.user, "server shutting down")

    def shut_down(self) -> None:
        """
        Say goodbye to every connection and close them all.  Everyone is
        told first, so nobody sees the others quit.
        """
        self.disconnect_all(self.say_goodbye())

    def when_drained(self) -> Deferred[None]:
        """A Deferred that fires once no connection of this factory is left."""
        if not self.connections:
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._drained.append(d)
        return d

    def connection_ended(self, why: str) -> None:
        """A connection was lost (refused ones too): count it under C{why}."""
        ended = self.disconnections
        ended[why] = ended.get(why, 0) + 1

    def connection_gone(self, proto: Connection) -> None:
        self.connections.discard(proto)
        self.registering.pop(proto, None)
        if not self.connections and self._drained:
            waiting, self._drained = self._drained, []
            for d in waiting:
                d.callback(None)


__all__ = ["MAX_SENDQ", "Listener"]

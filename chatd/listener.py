# -*- test-case-name: tests.test_protocol,tests.test_irc -*-
"""
What every wire adapter's factory shares: the core, the clock, the set of
live connections, the idle reaper, and an orderly goodbye at shutdown.

Adapters (JSON lines, IRC) subclass L{Listener}; they never import each
other.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Protocol

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IAddress, IReactorTime, ITransport
from twisted.internet.protocol import ServerFactory
from twisted.internet.task import LoopingCall

from chatd.log import logger

if TYPE_CHECKING:
    from chatd.core import Chat, User

log = logger(__name__)


def format_peer(address: IAddress) -> str:
    """C{host:port} (C{[host]:port} for IPv6) for logs."""
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is None:
        return getattr(address, "name", None) or "unix"
    if ":" in host:
        return f"[{host}]:{port}"
    return f"{host}:{port}"


def host_of(address: IAddress) -> str:
    """The address a connection comes from, without its port."""
    host = getattr(address, "host", None)
    if host is None:
        return "localhost"  # a UNIX socket
    return str(host)


def no_delay(transport: ITransport) -> None:
    """
    Turn Nagle's algorithm off on a TCP connection (no-op on others).

    Chat is interactive, and Twisted already gathers every write of a
    reactor turn into one C{send}; with Nagle on, a small line waits for the
    peer's delayed ACK, up to 40 ms on Linux, before it leaves.
    """
    set_no_delay = getattr(transport, "setTcpNoDelay", None)
    if set_no_delay is None:
        return
    with contextlib.suppress(OSError):  # a UNIX socket
        set_no_delay(True)


class Connection(Protocol):
    """What a L{Listener} needs of each of its connections."""

    user: User | None
    peer: str
    last_seen: float

    @property
    def transport(self) -> ITransport: ...

    def close(self, code: str, reason: str, quit_reason: str | None) -> None:
        """
        Tell the client why (C{code}, C{reason}), close the connection, and
        unless C{quit_reason} is None tell the others this user quit.
        """


class Listener(ServerFactory):
    """
    Builds one protocol per connection over a shared L{Chat}, and reaps
    connections that have been silent too long.
    """

    noisy = False  # chatd logs its own listening and connection lines
    #: The wire format, for logs.
    kind = "?"

    def __init__(
        self,
        chat: Chat,
        clock: IReactorTime,
        max_line: int,
        idle_timeout: float = 180.0,
    ) -> None:
        self.chat = chat
        self.clock = clock
        self.max_line = max_line
        self.idle_timeout = idle_timeout
        self.connections: set[Connection] = set()
        self._reaper: LoopingCall | None = None
        self._drained: list[Deferred[None]] = []

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
        if self.idle_timeout <= 0 or self._reaper is not None:
            return
        self._reaper = LoopingCall(self.reap)
        self._reaper.clock = self.clock
        self._reaper.start(self.reap_interval, now=False)

    def stop_reaping(self) -> None:
        if self._reaper is not None:
            if self._reaper.running:
                self._reaper.stop()
            self._reaper = None

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

    def connection_gone(self, proto: Connection) -> None:
        self.connections.discard(proto)
        if not self.connections and self._drained:
            waiting, self._drained = self._drained, []
            for d in waiting:
                d.callback(None)


__all__ = ["Connection", "Listener", "format_peer", "host_of"]

# -*- test-case-name: tests.test_protocol,tests.test_irc -*-
"""
What every wire adapter's factory shares: the core, the clock, the set of
live connections, the idle reaper, the registration timeout, admission per
address, the watch on each connection's unsent output, and an orderly
goodbye at shutdown.

Adapters (JSON lines, IRC) subclass L{Listener}; they never import each
other.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Callable, Protocol

from twisted.internet import tcp
from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IPushProducer,
    IReactorTime,
    ITransport,
)
from twisted.internet.protocol import ServerFactory
from twisted.internet.task import LoopingCall
from zope.interface import implementer

from chatd.log import logger
from chatd.net.limits import DEFAULT_FLOOD, Bucket, FloodLimit, Gate, Refusal
from chatd.net.sendq import KernelQueue, unsent

if TYPE_CHECKING:
    from chatd.core import Chat, User

log = logger(__name__)

#: The default cap on a connection's unsent output (IRC's SendQ).
MAX_SENDQ = 1 << 20
#: How long a closed connection may take to read what it was last sent
#: (its goodbye) and close its side before it is cut off; bounds the memory
#: of a client that stops reading.
LINGER = 10.0
#: How often registration timeouts and refusal bursts are looked at.
TICK = 1.0
#: A burst of refusals is over after this long without one.
QUIET = 10.0


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


def _discard(data: bytes) -> None:
    """The writer of a connection that has been lost."""


@implementer(IPushProducer)
class _OutputWatch:
    """
    Registered as a connection's streaming producer so that its transport
    says when its buffer passes 64 KiB, or half the SendQ cap if that is
    less (C{pauseProducing}), and when it has drained
    (C{resumeProducing}); nothing is actually paused.
    """

    __slots__ = ("conn",)

    def __init__(self, conn: Guarded) -> None:
        self.conn = conn

    def pauseProducing(self) -> None:
        self.conn.output_backed_up()

    def resumeProducing(self) -> None:
        self.conn.output_drained()

    def stopProducing(self) -> None:
        pass


class Guarded:
    """
    The limits every adapter's connection shares, mixed into its protocol:
    admission per address, flood control's bucket, the cap on unsent
    output (SendQ) and a close that cannot hang on a client that never
    reads.

    The fan-out fast path writes to C{wire_write}: the transport's own
    C{write} while output flows, a checking writer only while the
    connection is backed up, so healthy connections pay nothing.  The
    SendQ counts what the kernel holds too (L{chatd.net.sendq}).
    """

    factory: Listener
    transport: Any
    user: User | None
    peer: str
    host: str
    closing: bool
    wire_write: Callable[[bytes], None]
    backed_up = False
    bucket: Bucket | None = None
    _gate_key: str | None = None
    _linger: IDelayedCall | None = None
    _watching = False
    #: the socket's capped send buffer, counted in the SendQ
    _kernel: KernelQueue | None = None
    #: what the kernel held when the connection last backed up
    _kernel_held = 0
    #: the client may still send (it has not shut down its side)
    _input_open = True
    #: our side is closed; what the client still sends is dropped
    _draining = False

    def guard(self) -> Refusal | None:
        """
        In C{connectionMade}, after C{peer} and C{host} are set: admit the
        connection (or say why not), give it its flood bucket and start
        watching its output.
        """
        factory = self.factory
        refusal = factory.admit(self)
        if refusal is not None:
            return refusal
        if factory.flood.enabled:
            self.bucket = Bucket(factory.flood, factory.clock.seconds())
        self.wire_write = self.transport.write
        if factory.max_sendq > 0:
            self._kernel = KernelQueue.attach(self.transport, factory.max_sendq)
            self.transport.registerProducer(_OutputWatch(self), True)
            self._watching = True
        return None

    def unguard(self) -> None:
        """
        In C{connectionLost}: give back the address's place, stop timers and
        write nothing more.  The core may still hold the connection as a
        channel member's writer until it has let the user go (a SendQ drop
        waits for the next reactor turn), so C{wire_write} becomes a writer
        that drops what it is given rather than going away; and it must not
        stay C{_checked_write}, whose hold on the protocol would keep the
        protocol, its transport and the unsent output the client never read
        alive until CPython's next full garbage collection.
        """
        self.wire_write = _discard
        if self._gate_key is not None:
            self.factory.release(self._gate_key)
            self._gate_key = None
        if self._linger is not None:
            if self._linger.active():
                self._linger.cancel()
            self._linger = None

    def end(self) -> None:
        """
        Close after what has been written, but cut the connection off if
        the client has not taken it all and closed within L{LINGER} seconds.

        A client is often still sending when it is closed: a flood, a line
        too long, garbage.  Closing a TCP socket with input unread makes the
        kernel reset the connection and throw away the output it still
        holds, so a client that reads slowly would never see why it was
        closed.  So a TCP connection is half-closed instead (the "lingering
        close" of web servers): our last lines go out, then end of file,
        and what the client still sends is read and dropped until it closes
        its side (L{input_ended}).  At shutdown, and on TLS, whose close is
        its own, the connection is simply closed.
        """
        transport = self.transport
        if self._watching:
            # A registered producer keeps a TCP transport open until it goes.
            self._watching = False
            transport.unregisterProducer()
        if (
            self._input_open
            and self.user is not None
            and not self.factory.stopping
            and isinstance(transport, tcp.Connection)
        ):
            self._draining = True
            transport.loseWriteConnection()
            transport.resumeProducing()  # IRC pauses reading while it holds lines
        else:
            transport.loseConnection()
        if self._linger is None and getattr(transport, "connected", False):
            self._linger = self.factory.clock.callLater(LINGER, self._cut_off)

    def input_ended(self) -> bool:
        """
        First thing in C{readConnectionLost}: the client will send nothing
        more.  If we had closed our side already (L{end}), close the rest
        and return True: there is nothing else to do.
        """
        self._input_open = False
        if self._draining:
            self.transport.loseConnection()
            return True
        return False

    def _cut_off(self) -> None:
        self._linger = None
        log.info(
            "{peer} had not read its last lines and closed after {linger} s; cut off",
            peer=self.peer,
            linger=LINGER,
        )
        self.transport.abortConnection()

    # output

    def output_backed_up(self) -> None:
        """
        Twisted's buffer is full: check the SendQ on each write from now on.

        The kernel is asked what it holds now, once: Twisted buffers only
        what the socket would not take, so while it holds anything the
        kernel's part stays as full as its capped buffer lets it be.  Asking
        on every write instead (a system call per delivery to each member
        that is behind) made an overloaded server slower the further behind
        its readers fell, until it delivered nothing (PyPy, 4 M
        deliveries/s).  A TCP transport says so again on every write while
        it stays full; those writes check for themselves (C{_checked_write},
        C{_send}).
        """
        if self.closing or self.backed_up:
            return
        if self._kernel is not None:
            self._kernel_held = self._kernel.unsent()
        self.backed_up = True
        self.wire_write = self._checked_write
        if self.user is not None:
            self.factory.chat.session_changed(self.user)
        self.check_sendq()

    def output_drained(self) -> None:
        if not self.backed_up:
            return
        self.backed_up = False
        self.wire_write = self.transport.write
        if self.user is not None and not self.closing:
            self.factory.chat.session_changed(self.user)

    def _checked_write(self, data: bytes) -> None:
        if not self.closing:
            self.transport.write(data)
            self.check_sendq()

    def check_sendq(self) -> None:
        """
        Close the connection if its unsent output, in Twisted's buffer and
        the kernel's, is over the cap.

        This runs inside a write, perhaps while the core walks a channel's
        members to deliver something, so the user is taken out of the chat
        on the next turn of the reactor, not now; meanwhile nothing more is
        written to it.
        """
        limit = self.factory.max_sendq
        if not limit or self.closing:
            return
        held = unsent(self.transport) + self._kernel_held
        if held > limit:
            log.info(
                "{peer} is not reading: {held} bytes unsent, more than {limit}",
                peer=self.peer,
                held=held,
                limit=limit,
            )
            self.sendq_exceeded()
            if self.user is not None:
                self.factory.clock.callLater(
                    0, self.factory.chat.disconnect, self.user, "SendQ exceeded"
                )

    def sendq_exceeded(self) -> None:
        """
        Say goodbye in the adapter's words and close, without touching the
        chat (L{check_sendq} does that later).
        """
        raise NotImplementedError


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
        #: refusals by the core (server full) in the current burst
        self._refused = 0
        self._last_refused = 0.0
        self._drained: list[Deferred[None]] = []
        #: saying goodbye to everyone: close at once, without lingering
        self.stopping = False

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
        for timer in (self._reaper, self._ticker):
            if timer is not None and timer.running:
                timer.stop()
        self._reaper = self._ticker = None

    # admission and registration

    def admit(self, proto: Guarded) -> Refusal | None:
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

    def connection_gone(self, proto: Connection) -> None:
        self.connections.discard(proto)
        self.registering.pop(proto, None)
        if not self.connections and self._drained:
            waiting, self._drained = self._drained, []
            for d in waiting:
                d.callback(None)


__all__ = [
    "LINGER",
    "MAX_SENDQ",
    "Connection",
    "Guarded",
    "Listener",
    "format_peer",
    "host_of",
    "unsent",
]

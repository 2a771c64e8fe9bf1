# -*- test-case-name: tests.test_protocol,tests.test_irc,tests.test_net -*-
"""
The connection every wire adapter's protocol is built on: its lifecycle
(admission, the core's user, half-close, an orderly goodbye), its limits
(flood bucket, SendQ, lingering close), held input (flood delays and
handlers that finish later) and the reporting of failed commands.  An
adapter adds only its grammar and its words.
"""

from __future__ import annotations

import contextlib
from collections import deque
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet import tcp
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IHalfCloseableProtocol,
    IPushProducer,
    ITransport,
)
from twisted.internet.protocol import Protocol
from twisted.python.failure import Failure
from zope.interface import implementer

from chatd import log as _log
from chatd.core import ChatError
from chatd.log import logger
from chatd.net.limits import Bucket, Refusal
from chatd.net.sendq import KernelQueue, unsent

if TYPE_CHECKING:
    from chatd.core import Event, User
    from chatd.core.events import Killed
    from chatd.net.listener import Listener

log = logger(__name__)

#: How long a closed connection may take to read what it was last sent
#: (its goodbye) and close its side before it is cut off; bounds the memory
#: of a client that stops reading.
LINGER = 10.0
#: Lines a client may have waiting (delayed by flood control, or behind a
#: command that has not finished) before it is disconnected for flooding.
HELD_MAX = 512


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

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def pauseProducing(self) -> None:
        self.conn.output_backed_up()

    def resumeProducing(self) -> None:
        self.conn.output_drained()

    def stopProducing(self) -> None:
        pass


@implementer(IHalfCloseableProtocol)
class Connection(Protocol):
    """
    One client connection of any wire format.

    Adapters implement L{say_goodbye}, L{sendq_exceeded}, L{refuse},
    L{internal_error} and L{run_held}, and may extend L{admitted},
    L{turn_away}, L{input_rest} and L{command_done}.

    The fan-out fast path writes to C{wire_write}: the transport's own
    C{write} while output flows, a checking writer only while the
    connection is backed up, so healthy connections pay nothing.  The
    SendQ counts what the kernel holds too (L{chatd.net.sendq}).

    It is half-closeable so that a client which sends its requests and then
    shuts down its sending side (C{printf ... | nc HOST PORT}) still gets
    every reply before the server closes the connection.
    """

    factory: Listener
    transport: Any
    user: User | None = None
    closing = False
    last_seen = 0.0
    peer = "?"
    host = "?"
    #: where the client is (L{Listener.buildProtocol}): on a C{proxy:}
    #: endpoint not the transport's peer, the proxy, but the client
    address: IAddress | None = None
    #: for debug logs: "IRC " for the IRC adapter
    log_prefix = ""
    #: what the client is told when it is closed for flooding
    flood_reason = "Excess Flood"
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
    #: output owed but held back while backed up (WebSocket pongs), which
    #: counts against the SendQ as if it had been written
    owed = 0
    #: the client may still send (it has not shut down its side)
    _input_open = True
    #: our side is closed; what the client still sends is dropped
    _draining = False
    #: input is held (L{hold}, L{wait_for}): new lines wait their turn
    holding = False
    #: input held: (when it may run, the adapter's unit of input)
    _held: deque[tuple[float, Any]]
    #: the unfinished result of a handler (L{wait_for})
    _waiting: Deferred[Any] | None = None
    _release_call: IDelayedCall | None = None
    #: the client's side ended while input was held
    _read_done = False
    #: why the connection ended, counted once when it is lost (the code of
    #: L{close} or L{turn_away}; the default: the client went)
    goodbye = "connection_closed"

    # lifecycle

    def connectionMade(self) -> None:
        factory = self.factory
        address = self.address
        if address is None:
            address = self.address = self.transport.getPeer()
        self.peer = format_peer(address)
        self.host = host_of(address)
        self.last_seen = factory.clock.seconds()
        self._held = deque()
        no_delay(self.transport)
        # the core's fan-out fast path writes channel messages to wire_write
        refusal = self.guard()
        if refusal is not None:
            self.turn_away(refusal.code, refusal.message)
            return
        try:
            self.user = factory.chat.connect(self, self.peer, self.host, self.last_seen)
        except ChatError as e:
            factory.refused(self.peer, e.message)
            self.unguard()
            self.turn_away(e.code, e.message)
            return
        factory.registering_started(self)
        if _log.debugging:
            log.debug(self.log_prefix + "connection from {peer}", peer=self.peer)
        self.admitted()

    def admitted(self) -> None:
        """The core has a user for this connection: greet it if the wire does."""

    def turn_away(self, code: str, message: str) -> None:
        """Refuse the connection (the gate's or the core's C{code}) and close."""
        self.goodbye = code
        self.say_goodbye(code, message)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.unguard()
        self._stop_holding()
        self.factory.connection_ended(self.goodbye)
        if self.user is None:
            return  # refused in connectionMade
        if _log.debugging:
            log.debug(self.log_prefix + "connection from {peer} closed", peer=self.peer)
        if not self.closing:
            self.closing = True
            self.factory.chat.disconnect(self.user, "connection closed")
        self.factory.connection_gone(self)

    def readConnectionLost(self) -> None:
        """
        The client will send nothing more: it has gone, as far as the chat is
        concerned, once what it sent has been answered; what was written to
        it is still delivered.
        """
        if self.input_ended() or self.closing or self.user is None:
            return
        self.input_rest()
        if self.closing:
            return
        if self.holding:
            self._read_done = True  # once the held lines have run
            return
        self.closing = True
        self.end()
        self.factory.chat.disconnect(self.user, "connection closed")

    def input_rest(self) -> None:
        """In L{readConnectionLost}: a last line without its newline is a line."""

    def writeConnectionLost(self) -> None:
        """Nothing to do: the client will notice itself."""

    def close(self, code: str, reason: str, quit_reason: str | None) -> None:
        """
        Tell the client why (C{code}, C{reason}), close the connection, and
        unless C{quit_reason} is None tell the others this user quit (else
        the caller will).  Nothing is written after it.
        """
        if self.closing:
            return
        self.goodbye = code
        self.say_goodbye(code, reason)
        if self.user is not None and quit_reason is not None:
            self.factory.chat.disconnect(self.user, quit_reason)

    def killed(self, event: Killed) -> None:
        """
        A server operator killed this user (L{chatd.core.Chat.kill}): say
        who and why, and close; the others see the same as the quit reason.
        """
        reason = f"Killed ({event.by} ({event.reason or 'no reason'}))"
        self.close("killed", reason, reason)

    def say_goodbye(self, code: str, reason: str) -> None:
        """Set C{closing}, write the adapter's last words, then L{end}."""
        raise NotImplementedError

    def flooded(self) -> None:
        log.info("{peer} flooded; disconnecting", peer=self.peer)
        self.close("flood", self.flood_reason, "Excess Flood")

    # limits

    def guard(self) -> Refusal | None:
        """
        Admit the connection (or say why not), give it its flood bucket and
        start watching its output.
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
        Give back the address's place, stop timers and write nothing more.
        The core may still hold the connection as a channel member's writer
        until it has let the user go (a SendQ drop waits for the next
        reactor turn), so C{wire_write} becomes a writer that drops what it
        is given rather than going away; and it must not stay
        C{_checked_write}, whose hold on the protocol would keep the
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

    def over_allowance(self, now: float) -> bool:
        """
        True if the client got too far ahead of its flood allowance: it has
        been closed for flooding.
        """
        assert self.bucket is not None
        if self.bucket.behind(now) > self.factory.flood.excess:
            self.flooded()
            return True
        return False

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
            transport.resumeProducing()  # reading pauses while input is held
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

    def deliver(self, event: Event) -> None:
        """Show a core event (the core's L{Session} interface)."""
        raise NotImplementedError

    def _send(self, data: bytes) -> None:
        """Write one of our own replies, minding the SendQ when backed up."""
        self.transport.write(data)
        if self.backed_up:
            self.check_sendq()

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
        held = unsent(self.transport) + self._kernel_held + self.owed
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

    # held input: flood delays, and handlers that finish later

    def hold(self, item: Any, ready: float = 0.0) -> bool:
        """
        Keep C{item}, a unit of input, to run (L{run_held}) after what is
        held already and not before C{ready}; read nothing more meanwhile.
        False if too much is held: the client was closed for flooding.
        """
        held = self._held
        if len(held) >= HELD_MAX:
            self.flooded()
            return False
        if held:
            ready = max(ready, held[-1][0])
        if not self.holding:
            self.holding = True
            self.transport.pauseProducing()
        if self._waiting is None and self._release_call is None:
            delay = max(0.0, ready - self.factory.clock.seconds())
            self._release_call = self.factory.clock.callLater(delay, self.release)
        held.append((ready, item))
        return True

    def run_held(self, item: Any) -> None:
        """Handle a unit of input that was held (L{hold})."""
        raise NotImplementedError

    def release(self) -> None:
        """Run the held input whose turn has come; read on once none is left."""
        call = self._release_call
        if call is not None:
            self._release_call = None
            if call.active():
                call.cancel()
        if self.closing or self._waiting is not None:
            return
        held = self._held
        now = self.factory.clock.seconds()
        self.holding = False
        while held and held[0][0] <= now and not self.closing:
            self.run_held(held.popleft()[1])
            if self._waiting is not None:
                return  # that one finishes later: it releases the rest
        if self.closing:
            return
        if held:
            self.holding = True
            self._release_call = self.factory.clock.callLater(
                held[0][0] - now, self.release
            )
            return
        self.transport.resumeProducing()
        if self._read_done:
            self.readConnectionLost()

    def wait_for(self, result: Deferred[Any], what: str, context: Any) -> None:
        """
        The handler of the command C{what} returned C{result}, which fires
        later: hold this connection's later input until it has, then
        answer (L{command_done}; a L{ChatError} failure through L{refuse},
        any other through L{crashed}) and run what was held, in order.
        Each adapter calls it when a handler returns a Deferred.
        """
        self._waiting = result
        result.addBoth(self._settled, result, what, context)
        if self._waiting is result and not self.holding:
            self.holding = True
            self.transport.pauseProducing()

    def _settled(
        self, outcome: Any, result: Deferred[Any], what: str, context: Any
    ) -> None:
        if self._waiting is not result or self.closing:
            # The connection went meanwhile: nobody to answer.
            if self._waiting is result:
                self._waiting = None
            if isinstance(outcome, Failure) and not outcome.check(ChatError):
                self.crashed(what, context, outcome)
            return None
        self._waiting = None
        later = self.holding  # (not yet if it fired before wait_for returned)
        if isinstance(outcome, Failure):
            error = outcome.check(ChatError)
            if error is not None:
                self.refuse(context, outcome.value)  # type: ignore[arg-type]
            else:
                self.crashed(what, context, outcome)
            outcome = None
        self.command_done(context, outcome)
        if later:
            self.release()
        return None

    def command_done(self, context: Any, result: Any) -> None:
        """
        A command that finished later (L{wait_for}) is done: C{result} is
        what its Deferred gave, None if it failed (and was reported).
        """

    def _stop_holding(self) -> None:
        self._held.clear()
        self._waiting = None  # what it gives later is dropped (_settled)
        call, self._release_call = self._release_call, None
        if call is not None and call.active():
            call.cancel()

    # failed commands

    def refuse(self, context: Any, error: ChatError) -> None:
        """Tell the client, in its words, that the core refused a command."""
        raise NotImplementedError

    def internal_error(self, context: Any) -> None:
        """Tell the client a command failed for a reason of the server's own."""
        raise NotImplementedError

    def crashed(self, what: str, context: Any, failure: Failure | None = None) -> None:
        """
        A handler raised something else than a L{ChatError}: log it (the
        current exception, or C{failure}), answer with L{internal_error}.
        """
        log.failure(
            "internal error handling {what} from {peer}",
            failure,
            what=what,
            peer=self.peer,
        )
        if not self.closing:
            self.internal_error(context)

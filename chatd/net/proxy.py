# -*- test-case-name: tests.test_proxy -*-
"""
The PROXY protocol (v1 and v2, as haproxy and nginx send it) on the TCP
listeners that ask for it: an endpoint string written C{proxy:tcp:6668}
(C{proxy:ssl:...}, C{proxy:tcp6:...}, C{proxy:unix:...}) listens on
C{tcp:6668}, and every connection to it must start with a PROXY header
from a trusted proxy (the config's C{[proxy] trusted}) saying who the
client is.  Without the prefix no header is ever looked for, so nobody
can forge an address.

The header is read by L{ProxyHeaderProtocol}, the port's protocol until
the header is complete.  It then builds the listener's protocol with the
client's address (L{chatd.net.listener.Listener.buildProtocol} gives it
to the connection before C{connectionMade}), makes it the transport's
protocol and steps aside: from then on nothing sits between the socket
and the chat, so the fan-out's writes cost what they cost on any other
listener.  A connection whose peer is not trusted, whose header is
missing or malformed, or whose header is not complete within
L{HEADER_TIMEOUT} seconds, is closed with a logged reason, before the
chat hears of it.

The header comes before anything else on the wire, TLS included (as
haproxy's C{send-proxy} and nginx's C{proxy_protocol} send it on a TLS
passthrough): for C{proxy:ssl:...} the header is read first and TLS
starts after it.

Twisted has PROXY parsers, but only behind C{proxyEndpoint}: they are
private modules, they stay in the path of every write, know nothing of
trust or time, and refuse a v2 header whose first read is shorter than
16 bytes; so the two small formats are read here.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import TYPE_CHECKING, Any, Union

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IProtocolFactory,
    IReactorTime,
)
from twisted.internet.protocol import Protocol, ServerFactory
from twisted.logger import Logger
from twisted.protocols.tls import TLSMemoryBIOFactory

from chatd import log as _log
from chatd.log import logger
from chatd.net.addresses import parse_ip
from chatd.net.connection import format_peer

if TYPE_CHECKING:
    from twisted.internet.interfaces import IListeningPort
    from twisted.python.failure import Failure

    from chatd.net.listener import Listener

log = logger(__name__)

#: What an endpoint string starts with to ask for the PROXY protocol.
PREFIX = "proxy:"
#: The endpoint types a PROXY header can come in front of.
KINDS = frozenset({"tcp", "tcp6", "ssl", "unix"})
#: Seconds a connection has to send its whole header.
HEADER_TIMEOUT = 5.0
#: A refused connection is logged; the others of a burst (until this many
#: seconds pass without one) are counted, and logged once as a number.
QUIET = 10.0

#: v2's signature, the first twelve bytes of its header.
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
V1_START = b"PROXY "
#: The longest v1 header, its CR LF included (the specification's own bound).
V1_MAX = 107
_V2_FIXED = struct.Struct("!BBH")
_PORTS = struct.Struct("!HH")

ClientAddress = Union[IPv4Address, IPv6Address]


class HeaderError(Exception):
    """A PROXY header that is malformed or not one chatd takes: why, for logs."""


def split_endpoint(description: str) -> tuple[bool, str]:
    """
    Whether C{description} asks for the PROXY protocol, and the endpoint
    string without the prefix; ValueError if the prefix is on an endpoint
    type no header can precede.
    """
    if description[: len(PREFIX)].lower() != PREFIX:
        return False, description
    rest = description[len(PREFIX) :]
    kind = rest.split(":", 1)[0].lower()
    if kind not in KINDS:
        raise ValueError(
            f"the {PREFIX} prefix goes before a tcp, tcp6, ssl or unix endpoint, "
            f"not {kind or 'nothing'}"
        )
    return True, rest


# -- the header --------------------------------------------------------------


class HeaderReader:
    """
    Reads a PROXY header, v1 or v2, as it arrives.  L{feed} returns None
    until the header is complete, then the client's address (None when the
    header gives none: v2's C{LOCAL}, a health check, or v1's C{UNKNOWN}:
    the connection is the proxy's own) and the bytes that followed it.
    """

    def __init__(self) -> None:
        self.buffer = b""

    def feed(self, data: bytes) -> tuple[ClientAddress | None, bytes] | None:
        buffer = self.buffer = self.buffer + data
        if buffer[:12] == V2_SIGNATURE:
            return self._v2(buffer)
        if buffer[:6] == V1_START:
            return self._v1(buffer)
        if V2_SIGNATURE.startswith(buffer) or V1_START.startswith(buffer):
            return None  # too short yet to tell
        raise HeaderError("no PROXY header")

    def _v1(self, buffer: bytes) -> tuple[ClientAddress | None, bytes] | None:
        end = buffer.find(b"\r\n", 0, V1_MAX)
        if end < 0:
            if len(buffer) >= V1_MAX:
                raise HeaderError(f"PROXY v1 header longer than {V1_MAX} bytes")
            return None
        return parse_v1(buffer[:end]), buffer[end + 2 :]

    def _v2(self, buffer: bytes) -> tuple[ClientAddress | None, bytes] | None:
        if len(buffer) < 16:
            return None
        size = 16 + _V2_FIXED.unpack_from(buffer, 12)[2]
        if len(buffer) < size:
            return None
        return parse_v2(buffer[:size]), buffer[size:]


def parse_v1(line: bytes) -> ClientAddress | None:
    """
    The client's address in a v1 header line (without its CR LF): C{PROXY
    TCP4|TCP6 SOURCE DESTINATION SOURCE-PORT DESTINATION-PORT}, or None for
    C{PROXY UNKNOWN ...}.
    """
    fields = line.split(b" ")
    if len(fields) >= 2 and fields[1] == b"UNKNOWN":
        return None
    if len(fields) != 6 or fields[0] != b"PROXY":
        raise HeaderError("malformed PROXY v1 header")
    family = fields[1]
    if family not in (b"TCP4", b"TCP6"):
        raise HeaderError("PROXY v1 header names no TCP4, TCP6 or UNKNOWN")
    version = 4 if family == b"TCP4" else 6
    try:
        source = parse_ip(fields[2].decode("ascii"), version)
        parse_ip(fields[3].decode("ascii"), version)
    except (ValueError, UnicodeDecodeError):
        raise HeaderError(
            f"PROXY v1 header has an address that is not {family.decode()}"
        ) from None
    port = _port(fields[4])
    _port(fields[5])
    return _client(source, port)


def _port(field: bytes) -> int:
    if not (field.isdigit() and len(field) <= 5) or int(field) > 65535:
        raise HeaderError("PROXY v1 header has a port that is not 0 to 65535")
    return int(field)


def parse_v2(header: bytes) -> ClientAddress | None:
    """
    The client's address in a whole v2 header (signature, the fixed four
    bytes and the address block with any TLVs, which are ignored), or None
    for C{LOCAL} and for a C{PROXY} that gives no IP address (C{UNSPEC},
    or a client on a UNIX socket of the proxy's machine).
    """
    version_command, family_protocol, _ = _V2_FIXED.unpack_from(header, 12)
    if version_command >> 4 != 2:
        raise HeaderError(f"PROXY v2 header of version {version_command >> 4}")
    command = version_command & 0x0F
    if command == 0:  # LOCAL: the proxy's own connection, a health check
        return None
    if command != 1:
        raise HeaderError(f"PROXY v2 header with unknown command {command}")
    family, protocol = family_protocol >> 4, family_protocol & 0x0F
    if family in (0, 3):  # UNSPEC, UNIX: no client address to take
        return None
    if family not in (1, 2):
        raise HeaderError(f"PROXY v2 header with unknown address family {family}")
    if protocol != 1:
        raise HeaderError("PROXY v2 header for a connection that is not TCP")
    size = 4 if family == 1 else 16
    block = header[16:]
    if len(block) < 2 * size + 4:
        raise HeaderError("PROXY v2 header with its addresses cut short")
    port = _PORTS.unpack_from(block, 2 * size)[0]
    if family == 1:
        return _client(ipaddress.IPv4Address(block[:4]), port)
    return _client(ipaddress.IPv6Address(block[:16]), port)


def _client(
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int
) -> ClientAddress:
    """The client at C{ip}: an IPv4 address mapped into IPv6 is IPv4's."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is None:
            return IPv6Address("TCP", str(ip), port)
        ip = ip.ipv4_mapped
    return IPv4Address("TCP", str(ip), port)


def header_v1(source: ClientAddress, destination: ClientAddress) -> bytes:
    """A v1 header, as a proxy sends it (for tests and tools)."""
    family = "TCP4" if isinstance(source, IPv4Address) else "TCP6"
    return (
        f"PROXY {family} {source.host} {destination.host} "
        f"{source.port} {destination.port}\r\n"
    ).encode("ascii")


def header_v2(
    source: ClientAddress | None,
    destination: ClientAddress | None = None,
    tlvs: bytes = b"",
) -> bytes:
    """A v2 header, as a proxy sends it: C{LOCAL} when C{source} is None."""
    if source is None:
        return V2_SIGNATURE + _V2_FIXED.pack(0x20, 0, len(tlvs)) + tlvs
    assert destination is not None
    six = isinstance(source, IPv6Address)
    kind = ipaddress.IPv6Address if six else ipaddress.IPv4Address
    block = (
        kind(source.host).packed
        + kind(destination.host).packed
        + _PORTS.pack(source.port, destination.port)
        + tlvs
    )
    return (
        V2_SIGNATURE + _V2_FIXED.pack(0x21, 0x21 if six else 0x11, len(block)) + block
    )


def trusted(address: IAddress, networks: tuple[Any, ...]) -> bool:
    """
    Whether a peer at C{address} may say who its clients are: its IP
    address (or the IPv4 address mapped in it) is in one of C{networks}.  A
    UNIX socket's peer is trusted: whoever may open the socket file was
    let in by its permissions.
    """
    if not isinstance(address, (IPv4Address, IPv6Address)):
        return True
    try:
        ip = ipaddress.ip_address(address.host.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return any(ip in net or (mapped is not None and mapped in net) for net in networks)


class BurstLog:
    """
    Refusals logged once per burst: the first with its reason (C{first},
    a log format of the fields given to L{refused}), the others counted and
    logged as one number (C{rest}, with C{count} and the first's fields)
    once none has come for L{QUIET} seconds on C{clock}, to the logger
    C{to} (this module's if not given).  Refusals come in
    bursts from a misconfigured proxy or a client that retries in a loop,
    and a line each would flood the log.
    """

    def __init__(
        self, clock: IReactorTime, first: str, rest: str, to: Logger | None = None
    ) -> None:
        self.clock = clock
        #: the logger (the refusing module's)
        self.log = log if to is None else to
        self.first = first
        self.rest = rest
        self.count = 0
        self._fields: dict[str, Any] = {}
        self._last = 0.0
        self._burst: IDelayedCall | None = None

    def refused(self, **fields: Any) -> None:
        """One refusal: logged if it is the first of a burst, else counted."""
        self._last = self.clock.seconds()
        self.count += 1
        if self.count > 1:
            return
        self._fields = fields
        self.log.info(self.first, **fields)
        self._burst = self.clock.callLater(QUIET, self._burst_over)

    def stop(self) -> None:
        """Stop the timer (the listener stops); a burst's count is dropped."""
        burst, self._burst = self._burst, None
        if burst is not None and burst.active():
            burst.cancel()
        self.count = 0

    def _burst_over(self) -> None:
        self._burst = None
        quiet_since = self.clock.seconds() - self._last
        if quiet_since < QUIET:
            self._burst = self.clock.callLater(QUIET - quiet_since, self._burst_over)
            return
        if self.count > 1:
            self.log.info(self.rest, **{**self._fields, "count": self.count - 1})
        self.count = 0


# -- the listener's side -------------------------------------------------------


class ProxyHeaderProtocol(Protocol):
    """
    A connection's protocol until its PROXY header is read; then it hands
    the transport to the listener's protocol, built for the client's
    address, and is gone.
    """

    factory: ProxyFactory
    _timer: IDelayedCall | None = None
    _done = False

    def __init__(self) -> None:
        self.reader = HeaderReader()
        self.peer = "?"

    def connectionMade(self) -> None:
        factory = self.factory
        address = self.transport.getPeer()  # type: ignore[union-attr]
        self.peer = format_peer(address)
        if not trusted(address, factory.listener.trusted_proxies):
            self._refuse("not a trusted proxy (see [proxy] trusted)")
            return
        self._timer = factory.listener.clock.callLater(HEADER_TIMEOUT, self._late)

    def dataReceived(self, data: bytes) -> None:
        if self._done:
            return
        try:
            found = self.reader.feed(data)
        except HeaderError as e:
            self._refuse(str(e))
            return
        if found is None:
            return
        self._done = True
        self._stop_timer()
        address, rest = found
        transport: Any = self.transport
        if _log.debugging:
            log.debug(
                "PROXY header from {proxy}: the client is {client}",
                proxy=self.peer,
                client="the proxy itself" if address is None else format_peer(address),
            )
        self.factory.hand_over(transport, address or transport.getPeer(), rest)

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self._done = True
        self._stop_timer()

    def _late(self) -> None:
        self._timer = None
        self._refuse(f"no complete PROXY header within {HEADER_TIMEOUT:g} seconds")

    def _stop_timer(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def _refuse(self, reason: str) -> None:
        self._done = True
        self._stop_timer()
        self.factory.refused(self.peer, reason)
        self.transport.loseConnection()  # type: ignore[union-attr]


class ProxyFactory(ServerFactory):
    """
    The factory a C{proxy:} endpoint listens with: reads each connection's
    PROXY header (L{ProxyHeaderProtocol}), then lets C{inner} (the
    C{listener}, or the TLS that wraps it) build the connection's protocol
    for the client's address.
    """

    protocol = ProxyHeaderProtocol  # type: ignore[assignment]
    noisy = False

    def __init__(self, listener: Listener, inner: IProtocolFactory) -> None:
        self.listener = listener
        self.inner = inner
        self.refusals = BurstLog(
            listener.clock,
            "refused {peer} on a PROXY listener for {kind}: {reason} "
            "(further refusals are counted, not logged)",
            "refused {count} more connections on a PROXY listener for {kind}",
        )

    def doStart(self) -> None:
        self.inner.doStart()

    def doStop(self) -> None:
        self.refusals.stop()
        self.inner.doStop()

    def hand_over(self, transport: Any, address: IAddress, rest: bytes) -> None:
        """Give C{transport} to the protocol built for C{address}; feed it C{rest}."""
        protocol = self.inner.buildProtocol(address)
        if protocol is None:
            transport.loseConnection()
            return
        transport.protocol = protocol
        protocol.makeConnection(transport)
        if rest and transport.connected and not transport.disconnecting:
            protocol.dataReceived(rest)

    def refused(self, peer: str, reason: str) -> None:
        """
        Log a refused connection: the first of a burst with its reason,
        the rest as one count once none has come for L{QUIET} seconds.
        """
        self.refusals.refused(peer=peer, kind=self.listener.kind, reason=reason)


class _ProxiedReactor:
    """
    What a C{proxy:} endpoint string is parsed with: listening on it puts
    a L{ProxyFactory} in front of the listener, outside TLS.
    """

    def __init__(self, reactor: Any, listener: Listener) -> None:
        self._reactor = reactor
        self._listener = listener

    def listenTCP(
        self,
        port: int,
        factory: IProtocolFactory,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        proxied = ProxyFactory(self._listener, factory)
        return self._reactor.listenTCP(port, proxied, backlog, interface)  # type: ignore[no-any-return]

    def listenSSL(
        self,
        port: int,
        factory: IProtocolFactory,
        contextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> IListeningPort:
        tls = TLSMemoryBIOFactory(contextFactory, False, factory)
        return self.listenTCP(port, tls, backlog, interface)

    def listenUNIX(
        self,
        address: str,
        factory: IProtocolFactory,
        backlog: int = 50,
        mode: int = 0o666,
        wantPID: int = 0,
    ) -> IListeningPort:
        proxied = ProxyFactory(self._listener, factory)
        return self._reactor.listenUNIX(  # type: ignore[no-any-return]
            address, proxied, backlog, mode, wantPID
        )


def server_endpoint(reactor: Any, description: str, listener: Listener) -> Any:
    """
    The endpoint C{description} describes, for C{listener}: with the
    C{proxy:} prefix, one whose connections must each start with a PROXY
    header (L{ProxyFactory}).
    """
    from twisted.internet.endpoints import serverFromString

    proxied, rest = split_endpoint(description)
    if not proxied:
        return serverFromString(reactor, description)
    return serverFromString(_ProxiedReactor(reactor, listener), rest)


__all__ = [
    "HEADER_TIMEOUT",
    "PREFIX",
    "BurstLog",
    "HeaderError",
    "HeaderReader",
    "ProxyFactory",
    "ProxyHeaderProtocol",
    "header_v1",
    "header_v2",
    "parse_v1",
    "parse_v2",
    "server_endpoint",
    "split_endpoint",
    "trusted",
]

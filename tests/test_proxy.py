"""
The PROXY protocol on C{proxy:} listeners (L{chatd.net.proxy}): the two
header formats, trust, the header's deadline, and the client's address
seen by limits, bans, WHOIS and logs; on StringTransports under a Clock,
and end to end over loopback (plain and TLS passthrough).
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
from typing import Any

from twisted.internet import reactor
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.task import Clock
from twisted.internet.testing import (
    EventLoggingObserver,
    StringTransportWithDisconnection,
)
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import FailTest, SynchronousTestCase, TestCase

from chatd.config import ConfigError, ConfigSource
from chatd.core import Chat
from chatd.irc.factory import IRCFactory
from chatd.jsonproto.lines import ChatFactory
from chatd.net.addresses import parse_host, parse_ip
from chatd.net.limits import AddressLimit, FloodLimit, Gate
from chatd.net.proxy import (
    HEADER_TIMEOUT,
    HeaderError,
    HeaderReader,
    ProxyFactory,
    header_v1,
    header_v2,
    split_endpoint,
    trusted,
)
from chatd.service import ChatService
from tests.test_irc_e2e import WAIT, in_thread

CLIENT = IPv4Address("TCP", "203.0.113.7", 51234)
CLIENT6 = IPv6Address("TCP", "2001:db8::7", 51234)
LISTENER = IPv4Address("TCP", "192.0.2.1", 6668)
LISTENER6 = IPv6Address("TCP", "2001:db8::1", 6668)
PROXY = IPv4Address("TCP", "10.1.2.3", 40000)
TRUSTED = (ipaddress.ip_network("10.0.0.0/8"),)


class HeaderTests(SynchronousTestCase):
    """Reading the header as it arrives, and what is refused."""

    def read(self, data: bytes, step: int = 0) -> tuple[Any, bytes]:
        reader = HeaderReader()
        pieces = (
            [data[i : i + step] for i in range(0, len(data), step)] if step else [data]
        )
        for piece in pieces:
            found = reader.feed(piece)
            if found is not None:
                address, rest = found
                return address, rest + b"".join(pieces[pieces.index(piece) + 1 :])
        raise FailTest("the header was never complete")

    def refused(self, data: bytes) -> str:
        reader = HeaderReader()
        e = self.assertRaises(HeaderError, reader.feed, data)
        return str(e)

    def test_v1_byte_by_byte(self) -> None:
        data = header_v1(CLIENT, LISTENER) + b"NICK a\r\n"
        self.assertEqual(data[:6], b"PROXY ")
        self.assertEqual(self.read(data, 1), (CLIENT, b"NICK a\r\n"))
        self.assertEqual(self.read(data), (CLIENT, b"NICK a\r\n"))

    def test_v1_ipv6_and_unknown(self) -> None:
        self.assertEqual(self.read(header_v1(CLIENT6, LISTENER6)), (CLIENT6, b""))
        mapped = b"PROXY TCP6 ::ffff:203.0.113.7 ::1 51234 1\r\n"
        self.assertEqual(self.read(mapped), (CLIENT, b""))  # an IPv4 client
        self.assertEqual(self.read(b"PROXY UNKNOWN\r\nx"), (None, b"x"))
        self.assertEqual(
            self.read(b"PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n"), (None, b"")
        )

    def test_parse_ip(self) -> None:
        """
        The one parser of the addresses proxies and gateways name (PROXY,
        WEBIRC, X-Forwarded-For): canonical, IPv4 mapped into IPv6 as IPv4,
        no IPv6 zone, and nothing but the address in its text.
        """
        self.assertEqual(parse_host("::ffff:203.0.113.7"), "203.0.113.7")
        self.assertEqual(parse_host("2001:DB8:0::7"), "2001:db8::7")
        self.assertEqual(parse_ip("203.0.113.7", 4).version, 4)
        for text in (
            "fe80::1%eth0",
            "fe80::1%x KICK #c :hi",
            "fe80::1%\r\nQUIT",
            "::1%1",
            " 203.0.113.7",
            "203.0.113.7 x",
            "a!b@c",
            "",
        ):
            self.assertRaises(ValueError, parse_ip, text)
        self.assertRaises(ValueError, parse_ip, "::1", 4)
        self.assertRaises(ValueError, parse_ip, "127.0.0.1", 6)

    def test_v2_in_small_pieces(self) -> None:
        for source, destination in ((CLIENT, LISTENER), (CLIENT6, LISTENER6)):
            data = header_v2(source, destination) + b"rest"
            self.assertEqual(self.read(data, 3), (source, b"rest"))
        # TLVs (haproxy's unique id, SSL information...) are skipped
        tlv = b"\x05\x00\x04abcd"
        self.assertEqual(self.read(header_v2(CLIENT, LISTENER, tlv)), (CLIENT, b""))

    def test_v2_local_and_unspec_keep_the_proxys_address(self) -> None:
        self.assertEqual(self.read(header_v2(None) + b"x"), (None, b"x"))
        unspec = header_v2(None)[:12] + b"\x21\x00\x00\x00"
        self.assertEqual(self.read(unspec), (None, b""))

    def test_what_is_refused(self) -> None:
        good = header_v1(CLIENT, LISTENER)
        v2 = header_v2(CLIENT, LISTENER)
        cases = {
            b"NICK alice\r\n": "no PROXY header",
            b"GET / HTTP/1.1\r\n": "no PROXY header",
            b"PROXY TCP4 " + b"1" * 100: "PROXY v1 header longer than 107 bytes",
            b"PROXY TCP5 1.2.3.4 1.2.3.4 1 2\r\n": "PROXY v1 header names no TCP4",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n": "malformed PROXY v1 header",
            good.replace(b" 51234 ", b"  51234 "): "malformed PROXY v1 header",
            b"PROXY TCP4 2001:db8::7 1.2.3.4 1 2\r\n": "address that is not TCP4",
            b"PROXY TCP6 1.2.3.4 ::1 1 2\r\n": "address that is not TCP6",
            # a zone would be the user's host: fe80::1%x!y@z
            b"PROXY TCP6 fe80::1%x!y@z ::1 1 2\r\n": "address that is not TCP6",
            b"PROXY TCP6 ::1 fe80::1%eth0 1 2\r\n": "address that is not TCP6",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n": "port that is not 0 to 65535",
            b"PROXY TCP4 1.2.3.4 1.2.3.4 -1 2\r\n": "port that is not 0 to 65535",
            v2[:12] + b"\x11" + v2[13:]: "PROXY v2 header of version 1",
            v2[:12] + b"\x22" + v2[13:]: "unknown command 2",
            v2[:13] + b"\x12" + v2[14:]: "not TCP",  # UDP
            v2[:13] + b"\x41" + v2[14:]: "unknown address family 4",
            v2[:14] + b"\x00\x08" + v2[16:24]: "addresses cut short",
        }
        for data, reason in cases.items():
            self.assertIn(reason, self.refused(data), data)

    def test_trust(self) -> None:
        self.assertTrue(trusted(PROXY, TRUSTED))
        self.assertFalse(trusted(CLIENT, TRUSTED))
        self.assertFalse(trusted(PROXY, ()))
        mapped = IPv6Address("TCP", "::ffff:10.9.9.9", 1)
        self.assertTrue(trusted(mapped, TRUSTED))
        self.assertFalse(trusted(CLIENT6, TRUSTED))

    def test_endpoint_prefix(self) -> None:
        self.assertEqual(split_endpoint("tcp:6668"), (False, "tcp:6668"))
        self.assertEqual(split_endpoint("proxy:tcp:6668"), (True, "tcp:6668"))
        self.assertEqual(split_endpoint("proxy:ssl:6697:k=v"), (True, "ssl:6697:k=v"))
        self.assertRaises(
            ValueError, split_endpoint, "proxy:systemd:domain=INET:index=0"
        )

    def test_config_takes_the_prefix(self) -> None:
        source = ConfigSource.of(None, {"irc.listen": ["proxy:tcp:6668"]})
        self.assertEqual(source.load().irc.listen, ("proxy:tcp:6668",))
        bad = ConfigSource.of(None, {"irc.listen": ["proxy:stdio:"]})
        e = self.assertRaises(ConfigError, bad.load)
        self.assertIn("tcp, tcp6, ssl or unix", str(e))


class Proxied:
    """A connection from C{peer} to a C{proxy:} listener, on a StringTransport."""

    def __init__(self, factory: ProxyFactory, peer: IPv4Address | IPv6Address) -> None:
        self.transport = StringTransportWithDisconnection(
            hostAddress=LISTENER, peerAddress=peer
        )
        proto = factory.buildProtocol(peer)
        assert proto is not None
        self.transport.protocol = proto
        proto.makeConnection(self.transport)

    def send(self, data: bytes) -> None:
        self.transport.protocol.dataReceived(data)

    def lines(self) -> list[str]:
        data = self.transport.value()
        self.transport.clear()
        return data.decode("utf-8").splitlines()

    @property
    def open(self) -> bool:
        return bool(self.transport.connected)


class ListenerTests(SynchronousTestCase):
    """IRC and JSON listeners behind a ProxyFactory, on a Clock."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.chat = Chat(max_users=100, clock=self.clock)
        self.gate = Gate(AddressLimit(per_address=1, connects=0))
        self.irc = IRCFactory(
            self.chat,
            self.clock,
            server_name="irc.test",
            network="TestNet",
            flood=FloodLimit(burst=0),
            gate=self.gate,
        )
        self.json = ChatFactory(
            self.chat, self.clock, flood=FloodLimit(burst=0), gate=self.gate
        )
        for factory in (self.irc, self.json):
            factory.trusted_proxies = TRUSTED
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        #: one ProxyFactory per listener, as one per port
        self.ports: dict[Any, ProxyFactory] = {}

    def logged(self) -> list[str]:
        return [formatEvent(e) for e in self.events]

    def connect(self, factory: Any = None, peer: Any = PROXY) -> Proxied:
        factory = factory or self.irc
        proxied = self.ports.get(factory)
        if proxied is None:
            proxied = self.ports[factory] = ProxyFactory(factory, factory)
        return Proxied(proxied, peer)

    def irc_user(self, nick: str, header: bytes) -> Proxied:
        conn = self.connect()
        conn.send(header + f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
        return conn

    def test_irc_client_is_seen_at_its_address(self) -> None:
        for header in (header_v1(CLIENT, LISTENER), header_v2(CLIENT, LISTENER)):
            conn = self.irc_user("alice", header)
            lines = conn.lines()
            self.assertIn("alice!~alice@203.0.113.7", lines[0])
            conn.send(b"WHOIS alice\r\n")
            [whois] = [line for line in conn.lines() if " 311 " in line]
            self.assertIn(" alice ~alice 203.0.113.7 * ", whois)
            conn.send(b"QUIT\r\n")
            self.assertFalse(conn.open)

    def test_json_client_is_seen_at_its_address(self) -> None:
        conn = self.connect(self.json)
        conn.send(header_v2(CLIENT6, LISTENER6) + b'{"cmd":"nick","nick":"bob"}\n')
        self.assertIn('"type":"ok"', conn.lines()[-1])
        [user] = self.chat.users
        self.assertEqual((user.host, user.peer), ("2001:db8::7", "[2001:db8::7]:51234"))

    def test_local_keeps_the_proxys_address(self) -> None:
        conn = self.irc_user("check", header_v2(None))
        self.assertIn("check!~check@10.1.2.3", conn.lines()[0])

    def test_per_address_limit_counts_the_client(self) -> None:
        first = self.irc_user("alice", header_v1(CLIENT, LISTENER))
        self.assertIn(" 001 ", first.lines()[0])
        # the same client again: over its limit of one
        second = self.irc_user("alice2", header_v1(CLIENT, LISTENER))
        self.assertIn("Too many connections from your address", second.lines()[-1])
        # another client of the same proxy
        other = IPv4Address("TCP", "198.51.100.9", 1)
        third = self.irc_user("carol", header_v1(other, LISTENER))
        self.assertIn(" 001 ", third.lines()[0])

    def test_bans_match_the_client(self) -> None:
        op = self.irc_user(
            "op", header_v1(IPv4Address("TCP", "198.51.100.1", 1), LISTENER)
        )
        op.send(b"JOIN #c\r\nMODE #c +b *!*@203.0.113.7\r\n")
        banned = self.irc_user("alice", header_v1(CLIENT, LISTENER))
        banned.lines()
        banned.send(b"JOIN #c\r\n")
        self.assertIn(" 474 ", banned.lines()[0])

    def test_untrusted_peer_is_closed(self) -> None:
        conn = self.connect(peer=CLIENT)
        self.assertFalse(conn.open)
        self.assertEqual(conn.lines(), [])
        self.assertEqual(self.chat.users, set())
        self.assertIn(
            "refused 203.0.113.7:51234 on a PROXY listener for IRC: not a trusted proxy",
            self.logged()[-1],
        )
        # the next refusals of the burst are counted, not logged each
        self.connect(peer=CLIENT)
        self.clock.advance(9)
        self.connect(peer=CLIENT)
        self.clock.advance(9.9)
        self.assertEqual(len(self.logged()), 1)
        self.clock.advance(0.1)
        self.assertEqual(
            self.logged()[-1],
            "refused 2 more connections on a PROXY listener for IRC",
        )
        self.connect(peer=CLIENT)  # a new burst
        self.assertIn("not a trusted proxy", self.logged()[-1])

    def test_missing_or_malformed_header_closes(self) -> None:
        for data in (b"NICK alice\r\n", b"PROXY TCP4 1.2.3.4 nonsense\r\n"):
            self.clock.advance(60)  # a new burst: logged again
            conn = self.connect()
            conn.send(data)
            self.assertFalse(conn.open)
            self.assertEqual(self.chat.users, set())
        self.assertIn("no PROXY header", self.logged()[-2])
        self.assertIn("malformed PROXY v1 header", self.logged()[-1])

    def test_header_must_be_complete_in_time(self) -> None:
        conn = self.connect()
        conn.send(header_v1(CLIENT, LISTENER)[:10])
        self.clock.advance(HEADER_TIMEOUT - 0.1)
        self.assertTrue(conn.open)
        self.clock.advance(0.1)
        self.assertFalse(conn.open)
        self.assertIn("no complete PROXY header within 5 seconds", self.logged()[-1])
        # in time, the timer is gone
        self.clock.advance(10)  # (and the burst of refusals is over)
        conn = self.connect()
        conn.send(header_v1(CLIENT, LISTENER))
        self.assertEqual(self.clock.getDelayedCalls(), [])

    def test_reload_changes_trust(self) -> None:
        self.irc.trusted_proxies = ()
        self.assertFalse(self.connect().open)


class LoopbackTests(TestCase):
    """
    Real listeners on loopback: C{proxy:} endpoints for IRC and JSON
    (trusted: loopback), a C{proxy:ssl:} one, and a plain one that
    never reads a header.
    """

    timeout = 60

    def setUp(self) -> None:
        from tests.test_tls import make_certificate

        self.clock = Clock()
        self.clock.advance(time.time())
        chat = Chat(max_users=50)
        self.irc = IRCFactory(chat, self.clock, server_name="irc.test", network="T")
        self.json = ChatFactory(chat, self.clock)
        cert, key = make_certificate(["localhost"], ["127.0.0.1"])
        pem = self.mktemp()
        with open(pem, "wb") as f:
            f.write(cert + key)
        listen = "tcp:0:interface=127.0.0.1"
        self.service = ChatService(
            reactor,
            [
                (
                    self.irc,
                    [
                        "proxy:" + listen,
                        listen,
                        f"proxy:ssl:0:interface=127.0.0.1:privateKey={pem}",
                    ],
                ),
                (self.json, ["proxy:" + listen]),
            ],
        )
        for factory in (self.irc, self.json):
            factory.trusted_proxies = (ipaddress.ip_network("127.0.0.0/8"),)
        self.service.startService()
        self.addCleanup(self.service.stopService)
        ports = [p.getHost().port for p in self.service.ports]
        self.proxied, self.plain, self.tls, self.json_port = ports

    def talk(self, port: int, data: bytes, until: bytes, tls: bool = False) -> bytes:
        """Send C{data} (after TLS starts, with C{tls}); read until C{until} or EOF."""
        sock: Any = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        try:
            if tls:
                header, data = data.split(b"\n", 1)
                sock.sendall(header + b"\n")
                context = ssl.create_default_context()
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                sock = context.wrap_socket(sock, server_hostname="localhost")
            sock.sendall(data)
            got = b""
            deadline = time.monotonic() + WAIT
            while until not in got and time.monotonic() < deadline:
                piece = sock.recv(65536)
                if not piece:
                    break
                got += piece
            return got
        finally:
            sock.close()

    @in_thread
    def test_v1_and_v2(self) -> None:
        register = b"NICK a\r\nUSER a 0 * :A\r\nWHOIS a\r\nQUIT\r\n"
        got = self.talk(self.proxied, header_v1(CLIENT, LISTENER) + register, b" 318 ")
        self.assertIn(b" 311 a a ~a 203.0.113.7 * ", got)
        got = self.talk(
            self.proxied, header_v2(CLIENT6, LISTENER6) + register, b" 318 "
        )
        self.assertIn(b" 311 a a ~a 2001:db8::7 * ", got)
        got = self.talk(
            self.json_port,
            header_v1(CLIENT, LISTENER) + b'{"cmd":"nick","nick":"j"}\n',
            b'"cmd":"nick"',
        )
        self.assertIn(b'"type":"ok"', got)

    @in_thread
    def test_tls_after_the_header(self) -> None:
        got = self.talk(
            self.tls,
            header_v1(CLIENT, LISTENER) + b"NICK t\r\nUSER t 0 * :T\r\nWHOIS t\r\n",
            b" 318 ",
            tls=True,
        )
        self.assertIn(b" 311 t t ~t 203.0.113.7 * ", got)

    @in_thread
    def test_untrusted_and_headerless_are_closed(self) -> None:
        def untrust() -> None:
            self.irc.trusted_proxies = (ipaddress.ip_network("10.0.0.0/8"),)

        got = self.talk(self.proxied, b"NICK a\r\nUSER a 0 * :A\r\n", b"001")
        self.assertEqual(got, b"")
        from twisted.internet.threads import blockingCallFromThread

        blockingCallFromThread(reactor, untrust)
        got = self.talk(self.proxied, header_v1(CLIENT, LISTENER) + b"NICK a\r\n", b"x")
        self.assertEqual(got, b"")

    @in_thread
    def test_a_plain_listener_never_reads_a_header(self) -> None:
        got = self.talk(
            self.plain,
            header_v1(CLIENT, LISTENER) + b"NICK a\r\nUSER a 0 * :A\r\nWHOIS a\r\n",
            b" 318 ",
        )
        self.assertIn(b" 311 a a ~a 127.0.0.1 * ", got)
        self.assertNotIn(b"203.0.113.7", got)

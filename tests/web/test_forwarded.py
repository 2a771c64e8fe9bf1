"""X-Forwarded-For on the web listener, from trusted and untrusted peers."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SynchronousTestCase

from chatd.net.limits import AddressLimit, Gate
from chatd.web.forwarded import client_address
from tests.web.support import WebTestCase


class TrustedProxyTests(WebTestCase):
    web_options = {
        "trusted": (ip_network("127.0.0.1/32"),),
        "gate": Gate(AddressLimit(per_address=1)),
    }

    @inlineCallbacks
    def test_forwarded_address(self) -> Any:
        """
        From a trusted proxy, the client's address is the rightmost one not
        of a trusted proxy: what others see of it, and what bans match.
        """
        alice = yield self.irc_user(
            "alice",
            headers={"X-Forwarded-For": "192.0.2.66, 203.0.113.9, 127.0.0.1"},
        )
        alice.send("JOIN #a")
        yield alice.line(" 366 ")
        bob = yield self.tcp_user("bob")
        bob.send("JOIN #a")
        join = yield bob.line(" JOIN ")
        self.assertEqual(join, b":bob!~b@127.0.0.1 JOIN #a")
        bob.send("WHO #a")
        who = yield bob.line(" 352 bob #a ~a ")
        self.assertIn(b" 203.0.113.9 ", who)

    @inlineCallbacks
    def test_bans_see_it(self) -> Any:
        """A ban on the forwarded address keeps its user out."""
        bob = yield self.tcp_user("bob")
        bob.send("JOIN #a")
        yield bob.line(" 366 ")
        bob.send("MODE #a +b *!*@203.0.113.9")
        yield bob.line(" MODE #a +b ")
        alice = yield self.irc_user("alice", headers={"X-Forwarded-For": "203.0.113.9"})
        alice.send("JOIN #a")
        refused = yield alice.line(" 474 ")
        self.assertIn(b" 474 alice #a :", refused)
        carol = yield self.irc_user(
            "carol", headers={"X-Forwarded-For": "203.0.113.10"}
        )
        carol.send("JOIN #a")
        yield carol.line(" 366 ")

    @inlineCallbacks
    def test_per_address_limit(self) -> Any:
        """The per-address limit counts the forwarded address (loopback is not)."""
        yield self.irc_user("alice", headers={"X-Forwarded-For": "203.0.113.9"})
        yield self.irc_user("bob", headers={"X-Forwarded-For": "203.0.113.10"})
        third = yield self.connect(
            "/", ["text.ircv3.net"], headers={"X-Forwarded-For": "203.0.113.9"}
        )
        line = yield third.line("ERROR :")
        self.assertIn(
            b"Closing Link: 203.0.113.9 (Too many connections from your address", line
        )
        code, _ = yield third.closed
        self.assertEqual(code, 4007)


class UntrustedPeerTests(WebTestCase):
    web_options = {"trusted": (ip_network("10.0.0.0/8"),)}

    @inlineCallbacks
    def test_header_ignored(self) -> Any:
        """From a peer that is not a trusted proxy, nobody can forge an address."""
        alice = yield self.irc_user("alice", headers={"X-Forwarded-For": "203.0.113.9"})
        alice.send("WHOIS alice")
        line = yield alice.line(" 311 ")
        self.assertIn(b" alice ~a 127.0.0.1 ", line)


class ProxyProtocolTests(WebTestCase):
    """The web listener on a proxy: endpoint: the PROXY header's client."""

    def web_listen(self) -> str:
        return "proxy:tcp:0:interface=127.0.0.1"

    def setUp(self) -> None:
        super().setUp()
        self.web.trusted_proxies = (ip_network("127.0.0.1/32"),)

    @inlineCallbacks
    def test_client_of_the_header(self) -> Any:
        import os

        from twisted.internet import reactor
        from twisted.internet.defer import Deferred
        from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
        from twisted.internet.protocol import Protocol

        def masked(payload: bytes, opcode: int = 1) -> bytes:
            mask = os.urandom(4)
            body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            return bytes([0x80 | opcode, 0x80 | len(payload)]) + mask + body

        received: list[bytes] = []
        done: Deferred[None] = Deferred()
        lost: Deferred[None] = Deferred()

        class Raw(Protocol):
            def dataReceived(self, data: bytes) -> None:
                received.append(data)
                if b" 311 " in b"".join(received) and not done.called:
                    done.callback(None)

            def connectionLost(self, reason: object = None) -> None:
                lost.callback(None)

        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.port)
        raw = yield connectProtocol(endpoint, Raw())
        raw.transport.write(
            b"PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n"
            b"GET /irc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
            + masked(b"NICK zed")
            + masked(b"USER z 0 * :z")
            + masked(b"WHOIS zed")
        )
        done.addTimeout(10, reactor)
        yield done
        self.assertIn(b" 311 zed zed ~z 203.0.113.7 * ", b"".join(received))
        raw.transport.write(masked(b"\x03\xe8", opcode=8))
        lost.addTimeout(10, reactor)
        yield lost


class HeaderTests(SynchronousTestCase):
    trusted = (ip_network("127.0.0.1/32"), ip_network("::1/128"))

    def test_zone_ends_the_walk(self) -> None:
        """
        An IPv6 address with a zone is not an address: it would be the
        user's host, text and all (C{fe80::1%x KICK #c :hi}).  The walk ends
        at the last trusted proxy, as for any other thing that is not one.
        """
        for bad in ("fe80::1%x KICK #c :hi", "fe80::1%eth0", "[fe80::1%x]", "a!b@c"):
            self.assertEqual(
                client_address("127.0.0.1", bad, self.trusted), "127.0.0.1"
            )
            self.assertEqual(
                client_address("127.0.0.1", f"{bad}, 203.0.113.9", self.trusted),
                "203.0.113.9",
            )

    def test_ipv4_mapped(self) -> None:
        """An IPv4 address mapped into IPv6 is IPv4's, as with PROXY and WEBIRC."""
        self.assertEqual(
            client_address("127.0.0.1", "::ffff:203.0.113.9", self.trusted),
            "203.0.113.9",
        )
        self.assertEqual(
            client_address("::1", "[::FFFF:203.0.113.9]", self.trusted), "203.0.113.9"
        )

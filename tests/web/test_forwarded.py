"""X-Forwarded-For on the web listener, from trusted and untrusted peers."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any

from twisted.internet.defer import inlineCallbacks

from chatd.net.limits import AddressLimit, Gate
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

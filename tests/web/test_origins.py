"""The Origin allow-list and X-Forwarded-For, as pure rules."""

from __future__ import annotations

from ipaddress import ip_network

from twisted.trial.unittest import SynchronousTestCase

from chatd.web.forwarded import client_address
from chatd.web.origins import Origins, normal_origin


class NormalOriginTests(SynchronousTestCase):
    def test_spellings(self) -> None:
        self.assertEqual(
            normal_origin("HTTPS://Chat.Example.org"), "https://chat.example.org"
        )
        self.assertEqual(
            normal_origin("https://chat.example.org:443"), "https://chat.example.org"
        )
        self.assertEqual(
            normal_origin("http://localhost:8080/"), "http://localhost:8080"
        )
        self.assertEqual(normal_origin("http://[::1]:8080"), "http://[::1]:8080")

    def test_not_origins(self) -> None:
        for text in (
            "chat.example.org",
            "ftp://x",
            "https://x/path",
            "https://u@x",
            "",
            "null",
        ):
            self.assertIsNone(normal_origin(text), text)


class OriginsTests(SynchronousTestCase):
    def test_same_origin(self) -> None:
        """The page of the address the request went to is let in, only it."""
        origins = Origins()
        self.assertIsNone(origins.refusal("http://localhost:8080", "localhost:8080"))
        self.assertIsNone(
            origins.refusal("https://chat.example.org", "chat.example.org")
        )
        self.assertIsNotNone(origins.refusal("http://localhost:8081", "localhost:8080"))
        self.assertIsNotNone(origins.refusal("https://evil.example", "localhost:8080"))
        self.assertIsNotNone(origins.refusal("null", "localhost:8080"))

    def test_behind_a_tls_proxy(self) -> None:
        """
        A Host without a port: pages on that host at http's or https's
        default port (a proxy serving https for chatd's http), no other.
        """
        origins = Origins()
        self.assertIsNone(
            origins.refusal("https://chat.example.org", "chat.example.org")
        )
        self.assertIsNone(
            origins.refusal("http://chat.example.org", "chat.example.org")
        )
        self.assertIsNotNone(
            origins.refusal("https://chat.example.org:8443", "chat.example.org")
        )
        self.assertIsNotNone(
            origins.refusal("https://other.example.org", "chat.example.org")
        )
        self.assertIsNotNone(origins.refusal("https://chat.example.org", "garbage/x"))

    def test_no_origin(self) -> None:
        """Programs send no Origin: let in."""
        self.assertIsNone(Origins().refusal(None, "localhost:8080"))

    def test_listed(self) -> None:
        origins = Origins(["https://kiwiirc.com"])
        self.assertIsNone(origins.refusal("https://kiwiirc.com", "chat:8080"))
        refusal = origins.refusal("http://kiwiirc.com", "chat:8080")
        self.assertEqual(
            refusal,
            "pages from http://kiwiirc.com may not connect here "
            "(the server's [web] origins does not list it)",
        )

    def test_any(self) -> None:
        self.assertIsNone(Origins(["*"]).refusal("null", "x"))


TRUSTED = (ip_network("10.0.0.0/8"), ip_network("127.0.0.1/32"))


class ForwardedTests(SynchronousTestCase):
    def test_untrusted_peer(self) -> None:
        """From a peer that is no trusted proxy, the header means nothing."""
        self.assertEqual(
            client_address("192.0.2.1", "203.0.113.9", TRUSTED), "192.0.2.1"
        )
        self.assertEqual(client_address("127.0.0.1", "203.0.113.9", ()), "127.0.0.1")

    def test_trusted_peer(self) -> None:
        self.assertEqual(
            client_address("127.0.0.1", "203.0.113.9", TRUSTED), "203.0.113.9"
        )

    def test_rightmost_untrusted(self) -> None:
        """A client's own X-Forwarded-For entries are left of what proxies add."""
        self.assertEqual(
            client_address("127.0.0.1", "1.2.3.4, 203.0.113.9, 10.1.1.1", TRUSTED),
            "203.0.113.9",
        )

    def test_garbage(self) -> None:
        """An entry that is no address ends the walk at the last trusted one."""
        self.assertEqual(
            client_address("127.0.0.1", "junk, 10.1.1.1", TRUSTED), "10.1.1.1"
        )
        self.assertEqual(client_address("127.0.0.1", "junk", TRUSTED), "127.0.0.1")

    def test_all_trusted(self) -> None:
        self.assertEqual(
            client_address("127.0.0.1", "10.2.2.2, 10.1.1.1", TRUSTED), "10.2.2.2"
        )

    def test_ipv6(self) -> None:
        self.assertEqual(
            client_address("127.0.0.1", "[2001:db8::1]", TRUSTED), "2001:db8::1"
        )

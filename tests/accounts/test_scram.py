"""
SCRAM-SHA-256 on the server's side (chatd.accounts.scram): RFC 7677's
example exchange, scramp's client against the server, and every way a
client message can be wrong.
"""

from __future__ import annotations

import base64
import re
import secrets

import scramp
from twisted.trial.unittest import SynchronousTestCase

from chatd.accounts.scram import (
    DEFAULT_ITERATIONS,
    ChannelBindingNotSupported,
    InvalidProof,
    MalformedScramMessage,
    ScramCredentials,
    ScramCredentialsError,
    ScramExchange,
    fake_credentials,
    make_credentials,
    make_nonce,
    parse_client_first,
)

from .scramclient import Client, b64

# RFC 7677, section 3: user "user", password "pencil".
RFC_SALT = "W22ZaJ0SNY7soEsUEjb6gQ=="
RFC_CLIENT_FIRST = b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
RFC_SERVER_NONCE = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
RFC_SERVER_FIRST = (
    b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
)
RFC_CLIENT_FINAL = (
    b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
    b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
)
RFC_SERVER_FINAL = b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="


ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def stray(char: bytes) -> bytes:
    """The base64 character after C{char}: the same bits and a stray low one."""
    return ALPHABET[ALPHABET.index(char) + 1 :][:1]


def made_up() -> str:
    return "pw-" + secrets.token_urlsafe(12)


class RFC7677Tests(SynchronousTestCase):
    def exchange(self, password: str) -> ScramExchange:
        credentials = make_credentials(password, salt=base64.b64decode(RFC_SALT))
        first = parse_client_first(RFC_CLIENT_FIRST)
        return ScramExchange(first, credentials, RFC_SERVER_NONCE)

    def test_example_exchange(self) -> None:
        exchange = self.exchange("pencil")
        self.assertEqual(exchange.server_first, RFC_SERVER_FIRST)
        self.assertEqual(exchange.verify(RFC_CLIENT_FINAL), RFC_SERVER_FINAL)

    def test_wrong_password(self) -> None:
        exchange = self.exchange("pencils")
        self.assertEqual(exchange.server_first, RFC_SERVER_FIRST)
        with self.assertRaises(InvalidProof):
            exchange.verify(RFC_CLIENT_FINAL)

    def test_credentials_agree_with_scramp(self) -> None:
        salt = base64.b64decode(RFC_SALT)
        credentials = make_credentials("pencil", salt=salt)
        mechanism = scramp.ScramMechanism("SCRAM-SHA-256")
        _, stored_key, server_key, iterations = mechanism.make_auth_info(
            "pencil", iteration_count=4096, salt=salt
        )
        self.assertEqual(
            credentials, ScramCredentials(salt, stored_key, server_key, iterations)
        )


class ScrampClientTests(SynchronousTestCase):
    """scramp's client, which saslpreps the password as RFC 5802 says."""

    def run_exchange(self, stored_password: str, client_password: str) -> None:
        credentials = make_credentials(stored_password)
        client = scramp.ScramClient(["SCRAM-SHA-256"], "alice", client_password)
        first = parse_client_first(client.get_client_first().encode())
        self.assertEqual(first.username, "alice")
        exchange = ScramExchange(first, credentials, make_nonce())
        client.set_server_first(exchange.server_first.decode())
        final = exchange.verify(client.get_client_final().encode())
        # scramp raises if the server's signature is not the right one
        client.set_server_final(final.decode())

    def test_exchange(self) -> None:
        password = made_up()
        self.run_exchange(password, password)

    def test_wrong_password(self) -> None:
        password = made_up()
        with self.assertRaises(InvalidProof):
            self.run_exchange(password, password + "!")

    def test_saslprep_on_both_sides(self) -> None:
        self.run_exchange("caf\u00e9 au lait \u2168", "cafe\u0301\u00a0au lait IX")


class CredentialsTests(SynchronousTestCase):
    def test_random_salt(self) -> None:
        password = made_up()
        first, second = make_credentials(password), make_credentials(password)
        self.assertEqual(len(first.salt), 16)
        self.assertNotEqual(first.salt, second.salt)
        self.assertNotEqual(first.stored_key, second.stored_key)
        self.assertEqual(first.iterations, DEFAULT_ITERATIONS)
        self.assertEqual(DEFAULT_ITERATIONS, 4096)

    def test_iterations(self) -> None:
        self.assertEqual(make_credentials(made_up(), 5000).iterations, 5000)
        for count in (0, 4095, 10_000_001):
            with self.assertRaises(ScramCredentialsError):
                make_credentials(made_up(), count)

    def test_text_round_trip(self) -> None:
        credentials = make_credentials(made_up(), 4097)
        text = credentials.to_text()
        self.assertRegex(
            text,
            r"\Ascram-sha-256\$4097\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}"
            r"\$[A-Za-z0-9+/]{43}\Z",
        )
        self.assertEqual(ScramCredentials.from_text(text), credentials)

    def test_repr_hides_keys(self) -> None:
        credentials = make_credentials(made_up())
        shown = repr(credentials)
        for key in (credentials.stored_key, credentials.server_key):
            self.assertNotIn(repr(key), shown)
            self.assertNotIn(b64(key).rstrip("="), shown)
        self.assertIn("iterations=4096", shown)

    def test_malformed_text(self) -> None:
        text = make_credentials(made_up()).to_text()
        prefix, count, salt, stored, server = text.split("$")
        for bad in [
            "",
            made_up(),
            text + "$",
            text.replace("scram-sha-256", "scram-sha-1"),
            text.replace("$4096$", "$04096$"),
            text.replace("$4096$", "$4e3$"),
            text.replace("$4096$", "$-4096$"),
            text.replace("$4096$", "$4095$"),
            text.replace("$4096$", "$$"),
            f"{prefix}${count}$${stored}${server}",
            f"{prefix}${count}${salt}${stored[:-2]}${server}",
            f"{prefix}${count}${salt}${stored}${server}AAAA",
            f"{prefix}${count}${salt}*${stored}${server}",
            f"{prefix}${count}${salt}${stored}=${server}",
        ]:
            with self.assertRaises(ScramCredentialsError, msg=bad):
                ScramCredentials.from_text(bad)

    def test_key_lengths(self) -> None:
        with self.assertRaises(ScramCredentialsError):
            ScramCredentials(b"salt", b"x" * 31, b"x" * 32)
        with self.assertRaises(ScramCredentialsError):
            ScramCredentials(b"", b"x" * 32, b"x" * 32)


class FakeCredentialsTests(SynchronousTestCase):
    def test_stable_per_name_and_secret(self) -> None:
        secret = secrets.token_bytes(32)
        alice = fake_credentials(secret, "alice")
        self.assertEqual(fake_credentials(secret, "alice"), alice)
        self.assertEqual(fake_credentials(secret, "ALICE"), alice)
        self.assertNotEqual(fake_credentials(secret, "bob").salt, alice.salt)
        other = fake_credentials(secrets.token_bytes(32), "alice")
        self.assertNotEqual(other.salt, alice.salt)

    def test_shaped_like_real_ones(self) -> None:
        fake = fake_credentials(secrets.token_bytes(32), "alice")
        real = make_credentials(made_up())
        self.assertEqual(len(fake.salt), len(real.salt))
        self.assertEqual(fake.iterations, real.iterations)
        self.assertEqual(fake_credentials(b"k" * 16, "x", 5000).iterations, 5000)


class ClientFirstTests(SynchronousTestCase):
    def test_parsed(self) -> None:
        first = parse_client_first(b"n,,n=alice,r=abc")
        self.assertEqual(
            (first.gs2_header, first.authzid, first.username, first.nonce, first.bare),
            ("n,,", None, "alice", "abc", "n=alice,r=abc"),
        )

    def test_y_flag_authzid_and_extensions(self) -> None:
        first = parse_client_first(b"y,a=Alice,n=alice,r=abc,x=ext")
        self.assertEqual(first.gs2_header, "y,a=Alice,")
        self.assertEqual(first.authzid, "Alice")
        self.assertEqual(first.bare, "n=alice,r=abc,x=ext")

    def test_escaped_names(self) -> None:
        first = parse_client_first(b"n,a=x=2Cy,n=a=2Cb=3Dc=3D,r=abc")
        self.assertEqual(first.username, "a,b=c=")
        self.assertEqual(first.authzid, "x,y")

    def test_channel_binding_refused(self) -> None:
        with self.assertRaises(ChannelBindingNotSupported):
            parse_client_first(b"p=tls-unique,,n=alice,r=abc")

    def test_malformed(self) -> None:
        for bad in [
            b"",
            b"n=alice,r=abc",
            b"n,n=alice,r=abc",
            b"x,,n=alice,r=abc",
            b"nn,,n=alice,r=abc",
            b"n,b=alice,n=alice,r=abc",
            b"n,a=,n=alice,r=abc",
            b"n,,m=ext,n=alice,r=abc",
            b"n,,r=abc,n=alice",
            b"n,,n=alice",
            b"n,,n=alice,r=",
            b"n,,n=,r=abc",
            b"n,,n=al=41ice,r=abc",
            b"n,,n=alice=,r=abc",
            b"n,,n=al\0ice,r=abc",
            b"n,,n=alice,r=a\x7fbc",
            b"n,,n=alice,r=a bc",
            b"n,,n=alice,r=abc,",
            b"n,,n=alice,r=abc,1=x",
            b"n,,n=\xff,r=abc",
        ]:
            with self.assertRaises(MalformedScramMessage, msg=bad):
                parse_client_first(bad)


class ClientFinalTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.password = made_up()
        self.credentials = make_credentials(self.password)
        self.client = Client("alice", self.password)

    def exchange(self, gs2_header: str = "n,,") -> ScramExchange:
        first = parse_client_first(self.client.first(gs2_header))
        return ScramExchange(first, self.credentials, make_nonce())

    def test_independent_client(self) -> None:
        for header in ("n,,", "y,,", "n,a=alice,"):
            exchange = self.exchange(header)
            final = exchange.verify(self.client.final(exchange.server_first))
            self.assertTrue(self.client.server_final_ok(final), header)

    def test_server_first(self) -> None:
        exchange = self.exchange()
        match = re.fullmatch(
            rb"r=fyko\+d2lbbFgONRv9qkxdawL([A-Za-z0-9_-]{24}),s=(\S+),i=4096",
            exchange.server_first,
        )
        assert match is not None, exchange.server_first
        self.assertEqual(base64.b64decode(match.group(2)), self.credentials.salt)
        self.assertNotEqual(self.exchange().nonce, exchange.nonce)

    def test_wrong_channel_binding(self) -> None:
        exchange = self.exchange("y,,")
        with self.assertRaises(MalformedScramMessage):
            exchange.verify(self.client.final(exchange.server_first, binding="n,,"))

    def test_wrong_nonce(self) -> None:
        exchange = self.exchange()
        for nonce in (exchange.nonce + "x", exchange.nonce[:-1], "fyko"):
            with self.assertRaises(MalformedScramMessage):
                exchange.verify(self.client.final(exchange.server_first, nonce=nonce))

    def test_wrong_password(self) -> None:
        exchange = self.exchange()
        client = Client("alice", self.password + "x")
        client.first()
        with self.assertRaises(InvalidProof):
            exchange.verify(client.final(exchange.server_first))

    def test_malformed(self) -> None:
        exchange = self.exchange()
        good = self.client.final(exchange.server_first)
        without_proof, proof = good.split(b",p=")
        for bad in [
            b"",
            without_proof,
            b"p=" + proof,
            without_proof + b",p=" + proof + b"=",
            without_proof + b",p=" + proof[:-4],
            without_proof + b",p=" + b64(b"x" * 31).encode(),
            # bits beyond the 32 bytes in its last character
            without_proof + b",p=" + proof[:-2] + stray(proof[-2:-1]) + b"=",
            without_proof.replace(b"c=biws", b"c=bi*s") + b",p=" + proof,
            without_proof.replace(b"c=biws,", b"") + b",p=" + proof,
            b"r=x," + good,
            good.replace(b"r=", b"r=\xff"),
        ]:
            with self.assertRaises(MalformedScramMessage, msg=bad):
                exchange.verify(bad)
        # and the good one still passes
        self.assertTrue(self.client.server_final_ok(exchange.verify(good)))

    def test_bad_server_nonce(self) -> None:
        first = parse_client_first(self.client.first())
        for nonce in ("", "a,b", "a b"):
            with self.assertRaises(ValueError):
                ScramExchange(first, self.credentials, nonce)

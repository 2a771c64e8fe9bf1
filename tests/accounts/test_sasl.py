"""
The SASL mechanisms (chatd.accounts.sasl) as state machines: PLAIN and
SCRAM-SHA-256 driven step by step, with the injected lookups answering
when the test says so.
"""

from __future__ import annotations

import base64
import re
import secrets
from typing import Callable

import scramp
from twisted.internet.defer import Deferred, fail, succeed
from twisted.trial.unittest import SynchronousTestCase

from chatd.accounts import sasl
from chatd.accounts.hasher import HasherBusy
from chatd.accounts.sasl import (
    MAX_RESPONSE,
    MECHANISMS,
    REASONS,
    Challenge,
    Failure,
    Mechanism,
    Plain,
    ScramSha256,
    Step,
    Success,
    new_mechanism,
)
from chatd.accounts.scram import ScramCredentials, fake_credentials, make_credentials
from chatd.accounts.throttle import LoginThrottled

from .scramclient import Client

SECRET = b"s" * 32


def made_up() -> str:
    return "pw-" + secrets.token_urlsafe(12)


class Accounts:
    """A made-up account store: canonical names, passwords, credentials."""

    def __init__(self) -> None:
        self.password = made_up()
        self.credentials = make_credentials(self.password)
        self.calls: list[tuple[str, ...]] = []

    def authenticate(self, account: str, password: str) -> Deferred[str | None]:
        self.calls.append((account, password))
        if account.lower() == "alice" and password == self.password:
            return succeed("Alice")
        return succeed(None)

    def lookup(self, account: str) -> Deferred[tuple[str, ScramCredentials] | None]:
        self.calls.append((account,))
        if account.lower() == "alice":
            return succeed(("Alice", self.credentials))
        return succeed(None)


def result(test: SynchronousTestCase, mechanism: Mechanism, data: bytes) -> Step:
    step: Step = test.successResultOf(mechanism.step(data))
    return step


class StepTests(SynchronousTestCase):
    def test_reasons(self) -> None:
        self.assertEqual(
            REASONS, {"bad_credentials", "malformed", "aborted", "throttled"}
        )
        with self.assertRaises(ValueError):
            Failure("wrong password")

    def test_values(self) -> None:
        self.assertEqual(Success("Alice"), Success("Alice", b""))
        self.assertEqual(Failure("malformed").account, None)
        self.assertEqual(Challenge(b"x").data, b"x")


class PlainTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.accounts = Accounts()
        self.plain = Plain(self.accounts.authenticate)

    def message(self, authzid: str, authcid: str, password: str) -> bytes:
        return f"{authzid}\0{authcid}\0{password}".encode()

    def test_success(self) -> None:
        step = result(
            self, self.plain, self.message("", "alice", self.accounts.password)
        )
        self.assertEqual(step, Success("Alice"))
        self.assertEqual(self.accounts.calls, [("alice", self.accounts.password)])

    def test_authzid_same_account(self) -> None:
        step = result(
            self, self.plain, self.message("ALICE", "alice", self.accounts.password)
        )
        self.assertEqual(step, Success("Alice"))

    def test_authzid_other_account(self) -> None:
        step = result(
            self, self.plain, self.message("bob", "alice", self.accounts.password)
        )
        self.assertEqual(step, Failure("malformed"))
        self.assertEqual(self.accounts.calls, [])

    def test_wrong_password(self) -> None:
        step = result(self, self.plain, self.message("", "alice", made_up()))
        self.assertEqual(step, Failure("bad_credentials", "alice"))

    def test_unknown_account(self) -> None:
        step = result(self, self.plain, self.message("", "nobody", made_up()))
        self.assertEqual(step, Failure("bad_credentials", "nobody"))

    def test_malformed(self) -> None:
        password = self.accounts.password
        for bad in [
            b"",
            b"alice",
            f"alice\0{password}".encode(),
            f"\0alice\0{password}\0".encode(),
            self.message("", "", password),
            self.message("", "alice", ""),
            b"\0al\xffice\0" + password.encode(),
            self.message("", "alice", "x" * MAX_RESPONSE),
        ]:
            plain = Plain(self.accounts.authenticate)
            self.assertEqual(result(self, plain, bad), Failure("malformed"), bad)
        self.assertEqual(self.accounts.calls, [])

    def test_step_after_the_end(self) -> None:
        result(self, self.plain, self.message("", "alice", self.accounts.password))
        step = result(
            self, self.plain, self.message("", "alice", self.accounts.password)
        )
        self.assertEqual(step, Failure("aborted", "alice"))
        self.assertEqual(len(self.accounts.calls), 1)

    def test_step_while_pending(self) -> None:
        """A client that does not wait for the answer ends the exchange."""
        pending: Deferred[str | None] = Deferred()
        plain = Plain(lambda account, password: pending)
        first = plain.step(self.message("", "alice", "whatever1"))
        self.assertNoResult(first)
        self.assertEqual(
            result(self, plain, self.message("", "alice", "whatever2")),
            Failure("aborted", "alice"),
        )
        pending.callback("Alice")
        self.assertEqual(self.successResultOf(first), Failure("aborted", "alice"))

    def test_abort_while_pending(self) -> None:
        pending: Deferred[str | None] = Deferred()
        plain = Plain(lambda account, password: pending)
        first = plain.step(self.message("", "alice", "whatever1"))
        plain.abort()
        pending.callback("Alice")
        self.assertEqual(self.successResultOf(first), Failure("aborted", "alice"))

    def test_throttled(self) -> None:
        for error in (LoginThrottled(3.0), HasherBusy(64)):
            plain = Plain(lambda account, password, e=error: fail(e))  # type: ignore[misc]
            step = result(self, plain, self.message("", "alice", "whatever1"))
            self.assertEqual(step, Failure("throttled", "alice"))

    def test_other_errors_pass_through(self) -> None:
        plain = Plain(lambda account, password: fail(OSError("store down")))
        d = plain.step(self.message("", "alice", "whatever1"))
        self.failureResultOf(d, OSError)
        # and the exchange is over
        self.assertEqual(
            result(self, plain, self.message("", "alice", "whatever1")),
            Failure("aborted", "alice"),
        )

    def test_synchronous_exception_passes_through(self) -> None:
        def broken(account: str, password: str) -> Deferred[str | None]:
            raise OSError("store down")

        d = Plain(broken).step(self.message("", "alice", "whatever1"))
        self.failureResultOf(d, OSError)


class ScramTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.accounts = Accounts()
        self.nonces = iter(["server-nonce-1", "server-nonce-2", "server-nonce-3"])
        self.scram = self.mechanism()

    def mechanism(
        self,
        lookup: Callable[..., Deferred[tuple[str, ScramCredentials] | None]]
        | None = None,
    ) -> ScramSha256:
        return ScramSha256(
            lookup or self.accounts.lookup,
            secret=SECRET,
            nonce=lambda: next(self.nonces),
        )

    def test_success(self) -> None:
        client = Client("alice", self.accounts.password)
        challenge = result(self, self.scram, client.first())
        assert isinstance(challenge, Challenge), challenge
        self.assertTrue(
            challenge.data.startswith(b"r=fyko+d2lbbFgONRv9qkxdawLserver-nonce-1,s=")
        )
        step = result(self, self.scram, client.final(challenge.data))
        assert isinstance(step, Success), step
        self.assertEqual(step.account, "Alice")
        self.assertTrue(client.server_final_ok(step.final))
        self.assertEqual(self.accounts.calls, [("alice",)])

    def test_scramp_client(self) -> None:
        client = scramp.ScramClient(["SCRAM-SHA-256"], "ALICE", self.accounts.password)
        challenge = result(self, self.scram, client.get_client_first().encode())
        assert isinstance(challenge, Challenge), challenge
        client.set_server_first(challenge.data.decode())
        step = result(self, self.scram, client.get_client_final().encode())
        assert isinstance(step, Success), step
        client.set_server_final(step.final.decode())
        self.assertEqual(step.account, "Alice")

    def test_wrong_password(self) -> None:
        client = Client("alice", made_up())
        challenge = result(self, self.scram, client.first())
        assert isinstance(challenge, Challenge)
        step = result(self, self.scram, client.final(challenge.data))
        self.assertEqual(step, Failure("bad_credentials", "alice"))

    def server_first(self, name: str) -> tuple[bytes, bytes, int]:
        client = Client(name, made_up())
        challenge = result(self, self.mechanism(), client.first())
        assert isinstance(challenge, Challenge), challenge
        match = re.fullmatch(
            rb"r=fyko\+d2lbbFgONRv9qkxdawL([^,]+),s=([A-Za-z0-9+/=]+),i=(\d+)",
            challenge.data,
        )
        assert match is not None, challenge.data
        return match.group(1), base64.b64decode(match.group(2)), int(match.group(3))

    def test_unknown_account_looks_like_a_known_one(self) -> None:
        _, real_salt, real_count = self.server_first("alice")
        nonce, salt, count = self.server_first("nobody")
        self.assertEqual(nonce, b"server-nonce-2")
        self.assertEqual(len(salt), len(real_salt))
        self.assertEqual(count, real_count)
        # the same at each attempt, as a real account's salt is
        self.assertEqual(self.server_first("nobody")[1], salt)
        self.assertEqual(salt, fake_credentials(SECRET, "nobody").salt)
        self.assertNotEqual(salt, real_salt)

    def test_unknown_account_fails(self) -> None:
        client = Client("nobody", made_up())
        challenge = result(self, self.scram, client.first())
        assert isinstance(challenge, Challenge)
        step = result(self, self.scram, client.final(challenge.data))
        self.assertEqual(step, Failure("bad_credentials", "nobody"))

    def test_unknown_account_fails_whatever_the_proof(self) -> None:
        """Even a proof that matches the stand-in credentials logs in nobody."""
        password = made_up()
        stand_in = make_credentials(password)
        self.patch(sasl, "fake_credentials", lambda secret, name, count: stand_in)
        client = Client("nobody", password)
        challenge = result(self, self.scram, client.first())
        assert isinstance(challenge, Challenge)
        step = result(self, self.scram, client.final(challenge.data))
        self.assertEqual(step, Failure("bad_credentials", "nobody"))

    def test_channel_binding_refused(self) -> None:
        client = Client("alice", self.accounts.password)
        step = result(self, self.scram, client.first("p=tls-unique,,"))
        self.assertEqual(step, Failure("malformed"))
        self.assertEqual(self.accounts.calls, [])

    def test_y_flag(self) -> None:
        client = Client("alice", self.accounts.password)
        challenge = result(self, self.scram, client.first("y,,"))
        assert isinstance(challenge, Challenge)
        step = result(self, self.scram, client.final(challenge.data))
        self.assertIsInstance(step, Success)

    def test_authzid(self) -> None:
        client = Client("alice", self.accounts.password)
        challenge = result(self, self.scram, client.first("n,a=Alice,"))
        self.assertIsInstance(challenge, Challenge)
        other = self.mechanism()
        step = result(self, other, client.first("n,a=bob,"))
        self.assertEqual(step, Failure("malformed"))

    def test_malformed_first(self) -> None:
        self.assertEqual(result(self, self.scram, b"hello"), Failure("malformed"))
        self.assertEqual(self.accounts.calls, [])

    def test_malformed_final(self) -> None:
        client = Client("alice", self.accounts.password)
        result(self, self.scram, client.first())
        step = result(self, self.scram, b"c=biws")
        self.assertEqual(step, Failure("malformed", "alice"))

    def test_too_long(self) -> None:
        client = Client("alice" + "x" * MAX_RESPONSE, made_up())
        self.assertEqual(result(self, self.scram, client.first()), Failure("malformed"))
        self.assertEqual(self.accounts.calls, [])

    def test_step_after_success(self) -> None:
        client = Client("alice", self.accounts.password)
        challenge = result(self, self.scram, client.first())
        assert isinstance(challenge, Challenge)
        final = client.final(challenge.data)
        self.assertIsInstance(result(self, self.scram, final), Success)
        self.assertEqual(result(self, self.scram, b""), Failure("aborted", "alice"))

    def test_abort_while_looking_up(self) -> None:
        pending: Deferred[tuple[str, ScramCredentials] | None] = Deferred()
        scram = self.mechanism(lambda account: pending)
        d = scram.step(Client("alice", made_up()).first())
        self.assertNoResult(d)
        scram.abort()
        pending.callback(("Alice", self.accounts.credentials))
        self.assertEqual(self.successResultOf(d), Failure("aborted", "alice"))

    def test_throttled(self) -> None:
        scram = self.mechanism(lambda account: fail(LoginThrottled(10.0)))
        step = result(self, scram, Client("alice", made_up()).first())
        self.assertEqual(step, Failure("throttled", "alice"))

    def test_short_secret(self) -> None:
        with self.assertRaises(ValueError):
            ScramSha256(self.accounts.lookup, secret=b"short")


def factory(name: str) -> Mechanism | None:
    accounts = Accounts()
    return new_mechanism(
        name, authenticate=accounts.authenticate, lookup=accounts.lookup, secret=SECRET
    )


class FactoryTests(SynchronousTestCase):
    def test_names(self) -> None:
        self.assertEqual(MECHANISMS, ("PLAIN", "SCRAM-SHA-256"))
        for name in ("PLAIN", "plain", "Plain"):
            self.assertIsInstance(factory(name), Plain)
        for name in ("SCRAM-SHA-256", "scram-sha-256"):
            self.assertIsInstance(factory(name), ScramSha256)
        for name in MECHANISMS:
            mechanism = factory(name)
            assert mechanism is not None
            self.assertEqual(mechanism.name, name)
        for name in ("SCRAM-SHA-1", "SCRAM-SHA-256-PLUS", "EXTERNAL", "", "PLAIN "):
            self.assertIsNone(factory(name))

    def test_each_exchange_is_new(self) -> None:
        self.assertIsNot(factory("PLAIN"), factory("PLAIN"))

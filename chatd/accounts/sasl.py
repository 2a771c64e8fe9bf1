# -*- test-case-name: tests.accounts.test_sasl -*-
"""
SASL mechanisms for the server, as state machines over the decoded client
responses: each C{step(response)} fires with the next L{Step}, a
L{Challenge} to send, a L{Success} or a L{Failure}.  The IRC adapter does the
base64 and the 400-byte chunks of C{AUTHENTICATE}, the JSON adapter its own
framing; both ask L{new_mechanism} for a mechanism by name.

Looking up an account and checking a password are injected (they go to the
store and to the hashing pool), and may fail with L{LoginThrottled} or
L{HasherBusy}, which end the exchange with the reason C{throttled}.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Union

from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure as TwistedFailure

from chatd.accounts.hasher import HasherBusy
from chatd.accounts.scram import (
    DEFAULT_ITERATIONS,
    InvalidProof,
    MalformedScramMessage,
    ScramCredentials,
    ScramExchange,
    fake_credentials,
    make_nonce,
    parse_client_first,
)
from chatd.accounts.throttle import LoginThrottled
from chatd.core.names import fold

MECHANISMS = ("PLAIN", "SCRAM-SHA-256")

#: The longest client response a mechanism reads (after base64): a PLAIN
#: message with two 30-character names and a 300-character password of
#: 4-byte characters fits.
MAX_RESPONSE = 2048

#: Why an exchange failed.  Only C{throttled} may be told apart on the wire;
#: C{bad_credentials} covers unknown accounts too.
REASONS = frozenset({"bad_credentials", "malformed", "aborted", "throttled"})

#: C{authenticate(account, password)}: the canonical account name if the
#: password is that account's, else None.
Authenticate = Callable[[str, str], "Deferred[str | None]"]
#: C{lookup(account)}: the canonical account name and its SCRAM credentials,
#: or None when there is no such account (or it has no SCRAM credentials).
Lookup = Callable[[str], "Deferred[tuple[str, ScramCredentials] | None]"]


@dataclass(frozen=True)
class Challenge:
    """Send C{data} to the client and wait for its next response."""

    data: bytes


@dataclass(frozen=True)
class Success:
    """
    The client is logged in as C{account}.  A non-empty C{final} (SCRAM's
    server-final message) is sent to the client first, as a challenge whose
    empty answer the adapter waits for before it announces the success.
    """

    account: str
    final: bytes = b""


@dataclass(frozen=True)
class Failure:
    """
    The exchange is over and failed, for one of L{REASONS}.  C{account} is
    the name the client tried, when it got that far, for the login throttle;
    it is not for the client's eyes.
    """

    reason: str
    account: str | None = None

    def __post_init__(self) -> None:
        if self.reason not in REASONS:
            raise ValueError(f"unknown SASL failure reason {self.reason!r}")


Step = Union[Challenge, Success, Failure]


class Mechanism(Protocol):
    """One SASL exchange on the server's side."""

    name: str

    def step(self, response: bytes) -> Deferred[Step]:
        """
        Take the client's next response; fire with what to do next.  Fires
        with a Failure, never errbacks, for anything the client did; an
        injected function's own unexpected error is passed on as an errback.
        """

    def abort(self) -> None:
        """End the exchange: a step still under way fires with Failure("aborted")."""


class _Exchange:
    """What both mechanisms share: the exchange's state and its bounds."""

    name = ""

    def __init__(self) -> None:
        self._busy = False
        self._over = False
        #: The account name the client tried, once known.
        self.tried: str | None = None

    def step(self, response: bytes) -> Deferred[Step]:
        if self._over or self._busy:
            # A client that speaks out of turn ends the exchange.
            self._over = True
            return succeed(Failure("aborted", self.tried))
        if len(response) > MAX_RESPONSE:
            self._over = True
            return succeed(Failure("malformed", self.tried))
        self._busy = True
        d: Deferred[Step]
        try:
            result = self._step(response)
        except Exception:
            d = fail()
        else:
            d = result if isinstance(result, Deferred) else succeed(result)
        d.addErrback(self._throttled)
        d.addBoth(self._settle)
        return d

    def abort(self) -> None:
        self._over = True

    def _step(self, response: bytes) -> Step | Deferred[Step]:
        raise NotImplementedError

    def _throttled(self, failure: TwistedFailure) -> Step:
        failure.trap(LoginThrottled, HasherBusy)
        return Failure("throttled", self.tried)

    def _settle(self, result: Step | TwistedFailure) -> Step | TwistedFailure:
        self._busy = False
        if isinstance(result, TwistedFailure):
            self._over = True
            return result
        if self._over:
            return Failure("aborted", self.tried)
        if not isinstance(result, Challenge):
            self._over = True
        return result


def _authzid_allowed(authzid: str | None, authcid: str) -> bool:
    """An authorization identity may only name the authenticated account itself."""
    return not authzid or fold(authzid) == fold(authcid)


class Plain(_Exchange):
    """
    PLAIN (RFC 4616): one response, C{authzid NUL authcid NUL password}.
    An authzid other than empty or the authcid (in any case) fails as
    C{malformed}: chatd has no way to act as another account, the message
    is refused before any lookup (so it tells nothing about accounts), and
    it is not a password guess, so it does not count against the throttle.
    """

    name = "PLAIN"

    def __init__(self, authenticate: Authenticate) -> None:
        super().__init__()
        self._authenticate = authenticate

    def _step(self, response: bytes) -> Step | Deferred[Step]:
        parts = response.split(b"\0")
        if len(parts) != 3:
            return Failure("malformed")
        try:
            authzid, authcid, password = (p.decode("utf-8") for p in parts)
        except UnicodeDecodeError:
            return Failure("malformed")
        if not authcid or not password or not _authzid_allowed(authzid, authcid):
            return Failure("malformed")
        self.tried = authcid
        d = self._authenticate(authcid, password)
        return d.addCallback(self._checked, authcid)

    def _checked(self, account: str | None, authcid: str) -> Step:
        if account is None:
            return Failure("bad_credentials", authcid)
        return Success(account)


class ScramSha256(_Exchange):
    """
    SCRAM-SHA-256 (RFC 7677) without channel binding: the client-first
    gets the server-first as a challenge, the client-final a Success whose
    C{final} is the server-final.  For an account that does not exist, or
    has no SCRAM credentials, the server-first is made from
    L{fake_credentials} (a salt derived from C{secret} and the name, the
    usual iteration count), so its shape and timing match a real one; the
    exchange then fails with C{bad_credentials} as a wrong password would.
    C{secret} must stay the same across restarts, or the fake salts would
    change where real ones do not.
    """

    name = "SCRAM-SHA-256"

    def __init__(
        self,
        lookup: Lookup,
        *,
        secret: bytes,
        iterations: int = DEFAULT_ITERATIONS,
        nonce: Callable[[], str] = make_nonce,
    ) -> None:
        super().__init__()
        if len(secret) < 16:
            raise ValueError("the SCRAM secret must have at least 16 bytes")
        self._lookup = lookup
        self._secret = secret
        self._iterations = iterations
        self._nonce = nonce
        self._exchange: ScramExchange | None = None
        self._account: str | None = None

    def _step(self, response: bytes) -> Step | Deferred[Step]:
        if self._exchange is None:
            return self._first(response)
        return self._final(self._exchange, response)

    def _first(self, response: bytes) -> Step | Deferred[Step]:
        try:
            first = parse_client_first(response)
        except MalformedScramMessage:
            return Failure("malformed")
        if not _authzid_allowed(first.authzid, first.username):
            return Failure("malformed")
        self.tried = first.username
        d = self._lookup(first.username)

        def found(result: tuple[str, ScramCredentials] | None) -> Step:
            if result is None:
                credentials = fake_credentials(
                    self._secret, first.username, self._iterations
                )
            else:
                self._account, credentials = result
            self._exchange = ScramExchange(first, credentials, self._nonce())
            return Challenge(self._exchange.server_first)

        return d.addCallback(found)

    def _final(self, exchange: ScramExchange, response: bytes) -> Step:
        try:
            final = exchange.verify(response)
        except InvalidProof:
            return Failure("bad_credentials", self.tried)
        except MalformedScramMessage:
            return Failure("malformed", self.tried)
        if self._account is None:
            return Failure("bad_credentials", self.tried)
        return Success(self._account, final)


def new_mechanism(
    name: str,
    *,
    authenticate: Authenticate,
    lookup: Lookup,
    secret: bytes,
    iterations: int = DEFAULT_ITERATIONS,
) -> Mechanism | None:
    """
    A new exchange of the mechanism called C{name} (any case), or None for
    a mechanism chatd does not offer.
    """
    upper = name.upper()
    if upper == "PLAIN":
        return Plain(authenticate)
    if upper == "SCRAM-SHA-256":
        return ScramSha256(lookup, secret=secret, iterations=iterations)
    return None

# -*- test-case-name: tests.accounts.test_registry -*-
"""
The server's accounts: the records in memory, written through to the store,
and the rules for registering, logging in, changing a password and dropping
an account, shared by every adapter.

Every account is read into memory at start-up (a login needs no database
round trip); a change is acknowledged only once the store has committed it,
so an account the user was told exists survives a crash.  Password hashing
runs in the L{Hasher}'s bounded thread pool, never on the reactor thread.
"""

from __future__ import annotations

import functools
import os
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from chatd.accounts.hasher import HasherBusy
from chatd.accounts.sasl import new_mechanism
from chatd.accounts.scram import ScramCredentials
from chatd.accounts.throttle import LoginThrottle, LoginThrottled, RegistrationLimit
from chatd.accounts.validation import (
    AccountNameError,
    PasswordError,
    check_account_name,
    check_password,
)
from chatd.core.errors import ChatError
from chatd.core.identity import SERVICE_NICKS
from chatd.core.names import fold
from chatd.log import logger
from chatd.store.errors import AccountExists, NoSuchAccount, StoreError
from chatd.store.records import AccountRecord

if TYPE_CHECKING:
    from chatd.accounts.hasher import Hasher
    from chatd.accounts.sasl import Mechanism
    from chatd.core.chat import Chat
    from chatd.core.model import User
    from chatd.store.interface import Store

log = logger(__name__)


def _busy(failure: Failure) -> Failure:
    """A hashing pool or store failure, as the refusal users see."""
    if failure.check(HasherBusy):
        raise ChatError(
            "unavailable", "the server is busy checking passwords; try again soon"
        )
    if failure.check(StoreError) and not failure.check(AccountExists, NoSuchAccount):
        log.failure("the account store failed", failure)
        raise ChatError(
            "unavailable", "the server cannot reach its account store; try later"
        )
    return failure


class Accounts:
    """
    The accounts of one server.  C{now} is the clock's C{seconds}; C{secret}
    makes the fake SCRAM salts of accounts that do not exist stable (so a
    stranger cannot tell them from real ones).
    """

    def __init__(
        self,
        chat: Chat,
        store: Store,
        hasher: Hasher,
        now: Callable[[], float],
        *,
        registration: bool = True,
        min_password_length: int = 1,
        register_before_connect: bool = True,
        email_required: bool = False,
        registrations_per_hour: int = 3,
        login_failures: int = 5,
        secret: bytes | None = None,
    ) -> None:
        self.chat = chat
        self.store = store
        self.hasher = hasher
        self.now = now
        self.registration = registration
        self.min_password_length = min_password_length
        self.register_before_connect = register_before_connect
        self.email_required = email_required
        self.records: dict[str, AccountRecord] = {}
        self.login_failures = login_failures
        self.throttle = LoginThrottle(login_failures)
        #: accounts an address may register an hour (0: no limit)
        self.per_hour = registrations_per_hour
        self.limit = RegistrationLimit(per_hour=max(1, registrations_per_hour))
        self.secret = secret if secret is not None else os.urandom(32)
        self._pending: set[str] = set()

    def configure(
        self,
        registration: bool,
        registrations_per_hour: int,
        login_failures: int,
        register_before_connect: bool = True,
        email_required: bool = False,
        min_password_length: int = 1,
    ) -> None:
        """Take new limits (a config reload); counters so far are kept."""
        self.min_password_length = min_password_length
        self.registration = registration
        self.register_before_connect = register_before_connect
        self.email_required = email_required
        self.per_hour = registrations_per_hour
        self.limit.per_hour = max(1, registrations_per_hour)
        if login_failures != self.login_failures:
            self.login_failures = login_failures
            self.throttle = LoginThrottle(login_failures)

    def load(self) -> Deferred[None]:
        """Read every account from the store; their names become owned nicks."""

        def loaded(records: list[AccountRecord]) -> None:
            for record in records:
                self.records[record.folded] = record
                self.chat.reserve(record.name)
            log.info("{count} accounts loaded", count=len(records))

        return self.store.load_accounts().addCallback(loaded)

    def find(self, name: str) -> AccountRecord | None:
        return self.records.get(fold(name))

    # registering

    def register(
        self,
        user: User | None,
        name: str,
        password: str,
        address: str,
        email: str | None = None,
    ) -> Deferred[AccountRecord]:
        """
        Create the account C{name} with C{password} for C{user} (who, on
        success, is logged in to it).  Fires once the store has it, or fails
        with a L{ChatError}: C{registration_closed}, C{bad_account_name},
        C{weak_password}, C{account_exists}, C{registration_limit},
        C{already_logged_in} or C{unavailable}.
        """
        try:
            if email is None and self.email_required:
                raise ChatError(
                    "email_required", "this server needs an email address to register"
                )
            folded = self._check_new(user, name, password, address)
        except ChatError as e:
            return fail(e)
        self._pending.add(folded)

        def store(results: tuple[str, ScramCredentials]) -> Deferred[AccountRecord]:
            password_hash, credentials = results
            record = AccountRecord(
                name=name,
                folded=folded,
                password_hash=password_hash,
                scram=credentials.to_text(),
                created_at=self.now(),
                email=email,
            )
            d: Deferred[Any] = self.store.create_account(record)
            return d.addCallback(lambda _: record)

        def created(record: AccountRecord) -> AccountRecord:
            self.records[folded] = record
            self.limit.record(address, self.now())
            self.chat.reserve(record.name)
            log.info(
                "account {name} registered from {address}", name=name, address=address
            )
            if user is not None and user in self.chat.users:
                self.chat.log_in(user, record.name)
            return record

        def exists(failure: Failure) -> Failure:
            if failure.check(AccountExists):
                raise ChatError("account_exists", f"the account {name} exists already")
            return failure

        def done(result: Any) -> Any:
            self._pending.discard(folded)
            return result

        d: Deferred[Any] = self._hash_both(password)
        d.addCallback(store)
        d.addCallback(created)
        d.addErrback(exists)
        d.addErrback(_busy)
        d.addBoth(done)
        return d

    def _check_new(
        self, user: User | None, name: str, password: str, address: str
    ) -> str:
        if not self.registration:
            raise ChatError(
                "registration_closed", "this server does not take new accounts"
            )
        if user is not None and user.account is not None:
            raise ChatError(
                "already_logged_in", f"you are logged in to {user.account} already"
            )
        try:
            folded = check_account_name(name)
        except AccountNameError as e:
            raise ChatError("bad_account_name", str(e)) from None
        if folded in SERVICE_NICKS:
            raise ChatError(
                "bad_account_name",
                f"{SERVICE_NICKS[folded]} is one of the server's services",
            )
        try:
            check_password(password, name, self.min_password_length)
        except PasswordError as e:
            raise ChatError("weak_password", str(e)) from None
        if (
            folded in self.records
            or folded in self._pending
            or self.chat.nick_owner(name) is not None
        ):
            raise ChatError("account_exists", f"the account {name} exists already")
        holder = self.chat.find_user(name)
        if holder is not None and holder is not user:
            raise ChatError(
                "account_exists",
                f"{name} is someone else's nick: register the nick you are using",
            )
        wait = self.limit.check(address, self.now()) if self.per_hour else 0.0
        if wait > 0:
            raise ChatError(
                "registration_limit",
                "too many accounts were registered from your address; "
                f"try again in {int(wait // 60) + 1} minutes",
            )
        return folded

    def _hash_both(self, password: str) -> Deferred[tuple[str, ScramCredentials]]:
        hashed = self.hasher.hash(password)
        credentials = self.hasher.credentials(password)
        results: list[Any] = []

        def both(value: Any) -> Any:
            results.append(value)
            return value

        hashed.addCallback(both)
        return hashed.addCallback(lambda _: credentials).addCallback(
            lambda creds: (results[0], creds)
        )

    # logging in

    def authenticate(
        self, name: str, password: str, address: str
    ) -> Deferred[str | None]:
        """
        The account's name as registered if C{password} is its password;
        None if not (or if there is no such account: the same answer, after
        the same work).  Fails with C{throttled} after too many failures.
        """
        folded = fold(name)
        wait = self.throttle.check(folded, address, self.now())
        if wait > 0:
            return fail(_throttled(wait))
        record = self.records.get(folded)

        def checked(ok: bool) -> str | None:
            current = self.records.get(folded)
            if ok and current is not None and current is record:
                self.throttle.succeeded(folded, address, self.now())
                return current.name
            self.throttle.failed(folded, address, self.now())
            log.info(
                "failed login to {name} from {address}", name=name, address=address
            )
            return None

        stored = None if record is None else record.password_hash
        d: Deferred[Any] = self.hasher.verify(password, stored)
        d.addCallback(checked)
        d.addErrback(_busy)
        return d

    def _sasl_plain(
        self, name: str, password: str, address: str
    ) -> Deferred[str | None]:
        def throttled(failure: Failure) -> Failure:
            error = failure.check(ChatError)
            if error is not None and failure.value.code == "throttled":  # type: ignore[union-attr]
                raise LoginThrottled(self.login_allowed(name, address))
            return failure

        return self.authenticate(name, password, address).addErrback(throttled)

    def _scram_lookup(
        self, name: str, address: str
    ) -> Deferred[tuple[str, ScramCredentials] | None]:
        wait = self.login_allowed(name, address)
        if wait > 0:
            return fail(LoginThrottled(wait))
        record = self.records.get(fold(name))
        if record is None:
            return succeed(None)
        return succeed((record.name, ScramCredentials.from_text(record.scram)))

    def mechanism(self, name: str, address: str) -> Mechanism | None:
        """A SASL mechanism's state machine for a client at C{address}."""
        return new_mechanism(
            name,
            authenticate=functools.partial(self._sasl_plain, address=address),
            lookup=functools.partial(self._scram_lookup, address=address),
            secret=self.secret,
        )

    def login_failed(self, name: str, address: str) -> None:
        """A login other than by password (SCRAM) failed: count it."""
        self.throttle.failed(fold(name), address, self.now())

    def login_succeeded(self, name: str, address: str) -> None:
        """A login other than by password (SCRAM) succeeded."""
        self.throttle.succeeded(fold(name), address, self.now())

    def login_allowed(self, name: str, address: str) -> float:
        """Seconds until C{address} may try C{name} again (0: now)."""
        return self.throttle.check(fold(name), address, self.now())

    # changing and dropping

    def change_password(self, account: str, password: str) -> Deferred[None]:
        """Give C{account} (which the caller proved is theirs) a new password."""
        record = self.records.get(fold(account))
        if record is None:
            return fail(ChatError("not_logged_in", "log in first"))
        try:
            check_password(password, record.name, self.min_password_length)
        except PasswordError as e:
            return fail(ChatError("weak_password", str(e)))

        def store(results: tuple[str, ScramCredentials]) -> Deferred[Any]:
            password_hash, credentials = results
            updated = AccountRecord(
                name=record.name,
                folded=record.folded,
                password_hash=password_hash,
                scram=credentials.to_text(),
                created_at=record.created_at,
                email=record.email,
            )

            def stored(_: None) -> None:
                self.records[record.folded] = updated
                log.info("account {name} changed its password", name=record.name)

            d: Deferred[Any] = self.store.update_account(updated)
            return d.addCallback(stored)

        d: Deferred[Any] = self._hash_both(password).addCallback(store)
        d.addErrback(_busy)
        return d

    def drop(self, account: str) -> Deferred[None]:
        """
        Delete C{account} (its owner or a server operator asked): everyone
        logged in to it is logged out, and its nick is free.
        """
        folded = fold(account)
        record = self.records.get(folded)
        if record is None:
            return fail(ChatError("no_such_account", f"there is no account {account}"))

        def dropped(_: None) -> None:
            self.records.pop(folded, None)
            self.chat.unreserve(record.name)
            # or whoever registers the name next would be their founder
            self.chat.forget_founder(folded)
            for user in list(self.chat.users):
                if user.account is not None and fold(user.account) == folded:
                    self.chat.log_out(user)
            log.info("account {name} dropped", name=record.name)

        d = self.store.delete_account(folded).addCallback(dropped)
        d.addErrback(_busy)
        return d

    def verify_password(self, stored: str, password: str) -> Deferred[bool]:
        """Check C{password} against a hash (an operator block's)."""
        d = self.hasher.verify(password, stored)
        d.addErrback(_busy)
        return d


def _throttled(wait: float) -> ChatError:
    return ChatError(
        "throttled", f"too many failed logins; try again in {int(wait) + 1} seconds"
    )

# -*- test-case-name: tests.test_accounts_e2e -*-
"""
Everything that makes accounts work in a running server, started and
stopped with it: the store, the password-hashing pool, the accounts and
operator blocks, the registered channels and nick protection's timer.

L{chatd.service.ChatService} starts it before it accepts connections (a
client must not find an account's nick free because the accounts were not
read yet) and stops it after the last goodbye (so every change is written).
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet.defer import Deferred, succeed

from chatd.accounts.channels import ChannelKeeper
from chatd.accounts.gateways import Gateways
from chatd.accounts.hasher import (
    Hasher,
    ProcessPoolRunner,
    scrypt_releases_gil,
    thread_pool_runner,
)
from chatd.accounts.nickguard import NickGuard
from chatd.accounts.opers import Opers
from chatd.accounts.registry import Accounts
from chatd.log import logger
from chatd.store import open_store

if TYPE_CHECKING:
    from twisted.python.threadpool import ThreadPool

    from chatd.config import Settings
    from chatd.core.chat import Chat
    from chatd.store.interface import Store

log = logger(__name__)

#: The file in the state directory that keeps the secret SCRAM's answers
#: for unknown accounts are derived from (the same across restarts).
SECRET_FILE = "chatd.secret"


def load_secret(state_dir: str) -> bytes:
    """The server's secret, made (mode 0600) on first use."""
    path = os.path.join(state_dir, SECRET_FILE)
    try:
        with open(path, "rb") as f:
            secret = f.read()
        if len(secret) >= 16:
            return secret
    except FileNotFoundError:
        pass
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    secret = os.urandom(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secret)
    return secret


def start_resource_tracker(tracker: Any = None) -> None:
    """
    Start C{multiprocessing}'s resource tracker (C{tracker}, by default the
    process's), which the hashing processes need, with the real standard
    error.

    The tracker hands C{sys.stderr.fileno()} to its process.  Under twistd,
    C{sys.stderr} is a L{twisted.logger.LoggingFile}, whose C{fileno()} is
    -1 before Twisted 26 (PyPy 3.9 has 25.5): the spawn then failed with
    "bad value(s) in fds_to_keep", and no password could be hashed.
    """
    if tracker is None:
        from multiprocessing import resource_tracker

        tracker = resource_tracker._resource_tracker
    logging_file = sys.stderr
    sys.stderr = sys.__stderr__  # None without one: the tracker then skips it
    try:
        tracker.ensure_running()
    finally:
        sys.stderr = logging_file


class AccountsService:
    """
    The accounts side of one server.  C{store} is given by tests; otherwise
    it is opened from the settings' C{storage.url}.
    """

    def __init__(
        self,
        chat: Chat,
        settings: Settings,
        reactor: Any,
        store: Store | None = None,
        run: Callable[..., Deferred[Any]] | None = None,
    ) -> None:
        self.chat = chat
        self.reactor = reactor
        storage = settings.storage
        self.store = store or open_store(storage.url, storage.state_dir, reactor)
        self.state_dir = storage.state_dir
        self._pool: ThreadPool | None = None
        self._processes: ProcessPoolRunner | None = None
        if run is None:
            if scrypt_releases_gil():
                run, self._pool = thread_pool_runner(reactor)
            else:
                # scrypt holds the GIL here (PyPy 3.9's cryptography 43):
                # in a thread it would stop the chat for each hash.
                run = self._processes = ProcessPoolRunner(reactor)
        self.hasher = Hasher(run)
        a = settings.accounts
        self.accounts = Accounts(
            chat,
            self.store,
            self.hasher,
            reactor.seconds,
            registration=a.registration,
            min_password_length=a.min_password_length,
            register_before_connect=a.register_before_connect,
            email_required=a.email_required,
            registrations_per_hour=a.registrations_per_hour,
            login_failures=a.login_failures,
        )
        self.opers = Opers(settings.opers, self._verify)
        self.gateways = Gateways(settings.webirc, self._verify)
        self.keeper = ChannelKeeper(chat, self.store, reactor)
        self.guard = NickGuard(
            chat, reactor, a.nick_timeout, server_name=settings.server.name
        )
        chat.nick_protection = a.nick_protection
        chat.nick_claimed = self.guard.claimed
        self.started = False

    def _verify(self, password: str, stored: str) -> Deferred[bool]:
        return self.accounts.verify_password(stored, password)

    def start(self) -> Deferred[None]:
        """Open the store and read the accounts and registered channels."""
        if self._pool is not None:
            self._pool.start()
        if self._processes is not None:
            start_resource_tracker()
        if self.store.kind != "memory":
            # Kept, so that SCRAM's made-up answers for accounts that do not
            # exist stay the same across restarts, as real ones do.
            self.accounts.secret = load_secret(os.path.abspath(self.state_dir))

        def loaded(_: Any) -> None:
            self.started = True

        d = self.store.open()
        d.addCallback(lambda _: self.accounts.load())
        d.addCallback(lambda _: self.keeper.load())
        d.addCallback(loaded)
        return d

    def reloaded(self, settings: Settings) -> None:
        """A config reload: take the new account rules and operator blocks."""
        a = settings.accounts
        self.accounts.configure(
            a.registration,
            a.registrations_per_hour,
            a.login_failures,
            a.register_before_connect,
            a.email_required,
            a.min_password_length,
        )
        self.opers.reload(settings.opers, self.chat)
        self.gateways.replace(settings.webirc)
        self.chat.nick_protection = a.nick_protection
        self.guard.timeout = a.nick_timeout

    def stop(self) -> Deferred[None]:
        """Write what is pending, close the store, stop the hashing workers."""
        self.guard.stop()
        d: Deferred[Any] = self.keeper.stop() if self.started else succeed(None)

        def close(_: Any) -> Deferred[None]:
            return self.store.close()

        def stopped(result: Any) -> Any:
            if self._pool is not None:
                self._pool.stop()
            if self._processes is not None:
                self._processes.stopService()
            return result

        d.addCallback(close)
        d.addBoth(stopped)
        return d

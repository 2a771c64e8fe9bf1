# -*- test-case-name: tests.store.test_contract -*-
"""
The in-memory engine: the store's contract without a database, for unit
tests and the C{memory:} URL.  Nothing survives the process.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from twisted.internet.defer import Deferred, fail, succeed

from .errors import AccountExists, NoSuchAccount, NoSuchChannel, StoreError
from .records import AccountRecord, ChannelRecord
from .schema import SCHEMA_DIR, latest_version

T = TypeVar("T")


class MemoryStore:
    """A store in dicts; every Deferred it returns has already fired."""

    kind = "memory"

    def __init__(self, schema_dir: Path = SCHEMA_DIR) -> None:
        self._schema_dir = schema_dir
        self._version = 0
        self._open = False
        self._accounts: dict[str, AccountRecord] = {}
        self._channels: dict[str, ChannelRecord] = {}

    def __repr__(self) -> str:
        return "<MemoryStore>"

    def _not_open(self, what: str) -> Deferred[T]:
        return fail(StoreError(f"cannot {what}: the memory store is not open"))

    def open(self) -> Deferred[None]:
        if self._open:
            return fail(StoreError("the memory store is already open"))
        self._version = latest_version(self._schema_dir)
        self._open = True
        return succeed(None)

    def close(self) -> Deferred[None]:
        # What it holds stays, for a test that opens it again.
        self._open = False
        return succeed(None)

    def schema_version(self) -> Deferred[int]:
        if not self._open:
            return self._not_open("read the schema version")
        return succeed(self._version)

    def load_accounts(self) -> Deferred[list[AccountRecord]]:
        if not self._open:
            return self._not_open("load the accounts")
        return succeed([self._accounts[k] for k in sorted(self._accounts)])

    def create_account(self, account: AccountRecord) -> Deferred[None]:
        if not self._open:
            return self._not_open("create an account")
        if account.folded in self._accounts:
            return fail(AccountExists(f"an account named {account.folded!r} exists"))
        self._accounts[account.folded] = account
        return succeed(None)

    def update_account(self, account: AccountRecord) -> Deferred[None]:
        if not self._open:
            return self._not_open("update an account")
        if account.folded not in self._accounts:
            return fail(NoSuchAccount(f"no account named {account.folded!r}"))
        self._accounts[account.folded] = account
        return succeed(None)

    def delete_account(self, folded: str) -> Deferred[None]:
        if not self._open:
            return self._not_open("delete an account")
        if self._accounts.pop(folded, None) is None:
            return fail(NoSuchAccount(f"no account named {folded!r}"))
        return succeed(None)

    def load_channels(self) -> Deferred[list[ChannelRecord]]:
        if not self._open:
            return self._not_open("load the channels")
        return succeed([self._channels[k] for k in sorted(self._channels)])

    def save_channel(self, channel: ChannelRecord) -> Deferred[None]:
        if not self._open:
            return self._not_open("save a channel")
        # A caller may hand in lists where tuples belong: keep what an SQL
        # engine would give back.
        self._channels[channel.folded] = replace(
            channel, lists=tuple(channel.lists), access=tuple(channel.access)
        )
        return succeed(None)

    def delete_channel(self, folded: str) -> Deferred[None]:
        if not self._open:
            return self._not_open("delete a channel")
        if self._channels.pop(folded, None) is None:
            return fail(NoSuchChannel(f"no registered channel named {folded!r}"))
        return succeed(None)

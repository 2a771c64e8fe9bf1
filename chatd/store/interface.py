# -*- test-case-name: tests.store.test_contract -*-
"""
The one interface every storage engine offers.

Accounts and registered channels live in memory while chatd runs; the store
is where they are written behind, to survive a restart, and read back at
start-up.  Every method returns a Deferred so that no engine makes the
reactor wait on a disk or a database.
"""

from __future__ import annotations

from typing import Protocol

from twisted.internet.defer import Deferred

from .records import AccountRecord, ChannelRecord


class Store(Protocol):
    """
    Durable storage for accounts and registered channels.

    Writes are applied in the order they were called, whether or not the
    caller waited for the earlier ones, and a write's Deferred fires only
    once its transaction has committed.  Failures are L{StoreError}s.
    """

    #: "memory", "sqlite" or "postgresql"
    kind: str

    def open(self) -> Deferred[None]:
        """
        Connect, and create the schema or upgrade it to this chatd's version.

        Fails with L{StoreUnavailable} if the database cannot be opened or
        reached, and with L{SchemaTooNew} if it is newer than this chatd.
        """

    def close(self) -> Deferred[None]:
        """Wait for the writes already called, then close the database."""

    def schema_version(self) -> Deferred[int]:
        """The schema version the database is at."""

    def load_accounts(self) -> Deferred[list[AccountRecord]]:
        """Every account, ordered by folded name."""

    def create_account(self, account: AccountRecord) -> Deferred[None]:
        """Add C{account}; L{AccountExists} if its folded name is taken."""

    def update_account(self, account: AccountRecord) -> Deferred[None]:
        """
        Replace every field of the account with C{account}'s folded name;
        L{NoSuchAccount} if there is none.
        """

    def delete_account(self, folded: str) -> Deferred[None]:
        """Remove the account; L{NoSuchAccount} if there is none."""

    def load_channels(self) -> Deferred[list[ChannelRecord]]:
        """Every registered channel, ordered by folded name."""

    def save_channel(self, channel: ChannelRecord) -> Deferred[None]:
        """
        Insert C{channel}, or replace the whole of the registered channel
        with its folded name, lists and access included.
        """

    def delete_channel(self, folded: str) -> Deferred[None]:
        """Remove the channel; L{NoSuchChannel} if it is not registered."""

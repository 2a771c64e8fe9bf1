# -*- test-case-name: tests.store.test_contract -*-
"""
The one interface every storage engine offers.

Accounts and registered channels live in memory while chatd runs; the store
is where they are written behind, to survive a restart, and read back at
start-up.  History is kept here too, and read back a page at a time.
Every method returns a Deferred so that no engine makes the reactor wait
on a disk or a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from twisted.internet.defer import Deferred

from .records import AccountRecord, ChannelRecord, HistoryItem


class Store(Protocol):
    """
    Durable storage for accounts, registered channels and history.

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

    # History.  Items are in time order: by ts, then msgid (by code point).
    # A pivot is a time and the msgid of the item there, or a time alone
    # (msgid None).  A limit of 0 or less gives nothing.

    def append_history(self, items: Sequence[HistoryItem]) -> Deferred[None]:
        """
        Store C{items}, all or none, in one transaction; L{DuplicateMessage}
        if a msgid is already stored for the same target, or is twice in
        C{items} for one target.  One msgid may be kept under several
        targets: a quit is kept in each channel it was seen in, under the
        msgid its readers saw.
        """

    def history_latest(self, target: str, limit: int) -> Deferred[list[HistoryItem]]:
        """The newest C{limit} items of C{target}."""

    def history_before(
        self, target: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        """The C{limit} items of C{target} just before the pivot, not it."""

    def history_after(
        self, target: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        """The C{limit} items of C{target} just after the pivot, not it."""

    def history_between(
        self, target: str, start_ts: float, end_ts: float, limit: int
    ) -> Deferred[list[HistoryItem]]:
        """
        At most C{limit} items of C{target} strictly between the two times,
        counted from C{start_ts}: the oldest ones if it is the earlier, the
        newest if it is the later (as IRCv3 chathistory BETWEEN allows).
        """

    def history_around(
        self, target: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        """
        At most C{limit} items of C{target} around the pivot: up to half
        before it, the rest from it on (the pivot included); a side with
        fewer leaves more to the other.
        """

    def history_item(
        self, msgid: str, target: str | None = None
    ) -> Deferred[HistoryItem | None]:
        """
        The item of C{target} with C{msgid} (by its key's index), or None;
        without a target, the earliest kept under any (by a scan: tests
        and tools only).
        """

    def history_targets(
        self, targets: Sequence[str], start_ts: float, end_ts: float, limit: int
    ) -> Deferred[list[tuple[str, float]]]:
        """
        Each of C{targets} whose latest item is strictly between the two
        times, with that item's ts (a target whose latest item is outside
        is left out, whatever else it holds inside): in ascending time
        order, at most C{limit}, counted from C{start_ts}'s side (the
        earliest when C{start_ts} < C{end_ts}, else the latest), as
        CHATHISTORY TARGETS asks.
        """

    def history_private_targets(
        self, account: str, start_ts: float, end_ts: float, limit: int
    ) -> Deferred[list[tuple[str, float]]]:
        """
        As L{history_targets}, for every private conversation's key with the
        folded C{account} as either party ("alice bob": the two folded
        names, sorted, joined by one space).
        """

    def delete_history(self, msgid: str, target: str | None = None) -> Deferred[bool]:
        """
        Delete the item of C{target} with C{msgid} (a redaction), or
        without a target every item with it; whether there was one.
        """

    def expire_history(
        self, older_than: float | None, keep_per_target: int | None
    ) -> Deferred[int]:
        """
        Delete the items older than C{older_than} and those beyond each
        target's newest C{keep_per_target} (None: no such limit); the count
        deleted.  The SQL engines delete in chunks of their own transactions,
        so writes called meanwhile run between them; a store closed meanwhile
        ends the expiry where it is.
        """

    def search_history(
        self, text: str, targets: Sequence[str], limit: int
    ) -> Deferred[list[HistoryItem]]:
        """
        The newest C{limit} items of C{targets} whose text has every word of
        C{text}: words, not substrings, without regard to case; C{text} is
        not a query language (quotes, C{-}, C{*}, C{OR} are plain words or
        separators).  See L{chatd.store.history} for what a word is.
        """

    # Read markers (IRCv3 draft/read-marker) of accounts.

    def load_read_marker(self, account: str, target: str) -> Deferred[float | None]:
        """The marker of the folded C{account} on the key C{target}, or None."""

    def save_read_marker(self, account: str, target: str, ts: float) -> Deferred[None]:
        """
        Keep C{ts} as the marker of C{account} on C{target} if it is later
        than the one kept: a marker only moves forward, whatever the order
        saves arrive in.
        """

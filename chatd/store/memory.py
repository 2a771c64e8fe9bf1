# -*- test-case-name: tests.store.test_contract -*-
"""
The in-memory engine: the store's contract without a database, for unit
tests and the C{memory:} URL.  Nothing survives the process.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from twisted.internet.defer import Deferred, fail, succeed

from .errors import (
    AccountExists,
    DuplicateMessage,
    NoSuchAccount,
    NoSuchChannel,
    StoreError,
)
from .history import around, order, pick_targets, private_party, words
from .records import AccountRecord, ChannelRecord, HistoryItem
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
        #: by (target, msgid): a quit kept in three channels is three items
        #: of one msgid
        self._items: dict[tuple[str, str], HistoryItem] = {}
        # Each target's items, and their (ts, msgid) keys, in time order.
        self._history: dict[str, list[HistoryItem]] = {}
        self._keys: dict[str, list[tuple[float, str]]] = {}
        self._markers: dict[tuple[str, str], float] = {}

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

    # History.

    def append_history(self, items: Sequence[HistoryItem]) -> Deferred[None]:
        if not self._open:
            return self._not_open("append to the history")
        seen: set[tuple[str, str]] = set()
        for item in items:
            pair = (item.target, item.msgid)
            if pair in self._items or pair in seen:
                return fail(
                    DuplicateMessage(
                        f"msgid {item.msgid!r} is already stored in {item.target!r};"
                        " nothing of the batch was stored"
                    )
                )
            seen.add(pair)
        for item in items:
            self._items[(item.target, item.msgid)] = item
            keys = self._keys.setdefault(item.target, [])
            at = bisect.bisect(keys, order(item))
            keys.insert(at, order(item))
            self._history.setdefault(item.target, []).insert(at, item)
        return succeed(None)

    def _range(
        self, target: str, low: tuple[float, str] | None, high: tuple[float, str] | None
    ) -> list[HistoryItem]:
        """C{target}'s items with keys from C{low} to before C{high}."""
        keys = self._keys.get(target, [])
        start = 0 if low is None else bisect.bisect_left(keys, low)
        end = len(keys) if high is None else bisect.bisect_left(keys, high)
        return self._history.get(target, [])[start:end]

    def _read(self, items: list[HistoryItem]) -> Deferred[list[HistoryItem]]:
        if not self._open:
            return self._not_open("read the history")
        return succeed(items)

    def history_latest(self, target: str, limit: int) -> Deferred[list[HistoryItem]]:
        return self._read(_last(self._history.get(target, []), limit))

    def history_before(
        self, target: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        return self._read(_last(self._before(target, ts, msgid), limit))

    def _before(self, target: str, ts: float, msgid: str | None) -> list[HistoryItem]:
        return self._range(target, None, (ts, "" if msgid is None else msgid))

    def _from(self, target: str, ts: float, msgid: str | None) -> list[HistoryItem]:
        return self._range(target, (ts, "" if msgid is None else msgid), None)

    def history_after(
        self, target: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        after = [i for i in self._from(target, ts, msgid) if _beyond(i, ts, msgid)]
        return self._read(after[: max(limit, 0)])

    def history_between(
        self, target: str, start_ts: float, end_ts: float, limit: int
    ) -> Deferred[list[HistoryItem]]:
        low, high = sorted((start_ts, end_ts))
        inside = [i for i in self._range(target, None, (high, "")) if i.ts > low]
        if start_ts > end_ts:
            return self._read(_last(inside, limit))
        return self._read(inside[: max(limit, 0)])

    def history_around(
        self, target: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        return self._read(
            around(
                self._before(target, ts, msgid), self._from(target, ts, msgid), limit
            )
        )

    def history_item(
        self, msgid: str, target: str | None = None
    ) -> Deferred[HistoryItem | None]:
        if not self._open:
            return self._not_open("read a history item")
        if target is not None:
            return succeed(self._items.get((target, msgid)))
        same = [i for i in self._items.values() if i.msgid == msgid]
        return succeed(min(same, key=order) if same else None)

    def history_targets(
        self, targets: Sequence[str], start_ts: float, end_ts: float, limit: int
    ) -> Deferred[list[tuple[str, float]]]:
        if not self._open:
            return self._not_open("list the history's targets")
        latest = {
            target: max(i.ts for i in items)
            for target in dict.fromkeys(targets)
            if (items := self._history.get(target))
        }
        return succeed(pick_targets(latest, start_ts, end_ts, limit))

    def history_private_targets(
        self, account: str, start_ts: float, end_ts: float, limit: int
    ) -> Deferred[list[tuple[str, float]]]:
        if not self._open:
            return self._not_open("list the history's targets")
        keys = [k for k in self._history if private_party(account, k)]
        return self.history_targets(keys, start_ts, end_ts, limit)

    def load_read_marker(self, account: str, target: str) -> Deferred[float | None]:
        if not self._open:
            return self._not_open("load a read marker")
        return succeed(self._markers.get((account, target)))

    def save_read_marker(self, account: str, target: str, ts: float) -> Deferred[None]:
        if not self._open:
            return self._not_open("save a read marker")
        current = self._markers.get((account, target))
        if current is None or ts > current:
            self._markers[(account, target)] = ts
        return succeed(None)

    def _remove(self, item: HistoryItem) -> None:
        del self._items[(item.target, item.msgid)]
        keys = self._keys[item.target]
        at = bisect.bisect_left(keys, order(item))
        del keys[at]
        del self._history[item.target][at]
        if not keys:
            del self._keys[item.target], self._history[item.target]

    def delete_history(self, msgid: str, target: str | None = None) -> Deferred[bool]:
        if not self._open:
            return self._not_open("delete a history item")
        same = [
            i
            for i in self._items.values()
            if i.msgid == msgid and target in (None, i.target)
        ]
        for item in same:
            self._remove(item)
        return succeed(bool(same))

    def expire_history(
        self, older_than: float | None, keep_per_target: int | None
    ) -> Deferred[int]:
        if not self._open:
            return self._not_open("expire the history")
        doomed: list[HistoryItem] = []
        for items in self._history.values():
            kept = items
            if keep_per_target is not None:
                kept = items[len(items) - max(keep_per_target, 0) :]
                if keep_per_target <= 0:
                    kept = []
                doomed.extend(items[: len(items) - len(kept)])
            if older_than is not None:
                doomed.extend(i for i in kept if i.ts < older_than)
        for item in doomed:
            self._remove(item)
        return succeed(len(doomed))

    def search_history(
        self, text: str, targets: Sequence[str], limit: int
    ) -> Deferred[list[HistoryItem]]:
        if not self._open:
            return self._not_open("search the history")
        query = set(words(text))
        found: list[HistoryItem] = []
        if query:
            for target in dict.fromkeys(targets):
                found.extend(
                    i
                    for i in self._history.get(target, ())
                    if query.issubset(words(i.text))
                )
        found.sort(key=order, reverse=True)
        return succeed(found[: max(limit, 0)])


def _last(items: list[HistoryItem], limit: int) -> list[HistoryItem]:
    return items[max(len(items) - limit, 0) :] if limit > 0 else []


def _beyond(item: HistoryItem, ts: float, msgid: str | None) -> bool:
    """Whether C{item} is after the pivot (a time alone, or a time and msgid)."""
    return item.ts > ts if msgid is None else order(item) > (ts, msgid)

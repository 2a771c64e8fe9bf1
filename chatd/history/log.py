# -*- test-case-name: tests.history.test_log -*-
"""
The history's write-behind log: events are kept in memory as they happen,
written to the store in batches (one transaction each, never more than one
at a time, at most L{HistoryLog.interval} after they happened), and every
read sees them at once, written or not.

A batch's items stay in memory a little after it commits: a read called
before the commit may be answered from a snapshot without them (SQLite's
read connections are not the writer's), so they are forgotten only once
every read called before the commit has been merged.

The bound on loss: a server killed outright loses what it had not written,
at most the last C{interval} of history (and what the batch being written
then held).  L{HistoryLog.close} writes everything, for a clean stop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from twisted.internet.defer import Deferred, succeed
from twisted.internet.interfaces import IDelayedCall, IReactorTime
from twisted.python.failure import Failure

from chatd.core.events import Event
from chatd.history.items import to_item
from chatd.log import logger
from chatd.store.history import around, order, pick_targets, private_party, words
from chatd.store.records import HistoryItem

if TYPE_CHECKING:
    from chatd.store.interface import Store

log = logger(__name__)

#: How long an event may wait in memory before it is written (seconds): the
#: most a server killed outright loses.
FLUSH_INTERVAL = 0.2

#: A batch this big is written without waiting for the interval.
BATCH_MAX = 20_000

Pivot = tuple[float, str]
T = TypeVar("T")


def _pivot(ts: float, msgid: str | None, low: bool) -> Pivot:
    # A time alone sorts before (low) or after every msgid at that time.
    return (ts, msgid if msgid is not None else ("" if low else "\U0010ffff"))


class HistoryLog:
    """
    Keeps events in a L{Store}'s history, and reads them back.

    Every read is the store's answer merged with the items not yet written
    (or being written), so that a message is in the history from the moment
    it is sent.
    """

    def __init__(
        self,
        store: Store,
        clock: IReactorTime,
        interval: float = FLUSH_INTERVAL,
        batch_max: int = BATCH_MAX,
    ) -> None:
        self.store = store
        self.clock = clock
        self.interval = interval
        self.batch_max = batch_max
        #: not yet handed to the store, oldest first
        self._pending: list[HistoryItem] = []
        #: the batch the store is writing
        self._writing: list[HistoryItem] = []
        self._write: Deferred[None] | None = None
        #: pending and writing, by key, for reads (a lookup by msgid, rare,
        #: scans them: an index would cost every message a list and a
        #: dict entry)
        self._unwritten: dict[str, list[HistoryItem]] = {}
        self._timer: IDelayedCall | None = None
        self._closed = False
        #: batches finished (committed or failed) so far
        self._generation = 0
        #: reads not yet merged, counted by the generation they were called in
        self._reads: dict[int, int] = {}
        #: finished batches still in _unwritten, with the generation that
        #: finished them: kept for the reads called before it
        self._finished: list[tuple[int, list[HistoryItem]]] = []
        #: items the store refused or failed to write (logged)
        self.lost = 0
        #: items written
        self.written = 0

    # Writing.

    def add(self, event: Event, keys: Iterable[str]) -> None:
        """Keep C{event} under each of C{keys} (if it is a kind kept)."""
        # A quit or a nick change is kept in each of the channels it was
        # seen in, under the one msgid its readers saw.
        for key in keys:
            item = to_item(event, key)
            if item is None:
                return
            self._pending.append(item)
            unwritten = self._unwritten.get(key)
            if unwritten is None:
                self._unwritten[key] = [item]
            else:
                unwritten.append(item)
        if len(self._pending) >= self.batch_max:
            self._flush_soon(0)
        elif self._timer is None:
            self._flush_soon(self.interval)

    def _flush_soon(self, delay: float) -> None:
        if self._timer is not None:
            if delay > 0:
                return
            self._timer.cancel()
        self._timer = self.clock.callLater(delay, self._timed_flush)

    def _timed_flush(self) -> None:
        self._timer = None
        self.flush()

    @property
    def unwritten(self) -> int:
        """How many items are waiting for the store (or being written)."""
        return len(self._pending) + len(self._writing)

    @property
    def oldest_unwritten(self) -> float | None:
        """When the oldest item not yet written happened (None: none is)."""
        oldest = self._writing or self._pending
        return oldest[0].ts if oldest else None

    def flush(self) -> Deferred[None]:
        """
        Hand what is pending to the store; fires once all of it (and what
        was being written) is written, or has failed and been logged.
        """
        if self._write is not None:
            # One batch at a time: write the rest once this one is done.
            waiting: Deferred[None] = Deferred()
            self._write.addBoth(lambda _: self.flush().chainDeferred(waiting))
            return waiting
        if not self._pending:
            return succeed(None)
        batch, self._pending = self._pending, []
        self._writing = batch
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        d = self.store.append_history(batch)
        self._write = Deferred()
        done = self._write

        def written(_: object) -> None:
            self.written += len(batch)

        def failed(failure: Failure) -> None:
            self.lost += len(batch)
            log.failure(
                "could not keep {count} history items", failure, count=len(batch)
            )

        def finished(_: object) -> None:
            self._generation += 1
            self._finished.append((self._generation, batch))
            self._sweep()
            self._writing = []
            self._write = None
            done.callback(None)
            if self._pending and not self._closed:
                if len(self._pending) >= self.batch_max:
                    self._flush_soon(0)
                elif self._timer is None:
                    self._flush_soon(self.interval)

        d.addCallbacks(written, failed).addBoth(finished)
        waiting = Deferred()
        done.addBoth(lambda _: waiting.callback(None))
        return waiting

    def _reading(self, d: Deferred[T], merge: Callable[[Any], T]) -> Deferred[T]:
        """
        C{d}, a read just called on the store, with C{merge} applied to its
        answer; the batches that finish meanwhile stay in memory for it.
        """
        generation = self._generation
        self._reads[generation] = self._reads.get(generation, 0) + 1

        def merged(result: object) -> object:
            count = self._reads[generation] - 1
            if count:
                self._reads[generation] = count
            else:
                del self._reads[generation]
                self._sweep()
            return result

        return d.addCallback(merge).addBoth(merged)

    def _sweep(self) -> None:
        """Forget the finished batches that no read called before them needs."""
        oldest = min(self._reads, default=self._generation)
        while self._finished and self._finished[0][0] <= oldest:
            self._forget(self._finished.pop(0)[1])

    def _forget(self, batch: Sequence[HistoryItem]) -> None:
        """C{batch} is in the store (or lost): reads ask the store alone."""
        for item in batch:
            unwritten = self._unwritten.get(item.target)
            if unwritten is not None:
                if unwritten[:1] and unwritten[0] is item:
                    del unwritten[0]  # the usual case: oldest first
                elif item in unwritten:
                    unwritten.remove(item)
                if not unwritten:
                    del self._unwritten[item.target]

    def close(self) -> Deferred[None]:
        """Write everything kept so far; nothing is written after."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        return self.flush()

    # Reading: the store's answer and the unwritten items, merged.

    def _merge(
        self,
        found: list[HistoryItem],
        key: str,
        low: Pivot | None,
        high: Pivot | None,
    ) -> list[HistoryItem]:
        """C{found} and the unwritten items of C{key} in (low, high), in order."""
        unwritten = self._unwritten.get(key)
        if not unwritten:
            return found
        seen = {i.msgid for i in found}
        extra = [
            i
            for i in unwritten
            if i.msgid not in seen
            and (low is None or order(i) > low)
            and (high is None or order(i) < high)
        ]
        if not extra:
            return found
        return sorted(found + extra, key=order)

    def latest(self, key: str, limit: int) -> Deferred[list[HistoryItem]]:
        """The newest C{limit} items of C{key}, in time order."""
        d = self.store.history_latest(key, limit)
        return self._reading(
            d,
            lambda found: (
                self._merge(found, key, None, None)[-limit:] if limit > 0 else []
            ),
        )

    def before(
        self, key: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        """The C{limit} items of C{key} just before the pivot."""
        high = _pivot(ts, msgid, True)
        d = self.store.history_before(key, ts, msgid, limit)
        return self._reading(
            d,
            lambda found: (
                self._merge(found, key, None, high)[-limit:] if limit > 0 else []
            ),
        )

    def after(
        self, key: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        """The C{limit} items of C{key} just after the pivot."""
        low = _pivot(ts, msgid, False)
        d = self.store.history_after(key, ts, msgid, limit)
        return self._reading(
            d, lambda found: self._merge(found, key, low, None)[:limit]
        )

    def around(
        self, key: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        """At most C{limit} items around the pivot (see L{Store.history_around})."""
        pivot = _pivot(ts, msgid, True)
        d = self.store.history_around(key, ts, msgid, limit)

        def merged(found: list[HistoryItem]) -> list[HistoryItem]:
            every = self._merge(found, key, None, None)
            before = [i for i in every if order(i) < pivot]
            after = [i for i in every if order(i) >= pivot]
            return around(before, after, limit)

        return self._reading(d, merged)

    def between(
        self, key: str, start: float, end: float, limit: int
    ) -> Deferred[list[HistoryItem]]:
        """
        At most C{limit} items strictly between the times, counted from
        C{start} (see L{Store.history_between}).
        """
        low, high = sorted((start, end))
        d = self.store.history_between(key, start, end, limit)

        def merged(found: list[HistoryItem]) -> list[HistoryItem]:
            if limit <= 0 or low == high:
                return []
            every = self._merge(
                found, key, _pivot(low, None, False), _pivot(high, None, True)
            )
            return every[-limit:] if start > end else every[:limit]

        return self._reading(d, merged)

    def item(self, msgid: str, key: str | None = None) -> Deferred[HistoryItem | None]:
        """
        The item of C{key} with C{msgid} (without a key, the first kept
        under any).
        """
        same = self._unwritten_with(msgid, key)
        if same:
            return succeed(same[0])
        return self.store.history_item(msgid, key)

    def _unwritten_with(self, msgid: str, key: str | None) -> list[HistoryItem]:
        """The unwritten items with C{msgid} (of C{key}), oldest first."""
        lists = (
            self._unwritten.values() if key is None else [self._unwritten.get(key, [])]
        )
        return sorted(
            (i for items in lists for i in items if i.msgid == msgid), key=order
        )

    def _merge_targets(
        self,
        found: list[tuple[str, float]],
        keys: Iterable[str],
        start: float,
        end: float,
        limit: int,
    ) -> list[tuple[str, float]]:
        """
        The store's targets with the unwritten items' times: an unwritten
        item is newer than any written one of its key, so it is the key's
        latest.
        """
        latest = dict(found)
        for key in keys:
            unwritten = self._unwritten.get(key)
            if unwritten:
                newest = max(item.ts for item in unwritten)
                if newest > latest.get(key, -1.0):
                    latest[key] = newest
        return pick_targets(latest, start, end, limit)

    def targets(
        self, keys: Sequence[str], start: float, end: float, limit: int
    ) -> Deferred[list[tuple[str, float]]]:
        """
        Each of C{keys} whose latest item is between the times (see
        L{Store.history_targets}).
        """
        # Each key with unwritten items may leave the store's answer, so
        # ask for as many more.
        pending = [key for key in keys if key in self._unwritten]
        d = self.store.history_targets(keys, start, end, limit + len(pending))
        return self._reading(
            d, lambda found: self._merge_targets(found, pending, start, end, limit)
        )

    def private_targets(
        self, account: str, start: float, end: float, limit: int
    ) -> Deferred[list[tuple[str, float]]]:
        """
        The private conversations of the folded C{account} whose latest
        item is between the times (see L{Store.history_private_targets}).
        """
        pending = [key for key in self._unwritten if private_party(account, key)]
        d = self.store.history_private_targets(
            account, start, end, limit + len(pending)
        )
        return self._reading(
            d, lambda found: self._merge_targets(found, pending, start, end, limit)
        )

    def search(
        self, text: str, keys: Sequence[str], limit: int
    ) -> Deferred[list[HistoryItem]]:
        """The newest C{limit} items of C{keys} with every word of C{text}."""
        wanted = set(words(text))
        d = self.store.search_history(text, keys, limit)

        def merged(found: list[HistoryItem]) -> list[HistoryItem]:
            if not wanted or limit <= 0:
                return found
            seen = {i.msgid for i in found}
            extra = [
                i
                for key in keys
                for i in self._unwritten.get(key, ())
                if i.msgid not in seen and i.text and wanted <= set(words(i.text))
            ]
            if not extra:
                return found
            every = sorted(found + extra, key=order, reverse=True)
            return every[:limit]

        return self._reading(d, merged)

    def delete(self, msgid: str, key: str | None = None) -> Deferred[bool]:
        """
        Delete the item of C{key} with C{msgid} (without a key, under
        every key): a redaction. From what is pending at once, and from the
        store after what it is writing.
        """
        same = self._unwritten_with(msgid, key)
        dropped = False
        for item in same:
            if item in self._pending:
                self._pending.remove(item)
                dropped = True
            unwritten = self._unwritten.get(item.target)
            if unwritten is not None and item in unwritten:
                unwritten.remove(item)
                if not unwritten:
                    del self._unwritten[item.target]
        # After the batch being written, which may hold it.
        d = self.store.delete_history(msgid, key)
        return d.addCallback(lambda deleted: deleted or dropped)

    def expire(self, older_than: float | None, keep: int | None) -> Deferred[int]:
        """Delete what retention no longer keeps (see L{Store.expire_history})."""
        return self.store.expire_history(older_than, keep)

"""The write-behind history log (chatd.history.log)."""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatd.core.events import Message, Origin, Quit
from chatd.history.log import HistoryLog
from chatd.store.memory import MemoryStore
from chatd.store.records import HistoryItem

ALICE = Origin("alice", "a", "host", "alice")


def said(n: int, to: str = "#c") -> Message:
    return Message(ALICE, f"id{n:04d}", 100.0 + n, to, f"line {n}")


class Held(MemoryStore):
    """A memory store whose appends wait until the test lets them."""

    def __init__(self) -> None:
        super().__init__()
        self.held: list[tuple[Deferred[None], list[HistoryItem]]] = []

    def append_history(self, items: object) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        self.held.append((d, list(items)))  # type: ignore[call-overload]
        return d

    def release(self) -> None:
        while self.held:
            d, items = self.held.pop(0)
            MemoryStore.append_history(self, items).chainDeferred(d)


class HistoryLogTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.store = Held()
        self.store.open()
        self.log = HistoryLog(self.store, self.clock, interval=0.2)

    def texts(self, d: Deferred[list[HistoryItem]]) -> list[str]:
        return [i.text for i in self.successResultOf(d)]

    def test_written_in_one_batch_after_the_interval(self) -> None:
        for n in range(5):
            self.log.add(said(n), ["#c"])
        self.assertEqual(self.store.held, [])
        self.clock.advance(0.2)
        self.assertEqual(len(self.store.held), 1)
        self.assertEqual(len(self.store.held[0][1]), 5)
        self.store.release()
        self.assertEqual(self.log.written, 5)
        self.assertEqual(self.log.unwritten, 0)

    def test_reads_see_what_is_not_written_yet(self) -> None:
        self.log.add(said(1), ["#c"])
        self.clock.advance(0.2)  # being written
        self.log.add(said(2), ["#c"])  # pending
        self.assertEqual(self.texts(self.log.latest("#c", 10)), ["line 1", "line 2"])
        self.store.release()
        self.assertEqual(self.texts(self.log.latest("#c", 10)), ["line 1", "line 2"])
        self.assertEqual(
            self.texts(self.log.before("#c", 102.0, "id0002", 10)), ["line 1"]
        )
        self.assertEqual(
            self.texts(self.log.after("#c", 101.0, "id0001", 10)), ["line 2"]
        )

    def test_one_batch_at_a_time(self) -> None:
        self.log.add(said(1), ["#c"])
        self.clock.advance(0.2)
        self.log.add(said(2), ["#c"])
        self.clock.advance(0.2)
        self.assertEqual(len(self.store.held), 1)
        d, items = self.store.held.pop(0)
        MemoryStore.append_history(self.store, items).chainDeferred(d)
        self.clock.advance(0.2)
        self.assertEqual([i.text for i in self.store.held[0][1]], ["line 2"])

    def test_close_writes_everything(self) -> None:
        for n in range(3):
            self.log.add(said(n), ["#c"])
        closed = self.log.close()
        self.assertNoResult(closed)
        self.store.release()
        self.successResultOf(closed)
        self.assertEqual(self.log.written, 3)

    def test_a_big_batch_is_written_at_once(self) -> None:
        log = HistoryLog(self.store, self.clock, interval=0.2, batch_max=3)
        for n in range(3):
            log.add(said(n), ["#c"])
        self.clock.advance(0)
        self.assertEqual(len(self.store.held), 1)

    def test_an_event_in_several_histories(self) -> None:
        self.log.add(Quit(ALICE, "q1", 5.0, "bye"), ["#a", "#b"])
        closed = self.log.close()
        self.store.release()
        self.successResultOf(closed)
        a = self.successResultOf(self.log.latest("#a", 5))
        b = self.successResultOf(self.log.latest("#b", 5))
        self.assertEqual([(i.kind, i.text) for i in a + b], [("quit", "bye")] * 2)
        # Each channel keeps it under the msgid its members saw live.
        self.assertEqual([a[0].msgid, b[0].msgid], ["q1", "q1"])
        self.assertEqual(self.successResultOf(self.log.item("q1", "#b")), b[0])

    def test_delete_pending_and_written(self) -> None:
        self.log.add(said(1), ["#c"])
        self.clock.advance(0.2)
        self.store.release()
        self.log.add(said(2), ["#c"])
        self.assertTrue(self.successResultOf(self.log.delete("id0002")))
        self.assertTrue(self.successResultOf(self.log.delete("id0001")))
        self.assertFalse(self.successResultOf(self.log.delete("nope")))
        self.clock.advance(0.2)
        self.store.release()
        self.assertEqual(self.texts(self.log.latest("#c", 10)), [])

    def test_a_failed_write_is_counted_and_logged(self) -> None:
        self.log.add(said(1), ["#c"])
        self.clock.advance(0.2)
        d, _ = self.store.held.pop(0)
        d.errback(RuntimeError("disk full"))
        self.assertEqual(self.log.lost, 1)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)
        self.log.add(said(2), ["#c"])
        self.clock.advance(0.2)
        self.store.release()
        self.assertEqual(self.texts(self.log.latest("#c", 10)), ["line 2"])

    def test_search_sees_unwritten(self) -> None:
        self.log.add(said(7), ["#c"])
        found = self.successResultOf(self.log.search("LINE 7", ["#c"], 5))
        self.assertEqual([i.msgid for i in found], ["id0007"])


class PrivateTargetsTests(SynchronousTestCase):
    def test_written_and_unwritten_merged(self) -> None:
        store = Held()
        store.open()
        log = HistoryLog(store, Clock(), interval=0.2)
        log.add(Message(ALICE, "w1", 10.0, "bob", "hi"), ["alice bob"])
        log.add(Message(ALICE, "w2", 20.0, "carol", "hi"), ["alice carol"])
        log.flush()
        store.release()
        log.add(Message(ALICE, "u1", 30.0, "carol", "again"), ["alice carol"])
        log.add(Message(ALICE, "u2", 25.0, "#c", "chan"), ["#c"])
        log.add(Message(ALICE, "u3", 15.0, "zed", "x"), ["aaron alice"])
        found = self.successResultOf(log.private_targets("alice", 0.0, 100.0, 10))
        self.assertEqual(
            found, [("alice bob", 10.0), ("aaron alice", 15.0), ("alice carol", 30.0)]
        )
        found = self.successResultOf(log.private_targets("alice", 0.0, 100.0, 1))
        self.assertEqual(found, [("alice bob", 10.0)])
        # Counted from the latest: carol's written 20.0 gave way to 30.0.
        found = self.successResultOf(log.private_targets("alice", 100.0, 0.0, 1))
        self.assertEqual(found, [("alice carol", 30.0)])
        # Its latest item is outside, so carol is not listed, though her
        # written 20.0 is inside.
        found = self.successResultOf(log.private_targets("alice", 0.0, 28.0, 10))
        self.assertEqual(found, [("alice bob", 10.0), ("aaron alice", 15.0)])


class SlowReads(Held):
    """
    A held store whose history reads are answered from the snapshot taken
    when they were called, but only when the test says so: as a read
    connection that started before a batch committed.
    """

    def __init__(self) -> None:
        super().__init__()
        self.reads: list[tuple[Deferred[list[HistoryItem]], list[HistoryItem]]] = []

    def history_latest(self, target: str, limit: int) -> Deferred[list[HistoryItem]]:
        snapshot = self.snapshot(target, limit)
        d: Deferred[list[HistoryItem]] = Deferred()
        self.reads.append((d, snapshot))
        return d

    def snapshot(self, target: str, limit: int) -> list[HistoryItem]:
        found: list[HistoryItem] = []
        MemoryStore.history_latest(self, target, limit).addCallback(found.extend)
        return found

    def answer(self) -> None:
        d, snapshot = self.reads.pop(0)
        d.callback(snapshot)


class ReadRaceTests(SynchronousTestCase):
    """A read answered before a batch committed, merged after."""

    def setUp(self) -> None:
        self.clock = Clock()
        self.store = SlowReads()
        self.store.open()
        self.log = HistoryLog(self.store, self.clock, interval=0.2)

    def texts(self, d: Deferred[list[HistoryItem]]) -> list[str]:
        return [i.text for i in self.successResultOf(d)]

    def test_a_batch_committed_during_a_read_is_still_merged(self) -> None:
        self.log.add(said(1), ["#c"])
        self.clock.advance(0.2)  # the batch is being written
        reading = self.log.latest("#c", 10)  # its snapshot: without line 1
        self.store.release()  # the batch commits
        self.assertEqual(self.log.unwritten, 0)
        self.store.answer()
        self.assertEqual(self.texts(reading), ["line 1"])
        # Once no read older than the commit is left, the store answers alone.
        again = self.log.latest("#c", 10)
        self.store.answer()
        self.assertEqual(self.texts(again), ["line 1"])
        self.assertEqual(self.log._unwritten, {})

    def test_kept_until_the_oldest_read_is_merged(self) -> None:
        self.log.add(said(1), ["#c"])
        self.clock.advance(0.2)
        old = self.log.latest("#c", 10)  # before batch 1 commits
        self.store.release()
        self.log.add(said(2), ["#c"])
        self.clock.advance(0.2)
        newer = self.log.latest("#c", 10)  # after batch 1, before batch 2
        self.store.release()
        self.store.answer()
        self.assertEqual(self.texts(old), ["line 1", "line 2"])
        self.store.answer()
        self.assertEqual(self.texts(newer), ["line 1", "line 2"])
        self.assertEqual(self.log._unwritten, {})

    def test_a_failed_read_lets_go(self) -> None:
        self.log.add(said(1), ["#c"])
        self.clock.advance(0.2)
        reading = self.log.latest("#c", 10)
        self.store.release()
        d, _ = self.store.reads.pop(0)
        d.errback(RuntimeError("gone"))
        self.failureResultOf(reading, RuntimeError)
        self.assertEqual(self.log._unwritten, {})

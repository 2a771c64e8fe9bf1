"""
The history part of the store's contract, run against every engine, and
the upgrade of a version-1 database to the history schema.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
from collections.abc import Generator
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from chatd.store import DuplicateMessage, HistoryItem, Store, StoreError
from chatd.store import sql as sql_module
from chatd.store.history import around, fts5_query, words
from chatd.store.schema import SCHEMA_DIR, latest_version
from chatd.store.sqlite import SQLiteStore, scope_token

from .engines import (
    CaseBase,
    MemoryEngine,
    PostgreSQLEngine,
    SQLiteEngine,
    run_sql,
)
from .test_contract import account

Steps = Generator["Deferred[Any]", Any, Any]


def item(msgid: str, ts: float, text: str = "", **fields: Any) -> HistoryItem:
    """An item of #chat by alice, unless C{fields} say otherwise."""
    values: dict[str, Any] = {
        "msgid": msgid,
        "target": "#chat",
        "ts": ts,
        "kind": "message",
        "nick": "alice",
        "username": "~alice",
        "host": "alice.example",
        "account": "alice",
        "to": "#Chat",
        "text": text or f"text of {msgid}",
    }
    values.update(fields)
    return HistoryItem(**values)


def msgids(items: list[HistoryItem]) -> list[str]:
    return [i.msgid for i in items]


#: Ten items of #chat one second apart, msgids m00..m09.
TEN = [item(f"m{i:02}", 1000.0 + i) for i in range(10)]


class HistoryContractTests(CaseBase):
    """What every engine's history must do."""

    kind: str

    def new_store(self) -> Store:
        raise NotImplementedError

    @inlineCallbacks
    def opened(self) -> Steps:
        store = self.new_store()
        yield store.open()
        self.addCleanup(store.close)
        return store

    @inlineCallbacks
    def with_items(self, items: list[HistoryItem]) -> Steps:
        """An open store holding C{items}, appended in batches, shuffled."""
        store = yield self.opened()
        shuffled = list(items)
        random.Random(16).shuffle(shuffled)
        for start in range(0, len(shuffled), 3):
            yield store.append_history(shuffled[start : start + 3])
        return store

    # Storing and reading back.

    @inlineCallbacks
    def test_every_field_round_trips(self) -> Steps:
        full = HistoryItem(
            msgid="01JEXAMPLE☕",
            target="!dm:ålice:bøb",
            ts=1733412345.123456,
            kind="action",
            nick="Ålice",
            username="~ålice",
            host="2001:db8::1",
            account="ålice",
            to="Bøb",
            text="waves 👋 at \"you\"; 'quotes' back\\slash %s ? -- done",
            tags='{"+draft/reply": "x", "+typing": "active"}',
            extra='{"reason": "π"}',
        )
        bare = item("m1", 5.0, text="", account=None, kind="join")
        bare = bare._replace(text="")
        store = yield self.opened()
        yield store.append_history([full, bare])
        self.assertEqual((yield store.history_item(full.msgid)), full)
        self.assertEqual((yield store.history_item("m1")), bare)
        self.assertIsNone((yield store.history_item("nothing")))
        self.assertEqual((yield store.history_latest(full.target, 10)), [full])
        # Kept across a restart too.
        yield store.close()
        store = yield self.opened()
        self.assertEqual((yield store.history_latest("#chat", 10)), [bare])
        self.assertEqual((yield store.history_item(full.msgid)), full)

    @inlineCallbacks
    def test_times_read_back_exactly(self) -> Steps:
        """
        Times keep every bit, whichever way they are read: 15 digits
        (SQLite's way of writing a float as text) would change them.
        """
        times = [1796546098.1122918, 0.1 + 0.2, 1733412345.123456, 5e-324, 1e300]
        items = [
            item(f"t{k}", ts, text=f"exact{k} time", target=f"#t{k}")
            for k, ts in enumerate(times)
        ]
        store = yield self.with_items(items)
        for it in items:
            self.assertEqual((yield store.history_latest(it.target, 5)), [it])
            (found,) = yield store.search_history(it.text, [it.target], 5)
            self.assertEqual(found, it)
            self.assertEqual(found.ts, it.ts)
        targets = yield store.history_targets([i.target for i in items], 0.0, 2e300, 10)
        self.assertEqual(
            targets, sorted(((i.target, i.ts) for i in items), key=lambda t: t[1])
        )

    @inlineCallbacks
    def test_latest(self) -> Steps:
        other = item("o1", 2000.0, target="#other")
        store = yield self.with_items([*TEN, other])
        self.assertEqual((yield store.history_latest("#chat", 3)), TEN[-3:])
        self.assertEqual((yield store.history_latest("#chat", 100)), TEN)
        self.assertEqual((yield store.history_latest("#chat", 0)), [])
        self.assertEqual((yield store.history_latest("#other", 5)), [other])
        self.assertEqual((yield store.history_latest("#nowhere", 5)), [])

    @inlineCallbacks
    def test_empty_batch(self) -> Steps:
        store = yield self.opened()
        yield store.append_history([])
        self.assertEqual((yield store.history_latest("#chat", 5)), [])

    @inlineCallbacks
    def test_before_and_after_exclude_the_pivot(self) -> Steps:
        store = yield self.with_items(TEN)
        pivot = TEN[5]
        before = yield store.history_before("#chat", pivot.ts, pivot.msgid, 3)
        self.assertEqual(before, TEN[2:5])
        after = yield store.history_after("#chat", pivot.ts, pivot.msgid, 3)
        self.assertEqual(after, TEN[6:9])
        self.assertEqual(
            (yield store.history_before("#chat", pivot.ts, pivot.msgid, 100)),
            TEN[:5],
        )
        self.assertEqual(
            (yield store.history_after("#chat", pivot.ts, pivot.msgid, 100)),
            TEN[6:],
        )
        # A time alone: items at that very time are excluded too.
        self.assertEqual(
            (yield store.history_before("#chat", 1005.0, None, 2)), TEN[3:5]
        )
        self.assertEqual(
            (yield store.history_after("#chat", 1005.0, None, 2)), TEN[6:8]
        )
        self.assertEqual(
            (yield store.history_before("#chat", 1004.5, None, 2)), TEN[3:5]
        )
        self.assertEqual(
            (yield store.history_after("#chat", 1004.5, None, 2)), TEN[5:7]
        )
        # At the ends, and with no limit.
        self.assertEqual((yield store.history_before("#chat", 1000.0, "m00", 5)), [])
        self.assertEqual((yield store.history_after("#chat", 1009.0, "m09", 5)), [])
        self.assertEqual((yield store.history_after("#chat", 0.0, None, 0)), [])

    @inlineCallbacks
    def test_ties_on_ts_are_broken_by_msgid(self) -> Steps:
        tied = [item(f"t{c}", 50.0) for c in "abcde"]
        items = [item("s0", 49.0), *tied, item("z9", 51.0)]
        store = yield self.with_items(items)
        self.assertEqual((yield store.history_latest("#chat", 10)), items)
        self.assertEqual(
            msgids((yield store.history_latest("#chat", 3))), ["td", "te", "z9"]
        )
        self.assertEqual(
            msgids((yield store.history_before("#chat", 50.0, "tc", 10))),
            ["s0", "ta", "tb"],
        )
        self.assertEqual(
            msgids((yield store.history_after("#chat", 50.0, "tc", 10))),
            ["td", "te", "z9"],
        )
        self.assertEqual(
            msgids((yield store.history_after("#chat", 50.0, "tc", 1))), ["td"]
        )
        self.assertEqual(
            msgids((yield store.history_before("#chat", 50.0, "tc", 1))), ["tb"]
        )
        # Msgids compare by code point, whatever the database's locale.
        mixed = [item(m, 70.0) for m in ("B", "a", "Z", "é", "_")]
        yield store.append_history(mixed)
        self.assertEqual(
            msgids((yield store.history_after("#chat", 60.0, None, 10))),
            sorted(m.msgid for m in mixed),
        )

    @inlineCallbacks
    def test_between_in_both_directions(self) -> Steps:
        store = yield self.with_items(TEN)
        # Forwards: the oldest after start; both ends excluded.
        self.assertEqual(
            (yield store.history_between("#chat", 1002.0, 1007.0, 3)), TEN[3:6]
        )
        self.assertEqual(
            (yield store.history_between("#chat", 1002.0, 1007.0, 100)), TEN[3:7]
        )
        # Backwards from a later start: the newest before it, in time order.
        self.assertEqual(
            (yield store.history_between("#chat", 1007.0, 1002.0, 3)), TEN[4:7]
        )
        self.assertEqual(
            (yield store.history_between("#chat", 1007.0, 1002.0, 100)), TEN[3:7]
        )
        self.assertEqual((yield store.history_between("#chat", 1003.0, 1003.0, 10)), [])
        self.assertEqual((yield store.history_between("#chat", 1003.0, 1004.0, 10)), [])
        self.assertEqual(
            (yield store.history_between("#chat", 1002.5, 1003.5, 10)), [TEN[3]]
        )
        self.assertEqual((yield store.history_between("#chat", 0.0, 9999.0, 0)), [])

    @inlineCallbacks
    def test_around_splits_the_limit(self) -> Steps:
        store = yield self.with_items(TEN)
        pivot = TEN[5]
        # Half before, the pivot and the rest after.
        got = yield store.history_around("#chat", pivot.ts, pivot.msgid, 4)
        self.assertEqual(got, TEN[3:7])
        got = yield store.history_around("#chat", pivot.ts, pivot.msgid, 5)
        self.assertEqual(got, TEN[3:8])
        got = yield store.history_around("#chat", pivot.ts, pivot.msgid, 1)
        self.assertEqual(got, [pivot])
        # Near an end, the other side gives more.
        got = yield store.history_around("#chat", 1001.0, "m01", 6)
        self.assertEqual(got, TEN[:6])
        got = yield store.history_around("#chat", 1009.0, "m09", 6)
        self.assertEqual(got, TEN[4:])
        got = yield store.history_around("#chat", 1005.0, "m05", 100)
        self.assertEqual(got, TEN)
        # A time between items.
        got = yield store.history_around("#chat", 1004.5, None, 4)
        self.assertEqual(got, TEN[3:7])
        self.assertEqual((yield store.history_around("#chat", 1004.5, None, 0)), [])
        self.assertEqual((yield store.history_around("#none", 1004.5, None, 5)), [])

    # Duplicates.

    @inlineCallbacks
    def test_a_stored_msgid_refuses_the_whole_batch(self) -> Steps:
        store = yield self.with_items(TEN[:3])
        batch = [item("new1", 2000.0), TEN[1], item("new2", 2001.0)]
        failure = yield self.assertFailure(
            store.append_history(batch), DuplicateMessage
        )
        self.assertIn("nothing of the batch was stored", str(failure))
        self.assertIsInstance(failure, StoreError)
        self.assertEqual((yield store.history_latest("#chat", 10)), TEN[:3])
        self.assertIsNone((yield store.history_item("new1")))
        # A different item with the same msgid in the same target is a
        # duplicate too.
        clash = item("m00", 3000.0, text="other")
        yield self.assertFailure(store.append_history([clash]), DuplicateMessage)
        self.assertEqual((yield store.history_item("m00", "#chat")), TEN[0])
        # And the store goes on working.
        yield store.append_history([item("new1", 2000.0)])
        self.assertEqual(msgids((yield store.history_latest("#chat", 1))), ["new1"])

    @inlineCallbacks
    def test_one_msgid_under_several_targets(self) -> Steps:
        """
        A quit is kept in each channel it was seen in, under its one msgid:
        each target reads its own copy, a redaction in one leaves the others.
        """
        quit = [
            item("q1", 5.0, target=t, kind="quit", text="bye")
            for t in ("#a", "#b", "#c")
        ]
        store = yield self.opened()
        yield store.append_history(quit)
        for t in ("#a", "#b", "#c"):
            self.assertEqual(msgids((yield store.history_latest(t, 5))), ["q1"])
            self.assertEqual((yield store.history_item("q1", t)).target, t)
        self.assertEqual((yield store.history_item("q1")).msgid, "q1")
        self.assertIsNone((yield store.history_item("q1", "#d")))
        self.assertTrue((yield store.delete_history("q1", "#b")))
        self.assertEqual((yield store.history_latest("#b", 5)), [])
        self.assertEqual(msgids((yield store.history_latest("#a", 5))), ["q1"])
        self.assertFalse((yield store.delete_history("q1", "#b")))
        # Twice for one target in a batch, or again later: a duplicate.
        yield self.assertFailure(
            store.append_history([item("q2", 6.0, target="#a")] * 2),
            DuplicateMessage,
        )
        yield self.assertFailure(store.append_history([quit[0]]), DuplicateMessage)
        # Without a target, every copy goes.
        self.assertTrue((yield store.delete_history("q1")))
        self.assertEqual((yield store.history_latest("#c", 5)), [])

    @inlineCallbacks
    def test_a_batch_of_several_statements_is_one_transaction(self) -> Steps:
        """
        An engine writes a big batch in several INSERT statements: all of
        it is kept, or, with a stored msgid in its last statement, none.
        """
        store = yield self.opened()
        store.rows_per_insert = 3  # type: ignore[attr-defined]
        yield store.append_history(TEN[:7])
        self.assertEqual((yield store.history_latest("#chat", 10)), TEN[:7])
        batch = [item(f"late{n}", 2000.0 + n) for n in range(7)] + [TEN[0]]
        yield self.assertFailure(store.append_history(batch), DuplicateMessage)
        self.assertEqual((yield store.history_latest("#chat", 10)), TEN[:7])
        self.assertEqual((yield store.search_history("late3", ["#chat"], 20)), [])
        self.assertIsNone((yield store.history_item("late0")))

    @inlineCallbacks
    def test_a_msgid_twice_in_a_batch(self) -> Steps:
        store = yield self.opened()
        batch = [item("a", 1.0), item("b", 2.0), item("a", 3.0, text="again")]
        failure = yield self.assertFailure(
            store.append_history(batch), DuplicateMessage
        )
        self.assertIn("'a'", str(failure))
        self.assertEqual((yield store.history_latest("#chat", 10)), [])

    # Deletion and expiry.

    @inlineCallbacks
    def test_deleted_is_gone_from_every_query(self) -> Steps:
        doomed = item("m05", 1005.0, text="the secret password is swordfish")
        items = [*TEN[:5], doomed, *TEN[6:]]
        store = yield self.with_items(items)
        self.assertEqual(
            msgids((yield store.search_history("swordfish", ["#chat"], 10))), ["m05"]
        )
        self.assertTrue((yield store.delete_history("m05")))
        self.assertFalse((yield store.delete_history("m05")))
        self.assertFalse((yield store.delete_history("never")))
        rest = TEN[:5] + TEN[6:]
        self.assertIsNone((yield store.history_item("m05")))
        self.assertEqual((yield store.history_latest("#chat", 100)), rest)
        self.assertEqual(
            (yield store.history_after("#chat", 1004.0, "m04", 1)), [TEN[6]]
        )
        self.assertEqual(
            (yield store.history_before("#chat", 1006.0, "m06", 1)), [TEN[4]]
        )
        self.assertEqual((yield store.history_between("#chat", 1004.5, 1005.5, 5)), [])
        self.assertEqual(
            (yield store.history_around("#chat", 1005.0, "m05", 2)), [TEN[4], TEN[6]]
        )
        self.assertEqual((yield store.search_history("swordfish", ["#chat"], 10)), [])
        self.assertEqual(
            (yield store.history_targets(["#chat"], 1004.5, 1005.5, 5)), []
        )
        # The msgid may be used again.
        yield store.append_history([doomed])
        self.assertEqual(
            (yield store.search_history("SWORDFISH", ["#chat"], 1)), [doomed]
        )

    @inlineCallbacks
    def test_deleting_events_then_messages(self) -> Steps:
        """
        Items without text (joins, modes...) are deleted, then messages, by
        redaction and by expiry, and search still answers: SQLite's index
        was damaged by the first kind ("database disk image is malformed").
        """
        joins = [item(f"j{i}", 999.0 + i / 10, text="", kind="join") for i in range(3)]
        joins = [j._replace(text="") for j in joins]
        store = yield self.with_items([*joins, *TEN])
        self.assertTrue((yield store.delete_history("j1", "#chat")))
        self.assertTrue((yield store.delete_history("m03", "#chat")))
        self.assertTrue((yield store.delete_history("m04", "#chat")))
        yield store.expire_history(None, 4)
        self.assertEqual(
            msgids((yield store.history_latest("#chat", 100))),
            ["m06", "m07", "m08", "m09"],
        )
        self.assertEqual(
            msgids((yield store.search_history("text of", ["#chat"], 10))),
            ["m09", "m08", "m07", "m06"],
        )
        # and every message that is left
        for gone in ("m06", "m07", "m08", "m09"):
            self.assertTrue((yield store.delete_history(gone, "#chat")))
        self.assertEqual((yield store.search_history("text of", ["#chat"], 10)), [])
        yield store.append_history([TEN[3]])
        self.assertEqual((yield store.search_history("m03", ["#chat"], 5)), [TEN[3]])

    @inlineCallbacks
    def test_expire_by_age(self) -> Steps:
        other = [item(f"o{i}", 1000.5 + i, target="#other") for i in range(10)]
        store = yield self.with_items(TEN + other)
        deleted = yield store.expire_history(1004.0, None)
        self.assertEqual(deleted, 8)  # m00..m03 and o0..o3
        self.assertEqual((yield store.history_latest("#chat", 100)), TEN[4:])
        self.assertEqual((yield store.history_latest("#other", 100)), other[4:])
        self.assertEqual((yield store.expire_history(1004.0, None)), 0)
        self.assertEqual((yield store.expire_history(None, None)), 0)
        self.assertEqual(
            (yield store.search_history("text", ["#chat"], 100)), TEN[4:][::-1]
        )

    @inlineCallbacks
    def test_expire_by_count(self) -> Steps:
        other = [item(f"o{i}", 1000.5 + i, target="#other") for i in range(4)]
        tied = [item(f"t{c}", 7.0, target="#tied") for c in "abcd"]
        store = yield self.with_items(TEN + other + tied)
        deleted = yield store.expire_history(None, 3)
        self.assertEqual(deleted, 7 + 1 + 1)
        self.assertEqual((yield store.history_latest("#chat", 100)), TEN[-3:])
        self.assertEqual((yield store.history_latest("#other", 100)), other[-3:])
        # Of items with one ts, the ones with the greatest msgids stay.
        self.assertEqual((yield store.history_latest("#tied", 100)), tied[-3:])
        self.assertEqual((yield store.expire_history(None, 3)), 0)
        # Both limits at once: beyond the newest 2, or older than 1003.
        self.assertEqual((yield store.expire_history(1003.0, 2)), 3 + 3)
        self.assertEqual((yield store.history_latest("#chat", 100)), TEN[-2:])
        self.assertEqual((yield store.history_latest("#other", 100)), other[-1:])
        self.assertEqual((yield store.history_latest("#tied", 100)), [])
        # Keeping none empties every target.
        self.assertEqual((yield store.expire_history(None, 0)), 3)
        self.assertEqual((yield store.history_latest("#chat", 100)), [])
        self.assertEqual((yield store.history_latest("#other", 100)), [])

    # Targets.

    @inlineCallbacks
    def test_targets(self) -> Steps:
        items = [
            item("a1", 10.0, target="#a"),
            item("a2", 30.0, target="#a"),
            item("b1", 20.0, target="#b"),
            item("c1", 25.0, target="!dm:x:y"),
            item("d1", 40.0, target="#d"),
            item("e1", 5.0, target="#e"),
        ]
        store = yield self.with_items(items)
        asked = ["#a", "#b", "!dm:x:y", "#d", "#e", "#nothing"]
        self.assertEqual(
            (yield store.history_targets(asked, 6.0, 40.0, 10)),
            [("#b", 20.0), ("!dm:x:y", 25.0), ("#a", 30.0)],
        )
        # Oldest first; the limit counts from the first time given, as
        # BETWEEN does: the earliest forwards, the latest backwards.
        self.assertEqual(
            (yield store.history_targets(asked, 0.0, 100.0, 2)),
            [("#e", 5.0), ("#b", 20.0)],
        )
        self.assertEqual(
            (yield store.history_targets(asked, 100.0, 0.0, 2)),
            [("#a", 30.0), ("#d", 40.0)],
        )
        # A target whose latest item is outside is left out, though it has
        # one inside (#a's 10.0).
        self.assertEqual(
            (yield store.history_targets(asked, 9.0, 29.0, 10)),
            [("#b", 20.0), ("!dm:x:y", 25.0)],
        )
        # Only the targets asked about.
        self.assertEqual(
            (yield store.history_targets(["#b"], 0.0, 100.0, 10)), [("#b", 20.0)]
        )
        self.assertEqual((yield store.history_targets([], 0.0, 100.0, 10)), [])
        self.assertEqual((yield store.history_targets(asked, 0.0, 100.0, 0)), [])

    # Search.

    @inlineCallbacks
    def test_search_matches_words(self) -> Steps:
        texts = {
            "s1": "The quick brown fox",
            "s2": "a category of cats",
            "s3": "CATS or dogs?",
            "s4": "no cat here, only a cat-like thing",
            "s5": "don't panic",
            "s6": "École Привет ДРУГ",
            "s7": "x_y under_score",
        }
        items = [item(m, 100.0 + i, text=t) for i, (m, t) in enumerate(texts.items())]
        items.append(item("elsewhere", 500.0, target="#other", text="cats galore"))
        store = yield self.with_items(items)

        @inlineCallbacks
        def found(
            text: str, targets: tuple[str, ...] = ("#chat",), limit: int = 10
        ) -> Steps:
            result = yield store.search_history(text, targets, limit)
            return msgids(result)

        self.assertEqual((yield found("quick")), ["s1"])
        self.assertEqual((yield found("QUICK fox")), ["s1"])
        # Every word, in any order.
        self.assertEqual((yield found("fox the")), ["s1"])
        self.assertEqual((yield found("quick dog")), [])
        # Words, not substrings; newest first.
        self.assertEqual((yield found("cats")), ["s3", "s2"])
        self.assertEqual((yield found("cat")), ["s4"])
        self.assertEqual((yield found("categ")), [])
        self.assertEqual(
            (yield found("cats", ("#chat", "#other"))), ["elsewhere", "s3", "s2"]
        )
        self.assertEqual(
            (yield found("cats", ("#chat", "#other"), 2)), ["elsewhere", "s3"]
        )
        self.assertEqual((yield found("cats", ("#other",))), ["elsewhere"])
        self.assertEqual((yield found("cats", ())), [])
        self.assertEqual((yield found("cats", ("#chat",), 0)), [])
        # Unicode, without regard to case.
        self.assertEqual((yield found("école")), ["s6"])
        self.assertEqual((yield found("привет друг")), ["s6"])
        self.assertEqual((yield found("ecole")), [])
        # Underscores separate words.
        self.assertEqual((yield found("score")), ["s7"])

    @inlineCallbacks
    def test_search_newest_first_among_many_matches(self) -> Steps:
        # 300 messages with the word; the clock stepped back once, so the
        # last one stored is older than the ten before it.
        items = [item(f"n{i:03}", 1000.0 + i, text="deploy done") for i in range(299)]
        items.append(item("late", 1290.5, text="deploy again"))
        store = yield self.opened()
        for start in range(0, len(items), 7):  # stored in the order said
            yield store.append_history(items[start : start + 7])
        found = yield store.search_history("deploy", ("#chat",), 5)
        self.assertEqual(msgids(found), ["n298", "n297", "n296", "n295", "n294"])
        found = yield store.search_history("deploy", ("#chat",), 12)
        self.assertEqual(msgids(found)[8:], ["late", "n290", "n289", "n288"])
        found = yield store.search_history("again", ("#chat",), 5)
        self.assertEqual(msgids(found), ["late"])

    @inlineCallbacks
    def test_search_text_is_not_a_query_language(self) -> Steps:
        texts = {
            "q1": 'she said "hello world" twice',
            "q2": "cats OR dogs",
            "q3": "cats and dogs",
            "q4": "no-go zone",
            "q5": "star* wars",
            "q6": "NEAR(a b) text:foo ^caret",
        }
        items = [item(m, 100.0 + i, text=t) for i, (m, t) in enumerate(texts.items())]
        store = yield self.with_items(items)

        @inlineCallbacks
        def found(text: str) -> Steps:
            return msgids((yield store.search_history(text, ["#chat"], 10)))

        self.assertEqual((yield found('"hello world"')), ["q1"])
        self.assertEqual((yield found('hello"')), ["q1"])
        self.assertEqual((yield found('"')), [])
        self.assertEqual((yield found("")), [])
        self.assertEqual((yield found("  -- ** ")), [])
        # OR is a word to find, not an operator.
        self.assertEqual((yield found("cats OR dogs")), ["q2"])
        self.assertEqual((yield found("cats or")), ["q2"])
        # -go is the word go, not "without go".
        self.assertEqual((yield found("-go")), ["q4"])
        self.assertEqual((yield found("no -go")), ["q4"])
        # * is no prefix match.
        self.assertEqual((yield found("sta*")), [])
        self.assertEqual((yield found("star*")), ["q5"])
        self.assertEqual((yield found("NEAR(a b)")), ["q6"])
        self.assertEqual((yield found("text:foo")), ["q6"])
        self.assertEqual((yield found("^caret")), ["q6"])
        self.assertEqual((yield found("AND")), ["q3"])
        self.assertEqual((yield found("NOT cats")), [])

    @inlineCallbacks
    def test_private_targets(self) -> Steps:
        keys = {
            "alice bob": 30.0,
            "alice carol": 10.0,
            "aaron alice": 20.0,
            "al bob": 40.0,  # "al" is not "alice"
            "alice!x y": 50.0,
            "xalice zed": 60.0,
            "#alice": 70.0,
            "bob carol": 80.0,
            "alicea zed": 90.0,
        }
        items = [
            item(f"p{n}", ts, target=key) for n, (key, ts) in enumerate(keys.items())
        ]
        items.append(item("old", 1.0, target="alice dave"))
        store = yield self.with_items(items)
        found = yield store.history_private_targets("alice", 5.0, 100.0, 10)
        self.assertEqual(
            found, [("alice carol", 10.0), ("aaron alice", 20.0), ("alice bob", 30.0)]
        )
        found = yield store.history_private_targets("alice", 100.0, 0.0, 2)
        self.assertEqual(found, [("aaron alice", 20.0), ("alice bob", 30.0)])
        found = yield store.history_private_targets("alice", 0.0, 100.0, 2)
        self.assertEqual(found, [("alice dave", 1.0), ("alice carol", 10.0)])
        self.assertEqual(
            (yield store.history_private_targets("alice", 0.0, 100.0, 0)), []
        )
        self.assertEqual(
            (yield store.history_private_targets("carol", 0.0, 100.0, 5)),
            [("alice carol", 10.0), ("bob carol", 80.0)],
        )

    # Read markers.

    @inlineCallbacks
    def test_read_markers_only_move_forward(self) -> Steps:
        store = yield self.opened()
        self.assertIsNone((yield store.load_read_marker("alice", "#chat")))
        yield store.save_read_marker("alice", "#chat", 100.5)
        yield store.save_read_marker("alice", "alice bob", 7.0)
        yield store.save_read_marker("bob", "#chat", 50.0)
        self.assertEqual((yield store.load_read_marker("alice", "#chat")), 100.5)
        # Older: ignored; equal: nothing changes; newer: kept.
        yield store.save_read_marker("alice", "#chat", 99.0)
        self.assertEqual((yield store.load_read_marker("alice", "#chat")), 100.5)
        yield store.save_read_marker("alice", "#chat", 100.5)
        yield store.save_read_marker("alice", "#chat", 200.25)
        self.assertEqual((yield store.load_read_marker("alice", "#chat")), 200.25)
        self.assertEqual((yield store.load_read_marker("alice", "alice bob")), 7.0)
        self.assertEqual((yield store.load_read_marker("bob", "#chat")), 50.0)
        self.assertIsNone((yield store.load_read_marker("bob", "alice bob")))
        # Saved without waiting, out of order: the latest wins.
        yield gatherResults(
            [store.save_read_marker("carol", "#x", ts) for ts in (3.0, 9.0, 5.0)]
        )
        self.assertEqual((yield store.load_read_marker("carol", "#x")), 9.0)
        yield store.close()
        store = yield self.opened()
        self.assertEqual((yield store.load_read_marker("alice", "#chat")), 200.25)

    # Not open, and order.

    @inlineCallbacks
    def test_not_open(self) -> Steps:
        store = self.new_store()
        calls = [
            store.append_history([TEN[0]]),
            store.history_latest("#chat", 1),
            store.history_before("#chat", 1.0, None, 1),
            store.history_after("#chat", 1.0, "x", 1),
            store.history_between("#chat", 1.0, 2.0, 1),
            store.history_around("#chat", 1.0, None, 1),
            store.history_item("m00"),
            store.history_targets(["#chat"], 1.0, 2.0, 1),
            store.delete_history("m00"),
            store.expire_history(1.0, 1),
            store.search_history("text", ["#chat"], 1),
        ]
        for call in calls:
            failure = self.failureResultOf(call, StoreError)
            self.assertIn("not open", str(failure.value))
        yield self.opened()

    @inlineCallbacks
    def test_writes_called_without_waiting_apply_in_order(self) -> Steps:
        store = yield self.opened()
        calls: list[Deferred[Any]] = [
            store.append_history([item(f"w{i}", float(i))]) for i in range(20)
        ]
        calls.append(store.delete_history("w3"))
        calls.append(store.append_history([item("w3", 3.0, text="again")]))
        calls.append(store.expire_history(5.0, None))
        calls.append(store.create_account(account("Alice")))
        results = yield gatherResults(calls)
        self.assertEqual(results[20:23], [True, None, 5])
        latest = yield store.history_latest("#chat", 100)
        self.assertEqual(msgids(latest), [f"w{i}" for i in range(5, 20)])


class ChunkedExpiryTests(HistoryContractTests):
    """The SQL engines expire in chunks of their own transactions."""

    @inlineCallbacks
    def test_expiry_in_chunks(self) -> Steps:
        self.patch(sql_module, "EXPIRE_CHUNK", 3)
        items = [item(f"c{i:02}", float(i), target=f"#t{i % 3}") for i in range(30)]
        store = yield self.with_items(items)
        self.assertEqual((yield store.expire_history(10.0, None)), 10)
        self.assertEqual((yield store.expire_history(None, 2)), 14)
        for t in range(3):
            kept = yield store.history_latest(f"#t{t}", 100)
            self.assertEqual(kept, [i for i in items if i.target == f"#t{t}"][-2:])

    @inlineCallbacks
    def test_closing_ends_an_expiry(self) -> Steps:
        self.patch(sql_module, "EXPIRE_CHUNK", 2)
        store = yield self.with_items(TEN)
        expiring = store.expire_history(2000.0, None)
        yield store.close()
        deleted = yield expiring
        self.assertLess(deleted, 10)
        store = yield self.opened()
        self.assertEqual(len((yield store.history_latest("#chat", 100))), 10 - deleted)


class MemoryHistoryTests(MemoryEngine, HistoryContractTests, TestCase):
    kind = "memory"


class SQLiteHistoryTests(SQLiteEngine, ChunkedExpiryTests, TestCase):
    kind = "sqlite"

    def test_reads_take_their_rows_in_one_step(self) -> None:
        """
        With SQLite's JSON functions (3.38 and later; Debian's and Python's
        own have them), reads take all their rows in one step, not one step
        (and one wait for the GIL) a row.
        """
        if sqlite3.sqlite_version_info < (3, 38):
            raise SkipTest(f"SQLite {sqlite3.sqlite_version} may lack JSON")
        self.assertTrue(SQLiteStore.rows_in_one_step)

    @inlineCallbacks
    def test_row_by_row_reads_the_same(self) -> Steps:
        """Without the JSON functions, reads give the same answers."""
        items = [
            *TEN,
            item("x1", 1796546098.1122918, text="one more", target="#x"),
            item("x2", 1796546099.5, text="one more", target="#x", account=None),
        ]
        store = yield self.with_items(items)

        @inlineCallbacks
        def answers() -> Steps:
            return (
                (yield store.history_latest("#chat", 4)),
                (yield store.history_around("#chat", 1004.0, None, 4)),
                (yield store.history_latest("#x", 5)),
                (yield store.search_history("one more", ["#x", "#chat"], 5)),
                (yield store.history_targets(["#chat", "#x"], 0.0, 2e9, 5)),
            )

        one_step = yield answers()
        self.patch(store, "rows_in_one_step", False)
        self.assertEqual((yield answers()), one_step)
        self.assertEqual(one_step[2], items[-2:])

    @inlineCallbacks
    def test_queries_scan_the_index(self) -> Steps:
        store = yield self.with_items(TEN)
        for query, args in [
            ("WHERE target = ? ORDER BY ts DESC, msgid DESC LIMIT 5", ("#chat",)),
            (
                "WHERE target = ? AND ts <= ? AND (ts < ? OR msgid < ?)"
                " ORDER BY ts DESC, msgid DESC LIMIT 5",
                ("#chat", 1.0, 1.0, "x"),
            ),
            (
                "WHERE target = ? AND ts >= ? AND (ts > ? OR msgid > ?)"
                " ORDER BY ts, msgid LIMIT 5",
                ("#chat", 1.0, 1.0, "x"),
            ),
        ]:
            plan = yield run_sql(
                store, f"EXPLAIN QUERY PLAN SELECT * FROM history {query}", *args
            )
            text = " ".join(str(row[-1]) for row in plan)
            ranged = "(target=? AND ts" if "ts" in query.split("ORDER")[0] else "("
            self.assertIn(f"USING INDEX history_by_target {ranged}", text)
            self.assertNotIn("TEMP B-TREE", text)

    @inlineCallbacks
    def test_search_index_kept_in_step(self) -> Steps:
        """
        Appends index their batch (the schema has no insert trigger since
        version 3), deletes and expiry remove from the index: FTS5's own
        integrity check agrees with the table.
        """
        items = [*TEN, item("empty", 1010.0, text="", kind="join")]
        store = yield self.with_items(items)
        triggers = yield run_sql(
            store, "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        )
        self.assertEqual(triggers, [("history_fts_delete",)])
        self.assertEqual((yield store.search_history("m05", ["#chat"], 5)), [TEN[5]])
        yield store.delete_history("m05")
        yield store.delete_history("empty")
        yield store.expire_history(1002.0, None)
        self.assertEqual((yield store.search_history("m05", ["#chat"], 5)), [])
        self.assertEqual((yield store.search_history("m01", ["#chat"], 5)), [])
        self.assertEqual((yield store.search_history("m07", ["#chat"], 5)), [TEN[7]])
        yield run_sql(
            store, "INSERT INTO history_fts (history_fts) VALUES ('integrity-check')"
        )

    @inlineCallbacks
    def test_search_index_knows_each_conversation(self) -> Steps:
        """
        The index holds each message's conversation (schema 4), so that a
        search reads no row of a conversation it does not look in.
        """
        cafe = [item(f"c{i}", 2000.0 + i, target="#café") for i in range(3)]
        store = yield self.with_items([*TEN, *cafe])
        ids = yield run_sql(
            store, "SELECT id FROM history WHERE target = '#café' ORDER BY id"
        )

        def matching(target: str) -> Deferred[list[tuple[int]]]:
            return run_sql(
                store,
                "SELECT rowid FROM history_fts WHERE history_fts MATCH ?"
                " ORDER BY rowid",
                f'text : ("text") AND scope : ("{scope_token(target)}")',
            )

        self.assertEqual((yield matching("#café")), ids)
        self.assertEqual(len((yield matching("#chat"))), 10)
        self.assertEqual((yield matching("#nowhere")), [])
        self.assertEqual(
            (yield store.search_history("text", ["#café"], 10)), cafe[::-1]
        )
        self.assertEqual(
            len((yield store.search_history("text", ["#café", "#chat"], 20))), 13
        )


class PostgreSQLHistoryTests(PostgreSQLEngine, ChunkedExpiryTests, TestCase):
    kind = "postgresql"

    @inlineCallbacks
    def test_queries_use_the_indexes(self) -> Steps:
        store = yield self.with_items(TEN)

        def plan(cursor: Any, query: str, args: tuple[Any, ...]) -> str:
            # The tables are tiny: make the planner show what it can use.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(store._q(f"EXPLAIN SELECT * FROM history {query}"), args)
            return "\n".join(row[0] for row in cursor.fetchall())

        latest = yield store._run(
            "explain",
            plan,
            "WHERE target = ? AND ts <= ? AND (ts < ? OR msgid < ?)"
            " ORDER BY ts DESC, msgid DESC LIMIT 5",
            ("#chat", 1.0, 1.0, "x"),
        )
        self.assertIn("Index Scan Backward using history_by_target", latest)
        self.assertNotIn("Sort", latest)
        search = yield store._run(
            "explain",
            plan,
            "WHERE to_tsvector('simple', text) @@ plainto_tsquery('simple', ?)",
            ("cats",),
        )
        self.assertIn("history_text", search)


class UpgradeToHistoryTests(CaseBase):
    """A version-1 database, with accounts, upgraded to the history schema."""

    def new_store(self, schema_dir: Path = SCHEMA_DIR) -> Store:
        raise NotImplementedError

    @inlineCallbacks
    def test_upgrade_from_version_1_keeps_the_accounts(self) -> Steps:
        version_1 = Path(self.mktemp())
        version_1.mkdir()
        shutil.copy(SCHEMA_DIR / "1.sql", version_1 / "1.sql")
        store = self.new_store(version_1)
        yield store.open()
        self.assertEqual((yield store.schema_version()), 1)
        accounts = [account("Alice"), account("bob", email="bob@example.org")]
        for a in accounts:
            yield store.create_account(a)
        yield store.close()

        store = self.new_store()
        yield store.open()
        self.addCleanup(store.close)
        self.assertEqual((yield store.schema_version()), latest_version())
        self.assertGreaterEqual(latest_version(), 2)
        self.assertEqual((yield store.load_accounts()), accounts)
        yield store.append_history(TEN)
        self.assertEqual((yield store.history_latest("#chat", 2)), TEN[-2:])
        self.assertEqual((yield store.search_history("m03", ["#chat"], 5)), [TEN[3]])


class SQLiteUpgradeToHistoryTests(SQLiteEngine, UpgradeToHistoryTests, TestCase):
    @inlineCallbacks
    def test_upgrade_from_version_2_keeps_search(self) -> Steps:
        """
        Items indexed by version 2's trigger are found, and deleted from
        the index, after the upgrade, as are the ones appended after it.
        """
        version_2 = Path(self.mktemp())
        version_2.mkdir()
        for name in ("1.sql", "2.sqlite.sql", "2.postgresql.sql"):
            shutil.copy(SCHEMA_DIR / name, version_2 / name)
        store = self.new_store(version_2)
        yield store.open()
        self.assertEqual((yield store.schema_version()), 2)
        # As version 2's code wrote them (its msgid was unique on its own).
        for old in TEN[:5]:
            yield run_sql(
                store,
                "INSERT INTO history (msgid, target, ts, kind, nick, username,"
                " host, account, recipient, text, tags, extra)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                *old,
            )
        yield store.close()

        store = self.new_store()
        yield store.open()
        self.addCleanup(store.close)
        self.assertGreaterEqual((yield store.schema_version()), 3)
        yield store.append_history(TEN[5:])
        self.assertEqual((yield store.search_history("m02", ["#chat"], 5)), [TEN[2]])
        self.assertEqual((yield store.search_history("m07", ["#chat"], 5)), [TEN[7]])
        self.assertEqual(
            len((yield store.search_history("text of", ["#chat"], 50))), 10
        )
        yield store.delete_history("m02", "#chat")
        self.assertEqual((yield store.search_history("m02", ["#chat"], 5)), [])
        # The rebuilt table keeps one msgid per target, and the old rows.
        self.assertEqual((yield store.history_item("m01", "#chat")), TEN[1])
        yield store.append_history([TEN[1]._replace(target="#elsewhere")])
        yield self.assertFailure(store.append_history([TEN[1]]), DuplicateMessage)
        yield run_sql(
            store, "INSERT INTO history_fts (history_fts) VALUES ('integrity-check')"
        )

    @inlineCallbacks
    def test_upgrade_to_version_5_mends_a_damaged_index(self) -> Steps:
        """
        A file whose search index lost count by version 4's trigger (an
        event deleted from the index it was never in) is repaired by the
        upgrade: the deletes that failed now work.
        """
        version_4 = Path(self.mktemp())
        version_4.mkdir()
        for path in SCHEMA_DIR.glob("*.sql"):
            if int(path.name.split(".")[0]) <= 4:
                shutil.copy(path, version_4 / path.name)
        store = self.new_store(version_4)
        yield store.open()
        self.assertEqual((yield store.schema_version()), 4)
        event = item("j1", 999.0, kind="join")._replace(text="")
        yield store.append_history([event, *TEN[:4]])
        yield store.delete_history("j1", "#chat")
        # the damage: the index counts one message fewer than it holds, so
        # deleting the last one fails
        for gone in ("m00", "m01", "m02"):
            self.assertTrue((yield store.delete_history(gone, "#chat")))
        failed = yield self.assertFailure(
            store.delete_history("m03", "#chat"), StoreError
        )
        self.assertIn("malformed", str(failed))
        yield store.close()

        store = self.new_store()
        yield store.open()
        self.addCleanup(store.close)
        self.assertEqual((yield store.schema_version()), latest_version())
        found = yield store.search_history("text of", ["#chat"], 5)
        self.assertEqual(found, [TEN[3]])
        self.assertTrue((yield store.delete_history("m03", "#chat")))
        self.assertEqual((yield store.search_history("text of", ["#chat"], 5)), [])
        yield store.append_history(TEN[5:7])
        found = yield store.search_history("text of", ["#chat"], 5)
        self.assertEqual(msgids(found), ["m06", "m05"])
        yield run_sql(
            store, "INSERT INTO history_fts (history_fts) VALUES ('integrity-check')"
        )


class PostgreSQLUpgradeToHistoryTests(
    PostgreSQLEngine, UpgradeToHistoryTests, TestCase
):
    pass


class SharedPartsTests(SynchronousTestCase):
    def test_words(self) -> None:
        self.assertEqual(
            words("Don't -PANIC- x_y, don't! École 42 ☕"),
            ["don", "t", "panic", "x", "y", "école", "42"],
        )
        self.assertEqual(words(' "*- '), [])

    def test_fts5_query_quotes_every_word(self) -> None:
        self.assertEqual(fts5_query(["or", 'a"b']), '"or" "a""b"')

    def test_around(self) -> None:
        before, after = [1, 2, 3, 4], [5, 6, 7, 8]
        self.assertEqual(around(before, after, 4), [3, 4, 5, 6])
        self.assertEqual(around(before, after, 3), [4, 5, 6])
        self.assertEqual(around([1], after, 4), [1, 5, 6, 7])
        self.assertEqual(around(before, [5], 4), [2, 3, 4, 5])
        self.assertEqual(around(before, after, 0), [])
        self.assertEqual(around([], [], 5), [])

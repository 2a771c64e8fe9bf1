"""
The store's contract: one set of tests, run against every engine.

Each engine's TestCase mixes L{ContractTests} with an engine from
L{tests.store.engines}, which gives every test a database of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Generator
from typing import Any

from twisted.internet.defer import Deferred, gatherResults, inlineCallbacks
from twisted.internet.threads import deferToThread
from twisted.trial.unittest import TestCase

from chatd.store import (
    AccessRecord,
    AccountExists,
    AccountRecord,
    ChannelRecord,
    HistoryItem,
    ListRecord,
    NoSuchAccount,
    NoSuchChannel,
    Store,
    StoreError,
)
from chatd.store.schema import latest_version

from .engines import CaseBase, MemoryEngine, PostgreSQLEngine, SQLiteEngine, run_sql

Steps = Generator["Deferred[Any]", Any, Any]


def account(name: str, **fields: Any) -> AccountRecord:
    """An account whose fields all say whose they are."""
    values: dict[str, Any] = {
        "name": name,
        "folded": name.casefold(),
        "password_hash": f"$scrypt$ln=14,r=8,p=1$c2FsdC17bmFtZX0=${name}-key",
        "scram": f"scram-sha-256:4096:{name}-salt:{name}-stored:{name}-server",
        "created_at": 1733412345.125,
        "email": None,
    }
    values.update(fields)
    return AccountRecord(**values)


#: Every field set, none at its default, in an order no sort gives back.
FULL_CHANNEL = ChannelRecord(
    name="#Çhätd☕",
    folded="#çhätd☕",
    founder="ålice",
    registered_at=1733412345.987654,
    topic="Wëlcome 𝄞 to the caf\u00e9; 'quotes' \"and\" back\\slash -- ?",
    topic_by="Ålice!alice@host.example",
    topic_at=1733412399.5,
    flags="imnst",
    mode_key="sëcret key",
    limit=42,
    history="since-join",
    lists=(
        ListRecord("b", "*!*@spam.example", "Ålice", 1733412400.25),
        ListRecord("I", "$a:bøb", "ålice", 1733412401.0),
        ListRecord("b", "$a:mallory", "carol", 1733412300.0),
        ListRecord("e", "good!*@spam.example", "Ålice", 1733412402.0),
        ListRecord("b", "a!*@*", "Ålice", 1733412403.0),
    ),
    access=(
        AccessRecord("zed", "v"),
        AccessRecord("bøb", "o"),
        AccessRecord("amy", "v"),
    ),
)

#: Every field that can be left out, left out.
BARE_CHANNEL = ChannelRecord(
    name="#Bare", folded="#bare", founder="bob", registered_at=5.0
)


class ContractTests(CaseBase):
    """What every engine must do; mixed with an engine and a TestCase."""

    kind: str

    def new_store(self) -> Store:
        """A store object on this test's database, not yet opened."""
        raise NotImplementedError

    @inlineCallbacks
    def opened(self) -> Steps:
        store = self.new_store()
        yield store.open()
        self.addCleanup(store.close)
        return store

    @inlineCallbacks
    def reopened(self, store: Store) -> Steps:
        """Close C{store} and open the database again."""
        yield store.close()
        again = yield self.opened()
        return again

    # Opening and closing.

    @inlineCallbacks
    def test_new_database(self) -> Steps:
        store = yield self.opened()
        self.assertEqual(store.kind, self.kind)
        version = yield store.schema_version()
        self.assertEqual(version, latest_version())
        self.assertEqual((yield store.load_accounts()), [])
        self.assertEqual((yield store.load_channels()), [])

    @inlineCallbacks
    def test_not_open(self) -> Steps:
        store = self.new_store()
        calls = [
            store.schema_version(),
            store.load_accounts(),
            store.create_account(account("Alice")),
            store.update_account(account("Alice")),
            store.delete_account("alice"),
            store.load_channels(),
            store.save_channel(BARE_CHANNEL),
            store.delete_channel("#bare"),
        ]
        for call in calls:
            failure = self.failureResultOf(call, StoreError)
            self.assertIn("not open", str(failure.value))
        # Nor after close: and what was called before close still landed.
        store = yield self.opened()
        created = store.create_account(account("Alice"))
        yield store.close()
        self.assertIsNone(self.successResultOf(created))
        self.failureResultOf(store.load_accounts(), StoreError)
        again = yield self.opened()
        self.assertEqual((yield again.load_accounts()), [account("Alice")])

    @inlineCallbacks
    def test_open_twice(self) -> Steps:
        store = yield self.opened()
        yield self.assertFailure(store.open(), StoreError)
        self.assertEqual((yield store.load_accounts()), [])

    @inlineCallbacks
    def test_reopen_keeps_everything(self) -> Steps:
        store = yield self.opened()
        # In folded order, by code point: "bob" before "ålice".
        accounts = [account("bob"), account("Ålice", email="alice@example.org")]
        for a in reversed(accounts):
            yield store.create_account(a)
        yield store.save_channel(FULL_CHANNEL)
        yield store.save_channel(BARE_CHANNEL)
        store = yield self.reopened(store)
        self.assertEqual((yield store.load_accounts()), accounts)
        self.assertEqual((yield store.load_channels()), [BARE_CHANNEL, FULL_CHANNEL])
        self.assertEqual((yield store.schema_version()), latest_version())

    # Accounts.

    @inlineCallbacks
    def test_create_and_load_accounts(self) -> Steps:
        store = yield self.opened()
        carol = account("Carol", email="cärol@example.org")
        alice = account("alice", created_at=1.0)
        bob = account("BOB", password_hash="", scram="")
        for a in (carol, alice, bob):
            yield store.create_account(a)
        # In folded order, whatever the order of creation.
        self.assertEqual((yield store.load_accounts()), [alice, bob, carol])

    @inlineCallbacks
    def test_account_exists_by_folded_name(self) -> Steps:
        store = yield self.opened()
        alice = account("Alice")
        yield store.create_account(alice)
        impostor = account("ALICE", password_hash="other", email="x@example.org")
        self.assertEqual(impostor.folded, alice.folded)
        failure = yield self.assertFailure(
            store.create_account(impostor), AccountExists
        )
        self.assertIn("'alice'", str(failure))
        self.assertEqual((yield store.load_accounts()), [alice])
        # The store still works after the refused write.
        yield store.create_account(account("Bob"))
        self.assertEqual((yield store.load_accounts()), [alice, account("Bob")])

    @inlineCallbacks
    def test_update_account_replaces_every_field(self) -> Steps:
        store = yield self.opened()
        yield store.create_account(account("alice"))
        yield store.create_account(account("bob"))
        changed = AccountRecord(
            name="ÅLICE",
            folded="alice",
            password_hash="$scrypt$ln=15,r=8,p=1$bmV3$bmV3LWtleQ==",
            scram="new scram",
            created_at=99.75,
            email="alice@example.org",
        )
        yield store.update_account(changed)
        self.assertEqual((yield store.load_accounts()), [changed, account("bob")])
        # And back to no email: None, not "".
        yield store.update_account(account("alice"))
        self.assertEqual(
            (yield store.load_accounts()), [account("alice"), account("bob")]
        )

    @inlineCallbacks
    def test_no_such_account(self) -> Steps:
        store = yield self.opened()
        yield store.create_account(account("bob"))
        failure = yield self.assertFailure(
            store.update_account(account("alice")), NoSuchAccount
        )
        self.assertIn("'alice'", str(failure))
        yield self.assertFailure(store.delete_account("alice"), NoSuchAccount)
        self.assertEqual((yield store.load_accounts()), [account("bob")])

    @inlineCallbacks
    def test_delete_account(self) -> Steps:
        store = yield self.opened()
        for name in ("alice", "bob", "carol"):
            yield store.create_account(account(name))
        yield store.delete_account("bob")
        self.assertEqual(
            (yield store.load_accounts()), [account("alice"), account("carol")]
        )
        yield self.assertFailure(store.delete_account("bob"), NoSuchAccount)
        # The name is free again.
        yield store.create_account(account("Bob", email="new@example.org"))
        self.assertEqual(
            [a.name for a in (yield store.load_accounts())], ["alice", "Bob", "carol"]
        )

    # Channels.

    @inlineCallbacks
    def test_whole_channel_round_trips(self) -> Steps:
        store = yield self.opened()
        yield store.save_channel(FULL_CHANNEL)
        yield store.save_channel(BARE_CHANNEL)
        loaded = yield store.load_channels()
        self.assertEqual(loaded, [BARE_CHANNEL, FULL_CHANNEL])
        bare = loaded[0]
        self.assertIsNone(bare.mode_key)
        self.assertIsNone(bare.limit)
        self.assertIsNone(bare.history)
        self.assertEqual(loaded[1].history, "since-join")
        self.assertEqual((bare.lists, bare.access), ((), ()))
        self.assertIsInstance(loaded[1].lists, tuple)
        self.assertIsInstance(loaded[1].access, tuple)

    @inlineCallbacks
    def test_save_channel_replaces_the_whole_record(self) -> Steps:
        store = yield self.opened()
        yield store.save_channel(FULL_CHANNEL)
        yield store.save_channel(BARE_CHANNEL)
        smaller = ChannelRecord(
            name="#ÇHÄTD☕",
            folded=FULL_CHANNEL.folded,
            founder="bøb",
            registered_at=7.0,
            lists=(ListRecord("e", "x!*@*", "bøb", 8.0),),
            access=(AccessRecord("ålice", "v"),),
        )
        yield store.save_channel(smaller)
        self.assertEqual((yield store.load_channels()), [BARE_CHANNEL, smaller])
        emptied = ChannelRecord(
            name=FULL_CHANNEL.name,
            folded=FULL_CHANNEL.folded,
            founder="bøb",
            registered_at=7.0,
        )
        yield store.save_channel(emptied)
        self.assertEqual((yield store.load_channels()), [BARE_CHANNEL, emptied])

    @inlineCallbacks
    def test_delete_channel(self) -> Steps:
        store = yield self.opened()
        yield store.save_channel(FULL_CHANNEL)
        yield store.save_channel(BARE_CHANNEL)
        yield store.delete_channel(FULL_CHANNEL.folded)
        self.assertEqual((yield store.load_channels()), [BARE_CHANNEL])
        failure = yield self.assertFailure(
            store.delete_channel(FULL_CHANNEL.folded), NoSuchChannel
        )
        self.assertIn(repr(FULL_CHANNEL.folded), str(failure))
        # Registered again, it comes back with only what it is saved with.
        yield store.save_channel(FULL_CHANNEL)
        self.assertEqual((yield store.load_channels()), [BARE_CHANNEL, FULL_CHANNEL])

    # Order.

    @inlineCallbacks
    def test_writes_called_without_waiting_apply_in_order(self) -> Steps:
        store = yield self.opened()
        versions = [
            ChannelRecord(
                name="#Race",
                folded="#race",
                founder=f"founder{i}",
                registered_at=float(i),
                topic=f"topic {i}",
                lists=tuple(
                    ListRecord("b", f"ban{i}.{j}!*@*", "x", float(j))
                    for j in range(i % 4)
                ),
                access=tuple(AccessRecord(f"op{i}.{j}", "o") for j in range(i % 3)),
            )
            for i in range(50)
        ]
        fired: list[int] = []
        calls = []
        for i, version in enumerate(versions):
            d = store.save_channel(version)
            d.addCallback(lambda _, i=i: fired.append(i))
            calls.append(d)
        # Accounts too: created, dropped and created again, without waiting.
        calls.append(store.create_account(account("Alice")))
        calls.append(store.delete_account("alice"))
        calls.append(store.create_account(account("ALICE", email="second@example.org")))
        yield gatherResults(calls)
        self.assertEqual(fired, list(range(50)))
        self.assertEqual((yield store.load_channels()), [versions[-1]])
        self.assertEqual(
            (yield store.load_accounts()),
            [account("ALICE", email="second@example.org")],
        )

    @inlineCallbacks
    def test_close_waits_for_writes(self) -> Steps:
        store = yield self.opened()
        writes = [store.create_account(account(f"user{i}")) for i in range(20)]
        writes.append(store.save_channel(FULL_CHANNEL))
        yield store.close()
        for write in writes:
            self.assertIsNone(self.successResultOf(write))
        again = yield self.opened()
        self.assertEqual(len((yield again.load_accounts())), 20)
        self.assertEqual((yield again.load_channels()), [FULL_CHANNEL])


class SQLContractTests(ContractTests):
    """What the SQL engines must do besides: their tables, and their errors."""

    @inlineCallbacks
    def test_deleting_a_channel_deletes_its_lists_and_access(self) -> Steps:
        store = yield self.opened()
        yield store.save_channel(FULL_CHANNEL)
        yield store.save_channel(BARE_CHANNEL)
        count = "SELECT COUNT(*) FROM {}"
        self.assertEqual((yield run_sql(store, count.format("channel_lists"))), [(5,)])
        self.assertEqual((yield run_sql(store, count.format("channel_access"))), [(3,)])
        yield store.delete_channel(FULL_CHANNEL.folded)
        for table in ("channel_lists", "channel_access"):
            self.assertEqual((yield run_sql(store, count.format(table))), [(0,)])

    @inlineCallbacks
    def test_refused_until_opened(self) -> Steps:
        # Were it queued behind a failing open, it would never fire.
        store = self.new_store()
        opening = store.open()
        self.addCleanup(store.close)
        early = store.load_accounts()
        self.assertIn("not open", str(self.failureResultOf(early, StoreError).value))
        yield opening
        self.assertEqual((yield store.load_accounts()), [])

    @inlineCallbacks
    def test_a_database_error_is_a_store_error(self) -> Steps:
        store = yield self.opened()
        # The schema refuses a NULL scram; the driver's error comes wrapped.
        broken = account("Alice", scram=None)
        failure = yield self.assertFailure(store.create_account(broken), StoreError)
        self.assertIs(type(failure), StoreError)
        self.assertIn(
            f"cannot create an account in the {self.kind} database", str(failure)
        )
        self.assertIsNotNone(failure.__cause__)
        # The transaction was rolled back and the connection still works.
        yield store.create_account(account("Alice"))
        self.assertEqual((yield store.load_accounts()), [account("Alice")])


class MemoryContractTests(MemoryEngine, ContractTests, TestCase):
    kind = "memory"


class SQLiteContractTests(SQLiteEngine, SQLContractTests, TestCase):
    kind = "sqlite"

    @inlineCallbacks
    def test_wal_and_full_sync(self) -> Steps:
        store = yield self.opened()
        self.assertEqual((yield run_sql(store, "PRAGMA journal_mode")), [("wal",)])
        # 2 is FULL: NORMAL (1) in WAL mode may lose acknowledged commits.
        self.assertEqual((yield run_sql(store, "PRAGMA synchronous")), [(2,)])
        self.assertEqual((yield run_sql(store, "PRAGMA foreign_keys")), [(1,)])

    @inlineCallbacks
    def test_history_reads_do_not_wait_for_writes(self) -> Steps:
        """
        A history read runs while a write transaction is under way (it sees
        what was committed before), not after it.
        """
        store = yield self.opened()
        first = HistoryItem(
            "m1", "#chat", 1.0, "message", "a", "u", "h", None, "#chat", "one"
        )
        yield store.append_history([first])
        release = threading.Event()
        started = threading.Event()

        def hold(cursor: Any) -> bool:
            # In the writer's thread, inside a write transaction.
            cursor.execute(
                "INSERT INTO history (msgid, target, ts, kind, nick, username,"
                " host, recipient, text, tags, extra)"
                " VALUES ('m2', '#chat', 2.0, 'message', 'a', 'u', 'h', '#chat',"
                " 'two', '', '')"
            )
            started.set()
            # Released by the read below; a read queued behind this write
            # would time out here.
            return release.wait(30)

        writing = store._run("hold the writer", hold)  # type: ignore[attr-defined]
        yield deferToThread(started.wait, 30)
        latest = yield store.history_latest("#chat", 10)
        release.set()
        self.assertEqual(latest, [first])
        self.assertTrue((yield writing))
        self.assertEqual(len((yield store.history_latest("#chat", 10))), 2)


class PostgreSQLContractTests(PostgreSQLEngine, SQLContractTests, TestCase):
    kind = "postgresql"

    @inlineCallbacks
    def test_commits_are_synchronous(self) -> Steps:
        store = yield self.opened()
        self.assertEqual((yield run_sql(store, "SHOW synchronous_commit")), [("on",)])

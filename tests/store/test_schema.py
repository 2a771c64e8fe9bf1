"""
The versioned schema: step files, creating a database, upgrading an older
one and refusing a newer one, on each SQL engine.
"""

from __future__ import annotations

import shutil
from collections.abc import Generator
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatd.store import MemoryStore, SchemaTooNew, Store, StoreError
from chatd.store.schema import (
    DIALECTS,
    SCHEMA_DIR,
    latest_version,
    load_steps,
    split_statements,
)

from .engines import CaseBase, PostgreSQLEngine, SQLiteEngine, run_sql
from .test_contract import account

Steps = Generator["Deferred[Any]", Any, Any]

#: A second version, as a later chatd would bring: a column and a table.
STEP_2 = """\
-- version 2: a note on accounts, and somewhere to keep messages
ALTER TABLE accounts ADD COLUMN note TEXT;
CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL, -- a channel or an account
    body TEXT NOT NULL
);
"""


def step_dir(case: SynchronousTestCase, *steps: tuple[str, str]) -> Path:
    """A directory with the shipped C{1.sql} and C{steps} (name, text)."""
    directory = Path(case.mktemp())
    directory.mkdir(parents=True)
    shutil.copy(SCHEMA_DIR / "1.sql", directory / "1.sql")
    for name, text in steps:
        (directory / name).write_text(text, "utf-8")
    return directory


def newer_dir(case: SynchronousTestCase) -> Path:
    """The shipped steps and one more: a database of a later chatd."""
    directory = Path(case.mktemp())
    shutil.copytree(SCHEMA_DIR, directory)
    later = latest_version() + 1
    (directory / f"{later}.sql").write_text("CREATE TABLE later (x TEXT);\n", "utf-8")
    return directory


class StepFileTests(SynchronousTestCase):
    def test_split_statements(self) -> None:
        text = (
            "-- a comment; with a semicolon\n"
            "CREATE TABLE a (x TEXT);\n"
            "\n"
            "  CREATE TABLE b (\n"
            "      y TEXT DEFAULT 'a;b'\n"
            "  );\n"
            "INSERT INTO a VALUES ('x; y'),\n"
            "  ('--');\n"
        )
        self.assertEqual(
            split_statements(text, "t.sql"),
            (
                "CREATE TABLE a (x TEXT)",
                "CREATE TABLE b (\n      y TEXT DEFAULT 'a;b'\n  )",
                "INSERT INTO a VALUES ('x; y'),\n  ('--')",
            ),
        )

    def test_unterminated_statement(self) -> None:
        with self.assertRaises(StoreError) as caught:
            split_statements(
                "CREATE TABLE a (x TEXT);\nCREATE TABLE b (y TEXT)\n", "t.sql"
            )
        self.assertIn("t.sql", str(caught.exception))

    def test_a_dialect_file_wins_over_the_shared_one(self) -> None:
        directory = step_dir(
            self,
            ("2.sql", "CREATE TABLE shared (x TEXT);\n"),
            ("2.postgresql.sql", "CREATE TABLE pg (x BIGSERIAL);\n"),
            ("3.sqlite.sql", "CREATE TABLE lite3 (x TEXT);\n"),
            ("3.postgresql.sql", "CREATE TABLE pg3 (x TEXT);\n"),
            ("README", "not a step"),
        )
        sqlite = load_steps(directory, "sqlite")
        postgresql = load_steps(directory, "postgresql")
        self.assertEqual([s.version for s in sqlite], [1, 2, 3])
        self.assertEqual(
            [s.path.name for s in sqlite], ["1.sql", "2.sql", "3.sqlite.sql"]
        )
        self.assertEqual(
            [s.path.name for s in postgresql],
            ["1.sql", "2.postgresql.sql", "3.postgresql.sql"],
        )
        self.assertEqual(postgresql[1].statements, ("CREATE TABLE pg (x BIGSERIAL)",))

    def test_a_missing_version(self) -> None:
        directory = step_dir(self, ("3.sql", "CREATE TABLE c (x TEXT);\n"))
        with self.assertRaises(StoreError) as caught:
            load_steps(directory, "sqlite")
        self.assertIn("no schema step for version 2", str(caught.exception))
        # A step for the other dialect only leaves a gap in this one.
        directory = step_dir(self, ("2.postgresql.sql", "CREATE TABLE c (x TEXT);\n"))
        self.assertEqual(len(load_steps(directory, "postgresql")), 2)
        with self.assertRaises(StoreError) as caught:
            load_steps(directory, "sqlite")
        self.assertIn("no schema step for version 2 in sqlite", str(caught.exception))

    def test_a_badly_named_step(self) -> None:
        for name in ("02.sql", "two.sql", "2.mysql.sql", "2-accounts.sql"):
            directory = step_dir(self, (name, "CREATE TABLE c (x TEXT);\n"))
            with self.assertRaises(StoreError) as caught:
                load_steps(directory, "sqlite")
            self.assertIn(name, str(caught.exception))

    def test_shipped_steps(self) -> None:
        latest = latest_version()
        self.assertGreaterEqual(latest, 1)
        for dialect in DIALECTS:
            steps = load_steps(SCHEMA_DIR, dialect)
            self.assertEqual([s.version for s in steps], list(range(1, latest + 1)))
            for step in steps:
                self.assertTrue(step.statements, step.path)
                # pg8000 would read a % as a parameter marker.
                self.assertNotIn("%", step.path.read_text("utf-8"), step.path)

    def test_memory_store_is_at_the_latest_version(self) -> None:
        store = MemoryStore(step_dir(self, ("2.sql", STEP_2)))
        self.successResultOf(store.open())
        self.assertEqual(self.successResultOf(store.schema_version()), 2)


class UpgradeTests(CaseBase):
    """Upgrading and refusing, on each SQL engine."""

    def new_store(self, schema_dir: Path = SCHEMA_DIR) -> Store:
        raise NotImplementedError

    @inlineCallbacks
    def opened(self, schema_dir: Path = SCHEMA_DIR) -> Steps:
        store = self.new_store(schema_dir)
        yield store.open()
        self.addCleanup(store.close)
        return store

    @inlineCallbacks
    def test_creating_is_logged(self) -> Steps:
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        store = yield self.opened()
        created = [e for e in events if "created" in e["log_format"]]
        self.assertEqual(len(created), 1)
        self.assertEqual(created[0]["version"], latest_version())
        self.assertIn(store.where, created[0]["database"])
        # Opening it again changes and logs nothing.
        yield store.close()
        yield self.opened()
        self.assertEqual(len(events), 1)

    @inlineCallbacks
    def test_upgrade_from_version_1(self) -> Steps:
        directory = step_dir(self)
        store = yield self.opened(directory)
        self.assertEqual((yield store.schema_version()), 1)
        yield store.create_account(account("Alice"))
        yield store.close()

        (directory / "2.sql").write_text(STEP_2, "utf-8")
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        store = yield self.opened(directory)
        self.assertEqual((yield store.schema_version()), 2)
        [event] = events
        self.assertEqual((event["before"], event["after"]), (1, 2))
        self.assertIn("upgraded", event["log_format"])
        # What version 1 held is still there, and version 2's changes are in.
        self.assertEqual((yield store.load_accounts()), [account("Alice")])
        self.assertEqual(
            (yield run_sql(store, "SELECT name, note FROM accounts")), [("Alice", None)]
        )
        self.assertEqual(
            (yield run_sql(store, "SELECT COUNT(*) FROM messages")), [(0,)]
        )

    @inlineCallbacks
    def test_a_failed_step_changes_nothing(self) -> Steps:
        directory = step_dir(self, ("2.sql", STEP_2))
        store = yield self.opened(directory)
        yield store.close()
        (directory / "3.sql").write_text(
            "CREATE TABLE half (x TEXT);\nALTER TABLE nowhere ADD COLUMN y TEXT;\n",
            "utf-8",
        )
        failure = yield self.assertFailure(self.new_store(directory).open(), StoreError)
        self.assertIn(str(directory / "3.sql"), str(failure))
        # The step was one transaction: its first table is not there either.
        (directory / "3.sql").unlink()
        store = yield self.opened(directory)
        self.assertEqual((yield store.schema_version()), 2)
        found = yield self.assertFailure(
            run_sql(store, "SELECT COUNT(*) FROM half"), StoreError
        )
        self.assertIn("half", str(found))

    @inlineCallbacks
    def test_a_newer_database_is_refused(self) -> Steps:
        store = yield self.opened(newer_dir(self))
        yield store.create_account(account("Alice"))
        yield store.close()
        newer = self.new_store()
        failure = yield self.assertFailure(newer.open(), SchemaTooNew)
        later = latest_version() + 1
        self.assertEqual(
            str(failure),
            f"database at {newer.where} has schema version {later}; "  # type: ignore[attr-defined]
            f"this chatd knows up to {latest_version()}: upgrade chatd",
        )
        # Refused, it is not open, and the database is as it was.
        self.failureResultOf(newer.load_accounts(), StoreError)
        store = yield self.opened(newer_dir(self))
        self.assertEqual((yield store.schema_version()), later)
        self.assertEqual((yield store.load_accounts()), [account("Alice")])


class SQLiteUpgradeTests(SQLiteEngine, UpgradeTests, TestCase):
    pass


class PostgreSQLUpgradeTests(PostgreSQLEngine, UpgradeTests, TestCase):
    pass

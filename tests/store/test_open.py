"""
open_store: which engine a URL names, the URLs it refuses, and the
databases that cannot be opened.
"""

from __future__ import annotations

import getpass
import socket
import stat
from collections.abc import Generator
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import SkipTest, SynchronousTestCase, TestCase

from chatd.store import (
    MemoryStore,
    PostgreSQLStore,
    SQLiteStore,
    StoreError,
    StoreUnavailable,
    open_store,
)
from chatd.store.postgresql import PostgreSQLAddress, parse_url, redact

from .engines import HOST, PORT, PostgreSQLEngine, postgresql_missing
from .test_contract import account

Steps = Generator["Deferred[Any]", Any, Any]


class URLTests(SynchronousTestCase):
    def test_sqlite_default(self) -> None:
        store = open_store("sqlite", "/var/lib/chatd")
        assert isinstance(store, SQLiteStore)
        self.assertEqual(store.path, "/var/lib/chatd/chatd.sqlite3")
        self.assertEqual(store.kind, "sqlite")

    def test_sqlite_paths(self) -> None:
        absolute = open_store("sqlite:///srv/chat/db.sqlite3", "/var/lib/chatd")
        assert isinstance(absolute, SQLiteStore)
        self.assertEqual(absolute.path, "/srv/chat/db.sqlite3")
        relative = open_store("sqlite:data/db.sqlite3", "/var/lib/chatd")
        assert isinstance(relative, SQLiteStore)
        self.assertEqual(relative.path, "/var/lib/chatd/data/db.sqlite3")

    def test_postgresql(self) -> None:
        for scheme in ("postgresql", "postgres"):
            store = open_store(
                f"{scheme}://chat%20d:p%40ss:w@db.example:6543/chat", "/x"
            )
            assert isinstance(store, PostgreSQLStore)
            self.assertEqual(store.kind, "postgresql")
            self.assertEqual(
                store.address,
                PostgreSQLAddress("db.example", 6543, "chat", "chat d", "p@ss:w"),
            )
            self.assertEqual(
                store.where, "postgresql://chat%20d:***@db.example:6543/chat"
            )

    def test_postgresql_defaults(self) -> None:
        # As with libpq: the OS user, port 5432, the database named after the user.
        user = getpass.getuser()
        self.assertEqual(
            parse_url("postgresql://db.example"),
            PostgreSQLAddress("db.example", 5432, user, user),
        )
        self.assertEqual(
            parse_url("postgres://[::1]/chat?sslmode=verify-full"),
            PostgreSQLAddress("::1", 5432, "chat", user, sslmode="verify-full"),
        )
        self.assertEqual(
            str(parse_url("postgres://[::1]/chat?sslmode=require")),
            f"postgresql://{user}@[::1]:5432/chat?sslmode=require",
        )

    def test_ssl_modes(self) -> None:
        self.assertIsNone(parse_url("postgresql://h/d").ssl_context())
        required = parse_url("postgresql://h/d?sslmode=require").ssl_context()
        verified = parse_url("postgresql://h/d?sslmode=verify-full").ssl_context()
        assert required is not None and verified is not None
        self.assertFalse(required.check_hostname)
        self.assertTrue(verified.check_hostname)

    def test_memory(self) -> None:
        for url in ("memory:", "memory"):
            store = open_store(url, "/x")
            self.assertIsInstance(store, MemoryStore)
            self.assertEqual(store.kind, "memory")

    def test_bad_urls(self) -> None:
        for url in (
            "",
            "sqlite3",
            "sqlite:",
            "sqlite:/",
            "sqlite:///",
            "sqlite://host/db.sqlite3",
            "mysql://root@localhost/chatd",
            "memory:chatd",
            "redis://localhost",
        ):
            with self.assertRaises(ValueError, msg=url) as caught:
                open_store(url, "/x")
            message = str(caught.exception)
            self.assertIn(repr(url), message)
            for accepted in ("'sqlite'", "sqlite:///", "postgresql://", "memory:"):
                self.assertIn(accepted, message)

    def test_bad_postgresql_urls(self) -> None:
        for url, reason in (
            ("postgresql://", "names no host"),
            ("postgresql:///chatd", "names no host"),
            ("postgresql://u:hunter2@h:99999/d", "out of range"),
            ("postgresql://u:hunter2@h:port/d", "bad PostgreSQL URL"),
            ("postgresql://u:hunter2@h/d?application_name=x", "sslmode"),
            ("postgresql://u:hunter2@h/d?sslmode=prefer", "sslmode"),
            ("postgresql://u:hunter2@h/d/e", "bad database name"),
        ):
            with self.assertRaises(ValueError, msg=url) as caught:
                open_store(url, "/x")
            message = str(caught.exception)
            self.assertIn(reason, message)
            self.assertIn("postgresql://", message)
            self.assertNotIn("hunter2", message)

    def test_redact(self) -> None:
        self.assertEqual(
            redact("postgresql://u:p@ss@h:1/d"), "postgresql://u:***@h:1/d"
        )
        self.assertEqual(redact("postgresql://u@h/d"), "postgresql://u@h/d")
        self.assertEqual(redact("sqlite"), "sqlite")


class UnavailableTests(TestCase):
    @inlineCallbacks
    def test_default_sqlite_makes_the_state_directory(self) -> Steps:
        state = Path(self.mktemp()).resolve() / "state" / "chatd"
        store = open_store("sqlite", str(state))
        self.assertFalse(state.exists())
        yield store.open()
        self.addCleanup(store.close)
        self.assertEqual(stat.S_IMODE(state.stat().st_mode), 0o700)
        self.assertTrue((state / "chatd.sqlite3").is_file())
        yield store.create_account(account("Alice"))
        self.assertEqual((yield store.load_accounts()), [account("Alice")])

    @inlineCallbacks
    def test_unwritable_sqlite_path(self) -> Steps:
        # A path under a plain file: not even root can create it.
        top = Path(self.mktemp()).resolve()
        top.mkdir(parents=True)
        (top / "file").write_text("")
        path = top / "file" / "chatd.sqlite3"
        for store in (
            open_store(f"sqlite://{path}", str(top)),
            open_store("sqlite", str(top / "file" / "state")),
        ):
            failure = yield self.assertFailure(store.open(), StoreUnavailable)
            self.assertIn("cannot open the sqlite database at ", str(failure))
            self.assertIn(str(top / "file"), str(failure))
            self.assertTrue(str(failure).split(": ", 1)[1], failure)
            self.failureResultOf(store.load_accounts(), StoreError)

    @inlineCallbacks
    def test_not_an_sqlite_database(self) -> Steps:
        path = Path(self.mktemp()).resolve()
        path.write_bytes(b"this is not a database\n" * 512)
        failure = yield self.assertFailure(
            open_store(f"sqlite://{path}", "/x").open(), StoreUnavailable
        )
        self.assertIn(str(path), str(failure))
        self.assertIn("not a database", str(failure))

    @inlineCallbacks
    def test_unreachable_postgresql(self) -> Steps:
        # A port bound and not listening refuses connections, and no other
        # process can take it while this test holds it.
        closed = socket.socket()
        self.addCleanup(closed.close)
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        store = open_store(f"postgresql://chatd:hunter2@127.0.0.1:{port}/chatd", "/x")
        failure = yield self.assertFailure(store.open(), StoreUnavailable)
        message = str(failure)
        self.assertTrue(
            message.startswith(
                f"cannot open the postgresql database at "
                f"postgresql://chatd:***@127.0.0.1:{port}/chatd: "
            ),
            message,
        )
        self.assertIn(str(port), message.split(": ", 1)[1])
        self.assertTrue(message.endswith("Connection refused"), message)
        self.assertNotIn("hunter2", message)
        self.failureResultOf(store.load_accounts(), StoreError)


class PostgreSQLUnavailableTests(PostgreSQLEngine, TestCase):
    @inlineCallbacks
    def test_no_such_database(self) -> Steps:
        missing = f"{self.address.database}_missing"
        store = open_store(
            f"postgresql://{self.address.user}@{HOST}:{PORT}/{missing}", "/x"
        )
        failure = yield self.assertFailure(store.open(), StoreUnavailable)
        self.assertIn(f'database "{missing}" does not exist', str(failure))


class PostgreSQLMissingTests(SynchronousTestCase):
    def test_skipped_outside_ci(self) -> None:
        for environ in ({}, {"CI": "false"}):
            missing = postgresql_missing("Connection refused", environ)
            self.assertIsInstance(missing, SkipTest)
            self.assertIn(f"{HOST}:{PORT}", str(missing))
            self.assertIn("Connection refused", str(missing))

    def test_a_failure_in_ci(self) -> None:
        missing = postgresql_missing("Connection refused", {"CI": "true"})
        self.assertNotIsInstance(missing, SkipTest)
        self.assertIsInstance(missing, AssertionError)
        self.assertIn("Connection refused", str(missing))
        self.assertIn("CI=true", str(missing))

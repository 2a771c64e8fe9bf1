# -*- test-case-name: tests.store.test_contract -*-
"""
The engines as tests get them: a fresh database for every test.

PostgreSQL is the one on 127.0.0.1:5432.  Each test gets its own database,
C{chatd_test_<random hex>}, dropped when the test ends.  Where PostgreSQL
cannot be reached its tests skip and say why, except in CI (C{CI=true}),
where a missing PostgreSQL is a failure: CI must run them.
"""

from __future__ import annotations

import getpass
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pg8000.native  # type: ignore[import-untyped]
from twisted.trial.unittest import SkipTest, TestCase

from chatd.store import MemoryStore, PostgreSQLStore, SQLiteStore, Store
from chatd.store.postgresql import PostgreSQLAddress
from chatd.store.schema import SCHEMA_DIR

HOST = "127.0.0.1"
PORT = 5432
#: Who may create databases, and where to connect to create them, in the
#: order tried: the OS user (root here) or postgres; test, or postgres.
USERS = (getpass.getuser(), "postgres")
MAINTENANCE_DATABASES = ("test", "postgres")


if TYPE_CHECKING:
    #: What the mixins below are mixed into, for the type checker.
    CaseBase = TestCase
else:
    CaseBase = object


def postgresql_missing(reason: str, environ: Mapping[str, str]) -> Exception:
    """What a test without PostgreSQL raises: a skip, or in CI a failure."""
    message = f"PostgreSQL on {HOST}:{PORT} cannot be used: {reason}"
    if environ.get("CI") == "true":
        return AssertionError(f"{message} (CI=true: these tests must run in CI)")
    return SkipTest(message)


def _reason(error: Exception) -> str:
    if error.args and isinstance(error.args[0], dict):
        return str(error.args[0].get("M", error.args[0]))
    reason = str(error) or type(error).__name__
    if isinstance(error.__cause__, OSError):
        reason = f"{reason.rstrip('.')}: {error.__cause__.strerror}"
    return reason


class _Maintenance:
    """The user and database to create test databases with, found once."""

    login: tuple[str, str] | None = None
    failure: str | None = None


def _connect_maintenance() -> pg8000.native.Connection:
    if _Maintenance.login is not None:
        user, database = _Maintenance.login
        return pg8000.native.Connection(
            user, host=HOST, port=PORT, database=database, timeout=30
        )
    if _Maintenance.failure is not None:
        raise ConnectionError(_Maintenance.failure)
    reasons = []
    for user in USERS:
        for database in MAINTENANCE_DATABASES:
            try:
                connection = pg8000.native.Connection(
                    user, host=HOST, port=PORT, database=database, timeout=30
                )
            except pg8000.native.DatabaseError as e:
                # The server answered: another user or database may do.
                reasons.append(f"as {user} to {database}: {_reason(e)}")
                continue
            except Exception as e:
                reasons = [_reason(e)]
                break
            _Maintenance.login = (user, database)
            return connection
        else:
            continue
        break
    _Maintenance.failure = "; ".join(reasons)
    raise ConnectionError(_Maintenance.failure)


def scratch_database(case: TestCase) -> PostgreSQLAddress:
    """A new, empty database for C{case}, dropped after it."""
    try:
        connection = _connect_maintenance()
    except Exception as e:
        raise postgresql_missing(str(e), os.environ) from None
    name = f"chatd_test_{secrets.token_hex(8)}"
    try:
        connection.run(f'CREATE DATABASE "{name}"')
    finally:
        connection.close()

    def drop() -> None:
        connection = _connect_maintenance()
        try:
            # FORCE: a test that failed may have left a connection open.
            connection.run(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            connection.close()

    case.addCleanup(drop)
    assert _Maintenance.login is not None
    return PostgreSQLAddress(HOST, PORT, name, _Maintenance.login[0])


class MemoryEngine(CaseBase):
    """One memory store per test: it is its own "reopened" store."""

    kind = "memory"

    def setUp(self) -> None:
        super().setUp()
        self._memory: MemoryStore | None = None

    def new_store(self, schema_dir: Path = SCHEMA_DIR) -> Store:
        if self._memory is None:
            self._memory = MemoryStore(schema_dir)
        return self._memory


class SQLiteEngine(CaseBase):
    """A new SQLite file per test."""

    kind = "sqlite"

    def setUp(self) -> None:
        super().setUp()
        directory = Path(self.mktemp())
        directory.mkdir(parents=True)
        self.path = str(directory / "chatd.sqlite3")

    def new_store(self, schema_dir: Path = SCHEMA_DIR) -> Store:
        return SQLiteStore(self.path, schema_dir=schema_dir)


class PostgreSQLEngine(CaseBase):
    """A new PostgreSQL database per test."""

    kind = "postgresql"

    def setUp(self) -> None:
        super().setUp()
        self.address = scratch_database(self)

    def new_store(self, schema_dir: Path = SCHEMA_DIR) -> Store:
        return PostgreSQLStore(self.address, schema_dir=schema_dir)


def run_sql(store: Any, sql: str, *args: Any) -> Any:
    """
    Run C{sql} in C{store}'s own thread and connection, for tests that look
    at the tables themselves: a Deferred of the rows.
    """

    def query(cursor: Any) -> list[tuple[Any, ...]]:
        cursor.execute(store._q(sql), args)
        return [tuple(row) for row in cursor.fetchall()]

    return store._run("run a test's query", query)

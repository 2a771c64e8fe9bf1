# -*- test-case-name: tests.store.test_contract -*-
"""
The SQLite engine: chatd's default, one file in the state directory.

The file is in WAL mode with C{synchronous=FULL}: WAL lets readers work
while a write commits, and FULL makes every commit sync the log, so an
acknowledged write survives a crash of the machine as well as of chatd
(with NORMAL, WAL mode may lose the last commits on power loss).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from twisted.enterprise import adbapi

from ..log import logger
from .history import fts5_query
from .records import HistoryItem
from .schema import SCHEMA_DIR
from .sql import HISTORY_COLUMNS, HISTORY_NAMES, Cursor, SQLStore

log = logger(__name__)

#: Matches looked at beyond a search's limit, newest stored first, so that
#: its answer is newest first by time even where stored order and time
#: disagree a little (a clock stepped back).
SEARCH_MARGIN = 50

#: Most targets a search names in the index itself (schema 4's scope
#: column).  Each one more is another list for FTS5 to merge, about 0.09 ms
#: each; reading and skipping the words' matches elsewhere costs the same
#: whatever the targets.  On 1 M messages in 1,000 channels, one word in
#: 0.15% of them, 50 results, warm cache (p50 ms, words only / scoped):
#: 20 targets 3.4 / 1.5, 50 targets 3.6 / 4.5, 200 targets 2.8 / 18.6.  On
#: a cold cache the words-only way reads each skipped row from disk, so
#: the scoped way wins by more where it is used.
SCOPED_SEARCH_MAX = 32

#: Connections (and threads) for history reads: in WAL mode they read while
#: the one writer commits, so a page of history is not queued behind a
#: batch of 20,000 items being written.
READERS = 2

#: How long a transaction waits for another process's lock, in milliseconds.
BUSY_TIMEOUT = 10_000


def _has_json() -> bool:
    """Whether this SQLite has its JSON functions (built in since 3.38)."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.execute("SELECT json_group_array(json_array(1, 'a'))")
    except sqlite3.Error:
        return False
    finally:
        connection.close()
    return True


def _real(text: str) -> float | None:
    return None if text == "NULL" else float(text)


def scope_token(target: str) -> str:
    """
    C{target}'s word in the search index (schema 4's C{scope} column, which
    SQLite computes the same way): C{t} and its UTF-8 in hex.
    """
    return "t" + target.encode("utf-8").hex()


class SQLiteStore(SQLStore):
    """
    A store in the SQLite database at C{path}.

    @param make_parent: create the file's directory (mode 0o700) if it is
        missing: chatd's state directory.
    """

    kind = "sqlite"
    #: SQLite before 3.32 takes at most 999 parameters a statement
    rows_per_insert = 2000 if sqlite3.sqlite_version_info >= (3, 32) else 80

    def __init__(
        self,
        path: str,
        reactor: Any = None,
        schema_dir: Path = SCHEMA_DIR,
        make_parent: bool = False,
    ) -> None:
        super().__init__(path, reactor, schema_dir)
        self.path = path
        self._make_parent = make_parent

    def _prepare(self) -> None:
        if self._make_parent:
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o700, exist_ok=True)

    def _new_pool(
        self, size: int, opened: Callable[[sqlite3.Connection], None]
    ) -> adbapi.ConnectionPool:
        return adbapi.ConnectionPool(
            "sqlite3",
            self.path,
            check_same_thread=False,
            # No implicit transactions: _begin starts each one, so that
            # schema steps (DDL) are in a transaction too.
            isolation_level=None,
            cp_min=1,
            cp_max=size,
            cp_openfun=opened,
            cp_reactor=self._reactor,
        )

    def _make_pool(self) -> adbapi.ConnectionPool:
        return self._new_pool(1, self._connected)

    def _make_read_pool(self) -> adbapi.ConnectionPool:
        return self._new_pool(READERS, self._connected_reader)

    def _connected_reader(self, connection: sqlite3.Connection) -> None:
        # The writer's connection has put the file in WAL mode (which lasts).
        connection.execute("PRAGMA query_only = ON")
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT}")

    def _connected(self, connection: sqlite3.Connection) -> None:
        journal = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if journal != "wal":
            log.warn(
                "{database} could not be put in WAL mode; it is in {journal} mode",
                database=self._name(),
                journal=journal,
            )
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute("PRAGMA foreign_keys = ON")
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT}")

    def _begin(self, cursor: Cursor, write: bool) -> None:
        # IMMEDIATE takes the write lock at once rather than on the first
        # write, where waiting for it could deadlock with another writer.
        cursor.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def _append_history(self, cursor: Cursor, batch: list[HistoryItem]) -> None:
        # The new rows get ids above every id there is (INTEGER PRIMARY KEY
        # takes MAX(id) + 1), so one statement indexes the whole batch for
        # search, in its transaction: 3-4 times faster than the trigger of
        # schema version 2, which inserted row by row.  Measured with
        # tests/store/bench_append.py (CPython 3.11, 200k items in batches
        # of 5,000, synchronous=FULL): 19-24k rows/s with the trigger,
        # 65-85k rows/s this way; most of what is left is the three B-tree
        # indexes of the table.  Empty texts have no words to index.
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM history")
        last = cursor.fetchone()[0]
        super()._append_history(cursor, batch)
        cursor.execute(
            "INSERT INTO history_fts (rowid, text, scope)"
            " SELECT id, text, scope FROM history WHERE id > ? AND text <> ''",
            (last,),
        )

    #: whether reads take their rows in one step (L{_rows})
    rows_in_one_step = _has_json()

    def _rows(
        self,
        cursor: Cursor,
        sql: str,
        args: Sequence[Any],
        columns: Sequence[str],
        reals: Sequence[str] = (),
    ) -> list[tuple[Any, ...]]:
        # Python's sqlite3 lets the GIL go for each row's sqlite3_step and
        # takes it back after; while the reactor's thread is busy, each
        # taking back waits for the switch interval (5 ms), so 100 rows
        # read beside a busy thread took 330 ms.  Here SQLite makes the
        # whole answer one JSON text in one step: 6 ms beside the same busy
        # thread (100 rows of 10 M).  quote() writes a float so that it
        # reads back exactly.
        if not self.rows_in_one_step:
            return super()._rows(cursor, sql, args, columns, reals)
        values = ", ".join(f"quote({c})" if c in reals else c for c in columns)
        cursor.execute(
            f"SELECT json_group_array(json_array({values})) FROM ({sql})", args
        )
        rows = json.loads(cursor.fetchone()[0])
        at = [k for k, c in enumerate(columns) if c in reals]
        for row in rows:
            for k in at:
                row[k] = _real(row[k])
        return [tuple(row) for row in rows]

    def _search(
        self, cursor: Cursor, query: list[str], targets: Sequence[str], limit: int
    ) -> list[HistoryItem]:
        columns = ", ".join(f"h.{c.strip()}" for c in HISTORY_COLUMNS.split(","))
        marks = ", ".join("?" * len(targets))
        # Rows are stored in the order they were said (ids only grow), so
        # the newest matches are those with the highest ids, and FTS5 gives
        # its matches in rowid order without sorting them all: the search
        # stops once it has found enough.  Ordered by ts instead, it had to
        # fetch and sort every match first: a word in every message took
        # 3.5 s on 10 M messages, against 1 ms this way.  A margin of
        # candidates, sorted by ts, keeps the answer newest first even if
        # the clock stepped back between two of them.
        match = fts5_query(query)
        if len(targets) <= SCOPED_SEARCH_MAX:
            # The targets are in the index too (schema 4's scope column), so
            # the words' matches in other conversations are never read: for
            # someone in a few of many channels, a common word no longer
            # means reading every row that has it (see SCOPED_SEARCH_MAX).
            scopes = " OR ".join(f'"{scope_token(t)}"' for t in targets)
            match = f"text : ({match}) AND scope : ({scopes})"
        rows = self._rows(
            cursor,
            f"SELECT {HISTORY_COLUMNS} FROM ("
            f"SELECT {columns} FROM history_fts JOIN history AS h"
            " ON h.id = history_fts.rowid"
            f" WHERE history_fts MATCH ? AND h.target IN ({marks})"
            " ORDER BY history_fts.rowid DESC LIMIT ?)"
            " ORDER BY ts DESC, msgid DESC LIMIT ?",
            (match, *targets, limit + SEARCH_MARGIN, limit),
            HISTORY_NAMES,
            ("ts",),
        )
        return [HistoryItem(*row) for row in rows]

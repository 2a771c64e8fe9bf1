# -*- test-case-name: tests.store.test_contract -*-
"""
What the SQLite and PostgreSQL engines share: the queries, the schema
upgrade, and the one worker thread that keeps writes in order.

Each engine runs every write in an L{adbapi.ConnectionPool} of one thread
and one connection, so the reactor never waits on the database and the
transactions run one after another in the order they were called.  An
engine may give history reads a pool of their own (L{SQLStore._make_read_pool}),
so that a page of history is not queued behind a big batch being written;
such a read sees what was committed when it started.  A
transaction's Deferred fires after adbapi committed it.  The queries are
written with C{?} markers; an engine whose driver wants others rewrites
them (L{SQLStore._q}).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, TypeVar

from twisted.enterprise import adbapi
from twisted.internet import threads
from twisted.internet.defer import Deferred, fail, succeed
from twisted.python.failure import Failure

from ..log import logger
from ..timing import Durations
from .errors import (
    AccountExists,
    DuplicateMessage,
    NoSuchAccount,
    NoSuchChannel,
    SchemaTooNew,
    StoreError,
    StoreUnavailable,
)
from .history import (
    EXPIRE_CHUNK,
    around,
    chunks,
    order,
    pick_targets,
    private_party,
    words,
)
from .records import (
    AccessRecord,
    AccountRecord,
    ChannelRecord,
    HistoryItem,
    ListRecord,
)
from .schema import SCHEMA_DIR, load_steps, too_new

log = logger(__name__)

T = TypeVar("T")

#: A DB-API cursor: the engines' drivers are untyped.
Cursor = Any

#: The kinds of transaction timed (L{SQLStore.timings}): writes of history
#: batches, history reads, other writes (accounts, channels, read markers,
#: expiry) and other reads.
OPERATIONS = ("history_append", "history_read", "write", "read")
_APPEND = "append to the history"

_ACCOUNT_COLUMNS = "name, folded, password_hash, scram, created_at, email"
_CHANNEL_COLUMNS = (
    "name, folded, founder, registered_at, topic, topic_by, topic_at, flags, "
    "mode_key, user_limit, history"
)

#: A history item's columns, in HistoryItem's field order ("to" is reserved).
HISTORY_COLUMNS = (
    "msgid, target, ts, kind, nick, username, host, account, recipient, text,"
    " tags, extra"
)
#: The same, one name each.
HISTORY_NAMES = tuple(name.strip() for name in HISTORY_COLUMNS.split(","))


def _nothing() -> None:
    return None


def _by_folded(record: AccountRecord | ChannelRecord) -> str:
    return record.folded


def _account_row(account: AccountRecord) -> tuple[Any, ...]:
    return (
        account.name,
        account.folded,
        account.password_hash,
        account.scram,
        account.created_at,
        account.email,
    )


def _items(rows: Sequence[Sequence[Any]]) -> list[HistoryItem]:
    return [HistoryItem(*row) for row in rows]


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


class SQLStore:
    """
    A L{Store} on a DB-API driver; subclasses say how to connect and what
    their dialect needs.
    """

    kind = "sql"

    def __init__(
        self, where: str, reactor: Any = None, schema_dir: Path = SCHEMA_DIR
    ) -> None:
        """
        @param where: the database as messages name it: a path, or a URL
            without its password.
        @param schema_dir: where the schema steps are (L{chatd.store.schema}).
        """
        self.where = where
        self._reactor = reactor
        self._schema_dir = schema_dir
        self._pool: adbapi.ConnectionPool | None = None
        #: for history reads, if the engine has one (else they use _pool)
        self._readers: adbapi.ConnectionPool | None = None
        # Set once open() has finished: a failed open closes the pool, and
        # work queued behind it would never run.
        self._ready = False
        #: how long transactions took, from call to answer (queueing in the
        #: pool included), by kind: L{OPERATIONS}; read by the metrics
        self.timings: dict[str, Durations] = {kind: Durations() for kind in OPERATIONS}
        #: the clock they are timed with
        self.timer: Callable[[], float] = time.monotonic

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.where}>"

    # What an engine provides.

    def _prepare(self) -> None:
        """Make ready what the connection needs (in the reactor's thread)."""

    def _make_pool(self) -> adbapi.ConnectionPool:
        raise NotImplementedError

    #: rows in one INSERT statement: 12 values each, under every engine's
    #: limit on a statement's parameters (SQLite's is 32,766 since 3.32)
    rows_per_insert = 2000

    def _make_read_pool(self) -> adbapi.ConnectionPool | None:
        """A pool for history reads, made once the schema is up to date."""
        return None

    def _begin(self, cursor: Cursor, write: bool) -> None:
        """Start a transaction, if the driver does not on its own."""

    def _lock_schema(self, cursor: Cursor) -> None:
        """Keep other processes from upgrading the schema at the same time."""

    def _q(self, sql: str) -> str:
        """C{sql} with the driver's parameter markers."""
        return sql

    def _reason(self, error: BaseException) -> str:
        """Why the database could not be opened, in a few words."""
        reason = str(error) or type(error).__name__
        if isinstance(error.__cause__, OSError):
            # "cannot connect" says little without "Connection refused"
            cause = error.__cause__.strerror or error.__cause__
            reason = f"{reason.rstrip('.')}: {cause}"
        return reason

    # Running transactions.

    def _run(
        self,
        what: str,
        work: Callable[..., T],
        *args: Any,
        write: bool = True,
        reader: bool = False,
    ) -> Deferred[T]:
        """
        Run C{work(cursor, *args)} in a transaction in the pool's thread.

        @param what: what is being done, for a failure's message.
        @param reader: a history read, which may run in the read pool, beside
            the writes: it sees what was committed when it starts.
        """
        pool = self._pool
        if reader and self._readers is not None:
            pool = self._readers
        if pool is None or not self._ready:
            return fail(StoreError(f"cannot {what}: {self._name()} is not open"))
        if what == _APPEND:
            timings = self.timings["history_append"]
        elif reader:
            timings = self.timings["history_read"]
        else:
            timings = self.timings["write" if write else "read"]
        started = self.timer()
        d: Deferred[T] = pool.runWithConnection(self._transaction, work, write, args)
        d.addBoth(self._timed, timings, started)
        d.addErrback(self._wrap, what)
        return d

    def _timed(self, result: T, timings: Durations, started: float) -> T:
        # Once per transaction (a history batch is one), never per message.
        timings.add(self.timer() - started)
        return result

    def _transaction(
        self, connection: Any, work: Callable[..., T], write: bool, args: Any
    ) -> T:
        # In the pool's thread; adbapi commits when this returns and rolls
        # back when it raises.
        cursor = connection.cursor()
        try:
            self._begin(cursor, write)
            return work(cursor, *args)
        finally:
            cursor.close()

    def _wrap(self, failure: Failure, what: str) -> Failure:
        if failure.check(StoreError):
            return failure
        error = StoreError(f"cannot {what} in {self._name()}: {failure.value}")
        error.__cause__ = failure.value
        return Failure(error)

    def _name(self) -> str:
        return f"the {self.kind} database at {self.where}"

    # Opening and closing.

    def open(self) -> Deferred[None]:
        if self._pool is not None:
            return fail(StoreError(f"{self._name()} is already open"))
        try:
            self._prepare()
        except OSError as e:
            return fail(
                StoreUnavailable(f"cannot open {self._name()}: {self._reason(e)}")
            )
        pool = self._pool = self._make_pool()
        return Deferred.fromCoroutine(self._open(pool))

    async def _open(self, pool: adbapi.ConnectionPool) -> None:
        try:
            try:
                await pool.runWithConnection(lambda connection: None)
            except Exception as e:
                raise StoreUnavailable(
                    f"cannot open {self._name()}: {self._reason(e)}"
                ) from e
            try:
                before, after = await pool.runWithConnection(self._migrate)
            except StoreError:
                raise
            except Exception as e:
                raise StoreError(
                    f"cannot upgrade the schema of {self._name()}: {e}"
                ) from e
        except BaseException:
            self._pool = None
            pool.close()  # its one thread is idle: the join is immediate
            raise
        self._readers = self._make_read_pool()
        self._ready = True
        if before == 0:
            log.info(
                "created {database} at schema version {version}",
                database=self._name(),
                version=after,
            )
        elif before != after:
            log.info(
                "upgraded {database} from schema version {before} to {after}",
                database=self._name(),
                before=before,
                after=after,
            )

    def _migrate(self, connection: Any) -> tuple[int, int]:
        """
        Apply the missing schema steps, one transaction each, in the pool's
        thread; the versions before and after.
        """
        steps = load_steps(self._schema_dir, self.kind)
        latest = len(steps)
        cursor = connection.cursor()
        try:
            self._begin(cursor, True)
            cursor.execute(
                "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)"
            )
            connection.commit()
            before: int | None = None
            while True:
                self._begin(cursor, True)
                self._lock_schema(cursor)
                cursor.execute("SELECT MAX(version) FROM schema_version")
                version = cursor.fetchone()[0] or 0
                if before is None:
                    before = version
                if version > latest:
                    raise SchemaTooNew(too_new(self.where, version, latest))
                if version == latest:
                    connection.commit()
                    return before, version
                step = steps[version]
                try:
                    for statement in step.statements:
                        cursor.execute(statement)
                except Exception as e:
                    raise StoreError(
                        f"schema step {step.path} failed on {self._name()}: {e}"
                    ) from e
                cursor.execute("DELETE FROM schema_version")
                cursor.execute(
                    self._q("INSERT INTO schema_version (version) VALUES (?)"),
                    (step.version,),
                )
                connection.commit()
        finally:
            cursor.close()

    def close(self) -> Deferred[None]:
        pool = self._pool
        if pool is None:
            return succeed(None)
        self._pool = None
        self._ready = False
        readers, self._readers = self._readers, None
        # The pool's one thread runs its work in order: this runs after every
        # transaction already called.
        done: Deferred[None] = threads.deferToThreadPool(
            pool._reactor, pool.threadpool, _nothing
        )

        def closed(result: object) -> object:
            pool.close()
            if readers is not None:
                # Waits for the reads under way (they are short).
                readers.close()
            return None if not isinstance(result, Failure) else result

        return done.addBoth(closed)

    # The store's operations.

    def schema_version(self) -> Deferred[int]:
        return self._run("read the schema version", self._schema_version, write=False)

    def _schema_version(self, cursor: Cursor) -> int:
        cursor.execute("SELECT MAX(version) FROM schema_version")
        return int(cursor.fetchone()[0] or 0)

    def load_accounts(self) -> Deferred[list[AccountRecord]]:
        return self._run("load the accounts", self._load_accounts, write=False)

    def _load_accounts(self, cursor: Cursor) -> list[AccountRecord]:
        cursor.execute(f"SELECT {_ACCOUNT_COLUMNS} FROM accounts")
        # Sorted here: PostgreSQL's ORDER BY follows the database's locale.
        return sorted(
            (AccountRecord(*row) for row in cursor.fetchall()), key=_by_folded
        )

    def create_account(self, account: AccountRecord) -> Deferred[None]:
        return self._run("create an account", self._create_account, account)

    def _create_account(self, cursor: Cursor, account: AccountRecord) -> None:
        cursor.execute(
            self._q(
                f"INSERT INTO accounts ({_ACCOUNT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (folded) DO NOTHING"
            ),
            _account_row(account),
        )
        if cursor.rowcount != 1:
            raise AccountExists(f"an account named {account.folded!r} exists")

    def update_account(self, account: AccountRecord) -> Deferred[None]:
        return self._run("update an account", self._update_account, account)

    def _update_account(self, cursor: Cursor, account: AccountRecord) -> None:
        cursor.execute(
            self._q(
                "UPDATE accounts SET name = ?, password_hash = ?, scram = ?,"
                " created_at = ?, email = ? WHERE folded = ?"
            ),
            (
                account.name,
                account.password_hash,
                account.scram,
                account.created_at,
                account.email,
                account.folded,
            ),
        )
        if cursor.rowcount != 1:
            raise NoSuchAccount(f"no account named {account.folded!r}")

    def delete_account(self, folded: str) -> Deferred[None]:
        return self._run("delete an account", self._delete_account, folded)

    def _delete_account(self, cursor: Cursor, folded: str) -> None:
        cursor.execute(self._q("DELETE FROM accounts WHERE folded = ?"), (folded,))
        if cursor.rowcount != 1:
            raise NoSuchAccount(f"no account named {folded!r}")

    def load_channels(self) -> Deferred[list[ChannelRecord]]:
        return self._run("load the channels", self._load_channels, write=False)

    def _load_channels(self, cursor: Cursor) -> list[ChannelRecord]:
        lists: dict[str, list[ListRecord]] = {}
        cursor.execute(
            "SELECT channel, mode, mask, set_by, set_at FROM channel_lists"
            " ORDER BY channel, position"
        )
        for channel, *entry in cursor.fetchall():
            lists.setdefault(channel, []).append(ListRecord(*entry))
        access: dict[str, list[AccessRecord]] = {}
        cursor.execute(
            "SELECT channel, account, level FROM channel_access"
            " ORDER BY channel, position"
        )
        for channel, *entry in cursor.fetchall():
            access.setdefault(channel, []).append(AccessRecord(*entry))
        cursor.execute(f"SELECT {_CHANNEL_COLUMNS} FROM channels")
        channels = []
        for row in cursor.fetchall():
            name, folded, founder, registered_at, *rest = row
            topic, topic_by, topic_at, flags, mode_key, limit, history = rest
            channels.append(
                ChannelRecord(
                    name,
                    folded,
                    founder,
                    registered_at,
                    topic,
                    topic_by,
                    topic_at,
                    flags,
                    mode_key,
                    limit,
                    tuple(lists.get(folded, ())),
                    tuple(access.get(folded, ())),
                    history,
                )
            )
        return sorted(channels, key=_by_folded)

    def save_channel(self, channel: ChannelRecord) -> Deferred[None]:
        return self._run("save a channel", self._save_channel, channel)

    def _save_channel(self, cursor: Cursor, channel: ChannelRecord) -> None:
        # The channel's lists and access go with it (ON DELETE CASCADE).
        cursor.execute(
            self._q("DELETE FROM channels WHERE folded = ?"), (channel.folded,)
        )
        cursor.execute(
            self._q(
                f"INSERT INTO channels ({_CHANNEL_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            ),
            (
                channel.name,
                channel.folded,
                channel.founder,
                channel.registered_at,
                channel.topic,
                channel.topic_by,
                channel.topic_at,
                channel.flags,
                channel.mode_key,
                channel.limit,
                channel.history,
            ),
        )
        if channel.lists:
            cursor.executemany(
                self._q(
                    "INSERT INTO channel_lists"
                    " (channel, position, mode, mask, set_by, set_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)"
                ),
                [
                    (channel.folded, i, e.mode, e.mask, e.set_by, e.set_at)
                    for i, e in enumerate(channel.lists)
                ],
            )
        if channel.access:
            cursor.executemany(
                self._q(
                    "INSERT INTO channel_access (channel, position, account, level)"
                    " VALUES (?, ?, ?, ?)"
                ),
                [
                    (channel.folded, i, e.account, e.level)
                    for i, e in enumerate(channel.access)
                ],
            )

    def delete_channel(self, folded: str) -> Deferred[None]:
        return self._run("delete a channel", self._delete_channel, folded)

    def _delete_channel(self, cursor: Cursor, folded: str) -> None:
        cursor.execute(self._q("DELETE FROM channels WHERE folded = ?"), (folded,))
        if cursor.rowcount != 1:
            raise NoSuchChannel(f"no registered channel named {folded!r}")

    # History.

    def append_history(self, items: Sequence[HistoryItem]) -> Deferred[None]:
        batch = list(items)
        if not batch:
            return self._run(_APPEND, lambda cursor: None)
        return self._run(_APPEND, self._append_history, batch)

    def _append_history(self, cursor: Cursor, batch: list[HistoryItem]) -> None:
        seen: set[tuple[str, str]] = set()
        for item in batch:
            pair = (item.target, item.msgid)
            if pair in seen:
                raise DuplicateMessage(
                    f"msgid {item.msgid!r} is twice in one batch for"
                    f" {item.target!r}; nothing of the batch was stored"
                )
            seen.add(pair)
        # Many rows a statement, not executemany's one: the database's
        # thread then holds the GIL only to bind the values, and lets it go
        # for the whole statement.  Row by row it let it go and took it back
        # for each row, and while the reactor's thread was busy each taking
        # back waited for it (the switch interval): 180 rows/s beside a busy
        # thread, against 33,500 rows/s this way (SQLite, 100k rows).
        inserted = 0
        step = self.rows_per_insert
        for start in range(0, len(batch), step):
            rows = batch[start : start + step]
            row = f"({_placeholders(12)})"
            cursor.execute(
                self._q(
                    f"INSERT INTO history ({HISTORY_COLUMNS})"
                    f" VALUES {', '.join([row] * len(rows))}"
                    " ON CONFLICT (target, msgid) DO NOTHING"
                ),
                [value for item in rows for value in item],
            )
            inserted += cursor.rowcount
        if inserted != len(batch):
            # Raising rolls the whole batch back.
            which = repr(batch[0].msgid)
            if len(batch) > 1:
                which = f"one of the {len(batch)} from {which} to {batch[-1].msgid!r}"
            raise DuplicateMessage(
                f"msgid {which} is already stored; nothing of the batch was stored"
            )

    def _rows(
        self,
        cursor: Cursor,
        sql: str,
        args: Sequence[Any],
        columns: Sequence[str],
        reals: Sequence[str] = (),
    ) -> list[tuple[Any, ...]]:
        """
        The rows of the query C{sql} (written with C{?} marks), whose
        results are named C{columns}, of which C{reals} are floats.  The
        SQLite engine reads them in one step (see there).
        """
        cursor.execute(self._q(sql), args)
        return [tuple(row) for row in cursor.fetchall()]

    def _nothing_to(self, what: str) -> Deferred[list[T]]:
        """An empty answer, once the store is open (or its failure)."""
        return self._run(what, lambda cursor: [], write=False, reader=True)

    def _select(
        self, where: str, args: tuple[Any, ...], newest: bool, limit: int
    ) -> Callable[[Cursor], list[HistoryItem]]:
        """
        What reads the C{limit} items of C{args[0]} that C{where} selects
        nearest the pivot (the newest when C{newest}), in time order.
        """
        direction = "DESC" if newest else "ASC"
        sql = (
            f"SELECT {HISTORY_COLUMNS} FROM history WHERE target = ? {where}"
            f" ORDER BY ts {direction}, msgid {direction} LIMIT ?"
        )

        def select(cursor: Cursor) -> list[HistoryItem]:
            if limit <= 0:
                return []
            found = _items(
                self._rows(cursor, sql, (*args, limit), HISTORY_NAMES, ("ts",))
            )
            # in time order, however the engine returned them
            found.sort(key=order)
            return found

        return select

    def _read(
        self, select: Callable[[Cursor], list[HistoryItem]]
    ) -> Deferred[list[HistoryItem]]:
        return self._run("read the history", select, write=False, reader=True)

    def _before(
        self, target: str, ts: float, msgid: str | None, limit: int
    ) -> Callable[[Cursor], list[HistoryItem]]:
        if msgid is None:
            return self._select("AND ts < ?", (target, ts), True, limit)
        return self._select(
            "AND ts <= ? AND (ts < ? OR msgid < ?)",
            (target, ts, ts, msgid),
            True,
            limit,
        )

    def history_latest(self, target: str, limit: int) -> Deferred[list[HistoryItem]]:
        return self._read(self._select("", (target,), True, limit))

    def history_before(
        self, target: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        return self._read(self._before(target, ts, msgid, limit))

    def history_after(
        self, target: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        if msgid is None:
            return self._read(self._select("AND ts > ?", (target, ts), False, limit))
        return self._read(
            self._select(
                "AND ts >= ? AND (ts > ? OR msgid > ?)",
                (target, ts, ts, msgid),
                False,
                limit,
            )
        )

    def history_between(
        self, target: str, start_ts: float, end_ts: float, limit: int
    ) -> Deferred[list[HistoryItem]]:
        low, high = sorted((start_ts, end_ts))
        return self._read(
            self._select(
                "AND ts > ? AND ts < ?",
                (target, low, high),
                start_ts > end_ts,
                limit if low < high else 0,
            )
        )

    def history_around(
        self, target: str, ts: float, msgid: str | None, limit: int
    ) -> Deferred[list[HistoryItem]]:
        before = self._before(target, ts, msgid, limit)
        if msgid is None:
            after = self._select("AND ts >= ?", (target, ts), False, limit)
        else:
            after = self._select(
                "AND ts >= ? AND (ts > ? OR msgid >= ?)",
                (target, ts, ts, msgid),
                False,
                limit,
            )

        def both(cursor: Cursor) -> list[HistoryItem]:
            return around(before(cursor), after(cursor), limit)

        return self._read(both)

    def history_item(
        self, msgid: str, target: str | None = None
    ) -> Deferred[HistoryItem | None]:
        return self._run(
            "read a history item",
            self._history_item,
            msgid,
            target,
            write=False,
            reader=True,
        )

    def _history_item(
        self, cursor: Cursor, msgid: str, target: str | None
    ) -> HistoryItem | None:
        if target is not None:
            # The (target, msgid) key's index.
            cursor.execute(
                self._q(
                    f"SELECT {HISTORY_COLUMNS} FROM history"
                    " WHERE target = ? AND msgid = ?"
                ),
                (target, msgid),
            )
        else:
            cursor.execute(
                self._q(
                    f"SELECT {HISTORY_COLUMNS} FROM history WHERE msgid = ?"
                    " ORDER BY ts, target LIMIT 1"
                ),
                (msgid,),
            )
        rows = cursor.fetchall()
        return HistoryItem(*rows[0]) if rows else None

    def history_targets(
        self, targets: Sequence[str], start_ts: float, end_ts: float, limit: int
    ) -> Deferred[list[tuple[str, float]]]:
        if limit <= 0 or not targets:
            return self._nothing_to("list the history's targets")
        return self._run(
            "list the history's targets",
            self._history_targets,
            list(dict.fromkeys(targets)),
            start_ts,
            end_ts,
            limit,
            write=False,
            reader=True,
        )

    def _history_targets(
        self, cursor: Cursor, targets: list[str], start: float, end: float, limit: int
    ) -> list[tuple[str, float]]:
        # Rows after the low time only: a target's greatest of those is its
        # latest overall, if it has any there.
        low, high = sorted((start, end))
        found: dict[str, float] = {}
        for piece in chunks(targets):
            found.update(
                self._rows(
                    cursor,
                    "SELECT target, MAX(ts) AS ts FROM history"
                    f" WHERE target IN ({_placeholders(len(piece))})"
                    " AND ts > ? GROUP BY target HAVING MAX(ts) < ?",
                    (*piece, low, high),
                    ("target", "ts"),
                    ("ts",),
                )
            )
        return pick_targets(found, start, end, limit)

    def history_private_targets(
        self, account: str, start_ts: float, end_ts: float, limit: int
    ) -> Deferred[list[tuple[str, float]]]:
        if limit <= 0:
            return self._nothing_to("list the history's targets")
        return self._run(
            "list the history's targets",
            self._private_targets,
            account,
            start_ts,
            end_ts,
            limit,
            write=False,
            reader=True,
        )

    def _private_targets(
        self, cursor: Cursor, account: str, start: float, end: float, limit: int
    ) -> list[tuple[str, float]]:
        low, high = sorted((start, end))
        # As the first party: a range of history_by_target ("alice " up to
        # "alice!", the next character after the space).  As the second:
        # the keys ending in " alice", a scan of that index's targets.
        found: dict[str, float] = {}
        for where, args in [
            ("target >= ? AND target < ?", (f"{account} ", f"{account}!")),
            (
                "SUBSTR(target, LENGTH(target) - ?) = ?",
                (len(account), f" {account}"),
            ),
        ]:
            for target, ts in self._rows(
                cursor,
                f"SELECT target, MAX(ts) AS ts FROM history WHERE {where}"
                " AND ts > ? GROUP BY target HAVING MAX(ts) < ?",
                (*args, low, high),
                ("target", "ts"),
                ("ts",),
            ):
                if private_party(account, target):
                    found[target] = ts
        return pick_targets(found, start, end, limit)

    # Read markers.  On the writer's connection: a load sees every save
    # called before it.

    def load_read_marker(self, account: str, target: str) -> Deferred[float | None]:
        return self._run(
            "load a read marker", self._load_read_marker, account, target, write=False
        )

    def _load_read_marker(
        self, cursor: Cursor, account: str, target: str
    ) -> float | None:
        cursor.execute(
            self._q("SELECT ts FROM read_markers WHERE account = ? AND target = ?"),
            (account, target),
        )
        row = cursor.fetchone()
        return None if row is None else float(row[0])

    def save_read_marker(self, account: str, target: str, ts: float) -> Deferred[None]:
        return self._run(
            "save a read marker", self._save_read_marker, account, target, ts
        )

    def _save_read_marker(
        self, cursor: Cursor, account: str, target: str, ts: float
    ) -> None:
        # Only forward: an older marker saved late changes nothing.
        cursor.execute(
            self._q(
                "INSERT INTO read_markers (account, target, ts) VALUES (?, ?, ?)"
                " ON CONFLICT (account, target) DO UPDATE SET ts = excluded.ts"
                " WHERE excluded.ts > read_markers.ts"
            ),
            (account, target, ts),
        )

    def delete_history(self, msgid: str, target: str | None = None) -> Deferred[bool]:
        return self._run("delete a history item", self._delete_history, msgid, target)

    def _delete_history(self, cursor: Cursor, msgid: str, target: str | None) -> bool:
        if target is not None:
            cursor.execute(
                self._q("DELETE FROM history WHERE target = ? AND msgid = ?"),
                (target, msgid),
            )
        else:
            cursor.execute(self._q("DELETE FROM history WHERE msgid = ?"), (msgid,))
        return bool(cursor.rowcount >= 1)

    def expire_history(
        self, older_than: float | None, keep_per_target: int | None
    ) -> Deferred[int]:
        return Deferred.fromCoroutine(self._expire(older_than, keep_per_target))

    async def _expire(self, older_than: float | None, keep: int | None) -> int:
        # One chunk per transaction: writes called meanwhile run between
        # them.  A store closed meanwhile ends the expiry where it is.
        if not self._ready:
            # Fails as every other call does.
            await self._run("expire the history", _nothing)
        deleted = 0
        if older_than is not None:
            while self._ready:
                count = await self._run(
                    "expire the history", self._expire_old, older_than
                )
                deleted += count
                if count < EXPIRE_CHUNK:
                    break
        if keep is not None:
            start: str | None = ""
            while start is not None and self._ready:
                count, start = await self._run(
                    "expire the history", self._expire_excess, max(keep, 0), start
                )
                deleted += count
        return deleted

    def _expire_old(self, cursor: Cursor, older_than: float) -> int:
        cursor.execute(
            self._q(
                "DELETE FROM history WHERE (target, msgid) IN"
                " (SELECT target, msgid FROM history WHERE ts < ? ORDER BY ts LIMIT ?)"
            ),
            (older_than, EXPIRE_CHUNK),
        )
        return int(cursor.rowcount)

    def _expire_excess(
        self, cursor: Cursor, keep: int, start: str
    ) -> tuple[int, str | None]:
        """
        Delete what is beyond the newest C{keep} items of the targets from
        C{start} on, until a chunk's worth is deleted: the count, and the
        target to go on from (C{None} when every target is done).
        """
        deleted = 0
        operator = ">="
        while True:
            cursor.execute(
                self._q(f"SELECT MIN(target) FROM history WHERE target {operator} ?"),
                (start,),
            )
            target = cursor.fetchone()[0]
            if target is None:
                return deleted, None
            operator = ">"
            start = target
            # The newest item beyond the ones kept.
            cursor.execute(
                self._q(
                    "SELECT ts, msgid FROM history WHERE target = ?"
                    " ORDER BY ts DESC, msgid DESC LIMIT 1 OFFSET ?"
                ),
                (target, keep),
            )
            row = cursor.fetchone()
            if row is None:
                continue
            ts, msgid = row
            budget = EXPIRE_CHUNK - deleted
            cursor.execute(
                self._q(
                    "DELETE FROM history WHERE (target, msgid) IN"
                    " (SELECT target, msgid FROM history"
                    " WHERE target = ? AND ts <= ? AND (ts < ? OR msgid <= ?)"
                    " ORDER BY ts, msgid LIMIT ?)"
                ),
                (target, ts, ts, msgid, budget),
            )
            deleted += cursor.rowcount
            if deleted >= EXPIRE_CHUNK:
                # This target may have more: the next chunk starts with it.
                return deleted, target

    def search_history(
        self, text: str, targets: Sequence[str], limit: int
    ) -> Deferred[list[HistoryItem]]:
        query = words(text)
        if limit <= 0 or not targets or not query:
            return self._nothing_to("search the history")
        return self._run(
            "search the history",
            self._search_history,
            query,
            list(dict.fromkeys(targets)),
            limit,
            write=False,
            reader=True,
        )

    def _search_history(
        self, cursor: Cursor, query: list[str], targets: list[str], limit: int
    ) -> list[HistoryItem]:
        found: list[HistoryItem] = []
        for piece in chunks(targets):
            found.extend(self._search(cursor, query, piece, limit))
        found.sort(key=order, reverse=True)
        return found[:limit]

    def _search(
        self, cursor: Cursor, query: list[str], targets: Sequence[str], limit: int
    ) -> list[HistoryItem]:
        """The newest C{limit} items of C{targets} with every word of C{query}."""
        raise NotImplementedError

# -*- test-case-name: tests.store.test_open -*-
"""
Storage for what must survive a restart: accounts, registered channels and
the history of what was said.

L{open_store} picks the engine from a URL; every engine offers the one
interface L{Store}, and the same contract tests run against each.
"""

from __future__ import annotations

import os
from typing import Any

from .errors import (
    AccountExists,
    DuplicateMessage,
    NoSuchAccount,
    NoSuchChannel,
    SchemaTooNew,
    StoreError,
    StoreUnavailable,
)
from .interface import Store
from .memory import MemoryStore
from .postgresql import SCHEMES, PostgreSQLStore, parse_url, redact
from .records import (
    AccessRecord,
    AccountRecord,
    ChannelRecord,
    HistoryItem,
    ListRecord,
)
from .sqlite import SQLiteStore

__all__ = [
    "AccessRecord",
    "AccountExists",
    "AccountRecord",
    "ChannelRecord",
    "DuplicateMessage",
    "HistoryItem",
    "ListRecord",
    "MemoryStore",
    "NoSuchAccount",
    "NoSuchChannel",
    "PostgreSQLStore",
    "SQLiteStore",
    "SchemaTooNew",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "open_store",
]

#: The SQLite file's name in the state directory.
SQLITE_FILE = "chatd.sqlite3"

ACCEPTED = (
    "'sqlite' (the default: a file in the state directory), "
    "'sqlite:///absolute/path.db', 'sqlite:relative/path.db' (in the state "
    "directory), 'postgresql://user:password@host:port/dbname' (or "
    "postgres://) or 'memory:' (nothing is kept)"
)


def open_store(url: str, state_dir: str, reactor: Any = None) -> Store:
    """
    The store that C{url} names; call its C{open()} before using it.

    @param url: C{sqlite}, C{sqlite:///abs/path.db}, C{sqlite:relative.db},
        C{postgresql://user:password@host:port/dbname} or C{memory:}.
    @param state_dir: where the default SQLite file goes (created, mode
        0o700, when the store is opened), and what a relative SQLite path is
        relative to.
    @param reactor: the reactor the engine's thread reports to.
    @raise ValueError: C{url} is none of those.
    """
    scheme, colon, rest = url.partition(":")
    if url == "sqlite":
        path = os.path.join(state_dir, SQLITE_FILE)
        return SQLiteStore(path, reactor, make_parent=True)
    if scheme == "sqlite" and colon:
        if rest.startswith("///") and len(rest) > 3:
            return SQLiteStore(rest[2:], reactor)
        if rest and not rest.startswith("/"):
            path = os.path.join(state_dir, rest)
            return SQLiteStore(path, reactor, make_parent=True)
    elif scheme in SCHEMES and rest.startswith("//"):
        return PostgreSQLStore(parse_url(url), reactor)
    elif url in ("memory:", "memory"):
        return MemoryStore()
    raise ValueError(f"unknown store URL {redact(url)!r}: use {ACCEPTED}")

"""
The writer that tests.store.test_crash kills: it opens a SQLite store and
creates accounts as fast as it can, printing each account's number on
standard output only once its create_account Deferred has fired.

Run as C{python -m tests.store.crash_child <database path>}.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.internet.defer import Deferred

from chatd.store import AccountRecord, SQLiteStore

#: Writes in flight at once: later ones are called before earlier ones
#: are acknowledged, as a server's write-behind would.
WINDOW = 8


def account(number: int) -> AccountRecord:
    """The account with C{number}: every field says which it is."""
    name = f"Ünïcode{number}"
    return AccountRecord(
        name=name,
        folded=name.casefold(),
        password_hash=f"$scrypt$ln=14,r=8,p=1$salt{number}$key{number}",
        scram=f"scram-sha-256:4096:salt{number}:stored{number}:server{number}",
        created_at=1733412345.0 + number / 1024,
        email=f"user{number}@example.org" if number % 2 else None,
    )


def main(reactor: Any, path: str) -> Deferred[None]:
    store = SQLiteStore(path, reactor)
    done: Deferred[None] = Deferred()
    following = 0

    def acknowledged(_: None, number: int) -> None:
        sys.stdout.write(f"{number}\n")
        sys.stdout.flush()
        write_next()

    def write_next() -> None:
        nonlocal following
        number, following = following, following + 1
        d = store.create_account(account(number))
        d.addCallback(acknowledged, number)
        d.addErrback(done.errback)

    def opened(_: None) -> None:
        for _slot in range(WINDOW):
            write_next()

    store.open().addCallbacks(opened, done.errback)
    return done  # runs until it is killed


if __name__ == "__main__":
    from twisted.internet.task import react

    react(main, sys.argv[1:])

"""
How many history rows a second the SQLite engine appends: N items in
batches into a new temporary file, each batch one transaction (the engine's
own _append_history, in this thread, on a connection set up as the pool's).

    python tests/store/bench_append.py [items] [batch]
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from chatd.store.records import HistoryItem
from chatd.store.sqlite import SQLiteStore


def main(count: int = 200_000, batch: int = 5_000) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = str(Path(d) / "bench.sqlite3")
        store = SQLiteStore(path)
        connection = sqlite3.connect(
            path, check_same_thread=False, isolation_level=None
        )
        store._connected(connection)
        store._migrate(connection)
        t0 = 1_700_000_000.0
        items = [
            HistoryItem(
                f"{i:012d}",
                f"#chan{i % 50}",
                t0 + i / 1000,
                "message",
                f"nick{i % 300}",
                "user",
                "host.example",
                None,
                f"#Chan{i % 50}",
                f"hello there number {i} with a few more words of chat",
                "",
                "",
            )
            for i in range(count)
        ]
        start = time.perf_counter()
        for n in range(0, count, batch):
            store._transaction(
                connection, store._append_history, True, (items[n : n + batch],)
            )
            connection.commit()
        elapsed = time.perf_counter() - start
        connection.close()
        impl = sys.implementation.name
        print(
            f"{impl}: {count} items in batches of {batch}: {count / elapsed:,.0f} rows/s"
        )


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))

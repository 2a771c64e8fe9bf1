# -*- test-case-name: tests.test_bench -*-
"""
C{history-read}: how fast chatd reads a big history back.

A store is prefilled with C{messages} messages spread evenly over
C{channels} channels, through the store's own code
(L{SQLiteStore.append_history}, in big batches, in a process of its own
under the Python being measured), so its schema and indexes are chatd's.
chatd is started on it; a reader joins some of the channels and asks
C{CHATHISTORY LATEST <channel> * 100} of one at random after another, and
a JSON client runs full-text C{search}es, while a background load sends
messages to other channels (whose history is kept too).  Each answer is
checked: a LATEST has exactly the 100 newest messages of its channel's
(C{messages / channels} at most), a search answers C{ok}.

Run the prefill alone with C{python -m chatd.bench.history DB MESSAGES
CHANNELS}.
"""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
import time
from array import array
from collections.abc import Sequence
from typing import Any, Callable

from chatd.bench.load import DIALECTS, Load, Stream, Target, _nicks

#: The words of the prefilled messages: three a message, so that a search
#: for one finds about 3 / len(WORDS) of the history.
WORDS = [f"w{n:04d}" for n in range(2000)]

#: Messages handed to the store at a time while prefilling.
PREFILL_BATCH = 50_000

#: How many items a LATEST asks for.
LATEST = 100


def channel(n: int) -> str:
    return f"#h{n}"


def _text(i: int) -> str:
    """
    The text of message C{i}: three words picked by a hash of C{i}, so that
    each word is spread over every channel (message C{i} is in channel
    C{i % channels}).  Until 2026-12-06 the words were C{i}'s remainders,
    which put all the messages of a channel on the same three words: a
    word was in a few channels only, and a search from other channels
    read every one of its matches to find none.
    """
    w = len(WORDS)
    h = (i * 0x9E3779B97F4A7C15) & 0xFFFF_FFFF_FFFF_FFFF
    return (
        f"{WORDS[h % w]} {WORDS[(h >> 21) % w]} {WORDS[(h >> 42) % w]} "
        f"message {i} of the prefilled history"
    )


def prefill(python: str, path: str, messages: int, channels: int) -> dict[str, Any]:
    """
    Fill the SQLite file C{path} (created) with C{messages} messages over
    C{channels} channels, in a process under C{python}; what it took.
    """
    out = subprocess.run(
        [python, "-m", "chatd.bench.history", path, str(messages), str(channels)],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"the prefill failed:\n{out.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _prefill_main(argv: Sequence[str]) -> None:
    from twisted.internet import task
    from twisted.internet.defer import ensureDeferred

    from chatd.core.names import channel_key
    from chatd.store.records import HistoryItem
    from chatd.store.sqlite import SQLiteStore

    path, messages, channels = argv[0], int(argv[1]), int(argv[2])

    async def fill(reactor: Any) -> None:
        store = SQLiteStore(path, reactor, make_parent=True)
        await store.open()
        start = time.monotonic()
        # a second of history per 1000 messages, ending now
        t0 = time.time() - messages / 1000.0
        for first in range(0, messages, PREFILL_BATCH):
            batch = []
            for i in range(first, min(messages, first + PREFILL_BATCH)):
                name = channel(i % channels)
                batch.append(
                    HistoryItem(
                        f"P{i:012d}",
                        # what chatd keeps a channel's history under
                        channel_key(name),
                        t0 + i / 1000.0,
                        "message",
                        f"u{i % 97}",
                        "bench",
                        "127.0.0.1",
                        None,
                        name,
                        _text(i),
                        "",
                        "",
                    )
                )
            await store.append_history(batch)
        seconds = time.monotonic() - start
        await store.close()
        print(
            json.dumps(
                {
                    "prefill_seconds": round(seconds, 1),
                    "prefill_per_s": round(messages / seconds) if seconds else 0,
                }
            )
        )

    task.react(lambda reactor: ensureDeferred(fill(reactor)))


class Reader:
    """
    One blocking IRC client with C{draft/chathistory} (so joining replays
    nothing), or one JSON client, in the channels it reads.
    """

    def __init__(self, host: str, port: int, proto: str, nick: str) -> None:
        self.proto = proto
        self.sock = socket.create_connection((host, port), 30)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        if proto == "irc":
            self.sock.sendall(
                b"CAP REQ :draft/chathistory batch server-time message-tags\r\n"
                b"NICK %s\r\nUSER %s 0 * :reader\r\nCAP END\r\n"
                % (nick.encode(), nick.encode())
            )
            self._until(b" 001 ")
        else:
            self.sock.sendall(b'{"cmd":"nick","nick":"%s"}\n' % nick.encode())
            self._until(b'"cmd":"nick"')

    def _until(self, needle: bytes, count: int = 1) -> bytes:
        """Read until C{needle} was seen C{count} times; what came, up to it."""
        while self.buf.count(needle) < count:
            data = self.sock.recv(1 << 20)
            if not data:
                raise ConnectionError(f"the server closed: {self.buf[-300:]!r}")
            self.buf += data
            for bad in (b" FAIL ", b"ERROR", b'"type":"error"'):
                if bad in self.buf:
                    at = self.buf.index(bad)
                    raise ConnectionError(f"refused: {self.buf[at - 50 : at + 250]!r}")
        at = -1
        for _ in range(count):
            at = self.buf.index(needle, at + 1)
        end = self.buf.index(b"\n", at) + 1
        got, self.buf = self.buf[:end], self.buf[end:]
        return got

    def join(self, names: Sequence[str]) -> None:
        if self.proto == "irc":
            self.sock.sendall(b"".join(b"JOIN %s\r\n" % n.encode() for n in names))
            self._until(b" 366 ", len(names))
        else:
            self.sock.sendall(
                b"".join(
                    b'{"cmd":"join","channel":"%s","history":0}\n' % n.encode()
                    for n in names
                )
            )
            self._until(b'"cmd":"join"', len(names))

    def latest(self, name: str) -> int:
        """C{CHATHISTORY LATEST name * 100}: how many messages came back."""
        self.sock.sendall(b"CHATHISTORY LATEST %s * %d\r\n" % (name.encode(), LATEST))
        got = self._until(b"BATCH -")
        return got.count(b" PRIVMSG ")

    def search(self, text: str, n: int) -> int:
        """A JSON C{search}: how many items came back."""
        self.sock.sendall(
            b'{"cmd":"search","text":"%s","id":%d}\n' % (text.encode(), n)
        )
        line = self._until(b'"id":%d' % n).rsplit(b"\n", 2)[-2]
        reply = json.loads(line)
        if reply.get("type") != "ok":
            raise ConnectionError(f"search refused: {line[:300]!r}")
        return len(reply["items"])

    def close(self) -> None:
        self.sock.close()


def _percentiles(samples: array[int]) -> dict[str, float | None]:
    ordered = sorted(samples)
    if not ordered:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}

    def at(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))] / 1e6, 2)

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0)}


def read_latency(
    irc: Target,
    jsonp: Target,
    messages: int,
    channels: int,
    queries: int = 2000,
    searches: int = 200,
    read_channels: int = 500,
    background_rate: float = 5000.0,
    background_clients: int = 1000,
    background_members: int = 2,
    seed: int = 1,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """
    Against a chatd whose store holds the prefill: LATEST and search
    latency (one request at a time), under C{background_rate} messages/s
    to other channels of C{background_members} (each message reaches the
    other C{background_members - 1}).  A thread asks while this one sends.
    """
    rng = random.Random(seed)
    read = rng.sample(range(channels), min(read_channels, channels))
    names = [channel(n) for n in read]
    per_channel = [
        messages // channels + (1 if n < messages % channels else 0) for n in read
    ]
    reader = Reader(irc.host, irc.port, "irc", "hreader")
    searcher = Reader(jsonp.host, jsonp.port, "json", "hsearcher")
    load: Load | None = None
    try:
        for k in range(0, len(names), 100):
            reader.join(names[k : k + 100])
            searcher.join(names[k : k + 100])
        log(f"history-read: the readers joined {len(names)} channels")
        latest = array("q")
        found = array("q")
        wrong: list[str] = []
        done = threading.Event()
        failure: list[BaseException] = []

        def ask() -> None:
            try:
                for _ in range(queries):
                    k = rng.randrange(len(names))
                    t = time.monotonic_ns()
                    got = reader.latest(names[k])
                    latest.append(time.monotonic_ns() - t)
                    if got != min(LATEST, per_channel[k]) and len(wrong) < 5:
                        wrong.append(f"{names[k]}: {got} messages")
                for q in range(searches):
                    t = time.monotonic_ns()
                    searcher.search(rng.choice(WORDS), q + 1)
                    found.append(time.monotonic_ns() - t)
            except BaseException as e:  # reported by the main thread
                failure.append(e)
            finally:
                done.set()

        sent = 0
        check: dict[str, object] = {}
        if background_rate > 0:
            load = Load(
                irc.host, irc.port, DIALECTS["irc"], server_pid=irc.pid, log=log
            )
            size = max(2, background_members)
            rooms = max(1, background_clients // size)
            # channels of this run only: a reused store has the last run's
            # history, which joining would replay (and the check count twice)
            run = f"{time.time_ns() // 1000 % 10**9:x}"
            load.connect(
                _nicks("bg", rooms * size), lambda i: (f"#bg{run}-{i // size}",)
            )
            load.drain(quiet=0.2)
            load.make_probes(4)
            streams = [load.add_stream(c, c.joins[0]) for c in load.clients]

            def choose(k: int) -> Stream:
                return streams[k % len(streams)]

        cpu0 = time.monotonic()
        thread = threading.Thread(target=ask, daemon=True)
        switch = sys.getswitchinterval()
        # the reader waits for the GIL less while this thread sends
        sys.setswitchinterval(0.0005)
        try:
            thread.start()
            while not done.is_set():
                if load is not None:
                    per = float(size - 1)
                    step = load.run(background_rate * per, 1.0, choose, per, grace=0.0)
                    sent += step.sent
                else:
                    done.wait(1.0)
            thread.join()
        finally:
            sys.setswitchinterval(switch)
        elapsed = time.monotonic() - cpu0
        if failure:
            raise failure[0]
        if load is not None:
            from chatd.bench.load import CATCH_UP_SECONDS, _check_fields

            check = _check_fields(
                load.check(drained=load.drain(limit=CATCH_UP_SECONDS))
            )
        lat = _percentiles(latest)
        srch = _percentiles(found)
        return {
            "scenario": "history-read",
            "proto": "irc",
            "messages": messages,
            "channels": channels,
            "read_channels": len(names),
            "queries": len(latest),
            "latest_p50_ms": lat["p50_ms"],
            "latest_p99_ms": lat["p99_ms"],
            "latest_max_ms": lat["max_ms"],
            "searches": len(found),
            "search_p50_ms": srch["p50_ms"],
            "search_p99_ms": srch["p99_ms"],
            "search_max_ms": srch["max_ms"],
            "background_rate": background_rate,
            "background_sent": sent,
            "background_per_s": round(sent / elapsed) if elapsed else 0,
            "background_members": max(2, background_members),
            "background_deliveries_per_s": (
                round(sent * (max(2, background_members) - 1) / elapsed)
                if elapsed
                else 0
            ),
            "latest_ok": not wrong,
            "latest_check": "ok: every LATEST had its channel's newest "
            f"{LATEST} (or all it had)"
            if not wrong
            else "FAILED: " + "; ".join(wrong),
            **check,
        }
    finally:
        reader.close()
        searcher.close()
        if load is not None:
            load.close()


if __name__ == "__main__":
    _prefill_main(sys.argv[1:])

"""
chatd-bench, kept from rotting: every scenario runs for about a second
against an in-process chatd (and the bare ceiling server), and the delivery
check is shown to catch loss, duplicates and reordering.

The generator blocks on its own C{epoll} loop, so it runs in a thread
(C{deferToThread}) while the test's reactor serves chatd.  Nothing here
asserts how fast anything is: only that the figures are there and that
every message reached every member (probes: exactly once, in order).
Timing decides only how fast things go, so no test here needs a step to
pass or a figure to reach a value: a loaded machine slows them, nothing
more.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
from array import array
from pathlib import Path
from typing import Any, Callable

from twisted.internet import reactor, task, threads
from twisted.internet.defer import inlineCallbacks
from twisted.internet.testing import MemoryReactor
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatd import tap
from chatd.bench import ceiling, cli, history, load, servers
from chatd.bench.ceiling import Ceiling
from chatd.bench.load import DIALECTS, Client, Load, RateSearch, Step, Target
from chatd.bench.soak.checks import HONEST_ERRORS, check_deliveries
from chatd.bench.soak.conns import IRCConn
from chatd.bench.soak.honest import Reader, Talker
from chatd.bench.soak.options import Options, role_counts
from chatd.bench.soak.records import (
    CONNECTS_PER_MINUTE,
    PER_ADDRESS,
    AddressPool,
    Stream,
)
from chatd.bench.soak.run import Soak
from chatd.bench.soak.wire import STAMP, irc_close_code, parse_irc, stamped
from chatd.core import Chat
from chatd.irc.factory import IRCFactory
from chatd.jsonproto.lines import ChatFactory
from chatd.net.limits import FloodLimit
from chatd.service import ChatService

try:
    import matplotlib  # noqa: F401

    HAVE_MATPLOTLIB = True
except ImportError:  # on PyPy, where the test extra leaves it out
    HAVE_MATPLOTLIB = False


#: Flood control on, as far out of reach as chatd-bench sets it.
FAST = FloodLimit(burst=10**9, rate=10**9)


class InProcess(TestCase):
    """chatd's JSON and IRC listeners on loopback, in this process."""

    timeout = 120

    def setUp(self) -> None:
        self.chat = Chat(max_users=1000)
        listen = ["tcp:0:interface=127.0.0.1:backlog=1024"]
        self.service = ChatService(
            reactor,
            [
                (ChatFactory(self.chat, reactor, idle_timeout=60, flood=FAST), listen),
                (IRCFactory(self.chat, reactor, idle_timeout=60, flood=FAST), listen),
            ],
        )
        self.service.startService()
        self.addCleanup(self.service.stopService)
        json_port, irc_port = (p.getHost().port for p in self.service.ports)
        self.targets = {
            "json": Target("127.0.0.1", json_port, "json", os.getpid()),
            "irc": Target("127.0.0.1", irc_port, "irc", os.getpid()),
        }
        self.logged: list[str] = []

    def bench(self, f: Callable[..., dict[str, Any]], *args: Any, **kw: Any) -> Any:
        return threads.deferToThread(f, *args, log=self.logged.append, **kw)

    @inlineCallbacks
    def assertDelivered(self, result: dict[str, Any]) -> Any:
        """
        Every message reached every member (the probes: each stream once
        and in order); and once the server has read the generator's closes,
        every client has gone.
        """
        self.assertTrue(result["check_ok"], result["check"])
        self.assertEqual(result["delivered"], result["expected_deliveries"])
        # The closes race the thread's result back to the reactor; give the
        # reactor a bounded number of turns to read them.
        for _ in range(500):
            if not self.chat.nicks:
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        self.assertEqual(self.chat.nicks, {})


class ScenarioTests(InProcess):
    @inlineCallbacks
    def test_fanout_at_a_fixed_rate(self) -> Any:
        for proto in ("irc", "json"):
            result = yield self.bench(
                load.fanout,
                self.targets[proto],
                members=30,
                senders=3,
                rate=3000.0,
                seconds=0.5,
                probes=4,
            )
            self.assertEqual(result["proto"], proto)
            # at least the first message went out, to 29 others
            self.assertGreaterEqual(result["expected_deliveries"], 29)
            self.assertIn("probes got every stream", result["check"])
            yield self.assertDelivered(result)

    @inlineCallbacks
    def test_fanout_moderated(self) -> Any:
        """
        With C{moderated}, the channel's operator really moderates it before
        the run (+m, the senders voiced, full ban and exception lists), and
        the voiced senders' messages all arrive.
        """
        applied: list[Any] = []
        set_modes = self.chat.set_modes

        def recording(*args: Any, **kw: Any) -> Any:
            result = set_modes(*args, **kw)
            applied.extend(result[0])
            return result

        self.chat.set_modes = recording  # type: ignore[method-assign]
        for proto in ("irc", "json"):
            del applied[:]
            result = yield self.bench(
                load.fanout,
                self.targets[proto],
                members=30,
                senders=3,
                rate=3000.0,
                seconds=0.5,
                probes=4,
                moderated=True,
            )
            self.assertTrue(result["moderated"])
            self.assertEqual(
                sorted({(c.mode, c.adding) for c in applied}),
                [("b", True), ("e", True), ("m", True), ("v", True)],
            )
            self.assertEqual(len(applied), 1 + 3 + 100 + 100, proto)
            self.assertGreaterEqual(result["expected_deliveries"], 29)
            yield self.assertDelivered(result)

    @inlineCallbacks
    def test_fanout_max_steps_up(self) -> Any:
        result = yield self.bench(
            load.fanout,
            self.targets["irc"],
            members=20,
            senders=2,
            rate=None,
            step_seconds=0.3,
            start_rate=1000.0,
            max_steps=2,
            probes=3,
        )
        self.assertTrue(result["max_rate"])
        # where the second step goes depends on how the first went (see
        # RateSearchTests); that there is one, and nothing was lost, does not
        self.assertEqual(len(result["steps"]), 2)
        yield self.assertDelivered(result)

    @inlineCallbacks
    def test_rooms(self) -> Any:
        result = yield self.bench(
            load.rooms,
            self.targets["irc"],
            clients=60,
            size=6,
            big=1,
            big_size=20,
            rate=200.0,
            seconds=0.5,
        )
        self.assertEqual(result["rooms"], 10)
        self.assertIn("server_cpu_ms_per_1000", result)
        yield self.assertDelivered(result)

    @inlineCallbacks
    def test_rooms_max_steps_up(self) -> Any:
        result = yield self.bench(
            load.rooms,
            self.targets["json"],
            clients=30,
            size=5,
            big=1,
            big_size=10,
            rate=None,
            step_seconds=0.3,
            start_rate=50.0,
            max_steps=2,
        )
        self.assertTrue(result["max_rate"])
        self.assertEqual(len(result["steps"]), 2)
        self.assertIn("sustained_messages_per_s", result)
        yield self.assertDelivered(result)

    @inlineCallbacks
    def test_storm(self) -> Any:
        for mode in ("own", "one"):
            result = yield self.bench(
                load.storm, self.targets["json"], clients=80, mode=mode, window=16
            )
            self.assertEqual(result["mode"], mode)
            self.assertGreater(result["registrations_per_s"], 0)
            yield self.assertDelivered(result)

    @inlineCallbacks
    def test_idle(self) -> Any:
        result = yield self.bench(
            load.idle, self.targets["irc"], clients=50, settle=0.1
        )
        self.assertIsNotNone(result["kib_per_connection"])
        yield self.assertDelivered(result)

    @inlineCallbacks
    def test_refusal_is_reported(self) -> Any:
        """A server that refuses a nick stops the run with what it said."""
        other = Load("127.0.0.1", self.targets["irc"].port, DIALECTS["irc"])
        self.addCleanup(other.close)
        # the idle scenario's first nick is i0: an IRC user has it already
        yield threads.deferToThread(other.connect, ["i0"], lambda i: ())
        d = self.bench(load.idle, self.targets["json"], clients=1, settle=0)
        e = yield self.assertFailure(d, load.BenchError)
        self.assertIn("i0: the server said", str(e))
        self.assertIn("nick_in_use", str(e))


class CeilingTests(TestCase):
    timeout = 60

    @inlineCallbacks
    def test_ceiling_fans_out(self) -> Any:
        port = reactor.listenTCP(0, Ceiling(), interface="127.0.0.1")  # type: ignore[attr-defined]
        self.addCleanup(port.stopListening)
        target = Target("127.0.0.1", port.getHost().port, "irc", os.getpid())
        result = yield threads.deferToThread(
            load.fanout,
            target,
            members=25,
            senders=2,
            rate=2000.0,
            seconds=0.5,
            probes=3,
            log=lambda line: None,
        )
        self.assertTrue(result["check_ok"], result["check"])
        self.assertEqual(result["delivered"], result["expected_deliveries"])


class LikeForLikeTests(SynchronousTestCase):
    """The ceiling, chatd and InspIRCd listen with the same backlog."""

    def test_ceiling_listens_with_chatds_backlog(self) -> None:
        memory = MemoryReactor()
        with contextlib.redirect_stdout(io.StringIO()):
            ceiling.main(["--port", "0"], reactor=memory)
        [(_, factory, backlog, _)] = memory.tcpServers
        self.assertIsInstance(factory, Ceiling)
        self.assertEqual(backlog, tap.BACKLOG)

    def test_servers_are_started_with_one_backlog(self) -> None:
        argvs: dict[str, list[str]] = {}

        def spawn(
            name: str, kind: str, argv: list[str], ports: Any, workdir: Path, *a: Any
        ) -> None:
            argvs[kind] = argv
            shutil.rmtree(workdir)

        self.patch(servers, "_spawn", spawn)
        servers.start_chatd(sys.executable, "py", None)
        servers.start_ceiling(sys.executable, "py", None)
        endpoints = [a for a in argvs["chatd"] if a.startswith("tcp:")]
        self.assertEqual(len(endpoints), 2)
        for endpoint in endpoints:
            self.assertIn(f":backlog={tap.BACKLOG}", endpoint)
        # the ceiling's command line, as its own main reads it
        argv = argvs["ceiling"]
        self.assertEqual(argv[1:3], ["-m", "chatd.bench.ceiling"])
        memory = MemoryReactor()
        with contextlib.redirect_stdout(io.StringIO()):
            ceiling.main(argv[3:], reactor=memory)
        self.assertEqual(memory.tcpServers[0][2], tap.BACKLOG)
        workdir = Path(self.mktemp())
        workdir.mkdir()
        conf = servers._render("inspircd.conf", workdir, 6667).read_text()
        self.assertIn(f'somaxconn="{tap.BACKLOG}"', conf)


class HistoryTests(SynchronousTestCase):
    """
    The history scenarios against a real chatd keeping history in SQLite
    (a subprocess: the generator blocks, so no reactor is needed here);
    tiny sizes, exact counts, no speed.
    """

    def chatd(self, *extra: str) -> servers.Server:
        server = servers.start_chatd(sys.executable, "py", None, *extra)
        self.addCleanup(server.cleanup)
        self.addCleanup(server.stop)
        return server

    def test_store_keeps_exactly_what_was_accepted(self) -> None:
        server = self.chatd()
        watch = load.StoreWatch(str(server.database))
        self.addCleanup(watch.close)
        result = load.store(
            server.target("irc"),
            watch,
            clients=12,
            size=3,
            rate=100.0,
            seconds=0.5,
            log=lambda line: None,
        )
        self.assertTrue(result["check_ok"], result["check"])
        self.assertEqual(result["room_size"], 3)
        self.assertEqual(result["clients"], 12)
        self.assertEqual(result["messages"], result["accepted"])
        self.assertEqual(result["delivered"], 2 * result["accepted"])
        self.assertEqual(result["rows_kept"], result["accepted"])
        self.assertEqual(server.stop(keep=True), "")
        cli.after_stop(result, watch)
        self.assertEqual(result["kept_after_stop"], result["accepted"])
        self.assertTrue(result["store_ok"], result["store_check"])
        self.assertTrue(result["check_ok"])
        self.assertGreater(result["database_bytes"], 0)
        # and the check can fail
        result["accepted"] += 1
        cli.after_stop(result, watch)
        self.assertFalse(result["store_ok"])
        self.assertFalse(result["check_ok"])
        self.assertIn("FAILED", result["store_check"])

    def test_store_max_watches_every_step(self) -> None:
        server = self.chatd()
        watch = load.StoreWatch(str(server.database))
        self.addCleanup(watch.close)
        result = load.store(
            server.target("json"),
            watch,
            clients=6,
            rate=None,
            step_seconds=0.3,
            start_rate=100.0,
            max_steps=2,
            log=lambda line: None,
        )
        steps = result["steps"]
        assert isinstance(steps, list)
        self.assertEqual(len(steps), 2)
        for step in steps:
            self.assertIn("stored", step)
            self.assertLessEqual(step["stored"], step["messages"])
        self.assertEqual(sum(s["messages"] for s in steps), result["accepted"])
        self.assertEqual(result["rows_kept"], result["accepted"])
        self.assertTrue(result["check_ok"], result["check"])

    def test_without_history_nothing_is_kept(self) -> None:
        server = servers.start_chatd(sys.executable, "py", None, history=False)
        self.addCleanup(server.cleanup)
        self.addCleanup(server.stop)
        self.assertIn("--no-history", server.proc.args)  # type: ignore[operator]
        result = load.store(
            server.target("irc"), None, clients=4, rate=100.0, seconds=0.3, log=len
        )
        self.assertTrue(result["check_ok"], result["check"])
        self.assertEqual(result["delivered"], result["accepted"])
        self.assertIsNone(result["rows_kept"])
        self.assertIsNone(result["kept_per_s"])
        self.assertEqual(load.StoreWatch(str(server.database)).rows(), 0)

    def test_history_read(self) -> None:
        state = Path(self.mktemp()).absolute()
        db = str(state / "chatd.sqlite3")
        built = history.prefill(sys.executable, db, 1000, 7)
        self.assertGreater(built["prefill_per_s"], 0)
        import sqlite3

        with contextlib.closing(sqlite3.connect(db)) as conn:
            counts = dict(
                conn.execute("SELECT target, count(*) FROM history GROUP BY target")
            )
        # 1000 = 6 * 143 + 142: the first six channels get one more
        self.assertEqual(sorted(counts.values()), [142] + [143] * 6)
        server = self.chatd(f"--state-dir={state}")
        result = history.read_latency(
            server.target("irc"),
            server.target("json"),
            1000,
            7,
            queries=20,
            searches=5,
            read_channels=7,
            background_rate=200.0,
            background_clients=4,
            log=lambda line: None,
        )
        self.assertTrue(result["latest_ok"], result["latest_check"])
        self.assertEqual((result["queries"], result["searches"]), (20, 5))
        self.assertTrue(result["check_ok"], result["check"])
        self.assertGreater(result["background_sent"], 0)
        # again, on the same store: the background's channels are new, so
        # joining replays none of the last run's messages; in channels of
        # three, each message is delivered to two members
        again = history.read_latency(
            server.target("irc"),
            server.target("json"),
            1000,
            7,
            queries=2,
            searches=1,
            background_rate=200.0,
            background_clients=6,
            background_members=3,
            log=lambda line: None,
        )
        self.assertTrue(again["check_ok"], again["check"])
        self.assertEqual(again["background_members"], 3)
        self.assertEqual(again["delivered"], 2 * again["background_sent"])

    def test_a_short_latest_is_caught(self) -> None:
        """More messages claimed than kept: every LATEST comes back short."""
        state = Path(self.mktemp()).absolute()
        history.prefill(sys.executable, str(state / "chatd.sqlite3"), 40, 1)
        server = self.chatd(f"--state-dir={state}")
        result = history.read_latency(
            server.target("irc"),
            server.target("json"),
            1000,
            1,
            queries=3,
            searches=1,
            background_rate=0,
            log=lambda line: None,
        )
        self.assertFalse(result["latest_ok"])
        self.assertIn("#h0: 40 messages", result["latest_check"])


class HistoryCompareTests(SynchronousTestCase):
    def test_both_runs_chatd_with_and_without(self) -> None:
        args = cli.parse_args(
            ["compare", "--servers", "chatd-irc,ceiling", "--history", "both"]
        )
        rows = cli._contenders(args, [("py", sys.executable)])
        self.assertEqual(
            [r[0] for r in rows],
            ["chatd IRC (py)", "chatd IRC no history (py)", "bare Twisted (py)"],
        )
        started: list[tuple[Any, ...]] = []
        self.patch(
            servers,
            "start_chatd",
            lambda *a, **kw: started.append((a, kw)),  # type: ignore[func-returns-value]
        )
        rows[0][2](None)
        rows[1][2](None)
        self.assertEqual([kw["history"] for _, kw in started], [True, False])

    def test_history_table(self) -> None:
        names = ["chatd IRC (py)", "chatd IRC no history (py)", "bare Twisted (py)"]
        results = [
            {"server": names[0], "measure": "max", "deliveries_per_s": 900},
            {"server": names[0], "measure": "max", "deliveries_per_s": 800},
            {"server": names[0], "measure": "max", "deliveries_per_s": 700},
            {"server": names[1], "measure": "max", "deliveries_per_s": 1000},
            {"server": names[0], "measure": "rooms", "sustained_messages_per_s": 90},
            {"server": names[1], "measure": "rooms", "sustained_messages_per_s": 100},
        ]
        table = cli.history_table(results, names)
        self.assertIn(
            "| chatd IRC (py) | 800 / 1,000 | 0.80 | 90 / 100 | 0.90 |", table
        )
        self.assertEqual(table.count("\n"), 2)
        self.assertEqual(cli.history_table(results, names[:1]), "")


class RateSearchTests(SynchronousTestCase):
    """The search for the maximum, step by step, without a server."""

    def step(self, offered: float, passed: bool) -> Step:
        due = int(offered)
        step = Step(offered, expected=due, on_time=due if passed else due // 2)
        step.seconds = 1.0
        step.latencies = array("q", [1_000_000])
        self.assertEqual(step.passed(), passed)
        return step

    def test_up_then_bisect(self) -> None:
        search = RateSearch(1000.0)
        self.assertEqual(search.next(self.step(1000.0, True), True), 1500.0)
        self.assertEqual(search.next(self.step(1500.0, True), True), 2250.0)
        self.assertEqual(search.next(self.step(2250.0, False), True), 1875.0)
        self.assertEqual(search.next(self.step(1875.0, True), True), 2062.5)
        self.assertEqual(search.next(self.step(2062.5, True), True), 2156.25)
        # 2250 / 2156.25 < 1.08: close enough
        self.assertIsNone(search.next(self.step(2156.25, True), True))
        assert search.best is not None
        self.assertEqual(search.best.offered, 2156.25)

    def test_a_first_failure_looks_lower(self) -> None:
        search = RateSearch(1000.0)
        self.assertEqual(search.next(self.step(1000.0, False), True), 625.0)

    def test_a_step_the_store_fell_behind_on_fails(self) -> None:
        step = self.step(1000.0, True)
        step.sent = 10
        step.stored = 9
        self.assertFalse(step.passed())
        step.stored = 10
        self.assertTrue(step.passed())
        self.assertEqual(step.as_dict()["kept_per_s"], 10)

    def test_a_server_still_catching_up_ends_the_search(self) -> None:
        search = RateSearch(1000.0)
        self.assertIsNone(search.next(self.step(1000.0, False), False))


class CheckTests(SynchronousTestCase):
    """The delivery check itself: it must see what a broken server does."""

    def setUp(self) -> None:
        self.load = Load("127.0.0.1", 1, DIALECTS["irc"])
        self.addCleanup(self.load.close)

    def receiver(self, index: int, probe: bool) -> tuple[Client, socket.socket]:
        ours, theirs = socket.socketpair()
        self.addCleanup(theirs.close)
        ours.setblocking(False)
        client = Client(index, f"c{index}", ("#c",))
        client.sock, client.fd, client.probe = ours, ours.fileno(), probe
        self.load.clients.append(client)
        self.load.by_fd[client.fd] = client
        self.load.members.setdefault("#c", []).append(client)
        return client, theirs

    def feed(
        self, client: Client, wire: socket.socket, seqs: list[int], stream: int = 0
    ) -> None:
        lines = b"".join(
            b":s!u@h PRIVMSG #c :B%d %d %d\r\n" % (stream, seq, 10**9) for seq in seqs
        )
        half = len(lines) // 2 + 3  # split a line across two reads
        step = Step(1.0)
        for part in (lines[:half], lines[half:]):
            wire.sendall(part)
            self.load._read(client, 2 * 10**9, step)
        self.assertEqual(len(step.latencies), len(seqs) if client.probe else 0)

    def stream(self, sent: int) -> None:
        sender = Client(99 + len(self.load.streams), "s", ("#c",))
        self.load.members["#c"].append(sender)
        self.load.add_stream(sender, "#c").sent = sent

    def test_exact_delivery_passes(self) -> None:
        probe, wire = self.receiver(0, probe=True)
        counter, wire2 = self.receiver(1, probe=False)
        self.feed(probe, wire, [0, 1, 2, 3])
        self.feed(counter, wire2, [0, 1, 2, 3])
        self.stream(4)
        check = self.load.check()
        self.assertTrue(check.ok, check.summary())
        self.assertEqual((check.delivered, check.expected), (8, 8))

    def test_loss_duplicates_and_reordering_fail(self) -> None:
        lossy, w1 = self.receiver(0, probe=False)
        doubled, w2 = self.receiver(1, probe=False)
        shuffled, w3 = self.receiver(2, probe=True)
        self.feed(lossy, w1, [0, 1, 3])
        self.feed(doubled, w2, [0, 1, 2, 3, 3])
        self.feed(shuffled, w3, [0, 2, 1, 3])
        self.stream(4)
        check = self.load.check()
        self.assertFalse(check.ok)
        self.assertEqual((check.lost, check.duplicated), (1, 1))
        self.assertEqual(check.reordered, 1)  # 1 came after 2
        self.assertIn("FAILED: 1 lost, 1 duplicated, 1 out of order", check.summary())

    def test_a_probe_sees_a_loss_and_a_duplicate_apart(self) -> None:
        """
        A probe checks each stream: one message lost and another twice is
        not the right count, and one stream short and another over is not
        the right total.
        """
        probe, wire = self.receiver(0, probe=True)
        self.feed(probe, wire, [0, 1, 3, 3])
        self.stream(4)
        check = self.load.check()
        self.assertFalse(check.ok)
        self.assertEqual((check.lost, check.duplicated, check.reordered), (1, 1, 0))

        self.load.close()
        self.load = Load("127.0.0.1", 1, DIALECTS["irc"])
        probe, wire = self.receiver(0, probe=True)
        self.feed(probe, wire, [0, 1, 2, 3, 4], stream=0)  # 4 was never sent
        self.feed(probe, wire, [0, 1, 2], stream=1)  # 3 is lost
        self.stream(4)
        self.stream(4)
        check = self.load.check()
        self.assertFalse(check.ok)
        self.assertEqual((check.lost, check.never_sent), (1, 1))
        self.assertIn("1 lost", check.summary())

    def test_what_a_pass_says_it_checked(self) -> None:
        """Counters are checked by their totals, and the summary says so."""
        probe, wire = self.receiver(0, probe=True)
        counter, wire2 = self.receiver(1, probe=False)
        self.feed(probe, wire, [0, 1, 2])
        self.feed(counter, wire2, [0, 2, 2])  # cancels out on a counter
        self.stream(3)
        check = self.load.check()
        self.assertTrue(check.ok, check.summary())
        self.assertEqual(
            check.summary(),
            "ok: 6 deliveries to 2 receivers; 1 probes got every stream's "
            "messages exactly once, in order, and the other 1 got as many as "
            "were sent",
        )

    def test_a_server_still_sending_is_late_not_lossy(self) -> None:
        """
        When the server has not gone quiet by the time the check runs, what
        is missing may still come: the check fails, saying so, rather than
        calling it lost.
        """
        late, wire = self.receiver(0, probe=False)
        self.feed(late, wire, [0, 1])
        self.stream(4)
        check = self.load.check(drained=False)
        self.assertFalse(check.ok)
        self.assertIn(
            "FAILED: 2 still undelivered while the server kept sending",
            check.summary(),
        )

    def test_pings_are_answered(self) -> None:
        client, wire = self.receiver(0, probe=False)
        wire.sendall(b"PING :abc\r\n:s!u@h PRIVMSG #c :B0 0 1\r\n")
        self.load._read(client, 0, None)
        self.assertEqual(wire.recv(100), b"PONG :abc\r\n")
        self.assertEqual(client.count, 1)


class CompareTests(SynchronousTestCase):
    """
    C{chatd-bench compare} starts real servers (chatd under twistd, and the
    ceiling) as subprocesses, so this is the slowest test here.
    """

    def test_compare_table_and_results(self) -> None:
        tmp = Path(self.mktemp())
        tmp.mkdir()
        results = tmp / "results.jsonl"
        png = tmp / "latency.png"
        args = cli.parse_args(
            [
                "compare",
                "--servers",
                "chatd-irc,chatd-json,ceiling",
                "--measures",
                "max,p99,idle,storm",
                "--members",
                "20",
                "--senders",
                "2",
                "--p99-rate",
                "2000",
                "--seconds",
                "0.3",
                "--step-seconds",
                "0.3",
                "--idle-clients",
                "30",
                "--storm-clients",
                "40",
                "--max-seconds",
                "1",
                "--start-rate",
                "1000",
                "--results",
                str(results),
                "--plot",
                str(png) if HAVE_MATPLOTLIB else "-",
                "--no-pin",
            ]
        )
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            out = cli.compare(args)
        self.assertEqual(len(out), 12)  # 4 measures x 3 servers
        saved = [json.loads(line) for line in results.read_text().splitlines()]
        self.assertEqual([r["measure"] for r in saved], [r["measure"] for r in out])
        for r in saved:
            self.assertNotIn("error", r)
            self.assertTrue(r["check_ok"], r)
        impl = f"({cli.platform.python_implementation()})"
        table = printed.getvalue()
        for row in (f"| chatd IRC {impl} |", f"| chatd JSON {impl} |"):
            line = next(x for x in table.splitlines() if x.startswith(row))
            self.assertRegex(line, r"\(\d+\.\d\dx\)")  # ratios to the ceiling
            self.assertTrue(line.endswith("| ok |"), line)
        if HAVE_MATPLOTLIB:
            self.assertEqual(png.read_bytes()[:8], b"\x89PNG\r\n\x1a\n")

    def test_interpreters_given_relative_are_found(self) -> None:
        """Servers start elsewhere, so a relative --python is made absolute."""
        args = cli.parse_args(["fanout", "--python", ".venv/bin/python"])
        self.assertEqual(args.python, os.path.join(os.getcwd(), ".venv/bin/python"))
        args = cli.parse_args(["compare", "--python", "PyPy=.venv-pypy/bin/python"])
        self.assertEqual(
            args.python, [("PyPy", os.path.join(os.getcwd(), ".venv-pypy/bin/python"))]
        )

    def test_bad_arguments(self) -> None:
        e = self.assertRaises(SystemExit, cli.parse_args, ["fanout", "--rate", "fast"])
        self.assertEqual(e.code, 2)
        e = self.assertRaises(
            SystemExit,
            cli.main,
            ["fanout", "--target", "127.0.0.1:1", "--results", "-", "--no-pin"],
        )
        self.assertIn("cannot connect to 127.0.0.1:1", str(e.code))


class SoakCheckTests(SynchronousTestCase):
    """The soak's own bookkeeping: it must see what a broken server does."""

    def streams(self) -> dict[int, Stream]:
        a = Stream(1, "talker", "json")
        for _ in range(5):
            a.take(10)
        a.confirmed = {0, 1, 2, 4}
        a.refused = {3}
        b = Stream(2, "talker", "irc")
        b.take(0)
        b.take(0)
        b.confirmed = {0}  # 1 was sent but never confirmed
        return {1: a, 2: b}

    def test_exact_delivery_passes(self) -> None:
        got = {1: [0, 1, 2, 4], 2: [0, 1]}
        d = check_deliveries(self.streams(), [got, got], complete=True)
        self.assertTrue(d.ok, d.problems())
        self.assertEqual((d.confirmed, d.expected, d.delivered), (5, 10, 10))
        self.assertEqual(d.unconfirmed, 2)  # allowed: it may or may not arrive

    def test_loss_duplicates_reordering_and_refused_fail(self) -> None:
        streams = self.streams()
        lossy = {1: [0, 2, 4], 2: [0]}
        doubled = {1: [0, 1, 1, 2, 4], 2: [0]}
        shuffled = {1: [0, 2, 1, 4], 2: [0]}
        refused = {1: [0, 1, 2, 3, 4], 2: [0]}
        invented = {1: [0, 1, 2, 4, 9], 2: [0], 7: [0]}
        for got, field in (
            (lossy, "lost"),
            (doubled, "duplicated"),
            (shuffled, "reordered"),
            (refused, "refused_delivered"),
            (invented, "never_sent"),
        ):
            d = check_deliveries(streams, [got], complete=True)
            self.assertFalse(d.ok, field)
            self.assertGreater(getattr(d, field), 0, field)
        # members that joined late are not held to completeness
        d = check_deliveries(streams, [{1: [2, 4]}], complete=False)
        self.assertTrue(d.ok)

    def test_texts_are_checkable(self) -> None:
        text = stamped(12, 7, 30)
        match = STAMP.match(text)
        assert match is not None
        self.assertEqual([int(g) for g in match.groups()], [12, 7, 30])
        self.assertNotEqual(text, stamped(12, 8, 30))

    def test_irc_lines(self) -> None:
        self.assertEqual(
            parse_irc("@msgid=a1;time=x :n!u@h PRIVMSG #soak :hi there"),
            ({"msgid": "a1", "time": "x"}, "n!u@h", "PRIVMSG", ["#soak", "hi there"]),
        )
        self.assertEqual(
            parse_irc(":s 001 me :Welcome"), ({}, "s", "001", ["me", "Welcome"])
        )
        for bad in ("", ":only", "@tags", ":p  CMD", "12345 x", "PRIVMSG  #a :x"):
            self.assertIsNone(parse_irc(bad), bad)
        self.assertEqual(
            irc_close_code("Closing Link: 127.0.0.5 (Excess Flood)"),
            ("flood", "Excess Flood"),
        )

    def test_a_names_reply_is_not_a_join(self) -> None:
        """
        A talker asks NAMES of rooms it is not in: their 366 must not make
        it think it joined (it then set topics there, and was told 442).
        """
        s = Soak(task.Clock(), {}, Options(clients=20), os.getpid(), lambda line: None)
        talker = Talker(s, "irc", random.Random(1), "t0x1")
        conn = IRCConn(talker)
        conn.me = "t0x1"
        conn.line(b":srv 366 t0x1 #room7 :End of /NAMES list.\r")
        self.assertEqual(talker.rooms, {})
        conn.join("#ROOM7")
        conn.line(b":srv 366 t0x1 #room7 :End of /NAMES list.\r")
        self.assertEqual(talker.rooms, {"#room7": "#room7"})

    def test_roles_and_addresses(self) -> None:
        for clients in (20, 40, 300, 2000):
            counts = role_counts(clients)
            self.assertGreaterEqual(counts["storm"], 17)  # > --max-per-ip 16
            self.assertEqual(
                sum(counts.values()) - counts["storm"], clients - round(0.14 * clients)
            )
        pool = AddressPool(["127.0.0.2", "127.0.0.3"], random.Random(1))
        taken = [pool.take(0.0) for _ in range(2 * PER_ADDRESS)]
        self.assertNotIn(None, taken)
        self.assertEqual(taken.count("127.0.0.2"), PER_ADDRESS)
        self.assertIsNone(pool.take(0.0))  # both at PER_ADDRESS at once
        for address in taken:
            assert address is not None
            pool.release(address)
        # connect and go at once: at most CONNECTS_PER_MINUTE a minute each
        more = 0
        for _ in range(10 * CONNECTS_PER_MINUTE):  # a pool never dry fails
            address = pool.take(1.0)
            if address is None:
                break
            pool.release(address)
            more += 1
        self.assertEqual(more, 2 * (CONNECTS_PER_MINUTE - PER_ADDRESS))
        self.assertIsNotNone(pool.take(60.5))  # the first ones are a minute old

    def test_soak_arguments_are_bounded(self) -> None:
        for argv in (
            ["soak", "--clients", "2001"],
            ["soak", "--clients", "5"],
            ["soak", "--duration", "601"],
            ["soak", "--duration", "0"],
        ):
            with contextlib.redirect_stderr(io.StringIO()):
                e = self.assertRaises(SystemExit, cli.parse_args, argv)
            self.assertEqual(e.code, 2, argv)
        args = cli.parse_args(["soak"])
        self.assertEqual((args.clients, args.duration), (300, 60.0))


#: The end of a clean server log.
CLEAN_LOG = "chatd stopped\n"


class SoakVerdictTests(SynchronousTestCase):
    """
    Each of the soak's checks against a run's records: ok on clean ones,
    FAILED on the fault it is there to see.
    """

    def setUp(self) -> None:
        s = self.soak = Soak(
            task.Clock(),
            {"json": 1, "irc": 2},
            Options(clients=20, duration=10.0),
            os.getpid(),
            log=lambda line: None,
        )
        rng = random.Random(1)
        self.talker = Talker(s, "irc", rng, "t0x1")
        self.stream = self.talker.new_stream()
        for _ in range(3):
            s.confirm(self.stream.id, self.stream.take(5))  # echoed
        reader = Reader(s, "json", rng, "r0x1")
        reader.received = {self.stream.id: array("i", [0, 1, 2])}
        s.readers = [reader]
        s.state["synced"] = True
        s.state["after"] = {
            "json_channels": [],
            "irc_channels": [],
            "users": 1,
            "unregistered": 0,
            "online": [],
            "nicks_checked": 2,
        }
        s.rss = {"before": 50 << 20, "after": 51 << 20, "peak": 52 << 20}
        s.timeline = {"load": 0.0, "stop": 0.0}

    def verdict(self, log: str = CLEAN_LOG) -> dict[str, str]:
        checks = self.soak.checks(log, -signal.SIGTERM)
        failed = [c.line() for c in checks if c.status == "FAILED"]
        statuses: dict[str, str] = {}
        for c in checks:  # a name may come twice: a failure wins
            if statuses.get(c.name) != "FAILED":
                statuses[c.name] = c.status
        statuses["failed"] = "\n".join(failed)
        return statuses

    def assertFails(self, name: str) -> None:
        verdict = self.verdict()
        self.assertEqual(verdict.get(name), "FAILED", verdict["failed"])

    def test_clean_records_pass(self) -> None:
        verdict = self.verdict()
        self.assertEqual(verdict["failed"], "")
        for name in ("delivery", "acks", "honest errors", "connections", "server log"):
            self.assertEqual(verdict[name], "ok", name)

    def test_a_lost_delivery(self) -> None:
        self.soak.readers[0].received[self.stream.id] = array("i", [0, 2])
        self.assertFails("delivery")

    def test_an_irc_message_never_echoed(self) -> None:
        """The server took no notice of a message (nor passed it on)."""
        self.stream.take(5)
        self.assertFails("acks")

    def test_an_unanswered_message_before_an_answered_one(self) -> None:
        """Even on a connection we reset: a later one was answered."""
        middle = self.stream.take(5)
        self.soak.confirm(self.stream.id, self.stream.take(5))
        self.soak.readers[0].received[self.stream.id].extend([middle, middle + 1])
        self.stream.reset = True
        self.assertFails("acks")

    def test_the_last_messages_before_our_reset_may_go_unanswered(self) -> None:
        self.stream.take(5)
        self.stream.reset = True
        self.assertEqual(self.verdict()["acks"], "ok")

    def test_a_json_message_refused_for_another_reason(self) -> None:
        stream = Talker(self.soak, "json", random.Random(2), "t1x1").new_stream()
        self.soak.refuse(stream.id, stream.take(5))  # rate_limited: answered
        self.soak.confirm(stream.id, stream.take(5))
        self.assertEqual(self.verdict()["acks"], "ok")
        stream.take(5)  # answered with some other error
        self.soak.confirm(stream.id, stream.take(5))
        self.assertFails("acks")

    def test_an_ok_for_a_message_never_sent(self) -> None:
        self.soak.confirm(self.stream.id, 99)
        self.assertFails("acks")

    def test_errors_honest_clients_should_not_get(self) -> None:
        stats = self.soak.stats[("talker", "json")]
        for code in HONEST_ERRORS:
            stats[f"error:{code}"] += 1
        self.assertEqual(self.verdict()["honest errors"], "ok")
        self.talker.error("cannot_send")
        self.assertFails("honest errors")

    def test_a_client_that_could_not_connect(self) -> None:
        self.talker.failed(Failure(ConnectionRefusedError()))
        self.assertFails("connections")

    def test_clients_not_gone_after_the_end(self) -> None:
        self.soak.symptom("not_gone", "talker t0x1 (irc)", 2)
        self.assertFails("connections")

    def test_the_generators_own_errors_and_notes(self) -> None:
        self.soak.note_once("the address pool ran dry, so a client waited")
        verdict = self.verdict()
        self.assertEqual(verdict["generator"], "note")
        self.assertEqual(verdict["failed"], "")
        self.soak.bench_errors.append("bench error: Traceback ...")
        self.assertFails("generator")

    def test_trouble_in_the_server_log(self) -> None:
        for line in ("Traceback (most recent call last):", "inconsistent state: x"):
            verdict = self.verdict(line + "\n" + CLEAN_LOG)
            self.assertEqual(verdict["server log"], "FAILED", line)


class CompareVerdictTests(SynchronousTestCase):
    """A row of C{compare} is not ok when its server's log shows trouble."""

    def results(self, log: str) -> list[dict[str, Any]]:
        out = []
        for server in ("chatd IRC (py)", "bare Twisted (py)"):
            result: dict[str, Any] = {"check_ok": True, "deliveries_per_s": 10}
            if server.startswith("chatd"):
                cli._log_trouble(result, server, log)
            out.append(
                cli._stamp(result, server=server, label="py", measure="max", round=1)
            )
        return out

    def row(self, table: str, server: str) -> str:
        return next(x for x in table.splitlines() if x.startswith(f"| {server} |"))

    def test_trouble_fails_the_row(self) -> None:
        names = ["chatd IRC (py)", "bare Twisted (py)"]
        with contextlib.redirect_stdout(io.StringIO()):
            clean = cli.comparison_table(self.results(""), names)
            bad = cli.comparison_table(
                self.results("x\ninconsistent state: #a is empty\n"), names
            )
        self.assertTrue(self.row(clean, "chatd IRC (py)").endswith("| ok |"))
        self.assertTrue(self.row(bad, "chatd IRC (py)").endswith("| FAILED |"))
        self.assertTrue(self.row(bad, "bare Twisted (py)").endswith("| ok |"))

    def test_stop_returns_a_log_with_trouble(self) -> None:
        proc = subprocess.Popen([sys.executable, "-c", "pass"])
        proc.wait()
        for text, trouble in (
            ("chatd stopped\n", ""),
            ("inconsistent state: #a is empty\n", "inconsistent state: #a is empty"),
            ("Unhandled error in Deferred:\n", "Unhandled error in Deferred:"),
            ("Traceback (most recent call last):\n", "Traceback"),
        ):
            workdir = Path(self.mktemp())
            workdir.mkdir()
            log = workdir / "server.log"
            log.write_text(text)
            server = servers.Server("chatd", "chatd", proc, {}, workdir, None, log)
            got = server.stop()
            self.assertEqual(servers.first_trouble(got)[: len(trouble)], trouble)
            self.assertEqual(bool(got), bool(trouble), text)


class SoakTests(SynchronousTestCase):
    """
    C{chatd-bench soak} for real: chatd under twistd and a few dozen
    clients for a few seconds, in a process of its own (the soak runs the
    global reactor, which trial shares with every other test here).
    """

    def test_soak(self) -> None:
        tmp = Path(self.mktemp())
        tmp.mkdir()
        results = tmp / "soak.jsonl"
        argv = [
            sys.executable,
            "-m",
            "chatd.bench",
            "soak",
            "--clients",
            "60",
            "--duration",
            "8",
            "--seed",
            "11",
            "--register-timeout",
            "1.5",
            "--max-sendq",
            "256K",
            "--results",
            str(results),
            "--no-pin",
        ]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        out = run.stdout + run.stderr
        [result] = [json.loads(line) for line in results.read_text().splitlines()]
        failed = [c for c in result["checks"] if c["status"] == "FAILED"]
        self.assertEqual(failed, [], out)
        self.assertEqual(run.returncode, 0, out)
        self.assertTrue(result["check_ok"])
        self.assertIn("soak passed", run.stdout)
        names = {c["name"]: c["status"] for c in result["checks"]}
        for name in (
            "delivery",
            "integrity",
            "honest clients",
            "honest errors",
            "acks",
            "connections",
            "garbage",
            "endings",
            "output",
            "state",
            "memory",
            "server alive",
            "server log",
        ):
            self.assertEqual(names.get(name), "ok", name)
        # Each abuse must meet its limit once the run has lasted long enough
        # for it; how long that is depends on how fast this machine is now,
        # and the check says "note" when the run was too short to tell.
        for name in ("flood control", "sendq", "registration timeout"):
            self.assertIn(names.get(name), ("ok", "note"), name)
        self.assertIn(names.get("per-address limits"), ("ok", "note"))

        def total(role: str, key: str) -> int:
            return sum(
                r["all"].get(key, 0) for r in result["roles"] if r["role"] == role
            )

        # the honest ones talked, and were heard
        self.assertGreater(result["messages_ok"], 0)
        self.assertGreater(total("reader", "received"), 0)
        self.assertEqual(result["state"]["json_channels"], [])
        self.assertEqual(result["state"]["online"], [])

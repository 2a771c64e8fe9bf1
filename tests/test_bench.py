"""
chatd-bench, kept from rotting: every scenario runs for about a second
against an in-process chatd (and the bare ceiling server), and the delivery
check is shown to catch loss, duplicates and reordering.

The generator blocks on its own C{epoll} loop, so it runs in a thread
(C{deferToThread}) while the test's reactor serves chatd.  Nothing here
asserts how fast anything is: only that the figures are there and that
every message reached every member exactly once, in order.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

from twisted.internet import reactor, task, threads
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatd.bench import cli, load, soak
from chatd.bench.ceiling import Ceiling
from chatd.bench.load import DIALECTS, Client, Load, Step, Target
from chatd.core import Chat
from chatd.irc import IRCFactory
from chatd.limits import FloodLimit
from chatd.protocol import ChatFactory
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
        Every message reached every member once, in order; and once the
        server has read the generator's closes, every client has gone.
        """
        self.assertTrue(result["check_ok"], result["check"])
        self.assertIn("each exactly once", result["check"])
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
            self.assertGreater(result["samples"], 0)
            self.assertGreater(result["deliveries_per_s"], 0)
            yield self.assertDelivered(result)
            # 3000/s to 29 others for half a second: about 50 messages
            self.assertGreater(result["steps"][0]["achieved"], 0)

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
        offered = [s["offered"] for s in result["steps"]]
        self.assertEqual(len(offered), 2)
        self.assertEqual(offered[1], offered[0] * 1.5)  # stepping up
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
        self.assertIsNotNone(result["server_cpu_ms_per_1000"])
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
        self.assertGreater(result["samples"], 0)


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

    def feed(self, client: Client, wire: socket.socket, seqs: list[int]) -> None:
        lines = b"".join(
            b":s!u@h PRIVMSG #c :B0 %d %d\r\n" % (seq, 10**9) for seq in seqs
        )
        half = len(lines) // 2 + 3  # split a line across two reads
        step = Step(1.0)
        for part in (lines[:half], lines[half:]):
            wire.sendall(part)
            self.load._read(client, 2 * 10**9, step)
        self.assertEqual(len(step.latencies), len(seqs) if client.probe else 0)

    def stream(self, sent: int) -> None:
        sender = Client(99, "s", ("#c",))
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
        self.assertEqual(check.reordered, 2)  # 2 came early, 1 came late
        self.assertIn("FAILED: 1 lost, 1 duplicated, 2 out of order", check.summary())

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

    def streams(self) -> dict[int, soak.Stream]:
        a = soak.Stream(1, "talker", "json")
        for _ in range(5):
            a.take(10)
        a.confirmed = {0, 1, 2, 4}
        a.refused = {3}
        b = soak.Stream(2, "talker", "irc")
        b.take(0)
        b.take(0)
        b.confirmed = {0}  # 1 was sent but never confirmed
        return {1: a, 2: b}

    def test_exact_delivery_passes(self) -> None:
        got = {1: [0, 1, 2, 4], 2: [0, 1]}
        d = soak.check_deliveries(self.streams(), [got, got], complete=True)
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
            d = soak.check_deliveries(streams, [got], complete=True)
            self.assertFalse(d.ok, field)
            self.assertGreater(getattr(d, field), 0, field)
        # members that joined late are not held to completeness
        d = soak.check_deliveries(streams, [{1: [2, 4]}], complete=False)
        self.assertTrue(d.ok)

    def test_texts_are_checkable(self) -> None:
        text = soak.stamped(12, 7, 30)
        match = soak.STAMP.match(text)
        assert match is not None
        self.assertEqual([int(g) for g in match.groups()], [12, 7, 30])
        self.assertNotEqual(text, soak.stamped(12, 8, 30))

    def test_irc_lines(self) -> None:
        self.assertEqual(
            soak.parse_irc("@msgid=a1;time=x :n!u@h PRIVMSG #soak :hi there"),
            ({"msgid": "a1", "time": "x"}, "n!u@h", "PRIVMSG", ["#soak", "hi there"]),
        )
        self.assertEqual(
            soak.parse_irc(":s 001 me :Welcome"), ({}, "s", "001", ["me", "Welcome"])
        )
        for bad in ("", ":only", "@tags", ":p  CMD", "12345 x", "PRIVMSG  #a :x"):
            self.assertIsNone(soak.parse_irc(bad), bad)
        self.assertEqual(
            soak.irc_close_code("Closing Link: 127.0.0.5 (Excess Flood)"),
            ("flood", "Excess Flood"),
        )

    def test_roles_and_addresses(self) -> None:
        for clients in (20, 40, 300, 2000):
            counts = soak.role_counts(clients)
            self.assertGreaterEqual(counts["storm"], 17)  # > --max-per-ip 16
            self.assertEqual(
                sum(counts.values()) - counts["storm"], clients - round(0.14 * clients)
            )
        pool = soak.AddressPool(["127.0.0.2", "127.0.0.3"], random.Random(1))
        taken = [pool.take(0.0) for _ in range(2 * soak.PER_ADDRESS)]
        self.assertNotIn(None, taken)
        self.assertEqual(taken.count("127.0.0.2"), soak.PER_ADDRESS)
        self.assertIsNone(pool.take(0.0))  # both at PER_ADDRESS at once
        for address in taken:
            assert address is not None
            pool.release(address)
        # connect and go at once: at most CONNECTS_PER_MINUTE a minute each
        more = 0
        while (address := pool.take(1.0)) is not None:
            pool.release(address)
            more += 1
        self.assertEqual(more, 2 * (soak.CONNECTS_PER_MINUTE - soak.PER_ADDRESS))
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
            "flood control",
            "sendq",
            "registration timeout",
            "per-address limits",
            "endings",
            "output",
            "state",
            "memory",
            "server alive",
            "server log",
        ):
            self.assertEqual(names.get(name), "ok", name)

        def total(role: str, key: str) -> int:
            return sum(
                r["all"].get(key, 0) for r in result["roles"] if r["role"] == role
            )

        # each abuse met its limit in those few seconds
        self.assertGreater(total("flooder", "bye:flood"), 0)
        self.assertGreater(total("never_reader", "sendq_drops"), 0)
        self.assertGreater(total("silent", "bye:register_timeout"), 0)
        self.assertGreater(total("storm", "bye:too_many_connections"), 0)
        self.assertGreater(total("storm", "bye:connecting_too_fast"), 0)
        # and the honest ones talked, and were heard
        self.assertGreater(result["messages_ok"], 20)
        self.assertGreater(total("reader", "received"), 0)
        self.assertEqual(result["state"]["json_channels"], [])
        self.assertEqual(result["state"]["online"], [])

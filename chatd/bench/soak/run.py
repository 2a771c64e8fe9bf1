# -*- test-case-name: tests.test_bench -*-
"""
A soak's run: start chatd, bring the clients on in their slots (readers
first, then everyone else, and the storm's waves), hold the load, wind
down, ask a fresh client what is left, stop chatd; and the server's
command line (L{server_args}).
"""

from __future__ import annotations

import os
import random
import re
import signal
import tempfile
import time
from collections import Counter
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, Callable, cast

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from chatd.bench import servers
from chatd.bench.load import BenchError, process_cpu, process_rss, raise_fd_limit
from chatd.bench.soak.abusers import Flooder, NeverReader, Silent, StormClient
from chatd.bench.soak.checks import Check, verdict
from chatd.bench.soak.conns import IRCConn, JSONConn, connect
from chatd.bench.soak.garbage import Garbage
from chatd.bench.soak.honest import Reader, Talker
from chatd.bench.soak.options import (
    CHANNEL,
    DELIVERY_BUDGET,
    MAX_CLIENTS,
    MAX_DURATION,
    MIN_CLIENTS,
    ROLE_NAMES,
    ROLES,
    Options,
    sendq_bytes,
)
from chatd.bench.soak.records import Records
from chatd.bench.soak.report import result
from chatd.bench.soak.session import Session

#: How often the generator measures how late its own reactor runs.
LAG_TICK = 0.1
STORM_WAVE_SECONDS = 2.0
STORM_ADDRESS = "127.1.0.1"


class StateChecker(Session):
    """After the run: what a fresh client sees of the server."""

    role = "checker"

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.listed: list[str] | None = None
        self.users: int | None = None
        self.unknown = 0
        self.online: list[str] = []
        self.done = False

    def connected(self) -> None:
        conn = self.conn
        assert conn is not None
        if isinstance(conn, JSONConn):
            conn.request("list", "state")
        else:
            conn.register(self.nick)

    def reply(self, cmd: str, ok: bool, what: object, obj: dict[str, Any]) -> None:
        if what == "state" and ok:
            self.listed = [c["channel"] for c in obj["channels"]]
            self.done = True
            self.leave()

    def registered(self, nick: str) -> None:
        conn = self.conn
        assert isinstance(conn, IRCConn)
        self.listed = []
        lines = ["LUSERS", "LIST"]
        batch: list[str] = []
        for nick in sorted(self.soak.used_nicks):
            batch.append(nick)
            if sum(len(n) + 1 for n in batch) > 380:
                lines.append("ISON " + " ".join(batch))
                batch = []
        if batch:
            lines.append("ISON " + " ".join(batch))
        lines.append("PING :state")
        conn.write("".join(line + "\r\n" for line in lines).encode())

    def numeric(self, command: str, params: list[str]) -> None:
        if command == "255" and params:
            match = re.search(r"I have (\d+) clients", params[-1])
            if match:
                self.users = int(match.group(1))
        elif command == "253" and len(params) >= 2:
            self.unknown = int(params[1])
        elif command == "322" and len(params) >= 2 and self.listed is not None:
            self.listed.append(params[1])
        elif command == "303" and params:
            self.online.extend(n for n in params[-1].split() if n)

    def pong(self, token: str) -> None:
        if token == "state":
            self.done = True
            self.leave()

    def lost(self) -> None:
        self.leaving = True
        super().lost()


# -- the run ---------------------------------------------------------------


class Slot:
    """One of the --clients places: its role's sessions, one after another."""

    def __init__(self, soak: Soak, role: str, index: int, proto: str) -> None:
        self.soak = soak
        self.role = role
        self.index = index
        self.proto = proto
        self.rng = random.Random(f"{soak.seed}:{role}:{index}")
        self.generation = 0
        self.session: Session | None = None

    def start(self) -> None:
        soak = self.soak
        if soak.stopping:
            return
        address = soak.pool.take(soak.now())
        if address is None:
            soak.note_once("the address pool ran dry, so a client waited")
            soak.reactor.callLater(1.0, self.start)
            return
        self.generation += 1
        prefix = {
            "reader": "r",
            "talker": "t",
            "flooder": "f",
            "never_reader": "n",
            "garbage": "g",
            "silent": "s",
        }[self.role]
        nick = f"{prefix}{self.index}x{self.generation}"
        cls = SESSIONS[self.role]
        if cls is NeverReader:
            # JSON passive, IRC active, JSON active, IRC passive, ...
            active = self.index % 4 in (1, 2)
            session: Session = NeverReader(
                soak, self.proto, self.rng, nick, self, active=active
            )
        else:
            session = cls(soak, self.proto, self.rng, nick, self)
        self.session = session
        session.start(address)

    def over(self, session: Session, delay: float = 1.0) -> None:
        if not self.soak.stopping:
            self.soak.reactor.callLater(delay, self.start)


SESSIONS: dict[str, type[Session]] = {
    "reader": Reader,
    "talker": Talker,
    "flooder": Flooder,
    "never_reader": NeverReader,
    "garbage": Garbage,
    "silent": Silent,
    "storm": StormClient,
}


class Soak(Records):
    """The clients and the run's timeline (what they record: L{Records})."""

    def __init__(
        self,
        reactor: Any,
        ports: dict[str, int],
        options: Options,
        server_pid: int,
        log: Callable[[str], None] = print,
        pypy: bool = False,
    ) -> None:
        super().__init__(reactor, options, server_pid, log, pypy)
        self.ports = ports
        #: the load is over: sessions wind down, slots start no more
        self.stopping = False
        self._last_tick = 0.0
        self.slots: list[Slot] = []
        for role in ROLES:
            if role == "storm":
                continue
            for i in range(self.counts[role]):
                self.slots.append(Slot(self, role, i, ("json", "irc")[i % 2]))

    def connect(self, session: Session, address: str) -> None:
        connect(self.reactor, session, self.ports[session.proto], address)

    def checks(self, log_text: str | None, exit_code: int | None) -> list[Check]:
        """The verdict on this run (see L{chatd.bench.soak.checks})."""
        return verdict(self, log_text, exit_code)

    # the timeline

    def sleep(self, seconds: float) -> Deferred[None]:
        return deferLater(self.reactor, seconds, lambda: None)

    async def wait_until(self, condition: Callable[[], bool], timeout: float) -> bool:
        deadline = self.now() + timeout
        while not condition():
            if self.now() > deadline or self.server_dead:
                return condition()
            await self.sleep(0.05)
        return True

    def watch_server(self) -> None:
        """Is the server still there?  Called twice a second."""
        if self.server_dead is None and not _alive(self.pid):
            self.server_dead = f"the server process ({self.pid}) died at {self.clock()}"
            self.log(f"  {self.server_dead}")

    def clock(self) -> str:
        start = self.timeline.get("load")
        return "setup" if start is None else f"t={self.now() - start:.1f}s"

    async def main(self) -> None:
        reactor = self.reactor
        opts = self.options
        watcher = _every(reactor, 0.5, self.watch_server)
        self._last_tick = self.now()
        lag_meter = _every(reactor, LAG_TICK, self.measure_lag)
        try:
            await self._main(opts)
        finally:
            watcher()
            lag_meter()

    def measure_lag(self) -> None:
        """How late this process's own reactor runs (it delays what we see)."""
        now = self.now()
        self.lag = max(self.lag, now - self._last_tick - LAG_TICK)
        self._last_tick = now

    async def _main(self, opts: Options) -> None:
        reactor = self.reactor
        # 1: the readers, in #soak before anyone says anything
        t0 = self.now()
        readers = [s for s in self.slots if s.role == "reader"]
        for slot in readers:
            slot.start()
        self.readers = [s.session for s in readers if isinstance(s.session, Reader)]
        if not await self.wait_until(lambda: self.readers_in >= len(readers), 30.0):
            raise BenchError(
                f"only {self.readers_in} of {len(readers)} readers could join {CHANNEL}"
                + (f" ({self.server_dead})" if self.server_dead else "")
            )
        self.log(
            f"  {len(readers)} readers joined {CHANNEL} in {self.now() - t0:.1f} s"
        )
        # 2: everyone else, arriving over the first seconds
        self.timeline["load"] = self.now()
        spread = min(2.0, opts.duration / 3)
        for slot in self.slots:
            if slot.role != "reader":
                reactor.callLater(self.rng.uniform(0, spread), slot.start)
        storm = Storm(self, self.counts["storm"])
        storm.start(self.rng.uniform(0, spread))
        end = self.now() + opts.duration
        cpu0 = _cpu(self.pid), process_cpu(os.getpid()), self.now()
        next_report = self.now() + 10.0
        while self.now() < end and self.server_dead is None:
            await self.sleep(min(0.5, max(0.0, end - self.now())))
            if self.now() >= next_report:
                next_report += 10.0
                self.progress()
        cpu1 = _cpu(self.pid), process_cpu(os.getpid()), self.now()
        span = max(1e-9, cpu1[2] - cpu0[2])
        if cpu0[0] is not None and cpu1[0] is not None:
            self.state["server_cpu"] = round((cpu1[0] - cpu0[0]) / span, 2)
        self.state["generator_cpu"] = round((cpu1[1] - cpu0[1]) / span, 2)
        self.rss["peak"] = _hwm(self.pid) or 0
        if self.now() - (next_report - 10.0) > 1.0:
            self.progress()
        # 3: everyone but the readers goes (talkers say goodbye and wait for
        # their last replies); then the readers sync and go
        self.stopping = True
        self.timeline["stop"] = self.now()
        storm.stop()
        for session in list(self.live):
            if not isinstance(session, Reader):
                session.finish()
        if not await self.wait_until(
            lambda: all(isinstance(s, Reader) for s in self.live), 20.0
        ):
            left = [s for s in self.live if not isinstance(s, Reader)]
            self.symptom(
                "not_gone",
                ", ".join(f"{s.role} {s.nick} ({s.proto})" for s in left[:3]),
                len(left),
            )
            for session in left:
                session.abort()
        await self.sleep(0.5)
        for reader in self.readers:
            reader.sync()
        synced = await self.wait_until(
            lambda: all(r.synced or r.ended for r in self.readers), 20.0
        )
        self.state["synced"] = synced  # (the delivery check fails without it)
        for reader in self.readers:
            reader.finish()
        if not await self.wait_until(lambda: not self.live, 10.0):
            for session in list(self.live):
                session.abort()
            await self.wait_until(lambda: not self.live, 5.0)
        self.timeline["gone"] = self.now()
        # 4: what a fresh client sees, and the memory once it has gone
        await self.check_state()
        await self.sleep(2.0)
        if self.server_dead is None:
            self.rss["after"] = process_rss(self.pid)

    def progress(self) -> None:
        totals: Counter[str] = Counter()
        for counter in self.stats.values():
            totals.update(counter)
        rss = _rss(self.pid)
        refusals = (
            totals["bye:too_many_connections"] + totals["bye:connecting_too_fast"]
        )
        self.log(
            f"  {self.clock():>8}: {len(self.live)} open, "
            f"{totals['sessions']:,} connections so far, "
            f"{totals['msgs_ok']:,} messages to {CHANNEL} ok, "
            f"{totals['rate_limited']:,} rate_limited, "
            f"{totals['bye:flood']:,} flood kicks, "
            f"{totals['sendq_drops']:,} sendq drops, "
            f"{totals['bye:register_timeout']:,} register timeouts, "
            f"{refusals:,} refusals; server RSS "
            + ("?" if rss is None else f"{rss / 2**20:.1f} MiB")
        )

    async def check_state(self) -> None:
        """A fresh JSON client lists channels; a fresh IRC one asks about nicks."""
        state: dict[str, Any] = {}
        for attempt in range(6):
            if attempt:
                await self.sleep(1.0)
            j = StateChecker(self, "json", self.rng, "soakcheck")
            j.start("127.0.0.1", pooled=False)
            await self.wait_until(lambda j=j: j.ended, 10.0)  # type: ignore[misc]
            nick = f"soakcheck{attempt}"
            i = StateChecker(self, "irc", self.rng, nick)
            i.start("127.0.0.1", pooled=False)
            await self.wait_until(lambda i=i: i.ended, 10.0)  # type: ignore[misc]
            state = {
                "json_channels": j.listed,
                "irc_channels": i.listed,
                "users": i.users,
                "unregistered": i.unknown,
                "online": i.online,
                "nicks_checked": len(self.used_nicks),
            }
            clean = (
                j.done
                and i.done
                and not j.listed
                and not i.listed
                and i.users == 1
                and not i.unknown
                and not i.online
            )
            if clean:
                break
        self.state["after"] = state

    # the verdict


class Storm:
    """Waves of connections from one address, every few seconds."""

    def __init__(self, soak: Soak, size: int) -> None:
        self.soak = soak
        self.size = size
        self.rng = random.Random(f"{soak.seed}:storm")
        self.waves = 0
        self.call: IDelayedCall | None = None

    def start(self, delay: float) -> None:
        self.call = self.soak.reactor.callLater(delay, self.wave)

    def stop(self) -> None:
        if self.call is not None and self.call.active():
            self.call.cancel()

    def wave(self) -> None:
        soak = self.soak
        if soak.stopping:
            return
        self.waves += 1
        for i in range(self.size):
            proto = ("json", "irc")[i % 2]
            nick = f"w{self.waves}x{i}"
            StormClient(soak, proto, self.rng, nick).start(STORM_ADDRESS, pooled=False)
        self.call = soak.reactor.callLater(STORM_WAVE_SECONDS, self.wave)


# -- helpers ---------------------------------------------------------------


def _every(reactor: Any, seconds: float, f: Callable[[], None]) -> Callable[[], None]:
    """Call C{f} every C{seconds} until the returned function is called."""
    from twisted.internet.task import LoopingCall

    loop = LoopingCall(f)
    loop.clock = reactor
    loop.start(seconds, now=True)
    return lambda: loop.stop() if loop.running else None


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def _rss(pid: int) -> int | None:
    try:
        return process_rss(pid)
    except (OSError, BenchError):
        return None


def _hwm(pid: int) -> int | None:
    """Peak resident memory of C{pid} (VmHWM), in bytes."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cpu(pid: int) -> float | None:
    try:
        return process_cpu(pid)
    except OSError:
        return None


def _run_reactor(soak: Soak) -> None:
    """Run C{soak.main} on the global reactor; re-raise what it raised."""
    from twisted.internet import reactor
    from twisted.logger import ILogObserver, LogEvent, globalLogPublisher

    outcome: list[Failure | None] = []

    def observe(event: LogEvent) -> None:
        if event.get("isError") or event.get("log_failure") is not None:
            failure = event.get("log_failure")
            text = failure.getTraceback() if failure is not None else str(event)
            soak.bench_errors.append(f"bench error: {text[-1500:]}")

    def go() -> None:
        d = Deferred.fromCoroutine(_coroutine(soak))
        d.addCallbacks(lambda _: outcome.append(None), outcome.append)
        d.addBoth(lambda _: reactor.stop())

    observer = cast(ILogObserver, observe)
    globalLogPublisher.addObserver(observer)
    try:
        reactor.callWhenRunning(go)
        reactor.run()
    finally:
        globalLogPublisher.removeObserver(observer)
    if not outcome:
        raise KeyboardInterrupt
    failure = outcome[0]
    if failure is not None:
        failure.raiseException()


def _coroutine(soak: Soak) -> Coroutine[Any, Any, None]:
    return soak.main()


def _shutdown(server: servers.Server) -> tuple[int | None, str]:
    """SIGTERM the server, wait for it, and return its exit status and log."""
    proc = server.proc
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except Exception:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return proc.returncode, server.log_text()


def server_args(options: Options) -> list[str]:
    """
    chatd's command-line arguments for a soak, after those every bench
    server gets (L{servers.start_chatd}): chatd's own default limits, but
    for these.
    """
    # The soak's clients all come from 127.0.0.x and its storm must be
    # refused, so loopback must count against the per-address limits.
    extra = [
        "--register-timeout",
        f"{options.register_timeout:g}",
        "--no-exempt-loopback",
    ]
    if options.max_sendq is not None:
        extra += ["--max-sendq", options.max_sendq]
    # The checks count every delivery of a message: an IRC client that
    # joins again would count the last lines replayed to it as twice
    # delivered.  Replay is history's, measured elsewhere.
    config = Path(tempfile.mkdtemp(prefix="chatd-soak-")) / "soak.toml"
    config.write_text("[history]\nreplay_on_join = 0\n")
    extra += ["--config", str(config)]
    return extra


def run(
    python: str,
    options: Options,
    server_cpu: int | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Start chatd, soak it, stop it; the result, with every check."""
    if not MIN_CLIENTS <= options.clients <= MAX_CLIENTS:
        raise BenchError(f"--clients must be {MIN_CLIENTS} to {MAX_CLIENTS}")
    if not 0 < options.duration <= MAX_DURATION:
        raise BenchError(f"--duration must be above 0 and at most {MAX_DURATION:g} s")
    if options.max_sendq is not None:
        sendq_bytes(options.max_sendq)
    raise_fd_limit()
    interpreter = servers.python_version(python)
    pypy = interpreter.startswith("PyPy")
    server = servers.start_chatd(
        python,
        interpreter.split(" Twisted")[0],
        server_cpu,
        *server_args(options),
        bench_limits=False,
    )
    try:
        from twisted.internet import reactor

        time.sleep(0.5)
        soak = Soak(reactor, server.ports, options, server.proc.pid, log, pypy)
        counts = soak.counts
        log(
            f"soak: {server.name}, JSON on {server.ports['json']} and IRC on "
            f"{server.ports['irc']}; {options.clients} clients for "
            f"{options.duration:g} s, seed {options.seed}"
        )
        log(
            "  roles: "
            + ", ".join(f"{counts[r]} {ROLE_NAMES[r]}" for r in ROLES)
            + f"; at most {DELIVERY_BUDGET:,.0f} channel deliveries/s"
        )
        soak.rss["before"] = process_rss(server.proc.pid)
        log(f"  server RSS before the load: {soak.rss['before'] / 2**20:.1f} MiB")
        error: str | None = None
        try:
            _run_reactor(soak)
        except BenchError as e:
            error = str(e)
        exit_code, log_text = _shutdown(server)
    finally:
        trouble = server.stop()
    checks = soak.checks(log_text, exit_code)
    if error is not None:
        checks.insert(0, Check("run", "FAILED", error))
    if trouble and log_text is None:
        log_text = trouble
    return result(soak, server.name, interpreter, checks, log_text)

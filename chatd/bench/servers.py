# -*- test-case-name: tests.test_bench -*-
"""
Start and stop the servers a benchmark compares, each pinned to one core.

chatd and the ceiling run on any Python that has chatd installed; ngIRCd
and InspIRCd run from Debian's packages (when installed) with the
benchmark's own configurations in C{configs/}, whose flood limits are
relaxed so that what is measured is fan-out, not throttling.

Like for like: chatd, the ceiling and InspIRCd listen with the same backlog
(L{chatd.tap.BACKLOG}); ngIRCd's is fixed at 10 in its code, which no
configuration changes, so its storm figure is not comparable.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from chatd.bench.load import BenchError, Target
from chatd.tap import BACKLOG

CONFIGS = Path(__file__).parent / "configs"
MAX_CLIENTS = 20000
#: What a server's log must never show: a traceback or an unhandled error
#: (Twisted logs both), or chatd's own consistency check failing at shutdown.
TROUBLE = ("Traceback", "Unhandled", "inconsistent state")


def first_trouble(text: str) -> str:
    """The first line of a server's log that shows L{TROUBLE}, or ''."""
    for line in text.splitlines():
        if any(k in line for k in TROUBLE):
            return line.strip()[:300]
    return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


_CPU_SET_BYTES = 128  # glibc's cpu_set_t: 1024 CPUs


def _libc_affinity() -> tuple[Callable[[], set[int]], Callable[[int, int], None]]:
    """
    sched_getaffinity/sched_setaffinity through libc, for interpreters
    whose C{os} module lacks them (PyPy 7.3).
    """
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)

    def get() -> set[int]:
        mask = (ctypes.c_ubyte * _CPU_SET_BYTES)()
        if libc.sched_getaffinity(0, _CPU_SET_BYTES, mask) != 0:
            raise OSError(ctypes.get_errno(), "sched_getaffinity failed")
        return {
            byte * 8 + bit
            for byte in range(_CPU_SET_BYTES)
            for bit in range(8)
            if mask[byte] >> bit & 1
        }

    def set_(pid: int, cpu: int) -> None:
        mask = (ctypes.c_ubyte * _CPU_SET_BYTES)()
        mask[cpu // 8] = 1 << (cpu % 8)
        if libc.sched_setaffinity(pid, _CPU_SET_BYTES, mask) != 0:
            raise OSError(ctypes.get_errno(), f"sched_setaffinity({cpu}) failed")

    return get, set_


def cpus() -> list[int]:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return sorted(_libc_affinity()[0]())


def pin(pid: int, cpu: int) -> None:
    """Keep process C{pid} (0: this one) on one core; L{OSError} if refused."""
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(pid, {cpu})
    else:
        _libc_affinity()[1](pid, cpu)


def pin_self(cpu: int | None) -> None:
    """Keep this process (and what it later starts) on one core."""
    if cpu is not None:
        pin(0, cpu)


def _preexec(cpu: int | None) -> Callable[[], None]:
    def setup() -> None:
        import resource

        os.setsid()
        pin_self(cpu)
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    return setup


@dataclass
class Server:
    """A server process under test."""

    name: str
    kind: str
    proc: subprocess.Popen[bytes]
    ports: dict[str, int]
    workdir: Path
    interpreter: str | None = None
    log_path: Path = field(default_factory=Path)

    def target(self, proto: str) -> Target:
        return Target("127.0.0.1", self.ports[proto], proto, self.proc.pid)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, keep: bool = False) -> str:
        """
        Stop the server; return its log if it shows L{TROUBLE}, else ''.
        Its directory (with chatd's SQLite file) is removed, unless C{keep}:
        then L{cleanup} removes it.
        """
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                # a clean stop writes the history's last batch first
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        text = self.log_text()
        if not keep:
            self.cleanup()
        return text if first_trouble(text) else ""

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def database(self) -> Path:
        """chatd's SQLite file (with its default --state-dir, the workdir)."""
        from chatd.store import SQLITE_FILE

        return self.workdir / SQLITE_FILE


def _wait_ready(server: Server, timeout: float = 30.0) -> Server:
    deadline = time.monotonic() + timeout
    for port in set(server.ports.values()):
        while True:
            if server.proc.poll() is not None:
                text = server.log_text()
                shutil.rmtree(server.workdir, ignore_errors=True)
                raise BenchError(
                    f"{server.name} exited with {server.proc.returncode}:\n"
                    + text[-2000:]
                )
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    server.stop()
                    raise BenchError(
                        f"{server.name} did not listen on {port}"
                    ) from None
                time.sleep(0.05)
    return server


def _spawn(
    name: str,
    kind: str,
    argv: list[str],
    ports: dict[str, int],
    workdir: Path,
    cpu: int | None,
    interpreter: str | None = None,
) -> Server:
    log_path = workdir / "server.log"
    with open(log_path, "wb") as out:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_preexec(cpu),
        )
    return _wait_ready(Server(name, kind, proc, ports, workdir, interpreter, log_path))


#: The load comes from one address and a few senders far faster than a
#: person: per-address limits off, flood control on but out of reach (so
#: its bookkeeping is part of what is measured).  So is the SendQ, at 256
#: MiB as InspIRCd's hardsendq in configs/: past the maximum the generator
#: reads more slowly than the server writes, and with the default 1 MiB
#: (kernel buffer included) the server rightly drops every one of its
#: receivers as a slow reader, which would end the search, not measure it.
BENCH_LIMITS = (
    "--max-per-ip=0",
    "--connects-per-minute=0",
    "--flood-burst=1000000000",
    "--flood-rate=1000000000",
    "--max-sendq=256M",
)

_TWISTD = (
    "import sys; from twisted.scripts.twistd import run; sys.argv[0] = 'twistd'; run()"
)


def start_chatd(
    python: str,
    label: str,
    cpu: int | None,
    *extra: str,
    bench_limits: bool = True,
    history: bool = True,
    web: bool = False,
) -> Server:
    """
    chatd under C{python}, with a JSON and an IRC listener on loopback,
    and with C{web} its HTTP listener too (IRC and JSON over WebSocket:
    the C{ws} and C{ws-json} targets); with L{BENCH_LIMITS} unless
    C{bench_limits} is false (the soak wants chatd's own defaults); keeping
    history (its default, in the SQLite file L{Server.database}) unless
    C{history} is false (C{--no-history}).
    """
    workdir = Path(tempfile.mkdtemp(prefix="chatd-bench-"))
    ports = {"json": free_port(), "irc": free_port()}
    listeners: list[str] = []
    if web:
        ports["ws"] = ports["ws-json"] = free_port()
        listeners = [
            "--web-listen",
            f"tcp:{ports['ws']}:interface=127.0.0.1:backlog={BACKLOG}",
        ]
    argv = [
        python,
        "-c",
        _TWISTD,
        "-n",
        "--pidfile=",
        "chatd",
        "--listen",
        f"tcp:{ports['json']}:interface=127.0.0.1:backlog={BACKLOG}",
        "--irc-listen",
        f"tcp:{ports['irc']}:interface=127.0.0.1:backlog={BACKLOG}",
        *listeners,
        "--max-clients",
        str(MAX_CLIENTS),
        *(BENCH_LIMITS if bench_limits else ()),
        *(() if history else ("--no-history",)),
        *extra,
    ]
    return _spawn(f"chatd ({label})", "chatd", argv, ports, workdir, cpu, label)


def start_ceiling(python: str, label: str, cpu: int | None) -> Server:
    """The bare Twisted broadcast server under C{python}."""
    workdir = Path(tempfile.mkdtemp(prefix="chatd-bench-"))
    port = free_port()
    argv = [
        python,
        "-m",
        "chatd.bench.ceiling",
        "--port",
        str(port),
        "--backlog",
        str(BACKLOG),
    ]
    return _spawn(
        f"bare Twisted ({label})", "ceiling", argv, {"irc": port}, workdir, cpu, label
    )


def _render(template: str, workdir: Path, port: int) -> Path:
    text = (CONFIGS / template).read_text()
    path = workdir / template
    path.write_text(
        text.format(port=port, dir=workdir, maxclients=MAX_CLIENTS, backlog=BACKLOG)
    )
    return path


def _installed(name: str) -> str | None:
    """Where Debian's package put C{name}, even if sbin is not on PATH."""
    sbin = f"/usr/sbin/{name}"
    return shutil.which(name) or (sbin if os.path.exists(sbin) else None)


def ngircd_path() -> str | None:
    return _installed("ngircd")


def inspircd_path() -> str | None:
    return _installed("inspircd")


def _start_installed(
    name: str, kind: str, args: Callable[[str, Path], list[str]], cpu: int | None
) -> Server:
    """Start Debian's C{kind} with the benchmark's config for it."""
    binary = _installed(kind)
    if binary is None:
        raise BenchError(f"{kind} is not installed (apt-get install {kind})")
    workdir = Path(tempfile.mkdtemp(prefix="chatd-bench-"))
    port = free_port()
    conf = _render(f"{kind}.conf", workdir, port)
    return _spawn(name, kind, args(binary, conf), {"irc": port}, workdir, cpu)


def start_ngircd(cpu: int | None) -> Server:
    return _start_installed(
        "ngIRCd",
        "ngircd",
        lambda binary, conf: [binary, "--nodaemon", "--config", str(conf)],
        cpu,
    )


def start_inspircd(cpu: int | None) -> Server:
    def args(binary: str, conf: Path) -> list[str]:
        argv = [binary, "--nofork", f"--config={conf}"]
        if os.geteuid() == 0:
            argv.append("--runasroot")
        return argv

    return _start_installed("InspIRCd", "inspircd", args, cpu)


def python_version(python: str) -> str:
    """C{"CPython 3.11.7"}-style name of C{python}, checking chatd imports."""
    try:
        out = subprocess.run(
            [
                python,
                "-c",
                "import platform, chatd, twisted; "
                "print(platform.python_implementation(), platform.python_version(),"
                " 'Twisted', twisted.__version__)",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError) as e:
        raise BenchError(
            f"{python} cannot run chatd (install it there with pip install -e .): {e}"
        ) from None
    return out

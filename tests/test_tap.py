"""
twistd chatd: its options, the .tac file, and the real daemon in a subprocess.
"""

from __future__ import annotations

import io
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from twisted.application.service import IService, loadApplication
from twisted.internet.task import Clock
from twisted.logger import LogLevel
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from chatd.log import get_level, set_level
from chatd.net.limits import FloodLimit
from chatd.service import ChatService
from chatd.tap import Options, makeService

ROOT = Path(__file__).resolve().parent.parent
#: What `twistd chatd --help` must list.
SERVER_OPTIONS = (
    "--port",
    "--listen",
    "--max-clients",
    "--idle-timeout",
    "--max-line",
    "--log-level",
    "--irc-port",
    "--irc-listen",
    "--server-name",
    "--network",
    "--motd",
    "--register-timeout",
    "--flood-burst",
    "--flood-rate",
    "--flood-excess",
    "--max-sendq",
    "--max-per-ip",
    "--connects-per-minute",
    "--exempt-ip",
    "--no-exempt-loopback",
    "--config",
    "--database",
    "--state-dir",
)


def parse(*args: str) -> Options:
    options = Options()
    options.parseOptions(list(args))
    return options


class OptionsTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        options = parse()
        self.assertEqual(options["listen"], ["tcp:8123:backlog=1024"])
        self.assertEqual(options["max-clients"], 1000)
        self.assertEqual(options["idle-timeout"], 180)
        self.assertEqual(options["max-line"], 16384)
        self.assertEqual(options["log-level"], "info")

    def test_port_and_listen(self) -> None:
        self.assertEqual(parse("--port", "9000")["listen"], ["tcp:9000:backlog=1024"])
        self.assertEqual(
            parse("--listen", "tcp6:9001", "-p", "9000", "-l", "unix:/tmp/x.sock")[
                "listen"
            ],
            ["tcp:9000:backlog=1024", "tcp6:9001", "unix:/tmp/x.sock"],
        )

    def test_numbers(self) -> None:
        options = parse(
            "--max-clients", "5", "--idle-timeout", "0", "--max-line", "512"
        )
        self.assertEqual(
            (options["max-clients"], options["idle-timeout"], options["max-line"]),
            (5, 0, 512),
        )
        self.assertEqual(parse("--idle-timeout", "2.5")["idle-timeout"], 2.5)

    def test_bad_options_are_usage_errors(self) -> None:
        for args in [
            ["--port", "http"],
            ["--port", "70000"],
            ["--port", "-1"],
            ["--max-clients", "0"],
            ["--max-clients", "lots"],
            ["--idle-timeout", "-1"],
            ["--idle-timeout", "nan"],
            ["--max-line", "0"],
            ["--log-level", "loud"],
            ["--listen", "carrier-pigeon:5"],
            ["--listen", "tcp:notaport"],
            ["--irc-port", "ircd"],
            ["--irc-listen", "tcp:notaport"],
            ["--server-name", "has space"],
            ["--server-name", "nick!user"],
            ["--server-name", ""],
            ["--network", "two words"],
            ["--motd", "/nonexistent/motd.txt"],
            ["--register-timeout", "-5"],
            ["--flood-burst", "-1"],
            ["--flood-burst", "ten"],
            ["--flood-rate", "0"],
            ["--flood-rate", "inf"],
            ["--flood-excess", "-1"],
            ["--max-sendq", "1G"],
            ["--max-sendq", "-1"],
            ["--max-sendq", "lots"],
            ["--max-per-ip", "-1"],
            ["--connects-per-minute", "x"],
            ["--exempt-ip", "10.0.0.0/33"],
            ["--exempt-ip", "localhost"],
        ]:
            self.assertRaises(UsageError, parse, *args)

    def test_bad_values_say_option_value_and_what_is_allowed(self) -> None:
        for args, message in [
            (
                ["--max-clients", "0"],
                "--max-clients 0: must be a whole number, 1 or more",
            ),
            (["--max-line", "0"], "--max-line 0: must be a whole number, 1 or more"),
            (["--flood-rate", "0"], "--flood-rate 0: must be a number above 0"),
            (
                ["--idle-timeout", "abc"],
                "--idle-timeout abc: must be a number of seconds, 0 or more",
            ),
            (
                ["--flood-burst", "-1"],
                "--flood-burst -1: must be a whole number, 0 or more",
            ),
            (
                ["--max-sendq", "1G"],
                "--max-sendq 1G: must be a number of bytes such as 1048576, 512K or 1M",
            ),
            (["--port", "http"], "--port http: must be a TCP port number, 0 to 65535"),
            (
                ["--server-name", "has space"],
                "--server-name 'has space': must be a host name such as irc.example.org",
            ),
            (
                ["--log-level", "loud"],
                "--log-level loud: must be debug, info, warn or error",
            ),
            (
                ["--exempt-ip", "localhost"],
                "--exempt-ip localhost: must be an address or network such as 10.0.0.0/8",
            ),
        ]:
            e = self.assertRaises(UsageError, parse, *args)
            self.assertEqual(str(e), message)
        e = self.assertRaises(UsageError, parse, "--motd", "/nonexistent/motd")
        self.assertEqual(
            str(e),
            "--motd /nonexistent/motd: must be a readable UTF-8 file "
            "(No such file or directory)",
        )

    def test_under_twistd_a_bad_value_is_one_line(self) -> None:
        """
        twistd prints its whole usage text before a plugin's UsageError;
        chatd's option errors exit with just the one line instead.
        """
        from twisted.scripts.twistd import ServerOptions

        self.patch(sys, "argv", ["/venv/bin/twistd", "-n", "chatd"])
        e = self.assertRaises(
            SystemExit,
            ServerOptions().parseOptions,
            ["-n", "chatd", "--max-clients", "0"],
        )
        self.assertEqual(
            e.code, "twistd chatd: --max-clients 0: must be a whole number, 1 or more"
        )

    def test_config_file_errors_are_one_line_too(self) -> None:
        from twisted.scripts.twistd import ServerOptions

        self.patch(sys, "argv", ["/venv/bin/twistd", "-n", "chatd"])
        path = self.mktemp()
        e = self.assertRaises(
            SystemExit, ServerOptions().parseOptions, ["chatd", "--config", path]
        )
        self.assertEqual(
            e.code,
            f"twistd chatd: {path}: cannot be read (No such file or directory)",
        )
        Path(path).write_text("[limits]\nmax_clients = 0\n", "utf-8")
        e = self.assertRaises(
            SystemExit, ServerOptions().parseOptions, ["chatd", "--config", path]
        )
        self.assertEqual(
            e.code,
            f"twistd chatd: {path}: limits.max_clients: must be a whole number, "
            "1 or more (got 0)",
        )

    def test_help_has_no_gaps(self) -> None:
        """Every option's help is wrapped with one space between words."""
        lines = str(Options()).splitlines()
        [help_line] = [line for line in lines if "--help" in line]
        column = help_line.index("Display this help")
        options = lines[lines.index("Options:") + 1 : lines.index("")]
        self.assertGreater(len(options), 40)
        for line in options:
            self.assertNotIn("  ", line[column:].rstrip(), line)
        self.assertIn("that --max-per-ip", " ".join(lines))

    def test_version(self) -> None:
        import chatd

        out = io.StringIO()
        self.patch(sys, "stdout", out)
        e = self.assertRaises(SystemExit, parse, "--version")
        self.assertEqual(e.code, 0)
        self.assertTrue(out.getvalue().startswith(f"chatd {chatd.__version__} ("))

    def test_irc_listener_only_when_asked_for(self) -> None:
        self.addCleanup(set_level, get_level())
        clock = Clock()
        service = makeService(parse("-p", "0"), clock)
        self.assertEqual([f.kind for f in service.factories], ["JSON"])
        options = parse(
            "--irc-listen",
            "tcp6:6697",
            "--irc-port",
            "6667",
            "--server-name",
            "irc.example.org",
            "--network",
            "Example",
            "--max-clients",
            "9",
            "--idle-timeout",
            "40",
        )
        self.assertEqual(options["irc-listen"], ["tcp:6667:backlog=1024", "tcp6:6697"])
        service = makeService(options, clock)
        json, irc = service.factories
        self.assertEqual(irc.kind, "IRC")
        self.assertIs(irc.chat, json.chat)  # one core: nicks and channels shared
        self.assertEqual(
            service.listeners[1][1], ["tcp:6667:backlog=1024", "tcp6:6697"]
        )
        self.assertEqual(irc.idle_timeout, 40)
        self.assertEqual(irc.chat.max_users, 9)
        self.assertEqual((irc.server_name, irc.network), ("irc.example.org", "Example"))  # type: ignore[attr-defined]

    def test_limits(self) -> None:
        defaults = parse()
        self.assertEqual(
            [
                defaults[k]
                for k in (
                    "register-timeout",
                    "flood-burst",
                    "flood-rate",
                    "flood-excess",
                    "max-sendq",
                    "max-per-ip",
                    "connects-per-minute",
                    "exempt-ip",
                )
            ],
            [60, 10, 2, 20, 1 << 20, 16, 32, []],
        )
        for text, size in [
            ("0", 0),
            ("65536", 65536),
            ("512K", 512 << 10),
            ("2M", 2 << 20),
            ("1MiB", 1 << 20),
        ]:
            self.assertEqual(parse("--max-sendq", text)["max-sendq"], size)
        self.addCleanup(set_level, get_level())
        options = parse(
            "--irc-port",
            "0",
            "--flood-burst",
            "5",
            "--flood-rate",
            "0.5",
            "--flood-excess",
            "3",
            "--max-sendq",
            "64K",
            "--register-timeout",
            "9",
            "--max-per-ip",
            "4",
            "--connects-per-minute",
            "0",
            "--exempt-ip",
            "10.0.0.0/8",
            "--exempt-ip",
            "2001:db8::1",
        )
        json, irc = makeService(options, Clock()).factories
        for factory in (json, irc):
            self.assertEqual(factory.flood, FloodLimit(5, 0.5, 3))
            self.assertEqual(factory.max_sendq, 65536)
            self.assertEqual(factory.register_timeout, 9)
        self.assertIs(json.gate, irc.gate)  # counted across listeners
        assert json.gate is not None
        limit = json.gate.limit
        self.assertEqual((limit.per_address, limit.connects), (4, 0))
        self.assertEqual(
            [str(n) for n in limit.exempt], ["10.0.0.0/8", "2001:db8::1/128"]
        )

    def test_loopback_exemption(self) -> None:
        """Local clients skip the per-address limits unless told otherwise."""
        self.addCleanup(set_level, get_level())
        for args, exempt in [((), True), (("--no-exempt-loopback",), False)]:
            options = parse("--max-per-ip", "1", *args)
            [factory] = makeService(options, Clock()).factories
            assert factory.gate is not None
            self.assertEqual(factory.gate.limit.exempt_loopback, exempt)
            for _ in range(2):
                admitted = factory.gate.admit("127.0.0.1", 0)[1] is None
            self.assertEqual(admitted, exempt)

    def test_motd_file(self) -> None:
        path = Path(self.mktemp())
        path.write_text("Welcome to chatd\n\n  be kind  \n" + "é" * 300 + "\n", "utf-8")
        motd = parse("--motd", str(path))["motd"]
        self.assertEqual(motd[:3], ["Welcome to chatd", "", "  be kind"])
        self.assertLessEqual(len(motd[3].encode("utf-8")), 400)
        path.write_bytes(b"caf\xe9\n")
        self.assertRaises(UsageError, parse, "--motd", str(path))

    def test_make_service(self) -> None:
        self.addCleanup(set_level, get_level())
        clock = Clock()
        service = makeService(
            parse(
                "-p",
                "0",
                "--max-clients",
                "7",
                "--idle-timeout",
                "30",
                "--max-line",
                "99",
                "--log-level",
                "warn",
            ),
            clock,
        )
        self.assertIsInstance(service, ChatService)
        self.assertEqual(service.listeners[0][1], ["tcp:0:backlog=1024"])
        self.assertEqual(service.factories[0].chat.max_users, 7)
        self.assertEqual(service.factories[0].idle_timeout, 30)
        self.assertEqual(service.factories[0].max_line, 99)
        self.assertIs(service.factories[0].clock, clock)
        self.assertEqual(get_level(), LogLevel.warn)

    def test_tac_builds_the_default_service(self) -> None:
        self.addCleanup(set_level, get_level())
        application = loadApplication(str(ROOT / "chatd.tac"), "python")
        [service] = list(IService(application))
        self.assertIsInstance(service, ChatService)
        self.assertEqual(service.listeners[0][1], ["tcp:8123:backlog=1024"])
        self.assertEqual(service.factories[0].idle_timeout, 180)


def twistd(command: str = "twistd") -> str:
    """The twistd (or twist) that belongs to the Python running the tests."""
    candidate = Path(sys.executable).parent / command
    if candidate.exists():
        return str(candidate)
    found = shutil.which(command)
    assert found, f"{command} is not installed"
    return found


class DaemonTests(SynchronousTestCase):
    """The installed plugin, run as `twistd -n chatd` in its own process."""

    def start(
        self,
        *args: str,
        kinds: tuple[str, ...] = ("JSON",),
        argv: list[str] | None = None,
        workdir: str | None = None,
    ) -> tuple[subprocess.Popen[str], int]:
        """
        Start the daemon (C{twistd -n --pidfile= chatd ARGS}, or C{argv})
        and wait (30 s at most) until it listens for every wire format in
        C{kinds} and is ready; return it and its JSON port.  The ports of all kinds are
        left in C{self.ports}.
        """
        if workdir is None:
            workdir = self.mktemp()
            os.makedirs(workdir)
        proc = subprocess.Popen(
            argv or [twistd(), "-n", "--pidfile=", "chatd", *args],
            cwd=workdir,  # away from the checkout: the plugin must be installed
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.addCleanup(self._kill, proc)
        self.output: list[str] = []
        self.ports: dict[str, int] = {}
        self._pending = b""
        # Ready means listening, the SIGHUP handler in place and the
        # accounts read (only then are clients let in).
        if self.read_until(
            proc,
            lambda: (
                all(kind in self.ports for kind in kinds)
                and any("chatd is ready" in line for line in self.output)
            ),
        ):
            return proc, self.ports.get("JSON", 0)
        self.fail("twistd did not start listening:\n" + "".join(self.output))

    def read_until(
        self, proc: subprocess.Popen[str], done: Callable[[], bool], timeout: float = 30
    ) -> bool:
        """
        Read the daemon's output into C{self.output} (and the ports it
        listens on into C{self.ports}) until C{done()}; False if it is not
        done within C{timeout} seconds or the output ends.
        """
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        fd = proc.stdout.fileno()
        while time.monotonic() < deadline:
            # Raw reads: a buffered readline could sit on lines select
            # cannot see.
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            *lines, self._pending = (self._pending + chunk).split(b"\n")
            for raw in lines:
                line = raw.decode("utf-8", "replace") + "\n"
                self.output.append(line)
                found = re.search(
                    r"chatd listening for (\w+) on 127\.0\.0\.1:(\d+)", line
                )
                if found:
                    self.ports[found.group(1)] = int(found.group(2))
            if done():
                return True
        return False

    def _kill(self, proc: subprocess.Popen[str]) -> None:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()

    def test_daemon_serves_and_shuts_down_cleanly(self) -> None:
        proc, port = self.start(
            "--listen", "tcp:0:interface=127.0.0.1", "--idle-timeout", "60"
        )
        a = socket.create_connection(("127.0.0.1", port), timeout=10)
        b = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        ra, rb = a.makefile("rb"), b.makefile("rb")
        self.addCleanup(ra.close)
        self.addCleanup(rb.close)

        def send(sock: socket.socket, **obj: object) -> None:
            sock.sendall(json.dumps(obj).encode() + b"\n")

        def read(f: object) -> dict[str, object]:
            line = f.readline()  # type: ignore[attr-defined]
            self.assertTrue(line.endswith(b"\n"), line)
            return json.loads(line)  # type: ignore[no-any-return]

        welcome = read(ra)
        self.assertEqual((welcome["type"], welcome["idle_timeout"]), ("welcome", 60))
        read(rb)
        send(a, cmd="nick", nick="alice")
        send(a, cmd="join", channel="#daemon")
        self.assertEqual(read(ra)["type"], "ok")
        self.assertEqual(read(ra)["members"], ["alice"])
        send(b, cmd="nick", nick="bob")
        send(b, cmd="join", channel="#DAEMON")
        read(rb)
        self.assertEqual(read(rb)["members"], ["alice", "bob"])
        self.assertEqual(
            read(ra), {"type": "join", "channel": "#daemon", "nick": "bob"}
        )
        send(b, cmd="msg", to="#daemon", text="hello from bob")
        self.assertEqual(read(rb)["type"], "ok")
        message = read(ra)
        self.assertEqual((message["from"], message["text"]), ("bob", "hello from bob"))
        send(a, cmd="frobnicate", id=1)
        self.assertEqual(read(ra)["code"], "unknown_command")

        proc.send_signal(signal.SIGTERM)
        for f in (ra, rb):
            self.assertEqual(
                read(f),
                {
                    "type": "bye",
                    "code": "shutdown",
                    "reason": "the server is shutting down",
                },
            )
            self.assertEqual(f.readline(), b"")
        assert proc.stdout is not None
        rest, _ = proc.communicate(timeout=20)
        log = "".join(self.output) + rest
        # twistd ends by re-raising the signal that stopped it, as daemons do.
        self.assertIn(proc.returncode, (0, -signal.SIGTERM), log)
        self.assertIn("chatd stopped", log)
        self.assertIn("is now known as alice", log)
        self.assertNotIn("Traceback", log)

    def test_sighup_reloads_the_config_file(self) -> None:
        """
        kill -HUP: an edited --config file (relative to where twistd was
        started) opens an IRC listener with a new MOTD; a bad one changes
        nothing and the log says why.
        """
        workdir = self.mktemp()
        os.makedirs(workdir)
        config = Path(workdir, "chatd.toml")
        loopback = '["tcp:0:interface=127.0.0.1"]'
        config.write_text(f"[json]\nlisten = {loopback}\n", "utf-8")
        proc, port = self.start("--config", "chatd.toml", workdir=workdir)
        Path(workdir, "motd.txt").write_text("read on SIGHUP\n", "utf-8")
        config.write_text(
            f"[json]\nlisten = {loopback}\n[irc]\nlisten = {loopback}\n"
            '[server]\nmotd = "motd.txt"\n',
            "utf-8",
        )
        proc.send_signal(signal.SIGHUP)
        self.assertTrue(
            self.read_until(proc, lambda: "IRC" in self.ports), "".join(self.output)
        )
        irc = socket.create_connection(("127.0.0.1", self.ports["IRC"]), timeout=10)
        self.addCleanup(irc.close)
        lines = irc.makefile("rb")
        self.addCleanup(lines.close)
        irc.sendall(b"NICK alice\r\nUSER alice 0 * :Alice\r\n")
        motd = [lines.readline()]
        while motd[-1] and not re.search(rb" (376|422) ", motd[-1]):
            motd.append(lines.readline())
        self.assertIn(b"372 alice :- read on SIGHUP\r\n", b"".join(motd))
        config.write_text("[flood]\nrate = 0\n", "utf-8")
        proc.send_signal(signal.SIGHUP)
        self.assertTrue(
            self.read_until(proc, lambda: "not reloaded" in self.output[-1]),
            "".join(self.output),
        )
        self.assertIn(
            "config not reloaded, nothing changed: chatd.toml: flood.rate: "
            "must be a number above 0 (got 0)",
            self.output[-1],
        )
        # Still serving both, with the listeners it had.
        self.assertIsNone(proc.poll())
        j = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.addCleanup(j.close)
        self.assertIn(b'"welcome"', j.makefile("rb").readline())
        proc.send_signal(signal.SIGTERM)
        rest, _ = proc.communicate(timeout=20)
        log = "".join(self.output) + rest
        self.assertIn("config reloaded from chatd.toml: listening for IRC", log)
        self.assertNotIn("Traceback", log)

    def test_daemon_serves_irc_beside_json(self) -> None:
        proc, port = self.start(
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--irc-listen",
            "tcp:0:interface=127.0.0.1",
            kinds=("JSON", "IRC"),
        )
        j = socket.create_connection(("127.0.0.1", port), timeout=10)
        i = socket.create_connection(("127.0.0.1", self.ports["IRC"]), timeout=10)
        for sock in (j, i):
            self.addCleanup(sock.close)
        rj, ri = j.makefile("rb"), i.makefile("rb")
        self.addCleanup(rj.close)
        self.addCleanup(ri.close)

        def irc_until(command: bytes) -> bytes:
            for _ in range(50):
                line = ri.readline()
                if not line or line.split(b" ")[1:2] == [command]:
                    return line
            self.fail(f"no {command!r} from the IRC listener")

        self.assertEqual(json.loads(rj.readline())["type"], "welcome")
        j.sendall(b'{"cmd":"nick","nick":"alice"}\n{"cmd":"join","channel":"#d"}\n')
        rj.readline()
        rj.readline()
        i.sendall(b"NICK bob\r\nUSER bob 0 * :Bob\r\nJOIN #d\r\n")
        self.assertIn(b" 001 bob ", irc_until(b"001"))
        self.assertIn(b"353 bob = #d :@alice bob", irc_until(b"353"))
        self.assertEqual(json.loads(rj.readline())["nick"], "bob")
        i.sendall(b"PRIVMSG #d :hello from IRC\r\n")
        self.assertEqual(json.loads(rj.readline())["text"], "hello from IRC")
        proc.send_signal(signal.SIGTERM)
        error = irc_until(b":Closing")  # after the rest of the NAMES reply
        self.assertTrue(error.startswith(b"ERROR :Closing Link: 127.0.0.1"), error)
        self.assertEqual(ri.readline(), b"")
        self.assertEqual(json.loads(rj.readline())["code"], "shutdown")
        rest, _ = proc.communicate(timeout=20)
        self.assertIn("chatd stopped", "".join(self.output) + rest)

    def test_quick_start_twice_from_one_directory(self) -> None:
        """
        The README's Quick start server command, on loopback ports of its
        own, runs twice from one directory and leaves no twistd.pid there:
        only its state (the SQLite store and the server's secret), which the
        second run opens again.
        """
        readme = (ROOT / "README.md").read_text("utf-8")
        quick_start = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
        first_block = quick_start.split("```sh\n", 1)[1].split("```", 1)[0]
        command = first_block.strip().split(" && ")[-1].split()
        self.assertEqual(command[0], ".venv/bin/twistd")
        argv = [twistd()]
        words = iter(command[1:])
        for word in words:
            if word in ("--port", "--irc-port", "--web-port"):
                next(words)
                listen = {
                    "--port": "--listen",
                    "--irc-port": "--irc-listen",
                    "--web-port": "--web-listen",
                }[word]
                argv += [listen, "tcp:0:interface=127.0.0.1"]
            else:
                argv.append(word)
        workdir = self.mktemp()
        os.makedirs(workdir)
        for _ in range(2):
            self.start(argv=argv, workdir=workdir, kinds=("JSON", "IRC", "web"))
        left = set(os.listdir(workdir))
        self.assertNotIn("twistd.pid", left)
        self.assertLessEqual(
            {"chatd.sqlite3", "chatd.secret"},
            left,
        )
        self.assertLessEqual(
            left,
            {"chatd.sqlite3", "chatd.sqlite3-wal", "chatd.sqlite3-shm", "chatd.secret"},
        )

    def run_on_a_taken_port(
        self, *twistd_args: str
    ) -> tuple[str, subprocess.CompletedProcess[str]]:
        """
        Run C{twistd TWISTD_ARGS chatd --listen tcp:PORT:...} on a port that
        is taken, in a directory of its own; return the directory and result.
        """
        workdir = self.mktemp()
        os.makedirs(workdir)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen(1)
            port = s.getsockname()[1]
            self.port = port
            result = subprocess.run(
                [
                    twistd(),
                    *twistd_args,
                    "chatd",
                    "--listen",
                    f"tcp:{port}:interface=127.0.0.1",
                ],
                cwd=workdir,
                capture_output=True,
                text=True,
                timeout=60,
            )
        return workdir, result

    def test_a_store_from_a_newer_chatd_stops_it_with_status_1(self) -> None:
        workdir = self.mktemp()
        os.makedirs(workdir)
        import sqlite3

        db = sqlite3.connect(os.path.join(workdir, "chatd.sqlite3"))
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (99)")
        db.commit()
        db.close()
        result = subprocess.run(
            [
                twistd(),
                "-n",
                "--pidfile=",
                "chatd",
                "--listen",
                "tcp:0:interface=127.0.0.1",
            ],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=60,
        )
        output = result.stdout + result.stderr
        self.assertEqual(result.returncode, 1, output)
        self.assertIn("chatd cannot start: database at", output)
        self.assertIn("has schema version 99", output)
        self.assertNotIn("Traceback", output)
        db = sqlite3.connect(os.path.join(workdir, "chatd.sqlite3"))
        self.assertEqual(
            db.execute("SELECT version FROM schema_version").fetchall(), [(99,)]
        )
        db.close()

    def test_port_in_use_is_a_clear_error(self) -> None:
        _, result = self.run_on_a_taken_port("-n", "--pidfile=")
        self.assertEqual(result.returncode, 1)
        output = result.stdout + result.stderr
        self.assertIn(
            f"chatd cannot listen on 'tcp:{self.port}:interface=127.0.0.1'", output
        )
        self.assertEqual(output.count("Address already in use"), 1, output)
        self.assertNotIn("Traceback", output)

    def test_port_in_use_stops_a_forked_daemon_too(self) -> None:
        # Without -n, twistd forks and its parent waits to hear whether the
        # daemon started: it must say why not and exit, not wait for ever.
        workdir, result = self.run_on_a_taken_port(
            "--pidfile=chatd.pid", "--logfile=chatd.log"
        )
        self.assertEqual(result.returncode, 1, result)
        self.assertIn(
            f"cannot listen on tcp:{self.port}:interface=127.0.0.1: "
            "Address already in use",
            result.stderr,
        )
        self.assertFalse(os.path.exists(os.path.join(workdir, "chatd.pid")))
        with open(os.path.join(workdir, "chatd.log")) as log:
            self.assertIn("Address already in use", log.read())

    def test_a_bad_value_is_one_line(self) -> None:
        for command in ("twistd", "twist"):
            result = subprocess.run(
                [twistd(command), "chatd", "--max-clients", "0", "--port", "0"],
                capture_output=True,
                text=True,
                timeout=60,
                cwd="/",
            )
            self.assertEqual(result.returncode, 1, result)
            self.assertEqual(result.stdout, "")
            self.assertEqual(
                result.stderr,
                f"{command} chatd: --max-clients 0: must be a whole number, 1 or more\n",
            )

    def test_version(self) -> None:
        import chatd

        def version(*args: str) -> str:
            result = subprocess.run(
                [twistd(), *args], capture_output=True, text=True, timeout=60, cwd="/"
            )
            self.assertEqual(result.returncode, 0, result)
            return result.stdout

        self.assertTrue(
            version("chatd", "--version").startswith(f"chatd {chatd.__version__} (")
        )
        self.assertIn("twistd (the Twisted daemon)", version("--version"))

    def test_help_lists_the_options(self) -> None:
        result = subprocess.run(
            [twistd(), "chatd", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd="/",
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        for option in SERVER_OPTIONS:
            self.assertIn(option, result.stdout)

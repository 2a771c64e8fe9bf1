# -*- test-case-name: tests.test_accounts_e2e -*-
"""
A real C{twistd -n chatd} in a process of its own, and blocking clients for
its JSON and IRC listeners on 127.0.0.1, for end-to-end tests that restart,
signal or SIGKILL the server.

Every wait has a deadline: a reader thread collects the daemon's log (so a
chatty server never blocks on a full pipe) and waiters are woken by each
line; the clients read their sockets with timeouts.  Nothing sleeps.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from base64 import b64encode
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from chatd.irc.message import unescape_tag

#: The longest any one expected thing may take, in seconds: only a bound
#: for a broken server, never waited for by a passing test.
WAIT = 15.0
#: Where the daemon's log says it listens.
LISTENING = re.compile(r"chatd listening for (\w+) on 127\.0\.0\.1:(\d+)")
READY = "chatd is ready"
LOOPBACK = "tcp:0:interface=127.0.0.1"

T = TypeVar("T")


class E2EFailure(AssertionError):
    """Something the server should have said did not come in time."""


def twistd() -> str:
    """The twistd that belongs to the Python running the tests."""
    candidate = Path(sys.executable).parent / "twistd"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("twistd")
    assert found, "twistd is not installed"
    return found


class Daemon:
    """
    C{twistd -n --pidfile= chatd ARGS} run in C{workdir}, in a session of
    its own (so that the hashing processes it may spawn go with it).
    L{start} waits until it is ready; its ports are in C{ports} by kind.
    """

    def __init__(self, workdir: str, *args: str) -> None:
        self.workdir = workdir
        self.args = args
        self.proc: subprocess.Popen[bytes] | None = None
        #: this run's log, and the earlier runs' logs
        self.log: list[str] = []
        self.earlier: list[str] = []
        self.ports: dict[str, int] = {}
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None

    def start(self, kinds: Iterable[str] = ("JSON", "IRC")) -> Daemon:
        """Start it; return once it listens for C{kinds} and is ready."""
        assert self.proc is None or self.proc.poll() is not None, "running already"
        with self._changed:
            self.earlier += self.log
            self.log, self.ports = [], {}
        self.proc = subprocess.Popen(
            [twistd(), "-n", "--pidfile=", "chatd", *self.args],
            cwd=self.workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(
            target=self._read, args=(self.proc,), daemon=True
        )
        self._reader.start()
        wanted = tuple(kinds)
        self.wait_for(
            lambda: READY in self.text() and all(k in self.ports for k in wanted),
            f"twistd ready and listening for {', '.join(wanted)}",
        )
        return self

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.decode("utf-8", "replace")
            found = LISTENING.search(line)
            with self._changed:
                self.log.append(line)
                if found:
                    self.ports[found.group(1)] = int(found.group(2))
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def text(self) -> str:
        """The log so far."""
        with self._changed:
            return "".join(self.log)

    def tracebacks(self) -> list[str]:
        """
        The tracebacks every run has logged, each with the line before it
        (what failed): none, unless chatd has a bug.
        """
        with self._changed:
            lines = self.earlier + self.log
        found = []
        for i, line in enumerate(lines):
            if "Traceback (most recent call last)" in line:
                end = i + 1
                while end < len(lines) and (
                    lines[end][:1] in ("\t", " ") or "[stderr#error]" in lines[end]
                ):
                    end += 1
                found.append("".join(lines[max(i - 1, 0) : end]))
        return found

    def wait_for(
        self, done: Callable[[], bool], what: str, timeout: float = WAIT
    ) -> None:
        """Wait for C{done()} (checked on each log line), C{timeout} at most."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not done():
                left = deadline - time.monotonic()
                exited = self.proc is not None and self.proc.poll() is not None
                if left <= 0 or (exited and not self._reading()):
                    state = "exited" if exited else f"not within {timeout} s"
                    raise E2EFailure(f"{what}: {state}; the log:\n{''.join(self.log)}")
                self._changed.wait(min(left, 1.0))

    def _reading(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def wait_for_line(self, pattern: str, after: int = 0) -> str:
        """The first log line from C{after} on that matches C{pattern}."""
        found: list[str] = []

        def seen() -> bool:
            found[:] = [s for s in self.log[after:] if re.search(pattern, s)]
            return bool(found)

        self.wait_for(seen, f"a log line matching {pattern!r}")
        return found[0]

    def signal(self, signum: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(signum)

    def stop(self) -> str:
        """SIGTERM: the orderly shutdown; its log, checked to be clean."""
        self.signal(signal.SIGTERM)
        proc = self._ended()
        text = self.text()
        # twistd ends by re-raising the signal that stopped it.
        assert proc.returncode in (0, -signal.SIGTERM), (proc.returncode, text)
        assert "chatd stopped" in text, text
        assert "Traceback" not in text, text
        return text

    def kill(self) -> None:
        """SIGKILL: no goodbye, no flush, no chance to write anything more."""
        self.signal(signal.SIGKILL)
        self._ended()

    def _ended(self) -> subprocess.Popen[bytes]:
        proc = self.proc
        assert proc is not None
        try:
            proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            raise E2EFailure(
                f"twistd still running {WAIT} s after the signal:\n{self.text()}"
            ) from None
        self.close()
        return proc

    def close(self) -> None:
        """
        Kill the daemon if it runs, and whatever it started (hashing
        workers), and release its pipe.  For cleanups: safe to call twice.
        """
        proc = self.proc
        if proc is None:
            return
        if proc.poll() is None:
            proc.kill()
            proc.wait(WAIT)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)  # what it started, if any left
        if self._reader is not None:
            self._reader.join(WAIT)
        if proc.stdout is not None:
            proc.stdout.close()


# -- clients -----------------------------------------------------------------


class LineClient(Generic[T]):
    """
    A client on a blocking socket that reads lines: C{unread} holds those
    received and not yet expected, in order of arrival.
    """

    label = "line"
    ending = b"\n"

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self._buffer = b""
        self.unread: list[T] = []
        self.eof = False

    def parse(self, line: bytes) -> T:
        raise NotImplementedError

    def receive(self) -> None:
        """Read what has come (at least one byte, or the end: C{eof})."""
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:  # a killed server's kernel may say so
            data = b""
        if not data:
            self.eof = True
            return
        *lines, self._buffer = (self._buffer + data).split(self.ending)
        self.unread.extend(self.parse(line) for line in lines)

    def expect_that(self, predicate: Callable[[T], bool], what: str) -> T:
        """The first unread line for which C{predicate} holds (now read)."""
        deadline = time.monotonic() + WAIT
        while True:
            for i, item in enumerate(self.unread):
                if predicate(item):
                    del self.unread[i]
                    return item
            left = deadline - time.monotonic()
            if self.eof or left <= 0:
                state = "closed before" if self.eof else f"not within {WAIT} s:"
                raise E2EFailure(
                    f"{self.label}: {state} {what}; unread: {self.unread[-12:]}"
                )
            self.sock.settimeout(left)
            try:
                self.receive()
            except socket.timeout:
                continue

    def closed(self) -> list[T]:
        """Read until the server closes the connection; what came unread."""
        deadline = time.monotonic() + WAIT
        while not self.eof:
            left = deadline - time.monotonic()
            if left <= 0:
                raise E2EFailure(f"{self.label}: still open after {WAIT} s")
            self.sock.settimeout(left)
            try:
                self.receive()
            except socket.timeout:
                continue
        self.close()
        lines, self.unread = self.unread, []
        return lines

    def close(self) -> None:
        self.sock.close()


class JSONClient(LineClient[dict[str, Any]]):
    """A JSON-lines client: requests and their replies, events."""

    label = "JSON"

    def __init__(self, port: int, nick: str | None = None) -> None:
        super().__init__(port)
        self._ids = 0
        self.expect_that(lambda o: o.get("type") == "welcome", "the welcome")
        if nick is not None:
            self.ok("nick", nick=nick)

    def parse(self, line: bytes) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(line)
        return parsed

    def send(self, cmd: str, **args: Any) -> int:
        """Send a request without waiting; its id."""
        self._ids += 1
        request = {"cmd": cmd, "id": self._ids, **args}
        self.sock.sendall(json.dumps(request).encode("utf-8") + b"\n")
        return self._ids

    def reply(self, rid: int) -> dict[str, Any]:
        return self.expect_that(
            lambda o: o.get("id") == rid and o.get("type") in ("ok", "error"),
            f"the reply to request {rid}",
        )

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        return self.reply(self.send(cmd, **args))

    def ok(self, cmd: str, **args: Any) -> dict[str, Any]:
        reply = self.request(cmd, **args)
        if reply["type"] != "ok":
            raise E2EFailure(f"JSON: {cmd} {_shown(args)} failed: {reply}")
        return reply

    def error(self, cmd: str, **args: Any) -> dict[str, Any]:
        reply = self.request(cmd, **args)
        if reply["type"] != "error":
            raise E2EFailure(f"JSON: {cmd} {_shown(args)} did not fail: {reply}")
        return reply

    def event(self, **fields: Any) -> dict[str, Any]:
        return self.expect_that(
            lambda o: all(o.get(k) == v for k, v in fields.items()), repr(fields)
        )


def _shown(args: dict[str, Any]) -> dict[str, Any]:
    return {k: "***" if "password" in k else v for k, v in args.items()}


@dataclass(frozen=True)
class Reply:
    """One IRC line from the server; its IRCv3 tags, if any, in C{tags}."""

    prefix: str
    command: str
    params: tuple[str, ...]
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def text(self) -> str:
        return self.params[-1] if self.params else ""

    def tag(self, name: str) -> str | None:
        """The value of the tag C{name} (C{""} if it has none), or None."""
        return dict(self.tags).get(name)


def parse_irc(line: str) -> Reply:
    """An IRC line, parsed the way RFC 1459 says, and its IRCv3 tags."""
    tags: tuple[tuple[str, str], ...] = ()
    if line.startswith("@"):
        head, line = line[1:].split(" ", 1)
        pairs = (t.partition("=") for t in head.split(";") if t)
        tags = tuple((key, unescape_tag(value)) for key, _, value in pairs)
    prefix = ""
    if line.startswith(":"):
        prefix, line = line[1:].split(" ", 1)
    trailing = None
    if " :" in line:
        line, trailing = line.split(" :", 1)
    elif line.startswith(":"):
        line, trailing = "", line[1:]
    words = line.split()
    params = [*words[1:], *([] if trailing is None else [trailing])]
    return Reply(prefix, words[0].upper() if words else "", tuple(params), tags)


def plain(account: str, password: str) -> str:
    """A SASL PLAIN message, base64."""
    return b64encode(f"\0{account}\0{password}".encode()).decode("ascii")


class IRCClient(LineClient[Reply]):
    """An IRC client that speaks raw lines."""

    label = "IRC"
    ending = b"\r\n"

    def __init__(self, port: int) -> None:
        super().__init__(port)
        self._pings = 0
        self.nick = "*"

    def parse(self, line: bytes) -> Reply:
        return parse_irc(line.decode("utf-8", "replace"))

    def send(self, *lines: str) -> None:
        self.sock.sendall(b"".join(s.encode("utf-8") + b"\r\n" for s in lines))

    def expect(
        self, *commands: str, where: Callable[[Reply], bool] | None = None
    ) -> Reply:
        """The first unread reply that is one of C{commands} (and C{where})."""
        return self.expect_that(
            lambda r: r.command in commands and (where is None or where(r)),
            f"{'/'.join(commands)}",
        )

    def sync(self) -> list[Reply]:
        """
        Every reply not yet expected: a PONG comes after everything the
        server sent before it.
        """
        self._pings += 1
        token = f"sync{self._pings}"
        self.send(f"PING {token}")
        self.expect("PONG", where=lambda r: r.text == token)
        lines, self.unread = self.unread, []
        return lines

    def connect(
        self, nick: str, sasl: tuple[str, str] | None = None, caps: str = ""
    ) -> list[Reply]:
        """
        Register as C{nick} (logging in with SASL PLAIN first when C{sasl}
        gives an account and password); the replies up to the end of the
        MOTD.
        """
        wanted = " ".join(filter(None, [caps, "sasl" if sasl else ""]))
        if wanted:
            self.send("CAP LS 302")
        self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} on IRC")
        if wanted:
            self.expect("CAP", where=lambda r: r.params[1:2] == ("LS",))
            self.send(f"CAP REQ :{wanted}")
            self.expect("CAP", where=lambda r: r.params[1:2] == ("ACK",))
        if sasl is not None:
            self.authenticate(*sasl)
        if wanted:
            self.send("CAP END")
        self.expect("001")
        self.nick = nick
        return self.sync()

    def authenticate(self, account: str, password: str) -> None:
        """SASL PLAIN, which must succeed (903)."""
        self.send("AUTHENTICATE PLAIN")
        self.expect("AUTHENTICATE", where=lambda r: r.params == ("+",))
        self.send(f"AUTHENTICATE {plain(account, password)}")
        done = self.expect("903", "904", "905", "906", "907")
        if done.command != "903":
            raise E2EFailure(f"IRC: SASL PLAIN as {account} failed: {done}")

    def join(self, channel: str) -> list[Reply]:
        """Join C{channel}; the replies up to the end of its NAMES."""
        self.send(f"JOIN {channel}")
        self.expect("JOIN", where=lambda r: r.prefix.split("!")[0] == self.nick)
        self.expect("366")
        return self.sync()

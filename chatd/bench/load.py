# -*- test-case-name: tests.test_bench -*-
"""
The load generator: many clients on real sockets, driven from one thread.

Receivers must cost the generator far less than they cost the server, or
the generator is what gets measured.  So every client is non-blocking in an
C{epoll} set and is read in big chunks, and most of them only I{count}
deliveries (one C{bytes.count} per chunk).  A few I{probes}, spread across
each channel's join order, parse every line: sender stream, sequence number
and the monotonic send time the sender stamped into the text.  Probes give
latency and an exact check of every stream they receive (each message
once, in order); counters give throughput and, at the end, per-receiver
totals, which catch loss and duplicates but not one of each on the same
counter (they cancel out: only probes can see that).

Text of a benchmark message: C{B<stream> <seq> <send time ns>}, where a
stream is one sender talking to one channel.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import re
import select
import socket
import sqlite3
import time
from array import array
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Callable

from chatd.bench import websocket

STAMP = re.compile(rb"B(\d+) (\d+) (\d+)")
_PING = re.compile(rb"(?m)^(?:@\S+ )?(?::\S+ )?PING( [^\r\n]*)\r?$")


class BenchError(Exception):
    """The benchmark cannot go on: the server refused or dropped us."""


#: C{--moderated}: a full ban list and exception list (100 entries each, as
#: many as chatd takes), none of which covers a bench client.
BANS = [f"spammer{i}!*@*" for i in range(100)]
EXCEPTS = [f"*!friend{i}@192.0.2.*" for i in range(100)]


class Dialect:
    """How one wire protocol registers, joins, talks and marks a delivery."""

    name = ""
    #: occurs once in every delivered message and nowhere else
    marker = b""
    hello_done = b""
    join_done = b""
    _errors: tuple[bytes, ...] = ()

    def hello(self, nick: str) -> bytes:
        raise NotImplementedError

    def join(self, channel: str) -> bytes:
        raise NotImplementedError

    def say(self, to: str) -> tuple[bytes, bytes]:
        """What goes before and after the text of a message to C{to}."""
        raise NotImplementedError

    def error_in(self, data: bytes) -> bytes | None:
        """The first line of C{data} that means the server refused us."""
        for needle in self._errors:
            at = data.find(needle)
            if at >= 0:
                start = data.rfind(b"\n", 0, at) + 1
                end = data.find(b"\n", at)
                return data[start : end if end >= 0 else len(data)].strip()
        return None

    def pongs(self, data: bytes) -> bytes:
        """Replies to any keep-alive pings in C{data}."""
        return b""

    def ping(self, token: str) -> bytes:
        """A request the server answers with a line containing C{token}."""
        raise NotImplementedError

    def moderate(self, channel: str, voiced: Sequence[str]) -> bytes:
        """
        What the channel's operator sends to moderate it (C{--moderated}):
        +m with the senders voiced, and full ban and exception lists that
        catch none of the bench's clients, so that every message is judged
        against them.
        """
        raise NotImplementedError


class IRCDialect(Dialect):
    name = "irc"
    marker = b" PRIVMSG "
    hello_done = b" 001 "
    join_done = b" 366 "
    _refusal = re.compile(
        rb"(?m)^(?:@\S+ )?(?::\S+ )?(?:ERROR|(?!422 )[45]\d\d) [^\r\n]*"
    )

    def error_in(self, data: bytes) -> bytes | None:
        match = self._refusal.search(data)
        return None if match is None else match.group(0)

    def hello(self, nick: str) -> bytes:
        return f"NICK {nick}\r\nUSER {nick} 0 * :chatd-bench\r\n".encode()

    def join(self, channel: str) -> bytes:
        return f"JOIN {channel}\r\n".encode()

    def say(self, to: str) -> tuple[bytes, bytes]:
        return f"PRIVMSG {to} :".encode(), b"\r\n"

    def ping(self, token: str) -> bytes:
        return f"PING :{token}\r\n".encode()

    def moderate(self, channel: str, voiced: Sequence[str]) -> bytes:
        lines = [f"MODE {channel} +m"]
        lines += [f"MODE {channel} +v {nick}" for nick in voiced]
        lines += [f"MODE {channel} +b {mask}" for mask in BANS]
        lines += [f"MODE {channel} +e {mask}" for mask in EXCEPTS]
        return "".join(line + "\r\n" for line in lines).encode()

    def pongs(self, data: bytes) -> bytes:
        if b"PING" not in data:
            return b""
        return b"".join(b"PONG" + arg + b"\r\n" for arg in _PING.findall(data))


class JSONDialect(Dialect):
    name = "json"
    marker = b'"type":"message"'
    hello_done = b'"cmd":"nick"'
    join_done = b'"cmd":"join"'
    _errors = (b'"type":"error"', b'"type":"bye"')

    def hello(self, nick: str) -> bytes:
        return b'{"cmd":"nick","nick":"%s"}\n' % nick.encode()

    def join(self, channel: str) -> bytes:
        return b'{"cmd":"join","channel":"%s"}\n' % channel.encode()

    def say(self, to: str) -> tuple[bytes, bytes]:
        return b'{"cmd":"msg","to":"%s","text":"' % to.encode(), b'"}\n'

    def ping(self, token: str) -> bytes:
        return b'{"cmd":"ping","id":"%s"}\n' % token.encode()

    def moderate(self, channel: str, voiced: Sequence[str]) -> bytes:
        requests: list[dict[str, object]] = [
            {"cmd": "mode", "channel": channel, "set": {"moderated": True}}
        ]
        requests += [{"cmd": "voice", "channel": channel, "nick": n} for n in voiced]
        requests += [{"cmd": "ban", "channel": channel, "mask": m} for m in BANS]
        requests += [
            {"cmd": "ban", "channel": channel, "mask": m, "list": "except"}
            for m in EXCEPTS
        ]
        return b"".join(json.dumps(r).encode() + b"\n" for r in requests)


DIALECTS: dict[str, Dialect] = {"irc": IRCDialect(), "json": JSONDialect()}


@dataclass(frozen=True)
class WebSocket:
    """Where a protocol is over WebSocket: the path, and the subprotocol asked."""

    path: str
    subprotocol: str | None


#: Each protocol the generator speaks: its dialect, and its WebSocket
#: (None: lines over TCP).  C{ws} is IRC over WebSocket as the IRCv3
#: specification has it (one line a text message, C{text.ircv3.net});
#: C{ws-json} chatd's JSON protocol, one object a text message.
PROTOCOLS: dict[str, tuple[Dialect, WebSocket | None]] = {
    "irc": (DIALECTS["irc"], None),
    "json": (DIALECTS["json"], None),
    "ws": (DIALECTS["irc"], WebSocket("/", "text.ircv3.net")),
    "ws-json": (DIALECTS["json"], WebSocket("/json", None)),
}


class Client:
    """One connection and what the generator knows about it."""

    __slots__ = (
        "buf",
        "closed",
        "count",
        "fd",
        "held",
        "index",
        "joins",
        "key",
        "nick",
        "out",
        "probe",
        "reader",
        "sock",
        "state",
        "streams",
    )

    def __init__(self, index: int, nick: str, joins: Sequence[str]) -> None:
        self.index = index
        self.nick = nick
        self.joins = joins
        self.sock: socket.socket | None = None
        self.fd = -1
        self.state = "new"
        self.buf = b""
        self.out = b""
        self.count = 0
        self.probe = False
        self.closed = False
        #: probes only: what arrived of each stream
        self.streams: dict[int, Arrivals] = {}
        #: WebSocket only: the handshake's key, and the frame reader (every
        #: client's while it registers, then only the probes')
        self.key = b""
        self.reader: websocket.FrameReader | None = None
        #: WebSocket counters: a ping began in the last read, to end in the next
        self.held = False


#: A probe takes a sequence number above this for a corrupt one, rather
#: than keep a bitmap that long.
MAX_SEQ = 1 << 26


class Arrivals:
    """What a probe received of one stream."""

    __slots__ = ("last", "late", "repeated", "seen", "wild")

    def __init__(self) -> None:
        #: one byte per sequence number, 1 once it has arrived
        self.seen = bytearray(1024)
        self.last = -1
        #: arrived after a later one of the stream (for the first time)
        self.late = 0
        #: arrived again
        self.repeated = 0
        #: numbered beyond any bitmap (above L{MAX_SEQ}, or negative)
        self.wild = 0

    def add(self, seq: int) -> None:
        seen = self.seen
        if seq >= len(seen):
            if seq > MAX_SEQ:
                self.wild += 1
                return
            seen.extend(bytes(max(len(seen), seq + 1 - len(seen))))
        if seen[seq]:
            self.repeated += 1
            return
        seen[seq] = 1
        if seq < self.last:
            self.late += 1
        else:
            self.last = seq


@dataclass
class Stream:
    """One sender talking to one channel."""

    sender: Client
    channel: str
    members: list[Client]
    head: bytes
    tail: bytes
    sent: int = 0


@dataclass
class Check:
    """What the delivery check found."""

    receivers: int = 0
    probes: int = 0
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    #: probes only: messages of a stream they are not owed, or numbered
    #: beyond what the stream sent
    never_sent: int = 0
    disconnected: int = 0
    #: WebSocket probes only: frames that break what the counters' count
    #: relies on (L{websocket.RawCounter})
    unusual_frames: int = 0
    first_unusual: str = ""
    #: the server was still sending when the check gave up waiting, so
    #: what is missing was late, not (yet) known to be lost
    still_sending: bool = False

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.reordered
            or self.never_sent
            or self.disconnected
            or self.unusual_frames
        )

    def summary(self) -> str:
        if self.ok:
            counters = self.receivers - self.probes
            return (
                f"ok: {self.delivered} deliveries to {self.receivers} receivers; "
                f"{self.probes} probes got every stream's messages exactly once, "
                f"in order"
                + (
                    f", and the other {counters} got as many as were sent"
                    if counters
                    else ""
                )
            )
        missing = (
            f"{self.lost} still undelivered while the server kept sending"
            if self.still_sending
            else f"{self.lost} lost"
        )
        unusual = (
            f", {self.unusual_frames} unusual frames (first: {self.first_unusual})"
            if self.unusual_frames
            else ""
        )
        return (
            f"FAILED: {missing}, {self.duplicated} duplicated, "
            f"{self.reordered} out of order, {self.never_sent} never sent, "
            f"{self.disconnected} disconnected{unusual} "
            f"(of {self.expected} expected deliveries)"
        )


@dataclass
class Step:
    """One offered rate held for a while, and what came of it."""

    offered: float  # deliveries/s
    sent: int = 0
    expected: int = 0
    on_time: int = 0  # deliveries counted by the end of the grace period
    seconds: float = 0.0
    latencies: array[int] = field(default_factory=lambda: array("q"))
    generator_cpu: float = 0.0
    server_cpu: float | None = None
    #: C{store}: messages of the step in the store by L{KEEP_GRACE} seconds
    #: after its grace period (None: not watched)
    stored: int | None = None

    @property
    def delivered_fraction(self) -> float:
        return self.on_time / self.expected if self.expected else 1.0

    @property
    def rate(self) -> float:
        """Deliveries per second actually achieved."""
        return self.on_time / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in milliseconds (NaN with no samples)."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        k = min(len(ordered) - 1, int(p / 100.0 * len(ordered)))
        return float(ordered[k]) / 1e6

    def passed(self, fraction: float = 0.95, p99_ms: float = 500.0) -> bool:
        """
        At least C{fraction} delivered on time with p99 under C{p99_ms};
        and, when the store is watched, every message of the step kept.
        """
        return (
            self.delivered_fraction >= fraction
            and self.percentile(99) <= p99_ms
            and (self.stored is None or self.stored >= self.sent)
        )

    def as_dict(self) -> dict[str, object]:
        return {
            "offered": round(self.offered),
            "achieved": round(self.rate),
            "delivered_fraction": round(self.delivered_fraction, 4),
            "p50_ms": _round(self.percentile(50)),
            "p99_ms": _round(self.percentile(99)),
            "max_ms": _round(self.percentile(100)),
            "samples": len(self.latencies),
            "generator_cpu": round(self.generator_cpu, 3),
            "server_cpu": None
            if self.server_cpu is None
            else round(self.server_cpu, 3),
            **(
                {}
                if self.stored is None
                else {
                    "messages": self.sent,
                    "stored": self.stored,
                    "kept_per_s": round(min(self.stored, self.sent) / self.seconds)
                    if self.seconds
                    else 0,
                }
            ),
        }


def _round(value: float) -> float | None:
    return None if value != value else round(value, 2)


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process C{pid}."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss(pid: int) -> int:
    """Resident memory of process C{pid} in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise BenchError(f"no VmRSS for process {pid}")


def raise_fd_limit() -> int:
    """Raise this process's open-file limit to its hard limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Load:
    """
    Clients of one server, in one C{epoll} loop.

    @param server_pid: when known, server CPU and memory are reported.
    @param ws: the dialect over WebSocket, at this path with this
        subprotocol; None: lines over TCP.
    """

    def __init__(
        self,
        host: str,
        port: int,
        dialect: Dialect,
        *,
        server_pid: int | None = None,
        batch: float = 0.02,
        log: Callable[[str], None] = lambda line: None,
        ws: WebSocket | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.dialect = dialect
        #: what L{_read} counts: the dialect's delivery marker
        self.marker = dialect.marker
        self.server_pid = server_pid
        self.batch_ns = int(batch * 1e9)
        self.log = log
        self.clients: list[Client] = []
        self.by_fd: dict[int, Client] = {}
        self.streams: list[Stream] = []
        self.members: dict[str, list[Client]] = {}
        self._counters = select.epoll()
        self._probes = select.epoll()
        self.disconnected = 0
        self.ws = ws
        self._masker = websocket.Masker()
        self._irc = isinstance(dialect, IRCDialect)
        self._raw = websocket.RawCounter(self._masker, self._irc)
        #: WebSocket: every client parses its frames until the probes are
        #: chosen; then the counters switch to counting the raw stream
        self._parse_all = True
        #: what a message becomes on the wire: a masked frame, or (TCP,
        #: None) the bytes as they are
        self._frame: Callable[[bytes], bytes] | None = None
        if ws is not None:
            self._frame = self._masker.frame
            self._read = self._read_ws  # type: ignore[method-assign]

    @classmethod
    def of(cls, target: Target, log: Callable[[str], None]) -> Load:
        """A load for C{target}, speaking its protocol."""
        dialect, ws = PROTOCOLS[target.proto]
        if ws is not None and target.path is not None:
            ws = WebSocket(target.path, ws.subprotocol)
        return cls(
            target.host,
            target.port,
            dialect,
            server_pid=target.pid,
            log=log,
            ws=ws,
        )

    def encode(self, data: bytes) -> bytes:
        """C{data}, lines of the dialect, as they go on the wire."""
        return data if self.ws is None else self._masker.lines(data)

    def wire(self, message: bytes) -> bytes:
        """A stream's C{message} (L{Stream.head} to L{Stream.tail}) on the wire."""
        return message if self._frame is None else self._frame(message)

    # setting up

    def connect(
        self,
        nicks: Sequence[str],
        joins: Callable[[int], Sequence[str]],
        window: int = 64,
        timeout: float = 120.0,
    ) -> float:
        """
        Connect, register and join a client per nick, at most C{window}
        handshakes at a time; return the seconds it took.  C{joins(i)} names
        the channels client C{i} joins, in order.
        """
        raise_fd_limit()
        first = len(self.clients)
        todo = [Client(first + i, nick, joins(i)) for i, nick in enumerate(nicks)]
        pending = list(reversed(todo))
        busy: dict[int, Client] = {}
        ep = select.epoll()
        dialect = self.dialect
        start = time.monotonic()
        deadline = start + timeout
        done = 0
        try:
            while done < len(todo):
                while pending and len(busy) < window:
                    client = pending.pop()
                    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    sock.setblocking(False)
                    # the generator's own sends must not wait for ACKs
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    err = sock.connect_ex((self.host, self.port))
                    if err not in (0, errno.EINPROGRESS):
                        raise BenchError(
                            f"cannot connect to {self.host}:{self.port}: "
                            f"{os.strerror(err)}"
                        )
                    client.sock = sock
                    client.fd = sock.fileno()
                    client.state = "connecting"
                    busy[client.fd] = client
                    ep.register(client.fd, select.EPOLLOUT)
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(
                        f"only {done} of {len(todo)} clients registered and "
                        f"joined within {timeout:g} s"
                    )
                for fd, _ in ep.poll(min(left, 1.0)):
                    client = busy[fd]
                    conn = client.sock
                    assert conn is not None
                    if client.state == "connecting":
                        err = conn.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                        if err:
                            raise BenchError(
                                f"cannot connect to {self.host}:{self.port}: "
                                f"{os.strerror(err)}"
                            )
                        if self.ws is not None:
                            client.key = websocket.new_key()
                            conn.sendall(
                                websocket.request(
                                    self.host,
                                    self.port,
                                    self.ws.path,
                                    client.key,
                                    self.ws.subprotocol,
                                )
                            )
                            client.state = "upgrading"
                        else:
                            conn.sendall(dialect.hello(client.nick))
                            client.state = "hello"
                        ep.modify(fd, select.EPOLLIN)
                        continue
                    try:
                        data = conn.recv(65536)
                    except BlockingIOError:
                        continue
                    except OSError as e:
                        raise BenchError(f"{client.nick}: {e}") from None
                    if not data:
                        raise BenchError(
                            f"{client.nick}: the server closed the connection "
                            f"while registering ({client.buf[-300:]!r})"
                        )
                    if self.ws is not None:
                        data = self._registering_ws(client, data)
                        if client.state == "upgrading":
                            continue
                    client.buf += data
                    pongs = dialect.pongs(data)
                    if pongs:
                        conn.sendall(self.encode(pongs))
                    bad = dialect.error_in(client.buf)
                    if bad is not None:
                        raise BenchError(f"{client.nick}: the server said {bad!r}")
                    if client.state == "hello":
                        if dialect.hello_done not in client.buf:
                            continue
                        client.buf = b""
                        if client.joins:
                            conn.sendall(
                                self.encode(b"".join(map(dialect.join, client.joins)))
                            )
                            client.state = "joining"
                            continue
                    elif client.buf.count(dialect.join_done) < len(client.joins):
                        continue
                    client.state = "ready"
                    client.buf = b""
                    ep.unregister(fd)
                    del busy[fd]
                    done += 1
        except BaseException:
            for client in busy.values():
                if client.sock is not None:
                    client.sock.close()
            raise
        finally:
            ep.close()
        elapsed = time.monotonic() - start
        for client in todo:
            if client.reader is not None:
                # from here on, what a counter keeps of its raw stream
                client.buf = websocket.carry_after(b"", client.reader.buf)
            self.clients.append(client)
            self.by_fd[client.fd] = client
            self._counters.register(client.fd, select.EPOLLIN)
            for name in client.joins:
                self.members.setdefault(name, []).append(client)
        return elapsed

    def _registering_ws(self, client: Client, data: bytes) -> bytes:
        """
        WebSocket, while C{client} registers: the handshake, then its
        messages as lines (each with CRLF), for L{connect} to read as over
        TCP; pings answered, a close reported.
        """
        assert self.ws is not None and client.sock is not None
        if client.state == "upgrading":
            client.buf += data
            try:
                end = websocket.handshake_end(
                    client.buf, client.key, self.ws.subprotocol
                )
            except websocket.WebSocketError as e:
                raise BenchError(f"{client.nick}: {e}") from None
            if end is None:
                return b""
            data = client.buf[end:]
            client.buf = b""
            client.state = "hello"
            client.reader = websocket.FrameReader(
                self._masker, websocket.bad_starts(self.marker)
            )
            client.sock.sendall(self.encode(self.dialect.hello(client.nick)))
        reader = client.reader
        assert reader is not None
        messages = reader.feed(data)
        if reader.replies:
            client.sock.sendall(reader.replies)
            reader.replies = b""
        if reader.closed is not None:
            raise BenchError(
                f"{client.nick}: the server {reader.closed} while registering "
                f"({client.buf[-300:]!r})"
            )
        return b"".join(m + b"\r\n" for m in messages)

    def make_probes(self, count: int) -> None:
        """
        Make C{count} clients probes, spread evenly over the join order (a
        server writes to members in some order; the last ones wait longest).
        Over WebSocket, the other clients then stop parsing frames.
        """
        n = len(self.clients)
        count = min(count, n)
        for k in range(count):
            client = self.clients[(k * n) // count + (n // count) // 2]
            if not client.probe:
                client.probe = True
                self._counters.unregister(client.fd)
                self._probes.register(client.fd, select.EPOLLIN)
        self._parse_all = False

    def add_stream(self, sender: Client, channel: str) -> Stream:
        head, tail = self.dialect.say(channel)
        if self.ws is not None:
            tail = tail.rstrip(b"\r\n")  # a message a frame, no line end
        stream = Stream(
            sender,
            channel,
            self.members[channel],
            head + b"B%d " % len(self.streams),
            tail,
        )
        self.streams.append(stream)
        return stream

    # running

    def _recv(self, client: Client) -> bytes | None:
        """
        What C{client}'s socket has for us, or None when it has nothing
        now or is gone (then it is counted lost).
        """
        sock = client.sock
        assert sock is not None
        try:
            data = sock.recv(262144)
        except BlockingIOError:
            return None
        except OSError:
            data = b""
        if not data:
            self._lost(client)
            return None
        return data

    def _read(self, client: Client, now_ns: int, step: Step | None) -> None:
        data = self._recv(client)
        if data is None:
            return
        if client.buf:
            data = client.buf + data
        end = data.rfind(b"\n") + 1
        client.buf = data[end:]
        client.count += data.count(self.marker, 0, end)
        if client.probe:
            arrivals = client.streams
            lat = step.latencies if step is not None else None
            for s, q, t in STAMP.findall(data, 0, end):
                stream = int(s)
                got = arrivals.get(stream)
                if got is None:
                    got = arrivals[stream] = Arrivals()
                got.add(int(q))
                if lat is not None:
                    lat.append(now_ns - int(t))
        pongs = self.dialect.pongs(data)
        if pongs:
            sock = client.sock
            assert sock is not None
            with contextlib.suppress(OSError):
                sock.send(pongs)

    def _read_ws(self, client: Client, now_ns: int, step: Step | None) -> None:
        """
        L{_read} over WebSocket: a probe (or any client before the probes
        are chosen) parses every frame; a counter counts the marker in the
        raw stream (L{websocket.RawCounter}), keeping the end of the
        stream in C{buf}.
        """
        data = self._recv(client)
        if data is None:
            return
        carry = client.buf
        reader = client.reader
        if reader is None:
            # websocket.carry_after, RawCounter.count and may_ping, inline
            # (a call costs as much as a count): the marker is at least five
            # bytes, so the straddle of the count holds that of "PING "
            client.buf = data[-256:] if len(data) >= 256 else (carry + data)[-256:]
            marker = self.marker
            k = len(marker) - 1
            straddle = carry[-k:] + data[:k]
            client.count += data.count(marker) + straddle.count(marker)
            if not (
                client.held
                or b"\x89" in data
                or (self._irc and (b"PING " in data or b"PING " in straddle))
            ):
                return
            replies, client.held = self._raw.replies(carry, data)
        else:
            client.buf = websocket.carry_after(carry, data)
            text = b"\n".join(reader.feed(data))
            client.count += text.count(self.marker)
            if client.probe:
                arrivals = client.streams
                lat = step.latencies if step is not None else None
                for s, q, t in STAMP.findall(text):
                    stream = int(s)
                    got = arrivals.get(stream)
                    if got is None:
                        got = arrivals[stream] = Arrivals()
                    got.add(int(q))
                    if lat is not None:
                        lat.append(now_ns - int(t))
            elif not self._parse_all and reader.idle:
                client.reader = None  # at a frame boundary: count raw from here
            replies = reader.replies
            reader.replies = b""
            pongs = self.dialect.pongs(text)
            if pongs:
                replies += self._masker.lines(pongs)
        if replies:
            sock = client.sock
            assert sock is not None
            with contextlib.suppress(OSError):
                sock.send(replies)

    def _lost(self, client: Client) -> None:
        if client.closed:
            return
        client.closed = True
        self.disconnected += 1
        ep = self._probes if client.probe else self._counters
        ep.unregister(client.fd)
        if self.disconnected <= 3:
            self.log(f"{client.nick} was disconnected: {client.buf[-200:]!r}")

    def _poll_counters(self, now_ns: int, step: Step | None) -> None:
        """Read every counter that has data, a slice at a time."""
        while True:
            ready = self._counters.poll(0, 256)
            for fd, _ in ready:
                self._read(self.by_fd[fd], now_ns, step)
            self._poll_probes(0)
            if len(ready) < 256:
                return

    def _poll_probes(self, timeout: float) -> bool:
        ready = self._probes.poll(timeout)
        if ready:
            now = time.monotonic_ns()
            step = self._step
            for fd, _ in ready:
                self._read(self.by_fd[fd], now, step)
        return bool(ready)

    _step: Step | None = None

    def run(
        self,
        offered: float,
        seconds: float,
        choose: Callable[[int], Stream],
        deliveries_per_message: float,
        grace: float = 1.0,
    ) -> Step:
        """
        Send at C{offered} deliveries per second for C{seconds}; C{choose(k)}
        picks the stream of message C{k}.  Deliveries counted by C{grace}
        seconds after the last send are on time.
        """
        step = Step(offered)
        self._step = step
        per_s = offered / deliveries_per_message
        before = self.delivered()
        cpu0 = time.process_time()
        scpu0 = self._server_cpu()
        t0 = time.monotonic_ns()
        t_end = t0 + int(seconds * 1e9)
        stop = t_end + int(grace * 1e9)
        next_send = t0
        next_count = t0 + self.batch_ns
        sent = 0
        expected = 0
        touched: dict[int, Client] = {}
        frame = self._frame
        while True:
            now = time.monotonic_ns()
            if now >= next_send and now < t_end:
                due = int((now - t0) * per_s / 1e9) + 1
                if due - sent > per_s:  # a second behind: do not burst
                    sent = due - int(per_s)
                while sent < due:
                    stream = choose(sent)
                    stamp = t0 + int(sent * 1e9 / per_s)
                    sender = stream.sender
                    message = b"%s%d %d%s" % (
                        stream.head,
                        stream.sent,
                        stamp,
                        stream.tail,
                    )
                    sender.out += message if frame is None else frame(message)
                    stream.sent += 1
                    expected += len(stream.members) - 1
                    touched[sender.fd] = sender
                    sent += 1
                    step.sent += 1
                for sender in touched.values():
                    self._flush(sender)
                touched.clear()
                # the next message's own time, but at most 1000 wake-ups/s
                next_send = max(t0 + int(sent * 1e9 / per_s), now + 1_000_000)
            elif now >= t_end and next_send < stop:
                next_send = stop
                for client in self.clients:
                    if client.out:
                        self._flush(client)
            if now >= next_count:
                self._poll_counters(now, step)
                next_count = time.monotonic_ns() + self.batch_ns
            if now >= stop:
                break
            wait = min(next_send, next_count, stop) - time.monotonic_ns()
            self._poll_probes(max(wait, 0) / 1e9)
        self._poll_counters(time.monotonic_ns(), step)
        self._step = None
        step.expected = expected
        step.on_time = self.delivered() - before
        step.seconds = seconds
        step.generator_cpu = (time.process_time() - cpu0) / (seconds + grace)
        scpu1 = self._server_cpu()
        if scpu0 is not None and scpu1 is not None:
            step.server_cpu = (scpu1 - scpu0) / (seconds + grace)
        return step

    def _flush(self, client: Client) -> None:
        if not client.out or client.closed:
            return
        assert client.sock is not None
        try:
            n = client.sock.send(client.out)
        except BlockingIOError:
            return
        except OSError:
            self._lost(client)
            return
        client.out = client.out[n:]

    def drain(
        self, quiet: float = 0.3, limit: float = 15.0, give_up: float = 3.0
    ) -> bool:
        """
        Read until every delivery sent so far has arrived and nothing more
        arrives for C{quiet} seconds, or until nothing at all arrives for
        C{give_up} seconds (True either way: what is still missing is
        lost); or for at most C{limit} seconds (False: the server is still
        catching up).  A pause in the server's output (a long garbage
        collection of a big backlog) is not taken for the end of it.
        """
        want = self.expected_deliveries()
        end = time.monotonic() + limit
        last_data = time.monotonic()
        while True:
            now = time.monotonic()
            silent = now - last_data
            if silent >= quiet and self.delivered() >= want:
                return True
            if silent >= give_up:
                return True
            if now >= end:
                return False
            got = self._poll_probes(0.01)
            ready = self._counters.poll(0, 256)
            for fd, _ in ready:
                self._read(self.by_fd[fd], 0, None)
            for client in self.clients:
                if client.out:
                    self._flush(client)
            if got or ready:
                last_data = time.monotonic()

    def pump(self, seconds: float) -> None:
        """Read whatever arrives for about C{seconds}."""
        self._poll_probes(seconds)
        for fd, _ in self._counters.poll(0, 256):
            self._read(self.by_fd[fd], 0, None)

    def expected_deliveries(self) -> int:
        """Deliveries owed for every message sent so far."""
        return sum(
            stream.sent * sum(1 for m in stream.members if m is not stream.sender)
            for stream in self.streams
        )

    def delivered(self) -> int:
        return sum(c.count for c in self.clients)

    def _server_cpu(self) -> float | None:
        if self.server_pid is None:
            return None
        try:
            return process_cpu(self.server_pid)
        except OSError:
            return None

    def check(
        self, only: Iterable[Client] | None = None, drained: bool = True
    ) -> Check:
        """
        Compare what every client got with what the streams sent to the
        channels it is in: a probe stream by stream (each message once, in
        order), a counter by its total.  Call after L{drain}, saying
        whether it saw the server go quiet.
        """
        owed: dict[int, dict[int, int]] = {}
        for sid, stream in enumerate(self.streams):
            if stream.sent:
                for member in stream.members:
                    if member is not stream.sender:
                        owed.setdefault(member.index, {})[sid] = stream.sent
        result = Check(still_sending=not drained)
        for client in self.clients if only is None else only:
            result.receivers += 1
            reader = client.reader
            if reader is not None and reader.unusual:
                result.unusual_frames += reader.unusual
                result.first_unusual = result.first_unusual or reader.first_unusual
            streams = owed.get(client.index, {})
            want = sum(streams.values())
            result.expected += want
            result.delivered += client.count
            if client.closed:
                result.disconnected += 1
                continue
            if not client.probe:
                if client.count < want:
                    result.lost += want - client.count
                elif client.count > want:
                    result.duplicated += client.count - want
                continue
            result.probes += 1
            for sid in streams.keys() | client.streams.keys():
                sent = streams.get(sid, 0)
                got = client.streams.get(sid) or Arrivals()
                arrived = got.seen.count(1, 0, sent)
                result.lost += sent - arrived
                result.duplicated += got.repeated
                result.reordered += got.late
                result.never_sent += got.seen.count(1, sent) + got.wild
        return result

    def ping_all(self) -> Check:
        """
        Every connection asks the server for an answer (IRC C{PING}, JSON
        C{ping}); each must get exactly one: no connection was dropped or
        left unserved.
        """
        token = "chatd-bench-check"
        saved = [c.count for c in self.clients]
        self._set_marker(token.encode())
        try:
            for client in self.clients:
                client.count = 0
                client.out += self.encode(self.dialect.ping(token))
                self._flush(client)
            self.drain(quiet=0.3)
            result = Check()
            for client in self.clients:
                result.receivers += 1
                result.expected += 1
                result.delivered += client.count
                if client.closed:
                    result.disconnected += 1
                elif client.count == 0:
                    result.lost += 1
                elif client.count > 1:
                    result.duplicated += client.count - 1
            return result
        finally:
            self._set_marker(self.dialect.marker)
            for client, count in zip(self.clients, saved):
                client.count = count

    def _set_marker(self, marker: bytes) -> None:
        """Count C{marker} from now on (frame readers check for it too)."""
        assert len(marker) >= 5  # what L{_read_ws} relies on
        self.marker = marker
        starts = websocket.bad_starts(marker)
        for client in self.clients:
            if client.reader is not None:
                client.reader.bad_starts = starts

    def close(self) -> None:
        for client in self.clients:
            if client.sock is not None:
                client.sock.close()
        self._counters.close()
        self._probes.close()


# scenarios


def _check_fields(check: Check) -> dict[str, object]:
    """What a result says about its delivery check."""
    return {
        "check": check.summary(),
        "check_ok": check.ok,
        "expected_deliveries": check.expected,
        "delivered": check.delivered,
    }


@dataclass
class Target:
    host: str
    port: int
    proto: str
    pid: int | None = None
    #: WebSocket: a path other than the protocol's own (L{PROTOCOLS})
    path: str | None = None


#: how long an overloaded server may take to send what it has queued
CATCH_UP_SECONDS = 120.0


def _nicks(prefix: str, n: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(n)]


def fanout(
    target: Target,
    members: int = 1000,
    senders: int = 4,
    rate: float | None = 50000.0,
    seconds: float = 5.0,
    probes: int = 16,
    log: Callable[[str], None] = print,
    step_seconds: float = 3.0,
    start_rate: float = 50000.0,
    max_seconds: float = 180.0,
    max_steps: int = 30,
    moderated: bool = False,
) -> dict[str, object]:
    """
    C{members} clients in one channel, C{senders} of them talking.  With a
    C{rate} (deliveries/s) hold it for C{seconds}; with None find the
    highest rate at which at least 95% of deliveries arrive with p99 under
    500 ms, stepping up by 1.5x and then bisecting.  C{moderated}: the
    first client, the channel's operator, makes it +m with the senders
    voiced and fills its ban and exception lists first.
    """
    load = Load.of(target, log)
    try:
        channel = "#bench"
        nicks = _nicks("f", members)
        if moderated:
            # the first to join makes the channel, and is its operator
            setup = load.connect(nicks[:1], lambda i: (channel,))
            setup += load.connect(nicks[1:], lambda i: (channel,))
        else:
            setup = load.connect(nicks, lambda i: (channel,))
        load.drain(quiet=0.2)
        load.make_probes(probes)
        stride = max(1, members // max(1, senders))
        streams = [
            load.add_stream(load.clients[(i * stride + 1) % members], channel)
            for i in range(senders)
        ]
        if moderated:
            operator = load.clients[0].sock
            assert operator is not None
            voiced = [s.sender.nick for s in streams]
            operator.sendall(load.encode(load.dialect.moderate(channel, voiced)))
            load.drain(quiet=0.5)

        def choose(k: int) -> Stream:
            return streams[k % len(streams)]

        per = members - 1
        steps: list[Step] = []
        if rate is not None:
            steps.append(load.run(rate, seconds, choose, per))
            load.drain()
            best = steps[0]
        else:
            steps, best = search_max(
                load, choose, per, start_rate, step_seconds, max_seconds, max_steps
            )
        check = load.check(drained=load.drain(limit=CATCH_UP_SECONDS))
        return {
            "scenario": "fanout",
            "proto": target.proto,
            "members": members,
            "senders": senders,
            "moderated": moderated,
            "setup_s": round(setup, 3),
            "max_rate": rate is None,
            "deliveries_per_s": round(best.rate) if best.passed() else 0,
            **best.as_dict(),
            "steps": [s.as_dict() for s in steps],
            **_check_fields(check),
        }
    finally:
        load.close()


def search_max(
    load: Load,
    choose: Callable[[int], Stream],
    per: float,
    start_rate: float,
    step_seconds: float,
    max_seconds: float,
    max_steps: int,
    watch: Callable[[Step], bool] | None = None,
) -> tuple[list[Step], Step]:
    """
    Steps of L{Load.run} chosen by L{RateSearch} (rates in deliveries/s,
    C{per} deliveries a message): (every step, the best one).  After each
    step C{watch(step)}, if given, may look at more than the deliveries
    (it sets L{Step.stored}) and says whether the server caught up.
    """
    search = RateSearch(start_rate)
    deadline = time.monotonic() + max_seconds
    offered: float | None = start_rate
    steps: list[Step] = []
    while (
        offered is not None and time.monotonic() < deadline and len(steps) < max_steps
    ):
        step = load.run(offered, step_seconds, choose, per)
        steps.append(step)
        caught_up = True if watch is None else watch(step)
        load.log(_step_line(step, per))
        # An overloaded server has a backlog to send; the next step must
        # not be measured through it.
        drained = load.drain(limit=CATCH_UP_SECONDS) and caught_up
        offered = search.next(step, drained)
    return steps, search.best or min(steps, key=lambda s: s.offered)


class RateSearch:
    """
    The search for the highest rate a server sustains: up by 1.5x while
    steps pass, then bisect between the best pass and the lowest failure
    until they are within 8%.
    """

    def __init__(self, start: float) -> None:
        self.offered = start
        self.best: Step | None = None
        self.failed: float | None = None

    def next(self, step: Step, drained: bool) -> float | None:
        """The rate to offer after C{step}, or None to stop searching."""
        if step.passed():
            if self.best is None or step.rate > self.best.rate:
                self.best = step
            if self.failed is None:
                self.offered *= 1.5
            elif self.failed / self.offered < 1.08:
                return None
            else:
                self.offered = (self.offered + self.failed) / 2
        else:
            self.failed = self.offered
            low = self.best.offered if self.best is not None else self.offered / 4
            if self.failed / low < 1.08 or not drained:
                return None
            self.offered = (low + self.failed) / 2
        return self.offered


def _step_line(step: Step, per: float = 1.0) -> str:
    kept = ""
    if step.stored is not None:
        kept = f"  kept {step.stored:,}/{step.sent:,} msgs"
    return (
        f"  offered {step.offered:>12,.0f}/s  achieved {step.rate:>12,.0f}/s  "
        + (f"({step.offered / per:,.0f} msgs/s)  " if per != 1.0 else "")
        + f"on time {100 * step.delivered_fraction:5.1f}%  "
        f"p50 {step.percentile(50):8.2f} ms  p99 {step.percentile(99):8.2f} ms  "
        f"generator cpu {100 * step.generator_cpu:3.0f}%"
        + (
            f"  server cpu {100 * step.server_cpu:3.0f}%"
            if step.server_cpu is not None
            else ""
        )
        + kept
    )


def rooms(
    target: Target,
    clients: int = 5000,
    size: int = 10,
    big: int = 3,
    big_size: int = 500,
    rate: float | None = 1000.0,
    seconds: float = 5.0,
    probe_share: float = 0.05,
    log: Callable[[str], None] = print,
    seed: int = 1,
    step_seconds: float = 3.0,
    start_rate: float = 1000.0,
    max_seconds: float = 180.0,
    max_steps: int = 30,
) -> dict[str, object]:
    """
    A realistic mix: C{clients} clients in rooms of C{size}, and C{big}
    large channels of C{big_size} that some of them also join; everyone
    talks, C{rate} messages per second in all, to one of their channels.
    With C{rate} None, find the highest rate sustained (as L{fanout}, from
    C{start_rate} messages/s).
    """
    rng = random.Random(seed)
    n_rooms = max(1, clients // size)
    joins: list[list[str]] = [[f"#room{i % n_rooms}"] for i in range(clients)]
    for b in range(big):
        for i in rng.sample(range(clients), min(big_size, clients)):
            joins[i].append(f"#big{b}")
    load = Load.of(target, log)
    try:
        setup = load.connect(_nicks("r", clients), lambda i: joins[i])
        load.drain(quiet=0.3)
        load.make_probes(max(1, int(clients * probe_share)))
        streams = [
            load.add_stream(client, name)
            for client in load.clients
            for name in client.joins
        ]
        mean_fanout = sum(len(s.members) - 1 for s in streams) / len(streams)
        order = [rng.randrange(len(streams)) for _ in range(65536)]

        def choose(k: int) -> Stream:
            return streams[order[k & 65535]]

        if rate is not None:
            step = load.run(rate * mean_fanout, seconds, choose, mean_fanout)
            steps = [step]
        else:
            steps, step = search_max(
                load,
                choose,
                mean_fanout,
                start_rate * mean_fanout,
                step_seconds,
                max_seconds,
                max_steps,
            )
        check = load.check(drained=load.drain(limit=CATCH_UP_SECONDS))
        delivered = step.on_time
        cpu = step.server_cpu
        return {
            "scenario": "rooms",
            "proto": target.proto,
            "clients": clients,
            "rooms": n_rooms,
            "room_size": size,
            "big_channels": big,
            "big_size": big_size,
            "mean_fanout": round(mean_fanout, 2),
            "max_rate": rate is None,
            "messages_per_s": round(step.offered / mean_fanout)
            if rate is None
            else rate,
            "sustained_messages_per_s": round(step.rate / mean_fanout)
            if step.passed()
            else 0,
            "setup_s": round(setup, 3),
            "deliveries_per_s": round(step.rate),
            "server_cpu_ms_per_1000": (
                None
                if cpu is None or not delivered
                else round(cpu * (step.seconds + 1.0) / delivered * 1e6, 3)
            ),
            **step.as_dict(),
            **({"steps": [s.as_dict() for s in steps]} if rate is None else {}),
            **_check_fields(check),
        }
    finally:
        load.close()


class StoreWatch:
    """
    The history in chatd's SQLite file, read from beside the server: the
    file is in WAL mode, so a read-only connection sees every committed
    batch while chatd writes the next.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection | None:
        if self._db is None:
            if not os.path.exists(self.path):
                return None
            self._db = sqlite3.connect(
                f"file:{self.path}?mode=ro", uri=True, isolation_level=None
            )
        return self._db

    def rows(self) -> int:
        """
        The history's highest row id: nothing is deleted while the bench
        runs (no retention), so it grows by one for every item kept.
        """
        db = self._connect()
        if db is None:
            return 0
        try:
            (top,) = db.execute("SELECT coalesce(max(id), 0) FROM history").fetchone()
        except sqlite3.OperationalError:  # the schema is not there yet
            return 0
        return int(top)

    def messages(self) -> int:
        """Messages (not joins and the like) in the history: exact, slower."""
        db = self._connect()
        if db is None:
            return 0
        (count,) = db.execute(
            "SELECT count(*) FROM history WHERE kind = 'message'"
        ).fetchone()
        return int(count)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


#: How long after a step's grace period its messages may take to be kept.
KEEP_GRACE = 1.0


def store(
    target: Target,
    db: StoreWatch | None,
    clients: int = 2000,
    size: int = 2,
    rate: float | None = None,
    seconds: float = 5.0,
    probe_share: float = 0.02,
    log: Callable[[str], None] = print,
    seed: int = 1,
    step_seconds: float = 3.0,
    start_rate: float = 10000.0,
    max_seconds: float = 180.0,
    max_steps: int = 30,
    keep_grace: float = KEEP_GRACE,
) -> dict[str, object]:
    """
    Ingestion: C{clients} clients in rooms of C{size} (few members, so that
    fan-out costs little), everyone talking to their room, C{rate}
    messages/s in all; or with None, the highest rate sustained, where a
    step passes only if, besides delivery, every one of its messages is in
    C{db} (chatd's SQLite file) within C{keep_grace} seconds of its grace
    period; before the next step the store must catch up completely.
    Rates are in messages/s (deliveries are C{size - 1} times as many).
    With C{db} None (a server keeping no history), only delivery counts:
    the same load's rate without the store, to compare with.
    """
    rng = random.Random(seed)
    size = max(2, size)
    n_rooms = max(1, clients // size)
    load = Load.of(target, log)
    try:
        setup = load.connect(
            _nicks("k", n_rooms * size), lambda i: (f"#keep{i // size}",)
        )
        load.drain(quiet=0.3)
        load.make_probes(max(1, int(len(load.clients) * probe_share)))
        streams = [load.add_stream(c, c.joins[0]) for c in load.clients]
        per = float(size - 1)
        order = [rng.randrange(len(streams)) for _ in range(65536)]

        def choose(k: int) -> Stream:
            return streams[order[k & 65535]]

        def sent() -> int:
            return sum(s.sent for s in streams)

        # the joins are kept too: count from here
        base = 0 if db is None else _wait_rows(load, db, None, CATCH_UP_SECONDS)
        marks = {"rows": base, "sent": 0}

        def watch(step: Step) -> bool:
            if db is None:
                return True
            want = marks["rows"] + step.sent
            got = _wait_rows(load, db, want, keep_grace)
            step.stored = got - marks["rows"]
            caught = _wait_rows(load, db, want, CATCH_UP_SECONDS)
            marks["rows"] = caught
            return caught >= want

        if rate is not None:
            step = load.run(rate * per, seconds, choose, per)
            watch(step)
            steps = [step]
        else:
            steps, step = search_max(
                load,
                choose,
                per,
                start_rate * per,
                step_seconds,
                max_seconds,
                max_steps,
                watch,
            )
        check = load.check(drained=load.drain(limit=CATCH_UP_SECONDS))
        accepted = sent()
        rows = (
            None
            if db is None
            else _wait_rows(load, db, base + accepted, CATCH_UP_SECONDS)
        )
        return {
            "scenario": "store",
            "proto": target.proto,
            "clients": len(load.clients),
            "rooms": n_rooms,
            "room_size": size,
            "max_rate": rate is None,
            "setup_s": round(setup, 3),
            # the best step's figures, but what is claimed is below
            **step.as_dict(),
            "messages_per_s": round(step.offered / per),
            "kept_per_s": None
            if db is None
            else round(min(step.stored or 0, step.sent) / step.seconds)
            if step.passed()
            else 0,
            "sustained_messages_per_s": round(step.rate / per) if step.passed() else 0,
            "accepted": accepted,
            "rows_kept": None if rows is None else rows - base,
            "deliveries_per_s": round(step.rate),
            **({"steps": [s.as_dict() for s in steps]} if rate is None else {}),
            **_check_fields(check),
        }
    finally:
        load.close()


def _wait_rows(load: Load, db: StoreWatch, want: int | None, limit: float) -> int:
    """
    C{db}'s rows once there are C{want} (None: once they stop growing for
    a second), or after C{limit} seconds; reading the clients meanwhile.
    """
    end = time.monotonic() + limit
    rows = db.rows()
    last, still = rows, time.monotonic()
    while time.monotonic() < end:
        if want is not None and rows >= want:
            break
        if want is None and time.monotonic() - still >= 1.0:
            break
        load.pump(0.02)
        rows = db.rows()
        if rows != last:
            last, still = rows, time.monotonic()
    return rows


def storm(
    target: Target,
    clients: int = 2000,
    mode: str = "own",
    window: int = 64,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """
    C{clients} clients connect, register and join as fast as the server
    lets them (C{window} handshakes in flight): each its own channel
    (C{mode} "own") or all one channel ("one").
    """
    load = Load.of(target, log)
    try:
        if mode == "own":
            joins: Callable[[int], Sequence[str]] = lambda i: (f"#s{i}",)  # noqa: E731
        elif mode == "one":
            joins = lambda i: ("#storm",)  # noqa: E731
        else:
            raise BenchError(f"unknown storm mode {mode!r}: own or one")
        cpu0, scpu0 = time.process_time(), load._server_cpu()
        elapsed = load.connect(_nicks("s", clients), joins, window=window)
        cpu1, scpu1 = time.process_time(), load._server_cpu()
        load.drain(quiet=0.3)
        # everyone in one channel: one line from the first must reach all;
        # each in their own: each connection must still be served
        check = _roll_call(load) if mode == "one" else load.ping_all()
        return {
            "scenario": "storm",
            "proto": target.proto,
            "clients": clients,
            "mode": mode,
            "seconds": round(elapsed, 3),
            "registrations_per_s": round(clients / elapsed),
            "generator_cpu": round((cpu1 - cpu0) / elapsed, 3),
            "server_cpu": (
                None
                if scpu0 is None or scpu1 is None
                else round((scpu1 - scpu0) / elapsed, 3)
            ),
            **_check_fields(check),
        }
    finally:
        load.close()


def _roll_call(load: Load) -> Check:
    """Each channel's first member says one line; everyone must hear it once."""
    before = {c.index: c.count for c in load.clients}
    for name, members in load.members.items():
        stream = load.add_stream(members[0], name)
        members[0].out += load.wire(
            b"%s0 %d%s" % (stream.head, time.monotonic_ns(), stream.tail)
        )
        stream.sent = 1
    for client in load.clients:
        load._flush(client)
    load.drain(quiet=0.3)
    for client in load.clients:
        client.count -= before[client.index]
    return load.check()


def idle(
    target: Target,
    clients: int = 5000,
    settle: float = 1.0,
    log: Callable[[str], None] = print,
) -> dict[str, object]:
    """
    C{clients} registered clients that then do nothing; the server's
    resident memory per connection (when its pid is known).
    """
    if target.pid is None:
        log("idle: no server pid (--server-pid), so no memory figure")
    rss0 = process_rss(target.pid) if target.pid is not None else None
    load = Load.of(target, log)
    try:
        elapsed = load.connect(_nicks("i", clients), lambda i: ())
        time.sleep(settle)
        load.drain(quiet=0.2)
        rss1 = process_rss(target.pid) if target.pid is not None else None
        check = load.ping_all()
        per = None if rss0 is None or rss1 is None else (rss1 - rss0) / clients
        return {
            "scenario": "idle",
            "proto": target.proto,
            "clients": clients,
            "setup_s": round(elapsed, 3),
            "rss_before_kib": None if rss0 is None else rss0 // 1024,
            "rss_after_kib": None if rss1 is None else rss1 // 1024,
            "kib_per_connection": None if per is None else round(per / 1024, 2),
            **_check_fields(check),
        }
    finally:
        load.close()

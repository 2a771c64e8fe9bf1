# -*- test-case-name: tests.test_bench -*-
"""
C{chatd-bench soak}: hundreds of clients doing random legitimate and
abusive things to one chatd for a while, then a verdict.

The server is started here, on loopback, with its default limits (only
the registration timeout is shortened, so that silent clients are seen
within the run).  The clients run in this process on Twisted's reactor,
each from one of many loopback addresses, in roles:

 - I{readers} join C{#soak} first, read everything and stay to the end;
 - I{talkers} say numbered messages to C{#soak} and chatter elsewhere, join
   and leave rooms, change nicks, set topics, burst now and then (JSON ones
   honour C{retry_after}), and sometimes vanish with a TCP reset, quit, or
   half-close; a new talker takes each one's place;
 - I{flooders} join and then send a flood at once, ignoring what they are
   told, until they are disconnected for it;
 - I{never-readers} join C{#soak} with a tiny receive buffer and never
   read; half of them also ask for big replies they never read;
 - I{garbage senders} send random bytes, invalid UTF-8, bad requests,
   overlong lines and half lines, mixed with real messages;
 - I{silent registrants} connect and never choose a nick (or only half);
 - a I{connection storm} comes in waves from one address of its own.

Every message to C{#soak} carries its sender's stream and sequence number,
and its text is a function of the two, so each reader can tell what it
got, in which order, and whether it arrived whole.  At the end the run
checks that every message that got an C{ok} (IRC: the C{echo-message}
echo) reached every reader once and in order; that the server answered
every talker's message, in order, and acknowledged none that was not sent;
that honest clients were never refused, disconnected or given an error
they should not get; that every client could connect and all had gone
after the end; that each abuse met its limit; that every line the server
wrote was well formed; that the server is empty and consistent afterwards
(its own check at shutdown included), its log has no traceback, and its
memory went back near where it started.  Everything the run records
against the server fails one of these checks.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import time
from array import array
from collections import Counter, defaultdict, deque
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Callable, cast

from twisted.internet import tcp
from twisted.internet.defer import Deferred
from twisted.internet.error import ConnectionAborted, ConnectionDone
from twisted.internet.interfaces import IDelayedCall
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

from chatd.bench import servers
from chatd.bench.load import BenchError, process_cpu, process_rss, raise_fd_limit

#: The channel whose every message is checked.
CHANNEL = "#soak"
#: Other channels talkers join, leave and chatter in.
ROOMS = tuple(f"#room{i}" for i in range(8))

MIN_CLIENTS = 20
MAX_CLIENTS = 2000
MAX_DURATION = 600.0

#: Each role's share of --clients, and the fewest of it.
SHARES = {
    "reader": (0.15, 2),
    "talker": (0.42, 4),
    "flooder": (0.07, 2),
    "never_reader": (0.05, 4),
    "garbage": (0.10, 2),
    "silent": (0.07, 2),
    "storm": (0.14, 20),
}
ROLES = tuple(SHARES)
ROLE_NAMES = {
    "reader": "readers",
    "talker": "talkers",
    "flooder": "flooders",
    "never_reader": "never-readers",
    "garbage": "garbage senders",
    "silent": "silent registrants",
    "storm": "storm (one address)",
}
#: A storm wave must be bigger than chatd's default --max-per-ip (16).
STORM_MIN = SHARES["storm"][1]
STORM_WAVE_SECONDS = 2.0
STORM_ADDRESS = "127.1.0.1"

#: Honest clients stay well inside chatd's default per-address limits
#: (16 at once, 32 a minute): at most this many at once from one address...
PER_ADDRESS = 8
#: ... and this many new connections in any 60 seconds.
CONNECTS_PER_MINUTE = 24

#: Deliveries a second this process can read and check at ease: the rate
#: of messages to #soak is capped at this divided by its members.
DELIVERY_BUDGET = 25000.0
#: Receive buffer of a never-reader, set before it connects.
RCVBUF = 4096
#: Text length of a long message: JSON (about 3 KB), and IRC (a line is 512).
LONG_JSON = 3000
LONG_IRC = 400
#: An active never-reader asks five times a second, for at most this long.
ASK_BATCHES = 150
#: ... for about this many bytes a second of replies.
ASK_RATE = 1e6
#: How often the generator measures how late its own reactor runs.
LAG_TICK = 0.1
#: Readers and never-readers send something this often, so the idle reaper
#: (180 s by default) leaves them alone on long runs.
KEEPALIVE = 30.0

#: Memory "back near its start": within this much of the first figure...
MEMORY_SLACK = 16 << 20
#: ... or this fraction of it, whichever is more (see docs/security.md) ...
MEMORY_FRACTION = 0.25
#: ... or on PyPy this one: its GC collects the old generation only once the
#: heap has grown 1.82-fold (PYPY_GC_MAJOR_COLLECT), and the JIT keeps what
#: it compiled, so there RSS can only show a gross leak.
MEMORY_FRACTION_PYPY = 1.0

PAD = "abcdefghijklmnopqrstuvwxyz"
STAMP = re.compile(r"S(\d+) (\d+) (\d+) ")


def stamped(stream: int, seq: int, length: int) -> str:
    """The text of message C{seq} of C{stream}: a function of the two."""
    return f"S{stream} {seq} {length} " + PAD[(stream + seq) % 26] * length


def fold(name: str) -> str:
    """chatd's case mapping (ASCII)."""
    return name.lower()


def role_counts(clients: int) -> dict[str, int]:
    """How many of C{clients} play each role (the storm at least L{STORM_MIN})."""
    counts = {
        role: max(least, round(share * clients))
        for role, (share, least) in SHARES.items()
        if role != "talker"
    }
    storm_share = round(SHARES["storm"][0] * clients)
    others = sum(n for role, n in counts.items() if role != "storm")
    counts["talker"] = max(SHARES["talker"][1], clients - others - storm_share)
    return {role: counts[role] for role in ROLES}


# -- IRC lines -------------------------------------------------------------


def parse_irc(line: str) -> tuple[dict[str, str], str, str, list[str]] | None:
    """(tags, prefix, COMMAND, params) of a server's line; None if malformed."""
    tags: dict[str, str] = {}
    rest = line
    if rest.startswith("@"):
        head, sep, rest = rest.partition(" ")
        if not sep or len(head) < 2:
            return None
        for item in head[1:].split(";"):
            key, _, value = item.partition("=")
            if not key:
                return None
            tags[key] = value
    prefix = ""
    if rest.startswith(":"):
        prefix, sep, rest = rest[1:].partition(" ")
        if not sep or not prefix:
            return None
    head, sep, trailing = rest.partition(" :")
    params = head.split(" ")
    command = params.pop(0)
    if any(not p for p in params):
        return None
    if sep:
        params.append(trailing)
    if not (command.isalpha() or (command.isdigit() and len(command) == 3)):
        return None
    return tags, prefix, command.upper(), params


#: ERROR :Closing Link: host (REASON) -> the JSON bye code it stands for
IRC_CLOSES = (
    ("Quit:", "quit"),
    ("Client Quit", "quit"),
    ("Excess Flood", "flood"),
    ("SendQ exceeded", "sendq_exceeded"),
    ("Registration timed out", "register_timeout"),
    ("Too many connections", "too_many_connections"),
    ("Too many new connections", "connecting_too_fast"),
    ("Ping timeout", "idle_timeout"),
    ("the server is full", "server_full"),
    ("the server is shutting down", "shutdown"),
)

IRC_ERRORS = {
    "401": "no_such_nick",
    "403": "no_such_channel",
    "404": "cannot_send",
    "406": "was_no_such_nick",
    "407": "too_many_targets",
    "409": "no_origin",
    "410": "bad_cap",
    "411": "no_recipient",
    "412": "no_text",
    "417": "input_too_long",
    "421": "unknown_command",
    "431": "no_nick",
    "432": "bad_nick",
    "433": "nick_in_use",
    "442": "not_in_channel",
    "451": "not_registered",
    "461": "need_more_params",
    "462": "already_registered",
    "472": "unknown_mode",
    "501": "unknown_umode",
    "502": "users_dont_match",
}


def irc_close_code(text: str) -> tuple[str, str]:
    """(code, reason) of an IRC C{ERROR} line's text."""
    start, end = text.find("("), text.rfind(")")
    reason = text[start + 1 : end] if 0 <= start < end else text
    for needle, code in IRC_CLOSES:
        if reason.startswith(needle):
            return code, reason
    return "error", reason


JSON_TYPES = frozenset(
    (
        "welcome",
        "ok",
        "error",
        "message",
        "join",
        "leave",
        "topic",
        "nick",
        "quit",
        "bye",
    )
)


# -- bookkeeping -----------------------------------------------------------


@dataclass
class Stream:
    """One connection's numbered messages to #soak."""

    id: int
    role: str
    proto: str
    #: seq -> text length, for everything written
    sent: dict[int, int] = field(default_factory=dict)
    confirmed: set[int] = field(default_factory=set)
    refused: set[int] = field(default_factory=set)
    next_seq: int = 0
    #: its connection ended with our own TCP reset, so replies to the last
    #: messages it wrote may never have come
    reset: bool = False

    def take(self, length: int) -> int:
        seq = self.next_seq
        self.next_seq += 1
        self.sent[seq] = length
        return seq


@dataclass
class Delivery:
    """What some receivers got of the streams, against what was confirmed."""

    receivers: int = 0
    confirmed: int = 0
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    refused_delivered: int = 0
    never_sent: int = 0
    unconfirmed: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.reordered
            or self.refused_delivered
            or self.never_sent
        )

    def problems(self) -> str:
        return (
            f"{self.lost:,} lost, {self.duplicated:,} duplicated, "
            f"{self.reordered:,} out of order, {self.refused_delivered:,} refused "
            f"ones delivered, {self.never_sent:,} never sent"
        )


def check_deliveries(
    streams: dict[int, Stream],
    received: Iterable[Mapping[int, Sequence[int]]],
    complete: bool,
) -> Delivery:
    """
    Compare what each receiver got (stream -> sequence numbers in arrival
    order) with what was sent.  Every receiver must get each stream in
    order, nothing twice, nothing that was refused or never sent; with
    C{complete} (receivers that were members all along), also every
    confirmed message.
    """
    d = Delivery()
    for got in received:
        d.receivers += 1
        for sid, seqs in got.items():
            stream = streams.get(sid)
            if stream is None:
                d.never_sent += len(seqs)
                continue
            seen: set[int] = set()
            last = -1
            for seq in seqs:
                if seq in seen:
                    d.duplicated += 1
                    continue
                seen.add(seq)
                if seq < last:
                    d.reordered += 1
                else:
                    last = seq
                if seq in stream.refused:
                    d.refused_delivered += 1
                elif seq not in stream.sent:
                    d.never_sent += 1
                elif seq in stream.confirmed:
                    d.delivered += 1
                else:
                    d.unconfirmed += 1
        if complete:
            for sid, stream in streams.items():
                d.expected += len(stream.confirmed)
                have = set(got.get(sid, ()))
                d.lost += len(stream.confirmed - have)
    d.confirmed = sum(len(s.confirmed) for s in streams.values())
    return d


#: Error replies an honest client may get, and why: what it asks about may
#: have just gone.  Any other error to a reader or talker fails the run.
HONEST_ERRORS = {
    "no_such_nick": "a private message or WHOIS to someone who has just left",
    "was_no_such_nick": "WHOWAS for a nick that never left",
    "no_such_channel": "a question about a room nobody is in",
    "nick_in_use": "a nick someone has (talkers try that on purpose)",
}


@dataclass
class Acks:
    """Whether the server answered every numbered message it was sent."""

    streams: int = 0
    sent: int = 0
    acked: int = 0
    refused: int = 0
    #: unanswered after the connection was reset by us: may never come
    cut_short: int = 0
    #: unanswered although a later message of the stream was answered, or
    #: the connection ended without our reset
    unanswered: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unanswered


def check_acks(streams: Iterable[Stream]) -> Acks:
    """
    Every message written must have been answered, in order: with an C{ok}
    or a C{rate_limited} refusal (JSON), with its echo (IRC, whose
    C{echo-message} is the only sign the server took it).  A reply comes
    after the replies to everything written before, so only the last few
    of a stream may go unanswered, and only if we reset its connection.
    """
    a = Acks()
    for stream in streams:
        a.streams += 1
        a.sent += len(stream.sent)
        a.acked += len(stream.confirmed)
        a.refused += len(stream.refused)
        answered = stream.confirmed | stream.refused
        last = max(answered, default=-1)
        for seq in stream.sent:
            if seq in answered:
                continue
            if stream.reset and seq > last:
                a.cut_short += 1
            else:
                a.unanswered += 1
                if len(a.samples) < 3:
                    a.samples.append(f"{stream.proto} {stream.role} S{stream.id} {seq}")
    return a


class AddressPool:
    """
    Source addresses for every client but the storm, so that each stays
    inside chatd's per-address limits: at most L{PER_ADDRESS} connections at
    once and L{CONNECTS_PER_MINUTE} new ones in any minute from each.
    """

    def __init__(self, addresses: Sequence[str], rng: random.Random) -> None:
        self.addresses = list(addresses)
        self.rng = rng
        self.open = dict.fromkeys(self.addresses, 0)
        self.recent: dict[str, deque[float]] = {a: deque() for a in self.addresses}

    @classmethod
    def for_clients(cls, clients: int, rng: random.Random) -> AddressPool:
        """127.0.0.2-254 (and 127.0.2.x... for more than 1000 clients)."""
        blocks = [0, *range(2, 2 + (clients - 1) // 1000)]
        return cls([f"127.0.{b}.{h}" for b in blocks for h in range(2, 255)], rng)

    def take(self, now: float) -> str | None:
        n = len(self.addresses)
        start = self.rng.randrange(n)
        for i in range(n):
            address = self.addresses[(start + i) % n]
            if self.open[address] >= PER_ADDRESS:
                continue
            recent = self.recent[address]
            while recent and recent[0] <= now - 60.0:
                recent.popleft()
            if len(recent) >= CONNECTS_PER_MINUTE:
                continue
            self.open[address] += 1
            recent.append(now)
            return address
        return None

    def release(self, address: str) -> None:
        self.open[address] -= 1


class Pacer:
    """
    A token bucket of deliveries a second, shared by everyone who talks in
    a channel: a message costs one per member.  Past it, talkers do
    something else and flooders flood a channel of their own, so that what
    this process must read stays within what it can check.
    """

    def __init__(self, rate: float, now: float) -> None:
        self.rate = rate
        self.capacity = 2 * rate
        self.tokens = self.capacity
        self.stamp = now

    def take(self, n: int, now: float) -> bool:
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens < n:
            return False
        self.tokens -= n
        return True


# -- connections -----------------------------------------------------------


class Conn(Protocol):
    """One client connection: splits the server's lines for its session."""

    proto = ""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.soak = session.soak
        self._buffer = b""
        self.open = False
        self.tcp: Any = None

    def connectionMade(self) -> None:
        self.open = True
        self.tcp = self.transport
        self.session.made(self)

    def dataReceived(self, data: bytes) -> None:
        soak = self.soak
        soak.bytes_in += len(data)
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for raw in lines:
            soak.lines_in += 1
            self.line(raw)
        if len(self._buffer) > 65536:
            self.malformed(self._buffer[:200], "a line longer than 64 KiB")
            self._buffer = b""

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.open = False
        self.flush()
        if self._buffer:
            if reason is None or reason.check(ConnectionDone):
                # the server closed in the middle of a line
                self.malformed(self._buffer[:200], "no line ending at the close")
            elif not reason.check(ConnectionAborted):  # (we cut it off ourselves)
                # reset by the server: it cuts off who has not read for a while
                self.soak.cut_off += 1
                self.session.stats["cut_off"] += 1
        self.session.lost()

    def malformed(self, raw: bytes, why: str) -> None:
        self.soak.malformed(self.session, raw, why)

    def write(self, data: bytes) -> None:
        if self.open:
            self.tcp.write(data)

    def flush(self) -> None:
        """Deliver anything held back (IRC: a message split over lines)."""

    def line(self, raw: bytes) -> None:
        raise NotImplementedError

    # what a session can do, in either protocol

    def register(self, nick: str, caps: Sequence[str] = ()) -> None:
        raise NotImplementedError

    def join(self, channel: str) -> None:
        raise NotImplementedError

    def part(self, channel: str) -> None:
        raise NotImplementedError

    def say(self, to: str, text: str, stamp: tuple[int, int] | None) -> None:
        raise NotImplementedError

    def change_nick(self, nick: str) -> None:
        raise NotImplementedError

    def set_topic(self, channel: str, topic: str) -> None:
        raise NotImplementedError

    def query(self, rng: random.Random, nick: str, channel: str) -> None:
        """A random command that only reads (free under flood control)."""
        raise NotImplementedError

    def ping(self, token: str = "") -> None:
        raise NotImplementedError

    def quit(self, reason: str) -> None:
        raise NotImplementedError


class JSONConn(Conn):
    proto = "json"

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._ids = 0
        #: the next request is the first costly one after waiting retry_after
        self.next_resumed = False
        #: id -> (cmd, what it was: a (stream, seq) stamp or a token, resumed)
        self.pending: dict[int, tuple[str, object, bool]] = {}

    def request(self, cmd: str, what: object = None, **args: Any) -> None:
        self._ids += 1
        resumed, self.next_resumed = self.next_resumed, False
        self.pending[self._ids] = (cmd, what, resumed)
        body = {"cmd": cmd, "id": self._ids, **args}
        self.write(json.dumps(body, separators=(",", ":")).encode() + b"\n")

    def register(self, nick: str, caps: Sequence[str] = ()) -> None:
        self.request("nick", nick=nick)

    def join(self, channel: str) -> None:
        self.request("join", channel=channel)

    def part(self, channel: str) -> None:
        self.request("leave", channel=channel, reason="moving on")

    def say(self, to: str, text: str, stamp: tuple[int, int] | None) -> None:
        self.request("msg", stamp, to=to, text=text)

    def change_nick(self, nick: str) -> None:
        self.request("nick", nick=nick)

    def set_topic(self, channel: str, topic: str) -> None:
        self.request("topic", channel=channel, topic=topic)

    def query(self, rng: random.Random, nick: str, channel: str) -> None:
        kind = rng.choice(("list", "who", "topic", "ping", "help"))
        if kind in ("who", "topic"):
            self.request(kind, channel=channel)
        else:
            self.request(kind)

    def ping(self, token: str = "") -> None:
        self.request("ping", token or None)

    def quit(self, reason: str) -> None:
        self.request("quit", reason=reason)

    def line(self, raw: bytes) -> None:
        try:
            obj = json.loads(raw)
        except ValueError:
            self.malformed(raw, "not JSON")
            return
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind not in JSON_TYPES or raw.endswith(b"\r"):
            self.malformed(raw, "not a chatd JSON line")
            return
        session = self.session
        try:
            if kind == "message":
                session.message(obj["to"], obj["from"], obj["text"])
            elif kind in ("ok", "error"):
                self._reply(obj, kind == "ok")
            elif kind == "quit":
                session.quit_seen(obj["nick"], obj["reason"])
            elif kind == "join":
                session.join_seen(obj["channel"], obj["nick"])
            elif kind == "nick":
                session.nick_seen(obj["old"], obj["new"])
            elif kind == "bye":
                session.bye(obj["code"], obj["reason"])
        except (KeyError, TypeError):
            self.malformed(raw, f"a {kind} without its fields")

    def _reply(self, obj: dict[str, Any], ok: bool) -> None:
        rid = obj.get("id")
        entry = self.pending.pop(rid, None) if isinstance(rid, int) else None
        cmd, what, resumed = entry or (str(obj.get("cmd")), None, False)
        code = "" if ok else str(obj["code"])
        session = self.session
        if code == "internal_error":
            self.soak.internal_errors += 1
        if isinstance(what, tuple):
            stream, seq = what
            if ok:
                self.soak.confirm(stream, seq)
            elif code == "rate_limited":
                self.soak.refuse(stream, seq)
        if code == "rate_limited":
            session.rate_limited(float(obj["retry_after"]), resumed)
        elif code:
            session.error(code)
        session.reply(cmd, ok, what, obj)


class IRCConn(Conn):
    proto = "irc"

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.me = ""
        #: a message being put together from lines with one msgid:
        #: [msgid, sender, target, text]
        self._frag: list[str] | None = None
        #: channels (folded) we asked to join: a 366 for one of them ends
        #: the join; any other is the end of a NAMES reply
        self.joining: set[str] = set()

    def send_line(self, text: str) -> None:
        self.write(text.encode() + b"\r\n")

    def register(self, nick: str, caps: Sequence[str] = ()) -> None:
        lines = []
        if caps:
            lines += ["CAP LS 302", "CAP REQ :" + " ".join(caps)]
        lines += [f"NICK {nick}", "USER soak 0 * :chatd-bench soak"]
        if caps:
            lines.append("CAP END")
        self.write("".join(line + "\r\n" for line in lines).encode())

    def join(self, channel: str) -> None:
        self.joining.add(fold(channel))
        self.send_line(f"JOIN {channel}")

    def part(self, channel: str) -> None:
        self.send_line(f"PART {channel} :moving on")

    def say(self, to: str, text: str, stamp: tuple[int, int] | None) -> None:
        self.send_line(f"PRIVMSG {to} :{text}")

    def change_nick(self, nick: str) -> None:
        self.send_line(f"NICK {nick}")

    def set_topic(self, channel: str, topic: str) -> None:
        self.send_line(f"TOPIC {channel} :{topic}")

    def query(self, rng: random.Random, nick: str, channel: str) -> None:
        self.send_line(
            rng.choice(
                (
                    "LIST",
                    f"NAMES {channel}",
                    f"WHO {channel}",
                    f"WHOIS {nick}",
                    f"WHOWAS {nick}",
                    f"MODE {channel}",
                    f"TOPIC {channel}",
                    f"ISON {nick} nobody",
                    f"USERHOST {nick}",
                    "LUSERS",
                    "VERSION",
                    "TIME",
                    "MOTD",
                )
            )
        )

    def ping(self, token: str = "") -> None:
        self.send_line(f"PING :{token or 'soak'}")

    def quit(self, reason: str) -> None:
        self.send_line(f"QUIT :{reason}")

    def flush(self) -> None:
        frag, self._frag = self._frag, None
        if frag is not None:
            self._deliver(frag[1], frag[2], frag[3])

    def _deliver(self, sender: str, target: str, text: str) -> None:
        session = self.session
        stream = session.stream
        if stream is not None and fold(sender) == fold(self.me):
            match = STAMP.match(text)
            if match is not None and int(match.group(1)) == stream.id:
                # echo-message: the server took it and sent it on
                if fold(target) == CHANNEL:
                    self.soak.confirm(stream.id, int(match.group(2)))
                return
        session.message(target, sender, text)

    def line(self, raw: bytes) -> None:
        if not raw.endswith(b"\r"):
            self.malformed(raw, "no CR LF")
            return
        body = raw[:-1]
        if b"\0" in body or b"\r" in body:
            self.malformed(raw, "NUL inside a line" if b"\0" in body else "CR inside")
            return
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            self.malformed(raw, "not UTF-8")
            return
        parsed = parse_irc(text)
        if parsed is None:
            self.malformed(raw, "not an IRC line")
            return
        tags, prefix, command, params = parsed
        untagged = len(body) - (body.find(b" ") + 1 if body.startswith(b"@") else 0)
        if untagged > 512 + 80:
            self.malformed(raw, "an IRC line far over 512 bytes")
        source = prefix.split("!", 1)[0]
        frag = self._frag
        if frag is not None:
            msgid = tags.get("msgid")
            if command == "PRIVMSG" and msgid == frag[0] and len(params) >= 2:
                frag[3] += params[-1]
                return
            self.flush()
        session = self.session
        if command in ("PRIVMSG", "NOTICE"):
            if len(params) < 2:
                self.malformed(raw, f"{command} without text")
                return
            if "!" not in prefix:  # from the server
                if "sending too fast" in params[-1]:
                    session.flood_notice()
                return
            if command == "PRIVMSG":
                msgid = tags.get("msgid")
                if msgid:
                    self._frag = [msgid, source, params[0], params[-1]]
                else:
                    self._deliver(source, params[0], params[-1])
        elif command == "PING":
            self.send_line("PONG :" + (params[-1] if params else ""))
        elif command == "PONG":
            session.pong(params[-1] if params else "")
        elif command == "ERROR":
            code, reason = irc_close_code(params[-1] if params else "")
            session.bye(code, reason)
        elif command.isdigit():
            self._numeric(command, params)
        elif command == "JOIN" and params:
            if fold(source) != fold(self.me):
                session.join_seen(params[0], source)
        elif command == "PART" and params:
            if fold(source) == fold(self.me):
                session.reply("leave", True, None, {"channel": params[0]})
        elif command == "NICK" and params:
            if fold(source) == fold(self.me):
                self.me = params[0]
                session.reply("nick", True, None, {"nick": params[0]})
            else:
                session.nick_seen(source, params[0])
        elif command == "QUIT":
            session.quit_seen(source, params[0] if params else "")
        elif command == "FAIL" and len(params) >= 2:
            if params[1] == "INTERNAL_ERROR":
                self.soak.internal_errors += 1
            session.error(params[1].lower())
        elif command == "CAP" and len(params) >= 2 and params[1] == "NAK":
            session.error("cap_nak")

    def _numeric(self, command: str, params: list[str]) -> None:
        session = self.session
        session.numeric(command, params)
        if command == "001" and params:
            self.me = params[0]
            session.registered(params[0])
        elif command == "366" and len(params) >= 2 and fold(params[1]) in self.joining:
            self.joining.discard(fold(params[1]))
            session.reply("join", True, None, {"channel": params[1]})
        elif command[0] in "45" and command != "422":  # 422: no MOTD, fine
            session.error(IRC_ERRORS.get(command, command))


CONNS: dict[str, Callable[[Session], Conn]] = {"json": JSONConn, "irc": IRCConn}


class _Factory(ClientFactory):
    noisy = False

    def __init__(self, session: Session) -> None:
        self.session = session

    def buildProtocol(self, addr: Any) -> Conn:
        return CONNS[self.session.proto](self.session)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.session.failed(reason)


class _SmallWindowClient(tcp.Client):
    """A TCP client whose receive buffer is tiny from before it connects."""

    def createInternetSocket(self) -> socket.socket:
        s: socket.socket = super().createInternetSocket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        return s


class _SmallWindowConnector(tcp.Connector):
    def _makeTransport(self) -> tcp.Client:
        return _SmallWindowClient(
            self.host, self.port, self.bindAddress, self, self.reactor
        )


# -- sessions: one connection each, playing a role ----------------------------


class Session:
    """One connection and what its role does with it."""

    role = "checker"
    #: why the server may close this role's connections (JSON bye codes)
    expected: frozenset[str] = frozenset()
    honest = False
    caps: tuple[str, ...] = ()
    rcvbuf = False

    def __init__(
        self,
        soak: Soak,
        proto: str,
        rng: random.Random,
        nick: str,
        slot: Slot | None = None,
    ) -> None:
        self.soak = soak
        self.proto = proto
        self.rng = rng
        self.nick = nick
        self.slot = slot
        self.stats = soak.stats[(self.role, proto)]
        self.conn: Conn | None = None
        self.address: str | None = None
        self.pooled = False
        self.timers: list[IDelayedCall] = []
        self.ended = False
        #: we ended it (quit, half-close or reset): a close is no surprise
        self.leaving = False
        self.closed_code: str | None = None
        self.started = 0.0
        self.stream: Stream | None = None
        #: stream -> sequence numbers of #soak messages, in arrival order
        self.received: dict[int, array[int]] = {}
        self.in_soak = False
        self.others_saw: str | None = None
        self.json_registered = False
        #: channels this session is in (folded), as far as it knows
        self.channels: set[str] = set()

    # life

    def start(self, address: str, pooled: bool = True) -> None:
        self.address, self.pooled = address, pooled
        self.soak.connect(self, address)

    def made(self, conn: Conn) -> None:
        self.conn = conn
        self.started = self.soak.now()
        self.stats["sessions"] += 1
        self.soak.live.add(self)
        self.connected()

    def failed(self, reason: Failure) -> None:
        self.stats["connect_failed"] += 1
        self.soak.symptom(
            "connect",
            f"{self.role} {self.nick} from {self.address}: {reason.getErrorMessage()}",
        )
        self._end()

    def lost(self) -> None:
        if not self.leaving and self.closed_code is None and self.reads():
            self.soak.surprise(self, "closed without a word")
        self._end()

    def _end(self) -> None:
        if self.ended:
            return
        self.ended = True
        for timer in self.timers:
            if timer.active():
                timer.cancel()
        self.timers = []
        if self.pooled and self.address is not None:
            self.soak.pool.release(self.address)
        for channel in self.channels:
            self.soak.members[channel] -= 1
        self.channels = set()
        self.soak.live.discard(self)
        if self.received and not isinstance(self, Reader):
            self.soak.other_members.append(self)
        self.over()

    def reads(self) -> bool:
        return True

    def later(self, delay: float, f: Callable[[], None]) -> None:
        """Call C{f} after C{delay} unless this session has ended by then."""
        if self.ended:
            return
        if len(self.timers) > 16:
            self.timers = [t for t in self.timers if t.active()]

        def run() -> None:
            if not self.ended:
                f()

        self.timers.append(self.soak.reactor.callLater(delay, run))

    def acting(self) -> bool:
        """Still connected, and the run is not over."""
        return not self.ended and self.conn is not None and not self.soak.stopping

    def abort(self, count: bool = True) -> None:
        """Go with a TCP reset (Twisted closes with SO_LINGER 0)."""
        if self.conn is not None and self.conn.open:
            self.leaving = True
            if count:
                self.stats["resets"] += 1
            if self.stream is not None:
                self.stream.reset = True
            self.conn.tcp.abortConnection()

    def leave(self, reason: str = "done") -> None:
        """Say goodbye properly."""
        if self.conn is not None and self.conn.open and not self.leaving:
            self.leaving = True
            self.conn.quit(reason)

    def finish(self) -> None:
        """The run is over: go (a reset unless a role says otherwise)."""
        self.abort()

    def own(self, nick: str) -> None:
        self.nick = nick
        self.soak.own(nick, self)

    def new_stream(self) -> Stream:
        self.stream = self.soak.new_stream(self.role, self.proto)
        return self.stream

    def say_soak(self, length: int, to: str = CHANNEL) -> None:
        """A numbered message to #soak."""
        assert self.conn is not None
        stream = self.stream or self.new_stream()
        seq = stream.take(length)
        self.stats["msgs_sent"] += 1
        self.conn.say(to, stamped(stream.id, seq, length), (stream.id, seq))

    # what the server says (the connections call these)

    def connected(self) -> None:
        pass

    def registered(self, nick: str) -> None:
        self.stats["registered"] += 1
        self.own(nick)

    def reply(self, cmd: str, ok: bool, what: object, obj: dict[str, Any]) -> None:
        """A JSON reply; for IRC, a join (366), part or nick echo."""
        if not ok:
            return
        if cmd == "nick" and "nick" in obj:
            self._nick_ok(str(obj["nick"]))
        elif cmd == "join":
            channel = str(obj.get("channel", ""))
            self.in_channel(channel)
            if fold(channel) == CHANNEL:
                self.in_soak = True
                self.joined_soak()
            else:
                self.joined_room(channel)
        elif cmd == "leave":
            channel = str(obj.get("channel", ""))
            if fold(channel) in self.channels:
                self.channels.discard(fold(channel))
                self.soak.members[fold(channel)] -= 1
            self.left_room(channel)

    def in_channel(self, channel: str) -> None:
        """This session is in C{channel} now (for the members count)."""
        if fold(channel) not in self.channels:
            self.channels.add(fold(channel))
            self.soak.members[fold(channel)] += 1

    def _nick_ok(self, nick: str) -> None:
        if self.proto == "json" and not self.json_registered:
            self.json_registered = True
            self.registered(nick)
        else:
            self.own(nick)

    def joined_soak(self) -> None:
        pass

    def joined_room(self, channel: str) -> None:
        pass

    def left_room(self, channel: str) -> None:
        pass

    def numeric(self, command: str, params: list[str]) -> None:
        pass

    def message(self, target: str, sender: str, text: str) -> None:
        if self.in_soak and fold(target) == CHANNEL:
            self.soak.record(self, text)

    def quit_seen(self, nick: str, reason: str) -> None:
        pass

    def join_seen(self, channel: str, nick: str) -> None:
        pass

    def nick_seen(self, old: str, new: str) -> None:
        pass

    def pong(self, token: str) -> None:
        pass

    def flood_notice(self) -> None:
        self.stats["flood_notices"] += 1

    def rate_limited(self, retry_after: float, resumed: bool) -> None:
        self.stats["rate_limited"] += 1

    def error(self, code: str) -> None:
        self.stats["errors"] += 1
        self.stats[f"error:{code}"] += 1

    def bye(self, code: str, reason: str) -> None:
        """The server's last words: a JSON C{bye}, an IRC C{ERROR}."""
        if self.closed_code is not None:
            return
        self.closed_code = code
        self.stats[f"bye:{code}"] += 1
        if code == "quit" and self.leaving:
            return
        if code not in self.expected:
            self.soak.surprise(self, f"closed by the server: {code} ({reason})")
        self.closed(code)

    def closed(self, code: str) -> None:
        pass

    def others_saw_quit(self, reason: str) -> None:
        """Readers saw this session's user quit, with C{reason}."""

    def over(self) -> None:
        """The connection is gone."""
        if self.slot is not None:
            self.slot.over(self)


class Reader(Session):
    """Joins #soak before anyone talks, reads everything, stays to the end."""

    role = "reader"
    honest = True
    caps = ("message-tags",)

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.synced = False

    def connected(self) -> None:
        assert self.conn is not None
        self.soak.used_nicks.add(self.nick)
        self.conn.register(self.nick, self.caps)
        if self.proto == "json":
            self.conn.join(CHANNEL)
        self.later(KEEPALIVE, self.keepalive)

    def registered(self, nick: str) -> None:
        super().registered(nick)
        if self.proto == "irc":
            assert self.conn is not None
            self.conn.join(CHANNEL)

    def joined_soak(self) -> None:
        self.soak.readers_in += 1

    def keepalive(self) -> None:
        if self.conn is not None:
            self.conn.ping("keepalive")
        self.later(KEEPALIVE, self.keepalive)

    def sync(self) -> None:
        """Ask for a reply that comes after everything sent to us so far."""
        if self.conn is not None and self.conn.open:
            self.conn.ping("sync")

    def reply(self, cmd: str, ok: bool, what: object, obj: dict[str, Any]) -> None:
        super().reply(cmd, ok, what, obj)
        if cmd == "ping" and what == "sync":
            self.synced = True

    def pong(self, token: str) -> None:
        if token == "sync":
            self.synced = True

    def quit_seen(self, nick: str, reason: str) -> None:
        self.soak.saw_quit(nick, reason)

    def join_seen(self, channel: str, nick: str) -> None:
        if fold(channel) == CHANNEL:
            self.soak.saw_join(nick)

    def lost(self) -> None:
        if not self.leaving:
            self.soak.readers_lost.append(
                f"{self.nick} ({self.proto}): {self.closed_code or 'connection lost'}"
            )
        super().lost()

    def finish(self) -> None:
        self.leave("soak over")


def _case(rng: random.Random, channel: str) -> str:
    """The channel as some client might spell it."""
    return rng.choice((channel, channel, channel.upper(), channel.capitalize()))


class Talker(Session):
    """
    A well-behaved user: about one command a second, mostly numbered
    messages to #soak; the JSON ones wait for each reply, and after
    C{rate_limited} for C{retry_after}.
    """

    role = "talker"
    honest = True
    caps = ("echo-message", "message-tags")
    ACTIONS = {
        "soak": 38.0,
        "soak_long": 14.0,
        "room": 10.0,
        "private": 4.0,
        "join": 6.0,
        "part": 4.0,
        "nick": 3.0,
        "nick_taken": 1.0,
        "topic": 4.0,
        "query": 8.0,
        "burst": 1.5,
        "reset": 1.2,
        "quit": 0.8,
        "half_close": 0.5,
    }

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.base = self.nick
        self.renames = 0
        self.rooms: dict[str, str] = {}
        #: JSON requests not answered yet
        self.outstanding = 0
        self.hold_until = 0.0
        #: told to wait, and nothing costly sent since
        self.held = False
        self.soak_name = _case(self.rng, CHANNEL)

    def connected(self) -> None:
        assert self.conn is not None
        self.soak.used_nicks.add(self.nick)
        self.conn.register(self.nick, self.caps)
        self.outstanding = 1

    def registered(self, nick: str) -> None:
        super().registered(nick)
        assert self.conn is not None
        self.conn.join(self.soak_name)
        self.outstanding += 1

    def joined_soak(self) -> None:
        self.later(self.rng.uniform(0.1, 1.0), self.act)

    def joined_room(self, channel: str) -> None:
        self.rooms[fold(channel)] = channel

    def left_room(self, channel: str) -> None:
        self.rooms.pop(fold(channel), None)

    def reply(self, cmd: str, ok: bool, what: object, obj: dict[str, Any]) -> None:
        super().reply(cmd, ok, what, obj)
        if self.proto == "json":
            self.outstanding = max(0, self.outstanding - 1)

    def rate_limited(self, retry_after: float, resumed: bool) -> None:
        super().rate_limited(retry_after, resumed)
        if resumed:
            # it waited as told and was refused all the same
            self.soak.retry_broken += 1
        self.hold_until = max(self.hold_until, self.soak.now() + retry_after)
        self.held = True

    def act(self) -> None:
        if not self.acting() or self.leaving:
            return
        now = self.soak.now()
        json_ = self.proto == "json"
        if json_ and (self.outstanding or now < self.hold_until):
            wait = 0.1 if self.outstanding else self.hold_until - now
            self.later(max(0.02, wait), self.act)
            return
        actions = self.ACTIONS
        action = self.rng.choices(list(actions), list(actions.values()))[0]
        if self.held and action != "query":
            # the first costly command after waiting retry_after
            self.held = False
            if json_:
                self.stats["retried"] += 1
                assert isinstance(self.conn, JSONConn)
                self.conn.next_resumed = True
        getattr(self, f"do_{action}")()
        if self.acting() and not self.leaving:
            self.later(self.rng.uniform(0.5, 1.7), self.act)

    def _send(self, to: str, text: str) -> None:
        assert self.conn is not None
        self.conn.say(to, text, None)
        self.outstanding += 1

    def do_soak(self, long: bool = False) -> None:
        if not self.soak.afford(CHANNEL):
            self.do_room()
            return
        length = self.rng.randint(0, 60)
        if long:
            length = LONG_JSON if self.proto == "json" else LONG_IRC
        self.say_soak(length, self.soak_name)
        self.outstanding += 1

    def do_soak_long(self) -> None:
        self.do_soak(long=True)

    def do_room(self) -> None:
        if not self.rooms:
            self.do_join()
            return
        room = self.rng.choice(sorted(self.rooms.values()))
        if not self.soak.afford(room):
            self.do_query()
            return
        self._send(room, f"chatter {self.rng.randrange(10**6)}")

    def do_private(self) -> None:
        nick = self.soak.some_nick(self.rng)
        self._send(nick, f"psst {self.rng.randrange(10**6)}")

    def do_join(self) -> None:
        assert self.conn is not None
        free = [r for r in ROOMS if r not in self.rooms]
        if not free:
            self.do_part()
            return
        self.conn.join(_case(self.rng, self.rng.choice(free)))
        self.outstanding += 1

    def do_part(self) -> None:
        assert self.conn is not None
        if not self.rooms:
            self.do_join()
            return
        # out of the list now: an IRC talker does not wait for the PART
        # echo, and must not talk or set a topic there meanwhile
        room = self.rooms.pop(fold(self.rng.choice(sorted(self.rooms.values()))))
        self.conn.part(room)
        self.outstanding += 1

    def do_nick(self) -> None:
        assert self.conn is not None
        self.renames += 1
        nick = f"{self.base}n{self.renames}"
        self.soak.used_nicks.add(nick)
        self.conn.change_nick(nick)
        self.outstanding += 1

    def do_nick_taken(self) -> None:
        """Try someone else's nick (it may be free again by now)."""
        assert self.conn is not None
        nick = self.soak.some_nick(self.rng)
        if fold(nick) == fold(self.nick):
            nick = f"{self.base}n{self.renames}x"
        self.soak.used_nicks.add(nick)
        self.conn.change_nick(nick.upper())
        self.outstanding += 1

    def do_topic(self) -> None:
        assert self.conn is not None
        channel = self.rng.choice([self.soak_name, *self.rooms.values()])
        self.conn.set_topic(
            channel, f"topic {self.rng.randrange(10**6)} by {self.nick}"
        )
        self.outstanding += 1

    def do_query(self) -> None:
        assert self.conn is not None
        channel = self.rng.choice((CHANNEL, *ROOMS))
        if not self.soak.afford(channel):
            # WHO and NAMES answer a line a member: within the budget too
            channel = self.rng.choice(ROOMS)
        self.conn.query(self.rng, self.soak.some_nick(self.rng), channel)
        self.outstanding += 1

    def do_burst(self) -> None:
        """Paste a dozen lines at once, as people do."""
        room = self.rng.choice(sorted(self.rooms.values())) if self.rooms else ""
        if self.soak.afford(CHANNEL, 12):
            for _ in range(12):
                self.say_soak(self.rng.randint(0, 60), self.soak_name)
                self.outstanding += 1
        elif room and self.soak.afford(room, 12):
            for k in range(12):
                self._send(room, f"paste line {k}")
        else:
            self.do_query()

    def do_reset(self) -> None:
        self.abort()

    def do_quit(self) -> None:
        self.leave(self.rng.choice(("bye", "", "see you")))

    def do_half_close(self) -> None:
        """A last message, then shut down sending: the server answers, then closes."""
        assert self.conn is not None
        self.do_soak()
        self.leaving = True
        self.stats["half_closes"] += 1
        self.conn.tcp.loseWriteConnection()

    def finish(self) -> None:
        if self.conn is not None and self.conn.open and self.closed_code is None:
            if self.leaving:
                return  # on its way out already (quit or half-closed)
            if self.in_soak:
                self.leave("soak over")
                return
        self.abort()

    def over(self) -> None:
        if self.slot is not None:
            self.slot.over(self, self.rng.uniform(0.2, 2.0))


class Flooder(Session):
    """Joins, then sends a flood at once and keeps at it, ignoring what it is told."""

    role = "flooder"
    expected = frozenset({"flood"})
    caps = ("echo-message", "message-tags")

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        #: #soak if the budget allows, else a channel of its own
        self.target = f"#flood{self.nick}"
        self.floods = 0

    def connected(self) -> None:
        assert self.conn is not None
        self.soak.used_nicks.add(self.nick)
        self.conn.register(self.nick, self.caps)

    def registered(self, nick: str) -> None:
        super().registered(nick)
        assert self.conn is not None
        # some ten of a flood get through before flood control bites
        if self.soak.afford(CHANNEL, 10):
            self.target = CHANNEL
        self.conn.join(self.target)

    def joined_soak(self) -> None:
        self.later(self.rng.uniform(0.2, 1.5), self.flood)

    def joined_room(self, channel: str) -> None:
        if fold(channel) == fold(self.target):
            self.later(self.rng.uniform(0.2, 1.5), self.flood)

    def flood(self) -> None:
        if not self.acting() or self.closed_code is not None:
            return
        conn = self.conn
        assert conn is not None
        self.floods += 1
        self.stats["floods"] += 1
        count = 40 if self.proto == "json" else 50
        for k in range(count):
            if self.target == CHANNEL:
                self.say_soak(self.rng.randint(0, 40))
            elif self.proto == "json" and self.rng.random() < 0.1:
                conn.join(self.rng.choice(ROOMS))
            else:
                conn.say(self.target, f"flood {k}", None)
        # a bot that ignores what it is told keeps going
        self.later(6.0, self.flood)

    def finish(self) -> None:
        self.abort()

    def over(self) -> None:
        if self.floods and self.closed_code is None and not self.soak.stopping:
            self.soak.surprise(self, "flooded and was not disconnected for it")
        if self.slot is not None:
            self.slot.over(self, self.rng.uniform(1.0, 4.0))


class NeverReader(Session):
    """
    Joins #soak with a tiny receive window and never reads.  The I{active}
    ones also keep asking for big replies (free under flood control) that
    they never read; the passive ones only fall behind the channel.
    """

    role = "never_reader"
    rcvbuf = True

    def __init__(self, *args: Any, active: bool = False, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.active = active
        self.joined_bytes: int | None = None
        self.dropped = False
        self.asked = 0

    def reads(self) -> bool:
        return False

    def connected(self) -> None:
        conn = self.conn
        assert conn is not None
        conn.tcp.pauseProducing()  # never read
        self.soak.used_nicks.add(self.nick)
        self.own(self.nick)
        conn.register(self.nick)
        conn.join(CHANNEL)
        self.stats["active" if self.active else "passive"] += 1
        if self.active:
            self.later(0.5, self.ask)
        self.later(KEEPALIVE, self.keepalive)

    def keepalive(self) -> None:
        if self.conn is not None:
            self.conn.ping("keepalive")
        self.later(KEEPALIVE, self.keepalive)

    def seen_joined(self) -> None:
        if self.joined_bytes is None:
            self.joined_bytes = self.soak.soak_bytes
            self.in_channel(CHANNEL)

    def ask(self) -> None:
        """
        Ask for some 200 KB of replies (free commands), five times a second,
        and never read them: the kernel takes the first few MiB (the
        server's socket buffer grows up to net.ipv4.tcp_wmem's maximum),
        then the server's SendQ fills.
        """
        conn = self.conn
        if not self.acting() or conn is None or self.dropped:
            return
        self.asked += 1
        if self.asked > ASK_BATCHES:
            return
        if isinstance(conn, JSONConn):
            for _ in range(150):  # about 1.3 KB each
                conn.request("help")
        else:
            # about 90 bytes a member of #soak, and 1.5 KB besides
            size = 90 * self.soak.members[CHANNEL] + 1500
            groups = max(1, round(ASK_RATE / 5 / size))
            conn.write(
                b"WHO #soak\r\nLIST\r\nVERSION\r\nLUSERS\r\nNAMES #soak\r\n" * groups
            )
        self.later(0.2, self.ask)

    def others_saw_quit(self, reason: str) -> None:
        if self.leaving:
            return  # we reset it at the end of the run
        if reason == "SendQ exceeded":
            self.dropped = True
            self.stats["sendq_drops"] += 1
            self.stats[
                "sendq_drops_active" if self.active else "sendq_drops_passive"
            ] += 1
            self.abort(count=False)  # the server dropped it; this only tidies up
        elif reason.startswith("idle for") or reason.startswith("Ping timeout"):
            self.stats["idle_drops"] += 1
            self.abort(count=False)
        else:
            self.soak.surprise(self, f"seen to quit: {reason}")

    def finish(self) -> None:
        if not self.dropped and self.joined_bytes is not None:
            self.soak.undropped.append(
                (self.active, self.soak.soak_bytes - self.joined_bytes)
            )
        self.abort()

    def over(self) -> None:
        if self.slot is not None:
            self.slot.over(self, self.rng.uniform(1.0, 3.0))


JSON_GARBAGE: tuple[bytes, ...] = (
    b"hello\n",
    b"[1,2]\n",
    b'"just a string"\n',
    b"5\n",
    b"null\n",
    b"true\n",
    b"{}\n",
    b'{"cmd":5}\n',
    b'{"cmd":null,"id":3}\n',
    b'{"cmd":"ping","id":1.5}\n',
    b'{"cmd":"ping","id":[1]}\n',
    b'{"cmd":"ping","id":{"a":1}}\n',
    b'{"cmd":"dance","id":"x"}\n',
    b'{"cmd":"msg","to":7,"text":"x"}\n',
    b'{"cmd":"msg","to":"#soak","text":"\\u0007"}\n',
    b'{"cmd":"msg","to":"#soak","text":"\\ud800"}\n',
    b'{"cmd":"msg","to":"#soak","text":""}\n',
    b'{"cmd":"nick","nick":"9lives"}\n',
    b'{"cmd":"nick","nick":"\\ud800"}\n',
    b'{"cmd":"join","channel":"no hash"}\n',
    b'{"cmd":"join","channel":"#a,b"}\n',
    b'{"cmd":"leave","channel":"#nowhere"}\n',
    b'{"cmd":"topic","channel":"#soak","topic":"\\u0000"}\n',
    b'{"cmd":"who"}\n',
    b"\xef\xbb\xbf{}\n",
    b"\xc2\xa0{}\n",
    b'{"cmd":"msg","to":"#soak","text":"\xff\xfe"}\n',
    b"\x00\x01\x02\x03{}\n",
    b"   \t  \n",
    b"\n\n\r\n",
    b'{"cmd":"ping","a":1,"a":2}\n',
    b'{"cmd": "ping", "id": NaN}\n',
    b'{"cmd":"ping","id":Infinity}\n',
)

IRC_GARBAGE: tuple[bytes, ...] = (
    b"HELLO there\r\n",
    b"PRIVMSG\r\n",
    b"PRIVMSG #soak\r\n",
    b"PRIVMSG #soak :\r\n",
    b"PRIVMSG #soak :\x07bell\r\n",
    b"PRIVMSG #soak :\x01\x01\r\n",
    b"PRIVMSG #soak :\x01PING\r\n",
    b"PRIVMSG a,b,c,d,e :too many\r\n",
    b"PRIVMSG #soak :\xff\xfe\r\n",
    b"\xff\xfe\xfd\r\n",
    b":\r\n",
    b":prefix.only\r\n",
    b" \r\n",
    b"@\r\n",
    b"@a=b\r\n",
    b"@a=b;c;d=\\s\\: PING x\r\n",
    b"@+soak=\x00\x07 TAGMSG #soak\r\n",
    b"@+soak=a\rb TAGMSG #soak\r\n",
    b"JOIN\r\n",
    b"JOIN no-hash\r\n",
    b"JOIN #" + b"x" * 60 + b"\r\n",
    b"NICK\r\n",
    b"NICK 9lives\r\n",
    b"MODE #soak +o someone\r\n",
    b"MODE someone +x\r\n",
    b"CAP BOGUS\r\n",
    b"CAP REQ :no-such-cap\r\n",
    b"KICK #soak someone\r\n",
    b"OPER a b\r\n",
    b"TOPIC #soak :\x00\r\n",
    b"PING\r\n",
    b"PING \x00\x00\r\n",
    b"WHO\r\n",
    b"USER a\r\n",
    b"PART #nowhere\r\n",
    b"\r\n\r\n\n",
    b"PRIVMSG #soak :" + b"\xe2\x82" + b"\r\n",
)


#: What garbage senders deal out (every card before any comes again): the
#: next three fixed lines, random bytes, deep nesting, huge numbers or tags,
#: long lines, bursts of fifteen, and real messages to #soak between them.
GARBAGE_CARDS = (
    *("lines",) * 12,
    *("random",) * 6,
    "deep",
    "huge",
    "long",
    "burst",
    "burst",
    *("soak",) * 5,
)
GARBAGE_ENDINGS = ("overlong", "half_fin", "half_reset", "reset", "quit", "fin")


class Deck:
    """Cards in a shuffled order; every card comes once before any repeats."""

    def __init__(self, cards: Sequence[str], rng: random.Random) -> None:
        self.cards = list(cards)
        self.rng = rng
        self.left: list[str] = []

    def draw(self) -> str:
        if not self.left:
            self.left = self.cards[:]
            self.rng.shuffle(self.left)
        return self.left.pop()


class Garbage(Session):
    """Sends junk of every kind, with now and then a real message between."""

    role = "garbage"
    expected = frozenset({"line_too_long", "flood", "register_timeout"})
    caps = ("echo-message", "message-tags")

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.steps = self.rng.randint(5, 25)

    def connected(self) -> None:
        assert self.conn is not None
        if self.rng.random() < 0.6:
            self.soak.used_nicks.add(self.nick)
            self.conn.register(self.nick, self.caps)
        else:
            self.later(self.rng.uniform(0.1, 0.8), self.step)

    def registered(self, nick: str) -> None:
        super().registered(nick)
        assert self.conn is not None
        if self.rng.random() < 0.6:
            self.conn.join(CHANNEL)
        else:
            self.later(self.rng.uniform(0.1, 0.8), self.step)

    def joined_soak(self) -> None:
        self.later(self.rng.uniform(0.1, 0.8), self.step)

    def step(self) -> None:
        if not self.acting() or self.closed_code is not None:
            return
        conn = self.conn
        assert conn is not None
        self.steps -= 1
        if self.steps <= 0:
            self.end_badly()
            return
        rng = self.rng
        card = self.soak.deck(self.proto, GARBAGE_CARDS).draw()
        json_ = self.proto == "json"
        if card == "soak" and not self.in_soak:
            card = "random"
        self.stats[f"garbage_{card}"] += 1
        if card == "soak":  # a real message between the junk
            self.say_soak(rng.randint(0, 80))
        elif card == "random":
            junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 300)))
            end = b"\n" if json_ else b"\r\n"
            conn.write(junk.replace(b"\n", b"") + end)
        elif card == "deep":
            depth = rng.choice((200, 2000, 5000))
            if json_:
                conn.write(b"[" * depth + b"]" * depth + b"\n")
            else:
                conn.write(b"(" * 490 + b"\r\n")  # not even a command
        elif card == "huge":
            if json_:
                conn.write(b'{"cmd":"ping","id":' + b"9" * 5000 + b"}\n")
            else:
                conn.write(b"@" + b"a=b;" * 1500 + b" PING :x\r\n")
        elif card == "long":
            if json_:  # long, but within --max-line
                conn.write(b'{"cmd":"ping","pad":"' + b"p" * 16000 + b'"}\n')
            else:  # over 512 bytes: 417 and the line is skipped
                conn.write(b"PRIVMSG #soak :" + b"y" * rng.randint(600, 3000) + b"\r\n")
        elif card == "burst":
            lines = JSON_GARBAGE if json_ else IRC_GARBAGE
            conn.write(b"".join(rng.choice(lines) for _ in range(15)))
        else:  # the next fixed lines, in turn: all of them soon
            conn.write(b"".join(self.soak.junk(self.proto) for _ in range(3)))
        self.later(rng.uniform(0.15, 0.6), self.step)

    def end_badly(self) -> None:
        conn = self.conn
        assert conn is not None
        how = self.soak.deck(self.proto, GARBAGE_ENDINGS).draw()
        self.stats[f"end_{how}"] += 1
        if how == "overlong":
            if self.proto == "json":
                # past --max-line (16384): bye line_too_long
                conn.write(b'{"cmd":"msg","text":"' + b"z" * 17000 + b'"}\n')
                self.later(5.0, self.abort)
            else:
                # no line ending in sight: 417, the rest of the line is skipped
                conn.write(b"PRIVMSG #soak :" + b"z" * 20000)
                self.later(0.5, lambda: self._fin(b"\r\n"))
        elif how == "half_fin":
            self._fin(b'{"cmd":"msg","to":"#so' if self.proto == "json" else b"PRIV")
        elif how == "half_reset":
            conn.write(b'{"cmd":"pi' if self.proto == "json" else b"PRIVMSG #s")
            self.later(0.1, self.abort)
        elif how == "reset":
            self.abort()
        elif how == "quit":
            self.leave("garbage out")
        else:
            self._fin(b"")

    def _fin(self, data: bytes) -> None:
        conn = self.conn
        if conn is None or not conn.open:
            return
        if data:
            conn.write(data)
        self.leaving = True
        conn.tcp.loseWriteConnection()
        self.later(5.0, self.abort)

    def finish(self) -> None:
        self.abort()

    def over(self) -> None:
        if self.slot is not None:
            self.slot.over(self, self.rng.uniform(0.5, 3.0))


class Silent(Session):
    """Connects and never registers (IRC: sometimes half: a NICK, or CAP LS)."""

    role = "silent"
    expected = frozenset({"register_timeout"})
    VARIANTS = ("nothing", "pings", "half")

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.variant = self.rng.choice(self.VARIANTS)

    def connected(self) -> None:
        conn = self.conn
        assert conn is not None
        self.stats[f"variant_{self.variant}"] += 1
        if self.variant == "pings":
            self.pings()
        elif self.variant == "half":
            if isinstance(conn, IRCConn):
                self.soak.used_nicks.add(self.nick)
                if self.rng.random() < 0.5:
                    conn.write(f"NICK {self.nick}\r\n".encode())
                else:  # registration held until CAP END, which never comes
                    conn.write(
                        f"CAP LS 302\r\nNICK {self.nick}\r\nUSER s 0 * :s\r\n".encode()
                    )
            else:
                conn.write(b'{"cmd":"nick","nick":"9lives","id":1}\n')

    def pings(self) -> None:
        conn = self.conn
        if conn is None or not self.acting():
            return
        if isinstance(conn, JSONConn):
            conn.request(self.rng.choice(("ping", "list", "help")))
        else:
            conn.ping()
        self.later(1.0, self.pings)

    def closed(self, code: str) -> None:
        if code == "register_timeout":
            self.soak.register_delays.append(self.soak.now() - self.started)

    def finish(self) -> None:
        age = self.soak.now() - self.started
        if self.closed_code is None and age > self.soak.register_timeout + 3.0:
            self.soak.surprise(self, f"still unregistered and open after {age:.1f} s")
        self.abort()

    def over(self) -> None:
        if self.slot is not None:
            self.slot.over(self, self.rng.uniform(0.3, 2.0))


class StormClient(Session):
    """One of a wave of connections from one address."""

    role = "storm"
    expected = frozenset({"too_many_connections", "connecting_too_fast"})

    def connected(self) -> None:
        assert self.conn is not None
        self.soak.used_nicks.add(self.nick)
        self.conn.register(self.nick)

    def registered(self, nick: str) -> None:
        super().registered(nick)
        self.later(self.rng.uniform(0.3, 1.5), self.go)

    def go(self) -> None:
        if self.rng.random() < 0.7:
            self.leave("storm over")
        else:
            self.abort()

    def finish(self) -> None:
        self.abort()


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


@dataclass
class Options:
    clients: int = 300
    duration: float = 60.0
    seed: int = 1
    register_timeout: float = 5.0
    max_sendq: str | None = None


@dataclass
class Check:
    name: str
    status: str  # "ok", "FAILED" or "note"
    detail: str

    def line(self) -> str:
        return f"  {self.status:<7} {self.name}: {self.detail}"


class Soak:
    """The clients, their bookkeeping, and the run's timeline."""

    def __init__(
        self,
        reactor: Any,
        ports: dict[str, int],
        options: Options,
        server_pid: int,
        log: Callable[[str], None] = print,
        pypy: bool = False,
    ) -> None:
        self.reactor = reactor
        self.ports = ports
        self.options = options
        self.seed = options.seed
        self.register_timeout = options.register_timeout
        self.pid = server_pid
        self.log = log
        #: the server runs on PyPy (whose RSS says less; see the memory check)
        self.pypy = pypy
        self.rng = random.Random(f"{options.seed}:soak")
        self.counts = role_counts(options.clients)
        self.stats: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.streams: dict[int, Stream] = {}
        self.live: set[Session] = set()
        self.readers: list[Reader] = []
        #: sessions other than readers that were in #soak
        self.other_members: list[Session] = []
        #: channel (folded) -> how many of our sessions are in it
        self.members: Counter[str] = Counter()
        self.owner: dict[str, Session] = {}
        self.nick_list: list[str] = []
        self.decks: dict[tuple[str, str], Deck] = {}
        self.junk_sent: Counter[str] = Counter()
        self.used_nicks: set[str] = set()
        self.pool = AddressPool.for_clients(options.clients, self.rng)
        self.stopping = False
        self.readers_in = 0
        self.readers_lost: list[str] = []
        self.lines_in = 0
        self.bytes_in = 0
        self.malformed_lines = 0
        #: connections reset by the server in the middle of a line
        self.cut_off = 0
        self.malformed_samples: list[str] = []
        self.malformed_kinds: Counter[str] = Counter()
        self.internal_errors = 0
        self.surprises: list[str] = []
        self.surprise_count = 0
        #: what the server did wrong outside any session's role: kind ->
        #: how often, and a few examples (see L{symptom})
        self.symptoms: Counter[str] = Counter()
        self.symptom_samples: defaultdict[str, list[str]] = defaultdict(list)
        #: what limited this generator, not the server
        self.notes: list[str] = []
        self.soak_bytes = 0
        self.retry_broken = 0
        self.corrupt = 0
        self.corrupt_samples: list[str] = []
        self.register_delays: list[float] = []
        #: the longest this process's reactor ran late (see L{measure_lag})
        self.lag = 0.0
        self._last_tick = 0.0
        self.undropped: list[tuple[bool, int]] = []
        self.server_dead: str | None = None
        self.rss: dict[str, int] = {}
        self.state: dict[str, Any] = {}
        self.bench_errors: list[str] = []
        self.timeline: dict[str, float] = {}
        self.pacer = Pacer(DELIVERY_BUDGET, reactor.seconds())
        self.slots: list[Slot] = []
        for role in ROLES:
            if role == "storm":
                continue
            for i in range(self.counts[role]):
                self.slots.append(Slot(self, role, i, ("json", "irc")[i % 2]))

    def now(self) -> float:
        t: float = self.reactor.seconds()
        return t

    # connections

    def connect(self, session: Session, address: str) -> None:
        factory = _Factory(session)
        port = self.ports[session.proto]
        if session.rcvbuf:
            _SmallWindowConnector(
                "127.0.0.1", port, factory, 10, (address, 0), self.reactor
            ).connect()
        else:
            self.reactor.connectTCP(
                "127.0.0.1", port, factory, timeout=10, bindAddress=(address, 0)
            )

    # bookkeeping the sessions call

    def new_stream(self, role: str, proto: str) -> Stream:
        stream = Stream(len(self.streams) + 1, role, proto)
        self.streams[stream.id] = stream
        return stream

    def confirm(self, sid: int, seq: int) -> None:
        stream = self.streams.get(sid)
        if stream is None or seq not in stream.sent:
            self.symptom("bogus_ack", f"S{sid} {seq}")
            return
        if seq not in stream.confirmed:
            stream.confirmed.add(seq)
            self.soak_bytes += stream.sent[seq] + 24
            self.stats[(stream.role, stream.proto)]["msgs_ok"] += 1

    def refuse(self, sid: int, seq: int) -> None:
        stream = self.streams.get(sid)
        if stream is not None:
            stream.refused.add(seq)

    def record(self, session: Session, text: str) -> None:
        """A message to #soak reached C{session}."""
        if text.startswith("\x01"):
            session.stats["ctcp"] += 1  # garbage's CTCP, shown to IRC users only
            return
        match = STAMP.match(text)
        if match is None:
            self._corrupt(session, text)
            return
        sid, seq, length = (int(g) for g in match.groups())
        if text != stamped(sid, seq, length):
            self._corrupt(session, text)
        got = session.received.get(sid)
        if got is None:
            got = session.received[sid] = array("i")
        got.append(seq)
        session.stats["received"] += 1

    def _corrupt(self, session: Session, text: str) -> None:
        self.corrupt += 1
        if len(self.corrupt_samples) < 5:
            self.corrupt_samples.append(f"{session.nick}: {text[:120]!r}")

    def own(self, nick: str, session: Session) -> None:
        key = fold(nick)
        if key not in self.owner:
            self.nick_list.append(nick)
        self.owner[key] = session
        self.used_nicks.add(nick)

    def deck(self, proto: str, cards: Sequence[str]) -> Deck:
        """The deck of C{cards} that C{proto}'s sessions share."""
        key = (proto, cards[0])
        if key not in self.decks:
            self.decks[key] = Deck(cards, random.Random(f"{self.seed}:{key}"))
        return self.decks[key]

    def junk(self, proto: str) -> bytes:
        """The next of the fixed garbage lines for C{proto}, in turn."""
        lines = JSON_GARBAGE if proto == "json" else IRC_GARBAGE
        n = self.junk_sent[proto]
        self.junk_sent[proto] += 1
        return lines[n % len(lines)]

    def afford(self, channel: str, messages: int = 1) -> bool:
        """May C{messages} go to C{channel} now, within the delivery budget?"""
        cost = messages * max(1, self.members[fold(channel)])
        return self.pacer.take(cost, self.now())

    def some_nick(self, rng: random.Random) -> str:
        return rng.choice(self.nick_list) if self.nick_list else "nobody"

    def saw_quit(self, nick: str, reason: str) -> None:
        owner = self.owner.get(fold(nick))
        if owner is not None and owner.others_saw is None:
            owner.others_saw = reason
            owner.stats[f"seen_quit:{reason}"] += 1
            if reason == "SendQ exceeded" and not isinstance(owner, NeverReader):
                self.surprise(owner, "dropped for not reading (SendQ exceeded)")
            owner.others_saw_quit(reason)

    def saw_join(self, nick: str) -> None:
        owner = self.owner.get(fold(nick))
        if isinstance(owner, NeverReader):
            owner.seen_joined()

    def malformed(self, session: Session, raw: bytes, why: str) -> None:
        self.malformed_lines += 1
        kind = f"{session.proto.upper()} {_command_of(raw, session.proto)}: {why}"
        self.malformed_kinds[kind] += 1
        if self.malformed_kinds[kind] == 1 and len(self.malformed_samples) < 10:
            self.malformed_samples.append(f"{raw[:100]!r}")

    def surprise(self, session: Session, what: str) -> None:
        """A session met something its role should never meet."""
        self.surprise_count += 1
        session.stats["surprises"] += 1
        if len(self.surprises) < 20:
            self.surprises.append(
                f"{session.role} {session.nick} ({session.proto}, from "
                f"{session.address}): {what}"
            )

    def symptom(self, kind: str, sample: str, count: int = 1) -> None:
        """
        Something the server did wrong that no session's role checks:
        C{connect} (a client could not connect), C{not_gone} (clients still
        connected well after the end), C{bogus_ack} (an C{ok} or echo for
        a message never sent).  Each fails a check.
        """
        self.symptoms[kind] += count
        samples = self.symptom_samples[kind]
        if len(samples) < 3:
            samples.append(sample)

    def note_once(self, what: str) -> None:
        """A limit of this generator's own, shown with the checks."""
        if what not in self.notes:
            self.notes.append(what)

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

    def checks(self, log_text: str | None, exit_code: int | None) -> list[Check]:
        out: list[Check] = []
        totals: Counter[str] = Counter()
        for counter in self.stats.values():
            totals.update(counter)

        def by_role(role: str) -> Counter[str]:
            c: Counter[str] = Counter()
            for (r, _), counter in self.stats.items():
                if r == role:
                    c.update(counter)
            return c

        def add(name: str, good: bool | None, detail: str) -> None:
            out.append(
                Check(
                    name, "note" if good is None else "ok" if good else "FAILED", detail
                )
            )

        # (a) delivery to the readers
        d = check_deliveries(self.streams, (r.received for r in self.readers), True)
        lost_readers = self.readers_lost
        good = d.ok and not lost_readers and self.state.get("synced", False)
        detail = (
            f"{d.confirmed:,} messages to {CHANNEL} got an ok; {d.delivered:,} of "
            f"{d.expected:,} deliveries to {d.receivers} readers arrived "
            f"({d.problems()}; {d.unconfirmed:,} unconfirmed ones arrived too)"
        )
        if lost_readers:
            detail += f"; readers dropped: {', '.join(lost_readers[:5])}"
        if not self.state.get("synced", False):
            detail += "; the readers did not all sync at the end"
        add("delivery", good and d.confirmed > 0, detail)
        m = check_deliveries(
            self.streams, (s.received for s in self.other_members), False
        )
        add(
            "other members",
            m.ok,
            f"{m.receivers:,} other members of {CHANNEL} got "
            f"{m.delivered + m.unconfirmed:,} messages: {m.duplicated:,} twice, "
            f"{m.reordered:,} out of order, "
            f"{m.refused_delivered:,} refused ones, {m.never_sent:,} never sent",
        )
        add(
            "integrity",
            self.corrupt == 0,
            f"{totals['received']:,} messages read whole, {self.corrupt:,} altered"
            + (f" (e.g. {self.corrupt_samples[0]})" if self.corrupt_samples else ""),
        )
        # honest clients
        honest_surprises = [
            s for s in self.surprises if s.split(" ", 1)[0] in ("reader", "talker")
        ]
        readers, talkers = by_role("reader"), by_role("talker")
        honest_count = readers["surprises"] + talkers["surprises"]
        cut_off = readers["cut_off"] + talkers["cut_off"]
        add(
            "honest clients",
            honest_count == 0 and self.retry_broken == 0 and cut_off == 0,
            f"readers and talkers were never refused or disconnected by the server "
            f"({honest_count} were; {cut_off} reset mid-line); JSON talkers were "
            "rate_limited "
            f"{talkers['rate_limited']:,} times and waiting retry_after let them "
            f"through {talkers['retried'] - self.retry_broken:,} of "
            f"{talkers['retried']:,} times; IRC talkers were slowed down "
            f"{talkers['flood_notices']:,} times"
            + (f"; e.g. {honest_surprises[0]}" if honest_surprises else ""),
        )
        honest_errors = readers + talkers
        codes = Counter(
            {
                key[6:]: n
                for key, n in honest_errors.items()
                if key.startswith("error:") and n
            }
        )
        wrong = {code: n for code, n in codes.items() if code not in HONEST_ERRORS}
        add(
            "honest errors",
            not wrong,
            f"readers and talkers got {sum(codes.values()):,} error replies"
            + "".join(f", {n:,} {code}" for code, n in codes.most_common())
            + (
                "; none they should not (only "
                + ", ".join(HONEST_ERRORS)
                + ": what they ask about may have just gone)"
                if not wrong
                else "; " + ", ".join(sorted(wrong)) + " should never reach them"
            ),
        )
        honest_streams = [
            st for st in self.streams.values() if st.role in ("reader", "talker")
        ]
        acks = {
            proto: check_acks(st for st in honest_streams if st.proto == proto)
            for proto in ("json", "irc")
        }
        bogus = self.symptoms["bogus_ack"]
        add(
            "acks",
            all(a.ok for a in acks.values()) and not bogus,
            f"of talkers' messages to {CHANNEL}, JSON: {acks['json'].acked:,} of "
            f"{acks['json'].sent:,} got an ok and {acks['json'].refused:,} "
            f"rate_limited; IRC: {acks['irc'].acked:,} of {acks['irc'].sent:,} "
            "were echoed; "
            f"{sum(a.cut_short for a in acks.values()):,} went unanswered "
            f"because we reset the connection, "
            f"{sum(a.unanswered for a in acks.values()):,} otherwise"
            + "".join(
                f" (e.g. {', '.join(a.samples)})" for a in acks.values() if a.samples
            )
            + f"; {bogus:,} oks or echoes for messages never sent"
            + (
                f" (e.g. {', '.join(self.symptom_samples['bogus_ack'])})"
                if bogus
                else ""
            ),
        )
        failed_connects = self.symptoms["connect"]
        not_gone = self.symptoms["not_gone"]
        add(
            "connections",
            not failed_connects and not not_gone,
            f"{totals['sessions']:,} connections made, {failed_connects:,} refused "
            f"or timed out"
            + (
                f" (e.g. {self.symptom_samples['connect'][0]})"
                if failed_connects
                else ""
            )
            + f"; {not_gone:,} clients still connected 20 s after the end"
            + (f" (e.g. {self.symptom_samples['not_gone'][0]})" if not_gone else ""),
        )
        # abusers met their limits, where the run was long enough for it
        span = self.timeline.get("stop", 0.0) - self.timeline.get("load", 0.0)

        def expect(
            name: str, met: bool, possible: bool, clean: bool, what: str
        ) -> None:
            if met or possible or not clean:
                add(name, met and clean, what)
            else:
                add(name, None, what + " (the run was too short to expect it)")

        flooders = by_role("flooder")
        expect(
            "flood control",
            flooders["bye:flood"] > 0,
            span >= 5.0,
            flooders["surprises"] == 0,
            f"{flooders['floods']:,} floods, {flooders['bye:flood']:,} flood "
            f"disconnects, {flooders['rate_limited']:,} rate_limited replies "
            f"and {flooders['flood_notices']:,} IRC slow-down notices on the way",
        )
        never = by_role("never_reader")
        passive_undropped = [b for a, b in self.undropped if not a]
        sendq = self.options.max_sendq or "1M"
        detail = (
            f"{never['sendq_drops_active']:,} of {never['active']:,} active "
            f"never-readers and {never['sendq_drops_passive']:,} of "
            f"{never['passive']:,} passive "
            f"ones were dropped with SendQ exceeded (--max-sendq {sendq})"
        )
        if passive_undropped:
            detail += (
                f"; {len(passive_undropped)} passive ones were still there at the end, "
                f"{max(passive_undropped) / 2**10:,.0f} KiB of #soak text having "
                "been sent to them at most"
            )
        # an active never-reader asks for about ASK_RATE bytes a second, and
        # the kernel's buffers take the first few MiB of them
        needed = 4.0 + (_size(sendq) + _wmem_max() + (512 << 10)) / ASK_RATE
        expect(
            "sendq",
            never["sendq_drops_active"] > 0,
            span >= needed,
            never["surprises"] == 0,
            detail,
        )
        silent = by_role("silent")
        garbage = by_role("garbage")
        delays = self.register_delays
        T = self.register_timeout
        # the server looks once a second; and a busy generator sees the
        # connection, and the goodbye, late
        earliest, latest = T - 0.1 - self.lag, T + 3.0 + self.lag
        late = [x for x in delays if not earliest <= x <= latest]
        expect(
            "registration timeout",
            silent["bye:register_timeout"] > 0,
            span >= T + 4.0,
            not late and silent["surprises"] == 0,
            f"{silent['bye:register_timeout']:,} silent registrants (and "
            f"{garbage['bye:register_timeout']:,} garbage senders) were closed with "
            f"register_timeout, "
            + (f"after {min(delays):.1f}-{max(delays):.1f} s" if delays else "never")
            + f" (--register-timeout {T:g}"
            + (
                f"; this generator ran up to {self.lag:.1f} s late"
                if self.lag >= 0.1
                else ""
            )
            + ")"
            + (f"; {len(late)} outside {earliest:.1f}-{latest:.1f} s" if late else ""),
        )
        storm = by_role("storm")
        refused = storm["bye:too_many_connections"] + storm["bye:connecting_too_fast"]
        elsewhere = sum(
            c["bye:too_many_connections"] + c["bye:connecting_too_fast"]
            for (role, _), c in self.stats.items()
            if role != "storm"
        )
        expect(
            "per-address limits",
            storm["bye:too_many_connections"] > 0
            and (storm["bye:connecting_too_fast"] > 0 or span < 8.0),
            span >= 3.0,
            storm["surprises"] == 0 and elsewhere == 0,
            f"the storm made {storm['sessions']:,} connections from one address in "
            f"waves of {self.counts['storm']}: {storm['registered']:,} got in, "
            f"{storm['bye:too_many_connections']:,} too_many_connections, "
            f"{storm['bye:connecting_too_fast']:,} connecting_too_fast "
            f"({refused:,} refusals); {elsewhere} refusals from the other addresses",
        )
        add(
            "garbage",
            garbage["surprises"] == 0,
            f"{garbage['sessions']:,} garbage connections got "
            f"{garbage['errors']:,} error replies, "
            f"{garbage['bye:line_too_long']:,} line_too_long, "
            f"{garbage['bye:flood']:,} flood disconnects; nothing else",
        )
        add(
            "endings",
            self.surprise_count == 0,
            "every connection ended as its role expects"
            if not self.surprises
            else f"{self.surprise_count} did not, e.g. "
            + "; ".join(self.surprises[:3]),
        )
        add(
            "output",
            self.malformed_lines == 0 and self.internal_errors == 0,
            f"{self.lines_in:,} lines ({self.bytes_in / 2**20:,.1f} MiB) from the "
            f"server, {self.malformed_lines} malformed, "
            f"{self.internal_errors} internal errors"
            + "".join(
                f"; {n:,} x {kind}" for kind, n in self.malformed_kinds.most_common(4)
            )
            + (
                f" (e.g. {', '.join(self.malformed_samples[:2])})"
                if self.malformed_samples
                else ""
            )
            + (
                f"; {self.cut_off} connections reset by the server mid-line"
                " (not read for the linger)"
                if self.cut_off
                else ""
            ),
        )
        # (b) state
        after = self.state.get("after", {})
        good_state = (
            after.get("json_channels") == []
            and after.get("irc_channels") == []
            and after.get("users") == 1
            and not after.get("unregistered")
            and after.get("online") == []
        )
        add(
            "state",
            good_state,
            f"afterwards a fresh client saw channels {after.get('json_channels')}, "
            f"{after.get('users')} user(s) (itself), "
            f"{after.get('unregistered')} unregistered, and of the "
            f"{after.get('nicks_checked', 0):,} nicks used "
            f"{len(after.get('online') or [])} still taken"
            + (
                f" ({', '.join((after.get('online') or [])[:5])})"
                if after.get("online")
                else ""
            ),
        )
        # (c) memory
        before, now_ = self.rss.get("before"), self.rss.get("after")
        if before and now_:
            fraction = MEMORY_FRACTION_PYPY if self.pypy else MEMORY_FRACTION
            limit = max(MEMORY_SLACK, fraction * before)
            grew = now_ - before
            add(
                "memory",
                grew <= limit,
                f"server RSS {before / 2**20:.1f} MiB before the load, "
                f"{now_ / 2**20:.1f} MiB after it ({grew / 2**20:+.1f} MiB; at most "
                f"+{limit / 2**20:.1f} MiB allowed), peak "
                f"{self.rss.get('peak', 0) / 2**20:.1f} MiB",
            )
        else:
            add("memory", False, "no RSS figure after the run")
        # (d) alive, and its log
        add(
            "server alive",
            self.server_dead is None,
            self.server_dead or "the server ran throughout",
        )
        if log_text is not None:
            bad = {k: log_text.count(k) for k in servers.TROUBLE}
            stopped = "chatd stopped" in log_text
            found = [f"{n} x {k!r}" for k, n in bad.items() if n]
            first = servers.first_trouble(log_text)
            add(
                "server log",
                not found and stopped and exit_code in (0, -signal.SIGTERM),
                (
                    "no inconsistent state, no traceback, nothing unhandled"
                    if not found
                    else "found " + ", ".join(found) + (f": {first}" if first else "")
                )
                + (
                    f"; stopped with exit status {exit_code}"
                    + (
                        ", saying 'chatd stopped'"
                        if stopped
                        else ", WITHOUT 'chatd stopped'"
                    )
                ),
            )
        if self.bench_errors:
            add("generator", False, "; ".join(self.bench_errors[:2])[:2000])
        for note in self.notes:
            add("generator", None, note)
        return out

    def role_rows(self) -> list[dict[str, Any]]:
        rows = []
        for role in ROLES:
            for proto in ("json", "irc"):
                c = self.stats.get((role, proto))
                if not c or not c["sessions"]:
                    continue
                rows.append(
                    {
                        "role": role,
                        "proto": proto,
                        "connections": c["sessions"],
                        "msgs_ok": c["msgs_ok"],
                        "received": c["received"],
                        "rate_limited": c["rate_limited"],
                        "slowed": c["flood_notices"],
                        "flood": c["bye:flood"],
                        "sendq": c["sendq_drops"],
                        "register_timeout": c["bye:register_timeout"],
                        "refused": c["bye:too_many_connections"]
                        + c["bye:connecting_too_fast"],
                        "line_too_long": c["bye:line_too_long"],
                        "errors": c["errors"],
                        "resets": c["resets"],
                        "surprises": c["surprises"],
                        "all": dict(c),
                    }
                )
        return rows


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


def _size(text: str) -> int:
    """Bytes in C{1M}, C{512K}, C{1048576} (as chatd's --max-sendq reads them)."""
    units = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}
    value = text.strip().lower()
    digits = value.rstrip("kmib")
    try:
        return int(digits) * units[value[len(digits) :]]
    except (ValueError, KeyError):
        raise BenchError(f"--max-sendq {text!r} is not a size such as 1M") from None


def _command_of(raw: bytes, proto: str) -> str:
    """The command of a malformed line, for grouping (IRC), or '-'."""
    if proto != "irc":
        return "-"
    words = raw.split(b" ")
    while words and words[0][:1] in (b"@", b":"):
        words.pop(0)
    word = words[0] if words else b""
    return word.decode("ascii", "replace") if word.isalnum() else "?"


def _wmem_max() -> int:
    """The most a TCP socket's send buffer grows to (net.ipv4.tcp_wmem)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 << 20


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
        _size(options.max_sendq)
    raise_fd_limit()
    interpreter = servers.python_version(python)
    pypy = interpreter.startswith("PyPy")
    # The soak's clients all come from 127.0.0.x and its storm must be
    # refused, so loopback must count against the per-address limits.
    extra = [
        "--register-timeout",
        f"{options.register_timeout:g}",
        "--no-exempt-loopback",
    ]
    if options.max_sendq is not None:
        extra += ["--max-sendq", options.max_sendq]
    server = servers.start_chatd(
        python,
        interpreter.split(" Twisted")[0],
        server_cpu,
        *extra,
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
    ok = all(c.status != "FAILED" for c in checks)
    if trouble and log_text is None:
        log_text = trouble
    return {
        "scenario": "soak",
        "server": server.name,
        "interpreter": interpreter,
        "proto": "json+irc",
        "clients": options.clients,
        "duration": options.duration,
        "seed": options.seed,
        "register_timeout": options.register_timeout,
        "max_sendq": options.max_sendq,
        "counts": soak.counts,
        "checks": [c.__dict__ for c in checks],
        "check_ok": ok,
        "check": "ok" if ok else "FAILED",
        "roles": soak.role_rows(),
        "rss_before_kib": soak.rss.get("before", 0) // 1024,
        "rss_after_kib": soak.rss.get("after", 0) // 1024 or None,
        "rss_peak_kib": soak.rss.get("peak", 0) // 1024 or None,
        "server_cpu": soak.state.get("server_cpu"),
        "generator_cpu": soak.state.get("generator_cpu"),
        "messages_ok": sum(len(s.confirmed) for s in soak.streams.values()),
        "lines_in": soak.lines_in,
        "state": soak.state.get("after"),
        "server_log_tail": log_text[-3000:] if not ok else "",
        "malformed": dict(soak.malformed_kinds),
        "malformed_samples": soak.malformed_samples,
    }


COLUMNS = (
    ("connections", "conns"),
    ("msgs_ok", "msgs ok"),
    ("received", "received"),
    ("rate_limited", "rate_limited"),
    ("slowed", "slowed"),
    ("flood", "flood"),
    ("sendq", "sendq"),
    ("register_timeout", "reg timeout"),
    ("refused", "refused"),
    ("line_too_long", "too long"),
    ("errors", "errors"),
    ("resets", "resets"),
)


def summary(result: dict[str, Any]) -> str:
    """The per-role table and the checks, as printed."""
    head = f"{'role':<26}" + "".join(f"{label:>13}" for _, label in COLUMNS)
    lines = ["", head, "-" * len(head)]
    for row in result["roles"]:
        name = f"{ROLE_NAMES[row['role']].split(' (')[0]} ({row['proto'].upper()})"
        lines.append(f"{name:<26}" + "".join(f"{row[key]:>13,}" for key, _ in COLUMNS))
    lines.append("")
    lines.append("checks:")
    lines.extend(Check(**c).line() for c in result["checks"])
    failed = sum(1 for c in result["checks"] if c["status"] == "FAILED")
    lines.append(
        "soak passed"
        if not failed
        else f"soak FAILED ({failed} of {len(result['checks'])} checks)"
    )
    return "\n".join(lines)


__all__ = [
    "Options",
    "check_deliveries",
    "role_counts",
    "run",
    "stamped",
    "summary",
]

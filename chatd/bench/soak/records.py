# -*- test-case-name: tests.test_bench -*-
"""
What a soak keeps as it runs: each talker's numbered stream, what every
session saw go wrong, the counters by role, and the shared means (source
addresses, the delivery budget, the garbage decks) the sessions draw on.
The checks read these records; the sessions write them.
"""

from __future__ import annotations

import random
from array import array
from collections import Counter, defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from chatd.bench.soak.abusers import NeverReader
from chatd.bench.soak.garbage import IRC_GARBAGE, JSON_GARBAGE
from chatd.bench.soak.options import DELIVERY_BUDGET, Options, role_counts
from chatd.bench.soak.wire import STAMP, command_of, fold, stamped

if TYPE_CHECKING:
    from chatd.bench.soak.honest import Reader
    from chatd.bench.soak.session import Session

#: Honest clients stay well inside chatd's default per-address limits
#: (16 at once, 32 a minute): at most this many at once from one address...
PER_ADDRESS = 8
#: ... and this many new connections in any 60 seconds.
CONNECTS_PER_MINUTE = 24


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


class Records:
    """A run's bookkeeping: what the sessions record, and the checks read."""

    def __init__(
        self,
        reactor: Any,
        options: Options,
        server_pid: int,
        log: Callable[[str], None] = print,
        pypy: bool = False,
    ) -> None:
        self.reactor = reactor
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
        self.undropped: list[tuple[bool, int]] = []
        self.server_dead: str | None = None
        self.rss: dict[str, int] = {}
        self.state: dict[str, Any] = {}
        self.bench_errors: list[str] = []
        self.timeline: dict[str, float] = {}
        self.pacer = Pacer(DELIVERY_BUDGET, reactor.seconds())

    def now(self) -> float:
        t: float = self.reactor.seconds()
        return t

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
        kind = f"{session.proto.upper()} {command_of(raw, session.proto)}: {why}"
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

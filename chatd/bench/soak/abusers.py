# -*- test-case-name: tests.test_bench -*-
"""
The roles that break the rules, each until chatd's limit for it bites:
flooders (flood control), never-readers (the SendQ), silent registrants
(the registration timeout) and the storm's clients (per-address limits).
The garbage senders have a module of their own.
"""

from __future__ import annotations

from typing import Any

from chatd.bench.soak.conns import IRCConn, JSONConn
from chatd.bench.soak.options import CHANNEL, KEEPALIVE, ROOMS
from chatd.bench.soak.session import Session
from chatd.bench.soak.wire import fold

#: An active never-reader asks five times a second, for at most this long.
ASK_BATCHES = 150
#: ... for about this many bytes a second of replies.
ASK_RATE = 1e6


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

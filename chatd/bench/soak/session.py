# -*- test-case-name: tests.test_bench -*-
"""
A session: one client connection playing a role.  L{Session} is what every
role shares (its life, its timers, its numbered messages to #soak, and the
hooks the connections call with what the server says); the roles override
the hooks (L{chatd.bench.soak.honest}, L{chatd.bench.soak.abusers},
L{chatd.bench.soak.garbage}).
"""

from __future__ import annotations

import random
from array import array
from typing import TYPE_CHECKING, Any, Callable

from chatd.bench.soak.options import CHANNEL
from chatd.bench.soak.wire import fold, stamped

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall
    from twisted.python.failure import Failure

    from chatd.bench.soak.conns import Conn
    from chatd.bench.soak.records import Stream
    from chatd.bench.soak.run import Slot, Soak


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
        if self.received and self.role != "reader":
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

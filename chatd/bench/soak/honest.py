# -*- test-case-name: tests.test_bench -*-
"""
The honest roles: readers, who join #soak first and read everything,
and talkers, who talk as people do.  Neither may ever be refused,
disconnected or given an error it should not get.
"""

from __future__ import annotations

import random
from typing import Any

from chatd.bench.soak.conns import JSONConn
from chatd.bench.soak.options import CHANNEL, KEEPALIVE, ROOMS
from chatd.bench.soak.session import Session
from chatd.bench.soak.wire import fold

#: Text length of a long message: JSON (about 3 KB), and IRC (a line is 512).
LONG_JSON = 3000
LONG_IRC = 400


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

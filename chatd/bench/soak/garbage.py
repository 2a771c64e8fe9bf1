# -*- test-case-name: tests.test_bench -*-
"""
Garbage senders: random bytes, invalid UTF-8, bad requests, overlong
lines and half lines, with now and then a real message between, and the
fixed junk they deal from.
"""

from __future__ import annotations

from typing import Any

from chatd.bench.soak.options import CHANNEL
from chatd.bench.soak.session import Session

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

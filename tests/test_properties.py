"""
Property tests: whatever several clients send, in whatever order, the server
answers with well-formed lines only and its state stays consistent.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatd.irc.factory import IRCFactory
from chatd.irc.message import Line, parse
from chatd.irc.protocol import IRCProtocol
from chatd.jsonproto.session import COMMANDS
from chatd.net.limits import FloodLimit

from .support import Client, FakeConnection, Server

TYPES = {
    "welcome",
    "away",
    "ok",
    "error",
    "message",
    "join",
    "leave",
    "topic",
    "nick",
    "quit",
    "bye",
    # an IRC client's +typing reaches JSON clients (docs/protocol.md)
    "typing",
}

nicks = st.sampled_from(["alice", "Alice", "bob", "BOB", "carol", "dave"])
channels = st.sampled_from(["#a", "#A", "#b", "#c"])
texts = st.one_of(
    st.sampled_from(["hi", "tab\tok", "", "a\nb", "\ud800", "x" * 4001]),
    st.text(max_size=10),
)
ids = st.one_of(
    st.integers(),
    st.text(max_size=5),
    st.floats(allow_nan=False),
    st.booleans(),
    st.none(),
)

#: Mostly well-formed commands, so that users really register, join, talk
#: and leave; with wrong values now and then.
sensible = st.one_of(
    st.builds(lambda n: {"cmd": "nick", "nick": n}, nicks),
    st.builds(lambda c: {"cmd": "join", "channel": c}, channels),
    st.builds(
        lambda c, r: {"cmd": "leave", "channel": c, "reason": r}, channels, texts
    ),
    st.builds(
        lambda t, x: {"cmd": "msg", "to": t, "text": x},
        st.one_of(channels, nicks),
        texts,
    ),
    st.builds(
        lambda c, t: {"cmd": "topic", "channel": c, "topic": t},
        channels,
        st.one_of(texts, st.none()),
    ),
    st.builds(lambda c: {"cmd": "who", "channel": c}, channels),
    st.just({"cmd": "list"}),
    st.just({"cmd": "ping"}),
    st.builds(lambda r: {"cmd": "quit", "reason": r}, texts),
)
#: Anything at all shaped like a request.
odd = st.fixed_dictionaries(
    {
        "cmd": st.one_of(
            st.sampled_from(sorted(COMMANDS)),
            st.text(max_size=5),
            st.integers(),
            st.none(),
        )
    },
    optional={
        "id": ids,
        "nick": st.one_of(nicks, st.text(max_size=5), st.integers(), st.none()),
        "channel": st.one_of(channels, st.text(max_size=5), st.integers()),
        "to": st.one_of(nicks, channels, st.text(max_size=5)),
        "text": texts,
        "topic": st.one_of(texts, st.integers()),
        "reason": st.one_of(texts, st.lists(st.integers())),
    },
)
actions = st.tuples(
    st.integers(min_value=0, max_value=3),
    st.one_of(
        sensible.map(lambda r: json.dumps(r).encode() + b"\n"),
        sensible.map(lambda r: json.dumps(r).encode() + b"\n"),
        sensible.map(lambda r: json.dumps(r).encode() + b"\n"),
        odd.map(lambda r: json.dumps(r).encode() + b"\n"),
        st.binary(max_size=60),
        st.just(b"DROP"),
        st.just(b"TICK"),
    ),
)


def check_lines(raw: bytes) -> list[dict[str, Any]]:
    """Every line the server wrote is a UTF-8 JSON object of a known type."""
    out = []
    if raw:
        assert raw.endswith(b"\n"), raw
    for line in raw.split(b"\n")[:-1] if raw else []:
        obj = json.loads(line.decode("utf-8"))
        assert isinstance(obj, dict) and obj.get("type") in TYPES, obj
        out.append(obj)
    return out


def play(client: FakeConnection, data: bytes, clock: Clock) -> None:
    """One step: DROP the connection, let 10 s pass (TICK) or send C{data}."""
    if data == b"DROP":
        client.transport.loseConnection()
    elif data == b"TICK":
        clock.advance(10)
    else:
        client.send_raw(data)


#: Every property test: a bounded number of examples, the same ones each run.
BOUNDED = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)


class AnyInputTests(SynchronousTestCase):
    @BOUNDED
    @given(st.lists(actions, max_size=60))
    def test_any_sequence_keeps_the_server_sound(
        self, steps: list[tuple[int, bytes]]
    ) -> None:
        server = Server(
            max_line=200,
            idle_timeout=30,
            flood=FloodLimit(burst=3, rate=1.0, excess=5),
            register_timeout=25,
        )
        server.factory.start_reaping()
        clients: dict[int, Client] = {}
        replies_owed: dict[int, int] = {}
        try:
            for who, data in steps:
                client = clients.get(who)
                if client is None or not client.connected:
                    client = clients[who] = server.connect()
                    replies_owed[who] = 0
                play(client, data, server.clock)
                for c in clients.values():
                    lines = check_lines(c.transport.value())
                    c.transport.clear()
                    if lines and lines[-1]["type"] == "bye":
                        self.assertFalse(c.connected)
                    if any(line["type"] == "bye" for line in lines[:-1]):
                        self.fail(f"something followed a bye: {lines}")
                problems = list(server.chat.check_invariants())
                self.assertEqual(problems, [])
            self.assertEqual(self.flushLoggedErrors(), [])
            for c in clients.values():
                c.transport.loseConnection()
            self.assertEqual(server.chat.users, set())
            self.assertEqual(server.chat.nicks, {})
            self.assertEqual(server.chat.channels, {})
            self.assertEqual(server.factory.connections, set())
        finally:
            server.factory.stop_reaping()


# -- IRC, and both protocols on one core ---------------------------------------

irc_nicks = st.sampled_from(["alice", "ALICE", "bob", "carol", "9bad", ""])
irc_targets = st.one_of(
    channels, irc_nicks, st.sampled_from(["#a,#b", "#a,bob", "0", "#a,#a"])
)
irc_text = st.one_of(
    st.sampled_from(["hi", ":colon", "\x01ACTION waves\x01", "\x01PING 1\x01", ""]),
    st.text(max_size=12),
    st.just("y" * 600),
)
#: Mostly well-formed IRC, so that clients really register, join and talk.
irc_sensible = st.one_of(
    st.builds(lambda n: f"NICK {n}\r\nUSER {n or 'u'} 0 * :{n}", irc_nicks),
    st.builds(lambda n: f"NICK {n}\r\nUSER {n or 'u'} 0 * :{n}", irc_nicks),
    st.builds(
        lambda t, n: "\r\n".join([f"PRIVMSG {t} :flood"] * n),
        irc_targets,
        st.integers(min_value=2, max_value=30),
    ),
    st.builds(lambda n: f"NICK {n}", irc_nicks),
    st.builds(lambda n: f"USER {n or 'u'} 0 * :{n} real", irc_nicks),
    st.builds(lambda c: f"JOIN {c}", irc_targets),
    st.builds(lambda c, r: f"PART {c} :{r}", irc_targets, irc_text),
    st.builds(
        lambda v, t, x: f"{v} {t} :{x}",
        st.sampled_from(["PRIVMSG", "NOTICE", "TAGMSG"]),
        irc_targets,
        irc_text,
    ),
    st.builds(
        lambda t, x: f"@+typing=active;label=l1 TAGMSG {t} :{x}", irc_targets, irc_text
    ),
    st.builds(lambda c, t: f"TOPIC {c} :{t}", channels, irc_text),
    st.builds(lambda c: f"TOPIC {c}", channels),
    st.sampled_from(
        [
            "CAP LS 302",
            "CAP REQ :echo-message server-time message-tags labeled-response batch away-notify",
            "CAP REQ :nonsense",
            "CAP END",
            "PING x",
            "PONG x",
            "WHO #a",
            "WHOIS bob",
            "WHOWAS alice",
            "NAMES #a",
            "LIST",
            "MODE #a",
            "MODE alice +i",
            "AWAY :gone",
            "AWAY",
            "ISON alice bob",
            "USERHOST alice",
            "LUSERS",
            "MOTD",
            "VERSION",
            "TIME",
            "QUIT :bye",
            "FOO bar",
            "001 x",
            "",
        ]
    ),
    st.builds(lambda w: " ".join(w), st.lists(st.text(max_size=6), max_size=4)),
)
#: Garbage made of the pieces that break naive IRC servers: CR and NUL
#: inside lines, invalid UTF-8, control characters, long words.
tokens = st.lists(
    st.sampled_from(
        [
            b"\r",
            b"\0",
            b"\n",
            b"\xff",
            b"\xe9",
            b"\x01",
            b" ",
            b":",
            b"@",
            b"#a",
            b"PRIVMSG",
            b"NICK",
            b"JOIN",
            b"x",
            b"\xc3\xa9",
            b"y" * 300,
        ]
    ),
    max_size=30,
).map(b"".join)
irc_actions = st.tuples(
    st.integers(min_value=0, max_value=3),
    # what connects when this client is new: JSON or IRC, as is or
    # registered straight away as one of a few nicks
    st.sampled_from(["json", "irc", "json+nick", "irc+nick", "irc+nick"]),
    st.one_of(
        irc_sensible.map(lambda line: line.encode("utf-8", "surrogatepass") + b"\r\n"),
        irc_sensible.map(lambda line: line.encode("utf-8", "surrogatepass") + b"\r\n"),
        irc_sensible.map(lambda line: line.encode("utf-8", "surrogatepass") + b"\n"),
        sensible.map(lambda r: json.dumps(r).encode() + b"\n"),
        st.binary(max_size=80),
        tokens,
        tokens,
        st.just(b"DROP"),
        st.just(b"TICK"),
    ),
)


def check_irc_lines(raw: bytes) -> list[Line]:
    """
    Every line the server wrote is UTF-8, ends in CR LF, fits IRC's 512
    bytes (tags aside) and parses; nothing follows an ERROR.
    """
    out: list[Line] = []
    if not raw:
        return out
    assert raw.endswith(b"\r\n"), raw[-200:]
    for data in raw.split(b"\r\n")[:-1]:
        assert data, raw
        text = data.decode("utf-8")
        assert "\r" not in text and "\n" not in text and "\0" not in text, text
        body = text.split(" ", 1)[1] if text.startswith("@") else text
        assert len(body.encode()) + 2 <= 512, text
        # every line comes from somewhere, but for ERROR and the reaper's PING
        assert body.startswith(":") or body.split(" ", 1)[0] in ("ERROR", "PING"), text
        out.append(parse(text))
    errors = [i for i, line in enumerate(out) if line.command == "ERROR"]
    assert not errors or errors == [len(out) - 1], out
    return out


class IRCClientSim(FakeConnection):
    """One IRC connection on a StringTransport."""

    proto: IRCProtocol

    def __init__(self, factory: IRCFactory, port: int) -> None:
        super().__init__(factory, IPv4Address("TCP", "127.0.0.1", port))


class BothProtocolsTests(SynchronousTestCase):
    @BOUNDED
    @given(st.lists(irc_actions, min_size=10, max_size=80))
    def test_any_sequence_on_either_protocol_keeps_the_server_sound(
        self, steps: list[tuple[int, str, bytes]]
    ) -> None:
        """
        JSON and IRC clients on one core, with flood control, registration
        timeouts, drops and garbage: only well-formed lines come out, no
        handler raises, and the invariants hold after every step.
        """
        flood = FloodLimit(burst=4, rate=1.0, excess=6)
        server = Server(max_line=300, idle_timeout=30, flood=flood, register_timeout=25)
        irc_factory = IRCFactory(
            server.chat,
            server.clock,
            max_line=300,
            idle_timeout=30,
            flood=flood,
            register_timeout=25,
        )
        factories = (server.factory, irc_factory)
        for factory in factories:
            factory.start_reaping()
        clients: dict[int, Any] = {}
        port = 40000
        try:
            for who, kind, data in steps:
                client = clients.get(who)
                if client is None or not client.connected:
                    port += 1
                    if kind.startswith("irc"):
                        client = IRCClientSim(irc_factory, port)
                        if kind.endswith("+nick"):
                            client.send_raw(
                                b"NICK n%d\r\nUSER u 0 * :r\r\nJOIN #a\r\n" % who
                            )
                    else:
                        client = server.connect()
                        if kind.endswith("+nick"):
                            client.send(
                                {"cmd": "nick", "nick": f"j{who}"},
                            )
                            client.send({"cmd": "join", "channel": "#a"})
                    clients[who] = client
                play(client, data, server.clock)
                for c in clients.values():
                    raw = c.transport.value()
                    c.transport.clear()
                    if isinstance(c, IRCClientSim):
                        lines = check_irc_lines(raw)
                        if lines and lines[-1].command == "ERROR":
                            self.assertFalse(c.connected)
                    else:
                        objs = check_lines(raw)
                        if any(o["type"] == "bye" for o in objs[:-1]):
                            self.fail(f"something followed a bye: {objs}")
                self.assertEqual(list(server.chat.check_invariants()), [])
            self.assertEqual(self.flushLoggedErrors(), [])
            for c in clients.values():
                c.transport.loseConnection()
            self.assertEqual(server.chat.users, set())
            self.assertEqual(server.chat.nicks, {})
            self.assertEqual(server.chat.channels, {})
            for factory in factories:
                self.assertEqual(factory.connections, set())
                self.assertEqual(factory.registering, {})
        finally:
            for factory in factories:
                factory.stop_reaping()

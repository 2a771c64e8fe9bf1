"""
Property tests: whatever several clients send, in whatever order, the server
answers with well-formed lines only and its state stays consistent.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from chatd.protocol import COMMANDS

from .support import Client, Server

TYPES = {
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


class AnyInputTests(SynchronousTestCase):
    @settings(
        max_examples=200,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.lists(actions, max_size=60))
    def test_any_sequence_keeps_the_server_sound(
        self, steps: list[tuple[int, bytes]]
    ) -> None:
        server = Server(max_line=200, idle_timeout=30)
        server.factory.start_reaping()
        clients: dict[int, Client] = {}
        replies_owed: dict[int, int] = {}
        try:
            for who, data in steps:
                client = clients.get(who)
                if client is None or not client.connected:
                    client = clients[who] = server.connect()
                    replies_owed[who] = 0
                if data == b"DROP":
                    client.transport.loseConnection()
                elif data == b"TICK":
                    server.clock.advance(10)
                else:
                    client.send_raw(data)
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

"""
Typing notices between JSON and IRC: the JSON C{typing} command becomes
the TAGMSG with C{+typing} that IRC clients see, and an IRC client's
C{+typing} TAGMSG becomes the JSON C{typing} event; neither is kept.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatd.core.names import channel_key
from chatd.irc.factory import IRCFactory
from chatd.net.limits import FloodLimit
from tests.support import Server, give_history
from tests.test_irc import IRCClient


class TypingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = Server()
        self.irc_factory = IRCFactory(
            self.server.chat,
            self.server.clock,
            server_name="irc.test",
            network="TestNet",
            flood=FloodLimit(burst=0),
        )
        self.ports = 50000

    def irc(self, nick: str, *channels: str, caps: str = "message-tags") -> IRCClient:
        self.ports += 1
        client = IRCClient(self.irc_factory, self.ports)
        client.register(nick, *caps.split())
        for channel in channels:
            client.send(f"JOIN {channel}")
        client.lines()
        return client

    def test_json_to_json_and_irc_in_a_channel(self) -> None:
        alice = self.server.user("alice", "#c")
        bob = self.server.user("bob", "#c")
        carol = self.irc("carol", "#c")
        dave = self.irc("dave", "#c", caps="server-time")  # no message-tags
        bob.lines()
        carol.lines()
        reply = alice.request("typing", to="#C", state="active", id=1)
        self.assertEqual(
            reply,
            {"type": "ok", "cmd": "typing", "id": 1, "to": "#c", "state": "active"},
        )
        self.assertEqual(
            bob.lines(),
            [{"type": "typing", "from": "alice", "to": "#c", "state": "active"}],
        )
        [line] = carol.lines() or [None]
        self.assertEqual(
            (line.tags["+typing"], line.prefix, line.command, line.params),
            ("active", "alice!json@127.0.0.1", "TAGMSG", ["#c"]),
        )
        self.assertEqual(dave.raw(), [])
        self.assertEqual(alice.lines(), [])  # not sent its own

    def test_irc_to_json(self) -> None:
        alice = self.server.user("alice", "#c")
        carol = self.irc("carol", "#c")
        alice.lines()
        carol.send("@+typing=paused TAGMSG #c")
        carol.send("@+draft/typing=done TAGMSG alice")
        self.assertEqual(
            alice.lines(),
            [
                {"type": "typing", "from": "carol", "to": "#c", "state": "paused"},
                {"type": "typing", "from": "carol", "to": "alice", "state": "done"},
            ],
        )
        # other tags, or a state the spec has not, are not shown to JSON
        carol.send("@+draft/react=:) TAGMSG #c", "@+typing=thinking TAGMSG #c")
        self.assertEqual(alice.lines(), [])

    def test_private(self) -> None:
        alice = self.server.user("alice")
        bob = self.server.user("bob")
        carol = self.irc("carol")
        reply = alice.request("typing", to="BOB", state="done")
        self.assertEqual((reply["to"], reply["state"]), ("bob", "done"))
        self.assertEqual(
            bob.lines(),
            [{"type": "typing", "from": "alice", "to": "bob", "state": "done"}],
        )
        alice.request("typing", to="carol", state="active")
        [line] = carol.lines()
        self.assertEqual(
            (line.tags["+typing"], line.command, line.params),
            ("active", "TAGMSG", ["carol"]),
        )

    def test_errors(self) -> None:
        anonymous = self.server.connect()
        anonymous.lines()
        self.assertEqual(
            anonymous.request("typing", to="#c", state="active")["code"],
            "nick_required",
        )
        alice = self.server.user("alice")
        self.server.user("bob", "#moderated")
        cases = [
            ({"state": "active"}, "bad_args", "missing field 'to'"),
            ({"to": "#c"}, "bad_args", "missing field 'state'"),
            ({"to": "#c", "state": "typing"}, "bad_args", "field 'state' must be"),
            ({"to": "#c", "state": 1}, "bad_args", "must be a string"),
            ({"to": "nobody", "state": "active"}, "no_such_nick", "nobody"),
            ({"to": "#nowhere", "state": "active"}, "no_such_channel", "#nowhere"),
            ({"to": "#bad name", "state": "active"}, "bad_channel", ""),
            ({"to": "#moderated", "state": "active"}, "cannot_send", ""),
        ]
        for args, code, words in cases:
            reply = alice.request("typing", **args)
            self.assertEqual((reply["type"], reply["code"]), ("error", code), args)
            self.assertIn(words, reply["message"])

    def test_flood_cost(self) -> None:
        server = Server(flood=FloodLimit(burst=2, rate=1.0, excess=10))
        alice = server.user("alice", "#c")
        server.user("bob", "#c")
        codes = [
            alice.request("typing", to="#c", state="active")["type"] for _ in range(3)
        ]
        self.assertEqual(codes[-1], "error")
        self.assertEqual(
            alice.request("typing", to="#c", state="active")["code"], "rate_limited"
        )

    def test_not_kept_in_history(self) -> None:
        history = give_history(
            [self.server.factory, self.irc_factory], self.server.chat, self.server.clock
        )
        alice = self.server.user("alice", "#c")
        carol = self.irc("carol", "#c")
        alice.request("typing", to="#c", state="active")
        carol.send("@+typing=active TAGMSG #c")
        alice.request("msg", to="#c", text="hello")
        self.server.clock.advance(1)
        self.assertEqual(history.log.unwritten, 0)
        kept = self.successResultOf(history.log.latest(channel_key("#c"), 10))
        self.assertEqual([item.kind for item in kept], ["join", "join", "message"])
        reply = alice.request("history", target="#c", latest=True)
        self.assertEqual([item["type"] for item in reply["items"]], ["message"])

"""
Protocol v1 over StringTransports: every command, event and error.
"""

from __future__ import annotations

import json

from twisted.internet.error import ConnectionLost
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import LogLevel, globalLogPublisher
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

import chatd
from chatd.core import Change
from chatd.jsonproto.session import COMMANDS
from chatd.log import get_level, set_level

from .support import Server

TS = "2026-09-21T"  # the date part of every ts the test clock makes


class WelcomeTests(SynchronousTestCase):
    def test_welcome_is_the_first_line(self) -> None:
        client = Server(max_line=2048, idle_timeout=90).connect()
        self.assertEqual(
            client.lines(),
            [
                {
                    "type": "welcome",
                    "server": "chatd",
                    "version": chatd.__version__,
                    "protocol": 1,
                    "max_line": 2048,
                    "idle_timeout": 90,
                }
            ],
        )

    def test_idle_timeout_zero_when_reaping_is_off(self) -> None:
        [welcome] = Server(idle_timeout=0).connect().lines()
        self.assertEqual(welcome["idle_timeout"], 0)

    def test_server_full(self) -> None:
        server = Server(max_users=2)
        first = server.user("alice", "#a")
        second = server.user("bob", "#a")
        first.lines()
        refused = server.connect()
        self.assertEqual(
            refused.lines(),
            [
                {
                    "type": "bye",
                    "code": "server_full",
                    "reason": "the server is full (2 clients); try again later",
                }
            ],
        )
        self.assertFalse(refused.connected)
        # The others are untouched and still talk.
        self.assertEqual(first.lines(), [])
        second.request("msg", to="#a", text="still here")
        self.assertEqual(first.lines()[0]["text"], "still here")
        # A slot frees up when someone leaves.
        second.send({"cmd": "quit"})
        self.assertEqual(server.connect().lines()[0]["type"], "welcome")


class CommandTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = Server()

    def test_nick(self) -> None:
        client = self.server.connect()
        client.lines()
        self.assertEqual(
            client.request("nick", nick="Alice", id=7),
            {"type": "ok", "cmd": "nick", "id": 7, "nick": "Alice"},
        )

    def test_id_is_echoed_only_when_given(self) -> None:
        client = self.server.user("alice")
        self.assertEqual(
            client.request("ping", id="abc-1"),
            {"type": "ok", "cmd": "ping", "id": "abc-1"},
        )
        self.assertEqual(
            client.request("ping", id=2**70), {"type": "ok", "cmd": "ping", "id": 2**70}
        )
        self.assertEqual(client.request("ping"), {"type": "ok", "cmd": "ping"})
        self.assertEqual(client.request("ping", id=None), {"type": "ok", "cmd": "ping"})

    def test_join_reply_and_event(self) -> None:
        alice = self.server.user("alice")
        self.assertEqual(
            alice.request("join", channel="#General", id=1),
            {
                "type": "ok",
                "cmd": "join",
                "id": 1,
                "channel": "#General",
                "topic": "",
                "members": ["alice"],
                "privileges": {"alice": ["op"]},
                "accounts": {},
            },
        )
        bob = self.server.user("bob")
        self.assertEqual(
            bob.request("join", channel="#general"),
            {
                "type": "ok",
                "cmd": "join",
                "channel": "#General",
                "topic": "",
                "members": ["alice", "bob"],
                "privileges": {"alice": ["op"]},
                "accounts": {},
            },
        )
        self.assertEqual(
            alice.lines(), [{"type": "join", "channel": "#General", "nick": "bob"}]
        )
        # Joining again: same reply, no event.
        self.assertEqual(
            bob.request("join", channel="#GENERAL")["members"], ["alice", "bob"]
        )
        self.assertEqual(alice.lines(), [])

    def test_leave_reply_and_event(self) -> None:
        alice = self.server.user("alice", "#a")
        bob = self.server.user("bob", "#a")
        alice.lines()
        self.assertEqual(
            bob.request("leave", channel="#A"),
            {"type": "ok", "cmd": "leave", "channel": "#a"},
        )
        self.assertEqual(
            alice.lines(),
            [{"type": "leave", "channel": "#a", "nick": "bob", "reason": ""}],
        )
        bob.request("join", channel="#a")
        alice.lines()
        bob.request("leave", channel="#a", reason="lunch")
        self.assertEqual(alice.lines()[0]["reason"], "lunch")

    def test_last_member_leaving_removes_the_channel(self) -> None:
        alice = self.server.user("alice", "#a")
        alice.request("leave", channel="#a")
        self.assertEqual(alice.request("list")["channels"], [])
        self.assertEqual(alice.request("who", channel="#a")["code"], "no_such_channel")

    def test_action_and_formatting(self) -> None:
        alice = self.server.user("alice", "#a")
        bob = self.server.user("bob", "#a")
        alice.lines()
        bold = "\x02waves\x02 \x0304red\x03"
        reply = bob.request("msg", to="#a", text=bold, action=True)
        self.assertEqual(reply["type"], "ok")
        [event] = alice.lines()
        self.assertEqual((event["text"], event["action"]), (bold, True))
        bob.request("msg", to="#a", text="plain", action=False)
        self.assertNotIn("action", alice.lines()[0])
        for bad in ("yes", 1, [True]):
            reply = bob.request("msg", to="#a", text="x", action=bad)
            self.assertEqual(reply["code"], "bad_args", bad)
            self.assertIn("'action'", reply["message"])
        reply = bob.request("msg", to="#a", text="\x01ACTION waves\x01")
        self.assertEqual(reply["code"], "bad_args")
        self.assertEqual(alice.lines(), [])

    def test_msg_to_channel(self) -> None:
        alice = self.server.user("alice", "#a")
        bob = self.server.user("bob", "#a")
        carol = self.server.user("carol", "#a")
        outsider = self.server.user("dave", "#b")
        for c in (alice, bob, carol, outsider):
            c.lines()
        self.server.clock.advance(0.25)
        reply = alice.request("msg", to="#A", text="hello, world", id="m1")
        self.assertEqual(reply["type"], "ok")
        self.assertEqual((reply["to"], reply["id"]), ("#a", "m1"))
        self.assertTrue(
            reply["ts"].startswith(TS) and reply["ts"].endswith(".250Z"), reply["ts"]
        )
        event = {
            "type": "message",
            "from": "alice",
            "to": "#a",
            "text": "hello, world",
            "ts": reply["ts"],
            # the sender learns the id the others see (to redact it, say)
            "msgid": reply["msgid"],
        }
        self.assertEqual(bob.lines(), [event])
        self.assertEqual(carol.lines(), [event])
        self.assertEqual(alice.lines(), [])
        self.assertEqual(outsider.lines(), [])

    def test_private_msg_to_yourself_is_only_a_reply(self) -> None:
        alice = self.server.user("alice")
        reply = alice.request("msg", to="ALICE", text="note to self")
        self.assertEqual((reply["type"], reply["to"]), ("ok", "alice"))
        self.assertEqual(alice.lines(), [])

    def test_private_msg(self) -> None:
        alice = self.server.user("alice")
        bob = self.server.user("Bob")
        reply = alice.request("msg", to="bob", text="psst\tpsst")
        self.assertEqual(reply["to"], "Bob")
        [event] = bob.lines()
        self.assertEqual(
            event,
            {
                "type": "message",
                "from": "alice",
                "to": "Bob",
                "text": "psst\tpsst",
                "ts": reply["ts"],
                "msgid": reply["msgid"],
            },
        )

    def test_list(self) -> None:
        alice = self.server.user("alice", "#b", "#A")
        self.server.user("bob", "#b")
        alice.request("topic", channel="#b", topic="bees")
        self.assertEqual(
            alice.request("list", id=3),
            {
                "type": "ok",
                "cmd": "list",
                "id": 3,
                "channels": [
                    {"channel": "#A", "members": 1, "topic": ""},
                    {"channel": "#b", "members": 2, "topic": "bees"},
                ],
            },
        )
        # Anyone may list, even before choosing a nick.
        anon = self.server.connect()
        self.assertEqual(len(anon.request("list")["channels"]), 2)

    def test_who(self) -> None:
        self.server.user("alice", "#Room")
        self.server.user("bob", "#room")
        outsider = self.server.user("eve")
        self.assertEqual(
            outsider.request("who", channel="#ROOM"),
            {
                "type": "ok",
                "cmd": "who",
                "channel": "#Room",
                "members": ["alice", "bob"],
                "privileges": {"alice": ["op"]},
                "accounts": {},
                "away": {},
            },
        )

    def test_away(self) -> None:
        alice = self.server.user("alice", "#a")
        bob = self.server.user("bob", "#a")
        carol = self.server.user("carol")
        alice.lines()
        self.assertEqual(
            bob.request("away", message="lunch"),
            {"type": "ok", "cmd": "away", "message": "lunch"},
        )
        # those who share a channel are told; others are not
        self.assertEqual(
            alice.lines(), [{"type": "away", "nick": "bob", "message": "lunch"}]
        )
        self.assertEqual(carol.lines(), [])
        # who shows it, and a private message to bob says so
        self.assertEqual(carol.request("who", channel="#a")["away"], {"bob": "lunch"})
        reply = carol.request("msg", to="BOB", text="hi")
        self.assertEqual((reply["to"], reply["away"]), ("bob", "lunch"))
        self.assertNotIn("away", alice.request("msg", to="#a", text="hi"))
        # back, without a message
        self.assertEqual(
            bob.request("away"), {"type": "ok", "cmd": "away", "message": None}
        )
        self.assertEqual(
            alice.lines(), [{"type": "away", "nick": "bob", "message": None}]
        )
        self.assertNotIn("away", carol.request("msg", to="bob", text="hi"))
        self.assertEqual(bob.request("away", message="x\x00")["code"], "bad_args")

    def test_topic(self) -> None:
        alice = self.server.user("alice", "#a")
        bob = self.server.user("bob", "#a")
        eve = self.server.user("eve")
        alice.lines()
        # Under +t (the default) only operators set the topic.
        self.assertEqual(
            bob.request("topic", channel="#a", topic="x")["code"],
            "not_channel_operator",
        )
        self.server.chat.set_modes(alice.proto.user, "#a", [Change("t", False)])
        alice.lines()
        bob.lines()
        self.assertEqual(
            bob.request("topic", channel="#a"),
            {"type": "ok", "cmd": "topic", "channel": "#a", "topic": ""},
        )
        self.assertEqual(
            bob.request("topic", channel="#A", topic="ship it"),
            {"type": "ok", "cmd": "topic", "channel": "#a", "topic": "ship it"},
        )
        self.assertEqual(
            alice.lines(),
            [{"type": "topic", "channel": "#a", "topic": "ship it", "by": "bob"}],
        )
        self.assertEqual(eve.request("topic", channel="#a")["topic"], "ship it")
        self.assertEqual(
            eve.request("topic", channel="#a", topic="mine")["code"], "not_in_channel"
        )
        self.assertEqual(bob.request("topic", channel="#a", topic="")["topic"], "")
        self.assertEqual(alice.lines()[0]["topic"], "")
        self.assertEqual(bob.request("join", channel="#a")["topic"], "")

    def test_ping_and_help(self) -> None:
        client = self.server.connect()
        client.lines()
        self.assertEqual(
            client.request("ping", id=1), {"type": "ok", "cmd": "ping", "id": 1}
        )
        reply = client.request("help")
        self.assertEqual(sorted(reply["commands"]), sorted(COMMANDS))
        self.assertTrue(
            all(isinstance(v, str) and v for v in reply["commands"].values())
        )

    def test_nick_change_event(self) -> None:
        alice = self.server.user("alice", "#a", "#b")
        bob = self.server.user("bob", "#a", "#b")
        loner = self.server.user("loner", "#c")
        alice.lines()
        self.assertEqual(bob.request("nick", nick="robert")["nick"], "robert")
        self.assertEqual(
            alice.lines(), [{"type": "nick", "old": "bob", "new": "robert"}]
        )
        self.assertEqual(loner.lines(), [])
        self.assertEqual(
            bob.request("nick", nick="robert"),
            {"type": "ok", "cmd": "nick", "nick": "robert"},
        )
        self.assertEqual(alice.lines(), [])
        bob.request("nick", nick="Robert")
        self.assertEqual(
            alice.lines(), [{"type": "nick", "old": "robert", "new": "Robert"}]
        )

    def test_quit(self) -> None:
        alice = self.server.user("alice", "#a", "#b")
        bob = self.server.user("bob", "#a", "#b")
        alice.lines()
        bob.lines()
        bob.send({"cmd": "quit", "reason": "see you", "id": 9})
        self.assertEqual(
            bob.lines(),
            [
                {"type": "ok", "cmd": "quit", "id": 9},
                {"type": "bye", "code": "quit", "reason": "see you"},
            ],
        )
        self.assertFalse(bob.connected)
        # One quit event, no leave events.
        self.assertEqual(
            alice.lines(), [{"type": "quit", "nick": "bob", "reason": "see you"}]
        )
        self.assertEqual(alice.request("who", channel="#a")["members"], ["alice"])
        # The nick is free again.
        self.assertEqual(self.server.user("bob").request("ping")["type"], "ok")

    def test_quit_without_reason_and_without_nick(self) -> None:
        client = self.server.connect()
        client.lines()
        client.send({"cmd": "quit"})
        self.assertEqual(
            client.lines(),
            [
                {"type": "ok", "cmd": "quit"},
                {"type": "bye", "code": "quit", "reason": ""},
            ],
        )

    def test_nothing_follows_bye(self) -> None:
        alice = self.server.user("alice", "#a")
        bob = self.server.user("bob", "#a")
        alice.lines()
        # The quit and the lines after it arrive in one read.
        bob.send_raw(
            b'{"cmd":"quit"}\n{"cmd":"msg","to":"#a","text":"ghost"}\n{"cmd":"ping"}\n'
        )
        self.assertEqual([line["type"] for line in bob.lines()], ["ok", "bye"])
        self.assertEqual(alice.lines(), [{"type": "quit", "nick": "bob", "reason": ""}])
        # Events sent after the bye are not written either.
        bob.proto.deliver(self.server.chat.send(alice.proto.user, "#a", "late", 0))
        self.assertEqual(bob.lines(), [])

    def test_dropped_connection_is_one_quit(self) -> None:
        alice = self.server.user("alice", "#a", "#b")
        bob = self.server.user("bob", "#a", "#b")
        alice.lines()
        bob.transport.connected = False
        bob.proto.connectionLost(Failure(ConnectionLost()))
        self.assertEqual(
            alice.lines(),
            [{"type": "quit", "nick": "bob", "reason": "connection closed"}],
        )
        self.assertEqual(self.server.chat.channels["#a"].nicks(), ["alice"])
        self.assertEqual(len(self.server.chat.users), 1)
        self.assertEqual(list(self.server.chat.check_invariants()), [])


class FramingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = Server(max_line=64)
        self.client = self.server.connect()
        self.client.lines()

    def test_crlf_whitespace_blank_lines_and_split_reads(self) -> None:
        self.client.send_raw(
            b'{"cmd":"ping","id":1}\r\n\n   \r\n  \t{"cmd":"ping","id":2}  \r\n{"cmd":"pi'
        )
        self.client.send_raw(b'ng","id":3}\n')
        self.assertEqual([r["id"] for r in self.client.lines()], [1, 2, 3])

    def test_replies_come_in_request_order(self) -> None:
        self.client.send_raw(
            b'{"cmd":"ping","id":1}\nnot json\n{"cmd":"nick","nick":"x","id":2}\n{"cmd":"nope","id":3}\n'
        )
        self.assertEqual(
            [(r["type"], r.get("id")) for r in self.client.lines()],
            [("ok", 1), ("error", None), ("ok", 2), ("error", 3)],
        )

    def test_line_of_exactly_max_line_is_fine(self) -> None:
        line = b'{"cmd":"ping","id":"' + b"x" * (64 - 22) + b'"}'
        self.assertEqual(len(line), 64)
        self.client.send_raw(line + b"\r\n")
        self.assertEqual(self.client.lines()[0]["type"], "ok")
        self.assertTrue(self.client.connected)

    def test_line_too_long(self) -> None:
        other = self.server.user("alice", "#a")
        self.client.request("nick", nick="bob")
        self.client.request("join", channel="#a")
        other.lines()
        line = b'{"cmd":"ping","id":"' + b"x" * (65 - 22) + b'"}'
        self.client.send_raw(line + b"\n")
        self.assertEqual(
            self.client.lines(),
            [
                {
                    "type": "bye",
                    "code": "line_too_long",
                    "reason": "line longer than 64 bytes",
                }
            ],
        )
        self.assertFalse(self.client.connected)
        self.assertEqual(
            other.lines(), [{"type": "quit", "nick": "bob", "reason": "line too long"}]
        )

    def test_endless_line_without_newline(self) -> None:
        self.client.send_raw(b"x" * 40)
        self.assertTrue(self.client.connected)
        self.client.send_raw(b"x" * 40)
        self.assertEqual(self.client.lines()[0]["code"], "line_too_long")
        self.assertFalse(self.client.connected)


class BadInputTests(SynchronousTestCase):
    """Every row of the bad-input table: an error, and the connection lives."""

    def setUp(self) -> None:
        self.server = Server()
        self.client = self.server.connect()
        self.client.lines()

    def error(self, raw: bytes) -> dict[str, object]:
        self.client.send_raw(raw + b"\n")
        [reply] = self.client.lines()
        self.assertEqual(reply["type"], "error")
        self.assertIsInstance(reply["message"], str)
        self.assertTrue(self.client.connected)
        # And the connection still works.
        self.assertEqual(self.client.request("ping")["type"], "ok")
        return reply

    def assertError(
        self, raw: bytes, code: str, cmd: str | None = None, **more: object
    ) -> dict[str, object]:
        reply = self.error(raw)
        self.assertEqual(reply["code"], code, reply)
        self.assertEqual(reply["cmd"], cmd, reply)
        for key, value in more.items():
            self.assertEqual(reply.get(key), value, reply)
        return reply

    def test_channel_names_that_hide_characters(self) -> None:
        self.client.request("nick", nick="alice")
        reply = self.assertError(
            '{"cmd":"join","channel":"#gen\u00aderal"}'.encode(), "bad_channel", "join"
        )
        self.assertIn("U+00AD (SOFT HYPHEN)", str(reply["message"]))
        self.assertEqual(self.client.request("list")["channels"], [])

    def test_bad_json(self) -> None:
        for raw in [
            b"hello",
            b"{",
            b'{"cmd":"ping",}',
            b"NaN",
            b'{"cmd":"ping","id":Infinity}',
            b"[" * 5000,
        ]:
            reply = self.assertError(raw, "bad_json")
            self.assertNotIn("id", reply)

    def test_bad_encoding(self) -> None:
        reply = self.assertError(b'{"cmd":"msg","text":"\xff\xfe"}', "bad_encoding")
        self.assertIn("UTF-8", reply["message"])
        self.assertError(
            b'{"cmd":"\xed\xa0\x80"}', "bad_encoding"
        )  # an encoded surrogate

    def test_not_an_object(self) -> None:
        for raw in [b"[1,2]", b'"ping"', b"42", b"null", b"true"]:
            self.assertError(raw, "bad_request")

    def test_bad_id(self) -> None:
        for bad in [b"1.5", b"true", b"[1]", b'{"a":1}']:
            reply = self.assertError(
                b'{"cmd":"ping","id":' + bad + b"}", "bad_request", "ping"
            )
            self.assertNotIn("id", reply)
            self.assertIn("'id'", reply["message"])

    def test_cmd_not_a_string(self) -> None:
        for bad in [b"5", b"true", b'["ping"]', b"{}"]:
            self.assertError(b'{"cmd":' + bad + b',"id":4}', "bad_request", None, id=4)

    def test_unknown_command(self) -> None:
        reply = self.assertError(
            b'{"cmd":"dance","id":"x"}', "unknown_command", "dance", id="x"
        )
        self.assertIn("help", reply["message"])
        reply = self.assertError(b'{"text":"no cmd"}', "unknown_command", None)
        self.assertIn("help", reply["message"])
        self.assertError(b'{"cmd":null}', "unknown_command", None)
        self.assertError(b'{"cmd":"NICK","nick":"x"}', "unknown_command", "NICK")
        self.assertError(b'{"cmd":"do_nick","nick":"x"}', "unknown_command", "do_nick")
        self.assertError(b'{"cmd":"__class__"}', "unknown_command", "__class__")

    def test_lone_surrogates_are_refused_not_echoed(self) -> None:
        """
        JSON's \\u escapes can make a lone surrogate, which is not text:
        in cmd or id it is bad_request, in an argument bad_args, and it
        never comes back on the wire.
        """
        for raw, code, cmd in [
            (b'{"cmd":"\\ud800","id":1}', "bad_request", None),
            (b'{"cmd":"ping","id":"\\udfff"}', "bad_request", "ping"),
            (b'{"cmd":"nick","nick":"a\\ud800"}', "bad_args", "nick"),
            (b'{"cmd":"list","id":"x","ignored":"\\ud800"}', None, "list"),
        ]:
            self.client.send_raw(raw + b"\n")
            wire = self.client.transport.value()
            self.assertNotIn(b"\\ud", wire)
            wire.decode("utf-8")
            [reply] = self.client.lines()
            self.assertEqual(reply.get("code"), code, raw)
            self.assertEqual(reply["cmd"], cmd, raw)
        self.client.request("nick", nick="alice")
        for args in [{"channel": "#\ud800"}, {"channel": "#a", "reason": "\udc00"}]:
            reply = self.client.request("leave", **args)
            self.assertEqual(reply["code"], "bad_args")
            self.assertIn("lone surrogate", reply["message"])

    def test_integers_too_long_for_python(self) -> None:
        """Valid JSON all the same: refused only where an integer is used."""
        huge = b"9" * 4301
        reply = self.assertError(
            b'{"cmd":"ping","id":' + huge + b"}", "bad_request", "ping"
        )
        self.assertIn("more than 4300 digits", reply["message"])
        self.assertError(b'{"cmd":"nick","nick":' + huge + b"}", "bad_args", "nick")
        self.client.send_raw(b'{"cmd":"ping","ignored":' + b"9" * 5000 + b"}\n")
        self.assertEqual(self.client.lines(), [{"type": "ok", "cmd": "ping"}])
        self.assertEqual(
            self.client.request("ping", id=int("9" * 4300))["id"], int("9" * 4300)
        )

    def test_nick_required(self) -> None:
        for cmd, args in [
            ("join", {"channel": "#a"}),
            ("leave", {"channel": "#a"}),
            ("msg", {"to": "#a", "text": "hi"}),
            ("who", {"channel": "#a"}),
            ("topic", {"channel": "#a"}),
            # nick_required comes before any check of the arguments
            ("join", {"channel": 5}),
            ("msg", {}),
        ]:
            raw = json.dumps({"cmd": cmd, **args}).encode()
            reply = self.assertError(raw, "nick_required", cmd)
            self.assertEqual(
                reply["message"],
                'choose a nick first: send {"cmd":"nick","nick":NAME}',
            )

    def test_bad_args(self) -> None:
        self.client.request("nick", nick="alice")
        self.client.request("join", channel="#a")
        for raw, field in [
            (b'{"cmd":"nick"}', "nick"),
            (b'{"cmd":"nick","nick":null}', "nick"),
            (b'{"cmd":"nick","nick":5}', "nick"),
            (b'{"cmd":"join"}', "channel"),
            (b'{"cmd":"join","channel":["#a"]}', "channel"),
            (b'{"cmd":"leave","channel":"#a","reason":1}', "reason"),
            (b'{"cmd":"msg","text":"hi"}', "to"),
            (b'{"cmd":"msg","to":"#a"}', "text"),
            (b'{"cmd":"msg","to":"#a","text":7}', "text"),
            (b'{"cmd":"who"}', "channel"),
            (b'{"cmd":"topic"}', "channel"),
            (b'{"cmd":"topic","channel":"#a","topic":false}', "topic"),
            (b'{"cmd":"quit","reason":{}}', "reason"),
        ]:
            reply = self.error(raw)
            self.assertEqual(reply["code"], "bad_args", raw)
            self.assertIn(repr(field), reply["message"], raw)

    def test_bad_text(self) -> None:
        self.client.request("nick", nick="alice")
        self.client.request("join", channel="#a")
        for text in [
            "",
            "x" * 4001,
            "line\nbreak",
            "bell\x07",
            "del\x7f",
            "c1\x85",
            "\ud800",
        ]:
            raw = json.dumps({"cmd": "msg", "to": "#a", "text": text}).encode()
            reply = self.assertError(raw, "bad_args", "msg")
            self.assertIn("'text'", reply["message"])
        self.assertEqual(
            self.client.request("msg", to="#a", text="x" * 4000)["type"], "ok"
        )

    def test_bad_topic_and_reason(self) -> None:
        self.client.request("nick", nick="alice")
        self.client.request("join", channel="#a")
        self.assertError(
            json.dumps({"cmd": "topic", "channel": "#a", "topic": "x" * 391}).encode(),
            "bad_args",
            "topic",
        )
        self.assertError(
            b'{"cmd":"topic","channel":"#a","topic":"a\\nb"}', "bad_args", "topic"
        )
        self.assertError(
            b'{"cmd":"leave","channel":"#a","reason":"a\\u0000"}', "bad_args", "leave"
        )
        self.assertError(b'{"cmd":"quit","reason":"a\\u001b[2J"}', "bad_args", "quit")
        self.assertEqual(self.client.request("who", channel="#a")["members"], ["alice"])

    def test_names(self) -> None:
        self.client.request("nick", nick="alice")
        self.server.user("bob", "#b")
        for raw, code in [
            (b'{"cmd":"nick","nick":""}', "bad_nick"),
            (b'{"cmd":"nick","nick":"1abc"}', "bad_nick"),
            (b'{"cmd":"nick","nick":"-abc"}', "bad_nick"),
            (b'{"cmd":"nick","nick":"' + b"a" * 31 + b'"}', "bad_nick"),
            (b'{"cmd":"nick","nick":"BOB"}', "nick_in_use"),
            (b'{"cmd":"join","channel":""}', "bad_channel"),
            (b'{"cmd":"join","channel":"general"}', "bad_channel"),
            (b'{"cmd":"join","channel":"#a b"}', "bad_channel"),
            (b'{"cmd":"join","channel":"#a,#b"}', "bad_channel"),
            (b'{"cmd":"join","channel":"#' + b"c" * 50 + b'"}', "bad_channel"),
            (b'{"cmd":"leave","channel":"#nowhere"}', "no_such_channel"),
            (b'{"cmd":"leave","channel":"#b"}', "not_in_channel"),
            (b'{"cmd":"msg","to":"#nowhere","text":"x"}', "no_such_channel"),
            (b'{"cmd":"msg","to":"#B","text":"x"}', "cannot_send"),
            (b'{"cmd":"msg","to":"nobody","text":"x"}', "no_such_nick"),
            (b'{"cmd":"msg","to":"no body","text":"x"}', "bad_nick"),
            (b'{"cmd":"who","channel":"#nowhere"}', "no_such_channel"),
            (b'{"cmd":"topic","channel":"#nowhere"}', "no_such_channel"),
            (b'{"cmd":"topic","channel":"#nowhere","topic":"x"}', "no_such_channel"),
            (b'{"cmd":"topic","channel":"#b","topic":"x"}', "not_in_channel"),
        ]:
            reply = self.error(raw)
            self.assertEqual(reply["code"], code, raw)
        self.assertEqual(self.client.request("ping")["type"], "ok")

    def test_check_order(self) -> None:
        """Arguments are checked before state: the first failing check answers."""
        self.client.request("nick", nick="alice")
        self.assertError(b'{"cmd":"msg","to":"#nowhere","text":""}', "bad_args", "msg")
        self.assertError(
            b'{"cmd":"msg","to":"#no where","text":"x"}', "bad_channel", "msg"
        )
        self.assertError(
            b'{"cmd":"leave","channel":"#nowhere","reason":"\\u0007"}',
            "bad_args",
            "leave",
        )

    def test_unknown_fields_are_ignored(self) -> None:
        self.assertEqual(
            self.client.request("ping", extra={"x": 1}), {"type": "ok", "cmd": "ping"}
        )

    def test_one_clients_garbage_does_not_disturb_others(self) -> None:
        alice = self.server.user("alice", "#a")
        bob = self.server.user("bob", "#a")
        alice.lines()
        bob.lines()
        self.client.send_raw(
            b"\x00\xff garbage\n{]\n[\n" + b'{"cmd":"join","channel":"#a"}\n'
        )
        self.assertEqual(alice.lines(), [])
        self.assertEqual(bob.lines(), [])
        alice.request("msg", to="#a", text="fine")
        self.assertEqual(bob.lines()[0]["text"], "fine")

    def test_internal_error(self) -> None:
        events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        alice = self.server.user("alice", "#a")
        bob = self.server.user("bob", "#a")

        def broken(request: object) -> bytes:
            raise ZeroDivisionError("oops")

        alice.proto.do_who = broken  # type: ignore[method-assign]
        reply = alice.request("who", channel="#a", id=5)
        self.assertEqual(reply["code"], "internal_error")
        self.assertEqual((reply["cmd"], reply["id"]), ("who", 5))
        self.assertNotIn("oops", reply["message"])
        self.assertNotIn("Traceback", reply["message"])
        [failure] = [e["log_failure"] for e in events if "log_failure" in e]
        self.assertIsInstance(failure.value, ZeroDivisionError)
        self.flushLoggedErrors(ZeroDivisionError)
        # Connection and server live on.
        self.assertTrue(alice.connected)
        self.assertEqual(alice.request("msg", to="#a", text="still here")["type"], "ok")
        self.assertEqual(bob.lines()[-1]["text"], "still here")


class IdleTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = Server(idle_timeout=60)
        self.server.factory.start_reaping()
        self.addCleanup(self.server.factory.stop_reaping)

    def test_reaped_within_bounds(self) -> None:
        quiet = self.server.user("quiet", "#a")
        chatty = self.server.user("chatty", "#a")
        chatty.lines()
        quiet.lines()
        # Ping counts as activity.
        seen = []
        for _ in range(10):
            self.server.clock.advance(30)
            chatty.send({"cmd": "ping"})
            seen.extend(line for line in chatty.lines() if line["type"] != "ok")
        self.assertFalse(quiet.connected)
        self.assertTrue(chatty.connected)
        self.assertEqual(
            quiet.lines(),
            [
                {
                    "type": "bye",
                    "code": "idle_timeout",
                    "reason": "no activity for 60 seconds",
                }
            ],
        )
        self.assertEqual(
            seen, [{"type": "quit", "nick": "quiet", "reason": "idle for 60 seconds"}]
        )

    def test_reap_time_is_bounded(self) -> None:
        """Nobody outlives the timeout by more than a quarter of it."""
        client = self.server.connect().register("idler")
        client.lines()
        self.server.clock.advance(7)
        client.send_raw(b"not even json\n")  # any line counts
        start = self.server.clock.seconds()
        for _ in range(120):  # bounded: a reaper that never reaps fails below
            if not client.connected:
                break
            self.server.clock.advance(1)
        self.assertFalse(client.connected, "never reaped")
        lived = self.server.clock.seconds() - start
        self.assertGreaterEqual(lived, 60)
        self.assertLessEqual(lived, 60 + 15)

    def test_short_timeout(self) -> None:
        server = Server(idle_timeout=1)
        server.factory.start_reaping()
        self.addCleanup(server.factory.stop_reaping)
        client = server.connect()
        server.clock.advance(1)
        server.clock.advance(1)
        self.assertFalse(client.connected)

    def test_zero_turns_reaping_off(self) -> None:
        server = Server(idle_timeout=0, register_timeout=0)
        server.factory.start_reaping()
        client = server.connect()
        registered = server.user("quiet")
        server.clock.advance(10**7)
        self.assertTrue(client.connected)
        self.assertTrue(registered.connected)
        self.assertEqual(server.clock.getDelayedCalls(), [])


class ShutdownTests(SynchronousTestCase):
    def test_everyone_gets_bye(self) -> None:
        server = Server()
        clients = [server.user(n, "#a") for n in ["a", "b", "c"]]
        anon = server.connect()
        for c in [*clients, anon]:
            c.lines()
        server.factory.shut_down()
        for c in [*clients, anon]:
            self.assertEqual(
                c.lines(),
                [
                    {
                        "type": "bye",
                        "code": "shutdown",
                        "reason": "the server is shutting down",
                    }
                ],
            )
            self.assertFalse(c.connected)
        self.assertEqual(server.chat.users, set())
        self.assertEqual(server.chat.channels, {})


class LoggingTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.addCleanup(set_level, get_level())
        self.server = Server()

    def logged(self) -> list[tuple[LogLevel, str]]:
        from twisted.logger import formatEvent

        return [
            (e["log_level"], formatEvent(e))
            for e in self.events
            if e["log_namespace"].startswith("chatd")
        ]

    def test_info(self) -> None:
        set_level(LogLevel.info)
        alice = self.server.user("alice", "#a")
        alice.request("nick", nick="alison")
        alice.request("msg", to="#a", text="secret words")
        alice.send_raw(b"junk\n")
        alice.request("leave", channel="#a")
        alice.send({"cmd": "quit", "reason": "bye"})
        lines = "\n".join(text for _, text in self.logged())
        for expected in [
            "is now known as alice",
            "alice is now known as alison",
            "alison (127.0.0.1:",
        ]:
            self.assertIn(expected, lines)
        self.assertNotIn("secret words", lines)
        # routine comings and goings are debug: one line per connection
        # costs more than the rest of a registration on a busy server; so
        # are bad requests, or a client could write the log for us
        for routine in ["connection from", "joined", "left", "bad_json"]:
            self.assertNotIn(routine, lines)

    def test_debug_shows_connections_and_membership(self) -> None:
        set_level(LogLevel.debug)
        alice = self.server.user("alice", "#a")
        alice.request("leave", channel="#a")
        alice.send({"cmd": "quit", "reason": "bye"})
        logged = self.logged()
        for expected in [
            "connection from 127.0.0.1:",
            "alice joined #a",
            "alice left #a",
        ]:
            self.assertIn(expected, "\n".join(text for _, text in logged))
        self.assertIn((LogLevel.debug, "alice joined #a"), logged)

    def test_reaps_and_refusals(self) -> None:
        set_level(LogLevel.info)
        server = Server(max_users=1, idle_timeout=10)
        server.factory.start_reaping()
        self.addCleanup(server.factory.stop_reaping)
        self.server = server
        server.connect()
        server.connect()
        server.clock.advance(20)
        lines = "\n".join(text for _, text in self.logged())
        self.assertIn("refused 127.0.0.1:", lines)
        self.assertIn("the server is full", lines)
        self.assertIn("reaping idle 127.0.0.1:", lines)

    def test_refusals_are_logged_once_per_burst(self) -> None:
        set_level(LogLevel.info)
        server = Server(max_users=1, idle_timeout=0, register_timeout=60)
        server.factory.start_reaping()
        self.addCleanup(server.factory.stop_reaping)
        self.server = server
        server.user("alice")
        for _ in range(50):
            server.connect()
        server.clock.advance(5)
        refusals = [t for _, t in self.logged() if "refused" in t]
        self.assertEqual(len(refusals), 1, refusals)
        server.clock.advance(10)
        refusals = [t for _, t in self.logged() if "refused" in t]
        self.assertEqual(
            refusals[1:], ["refused 49 more connections: the server is full"]
        )

    def test_debug_shows_message_text(self) -> None:
        set_level(LogLevel.debug)
        alice = self.server.user("alice", "#a")
        alice.request("msg", to="#a", text="secret words")
        self.assertIn((LogLevel.debug, "<alice> to #a: secret words"), self.logged())

    def test_error_level_quiets_info(self) -> None:
        set_level(LogLevel.error)
        self.server.user("alice", "#a")
        self.assertEqual(self.logged(), [])


class HalfCloseTests(SynchronousTestCase):
    def test_last_line_without_newline_is_answered(self) -> None:
        client = Server().connect()
        client.lines()
        client.send_raw(b'{"cmd":"ping","id":1}\n{"cmd":"ping","id":2}')
        client.proto.readConnectionLost()
        self.assertEqual([r["id"] for r in client.lines()], [1, 2])
        self.assertFalse(client.connected)

    def test_last_line_that_quits(self) -> None:
        client = Server().connect()
        client.lines()
        client.send_raw(b'{"cmd":"quit"}')
        client.proto.readConnectionLost()
        self.assertEqual([r["type"] for r in client.lines()], ["ok", "bye"])

    def test_client_that_stops_sending_gets_its_replies_then_is_gone(self) -> None:
        server = Server()
        alice = server.user("alice", "#a")
        bob = server.user("bob", "#a")
        alice.lines()
        bob.send_raw(b'{"cmd":"msg","to":"#a","text":"last words"}\n')
        bob.proto.readConnectionLost()
        self.assertEqual(bob.lines()[0]["cmd"], "msg")
        self.assertFalse(bob.connected)
        self.assertEqual([line["type"] for line in alice.lines()], ["message", "quit"])
        self.assertEqual(server.chat.channels["#a"].nicks(), ["alice"])

# -*- test-case-name: tests.test_client -*-
"""
Tests for the console client: the L{chatd.client} package.
"""

from __future__ import annotations

import json
import re
import unicodedata
from datetime import timezone
from typing import Any

from twisted.conch.insults import helper, insults
from twisted.conch.insults.helper import BLUE, GREEN, WHITE
from twisted.internet import error as neterror
from twisted.internet.defer import Deferred
from twisted.internet.protocol import ClientFactory
from twisted.internet.testing import MemoryReactorClock, StringTransport
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase, TestCase

import chatd
from chatd.client import cli
from chatd.client.cli import main, parse_args
from chatd.client.commands import (
    HELP_LINES,
    Connect,
    Help,
    Problem,
    Quit,
    Send,
    parse_input,
)
from chatd.client.connection import ChatConnection
from chatd.client.formatting import (
    BOLD,
    COLOUR,
    ITALIC,
    MONOSPACE,
    RESET,
    REVERSE,
    STRIKETHROUGH,
    UNDERLINE,
    display_for,
    printable,
    strip_formatting,
    to_ansi,
)
from chatd.client.piped import PipedUI
from chatd.client.render import bad_line, hhmm, parse_ts, render
from chatd.client.session import QUIT_TIMEOUT, RETRY_MARGIN, ChatClient
from chatd.client.terminal import TerminalUI
from chatd.core import TEXT_MAX, TOPIC_MAX

# 2026-11-24T10:00:00Z
NOON_TS = "2026-11-24T10:00:00.123Z"
NOW = 1795514400.0 + 5 * 60  # 10:05 UTC that day
UTC = timezone.utc


class ParseInputTests(SynchronousTestCase):
    """Every command typed, and every mistake caught before sending."""

    def parse(self, line: str, current: str | None = "#general") -> Any:
        return parse_input(line, current)

    def test_blank(self) -> None:
        self.assertIsNone(self.parse(""))
        self.assertIsNone(self.parse("\r\n"))

    def test_only_spaces_refused(self) -> None:
        """A message of spaces only is refused with a word, not sent."""
        refused = Problem("not sent: the message is only spaces")
        for line in [
            "   \r\n",
            " ",
            "\t",
            "\u3000",
            "/msg bob \u3000 ",
            "/query bob  \u2003",
        ]:
            self.assertEqual(self.parse(line), refused, repr(line))
        self.assertEqual(self.parse("/msg bob    "), Problem("usage: /msg TARGET TEXT"))

    def test_text_goes_to_current_channel(self) -> None:
        self.assertEqual(
            self.parse("hello there\n"),
            Send({"cmd": "msg", "to": "#general", "text": "hello there"}),
        )

    def test_text_without_channel(self) -> None:
        action = self.parse("hello", None)
        self.assertIsInstance(action, Problem)
        self.assertIn("not in a channel", action.message)

    def test_double_slash_is_text(self) -> None:
        self.assertEqual(
            self.parse("//etc/passwd is a file"),
            Send({"cmd": "msg", "to": "#general", "text": "/etc/passwd is a file"}),
        )

    def test_connect(self) -> None:
        self.assertEqual(
            self.parse("/connect example.org 9000"), Connect("example.org", 9000)
        )
        self.assertEqual(
            self.parse("/connect example.org"), Connect("example.org", 8123)
        )
        self.assertEqual(self.parse("/connect"), Connect(None, 8123))

    def test_connect_bad_port(self) -> None:
        for line in [
            "/connect h port",
            "/connect h 0",
            "/connect h 70000",
            "/connect a b c",
        ]:
            action = self.parse(line)
            self.assertIsInstance(action, Problem, line)
            self.assertIn("/connect HOST PORT", action.message)

    def test_nick(self) -> None:
        self.assertEqual(
            self.parse("/nick alice"), Send({"cmd": "nick", "nick": "alice"})
        )
        self.assertEqual(
            self.parse("/NICK alice"), Send({"cmd": "nick", "nick": "alice"})
        )
        self.assertEqual(self.parse("/nick"), Problem("usage: /nick NAME"))
        self.assertEqual(self.parse("/nick a b"), Problem("usage: /nick NAME"))

    def test_join(self) -> None:
        # A join asks for the channel's last 20 messages, to show them.
        join = {"cmd": "join", "channel": "#rust", "history": 20}
        self.assertEqual(self.parse("/join #rust"), Send(join))
        self.assertEqual(self.parse("/join rust"), Send(join))
        self.assertEqual(
            self.parse("/join #club sesame"),
            Send({"cmd": "join", "channel": "#club", "history": 20, "key": "sesame"}),
        )
        usage = Problem("usage: /join #channel [KEY]")
        self.assertEqual(self.parse("/join"), usage)
        self.assertEqual(self.parse("/join #a k extra"), usage)
        self.assertEqual(
            self.parse("/join #a #b"),
            Problem("one channel at a time (usage: /join #channel [KEY])"),
        )

    def test_leave(self) -> None:
        self.assertEqual(
            self.parse("/leave"), Send({"cmd": "leave", "channel": "#general"})
        )
        self.assertEqual(
            self.parse("/leave #rust too noisy"),
            Send({"cmd": "leave", "channel": "#rust", "reason": "too noisy"}),
        )
        self.assertEqual(
            self.parse("/leave gone for lunch"),
            Send({"cmd": "leave", "channel": "#general", "reason": "gone for lunch"}),
        )
        self.assertIsInstance(self.parse("/leave", None), Problem)

    def test_msg(self) -> None:
        self.assertEqual(
            self.parse("/msg bob hi there"),
            Send({"cmd": "msg", "to": "bob", "text": "hi there"}),
        )
        self.assertEqual(
            self.parse("/msg #rust hi", None),
            Send({"cmd": "msg", "to": "#rust", "text": "hi"}),
        )
        self.assertEqual(self.parse("/msg bob"), Problem("usage: /msg TARGET TEXT"))
        self.assertEqual(self.parse("/msg"), Problem("usage: /msg TARGET TEXT"))

    def test_me(self) -> None:
        """/me TEXT is an action in the current channel."""
        action = Send({"cmd": "msg", "to": "#general", "text": "waves", "action": True})
        self.assertEqual(self.parse("/me waves"), action)
        self.assertEqual(self.parse("/ME \t waves  "), action)
        self.assertEqual(
            self.parse("/me waves at  \x02bob\x02", "#rust"),
            Send(
                {
                    "cmd": "msg",
                    "to": "#rust",
                    "text": "waves at  \x02bob\x02",
                    "action": True,
                }
            ),
        )
        self.assertEqual(
            self.parse("/me \x1dsighs\x1d"),
            Send(
                {
                    "cmd": "msg",
                    "to": "#general",
                    "text": "\x1dsighs\x1d",
                    "action": True,
                }
            ),
        )

    def test_me_without_channel_or_text(self) -> None:
        self.assertEqual(
            self.parse("/me waves", None),
            Problem("you are not in a channel: /join #channel first"),
        )
        for line in ["/me", "/me   ", "/me \x02\x1f"]:
            self.assertEqual(self.parse(line), Problem("usage: /me TEXT"), line)
        self.assertEqual(self.parse("/me", None), Problem("usage: /me TEXT"))

    def test_list(self) -> None:
        self.assertEqual(self.parse("/list", None), Send({"cmd": "list"}))
        self.assertEqual(self.parse("/list x"), Problem("usage: /list"))

    def test_who(self) -> None:
        self.assertEqual(
            self.parse("/who"), Send({"cmd": "who", "channel": "#general"})
        )
        self.assertEqual(
            self.parse("/who rust"), Send({"cmd": "who", "channel": "#rust"})
        )
        self.assertIsInstance(self.parse("/who", None), Problem)
        self.assertEqual(self.parse("/who #a #b"), Problem("usage: /who [#chan]"))

    def test_topic(self) -> None:
        self.assertEqual(
            self.parse("/topic"), Send({"cmd": "topic", "channel": "#general"})
        )
        self.assertEqual(
            self.parse("/topic #rust"), Send({"cmd": "topic", "channel": "#rust"})
        )
        self.assertEqual(
            self.parse("/topic #rust Rust talk"),
            Send({"cmd": "topic", "channel": "#rust", "topic": "Rust talk"}),
        )
        self.assertEqual(
            self.parse("/topic all about chat"),
            Send({"cmd": "topic", "channel": "#general", "topic": "all about chat"}),
        )
        self.assertIsInstance(self.parse("/topic", None), Problem)

    def test_quit(self) -> None:
        self.assertEqual(self.parse("/quit"), Quit(""))
        self.assertEqual(self.parse("/quit see you"), Quit("see you"))

    def test_help(self) -> None:
        self.assertEqual(self.parse("/help"), Help())

    def test_unknown(self) -> None:
        self.assertEqual(
            self.parse("/frob x"), Problem("unknown command /frob (/help lists them)")
        )
        self.assertIsInstance(self.parse("/"), Problem)

    def test_formatting_codes_are_text(self) -> None:
        """
        Codes that Python counts as whitespace (italic, strikethrough,
        underline) are neither split on nor stripped from command arguments.
        """
        self.assertEqual(
            self.parse("/msg bob \x1dhi\x1d there\x1f"),
            Send({"cmd": "msg", "to": "bob", "text": "\x1dhi\x1d there\x1f"}),
        )
        self.assertEqual(
            self.parse("/topic \x1fnews\x1f"),
            Send({"cmd": "topic", "channel": "#general", "topic": "\x1fnews\x1f"}),
        )
        self.assertEqual(
            self.parse("/leave #rust \x1egone\x1e"),
            Send({"cmd": "leave", "channel": "#rust", "reason": "\x1egone\x1e"}),
        )
        self.assertEqual(
            self.parse("\x02hi\x02"),
            Send({"cmd": "msg", "to": "#general", "text": "\x02hi\x02"}),
        )

    def test_codes_alone_are_blank(self) -> None:
        self.assertEqual(
            self.parse("\x02\x1f \x0304"),
            Problem("not sent: the message is only spaces"),
        )


class RenderTests(SynchronousTestCase):
    """Every line from the server, as a person reads it."""

    def render(
        self, obj: Any, request: dict[str, Any] | None = None, nick: str | None = "me"
    ) -> list[str]:
        return render(obj, request, now=NOW, tz=UTC, nick=nick)

    def test_times(self) -> None:
        self.assertEqual(parse_ts(NOON_TS), 1795514400.123)
        self.assertIsNone(parse_ts("yesterday"))
        self.assertIsNone(parse_ts(12))
        self.assertEqual(hhmm(NOW, UTC), "10:05")

    def test_channel_message(self) -> None:
        obj = {
            "type": "message",
            "from": "alice",
            "to": "#general",
            "text": "hi",
            "ts": NOON_TS,
        }
        self.assertEqual(self.render(obj), ["10:00 #general <alice> hi"])

    def test_private_message(self) -> None:
        obj = {
            "type": "message",
            "from": "alice",
            "to": "me",
            "text": "psst",
            "ts": NOON_TS,
        }
        self.assertEqual(self.render(obj), ["10:00 *alice* psst"])

    def test_notice(self) -> None:
        obj = {
            "type": "message",
            "from": "bot",
            "to": "#general",
            "text": "x",
            "ts": NOON_TS,
            "notice": True,
        }
        self.assertEqual(self.render(obj), ["10:00 #general -bot- x"])

    def test_channel_action(self) -> None:
        obj = {
            "type": "message",
            "from": "alice",
            "to": "#general",
            "text": "waves",
            "ts": NOON_TS,
            "action": True,
        }
        self.assertEqual(self.render(obj), ["10:00 #general * alice waves"])

    def test_private_action(self) -> None:
        obj = {
            "type": "message",
            "from": "alice",
            "to": "me",
            "text": "waves",
            "ts": NOON_TS,
            "action": True,
        }
        self.assertEqual(self.render(obj), ["10:00 * alice waves"])

    def test_notice_action_is_an_action(self) -> None:
        obj = {
            "type": "message",
            "from": "bot",
            "to": "#general",
            "text": "beeps",
            "ts": NOON_TS,
            "notice": True,
            "action": True,
        }
        self.assertEqual(self.render(obj), ["10:00 #general * bot beeps"])
        obj["to"] = "me"
        self.assertEqual(self.render(obj), ["10:00 * bot beeps"])

    def test_action_only_when_true(self) -> None:
        """Only C{true} makes an action; anything else is a message."""
        for value in [False, None, 1, "true"]:
            obj = {
                "type": "message",
                "from": "alice",
                "to": "#general",
                "text": "hi",
                "ts": NOON_TS,
                "action": value,
            }
            self.assertEqual(self.render(obj), ["10:00 #general <alice> hi"], value)

    def test_action_formatting(self) -> None:
        obj = {
            "type": "message",
            "from": "alice",
            "to": "#general",
            "text": "\x02waves\x02 at \x0304bob",
            "ts": NOON_TS,
            "action": True,
        }
        [line] = self.render(obj)
        self.assertEqual(line, "10:00 #general * alice \x02waves\x02 at \x0304bob")
        self.assertEqual(strip_formatting(line), "10:00 #general * alice waves at bob")
        self.assertEqual(
            to_ansi(line),
            "10:00 #general * alice \x1b[0;1mwaves\x1b[0m at \x1b[0;91mbob\x1b[0m",
        )
        obj["to"] = "me"
        self.assertEqual(
            to_ansi(self.render(obj)[0]),
            "10:00 * alice \x1b[0;1mwaves\x1b[0m at \x1b[0;91mbob\x1b[0m",
        )

    def test_message_without_time_uses_now(self) -> None:
        obj = {
            "type": "message",
            "from": "alice",
            "to": "#general",
            "text": "hi",
            "ts": "soon",
        }
        self.assertEqual(self.render(obj), ["10:05 #general <alice> hi"])

    def test_events(self) -> None:
        cases = [
            (
                {"type": "join", "channel": "#general", "nick": "bob"},
                "10:05 * bob joined #general",
            ),
            (
                {
                    "type": "leave",
                    "channel": "#general",
                    "nick": "bob",
                    "reason": "lunch",
                },
                "10:05 * bob left #general (lunch)",
            ),
            (
                {"type": "leave", "channel": "#general", "nick": "bob", "reason": ""},
                "10:05 * bob left #general",
            ),
            (
                {"type": "nick", "old": "bob", "new": "robert"},
                "10:05 * bob is now known as robert",
            ),
            (
                {"type": "quit", "nick": "bob", "reason": "bye"},
                "10:05 * bob quit (bye)",
            ),
            ({"type": "quit", "nick": "bob", "reason": ""}, "10:05 * bob quit"),
            (
                {
                    "type": "topic",
                    "channel": "#general",
                    "topic": "chat",
                    "by": "alice",
                },
                "10:05 * alice set the topic of #general to: chat",
            ),
            (
                {"type": "topic", "channel": "#general", "topic": "", "by": "alice"},
                "10:05 * alice cleared the topic of #general",
            ),
        ]
        for obj, line in cases:
            self.assertEqual(self.render(obj), [line])

    def test_bye(self) -> None:
        self.assertEqual(
            self.render(
                {"type": "bye", "code": "idle_timeout", "reason": "idle for 180 s"}
            ),
            ["* server closed the connection: idle_timeout (idle for 180 s)"],
        )
        self.assertEqual(
            self.render({"type": "bye", "code": "shutdown", "reason": ""}),
            ["* server closed the connection: shutdown"],
        )
        self.assertEqual(
            self.render({"type": "bye", "code": "quit", "reason": "done"}),
            ["* you have quit (done)"],
        )

    def test_welcome(self) -> None:
        obj = {
            "type": "welcome",
            "server": "chatd",
            "version": "0.1.0",
            "protocol": 1,
            "max_line": 16384,
            "idle_timeout": 180,
        }
        self.assertEqual(self.render(obj), ["* connected to chatd 0.1.0 (protocol 1)"])
        lines = self.render({**obj, "protocol": 2})
        self.assertEqual(len(lines), 2)
        self.assertIn("protocol 1", lines[1])

    def test_errors(self) -> None:
        for code in [
            "nick_in_use",
            "bad_nick",
            "bad_channel",
            "not_in_channel",
            "no_such_channel",
            "no_such_nick",
            "nick_required",
            "bad_args",
            "bad_json",
            "bad_request",
            "unknown_command",
            "bad_encoding",
            "internal_error",
        ]:
            obj = {"type": "error", "cmd": None, "code": code, "message": "Something."}
            if code in ("nick_required", "unknown_command"):
                continue  # in the client's words: test_errors_in_client_words
            self.assertEqual(self.render(obj), [f"! {code}: Something."])

    def test_errors_in_client_words(self) -> None:
        """
        Errors whose server message speaks the wire protocol are phrased by
        the client, by code, whatever the message says.
        """
        for message in ['choose a nick first: {"cmd":"nick","nick":NAME}', "x"]:
            obj = {"type": "error", "code": "nick_required", "message": message}
            self.assertEqual(
                self.render(obj), ["! nick_required: choose a nick first: /nick NAME"]
            )
        obj = {
            "type": "error",
            "code": "unknown_command",
            "message": 'unknown command \'x\'; send {"cmd":"help"} for the list',
        }
        self.assertEqual(
            self.render(obj),
            ["! unknown_command: the server does not know this command"],
        )

    def test_ok_nick(self) -> None:
        self.assertEqual(
            self.render({"type": "ok", "cmd": "nick", "id": 1, "nick": "Alice"}),
            ["10:05 * you are now known as Alice"],
        )

    def test_ok_join(self) -> None:
        obj = {
            "type": "ok",
            "cmd": "join",
            "channel": "#general",
            "topic": "chat",
            "members": ["alice", "bob"],
        }
        self.assertEqual(
            self.render(obj),
            ["10:05 * you joined #general (topic: chat; members: alice, bob)"],
        )
        obj["topic"] = ""
        self.assertEqual(
            self.render(obj),
            ["10:05 * you joined #general (no topic; members: alice, bob)"],
        )

    def test_ok_leave(self) -> None:
        self.assertEqual(
            self.render({"type": "ok", "cmd": "leave", "channel": "#general"}),
            ["10:05 * you left #general"],
        )

    def test_ok_msg_echoes_own_message(self) -> None:
        request = {"cmd": "msg", "to": "#general", "text": "hi all"}
        obj = {"type": "ok", "cmd": "msg", "id": 3, "to": "#general", "ts": NOON_TS}
        self.assertEqual(
            self.render(obj, request, nick="alice"), ["10:00 #general <alice> hi all"]
        )

    def test_ok_msg_echoes_own_action(self) -> None:
        request = {"cmd": "msg", "to": "#general", "text": "waves", "action": True}
        obj = {"type": "ok", "cmd": "msg", "id": 3, "to": "#General", "ts": NOON_TS}
        self.assertEqual(
            self.render(obj, request, nick="alice"), ["10:00 #General * alice waves"]
        )
        self.assertEqual(
            self.render(obj, request, nick=None), ["10:00 #General * you waves"]
        )
        private = {"cmd": "msg", "to": "BOB", "text": "waves", "action": True}
        obj = {"type": "ok", "cmd": "msg", "id": 3, "to": "bob", "ts": NOON_TS}
        self.assertEqual(
            self.render(obj, private, nick="alice"), ["10:00 -> *bob* * alice waves"]
        )

    def test_ok_private_msg(self) -> None:
        request = {"cmd": "msg", "to": "BOB", "text": "psst"}
        obj = {"type": "ok", "cmd": "msg", "id": 3, "to": "bob", "ts": NOON_TS}
        self.assertEqual(self.render(obj, request), ["10:00 -> *bob* psst"])

    def test_ok_list(self) -> None:
        obj = {
            "type": "ok",
            "cmd": "list",
            "channels": [
                {"channel": "#general", "members": 3, "topic": "chat"},
                {"channel": "#quiet", "members": 1, "topic": ""},
            ],
        }
        self.assertEqual(
            self.render(obj),
            [
                "* 2 channels:",
                "*   #general (3 members): chat",
                "*   #quiet (1 member)",
            ],
        )
        obj["channels"] = []
        self.assertEqual(
            self.render(obj), ["* there are no channels (/join #name creates one)"]
        )

    def test_ok_who(self) -> None:
        obj = {
            "type": "ok",
            "cmd": "who",
            "channel": "#general",
            "members": ["alice", "bob"],
        }
        self.assertEqual(self.render(obj), ["* #general has 2 members: alice, bob"])

    def test_ok_topic(self) -> None:
        read = {"cmd": "topic", "channel": "#general"}
        written = {**read, "topic": "chat"}
        obj = {"type": "ok", "cmd": "topic", "channel": "#general", "topic": "chat"}
        self.assertEqual(self.render(obj, read), ["* the topic of #general is: chat"])
        self.assertEqual(
            self.render(obj, written),
            ["10:05 * you set the topic of #general to: chat"],
        )
        obj["topic"] = ""
        self.assertEqual(self.render(obj, read), ["* #general has no topic"])
        self.assertEqual(
            self.render(obj, {**read, "topic": ""}),
            ["10:05 * you cleared the topic of #general"],
        )

    def test_ok_help_ping_quit(self) -> None:
        obj = {"type": "ok", "cmd": "help", "commands": {"nick": "...", "join": "..."}}
        self.assertEqual(self.render(obj), ["* the server knows: join, nick"])
        self.assertEqual(self.render({"type": "ok", "cmd": "ping"}), ["* pong"])
        self.assertEqual(self.render({"type": "ok", "cmd": "quit"}), [])

    def test_garbage(self) -> None:
        garbage: list[Any] = [
            [1, 2],
            "text",
            None,
            {},
            {"type": 5},
            {"type": "weird"},
            {"type": "message", "from": "a", "to": "#b"},
            {"type": "join", "channel": ["#x"], "nick": "a"},
            {"type": "ok", "cmd": "join", "channel": "#x", "topic": "", "members": [1]},
            {
                "type": "ok",
                "cmd": "list",
                "channels": [{"channel": "#x", "members": "3", "topic": ""}],
            },
            {"type": "ok", "cmd": "list", "channels": "none"},
            {"type": "ok", "cmd": "help", "commands": []},
            {"type": "error", "code": "x"},
        ]
        for obj in garbage:
            [line] = self.render(obj)
            self.assertTrue(line.startswith("! bad line from server: "), line)

    def test_bad_line_is_short(self) -> None:
        line = bad_line(b"x" * 1000)
        self.assertLess(len(line), 300)
        self.assertTrue(line.endswith("..."))
        self.assertEqual(bad_line(b"\xff"), "! bad line from server: \\xff")

    def test_printable(self) -> None:
        self.assertEqual(printable("plain é text"), "plain é text")
        self.assertEqual(printable("a\x1b[2Jb"), "a\\x1b[2Jb")
        self.assertEqual(printable("a\tb"), "a    b")
        self.assertEqual(printable("a\x02b"), "a\\x02b")

    def test_formatting_kept(self) -> None:
        """
        Render keeps the codes: the front end decides how to show them.
        Text in the middle of a line ends its own formatting.
        """
        obj = {
            "type": "message",
            "from": "alice",
            "to": "#general",
            "text": "\x02hi\x0304",
            "ts": NOON_TS,
        }
        self.assertEqual(self.render(obj), ["10:00 #general <alice> \x02hi\x0304"])
        leave = {"type": "leave", "channel": "#a", "nick": "bob", "reason": "\x02x"}
        self.assertEqual(self.render(leave), ["10:05 * bob left #a (\x02x\x0f)"])
        join = {
            "type": "ok",
            "cmd": "join",
            "channel": "#a",
            "topic": "\x0304red",
            "members": ["me"],
        }
        self.assertEqual(
            self.render(join),
            ["10:05 * you joined #a (topic: \x0304red\x0f; members: me)"],
        )

    def test_bad_line_shows_codes_as_escapes(self) -> None:
        self.assertEqual(bad_line("\x02x"), "! bad line from server: \\x02x")


class FormattingTests(SynchronousTestCase):
    """IRC formatting codes, as shown on a terminal and as plain text."""

    def test_toggles(self) -> None:
        for code, sgr in [
            (BOLD, "1"),
            (ITALIC, "3"),
            (UNDERLINE, "4"),
            (REVERSE, "7"),
            (STRIKETHROUGH, "9"),
        ]:
            text = f"a {code}on{code} off"
            self.assertEqual(to_ansi(text), f"a \x1b[0;{sgr}mon\x1b[0m off", sgr)
            self.assertEqual(strip_formatting(text), "a on off")

    def test_monospace_changes_nothing_visible(self) -> None:
        text = f"a {MONOSPACE}code{MONOSPACE} b"
        self.assertEqual(to_ansi(text), "a code b")
        self.assertEqual(strip_formatting(text), "a code b")

    def test_reset(self) -> None:
        text = f"{BOLD}{ITALIC}{COLOUR}04all{RESET} none"
        self.assertEqual(to_ansi(text), "\x1b[0;1;3;91mall\x1b[0m none")
        self.assertEqual(strip_formatting(text), "all none")

    def test_nested(self) -> None:
        text = f"{BOLD}b {UNDERLINE}bu{BOLD} u{UNDERLINE} -"
        self.assertEqual(
            to_ansi(text),
            "\x1b[0;1mb \x1b[0;1;4mbu\x1b[0;4m u\x1b[0m -",
        )

    def test_foreground(self) -> None:
        self.assertEqual(to_ansi("\x0303green"), "\x1b[0;32mgreen\x1b[0m")
        self.assertEqual(to_ansi("\x033green"), "\x1b[0;32mgreen\x1b[0m")
        self.assertEqual(to_ansi("\x0312blue"), "\x1b[0;94mblue\x1b[0m")
        # At most two digits: the third is text.
        self.assertEqual(to_ansi("\x03123"), "\x1b[0;94m3\x1b[0m")
        self.assertEqual(strip_formatting("\x03123"), "3")

    def test_foreground_and_background(self) -> None:
        self.assertEqual(to_ansi("\x0301,15x"), "\x1b[0;30;47mx\x1b[0m")
        self.assertEqual(to_ansi("\x031,2x"), "\x1b[0;30;44mx\x1b[0m")
        # A new foreground keeps the background.
        self.assertEqual(
            to_ansi("\x0304,02a\x0303b"), "\x1b[0;91;44ma\x1b[0;32;44mb\x1b[0m"
        )
        self.assertEqual(strip_formatting("\x0304,02a\x0303b"), "ab")

    def test_comma_without_digit_is_text(self) -> None:
        self.assertEqual(to_ansi("\x034,hello"), "\x1b[0;91m,hello\x1b[0m")
        self.assertEqual(strip_formatting("\x034,hello"), ",hello")
        self.assertEqual(strip_formatting("\x034, hi"), ", hi")

    def test_colour_alone_resets_colours(self) -> None:
        self.assertEqual(
            to_ansi("\x0304,02red\x03 plain"), "\x1b[0;91;44mred\x1b[0m plain"
        )
        # ... but not the other attributes.
        self.assertEqual(to_ansi("\x02\x0304a\x03b"), "\x1b[0;1;91ma\x1b[0;1mb\x1b[0m")
        # A comma right after it is text.
        self.assertEqual(to_ansi("\x0304a\x03,5"), "\x1b[0;91ma\x1b[0m,5")

    def test_default_colour(self) -> None:
        self.assertEqual(
            to_ansi("\x0304,03a\x0399b\x0399,99c"),
            "\x1b[0;91;42ma\x1b[0;42mb\x1b[0mc",
        )

    def test_extended_colours(self) -> None:
        self.assertEqual(to_ansi("\x0352x"), "\x1b[0;38;5;196mx\x1b[0m")
        self.assertEqual(to_ansi("\x0301,98x"), "\x1b[0;30;48;5;231mx\x1b[0m")
        self.assertEqual(to_ansi("\x0316x"), "\x1b[0;38;5;52mx\x1b[0m")

    def test_every_colour(self) -> None:
        """Each of the 99 colours has its own well-formed SGR sequence."""
        sequences = set()
        for n in range(99):
            shown = to_ansi(f"\x03{n:02d},{n:02d}x")
            match = re.fullmatch(r"\x1b\[0;([0-9;]+)mx\x1b\[0m", shown)
            assert match is not None, (n, shown)
            sequences.add(match.group(1))
        self.assertEqual(len(sequences), 99)

    def test_codes_at_end_of_line(self) -> None:
        for text in ["hi\x02", "hi\x0304,05", "hi\x03", "hi\x0f\x1f\x1d"]:
            self.assertEqual(to_ansi(text), "hi", repr(text))
            self.assertEqual(strip_formatting(text), "hi", repr(text))
        self.assertEqual(to_ansi("\x02"), "")

    def test_hex_colour_removed(self) -> None:
        for text, plain in [
            ("\x04FF0000red\x04 plain", "red plain"),
            ("\x04ff0000,00FF00both", "both"),
            ("\x04cafe", "cafe"),  # not 6 hex digits: not a colour
            ("\x04123456,x", ",x"),
        ]:
            self.assertEqual(strip_formatting(text), plain, repr(text))
            self.assertEqual(to_ansi(text), plain, repr(text))
        # What it colours is shown in the default colours.
        self.assertEqual(to_ansi("\x0304a\x04FF0000b"), "\x1b[0;91ma\x1b[0mb")

    def test_other_controls_still_visible(self) -> None:
        text = "\x02a\x1b[2Jb\x07c\rd\x85e\u202ef\x9bg\x00h\x04"
        escaped = "a\\x1b[2Jb\\x07c\\rd\\x85e\\u202ef\\x9bg\\x00h"
        self.assertEqual(strip_formatting(text), escaped)
        self.assertEqual(to_ansi(text), f"\x1b[0;1m{escaped}\x1b[0m")

    def test_only_own_sequences_reach_the_terminal(self) -> None:
        """Whatever comes in, to_ansi's only controls are its own SGRs."""
        nasty = "".join(chr(c) for c in range(0x00, 0xA0)) + "\u202e\u2028\ufeff"

        def unsafe(c: str) -> bool:
            bidi = "\u202a" <= c <= "\u202e" or "\u2066" <= c <= "\u2069"
            return bidi or unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp")

        for text in [nasty, nasty[::-1], "\x03" + nasty, "\x1b" + "\x02" * 3]:
            shown = re.sub("\x1b\\[[0-9;]*m", "", to_ansi(text))
            for out in (shown, strip_formatting(text)):
                self.assertEqual([c for c in out if unsafe(c)], [], repr(out))

    def test_plain_text_unchanged(self) -> None:
        self.assertEqual(to_ansi("plain é text"), "plain é text")
        self.assertEqual(strip_formatting("plain é text"), "plain é text")
        self.assertEqual(to_ansi("a\tb"), "a    b")

    def test_display_for(self) -> None:
        """ANSI on a terminal, unless NO_COLOR or --no-format; else plain."""
        text = "\x02bold"
        cases = [
            (True, True, {}, "\x1b[0;1mbold\x1b[0m"),
            (True, True, {"NO_COLOR": "1"}, "bold"),
            (True, True, {"NO_COLOR": ""}, "\x1b[0;1mbold\x1b[0m"),
            (True, False, {}, "bold"),
            (False, True, {}, "bold"),
        ]
        for terminal, formatting, environ, shown in cases:
            display = display_for(terminal, formatting, environ)
            self.assertEqual(display(text), shown, (terminal, formatting, environ))


class Harness:
    """A L{ChatClient} on a MemoryReactorClock, with fake servers."""

    def __init__(self, interactive: bool = False) -> None:
        self.reactor = MemoryReactorClock()
        self.reactor.advance(NOW)
        self.shown: list[str] = []
        self.status: list[int] = []
        self.client = ChatClient(
            self.reactor,
            interactive=interactive,
            tz=UTC,
            output=self.shown.append,
            finished=self.status.append,
        )
        self.transport: StringTransport | None = None
        self.protocol: ChatConnection | None = None

    def factory(self) -> ClientFactory:
        factory = self.reactor.tcpClients[-1][2]
        assert isinstance(factory, ClientFactory)
        return factory

    def accept(self) -> StringTransport:
        """The last connection attempt succeeds."""
        protocol = self.factory().buildProtocol(None)
        assert isinstance(protocol, ChatConnection)
        self.protocol = protocol
        self.transport = StringTransport()
        protocol.makeConnection(self.transport)
        return self.transport

    def refuse(self) -> None:
        self.fail_with(neterror.ConnectionRefusedError())

    def fail_with(self, exception: Exception) -> None:
        """The last connection attempt fails."""
        connector: Any = None
        self.factory().clientConnectionFailed(connector, Failure(exception))

    def welcome(self, idle_timeout: int = 180) -> None:
        self.server(
            {
                "type": "welcome",
                "server": "chatd",
                "version": "0.1.0",
                "protocol": 1,
                "max_line": 16384,
                "idle_timeout": idle_timeout,
            }
        )

    def connected(self) -> Harness:
        self.client.connect("127.0.0.1", 8123)
        self.accept()
        self.welcome()
        self.take()
        return self

    def server(self, obj: Any) -> None:
        self.server_raw(json.dumps(obj).encode() + b"\n")

    def server_raw(self, data: bytes) -> None:
        assert self.protocol is not None
        self.protocol.dataReceived(data)

    def sent(self) -> list[dict[str, Any]]:
        """Requests the client wrote since the last call."""
        assert self.transport is not None
        data = self.transport.value()
        self.transport.clear()
        return [json.loads(line) for line in data.splitlines()]

    def take(self) -> list[str]:
        """Lines shown since the last call."""
        shown = self.shown[:]
        del self.shown[:]
        return shown

    def close(self, reason: type[Exception] = neterror.ConnectionDone) -> None:
        assert self.protocol is not None
        self.protocol.connectionLost(Failure(reason()))

    def reply_ok(self, request: dict[str, Any], **results: Any) -> None:
        self.server(
            {"type": "ok", "cmd": request["cmd"], "id": request["id"], **results}
        )

    def type(self, *lines: str) -> None:
        for line in lines:
            self.client.handle_input(line)

    def join(self, channel: str, members: list[str] | None = None) -> None:
        self.type(f"/join {channel}")
        [request] = self.sent()
        self.reply_ok(request, channel=channel, topic="", members=members or ["me"])
        self.take()

    def nick(self, nick: str) -> None:
        self.type(f"/nick {nick}")
        [request] = self.sent()
        self.reply_ok(request, nick=nick)
        self.take()


class ChatClientTests(SynchronousTestCase):
    """The session over a fake connection."""

    def test_connects_and_says_so(self) -> None:
        h = Harness()
        h.client.connect("127.0.0.1", 8123)
        host, port, _, _timeout, _ = h.reactor.tcpClients[0]
        self.assertEqual((host, port), ("127.0.0.1", 8123))
        self.assertEqual(h.take(), ["* connecting to 127.0.0.1 port 8123 ..."])
        self.assertEqual(h.client.prompt(), "(connecting)> ")
        h.accept()
        h.welcome()
        self.assertEqual(h.take(), ["* connected to chatd 0.1.0 (protocol 1)"])
        self.assertEqual(h.client.prompt(), "> ")

    def test_lines_wait_for_welcome(self) -> None:
        """
        Lines typed (or piped) before the welcome are sent after it, each
        one once the reply to the one before has come.
        """
        h = Harness()
        h.client.connect("127.0.0.1", 8123)
        h.type("/nick alice", "/join #general", "hello")
        h.accept()
        self.assertEqual(h.sent(), [])
        h.welcome()
        [nick] = h.sent()
        self.assertEqual(nick, {"cmd": "nick", "nick": "alice", "id": 1})
        h.reply_ok(nick, nick="alice")
        [join] = h.sent()
        self.assertEqual(
            join, {"cmd": "join", "channel": "#general", "history": 20, "id": 2}
        )
        h.reply_ok(join, channel="#general", topic="", members=["alice"])
        [msg] = h.sent()
        # The plain line went to the channel joined just before it.
        self.assertEqual(
            msg, {"cmd": "msg", "to": "#general", "text": "hello", "id": 3}
        )
        h.reply_ok(msg, to="#general", ts=NOON_TS)
        self.assertEqual(
            h.take()[2:],
            [
                "10:05 * you are now known as alice",
                "10:05 * you joined #general (no topic; members: alice)",
                "10:00 #general <alice> hello",
            ],
        )
        self.assertEqual(h.client.prompt(), "[alice] #general> ")

    def test_own_message_shown_only_on_ok(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.join("#general")
        h.type("hi all")
        [msg] = h.sent()
        self.assertEqual(h.take(), [])
        h.reply_ok(msg, to="#general", ts=NOON_TS)
        self.assertEqual(h.take(), ["10:00 #general <alice> hi all"])

    def test_rate_limited_is_sent_again_in_order(self) -> None:
        """
        A line the server's flood control refuses is sent again after
        retry_after, and the lines typed after it wait their turn.
        """
        h = Harness().connected()
        h.nick("alice")
        h.join("#general")
        h.type("one", "two")
        [one] = h.sent()
        h.server(
            {
                "type": "error",
                "cmd": "msg",
                "id": one["id"],
                "code": "rate_limited",
                "message": "too many commands too fast; try again in 1.5 s",
                "retry_after": 1.5,
            }
        )
        self.assertEqual(
            h.take(),
            [
                "* the server asks us to slow down: sending at its pace"
                " (the next line in 1.5 s)"
            ],
        )
        h.reactor.advance(1.5)
        self.assertEqual(h.sent(), [])
        h.reactor.advance(RETRY_MARGIN)  # just after the server's wait
        [again] = h.sent()
        self.assertEqual(again["text"], "one")
        self.assertNotEqual(again["id"], one["id"])
        h.reply_ok(again, to="#general", ts=NOON_TS)
        [two] = h.sent()
        self.assertEqual(two["text"], "two")
        h.reply_ok(two, to="#general", ts=NOON_TS)
        self.assertEqual(
            h.take(), ["10:00 #general <alice> one", "10:00 #general <alice> two"]
        )

    def test_rate_limited_with_a_long_wait_is_shown(self) -> None:
        h = Harness().connected()
        h.type("/list")
        [request] = h.sent()
        h.server(
            {
                "type": "error",
                "cmd": "list",
                "id": request["id"],
                "code": "rate_limited",
                "message": "too many commands too fast; try again in 600 s",
                "retry_after": 600,
            }
        )
        self.assertIn("too many commands too fast", " ".join(h.take()))
        h.reactor.advance(601)
        self.assertNotIn("list", [r["cmd"] for r in h.sent()])  # not sent again

    def test_retry_is_dropped_with_the_connection(self) -> None:
        h = Harness().connected()
        h.type("/list")
        [request] = h.sent()
        h.server(
            {
                "type": "error",
                "cmd": "list",
                "id": request["id"],
                "code": "rate_limited",
                "message": "wait",
                "retry_after": 1,
            }
        )
        h.close()
        h.reactor.advance(2)
        self.assertEqual(h.sent(), [])

    def test_me(self) -> None:
        """/me sends an action and shows it once the server says ok."""
        h = Harness().connected()
        h.client.display = to_ansi
        h.nick("alice")
        h.join("#general")
        h.type("/me \x02waves\x02 hello")
        [msg] = h.sent()
        self.assertEqual(
            msg,
            {
                "cmd": "msg",
                "to": "#general",
                "text": "\x02waves\x02 hello",
                "action": True,
                "id": msg["id"],
            },
        )
        self.assertEqual(h.take(), [])
        h.reply_ok(msg, to="#general", ts=NOON_TS)
        self.assertEqual(
            h.take(), ["10:00 #general * alice \x1b[0;1mwaves\x1b[0m hello"]
        )
        h.server(
            {
                "type": "message",
                "from": "bob",
                "to": "#general",
                "text": "waves back",
                "ts": NOON_TS,
                "action": True,
            }
        )
        h.server(
            {
                "type": "message",
                "from": "bob",
                "to": "alice",
                "text": "winks",
                "ts": NOON_TS,
                "action": True,
            }
        )
        self.assertEqual(
            h.take(), ["10:00 #general * bob waves back", "10:00 * bob winks"]
        )

    def test_rejected_action_not_echoed(self) -> None:
        h = Harness().connected()
        h.join("#general")
        h.type("/me waves")
        [msg] = h.sent()
        h.server(
            {
                "type": "error",
                "cmd": "msg",
                "id": msg["id"],
                "code": "not_in_channel",
                "message": "you are not in #general",
            }
        )
        self.assertEqual(h.take(), ["! not_in_channel: you are not in #general"])

    def test_rejected_message_not_echoed(self) -> None:
        h = Harness().connected()
        h.type("/msg nobody hi")
        [msg] = h.sent()
        h.server(
            {
                "type": "error",
                "cmd": "msg",
                "id": msg["id"],
                "code": "no_such_nick",
                "message": "No user nobody.",
            }
        )
        self.assertEqual(h.take(), ["! no_such_nick: No user nobody."])

    def test_failed_join_changes_nothing(self) -> None:
        h = Harness().connected()
        h.type("/join bad,name")
        [join] = h.sent()
        h.server(
            {
                "type": "error",
                "cmd": "join",
                "id": join["id"],
                "code": "bad_channel",
                "message": "Not a channel name.",
            }
        )
        self.assertEqual(h.take(), ["! bad_channel: Not a channel name."])
        self.assertIsNone(h.client.channel)

    def test_current_channel_falls_back(self) -> None:
        h = Harness().connected()
        h.join("#one")
        h.join("#two")
        self.assertEqual(h.client.channel, "#two")
        h.type("/leave")
        [leave] = h.sent()
        self.assertEqual(leave["channel"], "#two")
        h.reply_ok(leave, channel="#two")
        self.assertEqual(h.take(), ["10:05 * you left #two"])
        self.assertEqual(h.client.channel, "#one")
        h.type("/leave #ONE")
        [leave] = h.sent()
        h.reply_ok(leave, channel="#one")
        self.assertIsNone(h.client.channel)
        h.take()
        h.type("still here?")
        self.assertEqual(h.sent(), [])
        self.assertEqual(
            h.take(),
            ["! you are not in a channel: /join #channel first, or /msg NICK text"],
        )

    def test_rejoin_makes_channel_current(self) -> None:
        h = Harness().connected()
        h.join("#one")
        h.join("#two")
        h.join("#one")
        self.assertEqual(h.client.channels, ["#two", "#one"])

    def test_local_mistakes_send_nothing(self) -> None:
        h = Harness().connected()
        h.type("/frob", "/nick", "/msg bob", "hello", "/me waves", "/me")
        self.assertEqual(h.sent(), [])
        self.assertEqual(
            h.take(),
            [
                "! unknown command /frob (/help lists them)",
                "! usage: /nick NAME",
                "! usage: /msg TARGET TEXT",
                "! you are not in a channel: /join #channel first, or /msg NICK text",
                "! you are not in a channel: /join #channel first",
                "! usage: /me TEXT",
            ],
        )

    def test_help(self) -> None:
        h = Harness()
        h.type("/help")
        self.assertEqual(h.take(), HELP_LINES)
        self.assertIn("/me TEXT", "\n".join(HELP_LINES))
        h = Harness().connected()
        h.type("/help")
        [request] = h.sent()
        self.assertEqual(request["cmd"], "help")
        h.reply_ok(request, commands={"ping": "x"})
        self.assertEqual(h.take()[-1], "* the server knows: ping")

    def test_events_shown_with_current_time(self) -> None:
        h = Harness().connected()
        h.server({"type": "join", "channel": "#general", "nick": "bob"})
        h.server(
            {
                "type": "message",
                "from": "bob",
                "to": "#general",
                "text": "hey",
                "ts": NOON_TS,
            }
        )
        self.assertEqual(
            h.take(), ["10:05 * bob joined #general", "10:00 #general <bob> hey"]
        )

    def test_garbage_from_server(self) -> None:
        h = Harness().connected()
        h.server_raw(
            b'this is not json\n[1,2]\n\xff\xfe\n{"type":"nonsense"}\n\n  \r\n'
        )
        self.assertEqual(
            h.take(),
            [
                "! bad line from server: this is not json",
                "! bad line from server: [1,2]",
                "! bad line from server: \\xff\\xfe",
                '! bad line from server: {"type":"nonsense"}',
            ],
        )
        # And it carries on.
        h.server({"type": "quit", "nick": "bob", "reason": ""})
        self.assertEqual(h.take(), ["10:05 * bob quit"])

    def test_crlf_and_escape_codes_from_server(self) -> None:
        h = Harness().connected()
        h.server_raw(b'{"type":"join","channel":"#a","nick":"b\\u001b[2J"}\r\n')
        self.assertEqual(h.take(), ["10:05 * b\\x1b[2J joined #a"])

    def test_formatting_in_server_text(self) -> None:
        """
        Message text, notices, topics, reasons and errors: formatted on a
        terminal (each line ending with a reset), plain otherwise.
        """
        h = Harness().connected()
        h.join("#a")
        events: list[dict[str, Any]] = [
            {
                "type": "message",
                "from": "b",
                "to": "#a",
                "text": "\x02hi",
                "ts": NOON_TS,
            },
            {
                "type": "message",
                "from": "b",
                "to": "me",
                "text": "\x1dpsst",
                "ts": NOON_TS,
            },
            {
                "type": "message",
                "from": "b",
                "to": "#a",
                "text": "\x0303n",
                "notice": True,
                "ts": NOON_TS,
            },
            {"type": "topic", "channel": "#a", "topic": "\x1fnews", "by": "b"},
            {"type": "leave", "channel": "#a", "nick": "b", "reason": "\x02lunch"},
            {"type": "quit", "nick": "b", "reason": "\x16bye"},
            {"type": "error", "code": "x", "message": "\x02no"},
            {"type": "bye", "code": "shutdown", "reason": "\x0304,01down"},
        ]
        for obj in events:
            h.server(obj)
        self.assertEqual(
            h.take(),
            [
                "10:00 #a <b> hi",
                "10:00 *b* psst",
                "10:00 #a -b- n",
                "10:05 * b set the topic of #a to: news",
                "10:05 * b left #a (lunch)",
                "10:05 * b quit (bye)",
                "! x: no",
                "* server closed the connection: shutdown (down)",
            ],
        )
        h = Harness().connected()
        h.client.display = to_ansi
        h.join("#a")
        for obj in events:
            h.server(obj)
        self.assertEqual(
            h.take(),
            [
                "10:00 #a <b> \x1b[0;1mhi\x1b[0m",
                "10:00 *b* \x1b[0;3mpsst\x1b[0m",
                "10:00 #a -b- \x1b[0;32mn\x1b[0m",
                "10:05 * b set the topic of #a to: \x1b[0;4mnews\x1b[0m",
                "10:05 * b left #a (\x1b[0;1mlunch\x1b[0m)",
                "10:05 * b quit (\x1b[0;7mbye\x1b[0m)",
                "! x: \x1b[0;1mno\x1b[0m",
                "* server closed the connection: shutdown (\x1b[0;91;40mdown\x1b[0m)",
            ],
        )

    def test_formatting_in_own_message_and_lists(self) -> None:
        h = Harness().connected()
        h.client.display = to_ansi
        h.nick("alice")
        h.join("#a")
        h.type("\x02hi\x02 all")
        [msg] = h.sent()
        self.assertEqual(msg["text"], "\x02hi\x02 all")
        h.reply_ok(msg, to="#a", ts=NOON_TS)
        h.type("/list")
        [request] = h.sent()
        h.reply_ok(
            request, channels=[{"channel": "#a", "members": 1, "topic": "\x1fT"}]
        )
        self.assertEqual(
            h.take(),
            [
                "10:00 #a <alice> \x1b[0;1mhi\x1b[0m all",
                "* 1 channel:",
                "*   #a (1 member): \x1b[0;4mT\x1b[0m",
            ],
        )

    def test_malformed_reply_does_not_change_state(self) -> None:
        h = Harness().connected()
        h.type("/join #a")
        [join] = h.sent()
        h.reply_ok(join, channel=7)
        self.assertTrue(h.take()[0].startswith("! bad line from server"))
        self.assertEqual(h.client.channels, [])

    def test_reply_matched_by_id(self) -> None:
        """A reply with an id we did not send is shown but changes nothing."""
        h = Harness().connected()
        h.server(
            {
                "type": "ok",
                "cmd": "join",
                "id": 99,
                "channel": "#x",
                "topic": "",
                "members": [],
            }
        )
        self.assertEqual(h.client.channels, [])

    def test_not_connected(self) -> None:
        h = Harness(interactive=True)
        h.type("/nick alice")
        self.assertEqual(h.take(), ["! not connected (use /connect HOST PORT)"])
        self.assertEqual(h.client.prompt(), "(not connected)> ")

    def test_connection_refused_interactive(self) -> None:
        h = Harness(interactive=True)
        h.client.connect("127.0.0.1", 8123)
        h.type("/nick alice")
        h.refuse()
        self.assertEqual(
            h.take()[1:],
            [
                "! not connected: connection refused (127.0.0.1 port 8123)",
                "! /connect HOST PORT tries again",
                "! not connected (use /connect HOST PORT)",
            ],
        )
        h.client.input_ended()
        self.assertEqual(h.status, [0])

    def test_connection_refused_piped(self) -> None:
        """Piped, a failed connection makes the exit status 1."""
        h = Harness()
        h.client.connect("127.0.0.1", 8123)
        h.type("/nick alice")
        h.client.input_ended()
        self.assertEqual(h.status, [])
        h.refuse()
        self.assertEqual(h.status, [1])
        self.assertIn(
            "! not connected: connection refused (127.0.0.1 port 8123)", h.shown
        )

    def test_other_failures_described(self) -> None:
        h = Harness()
        h.client.connect("nowhere.invalid", 1)
        h.fail_with(neterror.DNSLookupError("nowhere.invalid"))
        self.assertIn(
            "! not connected: host not found (nowhere.invalid port 1)", h.take()
        )
        h.client.connect("10.0.0.1", 1)
        h.fail_with(neterror.TimeoutError())
        self.assertIn("! not connected: timed out (10.0.0.1 port 1)", h.take())

    def test_connect_command(self) -> None:
        h = Harness(interactive=True)
        h.type("/connect example.org 9000")
        self.assertEqual(h.reactor.tcpClients[-1][:2], ("example.org", 9000))
        h.refuse()
        h.type("/connect")
        self.assertEqual(h.reactor.tcpClients[-1][:2], ("example.org", 9000))

    def test_reconnect_drops_old_connection(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.join("#general")
        old_protocol, old = h.protocol, h.transport
        assert old is not None and old_protocol is not None
        h.type("/connect other.example 8123")
        self.assertTrue(old.disconnecting)
        self.assertIsNone(h.client.nick)
        h.accept()
        old_protocol.dataReceived(b'{"type":"join","channel":"#x","nick":"ghost"}\n')
        old_protocol.connectionLost(Failure(neterror.ConnectionDone()))
        h.take()
        h.welcome()
        self.assertEqual(h.take(), ["* connected to chatd 0.1.0 (protocol 1)"])
        [nick] = h.sent()  # who we were, taken along
        self.assertEqual(nick["nick"], "alice")

    def test_bye_and_disconnect(self) -> None:
        h = Harness(interactive=True).connected()
        h.join("#general")
        h.server(
            {"type": "bye", "code": "idle_timeout", "reason": "Idle for 180 seconds."}
        )
        h.close()
        self.assertEqual(
            h.take(),
            [
                "* server closed the connection: idle_timeout (Idle for 180 seconds.)",
                "! disconnected from server (127.0.0.1 port 8123); reconnecting in 1 s (/quit stops)",
            ],
        )
        self.assertEqual(h.status, [])
        self.assertEqual(h.client.prompt(), "(reconnecting)> ")
        h.reactor.advance(0.4)
        h.type("hello")  # still for #general, which is still current
        self.assertEqual(
            h.take(),
            ["! not connected: reconnecting in 1 s (/connect tries now, /quit stops)"],
        )

    def test_piped_does_not_reconnect(self) -> None:
        """
        A script that lost its server stops: its later lines are not sent,
        and it exits with status 1 rather than wait for a server.
        """
        h = Harness().connected()
        h.join("#general")
        h.server({"type": "bye", "code": "shutdown", "reason": "bye"})
        h.close()
        h.type("hello")
        self.assertEqual(
            h.take()[1:],
            [
                "! disconnected from server (127.0.0.1 port 8123); /connect 127.0.0.1 8123 reconnects",
                "! not connected (use /connect HOST PORT)",
            ],
        )
        self.assertEqual(h.reactor.getDelayedCalls(), [])
        h.client.input_ended()
        self.assertEqual(h.status, [1])

    def test_dropped_while_waiting_for_reply(self) -> None:
        h = Harness(interactive=True).connected()
        h.type("/list", "/who #a")
        self.assertEqual(len(h.sent()), 1)
        h.close(neterror.ConnectionLost)
        self.assertEqual(
            h.take(),
            [
                "! disconnected from server (127.0.0.1 port 8123); reconnecting in 1 s (/quit stops)",
                "! not connected: reconnecting in 1 s (/connect tries now, /quit stops)",
            ],
        )

    def test_quit_command(self) -> None:
        h = Harness(interactive=True).connected()
        h.type("/quit see you", "ignored")
        [quit] = h.sent()
        self.assertEqual(quit, {"cmd": "quit", "reason": "see you", "id": 1})
        h.reply_ok(quit)
        h.server({"type": "bye", "code": "quit", "reason": "see you"})
        self.assertEqual(h.status, [])
        h.close()
        self.assertEqual(h.take(), ["* you have quit (see you)"])
        self.assertEqual(h.status, [0])
        self.assertEqual(h.sent(), [])

    def test_quit_when_not_connected(self) -> None:
        h = Harness(interactive=True)
        h.type("/quit")
        self.assertEqual(h.status, [0])

    def test_end_of_input_quits_and_waits_for_bye(self) -> None:
        h = Harness().connected()
        h.type("/list")
        h.client.input_ended()
        [request] = h.sent()
        self.assertEqual(request["cmd"], "list")
        h.reply_ok(request, channels=[])
        [quit] = h.sent()
        self.assertEqual(quit, {"cmd": "quit", "id": 2})
        h.reactor.advance(QUIT_TIMEOUT - 1)
        self.assertEqual(h.status, [])
        h.reply_ok(quit)
        h.server({"type": "bye", "code": "quit", "reason": ""})
        h.close()
        self.assertEqual(
            h.take(),
            ["* there are no channels (/join #name creates one)", "* you have quit"],
        )
        self.assertEqual(h.status, [0])
        self.assertEqual(h.reactor.getDelayedCalls(), [])

    def test_end_of_input_gives_up_after_timeout(self) -> None:
        h = Harness().connected()
        h.client.input_ended()
        self.assertEqual(h.sent()[0]["cmd"], "quit")
        h.reactor.advance(QUIT_TIMEOUT)
        self.assertEqual(
            h.take(), ["! the server did not close the connection; closing it"]
        )
        self.assertEqual(h.status, [0])
        assert h.transport is not None
        self.assertTrue(h.transport.disconnecting)

    def test_end_of_input_after_quit_sends_no_second_quit(self) -> None:
        h = Harness().connected()
        h.type("/quit")
        h.client.input_ended()
        self.assertEqual([r["cmd"] for r in h.sent()], ["quit"])
        h.close()
        self.assertEqual(h.status, [0])

    def test_end_of_input_before_welcome(self) -> None:
        h = Harness()
        h.client.connect("127.0.0.1", 8123)
        h.type("/nick a")
        h.client.input_ended()
        h.accept()
        h.welcome()
        [nick] = h.sent()
        h.reply_ok(nick, nick="a")
        self.assertEqual(h.sent()[0]["cmd"], "quit")

    def test_server_full(self) -> None:
        """A refused connection gets only a bye: said, and the script fails."""
        h = Harness()
        h.client.connect("127.0.0.1", 8123)
        h.type("/nick alice")
        h.accept()
        h.server({"type": "bye", "code": "server_full", "reason": "Too many clients."})
        h.close()
        h.client.input_ended()
        self.assertEqual(
            h.take()[1:],
            [
                "* server closed the connection: server_full (Too many clients.)",
                "! disconnected from server (127.0.0.1 port 8123); /connect 127.0.0.1 8123 reconnects",
                "! not connected (use /connect HOST PORT)",
            ],
        )
        self.assertEqual(h.status, [1])

    def test_interrupt(self) -> None:
        h = Harness(interactive=True).connected()
        h.type("/list", "/who #a")
        h.client.interrupt()  # Ctrl-C: quit now, forget what is queued
        self.assertEqual(h.status, [])
        h.client.interrupt()  # and again: do not wait for the server
        self.assertEqual(h.status, [0])
        self.assertEqual([r["cmd"] for r in h.sent()], ["list", "quit"])

    def test_keepalive(self) -> None:
        """An idle session pings, silently, so it is not reaped."""
        h = Harness(interactive=True).connected()
        h.reactor.advance(60)
        [ping] = h.sent()
        self.assertEqual(ping["cmd"], "ping")
        h.reply_ok(ping)
        self.assertEqual(h.take(), [])
        h.reactor.advance(30)
        h.type("/list")
        h.sent()
        h.reactor.advance(30)
        self.assertEqual(h.sent(), [])  # something was sent 30 s ago
        h.close()
        h.client.interrupt()  # and no reconnecting either
        self.assertEqual(h.reactor.getDelayedCalls(), [])

    def test_no_keepalive_without_reaping(self) -> None:
        h = Harness()
        h.client.connect("127.0.0.1", 8123)
        h.accept()
        h.welcome(idle_timeout=0)
        h.reactor.advance(10_000)
        self.assertEqual(h.sent(), [])

    def test_too_long_for_server(self) -> None:
        """A line the server would hang up on is refused locally."""
        h = Harness().connected()  # max_line 16384
        h.join("#a")
        h.type("/join #" + "x" * 16300)
        [join] = h.sent()
        h.server(
            {"type": "error", "id": join["id"], "code": "bad_channel", "message": "no"}
        )
        h.take()
        h.type("/join #" + "x" * 16400)
        self.assertEqual(h.sent(), [])
        [line] = h.take()
        self.assertTrue(
            line.startswith("! too long: the server takes at most 16384 bytes a line"),
            line,
        )
        h.type("/list")
        [request] = h.sent()
        self.assertEqual(request["cmd"], "list")

    def test_non_utf8_input_and_surrogates(self) -> None:
        h = Harness().connected()
        h.join("#a")
        h.type("caf\udce9")
        assert h.transport is not None
        self.assertIn(b"caf\\udce9", h.transport.value())


class PipedUITests(SynchronousTestCase):
    def setUp(self) -> None:
        self.closed: list[bool] = []
        self.ui = PipedUI(lambda: self.closed.append(True))
        self.harness = Harness()
        self.ui.client = self.harness.client
        self.harness.client.output = self.ui.show
        self.transport = StringTransport()
        self.ui.makeConnection(self.transport)

    def test_formatting_stripped(self) -> None:
        """Piped, formatting codes (colour numbers too) are left out."""
        self.harness.client.display = display_for(False, True, {})
        self.ui.dataReceived(b"/connect\n")
        self.harness.accept()
        self.harness.welcome()
        self.transport.clear()
        self.harness.server(
            {
                "type": "message",
                "from": "alice",
                "to": "#general",
                "text": "\x02bold\x02 \x0304,12red\x03 \x1d\x1fit\x0f \x1b[2J",
                "ts": NOON_TS,
            }
        )
        self.assertEqual(
            self.transport.value(),
            b"10:00 #general <alice> bold red it \\x1b[2J\n",
        )

    def test_lines_in_plain_lines_out(self) -> None:
        self.ui.dataReceived(b"/frob\r\n/nick\n")
        self.assertEqual(
            self.transport.value(),
            b"! unknown command /frob (/help lists them)\n! usage: /nick NAME\n",
        )

    def test_end_of_input(self) -> None:
        self.ui.dataReceived(b"/help\n/quit")
        self.assertEqual(self.harness.status, [])
        self.ui.readConnectionLost()
        self.assertEqual(self.harness.status, [0])
        self.ui.close()
        self.assertTrue(self.transport.disconnecting)
        self.ui.connectionLost(Failure(neterror.ConnectionDone()))
        self.assertEqual(self.closed, [True])


class TerminalUITests(SynchronousTestCase):
    """The terminal front end, rendered on an emulated 80x24 screen."""

    def setUp(self) -> None:
        self.harness = Harness(interactive=True)
        self.client = self.harness.client
        self.closed: list[bool] = []
        self.transport = StringTransport()
        self.terminal = insults.ServerProtocol(
            TerminalUI, self.client, lambda: self.closed.append(True)
        )
        self.terminal.makeConnection(self.transport)
        ui = self.terminal.terminalProtocol
        assert isinstance(ui, TerminalUI)
        self.ui = ui
        self.client.output = ui.show
        self.client.changed = ui.refresh
        self.screen = helper.TerminalBuffer()
        self.screen_protocol = insults.ClientProtocol(lambda: self.screen)
        self.screen_protocol.makeConnection(StringTransport())

    def keys(self, data: bytes) -> None:
        self.terminal.dataReceived(data)

    def lines(self) -> list[str]:
        """The screen's non-blank lines, after what was written so far."""
        self.screen_protocol.dataReceived(self.transport.value())
        self.transport.clear()
        return [
            line.rstrip()
            for line in bytes(self.screen).decode().splitlines()
            if line.strip()
        ]

    def cursor(self) -> tuple[int, int]:
        return self.screen.reportCursorPosition()  # type: ignore[no-any-return]

    def row(self, start: str) -> int:
        """The screen row of the line starting with C{start}."""
        self.lines()
        rows = bytes(self.screen).decode().splitlines()
        [row] = [i for i, line in enumerate(rows) if line.startswith(start)]
        return row

    def cells(self, row: int, start: int, end: int) -> list[Any]:
        """The characters and their attributes on C{row}, C{start} to C{end}."""
        return [self.screen.getCharacter(x, row) for x in range(start, end)]

    def connect(self) -> None:
        """Connected, with formatting shown as on a terminal."""
        self.client.display = display_for(True, True, {})
        self.client.connect("127.0.0.1", 8123)
        self.harness.accept()
        self.harness.welcome()

    def test_prompt(self) -> None:
        self.assertEqual(self.lines(), ["(not connected)>"])

    def test_typing_survives_incoming_lines(self) -> None:
        self.keys(b"hello wor")
        self.keys(b"\x1b[D\x1b[D")  # cursor two to the left
        self.client.output("10:00 #general <bob> hi")
        self.client.output("10:01 #general <carol> yo")
        self.assertEqual(
            self.lines(),
            [
                "10:00 #general <bob> hi",
                "10:01 #general <carol> yo",
                "(not connected)> hello wor",
            ],
        )
        self.assertEqual(self.cursor(), (len("(not connected)> hello w"), 2))
        self.keys(b"X")
        self.assertEqual(self.lines()[-1], "(not connected)> hello wXor")
        self.assertEqual(self.ui.currentLineBuffer(), (b"hello wX", b"or"))

    def test_wrapped_input(self) -> None:
        """Input longer than the terminal is wide survives output and edits."""
        prompt = "(not connected)> "
        typed = "".join(chr(ord("a") + i % 26) for i in range(100))
        self.keys(typed.encode())
        self.client.output("10:00 #general <bob> hi")
        first, second = (prompt + typed)[:80], (prompt + typed)[80:]
        self.assertEqual(self.lines(), ["10:00 #general <bob> hi", first, second])
        self.keys(b"\x1b[D" * 40)  # Left, back onto the first row
        self.keys(b"XY")
        self.client.output("10:01 #general <bob> again")
        edited = prompt + typed[:60] + "XY" + typed[60:]
        self.assertEqual(
            self.lines(),
            [
                "10:00 #general <bob> hi",
                "10:01 #general <bob> again",
                edited[:80],
                edited[80:],
            ],
        )
        self.assertEqual(self.cursor(), (len(prompt) + 62, 2))
        self.keys(b"\x05\x15")  # Ctrl-E, Ctrl-U: wipe it all
        self.assertEqual(self.lines()[-1], prompt.rstrip())
        self.assertEqual(len(self.lines()), 3)

    def test_return_sends_the_line(self) -> None:
        h = self.harness
        self.client.connect("127.0.0.1", 8123)
        h.accept()
        h.welcome()
        self.keys(b"/nick alice\r")
        [nick] = h.sent()
        self.assertEqual(nick["nick"], "alice")
        h.reply_ok(nick, nick="alice")
        self.keys(b"/join #general\r")
        [join] = h.sent()
        h.reply_ok(join, channel="#general", topic="", members=["alice"])
        self.keys(b"hi\r")
        [msg] = h.sent()
        h.reply_ok(msg, to="#general", ts=NOON_TS)
        self.assertEqual(
            self.lines(),
            [
                "* connecting to 127.0.0.1 port 8123 ...",
                "* connected to chatd 0.1.0 (protocol 1)",
                "* choose a nick with /nick NAME; the server hangs up after a"
                " minute without one",
                "10:05 * you are now known as alice",
                "10:05 * you joined #general (no topic; members: alice)",
                "10:00 #general <alice> hi",
                "[alice] #general>",
            ],
        )

    def test_history(self) -> None:
        self.keys(b"/help\r/frob\r")
        self.keys(b"\x1b[A")  # Up
        self.assertEqual(self.lines()[-1], "(not connected)> /frob")
        self.keys(b"\x1b[A")
        self.assertEqual(self.lines()[-1], "(not connected)> /help")
        self.keys(b"\x1b[B\x1b[B")  # Down, Down: back to an empty line
        self.assertEqual(self.lines()[-1], "(not connected)>")
        self.keys(b"\x1b[A\r")
        self.assertEqual(
            self.lines()[-2:],
            ["! unknown command /frob (/help lists them)", "(not connected)>"],
        )

    def test_editing_keys(self) -> None:
        self.keys(b"abc\x7f")  # backspace
        self.assertEqual(self.ui.currentLineBuffer(), (b"ab", b""))
        self.keys(b"\x01X\x05Y")  # Ctrl-A, Ctrl-E
        self.assertEqual(self.ui.currentLineBuffer(), (b"XabY", b""))
        self.keys(b"\x15")  # Ctrl-U
        self.assertEqual(self.ui.currentLineBuffer(), (b"", b""))
        self.assertEqual(self.lines()[-1], "(not connected)>")

    def test_utf8_typing(self) -> None:
        self.keys("café".encode())
        self.assertEqual(len(self.ui.lineBuffer), 4)
        self.keys(b"\x7f")
        self.assertEqual(self.ui.currentLineBuffer(), (b"caf", b""))
        self.keys("é!\r".encode())
        self.keys(b"\x1b[A")
        self.assertEqual(b"".join(self.ui.lineBuffer).decode(), "café!")
        self.assertEqual(len(self.ui.lineBuffer), 5)

    def test_ctrl_d_on_empty_line_ends_input(self) -> None:
        self.keys(b"x\x01\x04")  # Ctrl-D deletes while there is text
        self.assertEqual(self.ui.currentLineBuffer(), (b"", b""))
        self.assertEqual(self.harness.status, [])
        self.keys(b"\x04")
        self.assertEqual(self.harness.status, [0])

    def test_ctrl_c_quits(self) -> None:
        self.keys(b"\x03")
        self.assertEqual(self.harness.status, [0])

    def test_close_leaves_terminal_clean(self) -> None:
        self.keys(b"half typed")
        self.ui.close()
        self.assertEqual(self.lines(), [])
        self.assertTrue(self.transport.disconnecting)
        self.assertNotIn(b"\x1bc", self.transport.value())
        self.terminal.connectionLost(Failure(neterror.ConnectionDone()))
        self.assertEqual(self.closed, [True])

    def test_formatting_on_screen(self) -> None:
        """
        Bold and colours show as such; the line ends plain, so the input line
        below it is intact and plain, with the cursor where it was.
        """
        self.connect()
        self.keys(b"hello wor\x1b[D\x1b[D")  # cursor two to the left
        self.harness.server(
            {
                "type": "message",
                "from": "bob",
                "to": "#general",
                "text": "\x02bold\x02 plain \x0303,02green\x02 \x1b[2J",
                "ts": NOON_TS,
            }
        )
        line = "10:00 #general <bob> bold plain green \\x1b[2J"
        self.assertEqual(self.lines()[-2:], [line, "> hello wor"])
        row = self.row("10:00")
        at = len("10:00 #general <bob> ")
        bold = [attrs.bold for _, attrs in self.cells(row, at, at + 11)]
        self.assertEqual(bold, [True] * 4 + [False] * 7)
        green = self.cells(row, line.index("green"), line.index("green") + 5)
        self.assertEqual(
            {(a.foreground, a.background, a.bold) for _, a in green},
            {(GREEN, BLUE, False)},
        )
        # Bold again from the \x02 after "green", to the end of the line.
        self.assertTrue(self.cells(row, len(line) - 1, len(line))[0][1].bold)
        self.assertEqual(self.cursor(), (len("> hello w"), row + 1))
        self.keys(b"X")
        self.assertEqual(self.lines()[-1], "> hello wXor")
        for _, attrs in self.cells(row + 1, 0, len("> hello wXor")):
            self.assertEqual(
                (attrs.bold, attrs.foreground, attrs.reverseVideo),
                (False, WHITE, False),
            )

    def test_typed_formatting(self) -> None:
        """
        Ctrl-B, Ctrl-], Ctrl-_, Ctrl-V and Ctrl-O type codes, shown in the
        input line as one reverse letter each; they are sent as typed.
        """
        self.connect()
        h = self.harness
        h.join("#a")
        self.keys(b"\x02hi\x02 \x1dit\x1f\x16x\x0f")
        self.assertEqual(self.lines()[-1], "#a> BhiB IitUVxO")
        row = self.row("#a> ")
        reverse = [a.reverseVideo for _, a in self.cells(row, 4, 16)]
        self.assertEqual(
            reverse,
            # B h i B _ I i t U V x O
            [
                True,
                False,
                False,
                True,
                False,
                True,
                False,
                False,
                True,
                True,
                False,
                True,
            ],
        )
        self.assertEqual(self.cursor(), (16, row))
        self.keys(b"\x1b[D\x1b[D\x7f")  # Left, Left, Backspace: the V goes
        self.assertEqual(self.lines()[-1], "#a> BhiB IitUxO")
        self.assertEqual(self.cursor(), (13, row))
        self.keys(b"\r")
        [msg] = h.sent()
        self.assertEqual(msg["text"], "\x02hi\x02 \x1dit\x1fx\x0f")
        h.reply_ok(msg, to="#a", ts=NOON_TS)
        self.assertEqual(self.lines()[-2:], ["10:00 #a <you> hi itx", "#a>"])
        row = self.row("10:00")
        bold = [a.bold for _, a in self.cells(row, 15, 17)]
        self.assertEqual(bold, [True, True])
        self.keys(b"\x1b[A")  # Up: the line with its codes again
        self.assertEqual(self.lines()[-1], "#a> BhiB IitUxO")
        self.ui.terminalSize(80, 24)  # a resize redraws it the same way
        self.assertEqual(self.lines(), ["#a> BhiB IitUxO"])
        self.assertTrue(self.screen.getCharacter(4, 0)[1].reverseVideo)

    def test_prompt_shows_controls_as_escapes(self) -> None:
        self.connect()
        self.keys(b"/nick x\r")
        [nick] = self.harness.sent()
        self.harness.reply_ok(nick, nick="a\x1b[2J")
        self.assertEqual(self.lines()[-1], "[a\\x1b[2J]>")

    def test_prompt_follows_connection(self) -> None:
        self.keys(b"draft")
        self.client.connect("127.0.0.1", 8123)
        self.assertEqual(self.lines()[-1], "(connecting)> draft")
        self.harness.accept()
        self.harness.welcome()
        self.assertEqual(self.lines()[-1], "> draft")


class CommandLineTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        args = parse_args([])
        self.assertEqual((args.host, args.port), ("127.0.0.1", 8123))
        args = parse_args(["chat.example", "9000"])
        self.assertEqual((args.host, args.port), ("chat.example", 9000))

    def test_bad_port(self) -> None:
        self.assertRaises(SystemExit, parse_args, ["h", "99999"])
        self.assertRaises(SystemExit, main, ["h", "nope"])

    def test_no_format(self) -> None:
        self.assertFalse(parse_args([]).no_format)
        calls: list[tuple[Any, ...]] = []

        def run(
            host: str, port: int, *, formatting: bool, tls: object, nick: object
        ) -> int:
            self.assertIsNone(tls)  # no --tls: plain TCP (tests/test_tls.py)
            calls.append((host, port, formatting))
            return 0

        self.patch(cli, "run", run)
        self.assertRaises(SystemExit, main, ["--no-format", "h", "9000"])
        self.assertRaises(SystemExit, main, ["h"])
        self.assertEqual(calls, [("h", 9000, False), ("h", 8123, True)])


class LoopbackTests(TestCase):
    """The client against the real server over loopback TCP."""

    def test_talk(self) -> Deferred[None]:
        from twisted.internet import reactor as _reactor

        from chatd.core import Chat
        from chatd.jsonproto.lines import ChatFactory

        reactor: Any = _reactor
        port = reactor.listenTCP(0, ChatFactory(Chat(), reactor), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        shown: list[str] = []
        done: Deferred[int] = Deferred()
        client = ChatClient(
            reactor, output=shown.append, finished=done.callback, tz=UTC
        )
        client.connect("127.0.0.1", port.getHost().port)
        for line in [
            "/nick alice",
            "/join #general",
            "hello",
            "/me waves",
            "/topic chat",
            "/who",
            "/leave",
        ]:
            client.handle_input(line)
        client.input_ended()

        def check(status: int) -> None:
            self.assertEqual(status, 0)
            # Times are the real clock's: show them as HH:MM.
            lines = [re.sub(r"^\d\d:\d\d ", "HH:MM ", line) for line in shown]
            self.assertEqual(
                lines[1:],
                [
                    f"* connected to chatd {chatd.__version__} (protocol 1)",
                    "HH:MM * you are now known as alice",
                    "HH:MM * you joined #general (no topic; members: @alice)",
                    "HH:MM #general <alice> hello",
                    "HH:MM #general * alice waves",
                    "HH:MM * you set the topic of #general to: chat",
                    "* #general has 1 member: @alice",
                    "HH:MM * you left #general",
                    "* you have quit",
                ],
            )

        return done.addCallback(check)

    def test_action_between_two_clients(self) -> None:
        """
        alice's /me reaches bob, through the real server, as an action.
        """
        from twisted.internet import reactor as _reactor

        from chatd.core import Chat
        from chatd.jsonproto.lines import ChatFactory

        reactor: Any = _reactor
        port = reactor.listenTCP(0, ChatFactory(Chat(), reactor), interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        number = port.getHost().port

        def start(lines: list[str]) -> tuple[ChatClient, list[str], Deferred[int]]:
            shown: list[str] = []
            done: Deferred[int] = Deferred()
            client = ChatClient(
                reactor, output=shown.append, finished=done.callback, tz=UTC
            )
            client.connect("127.0.0.1", number)
            for line in lines:
                client.handle_input(line)
            return client, shown, done

        def when(shown: list[str], text: str) -> Deferred[None]:
            """Fires once a line ending with C{text} has been shown."""
            found: Deferred[None] = Deferred()

            def poll() -> None:
                if any(line.endswith(text) for line in shown):
                    found.callback(None)
                else:
                    reactor.callLater(0.01, poll)

            poll()
            return found.addTimeout(10, reactor)

        bob, bob_shown, bob_done = start(["/nick bob", "/join #general"])

        def alice_acts(_: object) -> Deferred[int]:
            alice, alice_shown, alice_done = start(
                ["/nick alice", "/join #general", "/me waves \x02hi\x02"]
            )
            alice.input_ended()
            return alice_done.addCallback(lambda status: (status, alice_shown))

        def check_alice(result: tuple[int, list[str]]) -> Deferred[None]:
            status, alice_shown = result
            self.assertEqual(status, 0)
            lines = [re.sub(r"^\d\d:\d\d ", "HH:MM ", line) for line in alice_shown]
            self.assertIn("HH:MM #general * alice waves hi", lines)
            return when(bob_shown, "* alice waves hi")

        def bob_quits(_: object) -> Deferred[int]:
            bob.input_ended()
            return bob_done

        def check_bob(status: int) -> None:
            self.assertEqual(status, 0)
            lines = [re.sub(r"^\d\d:\d\d ", "HH:MM ", line) for line in bob_shown]
            self.assertIn("HH:MM #general * alice waves hi", lines)
            self.assertNotIn("<alice>", "\n".join(lines))

        d = when(bob_shown, "members: @bob)")
        d.addCallback(alice_acts)
        d.addCallback(check_alice)
        d.addCallback(bob_quits)
        d.addCallback(check_bob)
        return d


def rate_limited(request: dict[str, Any], wait: float = 0.5) -> dict[str, Any]:
    return {
        "type": "error",
        "cmd": request["cmd"],
        "id": request["id"],
        "code": "rate_limited",
        "message": "slow down",
        "retry_after": wait,
    }


class ReconnectTests(SynchronousTestCase):
    """Who you were survives a new connection; a lost one comes back."""

    def lost_in(self, h: Harness, *channels: str) -> None:
        """alice in C{channels} (the last current), then the server stops."""
        h.nick("alice")
        for channel in channels:
            h.join(channel)
        h.server({"type": "bye", "code": "shutdown", "reason": "stopping"})
        h.close()

    def rejoin(self, h: Harness, nick: str = "alice") -> list[str]:
        """Answer the nick and the joins that follow; return the channels."""
        [request] = h.sent()
        self.assertEqual(request, {"cmd": "nick", "nick": nick, "id": request["id"]})
        h.reply_ok(request, nick=nick)
        joined = []
        for _ in range(10):
            sent = h.sent()
            if not sent or sent[0]["cmd"] != "join":
                h.sent_back = sent  # type: ignore[attr-defined]
                break
            [join] = sent
            joined.append(join["channel"])
            h.reply_ok(join, channel=join["channel"], topic="", members=[nick])
        return joined

    def test_server_restart_takes_nick_and_channels_again(self) -> None:
        h = Harness(interactive=True).connected()
        self.lost_in(h, "#a", "#b", "#c")
        self.assertEqual(
            h.take(),
            [
                "* server closed the connection: shutdown (stopping)",
                "! disconnected from server (127.0.0.1 port 8123); reconnecting"
                " in 1 s (/quit stops)",
            ],
        )
        h.type("hello again")  # typed while disconnected: said, not lost
        h.take()
        h.reactor.advance(1)
        self.assertEqual(h.take(), ["* connecting to 127.0.0.1 port 8123 ..."])
        h.accept()
        h.type("typed while connecting")
        h.welcome()
        self.assertEqual(self.rejoin(h), ["#a", "#b", "#c"])
        # #c was current, and still is: the line typed meanwhile goes there.
        [msg] = h.sent_back  # type: ignore[attr-defined]
        self.assertEqual((msg["to"], msg["text"]), ("#c", "typed while connecting"))
        self.assertEqual(h.client.prompt(), "[alice] #c> ")
        self.assertNotIn("choose a nick", " ".join(h.take()))

    def test_backoff_doubles_and_quit_stops_it(self) -> None:
        h = Harness(interactive=True).connected()
        self.lost_in(h, "#a")
        h.take()
        waits = []
        for _ in range(7):
            [call] = h.reactor.getDelayedCalls()
            waits.append(call.getTime() - h.reactor.seconds())
            h.reactor.advance(waits[-1])
            h.refuse()
        self.assertEqual(waits, [1, 2, 4, 8, 16, 30, 30])
        self.assertEqual(
            h.take()[-1],
            "! not connected: connection refused (127.0.0.1 port 8123);"
            " reconnecting in 30 s",
        )
        self.assertEqual(h.client.prompt(), "(reconnecting)> ")
        h.type("/quit")
        self.assertEqual(h.status, [0])
        self.assertEqual(h.reactor.getDelayedCalls(), [])

    def test_ctrl_d_and_quit_while_connecting(self) -> None:
        """Ending input or /quit during a reconnection attempt exits at once."""
        for end in (lambda h: h.client.input_ended(), lambda h: h.type("/quit")):
            h = Harness(interactive=True).connected()
            self.lost_in(h, "#a")
            h.reactor.advance(1)  # an attempt is under way
            end(h)
            self.assertEqual(h.status, [0])

    def test_connect_command_takes_nick_and_channels(self) -> None:
        h = Harness(interactive=True).connected()
        h.nick("alice")
        h.join("#a")
        h.join("#b")
        h.type("/connect")
        h.accept()
        h.welcome()
        self.assertEqual(self.rejoin(h), ["#a", "#b"])
        self.assertEqual(h.client.prompt(), "[alice] #b> ")

    def test_nick_taken_on_reconnecting(self) -> None:
        """nick_ is tried; if that is taken too, the user is asked."""
        h = Harness(interactive=True).connected()
        self.lost_in(h, "#a")
        h.reactor.advance(1)
        h.accept()
        h.welcome()
        h.take()
        for nick in ("alice", "alice_"):
            [request] = h.sent()
            self.assertEqual(request["nick"], nick)
            h.server(
                {
                    "type": "error",
                    "id": request["id"],
                    "code": "nick_in_use",
                    "message": f"the nick {nick} is already in use",
                }
            )
        self.assertEqual(
            h.take(),
            [
                "! the nick alice is taken; trying alice_ (/nick alice takes it"
                " back once it is free)",
                "! nick_in_use: the nick alice_ is already in use",
                "! choose a nick with /nick NAME; then #a are joined again",
            ],
        )
        h.type("/nick carol")
        self.assertEqual(self.rejoin(h, "carol"), ["#a"])
        self.assertEqual(h.client.want_nick, "carol")

    def test_alternate_nick_is_not_kept(self) -> None:
        h = Harness(interactive=True).connected()
        self.lost_in(h)
        h.reactor.advance(1)
        h.accept()
        h.welcome()
        [request] = h.sent()
        h.server(
            {
                "type": "error",
                "id": request["id"],
                "code": "nick_in_use",
                "message": "x",
            }
        )
        [request] = h.sent()
        h.reply_ok(request, nick="alice_")
        self.assertEqual((h.client.nick, h.client.want_nick), ("alice_", "alice"))

    def test_no_reconnect_after_register_timeout(self) -> None:
        h = Harness(interactive=True).connected()
        h.server({"type": "bye", "code": "register_timeout", "reason": "no nick"})
        h.close()
        self.assertEqual(
            h.take()[-1],
            "! disconnected from server (127.0.0.1 port 8123); /connect"
            " 127.0.0.1 8123 reconnects",
        )
        self.assertEqual(h.reactor.getDelayedCalls(), [])

    def test_flood_bye_reconnects(self) -> None:
        h = Harness(interactive=True).connected()
        h.server({"type": "bye", "code": "flood", "reason": "too fast"})
        h.close()
        self.assertIn("reconnecting in 1 s", h.take()[-1])

    def test_welcome_tells_how_to_choose_a_nick(self) -> None:
        h = Harness(interactive=True)
        h.client.connect("127.0.0.1", 8123)
        h.accept()
        h.welcome()
        self.assertIn(
            "* choose a nick with /nick NAME; the server hangs up after a minute"
            " without one",
            h.take(),
        )

    def test_nick_option(self) -> None:
        """Started with --nick, the client is named at once and not told to."""
        self.assertIsNone(parse_args([]).nick)
        self.assertEqual(parse_args(["--nick", "alice"]).nick, "alice")
        h = Harness(interactive=True)
        h.client.want_nick = "alice"
        h.client.connect("127.0.0.1", 8123)
        h.accept()
        h.welcome()
        [request] = h.sent()
        self.assertEqual(request["nick"], "alice")
        h.reply_ok(request, nick="alice")
        self.assertEqual(h.client.prompt(), "[alice]> ")
        self.assertNotIn("choose a nick", " ".join(h.take()))


class NotChatdTests(SynchronousTestCase):
    """Pointed at something that is not a chatd JSON server."""

    def test_irc_line(self) -> None:
        h = Harness(interactive=True)
        h.client.connect("127.0.0.1", 6667)
        transport = h.accept()
        h.server_raw(b"ERROR :Closing Link: 127.0.0.1 (Registration timed out)\r\n")
        self.assertEqual(
            h.take()[1:],
            [
                "! not connected: 127.0.0.1 port 6667 does not speak chatd's JSON"
                " protocol (it sent IRC: ERROR :Closing Link: 127.0.0.1"
                " (Registration timed out); is this the IRC port?)",
                "! /connect HOST PORT tries another",
            ],
        )
        self.assertTrue(transport.disconnecting)
        h.close()
        self.assertEqual(h.take(), [])
        self.assertEqual(h.reactor.getDelayedCalls(), [])  # no reconnecting

    def test_silence(self) -> None:
        """An IRC server says nothing until spoken to: two seconds is enough."""
        h = Harness()
        h.client.connect("127.0.0.1", 6667)
        transport = h.accept()
        h.type("/nick alice")
        h.client.input_ended()
        h.reactor.advance(1.9)
        self.assertEqual(h.take()[1:], [])
        h.reactor.advance(0.1)
        self.assertEqual(
            h.take(),
            [
                "! not connected: 127.0.0.1 port 6667 does not speak chatd's JSON"
                " protocol (it said nothing within 2 s, as IRC servers do until the"
                " client speaks; is this an IRC port?)"
            ],
        )
        self.assertTrue(transport.disconnecting)
        self.assertEqual(transport.value(), b"")
        h.close()
        self.assertEqual(h.status, [1])

    def test_other_protocol(self) -> None:
        h = Harness()
        h.client.connect("127.0.0.1", 80)
        h.accept()
        h.server_raw(b"HTTP/1.1 400 Bad Request\r\n")
        self.assertIn("(it sent: HTTP/1.1 400 Bad Request)", h.take()[-1])

    def test_bye_before_welcome_is_chatd(self) -> None:
        h = Harness()
        h.client.connect("127.0.0.1", 8123)
        h.accept()
        h.server({"type": "bye", "code": "server_full", "reason": "full"})
        self.assertEqual(
            h.take()[1:], ["* server closed the connection: server_full (full)"]
        )


class LongTextTests(SynchronousTestCase):
    def test_split_at_spaces(self) -> None:
        words = " ".join(f"w{i:04}" for i in range(1800))  # 10799 characters
        h = Harness().connected()
        h.nick("alice")
        h.join("#a")
        h.type(words, "after")
        sent = []
        for _ in range(10):
            requests = h.sent()
            if not requests:
                break
            [request] = requests
            sent.append(request["text"])
            h.reply_ok(request, to="#a", ts=NOON_TS)
        self.assertEqual(len(sent), 4)
        self.assertEqual(sent[-1], "after")
        self.assertEqual(" ".join(sent[:-1]), words)  # nothing lost, in order
        for piece in sent[:-1]:
            self.assertLessEqual(len(piece), TEXT_MAX)
            self.assertFalse(piece.startswith(" ") or piece.endswith(" "))
        self.assertEqual(
            h.take()[0],
            "* 10799 characters are more than one message holds (4000"
            " characters): sending them as 3 messages",
        )

    def test_split_without_spaces_and_bytes(self) -> None:
        """Text with no spaces is cut at the limit; wide characters by bytes."""
        h = Harness().connected()
        h.join("#a")
        h.type("x" * 4001, "é" * 9000)
        texts = []
        for _ in range(10):
            requests = h.sent()
            if not requests:
                break
            [request] = requests
            texts.append(request["text"])
            h.reply_ok(request, to="#a", ts=NOON_TS)
        self.assertEqual([len(t) for t in texts[:2]], [4000, 1])
        self.assertEqual("".join(texts[2:]), "é" * 9000)
        for text in texts:
            self.assertLessEqual(len(text), TEXT_MAX)

    def test_topic_and_reasons_over_the_limit(self) -> None:
        long = "x" * (TOPIC_MAX + 1)
        for line, what in [
            (f"/topic {long}", "topic"),
            (f"/leave #a {long}", "reason"),
            (f"/quit {long}", "reason"),
        ]:
            self.assertEqual(
                parse_input(line, "#a"),
                Problem(
                    f"not sent: a {what} is at most 390 characters, and this"
                    " one has 391"
                ),
            )
        self.assertEqual(
            parse_input(f"/topic {long[1:]}", "#a"),
            Send({"cmd": "topic", "channel": "#a", "topic": long[1:]}),
        )


class UnicodeTests(SynchronousTestCase):
    def test_legitimate_format_characters_shown(self) -> None:
        for text in [
            "👩\u200d👩\u200d👧",  # zero-width joiners
            "می\u200cخواهم",  # a zero-width non-joiner  # noqa: RUF001
            "🏳️\u200d🌈",  # a variation selector and a joiner
            "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f",  # tags
            "co\u00adop",  # a soft hyphen
            "\u05e9\u05dc\u05d5\u05dd\u200f!",  # a right-to-left mark
            "ab\U000e0101",  # an ideographic variation selector
        ]:
            self.assertEqual(printable(text), text)
            self.assertEqual(to_ansi(text), text)
            line = render(
                {
                    "type": "message",
                    "from": "b",
                    "to": "#a",
                    "text": text,
                    "ts": NOON_TS,
                },
                tz=UTC,
            )
            self.assertEqual(line, [f"10:00 #a <b> {text}"])

    def test_disguising_characters_escaped(self) -> None:
        cases = {
            "a\u202eb": "a\\u202eb",  # right-to-left override
            "\u202a\u202b\u202c\u202d": "\\u202a\\u202b\\u202c\\u202d",
            "\u2066x\u2067y\u2068z\u2069": "\\u2066x\\u2067y\\u2068z\\u2069",
            "\ufff9a\ufffab\ufffb": "\\ufff9a\\ufffab\\ufffb",
            "a\u2028b\u2029": "a\\u2028b\\u2029",
            "\x1b[2J\x7f\x9b": "\\x1b[2J\\x7f\\x9b",
            "caf\udce9": "caf\\udce9",
        }
        for text, shown in cases.items():
            self.assertEqual(printable(text), shown)


class FloodNoticeTests(SynchronousTestCase):
    """A pasted script against a real server's flood control."""

    def test_45_piped_lines_one_notice(self) -> None:
        from twisted.internet.address import IPv4Address
        from twisted.internet.testing import StringTransportWithDisconnection

        from chatd.core import Chat
        from chatd.jsonproto.lines import ChatFactory
        from chatd.net.limits import FloodLimit

        h = Harness()
        factory = ChatFactory(Chat(), h.reactor, flood=FloodLimit(10, 2.0, 20))
        address = IPv4Address("TCP", "127.0.0.1", 40000)
        server = factory.buildProtocol(address)
        to_client = StringTransportWithDisconnection(peerAddress=address)
        to_client.protocol = server
        h.client.connect("127.0.0.1", 8123)
        to_server = h.accept()
        server.makeConnection(to_client)
        lines = ["/nick alice", "/join #paste"] + [f"line {i}" for i in range(45)]
        h.type(*lines)
        h.client.input_ended()
        start = h.reactor.seconds()
        for _ in range(2000):
            if h.status:
                break
            moved = False
            if to_server.value():
                data = to_server.value()
                to_server.clear()
                server.dataReceived(data)
                moved = True
            if to_client.value():
                data = to_client.value()
                to_client.clear()
                assert h.protocol is not None
                h.protocol.dataReceived(data)
                moved = True
            if not to_client.connected and h.protocol is not None:
                h.close()
            if not moved:
                h.reactor.advance(0.05)
        self.assertEqual(h.status, [0])
        shown = h.take()
        notices = [s for s in shown if "slow down" in s]
        self.assertEqual(len(notices), 1, notices)
        said = [s.split("> ", 1)[1] for s in shown if "<alice>" in s]
        self.assertEqual(said, [f"line {i}" for i in range(45)])
        self.assertLess(h.reactor.seconds() - start, 60)


class IRCHabitsTests(SynchronousTestCase):
    """Commands people bring from IRC clients."""

    def test_part_and_names(self) -> None:
        self.assertEqual(
            parse_input("/part #a bye", "#b"),
            Send({"cmd": "leave", "channel": "#a", "reason": "bye"}),
        )
        self.assertEqual(
            parse_input("/part", "#b"), Send({"cmd": "leave", "channel": "#b"})
        )
        self.assertEqual(
            parse_input("/names", "#b"), Send({"cmd": "who", "channel": "#b"})
        )
        self.assertEqual(
            parse_input("/names a", None), Send({"cmd": "who", "channel": "#a"})
        )

    def test_away(self) -> None:
        self.assertEqual(
            parse_input("/away gone to lunch", "#a"),
            Send({"cmd": "away", "message": "gone to lunch"}),
        )
        self.assertEqual(parse_input("/away", "#a"), Send({"cmd": "away"}))
        self.assertEqual(parse_input("/away   ", None), Send({"cmd": "away"}))
        self.assertIsInstance(parse_input("/away " + "x" * 391, "#a"), Problem)

    def test_away_is_shown(self) -> None:
        def show(obj: dict[str, Any], request: Any = None) -> list[str]:
            return render(obj, request, now=NOW, tz=UTC, nick="me")

        self.assertEqual(
            show({"type": "away", "nick": "bob", "message": "lunch"}),
            ["10:05 * bob is away: lunch"],
        )
        self.assertEqual(
            show({"type": "away", "nick": "bob", "message": None}),
            ["10:05 * bob is back"],
        )
        self.assertEqual(
            show({"type": "ok", "cmd": "away", "message": "lunch"}),
            ["10:05 * you are marked away: lunch"],
        )
        self.assertEqual(
            show({"type": "ok", "cmd": "away", "message": None}),
            ["10:05 * you are back"],
        )
        sent = {"cmd": "msg", "to": "bob", "text": "hi"}
        self.assertEqual(
            show(
                {
                    "type": "ok",
                    "cmd": "msg",
                    "to": "bob",
                    "ts": NOON_TS,
                    "away": "lunch",
                },
                sent,
            ),
            ["10:00 -> *bob* hi", "* bob is away: lunch"],
        )
        who = {
            "type": "ok",
            "cmd": "who",
            "channel": "#a",
            "members": ["alice", "bob"],
            "away": {"bob": "lunch"},
        }
        self.assertEqual(
            show(who),
            ["* #a has 2 members: alice, bob (away)", "*   bob is away: lunch"],
        )

    def test_away_again_after_reconnecting(self) -> None:
        h = Harness(interactive=True).connected()
        h.nick("alice")
        h.join("#a")
        h.type("/away lunch")
        [away] = h.sent()
        h.reply_ok(away, message="lunch")
        h.server({"type": "bye", "code": "shutdown", "reason": "stopping"})
        h.close()
        h.reactor.advance(1)
        h.accept()
        h.welcome()
        [nick] = h.sent()
        h.reply_ok(nick, nick="alice")
        [join] = h.sent()
        h.reply_ok(join, channel="#a", topic="", members=["alice"])
        [again] = h.sent()
        self.assertEqual((again["cmd"], again["message"]), ("away", "lunch"))
        h.reply_ok(again, message="lunch")
        # back: a later reconnection does not mark us away
        h.type("/away")
        [back] = h.sent()
        h.reply_ok(back, message=None)
        self.assertIsNone(h.client.away)

    def test_ping_shows_round_trip(self) -> None:
        h = Harness().connected()
        h.type("/ping")
        [ping] = h.sent()
        self.assertEqual(ping["cmd"], "ping")
        h.reactor.advance(0.042)
        h.reply_ok(ping)
        self.assertEqual(h.take(), ["* pong from 127.0.0.1 in 42 ms"])

    def test_whois(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.type("/whois BOB")
        [listing] = h.sent()
        self.assertEqual(listing["cmd"], "list")
        channels = [
            {"channel": c, "members": 2, "topic": ""} for c in ("#a", "#b", "#c")
        ]
        h.reply_ok(listing, channels=channels)
        members = {"#a": ["bob", "x"], "#b": ["x"], "#c": ["Bob"]}
        for _ in range(3):
            [who] = h.sent()
            self.assertEqual(who["cmd"], "who")
            name = who["channel"]
            h.reply_ok(who, channel=name, members=members[name])
        self.assertEqual(h.take(), ["* Bob is in #a, #c"])
        h.type("/whois nobody")
        [listing] = h.sent()
        h.reply_ok(listing, channels=[])
        self.assertEqual(
            h.take(),
            [
                "* nobody is in none of the 0 channels (chatd tells no more: it"
                " may still be connected; /msg nobody TEXT tries)"
            ],
        )

    def test_query(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.join("#a")
        h.type("/query bob hi there")
        [msg] = h.sent()
        self.assertEqual((msg["to"], msg["text"]), ("bob", "hi there"))
        h.reply_ok(msg, to="bob", ts=NOON_TS)
        self.assertEqual(h.client.prompt(), "[alice] *bob*> ")
        h.type("and more")
        [msg] = h.sent()
        self.assertEqual((msg["to"], msg["text"]), ("bob", "and more"))
        h.reply_ok(msg, to="bob", ts=NOON_TS)
        h.type("/me waves")
        [msg] = h.sent()
        self.assertEqual((msg["to"], msg.get("action")), ("bob", True))
        h.reply_ok(msg, to="bob", ts=NOON_TS)
        h.type("/who")  # commands about a channel still mean #a
        [who] = h.sent()
        self.assertEqual(who["channel"], "#a")
        h.reply_ok(who, channel="#a", members=["alice"])
        h.type("/query #a")
        self.assertEqual(h.client.prompt(), "[alice] #a> ")
        h.type("/query bob", "/join #b")  # a join ends the query too
        h.sent()
        h.reply_ok(
            {"cmd": "join", "id": h.client._next_id},
            channel="#b",
            topic="",
            members=["alice"],
        )
        self.assertEqual(h.client.prompt(), "[alice] #b> ")
        h.type("/query #nope")
        self.assertEqual(h.take()[-1], "! you are not in #nope: /join #nope first")


class CtrlWTests(SynchronousTestCase):
    def test_ctrl_w_deletes_the_word_before_the_cursor(self) -> None:
        client = Harness(interactive=True).client
        terminal = insults.ServerProtocol(TerminalUI, client, lambda: None)
        terminal.makeConnection(StringTransport())
        ui = terminal.terminalProtocol
        assert isinstance(ui, TerminalUI)
        terminal.dataReceived(b"say hello  world  ")
        terminal.dataReceived(b"\x17")
        self.assertEqual(b"".join(ui.lineBuffer), b"say hello  ")
        terminal.dataReceived(b"\x1b[D\x1b[D\x1b[D")  # left, before the "o"
        terminal.dataReceived(b"\x17")
        self.assertEqual(b"".join(ui.lineBuffer), b"say o  ")
        self.assertEqual(ui.lineBufferIndex, 4)
        terminal.dataReceived(b"\x17\x17")
        self.assertEqual(b"".join(ui.lineBuffer), b"o  ")
        self.assertEqual(ui.lineBufferIndex, 0)

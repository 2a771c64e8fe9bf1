# -*- test-case-name: tests.test_client_accounts -*-
"""
Tests for the console client's accounts, server operators and registered
channels: the commands, the SCRAM-SHA-256 client, logging in before the
nick (on connecting and again after a reconnection), how the replies and
events read, and that passwords stay out of the output and the history.
"""

from __future__ import annotations

import base64
import os
from base64 import b64decode, b64encode
from typing import Any

from scramp import ScramException, ScramMechanism
from twisted.conch.insults import helper, insults
from twisted.internet import error as neterror
from twisted.internet.defer import Deferred
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatd.accounts.scram import (
    ScramExchange,
    make_credentials,
    parse_client_first,
)
from chatd.client import cli
from chatd.client.accounts import history_form, secret_spans
from chatd.client.actions import Login
from chatd.client.cli import ask_password, main, parse_args
from chatd.client.commands import HELP_LINES, Problem, Send, parse_input
from chatd.client.render import render
from chatd.client.scram import ScramError, ScramLogin, ServerNotVerified
from chatd.client.session import ChatClient
from chatd.client.terminal import TerminalUI
from tests.support import Server, give_accounts
from tests.test_client import NOW, UTC, Harness

PASSWORD = "correct horse"  # not one word: only --password-file takes it
WORD = "sesame-1234"  # a password /login can take


def b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")


class ScramTests(SynchronousTestCase):
    """The client's side of SCRAM-SHA-256, against two servers and RFC 7677."""

    def test_rfc7677_example(self) -> None:
        """RFC 7677 section 3's exchange, byte for byte."""
        login = ScramLogin("user", "pencil", nonce="rOprNGfwEbeRWgbNEkqO")
        self.assertEqual(login.first(), b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
        server_first = (
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            b"s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        )
        self.assertEqual(
            login.final(server_first),
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
            b"p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        )
        login.verify(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        self.assertRaises(
            ServerNotVerified,
            login.verify,
            b"v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        )

    def test_against_scramp(self) -> None:
        """scramp's server, written apart from chatd, accepts the proof."""
        mechanism = ScramMechanism("SCRAM-SHA-256")
        info = mechanism.make_auth_info(PASSWORD, iteration_count=4096)
        asked: list[str] = []

        def lookup(username: str) -> Any:
            asked.append(username)
            return info

        server = mechanism.make_server(lookup)
        login = ScramLogin("alice", PASSWORD)
        server.set_client_first(login.first().decode())
        final = login.final(server.get_server_first().encode())
        server.set_client_final(final.decode())
        login.verify(server.get_server_final().encode())
        self.assertEqual(asked, ["alice"])
        # and refuses a wrong password's
        server = mechanism.make_server(lookup)
        login = ScramLogin("alice", "not the password")
        server.set_client_first(login.first().decode())
        final = login.final(server.get_server_first().encode())
        self.assertRaises(ScramException, server.set_client_final, final.decode())

    def test_against_chatd(self) -> None:
        """So does chatd's own, with a non-ASCII password (SASLprep'd)."""
        password = "pass\u00a0w\u00f6rd"  # a no-break space: SASLprep maps it
        exchange = ScramExchange(
            parse_client_first(ScramLogin("alice", "x", nonce="abc").first()),
            make_credentials("pass w\u00f6rd"),
            "server-nonce",
        )
        login = ScramLogin("alice", password, nonce="abc")
        final = exchange.verify(login.final(exchange.server_first))
        login.verify(final)

    def test_wrong_password_is_refused_by_the_server(self) -> None:
        credentials = make_credentials(PASSWORD)
        login = ScramLogin("alice", "not it at all")
        exchange = ScramExchange(
            parse_client_first(login.first()), credentials, "server-nonce"
        )
        from chatd.accounts.scram import InvalidProof

        self.assertRaises(
            InvalidProof, exchange.verify, login.final(exchange.server_first)
        )

    def test_names_are_escaped(self) -> None:
        login = ScramLogin("a=b,c", "pw", nonce="n")
        self.assertEqual(login.first(), b"n,,n=a=3Db=2Cc,r=n")

    def test_random_nonces(self) -> None:
        self.assertNotEqual(ScramLogin("a", "p").nonce, ScramLogin("a", "p").nonce)

    def test_malformed_server_first(self) -> None:
        salt = b64(b"salt")
        for message, why in [
            (b"r=abcXYZ,s=" + salt.encode() + b",i=4096", None),
            (b"r=other,s=" + salt.encode() + b",i=4096", "does not extend ours"),
            (b"r=abc,s=" + salt.encode() + b",i=4096", "does not extend ours"),
            (b"r=abcX,s=!!,i=4096", "not base64"),
            (b"r=abcX,s=,i=4096", "salt is empty"),
            (b"r=abcX,s=" + salt.encode() + b",i=4095", "4095 iterations"),
            (b"r=abcX,s=" + salt.encode() + b",i=9999999", "9999999 iterations"),
            (b"r=abcX,s=" + salt.encode() + b",i=many", "not a number"),
            (b"m=ext,r=abcX,s=" + salt.encode() + b",i=4096", "extension"),
            (b"s=" + salt.encode() + b",r=abcX,i=4096", "not r=...,s=...,i=..."),
            (b"r=abcX,garbage", "not <letter>=<value>"),
            (b"\xff", "not UTF-8"),
        ]:
            login = ScramLogin("alice", "pw", nonce="abc")
            if why is None:
                self.assertTrue(login.final(message).startswith(b"c=biws,r=abcXYZ,p="))
                continue
            with self.assertRaises(ScramError) as caught:
                login.final(message)
            self.assertIn(why, str(caught.exception), message)

    def test_verify_before_final(self) -> None:
        self.assertRaises(ServerNotVerified, ScramLogin("a", "p").verify, b"v=AAAA")


class ParseTests(SynchronousTestCase):
    """What each command sends, and that a complaint never repeats a password."""

    def parse(self, line: str, current: str | None = "#c") -> Any:
        return parse_input(line, current)

    def test_register(self) -> None:
        self.assertEqual(
            self.parse(f"/register {WORD}"),
            Send({"cmd": "register", "password": WORD}),
        )
        self.assertEqual(
            self.parse(f"/register {WORD} alice@example.org"),
            Send({"cmd": "register", "password": WORD, "email": "alice@example.org"}),
        )

    def test_login(self) -> None:
        self.assertEqual(self.parse(f"/login {WORD}"), Login(None, WORD))
        self.assertEqual(self.parse(f"/LOGIN alice  {WORD}"), Login("alice", WORD))

    def test_account_commands(self) -> None:
        for line, request in [
            ("/logout", {"cmd": "logout"}),
            (f"/passwd {WORD} new-one-99", {"cmd": "passwd", "current": WORD}),
            (f"/dropaccount {WORD}", {"cmd": "drop_account", "password": WORD}),
            (f"/oper admin {WORD}", {"cmd": "oper", "name": "admin"}),
            ("/kill eve", {"cmd": "kill", "nick": "eve"}),
            ("/kill eve go  away", {"cmd": "kill", "nick": "eve"}),
            ("/wallops  look at #spam ", {"cmd": "wallops"}),
            ("/rehash", {"cmd": "rehash"}),
            ("/cregister", {"cmd": "register_channel", "channel": "#c"}),
            ("/cregister #x", {"cmd": "register_channel", "channel": "#x"}),
            ("/cdrop #x", {"cmd": "drop_channel", "channel": "#x"}),
            ("/access", {"cmd": "access", "channel": "#c"}),
            ("/access #x", {"cmd": "access", "channel": "#x"}),
        ]:
            action = self.parse(line)
            self.assertIsInstance(action, Send, line)
            self.assertLessEqual(request.items(), action.request.items(), line)
        self.assertEqual(self.parse("/passwd a b").request["password"], "b")
        self.assertEqual(self.parse(f"/oper admin {WORD}").request["password"], WORD)
        self.assertEqual(self.parse("/kill eve go  away").request["reason"], "go  away")
        self.assertEqual(
            self.parse("/wallops  look at #spam ").request["text"], "look at #spam"
        )

    def test_access_levels(self) -> None:
        for word, level in [("op", "op"), ("VOICE", "voice"), ("none", None)]:
            self.assertEqual(
                self.parse(f"/access #x bob {word}"),
                Send(
                    {"cmd": "access", "channel": "#x", "account": "bob", "level": level}
                ),
            )
        self.assertEqual(
            self.parse("/access bob op").request,
            {"cmd": "access", "channel": "#c", "account": "bob", "level": "op"},
        )
        problem = self.parse("/access #x bob owner")
        self.assertIsInstance(problem, Problem)
        self.assertIn("op, voice or none, not owner", problem.message)

    def test_usage(self) -> None:
        for line, usage in [
            ("/register", "/register PASSWORD [EMAIL]"),
            (f"/register {WORD} a@b c", "/register PASSWORD [EMAIL]"),
            ("/login", "/login [ACCOUNT] PASSWORD"),
            (f"/login a b {WORD}", "/login [ACCOUNT] PASSWORD"),
            (f"/passwd {WORD}", "/passwd CURRENT NEW"),
            (f"/dropaccount {WORD} x", "/dropaccount PASSWORD"),
            (f"/oper {WORD}", "/oper NAME PASSWORD"),
            ("/logout now", "/logout"),
            ("/rehash please", "/rehash"),
            ("/kill", "/kill NICK [reason]"),
            ("/kill #c", "/kill NICK [reason]"),
            ("/wallops  ", "/wallops TEXT"),
            ("/cregister a", "/cregister [#chan]"),
            ("/cdrop", "/cdrop #chan"),
            ("/access #x bob", "/access [#chan] [ACCOUNT op|voice|none]"),
        ]:
            problem = self.parse(line)
            self.assertIsInstance(problem, Problem, line)
            self.assertTrue(problem.message.startswith(f"usage: {usage}"), problem)
            self.assertNotIn(WORD, problem.message)

    def test_channel_needed(self) -> None:
        for line in ["/cregister", "/access", "/access bob op"]:
            problem = self.parse(line, None)
            self.assertIsInstance(problem, Problem, line)
            self.assertIn("you are not in a channel", problem.message)
        # dropping a registration names the channel, even the current one
        self.assertIsInstance(self.parse("/cdrop"), Problem)

    def test_too_long(self) -> None:
        self.assertIn("at most 390", self.parse("/kill eve " + "x" * 391).message)
        self.assertIn("at most", self.parse("/wallops " + "x" * 5000).message)

    def test_help(self) -> None:
        text = "\n".join(HELP_LINES)
        for command in [
            "/register PASSWORD [EMAIL]",
            "/login [ACCOUNT] PASSWORD",
            "/logout",
            "/passwd CURRENT NEW",
            "/dropaccount PASSWORD",
            "/oper NAME PASSWORD",
            "/kill NICK [reason]",
            "/wallops TEXT",
            "/rehash",
            "/cregister [#chan]",
            "/cdrop #chan",
            "/access [#chan]",
            "--account",
        ]:
            self.assertIn(command, text)
        [register] = [line for line in HELP_LINES if "/register" in line]
        self.assertIn("sends the password", register)
        [login] = [line for line in HELP_LINES if "/login" in line]
        self.assertIn("password is not sent", login)


class SecretTests(SynchronousTestCase):
    """Where the passwords are in a typed line, and what the history keeps."""

    def secrets(self, line: str) -> list[str]:
        return [line[start:end] for start, end in secret_spans(line)]

    def test_spans(self) -> None:
        for line, secrets in [
            ("/login pw", ["pw"]),
            ("/login alice pw", ["pw"]),
            ("/Login  alice\tpw extra", ["pw", "extra"]),
            ("/register pw a@b.c", ["pw", "a@b.c"]),
            ("/passwd old new", ["old", "new"]),
            ("/oper admin pw", ["pw"]),
            ("/oper admin", []),
            ("/dropaccount pw", ["pw"]),
            ("/login", []),
            ("//login pw", []),
            (" /login pw", []),
            ("/loginx pw", []),
            ("/msg bob pw", []),
            ("login pw", []),
        ]:
            self.assertEqual(self.secrets(line), secrets, line)

    def test_history_form(self) -> None:
        for line, kept in [
            ("/login pw", "/login "),
            ("/login alice pw", "/login alice "),
            ("/register pw a@b.c", "/register "),
            ("/passwd old new", "/passwd "),
            ("/oper admin pw", "/oper admin "),
            ("/oper admin", "/oper admin"),
            ("/dropaccount pw", "/dropaccount "),
            ("/msg bob hi", "/msg bob hi"),
            ("hello", "hello"),
        ]:
            self.assertEqual(history_form(line), kept, line)


class RenderTests(SynchronousTestCase):
    def render(self, obj: dict[str, Any], request: dict[str, Any] | None = None) -> Any:
        return render(obj, request, now=NOW, tz=UTC, nick="me")

    def ok(self, cmd: str, request: dict[str, Any] | None = None, **fields: Any) -> Any:
        return self.render({"type": "ok", "cmd": cmd, "id": 1, **fields}, request)

    def test_events(self) -> None:
        self.assertEqual(
            self.render({"type": "account", "nick": "alice", "account": "alice"}),
            ["10:05 * alice is now logged in as alice"],
        )
        self.assertEqual(
            self.render({"type": "account", "nick": "alice", "account": None}),
            ["10:05 * alice logged out"],
        )
        self.assertEqual(
            self.render({"type": "wallops", "by": "root", "text": "spam in #a"}),
            ["10:05 [wallops] root: spam in #a"],
        )
        self.assertEqual(
            self.render({"type": "oper", "oper": None, "reason": "block gone"}),
            ["10:05 * you are no longer a server operator (block gone)"],
        )
        self.assertEqual(
            self.render(
                {"type": "bye", "code": "killed", "reason": "Killed (root (spam))"}
            ),
            ["* a server operator disconnected you (Killed (root (spam)))"],
        )
        # a registered channel's access list: the server gives
        self.assertEqual(
            self.render(
                {
                    "type": "mode",
                    "channel": "#a",
                    "by": "",
                    "changes": [{"mode": "op", "set": True, "param": "me"}],
                }
            ),
            ["10:05 * the server gave you operator status on #a"],
        )
        # an event's account (of who acted) changes nothing of how it reads
        self.assertEqual(
            self.render(
                {"type": "join", "channel": "#a", "nick": "bob", "account": "bob"}
            ),
            ["10:05 * bob joined #a"],
        )
        malformed: list[dict[str, Any]] = [
            {"type": "account", "nick": "alice", "account": 3},
            {"type": "account", "account": "alice"},
            {"type": "wallops", "by": "root"},
        ]
        for bad in malformed:
            self.assertTrue(self.render(bad)[0].startswith("! bad line"), bad)

    def test_replies(self) -> None:
        for cmd, request, fields, lines in [
            (
                "register",
                {"password": WORD},
                {"account": "alice"},
                ["10:05 * you registered the account alice, and are logged in to it"],
            ),
            ("login", {}, {"account": "alice"}, ["10:05 * you are logged in as alice"]),
            ("login", {}, {"challenge": "cj1h"}, []),
            ("logout", {}, {}, ["10:05 * you are logged out"]),
            ("passwd", {}, {}, ["* your password is changed"]),
            (
                "drop_account",
                {},
                {"account": "alice"},
                [
                    "10:05 * the account alice is deleted: you are logged out, and"
                    " its nick is free"
                ],
            ),
            (
                "oper",
                {},
                {"oper": "admin"},
                ["10:05 * you are a server operator (admin)"],
            ),
            (
                "kill",
                {"nick": "eve", "reason": "spam"},
                {"nick": "Eve"},
                ["10:05 * you disconnected Eve (spam)"],
            ),
            (
                "wallops",
                {"text": "look"},
                {},
                ["10:05 [wallops] me: look"],
            ),
            (
                "rehash",
                {},
                {"summary": "2 operators, limits changed"},
                [
                    "10:05 * the server reloaded its config file: 2 operators, limits changed"
                ],
            ),
            (
                "register_channel",
                {"channel": "#a"},
                {"channel": "#A", "founder": "alice"},
                [
                    "10:05 * #A is registered to alice: its topic, modes and bans"
                    " stay, even when it is empty"
                ],
            ),
            (
                "drop_channel",
                {"channel": "#a"},
                {"channel": "#a"},
                ["10:05 * #a is no longer registered"],
            ),
        ]:
            self.assertEqual(self.ok(cmd, request, **fields), lines, cmd)

    def test_access(self) -> None:
        listed: dict[str, Any] = {"channel": "#a", "founder": "alice"}
        self.assertEqual(
            self.ok("access", {"channel": "#a"}, **listed, access={}),
            ["* the access list of #a (founder alice) is empty"],
        )
        self.assertEqual(
            self.ok(
                "access",
                {"channel": "#a"},
                **listed,
                access={"bob": "op", "cy": "voice"},
            ),
            [
                "* the access list of #a (founder alice):",
                "*   bob: op",
                "*   cy: voice",
            ],
        )
        given = {"channel": "#a", "account": "BOB", "level": "op"}
        self.assertEqual(
            self.ok("access", given, **listed, access={"bob": "op"}),
            ["10:05 * bob gets operator status on joining #a"],
        )
        taken = {"channel": "#a", "account": "bob", "level": None}
        self.assertEqual(
            self.ok("access", taken, **listed, access={"cy": "voice"}),
            ["10:05 * bob gets nothing on joining #a"],
        )
        self.assertTrue(
            self.ok("access", {"channel": "#a"}, access=[])[0].startswith("! bad line")
        )

    def test_who_names_accounts(self) -> None:
        reply: dict[str, Any] = {
            "channel": "#a",
            "members": ["alice", "Bob", "cy"],
            "privileges": {"alice": ["op"]},
            "accounts": {"alice": "ALICE", "Bob": "robert"},
        }
        self.assertEqual(
            self.ok("who", None, **reply),
            [
                "* #a has 3 members: @alice, Bob, cy",
                "*   logged in: alice, Bob (as robert)",
            ],
        )
        self.assertEqual(
            self.ok("who", None, channel="#a", members=[]), ["* #a has no members"]
        )
        reply["accounts"] = {}
        self.assertEqual(
            self.ok("who", None, **reply), ["* #a has 3 members: @alice, Bob, cy"]
        )

    def test_errors(self) -> None:
        def error(code: str, request: dict[str, Any]) -> Any:
            return self.render(
                {"type": "error", "id": 1, "code": code, "message": "server words"},
                request,
            )

        self.assertEqual(
            error("nick_reserved", {"cmd": "nick", "nick": "alice"}),
            [
                "! nick_reserved: alice belongs to an account: log in to it first"
                " (/login alice PASSWORD), or choose another nick"
            ],
        )
        self.assertEqual(
            error("not_oper", {"cmd": "kill"}),
            ["! not_oper: only server operators can do that (/oper NAME PASSWORD)"],
        )
        self.assertEqual(
            error("bad_credentials", {"cmd": "login"}),
            ["! bad_credentials: server words"],
        )


class FakeScramServer:
    """The server's side of a SCRAM login, with chatd's own code."""

    def __init__(self, password: str, server_nonce: str = "server-nonce") -> None:
        self.credentials = make_credentials(password)
        self.server_nonce = server_nonce

    def challenge(self, h: Harness, request: dict[str, Any]) -> None:
        first = parse_client_first(b64decode(request["data"]))
        self.account = first.username
        self.exchange = ScramExchange(first, self.credentials, self.server_nonce)
        h.reply_ok(request, challenge=b64(self.exchange.server_first))

    def finish(self, h: Harness, request: dict[str, Any], forged: bool = False) -> None:
        final = self.exchange.verify(b64decode(request["data"]))
        if forged:
            final = b"v=" + base64.b64encode(b"\0" * 32)
        h.reply_ok(request, account=self.account, final=b64(final))


def scram_first(test: SynchronousTestCase, h: Harness, account: str) -> dict[str, Any]:
    """The first step of a SCRAM login, which must be all that was sent."""
    [request] = h.sent()
    test.assertEqual((request["cmd"], request["mechanism"]), ("login", "SCRAM-SHA-256"))
    test.assertIn(f"n={account},".encode(), b64decode(request["data"]))
    return request


class SessionTests(SynchronousTestCase):
    """Logging in, on a fake connection."""

    def log_in(self, h: Harness, account: str, password: str) -> FakeScramServer:
        server = FakeScramServer(password)
        server.challenge(h, scram_first(self, h, account))
        [final] = h.sent()
        self.assertEqual(sorted(final), ["cmd", "data", "id"])
        server.finish(h, final)
        return server

    def test_login_never_sends_the_password(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.type(f"/login {WORD}")
        transport = h.transport
        assert transport is not None
        server = FakeScramServer(WORD)
        first = scram_first(self, h, "alice")
        server.challenge(h, first)
        sent = transport.value()
        [final] = h.sent()
        server.finish(h, final)
        self.assertEqual(h.take(), ["10:05 * you are logged in as alice"])
        self.assertEqual(h.client.account, "alice")
        self.assertNotIn(WORD.encode(), sent)
        self.assertEqual(h.client.credentials, ("alice", WORD))

    def test_login_names_another_account(self) -> None:
        h = Harness().connected()
        h.nick("al")
        h.type(f"/login alice {WORD}")
        self.log_in(h, "alice", WORD)
        self.assertEqual(h.take(), ["10:05 * you are logged in as alice"])

    def test_wrong_password(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.type("/login not-the-one")
        first = scram_first(self, h, "alice")
        server = FakeScramServer(WORD)
        server.challenge(h, first)
        [final] = h.sent()
        h.server(
            {
                "type": "error",
                "cmd": "login",
                "id": final["id"],
                "code": "bad_credentials",
                "message": "wrong account name or password",
            }
        )
        self.assertEqual(
            h.take(), ["! bad_credentials: wrong account name or password"]
        )
        self.assertIsNone(h.client.account)
        self.assertIsNone(h.client.credentials)
        h.type("/list")  # the session goes on
        self.assertEqual([r["cmd"] for r in h.sent()], ["list"])

    def test_forged_server_signature_hangs_up(self) -> None:
        """
        A server that cannot sign the exchange does not know the account:
        the client warns and hangs up, and does not come back by itself.
        """
        h = Harness(interactive=True).connected()
        h.nick("alice")
        h.type(f"/login {WORD}")
        server = FakeScramServer(WORD)
        server.challenge(h, scram_first(self, h, "alice"))
        [final] = h.sent()
        server.finish(h, final, forged=True)
        shown = h.take()
        self.assertIn("could not prove it knows the account alice", shown[0])
        self.assertIn("disconnecting", shown[0])
        self.assertNotIn("logged in", "\n".join(shown))
        assert h.transport is not None
        self.assertTrue(h.transport.disconnecting)
        self.assertIsNone(h.client.account)
        h.close()
        attempts = len(h.reactor.tcpClients)
        h.reactor.advance(120)
        self.assertEqual(len(h.reactor.tcpClients), attempts)

    def test_a_bad_challenge_is_not_answered(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.type(f"/login {WORD}")
        first = scram_first(self, h, "alice")
        h.reply_ok(first, challenge=b64(b"r=someone-elses-nonce,s=c2FsdA==,i=4096"))
        self.assertEqual(
            h.take(),
            ["! cannot log in to alice: the server's nonce does not extend ours"],
        )
        self.assertEqual(h.sent(), [])
        h.type("/list")
        self.assertEqual([r["cmd"] for r in h.sent()], ["list"])

    def test_login_without_a_nick(self) -> None:
        h = Harness().connected()
        h.type(f"/login {WORD}")
        self.assertEqual(
            h.take(), ["! usage: /login ACCOUNT PASSWORD (you have no nick yet)"]
        )
        self.assertEqual(h.sent(), [])

    def test_credentials_log_in_before_the_nick(self) -> None:
        h = Harness()
        h.client.want_nick = "alice"
        h.client.credentials = ("alice", PASSWORD)
        h.client.connect("127.0.0.1", 8123)
        h.accept()
        h.welcome()
        self.log_in(h, "alice", PASSWORD)
        [nick] = h.sent()
        self.assertEqual(nick["nick"], "alice")
        h.reply_ok(nick, nick="alice")
        self.assertEqual(
            h.take()[-2:],
            [
                "10:05 * you are logged in as alice",
                "10:05 * you are now known as alice",
            ],
        )

    def test_failed_login_still_takes_the_nick(self) -> None:
        """... and a reserved nick's refusal says how to log in."""
        h = Harness(interactive=True)
        h.client.want_nick = "alice"
        h.client.credentials = ("alice", "wrong-password")
        h.client.connect("127.0.0.1", 8123)
        h.accept()
        h.welcome()
        h.take()
        first = scram_first(self, h, "alice")
        h.server(
            {
                "type": "error",
                "cmd": "login",
                "id": first["id"],
                "code": "throttled",
                "message": "too many failed logins; try later",
            }
        )
        [nick] = h.sent()
        h.server(
            {
                "type": "error",
                "cmd": "nick",
                "id": nick["id"],
                "code": "nick_reserved",
                "message": "the nick alice is a registered account's",
            }
        )
        self.assertEqual(
            h.take(),
            [
                "! throttled: too many failed logins; try later",
                "! nick_reserved: alice belongs to an account: log in to it first"
                " (/login alice PASSWORD), or choose another nick",
                "! /login PASSWORD logs in and takes alice",
            ],
        )
        # /login then takes the nick it could not
        h.type(f"/login {WORD}")
        self.log_in(h, "alice", WORD)
        [nick] = h.sent()
        self.assertEqual(nick["nick"], "alice")

    def test_a_script_whose_login_fails_stops(self) -> None:
        """Piped, nothing is said as someone else: the client quits with 1."""
        h = Harness()
        h.client.want_nick = "alice"
        h.client.credentials = ("alice", "wrong-password")
        h.client.connect("127.0.0.1", 8123)
        h.accept()
        h.type("/join #a", "hello")
        h.client.input_ended()
        h.welcome()
        h.take()
        first = scram_first(self, h, "alice")
        server = FakeScramServer(WORD)
        server.challenge(h, first)
        [final] = h.sent()
        h.server(
            {
                "type": "error",
                "cmd": "login",
                "id": final["id"],
                "code": "bad_credentials",
                "message": "wrong account name or password",
            }
        )
        self.assertEqual(
            h.take(),
            [
                "! bad_credentials: wrong account name or password",
                "! not logged in: the script's lines are not sent",
            ],
        )
        [quit] = h.sent()
        self.assertEqual(quit["cmd"], "quit")
        h.server({"type": "bye", "code": "quit", "reason": ""})
        h.close()
        self.assertEqual(h.status, [1])

    def test_reconnection_logs_in_again(self) -> None:
        h = Harness(interactive=True).connected()
        h.nick("alice")
        h.type(f"/login {WORD}")
        self.log_in(h, "alice", WORD)
        h.join("#a")
        h.close(neterror.ConnectionLost)
        self.assertIsNone(h.client.account)
        h.reactor.advance(1)
        h.accept()
        h.welcome()
        self.log_in(h, "alice", WORD)
        [nick] = h.sent()
        self.assertEqual(nick["nick"], "alice")
        h.reply_ok(nick, nick="alice")
        [join] = h.sent()
        self.assertEqual(join["channel"], "#a")

    def test_what_replies_change(self) -> None:
        """register and passwd keep the password to log in again with; logout forgets it."""
        h = Harness().connected()
        h.nick("alice")
        h.type(f"/register {WORD}")
        [register] = h.sent()
        h.reply_ok(register, account="alice")
        self.assertEqual(h.client.credentials, ("alice", WORD))
        self.assertEqual(h.client.account, "alice")
        h.type(f"/passwd {WORD} new-secret-5")
        [passwd] = h.sent()
        h.reply_ok(passwd)
        self.assertEqual(h.client.credentials, ("alice", "new-secret-5"))
        h.type("/logout")
        [logout] = h.sent()
        h.reply_ok(logout)
        self.assertIsNone(h.client.credentials)
        self.assertIsNone(h.client.account)
        shown = h.take()
        self.assertEqual(
            shown,
            [
                "10:05 * you registered the account alice, and are logged in to it",
                "* your password is changed",
                "10:05 * you are logged out",
            ],
        )
        self.assertNotIn(WORD, "\n".join(shown))

    def test_killed_does_not_come_back(self) -> None:
        h = Harness(interactive=True).connected()
        h.nick("eve")
        h.server({"type": "bye", "code": "killed", "reason": "Killed (root (spam))"})
        h.close()
        self.assertEqual(
            h.take()[0], "* a server operator disconnected you (Killed (root (spam)))"
        )
        attempts = len(h.reactor.tcpClients)
        h.reactor.advance(120)
        self.assertEqual(len(h.reactor.tcpClients), attempts)


class TerminalTests(SynchronousTestCase):
    """Passwords are drawn as * and are not kept in the history."""

    def setUp(self) -> None:
        self.harness = Harness(interactive=True)
        self.transport = StringTransport()
        self.terminal = insults.ServerProtocol(
            TerminalUI, self.harness.client, lambda: None
        )
        self.terminal.makeConnection(self.transport)
        ui = self.terminal.terminalProtocol
        assert isinstance(ui, TerminalUI)
        self.ui = ui
        self.harness.client.output = ui.show
        self.screen = helper.TerminalBuffer()
        self.screen_protocol = insults.ClientProtocol(lambda: self.screen)
        self.screen_protocol.makeConnection(StringTransport())

    def keys(self, data: bytes) -> None:
        self.terminal.dataReceived(data)

    def screen_text(self) -> str:
        self.screen_protocol.dataReceived(self.transport.value())
        self.transport.clear()
        return bytes(self.screen).decode()

    def test_password_drawn_as_stars(self) -> None:
        self.keys(b"/login alice ")
        self.assertIn("> /login *****", self.screen_text())  # the password, so far
        self.keys(WORD.encode())
        text = self.screen_text()
        self.assertIn("> /login alice " + "*" * len(WORD), text)
        self.assertNotIn(WORD, text)
        self.keys(b"\x1b[D" * 4 + b"X")  # an edit in the middle
        self.assertNotIn("X", self.screen_text())
        self.assertEqual(len(b"".join(self.ui.lineBuffer)), len("/login alice ") + 12)
        self.harness.client.output("* something happened")
        text = self.screen_text()
        self.assertIn("* something happened", text)
        self.assertNotIn("sesame", text)

    def test_history_keeps_no_password(self) -> None:
        self.keys(b"/oper admin " + WORD.encode() + b"\r")
        self.keys(b"/register " + WORD.encode() + b" me@example.org\r")
        self.keys(b"hello\r")
        self.assertEqual(
            self.ui.historyLines, [b"/oper admin ", b"/register ", b"hello"]
        )
        self.keys(b"/passwd " + WORD.encode())
        self.keys(b"\x1b[A")  # up: the draft is kept, without its password
        self.assertEqual(self.ui.historyLines[-1], b"/passwd ")
        self.assertEqual(b"".join(self.ui.lineBuffer), b"hello")
        self.keys(b"\x1b[A\x1b[A")
        self.assertEqual(b"".join(self.ui.lineBuffer), b"/oper admin ")
        self.assertNotIn(WORD, self.screen_text())
        for line in self.ui.historyLines:
            self.assertNotIn(WORD.encode(), line)


class CommandLineTests(SynchronousTestCase):
    def test_password_file(self) -> None:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write(PASSWORD + "\r\nsecond line\n")
        args = parse_args(["--account", "alice", "--password-file", path], {})
        self.assertEqual((args.account, args.password), ("alice", PASSWORD))

    def test_environment(self) -> None:
        environ = {"CHATD_PASSWORD": PASSWORD}
        self.assertEqual(parse_args(["--account", "a"], environ).password, PASSWORD)
        self.assertIsNone(parse_args(["--account", "a"], {}).password)
        # the variable alone logs nobody in
        self.assertIsNone(parse_args([], environ).account)
        # the file wins
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("from-the-file\n")
        args = parse_args(["--account", "a", "--password-file", path], environ)
        self.assertEqual(args.password, "from-the-file")

    def test_bad_password_files(self) -> None:
        empty = self.mktemp()
        with open(empty, "w") as f:
            f.write("\nsecond\n")
        binary = self.mktemp()
        with open(binary, "wb") as f:
            f.write(b"\xff\xfe\n")
        for argv in [
            ["--password-file", empty],
            ["--account", "a", "--password-file", empty],
            ["--account", "a", "--password-file", binary],
            ["--account", "a", "--password-file", self.mktemp()],
        ]:
            self.assertRaises(SystemExit, parse_args, argv, {})

    def test_ask_password(self) -> None:
        asked: list[str] = []

        def ask(prompt: str) -> str:
            asked.append(prompt)
            return PASSWORD

        self.assertEqual(ask_password("alice", True, ask), PASSWORD)
        self.assertEqual(asked, ["password of the account alice: "])
        with self.assertRaises(SystemExit) as caught:
            ask_password("alice", False, ask)
        self.assertIn("--password-file", str(caught.exception.code))
        self.assertRaises(SystemExit, ask_password, "alice", True, lambda p: "")

    def test_main_passes_credentials(self) -> None:
        calls: list[tuple[Any, ...]] = []

        def run(host: str, port: int, **options: Any) -> int:
            calls.append((options["nick"], options.get("credentials")))
            return 0

        self.patch(cli, "run", run)
        self.patch(os, "environ", {"CHATD_PASSWORD": PASSWORD})
        self.assertRaises(SystemExit, main, ["--account", "alice"])
        self.assertRaises(SystemExit, main, ["--account", "alice", "--nick", "al"])
        self.assertRaises(SystemExit, main, ["--nick", "bob"])
        self.assertEqual(
            calls,
            [
                ("alice", ("alice", PASSWORD)),
                ("al", ("alice", PASSWORD)),
                ("bob", None),
            ],
        )


class Bridge:
    """
    A L{Harness}'s client connected to a real server (with accounts) on
    StringTransports: what one writes, the other reads.
    """

    def __init__(
        self,
        server: Server,
        *,
        interactive: bool = False,
        nick: str | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.harness = h = Harness(interactive=interactive)
        h.client.want_nick = nick
        h.client.credentials = credentials
        self.server = server
        h.client.connect("127.0.0.1", 8123)
        h.accept()
        self.conn = server.connect()
        self.pump()
        #: what was shown on connecting
        self.connected = h.take()

    def pump(self) -> None:
        h = self.harness
        assert h.transport is not None
        for _ in range(100):
            down = self.conn.transport.value()
            self.conn.transport.clear()
            if down:
                h.server_raw(down)
            up = h.transport.value()
            h.transport.clear()
            if up:
                self.conn.send_raw(up)
            if not down and not up:
                return
        raise AssertionError("the client and the server talk on and on")

    def type(self, *lines: str) -> list[str]:
        self.harness.type(*lines)
        self.pump()
        return self.harness.take()


class ServerTests(SynchronousTestCase):
    """The client against chatd's own JSON server and accounts."""

    def setUp(self) -> None:
        self.server = Server()
        self.accounts = give_accounts(
            [self.server.factory],
            self.server.chat,
            self.server.clock,
            opers={"root": "oper-password"},
        )

    def test_register_then_log_in_from_elsewhere(self) -> None:
        first = Bridge(self.server)
        first.type("/nick alice", "/join #a")
        shown = first.type(f"/register {WORD} alice@example.org")
        self.assertEqual(
            shown,
            ["10:05 * you registered the account alice, and are logged in to it"],
        )
        first.type("/quit")

        # Someone else cannot take the nick, and is told how to.
        other = Bridge(self.server)
        shown = other.type("/nick alice")
        self.assertIn("alice belongs to an account", shown[0])

        # Logged in first (no password on the wire), alice takes her nick.
        second = Bridge(self.server, nick="alice", credentials=("alice", WORD))
        h = second.harness
        self.assertEqual(
            second.connected[-2:],
            [
                "10:05 * you are logged in as alice",
                "10:05 * you are now known as alice",
            ],
        )
        self.assertEqual(h.client.nick, "alice")
        self.assertEqual(h.client.account, "alice")

        # bob sees her account in /who, and her logging out.
        bob = Bridge(self.server)
        bob.type("/nick bob", "/join #a")
        second.type("/join #a")
        bob.harness.take()
        self.assertIn("*   logged in: alice", bob.type("/who"))
        second.type("/logout")
        bob.pump()
        self.assertEqual(bob.harness.take(), ["10:05 * alice logged out"])

    def test_wrong_password(self) -> None:
        Bridge(self.server).type("/nick alice", f"/register {WORD}", "/quit")
        client = Bridge(self.server)
        shown = client.type("/nick al", "/login alice wrong-password")
        self.assertEqual(shown[-1], "! bad_credentials: wrong account name or password")
        self.assertIsNone(client.harness.client.account)

    def test_operator_kills(self) -> None:
        root = Bridge(self.server)
        eve = Bridge(self.server, interactive=True)
        eve.type("/nick eve")
        root.type("/nick root")
        self.assertIn("only server operators", root.type("/kill eve spam")[0])
        self.assertEqual(
            root.type("/oper root oper-password"),
            ["10:05 * you are a server operator (root)"],
        )
        self.assertEqual(
            root.type("/kill eve spam"), ["10:05 * you disconnected eve (spam)"]
        )
        eve.pump()
        shown = eve.harness.take()
        self.assertIn(
            "* a server operator disconnected you (Killed (root (spam)))", shown
        )

    def test_registered_channel(self) -> None:
        alice = Bridge(self.server)
        alice.type("/nick alice", f"/register {WORD}", "/join #a")
        self.assertEqual(
            alice.type("/cregister"),
            [
                "10:05 * #a is registered to alice: its topic, modes and bans stay,"
                " even when it is empty"
            ],
        )
        self.assertEqual(
            alice.type("/access #a bob voice"),
            ["10:05 * bob gets voice on joining #a"],
        )
        self.assertEqual(
            alice.type("/access"),
            ["* the access list of #a (founder alice):", "*   bob: voice"],
        )
        self.assertEqual(
            alice.type("/cdrop #a"), ["10:05 * #a is no longer registered"]
        )


class LoopbackTests(TestCase):
    """--account over real loopback TCP: logged in, then the account's nick."""

    def test_account_at_connect(self) -> Deferred[None]:
        from twisted.internet import reactor as _reactor

        from chatd.core import Chat
        from chatd.jsonproto.lines import ChatFactory

        reactor: Any = _reactor
        chat = Chat()
        factory = ChatFactory(chat, reactor)
        give_accounts([factory], chat, reactor)
        port = reactor.listenTCP(0, factory, interface="127.0.0.1")
        self.addCleanup(port.stopListening)
        number = port.getHost().port

        def start(lines: list[str], **options: Any) -> tuple[list[str], Deferred[int]]:
            shown: list[str] = []
            done: Deferred[int] = Deferred()
            client = ChatClient(
                reactor, output=shown.append, finished=done.callback, tz=UTC, **options
            )
            client.connect("127.0.0.1", number)
            for line in lines:
                client.handle_input(line)
            client.input_ended()
            return shown, done

        registered, first = start(["/nick alice", f"/register {WORD}"])

        def again(status: int) -> Deferred[int]:
            self.assertEqual(status, 0)
            self.assertIn("you registered the account alice", "\n".join(registered))
            shown, done = start(
                ["/who #nowhere"], nick="alice", credentials=("alice", WORD)
            )
            self.shown = shown
            return done

        def check(status: int) -> None:
            self.assertEqual(status, 0)
            text = "\n".join(self.shown)
            self.assertIn("* you are logged in as alice", text)
            self.assertIn("* you are now known as alice", text)
            self.assertNotIn("nick_reserved", text)

        return first.addCallback(again).addCallback(check)

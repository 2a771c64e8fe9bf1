"""
Accounts, server operators and registered channels over protocol v1, as a
JSON client notices them: register, login (a password, or SCRAM-SHA-256),
logout, passwd, drop_account, the nicks accounts own, the accounts shown in
replies and events, oper, kill, wallops, rehash, register_channel, access
and drop_channel; and an account shared with an IRC client.
"""

from __future__ import annotations

from base64 import b64decode, b64encode
from typing import Any, Callable

from scramp import ScramClient, ScramException
from twisted.internet.defer import Deferred, fail, succeed
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from chatd.accounts.hasher import Hasher
from chatd.accounts.nickguard import NickGuard
from chatd.config import ConfigError, NoConfigFile
from chatd.irc.factory import IRCFactory
from chatd.jsonproto.session import COMMANDS
from chatd.net.limits import FloodLimit
from tests.test_irc import IRCClient

from .support import TEST_LN, Client, Server, give_accounts

PASSWORD = "sesame123"


def error(reply: dict[str, Any]) -> tuple[str, str]:
    """An error reply's code and message (failing if it is no error)."""
    assert reply["type"] == "error", reply
    return reply["code"], reply["message"]


def exchange(client: Client, cmd: str, **args: Any) -> list[dict[str, Any]]:
    """Send a request; every line that follows it (its reply, and events)."""
    client.lines()
    client.send({"cmd": cmd, **args})
    return client.lines()


def b64(text: str) -> str:
    return b64encode(text.encode("utf-8")).decode("ascii")


class AccountCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = Server()
        self.accounts = give_accounts(
            [self.server.factory],
            self.server.chat,
            self.server.clock,
            opers={"admin": "operpassword"},
            registrations_per_hour=20,
        )

    def tearDown(self) -> None:
        self.assertEqual(list(self.server.chat.check_invariants()), [])

    def anonymous(self) -> Client:
        """A connection without a nick yet, its welcome read."""
        client = self.server.connect()
        client.lines()
        return client

    def member(self, nick: str, *channels: str) -> Client:
        """A user called C{nick} in C{channels}, with nothing left to read."""
        client = self.server.user(nick, *channels)
        client.lines()
        return client

    def registered(self, nick: str, *channels: str, password: str = PASSWORD) -> Client:
        """A user who registered C{nick} (and is logged in to it)."""
        client = self.member(nick, *channels)
        reply = client.request("register", password=password)
        self.assertEqual(reply["type"], "ok", reply)
        client.lines()
        return client

    def account(self, name: str, password: str = PASSWORD) -> None:
        """The account C{name} exists, and nobody is using its nick."""
        self.registered(name, password=password).send({"cmd": "quit"})

    def logged_in(self, account: str, nick: str, *channels: str) -> Client:
        """A user called C{nick} who logged in to C{account} before taking it."""
        client = self.anonymous()
        reply = client.request("login", account=account, password=PASSWORD)
        self.assertEqual(reply["type"], "ok", reply)
        client.register(nick)
        for channel in channels:
            client.request("join", channel=channel)
        client.lines()
        return client


class RegisterTests(AccountCase):
    def test_register_logs_in_and_tells_the_channel(self) -> None:
        alice = self.member("alice", "#c")
        bob = self.member("bob", "#c")
        self.assertEqual(
            alice.request("register", password=PASSWORD, id=1),
            {"type": "ok", "cmd": "register", "id": 1, "account": "alice"},
        )
        self.assertEqual(
            bob.lines(), [{"type": "account", "nick": "alice", "account": "alice"}]
        )
        self.assertEqual(alice.lines(), [])
        self.assertEqual(self.server.chat.find_user("alice").account, "alice")  # type: ignore[union-attr]
        record = self.accounts.find("ALICE")
        assert record is not None
        self.assertEqual((record.name, record.email), ("alice", None))
        # The password is kept only as a hash.
        self.assertNotIn(PASSWORD, record.password_hash + record.scram)
        code, message = error(alice.request("register", password=PASSWORD))
        self.assertEqual(
            (code, message), ("already_logged_in", "you are logged in to alice already")
        )

    def test_the_nick_is_then_refused_to_others(self) -> None:
        self.account("Alice")
        newcomer = self.anonymous()
        for nick in ("Alice", "ALICE"):
            code, message = error(newcomer.request("nick", nick=nick, id=2))
            self.assertEqual(code, "nick_reserved")
            self.assertEqual(
                message,
                f"the nick {nick} belongs to the account Alice: log in to that"
                " account to use it: send"
                ' {"cmd":"login","account":NAME,"password":PASSWORD} first',
            )
        self.assertIsNone(self.server.chat.find_user("alice"))
        # A nick of one's own first, then the reserved one: refused too.
        newcomer.register("alicia")
        self.assertEqual(
            error(newcomer.request("nick", nick="alice"))[0], "nick_reserved"
        )
        self.assertEqual(self.server.chat.find_user("alicia").nick, "alicia")  # type: ignore[union-attr]

    def test_the_name_is_your_nick(self) -> None:
        bob = self.member("bob")
        self.assertEqual(
            error(bob.request("register", account="carol", password=PASSWORD)),
            (
                "bad_account_name",
                "register the nick you are using (bob): an account's name is a"
                " nick it owns",
            ),
        )
        self.assertIsNone(self.accounts.find("carol"))
        reply = bob.request("register", account="BOB", password=PASSWORD)
        self.assertEqual(reply["account"], "BOB")

    def test_register_before_taking_a_nick(self) -> None:
        client = self.anonymous()
        self.assertEqual(
            error(client.request("register", password=PASSWORD)),
            (
                "bad_args",
                'give the account\'s name ("account") or take a nick first: an'
                " account's name is a nick",
            ),
        )
        reply = client.request(
            "register", account="dana", password=PASSWORD, email="dana@example.org"
        )
        self.assertEqual(reply["account"], "dana")
        record = self.accounts.find("dana")
        assert record is not None
        self.assertEqual(record.email, "dana@example.org")
        self.assertEqual(client.request("nick", nick="Dana")["nick"], "Dana")
        self.assertEqual(self.server.chat.find_user("dana").account, "dana")  # type: ignore[union-attr]

    def test_refusals(self) -> None:
        self.accounts.min_password_length = 8  # as a public server would
        self.account("taken")
        bob = self.member("bob")
        client = self.anonymous()
        cases: list[tuple[dict[str, Any], str, str]] = [
            ({}, "bad_args", "missing field 'password'"),
            ({"password": 12345678}, "bad_args", "field 'password' must be a string"),
            (
                {"password": "short", "account": "newbie"},
                "weak_password",
                "a password has at least 8 characters",
            ),
            (
                {"password": "NEWBIE12", "account": "newbie12"},
                "weak_password",
                "a password may not be the account's name",
            ),
            (
                {"password": "x" * 601, "account": "newbie"},
                "weak_password",
                "a password has at most 600 characters",
            ),
            (
                {"password": PASSWORD, "account": "9lives"},
                "bad_account_name",
                "an account name is a nick: 1 to 30 ASCII letters, digits or"
                " -_[]{}|^`\\, not starting with a digit or -",
            ),
            (
                {"password": PASSWORD, "account": "TAKEN"},
                "account_exists",
                "the account TAKEN exists already",
            ),
            (
                {"password": PASSWORD, "account": "bob"},
                "account_exists",
                "bob is someone else's nick: register the nick you are using",
            ),
            (
                {"password": PASSWORD, "account": "x", "email": "not an address"},
                "bad_args",
                "field 'email' is not an email address (name@domain, at most 254"
                " characters)",
            ),
            (
                {"password": PASSWORD, "account": "x", "email": "a@b\nc"},
                "bad_args",
                "field 'email' is not an email address (name@domain, at most 254"
                " characters)",
            ),
        ]
        for args, code, message in cases:
            reply = client.request("register", **args)
            self.assertEqual(error(reply), (code, message), args)
        self.assertEqual(
            sorted(r.name for r in self.accounts.records.values()), ["taken"]
        )
        self.assertIsNone(bob.proto.user.account)  # type: ignore[union-attr]

    def test_per_address_limit(self) -> None:
        self.accounts.limit.per_hour = 3
        for nick in ("a1", "a2", "a3"):
            self.account(nick)
        client = self.member("a4")
        code, message = error(client.request("register", password=PASSWORD))
        self.assertEqual(code, "registration_limit")
        self.assertEqual(
            message,
            "too many accounts were registered from your address; try again in"
            " 61 minutes",
        )
        self.server.clock.advance(3599)
        self.assertEqual(
            error(client.request("register", password=PASSWORD))[0],
            "registration_limit",
        )
        self.server.clock.advance(2)
        self.assertEqual(client.request("register", password=PASSWORD)["type"], "ok")

    def test_closed_and_without_accounts(self) -> None:
        client = self.member("bob")
        self.accounts.registration = False
        self.assertEqual(
            error(client.request("register", password=PASSWORD)),
            ("registration_closed", "this server does not take new accounts"),
        )
        self.server.factory.accounts = None
        for cmd, args in [
            ("register", {"password": PASSWORD}),
            ("login", {"password": PASSWORD}),
            ("passwd", {"current": PASSWORD, "password": "another-one"}),
            ("drop_account", {"password": PASSWORD}),
        ]:
            self.assertEqual(
                error(client.request(cmd, **args)),
                ("unavailable", "this server has no accounts"),
            )


class LoginTests(AccountCase):
    def test_login_with_a_password(self) -> None:
        self.account("alice")
        watcher = self.member("watcher", "#c")
        al = self.member("al", "#c")
        watcher.lines()
        self.assertEqual(
            al.request("login", account="ALICE", password=PASSWORD, id="x"),
            {"type": "ok", "cmd": "login", "id": "x", "account": "alice"},
        )
        self.assertEqual(
            watcher.lines(), [{"type": "account", "nick": "al", "account": "alice"}]
        )
        self.assertEqual(
            error(al.request("login", account="alice", password=PASSWORD)),
            ("already_logged_in", "you are logged in to alice already"),
        )

    def test_wrong_password_and_unknown_account_look_the_same(self) -> None:
        self.account("alice")
        client = self.member("bob")
        wrong = client.request("login", account="alice", password="not-it-at-all")
        unknown = client.request("login", account="nobody", password=PASSWORD)
        self.assertEqual(
            error(wrong), ("bad_credentials", "wrong account name or password")
        )
        self.assertEqual(error(unknown), error(wrong))
        self.assertIsNone(self.server.chat.find_user("bob").account)  # type: ignore[union-attr]
        # Without "account", the account is the nick.
        self.assertEqual(
            error(client.request("login", password=PASSWORD))[0], "bad_credentials"
        )
        self.assertEqual(
            error(self.anonymous().request("login", password=PASSWORD)),
            ("bad_args", "missing field 'account'"),
        )

    def test_throttled_after_five_failures_until_time_passes(self) -> None:
        self.account("alice")
        client = self.member("guesser")
        for attempt in range(5):
            reply = client.request(
                "login", account="alice", password=f"guess-{attempt}"
            )
            self.assertEqual(error(reply)[0], "bad_credentials")
        code, message = error(
            client.request("login", account="alice", password=PASSWORD)
        )
        self.assertEqual(
            (code, message),
            ("throttled", "too many failed logins; try again in 2 seconds"),
        )
        self.assertIsNone(self.server.chat.find_user("guesser").account)  # type: ignore[union-attr]
        self.server.clock.advance(2)
        reply = client.request("login", account="alice", password=PASSWORD)
        self.assertEqual(reply["account"], "alice")

    def test_login_before_nick_then_the_owned_nick(self) -> None:
        self.account("alice")
        client = self.anonymous()
        self.assertEqual(
            error(client.request("nick", nick="alice"))[0], "nick_reserved"
        )
        self.assertEqual(
            client.request("login", account="alice", password=PASSWORD)["account"],
            "alice",
        )
        self.assertEqual(client.request("nick", nick="alice")["nick"], "alice")
        # Someone else, logged in to another account, still may not.
        self.account("bob")
        bob = self.logged_in("bob", "bobby")
        self.assertEqual(error(bob.request("nick", nick="alice"))[0], "nick_in_use")
        client.send({"cmd": "quit"})
        self.assertEqual(error(bob.request("nick", nick="alice"))[0], "nick_reserved")


class ScramTests(AccountCase):
    def scram(
        self, client: Client, account: str, password: str
    ) -> tuple[ScramClient, dict[str, Any]]:
        """Run SCRAM-SHA-256 to its end: the client and the last reply."""
        scram = ScramClient(["SCRAM-SHA-256"], account, password)
        first = client.request(
            "login", mechanism="SCRAM-SHA-256", data=b64(scram.get_client_first()), id=1
        )
        self.assertEqual(sorted(first), ["challenge", "cmd", "id", "type"])
        self.assertEqual(first["type"], "ok")
        scram.set_server_first(b64decode(first["challenge"]).decode())
        final = client.request("login", data=b64(scram.get_client_final()), id=2)
        return scram, final

    def test_login_without_sending_the_password(self) -> None:
        self.account("Scramtest")
        watcher = self.member("watcher", "#c")
        client = self.member("sc", "#c")
        watcher.lines()
        scram, final = self.scram(client, "scramtest", PASSWORD)
        self.assertEqual(
            final,
            {
                "type": "ok",
                "cmd": "login",
                "id": 2,
                "account": "Scramtest",
                "final": final["final"],
            },
        )
        # The client checks that the server knew the credentials.
        scram.set_server_final(b64decode(final["final"]).decode())
        self.assertEqual(self.server.chat.find_user("sc").account, "Scramtest")  # type: ignore[union-attr]
        self.assertEqual(
            watcher.lines(), [{"type": "account", "nick": "sc", "account": "Scramtest"}]
        )
        self.assertEqual(
            error(client.request("login", mechanism="SCRAM-SHA-256", data="")),
            ("already_logged_in", "you are logged in to Scramtest already"),
        )

    def test_wrong_password_and_unknown_account(self) -> None:
        self.account("alice")
        client = self.anonymous()
        for account, password in (("alice", "millet-xx"), ("nobody", PASSWORD)):
            _, final = self.scram(client, account, password)
            self.assertEqual(
                error(final), ("bad_credentials", "wrong account name or password")
            )
            self.assertIsNone(client.proto.user.account)  # type: ignore[union-attr]
        # The exchange is over: a further step is out of turn.
        code, _ = error(client.request("login", data=b64("c=biws,r=x,p=eA==")))
        self.assertEqual(code, "bad_args")

    def test_failures_are_throttled_too(self) -> None:
        self.account("alice")
        client = self.anonymous()
        for attempt in range(5):
            _, final = self.scram(client, "alice", f"wrong-{attempt}")
            self.assertEqual(error(final)[0], "bad_credentials")
        scram = ScramClient(["SCRAM-SHA-256"], "alice", PASSWORD)
        reply = client.request(
            "login", mechanism="SCRAM-SHA-256", data=b64(scram.get_client_first())
        )
        self.assertEqual(
            error(reply),
            ("throttled", "too many failed logins; try again in 2 seconds"),
        )
        self.server.clock.advance(2)
        _, final = self.scram(client, "alice", PASSWORD)
        self.assertEqual(final["account"], "alice")

    def test_a_server_that_does_not_know_the_password_is_caught(self) -> None:
        """The client's check of the server's final message can fail."""
        self.account("alice")
        scram, final = self.scram(self.anonymous(), "alice", PASSWORD)
        forged = b64decode(final["final"]).decode()[:-4] + "AAA="
        self.assertRaises(ScramException, scram.set_server_final, forged)

    def test_bad_steps(self) -> None:
        client = self.anonymous()
        cases: list[tuple[dict[str, Any], str]] = [
            (
                {"data": b64("n,,n=a,r=abc")},
                'start with {"cmd":"login","mechanism":"SCRAM-SHA-256",...}',
            ),
            (
                {"mechanism": "PLAIN", "data": b64("\0a\0b")},
                'the login mechanism is "SCRAM-SHA-256" (or send a "password")',
            ),
            ({"mechanism": "SCRAM-SHA-256"}, "missing field 'data' (base64)"),
            # an error ends the exchange: nothing is under way now
            (
                {"data": b64("n,,n=a,r=abc")},
                'start with {"cmd":"login","mechanism":"SCRAM-SHA-256",...}',
            ),
            (
                {"mechanism": "SCRAM-SHA-256", "data": "!!"},
                "field 'data' is not base64",
            ),
            (
                {"mechanism": "scram-sha-256", "data": b64("hello")},
                "that is not a SCRAM-SHA-256 message",
            ),
            ({"mechanism": 5, "data": "AAAA"}, "field 'mechanism' must be a string"),
        ]
        for args, message in cases:
            self.assertEqual(
                error(client.request("login", **args)), ("bad_args", message), args
            )
        # A new first message starts over.
        self.account("alice")
        client.request(
            "login", mechanism="SCRAM-SHA-256", data=b64("n,,n=alice,r=abcdef")
        )
        _, final = self.scram(client, "alice", PASSWORD)
        self.assertEqual(final["account"], "alice")


class LogoutTests(AccountCase):
    def test_logout_tells_the_channel(self) -> None:
        alice = self.registered("alice", "#c")
        bob = self.member("bob", "#c")
        self.assertEqual(
            alice.request("logout", id=3), {"type": "ok", "cmd": "logout", "id": 3}
        )
        self.assertEqual(
            bob.lines(), [{"type": "account", "nick": "alice", "account": None}]
        )
        alice.request("msg", to="#c", text="who am I")
        [message] = bob.lines()
        self.assertNotIn("account", message)
        self.assertEqual(
            error(alice.request("logout")), ("not_logged_in", "you are not logged in")
        )
        # The account is still there.
        self.assertEqual(
            self.anonymous().request("login", account="alice", password=PASSWORD)[
                "account"
            ],
            "alice",
        )


class PasswdTests(AccountCase):
    def test_change_needs_the_current_password(self) -> None:
        alice = self.registered("alice")
        self.assertEqual(
            error(
                self.member("bob").request("passwd", current=PASSWORD, password="n" * 9)
            ),
            ("not_logged_in", "log in to change your password"),
        )
        self.assertEqual(
            error(
                alice.request("passwd", current="not-the-one", password="new-secret")
            ),
            ("bad_credentials", "your current password is wrong"),
        )
        self.accounts.min_password_length = 8
        self.assertEqual(
            error(alice.request("passwd", current=PASSWORD, password="short")),
            ("weak_password", "a password has at least 8 characters"),
        )
        self.assertEqual(
            error(alice.request("passwd", password="new-secret")),
            ("bad_args", "missing field 'current'"),
        )
        self.assertEqual(
            alice.request("passwd", current=PASSWORD, password="new-secret", id=4),
            {"type": "ok", "cmd": "passwd", "id": 4},
        )
        other = self.anonymous()
        self.assertEqual(
            error(other.request("login", account="alice", password=PASSWORD))[0],
            "bad_credentials",
        )
        self.assertEqual(
            other.request("login", account="alice", password="new-secret")["account"],
            "alice",
        )


class DropAccountTests(AccountCase):
    def test_drop_frees_the_nick_and_logs_everyone_out(self) -> None:
        alice = self.registered("alice", "#c")
        twin = self.logged_in("alice", "alice2", "#c")
        bob = self.member("bob", "#c")
        alice.lines()
        twin.lines()
        self.assertEqual(
            error(bob.request("drop_account", password=PASSWORD)),
            ("not_logged_in", "log in to the account to drop it"),
        )
        self.assertEqual(
            error(alice.request("drop_account", password="not-the-one")),
            ("bad_credentials", "wrong password"),
        )
        self.assertEqual(
            exchange(alice, "drop_account", password=PASSWORD, id=5),
            [
                {"type": "account", "nick": "alice2", "account": None},
                {"type": "ok", "cmd": "drop_account", "id": 5, "account": "alice"},
            ],
        )
        self.assertIsNone(self.accounts.find("alice"))
        self.assertIsNone(self.server.chat.nick_owner("alice"))
        self.assertCountEqual(
            bob.lines(),
            [
                {"type": "account", "nick": "alice", "account": None},
                {"type": "account", "nick": "alice2", "account": None},
            ],
        )
        self.assertEqual(
            twin.lines(), [{"type": "account", "nick": "alice", "account": None}]
        )
        self.assertIsNone(self.server.chat.find_user("alice2").account)  # type: ignore[union-attr]
        alice.send({"cmd": "quit"})
        self.assertEqual(
            self.anonymous().request("nick", nick="alice")["nick"], "alice"
        )
        self.assertEqual(
            error(
                self.anonymous().request("login", account="alice", password=PASSWORD)
            ),
            ("bad_credentials", "wrong account name or password"),
        )


class NickTimeoutTests(AccountCase):
    """Nick protection's timeout policy, as a JSON client sees it."""

    def setUp(self) -> None:
        super().setUp()
        self.account("alice")
        chat = self.server.chat
        chat.nick_protection = "timeout"
        self.guard = NickGuard(chat, self.server.clock, 30)
        chat.nick_claimed = self.guard.claimed
        self.addCleanup(self.guard.stop)

    def test_renamed_unless_logged_in_in_time(self) -> None:
        client = self.anonymous()
        self.assertEqual(client.request("nick", nick="alice")["nick"], "alice")
        self.server.clock.advance(0)
        [warning] = client.lines()
        self.assertEqual(
            (warning["type"], warning["from"], warning["notice"], warning["text"]),
            (
                "message",
                "NickServ",
                True,
                "The nick alice belongs to the account alice: log in to it within"
                " 30 seconds or you will be renamed",
            ),
        )
        self.server.clock.advance(31)
        [renamed] = client.lines()
        self.assertEqual((renamed["type"], renamed["old"]), ("nick", "alice"))
        self.assertTrue(renamed["new"].startswith("Guest"))
        self.assertEqual(client.proto.user.nick, renamed["new"])  # type: ignore[union-attr]

    def test_logging_in_keeps_the_nick(self) -> None:
        client = self.anonymous()
        client.request("nick", nick="alice")
        self.server.clock.advance(10)
        client.lines()
        self.assertEqual(client.request("login", password=PASSWORD)["account"], "alice")
        self.server.clock.advance(30)
        self.assertEqual(client.lines(), [])
        self.assertEqual(client.proto.user.nick, "alice")  # type: ignore[union-attr]


class DisplayTests(AccountCase):
    def test_join_and_who_name_the_accounts(self) -> None:
        alice = self.registered("alice", "#c")
        bob = self.member("bob", "#c")
        alice.lines()
        self.account("dave")
        dave = self.logged_in("dave", "Dave")
        carol = self.member("carol")
        reply = carol.request("join", channel="#c")
        self.assertEqual(reply["members"], ["alice", "bob", "carol"])
        self.assertEqual(reply["accounts"], {"alice": "alice"})
        self.assertEqual(
            alice.lines(), [{"type": "join", "channel": "#c", "nick": "carol"}]
        )
        dave.request("join", channel="#c")
        self.assertEqual(
            alice.lines(),
            [{"type": "join", "channel": "#c", "nick": "Dave", "account": "dave"}],
        )
        who = bob.request("who", channel="#c")
        self.assertEqual(who["accounts"], {"alice": "alice", "Dave": "dave"})

    def test_events_carry_the_actors_account(self) -> None:
        alice = self.registered("alice", "#c")
        bob = self.member("bob", "#c")
        alice.lines()
        said = alice.request("msg", to="#c", text="hi")
        alice.request("msg", to="bob", text="psst", action=True)
        alice.request("topic", channel="#c", topic="accounts")
        alice.request("away", message="lunch")
        [channel_message, private, topic, away] = bob.lines()
        self.assertEqual(
            channel_message,
            {
                "type": "message",
                "from": "alice",
                "to": "#c",
                "text": "hi",
                "ts": said["ts"],
                "msgid": said["msgid"],
                "account": "alice",
            },
        )
        for event in (private, topic, away):
            self.assertEqual(event["account"], "alice", event)
        bob.request("msg", to="#c", text="and me")
        [plain] = alice.lines()
        self.assertNotIn("account", plain)


class OperTests(AccountCase):
    def test_oper(self) -> None:
        ircop = self.member("ircop")
        self.assertEqual(
            error(ircop.request("oper", name="nobody", password="operpassword")),
            ("oper_no_host", "no operator block matches your host"),
        )
        self.assertEqual(
            error(ircop.request("oper", name="admin", password="wrongpassword")),
            ("oper_bad_password", "wrong operator password"),
        )
        self.assertEqual(
            error(ircop.request("oper", name="admin")),
            ("bad_args", "missing field 'password'"),
        )
        self.assertIsNone(self.server.chat.find_user("ircop").oper)  # type: ignore[union-attr]
        self.assertEqual(
            ircop.request("oper", name="admin", password="operpassword", id=6),
            {"type": "ok", "cmd": "oper", "id": 6, "oper": "admin"},
        )
        self.assertEqual(self.server.chat.find_user("ircop").oper, "admin")  # type: ignore[union-attr]
        self.server.factory.opers = None
        self.assertEqual(
            error(self.member("other").request("oper", name="admin", password="x")),
            ("oper_no_host", "this server has no operators"),
        )
        self.assertEqual(
            error(self.anonymous().request("oper", name="admin", password="x"))[0],
            "nick_required",
        )

    def oper(self, nick: str, *channels: str) -> Client:
        client = self.member(nick, *channels)
        reply = client.request("oper", name="admin", password="operpassword")
        self.assertEqual(reply["type"], "ok", reply)
        return client

    def test_kill(self) -> None:
        alice = self.member("alice", "#c")
        bob = self.member("bob", "#c")
        alice.lines()
        self.assertEqual(
            error(bob.request("kill", nick="alice", reason="no")),
            ("not_oper", "only server operators may do that"),
        )
        ircop = self.oper("ircop")
        self.assertEqual(
            error(ircop.request("kill", nick="nobody")),
            ("no_such_nick", "no user is called nobody"),
        )
        self.assertEqual(
            ircop.request("kill", nick="ALICE", reason="spamming", id=7),
            {"type": "ok", "cmd": "kill", "id": 7, "nick": "alice"},
        )
        self.assertEqual(
            alice.lines(),
            [{"type": "bye", "code": "killed", "reason": "Killed (ircop (spamming))"}],
        )
        self.assertFalse(alice.connected)
        self.assertEqual(
            bob.lines(),
            [{"type": "quit", "nick": "alice", "reason": "Killed (ircop (spamming))"}],
        )
        self.assertIsNone(self.server.chat.find_user("alice"))
        ircop.request("kill", nick="bob")
        self.assertEqual(bob.lines()[-1]["reason"], "Killed (ircop (no reason))")
        self.assertTrue(ircop.connected)

    def test_an_operator_acts_in_any_channel(self) -> None:
        bob = self.member("bob", "#hush")
        bob.request("mode", channel="#hush", set={"secret": True})
        ircop = self.member("ircop")
        self.assertEqual(ircop.request("list")["channels"], [])
        ircop.request("oper", name="admin", password="operpassword")
        self.assertEqual(
            ircop.request("list")["channels"],
            [{"channel": "#hush", "members": 1, "topic": ""}],
        )
        reply = ircop.request("kick", channel="#hush", nick="bob", reason="out")
        self.assertEqual(reply["nick"], "bob")
        self.assertEqual(
            bob.lines(),
            [
                {
                    "type": "kick",
                    "channel": "#hush",
                    "nick": "bob",
                    "by": "ircop",
                    "reason": "out",
                }
            ],
        )

    def test_killing_yourself_ends_with_the_bye(self) -> None:
        ircop = self.oper("ircop")
        ircop.lines()
        ircop.send({"cmd": "kill", "nick": "ircop", "reason": "oops"})
        self.assertEqual(
            ircop.lines(),
            [{"type": "bye", "code": "killed", "reason": "Killed (ircop (oops))"}],
        )

    def test_wallops(self) -> None:
        other_oper = self.oper("other")
        plain = self.member("plain")
        self.assertEqual(
            error(plain.request("wallops", text="hi")),
            ("not_oper", "only server operators may do that"),
        )
        ircop = self.oper("ircop")
        other_oper.lines()
        self.assertEqual(
            ircop.request("wallops", text="hi everyone", id=8),
            {"type": "ok", "cmd": "wallops", "id": 8},
        )
        self.assertEqual(
            other_oper.lines(),
            [{"type": "wallops", "by": "ircop", "text": "hi everyone"}],
        )
        self.assertEqual(plain.lines(), [])
        self.assertEqual(ircop.lines(), [])
        self.assertEqual(
            error(ircop.request("wallops", text="")), ("bad_args", "say something")
        )

    def test_rehash(self) -> None:
        plain = self.member("plain")
        self.assertEqual(error(plain.request("rehash"))[0], "not_oper")
        ircop = self.oper("ircop")
        self.assertEqual(
            error(ircop.request("rehash", id=9)),
            (
                "no_config",
                "chatd was started without --config: there is no file to reload",
            ),
        )
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.server.factory.rehash = lambda: succeed("limits changed: flood.rate")
        self.assertEqual(
            ircop.request("rehash", id=10),
            {
                "type": "ok",
                "cmd": "rehash",
                "id": 10,
                "summary": "limits changed: flood.rate",
            },
        )
        self.assertIn(
            "server operator admin (ircop) asked for a REHASH",
            [e.get("log_format", "").format(**e) for e in logged],
        )
        self.server.factory.rehash = lambda: fail(
            ConfigError("chatd.toml: flood.rate", "must be more than 0")
        )
        self.assertEqual(
            error(ircop.request("rehash")),
            ("invalid_config", "chatd.toml: flood.rate: must be more than 0"),
        )
        self.server.factory.rehash = lambda: fail(NoConfigFile())
        self.assertEqual(error(ircop.request("rehash"))[0], "no_config")
        self.server.factory.rehash = lambda: fail(RuntimeError("a bug"))
        self.assertEqual(error(ircop.request("rehash"))[0], "internal_error")
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)


class ChannelRegistrationTests(AccountCase):
    def test_register_channel(self) -> None:
        alice = self.registered("Alice", "#c")
        bob = self.member("bob", "#c")
        self.assertEqual(
            alice.request("register_channel", channel="#C", id=11),
            {
                "type": "ok",
                "cmd": "register_channel",
                "id": 11,
                "channel": "#c",
                "founder": "Alice",
            },
        )
        self.assertEqual(
            error(alice.request("register_channel", channel="#c")),
            ("already_registered", "#c is registered already"),
        )
        self.assertEqual(
            error(bob.request("register_channel", channel="#c")),
            ("not_logged_in", "log in to an account to register a channel"),
        )
        self.account("carol")
        carol = self.logged_in("carol", "carol", "#c")
        self.assertEqual(
            error(carol.request("register_channel", channel="#c"))[0],
            "not_channel_operator",
        )
        self.assertEqual(
            error(carol.request("register_channel", channel="#nowhere")),
            ("no_such_channel", "there is no channel #nowhere"),
        )
        self.assertEqual(
            error(carol.request("register_channel", channel="nowhere"))[0],
            "bad_channel",
        )

    def test_a_registered_channel_outlives_its_members(self) -> None:
        alice = self.registered("alice", "#c")
        alice.request("register_channel", channel="#c")
        alice.request("topic", channel="#c", topic="kept")
        alice.request("mode", channel="#c", set={"moderated": True})
        alice.request("leave", channel="#c")
        alice.send({"cmd": "quit"})
        bob = self.member("bob")
        self.assertEqual(
            bob.request("list")["channels"],
            [{"channel": "#c", "members": 0, "topic": "kept"}],
        )
        reply = bob.request("join", channel="#c")
        self.assertEqual((reply["topic"], reply["privileges"]), ("kept", {}))
        self.assertTrue(bob.request("mode", channel="#c")["modes"]["moderated"])
        # The founder, back, is made operator by the server.
        founder = self.logged_in("alice", "alice2")
        given = {
            "type": "mode",
            "channel": "#c",
            "by": "",
            "changes": [{"mode": "op", "set": True, "param": "alice2"}],
        }
        # The members see the server give it; the joiner's reply says it.
        [reply] = exchange(founder, "join", channel="#c")
        self.assertEqual(reply["privileges"], {"alice2": ["op"]})
        self.assertEqual(
            bob.lines(),
            [
                {"type": "join", "channel": "#c", "nick": "alice2", "account": "alice"},
                given,
            ],
        )

    def test_access(self) -> None:
        alice = self.registered("alice", "#c")
        alice.request("register_channel", channel="#c")
        self.account("Bob")
        bob = self.logged_in("Bob", "Bob")
        self.assertEqual(
            error(bob.request("access", channel="#c", account="bob", level="op")),
            (
                "not_founder",
                "only the founder of #c may do that (log in to the account that"
                " registered it)",
            ),
        )
        self.assertEqual(
            alice.request("access", channel="#c", account="BOB", level="voice", id=12),
            {
                "type": "ok",
                "cmd": "access",
                "id": 12,
                "channel": "#c",
                "founder": "alice",
                "access": {"Bob": "voice"},
            },
        )
        # Anyone may read it.
        self.assertEqual(
            bob.request("access", channel="#C")["access"], {"Bob": "voice"}
        )
        alice.lines()
        [reply] = exchange(bob, "join", channel="#c")
        self.assertEqual(reply["privileges"], {"alice": ["op"], "Bob": ["voice"]})
        self.assertEqual(
            alice.lines()[1]["changes"],
            [{"mode": "voice", "set": True, "param": "Bob"}],
        )
        bad: list[tuple[dict[str, Any], str, str]] = [
            (
                {"account": "bob"},
                "bad_args",
                'missing field \'level\' ("op", "voice" or null)',
            ),
            (
                {"account": "bob", "level": "owner"},
                "bad_args",
                'field \'level\' is "op", "voice" or null',
            ),
            (
                {"account": "bob", "level": ["op"]},
                "bad_args",
                'field \'level\' is "op", "voice" or null',
            ),
            (
                {"account": "9lives", "level": "op"},
                "bad_nick",
                "'9lives' is not a valid nick: 1 to 30 ASCII letters, digits or"
                " -_[]{}|^`\\, not starting with a digit or -",
            ),
        ]
        for args, code, message in bad:
            reply = alice.request("access", channel="#c", **args)
            self.assertEqual(error(reply), (code, message), args)
        reply = alice.request("access", channel="#c", account="bob", level=None)
        self.assertEqual(reply["access"], {})

    def test_reading_the_access_list_of_other_channels(self) -> None:
        alice = self.registered("alice", "#open", "#hush")
        alice.request("mode", channel="#hush", set={"secret": True})
        alice.request("register_channel", channel="#hush")
        outsider = self.member("eve")
        self.assertEqual(
            error(outsider.request("access", channel="#open")),
            (
                "not_registered",
                "#open is not registered: its operators register it with"
                ' {"cmd":"register_channel","channel":"#open"}',
            ),
        )
        for name in ("#hush", "#nowhere"):
            self.assertEqual(
                error(outsider.request("access", channel=name)),
                ("no_such_channel", f"there is no channel {name}"),
            )
        self.assertEqual(
            error(outsider.request("access", channel="hush"))[0], "bad_channel"
        )
        self.assertEqual(alice.request("access", channel="#hush")["founder"], "alice")
        ircop = self.member("ircop")
        ircop.request("oper", name="admin", password="operpassword")
        self.assertEqual(ircop.request("access", channel="#hush")["founder"], "alice")

    def test_drop_channel(self) -> None:
        alice = self.registered("alice", "#c")
        alice.request("register_channel", channel="#c")
        self.account("bob")
        bob = self.logged_in("bob", "bob", "#c")
        self.assertEqual(
            error(bob.request("drop_channel", channel="#c"))[0], "not_founder"
        )
        self.assertEqual(
            alice.request("drop_channel", channel="#c", id=13),
            {"type": "ok", "cmd": "drop_channel", "id": 13, "channel": "#c"},
        )
        self.assertEqual(
            error(alice.request("drop_channel", channel="#c")),
            (
                "not_registered",
                "#c is not registered: its operators register it with"
                ' {"cmd":"register_channel","channel":"#c"}',
            ),
        )
        # Unregistered, it goes with its last member again.
        alice.request("leave", channel="#c")
        bob.request("leave", channel="#c")
        self.assertIsNone(self.server.chat.find_channel("#c"))

    def test_a_server_operator_may_drop_anyones(self) -> None:
        alice = self.registered("alice", "#c")
        alice.request("register_channel", channel="#c")
        alice.send({"cmd": "quit"})
        ircop = self.member("ircop")
        ircop.request("oper", name="admin", password="operpassword")
        self.assertEqual(ircop.request("drop_channel", channel="#c")["channel"], "#c")
        self.assertIsNone(self.server.chat.find_channel("#c"))


class CrossProtocolTests(AccountCase):
    def setUp(self) -> None:
        super().setUp()
        self.irc_factory = IRCFactory(
            self.server.chat,
            self.server.clock,
            idle_timeout=180,
            server_name="irc.test",
            network="TestNet",
            created=0,
            flood=FloodLimit(burst=0),
        )
        self.irc_factory.accounts = self.server.factory.accounts
        self.irc_factory.opers = self.server.factory.opers

    def irc(self) -> IRCClient:
        return IRCClient(self.irc_factory, 50001)

    def test_a_json_account_over_irc_sasl_plain(self) -> None:
        self.account("jilles")
        watcher = self.member("watcher", "#c")
        client = self.irc()
        client.send("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
        client.lines()
        blob = b64(f"\0jilles\0{PASSWORD}")
        self.assertEqual(
            [line.command for line in client.ask(f"AUTHENTICATE {blob}")],
            ["900", "903"],
        )
        client.send("NICK jilles", "USER j 0 * :J", "CAP END", "JOIN #c")
        self.assertIn("001", [line.command for line in client.lines()])
        self.assertEqual(
            watcher.lines(),
            [{"type": "join", "channel": "#c", "nick": "jilles", "account": "jilles"}],
        )
        client.send("PRIVMSG #c :hello from IRC")
        self.assertEqual(watcher.lines()[0]["account"], "jilles")

    def test_a_wrong_password_over_irc_and_the_nick_is_guarded(self) -> None:
        self.account("jilles")
        client = self.irc()
        client.send("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
        client.lines()
        self.assertEqual(
            [
                line.command
                for line in client.ask(
                    f"AUTHENTICATE {b64(chr(0) + 'jilles' + chr(0) + 'wrong-pass')}"
                )
            ],
            ["904"],
        )
        client.send("NICK jilles", "USER j 0 * :J", "CAP END")
        [refusal] = [line for line in client.lines() if line.command == "433"]
        self.assertIn("belongs to the account jilles", refusal.params[-1])

    def test_irc_users_see_json_logins(self) -> None:
        self.account("alice")
        watcher = self.irc().register("watcher", "account-notify")
        watcher.send("JOIN #c")
        json_user = self.member("al", "#c")
        watcher.lines()
        json_user.request("login", account="alice", password=PASSWORD)
        self.assertEqual(watcher.raw(), [":al!json@127.0.0.1 ACCOUNT alice"])


class Later:
    """
    A hashing pool that runs nothing until told: the Hasher's C{run}, for
    password checks that finish later, as they do off the reactor thread.
    """

    def __init__(self) -> None:
        self.waiting: list[
            tuple[Deferred[Any], Callable[..., Any], tuple[Any, ...]]
        ] = []

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.waiting.append((d, fn, args))
        return d

    def finish(self) -> None:
        waiting, self.waiting = self.waiting, []
        for d, fn, args in waiting:
            d.callback(fn(*args))


class SlowHashTests(AccountCase):
    def setUp(self) -> None:
        super().setUp()
        self.account("alice")
        self.pool = Later()
        self.accounts.hasher = Hasher(self.pool, max_pending=1, ln=TEST_LN)

    def test_later_requests_wait_for_the_login(self) -> None:
        watcher = self.member("watcher", "#c")
        al = self.member("al", "#c")
        watcher.lines()
        al.send({"cmd": "login", "account": "alice", "password": PASSWORD, "id": 1})
        al.send({"cmd": "msg", "to": "#c", "text": "am I in?", "id": 2})
        self.assertEqual((al.lines(), watcher.lines()), ([], []))
        self.pool.finish()
        self.assertEqual(
            [(line["cmd"], line["id"]) for line in al.lines()],
            [("login", 1), ("msg", 2)],
        )
        [account, message] = watcher.lines()
        self.assertEqual(account, {"type": "account", "nick": "al", "account": "alice"})
        self.assertEqual(message["account"], "alice")

    def test_a_busy_pool_refuses_at_once(self) -> None:
        first = self.anonymous()
        first.send({"cmd": "login", "account": "alice", "password": PASSWORD})
        second = self.anonymous()
        self.assertEqual(
            error(second.request("login", account="alice", password=PASSWORD)),
            ("unavailable", "the server is busy checking passwords; try again soon"),
        )
        self.pool.finish()
        self.assertEqual(first.lines()[0]["account"], "alice")

    def test_who_left_meanwhile_is_logged_in_to_nothing(self) -> None:
        watcher = self.member("watcher", "#c")
        al = self.member("al", "#c")
        watcher.lines()
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        al.send({"cmd": "login", "account": "alice", "password": PASSWORD})
        user = al.proto.user
        al.transport.loseConnection()
        self.pool.finish()
        assert user is not None
        self.assertIsNone(user.account)
        self.assertEqual(
            watcher.lines(),
            [{"type": "quit", "nick": "al", "reason": "connection closed"}],
        )
        self.assertEqual(
            [e for e in logged if "logged in" in e.get("log_format", "")], []
        )


class CommandTableTests(SynchronousTestCase):
    def test_help_lists_the_account_commands(self) -> None:
        reply = Server().user("alice").request("help")
        before_nick = {"register", "login", "logout", "passwd", "drop_account"}
        with_nick = {
            "oper",
            "kill",
            "wallops",
            "rehash",
            "register_channel",
            "drop_channel",
            "access",
        }
        for name in before_nick | with_nick:
            self.assertTrue(reply["commands"][name].startswith('{"cmd":"' + name))
            self.assertEqual(COMMANDS[name][1], name in with_nick, name)

"""
Accounts and server operators on IRC, on StringTransports with a Clock:
SASL (PLAIN and SCRAM-SHA-256), REGISTER, nick protection, the account
capabilities, WHOIS and WHOX, OPER, KILL, WALLOPS, NickServ and ChanServ.
"""

from __future__ import annotations

from base64 import b64decode, b64encode

from scramp import ScramClient

from chatd.accounts.passwords import hash_password
from chatd.irc.message import Line
from tests.support import TEST_LN, OperBlock, give_accounts
from tests.test_irc import SERVER, IRCCase, IRCClient
from tests.test_protocol_accounts import error


def plain(account: str, password: str, authzid: str = "") -> str:
    return b64encode(f"{authzid}\0{account}\0{password}".encode()).decode()


class AccountCase(IRCCase):
    def setUp(self) -> None:
        super().setUp()
        self.accounts = give_accounts(
            [self.factory, self.server.factory],
            self.server.chat,
            self.server.clock,
            opers={"admin": "operpassword"},
        )

    def account(self, name: str, password: str = "sesame123") -> None:
        """Register C{name} from a connection that then quits."""
        client = self.irc(name)
        [reply] = [
            line
            for line in client.ask(f"REGISTER * * {password}")
            if line.command == "REGISTER"
        ]
        self.assertEqual(reply.params[:2], ["SUCCESS", name])
        client.send("QUIT")

    def sasl(self, client: IRCClient, blob: str) -> list[Line]:
        client.send("CAP REQ :sasl")
        self.assertEqual(client.ask("AUTHENTICATE PLAIN")[-1].params, ["+"])
        return client.ask(f"AUTHENTICATE {blob}")


class CapabilityTests(AccountCase):
    def test_cap_ls_offers_sasl_and_registration(self) -> None:
        client = self.connect()
        [ls] = client.ask("CAP LS 302")
        caps = ls.params[-1].split()
        self.assertIn("sasl=PLAIN,SCRAM-SHA-256", caps)
        self.assertIn("draft/account-registration=before-connect", caps)
        for cap in ("account-notify", "account-tag", "extended-join"):
            self.assertIn(cap, caps)
        [ls] = client.ask("CAP LS")
        self.assertIn("sasl", ls.params[-1].split())

    def test_no_sasl_without_accounts(self) -> None:
        self.factory.accounts = None
        [ls] = self.connect().ask("CAP LS 302")
        self.assertNotIn("sasl", ls.params[-1])


class RegisterTests(AccountCase):
    def test_register_logs_in_and_reserves_the_nick(self) -> None:
        bob = self.irc("bob")
        lines = bob.ask("REGISTER * * sesame123")
        self.assertEqual(
            [(line.command, line.params[:3]) for line in lines],
            [
                ("REGISTER", ["SUCCESS", "bob", "Account created"]),
                ("900", ["bob", "bob!~bob@127.0.0.1", "bob"]),
            ],
        )
        self.assertEqual(self.server.chat.find_user("bob").account, "bob")  # type: ignore[union-attr]
        bob.send("QUIT")
        other = self.connect()
        other.send("NICK BOB", "USER x 0 * :x")
        [refusal] = other.lines()
        self.assertEqual(refusal.command, "433")
        self.assertIn("belongs to the account bob", refusal.params[-1])

    def test_register_before_connecting_with_the_pending_nick(self) -> None:
        client = self.connect()
        client.send("CAP LS 302", "NICK bar")
        [reply] = [
            r for r in client.ask("REGISTER * * sesame123") if r.command != "900"
        ]
        self.assertEqual(reply.params[:2], ["SUCCESS", "bar"])
        client.send("USER bar 0 * :Bar", "CAP END")
        self.assertIn("001", [line.command for line in client.lines()])

    def test_refusals(self) -> None:
        self.irc("root")
        grabber = self.connect()
        grabber.send("NICK root")
        grabber.lines()
        [fail] = grabber.ask("REGISTER * * sesame123")
        self.assertEqual(fail.params[:3], ["REGISTER", "ACCOUNT_EXISTS", "root"])
        bar = self.irc("bar")
        [fail] = bar.ask("REGISTER foo * sesame123")
        self.assertEqual(
            fail.params[:3], ["REGISTER", "ACCOUNT_NAME_MUST_BE_NICK", "foo"]
        )
        self.accounts.min_password_length = 8
        [fail] = bar.ask("REGISTER * * short")
        self.assertEqual(fail.params[:2], ["REGISTER", "WEAK_PASSWORD"])
        self.assertIn("at least 8", fail.params[-1])
        self.accounts.min_password_length = 1
        [fail] = bar.ask("REGISTER * nonsense sesame123")
        self.assertEqual(fail.params[:2], ["REGISTER", "INVALID_EMAIL"])
        bar.ask("REGISTER * * sesame123")
        [fail] = bar.ask("REGISTER * * sesame123")
        self.assertEqual(fail.params[:2], ["REGISTER", "ALREADY_AUTHENTICATED"])

    def test_per_address_limit(self) -> None:
        for nick in ("a1", "a2", "a3"):
            self.account(nick)
        client = self.irc("a4")
        [fail] = client.ask("REGISTER * * sesame123")
        self.assertEqual(fail.params[:2], ["REGISTER", "TEMPORARILY_UNAVAILABLE"])
        self.server.clock.advance(3601)
        self.assertEqual(client.ask("REGISTER * * sesame123")[0].params[0], "SUCCESS")


class SaslTests(AccountCase):
    def test_plain_before_registration(self) -> None:
        self.account("jilles", "sesame123")
        client = self.connect()
        client.send("CAP LS 302")
        lines = self.sasl(client, plain("jilles", "sesame123"))
        self.assertEqual(
            [(line.command, line.params[2:3]) for line in lines],
            [("900", ["jilles"]), ("903", [])],
        )
        client.send("NICK jilles", "USER j 0 * :J", "CAP END")
        self.assertIn("001", [line.command for line in client.lines()])
        self.assertEqual(
            self.server.chat.find_user("jilles").account,
            "jilles",  # type: ignore[union-attr]
        )

    def test_failure_retry_and_throttle(self) -> None:
        self.account("jilles", "sesame123")
        client = self.connect()
        client.send("CAP LS 302")
        self.assertEqual(
            [line.command for line in self.sasl(client, plain("jilles", "wrong-pw"))],
            ["904"],
        )
        self.assertEqual(
            self.sasl(client, plain("jilles", "sesame123"))[0].command, "900"
        )
        other = self.connect()
        other.send("CAP LS 302")
        for _ in range(5):
            self.assertEqual(
                self.sasl(other, plain("jilles", "nope-nope"))[0].command, "904"
            )
        [refused] = self.sasl(other, plain("jilles", "sesame123"))
        self.assertEqual(refused.command, "904")
        self.assertIn("too many failed logins", refused.params[-1])
        self.server.clock.advance(900)
        self.assertEqual(
            self.sasl(other, plain("jilles", "sesame123"))[0].command, "900"
        )

    def test_chunks_of_exactly_400(self) -> None:
        password = "bar" * 97
        self.account("jilles", password)
        blob = plain("jilles", password)
        self.assertEqual(len(blob), 400)
        client = self.connect()
        client.send("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
        client.lines()
        self.assertEqual(client.ask(f"AUTHENTICATE {blob}"), [])
        self.assertEqual(
            [line.command for line in client.ask("AUTHENTICATE +")], ["900", "903"]
        )

    def test_bad_input(self) -> None:
        client = self.connect()
        client.send("CAP LS 302", "CAP REQ :sasl")
        client.lines()
        codes = [line.command for line in client.ask("AUTHENTICATE FOO")]
        self.assertEqual(codes, ["908", "904"])
        client.ask("AUTHENTICATE PLAIN")
        self.assertEqual(client.ask("AUTHENTICATE !!!")[0].command, "904")
        client.ask("AUTHENTICATE PLAIN")
        self.assertEqual(client.ask("AUTHENTICATE " + "A" * 401)[0].command, "905")
        client.ask("AUTHENTICATE PLAIN")
        for _ in range(30):
            client.send("AUTHENTICATE " + "A" * 400)
        self.assertIn("904", [line.command for line in client.lines()])
        self.assertTrue(client.connected)
        client.ask("AUTHENTICATE PLAIN")
        [abort] = client.ask("AUTHENTICATE *")
        self.assertEqual((abort.command, abort.params[0]), ("906", "*"))

    def test_cap_end_during_sasl_aborts_and_registers(self) -> None:
        client = self.connect()
        client.send("CAP LS 302", "CAP REQ :sasl", "AUTHENTICATE PLAIN")
        client.lines()
        client.send("NICK reguser", "USER r 0 * :R")
        self.assertEqual(client.lines(), [])
        codes = [line.command for line in client.ask("CAP END")]
        self.assertEqual(codes[0], "906")
        self.assertIn("001", codes)

    def test_after_registration_and_account_notify(self) -> None:
        self.account("jilles", "sesame123")
        watcher = self.irc("watcher", "#c", caps=("account-notify",))
        client = self.irc("bar", "#c", caps=("sasl",))
        watcher.lines()
        lines = self.sasl(client, plain("jilles", "sesame123"))
        self.assertEqual([line.command for line in lines], ["900", "903"])
        self.assertEqual(watcher.raw(), [":bar!~bar@127.0.0.1 ACCOUNT jilles"])
        [again] = client.ask("AUTHENTICATE PLAIN")
        self.assertEqual(again.command, "907")

    def test_scram_sha_256(self) -> None:
        self.account("Scramtest", "sesame123")
        for password, outcome in (("sesame123", "900"), ("millet-x", "904")):
            client = self.connect()
            client.send("CAP LS 302", "CAP REQ :sasl")
            client.lines()
            self.assertEqual(client.ask("AUTHENTICATE SCRAM-SHA-256")[-1].params, ["+"])
            scram = ScramClient(["SCRAM-SHA-256"], "Scramtest", password)
            first = b64encode(scram.get_client_first().encode()).decode()
            [challenge] = client.ask(f"AUTHENTICATE {first}")
            scram.set_server_first(b64decode(challenge.params[0]).decode())
            final = b64encode(scram.get_client_final().encode()).decode()
            reply = client.ask(f"AUTHENTICATE {final}")
            if outcome == "904":
                self.assertEqual(reply[0].command, "904")
                continue
            scram.set_server_final(b64decode(reply[0].params[0]).decode())
            self.assertEqual(
                [line.command for line in client.ask("AUTHENTICATE +")], ["900", "903"]
            )


class DisplayTests(AccountCase):
    def setUp(self) -> None:
        super().setUp()
        self.account("jilles", "sesame123")

    def logged_in(self, nick: str, *caps: str) -> IRCClient:
        client = self.connect()
        client.send("CAP LS 302")
        self.sasl(client, plain("jilles", "sesame123"))
        client.send(f"NICK {nick}", "USER f * * :Realname")
        if caps:
            client.send(f"CAP REQ :{' '.join(caps)}")
        client.send("CAP END")
        client.lines()
        return client

    def test_extended_join_and_account_tag(self) -> None:
        foo = self.irc("foo", "#chan", caps=("extended-join", "account-tag"))
        anon = self.irc("anon")
        anon.send("JOIN #chan")
        self.assertEqual(foo.lines()[0].params, ["#chan", "*", "anon Example"])
        bar = self.logged_in("bar")
        bar.send("JOIN #chan")
        self.assertEqual(foo.lines()[0].params, ["#chan", "jilles", "Realname"])
        bar.send("PRIVMSG foo :hi")
        [message] = foo.lines()
        self.assertEqual(message.tags, {"account": "jilles"})
        anon.send("PRIVMSG foo :hi")
        self.assertEqual(foo.lines()[0].tags, {})

    def test_whois_and_whox(self) -> None:
        self.logged_in("bar")
        curious = self.irc("curious")
        whois = {line.command: line.params for line in curious.ask("WHOIS bar")}
        self.assertEqual(whois["330"][:3], ["curious", "bar", "jilles"])
        [reply, end] = curious.ask("WHO bar %na")
        self.assertEqual(
            (reply.command, reply.params), ("354", ["curious", "bar", "jilles"])
        )
        self.assertEqual(end.command, "315")
        [reply, _] = curious.ask("WHO curious %tna,42")
        self.assertEqual(reply.params, ["curious", "42", "curious", "0"])
        full = curious.ask("WHO curious %tcuihsnfdlaor,1")[0].params
        self.assertEqual(len(full), 14)
        self.assertEqual(full[6:9], [SERVER, "curious", "H"])
        isupport = " ".join(self.factory.isupport)
        self.assertIn("WHOX", isupport)


class AccountBanTests(AccountCase):
    def test_account_extban_is_advertised_and_matches_the_account(self) -> None:
        # IRCv3 account-extban: EXTBAN names the prefix, ACCOUNTEXTBAN the type.
        isupport = self.factory.isupport
        self.assertIn("EXTBAN=$,a", isupport)
        self.assertIn("ACCOUNTEXTBAN=a", isupport)
        self.account("jilles", "sesame123")
        op = self.irc("op", "#c")
        self.assertEqual(op.codes("MODE #c +b $a:jilles"), ["MODE"])
        # Only the account is banned, not other guests.
        guest = self.irc("guest")
        self.assertEqual(guest.codes("JOIN #c")[0], "JOIN")
        client = self.connect()
        client.send("CAP LS 302")
        self.assertEqual(
            self.sasl(client, plain("jilles", "sesame123"))[-1].command, "903"
        )
        client.send("NICK anything", "USER j 0 * :J", "CAP END")
        client.lines()
        self.assertEqual(client.codes("JOIN #c"), ["474"])
        self.assertEqual(op.codes("MODE #c -b $a:jilles"), ["MODE"])
        self.assertEqual(client.codes("JOIN #c")[0], "JOIN")


class OperTests(AccountCase):
    def test_oper_kill_wallops(self) -> None:
        ircop = self.irc("ircop")
        alice = self.irc("alice", "#c")
        bob = self.irc("bob", "#c")
        self.assertEqual(alice.codes("KILL bob :no"), ["481"])
        self.assertEqual(alice.codes("KILL alice :no"), ["481"])
        self.assertEqual(alice.codes("WALLOPS :hi"), ["481"])
        self.assertEqual(ircop.codes("OPER admin wrongpassword"), ["464"])
        self.assertEqual(ircop.codes("OPER nobody operpassword"), ["491"])
        lines = ircop.ask("OPER admin operpassword")
        self.assertEqual([line.command for line in lines], ["381", "MODE"])
        self.assertEqual(lines[1].params, ["ircop", "+ow"])
        whois = {line.command for line in bob.ask("WHOIS ircop")}
        self.assertIn("313", whois)
        bob.send("MODE bob +w")
        bob.lines()
        ircop.send("WALLOPS :hi everyone")
        self.assertEqual(bob.raw(), [":ircop!~ircop@127.0.0.1 WALLOPS :hi everyone"])
        self.assertEqual(alice.lines(), [])
        ircop.send("KILL alice :spamming")
        self.assertFalse(alice.connected)
        self.assertIn(
            "ERROR :Closing Link: 127.0.0.1 (Killed (ircop (spamming)))",
            alice.raw(),
        )
        self.assertEqual(
            bob.raw(), [":alice!~alice@127.0.0.1 QUIT :Killed (ircop (spamming))"]
        )
        self.assertTrue(ircop.connected)

    def test_a_reload_takes_away_what_the_config_no_longer_gives(self) -> None:
        opers = self.factory.opers
        assert opers is not None
        admin = opers.blocks["admin"]
        ircop = self.irc("ircop")
        json = self.server.user("jop")
        ircop.ask("OPER admin operpassword")
        self.assertEqual(
            json.request("oper", name="admin", password="operpassword")["type"], "ok"
        )
        victim = self.irc("victim")
        # The same block again: nothing changes.
        opers.reload([admin], self.server.chat)
        self.assertEqual(ircop.lines(), [])
        self.assertEqual(json.lines(), [])
        # A new password: both must OPER again, and are told at once.
        moved = OperBlock("admin", hash_password("newpassword", ln=TEST_LN))
        opers.reload([moved], self.server.chat)
        why = "the operator block admin has a new password: OPER again"
        self.assertEqual(
            ircop.raw(),
            [
                ":ircop!~ircop@127.0.0.1 MODE ircop -o",
                f":{SERVER} NOTICE ircop :You are no longer a server operator: {why}",
            ],
        )
        self.assertEqual(json.lines(), [{"type": "oper", "oper": None, "reason": why}])
        self.assertEqual(ircop.codes("KILL victim :bye"), ["481"])
        self.assertNotIn("313", victim.codes("WHOIS ircop"))
        self.assertEqual(
            error(json.request("kill", nick="victim", reason="x"))[0], "not_oper"
        )
        self.assertTrue(victim.connected)
        # Gone from the file: the same.
        self.assertEqual(ircop.ask("OPER admin newpassword")[0].command, "381")
        opers.reload([], self.server.chat)
        self.assertIn("no longer in the config", ircop.raw()[-1])
        self.assertEqual(ircop.codes("WALLOPS :hi"), ["481"])
        # A host mask that no longer admits them: the same.
        opers.reload([moved], self.server.chat)
        self.assertEqual(ircop.ask("OPER admin newpassword")[0].command, "381")
        opers.reload([OperBlock("admin", moved.password, "boss!*@*")], self.server.chat)
        self.assertIn("no longer admits ircop!~ircop@127.0.0.1", ircop.raw()[-1])

    def test_rehash_without_a_config_file(self) -> None:
        ircop = self.irc("ircop")
        self.assertEqual(ircop.codes("REHASH"), ["481"])
        ircop.ask("OPER admin operpassword")
        [fail] = ircop.ask("REHASH")
        self.assertEqual(fail.params[:2], ["REHASH", "NO_CONFIG"])


class ServicesTests(AccountCase):
    def test_nickserv_register_identify(self) -> None:
        test = self.irc("testuser")
        lines = test.ask("NS REGISTER sesame123")
        self.assertEqual(lines[0].params, ["testuser", "Account created"])
        self.assertTrue(lines[0].prefix.startswith("NickServ!"))
        self.assertEqual(lines[1].command, "900")
        test.send("QUIT")
        again = self.irc("someone")
        lines = again.ask("PRIVMSG NickServ :IDENTIFY testuser wrong-pass")
        self.assertEqual(lines[0].params[-1], "Invalid account credentials")
        lines = again.ask("PRIVMSG NickServ :IDENTIFY testuser sesame123")
        self.assertEqual([line.command for line in lines], ["NOTICE", "900"])
        self.assertEqual(again.codes("NICK NickServ"), ["433"])

    def test_nickserv_passwd_asks_for_the_current_password(self) -> None:
        test = self.irc("testuser")
        test.ask("NS REGISTER sesame123")
        [notice] = test.ask("NS PASSWD newsesame")
        self.assertIn(
            "Syntax: PASSWD <current password> <new password>", notice.params[-1]
        )
        [notice] = test.ask("NS PASSWD wrong-pass newsesame")
        self.assertEqual(notice.params[-1], "Your current password is wrong")
        [notice] = test.ask("NS PASSWD sesame123 newsesame")
        self.assertEqual(notice.params[-1], "Password changed")
        test.send("QUIT")
        again = self.irc("someone")
        lines = again.ask("NS IDENTIFY testuser sesame123")
        self.assertEqual(lines[0].params[-1], "Invalid account credentials")
        lines = again.ask("NS IDENTIFY testuser newsesame")
        self.assertEqual([line.command for line in lines], ["NOTICE", "900"])

    def test_chanserv_register_survives_everyone_leaving(self) -> None:
        alice = self.irc("alice", "#room")
        alice.ask("NS REGISTER sesame123")
        [notice] = alice.ask("CS REGISTER #room")
        self.assertIn("registered", notice.params[-1])
        alice.send("MODE #room +m", "TOPIC #room :kept", "PART #room")
        channel = self.server.chat.find_channel("#room")
        assert channel is not None
        self.assertEqual(channel.topic, "kept")
        bob = self.irc("bob", "#room")
        self.assertNotIn(
            "@bob", next(line.params[-1] for line in bob.ask("NAMES #room"))
        )
        alice.send("JOIN #room")
        self.assertIn(f":{SERVER} MODE #room +o alice", bob.raw())
        [notice] = bob.ask("CS DROP #room")
        self.assertIn("only the founder", notice.params[-1])


class NickTimeoutTests(AccountCase):
    def test_renamed_after_the_grace_period(self) -> None:
        self.account("alice")
        chat = self.server.chat
        chat.nick_protection = "timeout"
        from chatd.accounts.nickguard import NickGuard

        guard = NickGuard(chat, self.server.clock, 30)
        chat.nick_claimed = guard.claimed
        client = self.connect()
        client.send("NICK alice", "USER a 0 * :A")
        self.server.clock.advance(0)
        lines = client.lines()
        self.assertIn("001", [line.command for line in lines])
        warning = [line for line in lines if line.command == "NOTICE"]
        self.assertIn("within 30 seconds", warning[-1].params[-1])
        self.server.clock.advance(31)
        [nick] = client.lines()
        self.assertEqual(nick.command, "NICK")
        self.assertTrue(nick.params[0].startswith("Guest"))


class LongPasswordTests(AccountCase):
    def test_a_600_character_password_fits_but_other_lines_do_not(self) -> None:
        foo = self.irc("foo")
        lines = foo.ask("NS REGISTER " + "x" * 592)
        self.assertEqual(lines[0].params, ["foo", "Account created"])
        self.assertEqual(foo.codes("PRIVMSG foo :" + "y" * 520), ["417"])
        self.assertEqual(foo.codes("NS REGISTER " + "x" * 2100), ["417"])


class InfoTests(AccountCase):
    def test_info(self) -> None:
        alice = self.irc("alice")
        codes = alice.codes("INFO")
        self.assertEqual(codes[-1], "374")
        self.assertEqual(set(codes[:-1]), {"371"})


class EmailTests(AccountCase):
    def test_nickserv_register_checks_the_email(self) -> None:
        foo = self.irc("foo")
        [notice] = foo.ask("NS REGISTER sesame123 not-an-email")
        self.assertIn("not an email address", notice.params[-1])
        self.assertIsNone(self.accounts.find("foo"))
        lines = foo.ask("NS REGISTER sesame123 foo@example.org")
        self.assertEqual(lines[0].params[-1], "Account created")

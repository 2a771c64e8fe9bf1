"""
The IRC adapter on StringTransports driven by a Clock: registration,
every command and numeric, the IRCv3 capabilities, keep-alive, and the
meeting of IRC and JSON users in one core.
"""

from __future__ import annotations

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.trial.unittest import SynchronousTestCase

from chatd.core import Change
from chatd.irc.factory import IRCFactory
from chatd.irc.message import (
    Line,
    build,
    format_tags,
    format_time,
    parse,
    split_text,
    unescape_tag,
)
from chatd.irc.protocol import COMMANDS, IRCProtocol
from chatd.net.limits import FloodLimit
from tests.support import FakeConnection, Server

SERVER = "irc.test"


class IRCClient(FakeConnection):
    """One fake IRC connection: send lines in, read parsed lines out."""

    proto: IRCProtocol

    def __init__(self, factory: IRCFactory, port: int, ipv6: bool = False) -> None:
        address = (
            IPv6Address("TCP", "::1", port)
            if ipv6
            else IPv4Address("TCP", "127.0.0.1", port)
        )
        super().__init__(factory, address)
        assert isinstance(self.proto, IRCProtocol)

    def send(self, *lines: str) -> None:
        for line in lines:
            self.send_raw(line.encode("utf-8") + b"\r\n")

    def raw(self) -> list[str]:
        """Every line written since the last call, as text."""
        data = self.transport.value()
        self.transport.clear()
        if data:
            assert data.endswith(b"\r\n"), data
        return [line.decode("utf-8") for line in data.split(b"\r\n")[:-1]]

    def lines(self) -> list[Line]:
        return [parse(line) for line in self.raw()]

    def ask(self, line: str) -> list[Line]:
        self.lines()
        self.send(line)
        return self.lines()

    def codes(self, line: str) -> list[str]:
        """The commands (numerics) of the answer to C{line}."""
        return [reply.command for reply in self.ask(line)]

    def register(self, nick: str, *caps: str) -> IRCClient:
        if caps:
            self.send("CAP LS 302", f"CAP REQ :{' '.join(caps)}")
        self.send(f"NICK {nick}", f"USER {nick.lower()} 0 * :{nick} Example")
        if caps:
            self.send("CAP END")
        lines = self.lines()
        assert any(line.command == "001" for line in lines), lines
        return self


class IRCCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = Server()  # a JSON factory and its core, on a Clock
        self.factory = IRCFactory(
            self.server.chat,
            self.server.clock,
            idle_timeout=180,
            server_name=SERVER,
            network="TestNet",
            created=0,
            flood=FloodLimit(burst=0),  # tested on its own in test_limits
        )
        self._ports = 50000

    def tearDown(self) -> None:
        self.assertEqual(list(self.server.chat.check_invariants()), [])

    def connect(self, ipv6: bool = False) -> IRCClient:
        self._ports += 1
        return IRCClient(self.factory, self._ports, ipv6)

    def irc(self, nick: str, *channels: str, caps: tuple[str, ...] = ()) -> IRCClient:
        client = self.connect().register(nick, *caps)
        for channel in channels:
            client.send(f"JOIN {channel}")
        client.lines()
        return client


class ParsingTests(SynchronousTestCase):
    def test_parse(self) -> None:
        self.assertEqual(
            parse("@a=1;+b=x\\sy;c :nick!u@h PRIVMSG #chan :hello  world"),
            Line(
                {"a": "1", "+b": "x y", "c": ""},
                "nick!u@h",
                "PRIVMSG",
                ["#chan", "hello  world"],
            ),
        )
        self.assertEqual(parse("privmsg  #a   b"), Line({}, "", "PRIVMSG", ["#a", "b"]))
        self.assertEqual(parse("TOPIC #a :"), Line({}, "", "TOPIC", ["#a", ""]))
        self.assertEqual(parse("PART #a :x :y"), Line({}, "", "PART", ["#a", "x :y"]))
        # Only spaces separate parameters: formatting codes stay in them.
        self.assertEqual(parse("JOIN #a\x1fb")[3], ["#a\x1fb"])

    def test_tag_escapes_round_trip(self) -> None:
        value = "a;b c\\d\re\nf"
        self.assertEqual(format_tags({"k": value}), "k=a\\:b\\sc\\\\d\\re\\nf")
        self.assertEqual(unescape_tag("a\\:b\\sc\\\\d\\re\\nf"), value)
        self.assertEqual(unescape_tag("x\\qy\\"), "xqy")

    def test_build(self) -> None:
        self.assertEqual(
            build("PRIVMSG", "#a", "hi there", prefix="n!u@h"),
            ":n!u@h PRIVMSG #a :hi there",
        )
        self.assertEqual(build("PART", "#a"), "PART #a")
        self.assertEqual(build("TOPIC", "#a", ""), "TOPIC #a :")
        self.assertEqual(build("X", ":colon"), "X ::colon")

    def test_server_time_is_cut_to_the_millisecond(self) -> None:
        self.assertEqual(format_time(1790000000.9999), "2026-09-21T14:13:20.999Z")
        self.assertEqual(format_time(0), "1970-01-01T00:00:00.000Z")

    def test_split_text_keeps_characters_whole(self) -> None:
        text = "é" * 300
        pieces = split_text(text, 101)
        self.assertEqual("".join(pieces), text)
        self.assertTrue(all(len(p.encode()) <= 101 for p in pieces))
        words = "word " * 100
        pieces = split_text(words, 50)
        self.assertEqual("".join(pieces), words)
        self.assertTrue(all(p.endswith(" ") for p in pieces[:-1]))


class RegistrationTests(IRCCase):
    def test_every_client_gets_the_same_welcome_addressed_to_it(self) -> None:
        """The welcome is made once per server and copied with the nick."""
        self.factory.motd = ["Be nice.", "{braces} and \\ stay"]
        bursts = {}
        for nick in ("alice", "Bob[away]"):
            client = self.connect()
            client.send(f"NICK {nick}", "USER u 0 * :U")
            bursts[nick] = client.lines()
        alice, bob = bursts["alice"], bursts["Bob[away]"]
        self.assertEqual([x.command for x in alice], [x.command for x in bob])
        for a, b in zip(alice, bob):
            self.assertEqual((a.params[0], b.params[0]), ("alice", "Bob[away]"))
            if a.command not in ("001", "251", "255", "265", "266"):  # counts, masks
                self.assertEqual(a.params[1:], b.params[1:])
        motd = [x.params[-1] for x in bob if x.command == "372"]
        self.assertEqual(motd, ["- Be nice.", "- {braces} and \\ stay"])
        self.assertIn("004", [x.command for x in bob])

    def test_welcome_burst(self) -> None:
        alice = self.connect()
        alice.send("NICK alice", "USER al 0 * :Alice Liddell")
        lines = alice.lines()
        codes = [line.command for line in lines]
        self.assertEqual(codes[:4], ["001", "002", "003", "004"])
        self.assertIn("005", codes)
        self.assertEqual(codes[-1], "422")  # no MOTD configured
        for wanted in ("251", "252", "254", "255", "265", "266"):
            self.assertIn(wanted, codes)
        self.assertEqual(lines[0].prefix, SERVER)
        self.assertEqual(
            lines[0].params,
            ["alice", "Welcome to the TestNet IRC network alice!~al@127.0.0.1"],
        )
        self.assertEqual(
            lines[3].params,
            ["alice", SERVER, lines[3].params[2], "iow", "beIiklmnostv", "beIklov"],
        )
        tokens = [
            t for line in lines if line.command == "005" for t in line.params[1:-1]
        ]
        for token in (
            "CASEMAPPING=ascii",
            "CHANTYPES=#",
            "NICKLEN=30",
            "CHANNELLEN=50",
            "TOPICLEN=390",
            "NETWORK=TestNet",
            "UTF8ONLY",
            "CHANMODES=beI,k,l,imnst",
            "PREFIX=(ov)@+",
        ):
            self.assertIn(token, tokens)
        self.assertTrue(all(len(line.params) <= 15 for line in lines))
        self.assertEqual(self.server.chat.nicks["alice"].realname, "Alice Liddell")

    def test_motd(self) -> None:
        self.factory.motd = ["Welcome!", "Be nice."]
        alice = self.connect()
        alice.send("USER a 0 * :A", "NICK alice")
        motd = [(line.command, line.params[-1]) for line in alice.lines()[-4:]]
        self.assertEqual(
            motd,
            [
                ("375", f"- {SERVER} Message of the day - "),
                ("372", "- Welcome!"),
                ("372", "- Be nice."),
                ("376", "End of /MOTD command."),
            ],
        )
        self.assertEqual(alice.codes("MOTD")[0], "375")

    def test_commands_before_registration_get_451(self) -> None:
        client = self.connect()
        for line in ("JOIN #a", "PRIVMSG x :y", "WHOIS x", "LIST", "FROB"):
            [reply] = client.ask(line)
            self.assertEqual((reply.command, reply.params[0]), ("451", "*"))
        self.assertEqual(client.codes("PING x"), ["PONG"])

    def test_pass_is_optional_and_only_before_registration(self) -> None:
        client = self.connect()
        self.assertEqual(client.codes("PASS secret"), [])
        self.assertEqual(client.codes("PASS"), ["461"])
        client.register("alice")
        self.assertEqual(client.codes("PASS secret"), ["462"])
        self.assertEqual(client.codes("USER a 0 * :b"), ["462"])

    def test_user_needs_four_parameters_and_a_realname(self) -> None:
        client = self.connect()
        [reply] = client.ask("USER a 0 *")
        self.assertEqual((reply.command, reply.params[1]), ("461", "USER"))
        self.assertEqual(client.codes("USER a 0 * :"), ["461"])
        self.assertEqual(client.codes("USER a 0 * :\x07"), ["461"])
        client.send("NICK alice")
        self.assertEqual(client.codes("USER a 0 * :Alice")[0], "001")

    def test_bad_nicks(self) -> None:
        client = self.connect()
        self.assertEqual(client.codes("NICK"), ["431"])
        [reply] = client.ask("NICK 9lives")
        self.assertEqual((reply.command, reply.params[1]), ("432", "9lives"))
        self.assertEqual(client.codes(f"NICK {'x' * 31}"), ["432"])
        self.assertEqual(client.codes("NICK :"), ["431"])

    def test_nick_shared_with_json_users_regardless_of_case(self) -> None:
        self.server.user("Alice")
        client = self.connect()
        [reply] = client.ask("NICK ALICE")
        self.assertEqual((reply.command, reply.params[:2]), ("433", ["*", "ALICE"]))
        client.register("bob")
        json = self.server.connect()
        self.assertEqual(json.request("nick", nick="BOB")["code"], "nick_in_use")

    def test_nick_taken_while_negotiating(self) -> None:
        client = self.connect()
        client.send("CAP LS 302", "NICK alice", "USER a 0 * :A")
        client.lines()
        self.server.user("alice")  # a JSON user is quicker
        [reply] = client.ask("CAP END")
        self.assertEqual(reply.command, "433")
        client.register("alice2")

    def test_cap_negotiation_holds_registration(self) -> None:
        client = self.connect()
        [ls] = client.ask("CAP LS 302")
        self.assertEqual(ls.params[:2], ["*", "LS"])
        offered = ls.params[2].split()
        for cap in (
            "server-time",
            "echo-message",
            "message-tags",
            "multi-prefix",
            "cap-notify",
            "away-notify",
            "labeled-response",
            "batch",
        ):
            self.assertIn(cap, offered)
        self.assertEqual(client.codes("NICK alice"), [])
        self.assertEqual(client.codes("USER a 0 * :A"), [])  # held by CAP
        [ack] = client.ask("CAP REQ :server-time echo-message")
        self.assertEqual(ack.params, ["*", "ACK", "server-time echo-message"])
        [nak] = client.ask("CAP REQ :server-time sasl")
        self.assertEqual(nak.params, ["*", "NAK", "server-time sasl"])
        [listed] = client.ask("CAP LIST")
        self.assertEqual(
            set(listed.params[2].split()), {"cap-notify", "echo-message", "server-time"}
        )
        self.assertEqual(client.codes("CAP END")[0], "001")
        [ack] = client.ask("CAP REQ :-echo-message")
        self.assertEqual(ack.params, ["alice", "ACK", "-echo-message"])
        self.assertNotIn("echo-message", client.proto.caps)
        [bad] = client.ask("CAP FROB")
        self.assertEqual((bad.command, bad.params[1]), ("410", "FROB"))
        self.assertEqual(client.codes("CAP"), ["461"])

    def test_cap_ls_without_302_does_not_enable_cap_notify(self) -> None:
        client = self.connect()
        client.ask("CAP LS")
        self.assertNotIn("cap-notify", client.proto.caps)

    def test_ipv6_host_never_starts_with_a_colon(self) -> None:
        client = self.connect(ipv6=True)
        client.send("NICK six", "USER six 0 * :Six")
        welcome = client.lines()[0]
        self.assertTrue(welcome.params[-1].endswith("six!~six@0::1"), welcome)


class ChannelTests(IRCCase):
    def test_names_that_hide_characters_or_look_alike(self) -> None:
        alice = self.irc("alice", "#general")
        lines = alice.ask("JOIN #gen\u00aderal,#\u202egeneral")
        self.assertEqual([line.command for line in lines], ["476", "476"])
        self.assertIn("U+00AD (SOFT HYPHEN)", lines[0].params[-1])
        self.assertIn("U+202E (RIGHT-TO-LEFT OVERRIDE)", lines[1].params[-1])
        # a Cyrillic e: the same channel, under the name it was made with
        bob = self.irc("bob")
        lines = bob.ask("JOIN #gen\u0435ral")
        self.assertEqual((lines[0].command, lines[0].params), ("JOIN", ["#general"]))
        self.assertEqual(alice.lines()[0].command, "JOIN")
        listed = [line.params[1] for line in bob.ask("LIST") if line.command == "322"]
        self.assertEqual(listed, ["#general"])

    def test_join_reply_topic_and_names(self) -> None:
        bob = self.server.user("bob", "#General")
        bob.request("topic", channel="#general", topic="hello \x02all\x02")
        alice = self.irc("alice")
        lines = alice.ask("JOIN #general")
        self.assertEqual(
            [line.command for line in lines], ["JOIN", "332", "333", "353", "366"]
        )
        self.assertEqual(
            (lines[0].prefix, lines[0].params), ("alice!~alice@127.0.0.1", ["#General"])
        )
        self.assertEqual(lines[1].params, ["alice", "#General", "hello \x02all\x02"])
        self.assertEqual(
            lines[2].params[:3], ["alice", "#General", "bob!json@127.0.0.1"]
        )
        self.assertEqual(lines[3].params, ["alice", "=", "#General", "@bob alice"])
        self.assertEqual(lines[4].params, ["alice", "#General", "End of /NAMES list"])
        self.assertEqual(
            bob.lines(), [{"type": "join", "channel": "#General", "nick": "alice"}]
        )
        self.assertEqual(alice.ask("JOIN #GENERAL"), [])  # already there

    def test_join_lists_bad_names_and_zero(self) -> None:
        alice = self.irc("alice")
        lines = alice.ask("JOIN #a,b,#c,#" + "x" * 50)
        self.assertEqual(
            [
                (
                    line.command,
                    line.params[0] if line.command == "JOIN" else line.params[1],
                )
                for line in lines
                if line.command in ("JOIN", "403")
            ],
            [("JOIN", "#a"), ("403", "b"), ("JOIN", "#c"), ("403", "#" + "x" * 50)],
        )
        self.assertEqual(sorted(alice.proto.user.channels), ["#a", "#c"])  # type: ignore[union-attr]
        lines = alice.ask("JOIN 0")
        self.assertEqual(sorted(line.params[0] for line in lines), ["#a", "#c"])
        self.assertTrue(all(line.command == "PART" for line in lines))
        self.assertEqual(self.server.chat.channels, {})
        self.assertEqual(alice.codes("JOIN"), ["461"])

    def test_part(self) -> None:
        bob = self.server.user("bob", "#a")
        alice = self.irc("alice", "#a")
        bob.lines()
        [part] = alice.ask("PART #a :off to lunch")
        self.assertEqual((part.command, part.params), ("PART", ["#a", "off to lunch"]))
        self.assertEqual(
            bob.lines(),
            [
                {
                    "type": "leave",
                    "channel": "#a",
                    "nick": "alice",
                    "reason": "off to lunch",
                }
            ],
        )
        [reply] = alice.ask("PART #a")
        self.assertEqual((reply.command, reply.params[1]), ("442", "#a"))
        [reply] = alice.ask("PART #nowhere")
        self.assertEqual((reply.command, reply.params[1]), ("403", "#nowhere"))
        self.assertEqual(alice.codes("PART"), ["461"])

    def test_names_list_and_invisible_users(self) -> None:
        self.server.user("bob", "#a")
        carol = self.irc("carol", "#a")
        carol.ask("MODE carol +i")
        dave = self.irc("dave")
        [names, end] = dave.ask("NAMES #a")
        self.assertEqual(names.params[-1], "@bob")  # carol is invisible to outsiders
        self.assertEqual(end.command, "366")
        self.assertEqual(
            [line.params[-1] for line in carol.ask("NAMES #a")],
            ["@bob carol", "End of /NAMES list"],
        )
        [end] = dave.ask("NAMES #none")
        self.assertEqual((end.command, end.params[1]), ("366", "#none"))
        lines = dave.ask("LIST")
        self.assertEqual([line.command for line in lines], ["321", "322", "323"])
        self.assertEqual(lines[1].params[1:], ["#a", "1", ""])
        [_, only, _] = carol.ask("LIST #A")
        self.assertEqual(only.params[1:3], ["#a", "2"])

    def test_names_split_to_fit_a_line(self) -> None:
        self.factory.chat.max_users = 200
        first = self.irc("n" + "x" * 29, "#big")
        for i in range(40):
            self.server.user(f"member{i:02d}" + "y" * 20, "#big")
        lines = first.ask("NAMES #big")
        self.assertGreater(len(lines), 2)
        self.assertTrue(
            all(
                len(build(line.command, *line.params, prefix=line.prefix)) <= 510
                for line in lines
            )
        )
        names = [n for line in lines[:-1] for n in line.params[-1].split()]
        self.assertEqual(len(names), 41)

    def test_topic(self) -> None:
        bob = self.server.user("bob", "#a")
        alice = self.irc("alice", "#a")
        # bob created #a, so bob is its operator; let everyone set the topic
        self.server.chat.set_modes(bob.proto.user, "#a", [Change("t", False)])
        alice.lines()
        bob.lines()
        [reply] = alice.ask("TOPIC #a")
        self.assertEqual((reply.command, reply.params[1]), ("331", "#a"))
        self.server.clock.advance(5)
        [echo] = alice.ask("TOPIC #a :new \x1ditalic\x1d topic")
        self.assertEqual(
            (echo.command, echo.params), ("TOPIC", ["#a", "new \x1ditalic\x1d topic"])
        )
        self.assertEqual(
            bob.lines(),
            [
                {
                    "type": "topic",
                    "channel": "#a",
                    "topic": "new \x1ditalic\x1d topic",
                    "by": "alice",
                }
            ],
        )
        [topic, who] = alice.ask("TOPIC #a")
        self.assertEqual(topic.command, "332")
        self.assertEqual(
            who.params,
            [
                "alice",
                "#a",
                "alice!~alice@127.0.0.1",
                str(int(self.server.clock.seconds())),
            ],
        )
        self.assertEqual(alice.ask("TOPIC #a :")[0].params, ["#a", ""])
        self.assertEqual(alice.codes("TOPIC #nowhere"), ["403"])
        self.assertEqual(self.irc("carol").codes("TOPIC #a :mine"), ["442"])
        [fail] = alice.ask("TOPIC #a :ding\x07")
        self.assertEqual(fail.params[:2], ["TOPIC", "INVALID_TEXT"])
        self.assertEqual(self.server.chat.channels["#a"].topic, "")
        long = alice.ask("TOPIC #a :" + "t" * 450)[0]
        self.assertEqual(len(long.params[1]), 390)  # TOPICLEN: cut, not refused

    def test_channel_modes(self) -> None:
        alice = self.irc("alice", "#a")
        [modes, created] = alice.ask("MODE #a")
        self.assertEqual(modes.params, ["alice", "#a", "+nt"])
        self.assertEqual(created.command, "329")
        self.assertEqual(alice.codes("MODE #a b"), ["368"])
        self.assertEqual(alice.ask("MODE #a +n"), [])  # already so
        [unknown] = alice.ask("MODE #a +x")
        self.assertEqual((unknown.command, unknown.params[1]), ("472", "x"))
        self.assertEqual(alice.codes("MODE #nowhere"), ["403"])
        self.assertEqual(alice.codes("MODE"), ["461"])

    def test_user_modes(self) -> None:
        alice = self.irc("alice")
        self.server.user("bob")
        self.assertEqual(alice.ask("MODE alice")[0].params, ["alice", "+"])
        [mode] = alice.ask("MODE alice +i")
        self.assertEqual((mode.command, mode.params), ("MODE", ["alice", "+i"]))
        self.assertEqual(alice.ask("MODE alice +i"), [])  # no change
        self.assertEqual(alice.ask("MODE alice")[0].params, ["alice", "+i"])
        [mode] = alice.ask("MODE alice +w-i")
        self.assertEqual(mode.params, ["alice", "+w-i"])
        self.assertEqual(alice.ask("MODE alice +o"), [])  # only OPER gives +o
        self.assertEqual(alice.ask("MODE alice")[0].params, ["alice", "+w"])
        self.assertEqual(alice.codes("MODE alice +x"), ["501"])
        self.assertEqual(alice.codes("MODE bob +i"), ["502"])
        self.assertEqual(alice.codes("MODE nobody"), ["401"])


class MessageTests(IRCCase):
    def test_privmsg_between_irc_and_json(self) -> None:
        bob = self.server.user("bob", "#a")
        alice = self.irc("alice", "#a")
        carol = self.irc("carol", "#a")
        bob.lines()
        self.server.clock.advance(0.5)
        self.assertEqual(
            alice.ask("PRIVMSG #a :hi \x02all\x02"), []
        )  # no echo asked for
        [event] = bob.lines()
        self.assertEqual(
            (event["from"], event["to"], event["text"]),
            ("alice", "#a", "hi \x02all\x02"),
        )
        self.assertTrue(event["ts"].endswith(".500Z"))
        self.assertEqual(
            carol.raw(), [":alice!~alice@127.0.0.1 PRIVMSG #a :hi \x02all\x02"]
        )
        bob.request("msg", to="#a", text="hello back")
        self.assertEqual(alice.raw(), [":bob!json@127.0.0.1 PRIVMSG #a :hello back"])
        bob.request("msg", to="alice", text="psst")
        self.assertEqual(alice.raw(), [":bob!json@127.0.0.1 PRIVMSG alice :psst"])
        alice.send("PRIVMSG BOB :hi there")
        self.assertEqual(bob.lines()[0]["to"], "bob")

    def test_notice_and_action_reach_json_with_flags(self) -> None:
        bob = self.server.user("bob", "#a")
        alice = self.irc("alice", "#a")
        bob.lines()
        alice.send("NOTICE #a :automated")
        alice.send("PRIVMSG #a :\x01ACTION waves\x01")
        notice, action = bob.lines()
        self.assertEqual((notice["text"], notice["notice"]), ("automated", True))
        self.assertNotIn("action", notice)
        self.assertEqual((action["text"], action["action"]), ("waves", True))
        bob.request("msg", to="#a", text="bows", action=True)
        self.assertEqual(
            alice.raw(), [":bob!json@127.0.0.1 PRIVMSG #a :\x01ACTION bows\x01"]
        )

    def test_long_json_text_is_split_for_irc(self) -> None:
        bob = self.server.user("bob", "#a")
        alice = self.irc("alice", "#a")
        text = " ".join(f"word{i}" for i in range(500))  # 3389 characters
        bob.request("msg", to="#a", text=text)
        lines = alice.raw()
        self.assertGreater(len(lines), 7)
        self.assertTrue(all(len(line.encode()) <= 510 for line in lines))
        self.assertEqual("".join(parse(line).params[1] for line in lines), text)
        bob.request("msg", to="#a", text="é" * 1000, action=True)
        lines = alice.lines()
        self.assertTrue(
            all(
                line.params[1].startswith("\x01ACTION ")
                and line.params[1].endswith("\x01")
                for line in lines
            )
        )
        self.assertEqual("".join(line.params[1][8:-1] for line in lines), "é" * 1000)

    def test_a_line_too_long_once_prefixed_is_refused_not_cut(self) -> None:
        bob = self.irc("bob", "#a")
        alice = self.irc("a" * 30, "#a")
        bob.lines()
        alice.lines()
        text = "b" * (510 - len("PRIVMSG #a "))
        alice.send("PRIVMSG #a " + text)
        # With alice's prefix the one line would pass 512 bytes, which
        # clients (and the IRCv3 tests) do not accept; cut, it would lose
        # its end, and split, its second line would repeat the msgid.  So
        # alice is told, as ergo does with allow-truncation off.
        [reply] = alice.lines()
        self.assertEqual(reply.command, "417")
        self.assertEqual(
            reply.params[-1], "Line too long to be relayed without truncation"
        )
        self.assertEqual(bob.lines(), [])
        # Exactly 512 bytes with the prefix is one line, as sent; so is an
        # action, whose CTCP wrapping counts.
        alice.send("PRIVMSG #a :hi")
        [line] = bob.lines()
        head = f":{line.prefix} PRIVMSG #a :"
        fits = "c" * (510 - len(head))
        alice.send("PRIVMSG #a :" + fits)
        [line] = bob.lines()
        self.assertEqual(line.params[1], fits)
        alice.send(f"PRIVMSG #a :\x01ACTION {fits[: -len(chr(1) * 2 + 'ACTION ')]}\x01")
        [line] = bob.lines()
        self.assertTrue(line.params[1].startswith("\x01ACTION c"))
        alice.send(f"PRIVMSG #a :\x01ACTION {fits}\x01")
        [reply] = alice.lines()
        self.assertEqual(reply.command, "417")
        # A NOTICE is never answered: it is split into lines of 512.
        alice.send("NOTICE #a " + text)
        first, second = bob.lines()
        self.assertEqual(first.params[1] + second.params[1], text)
        self.assertEqual(alice.lines(), [])

    def test_what_fits_is_worked_out_exactly(self) -> None:
        # The cheap bound never says "fits" for a line that does not.
        from chatd.core.model import User
        from chatd.irc.message import mask
        from chatd.irc.messages import Messages

        # "::1" is "0::1" on the wire: a host may not begin with a colon.
        user = User(None, "::1")  # type: ignore[arg-type]
        user.nick, user.username = "n" * 30, "~u" * 5
        for target in ("#a", "#" + "é" * 49, "bob"):
            for char in ("a", "é", "€", "😀"):
                for n in range(0, 520, 7):
                    for action in (False, True):
                        text = char * n
                        wire = (
                            f":{mask(user.nick, user)} PRIVMSG "
                            f"{target} :"
                            + ("\x01ACTION " if action else "")
                            + text
                            + ("\x01" if action else "")
                        )
                        self.assertEqual(
                            Messages._fits(user, "PRIVMSG", target, text, action),
                            len(wire.encode()) <= 510,
                            (target, char, n, action),
                        )

    def test_message_errors(self) -> None:
        alice = self.irc("alice", "#a")
        self.irc("bob", "#b")
        [reply] = alice.ask("PRIVMSG")
        self.assertEqual(reply.command, "411")
        self.assertEqual(alice.codes("PRIVMSG #a"), ["412"])
        self.assertEqual(alice.codes("PRIVMSG #a :"), ["412"])
        [reply] = alice.ask("PRIVMSG nobody :hi")
        self.assertEqual((reply.command, reply.params[1]), ("401", "nobody"))
        self.assertEqual(alice.codes("PRIVMSG #nowhere :hi"), ["403"])
        [reply] = alice.ask("PRIVMSG #b :hi")
        self.assertEqual((reply.command, reply.params[1]), ("404", "#b"))
        [reply] = alice.ask("PRIVMSG #a :bell\x07")
        self.assertEqual(reply.command, "404")
        self.assertIn("control character", reply.params[-1])
        self.assertEqual(alice.codes("PRIVMSG a,b,c,d,e :hi"), ["407"])
        # NOTICE never gets an automatic reply (RFC 2812 3.3.2), errors included.
        for line in (
            "NOTICE",
            "NOTICE #a",
            "NOTICE nobody :x",
            "NOTICE #b :x",
            "NOTICE #a :\x07",
        ):
            self.assertEqual(alice.ask(line), [], line)

    def test_ctcp_between_irc_users_only(self) -> None:
        bob = self.irc("bob", "#a")
        json = self.server.user("carol", "#a")
        alice = self.irc("alice", "#a", caps=("echo-message",))
        bob.lines()
        json.lines()
        alice.send("PRIVMSG bob :\x01VERSION\x01", "PRIVMSG #a :\x01PING 123\x01")
        self.assertEqual(
            bob.raw(),
            [
                ":alice!~alice@127.0.0.1 PRIVMSG bob :\x01VERSION\x01",
                ":alice!~alice@127.0.0.1 PRIVMSG #a :\x01PING 123\x01",
            ],
        )
        self.assertEqual(json.lines(), [])  # JSON clients cannot answer CTCP
        self.assertEqual(
            [line.params[1] for line in alice.lines()],
            ["\x01VERSION\x01", "\x01PING 123\x01"],
        )
        bob.send("NOTICE alice :\x01VERSION irssi 1.4\x01")
        self.assertEqual(
            alice.raw(), [":bob!~bob@127.0.0.1 NOTICE alice :\x01VERSION irssi 1.4\x01"]
        )
        self.assertEqual(alice.codes("PRIVMSG nobody :\x01VERSION\x01"), ["401"])
        self.assertEqual(alice.codes("PRIVMSG bob :\x01\x01"), ["404"])

    def test_several_targets_and_message_to_self(self) -> None:
        bob = self.server.user("bob", "#a")
        alice = self.irc("alice", "#a")
        bob.lines()
        alice.send("PRIVMSG #a,bob :twice")
        self.assertEqual([e["to"] for e in bob.lines()], ["#a", "bob"])
        self.assertEqual(alice.raw(), [])
        # To yourself: delivered once, as IRC servers do.
        alice.send("PRIVMSG alice :note")
        self.assertEqual(alice.raw(), [":alice!~alice@127.0.0.1 PRIVMSG alice :note"])

    def test_away(self) -> None:
        bob = self.irc("bob", "#a")
        alice = self.irc("alice", "#a")
        self.assertEqual(bob.codes("AWAY :at lunch"), ["306"])
        [away] = alice.ask("PRIVMSG bob :hi")
        self.assertEqual(
            (away.command, away.params), ("301", ["alice", "bob", "at lunch"])
        )
        self.assertEqual(alice.ask("NOTICE bob :hi"), [])
        [who, _] = alice.ask("WHO bob")
        self.assertEqual(who.params[6], "G")
        [reply] = alice.ask("USERHOST bob alice")
        self.assertEqual(reply.params[1], "bob=-~bob@127.0.0.1 alice=+~alice@127.0.0.1")
        self.assertEqual(bob.codes("AWAY"), ["305"])
        self.assertEqual(alice.ask("PRIVMSG bob :hi"), [])
        [fail] = bob.ask("AWAY :\x07")
        self.assertEqual(fail.params[:2], ["AWAY", "INVALID_TEXT"])


class PeopleTests(IRCCase):
    def test_who_channel_and_nick(self) -> None:
        self.server.user("bob", "#a")
        alice = self.irc("alice", "#a")
        lines = alice.ask("WHO #A")
        self.assertEqual([line.command for line in lines], ["352", "352", "315"])
        self.assertEqual(
            lines[0].params,
            ["alice", "#a", "json", "127.0.0.1", SERVER, "bob", "H@", "0 JSON client"],
        )
        self.assertEqual(
            lines[1].params[2:],
            ["~alice", "127.0.0.1", SERVER, "alice", "H", "0 alice Example"],
        )
        self.assertEqual(lines[2].params, ["alice", "#A", "End of /WHO list"])
        [one, _] = alice.ask("WHO BOB")
        self.assertEqual((one.params[1], one.params[5]), ("*", "bob"))
        self.assertEqual(alice.codes("WHO nobody"), ["315"])
        self.assertEqual(alice.codes("WHO b*"), ["352", "315"])

    def test_whois(self) -> None:
        bob = self.server.user("bob", "#a", "#b")
        self.server.clock.advance(30)
        bob.request("msg", to="#a", text="hi")
        self.server.clock.advance(12)
        alice = self.irc("alice")
        lines = alice.ask("WHOIS Bob")
        self.assertEqual(
            [line.command for line in lines], ["311", "319", "312", "317", "318"]
        )
        self.assertEqual(
            lines[0].params, ["alice", "bob", "json", "127.0.0.1", "*", "JSON client"]
        )
        self.assertEqual(lines[1].params, ["alice", "bob", "@#a @#b"])
        self.assertEqual(lines[3].params[1:3], ["bob", "12"])
        self.assertEqual(lines[3].params[3], str(int(self.server.clock.seconds() - 42)))
        lines = alice.ask("WHOIS nobody")
        self.assertEqual(
            [(line.command, line.params[1]) for line in lines],
            [("401", "nobody"), ("318", "nobody")],
        )
        self.assertEqual(alice.codes("WHOIS"), ["431"])
        self.assertEqual(alice.codes("WHOIS irc.test bob")[0], "311")
        self.assertEqual(alice.codes("WHOWAS gone"), ["406", "369"])

    def test_whowas_remembers_quits_and_nick_changes(self) -> None:
        alice = self.irc("alice")
        for ident in ("first", "second"):
            gone = self.connect()
            gone.send("NICK gone", f"USER {ident} 0 * :Real {ident}", "QUIT")
        renamed = self.irc("Gone")
        renamed.send("NICK other")
        lines = alice.ask("WHOWAS GONE")
        self.assertEqual(
            [(line.command, line.params[1:3]) for line in lines],
            [
                ("314", ["Gone", "~gone"]),
                ("312", ["Gone", SERVER]),
                ("314", ["gone", "~second"]),
                ("312", ["gone", SERVER]),
                ("314", ["gone", "~first"]),
                ("312", ["gone", SERVER]),
                ("369", ["GONE", "End of WHOWAS"]),
            ],
        )
        self.assertEqual(lines[2].params[3:], ["127.0.0.1", "*", "Real second"])
        self.assertEqual(len(alice.ask("WHOWAS gone 1")), 3)
        self.assertEqual(alice.codes("WHOWAS"), ["461"])

    def test_nick_change_seen_by_both_worlds(self) -> None:
        bob = self.server.user("bob", "#a")
        alice = self.irc("alice", "#a")
        carol = self.irc("carol", "#a")
        bob.lines()
        [echo] = alice.ask("NICK Alicia")
        self.assertEqual(
            (echo.prefix, echo.command, echo.params),
            ("alice!~alice@127.0.0.1", "NICK", ["Alicia"]),
        )
        self.assertEqual(
            bob.lines(), [{"type": "nick", "old": "alice", "new": "Alicia"}]
        )
        self.assertEqual(carol.raw(), [":alice!~alice@127.0.0.1 NICK Alicia"])
        self.assertEqual(alice.ask("NICK Alicia"), [])
        bob.request("nick", nick="robert")
        self.assertEqual(alice.raw(), [":bob!json@127.0.0.1 NICK robert"])
        self.assertEqual(alice.codes("NICK ROBERT"), ["433"])
        self.assertEqual(alice.codes("NICK -x"), ["432"])

    def test_ison_userhost(self) -> None:
        self.server.user("Bob")
        alice = self.irc("alice")
        [reply] = alice.ask("ISON bob nobody ALICE")
        self.assertEqual(reply.params, ["alice", "Bob alice"])
        [reply] = alice.ask("USERHOST nobody")
        self.assertEqual(reply.params, ["alice", ""])
        self.assertEqual(alice.codes("ISON"), ["461"])


class ServerQueryTests(IRCCase):
    def test_ping_pong_lusers_version_time(self) -> None:
        alice = self.irc("alice", "#a")
        self.connect()  # not registered yet
        [pong] = alice.ask("PING :abc def")
        self.assertEqual((pong.prefix, pong.params), (SERVER, [SERVER, "abc def"]))
        self.assertEqual(alice.codes("PING"), ["409"])
        self.assertEqual(alice.ask("PONG :x"), [])
        lusers = {line.command: line.params for line in alice.ask("LUSERS")}
        self.assertEqual(
            lusers["251"][-1], "There are 1 users and 0 invisible on 1 servers"
        )
        self.assertEqual(lusers["253"][1], "1")
        self.assertEqual(lusers["254"][1], "1")
        self.assertEqual(lusers["265"][1:3], ["1", "1"])
        lines = alice.ask("VERSION")
        self.assertEqual(lines[0].command, "351")
        self.assertTrue(lines[0].params[1].startswith("chatd-"))
        self.assertIn("005", [line.command for line in lines])
        [time] = alice.ask("TIME")
        self.assertEqual(time.command, "391")
        self.assertIn("2026", time.params[-1])
        [unknown] = alice.ask("FROBNICATE x")
        self.assertEqual((unknown.command, unknown.params[1]), ("421", "FROBNICATE"))
        self.assertEqual(alice.ask("001 x"), [])  # numerics from clients are ignored


class InputTests(IRCCase):
    def test_input_too_long_is_417_and_the_connection_survives(self) -> None:
        alice = self.irc("alice", "#a")
        [reply] = alice.ask("PRIVMSG #a :" + "x" * 500)
        self.assertEqual(reply.command, "417")
        # A line with no end in sight: one 417, then skipped to the next line.
        alice.send_raw(b"PRIVMSG #a :" + b"y" * 20000)
        alice.send_raw(b"z" * 5000 + b"\r\nPING :still here\r\n")
        self.assertEqual([line.command for line in alice.lines()], ["417", "PONG"])
        self.assertTrue(alice.connected)
        # Tags do not count against the 512 bytes.
        self.assertEqual(alice.codes("@+x=" + "t" * 3000 + " PING :ok"), ["PONG"])
        self.assertEqual(alice.codes("@+x=" + "t" * 9000 + " PING :ok"), ["417"])
        # A client's tag section is at most 4096 bytes, "@" and space included.
        at_limit = "@a=b;+x=" + "t" * 4087 + " PING :ok"
        self.assertEqual(at_limit.index("PING"), 4096)
        self.assertEqual(alice.codes(at_limit), ["PONG"])
        self.assertEqual(alice.codes(at_limit.replace("t", "tt", 1)), ["417"])

    def test_max_line_lowers_the_limit(self) -> None:
        self.factory.body_max = 100
        alice = self.irc("alice", "#a")
        self.assertEqual(alice.codes("PRIVMSG #a :" + "x" * 90), ["417"])

    def test_invalid_utf8_is_refused_with_fail(self) -> None:
        bob = self.server.user("bob", "#a")
        alice = self.irc("alice", "#a")
        bob.lines()
        alice.send_raw(b"PRIVMSG #a :caf\xe9\r\n")
        [fail] = alice.lines()
        self.assertEqual(
            (fail.command, fail.params[:2]), ("FAIL", ["PRIVMSG", "INVALID_UTF8"])
        )
        self.assertEqual(bob.lines(), [])

    def test_lf_alone_and_blank_lines(self) -> None:
        alice = self.connect()
        alice.send_raw(b"NICK alice\nUSER a 0 * :A\n\r\n   \r\n")
        self.assertEqual(alice.lines()[0].command, "001")

    def test_half_close_answers_then_closes(self) -> None:
        bob = self.server.user("bob", "#a")
        alice = self.connect()
        alice.send_raw(
            b"NICK alice\r\nUSER a 0 * :A\r\nJOIN #a\r\nPRIVMSG #a :last words"
        )
        alice.proto.readConnectionLost()
        self.assertIn("JOIN", [line.command for line in alice.lines()])
        self.assertFalse(alice.connected)
        self.assertEqual([e["type"] for e in bob.lines()], ["join", "message", "quit"])

    def test_internal_error_is_reported_not_raised(self) -> None:
        alice = self.irc("alice")
        self.addCleanup(COMMANDS.__setitem__, "TIME", COMMANDS["TIME"])
        COMMANDS["TIME"] = (lambda self, line: 1 / 0, 0, True)
        [fail] = alice.ask("TIME")
        self.assertEqual(fail.params[:2], ["TIME", "INTERNAL_ERROR"])
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)
        self.assertEqual(alice.codes("PING x"), ["PONG"])


class ClosingTests(IRCCase):
    def test_quit(self) -> None:
        bob = self.server.user("bob", "#a")
        alice = self.irc("alice", "#a")
        bob.lines()
        alice.send("QUIT :see you")
        self.assertEqual(
            self.sent_error(alice), "Closing Link: 127.0.0.1 (Quit: see you)"
        )
        self.assertEqual(
            bob.lines(), [{"type": "quit", "nick": "alice", "reason": "see you"}]
        )

    def sent_error(self, client: IRCClient) -> str:
        self.assertFalse(client.connected)
        value = client.transport.value().decode()
        client.transport.clear()
        line = parse(value.split("\r\n")[-2])
        self.assertEqual(line.command, "ERROR")
        return line.params[0]

    def test_quit_seen_by_irc_peers(self) -> None:
        bob = self.irc("bob", "#a")
        alice = self.irc("alice", "#a")
        bob.lines()
        alice.send("QUIT")
        self.assertEqual(bob.raw(), [":alice!~alice@127.0.0.1 QUIT :Client Quit"])
        json = self.server.user("carol", "#a")
        json.send({"cmd": "quit", "reason": "bye all"})
        self.assertEqual(bob.raw()[-1], ":carol!json@127.0.0.1 QUIT :bye all")

    def test_server_full(self) -> None:
        self.server.chat.max_users = 1
        self.server.user("bob")
        alice = self.connect()
        self.assertIn("the server is full", self.sent_error(alice))

    def test_shutdown(self) -> None:
        alice = self.irc("alice", "#a")
        self.factory.shut_down()
        self.assertEqual(
            self.sent_error(alice),
            "Closing Link: 127.0.0.1 (the server is shutting down)",
        )

    def test_keepalive_pings_at_half_the_timeout_then_reaps(self) -> None:
        self.factory.idle_timeout = 60
        clock = self.server.clock
        self.factory.start_reaping()
        self.addCleanup(self.factory.stop_reaping)
        bob = self.irc("bob", "#a")
        alice = self.irc("alice", "#a")
        bob.lines()
        clock.advance(29)
        self.assertEqual(alice.raw(), [])
        clock.advance(self.factory.reap_interval)
        self.assertEqual(alice.raw(), [f"PING {SERVER}"])
        bob.send(f"PONG {SERVER}")  # bob answers; alice does not
        self.assertEqual(bob.raw(), [f"PING {SERVER}"])
        clock.advance(self.factory.reap_interval)
        self.assertEqual(alice.raw(), [])  # pinged once only
        seen = []
        for _ in range(8):
            clock.advance(self.factory.reap_interval)
            lines = bob.raw()
            seen.extend(lines)
            if f"PING {SERVER}" in lines:
                bob.send(f"PONG :{SERVER}")
        self.assertEqual(
            self.sent_error(alice), "Closing Link: 127.0.0.1 (Ping timeout: 60 seconds)"
        )
        self.assertIn(":alice!~alice@127.0.0.1 QUIT :Ping timeout: 60 seconds", seen)
        self.assertTrue(bob.connected)


class CapabilityTests(IRCCase):
    def test_caps_asked_for_in_a_channel_apply_to_its_next_message(self) -> None:
        alice = self.irc("alice", "#room")
        carol = self.irc("carol", "#room")
        bob = self.irc("bob", "#room")
        alice.lines()
        carol.lines()
        bob.send("PRIVMSG #room :before")
        self.assertEqual(alice.lines()[0].tags, {})
        self.assertEqual(carol.lines()[0].tags, {})
        self.assertEqual(alice.ask("CAP REQ server-time")[0].params[1], "ACK")
        bob.send("PRIVMSG #room :after")
        [after] = alice.lines()
        self.assertEqual(after.params, ["#room", "after"])
        self.assertIn("time", after.tags)
        # carol asked for nothing, and still gets the plain form
        [plain] = carol.lines()
        self.assertEqual((plain.params, plain.tags), (["#room", "after"], {}))

    def test_server_time_and_echo_message(self) -> None:
        bob = self.irc("bob", "#a", caps=("server-time",))
        alice = self.irc("alice", "#a", caps=("echo-message", "server-time"))
        [join] = bob.lines()
        self.assertIn("time", join.tags)
        self.server.clock.advance(0.25)
        [echo] = alice.ask("PRIVMSG #a :hello")
        self.assertEqual(
            (echo.command, echo.params, echo.prefix),
            ("PRIVMSG", ["#a", "hello"], "alice!~alice@127.0.0.1"),
        )
        self.assertTrue(echo.tags["time"].endswith(".250Z"))
        [seen] = bob.lines()
        self.assertEqual(seen.tags, echo.tags)
        self.assertRegex(
            seen.tags["time"], r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z"
        )

    def test_message_tags_and_tagmsg(self) -> None:
        bob = self.irc("bob", "#a", caps=("message-tags",))
        carol = self.irc("carol", "#a")
        json = self.server.user("dave", "#a")
        alice = self.irc("alice", "#a", caps=("message-tags", "echo-message"))
        for c in (bob, carol):
            c.lines()
        json.lines()
        self.assertEqual(json.lines(), [])
        alice.send(
            "@+draft/react=👍;+example.com/x=a\\sb;msgid=forged PRIVMSG #a :tagged"
        )
        self.assertEqual(json.lines()[0]["text"], "tagged")  # tags are not shown
        [seen] = bob.lines()
        msgid = seen.tags.pop("msgid")  # the server's id, not the forged one
        self.assertNotEqual(msgid, "forged")
        self.assertEqual(seen.tags, {"+draft/react": "👍", "+example.com/x": "a b"})
        self.assertEqual(carol.raw(), [":alice!~alice@127.0.0.1 PRIVMSG #a :tagged"])
        [echo] = alice.lines()
        self.assertEqual(echo.tags, {**seen.tags, "msgid": msgid})
        alice.send("@+typing=active TAGMSG #a")
        [typing] = bob.lines()
        self.assertNotEqual(typing.tags.pop("msgid"), msgid)
        self.assertEqual(
            (typing.command, typing.params, typing.tags),
            ("TAGMSG", ["#a"], {"+typing": "active"}),
        )
        self.assertEqual(carol.raw(), [])
        # JSON clients see a typing notice as a typing event (tests/test_typing.py)
        self.assertEqual(
            json.lines(),
            [{"type": "typing", "from": "alice", "to": "#a", "state": "active"}],
        )
        self.assertEqual(alice.lines()[0].command, "TAGMSG")  # echoed
        self.assertEqual(alice.codes("@+x TAGMSG #nowhere"), ["403"])
        self.assertEqual(alice.codes("@+x=" + "v" * 4100 + " PRIVMSG #a :big"), ["417"])

    def test_away_notify(self) -> None:
        bob = self.irc("bob", "#a", caps=("away-notify",))
        carol = self.irc("carol", "#a")
        alice = self.irc("alice", "#a")
        bob.lines()
        carol.lines()
        alice.send("AWAY :brb")
        self.assertEqual(bob.raw(), [":alice!~alice@127.0.0.1 AWAY :brb"])
        self.assertEqual(carol.raw(), [])
        alice.send("JOIN #b")
        bob.send("JOIN #b")
        bob.lines()
        alice.send("PART #a")
        bob.lines()
        alice.send("JOIN #a")  # an away user joining is announced as away
        self.assertEqual(
            bob.raw(),
            [":alice!~alice@127.0.0.1 JOIN #a", ":alice!~alice@127.0.0.1 AWAY :brb"],
        )
        alice.send("AWAY")
        self.assertEqual(bob.raw(), [":alice!~alice@127.0.0.1 AWAY"])

    def test_labeled_response(self) -> None:
        alice = self.irc("alice", caps=("labeled-response", "batch"))
        [pong] = alice.ask("@label=p1 PING x")
        self.assertEqual((pong.command, pong.tags), ("PONG", {"label": "p1"}))
        [ack] = alice.ask("@label=p2 PONG x")
        self.assertEqual((ack.command, ack.tags), ("ACK", {"label": "p2"}))
        lines = alice.ask("@label=j1 JOIN #a")
        self.assertEqual(lines[0].command, "BATCH")
        self.assertEqual(lines[0].tags, {"label": "j1"})
        start, kind = lines[0].params
        self.assertEqual(kind, "labeled-response")
        self.assertTrue(start.startswith("+"))
        ref = start[1:]
        self.assertEqual([line.command for line in lines[1:-1]], ["JOIN", "353", "366"])
        self.assertTrue(all(line.tags == {"batch": ref} for line in lines[1:-1]))
        self.assertEqual((lines[-1].command, lines[-1].params), ("BATCH", ["-" + ref]))
        # Without the capability, a label is just an unknown tag.
        bob = self.irc("bob")
        bob.send("@label=x PING y")
        self.assertEqual(bob.raw(), [f":{SERVER} PONG {SERVER} y"])

    def test_echo_of_a_message_to_yourself_is_the_labelled_reply(self) -> None:
        alice = self.irc("alice", caps=("echo-message", "labeled-response", "batch"))
        lines = alice.ask("@label=s1 PRIVMSG alice :note to self")
        self.assertEqual([line.command for line in lines], ["PRIVMSG", "PRIVMSG"])
        self.assertEqual([line.tags.get("label") for line in lines], [None, "s1"])
        plain = self.irc("bob")
        self.assertEqual(len(plain.ask("PRIVMSG bob :once")), 1)

    def test_userhost_in_names(self) -> None:
        self.server.user("bob", "#a")
        alice = self.irc("alice", "#a", caps=("userhost-in-names",))
        [names, _] = alice.ask("NAMES #a")
        self.assertEqual(names.params[-1], "@bob!json@127.0.0.1 alice!~alice@127.0.0.1")

    def test_multi_prefix_and_cap_notify_are_accepted(self) -> None:
        alice = self.irc("alice", "#a", caps=("multi-prefix", "cap-notify"))
        self.assertEqual(alice.proto.caps, {"multi-prefix", "cap-notify"})
        [names, _] = alice.ask("NAMES #a")
        self.assertEqual(names.params[-1], "@alice")


class HostileInputTests(IRCCase):
    """Bytes that must not come back out in a way that breaks a line."""

    def test_cr_inside_a_line_ends_it(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        alice.lines()
        alice.send_raw(b"PRIVMSG #a :one\rPRIVMSG #a :two\r\n")
        self.assertEqual(
            [(line.command, line.params[-1]) for line in bob.lines()],
            [("PRIVMSG", "one"), ("PRIVMSG", "two")],
        )
        # what follows a CR is a line of its own, from alice: no reply can
        # carry the CR, and nobody can be made to see a line from "evil"
        alice.send_raw(b"NICK a\r:evil PRIVMSG bob :hi\r\n")
        self.assertEqual(alice.raw(), [":alice!~alice@127.0.0.1 NICK a"])
        self.assertEqual(
            bob.raw(),
            [":alice!~alice@127.0.0.1 NICK a", ":a!~alice@127.0.0.1 PRIVMSG bob :hi"],
        )

    def test_lines_with_nul_are_refused(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        alice.lines()
        alice.send_raw(
            b"PRIVMSG #a :x\x00y\r\nFOO\x00\r\n\x00\xff\r\nPRIVMSG #a :after\r\n"
        )
        nul = "INVALID_TEXT :Message rejected: IRC lines may not contain NUL"
        self.assertEqual(
            alice.raw(),
            [
                f":{SERVER} FAIL PRIVMSG {nul}",
                f":{SERVER} FAIL FOO {nul}",
                f":{SERVER} FAIL * {nul}",
            ],
        )
        # nothing of a refused line is acted on; the next line is
        self.assertEqual([line.params[-1] for line in bob.lines()], ["after"])

    def test_invalid_utf8_garbage_is_not_echoed(self) -> None:
        alice = self.irc("alice")
        alice.send_raw(b"\xff\xfe\x01garbage\x7f here\r\n")
        self.assertEqual(
            alice.raw(),
            [
                f":{SERVER} FAIL * INVALID_UTF8 :Message rejected: your IRC "
                "software must send UTF-8"
            ],
        )
        alice.send_raw(b"PRIVMSG #a :caf\xe9\r\n")
        self.assertEqual(alice.lines()[0].params[:2], ["PRIVMSG", "INVALID_UTF8"])

    def test_replies_fit_in_512_bytes(self) -> None:
        alice = self.irc("alice")
        for line in ["NICK " + "é" * 240, "X" * 500, "WHOIS " + "n" * 490]:
            alice.send(line)
            for reply in alice.raw():
                self.assertLessEqual(len(reply.encode()) + 2, 512, reply)

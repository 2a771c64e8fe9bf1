"""
History on IRC, on StringTransports with a Clock: CHATHISTORY (every
subcommand, its batches and FAILs), event playback, MARKREAD across one
account's connections, REDACT, and the replay of a channel's last lines to
clients that join without asking for history.
"""

from __future__ import annotations

from base64 import b64encode

from twisted.internet.defer import Deferred, succeed

from chatd.history.markers import ReadMarkers
from chatd.irc.history import parse_timestamp
from chatd.irc.message import Line, format_time
from tests.support import give_accounts, give_history
from tests.test_irc import IRCCase, IRCClient

#: What a client that reads history asks for.
FULL = ("batch", "server-time", "message-tags", "draft/chathistory")


def batched(lines: list[Line]) -> tuple[list[str], list[Line]]:
    """
    The BATCH +/- lines' parameters (the opening's) and the lines inside,
    checking that every line inside carries the batch's reference.
    """
    opening, *inside, closing = lines
    assert opening.command == "BATCH" and opening.params[0].startswith("+"), lines
    ref = opening.params[0][1:]
    assert closing.command == "BATCH" and closing.params == [f"-{ref}"], lines
    for line in inside:
        assert line.tags.get("batch") == ref, line
    return opening.params[1:], inside


def texts(lines: list[Line]) -> list[str]:
    return [line.params[-1] for line in lines]


class HistoryCase(IRCCase):
    replay_on_join = 0

    def setUp(self) -> None:
        super().setUp()
        self.clock = self.server.clock
        self.history = give_history(
            [self.factory, self.server.factory],
            self.server.chat,
            self.clock,
            replay_on_join=self.replay_on_join,
        )

    def say(self, client: IRCClient, target: str, *texts: str) -> None:
        """Say each of C{texts} to C{target}, a second apart."""
        for text in texts:
            self.clock.advance(1)
            client.send(f"PRIVMSG {target} :{text}")

    def chat(self) -> tuple[IRCClient, IRCClient]:
        """alice and bob on #chan; alice has said one to five."""
        alice = self.irc("alice", "#chan", caps=FULL)
        bob = self.irc("bob", "#chan", caps=FULL)
        self.say(alice, "#chan", "one", "two", "three", "four", "five")
        bob.lines()
        return alice, bob

    def page(self, client: IRCClient, line: str) -> list[Line]:
        """The lines of the chathistory batch answering C{line}."""
        params, inside = batched(client.ask(line))
        self.assertEqual(params[0], "chathistory")
        return inside


class CapabilityTests(HistoryCase):
    def test_caps_and_isupport_with_history(self) -> None:
        client = self.connect()
        [ls] = client.ask("CAP LS 302")
        caps = ls.params[-1].split()
        for cap in (
            "draft/chathistory",
            "draft/event-playback",
            "draft/message-redaction",
            "draft/read-marker",
            "batch",
            "server-time",
            "message-tags",
        ):
            self.assertIn(cap, caps)
        client.send("CAP REQ :draft/chathistory draft/read-marker", "NICK a")
        client.send("USER a 0 * :a", "CAP END")
        tokens = [
            token
            for line in client.lines()
            if line.command == "005"
            for token in line.params[1:-1]
        ]
        self.assertIn("CHATHISTORY=1000", tokens)
        self.assertIn("MSGREFTYPES=msgid,timestamp", tokens)

    def test_nothing_offered_without_history(self) -> None:
        self.factory.history = None
        client = self.connect()
        [ls] = client.ask("CAP LS 302")
        self.assertNotIn("draft/chathistory", ls.params[-1])
        [nak] = client.ask("CAP REQ :draft/chathistory")
        self.assertEqual(nak.params[1], "NAK")
        client.send("CAP END")
        client.register("a")
        welcome = client.raw()
        self.assertFalse([line for line in welcome if "CHATHISTORY" in line])
        for command in ("CHATHISTORY LATEST #a * 10", "MARKREAD #a", "REDACT #a x"):
            [reply] = client.ask(command)
            self.assertEqual(reply.command, "421")

    def test_the_limit_follows_the_history(self) -> None:
        self.history.limit_max = 50
        self.factory.history = self.history  # (as the service sets it)
        tokens = self.irc("a").ask("VERSION")
        self.assertIn("CHATHISTORY=50", [t for line in tokens for t in line.params])


class ChathistoryTests(HistoryCase):
    def test_latest_in_a_batch_with_time_and_msgid(self) -> None:
        alice, bob = self.chat()
        bob.send("NOTICE #chan :six")
        inside = self.page(alice, "CHATHISTORY LATEST #chan * 3")
        self.assertEqual(
            [(line.command, line.params) for line in inside],
            [
                ("PRIVMSG", ["#chan", "four"]),
                ("PRIVMSG", ["#chan", "five"]),
                ("NOTICE", ["#chan", "six"]),
            ],
        )
        self.assertTrue(inside[0].prefix.startswith("alice!"))
        self.assertTrue(inside[2].prefix.startswith("bob!"))
        for line in inside:
            self.assertIn("msgid", line.tags)
        self.assertEqual(
            [parse_timestamp(line.tags["time"]) for line in inside],
            [self.clock.seconds() - 1, self.clock.seconds(), self.clock.seconds()],
        )
        # The canonical name, however it was asked for.
        params, _ = batched(alice.ask("CHATHISTORY LATEST #CHAN * 3"))
        self.assertEqual(params, ["chathistory", "#chan"])

    def test_the_msgids_are_those_sent_live(self) -> None:
        alice = self.irc("alice", "#chan", caps=FULL)
        bob = self.irc("bob", "#chan", caps=FULL)
        alice.send("PRIVMSG #chan :hello")
        [live] = bob.lines()
        [kept] = self.page(bob, "CHATHISTORY LATEST #chan * 10")
        self.assertEqual(kept.tags["msgid"], live.tags["msgid"])
        self.assertEqual(kept.tags["time"], live.tags["time"])

    def test_before_after_around_by_msgid(self) -> None:
        alice, _ = self.chat()
        every = self.page(alice, "CHATHISTORY LATEST #chan * 10")
        self.assertEqual(texts(every), ["one", "two", "three", "four", "five"])
        ids = [line.tags["msgid"] for line in every]
        self.assertEqual(
            texts(self.page(alice, f"CHATHISTORY BEFORE #chan msgid={ids[3]} 2")),
            ["two", "three"],
        )
        self.assertEqual(
            texts(self.page(alice, f"CHATHISTORY AFTER #chan msgid={ids[1]} 2")),
            ["three", "four"],
        )
        around = texts(self.page(alice, f"CHATHISTORY AROUND #chan msgid={ids[2]} 3"))
        self.assertEqual(around, ["two", "three", "four"])
        self.assertEqual(
            texts(self.page(alice, f"CHATHISTORY LATEST #chan msgid={ids[2]} 10")),
            ["four", "five"],
        )

    def test_by_timestamp(self) -> None:
        alice, _ = self.chat()
        every = self.page(alice, "CHATHISTORY LATEST #chan * 10")
        times = [line.tags["time"] for line in every]
        self.assertEqual(
            texts(
                self.page(alice, f"CHATHISTORY BEFORE #chan timestamp={times[2]} 10")
            ),
            ["one", "two"],
        )
        self.assertEqual(
            texts(self.page(alice, f"CHATHISTORY AFTER #chan timestamp={times[2]} 10")),
            ["four", "five"],
        )
        self.assertEqual(
            texts(
                self.page(alice, f"CHATHISTORY LATEST #chan timestamp={times[3]} 10")
            ),
            ["five"],
        )

    def test_a_time_is_its_whole_millisecond(self) -> None:
        # A message said at .0004 s past a millisecond shows as that
        # millisecond: AFTER that time does not give it again.
        alice = self.irc("alice", "#chan", caps=FULL)
        self.clock.advance(0.1234)
        alice.send("PRIVMSG #chan :first")
        self.clock.advance(0.0009)
        alice.send("PRIVMSG #chan :second")
        first, second = self.page(alice, "CHATHISTORY LATEST #chan * 10")
        self.assertEqual(
            texts(
                self.page(
                    alice, f"CHATHISTORY AFTER #chan timestamp={first.tags['time']} 10"
                )
            ),
            ["second"],
        )
        self.assertEqual(
            texts(
                self.page(
                    alice,
                    f"CHATHISTORY BEFORE #chan timestamp={second.tags['time']} 10",
                )
            ),
            ["first"],
        )

    def test_between_forwards_and_backwards(self) -> None:
        alice, _ = self.chat()
        ids = [
            line.tags["msgid"]
            for line in self.page(alice, "CHATHISTORY LATEST #chan * 10")
        ]
        self.assertEqual(
            texts(
                self.page(
                    alice, f"CHATHISTORY BETWEEN #chan msgid={ids[0]} msgid={ids[4]} 2"
                )
            ),
            ["two", "three"],
        )
        self.assertEqual(
            texts(
                self.page(
                    alice, f"CHATHISTORY BETWEEN #chan msgid={ids[4]} msgid={ids[0]} 2"
                )
            ),
            ["three", "four"],
        )
        start = format_time(self.clock.seconds() - 10)
        end = format_time(self.clock.seconds() + 10)
        self.assertEqual(
            len(
                self.page(
                    alice,
                    f"CHATHISTORY BETWEEN #chan timestamp={start} timestamp={end} 9",
                )
            ),
            5,
        )

    def test_limit_above_the_maximum_is_cut_to_it(self) -> None:
        alice, _ = self.chat()
        self.history.limit_max = 2
        self.assertEqual(
            texts(self.page(alice, "CHATHISTORY LATEST #chan * 5000")),
            ["four", "five"],
        )

    def test_without_batch_the_lines_come_bare(self) -> None:
        self.chat()
        plain = self.irc("carol", "#chan", caps=("server-time", "draft/chathistory"))
        lines = plain.ask("CHATHISTORY LATEST #chan * 2")
        self.assertEqual(texts(lines), ["four", "five"])
        for line in lines:
            self.assertEqual(set(line.tags), {"time"})

    def test_empty_history_is_an_empty_batch(self) -> None:
        alice = self.irc("alice", "#quiet", caps=FULL)
        self.assertEqual(self.page(alice, "CHATHISTORY LATEST #quiet * 10"), [])

    def test_unknown_msgid_is_an_empty_batch(self) -> None:
        alice, _ = self.chat()
        params, inside = batched(
            alice.ask("CHATHISTORY BEFORE #chan msgid=nosuchmessage 10")
        )
        self.assertEqual((params, inside), (["chathistory", "#chan"], []))

    def test_tagmsg_needs_event_playback_and_client_tags_message_tags(
        self,
    ) -> None:
        alice = self.irc("alice", "#chan", caps=(*FULL, "draft/event-playback"))
        alice.send("@+draft/react=x TAGMSG #chan", "@+draft/reply=1 PRIVMSG #chan :hi")
        _, tagged, said = self.page(alice, "CHATHISTORY LATEST #chan * 10")
        self.assertEqual((tagged.command, tagged.tags["+draft/react"]), ("TAGMSG", "x"))
        self.assertEqual(said.tags["+draft/reply"], "1")
        # Without event playback, the conversation's lines alone.
        plain = self.irc("carol", "#chan", caps=FULL)
        [said] = self.page(plain, "CHATHISTORY LATEST #chan * 10")
        self.assertEqual((said.command, said.tags["+draft/reply"]), ("PRIVMSG", "1"))
        bare = self.irc("bob", "#chan", caps=("batch", "draft/chathistory"))
        [only] = self.page(bare, "CHATHISTORY LATEST #chan * 10")
        self.assertEqual(
            (only.command, only.tags.get("+draft/reply")), ("PRIVMSG", None)
        )


class EventPlaybackTests(HistoryCase):
    def test_events_only_with_event_playback(self) -> None:
        alice = self.irc("alice", "#chan", caps=FULL)
        carol = self.irc("carol", "#chan")
        self.clock.advance(1)
        alice.send("TOPIC #chan :news", "PRIVMSG #chan :hi")
        carol.send("PART #chan :bye")
        plain = self.page(alice, "CHATHISTORY LATEST #chan * 10")
        self.assertEqual([line.command for line in plain], ["PRIVMSG"])
        alice.send("CAP REQ draft/event-playback")
        events = self.page(alice, "CHATHISTORY LATEST #chan * 10")
        self.assertEqual(
            [line.command for line in events],
            ["JOIN", "JOIN", "TOPIC", "PRIVMSG", "PART"],
        )
        part = events[-1]
        self.assertTrue(part.prefix.startswith("carol!"))
        self.assertEqual(part.params, ["#chan", "bye"])
        self.assertIn("msgid", part.tags)


class ChathistoryFailTests(HistoryCase):
    def fail(self, client: IRCClient, line: str) -> list[str]:
        [reply] = client.ask(line)
        self.assertEqual(reply.command, "FAIL", reply)
        return reply.params

    def test_bad_commands(self) -> None:
        alice, _ = self.chat()
        cases = {
            "CHATHISTORY": ["CHATHISTORY", "INVALID_PARAMS"],
            "CHATHISTORY SIDEWAYS #chan * 10": [
                "CHATHISTORY",
                "INVALID_PARAMS",
                "SIDEWAYS",
            ],
            "CHATHISTORY LATEST #chan *": ["CHATHISTORY", "INVALID_PARAMS", "LATEST"],
            "CHATHISTORY LATEST #chan * 10 more": [
                "CHATHISTORY",
                "INVALID_PARAMS",
                "LATEST",
            ],
            "CHATHISTORY LATEST #chan * ten": [
                "CHATHISTORY",
                "INVALID_PARAMS",
                "LATEST",
            ],
            "CHATHISTORY LATEST #chan * 0": ["CHATHISTORY", "INVALID_PARAMS", "LATEST"],
            "CHATHISTORY BEFORE #chan * 10": [
                "CHATHISTORY",
                "INVALID_PARAMS",
                "BEFORE",
            ],
            "CHATHISTORY BEFORE #chan timestamp=yesterday 10": [
                "CHATHISTORY",
                "INVALID_PARAMS",
                "BEFORE",
                "timestamp=yesterday",
            ],
            "CHATHISTORY AFTER #chan seq=4 10": [
                "CHATHISTORY",
                "INVALID_MSGREFTYPE",
                "AFTER",
                "seq=4",
            ],
            "CHATHISTORY TARGETS msgid=a msgid=b 10": [
                "CHATHISTORY",
                "INVALID_PARAMS",
                "TARGETS",
            ],
        }
        for line, expected in cases.items():
            self.assertEqual(self.fail(alice, line)[: len(expected)], expected, line)

    def test_targets_one_may_not_read(self) -> None:
        self.chat()
        outsider = self.irc("eve", caps=FULL)
        for target in ("#chan", "#nowhere", "alice", "nobody"):
            self.assertEqual(
                self.fail(outsider, f"CHATHISTORY LATEST {target} * 10")[:4],
                ["CHATHISTORY", "INVALID_TARGET", "LATEST", target],
            )


class OwnEchoTests(HistoryCase):
    def test_own_commands_carry_the_msgid_history_replays(self) -> None:
        caps = (*FULL, "draft/event-playback")
        alice = self.irc("alice", "#chan", caps=caps)
        bob = self.irc("bob", "#chan", caps=caps)
        commands = [
            "TOPIC #chan :news",
            "MODE #chan +v bob",
            "KICK #chan bob :out",
            "NICK alicia",
            "PART #chan",
            "JOIN #chan",
        ]
        echoed = []
        for command in commands:
            self.clock.advance(1)
            [line] = [
                line
                for line in alice.ask(command)
                if line.command == command.split()[0]
            ]
            echoed.append(line)
        # Bob saw the same msgids live, up to his kick.
        seen = {line.tags.get("msgid") for line in bob.lines()}
        for line in echoed[:3]:
            self.assertIn(line.tags["msgid"], seen, line)
        carol = self.irc("carol", "#chan", caps=caps)
        replayed = self.page(carol, "CHATHISTORY LATEST #chan * 20")
        by_msgid = {line.tags["msgid"]: line for line in replayed}
        for line in echoed:
            self.assertIn(line.tags["msgid"], by_msgid, line)
            again = by_msgid[line.tags["msgid"]]
            self.assertEqual(
                (again.command, again.tags["time"]), (line.command, line.tags["time"])
            )


class OneMsgidEverywhereTests(HistoryCase):
    def test_a_nick_change_replays_with_its_live_msgid_in_each_channel(
        self,
    ) -> None:
        caps = (*FULL, "draft/event-playback")
        alice = self.irc("alice", "#a", "#b", caps=caps)
        bob = self.irc("bob", "#a", "#b", caps=caps)
        alice.lines()
        self.clock.advance(1)
        bob.send("NICK robert")
        [live] = [line for line in alice.lines() if line.command == "NICK"]
        for channel in ("#a", "#b"):
            replayed = self.page(alice, f"CHATHISTORY LATEST {channel} * 10")
            [nick] = [line for line in replayed if line.command == "NICK"]
            self.assertEqual(nick.tags["msgid"], live.tags["msgid"], channel)
            # And it is a reference in that channel's history.
            before = self.page(
                alice, f"CHATHISTORY BEFORE {channel} msgid={live.tags['msgid']} 10"
            )
            self.assertEqual([line.command for line in before], ["JOIN", "JOIN"])


class TargetsTests(HistoryCase):
    def test_targets_oldest_first_by_their_latest_item(self) -> None:
        alice = self.irc("alice", "#old", "#new", "#silent", caps=FULL)
        start = format_time(self.clock.seconds())
        self.say(alice, "#old", "a")
        self.say(alice, "#new", "b")
        end = format_time(self.clock.seconds() + 1)
        params, inside = batched(
            alice.ask(f"CHATHISTORY TARGETS timestamp={start} timestamp={end} 10")
        )
        self.assertEqual(params, ["draft/chathistory-targets"])
        self.assertEqual(
            [line.params for line in inside],
            [
                ["TARGETS", "#old", format_time(self.clock.seconds() - 1)],
                ["TARGETS", "#new", format_time(self.clock.seconds())],
            ],
        )
        self.assertEqual({line.command for line in inside}, {"CHATHISTORY"})
        # The limit counts from the first time, as BETWEEN's does.
        _, inside = batched(
            alice.ask(f"CHATHISTORY TARGETS timestamp={end} timestamp={start} 1")
        )
        self.assertEqual([line.params[1] for line in inside], ["#new"])
        _, inside = batched(
            alice.ask(f"CHATHISTORY TARGETS timestamp={start} timestamp={end} 1")
        )
        self.assertEqual([line.params[1] for line in inside], ["#old"])
        # A target is matched by its latest item: #old's "a" is inside this
        # window, but "c" (after it) is not.
        middle = format_time(self.clock.seconds() + 0.5)
        self.say(alice, "#old", "c")
        _, inside = batched(
            alice.ask(f"CHATHISTORY TARGETS timestamp={start} timestamp={middle} 10")
        )
        self.assertEqual([line.params[1] for line in inside], ["#new"])


class AccountHistoryCase(HistoryCase):
    def setUp(self) -> None:
        super().setUp()
        self.accounts = give_accounts(
            [self.factory, self.server.factory], self.server.chat, self.clock
        )

    def account(self, nick: str, *caps: str) -> IRCClient:
        """C{nick}, logged in to an account of that name it registered."""
        client = self.irc(nick, caps=caps)
        replies = client.ask("REGISTER * * sesame123")
        self.assertEqual(replies[0].params[0], "SUCCESS", replies)
        return client

    def login(self, nick: str, account: str, *caps: str) -> IRCClient:
        """Another connection, as C{nick}, logged in to C{account} by SASL."""
        client = self.connect()
        blob = b64encode(f"\0{account}\0sesame123".encode()).decode()
        client.send("CAP LS 302", f"CAP REQ :sasl {' '.join(caps)}")
        client.send("AUTHENTICATE PLAIN", f"AUTHENTICATE {blob}")
        client.send(f"NICK {nick}", f"USER {nick} 0 * :x", "CAP END")
        codes = [line.command for line in client.lines()]
        self.assertIn("903", codes)
        self.assertIn("001", codes)
        return client


class PrivateHistoryTests(AccountHistoryCase):
    def test_between_two_accounts(self) -> None:
        alice = self.account("alice", *FULL)
        bob = self.account("bob", *FULL)
        self.say(alice, "bob", "hi bob")
        self.say(bob, "alice", "hi alice")
        inside = self.page(bob, "CHATHISTORY LATEST alice * 10")
        self.assertEqual(
            [(line.prefix.split("!")[0], line.params) for line in inside],
            [("alice", ["bob", "hi bob"]), ("bob", ["alice", "hi alice"])],
        )
        params, _ = batched(alice.ask("CHATHISTORY LATEST bob * 10"))
        self.assertEqual(params, ["chathistory", "bob"])
        # Nobody else reads it, and a guest keeps no private history.
        carol = self.account("carol", *FULL)
        self.assertEqual(self.page(carol, "CHATHISTORY LATEST alice * 10"), [])
        guest = self.irc("guest", caps=FULL)
        [fail] = guest.ask("CHATHISTORY LATEST alice * 10")
        self.assertEqual(fail.params[:2], ["CHATHISTORY", "INVALID_TARGET"])


class PrivateTargetsTests(AccountHistoryCase):
    def test_targets_lists_private_conversations(self) -> None:
        alice = self.account("alice", *FULL)
        alice.send("JOIN #chan")
        bob = self.account("bob", *FULL)
        guest = self.irc("Guest", caps=FULL)
        start = format_time(self.clock.seconds())
        self.say(alice, "#chan", "in the channel")
        self.say(bob, "alice", "to alice")
        self.say(alice, "Guest", "to a guest")
        end = format_time(self.clock.seconds() + 1)
        ask = f"CHATHISTORY TARGETS timestamp={start} timestamp={end} 10"
        params, inside = batched(alice.ask(ask))
        self.assertEqual(params, ["draft/chathistory-targets"])
        now = self.clock.seconds()
        self.assertEqual(
            [line.params for line in inside],
            [
                ["TARGETS", "#chan", format_time(now - 2)],
                ["TARGETS", "bob", format_time(now - 1)],
                ["TARGETS", "guest", format_time(now)],
            ],
        )
        # Each name reads back the conversation it stands for.
        self.assertEqual(
            texts(self.page(alice, "CHATHISTORY LATEST guest * 10")), ["to a guest"]
        )
        _, inside = batched(bob.ask(ask))
        self.assertEqual([line.params[1] for line in inside], ["alice"])
        # A guest has no private history to list, only its channels.
        _, inside = batched(guest.ask(ask))
        self.assertEqual(inside, [])


class ChannelSettingTests(AccountHistoryCase):
    def test_the_founder_sets_who_reads_with_chanserv(self) -> None:
        alice = self.account("alice", *FULL)
        alice.send("JOIN #chan")
        self.say(alice, "#chan", "before bob came")
        bob = self.account("bob", *FULL)
        self.clock.advance(1)
        bob.send("JOIN #chan")
        self.say(alice, "#chan", "with bob")
        alice.lines()
        bob.lines()
        [notice] = bob.ask("CS SET #chan HISTORY none")
        self.assertIn("is not registered", notice.params[-1])
        alice.ask("CS REGISTER #chan")
        [notice] = bob.ask("CS SET #chan HISTORY none")
        self.assertIn("only the founder", notice.params[-1])
        [notice] = alice.ask("CS SET #chan HISTORY since-join")
        self.assertEqual(
            notice.params[-1], "#chan: members read its history since they joined"
        )
        self.assertEqual(
            texts(self.page(bob, "CHATHISTORY LATEST #chan * 10")), ["with bob"]
        )
        alice.ask("CS SET #chan HISTORY none")
        [fail] = bob.ask("CHATHISTORY LATEST #chan * 10")
        self.assertEqual(fail.params[:2], ["CHATHISTORY", "INVALID_TARGET"])
        [notice] = alice.ask("CS SET #chan HISTORY Default")
        self.assertIn("all of its history (the server's default)", notice.params[-1])
        [info] = bob.ask("CS INFO #chan")
        self.assertIn("founder alice", info.params[-1])
        self.assertIn("(the server's default)", info.params[-1])
        self.assertEqual(
            texts(self.page(bob, "CHATHISTORY LATEST #chan * 10")),
            ["before bob came", "with bob"],
        )
        for bad in ("CS SET #chan HISTORY some", "CS SET #chan TOPIC x"):
            [notice] = alice.ask(bad)
            self.assertIn("since-join", notice.params[-1], bad)


class ReadMarkerTests(AccountHistoryCase):
    def test_set_get_and_sync_across_connections(self) -> None:
        caps = (*FULL, "draft/read-marker")
        laptop = self.account("alice", *caps)
        laptop.send("JOIN #chan")
        phone = self.login("alice_phone", "alice", *caps)
        old = self.login("alice_old", "alice", *FULL)  # no read-marker
        for client in (phone, old):
            client.send("JOIN #chan")
            client.lines()
        [reply] = phone.ask("MARKREAD #chan")
        self.assertEqual(reply.params, ["#chan", "*"])
        when = format_time(self.clock.seconds() - 5)
        [reply] = laptop.ask(f"MARKREAD #chan timestamp={when}")
        self.assertEqual(
            (reply.prefix, reply.params), ("irc.test", ["#chan", f"timestamp={when}"])
        )
        [synced] = phone.lines()
        self.assertEqual(synced.command, "MARKREAD")
        self.assertEqual(synced.params, ["#chan", f"timestamp={when}"])
        self.assertEqual(old.lines(), [])
        # Only forward: an older time is answered with the one kept.
        earlier = format_time(self.clock.seconds() - 50)
        [reply] = phone.ask(f"MARKREAD #chan timestamp={earlier}")
        self.assertEqual(reply.params, ["#chan", f"timestamp={when}"])
        self.assertEqual(laptop.lines(), [])
        [reply] = phone.ask("MARKREAD #chan")
        self.assertEqual(reply.params, ["#chan", f"timestamp={when}"])

    def test_markread_on_join_before_the_end_of_names(self) -> None:
        alice = self.account("alice", *FULL, "draft/read-marker")
        alice.send("JOIN #chan")
        when = format_time(self.clock.seconds())
        alice.ask(f"MARKREAD #chan timestamp={when}")
        alice.send("PART #chan")
        lines = alice.ask("JOIN #chan")
        commands = [line.command for line in lines]
        self.assertEqual(commands[0], "JOIN")
        marker = commands.index("MARKREAD")
        self.assertLess(marker, commands.index("366"))
        self.assertEqual(lines[marker].params, ["#chan", f"timestamp={when}"])
        fresh = alice.ask("JOIN #other")
        self.assertIn(
            ["#other", "*"],
            [line.params for line in fresh if line.command == "MARKREAD"],
        )
        # Without the capability: no MARKREAD.
        plain = self.irc("bob", caps=FULL)
        self.assertNotIn("MARKREAD", plain.codes("JOIN #chan"))

    def test_refusals(self) -> None:
        alice = self.account("alice", *FULL, "draft/read-marker")
        [fail] = alice.ask("MARKREAD")
        self.assertEqual(fail.params[:2], ["MARKREAD", "NEED_MORE_PARAMS"])
        alice.send("JOIN #chan")
        alice.lines()
        for bad in ("*", "timestamp=soon", "2026-01-01T00:00:00.000Z"):
            [fail] = alice.ask(f"MARKREAD #chan {bad}")
            self.assertEqual(fail.params[:3], ["MARKREAD", "INVALID_PARAMS", bad])
        [fail] = alice.ask("MARKREAD bad,nick")
        self.assertEqual(fail.params[:3], ["MARKREAD", "INVALID_PARAMS", "bad,nick"])
        # A marker is the reader's own note: one never set reads *, for any
        # well-formed target, as for one whose history is not yours.
        [line] = alice.ask("MARKREAD #elsewhere")
        self.assertEqual(line.params, ["#elsewhere", "*"])
        guest = self.irc("guest", caps=("draft/read-marker",))
        [line] = guest.ask("MARKREAD bob timestamp=2020-01-01T00:00:00.000Z")
        self.assertEqual(line.params, ["bob", "timestamp=2020-01-01T00:00:00.000Z"])
        [line] = guest.ask("MARKREAD bob")
        self.assertEqual(line.params, ["bob", "timestamp=2020-01-01T00:00:00.000Z"])

    def test_a_marker_is_never_in_the_future(self) -> None:
        alice = self.account("alice", *FULL, "draft/read-marker")
        alice.send("JOIN #chan")
        alice.lines()
        [reply] = alice.ask("MARKREAD #chan timestamp=2099-01-01T00:00:00.000Z")
        self.assertEqual(
            reply.params, ["#chan", f"timestamp={format_time(self.clock.seconds())}"]
        )


class RedactTests(AccountHistoryCase):
    CAPS = (*FULL, "echo-message", "draft/message-redaction")

    def test_the_author_redacts(self) -> None:
        alice = self.account("alice", *self.CAPS)
        bob = self.irc("bob", caps=self.CAPS)
        old = self.irc("old", caps=FULL)
        for client in (alice, bob, old):
            client.send("JOIN #chan")
        alice.send("PRIVMSG #chan :oops", "PRIVMSG #chan :fine")
        oops, _ = [line for line in alice.lines() if line.command == "PRIVMSG"]
        msgid = oops.tags["msgid"]
        bob.lines()
        old.lines()
        [echo] = alice.ask(f"REDACT #chan {msgid} :typo")
        self.assertEqual(echo.command, "REDACT")
        self.assertTrue(echo.prefix.startswith("alice!"))
        self.assertEqual(echo.params, ["#chan", msgid, "typo"])
        [seen] = bob.lines()
        self.assertEqual(
            (seen.command, seen.params), ("REDACT", ["#chan", msgid, "typo"])
        )
        # the sender's copy is the same event: the same msgid as the others'
        self.assertEqual(echo.tags["msgid"], seen.tags["msgid"])
        self.assertEqual(old.lines(), [])
        self.assertEqual(
            texts(self.page(bob, "CHATHISTORY LATEST #chan * 10")), ["fine"]
        )
        [fail] = alice.ask(f"REDACT #chan {msgid}")
        self.assertEqual(fail.params[:4], ["REDACT", "UNKNOWN_MSGID", "#chan", msgid])

    def test_a_private_message_is_redacted_as_it_was_addressed(self) -> None:
        alice = self.account("alice", *self.CAPS)
        bob = self.account("bob", *self.CAPS)
        alice.send("PRIVMSG bob :meant for carol")
        [sent] = [line for line in alice.lines() if line.command == "PRIVMSG"]
        bob.lines()
        msgid = sent.tags["msgid"]
        # Both see it named as the PRIVMSG was: to bob, from alice.
        [echo] = alice.ask(f"REDACT bob {msgid}")
        self.assertEqual((echo.command, echo.params), ("REDACT", ["bob", msgid]))
        [seen] = bob.lines()
        self.assertEqual((seen.command, seen.params), ("REDACT", ["bob", msgid]))
        self.assertTrue(seen.prefix.startswith("alice!"))
        self.assertEqual(self.page(bob, "CHATHISTORY LATEST alice * 10"), [])

    def test_who_may_not(self) -> None:
        alice = self.account("alice", *self.CAPS)  # first in: the op
        bob = self.irc("bob", caps=self.CAPS)
        alice.send("JOIN #chan")
        bob.send("JOIN #chan")
        alice.send("PRIVMSG #chan :mine")
        [said] = [line for line in alice.lines() if line.command == "PRIVMSG"]
        msgid = said.tags["msgid"]
        [fail] = bob.ask(f"REDACT #chan {msgid} :no")
        self.assertEqual(
            fail.params[:4], ["REDACT", "REDACT_FORBIDDEN", "#chan", msgid]
        )
        outsider = self.irc("eve", caps=self.CAPS)
        [fail] = outsider.ask(f"REDACT #chan {msgid}")
        self.assertEqual(fail.params[:3], ["REDACT", "INVALID_TARGET", "#chan"])
        [reply] = outsider.ask("REDACT #chan")
        self.assertEqual(reply.command, "461")
        # The channel's operator may.
        bob.send("PRIVMSG #chan :spam")
        [spam] = [line for line in alice.lines() if line.command == "PRIVMSG"]
        [echo] = alice.ask(f"REDACT #chan {spam.tags['msgid']} :spam")
        self.assertEqual(echo.command, "REDACT")


class ReplayOnJoinTests(HistoryCase):
    replay_on_join = 2

    def test_last_lines_after_the_names_in_a_batch(self) -> None:
        self.chat()
        carol = self.connect().register("carol", "batch", "server-time")
        lines = carol.ask("JOIN #chan")
        commands = [line.command for line in lines]
        end = commands.index("366")
        self.assertEqual(commands[:1], ["JOIN"])
        params, inside = batched(lines[end + 1 :])
        self.assertEqual(params, ["chathistory", "#chan"])
        self.assertEqual(texts(inside), ["four", "five"])
        self.assertIn("time", inside[0].tags)

    def test_plain_lines_without_batch(self) -> None:
        self.chat()
        dave = self.irc("dave")
        lines = dave.ask("JOIN #chan")
        end = [line.command for line in lines].index("366")
        self.assertEqual(
            [(line.command, line.params) for line in lines[end + 1 :]],
            [("PRIVMSG", ["#chan", "four"]), ("PRIVMSG", ["#chan", "five"])],
        )
        self.assertEqual(lines[end + 1].tags, {})

    def test_last_lines_after_much_churn_and_a_reaction(self) -> None:
        # someone's 60 joins and parts, and a reaction, since the last
        # lines: the joining client is still shown those two lines
        alice, _ = self.chat()
        churner = self.irc("churner")
        for _ in range(30):
            self.clock.advance(1)
            churner.send("JOIN #chan", "PART #chan")
        alice.send("@+draft/react=x TAGMSG #chan")
        dave = self.irc("dave")
        lines = dave.ask("JOIN #chan")
        end = [line.command for line in lines].index("366")
        self.assertEqual(texts(lines[end + 1 :]), ["four", "five"])
        # and a LATEST of one, without event playback, is the last line
        erin = self.irc("erin", "#chan", caps=FULL)
        self.assertEqual(
            texts(self.page(erin, "CHATHISTORY LATEST #chan * 1")), ["five"]
        )

    def test_none_for_chathistory_clients_or_when_off(self) -> None:
        self.chat()
        erin = self.irc("erin", caps=FULL)
        self.assertEqual(erin.codes("JOIN #chan")[-1], "366")
        self.history.replay_on_join = 0
        self.assertEqual(self.irc("frank").codes("JOIN #chan")[-1], "366")


class LabelledTests(HistoryCase):
    def test_a_labelled_request_nests_the_chathistory_batch(self) -> None:
        alice, _ = self.chat()
        alice.send("CAP REQ labeled-response")
        lines = alice.ask("@label=q1 CHATHISTORY LATEST #chan * 2")
        outer, inner_open, *said, inner_close, outer_close = lines
        self.assertEqual(outer.tags, {"label": "q1"})
        self.assertEqual(outer.params[1], "labeled-response")
        ref = outer.params[0][1:]
        self.assertEqual(inner_open.tags["batch"], ref)
        self.assertEqual(inner_open.params[1:], ["chathistory", "#chan"])
        self.assertEqual(texts(said), ["four", "five"])
        self.assertEqual(
            {line.tags["batch"] for line in said}, {inner_open.params[0][1:]}
        )
        self.assertEqual(inner_close.tags["batch"], ref)
        self.assertEqual(outer_close.params, [f"-{ref}"])


class SlowMarkers:
    """A marker store that answers when the test says."""

    def __init__(self) -> None:
        self.loads: list[Deferred[float | None]] = []

    def load_read_marker(self, account: str, target: str) -> Deferred[float | None]:
        d: Deferred[float | None] = Deferred()
        self.loads.append(d)
        return d

    def save_read_marker(self, account: str, target: str, ts: float) -> Deferred[None]:
        return succeed(None)


class SlowMarkerTests(AccountHistoryCase):
    def test_join_waits_for_the_marker_and_holds_what_follows(self) -> None:
        slow = SlowMarkers()
        self.history.markers = ReadMarkers(slow)
        alice = self.account("alice", *FULL, "draft/read-marker")
        alice.send("JOIN #a,#b", "PING :after")
        lines = alice.lines()
        self.assertEqual([line.command for line in lines], ["JOIN"])
        slow.loads[0].callback(None)
        lines = alice.lines()
        commands = [line.command for line in lines]
        self.assertEqual(commands[:2], ["MARKREAD", "353"])
        self.assertEqual(commands[-1], "JOIN")  # #b's, waiting for its marker
        self.assertNotIn("PONG", commands)
        slow.loads[1].callback(self.clock.seconds())
        commands = [line.command for line in alice.lines()]
        self.assertEqual(commands, ["MARKREAD", "353", "366", "PONG"])

"""
Channel moderation over IRC, as IRC users see it: channel modes and their
lists, KICK, INVITE, keys and limits on JOIN, +t, member prefixes in NAMES,
WHO and WHOIS, STATUSMSG, the refusals' numerics and RPL_ISUPPORT.
"""

from __future__ import annotations

from chatd.irc.message import Line
from chatd.net.limits import FloodLimit
from tests.test_irc import SERVER, IRCCase


def said(lines: list[Line]) -> list[tuple[str, list[str]]]:
    """Each line's command and parameters (the first, the nick, left out of
    numerics)."""
    return [
        (line.command, line.params[1:] if line.command.isdigit() else line.params)
        for line in lines
    ]


class ISupportTests(IRCCase):
    def test_isupport_states_the_moderation_rules(self) -> None:
        alice = self.connect()
        alice.send("NICK alice", "USER al 0 * :Alice")
        lines = [line for line in alice.lines() if line.command == "005"]
        tokens = [t for line in lines for t in line.params[1:-1]]
        for token in (
            "PREFIX=(ov)@+",
            "CHANMODES=beI,k,l,imnst",
            "MODES=6",
            "MAXLIST=beI:100",
            "EXCEPTS=e",
            "INVEX=I",
            "KICKLEN=390",
            "STATUSMSG=@+",
        ):
            self.assertIn(token, tokens)
        [targmax] = [t for t in tokens if t.startswith("TARGMAX=")]
        self.assertIn("KICK:4", targmax.split("=")[1].split(","))
        self.assertTrue(all(len(line.params) <= 15 for line in lines))
        self.assertTrue(all(len(line.params[1:-1]) <= 13 for line in lines))

    def test_caps_offer_invite_notify_and_multi_prefix(self) -> None:
        alice = self.connect()
        [ls] = alice.ask("CAP LS 302")
        caps = ls.params[-1].split()
        self.assertIn("invite-notify", caps)
        self.assertIn("multi-prefix", caps)


class ChannelModeTests(IRCCase):
    def test_query_shows_modes_and_creation_time(self) -> None:
        self.server.clock.advance(5)
        alice = self.irc("alice", "#a")
        created = str(int(self.server.clock.seconds()))
        self.assertEqual(
            said(alice.ask("MODE #a")),
            [("324", ["#a", "+nt"]), ("329", ["#a", created])],
        )
        alice.ask("MODE #a +kl sesame 10")
        self.assertEqual(
            said(alice.ask("MODE #a"))[0], ("324", ["#a", "+ntkl", "sesame", "10"])
        )
        # The key is the members' secret.
        bob = self.irc("bob")
        self.assertEqual(
            said(bob.ask("MODE #a"))[0], ("324", ["#a", "+ntkl", "*", "10"])
        )
        # Nothing set: a lone "+".
        alice.ask("MODE #a -ntkl *")
        self.assertEqual(said(alice.ask("MODE #a"))[0], ("324", ["#a", "+"]))

    def test_changes_are_echoed_as_one_line_to_everyone(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        carol = self.irc("carol", "#a")
        bob.lines()
        alice.lines()
        [echo] = alice.ask("MODE #a +imo-t bob")
        self.assertEqual(echo.prefix, "alice!~alice@127.0.0.1")
        self.assertEqual((echo.command, echo.params), ("MODE", ["#a", "+imo-t", "bob"]))
        self.assertEqual(bob.lines(), [echo])
        self.assertEqual(carol.lines(), [echo])
        # Several flags off at once: still one line.
        [echo] = alice.ask("MODE #a -im")
        self.assertEqual(echo.params, ["#a", "-im"])
        self.assertEqual(bob.lines(), [echo])
        # Setting what is set changes nothing and says nothing.
        self.assertEqual(alice.ask("MODE #a +n"), [])
        self.assertEqual(bob.lines(), [])

    def test_the_json_side_sees_irc_mode_changes(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.server.user("bob", "#a")
        bob.lines()
        alice.ask("MODE #a +v bob")
        [event] = bob.lines()
        self.assertEqual(event["type"], "mode")

    def test_who_may_change_modes(self) -> None:
        alice = self.irc("alice", "#a")
        self.irc("eve", "#elsewhere")
        bob = self.irc("bob", "#a")
        self.assertEqual(
            said(bob.ask("MODE #a +m")),
            [("482", ["#a", "You're not channel operator"])],
        )
        self.assertEqual(said(bob.ask("MODE #a +o bob"))[0][0], "482")
        carol = self.irc("carol")
        self.assertEqual(carol.codes("MODE #a +m"), ["442"])
        self.assertEqual(alice.codes("MODE #nowhere +m"), ["403"])
        self.assertEqual(alice.codes("MODE #nowhere +o alice"), ["403"])
        self.assertEqual(
            said(alice.ask("MODE #a +o eve")),
            [("441", ["eve", "#a", "They aren't on that channel"])],
        )
        self.assertEqual(
            said(alice.ask("MODE #a +o ghost")),
            [("401", ["ghost", "No such nick/channel"])],
        )
        # Nothing changed meanwhile.
        self.assertEqual(said(alice.ask("MODE #a"))[0], ("324", ["#a", "+nt"]))

    def test_ops_and_voices(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        alice.lines()
        [echo] = alice.ask("MODE #a +o bob")
        self.assertEqual(echo.params, ["#a", "+o", "bob"])
        self.assertEqual(bob.lines(), [echo])
        # An op may take away another's op, and their own.
        [echo] = bob.ask("MODE #a -o alice")
        self.assertEqual(echo.params, ["#a", "-o", "alice"])
        [echo] = bob.ask("MODE #a -o bob")
        self.assertEqual(echo.params, ["#a", "-o", "bob"])
        self.assertEqual(bob.codes("MODE #a +o bob"), ["482"])

    def test_refusals_name_the_mode_and_the_rest_applies(self) -> None:
        alice = self.irc("alice", "#a")
        lines = said(alice.ask("MODE #a +mzl 0"))
        self.assertEqual(lines[0], ("MODE", ["#a", "+m"]))
        self.assertEqual(lines[1], ("472", ["z", "is unknown mode char to me"]))
        self.assertEqual(lines[2][0], "696")
        self.assertEqual(lines[2][1][:3], ["#a", "l", "0"])
        self.assertEqual(len(lines), 3)
        # A limit of 0, -1 or nothing is refused, and sets nothing.
        for bad in ("0", "-1", "abc", ""):
            [refusal] = alice.ask(f"MODE #a +l :{bad}")
            self.assertEqual(refusal.command, "696")
        self.assertEqual(said(alice.ask("MODE #a"))[0], ("324", ["#a", "+mnt"]))

    def test_keys(self) -> None:
        alice = self.irc("alice", "#a")
        # A key with a space, too long or empty: 696, the key never echoed.
        for bad in ("pass phrase", "long" * 100, "", " "):
            [refusal] = alice.ask(f"MODE #a +k :{bad}")
            self.assertEqual(refusal.command, "696")
            self.assertEqual(refusal.params[1:4], ["#a", "k", "*"])
        [echo] = alice.ask("MODE #a +k sesame")
        self.assertEqual(echo.params, ["#a", "+k", "sesame"])
        self.assertEqual(
            said(alice.ask("MODE #a +k other")),
            [("467", ["#a", "Channel key already set"])],
        )
        # -k needs no key, and says which it was.
        [echo] = alice.ask("MODE #a -k")
        self.assertEqual(echo.params, ["#a", "-k", "sesame"])

    def test_ban_list_with_setter_and_time(self) -> None:
        alice = self.irc("alice", "#a")
        [echo] = alice.ask("MODE #a +b bob")
        self.assertEqual(echo.params, ["#a", "+b", "bob!*@*"])  # a full mask
        when = str(int(self.server.clock.seconds()))
        for ask in ("MODE #a +b", "MODE #a b"):
            self.assertEqual(
                said(alice.ask(ask)),
                [
                    ("367", ["#a", "bob!*@*", "alice!~alice@127.0.0.1", when]),
                    ("368", ["#a", "End of channel ban list"]),
                ],
            )
        # Anyone who can see the channel may read its bans.
        self.assertEqual(self.irc("carol").codes("MODE #a +b"), ["367", "368"])
        # Removal is case-insensitive and echoes the mask as stored.
        [echo] = alice.ask("MODE #a -b BOB!*@*")
        self.assertEqual(echo.params, ["#a", "-b", "bob!*@*"])
        self.assertEqual(alice.codes("MODE #a +b"), ["368"])
        [refusal] = alice.ask("MODE #a +b a!b!c")
        self.assertEqual(refusal.command, "696")
        self.assertEqual(refusal.params[1:4], ["#a", "b", "a!b!c"])

    def test_exception_and_invite_lists_are_for_ops(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        alice.ask("MODE #a +eI friend ally")
        self.assertEqual(
            [(c, p[:2]) for c, p in said(alice.ask("MODE #a e"))],
            [
                ("348", ["#a", "friend!*@*"]),
                ("349", ["#a", "End of channel exception list"]),
            ],
        )
        self.assertEqual(
            [(c, p[:2]) for c, p in said(alice.ask("MODE #a +I"))],
            [
                ("346", ["#a", "ally!*@*"]),
                ("347", ["#a", "End of channel invite list"]),
            ],
        )
        self.assertEqual(bob.codes("MODE #a +e"), ["482"])
        self.assertEqual(bob.codes("MODE #a I"), ["482"])

    def test_a_full_list(self) -> None:
        alice = self.irc("alice", "#a")
        for i in range(100):
            alice.send(f"MODE #a +b n{i}")
        alice.lines()
        self.assertEqual(
            said(alice.ask("MODE #a +b one-too-many")),
            [("478", ["#a", "b", "Channel list is full"])],
        )

    def test_at_most_modes_changes_with_a_parameter(self) -> None:
        alice = self.irc("alice", "#a")
        [echo] = alice.ask("MODE #a +bbbbbbb a b c d e f g")
        self.assertEqual(echo.params[1], "+bbbbbb")
        self.assertEqual(len(echo.params), 2 + 6)

    def test_user_modes_still_work(self) -> None:
        alice = self.irc("alice")
        [echo] = alice.ask("MODE alice +i")
        self.assertEqual(echo.params, ["alice", "+i"])
        self.assertEqual(alice.ask("MODE alice +o"), [])  # only OPER gives +o
        self.assertEqual(alice.codes("MODE alice +x"), ["501"])


class JoinTests(IRCCase):
    def test_bans_case_insensitively_and_exceptions(self) -> None:
        alice = self.irc("alice", "#a")
        alice.ask("MODE #a +b bob!*@*")
        bob = self.connect().register("Bob")
        self.assertEqual(
            said(bob.ask("JOIN #a")), [("474", ["#a", "Cannot join channel (+b)"])]
        )
        alice.ask("MODE #a +e *o*!*@*")
        self.assertEqual(bob.ask("JOIN #a")[0].command, "JOIN")

    def test_a_banned_member_keeps_their_nick(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        alice.ask("MODE #a +b bob")
        bob.lines()
        self.assertEqual(
            said(bob.ask("NICK robert")),
            [
                (
                    "435",
                    ["robert", "#a", "Cannot change nickname while banned on channel"],
                )
            ],
        )
        self.assertEqual(alice.lines(), [])
        alice.ask("MODE #a +v bob")
        bob.lines()
        self.assertEqual(bob.codes("NICK robert"), ["NICK"])

    def test_invite_only_and_invite_exceptions(self) -> None:
        alice = self.irc("alice", "#a")
        alice.ask("MODE #a +i")
        bob = self.irc("bob")
        self.assertEqual(
            said(bob.ask("JOIN #a")), [("473", ["#a", "Cannot join channel (+i)"])]
        )
        alice.ask("MODE #a +I bob")
        self.assertEqual(bob.ask("JOIN #a")[0].command, "JOIN")

    def test_keys_pair_up_with_channels(self) -> None:
        alice = self.irc("alice", "#a", "#b", "#c")
        alice.ask("MODE #a +k ka")
        alice.ask("MODE #b +k kb")
        bob = self.irc("bob")
        self.assertEqual(
            said(bob.ask("JOIN #a")), [("475", ["#a", "Cannot join channel (+k)"])]
        )
        self.assertEqual(bob.codes("JOIN #a wrong"), ["475"])
        lines = bob.ask("JOIN #a,#b,#c ka,kb")
        self.assertEqual(
            [line.params[0] for line in lines if line.command == "JOIN"],
            ["#a", "#b", "#c"],
        )

    def test_limit(self) -> None:
        alice = self.irc("alice", "#a")
        [echo] = alice.ask("MODE #a +l 2")
        self.assertEqual(echo.params, ["#a", "+l", "2"])
        self.irc("bob", "#a")
        carol = self.irc("carol")
        self.assertEqual(
            said(carol.ask("JOIN #a")), [("471", ["#a", "Cannot join channel (+l)"])]
        )
        [echo] = alice.ask("MODE #a -l")
        self.assertEqual(echo.params, ["#a", "-l"])
        self.assertEqual(carol.ask("JOIN #a")[0].command, "JOIN")


class KickTests(IRCCase):
    def test_kick_with_reason(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        carol = self.irc("carol", "#a")
        alice.lines()
        bob.lines()
        [kick] = alice.ask("KICK #a bob :behave")
        self.assertEqual(kick.prefix, "alice!~alice@127.0.0.1")
        self.assertEqual((kick.command, kick.params), ("KICK", ["#a", "bob", "behave"]))
        self.assertEqual(bob.lines(), [kick])
        self.assertEqual(carol.lines(), [kick])
        self.assertEqual(bob.codes("PRIVMSG #a :hello?"), ["404"])  # +n: out

    def test_default_comment_is_the_kickers_nick(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        [kick] = alice.ask("KICK #a bob")
        self.assertEqual(kick.params, ["#a", "bob", "alice"])
        self.assertEqual(bob.lines(), [kick])

    def test_several_targets_one_kick_line_each(self) -> None:
        alice = self.irc("alice", "#a")
        self.irc("bob", "#a")
        self.irc("carol", "#a")
        dave = self.irc("dave", "#a")
        dave.lines()
        lines = alice.ask("KICK #a bob,carol :bye")
        self.assertEqual(
            [line.params for line in lines],
            [["#a", "bob", "bye"], ["#a", "carol", "bye"]],
        )
        self.assertEqual(dave.lines(), lines)
        # As many channels as nicks pair up; other counts are refused.
        self.irc("erin", "#a")
        self.assertEqual(alice.codes("KICK #a,#a erin,dave :x"), ["KICK", "KICK"])
        self.assertEqual(alice.codes("KICK #a,#b x,y,z"), ["461"])

    def test_kick_refusals(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        self.irc("eve", "#b")
        carol = self.irc("carol")
        self.assertEqual(
            said(bob.ask("KICK #a alice")),
            [("482", ["#a", "You're not channel operator"])],
        )
        self.assertEqual(carol.codes("KICK #a bob"), ["442"])
        self.assertEqual(alice.codes("KICK #nowhere bob"), ["403"])
        self.assertEqual(said(alice.ask("KICK #a ghost"))[0][1][0], "ghost")
        self.assertEqual(alice.codes("KICK #a ghost"), ["401"])
        self.assertEqual(
            said(alice.ask("KICK #a eve")),
            [("441", ["eve", "#a", "They aren't on that channel"])],
        )
        self.assertEqual(alice.codes("KICK #a"), ["461"])
        # An op may kick an op, even the one who opped them.
        alice.ask("MODE #a +o bob")
        self.assertEqual(bob.codes("KICK #a alice"), ["KICK"])

    def test_a_long_comment_is_cut_to_kicklen(self) -> None:
        alice = self.irc("alice", "#a")
        self.irc("bob", "#a")
        [kick] = alice.ask("KICK #a bob :" + "x" * 450)
        self.assertEqual(kick.params[2], "x" * 390)


class InviteTests(IRCCase):
    def test_invite_into_an_invite_only_channel(self) -> None:
        alice = self.irc("alice", "#a")
        alice.ask("MODE #a +i")
        bob = self.irc("bob")
        self.assertEqual(said(alice.ask("INVITE bob #a")), [("341", ["bob", "#a"])])
        [invite] = bob.lines()
        self.assertEqual(invite.prefix, "alice!~alice@127.0.0.1")
        self.assertEqual((invite.command, invite.params), ("INVITE", ["bob", "#a"]))
        # Bob can list it, and join on it.
        self.assertEqual(
            said(bob.ask("INVITE")),
            [("336", ["#a"]), ("337", ["End of /INVITE list"])],
        )
        self.assertEqual(bob.ask("JOIN #a")[0].command, "JOIN")
        self.assertEqual(said(bob.ask("INVITE")), [("337", ["End of /INVITE list"])])

    def test_invite_notify_tells_the_other_ops_who_asked(self) -> None:
        alice = self.irc("alice", "#a")
        op = self.irc("op", "#a", caps=("invite-notify",))
        plain = self.irc("plain", "#a", caps=("invite-notify",))
        nocap = self.irc("nocap", "#a")
        alice.ask("MODE #a +o op")
        alice.ask("MODE #a +o nocap")
        for c in (op, plain, nocap):
            c.lines()
        self.irc("bob")
        self.assertEqual(alice.codes("INVITE bob #a"), ["341"])
        [seen] = op.lines()
        self.assertEqual((seen.command, seen.params), ("INVITE", ["bob", "#a"]))
        self.assertEqual(plain.lines(), [])  # not an op
        self.assertEqual(nocap.lines(), [])  # did not ask for it

    def test_invite_refusals(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        carol = self.irc("carol")
        self.assertEqual(said(alice.ask("INVITE ghost #a"))[0][0], "401")
        self.assertEqual(
            said(alice.ask("INVITE bob #a")),
            [("443", ["bob", "#a", "is already on channel"])],
        )
        self.assertEqual(
            said(carol.ask("INVITE bob #a")),
            [("442", ["#a", "You're not on that channel"])],
        )
        self.assertEqual(alice.codes("INVITE carol #nowhere"), ["403"])
        self.assertEqual(alice.codes("INVITE carol"), ["461"])
        # Any member may invite, but under +i only operators.
        self.assertEqual(bob.codes("INVITE carol #a"), ["341"])
        alice.ask("MODE #a +i")
        self.assertEqual(
            said(bob.ask("INVITE carol #a")),
            [("482", ["#a", "You're not channel operator"])],
        )

    def test_inviting_someone_away(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob")
        bob.ask("AWAY :lunch")
        self.assertEqual(
            said(alice.ask("INVITE bob #a")),
            [("341", ["bob", "#a"]), ("301", ["bob", "lunch"])],
        )


class SpeechAndTopicTests(IRCCase):
    def test_moderated_and_voice(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        alice.ask("MODE #a +m")
        alice.lines()
        [refusal] = bob.ask("PRIVMSG #a :hi")
        self.assertEqual(refusal.command, "404")
        self.assertEqual(refusal.params[1], "#a")
        self.assertIn("+m", refusal.params[2])
        self.assertEqual(alice.lines(), [])
        alice.ask("MODE #a +v bob")
        bob.ask("PRIVMSG #a :hi")
        self.assertEqual(said(alice.lines()), [("PRIVMSG", ["#a", "hi"])])

    def test_no_external_messages_and_bans(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob")
        [refusal] = bob.ask("PRIVMSG #a :from outside")
        self.assertEqual(refusal.command, "404")
        self.assertIn("+n", refusal.params[2])
        [echo] = alice.ask("MODE #a -n")
        self.assertEqual(echo.params, ["#a", "-n"])
        bob.ask("PRIVMSG #a :from outside")
        self.assertEqual(said(alice.lines()), [("PRIVMSG", ["#a", "from outside"])])
        bob.ask("JOIN #a")
        alice.ask("MODE #a +b bob")
        [refusal] = bob.ask("PRIVMSG #a :still here")
        self.assertEqual(refusal.command, "404")
        self.assertIn("banned", refusal.params[2])

    def test_topic_under_t(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        alice.lines()
        self.assertEqual(
            said(bob.ask("TOPIC #a :mine")),
            [("482", ["#a", "You're not channel operator"])],
        )
        self.assertEqual(alice.lines(), [])
        alice.ask("MODE #a +v bob")
        self.assertEqual(bob.codes("TOPIC #a :mine"), ["482"])
        alice.ask("MODE #a -t")
        self.assertEqual(bob.codes("TOPIC #a :mine"), ["TOPIC"])

    def test_statusmsg_reaches_the_operators_only(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a")
        carol = self.irc("carol", "#a")
        alice.ask("MODE #a +o bob")
        for c in (alice, bob, carol):
            c.lines()
        self.assertEqual(bob.ask("PRIVMSG @#a :ops only"), [])
        [message] = alice.lines()
        self.assertEqual(message.params, ["@#a", "ops only"])
        self.assertEqual(carol.lines(), [])
        # +#a: voiced members and operators.
        alice.ask("MODE #a +v carol")
        bob.lines()
        carol.lines()
        alice.ask("PRIVMSG +#a :voices")
        self.assertEqual(said(carol.lines()), [("PRIVMSG", ["+#a", "voices"])])
        self.assertEqual(said(bob.lines()), [("PRIVMSG", ["+#a", "voices"])])


class PrefixTests(IRCCase):
    def test_names_prefixes_and_multi_prefix(self) -> None:
        alice = self.irc("alice", "#a")
        multi = self.irc("multi", "#a", caps=("multi-prefix",))
        alice.ask("MODE #a +v alice")
        self.assertEqual(
            said(alice.ask("NAMES #a"))[0], ("353", ["=", "#a", "@alice multi"])
        )
        self.assertEqual(
            said(multi.ask("NAMES #a"))[0], ("353", ["=", "#a", "@+alice multi"])
        )

    def test_secret_channels_show_at_in_names(self) -> None:
        alice = self.irc("alice", "#a")
        alice.ask("MODE #a +s")
        self.assertEqual(said(alice.ask("NAMES #a"))[0], ("353", ["@", "#a", "@alice"]))
        bob = self.irc("bob")
        lines = bob.ask("JOIN #a")
        self.assertEqual(said(lines)[1], ("353", ["@", "#a", "@alice bob"]))
        # An outsider learns nothing of a secret channel.
        carol = self.irc("carol")
        self.assertEqual(
            said(carol.ask("NAMES #a")), [("366", ["#a", "End of /NAMES list"])]
        )
        self.assertEqual(said(carol.ask("LIST"))[1:], [("323", ["End of /LIST"])])

    def test_names_of_several_channels_ends_once(self) -> None:
        alice = self.irc("alice", "#a", "#b")
        self.assertEqual(
            said(alice.ask("NAMES #a,#b")),
            [
                ("353", ["=", "#a", "@alice"]),
                ("353", ["=", "#b", "@alice"]),
                ("366", ["#a,#b", "End of /NAMES list"]),
            ],
        )

    def test_who_flags_and_whois_channels(self) -> None:
        alice = self.irc("alice", "#a")
        bob = self.irc("bob", "#a", caps=("multi-prefix",))
        alice.ask("MODE #a +v alice")
        alice.ask("AWAY :out")
        lines = bob.ask("WHO #a")
        self.assertEqual([line.params[6] for line in lines[:-1]], ["G@+", "H"])
        lines = alice.ask("WHO #a")
        self.assertEqual([line.params[6] for line in lines[:-1]], ["G@", "H"])
        # No channel, no prefix.
        self.assertEqual(alice.ask("WHO alice")[0].params[6], "G")
        [whois] = [line for line in bob.ask("WHOIS alice") if line.command == "319"]
        self.assertEqual(whois.params[1:], ["alice", "@+#a"])
        [whois] = [line for line in alice.ask("WHOIS alice") if line.command == "319"]
        self.assertEqual(whois.params[1:], ["alice", "@#a"])
        self.assertEqual(lines[0].params[4], SERVER)


class FloodTests(IRCCase):
    def test_mode_changes_kicks_and_invites_cost_queries_do_not(self) -> None:
        self.factory.flood = FloodLimit(burst=3, rate=1.0)
        alice = self.irc("alice")
        alice.ask("JOIN #a")
        self.server.clock.advance(10)
        for _ in range(5):
            self.assertEqual(alice.codes("MODE #a"), ["324", "329"])
            self.assertEqual(alice.codes("MODE #a +b"), ["368"])
        self.assertEqual(alice.codes("MODE #a +m"), ["MODE"])
        self.assertEqual(alice.codes("INVITE alice #a"), ["443"])
        self.assertEqual(alice.codes("MODE #a -m"), ["MODE"])
        # The bucket is empty: the next change waits its turn.
        lines = alice.ask("MODE #a +m")
        self.assertNotIn("MODE", [line.command for line in lines])
        self.server.clock.advance(2)
        self.assertIn("MODE", [line.command for line in alice.lines()])

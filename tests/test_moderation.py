"""
Moderation across the protocols: two IRC users and a JSON user in one
channel moderate it from either side, and each sees what the others did.
"""

from __future__ import annotations

from tests.test_irc import IRCCase


class AcrossProtocolsTests(IRCCase):
    def setUp(self) -> None:
        super().setUp()
        # alice (IRC) makes #ops and is its operator; bob (IRC) and carol
        # (JSON) join it.
        self.alice = self.irc("alice", "#ops")
        self.bob = self.irc("bob", "#ops")
        self.carol = self.server.user("carol", "#ops")
        self.alice.lines()
        self.bob.lines()
        self.carol.lines()

    def test_operator_on_irc_voices_and_moderates(self) -> None:
        alice, bob, carol = self.alice, self.bob, self.carol
        [echo] = alice.ask("MODE #ops +mv bob")
        self.assertEqual((echo.command, echo.params), ("MODE", ["#ops", "+mv", "bob"]))
        self.assertEqual(
            [(line.command, line.params) for line in bob.lines()],
            [("MODE", ["#ops", "+mv", "bob"])],
        )
        self.assertEqual(
            carol.lines(),
            [
                {
                    "type": "mode",
                    "channel": "#ops",
                    "by": "alice",
                    "changes": [
                        {"mode": "moderated", "set": True},
                        {"mode": "voice", "set": True, "param": "bob"},
                    ],
                }
            ],
        )
        # carol is not voiced: the JSON side is refused, with the reason
        refusal = carol.request("msg", to="#ops", text="hello?")
        self.assertEqual(refusal["code"], "cannot_send")
        self.assertIn("moderated", refusal["message"])
        # bob is voiced: everyone hears him
        bob.send("PRIVMSG #ops :voiced")
        self.assertEqual(carol.lines()[0]["text"], "voiced")
        self.assertEqual(alice.lines()[0].params, ["#ops", "voiced"])
        # who says who is what, on both sides
        who = carol.request("who", channel="#ops")
        self.assertEqual(who["privileges"], {"alice": ["op"], "bob": ["voice"]})
        names = [line for line in alice.ask("NAMES #ops") if line.command == "353"]
        self.assertEqual(names[0].params[-1].split(), ["@alice", "+bob", "carol"])

    def test_json_operator_kicks_an_irc_user(self) -> None:
        alice, bob, carol = self.alice, self.bob, self.carol
        alice.ask("MODE #ops +o carol")
        carol.lines()
        bob.lines()
        reply = carol.request("kick", channel="#ops", nick="bob", reason="off topic")
        self.assertEqual(reply["type"], "ok")
        [kick] = bob.lines()
        self.assertEqual(kick.command, "KICK")
        self.assertEqual(kick.params, ["#ops", "bob", "off topic"])
        self.assertTrue(kick.prefix.startswith("carol!"))
        [seen] = alice.lines()
        self.assertEqual(seen.params, ["#ops", "bob", "off topic"])
        # bob is out: he cannot talk there
        codes = bob.codes("PRIVMSG #ops :still here?")
        self.assertEqual(codes, ["404"])

    def test_ban_from_json_catches_the_irc_user_until_excepted(self) -> None:
        alice, bob, carol = self.alice, self.bob, self.carol
        alice.ask("MODE #ops +o carol")
        carol.lines()
        host_mask = "*!~bob@127.0.0.1"
        reply = carol.request("ban", channel="#ops", mask=host_mask)
        self.assertEqual(reply["mask"], host_mask)
        bob.lines()
        self.assertEqual(bob.codes("PRIVMSG #ops :hi"), ["404"])
        bob.send("PART #ops")
        self.assertEqual(bob.codes("JOIN #ops"), ["474"])
        # an exception set on IRC lets him back in
        alice.ask("MODE #ops +e bob!*@*")
        self.assertIn("JOIN", bob.codes("JOIN #ops"))
        bans = carol.request("bans", channel="#ops")
        self.assertEqual([e["mask"] for e in bans["entries"]], [host_mask])

    def test_invite_only_key_and_limit(self) -> None:
        alice, bob, carol = self.alice, self.bob, self.carol
        alice.ask("MODE #ops +ikl secret 3")
        bob.send("PART #ops")
        self.assertEqual(bob.codes("JOIN #ops"), ["473"])
        # the JSON user, not an operator, may not invite into +i
        refusal = carol.request("invite", channel="#ops", nick="bob")
        self.assertEqual(refusal["code"], "not_channel_operator")
        replies = alice.ask("INVITE bob #ops")
        self.assertEqual(
            [(r.command, r.params) for r in replies],
            [("341", ["alice", "bob", "#ops"])],
        )
        [invite] = bob.lines()
        self.assertEqual((invite.command, invite.params), ("INVITE", ["bob", "#ops"]))
        self.assertIn("JOIN", bob.codes("JOIN #ops"))  # no key needed
        alice.ask("MODE #ops -i")
        dave = self.server.user("dave")
        self.assertEqual(dave.request("join", channel="#ops")["code"], "bad_key")
        refusal = dave.request("join", channel="#ops", key="secret")
        self.assertEqual(refusal["code"], "channel_full")
        alice.ask("MODE #ops +l 10")
        ok = dave.request("join", channel="#ops", key="secret")
        self.assertEqual(ok["type"], "ok")

    def test_secret_channel_is_hidden_from_outsiders_of_both_kinds(self) -> None:
        alice = self.alice
        alice.ask("MODE #ops +s")
        eve = self.server.user("eve")
        self.assertEqual(eve.request("list")["channels"], [])
        self.assertEqual(eve.request("who", channel="#ops")["code"], "no_such_channel")
        mallory = self.irc("mallory")
        self.assertEqual(mallory.codes("LIST"), ["321", "323"])
        self.assertEqual(mallory.codes("NAMES #ops"), ["366"])
        whois = mallory.ask("WHOIS alice")
        self.assertNotIn("319", [line.command for line in whois])

    def test_invisible_irc_user_is_not_listed_to_json_outsiders(self) -> None:
        self.bob.ask("MODE bob +i")
        eve = self.server.user("eve")
        who = eve.request("who", channel="#ops")
        self.assertEqual(who["members"], ["alice", "carol"])
        [listed] = eve.request("list")["channels"]
        self.assertEqual(listed["members"], 2)
        inside = self.carol.request("who", channel="#ops")
        self.assertEqual(inside["members"], ["alice", "bob", "carol"])

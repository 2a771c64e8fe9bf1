"""
Channel moderation in the core: privileges, modes, bans, kick, invite,
secret channels and who sees what, with no adapter involved.
"""

from __future__ import annotations

from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher

from chatd.core import (
    Change,
    Channel,
    Chat,
    Invited,
    Joined,
    Kicked,
    Message,
    ModeChanged,
    User,
)
from chatd.core.modes import LIST_MAX
from tests.test_core import CoreCase, Inbox


class ModCase(CoreCase):
    def setUp(self) -> None:
        super().setUp()
        self.clock = Clock()
        self.clock.advance(1000)
        self.chat = Chat(max_users=50, clock=self.clock)

    def user(self, nick: str | None = None, host: str = "10.0.0.1") -> User:
        inbox = Inbox()
        user = self.chat.connect(inbox, f"{host}:1", host)
        user.username = "~" + (nick or "x")[:9]
        if nick is not None:
            self.chat.set_nick(user, nick)
            self.inboxes[nick] = inbox
        return user

    def room(self, *nicks: str) -> list[User]:
        """Users called C{nicks} in #room, the first its creator."""
        users = [self.user(n) for n in nicks]
        for u in users:
            self.chat.join(u, "#room")
        for n in nicks:
            self.inbox(n)
        return users

    def room_channel(self) -> Channel:
        channel = self.chat.find_channel("#room")
        assert channel is not None
        return channel

    def modes(self, user: User, *changes: Change) -> list[Change]:
        applied, errors = self.chat.set_modes(user, "#room", changes)
        self.assertEqual(errors, [])
        return applied


class PrivilegeTests(ModCase):
    def test_creator_is_operator_and_gives_privileges(self) -> None:
        alice, bob, carol = self.room("alice", "bob", "carol")
        channel = self.room_channel()
        self.assertEqual(
            [(m.user.nick, m.prefixes) for m in channel.members.values()],
            [("alice", "@"), ("bob", ""), ("carol", "")],
        )
        applied = self.modes(
            alice, Change("o", True, "BOB"), Change("v", True, "carol")
        )
        self.assertEqual(
            applied, [Change("o", True, "bob"), Change("v", True, "carol")]
        )
        [event] = self.inbox("bob")
        assert isinstance(event, ModeChanged)
        self.assertEqual(
            (event.by, event.channel, event.changes), ("alice", "#room", tuple(applied))
        )
        self.assertEqual(self.inbox("alice"), [])  # the actor has the reply
        self.assertEqual(channel.members[bob].prefixes, "@")
        # bob, now an operator, may take alice's status away.
        self.chat.set_modes(bob, "#room", [Change("o", False, "alice")])
        self.assertEqual(channel.members[alice].prefixes, "")
        self.assertRefused(
            "not_channel_operator",
            self.chat.set_modes,
            carol,
            "#room",
            [Change("m", True)],
        )

    def test_changes_that_change_nothing_are_left_out(self) -> None:
        alice, _bob = self.room("alice", "bob")
        self.assertEqual(
            self.modes(alice, Change("n", True), Change("o", True, "alice")), []
        )
        self.assertEqual(self.inbox("bob"), [])  # no event for nothing

    def test_refusals_name_the_problem(self) -> None:
        alice, _bob = self.room("alice", "bob")
        outsider = self.user("eve")
        cases = [
            ("no_such_nick", [Change("o", True, "nobody")]),
            ("user_not_in_channel", [Change("v", True, "eve")]),
            ("unknown_mode", [Change("loud", True)]),
            ("bad_mode_param", [Change("l", True, "lots")]),
            ("bad_mode_param", [Change("k", True, "has space")]),
            ("bad_mask", [Change("b", True, "a b")]),
        ]
        for code, changes in cases:
            self.assertRefused(code, self.chat.set_modes, alice, "#room", changes)
        self.assertRefused("not_in_channel", self.chat.set_modes, outsider, "#room", [])
        self.assertRefused("no_such_channel", self.chat.set_modes, alice, "#none", [])
        # Nothing changed, nobody was told.
        self.assertEqual(self.room_channel().modes.summary()[2:], [])
        self.assertEqual(self.inbox("bob"), [])

    def test_partial_applies_what_it_can(self) -> None:
        alice, _bob = self.room("alice", "bob")
        applied, errors = self.chat.set_modes(
            alice,
            "#room",
            [Change("m", True), Change("x", True), Change("o", True, "ghost")],
            partial=True,
        )
        self.assertEqual(applied, [Change("m", True)])
        self.assertEqual([e.code for e in errors], ["unknown_mode", "no_such_nick"])
        # Each refusal says which change it refused (IRC's replies name it).
        self.assertEqual(
            [e.change for e in errors],
            [Change("x", True), Change("o", True, "ghost")],
        )

    def test_key_and_limit(self) -> None:
        alice, bob = self.room("alice", "bob")
        logged = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.modes(alice, Change("k", True, "pw"), Change("l", True, "2"))
        # The key is a password: the log says one was set, not which.
        said = [formatEvent(e) for e in logged if "set modes" in formatEvent(e)]
        self.assertEqual(said, ["alice set modes of #room: +k * +l 2"])
        self.assertRefused(
            "key_set", self.chat.set_modes, alice, "#room", [Change("k", True, "other")]
        )
        _channel, modes = self.chat.modes(bob, "#room")
        self.assertIn(Change("k", True, "pw"), modes)
        outsider = self.user("eve")
        self.assertIn(Change("k", True, "*"), self.chat.modes(outsider, "#room")[1])
        # -k takes the key off whatever parameter is given, and says which.
        self.assertEqual(
            self.modes(alice, Change("k", False, "wrong")), [Change("k", False, "pw")]
        )
        self.assertEqual(self.modes(alice, Change("l", False)), [Change("l", False)])


class SpeechTests(ModCase):
    def test_moderated_channel(self) -> None:
        alice, bob, carol = self.room("alice", "bob", "carol")
        self.modes(alice, Change("m", True), Change("v", True, "carol"))
        self.inbox("bob"), self.inbox("carol")
        e = self.assertRefused("cannot_send", self.chat.send, bob, "#room", "hi", 1.0)
        self.assertIn("moderated", e.message)
        self.chat.send(carol, "#room", "voiced", 1.0)
        self.chat.send(alice, "#room", "op", 1.0)
        self.assertEqual([m.text for m in self.inbox("bob")], ["voiced", "op"])  # type: ignore[attr-defined]
        self.modes(alice, Change("m", False))
        self.chat.send(bob, "#room", "free again", 1.0)

    def test_outsiders_under_n_and_without(self) -> None:
        alice, _bob = self.room("alice", "bob")
        eve = self.user("eve")
        e = self.assertRefused("cannot_send", self.chat.send, eve, "#room", "hi", 1.0)
        self.assertIn("+n", e.message)
        self.modes(alice, Change("n", False))
        self.inbox("bob")
        self.chat.send(eve, "#room", "from outside", 1.0)
        [message] = self.inbox("bob")
        assert isinstance(message, Message)
        self.assertEqual((message.sender, message.text), ("eve", "from outside"))

    def test_ban_silences_a_member_until_excepted_or_voiced(self) -> None:
        alice, bob = self.room("alice", "bob")
        self.modes(alice, Change("b", True, "bob"))
        self.assertRefused("cannot_send", self.chat.send, bob, "#room", "hi", 1.0)
        # A banned member keeps their nick (as on InspIRCd and solanum), or
        # a new one would slip out of the ban.
        error = self.assertRefused("banned", self.chat.set_nick, bob, "robert")
        self.assertEqual(error.channel, "#room")
        self.assertEqual(bob.nick, "bob")
        self.chat.set_nick(bob, "BOB")  # only its case: still the same nick
        # The server may rename them (nick protection), and the cached
        # decision follows the member's nick, both ways.
        self.chat.set_nick(bob, "robert", forced=True)
        self.chat.send(bob, "#room", "new name", 1.0)
        self.chat.set_nick(bob, "Bob")
        self.assertRefused("cannot_send", self.chat.send, bob, "#room", "hi", 1.0)
        self.modes(alice, Change("e", True, "*!~bob@*"))
        self.chat.send(bob, "#room", "excepted", 1.0)
        self.chat.set_nick(bob, "bobby")
        self.chat.set_nick(bob, "bob")
        self.modes(alice, Change("e", False, "*!~bob@*"), Change("v", True, "bob"))
        self.chat.send(bob, "#room", "voiced speak through bans", 1.0)
        self.chat.set_nick(bob, "bobby")

    def test_statusmsg_reaches_operators_only(self) -> None:
        alice, _bob, carol = self.room("alice", "bob", "carol")
        self.modes(alice, Change("o", True, "bob"), Change("v", True, "carol"))
        for n in ("alice", "bob", "carol"):
            self.inbox(n)
        sent = self.chat.send(carol, "@#ROOM", "ops only", 2.0)
        self.assertEqual(sent.to, "@#room")
        self.assertEqual(self.inbox("alice"), [sent])
        self.assertEqual(self.inbox("bob"), [sent])
        self.assertEqual(self.inbox("carol"), [])
        self.chat.send(alice, "+#room", "voiced and ops", 2.0)
        self.assertEqual(len(self.inbox("carol")), 1)
        self.assertEqual(len(self.inbox("bob")), 1)


class JoinTests(ModCase):
    def test_ban_and_exception(self) -> None:
        (alice,) = self.room("alice")
        self.modes(alice, Change("b", True, "*!*@10.0.0.9"))
        mallory = self.user("mallory", host="10.0.0.9")
        self.assertRefused("banned", self.chat.join, mallory, "#room")
        self.modes(alice, Change("e", True, "mallory"))
        self.chat.join(mallory, "#room")

    def test_invite_only_key_and_limit_and_invitation(self) -> None:
        alice, bob = self.room("alice", "bob")
        self.modes(
            alice, Change("i", True), Change("k", True, "pw"), Change("l", True, "2")
        )
        carol = self.user("carol")
        self.assertRefused("invite_only", self.chat.join, carol, "#room")
        self.assertRefused(
            "not_channel_operator", self.chat.invite, bob, "#room", "carol"
        )
        event = self.chat.invite(alice, "#room", "carol")
        self.assertEqual(self.inbox("carol"), [event])
        assert isinstance(event, Invited)
        self.assertEqual(
            (event.by, event.nick, event.channel), ("alice", "carol", "#room")
        )
        self.assertEqual(self.chat.invites(carol), [self.room_channel()])
        # The invitation lets carol past +i, +k and +l, once.
        self.chat.join(carol, "#room")
        self.assertEqual(self.chat.invites(carol), [])
        self.chat.leave(carol, "#room")
        self.assertRefused("invite_only", self.chat.join, carol, "#room")
        self.modes(alice, Change("i", False))
        self.assertRefused("bad_key", self.chat.join, carol, "#room", None, "nope")
        self.modes(alice, Change("l", True, "1"))
        self.assertRefused("channel_full", self.chat.join, carol, "#room", None, "pw")
        self.modes(alice, Change("l", False))
        self.chat.join(carol, "#room", None, "pw")

    def test_invite_exception(self) -> None:
        (alice,) = self.room("alice")
        self.modes(alice, Change("i", True), Change("I", True, "*!*@10.0.0.*"))
        self.chat.join(self.user("dave"), "#room")
        self.assertRefused(
            "invite_only", self.chat.join, self.user("erin", "192.0.2.1"), "#room"
        )

    def test_invite_refusals_and_notify(self) -> None:
        alice, bob = self.room("alice", "bob")
        self.modes(alice, Change("o", True, "bob"))
        self.inbox("bob")
        self.assertRefused("no_such_nick", self.chat.invite, alice, "#room", "ghost")
        self.assertRefused(
            "already_in_channel", self.chat.invite, alice, "#room", "bob"
        )
        self.assertRefused(
            "not_in_channel", self.chat.invite, self.user("eve"), "#room", "alice"
        )
        self.assertRefused("no_such_channel", self.chat.invite, alice, "#none", "bob")
        carol = self.user("carol")
        event = self.chat.invite(alice, "#room", "carol")
        # The other operators are told (IRC's invite-notify) too.
        self.assertEqual(self.inbox("bob"), [event])
        # An invitation to a channel that is gone and made again is void.
        self.chat.leave(alice, "#room")
        self.chat.leave(bob, "#room")
        self.chat.join(self.user("zed"), "#room")
        self.assertEqual(self.chat.invites(carol), [])


class KickTests(ModCase):
    def test_kick(self) -> None:
        alice, bob, carol = self.room("alice", "bob", "carol")
        event = self.chat.kick(alice, "#room", "BOB", "spam")
        assert isinstance(event, Kicked)
        self.assertEqual((event.by, event.nick, event.reason), ("alice", "bob", "spam"))
        self.assertEqual(self.inbox("bob"), [event])  # the kicked user is told
        self.assertEqual(self.inbox("carol"), [event])
        self.assertEqual(self.inbox("alice"), [])
        self.assertFalse(self.chat.in_channel(bob, "#room"))
        self.assertRefused(
            "not_channel_operator", self.chat.kick, carol, "#room", "alice"
        )
        self.assertRefused("user_not_in_channel", self.chat.kick, alice, "#room", "bob")
        self.assertRefused("no_such_nick", self.chat.kick, alice, "#room", "ghost")
        self.assertRefused("not_in_channel", self.chat.kick, bob, "#room", "alice")
        self.assertRefused(
            "bad_args", self.chat.kick, alice, "#room", "carol", "x" * 391
        )
        # Kicking yourself out of a channel you alone are in ends it.
        self.chat.kick(alice, "#room", "carol")
        self.chat.kick(alice, "#room", "alice")
        self.assertIsNone(self.chat.find_channel("#room"))


class ListTests(ModCase):
    def test_lists_are_bounded_and_readable(self) -> None:
        alice, bob = self.room("alice", "bob")
        self.modes(*[alice], *[Change("b", True, f"spam{i}") for i in range(LIST_MAX)])
        self.assertRefused(
            "list_full",
            self.chat.set_modes,
            alice,
            "#room",
            [Change("b", True, "one-more")],
        )
        # A mask already on the list is not added twice, whatever its case.
        self.assertEqual(self.modes(alice, Change("b", True, "SPAM1")), [])
        entries = self.chat.list_entries(bob, "#room", "b")
        self.assertEqual(len(entries), LIST_MAX)
        self.assertEqual(
            (entries[0].mask, entries[0].set_by, entries[0].set_at),
            ("spam0!*@*", "alice!~alice@10.0.0.1", 1000.0),
        )
        self.assertRefused(
            "not_channel_operator", self.chat.list_entries, bob, "#room", "e"
        )
        self.assertEqual(self.chat.list_entries(alice, "#room", "except"), [])
        self.assertRefused("unknown_mode", self.chat.list_entries, alice, "#room", "m")


class VisibilityTests(ModCase):
    def test_invisible_members_are_hidden_from_outsiders(self) -> None:
        ghost, friend = self.room("ghost", "friend")
        self.chat.set_invisible(ghost, True)
        outsider = self.user("eve")
        _channel, members = self.chat.who(outsider, "#room")
        self.assertEqual([m.user.nick for m in members], ["friend"])
        [summary] = self.chat.list_channels(outsider)
        self.assertEqual(summary.users, 1)
        self.assertEqual(
            [m.user.nick for m in self.chat.who(friend, "#room")[1]],
            ["ghost", "friend"],
        )
        self.assertEqual(self.chat.channels_of(ghost, outsider), [])
        self.assertEqual(len(self.chat.channels_of(ghost, friend)), 1)

    def test_secret_channel_does_not_exist_for_outsiders(self) -> None:
        alice, bob = self.room("alice", "bob")
        self.modes(alice, Change("s", True))
        eve = self.user("eve")
        self.assertEqual(self.chat.list_channels(eve), [])
        self.assertEqual(len(self.chat.list_channels(bob)), 1)
        for f, args in [
            (self.chat.who, (eve, "#room")),
            (self.chat.topic, (eve, "#room", None)),
            (self.chat.modes, (eve, "#room")),
            (self.chat.send, (eve, "#room", "hi", 1.0)),
            (self.chat.kick, (eve, "#room", "bob")),
            (self.chat.invite, (eve, "#room", "bob")),
        ]:
            self.assertRefused("no_such_channel", f, *args)
        self.assertEqual(self.chat.channels_of(bob, eve), [])
        # Joining is still possible: secret is not invite only.
        self.chat.join(eve, "#room")
        self.assertEqual(len(self.chat.channels_of(bob, eve)), 1)


class EventValueTests(ModCase):
    def test_events_remember_who_acted_as_they_were(self) -> None:
        _alice, _bob = self.room("alice", "bob")
        carol = self.user("carol")
        self.chat.join(carol, "#room")
        [joined] = self.inbox("bob")
        assert isinstance(joined, Joined)
        self.chat.set_nick(carol, "caroline")
        self.assertEqual(joined.origin.nick, "carol")
        self.assertEqual(joined.origin.mask, "carol!~carol@10.0.0.1")
        self.assertEqual(joined.ts, 1000.0)
        self.assertTrue(joined.msgid)
        self.assertNotEqual(joined.msgid, self.inbox("bob")[0].msgid)

"""
Accounts, owned nicks, server operators and registered channels in the
core: the rules every adapter shares, with no adapter or store involved.
"""

from __future__ import annotations

from chatd.core import Change, ChatError, ModeChanged
from chatd.core.events import AccountChanged, Killed, Wallops
from tests.core.test_moderation import ModCase


class OwnedNickTests(ModCase):
    def test_an_accounts_nick_is_refused_to_others(self) -> None:
        self.chat.reserve("Alice")
        bob = self.user("bob")
        with self.assertRaises(ChatError) as caught:
            self.chat.set_nick(bob, "ALICE")
        self.assertEqual(caught.exception.code, "nick_reserved")
        self.assertIn("Alice", caught.exception.message)
        self.assertEqual(bob.nick, "bob")
        fresh = self.user()
        with self.assertRaises(ChatError):
            self.chat.set_nick(fresh, "alice")
        self.assertIsNone(fresh.nick)

    def test_the_owner_may_take_it(self) -> None:
        self.chat.reserve("Alice")
        user = self.user()
        self.chat.log_in(user, "Alice")
        self.assertEqual(self.chat.set_nick(user, "alice"), "alice")
        self.assertFalse(self.chat.wears_owned_nick(user))

    def test_timeout_and_off_policies_let_it_be_taken(self) -> None:
        self.chat.reserve("alice")
        for policy in ("timeout", "off"):
            self.chat.nick_protection = policy
            user = self.user()
            self.chat.set_nick(user, "alice")
            self.assertTrue(self.chat.wears_owned_nick(user))
            self.chat.disconnect(user, "bye")

    def test_unreserved_nick_is_free_again(self) -> None:
        self.chat.reserve("alice")
        self.chat.unreserve("ALICE")
        self.assertIsNone(self.chat.nick_owner("alice"))
        self.chat.set_nick(self.user(), "alice")


class LoginTests(ModCase):
    def test_login_tells_channel_peers_and_sets_origin(self) -> None:
        alice, _bob = self.room("alice", "bob")
        self.chat.log_in(alice, "Acc")
        self.assertEqual(alice.origin.account, "Acc")
        [event] = self.inbox("bob")
        assert isinstance(event, AccountChanged)
        self.assertEqual((event.nick, event.account), ("alice", "Acc"))
        self.assertEqual(self.inbox("alice"), [])
        self.chat.log_out(alice)
        [event] = self.inbox("bob")
        assert isinstance(event, AccountChanged)
        self.assertIsNone(event.account)
        self.assertIsNone(alice.origin.account)

    def test_account_ban_follows_login(self) -> None:
        alice, bob = self.room("alice", "bob")
        self.modes(alice, Change("b", True, "$a:Bob*"))
        channel = self.room_channel()
        self.assertTrue(channel.members[bob].may_speak)
        self.chat.log_in(bob, "bobby")
        self.assertFalse(channel.members[bob].may_speak)
        with self.assertRaises(ChatError) as caught:
            self.chat.send(bob, "#room", "hi", 1.0)
        self.assertEqual(caught.exception.code, "cannot_send")
        self.chat.log_out(bob)
        self.assertTrue(channel.members[bob].may_speak)
        self.assertEqual(list(self.chat.check_invariants()), [])

    def test_bad_account_mask(self) -> None:
        (alice,) = self.room("alice")
        for mask in ("$a:", "$a:a@b"):
            with self.assertRaises(ChatError) as caught:
                self.modes(alice, Change("b", True, mask))
            self.assertEqual(caught.exception.code, "bad_mask")


class OperTests(ModCase):
    def test_only_opers_kill(self) -> None:
        alice, _bob = self.room("alice", "bob")
        with self.assertRaises(ChatError) as caught:
            self.chat.kill(alice, "bob", "spam")
        self.assertEqual(caught.exception.code, "not_oper")
        self.chat.set_oper(alice, "admin")
        event = self.chat.kill(alice, "BOB", "spam")
        self.assertEqual(self.inbox("bob"), [event])
        assert isinstance(event, Killed)
        self.assertEqual((event.by, event.nick, event.reason), ("alice", "bob", "spam"))
        with self.assertRaises(ChatError) as caught:
            self.chat.kill(alice, "nobody", "x")
        self.assertEqual(caught.exception.code, "no_such_nick")

    def test_opers_act_in_any_channel_and_see_secret_ones(self) -> None:
        alice, bob = self.room("alice", "bob")
        self.modes(alice, Change("s", True))
        oper = self.user("oper")
        with self.assertRaises(ChatError):
            self.chat.kick(oper, "#room", "bob")
        self.chat.set_oper(oper, "admin")
        self.assertEqual(
            [c.channel.name for c in self.chat.list_channels(oper)], ["#room"]
        )
        _, members = self.chat.who(oper, "#room")
        self.assertEqual(len(members), 2)
        self.chat.set_modes(oper, "#room", [Change("m", True)])
        self.chat.kick(oper, "#room", "bob", "out")
        self.assertNotIn(bob, self.room_channel().members)

    def test_wallops_reach_readers(self) -> None:
        alice, bob = self.room("alice", "bob")
        with self.assertRaises(ChatError):
            self.chat.wallops(alice, "hello")
        self.chat.set_oper(alice, "admin")
        bob.wallops = True
        event = self.chat.wallops(alice, "hello")
        assert isinstance(event, Wallops)
        self.assertEqual(self.inbox("bob"), [event])
        self.assertEqual(self.inbox("alice"), [])


class RegisteredChannelTests(ModCase):
    def setUp(self) -> None:
        super().setUp()
        self.kept: list[tuple[str, bool]] = []
        self.chat.channel_kept = lambda c, dropped: self.kept.append((c.name, dropped))

    def test_register_needs_an_account_and_operator(self) -> None:
        alice, bob = self.room("alice", "bob")
        with self.assertRaises(ChatError) as caught:
            self.chat.register_channel(alice, "#room")
        self.assertEqual(caught.exception.code, "not_logged_in")
        self.chat.log_in(bob, "bob")
        with self.assertRaises(ChatError) as caught:
            self.chat.register_channel(bob, "#room")
        self.assertEqual(caught.exception.code, "not_channel_operator")
        self.chat.log_in(alice, "Alice")
        channel = self.chat.register_channel(alice, "#room")
        self.assertEqual(channel.founder, "alice")
        self.assertEqual(self.kept, [("#room", False)])
        with self.assertRaises(ChatError) as caught:
            self.chat.register_channel(alice, "#room")
        self.assertEqual(caught.exception.code, "already_registered")

    def test_registered_channel_outlives_its_members_and_ops_founder(self) -> None:
        (alice,) = self.room("alice")
        self.chat.log_in(alice, "Alice")
        self.chat.register_channel(alice, "#room")
        self.chat.topic(alice, "#room", "kept")
        self.assertEqual(self.kept[-1], ("#room", False))
        self.chat.leave(alice, "#room")
        channel = self.room_channel()
        self.assertEqual(channel.topic, "kept")
        self.assertEqual(list(self.chat.check_invariants()), [])
        bob = self.user("bob")
        self.chat.join(bob, "#room")
        self.assertFalse(channel.members[bob].op)
        self.inbox("bob")
        self.chat.join(alice, "#room")
        self.assertTrue(channel.members[alice].op)
        [_, given] = self.inbox("bob")
        assert isinstance(given, ModeChanged)
        self.assertEqual(given.changes, (Change("o", True, "alice"),))

    def test_access_list_gives_voice(self) -> None:
        (alice,) = self.room("alice")
        self.chat.log_in(alice, "Alice")
        self.chat.register_channel(alice, "#room")
        self.chat.set_access(alice, "#room", "Carol", "v")
        carol = self.user("carol")
        self.chat.log_in(carol, "carol")
        self.chat.join(carol, "#room")
        self.assertTrue(self.room_channel().members[carol].voice)
        bob = self.user("bob")
        self.chat.log_in(bob, "bob")
        with self.assertRaises(ChatError) as caught:
            self.chat.set_access(bob, "#room", "bob", "o")
        self.assertEqual(caught.exception.code, "not_founder")
        with self.assertRaises(ChatError) as caught:
            self.chat.set_access(alice, "#room", "bob", "x")
        self.assertEqual(caught.exception.code, "bad_args")

    def test_unregister_drops_an_empty_channel(self) -> None:
        (alice,) = self.room("alice")
        self.chat.log_in(alice, "Alice")
        self.chat.register_channel(alice, "#room")
        self.chat.leave(alice, "#room")
        self.chat.unregister_channel(alice, "#room")
        self.assertIsNone(self.chat.find_channel("#room"))
        self.assertEqual(self.kept[-1], ("#room", True))

    def test_restore_channel(self) -> None:
        channel = self.chat.restore_channel(
            "#Kept",
            "alice",
            5.0,
            topic="t",
            flags="ntm",
            key="k",
            limit=3,
            lists=[("b", "*!*@bad", "alice", 4.0), ("b", "$a:evil", "alice", 4.0)],
            access=[("Carol", "v")],
        )
        self.assertEqual(channel.modes.flags, {"n", "t", "m"})
        self.assertEqual(
            [e.mask for e in channel.modes.lists["b"]], ["*!*@bad", "$a:evil"]
        )
        evil = self.user("evil")
        self.chat.log_in(evil, "evil")
        with self.assertRaises(ChatError) as caught:
            self.chat.join(evil, "#kept", key="k")
        self.assertEqual(caught.exception.code, "banned")
        self.assertEqual(channel.access, {"carol": "v"})

    def test_disconnect_keeps_registered_channel(self) -> None:
        (alice,) = self.room("alice")
        self.chat.log_in(alice, "Alice")
        self.chat.register_channel(alice, "#room")
        self.chat.disconnect(alice, "bye")
        self.assertIsNotNone(self.chat.find_channel("#room"))
        self.assertEqual(list(self.chat.check_invariants()), [])

    def test_founder_sets_who_reads_the_history(self) -> None:
        alice, bob = self.room("alice", "bob")
        self.chat.log_in(alice, "Alice")
        self.chat.log_in(bob, "bob")
        with self.assertRaises(ChatError) as caught:
            self.chat.set_history_access(alice, "#room", "none")
        self.assertEqual(caught.exception.code, "not_registered")
        self.chat.register_channel(alice, "#room")
        self.assertEqual(self.chat.conversation(bob, "#room").start, 0.0)
        with self.assertRaises(ChatError) as caught:
            self.chat.set_history_access(bob, "#room", "none")
        self.assertEqual(caught.exception.code, "not_founder")
        with self.assertRaises(ChatError) as caught:
            self.chat.set_history_access(alice, "#room", "some")
        self.assertEqual(caught.exception.code, "bad_args")
        self.chat.set_history_access(alice, "#room", "none")
        self.assertEqual(self.kept[-1], ("#room", False))
        with self.assertRaises(ChatError) as caught:
            self.chat.conversation(bob, "#room")
        self.assertEqual(caught.exception.code, "history_hidden")
        # Back to the server's default; and dropping the registration
        # forgets the setting with the rest.
        self.chat.set_history_access(alice, "#room", None)
        self.assertEqual(self.chat.conversation(bob, "#room").start, 0.0)
        self.chat.set_history_access(alice, "#room", "since-join")
        self.chat.unregister_channel(alice, "#room")
        self.assertIsNone(self.room_channel().history_access)

    def test_restore_channel_brings_back_its_history_setting(self) -> None:
        channel = self.chat.restore_channel("#Kept", "alice", 5.0, history="none")
        self.assertEqual(channel.history_access, "none")
        odd = self.chat.restore_channel("#Odd", "alice", 5.0, history="bogus")
        self.assertIsNone(odd.history_access)

"""
The transport-free core: names, rules, state and who sees which event.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatd.core import (
    AwayChanged,
    Change,
    Chat,
    ChatError,
    Event,
    Joined,
    Left,
    Message,
    NickChanged,
    Quit,
    TagMessage,
    TopicChanged,
    User,
    check_line,
    check_text,
    fold,
    is_valid_channel,
    is_valid_nick,
)


class Inbox:
    """A session that keeps what it is shown."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def take(self) -> list[Event]:
        events, self.events = self.events, []
        return events


class CoreCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.chat = Chat(max_users=10)
        self.inboxes: dict[str, Inbox] = {}

    def tearDown(self) -> None:
        self.assertEqual(list(self.chat.check_invariants()), [])

    def user(self, nick: str | None = None) -> User:
        inbox = Inbox()
        user = self.chat.connect(inbox, "127.0.0.1:1")
        if nick is not None:
            self.chat.set_nick(user, nick)
            self.inboxes[nick] = inbox
        return user

    def inbox(self, nick: str) -> list[Event]:
        return self.inboxes[nick].take()

    def assertRefused(self, code: str, f, *args) -> ChatError:  # type: ignore[no-untyped-def]
        e = self.assertRaises(ChatError, f, *args)
        self.assertEqual(e.code, code)
        return e


class NameTests(SynchronousTestCase):
    def test_nicks(self) -> None:
        for good in ["a", "alice", "A" * 30, "x-1", "_", "[]{}|^`\\", "b0b"]:
            self.assertTrue(is_valid_nick(good), good)
        for bad in ["", "1abc", "-abc", "A" * 31, "al ice", "al.ice", "é", "a\n", "#a"]:
            self.assertFalse(is_valid_nick(bad), bad)

    def test_channels(self) -> None:
        for good in ["#a", "#" + "x" * 49, "#café", "#a-b.c", "##", "#日本"]:
            self.assertTrue(is_valid_channel(good), good)
        for bad in [
            "",
            "#",
            "a",
            "#" + "x" * 50,
            "#a b",
            "#a,b",
            "#a\x07",
            "#a\u00a0b",
            "#a\u3000",
            "#a\x85",
            "#\ud800",
            "#a\n",
        ]:
            self.assertFalse(is_valid_channel(bad), repr(bad))

    def test_fold_is_ascii_only(self) -> None:
        self.assertEqual(fold("#GeNeRaL"), "#general")
        self.assertEqual(fold("#CAFÉ"), "#cafÉ")
        self.assertNotEqual(fold("#É"), fold("#é"))

    def test_text(self) -> None:
        check_text("hello\tworld")
        check_text("x" * 4000)
        check_text("日本語 🎉")
        for bad in ["", "x" * 4001, "a\nb", "a\x00", "a\x7f", "a\x9b", "a\ud800"]:
            e = self.assertRaises(ChatError, check_text, bad)
            self.assertEqual(e.code, "bad_args")
            self.assertIn("'text'", e.message)

    def test_formatting_codes_are_text(self) -> None:
        """
        IRC's bold, colour, reset, monospace, reverse, italic, strikethrough
        and underline pass in text, topics and reasons; no other control
        character does (CTCP's \\x01, ESC, BEL, \\x04 hex colour...).
        """
        fancy = "\x02bold\x02 \x0304,02red\x03 \x0f\x11mono\x16rev\x1dit\x1estrike\x1fu"
        check_text(fancy)
        check_line(fancy, "topic", 390)
        for bad in ["\x01ACTION waves\x01", "\x1b[31m", "\x07", "\x04ff0000", "\x1c"]:
            self.assertRaises(ChatError, check_text, bad)
            self.assertRaises(ChatError, check_line, bad, "topic", 390)
        self.assertRaises(ChatError, check_line, "a\tb", "topic", 390)


class NickTests(CoreCase):
    def test_register_and_change(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        self.chat.join(alice, "#a")
        self.chat.join(bob, "#a")
        self.inbox("alice")
        self.assertEqual(self.chat.set_nick(bob, "robert"), "robert")
        self.assertEqual(self.inbox("alice")[0].__class__, NickChanged)
        self.assertEqual(self.inbox("bob"), [])
        self.assertEqual(self.chat.channels["#a"].nicks(), ["alice", "robert"])
        # The old nick is free again.
        carol = self.user("bob")
        self.assertEqual(carol.nick, "bob")

    def test_in_use_regardless_of_case(self) -> None:
        self.user("Alice")
        other = self.user()
        e = self.assertRefused("nick_in_use", self.chat.set_nick, other, "ALICE")
        self.assertIn("Alice", e.message)
        self.assertIsNone(other.nick)

    def test_same_nick_is_a_quiet_no_op(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        self.chat.join(alice, "#a")
        self.chat.join(bob, "#a")
        self.inbox("alice")
        self.assertEqual(self.chat.set_nick(bob, "bob"), "bob")
        self.assertEqual(self.inbox("alice"), [])

    def test_case_change_tells_the_others(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        self.chat.join(alice, "#a")
        self.chat.join(bob, "#a")
        self.inbox("alice")
        self.assertEqual(self.chat.set_nick(bob, "Bob"), "Bob")
        [event] = self.inbox("alice")
        assert isinstance(event, NickChanged)
        self.assertEqual((event.old, event.new), ("bob", "Bob"))
        self.assertEqual(self.chat.channels["#a"].nicks(), ["alice", "Bob"])

    def test_nick_event_once_per_peer_even_with_many_shared_channels(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        self.user("loner")
        for name in ["#a", "#b", "#c"]:
            self.chat.join(alice, name)
            self.chat.join(bob, name)
        self.inbox("alice")
        self.chat.set_nick(bob, "bobby")
        self.assertEqual(len(self.inbox("alice")), 1)
        self.assertEqual(self.inbox("loner"), [])

    def test_bad_nick_changes_nothing(self) -> None:
        alice = self.user("alice")
        self.assertRefused("bad_nick", self.chat.set_nick, alice, "9lives")
        self.assertEqual(alice.nick, "alice")


class ChannelTests(CoreCase):
    def test_join_creates_and_keeps_the_creators_case(self) -> None:
        alice = self.user("alice")
        channel = self.chat.join(alice, "#General")
        self.assertEqual(channel.name, "#General")
        self.assertEqual(channel.topic, "")
        bob = self.user("bob")
        self.assertIs(self.chat.join(bob, "#GENERAL"), channel)
        [event] = self.inbox("alice")
        assert isinstance(event, Joined)
        self.assertEqual((event.channel, event.nick), ("#General", "bob"))
        self.assertEqual(self.inbox("bob"), [])

    def test_names_that_hide_characters_are_refused(self) -> None:
        alice = self.user("alice")
        for name, hidden in [
            ("#gen\u00aderal", "U+00AD (SOFT HYPHEN)"),
            ("#\u200b", "U+200B (ZERO WIDTH SPACE)"),
            ("#\u202egeneral", "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ]:
            e = self.assertRefused("bad_channel", self.chat.join, alice, name)
            self.assertIn(hidden, e.message)
        self.assertEqual(self.chat.channels, {})
        # names in any script are still welcome
        for name in ["#général", "#日本語", "#привет", "#🎉"]:
            self.assertEqual(self.chat.join(alice, name).name, name)

    def test_lookalike_names_are_one_channel(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        channel = self.chat.join(alice, "#general")
        cyrillic = "#gen\u0435ral"
        self.assertIs(self.chat.join(bob, cyrillic), channel)
        self.assertEqual(channel.nicks(), ["alice", "bob"])
        self.assertEqual(len(self.chat.channels), 1)
        # and every command finds it by either spelling
        self.chat.send(bob, cyrillic, "hi", 1.0)
        [_joined, said] = self.inbox("alice")
        assert isinstance(said, Message)
        self.assertEqual((said.to, said.text), ("#general", "hi"))
        self.assertIs(self.chat.find_channel("#GEN\u0415RAL"), channel)
        self.assertTrue(self.chat.in_channel(bob, "#General"))
        self.chat.leave(bob, cyrillic)
        self.assertFalse(self.chat.in_channel(bob, "#general"))

    def test_join_twice_is_quiet(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        self.chat.join(alice, "#a")
        self.chat.join(bob, "#a")
        self.inbox("alice")
        self.chat.join(bob, "#A")
        self.assertEqual(self.inbox("alice"), [])
        self.assertEqual(self.chat.channels["#a"].nicks(), ["alice", "bob"])

    def test_needs_a_nick(self) -> None:
        anon = self.user()
        e = self.assertRefused("nick_required", self.chat.join, anon, "#a")
        # The core speaks no wire format: each adapter adds its own hint.
        self.assertEqual(e.message, "choose a nick first")

    def test_leave(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        self.chat.join(alice, "#a")
        self.chat.join(bob, "#a")
        self.inbox("alice")
        self.chat.leave(bob, "#A", "later")
        [event] = self.inbox("alice")
        assert isinstance(event, Left)
        self.assertEqual(
            (event.channel, event.nick, event.reason), ("#a", "bob", "later")
        )
        self.assertEqual(bob.channels, {})
        self.chat.leave(alice, "#a")
        self.assertNotIn("#a", self.chat.channels)

    def test_leave_errors(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        self.chat.join(alice, "#a")
        self.assertRefused("no_such_channel", self.chat.leave, bob, "#nowhere")
        self.assertRefused("not_in_channel", self.chat.leave, bob, "#a")
        self.assertRefused("bad_channel", self.chat.leave, bob, "nohash")
        self.assertRefused("bad_args", self.chat.leave, alice, "#a", "bad\nreason")

    def test_topic(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        outsider = self.user("eve")
        self.chat.join(alice, "#a")
        self.chat.join(bob, "#a")
        self.chat.set_modes(alice, "#a", [Change("t", False)])
        self.inbox("alice")
        self.inbox("bob")
        channel = self.chat.topic(bob, "#A", "release day", 100.0)
        self.assertEqual(
            (channel.topic, channel.topic_by, channel.topic_ts),
            ("release day", "bob", 100.0),
        )
        [event] = self.inbox("alice")
        assert isinstance(event, TopicChanged)
        self.assertEqual(
            (event.channel, event.topic, event.by), ("#a", "release day", "bob")
        )
        self.assertEqual(self.inbox("bob"), [])
        # Outsiders may read but not set.
        self.assertEqual(self.chat.topic(outsider, "#a", None, 0).topic, "release day")
        self.assertRefused("not_in_channel", self.chat.topic, outsider, "#a", "mine", 0)
        self.assertRefused("no_such_channel", self.chat.topic, outsider, "#zz", None, 0)
        self.assertRefused("bad_args", self.chat.topic, bob, "#a", "x" * 391, 0)
        self.assertRefused("bad_args", self.chat.topic, bob, "#a", "tab\there", 0)
        self.chat.topic(bob, "#a", "", 1)
        self.assertEqual(channel.topic, "")

    def test_list_is_ordered_by_name(self) -> None:
        alice = self.user("alice")
        for name in ["#zeta", "#Alpha", "#beta"]:
            self.chat.join(alice, name)
        self.assertEqual(
            [s.channel.name for s in self.chat.list_channels()],
            ["#Alpha", "#beta", "#zeta"],
        )


class MessageTests(CoreCase):
    def test_channel_message_reaches_everyone_else(self) -> None:
        users = [self.user(n) for n in ["alice", "bob", "carol"]]
        self.user("outsider")
        for u in users:
            self.chat.join(u, "#Room")
        for n in ["alice", "bob"]:
            self.inbox(n)
        message = self.chat.send(users[0], "#room", "hi all", 1234.5)
        self.assertEqual(
            (message.sender, message.to, message.text, message.ts),
            ("alice", "#Room", "hi all", 1234.5),
        )
        self.assertEqual(self.inbox("alice"), [])
        self.assertEqual(self.inbox("bob"), [message])
        self.assertEqual(self.inbox("carol"), [message])
        self.assertEqual(self.inbox("outsider"), [])

    def test_private_message_uses_the_registered_nick(self) -> None:
        alice = self.user("alice")
        self.user("Bob")
        message = self.chat.send(alice, "BOB", "psst", 1.0)
        self.assertEqual(message.to, "Bob")
        self.assertEqual(self.inbox("Bob"), [message])

    def test_errors_in_order(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        self.chat.join(bob, "#b")
        self.assertRefused("bad_channel", self.chat.send, alice, "#a b", "", 0)
        self.assertRefused("bad_args", self.chat.send, alice, "#nowhere", "", 0)
        self.assertRefused("no_such_channel", self.chat.send, alice, "#nowhere", "x", 0)
        self.assertRefused("cannot_send", self.chat.send, alice, "#b", "x", 0)
        self.assertRefused("bad_nick", self.chat.send, alice, "9x", "x", 0)
        self.assertRefused("bad_args", self.chat.send, alice, "nobody", "a\x1bb", 0)
        self.assertRefused("no_such_nick", self.chat.send, alice, "nobody", "x", 0)
        self.assertEqual(self.inbox("bob"), [])


class Wire:
    """A session on the fan-out fast path, counting how often it encodes."""

    encoded = 0

    def __init__(self, key: str) -> None:
        self.wire_key = key
        self.written: list[bytes] = []
        self.wire_write = self.written.append
        self.events: list[Event] = []

    def wire_encode(self, event: Event) -> bytes:
        Wire.encoded += 1
        assert isinstance(event, Message)
        return f"{self.wire_key}:{event.text}".encode()

    def deliver(self, event: Event) -> None:
        self.events.append(event)


class FanoutTests(CoreCase):
    """Channel messages are encoded once per wire form, then only written."""

    def wire_user(self, nick: str, key: str) -> tuple[User, Wire]:
        session = Wire(key)
        user = self.chat.connect(session, "127.0.0.1:1")
        self.chat.set_nick(user, nick)
        self.chat.join(user, "#room")
        return user, session

    def test_once_per_wire_form(self) -> None:
        Wire.encoded = 0
        alice, a = self.wire_user("alice", "x")
        _, b = self.wire_user("bob", "x")
        _, c = self.wire_user("carol", "x")
        _, d = self.wire_user("dave", "y")
        plain = self.user("erin")  # a session without the fast path
        self.chat.join(plain, "#room")
        self.inbox("erin")
        message = self.chat.send(alice, "#room", "hi", 1.0)
        self.assertEqual(Wire.encoded, 2)  # "x" and "y", not once per member
        self.assertEqual(a.written, [])  # never to the sender
        self.assertEqual(b.written, [b"x:hi"])
        self.assertEqual(c.written, [b"x:hi"])
        self.assertEqual(d.written, [b"y:hi"])
        self.assertEqual(self.inbox("erin"), [message])

    def test_membership_and_session_changes_regroup(self) -> None:
        alice, _ = self.wire_user("alice", "x")
        bob, b = self.wire_user("bob", "x")
        self.chat.send(alice, "#room", "one", 1.0)
        _, c = self.wire_user("carol", "x")
        self.chat.leave(bob, "#room")
        self.chat.send(alice, "#room", "two", 2.0)
        b.wire_key = "z"  # bob's client asks for another form...
        self.chat.join(bob, "#room")
        c.wire_key = "y"  # ...and so does carol's, while in the channel
        self.chat.session_changed(self.chat.nicks["carol"])
        self.chat.send(alice, "#room", "three", 3.0)
        self.assertEqual(b.written, [b"x:one", b"z:three"])
        self.assertEqual(c.written, [b"x:two", b"y:three"])
        self.chat.disconnect(bob, "bye")
        self.chat.send(alice, "#room", "four", 4.0)
        self.assertEqual(b.written, [b"x:one", b"z:three"])


class ConnectionTests(CoreCase):
    def test_server_full(self) -> None:
        for _ in range(10):
            self.user()
        self.assertRefused("server_full", self.chat.connect, Inbox(), "x")
        self.assertEqual(len(self.chat.users), 10)

    def test_disconnect_quits_once_to_each_peer_and_frees_everything(self) -> None:
        alice = self.user("alice")
        bob = self.user("bob")
        self.user("loner")
        for name in ["#a", "#b"]:
            self.chat.join(alice, name)
            self.chat.join(bob, name)
        self.chat.join(bob, "#bobs")
        self.inbox("alice")
        self.chat.disconnect(bob, "gone fishing")
        [event] = self.inbox("alice")
        assert isinstance(event, Quit)
        self.assertEqual((event.nick, event.reason), ("bob", "gone fishing"))
        self.assertEqual(self.inbox("loner"), [])
        self.assertNotIn("#bobs", self.chat.channels)
        self.assertEqual(self.chat.channels["#a"].nicks(), ["alice"])
        self.assertNotIn("bob", self.chat.nicks)
        # Idempotent.
        self.chat.disconnect(bob, "again")
        self.assertEqual(self.inbox("alice"), [])

    def test_disconnect_without_nick(self) -> None:
        anon = self.user()
        self.chat.disconnect(anon, "bye")
        self.assertNotIn(anon, self.chat.users)

    def test_events_are_shared_objects(self) -> None:
        """One event object goes to every recipient, so it is encoded once."""
        users = [self.user(n) for n in ["a", "b", "c"]]
        for u in users:
            self.chat.join(u, "#x")
        self.inbox("b")
        self.inbox("c")
        self.chat.send(users[0], "#x", "hi", 0)
        [mb] = self.inbox("b")
        [mc] = self.inbox("c")
        self.assertIs(mb, mc)
        self.assertIsInstance(mb, Message)


class AwayTests(CoreCase):
    def test_away_and_back_tell_peers_once(self) -> None:
        alice, bob = self.user("alice"), self.user("bob")
        self.user("carol")
        for name in ("#a", "#b"):
            self.chat.join(alice, name)
            self.chat.join(bob, name)
        self.inbox("alice")
        self.chat.set_away(bob, "lunch")
        self.assertEqual(bob.away, "lunch")
        [event] = self.inbox("alice")
        assert isinstance(event, AwayChanged)
        self.assertEqual(
            (event.nick, event.message, event.origin), ("bob", "lunch", bob.origin)
        )
        self.assertEqual(self.inbox("carol"), [])  # shares no channel
        self.chat.set_away(bob, "lunch")  # no change, no event
        self.assertEqual(self.inbox("alice"), [])
        self.chat.set_away(bob, "")
        self.assertIsNone(bob.away)
        [event] = self.inbox("alice")
        assert isinstance(event, AwayChanged)
        self.assertIsNone(event.message)
        self.assertEqual(self.inbox("bob"), [])

    def test_bad_away_message(self) -> None:
        bob = self.user("bob")
        self.assertRefused("bad_args", self.chat.set_away, bob, "x" * 391)
        self.assertRefused("bad_args", self.chat.set_away, bob, "a\x07")
        self.assertIsNone(bob.away)
        self.assertRefused("nick_required", self.chat.set_away, self.user(), "hi")


class MessageKindsTests(CoreCase):
    def test_action_notice_and_tags_travel_with_the_message(self) -> None:
        alice, bob = self.user("alice"), self.user("bob")
        self.chat.join(alice, "#a")
        self.chat.join(bob, "#a")
        self.inbox("alice")
        self.chat.send(bob, "#a", "waves", 5.0, action=True, tags={"+draft/x": "1"})
        [message] = self.inbox("alice")
        assert isinstance(message, Message)
        self.assertTrue(message.action)
        self.assertFalse(message.notice)
        self.assertEqual(message.tags, {"+draft/x": "1"})
        self.assertEqual(message.origin, ("bob", "", "127.0.0.1:1", None))
        self.assertEqual(bob.last_spoke, 5.0)

    def test_tag_message_goes_where_text_would(self) -> None:
        alice, bob = self.user("alice"), self.user("bob")
        self.chat.join(alice, "#a")
        self.chat.join(bob, "#a")
        self.inbox("alice")
        sent = self.chat.send_tags(bob, "#A", {"+typing": "active"}, 1.0)
        self.assertEqual(sent.to, "#a")
        self.assertEqual(self.inbox("alice"), [sent])
        self.assertEqual(self.inbox("bob"), [])
        assert isinstance(sent, TagMessage)
        self.chat.send_tags(bob, "ALICE", {"+typing": "done"}, 1.0)
        [private] = self.inbox("alice")
        assert isinstance(private, TagMessage)
        self.assertEqual(private.to, "alice")
        self.assertRefused("no_such_nick", self.chat.send_tags, bob, "dave", {}, 1.0)
        self.assertRefused(
            "cannot_send", self.chat.send_tags, self.user("eve"), "#a", {}, 1.0
        )


class CTCPTests(CoreCase):
    def test_ctcp_goes_where_text_would_and_is_checked(self) -> None:
        alice, bob = self.user("alice"), self.user("bob")
        sent = self.chat.send_ctcp(alice, "BOB", "VERSION", 1.0)
        self.assertEqual((sent.to, sent.body, sent.notice), ("bob", "VERSION", False))
        self.assertEqual(self.inbox("bob"), [sent])
        for bad in ("", "x" * 401, "PING\x01", "a\nb", "a\x00"):
            self.assertRefused("bad_args", self.chat.send_ctcp, alice, "bob", bad, 1.0)
        self.assertRefused(
            "no_such_nick", self.chat.send_ctcp, bob, "carol", "PING", 1.0
        )
        self.assertEqual(self.inbox("bob"), [])

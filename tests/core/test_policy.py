"""The policy's decisions, on bare records: no Chat, no adapter."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatd.core import GONE, Channel, Membership, User, policy
from chatd.core.modes import ListEntry, compile_mask


def person(nick: str, host: str = "10.0.0.1") -> User:
    user = User(GONE, host + ":1", host)
    user.nick, user.username = nick, "~" + nick
    user.renamed()
    return user


def add(channel: Channel, user: User, op: bool = False) -> Membership:
    member = channel.members[user] = Membership(user, op)
    user.channels[channel.key] = channel
    return member


def entry(mask: str) -> ListEntry:
    return ListEntry(mask, "op!~op@h", 0.0, compile_mask(mask))


class PolicyTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.channel = Channel("#c")
        self.op = add(self.channel, person("op"), op=True)
        self.member = add(self.channel, person("member"))
        self.outsider = person("outsider")

    def test_speech(self) -> None:
        c = self.channel
        self.assertIsNone(policy.speech_refusal(c, self.member.user, self.member))
        refusal = policy.speech_refusal(c, self.outsider, None)
        assert refusal is not None
        self.assertEqual(refusal.code, "cannot_send")
        c.modes.flags.add("m")
        self.assertFalse(policy.may_speak(c, self.member))
        self.assertTrue(policy.may_speak(c, self.op))
        self.member.voice = True
        self.assertTrue(policy.may_speak(c, self.member))

    def test_ban_with_exception(self) -> None:
        c = self.channel
        c.modes.lists["b"].append(entry("*!*@10.0.0.*"))
        self.assertTrue(policy.is_banned(c, self.outsider))
        c.modes.lists["e"].append(entry("OUTSIDER!*@*"))
        self.assertFalse(policy.is_banned(c, self.outsider))
        self.assertTrue(policy.is_banned(c, self.member.user))

    def test_join_order_of_refusals(self) -> None:
        c = self.channel
        c.modes.flags.add("i")
        c.modes.key = "k"
        refusal = policy.join_refusal(c, self.outsider, "k")
        assert refusal is not None
        self.assertEqual(refusal.code, "invite_only")
        self.outsider.invites[c.key] = c
        self.assertIsNone(policy.join_refusal(c, self.outsider, None))
        c.modes.lists["b"].append(entry("outsider!*@*"))
        refusal = policy.join_refusal(c, self.outsider, None)
        assert refusal is not None
        self.assertEqual(refusal.code, "banned")

    def test_topic_and_invite_rights(self) -> None:
        c = self.channel
        self.assertEqual(
            policy.topic_refusal(c, self.member).code, "not_channel_operator"
        )  # type: ignore[union-attr]
        self.assertIsNone(policy.topic_refusal(c, self.op))
        self.assertIsNone(policy.invite_refusal(c, self.member))
        c.modes.flags.add("i")
        self.assertEqual(
            policy.invite_refusal(c, self.member).code, "not_channel_operator"
        )  # type: ignore[union-attr]
        self.assertEqual(policy.invite_refusal(c, None).code, "not_in_channel")  # type: ignore[union-attr]

    def test_visibility(self) -> None:
        c = self.channel
        self.member.user.invisible = True
        self.assertEqual(policy.visible_members(c, self.outsider), [self.op])
        self.assertEqual(len(policy.visible_members(c, self.member.user)), 2)
        self.assertFalse(policy.may_see_user(self.member.user, self.outsider))
        self.assertTrue(policy.may_see_user(self.member.user, self.op.user))
        c.modes.flags.add("s")
        self.assertFalse(policy.can_see(c, self.outsider))
        self.assertEqual(policy.visible_members(c, self.outsider), [])
        self.assertEqual(policy.visible_channels(self.op.user, self.outsider), [])
        self.assertEqual(
            policy.visible_channels(self.op.user, self.member.user), [(c, self.op)]
        )
        self.assertTrue(policy.may_see_list(c, self.member.user, "b"))
        self.assertFalse(policy.may_see_list(c, self.outsider, "b"))
        self.assertFalse(policy.may_see_list(c, self.member.user, "e"))
        self.assertTrue(policy.may_see_list(c, self.op.user, "I"))

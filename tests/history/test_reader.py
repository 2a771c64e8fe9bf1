"""What users may read of the history, a page at a time (chatd.history.reader)."""

from __future__ import annotations

from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from chatd.core import Chat
from chatd.core.errors import ChatError
from chatd.core.model import User
from chatd.core.modes import Change
from chatd.history.reader import Page, Reference
from tests.support import give_history


class Quiet:
    """A session that keeps what it is sent."""

    def __init__(self) -> None:
        self.events: list[Any] = []

    def deliver(self, event: Any) -> None:
        self.events.append(event)

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class ReaderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.clock.advance(1_000_000)
        self.chat = Chat(clock=self.clock)
        self.history = give_history([], self.chat, self.clock)
        self.alice = self.user("alice", "alice")
        self.bob = self.user("bob", "bob")
        self.chat.join(self.alice, "#c")
        self.chat.join(self.bob, "#c")

    def user(self, nick: str, account: str | None = None) -> User:
        user = self.chat.connect(Quiet(), "127.0.0.1")  # type: ignore[arg-type]
        self.chat.set_nick(user, nick)
        if account is not None:
            self.chat.log_in(user, account)
        return user

    def say(self, count: int, who: User | None = None, to: str = "#c") -> None:
        for n in range(count):
            self.clock.advance(1)
            self.chat.send(who or self.alice, to, f"line {n}", self.clock.seconds())

    def page(self, d: Deferred[Page]) -> tuple[list[str], bool]:
        page = self.successResultOf(d)
        return [i.text for i in page.items], page.more

    def refused(self, d: Deferred[Any]) -> str:
        return str(self.failureResultOf(d, ChatError).value.code)

    def test_paging_back_and_forth(self) -> None:
        self.say(25)
        texts, more = self.page(self.history.latest(self.bob, "#c", 10))
        self.assertEqual(texts, [f"line {n}" for n in range(15, 25)])
        self.assertTrue(more)
        oldest = self.successResultOf(self.history.latest(self.bob, "#c", 10)).items[0]
        texts, more = self.page(
            self.history.before(self.bob, "#c", Reference(msgid=oldest.msgid), 20)
        )
        self.assertEqual(texts, [f"line {n}" for n in range(15)])
        self.assertFalse(more)
        texts, more = self.page(
            self.history.after(self.bob, "#c", Reference(msgid=oldest.msgid), 5)
        )
        self.assertEqual(texts, [f"line {n}" for n in range(16, 21)])
        self.assertTrue(more)

    def test_around_and_between(self) -> None:
        self.say(9)
        items = self.successResultOf(self.history.latest(self.bob, "#c", 9)).items
        middle = items[4]
        texts, _ = self.page(
            self.history.around(self.bob, "#c", Reference(msgid=middle.msgid), 3)
        )
        self.assertEqual(texts, ["line 3", "line 4", "line 5"])
        start, end = Reference(ts=items[1].ts), Reference(ts=items[5].ts)
        texts, _ = self.page(self.history.between(self.bob, "#c", start, end, 10))
        self.assertEqual(texts, ["line 2", "line 3", "line 4"])
        texts, _ = self.page(self.history.between(self.bob, "#c", end, start, 2))
        self.assertEqual(texts, ["line 3", "line 4"])

    def test_events_only_when_asked(self) -> None:
        self.say(1)
        self.chat.topic(self.alice, "#c", "new topic")
        texts, _ = self.page(self.history.latest(self.bob, "#c", 10))
        self.assertEqual(texts, ["line 0"])
        page = self.successResultOf(self.history.latest(self.bob, "#c", 10, True))
        self.assertEqual(
            [i.kind for i in page.items], ["join", "join", "message", "topic"]
        )

    def churn(self, times: int, nick: str = "carol") -> None:
        """C{nick} joins and leaves #c C{times} times: events nobody sees."""
        carol = self.user(nick)
        for _ in range(times):
            self.clock.advance(1)
            self.chat.join(carol, "#c")
            self.chat.leave(carol, "#c")

    def test_pages_are_full_after_much_churn(self) -> None:
        # 300 events after the last message: a page of messages is still
        # found, in every direction, and only the events' readers see them
        self.say(5)
        self.churn(150)
        for limit in (1, 2, 5, 20):
            texts, more = self.page(self.history.latest(self.bob, "#c", limit))
            self.assertEqual(texts, [f"line {n}" for n in range(5)][-limit:])
            self.assertEqual(more, limit < 5)
        page = self.successResultOf(self.history.latest(self.bob, "#c", 5, True))
        self.assertEqual([i.kind for i in page.items], ["part"] + ["join", "part"] * 2)
        now = Reference(ts=self.clock.seconds() + 1)
        texts, _ = self.page(self.history.before(self.bob, "#c", now, 2))
        self.assertEqual(texts, ["line 3", "line 4"])
        texts, _ = self.page(
            self.history.between(self.bob, "#c", now, Reference(ts=0), 1)
        )
        self.assertEqual(texts, ["line 4"])
        first = self.successResultOf(self.history.latest(self.bob, "#c", 5)).items[0]
        self.churn(150, "dave")
        self.say(1)
        texts, more = self.page(
            self.history.after(self.bob, "#c", Reference(msgid=first.msgid), 5)
        )
        self.assertEqual(texts, ["line 1", "line 2", "line 3", "line 4", "line 0"])
        self.assertFalse(more)

    def test_tagmsgs_count_only_where_shown(self) -> None:
        # IRC plays a TAGMSG back only with event playback: elsewhere it
        # must not take a line of the page
        self.say(3)
        self.clock.advance(1)
        now = self.clock.seconds()
        self.chat.send_tags(self.alice, "#c", {"+draft/react": "1"}, now)
        self.clock.advance(1)
        self.chat.send(self.alice, "#c", "after", self.clock.seconds())
        page = self.successResultOf(self.history.latest(self.bob, "#c", 3))
        self.assertEqual([i.kind for i in page.items], ["message", "tagmsg", "message"])
        texts, _ = self.page(self.history.latest(self.bob, "#c", 3, tagmsg=False))
        self.assertEqual(texts, ["line 1", "line 2", "after"])

    def test_since_join(self) -> None:
        self.say(3)
        self.chat.history_default = "since-join"
        carol = self.user("carol")
        self.clock.advance(1)
        self.chat.join(carol, "#c")
        self.say(2)
        texts, more = self.page(self.history.latest(carol, "#c", 10))
        self.assertEqual(texts, ["line 0", "line 1"])
        self.assertFalse(more)
        texts, _ = self.page(self.history.latest(self.bob, "#c", 10))
        self.assertEqual(len(texts), 5)

    def test_outsiders_and_none(self) -> None:
        self.say(2)
        carol = self.user("carol")
        self.assertEqual(
            self.refused(self.history.latest(carol, "#c", 5)), "not_on_channel"
        )
        self.assertEqual(
            self.refused(self.history.latest(carol, "#nowhere", 5)), "no_such_channel"
        )
        self.chat.channels["#c"].history_access = "none"
        self.assertEqual(
            self.refused(self.history.latest(self.bob, "#c", 5)), "history_hidden"
        )

    def test_a_banned_member_reads_nothing(self) -> None:
        self.say(2)
        self.chat.set_modes(self.alice, "#c", [Change("b", True, "bob!*@*")])
        self.assertEqual(
            self.refused(self.history.latest(self.bob, "#c", 5)), "history_hidden"
        )

    def test_limits(self) -> None:
        for limit in (0, -1, 1001):
            self.assertEqual(
                self.refused(self.history.latest(self.bob, "#c", limit)), "bad_limit"
            )
        # A server that serves fewer refuses more than it serves.
        self.history.limit_max = 50
        self.assertEqual(
            self.refused(self.history.latest(self.bob, "#c", 51)), "bad_limit"
        )
        self.page(self.history.latest(self.bob, "#c", 50))

    def test_private_history_between_accounts(self) -> None:
        self.say(2, self.alice, "bob")
        texts, _ = self.page(self.history.latest(self.bob, "alice", 10))
        self.assertEqual(texts, ["line 0", "line 1"])
        texts, _ = self.page(self.history.latest(self.alice, "bob", 10))
        self.assertEqual(texts, ["line 0", "line 1"])
        guest = self.user("guest")
        self.say(1, guest, "bob")
        self.assertEqual(
            self.refused(self.history.latest(guest, "bob", 5)), "account_required"
        )
        # Bob keeps his side of it; Alice reads nothing of it.
        texts, _ = self.page(self.history.latest(self.bob, "guest", 5))
        self.assertEqual(texts, ["line 0"])
        texts, _ = self.page(self.history.latest(self.alice, "guest", 5))
        self.assertEqual(texts, [])

    def test_redaction(self) -> None:
        self.say(2, self.bob)
        first = self.successResultOf(self.history.latest(self.alice, "#c", 2)).items[0]
        carol = self.user("carol", "carol")
        self.chat.join(carol, "#c")
        self.assertEqual(
            self.refused(self.history.redact(carol, "#c", first.msgid)),
            "redact_forbidden",
        )
        self.successResultOf(self.history.redact(self.bob, "#c", first.msgid, "oops"))
        texts, _ = self.page(self.history.latest(self.alice, "#c", 10))
        self.assertEqual(texts, ["line 1"])
        told = [e for e in self.alice.session.events if e.kind == "redact"]  # type: ignore[attr-defined]
        self.assertEqual(
            [(e.redacted, e.reason) for e in told], [(first.msgid, "oops")]
        )
        self.assertEqual(
            self.refused(self.history.redact(self.bob, "#c", first.msgid)),
            "unknown_msgid",
        )

    def test_redaction_where_the_history_is_hidden(self) -> None:
        # "none" hides the history from readers; its sender's account and the
        # channel's operators still delete a message sent to them live
        self.say(3, self.bob)
        first, second, third = self.successResultOf(
            self.history.latest(self.alice, "#c", 3)
        ).items
        self.chat.channels["#c"].history_access = "none"
        self.successResultOf(self.history.redact(self.bob, "#c", first.msgid))
        self.successResultOf(self.history.redact(self.alice, "#c", second.msgid))
        carol = self.user("carol", "carol")
        self.chat.join(carol, "#c")
        self.assertEqual(
            self.refused(self.history.redact(carol, "#c", third.msgid)),
            "redact_forbidden",
        )
        # a server operator, from outside the channel
        root = self.user("root")
        self.assertEqual(
            self.refused(self.history.redact(root, "#c", third.msgid)),
            "not_on_channel",
        )
        self.chat.set_oper(root, "root")
        self.successResultOf(self.history.redact(root, "#c", third.msgid))
        self.chat.channels["#c"].history_access = None
        self.assertEqual(self.page(self.history.latest(self.alice, "#c", 10))[0], [])

    def test_read_markers_move_forward_and_reach_other_connections(self) -> None:
        again = self.user("alice2", "alice")
        self.chat.join(again, "#c")
        self.assertEqual(
            self.successResultOf(self.history.mark_read(self.alice, "#c", 50.0)), 50.0
        )
        self.assertEqual(
            self.successResultOf(self.history.mark_read(self.alice, "#c", 40.0)), 50.0
        )
        # the same again: it did not move, nobody is told
        self.assertEqual(
            self.successResultOf(self.history.mark_read(self.alice, "#c", 50.0)), 50.0
        )
        self.assertEqual(
            self.successResultOf(self.history.read_marker(again, "#c")), 50.0
        )
        told = [e for e in again.session.events if e.kind == "read_marker"]  # type: ignore[attr-defined]
        self.assertEqual([(e.target, e.marker) for e in told], [("#c", 50.0)])

    def test_search(self) -> None:
        self.say(3)
        found = self.successResultOf(self.history.search(self.bob, "LINE 1", None, 5))
        self.assertEqual([(name, i.text) for name, i in found], [("#c", "line 1")])
        self.assertEqual(
            self.refused(self.history.search(self.bob, "  ", None, 5)), "bad_args"
        )

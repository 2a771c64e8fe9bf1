"""
The console client and the history: a join's scrollback, marked as history
and with its times, /history paging back from the oldest line shown,
/search, what was missed while reconnecting, and the redact event.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.testing import StringTransportWithDisconnection
from twisted.trial.unittest import SynchronousTestCase

from chatd.client.commands import HISTORY_MAX, Problem, Send, ShowHistory, parse_input
from chatd.client.formatting import strip_formatting
from chatd.client.render import render
from chatd.core import Chat
from chatd.jsonproto.lines import ChatFactory
from chatd.net.limits import FloodLimit
from tests.test_client import NOW, UTC, Harness

from .support import Client, give_history

TODAY = "2026-11-24T"


def message(text: str, ts: str, msgid: str, **more: Any) -> dict[str, Any]:
    return {
        "type": "message",
        "from": "bob",
        "to": "#c",
        "text": text,
        "ts": ts,
        "msgid": msgid,
        **more,
    }


class ParseTests(SynchronousTestCase):
    def test_history(self) -> None:
        self.assertEqual(parse_input("/history", "#c"), ShowHistory("#c", 20))
        self.assertEqual(parse_input("/history 50", "#c"), ShowHistory("#c", 50))
        self.assertEqual(parse_input("/history #d", "#c"), ShowHistory("#d", 20))
        self.assertEqual(parse_input("/history bob 5", "#c"), ShowHistory("bob", 5))
        # In a private conversation, that conversation's.
        self.assertEqual(parse_input("/history", "#c", "bob"), ShowHistory("bob", 20))
        usage = "usage: /history [#chan or NICK] [N]"
        for line in (
            "/history 0",
            "/history -5",
            f"/history {HISTORY_MAX + 1}",
            "/history #c x",
        ):
            self.assertEqual(
                parse_input(line, "#c"),
                Problem(f"N is a number from 1 to {HISTORY_MAX} ({usage})"),
            )
        self.assertEqual(parse_input("/history a 1 2", "#c"), Problem(usage))
        self.assertEqual(
            parse_input("/history", None),
            Problem(f"you are not in a channel ({usage})"),
        )

    def test_search(self) -> None:
        self.assertEqual(
            parse_input("/search the cat", "#c"),
            Send({"cmd": "search", "text": "the cat"}),
        )
        self.assertEqual(
            parse_input("/search #d the cat", "#c"),
            Send({"cmd": "search", "target": "#d", "text": "the cat"}),
        )
        for line in ("/search", "/search   ", "/search \x02", "/search #d"):
            self.assertEqual(
                parse_input(line, "#c"), Problem("usage: /search [#chan] TEXT")
            )


class RenderTests(SynchronousTestCase):
    def show(self, obj: dict[str, Any], request: Any = None) -> list[str]:
        return render(obj, request, now=NOW, tz=UTC, nick="me")

    def test_history_lines_are_marked_and_grey(self) -> None:
        reply = {
            "type": "ok",
            "cmd": "history",
            "target": "#c",
            "items": [
                message("yesterday's", "2026-11-23T22:00:00.000Z", "A"),
                message("waves", TODAY + "09:58:00.000Z", "B", action=True),
            ],
            "more": True,
        }
        lines = self.show(reply, {"cmd": "history", "target": "#c"})
        self.assertEqual(
            [strip_formatting(line) for line in lines],
            [
                "* 2 earlier messages in #c (/history #c for more):",
                "| 2026-11-23 22:00 #c <bob> yesterday's",
                "| 09:58 #c * bob waves",
            ],
        )
        # Grey on a terminal: IRC colour 14, ended at the line's end.
        self.assertTrue(lines[1].startswith("\x0314| "), lines[1])
        self.assertTrue(lines[1].endswith("\x0f"), lines[1])

    def test_empty_page_and_search(self) -> None:
        reply = {"type": "ok", "cmd": "history", "target": "#c", "items": []}
        self.assertEqual(self.show(reply), ["* no earlier messages in #c"])
        found = {
            "type": "ok",
            "cmd": "search",
            "items": [
                {**message("a cat", TODAY + "10:01:00.000Z", "B"), "target": "#c"},
                {
                    **message("my cat", TODAY + "09:00:00.000Z", "A"),
                    "from": "me",
                    "to": "bob",
                    "target": "bob",
                },
            ],
        }
        self.assertEqual(
            [
                strip_formatting(line)
                for line in self.show(found, {"cmd": "search", "text": "cat"})
            ],
            [
                "* 2 messages with cat, newest first:",
                "| 10:01 #c <bob> a cat",
                "| 09:00 -> *bob* my cat",
            ],
        )
        none = {"type": "ok", "cmd": "search", "items": []}
        self.assertEqual(
            self.show(none, {"cmd": "search", "text": "dog"}),
            ["* no messages with dog"],
        )

    def test_events(self) -> None:
        redact = {
            "type": "redact",
            "target": "#c",
            "msgid": "A",
            "by": "bob",
            "reason": "typo",
        }
        self.assertEqual(
            self.show(redact),
            ["10:05 * bob deleted a message in #c from the history (typo)"],
        )
        marker = {"type": "read_marker", "target": "#c", "read_marker": NOW}
        self.assertEqual(self.show(marker), [])
        # An IRC or web user typing: not shown, and not a bad line either.
        typing = {"type": "typing", "from": "bob", "to": "#c", "state": "active"}
        self.assertEqual(self.show(typing), [])
        [line] = self.show({"type": "typing", "from": "bob"})
        self.assertTrue(line.startswith("! bad line from server"), line)

    def test_bad_items_are_bad_lines(self) -> None:
        for items in ([1], [{"type": "message"}], [{"type": "bye", "ts": "x"}]):
            reply = {"type": "ok", "cmd": "history", "target": "#c", "items": items}
            [line] = self.show(reply)
            self.assertTrue(line.startswith("! bad line from server"), line)


class SessionTests(SynchronousTestCase):
    def test_join_shows_scrollback_then_history_pages_back(self) -> None:
        h = Harness().connected()
        h.nick("me")
        h.type("/join #c")
        [join] = h.sent()
        self.assertEqual(join["history"], 20)
        items = [
            message("two", TODAY + "09:00:00.000Z", "M2"),
            message("three", TODAY + "09:01:00.000Z", "M3"),
        ]
        h.reply_ok(
            join,
            channel="#c",
            topic="",
            members=["bob", "me"],
            read_marker=None,
            history={"items": items, "more": True},
        )
        self.assertEqual(
            h.take(),
            [
                "10:05 * you joined #c (no topic; members: bob, me)",
                "* 2 earlier messages in #c (/history #c for more):",
                "| 09:00 #c <bob> two",
                "| 09:01 #c <bob> three",
            ],
        )
        h.type("/history 1")
        [page] = h.sent()
        self.assertEqual(
            page,
            {"cmd": "history", "target": "#c", "limit": 1, "before": "M2", "id": 3},
        )
        h.reply_ok(
            page,
            target="#c",
            items=[message("one", TODAY + "08:00:00.000Z", "M1")],
            more=False,
        )
        self.assertEqual(
            h.take(), ["* 1 earlier message in #c:", "| 08:00 #c <bob> one"]
        )
        h.type("/history")
        [page] = h.sent()
        self.assertEqual(page["before"], "M1")

    def test_history_without_scrollback_asks_for_the_latest(self) -> None:
        h = Harness().connected()
        h.join("#c")
        h.type("/history")
        [page] = h.sent()
        self.assertEqual(
            page,
            {"cmd": "history", "target": "#c", "limit": 20, "latest": True, "id": 2},
        )
        h.server(
            {
                "type": "error",
                "cmd": "history",
                "id": page["id"],
                "code": "history_off",
                "message": "this server keeps no history",
            }
        )
        self.assertEqual(h.take(), ["! history_off: this server keeps no history"])

    def test_rejoin_shows_only_what_was_missed(self) -> None:
        h = Harness(interactive=True).connected()
        h.nick("me")
        h.join("#c")
        h.server(message("seen", TODAY + "10:00:00.000Z", "M5"))
        h.take()
        h.close()
        h.reactor.advance(1)
        h.accept()
        h.welcome()
        [nick] = h.sent()
        h.reply_ok(nick, nick="me")
        [join] = h.sent()
        self.assertEqual((join["channel"], join["history"]), ("#c", 20))
        h.take()
        items = [
            message("old", TODAY + "09:59:00.000Z", "M4"),
            message("seen", TODAY + "10:00:00.000Z", "M5"),
            message("missed", TODAY + "10:05:30.000Z", "M6"),
        ]
        h.reply_ok(
            join,
            channel="#c",
            topic="",
            members=["bob", "me"],
            history={"items": items, "more": True},
        )
        self.assertEqual(
            h.take()[1:],
            [
                "* 1 earlier message in #c (/history #c for more):",
                "| 10:05 #c <bob> missed",
            ],
        )


class AgainstTheServerTests(SynchronousTestCase):
    """The client against a real server with history, over fake transports."""

    def test_scrollback_history_and_search(self) -> None:
        h = Harness()
        chat = Chat(clock=h.reactor)
        factory = ChatFactory(chat, h.reactor, flood=FloodLimit(burst=0))
        give_history([factory], chat, h.reactor)
        # Bob is a JSON client of the same server.
        bob = Client(SimpleNamespace(factory=factory), 40100).register("bob")  # type: ignore[arg-type]
        bob.request("join", channel="#c")
        for n in range(25):
            h.reactor.advance(60)
            bob.request("msg", to="#c", text=f"cat number {n}")
        address = IPv4Address("TCP", "127.0.0.1", 40000)
        server_side: Any = factory.buildProtocol(address)
        to_client = StringTransportWithDisconnection(peerAddress=address)
        to_client.protocol = server_side
        h.client.connect("127.0.0.1", 8123)
        to_server = h.accept()
        server_side.makeConnection(to_client)

        def pump() -> None:
            for _ in range(50):
                moved = False
                if to_server.value():
                    data = to_server.value()
                    to_server.clear()
                    server_side.dataReceived(data)
                    moved = True
                if to_client.value():
                    data = to_client.value()
                    to_client.clear()
                    assert h.protocol is not None
                    h.protocol.dataReceived(data)
                    moved = True
                if not moved:
                    return

        h.type("/nick me", "/join #c")
        pump()
        shown = [strip_formatting(line) for line in h.take()]
        scrollback = [s for s in shown if s.startswith("| ")]
        self.assertEqual(len(scrollback), 20)
        self.assertTrue(scrollback[0].endswith("<bob> cat number 5"), scrollback[0])
        self.assertTrue(scrollback[-1].endswith("<bob> cat number 24"))
        self.assertIn("* 20 earlier messages in #c (/history #c for more):", shown)
        h.type("/history 10")
        pump()
        shown = [strip_formatting(line) for line in h.take()]
        self.assertEqual(shown[0], "* 5 earlier messages in #c:")
        self.assertTrue(shown[1].endswith("<bob> cat number 0"), shown)
        h.type("/search number 7")
        pump()
        shown = [strip_formatting(line) for line in h.take()]
        self.assertEqual(shown[0], "* 1 message with number 7, newest first:")
        self.assertTrue(shown[1].endswith("#c <bob> cat number 7"), shown)

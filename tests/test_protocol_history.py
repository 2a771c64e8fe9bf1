"""
History over protocol v1, as a JSON client notices it: history pages
(latest, before, after, around, by msgid and by time) with their more flag,
the scrollback and read marker a join carries, who may read what (members
only, since-join channels, private history between accounts), redact,
mark_read across one account's connections, and search.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from chatd.jsonproto.session import COMMANDS
from chatd.net.times import format_time

from .support import Client, Server, give_accounts, give_history

PASSWORD = "sesame123"


def error(reply: dict[str, Any]) -> tuple[str, str]:
    """An error reply's code and message (failing if it is no error)."""
    assert reply["type"] == "error", reply
    return reply["code"], reply["message"]


def texts(items: list[dict[str, Any]]) -> list[str]:
    return [i["text"] for i in items]


class HistoryCase(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = Server()
        self.clock = self.server.clock
        self.accounts = give_accounts(
            [self.server.factory],
            self.server.chat,
            self.clock,
            opers={"admin": "operpassword"},
            registrations_per_hour=20,
        )
        self.history = give_history([self.server.factory], self.server.chat, self.clock)

    def tearDown(self) -> None:
        self.assertEqual(list(self.server.chat.check_invariants()), [])

    def member(self, nick: str, *channels: str) -> Client:
        client = self.server.user(nick, *channels)
        client.lines()
        return client

    def registered(self, nick: str, *channels: str) -> Client:
        client = self.member(nick, *channels)
        reply = client.request("register", password=PASSWORD)
        self.assertEqual(reply["type"], "ok", reply)
        client.lines()
        return client

    def logged_in(self, account: str, nick: str) -> Client:
        client = self.server.connect()
        client.lines()
        reply = client.request("login", account=account, password=PASSWORD)
        self.assertEqual(reply["type"], "ok", reply)
        client.register(nick)
        client.lines()
        return client

    def say(self, client: Client, to: str, *lines: str) -> None:
        """C{client} says each line to C{to}, a second apart."""
        for text in lines:
            self.clock.advance(1)
            reply = client.request("msg", to=to, text=text)
            self.assertEqual(reply["type"], "ok", reply)


class HistoryPageTests(HistoryCase):
    def test_items_look_like_the_live_events(self) -> None:
        """
        A page's items are the events the members got, with msgid and ts:
        a client shows both with one code path.
        """
        alice = self.member("alice", "#c")
        bob = self.member("bob", "#c")
        self.say(alice, "#c", "hello")
        [live] = bob.lines()
        reply = bob.request("history", target="#C", latest=True, id=7)
        [item] = reply["items"]
        self.assertEqual(
            reply,
            {
                "type": "ok",
                "cmd": "history",
                "id": 7,
                "target": "#c",
                "items": [item],
                "more": False,
            },
        )
        self.assertEqual(item, live)
        self.assertEqual(len(item["msgid"]), 28)

    def test_paging_through_250_messages(self) -> None:
        alice = self.member("alice", "#c")
        said = [f"line {n}" for n in range(250)]
        self.say(alice, "#c", *said)
        page = alice.request("history", target="#c", latest=True, limit=100)
        self.assertEqual(texts(page["items"]), said[150:])
        self.assertTrue(page["more"])
        got = page["items"]
        while page["more"]:
            page = alice.request(
                "history", target="#c", before=got[0]["msgid"], limit=100
            )
            got = page["items"] + got
        self.assertEqual(texts(got), said)
        self.assertEqual(len(page["items"]), 50)
        # And forward again from the first, by msgid.
        page = alice.request("history", target="#c", after=got[0]["msgid"], limit=100)
        self.assertEqual(texts(page["items"]), said[1:101])
        self.assertTrue(page["more"])
        page = alice.request("history", target="#c", after=got[200]["msgid"])
        self.assertEqual(texts(page["items"]), said[201:])
        self.assertFalse(page["more"])

    def test_default_limit_and_by_time(self) -> None:
        alice = self.member("alice", "#c")
        start = self.clock.seconds()
        self.say(alice, "#c", *[f"m{n}" for n in range(60)])
        page = alice.request("history", target="#c", latest=True)
        self.assertEqual(len(page["items"]), 50)
        # m0 was said at start+1, m9 at start+10: before start+10.5 ends at m9.
        page = alice.request("history", target="#c", before=start + 10.5, limit=3)
        self.assertEqual(texts(page["items"]), ["m7", "m8", "m9"])
        self.assertTrue(page["more"])
        iso = format_time(start + 55.5)
        page = alice.request("history", target="#c", after=iso)
        self.assertEqual(texts(page["items"]), ["m55", "m56", "m57", "m58", "m59"])
        self.assertFalse(page["more"])
        # Without a zone, an ISO time is UTC.
        page = alice.request("history", target="#c", after=iso.rstrip("Z"), limit=1)
        self.assertEqual(texts(page["items"]), ["m55"])

    def test_around(self) -> None:
        alice = self.member("alice", "#c")
        self.say(alice, "#c", *[f"m{n}" for n in range(20)])
        items = alice.request("history", target="#c", latest=True)["items"]
        page = alice.request("history", target="#c", around=items[10]["msgid"], limit=4)
        self.assertEqual(texts(page["items"]), ["m8", "m9", "m10", "m11"])
        self.assertTrue(page["more"])

    def test_events_only_when_asked(self) -> None:
        alice = self.member("alice", "#c")
        self.clock.advance(1)
        self.member("bob", "#c")
        self.say(alice, "#c", "hi bob")
        plain = alice.request("history", target="#c", latest=True)["items"]
        self.assertEqual([i["type"] for i in plain], ["message"])
        full = alice.request("history", target="#c", latest=True, events=True)
        kinds = [(i["type"], i.get("nick")) for i in full["items"]]
        self.assertEqual(kinds, [("join", "alice"), ("join", "bob"), ("message", None)])
        self.assertEqual(full["items"][1]["ts"], format_time(self.clock.seconds() - 1))

    def test_bad_requests(self) -> None:
        alice = self.member("alice", "#c")
        self.say(alice, "#c", "hi")
        cases: list[tuple[dict[str, Any], str]] = [
            ({"latest": True}, "bad_args"),  # no target
            ({"target": "#c"}, "bad_args"),  # no position
            ({"target": "#c", "latest": True, "before": 5}, "bad_args"),
            ({"target": "#c", "latest": 1}, "bad_args"),
            ({"target": "#c", "latest": True, "limit": 0}, "bad_limit"),
            ({"target": "#c", "latest": True, "limit": 1001}, "bad_limit"),
            ({"target": "#c", "latest": True, "limit": "9"}, "bad_args"),
            ({"target": "#c", "latest": True, "limit": 2.5}, "bad_args"),
            ({"target": "#c", "latest": True, "events": "yes"}, "bad_args"),
            ({"target": "#c", "before": "NOSUCHMSGID"}, "unknown_msgid"),
            ({"target": "#c", "before": "2026-13-45T99:00:00Z"}, "bad_reference"),
            ({"target": "#c", "before": -1}, "bad_reference"),
            ({"target": "#c", "before": 10**400}, "bad_reference"),
            ({"target": "#c", "before": 1e300}, "bad_reference"),
            ({"target": "#c", "before": "0001-01-01T00:00:00+14:00"}, "bad_reference"),
            ({"target": "#c", "before": True}, "bad_args"),
            ({"target": "#c", "before": ""}, "bad_reference"),
            ({"target": "#c", "before": "\ud800"}, "bad_args"),
            ({"target": "#c", "after": "2026-01-01T00:00\udc00"}, "bad_args"),
            ({"target": "9c", "latest": True}, "bad_nick"),
            ({"target": "bob", "latest": True}, "account_required"),
            ({"target": "#bad,name", "latest": True}, "bad_channel"),
        ]
        for args, code in cases:
            reply = alice.request("history", **args)
            self.assertEqual(error(reply)[0], code, (args, reply))

    def test_limit_max_is_the_servers(self) -> None:
        self.server.factory.history.limit_max = 10  # type: ignore[union-attr]
        alice = self.member("alice", "#c")
        reply = alice.request("history", target="#c", latest=True, limit=11)
        self.assertEqual(
            error(reply),
            ("bad_limit", "field 'limit' must be a whole number from 1 to 10"),
        )

    def test_history_off(self) -> None:
        self.server.factory.history = None
        alice = self.member("alice", "#c")
        for cmd, args in [
            ("history", {"target": "#c", "latest": True}),
            ("mark_read", {"target": "#c", "ts": 1}),
            ("redact", {"target": "#c", "msgid": "X"}),
            ("search", {"text": "hi"}),
        ]:
            self.assertEqual(
                error(alice.request(cmd, **args)),
                ("history_off", "this server keeps no history"),
            )
        reply = alice.request("join", channel="#d", history=5)
        self.assertEqual((reply["history"], reply["read_marker"]), (None, None))

    def test_commands_are_listed(self) -> None:
        for cmd in ("history", "mark_read", "redact", "search"):
            self.assertIn(cmd, COMMANDS)
        self.assertIn('"history":N?', COMMANDS["join"][0])


class PrivacyTests(HistoryCase):
    def test_outsiders_are_refused(self) -> None:
        alice = self.member("alice", "#c")
        self.say(alice, "#c", "members only")
        eve = self.member("eve")
        self.assertEqual(
            error(eve.request("history", target="#c", latest=True)),
            ("not_on_channel", "only members read #c's history: join it first"),
        )
        self.assertEqual(
            error(eve.request("history", target="#nowhere", latest=True))[0],
            "no_such_channel",
        )
        alice.request("mode", channel="#c", set={"secret": True})
        self.assertEqual(
            error(eve.request("history", target="#c", latest=True)),
            ("no_such_channel", "there is no channel #c"),
        )
        self.assertEqual(eve.request("search", text="members")["items"], [])
        self.assertEqual(
            error(eve.request("search", text="members", target="#c"))[0],
            "no_such_channel",
        )

    def test_since_join(self) -> None:
        self.server.chat.history_default = "since-join"
        alice = self.member("alice", "#c")
        self.say(alice, "#c", "before bob")
        self.clock.advance(1)
        bob = self.member("bob")
        reply = bob.request("join", channel="#c", history=10)
        self.assertEqual(reply["history"], {"items": [], "more": False})
        self.say(alice, "#c", "after bob")
        page = bob.request("history", target="#c", latest=True)
        self.assertEqual(texts(page["items"]), ["after bob"])
        self.assertFalse(page["more"])
        self.assertEqual(
            texts(bob.request("search", text="bob")["items"]), ["after bob"]
        )
        # Alice was there all along.
        page = alice.request("history", target="#c", latest=True)
        self.assertEqual(texts(page["items"]), ["before bob", "after bob"])

    def test_none(self) -> None:
        self.server.chat.history_default = "none"
        alice = self.member("alice", "#c")
        self.say(alice, "#c", "gone")
        self.assertEqual(
            error(alice.request("history", target="#c", latest=True)),
            ("history_hidden", "#c lets you read none of its history"),
        )
        reply = alice.request("join", channel="#d", history=5)
        self.assertEqual((reply["history"], reply["read_marker"]), (None, None))

    def test_the_founder_sets_the_channels_own(self) -> None:
        alice = self.registered("alice", "#c")
        self.say(alice, "#c", "early")
        self.clock.advance(1)
        bob = self.registered("bob", "#c")
        self.say(alice, "#c", "late")
        self.assertEqual(
            error(alice.request("history_access", channel="#c", access="none"))[0],
            "not_registered",
        )
        self.assertEqual(alice.request("register_channel", channel="#c")["type"], "ok")
        reply = bob.request("history_access", channel="#c")
        self.assertEqual(
            (reply["channel"], reply["access"], reply["effective"]),
            ("#c", None, "everything"),
        )
        self.assertEqual(
            error(bob.request("history_access", channel="#c", access="none"))[0],
            "not_founder",
        )
        for bad in ("some", 3, ""):
            code, message = error(
                alice.request("history_access", channel="#c", access=bad)
            )
            self.assertEqual(code, "bad_args")
            self.assertIn('"since-join"', message)
        reply = alice.request("history_access", channel="#c", access="since-join")
        self.assertEqual((reply["access"], reply["effective"]), ("since-join",) * 2)
        page = bob.request("history", target="#c", latest=True)
        self.assertEqual(texts(page["items"]), ["late"])
        reply = alice.request("history_access", channel="#c", access=None)
        self.assertEqual((reply["access"], reply["effective"]), (None, "everything"))
        page = bob.request("history", target="#c", latest=True)
        self.assertEqual(texts(page["items"]), ["early", "late"])
        self.assertEqual(
            error(bob.request("history_access", channel="#nowhere"))[0],
            "no_such_channel",
        )

    def test_private_history_between_accounts_only(self) -> None:
        alice = self.registered("alice")
        bob = self.registered("bob")
        self.say(alice, "bob", "psst")
        self.say(bob, "alice", "yes?")
        page = alice.request("history", target="BOB", latest=True)
        self.assertEqual(page["target"], "BOB")
        self.assertEqual(texts(page["items"]), ["psst", "yes?"])
        self.assertEqual(
            [(i["from"], i["to"]) for i in page["items"]],
            [("alice", "bob"), ("bob", "alice")],
        )
        self.assertEqual(
            texts(bob.request("history", target="alice", latest=True)["items"]),
            ["psst", "yes?"],
        )
        # A third account reads nothing of it.
        carol = self.registered("carol")
        self.assertEqual(
            carol.request("history", target="bob", latest=True)["items"], []
        )
        # Without an account, there is no private history.
        guest = self.member("guest")
        self.assertEqual(
            error(guest.request("history", target="bob", latest=True)),
            (
                "account_required",
                "private history is kept for accounts only: log in first",
            ),
        )
        # With a guest, the account keeps its side alone: the guest, even
        # once it registers the nick, reads none of it.
        self.say(alice, "guest", "hello guest")
        self.say(guest, "alice", "hello alice")
        page = alice.request("history", target="guest", latest=True)
        self.assertEqual(texts(page["items"]), ["hello guest", "hello alice"])
        self.assertEqual(
            alice.request("history", target="nobody", latest=True)["items"], []
        )
        self.assertEqual(guest.request("register", password=PASSWORD)["type"], "ok")
        self.assertEqual(
            guest.request("history", target="alice", latest=True)["items"], []
        )
        # The account's history outlives the connection.
        alice.send({"cmd": "quit"})
        again = self.logged_in("alice", "alice")
        self.assertEqual(
            texts(again.request("history", target="bob", latest=True)["items"]),
            ["psst", "yes?"],
        )


class JoinTests(HistoryCase):
    def test_join_carries_scrollback_and_marker(self) -> None:
        alice = self.member("alice", "#c")
        self.say(alice, "#c", *[f"m{n}" for n in range(5)])
        bob = self.member("bob")
        reply = bob.request("join", channel="#c", history=3, id=4)
        self.assertEqual(reply["id"], 4)
        self.assertEqual(reply["channel"], "#c")
        self.assertEqual(reply["members"], ["alice", "bob"])
        self.assertEqual(texts(reply["history"]["items"]), ["m2", "m3", "m4"])
        self.assertTrue(reply["history"]["more"])
        self.assertIsNone(reply["read_marker"])
        self.assertEqual(
            alice.lines(), [{"type": "join", "channel": "#c", "nick": "bob"}]
        )
        # Without "history", the marker alone.
        carol = self.member("carol")
        reply = carol.request("join", channel="#c")
        self.assertNotIn("history", reply)
        self.assertIsNone(reply["read_marker"])

    def test_bad_history_count_joins_nothing(self) -> None:
        alice = self.member("alice")
        for value, code in [("5", "bad_args"), (-1, "bad_limit"), (1001, "bad_limit")]:
            reply = alice.request("join", channel="#c", history=value)
            self.assertEqual(error(reply)[0], code)
        self.assertIsNone(self.server.chat.find_channel("#c"))


class RedactTests(HistoryCase):
    def test_redaction_disappears_and_notifies(self) -> None:
        alice = self.registered("alice", "#c")
        bob = self.registered("bob", "#c")
        carol = self.member("carol", "#c")
        self.say(bob, "#c", "oops, my password", "fine")
        items = carol.request("history", target="#c", latest=True)["items"]
        msgid = items[0]["msgid"]
        for who in (alice, bob, carol):
            who.lines()
        self.assertEqual(
            error(carol.request("redact", target="#c", msgid=msgid)),
            (
                "redact_forbidden",
                "only its sender's account, the channel's operators and server"
                " operators may delete a message",
            ),
        )
        reply = bob.request("redact", target="#c", msgid=msgid, reason="typo", id=3)
        self.assertEqual(
            reply,
            {"type": "ok", "cmd": "redact", "id": 3, "target": "#c", "msgid": msgid},
        )
        event = {
            "type": "redact",
            "target": "#c",
            "msgid": msgid,
            "by": "bob",
            "reason": "typo",
            "account": "bob",
        }
        self.assertEqual(alice.lines(), [event])
        self.assertEqual(carol.lines(), [event])
        page = carol.request("history", target="#c", latest=True)
        self.assertEqual(texts(page["items"]), ["fine"])
        self.assertEqual(carol.request("search", text="password")["items"], [])
        self.assertEqual(
            error(bob.request("redact", target="#c", msgid=msgid))[0], "unknown_msgid"
        )

    def test_private_redaction_reaches_every_connection_of_both(self) -> None:
        alice = self.registered("alice")
        bob = self.registered("bob")
        alice_phone = self.logged_in("alice", "alice_phone")
        bob_phone = self.logged_in("bob", "bob_phone")
        self.say(alice, "bob", "meant for carol")
        [item] = bob.request("history", target="alice", latest=True)["items"]
        for who in (alice, bob, alice_phone, bob_phone):
            who.lines()
        reply = alice.request("redact", target="bob", msgid=item["msgid"])
        self.assertEqual(reply["type"], "ok", reply)
        told = {"type": "redact", "msgid": item["msgid"], "by": "alice"}
        told.update(reason="", account="alice")
        # Alice's other connection sees it under bob, bob's under alice.
        self.assertEqual(alice_phone.lines(), [{**told, "target": "bob"}])
        self.assertEqual(bob.lines(), [{**told, "target": "alice"}])
        self.assertEqual(bob_phone.lines(), [{**told, "target": "alice"}])
        self.assertEqual(alice.lines(), [])
        page = bob_phone.request("history", target="alice", latest=True)
        self.assertEqual(page["items"], [])

    def test_channel_operator_redacts(self) -> None:
        alice = self.member("alice", "#c")  # the channel's creator: its operator
        bob = self.member("bob", "#c")
        self.say(bob, "#c", "spam")
        [item] = alice.request("history", target="#c", latest=True)["items"]
        reply = alice.request("redact", target="#c", msgid=item["msgid"])
        self.assertEqual(reply["type"], "ok", reply)
        self.assertEqual(
            bob.lines(),
            [
                {
                    "type": "redact",
                    "target": "#c",
                    "msgid": item["msgid"],
                    "by": "alice",
                    "reason": "",
                }
            ],
        )

    def test_bad_redactions(self) -> None:
        alice = self.member("alice", "#c")
        self.assertEqual(error(alice.request("redact", target="#c"))[0], "bad_args")
        self.assertEqual(
            error(alice.request("redact", target="#c", msgid="NOPE"))[0],
            "unknown_msgid",
        )
        eve = self.member("eve")
        self.assertEqual(
            error(eve.request("redact", target="#c", msgid="NOPE"))[0],
            "not_on_channel",
        )


class MarkReadTests(HistoryCase):
    def test_marker_syncs_across_an_accounts_connections(self) -> None:
        alice = self.registered("alice", "#c")
        phone = self.logged_in("alice", "alice_phone")
        phone.request("join", channel="#c")
        bob = self.member("bob", "#c")
        self.say(bob, "#c", "one", "two")
        [one, two] = alice.request("history", target="#c", latest=True)["items"]
        phone.lines()
        reply = alice.request("mark_read", target="#C", ts=two["ts"], id=9)
        self.assertEqual(
            reply,
            {
                "type": "ok",
                "cmd": "mark_read",
                "id": 9,
                "target": "#c",
                "read_marker": two["ts"],
            },
        )
        self.assertEqual(
            phone.lines(),
            [
                {
                    "type": "read_marker",
                    "target": "#c",
                    "read_marker": two["ts"],
                    "account": "alice",
                }
            ],
        )
        self.assertEqual(bob.lines(), [])
        # A marker only moves forward: an older one is kept, nobody is told.
        reply = phone.request("mark_read", target="#c", ts=one["ts"])
        self.assertEqual(reply["read_marker"], two["ts"])
        self.assertEqual(alice.lines(), [])
        # Joining again says where the account had read to.
        phone.request("leave", channel="#c")
        self.assertEqual(
            phone.request("join", channel="#c", history=1)["read_marker"], two["ts"]
        )

    def test_bad_marks(self) -> None:
        alice = self.member("alice", "#c")
        for args, code in [
            ({"target": "#c"}, "bad_args"),
            ({"target": "#c", "ts": [1]}, "bad_args"),
            ({"target": "#c", "ts": "yesterday"}, "bad_reference"),
            ({"target": "#c", "ts": 1e20}, "bad_reference"),
            ({"ts": 1}, "bad_args"),
            ({"target": "#bad,name", "ts": 1}, "bad_channel"),
            ({"target": "#c", "ts": "\ud800"}, "bad_args"),
            ({"target": "-nobody", "ts": 1}, "bad_nick"),
        ]:
            self.assertEqual(error(alice.request("mark_read", **args))[0], code, args)
        # a marker is her own note: a channel she is not in has one too
        reply = alice.request("mark_read", target="#elsewhere", ts=1)
        self.assertEqual((reply["type"], reply["target"]), ("ok", "#elsewhere"))
        self.assertEqual(reply["read_marker"], "1970-01-01T00:00:01.000Z")


class SearchTests(HistoryCase):
    def test_search_newest_first_with_target(self) -> None:
        alice = self.registered("alice", "#c", "#d")
        bob = self.registered("bob", "#c", "#d")
        self.say(alice, "#c", "the cat sat")
        self.say(bob, "#d", "a cat ran")
        self.say(alice, "#c", "a dog barked")
        self.say(bob, "alice", "my cat is private")
        reply = alice.request("search", text="cat", id=2)
        # Every channel she is in, and her private conversations.
        self.assertEqual(
            [(i["target"], i["text"]) for i in reply["items"]],
            [("bob", "my cat is private"), ("#d", "a cat ran"), ("#c", "the cat sat")],
        )
        self.assertEqual(reply["items"][1]["from"], "bob")
        self.assertEqual(len(reply["items"][1]["msgid"]), 28)
        # Carol is in both channels, and in none of the private talk.
        carol = self.registered("carol", "#c", "#d")
        found = carol.request("search", text="cat")["items"]
        self.assertEqual(texts(found), ["a cat ran", "the cat sat"])
        found = alice.request("search", text="cat", target="#c", limit=5)["items"]
        self.assertEqual(texts(found), ["the cat sat"])
        found = alice.request("search", text="cat", target="bob")["items"]
        self.assertEqual(
            [(i["target"], i["text"]) for i in found], [("bob", "my cat is private")]
        )
        found = alice.request("search", text="cat", limit=1)["items"]
        self.assertEqual(texts(found), ["my cat is private"])

    def test_bad_searches(self) -> None:
        alice = self.member("alice", "#c")
        for args, code in [
            ({}, "bad_args"),
            ({"text": "  "}, "bad_args"),
            # no word in it: nothing could match
            ({"text": "..."}, "bad_args"),
            ({"text": "\U0001f600 !!"}, "bad_args"),
            ({"text": 5}, "bad_args"),
            ({"text": "x", "limit": 0}, "bad_limit"),
            ({"text": "x", "target": 5}, "bad_args"),
        ]:
            self.assertEqual(error(alice.request("search", **args))[0], code, args)

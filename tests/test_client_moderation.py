# -*- test-case-name: tests.test_client_moderation -*-
"""
Tests for the console client's side of channel moderation: the operators'
commands, how modes, kicks and invitations are shown, @ and + in member
lists, and what being kicked does to the session.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from chatd.client.commands import HELP_LINES, Problem, Send, SendAll, parse_input
from chatd.client.render import render
from tests.test_client import NOON_TS, NOW, UTC, Harness


def mode(**fields: Any) -> Send:
    return Send({"cmd": "mode", "channel": "#c", **fields})


class ParseTests(SynchronousTestCase):
    """What each operator's command sends, and what it refuses to."""

    def parse(self, line: str, current: str | None = "#c") -> Any:
        return parse_input(line, current)

    def test_privileges(self) -> None:
        for name in ("op", "deop", "voice", "devoice"):
            self.assertEqual(
                self.parse(f"/{name} bob"),
                Send({"cmd": name, "channel": "#c", "nick": "bob"}),
            )
            self.assertEqual(
                self.parse(f"/{name.upper()} #other bob"),
                Send({"cmd": name, "channel": "#other", "nick": "bob"}),
            )
            usage = Problem(f"usage: /{name} [#chan] NICK")
            self.assertEqual(self.parse(f"/{name}"), usage)
            self.assertEqual(self.parse(f"/{name} bob carol"), usage)
            self.assertEqual(self.parse(f"/{name} #c"), usage)
            self.assertEqual(
                self.parse(f"/{name} bob", None),
                Problem(f"you are not in a channel (usage: /{name} [#chan] NICK)"),
            )

    def test_kick(self) -> None:
        self.assertEqual(
            self.parse("/kick bob"),
            Send({"cmd": "kick", "channel": "#c", "nick": "bob"}),
        )
        self.assertEqual(
            self.parse("/kick #other bob  stop the spam"),
            Send(
                {
                    "cmd": "kick",
                    "channel": "#other",
                    "nick": "bob",
                    "reason": "stop the spam",
                }
            ),
        )
        self.assertEqual(
            self.parse("/kick"), Problem("usage: /kick [#chan] NICK [reason]")
        )
        self.assertIsInstance(self.parse("/kick bob", None), Problem)
        too_long = self.parse("/kick bob " + "x" * 391)
        self.assertIsInstance(too_long, Problem)
        self.assertIn("at most 390", too_long.message)

    def test_ban_and_unban(self) -> None:
        for name in ("ban", "unban"):
            self.assertEqual(
                self.parse(f"/{name} eve"),
                Send({"cmd": name, "channel": "#c", "mask": "eve"}),
            )
            self.assertEqual(
                self.parse(f"/{name} #other *!*@spam.example"),
                Send({"cmd": name, "channel": "#other", "mask": "*!*@spam.example"}),
            )
            usage = Problem(
                f"usage: /{name} [#chan] MASK (a nick, or nick!user@host with * and ?)"
            )
            self.assertEqual(self.parse(f"/{name}"), usage)
            self.assertEqual(self.parse(f"/{name} a b"), usage)

    def test_bans(self) -> None:
        self.assertEqual(
            self.parse("/bans"), Send({"cmd": "bans", "channel": "#c", "list": "ban"})
        )
        self.assertEqual(
            self.parse("/bans #other", None),
            Send({"cmd": "bans", "channel": "#other", "list": "ban"}),
        )
        self.assertEqual(self.parse("/bans eve"), Problem("usage: /bans [#chan]"))
        self.assertIsInstance(self.parse("/bans", None), Problem)

    def test_invite(self) -> None:
        invite = Send({"cmd": "invite", "channel": "#c", "nick": "bob"})
        self.assertEqual(self.parse("/invite bob"), invite)
        self.assertEqual(self.parse("/invite bob #c", None), invite)
        self.assertEqual(self.parse("/invite #c bob", None), invite)
        usage = Problem("usage: /invite NICK [#chan]")
        for line in ["/invite", "/invite #c", "/invite bob carol", "/invite a #b c"]:
            self.assertEqual(self.parse(line), usage, line)
        self.assertEqual(
            self.parse("/invite bob", None),
            Problem("you are not in a channel (usage: /invite NICK [#chan])"),
        )

    def test_mode_shows(self) -> None:
        self.assertEqual(self.parse("/mode"), mode())
        self.assertEqual(
            self.parse("/mode #other", None),
            Send({"cmd": "mode", "channel": "#other"}),
        )
        self.assertIsInstance(self.parse("/mode", None), Problem)

    def test_mode_flags(self) -> None:
        self.assertEqual(
            self.parse("/mode +mi-t"),
            mode(set={"moderated": True, "invite_only": True}, unset=["topic_ops"]),
        )
        self.assertEqual(
            self.parse("/mode #other -ns"),
            Send(
                {
                    "cmd": "mode",
                    "channel": "#other",
                    "unset": ["no_external", "secret"],
                }
            ),
        )
        # the last word on a mode wins
        self.assertEqual(self.parse("/mode +m-m"), mode(unset=["moderated"]))
        self.assertEqual(self.parse("/mode -m+m"), mode(set={"moderated": True}))

    def test_mode_key_and_limit(self) -> None:
        self.assertEqual(self.parse("/mode +k sesame"), mode(set={"key": "sesame"}))
        self.assertEqual(self.parse("/mode -k"), mode(unset=["key"]))
        self.assertEqual(self.parse("/mode -k sesame"), mode(unset=["key"]))
        self.assertEqual(self.parse("/mode +l 10"), mode(set={"limit": 10}))
        self.assertEqual(self.parse("/mode -l"), mode(unset=["limit"]))
        self.assertEqual(
            self.parse("/mode +kl-m sesame 25"),
            mode(set={"key": "sesame", "limit": 25}, unset=["moderated"]),
        )
        # The server unsets first: -k+k changes the key in one request.
        self.assertEqual(
            self.parse("/mode -k+k new"), mode(set={"key": "new"}, unset=["key"])
        )
        self.assertEqual(
            self.parse("/mode -k+k old new"), mode(set={"key": "new"}, unset=["key"])
        )
        self.assertEqual(self.parse("/mode +k-k new"), mode(unset=["key"]))
        self.assertEqual(self.parse("/mode -m+m"), mode(set={"moderated": True}))

    def test_mode_lists_and_privileges(self) -> None:
        self.assertEqual(
            self.parse("/mode +b eve"),
            Send({"cmd": "ban", "channel": "#c", "mask": "eve"}),
        )
        self.assertEqual(
            self.parse("/mode -b eve!*@*"),
            Send({"cmd": "unban", "channel": "#c", "mask": "eve!*@*"}),
        )
        self.assertEqual(
            self.parse("/mode +e friend!*@*"),
            Send(
                {"cmd": "ban", "channel": "#c", "mask": "friend!*@*", "list": "except"}
            ),
        )
        self.assertEqual(
            self.parse("/mode -I *!*@club.example"),
            Send(
                {
                    "cmd": "unban",
                    "channel": "#c",
                    "mask": "*!*@club.example",
                    "list": "invite_except",
                }
            ),
        )
        self.assertEqual(
            self.parse("/mode +o bob"),
            Send({"cmd": "op", "channel": "#c", "nick": "bob"}),
        )
        self.assertEqual(
            self.parse("/mode -v bob"),
            Send({"cmd": "devoice", "channel": "#c", "nick": "bob"}),
        )

    def test_mode_list_alone_lists_it(self) -> None:
        """As in IRC, /mode +b (e, I) without a mask shows that list."""
        for letter, name in [("b", "ban"), ("e", "except"), ("I", "invite_except")]:
            self.assertEqual(
                self.parse(f"/mode +{letter}"),
                Send({"cmd": "bans", "channel": "#c", "list": name}),
            )

    def test_mode_several_requests(self) -> None:
        """Flags go as one mode request, each privilege or mask as its own."""
        self.assertEqual(
            self.parse("/mode +o-v bob carol"),
            SendAll(
                (
                    {"cmd": "op", "channel": "#c", "nick": "bob"},
                    {"cmd": "devoice", "channel": "#c", "nick": "carol"},
                )
            ),
        )
        self.assertEqual(
            self.parse("/mode +mbk-t eve sesame"),
            SendAll(
                (
                    {
                        "cmd": "mode",
                        "channel": "#c",
                        "set": {"moderated": True, "key": "sesame"},
                        "unset": ["topic_ops"],
                    },
                    {"cmd": "ban", "channel": "#c", "mask": "eve"},
                )
            ),
        )
        # -k takes its word only when the changes after it leave one over
        self.assertEqual(
            self.parse("/mode -k+o bob"),
            SendAll(
                (
                    {"cmd": "mode", "channel": "#c", "unset": ["key"]},
                    {"cmd": "op", "channel": "#c", "nick": "bob"},
                )
            ),
        )
        self.assertEqual(
            self.parse("/mode -k+o oldkey bob"), self.parse("/mode -k+o bob")
        )

    def test_mode_mistakes(self) -> None:
        cases = [
            (
                "/mode +x",
                "there is no channel mode +x: the modes are"
                " n t m i s k l b e I o v (/help says what they do)",
            ),
            (
                "/mode +m-q",
                "there is no channel mode -q: the modes are"
                " n t m i s k l b e I o v (/help says what they do)",
            ),
            ("/mode +k", "+k needs a key: /mode +k KEY"),
            ("/mode +l", "+l needs a number of members: /mode +l 10"),
            ("/mode +l ten", "+l needs a number of members, not ten: /mode +l 10"),
            ("/mode +l 0", "+l needs a number of members, not 0: /mode +l 10"),
            ("/mode -b", "-b needs a mask: /mode -b MASK"),
            ("/mode +bb eve", "+b needs a mask: /mode +b MASK"),
            ("/mode +o", "+o needs a nick: /mode +o NICK"),
            ("/mode -v", "-v needs a nick: /mode -v NICK"),
            (
                "/mode +m now",
                "too many arguments for +m: now (usage:"
                " /mode [#chan] [+MODES-MODES [ARGS]])",
            ),
            (
                "/mode m",
                "a mode change starts with + or -: /mode +m, /mode -t (usage:"
                " /mode [#chan] [+MODES-MODES [ARGS]])",
            ),
            ("/mode +-", "usage: /mode [#chan] [+MODES-MODES [ARGS]]"),
        ]
        for line, message in cases:
            self.assertEqual(self.parse(line), Problem(message), line)
        self.assertEqual(
            self.parse("/mode +m", None),
            Problem(
                "you are not in a channel (usage: /mode [#chan] [+MODES-MODES [ARGS]])"
            ),
        )

    def test_help_lists_them(self) -> None:
        text = "\n".join(HELP_LINES)
        for usage in [
            "/join #chan [KEY]",
            "/op NICK",
            "/deop NICK",
            "/voice NICK",
            "/devoice NICK",
            "/kick NICK [reason]",
            "/ban MASK",
            "/unban MASK",
            "/bans",
            "/invite NICK [#chan]",
            "/mode ",
            "/mode +mi-t",
            "/mode +k KEY",
            "/mode -k",
            "/mode +l 10",
            "/mode +b MASK",
            "/mode +o NICK",
            "@#chan",
        ]:
            self.assertIn(usage, text)


class RenderTests(SynchronousTestCase):
    """How modes, kicks, invitations and their replies read."""

    def render(
        self, obj: Any, request: Any = None, nick: str | None = "me"
    ) -> list[str]:
        return render(obj, request, now=NOW, tz=UTC, nick=nick)

    def event(self, *changes: dict[str, Any]) -> list[str]:
        return self.render(
            {"type": "mode", "channel": "#c", "by": "alice", "changes": list(changes)}
        )

    def test_mode_event_flags(self) -> None:
        self.assertEqual(
            self.event({"mode": "moderated", "set": True}),
            ["10:05 * alice set mode +m on #c"],
        )
        self.assertEqual(
            self.event(
                {"mode": "moderated", "set": True},
                {"mode": "limit", "set": True, "param": 10},
                {"mode": "key", "set": False, "param": "k"},
                {"mode": "invite_only", "set": False},
                {"mode": "except", "set": True, "param": "pal!*@*"},
            ),
            ["10:05 * alice set mode +ml-ki+e 10 k pal!*@* on #c"],
        )

    def test_mode_event_privileges_and_bans_in_words(self) -> None:
        self.assertEqual(
            self.event(
                {"mode": "moderated", "set": True},
                {"mode": "op", "set": True, "param": "bob"},
                {"mode": "op", "set": False, "param": "carol"},
                {"mode": "voice", "set": True, "param": "dave"},
                {"mode": "voice", "set": False, "param": "ed"},
                {"mode": "ban", "set": True, "param": "eve!*@*"},
                {"mode": "ban", "set": False, "param": "fay!*@*"},
            ),
            [
                "10:05 * alice set mode +m on #c",
                "10:05 * alice gave bob operator status on #c",
                "10:05 * alice took operator status from carol on #c",
                "10:05 * alice gave dave voice on #c",
                "10:05 * alice took voice from ed on #c",
                "10:05 * alice banned eve!*@* from #c",
                "10:05 * alice lifted the ban on fay!*@* in #c",
            ],
        )

    def test_mode_event_about_you(self) -> None:
        self.assertEqual(
            self.event({"mode": "op", "set": True, "param": "Me"}),
            ["10:05 * alice gave you operator status on #c"],
        )
        self.assertEqual(
            self.event({"mode": "voice", "set": False, "param": "me"}),
            ["10:05 * alice took voice from you on #c"],
        )

    def test_kick_event(self) -> None:
        kick = {"type": "kick", "channel": "#c", "nick": "bob", "by": "alice"}
        self.assertEqual(
            self.render({**kick, "reason": "spam"}),
            ["10:05 * alice kicked bob from #c (spam)"],
        )
        self.assertEqual(
            self.render({**kick, "reason": ""}), ["10:05 * alice kicked bob from #c"]
        )
        self.assertEqual(self.render(kick), ["10:05 * alice kicked bob from #c"])
        self.assertEqual(
            self.render({**kick, "nick": "ME", "reason": "spam"}),
            ["10:05 * you were kicked from #c by alice (spam)"],
        )

    def test_invite_event(self) -> None:
        self.assertEqual(
            self.render({"type": "invite", "channel": "#c", "by": "alice"}),
            ["10:05 * alice invites you to #c (/join #c)"],
        )

    def test_malformed_events(self) -> None:
        for obj in [
            {"type": "mode", "channel": "#c", "by": "alice"},
            {"type": "mode", "channel": "#c", "by": "alice", "changes": ["+m"]},
            {
                "type": "mode",
                "channel": "#c",
                "by": "alice",
                "changes": [{"mode": "moderated", "set": "yes"}],
            },
            {"type": "kick", "channel": "#c", "by": "alice"},
            {"type": "invite", "channel": "#c"},
        ]:
            [line] = self.render(obj)
            self.assertTrue(line.startswith("! bad line from server: "), line)

    def test_ok_mode_read(self) -> None:
        request = {"cmd": "mode", "channel": "#c"}
        ok = {"type": "ok", "cmd": "mode", "channel": "#c"}
        self.assertEqual(
            self.render(
                {
                    **ok,
                    "modes": {
                        "limit": 10,
                        "key": "k",
                        "topic_ops": True,
                        "no_external": True,
                    },
                },
                request,
            ),
            [
                "* #c has modes +ntkl k 10: no messages from outside, only"
                " operators set the topic, key k, at most 10 members"
            ],
        )
        self.assertEqual(
            self.render({**ok, "modes": {"moderated": True, "key": "*"}}, request),
            [
                "* #c has modes +mk *: moderated (only operators and voiced"
                " members speak), key *"
            ],
        )
        self.assertEqual(
            self.render({**ok, "modes": {}}, request), ["* #c has no modes set"]
        )

    def test_ok_mode_change(self) -> None:
        request = {"cmd": "mode", "channel": "#c", "set": {"moderated": True}}
        ok = {"type": "ok", "cmd": "mode", "channel": "#c", "modes": {}}
        self.assertEqual(
            self.render(
                {**ok, "changes": [{"mode": "moderated", "set": True}]}, request
            ),
            ["10:05 * you set mode +m on #c"],
        )
        self.assertEqual(
            self.render({**ok, "changes": []}, request),
            ["10:05 * nothing to change on #c"],
        )

    def test_ok_privileges_and_bans(self) -> None:
        cases = [
            ("op", "bob", "10:05 * you gave bob operator status on #c"),
            ("deop", "bob", "10:05 * you took operator status from bob on #c"),
            ("voice", "bob", "10:05 * you gave bob voice on #c"),
            ("devoice", "bob", "10:05 * you took voice from bob on #c"),
        ]
        for cmd, nick, line in cases:
            name = cmd.removeprefix("de")
            change = {"mode": name, "set": cmd == name, "param": nick}
            request = {"cmd": cmd, "channel": "#c", "nick": nick}
            ok = {"type": "ok", "cmd": cmd, "changes": [change]}
            self.assertEqual(self.render(ok, request), [line])
        request = {"cmd": "ban", "channel": "#c", "mask": "eve"}
        ok = {
            "type": "ok",
            "cmd": "ban",
            "mask": "eve!*@*",
            "changes": [{"mode": "ban", "set": True, "param": "eve!*@*"}],
        }
        self.assertEqual(
            self.render(ok, request), ["10:05 * you banned eve!*@* from #c"]
        )
        self.assertEqual(
            self.render({**ok, "changes": []}, request),
            ["10:05 * nothing to change on #c"],
        )

    def test_ok_kick_and_invite(self) -> None:
        request = {"cmd": "kick", "channel": "#c", "nick": "bob", "reason": "spam"}
        ok = {"type": "ok", "cmd": "kick"}
        self.assertEqual(
            self.render(ok, request), ["10:05 * you kicked bob from #c (spam)"]
        )
        del request["reason"]
        self.assertEqual(self.render(ok, request), ["10:05 * you kicked bob from #c"])
        request = {"cmd": "invite", "channel": "#c", "nick": "bob"}
        self.assertEqual(
            self.render({"type": "ok", "cmd": "invite"}, request),
            ["10:05 * you invited bob to #c"],
        )

    def test_ok_bans(self) -> None:
        request = {"cmd": "bans", "channel": "#c", "list": "ban"}
        ok = {
            "type": "ok",
            "cmd": "bans",
            "channel": "#c",
            "list": "ban",
            "entries": [
                {"mask": "eve!*@*", "by": "alice!~a@host", "ts": NOON_TS},
                {"mask": "*!*@spam.example", "by": "bob!~b@host", "ts": NOON_TS},
            ],
        }
        self.assertEqual(
            self.render(ok, request),
            [
                "* #c has 2 bans:",
                "*   eve!*@* by alice!~a@host on 2026-11-24 10:00",
                "*   *!*@spam.example by bob!~b@host on 2026-11-24 10:00",
            ],
        )
        self.assertEqual(
            self.render({**ok, "entries": []}, request), ["* #c has no bans"]
        )
        excepts = {**ok, "list": "except", "entries": ok["entries"][:1]}
        self.assertEqual(
            self.render(excepts, {**request, "list": "except"})[0],
            "* #c has 1 ban exception:",
        )
        self.assertEqual(
            self.render({**ok, "list": "invite_except", "entries": []}),
            ["* #c has no invite exceptions"],
        )

    def test_member_prefixes(self) -> None:
        privileges = {"alice": ["op"], "bob": ["voice"], "carol": ["op", "voice"]}
        join = {
            "type": "ok",
            "cmd": "join",
            "channel": "#c",
            "topic": "",
            "members": ["alice", "bob", "carol", "me"],
            "privileges": privileges,
        }
        self.assertEqual(
            self.render(join),
            ["10:05 * you joined #c (no topic; members: @alice, +bob, @carol, me)"],
        )
        who = {
            "type": "ok",
            "cmd": "who",
            "channel": "#c",
            "members": ["alice", "bob", "me"],
            "privileges": privileges,
            "away": {"bob": "lunch"},
        }
        self.assertEqual(
            self.render(who),
            [
                "* #c has 3 members: @alice, +bob (away), me",
                "*   bob is away: lunch",
            ],
        )
        # a server without privileges: the plain list, as before
        del who["privileges"]
        self.assertEqual(
            self.render(who)[0], "* #c has 3 members: alice, bob (away), me"
        )

    def test_errors_in_client_words(self) -> None:
        def error(code: str, request: dict[str, Any] | None) -> list[str]:
            obj = {"type": "error", "cmd": "join", "code": code, "message": "Said."}
            return self.render(obj, request)

        join = {"cmd": "join", "channel": "#c"}
        self.assertEqual(
            error("bad_key", join), ["! bad_key: #c needs a key: /join #c KEY"]
        )
        self.assertEqual(
            error("bad_key", {**join, "key": "guess"}),
            ["! bad_key: that is not the key of #c: /join #c KEY"],
        )
        self.assertEqual(
            error("invite_only", join),
            ["! invite_only: #c is invite only: ask an operator for /invite"],
        )
        self.assertEqual(error("banned", join), ["! banned: you are banned from #c"])
        self.assertEqual(
            error("channel_full", join),
            ["! channel_full: #c is full: it has as many members as its limit"],
        )
        self.assertEqual(
            error("not_channel_operator", {"cmd": "kick", "channel": "#c"}),
            [
                "! not_channel_operator: you are not an operator of #c: only"
                " operators (@ in /who #c) can do that"
            ],
        )
        self.assertEqual(
            error("key_set", {"cmd": "mode", "channel": "#c"}),
            ["! key_set: #c has a key already: /mode -k removes it first"],
        )
        # Without the request, the server's words.
        self.assertEqual(error("bad_key", None), ["! bad_key: Said."])
        for code in [
            "cannot_send",
            "no_such_nick",
            "not_in_channel",
            "user_not_in_channel",
            "already_in_channel",
            "list_full",
            "bad_mask",
            "unknown_mode",
            "bad_mode_param",
        ]:
            self.assertEqual(error(code, join), [f"! {code}: Said."])

    def test_message_to_operators(self) -> None:
        """A STATUSMSG to @#c reads as a channel line, marked @#c."""
        message = {
            "type": "message",
            "from": "alice",
            "to": "@#c",
            "text": "eve again",
            "ts": NOON_TS,
        }
        self.assertEqual(self.render(message), ["10:00 @#c <alice> eve again"])
        self.assertEqual(
            self.render({**message, "action": True}), ["10:00 @#c * alice eve again"]
        )
        sent = {"cmd": "msg", "to": "@#c", "text": "eve again"}
        self.assertEqual(
            self.render({"type": "ok", "cmd": "msg", "to": "@#c", "ts": NOON_TS}, sent),
            ["10:00 @#c <me> eve again"],
        )


class SessionTests(SynchronousTestCase):
    """The operators' commands through a session, and being kicked."""

    def test_op_request_and_reply(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.join("#c")
        h.type("/op bob")
        [op] = h.sent()
        self.assertEqual(
            op, {"cmd": "op", "channel": "#c", "nick": "bob", "id": op["id"]}
        )
        h.reply_ok(op, changes=[{"mode": "op", "set": True, "param": "bob"}])
        self.assertEqual(h.take(), ["10:05 * you gave bob operator status on #c"])

    def test_one_line_several_requests(self) -> None:
        """/mode +o-v bob carol: two requests, the second after the first's reply."""
        h = Harness().connected()
        h.nick("alice")
        h.join("#c")
        h.type("/mode +o-v bob carol", "hello")
        [op] = h.sent()
        self.assertEqual((op["cmd"], op["nick"]), ("op", "bob"))
        h.reply_ok(op, changes=[{"mode": "op", "set": True, "param": "bob"}])
        [devoice] = h.sent()
        self.assertEqual((devoice["cmd"], devoice["nick"]), ("devoice", "carol"))
        h.server(
            {
                "type": "error",
                "cmd": "devoice",
                "id": devoice["id"],
                "code": "user_not_in_channel",
                "message": "carol is not in #c",
            }
        )
        [msg] = h.sent()
        self.assertEqual(msg["text"], "hello")
        self.assertEqual(
            h.take(),
            [
                "10:05 * you gave bob operator status on #c",
                "! user_not_in_channel: carol is not in #c",
            ],
        )

    def test_mode_shown(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.join("#c")
        h.type("/mode")
        [request] = h.sent()
        self.assertEqual(request, {"cmd": "mode", "channel": "#c", "id": request["id"]})
        h.reply_ok(
            request, channel="#c", modes={"no_external": True, "topic_ops": True}
        )
        self.assertEqual(
            h.take(),
            [
                "* #c has modes +nt: no messages from outside, only operators set"
                " the topic"
            ],
        )

    def test_mistakes_send_nothing(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.join("#c")
        h.type("/op", "/mode +z", "/mode +k", "/kick")
        self.assertEqual(h.sent(), [])
        self.assertEqual(
            h.take(),
            [
                "! usage: /op [#chan] NICK",
                "! there is no channel mode +z: the modes are n t m i s k l b e I"
                " o v (/help says what they do)",
                "! +k needs a key: /mode +k KEY",
                "! usage: /kick [#chan] NICK [reason]",
            ],
        )

    def test_kicked_from_current_channel(self) -> None:
        """Kicked: the channel is gone, and plain lines go where /leave sends them."""
        h = Harness().connected()
        h.nick("bob")
        h.join("#a")
        h.join("#c")
        self.assertEqual(h.client.prompt(), "[bob] #c> ")
        h.server(
            {
                "type": "kick",
                "channel": "#C",
                "nick": "Bob",
                "by": "alice",
                "reason": "spam",
            }
        )
        self.assertEqual(h.take(), ["10:05 * you were kicked from #C by alice (spam)"])
        self.assertEqual(h.client.channels, ["#a"])
        self.assertEqual(h.client.prompt(), "[bob] #a> ")
        h.type("sorry")
        [msg] = h.sent()
        self.assertEqual(msg["to"], "#a")

    def test_someone_else_kicked(self) -> None:
        h = Harness().connected()
        h.nick("alice")
        h.join("#c")
        h.server({"type": "kick", "channel": "#c", "nick": "eve", "by": "alice"})
        self.assertEqual(h.take(), ["10:05 * alice kicked eve from #c"])
        self.assertEqual(h.client.channels, ["#c"])

    def test_kicked_channel_not_joined_again(self) -> None:
        h = Harness(interactive=True).connected()
        h.nick("bob")
        h.join("#a")
        h.join("#c")
        h.server({"type": "kick", "channel": "#a", "nick": "bob", "by": "alice"})
        self.assertEqual(h.client.prompt(), "[bob] #c> ")  # still where it was
        h.server({"type": "bye", "code": "shutdown", "reason": "stopping"})
        h.close()
        h.reactor.advance(1)
        h.accept()
        h.welcome()
        [nick] = h.sent()
        h.reply_ok(nick, nick="bob")
        [join] = h.sent()
        self.assertEqual(join["channel"], "#c")
        h.reply_ok(join, channel="#c", topic="", members=["bob"])
        self.assertEqual(h.sent(), [])

    def test_key_used_again_on_reconnecting(self) -> None:
        """
        A channel joined with a key is joined with it again; a key an
        operator changes meanwhile replaces it, and -k forgets it.
        """
        h = Harness(interactive=True).connected()
        h.nick("bob")
        h.type("/join #k sesame")
        [join] = h.sent()
        self.assertEqual(join["key"], "sesame")
        h.reply_ok(join, channel="#k", topic="", members=["alice", "bob"])
        h.join("#open")
        h.join("#new")

        def reconnect() -> dict[str, dict[str, Any]]:
            h.server({"type": "bye", "code": "shutdown", "reason": "stopping"})
            h.close()
            h.reactor.advance(1)
            h.accept()
            h.welcome()
            [nick] = h.sent()
            h.reply_ok(nick, nick="bob")
            joins = {}
            for _ in range(3):
                [join] = h.sent()
                joins[join["channel"]] = join
                h.reply_ok(join, channel=join["channel"], topic="", members=["bob"])
            return joins

        joins = reconnect()
        self.assertEqual(joins["#k"].get("key"), "sesame")
        self.assertNotIn("key", joins["#open"])
        h.server(
            {
                "type": "mode",
                "channel": "#k",
                "by": "alice",
                "changes": [{"mode": "key", "set": True, "param": "open-sesame"}],
            }
        )
        h.type("/mode #new +k mine")
        [mode] = h.sent()
        h.reply_ok(
            mode,
            changes=[{"mode": "key", "set": True, "param": "mine"}],
            modes={"key": "mine"},
        )
        self.assertEqual(
            h.take()[-2:],
            [
                "10:05 * alice set mode +k open-sesame on #k",
                "10:05 * you set mode +k mine on #new",
            ],
        )
        joins = reconnect()
        self.assertEqual(joins["#k"].get("key"), "open-sesame")
        self.assertEqual(joins["#new"].get("key"), "mine")
        h.server(
            {
                "type": "mode",
                "channel": "#k",
                "by": "alice",
                "changes": [{"mode": "key", "set": False, "param": "open-sesame"}],
            }
        )
        joins = reconnect()
        self.assertNotIn("key", joins["#k"])

    def test_wrong_key_on_reconnecting_drops_the_channel(self) -> None:
        h = Harness(interactive=True).connected()
        h.nick("bob")
        h.join("#k")
        h.server({"type": "bye", "code": "shutdown", "reason": "stopping"})
        h.close()
        h.reactor.advance(1)
        h.accept()
        h.welcome()
        [nick] = h.sent()
        h.reply_ok(nick, nick="bob")
        [join] = h.sent()
        h.take()
        h.server(
            {
                "type": "error",
                "cmd": "join",
                "id": join["id"],
                "code": "bad_key",
                "message": "cannot join #k: the key is wrong",
            }
        )
        self.assertEqual(h.take(), ["! bad_key: #k needs a key: /join #k KEY"])
        self.assertEqual(h.client.channels, [])

    def test_invited_then_join(self) -> None:
        h = Harness().connected()
        h.nick("bob")
        h.server({"type": "invite", "channel": "#club", "by": "alice"})
        self.assertEqual(h.take(), ["10:05 * alice invites you to #club (/join #club)"])
        h.type("/join #club")
        [join] = h.sent()
        h.reply_ok(
            join,
            channel="#club",
            topic="",
            members=["alice", "bob"],
            privileges={"alice": ["op"]},
        )
        self.assertEqual(
            h.take(), ["10:05 * you joined #club (no topic; members: @alice, bob)"]
        )

    def test_moderation_through_at_once_ends_a_slowdown(self) -> None:
        """
        The operators' commands cost flood-control tokens too: one let
        through at its first try means the server no longer slows us down,
        so the next slowdown is told again.  Reading the modes proves nothing.
        """
        h = Harness().connected()
        h.nick("alice")
        h.join("#c")

        def refuse(request: dict[str, Any]) -> None:
            h.server(
                {
                    "type": "error",
                    "cmd": request["cmd"],
                    "id": request["id"],
                    "code": "rate_limited",
                    "message": "slow down",
                    "retry_after": 0.5,
                }
            )

        notice = (
            "* the server asks us to slow down: sending at its pace"
            " (the next line in 0.5 s)"
        )
        h.type("one")
        [one] = h.sent()
        refuse(one)
        self.assertEqual(h.take(), [notice])
        h.reactor.advance(1)
        [again] = h.sent()
        h.reply_ok(again, to="#c", ts=NOON_TS)
        h.type("/mode")
        [read] = h.sent()
        h.reply_ok(read, channel="#c", modes={})
        h.type("two")
        [two] = h.sent()
        refuse(two)
        self.assertNotIn(notice, h.take())  # still the same slowdown
        h.reactor.advance(1)
        [again] = h.sent()
        h.reply_ok(again, to="#c", ts=NOON_TS)
        h.type("/kick bob")
        [kick] = h.sent()
        h.reply_ok(kick, channel="#c", nick="bob", reason="")
        h.take()
        h.type("three")
        [three] = h.sent()
        refuse(three)
        self.assertEqual(h.take(), [notice])

# -*- test-case-name: tests.test_client_moderation -*-
"""
Tests for the console client's side of channel moderation: the operators'
commands, how modes, kicks and invitations are shown, @ and + in member
lists, and what being kicked does to the session.
"""

from __future__ import annotations

from typing import Any

from twisted.trial.unittest import SynchronousTestCase

from chatd.client import modes as client_modes
from chatd.client.commands import HELP_LINES, Problem, Send, SendAll, parse_input
from chatd.core import modes as core_modes


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

    def test_letters_agree_with_the_server(self) -> None:
        """The client's mode letters and names are the server's."""
        self.assertEqual(client_modes.NAMES, core_modes.NAMES)
        self.assertEqual(
            {n: p for n, p in client_modes.PREFIXES.items()},
            {core_modes.PRIVILEGES[k]: p for k, p in core_modes.PREFIXES.items()},
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

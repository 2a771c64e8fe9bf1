# -*- test-case-name: tests.test_irc -*-
"""
Queries: WHO, WHOIS, WHOWAS, USERHOST, ISON, AWAY, LUSERS, MOTD, VERSION
and TIME.
"""

from __future__ import annotations

import platform
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING

from twisted.copyright import version as twisted_version
from twisted.words.protocols import irc as rfc

import chatd
from chatd.core import (
    AWAY_MAX,
    User,
    fold,
    policy,
)
from chatd.irc.message import (
    Line,
    irc_host,
)
from chatd.irc.numerics import (
    RPL_WHOISACCOUNT,
    RPL_WHOSPCRPL,
    Reply,
)
from chatd.irc.registration import Registration
from chatd.irc.session import Command

if TYPE_CHECKING:
    from collections.abc import Iterable


class Queries(Registration):
    """What a client may ask about people and the server, and its away state."""

    def irc_WHO(self, line: Line) -> None:
        chat = self.factory.chat
        query = line.params[0] if line.params else "*"
        server = self.factory.server_name
        whox = None
        if len(line.params) > 1 and line.params[1].startswith("%"):
            whox = line.params[1][1:]
        me = self._user()
        if query.startswith("#"):
            channel = chat.find_channel(query)
            # In a channel's list the flags carry the member's prefixes.
            pairs: Iterable[tuple[str, User, str]] = (
                []
                if channel is None
                else [
                    (channel.name, m.user, self._prefix(m))
                    for m in policy.visible_members(channel, me)
                ]
            )
        else:
            pattern = fold(query)
            wild = "*" in query or "?" in query or query == "0"
            pattern = "*" if query == "0" else pattern
            found = []
            for key, u in chat.nicks.items():
                if (fnmatchcase(key, pattern) if wild else key == pattern) and (
                    not wild or policy.may_see_user(u, me)
                ):
                    # No channel context for a nick or mask (as UnrealIRCd):
                    # a channel named here would claim a membership status.
                    found.append(("*", u, ""))
            pairs = found
        for channel_name, u, prefix in pairs:
            flags = ("G" if u.away is not None else "H") + prefix
            if u.oper is not None:
                flags = flags[0] + "*" + flags[1:]
            if whox is not None:
                self._whox(whox, channel_name, u, flags)
                continue
            self.write(
                self.numeric(
                    rfc.RPL_WHOREPLY,
                    channel_name,
                    u.username or "unknown",
                    irc_host(u.host),
                    server,
                    u.nick or "*",
                    flags,
                    f"0 {u.realname or u.nick}",
                )
            )
        self.write(self.numeric(rfc.RPL_ENDOFWHO, query, "End of /WHO list"))

    def _whox(self, spec: str, channel_name: str, u: User, flags: str) -> None:
        """
        One WHOX reply (354): the fields C{spec} asks for, in WHOX's fixed
        order (C{tcuihsnfdlaor}); C{spec} may end in C{,token}.
        """
        fields, _, token = spec.partition(",")
        now = self.factory.clock.seconds()
        values = {
            "t": token or "0",
            "c": channel_name,
            "u": u.username or "unknown",
            "i": "255.255.255.255",
            "h": irc_host(u.host),
            "s": self.factory.server_name,
            "n": u.nick or "*",
            "f": flags,
            "d": "0",
            "l": str(max(0, int(now - u.last_spoke))),
            "a": u.account or "0",
            "o": "n/a",
            "r": u.realname or u.nick or "",
        }
        params = [values[f] for f in "tcuihsnfdlaor" if f in fields]
        self.write(self.numeric(RPL_WHOSPCRPL, *params))

    def irc_WHOIS(self, line: Line) -> None:
        if not line.params or not line.params[-1]:
            raise Reply(rfc.ERR_NONICKNAMEGIVEN, "No nickname given")
        nick = line.params[-1].split(",")[0]
        u = self.factory.chat.nicks.get(fold(nick))
        if u is None or u.nick is None:
            self.write(self.numeric(rfc.ERR_NOSUCHNICK, nick, "No such nick/channel"))
            self.write(self.numeric(rfc.RPL_ENDOFWHOIS, nick, "End of /WHOIS list"))
            return
        f = self.factory
        self.write(
            self.numeric(
                rfc.RPL_WHOISUSER,
                u.nick,
                u.username or "unknown",
                irc_host(u.host),
                "*",
                u.realname or u.nick,
            )
        )
        channels = [
            self._prefix(m) + c.name
            for c, m in self.factory.chat.channels_of(u, self._user())
        ]
        if channels:
            self.write(self.numeric(rfc.RPL_WHOISCHANNELS, u.nick, " ".join(channels)))
        self.write(
            self.numeric(
                rfc.RPL_WHOISSERVER, u.nick, f.server_name, f"chatd {chatd.__version__}"
            )
        )
        if u.away is not None:
            self.write(self.numeric(rfc.RPL_AWAY, u.nick, u.away))
        if u.oper is not None:
            self.write(
                self.numeric(rfc.RPL_WHOISOPERATOR, u.nick, "is an IRC operator")
            )
        if u.account is not None:
            self.write(
                self.numeric(RPL_WHOISACCOUNT, u.nick, u.account, "is logged in as")
            )
        now = f.clock.seconds()
        idle = max(0, int(now - u.last_spoke))
        self.write(
            self.numeric(
                rfc.RPL_WHOISIDLE,
                u.nick,
                str(idle),
                str(int(u.signon)),
                "seconds idle, signon time",
            )
        )
        self.write(self.numeric(rfc.RPL_ENDOFWHOIS, u.nick, "End of /WHOIS list"))

    def irc_WHOWAS(self, line: Line) -> None:
        nick = line.params[0]
        if not nick:
            raise Reply(rfc.ERR_NONICKNAMEGIVEN, "No nickname given")
        found = self.factory.chat.whowas(nick)
        count = line.params[1] if len(line.params) > 1 else ""
        if count.lstrip("-").isdigit() and int(count) > 0:
            found = found[: int(count)]
        if not found:
            self.write(
                self.numeric(rfc.ERR_WASNOSUCHNICK, nick, "There was no such nickname")
            )
        server = self.factory.server_name
        for was in found:
            self.write(
                self.numeric(
                    rfc.RPL_WHOWASUSER,
                    was.nick,
                    was.username or "unknown",
                    irc_host(was.host),
                    "*",
                    was.realname or was.nick,
                )
            )
            self.write(
                self.numeric(
                    rfc.RPL_WHOISSERVER, was.nick, server, f"chatd {chatd.__version__}"
                )
            )
        self.write(self.numeric(rfc.RPL_ENDOFWHOWAS, nick, "End of WHOWAS"))

    def irc_USERHOST(self, line: Line) -> None:
        chat = self.factory.chat
        replies = []
        for nick in line.params[:5]:
            u = chat.nicks.get(fold(nick))
            if u is not None and u.nick is not None:
                away = "-" if u.away is not None else "+"
                host = irc_host(u.host)
                replies.append(f"{u.nick}={away}{u.username or 'unknown'}@{host}")
        self.write(self.numeric(rfc.RPL_USERHOST, " ".join(replies)))

    def irc_ISON(self, line: Line) -> None:
        chat = self.factory.chat
        online = []
        for param in line.params:
            for nick in param.split():
                u = chat.nicks.get(fold(nick))
                if u is not None and u.nick is not None:
                    online.append(u.nick)
        self.write(self.numeric(rfc.RPL_ISON, " ".join(online)))

    def irc_AWAY(self, line: Line) -> None:
        message = line.params[0][:AWAY_MAX] if line.params else ""
        self.factory.chat.set_away(self._user(), message or None)
        if message:
            self.write(
                self.numeric(rfc.RPL_NOWAWAY, "You have been marked as being away")
            )
        else:
            self.write(
                self.numeric(rfc.RPL_UNAWAY, "You are no longer marked as being away")
            )

    def irc_LUSERS(self, line: Line) -> None:
        self._lusers()

    def irc_MOTD(self, line: Line) -> None:
        self._motd()

    def irc_VERSION(self, line: Line) -> None:
        f = self.factory
        self.write(
            self.numeric(
                rfc.RPL_VERSION,
                f.version,
                f.server_name,
                "chatd: JSON lines and IRC over one chat",
            )
        )
        self._isupport()

    def irc_INFO(self, line: Line) -> None:
        for text in (
            f"chatd {chatd.__version__}: a chat server on Twisted, speaking JSON"
            " lines and IRC over one chat",
            f"Twisted {twisted_version}, {platform.python_implementation()}"
            f" {platform.python_version()}",
            f"Started {self.factory.created_text}",
        ):
            self.write(self.numeric(rfc.RPL_INFO, text))
        self.write(self.numeric(rfc.RPL_ENDOFINFO, "End of /INFO list"))

    def irc_TIME(self, line: Line) -> None:
        now = self.factory.clock.seconds()
        text = datetime.fromtimestamp(now, timezone.utc).strftime(
            "%A %B %d %Y -- %H:%M:%S +00:00"
        )
        self.write(self.numeric(rfc.RPL_TIME, self.factory.server_name, text))


#: command: (handler, least number of parameters, needs registration)
QUERIES: dict[str, Command] = {
    "WHO": (Queries.irc_WHO, 0, True),
    "WHOIS": (Queries.irc_WHOIS, 0, True),
    "WHOWAS": (Queries.irc_WHOWAS, 1, True),
    "USERHOST": (Queries.irc_USERHOST, 1, True),
    "ISON": (Queries.irc_ISON, 1, True),
    "AWAY": (Queries.irc_AWAY, 0, True),
    "LUSERS": (Queries.irc_LUSERS, 0, True),
    "MOTD": (Queries.irc_MOTD, 0, True),
    "VERSION": (Queries.irc_VERSION, 0, True),
    "TIME": (Queries.irc_TIME, 0, True),
    "INFO": (Queries.irc_INFO, 0, True),
}

# -*- test-case-name: tests.test_irc -*-
"""
Registration: CAP, PASS, NICK, USER, the welcome (ISUPPORT, LUSERS, MOTD),
PING, PONG and QUIT.
"""

from __future__ import annotations

from typing import Callable

from twisted.words.protocols import irc as rfc

from chatd.core import (
    REASON_MAX,
    ChatError,
    clean_line,
    fold,
    is_valid_nick,
)
from chatd.irc.message import (
    Line,
    build,
    mask,
)
from chatd.irc.moderation import CHANNEL_MODES, CHANNEL_MODES_WITH_PARAM
from chatd.irc.modes import USER_MODES
from chatd.irc.numerics import (
    ERR_BANONCHAN,
    ERR_INVALIDCAPCMD,
    RPL_GLOBALUSERS,
    RPL_LOCALUSERS,
    Reply,
)
from chatd.irc.session import Command, IRCSession

#: The IRCv3 capabilities chatd supports, all of them fully (and, where
#: the server has accounts, C{sasl} and C{draft/account-registration}:
#: L{chatd.irc.accounts}).
CAPS = (
    "account-notify",
    "account-tag",
    "away-notify",
    "batch",
    "cap-notify",
    "echo-message",
    "extended-join",
    "invite-notify",
    "labeled-response",
    "message-tags",
    "multi-prefix",
    "server-time",
    "userhost-in-names",
)
USERLEN = 10
#: Tokens per 005 line: with the nick and the text, 15 parameters at most.
ISUPPORT_PER_LINE = 13
REALNAME_MAX = 100


class Registration(IRCSession):
    """Registration, capabilities, the welcome, and keeping the link up."""

    def irc_CAP(self, line: Line) -> None:
        sub = line.params[0].upper()
        args = line.params[1:]
        server = self.factory.server_name
        if sub == "LS":
            if not self.registered:
                self.negotiating = True
            values = self.cap_values()
            offered = sorted([*CAPS, *values])
            if args and args[0].isdigit() and int(args[0]) >= 302:
                self.caps.add("cap-notify")
                offered = [f"{c}={values[c]}" if values.get(c) else c for c in offered]
            self.write(build("CAP", self.me, "LS", " ".join(offered), prefix=server))
        elif sub == "LIST":
            self.write(
                build(
                    "CAP", self.me, "LIST", " ".join(sorted(self.caps)), prefix=server
                )
            )
        elif sub == "REQ":
            if not args:
                raise Reply(rfc.ERR_NEEDMOREPARAMS, "CAP", "Not enough parameters")
            if not self.registered:
                self.negotiating = True
            wanted = args[0].split()
            known = {*CAPS, *self.cap_values()}
            if wanted and all(c.lstrip("-") in known for c in wanted):
                for cap in wanted:
                    if cap.startswith("-"):
                        self.caps.discard(cap[1:])
                    else:
                        self.caps.add(cap)
                self.caps_changed()
                self.write(build("CAP", self.me, "ACK", args[0], prefix=server))
            else:
                self.write(build("CAP", self.me, "NAK", args[0], prefix=server))
        elif sub == "END":
            self.sasl_interrupted()
            if self.negotiating:
                self.negotiating = False
                self._try_register()
        else:
            raise Reply(ERR_INVALIDCAPCMD, line.params[0], "Invalid CAP command")

    def irc_PASS(self, line: Line) -> None:
        if self.registered:
            raise Reply(rfc.ERR_ALREADYREGISTRED, "You may not reregister")
        # chatd has no server password: any is accepted.

    def irc_NICK(self, line: Line) -> None:
        if not line.params or not line.params[0]:
            raise Reply(rfc.ERR_NONICKNAMEGIVEN, "No nickname given")
        nick = line.params[0]
        assert self.user is not None
        if not self.registered:
            self.wanted_nick = nick
        # Asked before registration too, when the core has not seen the nick.
        if not is_valid_nick(nick):
            self.reply_error("NICK", "bad_nick", nick)
            return
        holder = self.factory.chat.nicks.get(fold(nick))
        if holder is not None and holder is not self.user:
            self.reply_error("NICK", "nick_in_use", nick)
            return
        if not self.registered:
            self.nick = nick
            self._try_register()
            return
        old = self.user.nick
        if old == nick:
            return
        assert old is not None
        source = mask(old, self.user)
        try:
            self.factory.chat.set_nick(self.user, nick)
        except ChatError as e:
            if e.code != "banned" or e.channel is None:
                raise
            self.write(
                self.numeric(
                    ERR_BANONCHAN,
                    nick,
                    e.channel,
                    "Cannot change nickname while banned on channel",
                )
            )
            return
        self.write(build("NICK", nick, prefix=source), self._made())

    def irc_USER(self, line: Line) -> None:
        if self.registered or self.username is not None:
            raise Reply(rfc.ERR_ALREADYREGISTRED, "You may not reregister")
        name = (
            "".join(
                c for c in line.params[0] if c.isascii() and (c.isalnum() or c in "-_.")
            )
            or "user"
        )
        realname = clean_line(line.params[3], REALNAME_MAX)
        if not realname:
            raise Reply(rfc.ERR_NEEDMOREPARAMS, "USER", "Not enough parameters")
        self.username = "~" + name[: USERLEN - 1]
        self.realname = realname
        self._try_register()

    def _try_register(self) -> None:
        if (
            self.registered
            or self.negotiating
            or self.nick is None
            or self.username is None
        ):
            return
        user = self.user
        assert user is not None
        user.username = self.username
        user.realname = self.realname
        try:
            self.factory.chat.set_nick(user, self.nick)
        except ChatError as e:
            nick, self.nick = self.nick, None
            self.reply_error("NICK", e.code, nick, e.message)
            return
        self.registered = True
        self.factory.registration_done(self)
        self._welcome()

    def _welcome(self) -> None:
        f = self.factory
        nick = self.me
        assert self.user is not None
        self.write(
            self.numeric(
                rfc.RPL_WELCOME,
                f"Welcome to the {f.network} IRC network {mask(nick, self.user)}",
            )
        )
        self._same_for_all("server", self._server_info)
        self._lusers()
        self._same_for_all("motd", self._motd)

    def _server_info(self) -> None:
        f = self.factory
        self.write(
            self.numeric(
                rfc.RPL_YOURHOST,
                f"Your host is {f.server_name}, running version {f.version}",
            )
        )
        self.write(
            self.numeric(rfc.RPL_CREATED, f"This server was created {f.created_text}")
        )
        self.write(
            self.numeric(
                rfc.RPL_MYINFO,
                f.server_name,
                f.version,
                USER_MODES,
                CHANNEL_MODES,
                CHANNEL_MODES_WITH_PARAM,
            )
        )
        self._isupport()

    def _same_for_all(self, name: str, say: Callable[[], None]) -> None:
        """
        Say what C{say} says, which differs between clients only in the nick
        it is addressed to: made once per server, then copied with the nick
        put in (the welcome is most of what a registration costs).
        """
        if self._labelled is not None or self._cork is None:
            say()
            return
        template = self.factory.templates.get(name)
        if template is None:
            cork, self._cork = self._cork, []
            self._template_nick = "\x00"  # no nick or server text has NUL
            try:
                say()
                template = self.factory.templates[name] = b"".join(self._cork)
            finally:
                self._cork, self._template_nick = cork, None
        self._cork.append(template.replace(b"\x00", self.me.encode("utf-8")))

    def _isupport(self) -> None:
        tokens = self.factory.isupport_tokens()
        for i in range(0, len(tokens), ISUPPORT_PER_LINE):
            self.write(
                self.numeric(
                    rfc.RPL_ISUPPORT,
                    *tokens[i : i + ISUPPORT_PER_LINE],
                    "are supported by this server",
                )
            )

    def _lusers(self) -> None:
        chat = self.factory.chat
        users = len(chat.nicks)
        invisible = chat.invisible_users
        unknown = len(chat.users) - users
        self.write(
            self.numeric(
                rfc.RPL_LUSERCLIENT,
                f"There are {users - invisible} users and {invisible} invisible "
                "on 1 servers",
            )
        )
        self.write(
            self.numeric(rfc.RPL_LUSEROP, str(len(chat.opers)), "operator(s) online")
        )
        if unknown:
            self.write(
                self.numeric(
                    rfc.RPL_LUSERUNKNOWN, str(unknown), "unknown connection(s)"
                )
            )
        self.write(
            self.numeric(
                rfc.RPL_LUSERCHANNELS, str(len(chat.channels)), "channels formed"
            )
        )
        self.write(
            self.numeric(rfc.RPL_LUSERME, f"I have {users} clients and 0 servers")
        )
        peak = str(max(chat.peak_users, users))
        self.write(
            self.numeric(
                RPL_LOCALUSERS,
                str(users),
                peak,
                f"Current local users {users}, max {peak}",
            )
        )
        self.write(
            self.numeric(
                RPL_GLOBALUSERS,
                str(users),
                peak,
                f"Current global users {users}, max {peak}",
            )
        )

    def _motd(self) -> None:
        motd = self.factory.motd
        if motd is None:
            self.write(self.numeric(rfc.ERR_NOMOTD, "MOTD File is missing"))
            return
        server = self.factory.server_name
        self.write(self.numeric(rfc.RPL_MOTDSTART, f"- {server} Message of the day - "))
        for text in motd:
            self.write(self.numeric(rfc.RPL_MOTD, f"- {text}"))
        self.write(self.numeric(rfc.RPL_ENDOFMOTD, "End of /MOTD command."))

    def irc_PING(self, line: Line) -> None:
        if not line.params or not line.params[0]:
            raise Reply(rfc.ERR_NOORIGIN, "No origin specified")
        server = self.factory.server_name
        self.write(build("PONG", server, line.params[0], prefix=server))

    def irc_PONG(self, line: Line) -> None:
        """Any line is a sign of life; a PONG needs no answer."""

    def irc_QUIT(self, line: Line) -> None:
        reason = clean_line(line.params[0], REASON_MAX) if line.params else ""
        self.close("quit", f"Quit: {reason}" if reason else "Client Quit", reason)


#: command: (handler, least number of parameters, needs registration)
REGISTRATION: dict[str, Command] = {
    "CAP": (Registration.irc_CAP, 1, False),
    "PASS": (Registration.irc_PASS, 1, False),
    "NICK": (Registration.irc_NICK, 0, False),
    "USER": (Registration.irc_USER, 4, False),
    "PING": (Registration.irc_PING, 0, False),
    "PONG": (Registration.irc_PONG, 0, False),
    "QUIT": (Registration.irc_QUIT, 0, False),
}

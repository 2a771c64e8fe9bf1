# -*- test-case-name: tests.test_irc -*-
"""
MODE: user modes, and the channel modes chatd has so far.
"""

from __future__ import annotations

from twisted.words.protocols import irc as rfc

from chatd.core import (
    fold,
)
from chatd.irc.message import (
    Line,
    build,
    mask,
)
from chatd.irc.numerics import (
    RPL_CREATIONTIME,
    Reply,
)
from chatd.irc.session import Command, IRCSession


class Modes(IRCSession):
    """User modes (+i), and channel modes as far as chatd has them (+n)."""

    def irc_MODE(self, line: Line) -> None:
        target = line.params[0]
        changes = line.params[1] if len(line.params) > 1 else ""
        if target.startswith("#"):
            self._channel_mode(target, changes)
        else:
            self._user_mode(target, changes)

    def _channel_mode(self, name: str, changes: str) -> None:
        channel = self.factory.chat.find_channel(name)
        if channel is None:
            raise Reply(rfc.ERR_NOSUCHCHANNEL, name, "No such channel")
        if not changes:
            self.write(self.numeric(rfc.RPL_CHANNELMODEIS, channel.name, "+n"))
            self.write(
                self.numeric(RPL_CREATIONTIME, channel.name, str(int(channel.created)))
            )
            return
        adding = True
        for ch in changes:
            if ch in "+-":
                adding = ch == "+"
            elif ch == "b":
                self.write(
                    self.numeric(
                        rfc.RPL_ENDOFBANLIST, channel.name, "End of channel ban list"
                    )
                )
            elif ch == "n" and adding:
                pass  # already so: nothing changes
            else:
                self.write(
                    self.numeric(
                        rfc.ERR_UNKNOWNMODE,
                        ch,
                        f"is unknown mode char to me for {channel.name}",
                    )
                )

    def _user_mode(self, nick: str, changes: str) -> None:
        user = self._user()
        if fold(nick) != fold(self.me):
            if fold(nick) not in self.factory.chat.nicks:
                raise Reply(rfc.ERR_NOSUCHNICK, nick, "No such nick/channel")
            raise Reply(rfc.ERR_USERSDONTMATCH, "Can't change mode for other users")
        if not changes:
            self.write(self.numeric(rfc.RPL_UMODEIS, "+i" if user.invisible else "+"))
            return
        adding = True
        applied = ""
        sign = ""
        unknown = False
        for ch in changes:
            if ch in "+-":
                adding = ch == "+"
            elif ch == "i":
                if user.invisible != adding:
                    self.factory.chat.set_invisible(user, adding)
                    want = "+" if adding else "-"
                    applied += ("" if sign == want else want) + "i"
                    sign = want
            else:
                unknown = True
        if applied:
            self.write(build("MODE", self.me, applied, prefix=mask(self.me, user)))
        if unknown:
            self.write(self.numeric(rfc.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag"))


#: command: (handler, least number of parameters, needs registration)
MODES: dict[str, Command] = {
    "MODE": (Modes.irc_MODE, 1, True),
}

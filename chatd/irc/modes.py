# -*- test-case-name: tests.test_irc -*-
"""
User modes: C{MODE <your nick> [+i|-i]}.  Channel modes, with the rest of
channel moderation, are L{chatd.irc.moderation}'s.
"""

from __future__ import annotations

from twisted.words.protocols import irc as rfc

from chatd.core import (
    fold,
)
from chatd.irc.message import (
    build,
    mask,
)
from chatd.irc.numerics import (
    Reply,
)
from chatd.irc.session import IRCSession

#: The user modes chatd has, as 004 lists them.
USER_MODES = "i"


class UserModes(IRCSession):
    """A user's own modes: only +i (invisible) so far."""

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

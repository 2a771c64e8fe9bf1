# -*- test-case-name: tests.test_irc -*-
"""
User modes: C{MODE <your nick> [+i|-i|+w|-w|-o]}.  Channel modes, with the rest of
channel moderation, are L{chatd.irc.moderation}'s.
"""

from __future__ import annotations

from twisted.words.protocols import irc as rfc

from chatd.core import (
    User,
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

#: The user modes chatd has, as 004 lists them: invisible, server operator
#: (given by OPER; a user may only drop it) and wallops.
USER_MODES = "iow"


def user_modes(user: User) -> str:
    """C{user}'s modes as 221 shows them (C{+iow})."""
    return (
        "+"
        + ("i" if user.invisible else "")
        + ("o" if user.oper is not None else "")
        + ("w" if user.wallops else "")
    )


class UserModes(IRCSession):
    """A user's own modes: +i (invisible), +o (server operator), +w (wallops)."""

    def _user_mode(self, nick: str, changes: str) -> None:
        user = self._user()
        chat = self.factory.chat
        if fold(nick) != fold(self.me):
            if fold(nick) not in chat.nicks:
                raise Reply(rfc.ERR_NOSUCHNICK, nick, "No such nick/channel")
            raise Reply(rfc.ERR_USERSDONTMATCH, "Can't change mode for other users")
        if not changes:
            self.write(self.numeric(rfc.RPL_UMODEIS, user_modes(user)))
            return
        adding = True
        applied = ""
        sign = ""
        unknown = False
        for ch in changes:
            if ch in "+-":
                adding = ch == "+"
                continue
            if ch == "i":
                changed = user.invisible != adding
                if changed:
                    chat.set_invisible(user, adding)
            elif ch == "w":
                changed = user.wallops != adding
                user.wallops = adding
            elif ch == "o":
                # Only OPER makes an operator; anyone may stop being one.
                changed = not adding and user.oper is not None
                if changed:
                    chat.set_oper(user, None)
            else:
                unknown = True
                continue
            if changed:
                want = "+" if adding else "-"
                applied += ("" if sign == want else want) + ch
                sign = want
        if applied:
            self.write(build("MODE", self.me, applied, prefix=mask(self.me, user)))
        if unknown:
            self.write(self.numeric(rfc.ERR_UMODEUNKNOWNFLAG, "Unknown MODE flag"))

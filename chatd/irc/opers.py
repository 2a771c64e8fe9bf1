# -*- test-case-name: tests.test_irc_accounts -*-
"""
Server operators on IRC: C{OPER} (381, 464, 491), C{KILL}, C{WALLOPS} and
C{REHASH} (382).  Who may be an operator is L{chatd.accounts.opers}'s; what
an operator may do is the core's (L{chatd.core.identity}).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.words.protocols import irc as rfc

from chatd.core import REASON_MAX, ChatError
from chatd.core.names import clean_line
from chatd.irc.message import Line, build, mask
from chatd.irc.modes import user_modes
from chatd.irc.numerics import RPL_REHASHING
from chatd.irc.session import Command, IRCSession
from chatd.log import logger

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

log = logger(__name__)


class OperCommands(IRCSession):
    """OPER, KILL, WALLOPS and REHASH."""

    def irc_OPER(self, line: Line) -> Deferred[Any] | None:
        if len(line.params) < 2:
            self.write(
                self.numeric(rfc.ERR_NEEDMOREPARAMS, "OPER", "Not enough parameters")
            )
            return None
        name, password = line.params[:2]
        opers = self.factory.opers
        user = self._user()
        if opers is None or not len(opers):
            self.write(self.numeric(rfc.ERR_NOOPERHOST, "No O-lines for your host"))
            return None

        def done(block: str) -> None:
            self.factory.chat.set_oper(user, block)
            self.write(self.numeric(rfc.RPL_YOUREOPER, "You are now an IRC operator"))
            self.write(
                build("MODE", self.me, user_modes(user), prefix=mask(self.me, user))
            )

        def refused(failure: Failure) -> None:
            failure.trap(ChatError)
            error: ChatError = failure.value  # type: ignore[assignment]
            if error.code == "oper_bad_password":
                self.write(self.numeric(rfc.ERR_PASSWDMISMATCH, "Password incorrect"))
            elif error.code == "oper_no_host":
                self.write(self.numeric(rfc.ERR_NOOPERHOST, "No O-lines for your host"))
            else:
                raise error

        return opers.check(user, name, password).addCallbacks(done, refused)

    def irc_KILL(self, line: Line) -> None:
        nick = line.params[0]
        reason = clean_line(line.params[1], REASON_MAX) if len(line.params) > 1 else ""
        self.factory.chat.kill(self._user(), nick, reason)

    def irc_WALLOPS(self, line: Line) -> None:
        self.factory.chat.wallops(self._user(), clean_line(line.params[0], 400))

    def irc_REHASH(self, line: Line) -> Deferred[Any] | None:
        user = self._user()
        self.factory.chat.require_oper(user)
        rehash = self.factory.rehash
        if rehash is None:
            self._fail(
                "REHASH",
                "NO_CONFIG",
                "chatd was started without --config: there is no file to reload",
            )
            return None
        log.warn(
            "server operator {oper} ({nick}) asked for a REHASH",
            oper=user.oper,
            nick=user.nick,
        )
        self.write(self.numeric(RPL_REHASHING, "config", "Rehashing"))

        def done(summary: str) -> None:
            self.write(
                build(
                    "NOTICE",
                    self.me,
                    f"*** REHASH done: {summary}",
                    prefix=self.factory.server_name,
                    text=True,
                )
            )

        def failed(failure: Failure) -> None:
            self._fail("REHASH", "INVALID_CONFIG", failure.getErrorMessage())

        return rehash().addCallbacks(done, failed)


#: command: (handler, least number of parameters, needs registration)
OPERS: dict[str, Command] = {
    "OPER": (OperCommands.irc_OPER, 1, True),
    "KILL": (OperCommands.irc_KILL, 1, True),
    "WALLOPS": (OperCommands.irc_WALLOPS, 1, True),
    "REHASH": (OperCommands.irc_REHASH, 0, True),
}

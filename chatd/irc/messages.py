# -*- test-case-name: tests.test_irc -*-
"""
Messages: PRIVMSG, NOTICE (with CTCP) and TAGMSG.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.words.protocols import irc as rfc

from chatd.core import (
    CTCP,
    ChatError,
    Message,
    TagMessage,
    fold,
)
from chatd.core.identity import SERVICE_NICKS
from chatd.irc.message import (
    LINE_MAX,
    Line,
    build,
    ctcp_action,
    mask,
)
from chatd.irc.numerics import ERR_INPUTTOOLONG
from chatd.irc.session import Command, IRCSession

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from chatd.core import User

#: What an action adds to its text on the wire.
ctcp_wrap = "\x01ACTION \x01"

#: Most targets of one PRIVMSG, NOTICE, or one JOIN/PART list.
MAX_TARGETS = 4


class Messages(IRCSession):
    """Messages to channels and nicks, CTCP and tag-only messages."""

    def irc_PRIVMSG(self, line: Line) -> Deferred[Any] | None:
        return self._message(line, notice=False)

    def irc_NOTICE(self, line: Line) -> Deferred[Any] | None:
        return self._message(line, notice=True)

    def _message(self, line: Line, notice: bool) -> Deferred[Any] | None:
        command = line.command
        if not line.params or not line.params[0]:
            if not notice:
                self.write(
                    self.numeric(rfc.ERR_NORECIPIENT, f"No recipient given ({command})")
                )
            return None
        if len(line.params) < 2 or not line.params[1]:
            if not notice:
                self.write(self.numeric(rfc.ERR_NOTEXTTOSEND, "No text to send"))
            return None
        targets = [t for t in line.params[0].split(",") if t]
        if len(targets) == 1 and fold(targets[0]) in SERVICE_NICKS:
            return None if notice else self.service(targets[0], line.params[1])
        if len(targets) > MAX_TARGETS:
            if not notice:
                self.write(
                    self.numeric(
                        rfc.ERR_TOOMANYTARGETS,
                        line.params[0],
                        f"Too many targets (at most {MAX_TARGETS})",
                    )
                )
            return None
        tags = self._client_tags(line)
        text = line.params[1]
        action = False
        if text.startswith("\x01"):
            inner = ctcp_action(text)
            if inner is None:
                # Any other CTCP (VERSION, PING, DCC...) goes to the IRC
                # users among the recipients as it came.
                body = text[1:].rstrip("\x01")
                for target in targets:
                    self._send_ctcp(target, body, notice)
                return None
            text, action = inner, True
        for target in targets:
            self._send_one(command, target, text, notice, action, tags)
        return None

    @staticmethod
    def _client_tags(line: Line) -> dict[str, str]:
        """The client-only tags (C{+name}) of C{line}, to pass on."""
        return {k: v for k, v in line.tags.items() if k.startswith("+")}

    def _send_one(
        self,
        command: str,
        target: str,
        text: str,
        notice: bool,
        action: bool,
        tags: dict[str, str],
    ) -> None:
        user = self._user()
        if not notice and not self._fits(user, command, target, text, action):
            # As ergo with allow-truncation off: the sender is told, rather
            # than the others getting a cut or split line (a split line
            # would repeat the msgid, and clients that drop repeats would
            # lose its end).  A NOTICE is never answered, so it is split.
            self.write(
                self.numeric(
                    ERR_INPUTTOOLONG, "Line too long to be relayed without truncation"
                )
            )
            return
        chat = self.factory.chat
        now = self.factory.clock.seconds()
        try:
            message = chat.send(
                user, target, text, now, notice=notice, action=action, tags=tags or None
            )
        except ChatError as e:
            if not notice:  # a NOTICE is never answered
                self.reply_error(command, e.code, target, e.message)
            return
        if not notice and not target.startswith("#"):
            recipient = chat.nicks.get(fold(message.to))
            if (
                recipient is not None
                and recipient.away is not None
                and recipient is not user
            ):
                self.write(self.numeric(rfc.RPL_AWAY, message.to, recipient.away))
        self._echo(message, self.factory.message_lines(message))

    @staticmethod
    def _fits(user: User, command: str, target: str, text: str, action: bool) -> bool:
        """
        Whether C{text}, sent by C{user} to C{target}, fits one relayed line
        of 512 bytes with the sender's prefix.
        """
        # Nicks, user names and hosts are ASCII, and a character is at most
        # 4 bytes of UTF-8: most messages fit by this bound alone, with no
        # encoding (once per message, on the message path).
        bound = (
            len(user.nick or "*")
            + len(user.username or "unknown")
            + len(user.host)
            + len(command)
            + 4 * (len(target) + len(text))
            + len(ctcp_wrap)
            + 8  # ":", "!", "@", a host's leading "0", 3 spaces, ":"
        )
        if bound <= LINE_MAX - 2:
            return True
        size = len(text.encode("utf-8")) + (len(ctcp_wrap) if action else 0)
        head = f":{mask(user.nick or '*', user)} {command} {target} :"
        return size + len(head.encode("utf-8")) <= LINE_MAX - 2

    def _echo(self, message: Message | TagMessage | CTCP, lines: list[str]) -> None:
        """
        With echo-message, show the sender their message as the others see
        it (the reply to a labelled command).  A message to yourself is also
        delivered to you, as to any recipient.
        """
        if "echo-message" in self.caps:
            tags = {**self._time(message.ts), "msgid": message.msgid}
            if not isinstance(message, CTCP) and message.tags:
                tags.update(message.tags)
            for line in lines:
                self.write(line, tags)
        if fold(message.to) == fold(self.me):
            self.deliver(message)

    def _send_ctcp(self, target: str, body: str, notice: bool) -> None:
        user = self._user()
        now = self.factory.clock.seconds()
        try:
            message = self.factory.chat.send_ctcp(user, target, body, now, notice)
        except ChatError as e:
            if not notice:
                self.reply_error("PRIVMSG", e.code, target, e.message)
            return
        self._echo(message, [self.factory.ctcp_line(message)])

    def irc_TAGMSG(self, line: Line) -> None:
        tags = self._client_tags(line)
        user = self._user()
        now = self.factory.clock.seconds()
        for target in line.params[0].split(",")[:MAX_TARGETS]:
            try:
                message = self.factory.chat.send_tags(user, target, tags, now)
            except ChatError as e:
                self.reply_error("TAGMSG", e.code, target, e.message)
                continue
            self._echo(
                message, [build("TAGMSG", message.to, prefix=mask(self.me, user))]
            )


#: command: (handler, least number of parameters, needs registration)
MESSAGES: dict[str, Command] = {
    "PRIVMSG": (Messages.irc_PRIVMSG, 0, True),
    "NOTICE": (Messages.irc_NOTICE, 0, True),
    "TAGMSG": (Messages.irc_TAGMSG, 1, True),
}

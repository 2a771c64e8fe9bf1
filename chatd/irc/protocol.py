# -*- test-case-name: tests.test_irc -*-
"""
The IRC protocol over TCP: line framing, flood control, and the dispatch
of each command to its handler (by topic: registration, channels,
messages, queries, moderation).
"""

from __future__ import annotations

from typing import Any

from twisted.words.protocols import irc as rfc

from chatd.core import ChatError
from chatd.irc.accounts import ACCOUNTS, AccountCommands
from chatd.irc.channels import CHANNELS, Channels
from chatd.irc.history import HISTORY, HistoryCommands
from chatd.irc.message import (
    CLIENT_TAGS_MAX,
    LABEL_MAX,
    BadLine,
    Line,
    build,
    parse,
)
from chatd.irc.messages import MESSAGES, Messages
from chatd.irc.moderation import KICK_TARGETS, MODERATION, Moderation
from chatd.irc.numerics import (
    ERR_INPUTTOOLONG,
    Reply,
)
from chatd.irc.opers import OPERS, OperCommands
from chatd.irc.queries import QUERIES, Queries
from chatd.irc.registration import REGISTRATION
from chatd.irc.services import SERVICES, Services
from chatd.irc.session import Command
from chatd.irc.webirc import WEBIRC, WebircCommands
from chatd.log import logger
from chatd.net.connection import Connection

log = logger(__name__)


#: Commands whose flood-control cost is one per target (a comma-separated
#: first parameter); see L{IRCProtocol._cost}.
PER_TARGET = frozenset({"PRIVMSG", "NOTICE", "TAGMSG", "JOIN", "PART"})
#: Commands that cost the server a password hash or act as an operator:
#: one token each after registration (SASL's exchanges are bounded by the
#: login throttle instead).
PASSWORD_CHECKS = frozenset(
    {
        "REGISTER",
        "OPER",
        "NS",
        "NICKSERV",
        "CS",
        "CHANSERV",
        "KILL",
        "WALLOPS",
        "REHASH",
    }
)
#: Tell a delayed client at most this often that it is being delayed.
FLOOD_NOTICE_INTERVAL = 60.0


#: Every command, from each topic's table.
COMMANDS: dict[str, Command] = {
    **REGISTRATION,
    **CHANNELS,
    **MESSAGES,
    **QUERIES,
    **MODERATION,
    **ACCOUNTS,
    **OPERS,
    **SERVICES,
    **HISTORY,
    **WEBIRC,
}


class IRCProtocol(
    HistoryCommands,
    Queries,
    Channels,
    Messages,
    Moderation,
    AccountCommands,
    OperCommands,
    Services,
    WebircCommands,
):
    """
    One IRC connection.  Lines end in CR LF or LF; a line longer than IRC
    allows is answered with 417 and skipped.

    Flood control delays rather than refuses, as ergo's fakelag does: a
    costly command that finds the client's bucket empty waits its turn,
    with every line after it, and the connection is not read meanwhile
    (L{Connection.hold}).
    """

    def input_rest(self) -> None:
        rest, self._buffer = self._buffer, b""
        if rest and not self._discarding:
            self._line(rest)

    def dataReceived(self, data: bytes) -> None:
        if self.closing:
            return
        # Everything the lines in this chunk make us say goes out in one
        # write: a registration is some twenty lines.
        self._cork = []
        try:
            self._lines(data)
        finally:
            self._uncork()

    def _lines(self, data: bytes) -> None:
        buffer = self._buffer + data
        limit = self.factory.line_limit
        while not self.closing:
            end = buffer.find(b"\n")
            if end < 0:
                break
            line, buffer = buffer[:end], buffer[end + 1 :]
            if self._discarding:
                self._discarding = False
                continue
            self._line(line)
        if len(buffer) > limit and not self._discarding and not self.closing:
            # No line ending in sight: answer now, skip to the next line.
            self._discarding = True
            self._too_long()
        if self._discarding:
            buffer = b""
        self._buffer = buffer

    def _too_long(self) -> None:
        self.write(self.numeric(ERR_INPUTTOOLONG, "Input line was too long"))

    def _line(self, data: bytes) -> None:
        if data.endswith(b"\r"):
            data = data[:-1]
        if b"\r" in data:
            # A CR alone ends a line as well (some old clients send only
            # CR), so that no parameter can carry one into a reply.
            for part in data.split(b"\r"):
                if self.closing:
                    return
                self._line(part)
            return
        if b"\0" in data:
            # IRC never allows a NUL: refuse the line, acting on none of it.
            self._reject(
                data, "INVALID_TEXT", "Message rejected: IRC lines may not contain NUL"
            )
            return
        self.last_seen = self.factory.clock.seconds()
        self.pinged = False
        if not data.strip(b" "):
            return
        body = data
        if data.startswith(b"@"):
            space = data.find(b" ")
            if space < 0 or space + 1 > CLIENT_TAGS_MAX:
                self._too_long()
                return
            body = data[space + 1 :]
        if len(body) > self.factory.body_max and not _carries_password(body):
            self._too_long()
            return
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            self._reject(
                data,
                "INVALID_UTF8",
                "Message rejected: your IRC software must send UTF-8",
            )
            return
        try:
            line = parse(text)
        except BadLine:
            return
        if self.bucket is None and not self.holding:
            self.dispatch(line)
        else:
            self._flood_control(line)

    def _reject(self, data: bytes, code: str, description: str) -> None:
        """Answer a line that cannot be read as IRC with C{FAIL <cmd> code}."""
        try:
            name = parse(data.decode("utf-8", "replace").replace("\0", " ")).command
        except BadLine:
            name = "*"
        if not (name.isascii() and name.isalnum() and len(name) <= 32):
            name = "*"  # no command of ours: do not echo the bytes back
        self.write(
            build("FAIL", name, code, description, prefix=self.factory.server_name)
        )

    def _cost(self, line: Line) -> int:
        """
        What C{line} costs in flood-control tokens: one per target for what
        others see (messages, joins, parts, kicks), one for a nick, topic,
        away or mode change, an invitation, a command that checks a password
        or acts as an operator, and a command the server does not know;
        nothing for reading (a topic, modes, a ban list),
        registering, PING and QUIT.
        """
        command = line.command
        if command not in COMMANDS:
            return 0 if command.isdigit() else 1
        if not self.registered:
            return 0
        params = line.params
        if command in PER_TARGET:
            return len(params[0].split(",")) if params and params[0] != "0" else 1
        if command in ("NICK", "AWAY") or command in PASSWORD_CHECKS:
            return 1
        if command in ("TOPIC", "INVITE"):
            return 1 if len(params) > 1 else 0  # reading: free
        if command == "MODE":
            # Changing modes costs one; asking for them or a list is free.
            if len(params) > 2 or (len(params) == 2 and params[1].strip("+-beI") != ""):
                return 1
            return 0
        if command == "KICK":
            return (
                min(KICK_TARGETS, len(params[1].split(","))) if len(params) > 1 else 1
            )
        return 0

    def _flood_control(self, line: Line) -> None:
        """Run C{line} now, or hold it (and what follows) until its turn."""
        bucket = self.bucket
        cost = 0 if bucket is None else self._cost(line)
        if not cost and not self.holding:
            self.dispatch(line)
            return
        now = self.factory.clock.seconds()
        wait = 0.0
        if cost:
            assert bucket is not None
            charge = bucket.cost(cost)
            wait = bucket.wait(now, charge)
            bucket.spend(now, charge)
            if bucket.behind(now) > self.factory.flood.excess:  # inline: every line
                self.flooded()
                return
        if not wait and not self.holding:
            self.dispatch(line)
            return
        first = not self.holding
        if not self.hold(line, now + wait):
            return
        if first and now - self._flood_noticed >= FLOOD_NOTICE_INTERVAL:
            self._flood_noticed = now
            log.info("{peer} is being slowed down (flood)", peer=self.peer)
            self.write(
                build(
                    "NOTICE",
                    self.me,
                    "*** You are sending too fast: your commands are "
                    "delayed (flood control)",
                    prefix=self.factory.server_name,
                )
            )

    def run_held(self, item: Any) -> None:
        self.dispatch(item)

    def release(self) -> None:
        """Run the held lines whose turn has come, saying it all in one write."""
        if self._cork is not None:
            Connection.release(self)
            return
        self._cork = []
        try:
            Connection.release(self)
        finally:
            self._uncork()

    def dispatch(self, line: Line) -> None:
        label = line.tags.get("label")
        if label is not None and "labeled-response" in self.caps:
            if len(label.encode("utf-8")) > LABEL_MAX:
                label = None
            self._label = label
            self._labelled = []
        try:
            self._handle(line)
        finally:
            if self._labelled is not None and self._waiting is None:
                self._finish_label()

    def _handle(self, line: Line) -> None:
        command = line.command
        if self.pristine and command != "WEBIRC":
            self.pristine = False  # too late for WEBIRC
        spec = COMMANDS.get(command)
        if spec is None:
            if command.isdigit():
                return  # a numeric from a client: ignore, as servers do
            if self.registered:
                self.write(
                    self.numeric(
                        rfc.ERR_UNKNOWNCOMMAND, command[:32], "Unknown command"
                    )
                )
            else:
                self.reply_error(command, "nick_required")
            return
        handler, least, registered_only = spec
        if registered_only and not self.registered:
            self.reply_error(command, "nick_required")
            return
        if len(line.params) < least:
            self.write(
                self.numeric(rfc.ERR_NEEDMOREPARAMS, command, "Not enough parameters")
            )
            return
        try:
            result = handler(self, line)
        except Reply as r:
            self.write(self.numeric(r.command, *r.params))
        except ChatError as e:
            self.refuse(line, e)
        except Exception:
            self.crashed(command, line)
        else:
            if result is not None:
                self.wait_for(result, command, line)

    def command_done(self, context: Any, result: Any) -> None:
        """A command that finished later: its label's replies go out now."""
        if self._labelled is not None:
            self._finish_label()


#: Commands that carry a password, which may be 600 characters
#: (L{chatd.accounts.validation.PASSWORD_MAX}): their lines may pass IRC's
#: 512 bytes, up to L{PASSWORD_LINE_MAX}, as ergo allows.
PASSWORD_COMMANDS = (b"REGISTER ", b"NS ", b"NICKSERV ", b"OPER ", b"PASS ")
PASSWORD_LINE_MAX = 2048


def _carries_password(body: bytes) -> bool:
    """Whether a line over 512 bytes is one that may be: it sets a password."""
    if len(body) > PASSWORD_LINE_MAX:
        return False
    head = body[:32].upper()
    if head.startswith(PASSWORD_COMMANDS):
        return True
    return head.startswith((b"PRIVMSG NICKSERV ", b"PRIVMSG NICKSERV@"))


__all__ = ["COMMANDS", "IRCProtocol"]

# -*- test-case-name: tests.test_protocol -*-
"""
The JSON protocol's session: decodes each request (one JSON text), calls
the core, and writes replies and events, whatever the framing
(L{chatd.jsonproto.lines} for lines over TCP).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ITCPTransport

import chatd
from chatd import log as _log
from chatd.core import (
    REASON_MAX,
    ChatError,
    Event,
    Invited,
    check_line,
)
from chatd.jsonproto import codec
from chatd.log import logger
from chatd.net.connection import Connection

if TYPE_CHECKING:
    from chatd.jsonproto.lines import ChatFactory

log = logger(__name__)

PROTOCOL_VERSION = 1

# name: (usage, needs a nick)
COMMANDS: dict[str, tuple[str, bool]] = {
    "nick": ('{"cmd":"nick","nick":NAME} - take or change your nick', False),
    "join": ('{"cmd":"join","channel":"#NAME"} - join a channel, creating it', True),
    "leave": (
        '{"cmd":"leave","channel":"#NAME","reason":TEXT?} - leave a channel',
        True,
    ),
    "msg": (
        '{"cmd":"msg","to":"#CHANNEL" or NICK,"text":TEXT,"action":BOOL?}'
        " - say something (an action is /me)",
        True,
    ),
    "list": ('{"cmd":"list"} - every channel with its member count and topic', False),
    "who": ('{"cmd":"who","channel":"#NAME"} - the members of a channel', True),
    "topic": (
        '{"cmd":"topic","channel":"#NAME","topic":TEXT?} - read or set a topic',
        True,
    ),
    "away": (
        '{"cmd":"away","message":TEXT?} - mark yourself away, or back without one',
        True,
    ),
    "ping": ('{"cmd":"ping"} - check the connection (counts as activity)', False),
    "help": ('{"cmd":"help"} - this list', False),
    "quit": ('{"cmd":"quit","reason":TEXT?} - say goodbye and disconnect', False),
}


#: Commands that cost flood-control tokens (nick and topic only when they
#: change something; see L{ChatProtocol._cost}).
COSTLY = frozenset({"join", "leave", "msg", "away"})

#: What to do about an error, in this protocol's words: the core's messages
#: speak no wire format, so the hint that names a JSON request is added here.
HINTS = {"nick_required": 'send {"cmd":"nick","nick":NAME}'}


class JSONSession(Connection):
    """
    One JSON client: its commands and replies.  A framing subclass feeds
    it one request at a time (L{received}) and may hold input
    (L{Connection.hold}) while a command finishes later.
    """

    factory: ChatFactory
    transport: ITCPTransport
    flood_reason = "too many commands too fast after being told to wait"
    #: rate limited since the last command that was let through
    limited = False

    def admitted(self) -> None:
        user = self.user
        assert user is not None
        user.username = "json"
        user.realname = "JSON client"
        factory = self.factory
        self.transport.write(
            codec.encode(
                {
                    "type": "welcome",
                    "server": "chatd",
                    "version": chatd.__version__,
                    "protocol": PROTOCOL_VERSION,
                    "max_line": factory.max_line,
                    "idle_timeout": factory.idle_timeout_reported,
                }
            )
        )

    # output

    #: every JSON client sees an event as the same line
    wire_key = "json"
    wire_encode = staticmethod(codec.encode_event)

    def deliver(self, event: Event) -> None:
        """Write a core event (the core's L{Session} interface)."""
        if not self.closing:
            if isinstance(event, Invited) and event.nick != self.user.nick:  # type: ignore[union-attr]
                return  # invite-notify is for IRC operators' clients
            data = codec.encode_event(event)
            if data:
                self._send(data)

    def sendq_exceeded(self) -> None:
        limit = self.factory.max_sendq
        self.close(
            "sendq_exceeded",
            f"more than {limit} bytes waited to be sent: the client is not reading",
            None,
        )

    def say_goodbye(self, code: str, reason: str) -> None:
        self.closing = True
        self.transport.write(codec.bye(code, reason))
        self.end()

    # input

    def _too_long(self) -> None:
        limit = self.factory.max_line
        log.info(
            "{peer} sent a line longer than {limit} bytes", peer=self.peer, limit=limit
        )
        self.close("line_too_long", f"line longer than {limit} bytes", "line too long")

    def received(self, line: bytes) -> None:
        """Handle one request as it came: a line without its newline."""
        if self.closing:
            return
        if line.endswith(b"\r"):
            line = line[:-1]
        if len(line) > self.factory.max_line:
            self._too_long()
            return
        self.last_seen = self.factory.clock.seconds()
        line = line.strip()
        if not line:
            return
        if self.holding:  # a command has not finished: this one waits
            self.hold(line)
            return
        try:
            request = codec.decode(line)
        except codec.DecodeError as e:
            # Garbage costs like a command: its error line is work too.
            if self._allowed(e.cmd, e.request_id, 1):
                self._error(e.cmd, e.request_id, e.code, e.message)
            return
        self.dispatch(request)

    def _cost(self, cmd: str | None, request: codec.Request) -> int:
        """
        What C{request} costs in flood-control tokens: one for what others
        see (messages, joins, leaves, nick changes, topic changes) and for
        what the server cannot make sense of; nothing for reading.
        """
        if cmd in COSTLY or cmd not in COMMANDS:
            return 1
        if cmd == "nick":
            return 0 if self.user is None or self.user.nick is None else 1
        if cmd == "topic":
            return 0 if request.args.get("topic") is None else 1
        return 0

    def _allowed(self, cmd: str | None, rid: codec.RequestId | None, cost: int) -> bool:
        """
        Charge C{cost} to the flood bucket.  False if the command must not
        run: the client was told C{rate_limited}, or disconnected for
        flooding when it got too far ahead.
        """
        bucket = self.bucket
        if bucket is None or not cost:
            return True
        now = self.factory.clock.seconds()
        wait = bucket.take(now, cost)
        if not wait:
            self.limited = False
            return True
        if self.over_allowance(now):
            return False
        if not self.limited:
            self.limited = True
            log.info("{peer} is being rate limited", peer=self.peer)
        retry = math.ceil(wait * 100) / 100
        self._send(
            codec.error(
                cmd,
                rid,
                "rate_limited",
                f"too many commands too fast; try again in {retry:g} s",
                retry_after=retry,
            )
        )
        return False

    def dispatch(self, request: codec.Request) -> None:
        cmd = request.cmd
        rid = request.request_id
        if not self._allowed(cmd, rid, self._cost(cmd, request)):
            return
        spec = COMMANDS.get(cmd) if cmd is not None else None
        if cmd is None or spec is None:
            what = "no 'cmd' given" if cmd is None else f"unknown command {cmd!r}"
            self._error(
                cmd,
                rid,
                "unknown_command",
                f'{what}; send {{"cmd":"help"}} for the list of commands',
            )
            return
        handler: Callable[[codec.Request], Any] = getattr(self, "do_" + cmd)
        try:
            if spec[1]:
                self.factory.chat.require_nick(self.user)  # type: ignore[arg-type]
            reply = handler(request)
        except ChatError as e:
            self._error(cmd, rid, e.code, e.message)
            return
        except Exception:
            self.crashed(repr(cmd), (cmd, rid))
            return
        if reply is not None:
            if isinstance(reply, Deferred):
                self.wait_for(reply, repr(cmd), (cmd, rid))
            else:
                self._send(reply)

    def run_held(self, item: Any) -> None:
        self.received(item)

    def command_done(self, context: Any, result: Any) -> None:
        if result is not None:
            self._send(result)

    def refuse(self, context: Any, error: ChatError) -> None:
        cmd, rid = context
        self._error(cmd, rid, error.code, error.message)

    def internal_error(self, context: Any) -> None:
        cmd, rid = context
        self._error(
            cmd, rid, "internal_error", "the server failed to handle this request"
        )

    def _error(
        self, cmd: str | None, rid: codec.RequestId | None, code: str, message: str
    ) -> None:
        hint = HINTS.get(code)
        if hint is not None:
            message = f"{message}: {hint}"
        # At debug only: one log line per bad request would let a client
        # write the server's log for it.
        if _log.debugging:
            log.debug(
                "{peer}: {code}: {message}", peer=self.peer, code=code, message=message
            )
        self._send(codec.error(cmd, rid, code, message))

    # commands: each returns the ok line (or a Deferred that fires with it)
    # or raises ChatError

    def do_nick(self, request: codec.Request) -> bytes:
        nick = _arg(request, "nick")
        stored = self.factory.chat.set_nick(self.user, nick)  # type: ignore[arg-type]
        self.factory.registration_done(self)
        return codec.ok("nick", request.request_id, nick=stored)

    def do_join(self, request: codec.Request) -> bytes:
        name = _arg(request, "channel")
        now = self.factory.clock.seconds()
        channel = self.factory.chat.join(self.user, name, now)  # type: ignore[arg-type]
        return codec.ok(
            "join",
            request.request_id,
            channel=channel.name,
            topic=channel.topic,
            members=channel.nicks(),
        )

    def do_leave(self, request: codec.Request) -> bytes:
        name = _arg(request, "channel")
        reason = _arg(request, "reason", "")
        channel = self.factory.chat.leave(self.user, name, reason)  # type: ignore[arg-type]
        return codec.ok("leave", request.request_id, channel=channel.name)

    def do_msg(self, request: codec.Request) -> bytes:
        to = _arg(request, "to")
        text = _arg(request, "text")
        action = _flag(request, "action")
        now = self.factory.clock.seconds()
        message = self.factory.chat.send(
            self.user,  # type: ignore[arg-type]
            to,
            text,
            now,
            action=action,
        )
        away = None if to.startswith("#") else self.factory.chat.away_message(to)
        extra = {} if away is None else {"away": away}
        return codec.ok(
            "msg",
            request.request_id,
            to=message.to,
            ts=codec.format_ts(message.ts),
            **extra,
        )

    def do_away(self, request: codec.Request) -> bytes:
        message = _arg(request, "message", None)
        user = self.user
        assert user is not None
        self.factory.chat.set_away(user, message)
        return codec.ok("away", request.request_id, message=user.away)

    def do_list(self, request: codec.Request) -> bytes:
        channels = [
            {"channel": s.channel.name, "members": s.users, "topic": s.channel.topic}
            for s in self.factory.chat.list_channels(self.user)
        ]
        return codec.ok("list", request.request_id, channels=channels)

    def do_who(self, request: codec.Request) -> bytes:
        name = _arg(request, "channel")
        channel, members = self.factory.chat.who(self.user, name)  # type: ignore[arg-type]
        away = {
            m.user.nick: m.user.away
            for m in members
            if m.user.away is not None and m.user.nick is not None
        }
        return codec.ok(
            "who",
            request.request_id,
            channel=channel.name,
            members=[m.user.nick for m in members],
            away=away,
        )

    def do_topic(self, request: codec.Request) -> bytes:
        name = _arg(request, "channel")
        topic = _arg(request, "topic", None)
        now = self.factory.clock.seconds()
        channel = self.factory.chat.topic(self.user, name, topic, now)  # type: ignore[arg-type]
        return codec.ok(
            "topic", request.request_id, channel=channel.name, topic=channel.topic
        )

    def do_ping(self, request: codec.Request) -> bytes:
        return codec.ok("ping", request.request_id)

    def do_help(self, request: codec.Request) -> bytes:
        return codec.ok(
            "help",
            request.request_id,
            commands={name: usage for name, (usage, _) in COMMANDS.items()},
        )

    def do_quit(self, request: codec.Request) -> None:
        reason = _arg(request, "reason", "")
        check_line(reason, "reason", REASON_MAX)
        self._send(codec.ok("quit", request.request_id))
        self.close("quit", reason, reason)


_MISSING: Any = object()


def _arg(request: codec.Request, field: str, default: Any = _MISSING) -> Any:
    """
    The string argument C{field} of C{request}.  Absent or null is missing:
    an error unless a C{default} is given.
    """
    value = request.args.get(field)
    if value is None:
        if default is _MISSING:
            raise ChatError("bad_args", f"missing field {field!r}")
        return default
    if not isinstance(value, str):
        raise ChatError("bad_args", f"field {field!r} must be a string")
    if codec.has_lone_surrogate(value):
        raise ChatError(
            "bad_args", f"field {field!r} is not valid Unicode (a lone surrogate)"
        )
    return value


def _flag(request: codec.Request, field: str) -> bool:
    """The optional boolean argument C{field} of C{request} (absent: false)."""
    value = request.args.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ChatError("bad_args", f"field {field!r} must be true or false")
    return value

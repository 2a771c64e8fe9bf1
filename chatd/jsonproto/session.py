# -*- test-case-name: tests.test_protocol -*-
"""
The JSON protocol's session: decodes each request (one JSON text), calls
the core, and writes replies and events, whatever the framing
(L{chatd.jsonproto.lines} for lines over TCP).
"""

from __future__ import annotations

import json
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
from chatd.core.events import Killed
from chatd.jsonproto import codec
from chatd.jsonproto.accounts import AccountRequests
from chatd.jsonproto.args import arg, flag
from chatd.jsonproto.history import HistoryRequests
from chatd.jsonproto.moderation import Moderation, accounts_of, privileges
from chatd.log import logger
from chatd.net.connection import Connection

if TYPE_CHECKING:
    from chatd.jsonproto.lines import ChatFactory

log = logger(__name__)

PROTOCOL_VERSION = 1

# name: (usage, needs a nick)
COMMANDS: dict[str, tuple[str, bool]] = {
    "nick": ('{"cmd":"nick","nick":NAME} - take or change your nick', False),
    "join": (
        '{"cmd":"join","channel":"#NAME","key":KEY?,"history":N?} - join a channel,'
        " creating it (KEY: the channel's key, if it has one; N: how many of its"
        " last messages the reply carries)",
        True,
    ),
    "leave": (
        '{"cmd":"leave","channel":"#NAME","reason":TEXT?} - leave a channel',
        True,
    ),
    "msg": (
        '{"cmd":"msg","to":"#CHANNEL" or "@#CHANNEL" or NICK,"text":TEXT,'
        '"action":BOOL?} - say something (an action is /me; @#CHANNEL reaches'
        " the channel's operators only)",
        True,
    ),
    "typing": (
        '{"cmd":"typing","to":"#CHANNEL" or NICK,"state":"active" or "paused" or'
        ' "done"} - say you are typing to TARGET (IRC clients see a +typing'
        " TAGMSG); not kept in the history",
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
    "mode": (
        '{"cmd":"mode","channel":"#NAME","set":{MODE:VALUE,...}?,"unset":[MODE,...]?}'
        " - read a channel's modes, or change them (operators): no_external,"
        " topic_ops, moderated, invite_only, secret (true), key (a string),"
        " limit (a number)",
        True,
    ),
    "op": (
        '{"cmd":"op","channel":"#NAME","nick":NICK} - make NICK a channel operator',
        True,
    ),
    "deop": (
        '{"cmd":"deop","channel":"#NAME","nick":NICK} - take operator status away',
        True,
    ),
    "voice": (
        '{"cmd":"voice","channel":"#NAME","nick":NICK} - let NICK speak under'
        " moderated",
        True,
    ),
    "devoice": (
        '{"cmd":"devoice","channel":"#NAME","nick":NICK} - take voice away',
        True,
    ),
    "kick": (
        '{"cmd":"kick","channel":"#NAME","nick":NICK,"reason":TEXT?}'
        " - put NICK out of a channel (operators)",
        True,
    ),
    "ban": (
        '{"cmd":"ban","channel":"#NAME","mask":MASK,"list":LIST?} - keep MASK'
        " (a nick, or nick!user@host with * and ?) out; LIST: ban (default),"
        " except or invite_except",
        True,
    ),
    "unban": (
        '{"cmd":"unban","channel":"#NAME","mask":MASK,"list":LIST?}'
        " - lift a ban (or an exception)",
        True,
    ),
    "bans": (
        '{"cmd":"bans","channel":"#NAME","list":LIST?} - a channel\'s bans (or'
        " exceptions, for operators)",
        True,
    ),
    "invite": (
        '{"cmd":"invite","channel":"#NAME","nick":NICK} - invite NICK into a'
        " channel, past invite_only, key and limit",
        True,
    ),
    "register": (
        '{"cmd":"register","password":PASSWORD,"account":NAME?,"email":EMAIL?}'
        " - register your nick (or NAME, before taking a nick) as an account;"
        " you are logged in to it",
        False,
    ),
    "login": (
        '{"cmd":"login","account":NAME?,"password":PASSWORD} - log in (NAME:'
        ' your nick if left out); or {"cmd":"login","mechanism":"SCRAM-SHA-256",'
        '"data":BASE64} and then {"cmd":"login","data":BASE64} to log in'
        " without sending the password",
        False,
    ),
    "logout": ('{"cmd":"logout"} - log out of your account', False),
    "passwd": (
        '{"cmd":"passwd","current":PASSWORD,"password":NEW} - change your password',
        False,
    ),
    "drop_account": (
        '{"cmd":"drop_account","password":PASSWORD} - delete your account',
        False,
    ),
    "register_channel": (
        '{"cmd":"register_channel","channel":"#NAME"} - register a channel you'
        " operate to your account: it keeps its modes, topic and bans",
        True,
    ),
    "drop_channel": (
        '{"cmd":"drop_channel","channel":"#NAME"} - unregister a channel (its founder)',
        True,
    ),
    "access": (
        '{"cmd":"access","channel":"#NAME"} - read a registered channel\'s access'
        ' list; {"cmd":"access","channel":"#NAME","account":NAME,"level":"op"|'
        '"voice"|null} - say what an account gets on joining (its founder; null:'
        " nothing)",
        True,
    ),
    "history_access": (
        '{"cmd":"history_access","channel":"#NAME"} - who may read a registered'
        ' channel\'s history; {"cmd":"history_access","channel":"#NAME","access":'
        '"everything"|"since-join"|"none"|null} - set it (its founder; null: the'
        " server's default)",
        True,
    ),
    "oper": (
        '{"cmd":"oper","name":NAME,"password":PASSWORD} - become a server operator',
        True,
    ),
    "kill": (
        '{"cmd":"kill","nick":NICK,"reason":TEXT?} - disconnect a user (server'
        " operators)",
        True,
    ),
    "wallops": (
        '{"cmd":"wallops","text":TEXT} - tell every server operator (server operators)',
        True,
    ),
    "rehash": (
        '{"cmd":"rehash"} - reload the config file (server operators)',
        True,
    ),
    "history": (
        '{"cmd":"history","target":"#CHANNEL" or NICK,"latest":true or "before"'
        ' or "after" or "around":MSGID or TIME,"limit":N?,"events":BOOL?} - a page'
        " of a channel's history, or of your private conversation with NICK's"
        " account (TIME: seconds since 1970, or ISO 8601)",
        True,
    ),
    "mark_read": (
        '{"cmd":"mark_read","target":"#CHANNEL" or NICK,"ts":TIME} - you have read'
        " TARGET up to TIME (your account's other connections are told)",
        True,
    ),
    "redact": (
        '{"cmd":"redact","target":"#CHANNEL" or NICK,"msgid":MSGID,"reason":TEXT?}'
        " - delete a message from the history (its sender's account, channel"
        " operators, server operators)",
        True,
    ),
    "search": (
        '{"cmd":"search","text":WORDS,"target":"#CHANNEL" or NICK?,"limit":N?}'
        " - the newest messages you may read with every word of WORDS",
        True,
    ),
    "ping": ('{"cmd":"ping"} - check the connection (counts as activity)', False),
    "help": ('{"cmd":"help"} - this list', False),
    "quit": ('{"cmd":"quit","reason":TEXT?} - say goodbye and disconnect', False),
}


#: Commands that cost flood-control tokens (nick and topic only when they
#: change something, mode when it has set or unset; see
#: L{JSONSession._cost}): what other people see.
COSTLY = frozenset(
    {
        "join",
        "leave",
        "msg",
        "typing",
        "away",
        "op",
        "deop",
        "voice",
        "devoice",
        "kick",
        "ban",
        "unban",
        "invite",
        # a password check costs the server far more than a message
        "register",
        "login",
        "passwd",
        "drop_account",
        "oper",
        # others see it; and a search is work for the store
        "redact",
        "search",
    }
)

#: What to do about an error, in this protocol's words: the core's messages
#: speak no wire format, so the hint that names a JSON request is added here.
#: C{CHANNEL} stands for the request's channel, as JSON (these codes all come
#: after the channel's name was checked), C{YOUR_NICK} for the client's nick.
HINTS = {
    "nick_required": 'send {"cmd":"nick","nick":NAME}',
    "nick_reserved": 'send {"cmd":"login","account":NAME,"password":PASSWORD} first',
    "not_registered": (
        'its operators register it with {"cmd":"register_channel","channel":CHANNEL}'
    ),
    "bad_key": 'send {"cmd":"join","channel":CHANNEL,"key":KEY}',
    "invite_only": (
        'an operator can let you in with {"cmd":"invite","channel":CHANNEL,'
        '"nick":YOUR_NICK}'
    ),
    "not_channel_operator": (
        'the operators have "op" in the privileges of {"cmd":"who","channel":CHANNEL}'
    ),
    "key_set": (
        'to change it, send {"cmd":"mode","channel":CHANNEL,"unset":["key"],'
        '"set":{"key":NEW_KEY}}'
    ),
}


class JSONSession(Moderation, AccountRequests, HistoryRequests, Connection):
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
            if isinstance(event, Killed):
                self.killed(event)
                return
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
        if cmd == "mode":
            args = request.args
            return 0 if args.get("set") is None and args.get("unset") is None else 1
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
            self._error(cmd, rid, e.code, e.message, request.args.get("channel"))
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
        self,
        cmd: str | None,
        rid: codec.RequestId | None,
        code: str,
        message: str,
        channel: object = None,
    ) -> None:
        """Reply with an error; C{channel} is the request's, for the hint."""
        hint = HINTS.get(code)
        if hint is not None:
            if "CHANNEL" in hint:
                named = (
                    json.dumps(channel, ensure_ascii=False)
                    if isinstance(channel, str)
                    else '"#NAME"'
                )
                hint = hint.replace("CHANNEL", named)
            nick = None if self.user is None else self.user.nick
            if nick is not None:
                hint = hint.replace("YOUR_NICK", json.dumps(nick))
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
        nick = arg(request, "nick")
        stored = self.factory.chat.set_nick(self.user, nick)  # type: ignore[arg-type]
        self.factory.registration_done(self)
        return codec.ok("nick", request.request_id, nick=stored)

    def do_join(self, request: codec.Request) -> bytes | Deferred[bytes]:
        name = arg(request, "channel")
        key = arg(request, "key", None)
        self.join_history_count(request)
        now = self.factory.clock.seconds()
        channel = self.factory.chat.join(self.user, name, now, key)  # type: ignore[arg-type]
        return self.joined_reply(
            request,
            channel.name,
            {
                "channel": channel.name,
                "topic": channel.topic,
                "members": channel.nicks(),
                "privileges": privileges(channel.members.values()),
                "accounts": accounts_of(channel.members.values()),
            },
        )

    def do_leave(self, request: codec.Request) -> bytes:
        name = arg(request, "channel")
        reason = arg(request, "reason", "")
        channel = self.factory.chat.leave(self.user, name, reason)  # type: ignore[arg-type]
        return codec.ok("leave", request.request_id, channel=channel.name)

    def do_msg(self, request: codec.Request) -> bytes:
        to = arg(request, "to")
        text = arg(request, "text")
        action = flag(request, "action")
        now = self.factory.clock.seconds()
        message = self.factory.chat.send(
            self.user,  # type: ignore[arg-type]
            to,
            text,
            now,
            action=action,
        )
        away = (
            None
            if message.to.startswith(("#", "@", "+"))
            else self.factory.chat.away_message(to)
        )
        extra = {} if away is None else {"away": away}
        return codec.ok(
            "msg",
            request.request_id,
            to=message.to,
            ts=codec.format_ts(message.ts),
            msgid=message.msgid,
            **extra,
        )

    def do_typing(self, request: codec.Request) -> bytes:
        to = arg(request, "to")
        state = arg(request, "state")
        if state not in codec.TYPING_STATES:
            raise ChatError(
                "bad_args", 'field \'state\' must be "active", "paused" or "done"'
            )
        now = self.factory.clock.seconds()
        message = self.factory.chat.send_tags(
            self.user,  # type: ignore[arg-type]
            to,
            {codec.TYPING_TAG: state},
            now,
        )
        return codec.ok("typing", request.request_id, to=message.to, state=state)

    def do_away(self, request: codec.Request) -> bytes:
        message = arg(request, "message", None)
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
        name = arg(request, "channel")
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
            privileges=privileges(members),
            accounts=accounts_of(members),
            away=away,
        )

    def do_topic(self, request: codec.Request) -> bytes:
        name = arg(request, "channel")
        topic = arg(request, "topic", None)
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
        reason = arg(request, "reason", "")
        check_line(reason, "reason", REASON_MAX)
        self._send(codec.ok("quit", request.request_id))
        self.close("quit", reason, reason)

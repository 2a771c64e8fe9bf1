# -*- test-case-name: tests.test_irc -*-
"""
The IRC adapter: standard IRC clients (irssi, WeeChat, HexChat, bots) on
their own listener, sharing nicks and channels with every other client
through the core.

It speaks RFC 1459/2812 as modern clients use it (see
U{https://modern.ircdocs.horse}) with the IRCv3 capabilities in L{CAPS}.
Twisted's C{twisted.words.protocols.irc} provides the numerics' names;
parsing with message tags, registration, capability negotiation and the
translation to and from the core are here.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any, Callable, NamedTuple

from twisted.internet.interfaces import IReactorTime, ITCPTransport
from twisted.words.protocols import irc as rfc

import chatd
from chatd.core import (
    AWAY_MAX,
    CHANNEL_MAX,
    CTCP,
    NICK_MAX,
    REASON_MAX,
    TOPIC_MAX,
    AwayChanged,
    Channel,
    Chat,
    ChatError,
    Event,
    Joined,
    Left,
    Message,
    NickChanged,
    Quit,
    TagMessage,
    TopicChanged,
    User,
    clean_line,
    fold,
    is_valid_channel,
    is_valid_nick,
)
from chatd.log import logger
from chatd.names import channel_key
from chatd.net.connection import Connection
from chatd.net.listener import Listener
from chatd.net.times import format_time

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

log = logger(__name__)

#: The IRCv3 capabilities chatd supports, all of them fully.
CAPS = (
    "away-notify",
    "batch",
    "cap-notify",
    "echo-message",
    "labeled-response",
    "message-tags",
    "multi-prefix",
    "server-time",
    "userhost-in-names",
)

#: Bytes of a line without its tags, CR LF included (RFC 1459).
LINE_MAX = 512
#: Bytes of a line's tag section, "@" and the space after it included, as
#: a server may send it, and as a client may.
TAGS_MAX = 8191
CLIENT_TAGS_MAX = 4096
#: Most targets of one PRIVMSG, NOTICE, or one JOIN/PART list.
MAX_TARGETS = 4
LABEL_MAX = 64
USERLEN = 10
REALNAME_MAX = 100

# Numerics Twisted does not name.
RPL_LOCALUSERS = "265"
RPL_GLOBALUSERS = "266"
RPL_CREATIONTIME = "329"
RPL_TOPICWHOTIME = "333"
ERR_INVALIDCAPCMD = "410"
ERR_INPUTTOOLONG = "417"
ERR_BADCHANMASK = "476"

#: Commands whose flood-control cost is one per target (a comma-separated
#: first parameter); see L{IRCProtocol._cost}.
PER_TARGET = frozenset({"PRIVMSG", "NOTICE", "TAGMSG", "JOIN", "PART"})
#: Tell a delayed client at most this often that it is being delayed.
FLOOD_NOTICE_INTERVAL = 60.0


class Line(NamedTuple):
    """One parsed IRC line."""

    tags: dict[str, str]
    prefix: str
    command: str
    params: list[str]


class BadLine(ValueError):
    """A line that is not IRC at all (no command)."""


_TAG_UNESCAPES = {":": ";", "s": " ", "\\": "\\", "r": "\r", "n": "\n"}
_TAG_ESCAPES = str.maketrans(
    {";": "\\:", " ": "\\s", "\\": "\\\\", "\r": "\\r", "\n": "\\n"}
)


def unescape_tag(value: str) -> str:
    """A tag value as sent, with IRCv3's escapes undone."""
    if "\\" not in value:
        return value
    out = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            out.append(_TAG_UNESCAPES.get(nxt, nxt))
        else:
            out.append(ch)
    return "".join(out)


def escape_tag(value: str) -> str:
    return value.translate(_TAG_ESCAPES)


def format_tags(tags: Mapping[str, str]) -> str:
    """C{key=value;key2} (a key with an empty value has no C{=})."""
    return ";".join(
        f"{key}={escape_tag(value)}" if value else key for key, value in tags.items()
    )


def parse(text: str) -> Line:
    """
    Parse one line (without its line ending): C{@tags :prefix COMMAND
    params :trailing}.  Only spaces separate parameters.
    """
    tags: dict[str, str] = {}
    rest = text.lstrip(" ")
    if rest.startswith("@"):
        raw, _, rest = rest[1:].partition(" ")
        for item in raw.split(";"):
            if item:
                key, _, value = item.partition("=")
                tags[key] = unescape_tag(value)
        rest = rest.lstrip(" ")
    prefix = ""
    if rest.startswith(":"):
        prefix, _, rest = rest[1:].partition(" ")
        rest = rest.lstrip(" ")
    trailing = None
    if " :" in rest:
        rest, trailing = rest.split(" :", 1)
    elif rest.startswith(":"):
        rest, trailing = "", rest[1:]
    params = [p for p in rest.split(" ") if p]
    if not params:
        raise BadLine(text)
    command = params.pop(0).upper()
    if trailing is not None:
        params.append(trailing)
    return Line(tags, prefix, command, params)


def build(command: str, *params: str, prefix: str = "", text: bool = False) -> str:
    """
    One line without tags or line ending; the last parameter is written as
    a trailing one (after C{:}) when it must be, or always if it is C{text}
    (a message, topic or reason, which clients expect there).
    """
    parts = [f":{prefix}", command] if prefix else [command]
    if params:
        *middle, last = params
        parts.extend(middle)
        if text or not last or " " in last or last.startswith(":"):
            last = ":" + last
        parts.append(last)
    return " ".join(parts)


def irc_host(host: str) -> str:
    """A host usable in IRC: an IPv6 address must not begin with a colon."""
    return "0" + host if host.startswith(":") else host


def mask(nick: str, user: User) -> str:
    return f"{nick}!{user.username or 'unknown'}@{irc_host(user.host)}"


def split_text(text: str, room: int) -> list[str]:
    """
    C{text} in pieces of at most C{room} UTF-8 bytes, cut between
    characters, preferably at a space.
    """
    data = text.encode("utf-8")
    if len(data) <= room:
        return [text]
    pieces = []
    while len(data) > room:
        cut = room
        while cut > 0 and (data[cut] & 0xC0) == 0x80:
            cut -= 1  # not inside a character
        space = data.rfind(b" ", 0, cut)
        if space > room // 2:
            cut = space + 1
        pieces.append(data[:cut].decode("utf-8"))
        data = data[cut:]
    if data:
        pieces.append(data.decode("utf-8"))
    return pieces


def _ctcp_action(text: str) -> str | None:
    """The text of a CTCP ACTION (C{\\x01ACTION waves\\x01}), or None."""
    if text.startswith("\x01ACTION") and text[7:8] in (" ", "\x01", ""):
        return text[8:].rstrip("\x01") if len(text) > 8 else ""
    return None


class Reply(Exception):
    """A numeric (or other line) that ends the handling of a command."""

    def __init__(self, command: str, *params: str) -> None:
        super().__init__(command, *params)
        self.command = command
        self.params = params


class IRCProtocol(Connection):
    """
    One IRC connection.  Lines end in CR LF or LF; a line longer than IRC
    allows is answered with 417 and skipped.

    Flood control delays rather than refuses, as ergo's fakelag does: a
    costly command that finds the client's bucket empty waits its turn,
    with every line after it, and the connection is not read meanwhile
    (L{Connection.hold}).
    """

    factory: IRCFactory
    transport: ITCPTransport
    registered = False
    log_prefix = "IRC "

    def __init__(self) -> None:
        self._buffer = b""
        self._discarding = False
        self.nick: str | None = None  # asked for before registration
        self.username: str | None = None
        self.realname = ""
        self.negotiating = False
        self.caps: set[str] = set()
        # What events look like for these caps; changes only with CAP REQ.
        self._variant = (False, False)
        self.wire_key = "irc00"
        self.pinged = False
        self._label: str | None = None
        self._labelled: list[tuple[dict[str, str], str]] | None = None
        self._batches = 0
        #: while a chunk of input is handled, what we say to this client
        self._cork: list[bytes] | None = None
        self._template_nick: str | None = None
        self._flood_noticed = float("-inf")

    # connection

    def turn_away(self, code: str, message: str) -> None:
        if code != "server_full":
            message = message[:1].upper() + message[1:]
        self.say_goodbye(code, message)

    def input_rest(self) -> None:
        rest, self._buffer = self._buffer, b""
        if rest and not self._discarding:
            self._line(rest)

    def say_goodbye(self, code: str, reason: str) -> None:
        """Send C{ERROR :Closing Link} with C{reason}, and close."""
        self.closing = True
        self._uncork()
        self.transport.write(
            build(
                "ERROR", f"Closing Link: {irc_host(self.host)} ({reason})", text=True
            ).encode("utf-8")
            + b"\r\n"
        )
        self.end()

    def sendq_exceeded(self) -> None:
        self.close("sendq_exceeded", "SendQ exceeded", None)

    # input

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

    def _uncork(self) -> None:
        cork, self._cork = self._cork, None
        if cork:
            self._send(b"".join(cork))

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
        if len(body) > self.factory.body_max:
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

    # flood control

    def _cost(self, line: Line) -> int:
        """
        What C{line} costs in flood-control tokens: one per target for what
        others see (messages, joins, parts), one for a nick, topic or away
        change and for a command the server does not know; nothing for
        reading, registering, PING and QUIT.
        """
        command = line.command
        if command not in COMMANDS:
            return 0 if command.isdigit() else 1
        if not self.registered:
            return 0
        params = line.params
        if command in PER_TARGET:
            return len(params[0].split(",")) if params and params[0] != "0" else 1
        if command in ("NICK", "AWAY"):
            return 1
        if command == "TOPIC":
            return 1 if len(params) > 1 else 0
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
            if self.over_allowance(now):
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
            if self._labelled is not None:
                self._finish_label()

    def _handle(self, line: Line) -> None:
        command = line.command
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
                self.write(
                    self.numeric(rfc.ERR_NOTREGISTERED, "You have not registered")
                )
            return
        handler, least, registered_only = spec
        if registered_only and not self.registered:
            self.write(self.numeric(rfc.ERR_NOTREGISTERED, "You have not registered"))
            return
        if len(line.params) < least:
            self.write(
                self.numeric(rfc.ERR_NEEDMOREPARAMS, command, "Not enough parameters")
            )
            return
        try:
            handler(self, line)
        except Reply as r:
            self.write(self.numeric(r.command, *r.params))
        except Exception:
            self.crashed(command, command)

    def internal_error(self, context: Any) -> None:
        self.write(
            build(
                "FAIL",
                context,
                "INTERNAL_ERROR",
                "The server failed to handle this command",
                prefix=self.factory.server_name,
            )
        )

    # output

    @property
    def me(self) -> str:
        """The nick numerics are addressed to: C{*} before registration."""
        if self._template_nick is not None:
            return self._template_nick
        if self.registered and self.user is not None and self.user.nick is not None:
            return self.user.nick
        return "*"

    def numeric(self, code: str, *params: str) -> str:
        return build(code, self.me, *params, prefix=self.factory.server_name)

    def write(self, line: str, tags: dict[str, str] | None = None) -> None:
        """Send one of this client's own replies (labelled when asked for)."""
        if self.closing:
            return
        if self._labelled is not None:
            self._labelled.append((tags or {}, line))
            return
        self._emit(tags or {}, line)

    def _emit(self, tags: Mapping[str, str], line: str) -> None:
        """
        Write C{line} with those of C{tags} this client asked for: C{label}
        and C{batch} are only ever added when it did; C{time} needs
        server-time, and the rest message-tags.
        """
        data = line.encode("utf-8")
        if len(data) > LINE_MAX - 2:
            # A reply that echoes a long parameter: cut it to IRC's 512
            # bytes, on a character boundary.
            data = data[: LINE_MAX - 2].decode("utf-8", "ignore").encode("utf-8")
        data += b"\r\n"
        if tags:
            caps = self.caps
            wanted = {
                k: v
                for k, v in tags.items()
                if k in ("label", "batch")
                or ("server-time" in caps if k == "time" else "message-tags" in caps)
            }
            if wanted:
                data = b"@" + format_tags(wanted).encode("utf-8") + b" " + data
        if self._cork is not None:
            self._cork.append(data)
        else:
            self._send(data)

    def _finish_label(self) -> None:
        label, lines = self._label, self._labelled or []
        self._label = self._labelled = None
        if self.closing or label is None:
            for tags, line in lines:
                self._emit(tags, line)
            return
        if not lines:
            self._emit({"label": label}, build("ACK", prefix=self.factory.server_name))
        elif len(lines) == 1:
            tags, line = lines[0]
            self._emit({"label": label, **tags}, line)
        elif "batch" in self.caps:
            self._batches += 1
            ref = f"L{self._batches}"
            server = self.factory.server_name
            self._emit(
                {"label": label},
                build("BATCH", f"+{ref}", "labeled-response", prefix=server),
            )
            for tags, line in lines:
                self._emit({"batch": ref, **tags}, line)
            self._emit({}, build("BATCH", f"-{ref}", prefix=server))
        else:
            for tags, line in lines:
                self._emit(tags, line)

    # events from the core

    def deliver(self, event: Event) -> None:
        """Show a core event (the core's L{Session} interface)."""
        if self.closing or not self.registered:
            return
        caps = self.caps
        if isinstance(event, (TagMessage, AwayChanged)):
            wanted = "message-tags" if isinstance(event, TagMessage) else "away-notify"
            if wanted not in caps:
                return
        data = self.wire_encode(event)
        if self._cork is not None:
            self._cork.append(data)
        else:
            self._send(data)
        if (
            isinstance(event, Joined)
            and event.source.away is not None
            and "away-notify" in caps
        ):
            away = AwayChanged(event.source, event.nick, event.source.away)
            data = self.factory.encode(away, *self._variant)
            if self._cork is not None:
                self._cork.append(data)
            else:
                self._send(data)

    def wire_encode(self, event: Event) -> bytes:
        """
        C{event} as lines for clients with this one's capabilities, made
        once per event and capability set (the core's L{Session} fast path).
        """
        key = self.wire_key
        data = event.wire.get(key)
        if data is None:
            data = event.wire[key] = self.factory.encode(event, *self._variant)
        return data

    # registration

    def irc_CAP(self, line: Line) -> None:
        sub = line.params[0].upper()
        args = line.params[1:]
        server = self.factory.server_name
        if sub == "LS":
            if not self.registered:
                self.negotiating = True
            if args and args[0].isdigit() and int(args[0]) >= 302:
                self.caps.add("cap-notify")
            self.write(build("CAP", self.me, "LS", " ".join(CAPS), prefix=server))
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
            if wanted and all(c.lstrip("-") in CAPS for c in wanted):
                for cap in wanted:
                    if cap.startswith("-"):
                        self.caps.discard(cap[1:])
                    else:
                        self.caps.add(cap)
                self._variant = (
                    "server-time" in self.caps,
                    "message-tags" in self.caps,
                )
                self.wire_key = f"irc{self._variant[0]:d}{self._variant[1]:d}"
                if self.user is not None:
                    self.factory.chat.session_changed(self.user)
                self.write(build("CAP", self.me, "ACK", args[0], prefix=server))
            else:
                self.write(build("CAP", self.me, "NAK", args[0], prefix=server))
        elif sub == "END":
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
        if not is_valid_nick(nick):
            raise Reply(rfc.ERR_ERRONEUSNICKNAME, nick, "Erroneous nickname")
        holder = self.factory.chat.nicks.get(fold(nick))
        if holder is not None and holder is not self.user:
            raise Reply(rfc.ERR_NICKNAMEINUSE, nick, "Nickname is already in use")
        if not self.registered:
            self.nick = nick
            self._try_register()
            return
        old = self.user.nick
        if old == nick:
            return
        assert old is not None
        source = mask(old, self.user)
        self.factory.chat.set_nick(self.user, nick)
        self.write(build("NICK", nick, prefix=source), self._time())

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
        try:
            self.factory.chat.set_nick(user, self.nick)
        except ChatError:
            nick, self.nick = self.nick, None
            raise Reply(
                rfc.ERR_NICKNAMEINUSE, nick, "Nickname is already in use"
            ) from None
        user.username = self.username
        user.realname = self.realname
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
        self.write(self.numeric(rfc.RPL_MYINFO, f.server_name, f.version, "i", "n"))
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
        tokens = self.factory.isupport
        for i in range(0, len(tokens), 12):
            self.write(
                self.numeric(
                    rfc.RPL_ISUPPORT,
                    *tokens[i : i + 12],
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
        self.write(self.numeric(rfc.RPL_LUSEROP, "0", "operator(s) online"))
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

    # connection upkeep

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

    # channels

    def _user(self) -> User:
        assert self.user is not None
        return self.user

    def _time(self, ts: float | None = None) -> dict[str, str]:
        return {"time": format_time(self.factory.clock.seconds() if ts is None else ts)}

    def irc_JOIN(self, line: Line) -> None:
        user = self._user()
        chat = self.factory.chat
        if line.params[0] == "0":
            for channel in list(user.channels.values()):
                self._part(channel.name, "")
            return
        for name in line.params[0].split(","):
            if not name:
                continue
            if is_valid_channel(name) and chat.in_channel(user, name):
                continue
            now = self.factory.clock.seconds()
            try:
                channel = chat.join(user, name, now)
            except ChatError as e:
                if e.code != "bad_channel":
                    raise
                if name.startswith("#") and len(name) <= CHANNEL_MAX:
                    # a name of the right shape with a hidden character in it
                    self.write(self.numeric(ERR_BADCHANMASK, name, e.message))
                else:
                    self.write(
                        self.numeric(rfc.ERR_NOSUCHCHANNEL, name, "No such channel")
                    )
                continue
            self.write(
                build("JOIN", channel.name, prefix=mask(self.me, user)), self._time(now)
            )
            if channel.topic:
                self._topic_lines(channel)
            self._names(channel)

    def irc_PART(self, line: Line) -> None:
        reason = clean_line(line.params[1], REASON_MAX) if len(line.params) > 1 else ""
        for name in line.params[0].split(","):
            if name:
                self._part(name, reason)

    def _part(self, name: str, reason: str) -> None:
        user = self._user()
        try:
            channel = self.factory.chat.leave(user, name, reason)
        except ChatError as e:
            if e.code == "not_in_channel":
                self.write(
                    self.numeric(
                        rfc.ERR_NOTONCHANNEL, name, "You're not on that channel"
                    )
                )
            else:
                self.write(self.numeric(rfc.ERR_NOSUCHCHANNEL, name, "No such channel"))
            return
        params = (channel.name, reason) if reason else (channel.name,)
        self.write(
            build("PART", *params, prefix=mask(self.me, user), text=bool(reason)),
            self._time(),
        )

    def irc_NAMES(self, line: Line) -> None:
        if not line.params or not line.params[0]:
            self.write(self.numeric(rfc.RPL_ENDOFNAMES, "*", "End of /NAMES list"))
            return
        for name in line.params[0].split(","):
            channel = self.factory.chat.find_channel(name)
            if channel is None:
                self.write(self.numeric(rfc.RPL_ENDOFNAMES, name, "End of /NAMES list"))
            else:
                self._names(channel)

    def _visible(self, channel: Channel) -> Iterable[User]:
        """The members of C{channel} this user may see."""
        user = self._user()
        if channel.key in user.channels:
            return channel.members.values()
        return [m for m in channel.members.values() if not m.invisible]

    def _names(self, channel: Channel) -> None:
        prefix = (
            build(
                rfc.RPL_NAMREPLY,
                self.me,
                "=",
                channel.name,
                prefix=self.factory.server_name,
            )
            + " :"
        )
        room = LINE_MAX - 2 - len(prefix.encode("utf-8"))
        names: list[str] = []
        used = 0
        full = "userhost-in-names" in self.caps
        for member in self._visible(channel):
            nick = member.nick or ""
            if full:
                nick = mask(nick, member)
            if names and used + 1 + len(nick.encode("utf-8")) > room:
                self.write(prefix + " ".join(names))
                names, used = [], 0
            used += len(nick.encode("utf-8")) + (1 if names else 0)
            names.append(nick)
        if names:
            self.write(prefix + " ".join(names))
        self.write(self.numeric(rfc.RPL_ENDOFNAMES, channel.name, "End of /NAMES list"))

    def irc_LIST(self, line: Line) -> None:
        chat = self.factory.chat
        if line.params and line.params[0]:
            wanted = {channel_key(n) for n in line.params[0].split(",")}
            channels = [c for c in chat.list_channels() if c.key in wanted]
        else:
            channels = chat.list_channels()
        self.write(self.numeric(rfc.RPL_LISTSTART, "Channel", "Users  Name"))
        for channel in channels:
            self.write(
                self.numeric(
                    rfc.RPL_LIST,
                    channel.name,
                    str(len(list(self._visible(channel)))),
                    channel.topic,
                )
            )
        self.write(self.numeric(rfc.RPL_LISTEND, "End of /LIST"))

    def irc_TOPIC(self, line: Line) -> None:
        user = self._user()
        chat = self.factory.chat
        name = line.params[0]
        if len(line.params) < 2:
            try:
                channel = chat.topic(user, name, None, 0.0)
            except ChatError:
                raise Reply(rfc.ERR_NOSUCHCHANNEL, name, "No such channel") from None
            if channel.topic:
                self._topic_lines(channel)
            else:
                self.write(
                    self.numeric(rfc.RPL_NOTOPIC, channel.name, "No topic is set")
                )
            return
        topic = line.params[1][:TOPIC_MAX]
        now = self.factory.clock.seconds()
        try:
            channel = chat.topic(user, name, topic, now)
        except ChatError as e:
            if e.code == "not_in_channel":
                raise Reply(
                    rfc.ERR_NOTONCHANNEL, name, "You're not on that channel"
                ) from None
            if e.code == "bad_args":
                self._fail(
                    "TOPIC",
                    "INVALID_TEXT",
                    name,
                    "Topic contains control characters other than formatting",
                )
                return
            raise Reply(rfc.ERR_NOSUCHCHANNEL, name, "No such channel") from None
        self.write(
            build(
                "TOPIC",
                channel.name,
                channel.topic,
                prefix=mask(self.me, user),
                text=True,
            ),
            self._time(now),
        )

    def _topic_lines(self, channel: Channel) -> None:
        self.write(self.numeric(rfc.RPL_TOPIC, channel.name, channel.topic))
        # Who set it, as nick!user@host while they are still here by that
        # nick (clients show the mask), else the nick they had.
        setter = self.factory.chat.nicks.get(fold(channel.topic_by))
        by = mask(channel.topic_by, setter) if setter else channel.topic_by
        self.write(
            self.numeric(RPL_TOPICWHOTIME, channel.name, by, str(int(channel.topic_ts)))
        )

    def _fail(self, command: str, code: str, *context: str) -> None:
        self.write(
            build("FAIL", command, code, *context, prefix=self.factory.server_name)
        )

    # messages

    def irc_PRIVMSG(self, line: Line) -> None:
        self._message(line, notice=False)

    def irc_NOTICE(self, line: Line) -> None:
        self._message(line, notice=True)

    def _message(self, line: Line, notice: bool) -> None:
        command = line.command
        if not line.params or not line.params[0]:
            if not notice:
                self.write(
                    self.numeric(rfc.ERR_NORECIPIENT, f"No recipient given ({command})")
                )
            return
        if len(line.params) < 2 or not line.params[1]:
            if not notice:
                self.write(self.numeric(rfc.ERR_NOTEXTTOSEND, "No text to send"))
            return
        targets = [t for t in line.params[0].split(",") if t]
        if len(targets) > MAX_TARGETS:
            if not notice:
                self.write(
                    self.numeric(
                        rfc.ERR_TOOMANYTARGETS,
                        line.params[0],
                        f"Too many targets (at most {MAX_TARGETS})",
                    )
                )
            return
        tags = self._client_tags(line)
        text = line.params[1]
        action = False
        if text.startswith("\x01"):
            inner = _ctcp_action(text)
            if inner is None:
                # Any other CTCP (VERSION, PING, DCC...) goes to the IRC
                # users among the recipients as it came.
                body = text[1:].rstrip("\x01")
                for target in targets:
                    self._send_ctcp(target, body, notice)
                return
            text, action = inner, True
        for target in targets:
            self._send_one(command, target, text, notice, action, tags)

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
        chat = self.factory.chat
        now = self.factory.clock.seconds()
        try:
            message = chat.send(
                user, target, text, now, notice=notice, action=action, tags=tags or None
            )
        except ChatError as e:
            if not notice:
                self.write(self.numeric(*self._send_error(e, target)))
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
                self.write(self.numeric(*self._send_error(e, target)))
            return
        self._echo(message, [self.factory.ctcp_line(message)])

    @staticmethod
    def _send_error(e: ChatError, target: str) -> tuple[str, ...]:
        if e.code == "no_such_nick" or e.code == "bad_nick":
            return (rfc.ERR_NOSUCHNICK, target, "No such nick/channel")
        if e.code in ("no_such_channel", "bad_channel"):
            return (rfc.ERR_NOSUCHCHANNEL, target, "No such channel")
        if e.code == "not_in_channel":
            return (
                rfc.ERR_CANNOTSENDTOCHAN,
                target,
                "Cannot send to channel (you are not in it)",
            )
        if e.code == "bad_args":
            return (
                rfc.ERR_CANNOTSENDTOCHAN,
                target,
                f"Cannot send to target ({e.message})",
            )
        return (rfc.ERR_CANNOTSENDTOCHAN, target, e.message)

    def irc_TAGMSG(self, line: Line) -> None:
        tags = self._client_tags(line)
        user = self._user()
        now = self.factory.clock.seconds()
        for target in line.params[0].split(",")[:MAX_TARGETS]:
            try:
                message = self.factory.chat.send_tags(user, target, tags, now)
            except ChatError as e:
                self.write(self.numeric(*self._send_error(e, target)))
                continue
            self._echo(
                message, [build("TAGMSG", message.to, prefix=mask(self.me, user))]
            )

    # people

    def irc_WHO(self, line: Line) -> None:
        chat = self.factory.chat
        query = line.params[0] if line.params else "*"
        server = self.factory.server_name
        me = self._user()
        if query.startswith("#"):
            channel = chat.find_channel(query)
            pairs: Iterable[tuple[str, User]] = (
                []
                if channel is None
                else [(channel.name, m) for m in self._visible(channel)]
            )
        else:
            pattern = fold(query)
            wild = "*" in query or "?" in query or query == "0"
            pattern = "*" if query == "0" else pattern
            shared = {m for c in me.channels.values() for m in c.members.values()}
            found = []
            for key, u in chat.nicks.items():
                if (fnmatchcase(key, pattern) if wild else key == pattern) and (
                    not wild or not u.invisible or u in shared or u is me
                ):
                    # No channel context for a nick or mask (as UnrealIRCd):
                    # a channel named here would claim a membership status.
                    found.append(("*", u))
            pairs = found
        for channel_name, u in pairs:
            flags = "G" if u.away is not None else "H"
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
            c.name
            for c in u.channels.values()
            if not u.invisible or c.key in self._user().channels
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
        try:
            self.factory.chat.set_away(self._user(), message or None)
        except ChatError:
            self._fail(
                "AWAY",
                "INVALID_TEXT",
                "Away message contains control characters other than formatting",
            )
            return
        if message:
            self.write(
                self.numeric(rfc.RPL_NOWAWAY, "You have been marked as being away")
            )
        else:
            self.write(
                self.numeric(rfc.RPL_UNAWAY, "You are no longer marked as being away")
            )

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

    # the server

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

    def irc_TIME(self, line: Line) -> None:
        now = self.factory.clock.seconds()
        text = datetime.fromtimestamp(now, timezone.utc).strftime(
            "%A %B %d %Y -- %H:%M:%S +00:00"
        )
        self.write(self.numeric(rfc.RPL_TIME, self.factory.server_name, text))


# command: (handler, least number of parameters, needs registration)
COMMANDS: dict[str, tuple[Callable[[IRCProtocol, Line], None], int, bool]] = {
    "CAP": (IRCProtocol.irc_CAP, 1, False),
    "PASS": (IRCProtocol.irc_PASS, 1, False),
    "NICK": (IRCProtocol.irc_NICK, 0, False),
    "USER": (IRCProtocol.irc_USER, 4, False),
    "PING": (IRCProtocol.irc_PING, 0, False),
    "PONG": (IRCProtocol.irc_PONG, 0, False),
    "QUIT": (IRCProtocol.irc_QUIT, 0, False),
    "JOIN": (IRCProtocol.irc_JOIN, 1, True),
    "PART": (IRCProtocol.irc_PART, 1, True),
    "PRIVMSG": (IRCProtocol.irc_PRIVMSG, 0, True),
    "NOTICE": (IRCProtocol.irc_NOTICE, 0, True),
    "TAGMSG": (IRCProtocol.irc_TAGMSG, 1, True),
    "NAMES": (IRCProtocol.irc_NAMES, 0, True),
    "LIST": (IRCProtocol.irc_LIST, 0, True),
    "TOPIC": (IRCProtocol.irc_TOPIC, 1, True),
    "WHO": (IRCProtocol.irc_WHO, 0, True),
    "WHOIS": (IRCProtocol.irc_WHOIS, 0, True),
    "WHOWAS": (IRCProtocol.irc_WHOWAS, 1, True),
    "MODE": (IRCProtocol.irc_MODE, 1, True),
    "USERHOST": (IRCProtocol.irc_USERHOST, 1, True),
    "ISON": (IRCProtocol.irc_ISON, 1, True),
    "AWAY": (IRCProtocol.irc_AWAY, 0, True),
    "LUSERS": (IRCProtocol.irc_LUSERS, 0, True),
    "MOTD": (IRCProtocol.irc_MOTD, 0, True),
    "VERSION": (IRCProtocol.irc_VERSION, 0, True),
    "TIME": (IRCProtocol.irc_TIME, 0, True),
}


class IRCFactory(Listener):
    """
    Builds an L{IRCProtocol} per IRC connection over the shared L{Chat};
    pings clients quiet for half the idle timeout and reaps those that stay
    silent for all of it.  C{limits} are L{Listener}'s keyword arguments
    (C{flood}, C{max_sendq}, C{register_timeout}, C{gate}).
    """

    protocol = IRCProtocol  # type: ignore[assignment]
    kind = "IRC"

    def __init__(
        self,
        chat: Chat,
        clock: IReactorTime,
        max_line: int = 16384,
        idle_timeout: float = 180.0,
        server_name: str = "chatd.local",
        network: str = "chatd",
        motd: list[str] | None = None,
        created: float | None = None,
        **limits: Any,
    ) -> None:
        super().__init__(chat, clock, max_line, idle_timeout, **limits)
        self.server_name = server_name
        self.network = network
        self.motd = motd
        self.version = f"chatd-{chatd.__version__}"
        #: welcome parts that are the same for every client but the nick
        self.templates: dict[str, bytes] = {}
        when = clock.seconds() if created is None else created
        self.created_text = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when))
        #: The longest line without its tags, CR LF not counted.
        self.body_max = min(LINE_MAX - 2, max_line)
        #: Bytes buffered without a line ending before 417 and skipping.
        self.line_limit = TAGS_MAX + LINE_MAX
        self.isupport = [
            f"AWAYLEN={AWAY_MAX}",
            "CASEMAPPING=ascii",
            "CHANLIMIT=#:",
            "CHANMODES=,,,n",
            f"CHANNELLEN={CHANNEL_MAX}",
            "CHANTYPES=#",
            f"KICKLEN={REASON_MAX}",
            f"MAXTARGETS={MAX_TARGETS}",
            f"NETWORK={network}",
            f"NICKLEN={NICK_MAX}",
            "PREFIX=",
            "SAFELIST",
            f"TARGMAX=PRIVMSG:{MAX_TARGETS},NOTICE:{MAX_TARGETS},TAGMSG:{MAX_TARGETS},JOIN:,PART:,NAMES:,LIST:,WHOIS:1",
            f"TOPICLEN={TOPIC_MAX}",
            f"USERLEN={USERLEN}",
            "UTF8ONLY",
        ]

    @property
    def reap_interval(self) -> float:
        """Often enough to ping at half the timeout and reap at all of it."""
        t = self.idle_timeout
        return min(t / 2.0, max(t / 8.0, 1.0))

    def reap(self) -> None:
        """
        Ping every connection quiet for half the idle timeout; reap those
        quiet (their ping unanswered) for all of it.
        """
        now = self.clock.seconds()
        half = self.idle_timeout / 2.0
        server = self.server_name
        for proto in list(self.connections):
            quiet = now - proto.last_seen
            if quiet >= self.idle_timeout:
                self.reap_one(proto)
            elif quiet >= half and isinstance(proto, IRCProtocol) and not proto.pinged:
                proto.pinged = True
                proto.transport.write(build("PING", server).encode("utf-8") + b"\r\n")

    def registration_timed_out(self, proto: Connection) -> None:
        log.info("IRC {peer} did not register in time", peer=proto.peer)
        proto.close(
            "register_timeout", "Registration timed out", "Registration timed out"
        )

    def reap_one(self, proto: Connection) -> None:
        assert isinstance(proto, IRCProtocol)
        timeout = self.idle_timeout_reported
        log.info("reaping idle IRC {peer}", peer=proto.peer)
        proto.close(
            "idle_timeout",
            f"Ping timeout: {timeout} seconds",
            f"Ping timeout: {timeout} seconds",
        )

    # events, encoded once per kind of recipient

    def encode(self, event: Event, server_time: bool, message_tags: bool) -> bytes:
        """The bytes that show C{event} to a client with these capabilities."""
        tags: dict[str, str] = {}
        if isinstance(event, (Message, TagMessage, CTCP)):
            if message_tags:
                if not isinstance(event, CTCP) and event.tags:
                    tags.update(event.tags)
                tags["msgid"] = event.msgid
            ts = event.ts
        else:
            ts = self.clock.seconds()
        if server_time:
            tags["time"] = format_time(ts)
        head = b"@" + format_tags(tags).encode("utf-8") + b" " if tags else b""
        return b"".join(
            head + line.encode("utf-8") + b"\r\n" for line in self.event_lines(event)
        )

    def event_lines(self, event: Event) -> list[str]:
        source = event.source
        if isinstance(event, Message):
            return self.message_lines(event)
        if isinstance(event, TagMessage):
            return [build("TAGMSG", event.to, prefix=mask(event.sender, source))]
        if isinstance(event, CTCP):
            return [self.ctcp_line(event)]
        if isinstance(event, Joined):
            return [build("JOIN", event.channel, prefix=mask(event.nick, source))]
        if isinstance(event, Left):
            params = (event.channel, event.reason) if event.reason else (event.channel,)
            return [
                build(
                    "PART",
                    *params,
                    prefix=mask(event.nick, source),
                    text=bool(event.reason),
                )
            ]
        if isinstance(event, TopicChanged):
            return [
                build(
                    "TOPIC",
                    event.channel,
                    event.topic,
                    prefix=mask(event.by, source),
                    text=True,
                )
            ]
        if isinstance(event, NickChanged):
            return [build("NICK", event.new, prefix=mask(event.old, source))]
        if isinstance(event, Quit):
            return [
                build(
                    "QUIT",
                    event.reason or "Client Quit",
                    prefix=mask(event.nick, source),
                    text=True,
                )
            ]
        if isinstance(event, AwayChanged):
            if event.message is None:
                return [build("AWAY", prefix=mask(event.nick, source))]
            return [
                build("AWAY", event.message, prefix=mask(event.nick, source), text=True)
            ]
        raise TypeError(f"no IRC form for {event!r}")

    def ctcp_line(self, message: CTCP) -> str:
        command = "NOTICE" if message.notice else "PRIVMSG"
        source = mask(message.sender, message.source)
        return f":{source} {command} {message.to} :\x01{message.body}\x01"

    def message_lines(self, message: Message) -> list[str]:
        """
        The PRIVMSG or NOTICE lines for C{message}.  Text an IRC client could
        have sent in one line is relayed in one line, although the sender's
        prefix may take it past 512 bytes (as on other servers: cutting or
        splitting it would lose or garble what was said).  Longer text (a
        JSON client may send 4000 characters) is split into lines of at most
        512 bytes.
        """
        command = "NOTICE" if message.notice else "PRIVMSG"
        bare = f"{command} {message.to} :"
        head = f":{mask(message.sender, message.source)} {bare}"
        text = message.text
        wrap = ("\x01ACTION ", "\x01") if message.action else ("", "")
        extra = len(wrap[0]) + len(wrap[1])
        size = len(text.encode("utf-8")) + extra
        # (A one-word text may have come without its ":", hence the 1.)
        if size <= LINE_MAX - 2 - len(bare.encode("utf-8")) + 1:
            pieces = [text]
        else:
            pieces = split_text(text, LINE_MAX - 2 - len(head.encode("utf-8")) - extra)
        return [f"{head}{wrap[0]}{piece}{wrap[1]}" for piece in pieces]


__all__ = ["CAPS", "IRCFactory", "IRCProtocol", "Line", "build", "parse"]

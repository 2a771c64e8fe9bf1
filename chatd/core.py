# -*- test-case-name: tests.test_core -*-
"""
The chat itself: users, nicknames, channels, membership and the rules.

This module knows nothing about sockets, reactors or JSON.  Wire adapters
(JSON lines today, IRC and WebSocket later) translate their input into calls
on L{Chat} and receive L{Event}s through the L{Session} they registered.
Time reaches the core as a C{now} argument (seconds since the epoch).
"""

from __future__ import annotations

import itertools
import os
import re
import unicodedata
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Protocol

from chatd import log as _log
from chatd.log import logger
from chatd.names import channel_key, first_invisible, fold

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

log = logger(__name__)

NICK_MAX = 30
CHANNEL_MAX = 50  # including the leading '#'
TEXT_MAX = 4000
TOPIC_MAX = 390
REASON_MAX = 390
AWAY_MAX = 390
#: How many departed nicks the server remembers (IRC's WHOWAS).
HISTORY_MAX = 1000
CTCP_MAX = 400

#: IRC's formatting codes, the only control characters text may carry
#: besides tab: bold, colour, reset, monospace, reverse, italic,
#: strikethrough and underline.
FORMATTING = "\x02\x03\x0f\x11\x16\x1d\x1e\x1f"


class ChatError(Exception):
    """
    A request the rules refuse.  C{code} is the stable, documented name of
    the refusal (C{nick_in_use}, C{bad_channel}...); C{message} is for people.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


# -- names and text ---------------------------------------------------------

_NICK_CHARS = r"A-Za-z\[\]\\`_^{|}"
_NICK = re.compile(rf"[{_NICK_CHARS}][{_NICK_CHARS}0-9-]{{0,{NICK_MAX - 1}}}\Z")
# Unicode category Cc (C0 controls, DEL, C1 controls) and lone surrogates.
_CC = "\x00-\x1f\x7f-\x9f"
_SURROGATES = "\ud800-\udfff"
# Every code point Python calls whitespace; all of them lie below U+3001.
_SPACES = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())
_CHANNEL = re.compile(
    f"#[^,{re.escape(_SPACES)}{_CC}{_SURROGATES}]{{1,{CHANNEL_MAX - 1}}}\\Z"
)
# Control characters that text may not carry: all but tab and formatting.
_BAD_CONTROLS = "".join(
    chr(c)
    for c in [*range(0x20), *range(0x7F, 0xA0)]
    if chr(c) != "\t" and chr(c) not in FORMATTING
)
_BAD_TEXT = re.compile(f"[{re.escape(_BAD_CONTROLS)}{_SURROGATES}]")
# Topics, reasons and away messages: the same, and no tab either.
_BAD_LINE = re.compile(f"[\t{re.escape(_BAD_CONTROLS)}{_SURROGATES}]")
_BAD_CTCP = re.compile(f"[\x00\x01\r\n{_SURROGATES}]")


def is_valid_nick(nick: str) -> bool:
    """
    1 to 30 of ASCII letters, digits and C{-_[]{}|^`\\}, not starting with a
    digit or C{-}.
    """
    return _NICK.match(nick) is not None


def is_valid_channel(name: str) -> bool:
    """
    C{#} and 1 to 49 further code points, none of them whitespace, a comma,
    a control character, a lone surrogate, or a character that shows as
    nothing or turns the text's direction (L{chatd.names.invisible}).
    """
    return _CHANNEL.match(name) is not None and (
        name.isascii() or first_invisible(name) is None
    )


def check_nick(nick: str) -> None:
    if not is_valid_nick(nick):
        raise ChatError(
            "bad_nick",
            f"{nick!r} is not a valid nick: 1 to {NICK_MAX} ASCII letters, digits "
            "or -_[]{}|^`\\, not starting with a digit or -",
        )


def check_channel(name: str) -> None:
    if _CHANNEL.match(name) is None:
        raise ChatError(
            "bad_channel",
            f"{name!r} is not a valid channel name: # and 1 to {CHANNEL_MAX - 1} "
            "characters, no whitespace, commas or control characters",
        )
    hidden = None if name.isascii() else first_invisible(name)
    if hidden is not None:
        raise ChatError(
            "bad_channel",
            f"{name!r} is not a valid channel name: it contains U+{ord(hidden):04X}"
            f" ({unicodedata.name(hidden, 'unassigned')}), which shows as nothing"
            " or changes the direction of the text",
        )


def check_text(text: str, field: str = "text") -> None:
    """
    Message text: 1 to 4000 code points, no control character but tab and
    IRC's formatting codes (L{FORMATTING}).
    """
    if not text:
        raise ChatError("bad_args", f"field {field!r} must not be empty")
    if len(text) > TEXT_MAX:
        raise ChatError(
            "bad_args", f"field {field!r} is longer than {TEXT_MAX} characters"
        )
    if _BAD_TEXT.search(text):
        raise ChatError(
            "bad_args",
            f"field {field!r} contains a control character other than tab and "
            "formatting codes, or an invalid code point",
        )


def check_line(value: str, field: str, limit: int) -> None:
    """
    A topic, reason or away message: 0 to C{limit} code points, no control
    characters but IRC's formatting codes.
    """
    if len(value) > limit:
        raise ChatError(
            "bad_args", f"field {field!r} is longer than {limit} characters"
        )
    if _BAD_LINE.search(value):
        raise ChatError(
            "bad_args",
            f"field {field!r} contains a control character other than "
            "formatting codes, or an invalid code point",
        )


def clean_line(value: str, limit: int) -> str:
    """
    C{value} made a valid reason or real name: the characters L{check_line}
    refuses removed, and cut to C{limit}.  For text whose sender is leaving
    anyway, where refusing would lose more than cleaning.
    """
    return _BAD_LINE.sub("", value)[:limit]


# -- events -----------------------------------------------------------------


class Event:
    """
    Something that happened, delivered to the sessions that should see it.

    One event object is shared by every recipient.  C{wire} is a cache that
    adapters use to encode an event once per wire format rather than once
    per recipient; the core never reads it.
    """

    __slots__ = ("msgid", "source", "wire")
    kind = ""

    def __init__(self, source: User) -> None:
        #: The user who acted (adapters show more of them than the nick).
        self.source = source
        #: Messages get a unique id (IRCv3 msgid); other events have "".
        self.msgid = ""
        self.wire: dict[str, bytes] = {}


class Message(Event):
    """
    C{sender} said C{text} to C{to}: a channel's name or the recipient's nick.
    A C{notice} asks for no automatic reply; an C{action} is something the
    sender does ("/me waves").  C{tags} are client-only IRCv3 message tags
    (names starting with C{+}) that the sender attached, passed on as they
    came to clients that understand them.
    """

    __slots__ = ("action", "notice", "sender", "tags", "text", "to", "ts")
    kind = "message"

    def __init__(
        self,
        source: User,
        sender: str,
        to: str,
        text: str,
        ts: float,
        notice: bool = False,
        action: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(source)
        self.sender = sender
        self.to = to
        self.text = text
        self.ts = ts
        self.notice = notice
        self.action = action
        self.tags = tags


class TagMessage(Event):
    """
    Tags without text (IRCv3 C{TAGMSG}: typing notices, reactions), for the
    clients that can show them.  Clients that cannot are not sent anything.
    """

    __slots__ = ("sender", "tags", "to", "ts")
    kind = "tagmsg"

    def __init__(
        self, source: User, sender: str, to: str, tags: Mapping[str, str], ts: float
    ) -> None:
        super().__init__(source)
        self.sender = sender
        self.to = to
        self.tags = tags
        self.ts = ts


class CTCP(Event):
    """
    A client-to-client request or reply (IRC's CTCP: C{VERSION}, C{PING 12},
    DCC offers...) from C{sender} to C{to}.  Only clients that speak CTCP
    (IRC clients) are shown it; C{ACTION} is not one of these but a
    L{Message} with C{action} set.
    """

    __slots__ = ("body", "notice", "sender", "to", "ts")
    kind = "ctcp"

    def __init__(
        self, source: User, sender: str, to: str, body: str, ts: float, notice: bool
    ) -> None:
        super().__init__(source)
        self.sender = sender
        self.to = to
        self.body = body
        self.ts = ts
        self.notice = notice


class Joined(Event):
    __slots__ = ("channel", "nick")
    kind = "join"

    def __init__(self, source: User, channel: str, nick: str) -> None:
        super().__init__(source)
        self.channel = channel
        self.nick = nick


class Left(Event):
    __slots__ = ("channel", "nick", "reason")
    kind = "leave"

    def __init__(self, source: User, channel: str, nick: str, reason: str) -> None:
        super().__init__(source)
        self.channel = channel
        self.nick = nick
        self.reason = reason


class TopicChanged(Event):
    __slots__ = ("by", "channel", "topic")
    kind = "topic"

    def __init__(self, source: User, channel: str, topic: str, by: str) -> None:
        super().__init__(source)
        self.channel = channel
        self.topic = topic
        self.by = by


class NickChanged(Event):
    __slots__ = ("new", "old")
    kind = "nick"

    def __init__(self, source: User, old: str, new: str) -> None:
        super().__init__(source)
        self.old = old
        self.new = new


class Quit(Event):
    __slots__ = ("nick", "reason")
    kind = "quit"

    def __init__(self, source: User, nick: str, reason: str) -> None:
        super().__init__(source)
        self.nick = nick
        self.reason = reason


class AwayChanged(Event):
    """C{nick} went away with C{message}, or came back (C{message} is None)."""

    __slots__ = ("message", "nick")
    kind = "away"

    def __init__(self, source: User, nick: str, message: str | None) -> None:
        super().__init__(source)
        self.nick = nick
        self.message = message


class Departed(NamedTuple):
    """Who had a nick that is no longer theirs (they quit or changed it)."""

    nick: str
    username: str
    host: str
    realname: str


class Session(Protocol):
    """
    What an adapter gives the core for each of its connections.

    A session may also offer the fan-out fast path for messages to a
    channel, by having these three attributes:

      - C{wire_key}: a string; every session with the same key is shown a
        message as the same bytes;
      - C{wire_encode(message)}: those bytes (called once per key per
        message);
      - C{wire_write(data)}: send bytes to the connection.

    The core then encodes a channel message once per key and writes it to
    each member with nothing in between.  An adapter whose key or writer
    changes (an IRC client asking for other capabilities, say) calls
    L{Chat.session_changed}.  Sessions without them get C{deliver}.
    """

    def deliver(self, event: Event) -> None:
        """Show C{event} to this connection's user."""


class _Gone:
    """The session of a user who has disconnected: nothing reaches it."""

    __slots__ = ()

    def deliver(self, event: Event) -> None:
        pass


#: Every disconnected user's session.  Letting go of the adapter's
#: connection breaks the cycle connection -> user -> connection, so the
#: connection and its unsent output are freed at once on CPython, not at the
#: next full garbage collection.
GONE: Session = _Gone()


#: (encode, [(member, write)]) for each wire key among a channel's members.
Fanout = list[tuple[Callable[[Any], Any], list[tuple["User", Callable[[Any], Any]]]]]


def _same(event: Event) -> Event:
    return event


# -- state ------------------------------------------------------------------


class User:
    """
    One connection's person.  C{nick} is None until the first C{nick}
    command succeeds; C{channels} maps folded channel names to channels.

    C{host} is the address the connection comes from, C{username} and
    C{realname} what the client said about itself (IRC's C{USER}; adapters
    without such a thing say what kind of client it is).  C{away} is the
    away message, or None.  C{invisible} users are left out of channel
    listings for people outside the channel.  C{signon} and C{last_spoke}
    are times, as C{now}.
    """

    __slots__ = (
        "away",
        "channels",
        "host",
        "invisible",
        "last_spoke",
        "nick",
        "peer",
        "realname",
        "session",
        "signon",
        "username",
    )

    def __init__(
        self, session: Session, peer: str, host: str = "", now: float = 0.0
    ) -> None:
        self.session = session
        self.peer = peer
        self.host = host or peer
        self.nick: str | None = None
        self.channels: dict[str, Channel] = {}
        self.username = ""
        self.realname = ""
        self.away: str | None = None
        self.invisible = False
        self.signon = now
        self.last_spoke = now

    def __repr__(self) -> str:
        return f"<User {self.nick or '(no nick)'} from {self.peer}>"


class Channel:
    """
    A channel: its name as its creator spelled it, its topic, and its members
    in the order they joined (keyed by folded nick).
    """

    __slots__ = (
        "_fanout",
        "created",
        "key",
        "members",
        "name",
        "topic",
        "topic_by",
        "topic_ts",
    )

    def __init__(self, name: str, now: float = 0.0) -> None:
        self.name = name
        #: what the channel is found by (L{chatd.names.channel_key})
        self.key = channel_key(name)
        self.created = now
        self.topic = ""
        self.topic_by = ""
        self.topic_ts = 0.0
        self.members: dict[str, User] = {}
        self._fanout: Fanout | None = None

    def fanout(self) -> Fanout:
        """
        The members grouped by how a message looks to them (see
        L{Session}), worked out once per change of membership.
        """
        fanout = self._fanout
        if fanout is None:
            groups: dict[object, tuple[Callable[[Any], Any], list[Any]]] = {}
            for member in self.members.values():
                session = member.session
                key = getattr(session, "wire_key", None)
                if key is None:
                    groups[member] = (_same, [(member, session.deliver)])
                elif key in groups:
                    groups[key][1].append((member, session.wire_write))  # type: ignore[attr-defined]
                else:
                    groups[key] = (
                        session.wire_encode,  # type: ignore[attr-defined]
                        [(member, session.wire_write)],  # type: ignore[attr-defined]
                    )
            fanout = self._fanout = list(groups.values())
        return fanout

    def changed(self) -> None:
        """Forget the fan-out groups: membership or a member's session changed."""
        self._fanout = None

    def nicks(self) -> list[str]:
        return [u.nick for u in self.members.values() if u.nick is not None]

    def __repr__(self) -> str:
        return f"<Channel {self.name} ({len(self.members)} members)>"


class Chat:
    """
    All users and channels of one server, and the rules for changing them.

    Every method either changes the state and delivers the resulting events
    to the other users concerned, or raises L{ChatError} and changes nothing.
    The caller, who acted, learns the outcome from the return value: the core
    never delivers an event about an action to the user who took it.
    """

    def __init__(self, max_users: int = 1000) -> None:
        self.max_users = max_users
        self.users: set[User] = set()
        self.nicks: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        #: The most users with a nick there have been at once.
        self.peak_users = 0
        #: How many users with a nick are invisible (kept, not counted, so
        #: that a welcome's user counts cost nothing per user).
        self.invisible_users = 0
        #: Nicks given up, newest last (for WHOWAS).
        self.history: deque[Departed] = deque(maxlen=HISTORY_MAX)
        # Message ids: unique within this server's run, opaque to clients.
        self._ids = itertools.count(1)
        self._id_prefix = os.urandom(4).hex()

    def next_id(self) -> str:
        """A new message id (IRCv3 C{msgid}), never given before by this core."""
        return f"{self._id_prefix}-{next(self._ids):x}"

    # connections

    def connect(
        self, session: Session, peer: str, host: str = "", now: float = 0.0
    ) -> User:
        """
        Admit a new connection from C{peer} (an address and port, for logs;
        C{host} is the address alone), or refuse it with C{server_full}.
        """
        if len(self.users) >= self.max_users:
            raise ChatError(
                "server_full",
                f"the server is full ({self.max_users} client"
                f"{'' if self.max_users == 1 else 's'}); try again later",
            )
        user = User(session, peer, host, now)
        self.users.add(user)
        return user

    def disconnect(self, user: User, reason: str) -> None:
        """
        C{user} is gone: it leaves every channel, its nick is freed and every
        user who shared a channel with it sees one C{quit}.  Its session
        becomes L{GONE}: the core lets go of the adapter's connection.
        Calling this again for the same user does nothing.
        """
        if user not in self.users:
            return
        self.users.discard(user)
        user.session = GONE
        nick = user.nick
        if nick is None:
            return
        if user.invisible:
            self.invisible_users -= 1
        event = Quit(user, nick, reason)
        key = fold(nick)
        for peer in self._peers(user):
            peer.session.deliver(event)
        for channel in user.channels.values():
            del channel.members[key]
            channel.changed()
            if not channel.members:
                del self.channels[channel.key]
        user.channels.clear()
        del self.nicks[key]
        self._remember(user, nick)
        log.info(
            "{nick} ({peer}) quit: {reason}", nick=nick, peer=user.peer, reason=reason
        )

    # nicks

    def set_nick(self, user: User, nick: str) -> str:
        """
        Give C{user} the nick C{nick}; return it as stored.  Taking the nick
        you have is a no-op; changing only its case tells the others.
        """
        check_nick(nick)
        key = fold(nick)
        old = user.nick
        holder = self.nicks.get(key)
        if holder is not None and holder is not user:
            raise ChatError("nick_in_use", f"the nick {holder.nick} is already in use")
        if old == nick:
            return nick
        user.nick = nick
        if old is None:
            self.nicks[key] = user
            self.peak_users = max(self.peak_users, len(self.nicks))
            log.info("{peer} is now known as {nick}", peer=user.peer, nick=nick)
            return nick
        old_key = fold(old)
        self._remember(user, old)
        if old_key != key:
            del self.nicks[old_key]
            self.nicks[key] = user
            for channel in user.channels.values():
                # Keep the member's place in the join order.
                channel.members = {
                    (key if k == old_key else k): u for k, u in channel.members.items()
                }
        event = NickChanged(user, old, nick)
        for peer in self._peers(user):
            peer.session.deliver(event)
        log.info("{old} is now known as {new}", old=old, new=nick)
        return nick

    def set_invisible(self, user: User, invisible: bool) -> None:
        """Hide C{user} from listings for people outside its channels, or not."""
        self.require_nick(user)
        if user.invisible != invisible:
            user.invisible = invisible
            self.invisible_users += 1 if invisible else -1

    def require_nick(self, user: User) -> str:
        if user.nick is None:
            raise ChatError("nick_required", "choose a nick first")
        return user.nick

    # channels

    def join(self, user: User, name: str, now: float = 0.0) -> Channel:
        """
        Put C{user} in the channel C{name}, creating it if needed.  Joining a
        channel you are in already changes nothing.
        """
        nick = self.require_nick(user)
        check_channel(name)
        key = channel_key(name)
        channel = self.channels.get(key)
        if channel is None:
            channel = self.channels[key] = Channel(name, now)
        elif key in user.channels:
            return channel
        event = Joined(user, channel.name, nick)
        for member in channel.members.values():
            member.session.deliver(event)
        channel.members[fold(nick)] = user
        channel.changed()
        user.channels[key] = channel
        if _log.debugging:
            log.debug("{nick} joined {channel}", nick=nick, channel=channel.name)
        return channel

    def leave(self, user: User, name: str, reason: str = "") -> Channel:
        nick = self.require_nick(user)
        check_channel(name)
        check_line(reason, "reason", REASON_MAX)
        channel = self._member_of(user, name)
        key = channel.key
        del channel.members[fold(nick)]
        channel.changed()
        del user.channels[key]
        if channel.members:
            event = Left(user, channel.name, nick, reason)
            for member in channel.members.values():
                member.session.deliver(event)
        else:
            del self.channels[key]
        if _log.debugging:
            log.debug("{nick} left {channel}", nick=nick, channel=channel.name)
        return channel

    def send(
        self,
        user: User,
        to: str,
        text: str,
        now: float,
        notice: bool = False,
        action: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> Message:
        """
        Say C{text} to a channel C{user} is in or to another user.  Return the
        message as delivered (its C{to} is the stored name).
        """
        nick = self.require_nick(user)
        if to.startswith("#"):
            check_channel(to)
            check_text(text)
            channel = self._member_of(user, to)
            name = channel.name
            message = Message(user, nick, name, text, now, notice, action, tags)
            message.msgid = self.next_id()
            # The hot path: one encoding per wire form, then only writes.
            for encode, members in channel.fanout():
                data = encode(message)
                for member, write in members:
                    if member is not user:
                        write(data)
        else:
            name, recipients = self._route(user, to, text)
            message = Message(user, nick, name, text, now, notice, action, tags)
            message.msgid = self.next_id()
            for recipient in recipients:
                if recipient is not user:
                    recipient.session.deliver(message)
        user.last_spoke = now
        if _log.debugging:
            log.debug("<{nick}> to {to}: {text}", nick=nick, to=name, text=text)
        return message

    def session_changed(self, user: User) -> None:
        """
        C{user}'s session now shows messages differently or writes
        elsewhere (see L{Session}): regroup the channels it is in.
        """
        for channel in user.channels.values():
            channel.changed()

    def send_tags(
        self, user: User, to: str, tags: Mapping[str, str], now: float
    ) -> TagMessage:
        """Send C{tags} without text, as L{send} sends text."""
        nick = self.require_nick(user)
        name, recipients = self._route(user, to, None)
        message = TagMessage(user, nick, name, tags, now)
        message.msgid = self.next_id()
        for recipient in recipients:
            if recipient is not user:
                recipient.session.deliver(message)
        return message

    def send_ctcp(
        self, user: User, to: str, body: str, now: float, notice: bool = False
    ) -> CTCP:
        """
        Send a CTCP request (or, with C{notice}, a reply) as L{send} sends
        text.  C{body} is the part between the C{\\x01}s: 1 to 400
        characters without line breaks, NUL or C{\\x01}.
        """
        nick = self.require_nick(user)
        name, recipients = self._route(user, to, None)
        if not 0 < len(body) <= CTCP_MAX or _BAD_CTCP.search(body):
            raise ChatError(
                "bad_args",
                f"a CTCP body is 1 to {CTCP_MAX} characters without line "
                "breaks, NUL or \\x01",
            )
        message = CTCP(user, nick, name, body, now, notice)
        message.msgid = self.next_id()
        for recipient in recipients:
            if recipient is not user:
                recipient.session.deliver(message)
        return message

    def _route(
        self, user: User, to: str, text: str | None
    ) -> tuple[str, Iterable[User]]:
        """
        Where a message from C{user} to C{to} goes: the target's stored name
        and the users to deliver it to, less C{user} (for a message to
        yourself, the reply says it all).  C{text} is checked after the
        target's name and before whether the target exists.
        """
        if to.startswith("#"):
            check_channel(to)
            if text is not None:
                check_text(text)
            channel = self._member_of(user, to)
            return channel.name, channel.members.values()
        check_nick(to)
        if text is not None:
            check_text(text)
        target = self.nicks.get(fold(to))
        if target is None or target.nick is None:
            raise ChatError("no_such_nick", f"no user is called {to}")
        return target.nick, (target,)

    def set_away(self, user: User, message: str | None) -> None:
        """
        Mark C{user} away with C{message}, or back when it is None or empty;
        the users who share a channel with them are told of a change.
        """
        self.require_nick(user)
        if message is not None:
            check_line(message, "message", AWAY_MAX)
        message = message or None
        if message == user.away:
            return
        user.away = message
        event = AwayChanged(user, user.nick or "", message)
        for peer in self._peers(user):
            peer.session.deliver(event)

    def away_message(self, nick: str) -> str | None:
        """The away message of the user called C{nick}; None if not away."""
        target = self.nicks.get(fold(nick))
        return None if target is None else target.away

    def who(self, user: User, name: str) -> Channel:
        """The channel C{name}, which anyone may look into."""
        self.require_nick(user)
        check_channel(name)
        return self._existing(name)

    def topic(self, user: User, name: str, topic: str | None, now: float) -> Channel:
        """
        Read the topic of C{name} (anyone may), or set it (members only) when
        C{topic} is not None; the empty string clears it.
        """
        nick = self.require_nick(user)
        check_channel(name)
        if topic is None:
            return self._existing(name)
        check_line(topic, "topic", TOPIC_MAX)
        channel = self._member_of(user, name)
        channel.topic = topic
        channel.topic_by = nick
        channel.topic_ts = now
        event = TopicChanged(user, channel.name, topic, nick)
        for member in channel.members.values():
            if member is not user:
                member.session.deliver(event)
        log.info("{nick} set the topic of {channel}", nick=nick, channel=channel.name)
        return channel

    def list_channels(self) -> list[Channel]:
        """Every channel, ordered by folded name."""
        return [self.channels[k] for k in sorted(self.channels)]

    def whowas(self, nick: str) -> list[Departed]:
        """Who had C{nick} before, most recent first."""
        key = fold(nick)
        return [d for d in reversed(self.history) if fold(d.nick) == key]

    # helpers

    def _remember(self, user: User, nick: str) -> None:
        self.history.append(Departed(nick, user.username, user.host, user.realname))

    def find_channel(self, name: str) -> Channel | None:
        """
        The channel called C{name}, or called anything that is the same
        name (L{chatd.names.channel_key}); None if there is none.
        """
        return self.channels.get(channel_key(name))

    def in_channel(self, user: User, name: str) -> bool:
        """Whether C{user} is in the channel C{name}."""
        return channel_key(name) in user.channels

    def _existing(self, name: str) -> Channel:
        channel = self.channels.get(channel_key(name))
        if channel is None:
            raise ChatError("no_such_channel", f"there is no channel {name}")
        return channel

    def _member_of(self, user: User, name: str) -> Channel:
        channel = self._existing(name)
        if channel.key not in user.channels:
            raise ChatError("not_in_channel", f"you are not in {channel.name}")
        return channel

    def _peers(self, user: User) -> Iterator[User]:
        """Every other user who shares at least one channel with C{user}, once."""
        seen: set[User] = {user}
        for channel in user.channels.values():
            for member in channel.members.values():
                if member not in seen:
                    seen.add(member)
                    yield member

    def check_invariants(self) -> Iterable[str]:
        """
        Describe every way the state is inconsistent (for tests and
        debugging); an empty result means it is sound.
        """
        for key, user in self.nicks.items():
            if user.nick is None or fold(user.nick) != key:
                yield f"nick key {key!r} maps to {user!r}"
            if user not in self.users:
                yield f"{user!r} holds a nick but is not connected"
        for key, channel in self.channels.items():
            if channel.key != key or channel_key(channel.name) != key:
                yield f"channel key {key!r} maps to {channel!r}"
            if not channel.members:
                yield f"{channel!r} is empty"
            for mkey, member in channel.members.items():
                if self.nicks.get(mkey) is not member:
                    yield f"{member!r} in {channel.name} is not registered as {mkey}"
                if member.channels.get(key) is not channel:
                    yield f"{member!r} is in {channel.name} but does not know it"
        invisible = sum(1 for u in self.nicks.values() if u.invisible)
        if invisible != self.invisible_users:
            yield f"{invisible} invisible users counted as {self.invisible_users}"
        for user in self.users:
            for key, channel in user.channels.items():
                if self.channels.get(key) is not channel:
                    yield f"{user!r} is in a channel {key!r} the server does not have"


__all__ = [
    "CTCP",
    "GONE",
    "AwayChanged",
    "Channel",
    "Chat",
    "ChatError",
    "Departed",
    "Event",
    "Joined",
    "Left",
    "Message",
    "NickChanged",
    "Quit",
    "Session",
    "TagMessage",
    "TopicChanged",
    "User",
    "fold",
]

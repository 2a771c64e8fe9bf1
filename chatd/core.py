# -*- test-case-name: tests.test_core -*-
"""
The chat itself: users, nicknames, channels, membership and the rules.

This module knows nothing about sockets, reactors or JSON.  Wire adapters
(JSON lines today, IRC and WebSocket later) translate their input into calls
on L{Chat} and receive L{Event}s through the L{Session} they registered.
Time reaches the core as a C{now} argument (seconds since the epoch).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Protocol

from chatd.log import logger

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator

log = logger(__name__)

NICK_MAX = 30
CHANNEL_MAX = 50  # including the leading '#'
TEXT_MAX = 4000
TOPIC_MAX = 390
REASON_MAX = 390


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
_BAD_TEXT = re.compile(f"[\x00-\x08\x0a-\x1f\x7f-\x9f{_SURROGATES}]")
_BAD_LINE = re.compile(f"[{_CC}{_SURROGATES}]")

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def fold(name: str) -> str:
    """
    The key a nick or channel is compared by: ASCII letters folded to lower
    case and nothing else (IRC's C{CASEMAPPING=ascii}).
    """
    if name.isascii():
        return name.lower()
    return name.translate(_ASCII_LOWER)


def is_valid_nick(nick: str) -> bool:
    """
    1 to 30 of ASCII letters, digits and C{-_[]{}|^`\\}, not starting with a
    digit or C{-}.
    """
    return _NICK.match(nick) is not None


def is_valid_channel(name: str) -> bool:
    """
    C{#} and 1 to 49 further code points, none of them whitespace, a comma,
    a control character or a lone surrogate.
    """
    return _CHANNEL.match(name) is not None


def check_nick(nick: str) -> None:
    if not is_valid_nick(nick):
        raise ChatError(
            "bad_nick",
            f"{nick!r} is not a valid nick: 1 to {NICK_MAX} ASCII letters, digits "
            "or -_[]{}|^`\\, not starting with a digit or -",
        )


def check_channel(name: str) -> None:
    if not is_valid_channel(name):
        raise ChatError(
            "bad_channel",
            f"{name!r} is not a valid channel name: # and 1 to {CHANNEL_MAX - 1} "
            "characters, no whitespace, commas or control characters",
        )


def check_text(text: str, field: str = "text") -> None:
    """Message text: 1 to 4000 code points, no control character but tab."""
    if not text:
        raise ChatError("bad_args", f"field {field!r} must not be empty")
    if len(text) > TEXT_MAX:
        raise ChatError(
            "bad_args", f"field {field!r} is longer than {TEXT_MAX} characters"
        )
    if _BAD_TEXT.search(text):
        raise ChatError(
            "bad_args",
            f"field {field!r} contains a control character or an invalid code point",
        )


def check_line(value: str, field: str, limit: int) -> None:
    """A topic or reason: 0 to C{limit} code points, no control characters."""
    if len(value) > limit:
        raise ChatError(
            "bad_args", f"field {field!r} is longer than {limit} characters"
        )
    if _BAD_LINE.search(value):
        raise ChatError(
            "bad_args",
            f"field {field!r} contains a control character or an invalid code point",
        )


# -- events -----------------------------------------------------------------


class Event:
    """
    Something that happened, delivered to the sessions that should see it.

    One event object is shared by every recipient.  C{wire} is a cache that
    adapters use to encode an event once per wire format rather than once
    per recipient; the core never reads it.
    """

    __slots__ = ("wire",)
    kind = ""

    def __init__(self) -> None:
        self.wire: dict[str, bytes] = {}


class Message(Event):
    """C{sender} said C{text} to C{to}: a channel's name or the recipient's nick."""

    __slots__ = ("notice", "sender", "text", "to", "ts")
    kind = "message"

    def __init__(
        self, sender: str, to: str, text: str, ts: float, notice: bool = False
    ) -> None:
        super().__init__()
        self.sender = sender
        self.to = to
        self.text = text
        self.ts = ts
        self.notice = notice


class Joined(Event):
    __slots__ = ("channel", "nick")
    kind = "join"

    def __init__(self, channel: str, nick: str) -> None:
        super().__init__()
        self.channel = channel
        self.nick = nick


class Left(Event):
    __slots__ = ("channel", "nick", "reason")
    kind = "leave"

    def __init__(self, channel: str, nick: str, reason: str) -> None:
        super().__init__()
        self.channel = channel
        self.nick = nick
        self.reason = reason


class TopicChanged(Event):
    __slots__ = ("by", "channel", "topic")
    kind = "topic"

    def __init__(self, channel: str, topic: str, by: str) -> None:
        super().__init__()
        self.channel = channel
        self.topic = topic
        self.by = by


class NickChanged(Event):
    __slots__ = ("new", "old")
    kind = "nick"

    def __init__(self, old: str, new: str) -> None:
        super().__init__()
        self.old = old
        self.new = new


class Quit(Event):
    __slots__ = ("nick", "reason")
    kind = "quit"

    def __init__(self, nick: str, reason: str) -> None:
        super().__init__()
        self.nick = nick
        self.reason = reason


class Session(Protocol):
    """What an adapter gives the core for each of its connections."""

    def deliver(self, event: Event) -> None:
        """Show C{event} to this connection's user."""


# -- state ------------------------------------------------------------------


class User:
    """
    One connection's person.  C{nick} is None until the first C{nick}
    command succeeds; C{channels} maps folded channel names to channels.
    """

    __slots__ = ("channels", "nick", "peer", "session")

    def __init__(self, session: Session, peer: str) -> None:
        self.session = session
        self.peer = peer
        self.nick: str | None = None
        self.channels: dict[str, Channel] = {}

    def __repr__(self) -> str:
        return f"<User {self.nick or '(no nick)'} from {self.peer}>"


class Channel:
    """
    A channel: its name as its creator spelled it, its topic, and its members
    in the order they joined (keyed by folded nick).
    """

    __slots__ = ("members", "name", "topic", "topic_by", "topic_ts")

    def __init__(self, name: str) -> None:
        self.name = name
        self.topic = ""
        self.topic_by = ""
        self.topic_ts = 0.0
        self.members: dict[str, User] = {}

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

    # connections

    def connect(self, session: Session, peer: str) -> User:
        """
        Admit a new connection, or refuse it with C{server_full}.
        """
        if len(self.users) >= self.max_users:
            raise ChatError(
                "server_full",
                f"the server is full ({self.max_users} client"
                f"{'' if self.max_users == 1 else 's'}); try again later",
            )
        user = User(session, peer)
        self.users.add(user)
        return user

    def disconnect(self, user: User, reason: str) -> None:
        """
        C{user} is gone: it leaves every channel, its nick is freed and every
        user who shared a channel with it sees one C{quit}.  Calling this
        again for the same user does nothing.
        """
        if user not in self.users:
            return
        self.users.discard(user)
        nick = user.nick
        if nick is None:
            return
        event = Quit(nick, reason)
        key = fold(nick)
        for peer in self._peers(user):
            peer.session.deliver(event)
        for channel in user.channels.values():
            del channel.members[key]
            if not channel.members:
                del self.channels[fold(channel.name)]
        user.channels.clear()
        del self.nicks[key]
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
            log.info("{peer} is now known as {nick}", peer=user.peer, nick=nick)
            return nick
        old_key = fold(old)
        if old_key != key:
            del self.nicks[old_key]
            self.nicks[key] = user
            for channel in user.channels.values():
                # Keep the member's place in the join order.
                channel.members = {
                    (key if k == old_key else k): u for k, u in channel.members.items()
                }
        event = NickChanged(old, nick)
        for peer in self._peers(user):
            peer.session.deliver(event)
        log.info("{old} is now known as {new}", old=old, new=nick)
        return nick

    def require_nick(self, user: User) -> str:
        if user.nick is None:
            raise ChatError(
                "nick_required", 'choose a nick first: {"cmd":"nick","nick":NAME}'
            )
        return user.nick

    # channels

    def join(self, user: User, name: str) -> Channel:
        """
        Put C{user} in the channel C{name}, creating it if needed.  Joining a
        channel you are in already changes nothing.
        """
        nick = self.require_nick(user)
        check_channel(name)
        key = fold(name)
        channel = self.channels.get(key)
        if channel is None:
            channel = self.channels[key] = Channel(name)
        elif key in user.channels:
            return channel
        event = Joined(channel.name, nick)
        for member in channel.members.values():
            member.session.deliver(event)
        channel.members[fold(nick)] = user
        user.channels[key] = channel
        log.info("{nick} joined {channel}", nick=nick, channel=channel.name)
        return channel

    def leave(self, user: User, name: str, reason: str = "") -> Channel:
        nick = self.require_nick(user)
        check_channel(name)
        check_line(reason, "reason", REASON_MAX)
        channel = self._member_of(user, name)
        key = fold(channel.name)
        del channel.members[fold(nick)]
        del user.channels[key]
        if channel.members:
            event = Left(channel.name, nick, reason)
            for member in channel.members.values():
                member.session.deliver(event)
        else:
            del self.channels[key]
        log.info("{nick} left {channel}", nick=nick, channel=channel.name)
        return channel

    def send(
        self, user: User, to: str, text: str, now: float, notice: bool = False
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
            message = Message(nick, channel.name, text, now, notice)
            for member in channel.members.values():
                if member is not user:
                    member.session.deliver(message)
        else:
            check_nick(to)
            check_text(text)
            target = self.nicks.get(fold(to))
            if target is None or target.nick is None:
                raise ChatError("no_such_nick", f"no user is called {to}")
            message = Message(nick, target.nick, text, now, notice)
            if target is not user:  # to yourself: the reply says it all
                target.session.deliver(message)
        log.debug("<{nick}> to {to}: {text}", nick=nick, to=message.to, text=text)
        return message

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
        event = TopicChanged(channel.name, topic, nick)
        for member in channel.members.values():
            if member is not user:
                member.session.deliver(event)
        log.info("{nick} set the topic of {channel}", nick=nick, channel=channel.name)
        return channel

    def list_channels(self) -> list[Channel]:
        """Every channel, ordered by folded name."""
        return [self.channels[k] for k in sorted(self.channels)]

    # helpers

    def _existing(self, name: str) -> Channel:
        channel = self.channels.get(fold(name))
        if channel is None:
            raise ChatError("no_such_channel", f"there is no channel {name}")
        return channel

    def _member_of(self, user: User, name: str) -> Channel:
        channel = self._existing(name)
        if fold(name) not in user.channels:
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
            if fold(channel.name) != key:
                yield f"channel key {key!r} maps to {channel!r}"
            if not channel.members:
                yield f"{channel!r} is empty"
            for mkey, member in channel.members.items():
                if self.nicks.get(mkey) is not member:
                    yield f"{member!r} in {channel.name} is not registered as {mkey}"
                if member.channels.get(key) is not channel:
                    yield f"{member!r} is in {channel.name} but does not know it"
        for user in self.users:
            for key, channel in user.channels.items():
                if self.channels.get(key) is not channel:
                    yield f"{user!r} is in a channel {key!r} the server does not have"


__all__ = [
    "Channel",
    "Chat",
    "ChatError",
    "Event",
    "Joined",
    "Left",
    "Message",
    "NickChanged",
    "Quit",
    "Session",
    "TopicChanged",
    "User",
    "fold",
]

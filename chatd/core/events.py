# -*- test-case-name: tests.test_core -*-
"""
What happened, as values.

An event records who acted as an L{Origin} (a snapshot of their nick, user
name and host when they acted, not the live user), a C{msgid} unique on this
server and a C{ts}.  So an event means the same thing when it is delivered,
stored in history or forwarded to another node: a replayed message shows who
the sender I{was}.  Events are not changed once made.

The one mutable part, C{wire}, is not part of the value: it is a cache the
adapters use to encode an event once per wire format rather than once per
recipient, and the core never reads it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collections.abc import Mapping

    from chatd.core.modes import Change


def hostmask(nick: str, username: str, host: str) -> str:
    """
    C{nick!user@host}, as IRC shows a source and as bans match it on every
    protocol.  An IPv6 address gets a leading 0, as IRC needs.
    """
    if host.startswith(":"):
        host = "0" + host
    return f"{nick}!{username or 'unknown'}@{host}"


class Origin(NamedTuple):
    """Who acted: their nick, user name and host at the time."""

    nick: str
    username: str
    host: str
    account: str | None = None

    @property
    def mask(self) -> str:
        """C{nick!user@host}, as IRC shows a source and bans match it."""
        return hostmask(self.nick, self.username, self.host)


#: The origin of what the server itself does.
SERVER = Origin("", "", "")


class Event:
    """
    Something that happened, delivered to the users who should see it.
    C{origin} is who did it; C{ts} when (seconds, as the core's C{now}).
    """

    __slots__ = ("msgid", "origin", "ts", "wire")
    kind = ""

    def __init__(self, origin: Origin, msgid: str, ts: float) -> None:
        self.origin = origin
        self.msgid = msgid
        self.ts = ts
        #: encodings by wire form (see the module docstring)
        self.wire: dict[str, bytes] = {}

    # Compatibility for adapters that call the acting user the source.
    @property
    def source(self) -> Origin:
        return self.origin

    def __repr__(self) -> str:
        fields = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for cls in type(self).__mro__[:-2]
            for name in getattr(cls, "__slots__", ())
            if name not in ("wire", "origin")
        )
        return f"<{type(self).__name__} by {self.origin.nick} {fields}>"


class Message(Event):
    """
    C{sender} said C{text} to C{to}: a channel's name (with a C{@} or C{+}
    in front when it went only to the channel's operators or voiced
    members) or the recipient's nick.  A C{notice} asks for no automatic
    reply; an C{action} is something the sender does ("/me waves").
    C{tags} are client-only IRCv3 message tags (names starting with C{+})
    that the sender attached, passed on as they came to clients that
    understand them.
    """

    __slots__ = ("action", "notice", "sender", "tags", "text", "to")
    kind = "message"

    def __init__(
        self,
        origin: Origin,
        msgid: str,
        ts: float,
        to: str,
        text: str,
        notice: bool = False,
        action: bool = False,
        tags: Mapping[str, str] | None = None,
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.sender = origin.nick
        self.to = to
        self.text = text
        self.notice = notice
        self.action = action
        self.tags = tags


class TagMessage(Event):
    """
    Tags without text (IRCv3 C{TAGMSG}: typing notices, reactions), for the
    clients that can show them.  Clients that cannot are not sent anything.
    """

    __slots__ = ("sender", "tags", "to")
    kind = "tagmsg"

    def __init__(
        self, origin: Origin, msgid: str, ts: float, to: str, tags: Mapping[str, str]
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.sender = origin.nick
        self.to = to
        self.tags = tags


class CTCP(Event):
    """
    A client-to-client request or reply (IRC's CTCP: C{VERSION}, C{PING 12},
    DCC offers...) from C{sender} to C{to}.  Only clients that speak CTCP
    (IRC clients) are shown it; C{ACTION} is not one of these but a
    L{Message} with C{action} set.
    """

    __slots__ = ("body", "notice", "sender", "to")
    kind = "ctcp"

    def __init__(
        self, origin: Origin, msgid: str, ts: float, to: str, body: str, notice: bool
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.sender = origin.nick
        self.to = to
        self.body = body
        self.notice = notice


class Joined(Event):
    """
    C{nick} joined C{channel}; C{away} is their away message, if any, and
    C{realname} what they call themselves (IRC's C{extended-join} shows it).
    """

    __slots__ = ("away", "channel", "nick", "realname")
    kind = "join"

    def __init__(
        self,
        origin: Origin,
        msgid: str,
        ts: float,
        channel: str,
        away: str | None = None,
        realname: str = "",
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.channel = channel
        self.nick = origin.nick
        self.away = away
        self.realname = realname


class Left(Event):
    __slots__ = ("channel", "nick", "reason")
    kind = "leave"

    def __init__(
        self, origin: Origin, msgid: str, ts: float, channel: str, reason: str
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.channel = channel
        self.nick = origin.nick
        self.reason = reason


class Kicked(Event):
    """C{by} (the origin's nick) removed C{nick} from C{channel}."""

    __slots__ = ("by", "channel", "nick", "reason")
    kind = "kick"

    def __init__(
        self,
        origin: Origin,
        msgid: str,
        ts: float,
        channel: str,
        nick: str,
        reason: str,
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.by = origin.nick
        self.channel = channel
        self.nick = nick
        self.reason = reason


class Invited(Event):
    """C{by} invited C{nick} into C{channel}."""

    __slots__ = ("by", "channel", "nick")
    kind = "invite"

    def __init__(
        self, origin: Origin, msgid: str, ts: float, channel: str, nick: str
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.by = origin.nick
        self.channel = channel
        self.nick = nick


class ModeChanged(Event):
    """
    C{by} changed C{channel}'s modes: C{changes} as applied, in order (see
    L{chatd.core.modes.Change}).
    """

    __slots__ = ("by", "changes", "channel")
    kind = "mode"

    def __init__(
        self,
        origin: Origin,
        msgid: str,
        ts: float,
        channel: str,
        changes: tuple[Change, ...],
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.by = origin.nick
        self.channel = channel
        self.changes = changes


class TopicChanged(Event):
    __slots__ = ("by", "channel", "topic")
    kind = "topic"

    def __init__(
        self, origin: Origin, msgid: str, ts: float, channel: str, topic: str
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.channel = channel
        self.topic = topic
        self.by = origin.nick


class NickChanged(Event):
    """The origin (under its old nick) is now called C{new}."""

    __slots__ = ("new", "old")
    kind = "nick"

    def __init__(self, origin: Origin, msgid: str, ts: float, new: str) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.old = origin.nick
        self.new = new


class Quit(Event):
    __slots__ = ("nick", "reason")
    kind = "quit"

    def __init__(self, origin: Origin, msgid: str, ts: float, reason: str) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.nick = origin.nick
        self.reason = reason


class AwayChanged(Event):
    """C{nick} went away with C{message}, or came back (C{message} is None)."""

    __slots__ = ("message", "nick")
    kind = "away"

    def __init__(
        self, origin: Origin, msgid: str, ts: float, message: str | None
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.nick = origin.nick
        self.message = message


class AccountChanged(Event):
    """
    C{nick} logged in to C{account}, or logged out (C{account} is None):
    IRC's C{account-notify}.
    """

    __slots__ = ("account", "nick")
    kind = "account"

    def __init__(
        self, origin: Origin, msgid: str, ts: float, account: str | None
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.nick = origin.nick
        self.account = account


class Killed(Event):
    """
    The server operator C{by} (the origin's nick) disconnected C{nick} with
    C{reason}: delivered to the killed user's session, which closes.
    """

    __slots__ = ("by", "nick", "reason")
    kind = "kill"

    def __init__(
        self, origin: Origin, msgid: str, ts: float, nick: str, reason: str
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.by = origin.nick
        self.nick = nick
        self.reason = reason


class Wallops(Event):
    """A server operator's C{text} to every operator (and IRC's C{+w} users)."""

    __slots__ = ("by", "text")
    kind = "wallops"

    def __init__(self, origin: Origin, msgid: str, ts: float, text: str) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.by = origin.nick
        self.text = text


class OperRevoked(Event):
    """
    C{nick} (the origin's) is no longer the server operator C{name}, for
    C{reason} (its block left the config, or changed): delivered to that
    user only.
    """

    __slots__ = ("name", "nick", "reason")
    kind = "oper_revoked"

    def __init__(
        self, origin: Origin, msgid: str, ts: float, name: str, reason: str
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.nick = origin.nick
        self.name = name
        self.reason = reason


class Redacted(Event):
    """
    C{by} (the origin's nick) deleted the message C{redacted} of C{target}
    (a channel's name, or the other party's nick as the reader names the
    conversation) from the history, with C{reason}: IRCv3
    C{draft/message-redaction}.  C{to} is where the message was sent (a
    channel, or the recipient's nick), as IRC's REDACT line names it.
    """

    __slots__ = ("by", "reason", "redacted", "target", "to")
    kind = "redact"

    def __init__(
        self,
        origin: Origin,
        msgid: str,
        ts: float,
        target: str,
        redacted: str,
        reason: str,
        to: str = "",
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.by = origin.nick
        self.target = target
        self.redacted = redacted
        self.reason = reason
        self.to = to or target


class ReadMarked(Event):
    """
    The user (under C{account}) has read C{target} up to C{marker} (a time):
    sent to each of the account's connections, so that every client agrees
    (IRCv3 C{draft/read-marker}).
    """

    __slots__ = ("marker", "target")
    kind = "read_marker"

    def __init__(
        self, origin: Origin, msgid: str, ts: float, target: str, marker: float
    ) -> None:
        Event.__init__(self, origin, msgid, ts)
        self.target = target
        self.marker = marker

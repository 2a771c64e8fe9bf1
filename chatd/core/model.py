# -*- test-case-name: tests.test_core -*-
"""
The chat's state: users, channels and the membership records between them.

These are records; the rules that change them are L{chatd.core.chat.Chat}'s
and the decisions about them L{chatd.core.policy}'s.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable, NamedTuple, Protocol

from chatd.core.events import Event, Origin, hostmask
from chatd.core.modes import ChannelModes
from chatd.core.names import channel_key, fold

if TYPE_CHECKING:
    from collections.abc import Iterator


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


class User:
    """
    One connection's person.  C{nick} is None until the first C{nick}
    command succeeds; C{channels} maps channel keys to channels.

    C{host} is the address the connection comes from, C{username} and
    C{realname} what the client said about itself (IRC's C{USER}; adapters
    without such a thing say what kind of client it is).  C{away} is the
    away message, or None.  C{invisible} users are left out of channel
    listings for people outside the channel.  C{signon} and C{last_spoke}
    are times, as C{now}.  C{invites} holds the channels the user was
    invited into and has not joined yet, by key.  C{account} is the name of
    the account the user is logged in to, or None; C{oper} the name of the
    server-operator block they hold, or None.
    """

    __slots__ = (
        "__weakref__",
        "account",
        "away",
        "channels",
        "folded_account",
        "folded_mask",
        "host",
        "invisible",
        "invites",
        "last_spoke",
        "nick",
        "oper",
        "origin",
        "peer",
        "realname",
        "session",
        "signon",
        "username",
        "wallops",
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
        self.invites: dict[str, Channel] = {}
        self.account: str | None = None
        self.oper: str | None = None
        #: whether the user reads server operators' WALLOPS (IRC's +w)
        self.wallops = False
        #: who this user is, as events record it (kept up to date by
        #: L{renamed}, so that no event has to build it)
        self.origin = Origin("", "", self.host)
        #: the folded C{nick!user@host} that bans are matched against
        self.folded_mask = ""
        #: the folded C{$a:account} that account bans are matched against
        #: (empty when logged out)
        self.folded_account = ""

    def renamed(self) -> None:
        """Take a new nick, user name, host or account into L{origin}."""
        nick = self.nick or ""
        self.origin = Origin(nick, self.username, self.host, self.account)
        self.folded_mask = fold(hostmask(nick, self.username, self.host))
        self.folded_account = fold(f"$a:{self.account}") if self.account else ""

    @property
    def mask(self) -> str:
        """C{nick!user@host}."""
        return self.origin.mask

    def __repr__(self) -> str:
        return f"<User {self.nick or '(no nick)'} from {self.peer}>"


class Membership:
    """
    A user's place in a channel: their privileges, and whether they may
    speak there, worked out when the channel's modes, its lists or the
    member change (L{chatd.core.policy.may_speak}), never per message.
    """

    __slots__ = ("may_speak", "op", "since", "user", "voice")

    def __init__(self, user: User, op: bool = False, since: float = 0.0) -> None:
        self.user = user
        self.op = op
        self.voice = False
        self.may_speak = True
        #: when they joined
        self.since = since

    @property
    def prefixes(self) -> str:
        """IRC's prefixes for the privileges held, highest first (C{@+})."""
        return ("@" if self.op else "") + ("+" if self.voice else "")

    @property
    def privileges(self) -> list[str]:
        """The privileges held, by name, highest first."""
        return (["op"] if self.op else []) + (["voice"] if self.voice else [])

    def __repr__(self) -> str:
        return f"<Membership {self.prefixes}{self.user.nick}>"


class Channel:
    """
    A channel: its name as its creator spelled it, its topic, its modes and
    its members in the order they joined.

    A registered channel has a C{founder} (the folded name of the account
    that registered it) and an C{access} list (folded account names to
    C{o} or C{v}: what they get on joining); it stays when its last member
    leaves, and the server keeps it across restarts.
    """

    __slots__ = (
        "_fanout",
        "access",
        "created",
        "founder",
        "history_access",
        "key",
        "members",
        "modes",
        "name",
        "registered_at",
        "topic",
        "topic_by",
        "topic_ts",
    )

    def __init__(self, name: str, now: float = 0.0) -> None:
        self.name = name
        #: what the channel is found by (L{chatd.core.names.channel_key}); the
        #: channel's password (+k) is C{modes.key}
        self.key = channel_key(name)
        self.created = now
        self.topic = ""
        self.topic_by = ""
        self.topic_ts = 0.0
        self.modes = ChannelModes()
        self.members: dict[User, Membership] = {}
        self._fanout: Fanout | None = None
        self.founder: str | None = None
        self.registered_at = 0.0
        self.access: dict[str, str] = {}
        #: who may read its history (L{chatd.core.policy.HISTORY_ACCESS}), or
        #: None for the server's default
        self.history_access: str | None = None

    def fanout(self) -> Fanout:
        """
        The members grouped by how a message looks to them (see
        L{Session}), worked out once per change of membership.
        """
        fanout = self._fanout
        if fanout is None:
            groups: dict[object, tuple[Callable[[Any], Any], list[Any]]] = {}
            for member in self.members:
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

    def users(self) -> Iterator[User]:
        """The members, in the order they joined."""
        return iter(self.members)

    def nicks(self) -> list[str]:
        return [u.nick for u in self.members if u.nick is not None]

    def membership(self, user: User) -> Membership | None:
        return self.members.get(user)

    @property
    def secret(self) -> bool:
        return "s" in self.modes.flags

    @property
    def registered(self) -> bool:
        return self.founder is not None

    def __repr__(self) -> str:
        return f"<Channel {self.name} ({len(self.members)} members)>"


class Clock(Protocol):
    def seconds(self) -> float: ...


class WallClock:
    """The time of day, for a Chat given no clock."""

    def seconds(self) -> float:
        return time.time()


class ChannelSummary:
    """A channel as someone listing channels sees it."""

    __slots__ = ("channel", "users")

    def __init__(self, channel: Channel, users: int) -> None:
        self.channel = channel
        #: how many members the viewer may see
        self.users = users

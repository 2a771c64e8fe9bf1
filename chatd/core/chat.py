# -*- test-case-name: tests.test_core -*-
"""
The chat's rules: connecting, nicks, channels, messages and moderation.

This package knows nothing about sockets, reactors or wire formats.  Wire
adapters translate their input into calls on L{Chat} and receive events
through the L{Session} they registered, by way of the L{Router}.  Time
reaches the core as a C{now} argument (seconds since the epoch) or, where a
rule takes none, from the clock the L{Chat} was given.
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, NoReturn

from chatd import log as _log
from chatd.core import policy
from chatd.core.errors import ChatError
from chatd.core.events import (
    CTCP,
    SERVER,
    AwayChanged,
    Event,
    Joined,
    Left,
    Message,
    ModeChanged,
    NickChanged,
    Quit,
    TagMessage,
    TopicChanged,
)
from chatd.core.history import HistoryRules
from chatd.core.identity import Identity
from chatd.core.model import (
    GONE,
    Channel,
    ChannelSummary,
    Clock,
    Departed,
    Membership,
    Session,
    User,
    WallClock,
)
from chatd.core.moderation import Moderation
from chatd.core.modes import (
    Change,
)
from chatd.core.msgids import MessageIds
from chatd.core.names import (
    _BAD_CTCP,
    AWAY_MAX,
    CTCP_MAX,
    HISTORY_MAX,
    REASON_MAX,
    TOPIC_MAX,
    channel_key,
    check_channel,
    check_line,
    check_nick,
    check_text,
    fold,
)
from chatd.core.registration import ChannelRegistration
from chatd.core.router import LocalRouter, Router
from chatd.log import logger

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

log = logger(__name__)

#: What a channel name may start with to address only its operators (C{@})
#: or its voiced members and operators (C{+}): IRC's STATUSMSG.
STATUS_PREFIXES = "@+"


#: Client tags not worth keeping: a TAGMSG with only these is not kept.
TRANSIENT_TAGS = frozenset({"+typing", "+draft/typing"})


class Chat(Moderation, Identity, ChannelRegistration, HistoryRules):
    """
    All users and channels of one server, and the rules for changing them.

    Every method either changes the state and delivers the resulting events
    to the other users concerned, or raises L{ChatError} and changes nothing.
    The caller, who acted, learns the outcome from the return value: the core
    never delivers an event about an action to the user who took it (a
    kicked or invited user is not the one who acted, and is told).
    """

    def __init__(
        self,
        max_users: int = 1000,
        clock: Clock | None = None,
        router: Router | None = None,
    ) -> None:
        self.max_users = max_users
        self.clock: Clock = clock if clock is not None else WallClock()
        self.router: Router = router if router is not None else LocalRouter()
        self.users: set[User] = set()
        self.nicks: dict[str, User] = {}
        self.channels: dict[str, Channel] = {}
        #: the connected users logged in to each account, by folded name
        self.logged_in: dict[str, set[User]] = {}
        #: the event the latest set_nick, join, leave, topic or set_modes
        #: call made (None if it made none): the acting adapter shows its
        #: own client the same msgid and time as everyone else
        self.last_event: Event | None = None
        #: The most users with a nick there have been at once.
        self.peak_users = 0
        #: How many users with a nick are invisible (kept, not counted, so
        #: that a welcome's user counts cost nothing per user).
        self.invisible_users = 0
        #: Nicks given up, newest last (for WHOWAS).
        self.history: deque[Departed] = deque(maxlen=HISTORY_MAX)
        self._ids = MessageIds()
        self._init_identity()
        self._init_registration()

    def next_id(self, now: float | None = None) -> str:
        """
        A new message id (IRCv3 C{msgid}): unique across runs and nodes,
        and sorting by the time it was made (C{now}, or the clock's).
        """
        return self._ids(self.clock.seconds() if now is None else now)

    def _now(self, now: float | None) -> float:
        return self.clock.seconds() if now is None else now

    # connections

    def connect(
        self, session: Session, peer: str, host: str = "", now: float | None = None
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
        user = User(session, peer, host, self._now(now))
        self.users.add(user)
        return user

    def disconnect(self, user: User, reason: str, now: float | None = None) -> None:
        """
        C{user} is gone: it leaves every channel, its nick is freed and every
        user who shared a channel with it sees one C{quit}.  Its session
        becomes L{GONE}: the core lets go of the adapter's connection.
        Calling this again for the same user does nothing.
        """
        if user not in self.users:
            return
        self.users.discard(user)
        self.opers.discard(user)
        self._unindex_account(user)
        user.session = GONE
        user.invites.clear()
        nick = user.nick
        if nick is None:
            return
        if user.invisible:
            self.invisible_users -= 1
        event = Quit(user.origin, self.next_id(), self._now(now), reason)
        self.router.to_users(self._peers(user), event)
        self.router.record(event, list(user.channels))
        for channel in user.channels.values():
            del channel.members[user]
            channel.changed()
            if not channel.members and channel.founder is None:
                del self.channels[channel.key]
        user.channels.clear()
        del self.nicks[fold(nick)]
        self._remember(user, nick)
        log.info(
            "{nick} ({peer}) quit: {reason}", nick=nick, peer=user.peer, reason=reason
        )

    # nicks

    def set_nick(
        self, user: User, nick: str, now: float | None = None, forced: bool = False
    ) -> str:
        """
        Give C{user} the nick C{nick}; return it as stored.  Taking the nick
        you have is a no-op; changing only its case tells the others.  A
        member banned from one of their channels keeps their nick
        (L{policy.nick_change_refusal}), unless the server renames them
        (C{forced}).
        """
        self.last_event = None
        check_nick(nick)
        key = fold(nick)
        old = user.nick
        holder = self.nicks.get(key)
        if holder is not None and holder is not user:
            raise ChatError("nick_in_use", f"the nick {holder.nick} is already in use")
        if old == nick:
            return nick
        if old is None or fold(old) != key:
            self._check_owned(user, nick)
            refusal = None if forced else policy.nick_change_refusal(user)
            if refusal is not None:
                raise refusal
        origin = user.origin
        user.nick = nick
        user.renamed()
        if old is None:
            self.nicks[key] = user
            self.peak_users = max(self.peak_users, len(self.nicks))
            log.info("{peer} is now known as {nick}", peer=user.peer, nick=nick)
            self._nick_taken(user)
            return nick
        old_key = fold(old)
        self._remember(user, old)
        if old_key != key:
            del self.nicks[old_key]
            self.nicks[key] = user
        for channel in user.channels.values():
            # A ban may cover the new nick, or no longer cover it.
            member = channel.members[user]
            member.may_speak = policy.may_speak(channel, member)
        event = self.last_event = NickChanged(
            origin, self.next_id(), self._now(now), nick
        )
        self.router.to_users(self._peers(user), event)
        self.router.record(event, list(user.channels))
        log.info("{old} is now known as {new}", old=old, new=nick)
        self._nick_taken(user)
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

    def find_user(self, nick: str) -> User | None:
        """The user called C{nick} (in any case), or None."""
        return self.nicks.get(fold(nick))

    # channels

    def join(
        self,
        user: User,
        name: str,
        now: float | None = None,
        key: str | None = None,
    ) -> Channel:
        """
        Put C{user} in the channel C{name}, creating it if needed (its
        creator becomes its operator).  Joining a channel you are in already
        changes nothing.  C{key} is the channel's key (+k), if it has one.
        """
        self.last_event = None
        self.require_nick(user)
        check_channel(name)
        ckey = channel_key(name)
        channel = self.channels.get(ckey)
        now = self._now(now)
        if channel is None:
            channel = self.channels[ckey] = Channel(name, now)
            member = Membership(user, op=True, since=now)
            event = Joined(
                user.origin,
                self.next_id(now),
                now,
                channel.name,
                user.away,
                user.realname,
            )
        elif ckey in user.channels:
            return channel
        else:
            refusal = policy.join_refusal(channel, user, key)
            if refusal is not None:
                raise refusal
            level = self.access_on_join(channel, user)
            member = Membership(user, op=level == "o", since=now)
            member.voice = level == "v"
            member.may_speak = policy.may_speak(channel, member)
            event = Joined(
                user.origin,
                self.next_id(now),
                now,
                channel.name,
                user.away,
                user.realname,
            )
            self.router.to_users(channel.members, event)
            if level is not None and user.nick is not None:
                # The access list gave a privilege: the members see the
                # server give it, as services do (the joiner's own reply
                # shows it: IRC's NAMES, JSON's privileges).
                given = ModeChanged(
                    SERVER,
                    self.next_id(),
                    now,
                    channel.name,
                    (Change(level, True, user.nick),),
                )
                self.router.to_users(channel.members, given)
        self.router.record(event, (ckey,))
        self.last_event = event
        user.invites.pop(ckey, None)
        channel.members[user] = member
        channel.changed()
        user.channels[ckey] = channel
        if _log.debugging:
            log.debug("{nick} joined {channel}", nick=user.nick, channel=channel.name)
        return channel

    def leave(
        self, user: User, name: str, reason: str = "", now: float | None = None
    ) -> Channel:
        self.last_event = None
        self.require_nick(user)
        check_channel(name)
        check_line(reason, "reason", REASON_MAX)
        channel = self._member_of(user, name)
        self._remove(channel, user)
        event = Left(user.origin, self.next_id(), self._now(now), channel.name, reason)
        self.last_event = event
        self.router.record(event, (channel.key,))
        if channel.members:
            self.router.to_users(channel.members, event)
        if _log.debugging:
            log.debug("{nick} left {channel}", nick=user.nick, channel=channel.name)
        return channel

    def _remove(self, channel: Channel, user: User) -> None:
        del channel.members[user]
        channel.changed()
        del user.channels[channel.key]
        if not channel.members and channel.founder is None:
            del self.channels[channel.key]

    # messages

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
        Say C{text} to a channel or to another user.  A channel name with
        C{@} (or C{+}) in front reaches only its operators (and voiced
        members).  Return the message as delivered (its C{to} is the stored
        name).
        """
        self.require_nick(user)
        if to[:1] == "#":
            check_channel(to)
            check_text(text)
            channel = self._existing(to)
            member = channel.members.get(user)
            if member is None or not member.may_speak:
                self._may_send(channel, user, member)
            message = Message(
                user.origin,
                self.next_id(now),
                now,
                channel.name,
                text,
                notice,
                action,
                tags,
            )
            # The hot path: one encoding per wire form, then only writes.
            self.router.to_channel(channel, message, user)
        elif to[:1] in STATUS_PREFIXES and to[1:2] == "#":
            check_text(text)
            channel, audience = self._status_audience(user, to)
            message = Message(
                user.origin,
                self.next_id(now),
                now,
                to[0] + channel.name,
                text,
                notice,
                action,
                tags,
            )
            self.router.to_users(audience, message)
        else:
            name, recipients = self._route(user, to, text)
            message = Message(
                user.origin, self.next_id(now), now, name, text, notice, action, tags
            )
            self.router.to_users([r for r in recipients if r is not user], message)
            self._record_private(user, recipients, message)
        user.last_spoke = now
        if _log.debugging:
            log.debug(
                "<{nick}> to {to}: {text}", nick=user.nick, to=message.to, text=text
            )
        return message

    def _may_send(
        self, channel: Channel, user: User, member: Membership | None
    ) -> None:
        if member is None and channel.secret:
            # An outsider may not learn of a secret channel by writing to it.
            raise ChatError("no_such_channel", f"there is no channel {channel.name}")
        refusal = policy.speech_refusal(channel, user, member)
        if refusal is not None:
            raise refusal

    def _status_audience(self, user: User, to: str) -> tuple[Channel, list[User]]:
        """The channel and members a C{@#chan} or C{+#chan} message reaches."""
        name = to[1:]
        check_channel(name)
        channel = self._existing(name)
        member = channel.members.get(user)
        if member is None or not member.may_speak:
            self._may_send(channel, user, member)
        if to[0] == "@":
            audience = [m.user for m in channel.members.values() if m.op]
        else:
            audience = [m.user for m in channel.members.values() if m.op or m.voice]
        return channel, [u for u in audience if u is not user]

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
        self.require_nick(user)
        name, recipients = self._route(user, to, None)
        message = TagMessage(user.origin, self.next_id(now), now, name, tags)
        self.router.to_users([r for r in recipients if r is not user], message)
        if not TRANSIENT_TAGS.issuperset(tags):
            # Typing notices pass; reactions and the like are kept.
            if name.startswith("#"):
                self.router.record(message, (channel_key(name),))
            elif name[:1] not in STATUS_PREFIXES:
                # To a nick (what went to a channel's operators only is not
                # kept).
                self._record_private(user, recipients, message)
        return message

    def _record_private(
        self, user: User, recipients: Iterable[User], message: Message | TagMessage
    ) -> None:
        for recipient in recipients:
            key = self.private_conversation(user, recipient)
            if key is not None:
                self.router.record(message, (key,))

    def send_ctcp(
        self, user: User, to: str, body: str, now: float, notice: bool = False
    ) -> CTCP:
        """
        Send a CTCP request (or, with C{notice}, a reply) as L{send} sends
        text.  C{body} is the part between the C{\\x01}s: 1 to 400
        characters without line breaks, NUL or C{\\x01}.
        """
        self.require_nick(user)
        name, recipients = self._route(user, to, None)
        if not 0 < len(body) <= CTCP_MAX or _BAD_CTCP.search(body):
            raise ChatError(
                "bad_args",
                f"a CTCP body is 1 to {CTCP_MAX} characters without line "
                "breaks, NUL or \\x01",
            )
        message = CTCP(user.origin, self.next_id(now), now, name, body, notice)
        self.router.to_users([r for r in recipients if r is not user], message)
        return message

    def _route(
        self, user: User, to: str, text: str | None
    ) -> tuple[str, Iterable[User]]:
        """
        Where a message from C{user} to C{to} goes: the target's stored name
        and the users to deliver it to.  C{text} is checked after the
        target's name and before whether the target exists.
        """
        if to[:1] in STATUS_PREFIXES and to[1:2] == "#":
            if text is not None:
                check_text(text)
            channel, audience = self._status_audience(user, to)
            return to[0] + channel.name, audience
        if to.startswith("#"):
            check_channel(to)
            if text is not None:
                check_text(text)
            channel = self._existing(to)
            member = channel.members.get(user)
            if member is None or not member.may_speak:
                self._may_send(channel, user, member)
            return channel.name, channel.members
        check_nick(to)
        if text is not None:
            check_text(text)
        target = self.nicks.get(fold(to))
        if target is None or target.nick is None:
            raise ChatError("no_such_nick", f"no user is called {to}")
        return target.nick, (target,)

    def set_away(
        self, user: User, message: str | None, now: float | None = None
    ) -> None:
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
        event = AwayChanged(user.origin, self.next_id(), self._now(now), message)
        self.router.to_users(self._peers(user), event)

    def away_message(self, nick: str) -> str | None:
        """The away message of the user called C{nick}; None if not away."""
        target = self.nicks.get(fold(nick))
        return None if target is None else target.away

    # looking

    def who(self, user: User, name: str) -> tuple[Channel, list[Membership]]:
        """
        The channel C{name} and the members C{user} may see in it
        (L{policy.visible_members}).  A secret channel does not exist for
        an outsider.
        """
        self.require_nick(user)
        channel = self._visible(user, name)
        return channel, policy.visible_members(channel, user)

    def topic(
        self, user: User, name: str, topic: str | None, now: float | None = None
    ) -> Channel:
        """
        Read the topic of C{name} (anyone who may see the channel may), or
        set it when C{topic} is not None (members; operators only under
        +t); the empty string clears it.
        """
        self.last_event = None
        nick = self.require_nick(user)
        if topic is None:
            return self._visible(user, name)
        check_channel(name)
        check_line(topic, "topic", TOPIC_MAX)
        channel = self._existing(name)
        member = channel.members.get(user)
        if member is None and channel.secret:
            raise ChatError("no_such_channel", f"there is no channel {name}")
        refusal = policy.topic_refusal(channel, member)
        if refusal is not None and user.oper is None:
            raise refusal
        now = self._now(now)
        channel.topic = topic
        channel.topic_by = nick
        channel.topic_ts = now
        self.kept(channel)
        event = TopicChanged(user.origin, self.next_id(now), now, channel.name, topic)
        self.last_event = event
        self.router.to_users([u for u in channel.members if u is not user], event)
        self.router.record(event, (channel.key,))
        log.info("{nick} set the topic of {channel}", nick=nick, channel=channel.name)
        return channel

    def list_channels(self, viewer: User | None = None) -> list[ChannelSummary]:
        """
        Every channel C{viewer} may see (L{policy.can_see}), ordered by
        folded name, with the number of members it may see.  Without a
        viewer, every channel and all its members (for the server's own use).
        """
        summaries = []
        for key in sorted(self.channels):
            channel = self.channels[key]
            if viewer is None:
                summaries.append(ChannelSummary(channel, len(channel.members)))
            elif policy.can_see(channel, viewer):
                summaries.append(
                    ChannelSummary(
                        channel, len(policy.visible_members(channel, viewer))
                    )
                )
        return summaries

    def channels_of(self, user: User, viewer: User) -> list[tuple[Channel, Membership]]:
        """The channels C{viewer} may see C{user} in (for WHOIS)."""
        return policy.visible_channels(user, viewer)

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
        name (L{chatd.core.names.channel_key}); None if there is none.
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

    def _visible(self, user: User, name: str) -> Channel:
        """The channel C{name}, if C{user} may know it exists."""
        check_channel(name)
        channel = self._existing(name)
        if not policy.can_see(channel, user):
            raise ChatError("no_such_channel", f"there is no channel {name}")
        return channel

    def _outsider(self, channel: Channel, name: str) -> NoReturn:
        """Refuse an outsider's act on C{channel}, not revealing a secret one."""
        if channel.secret:
            raise ChatError("no_such_channel", f"there is no channel {name}")
        raise ChatError("not_in_channel", f"you are not in {channel.name}")

    def _member_of(self, user: User, name: str) -> Channel:
        channel = self._existing(name)
        if channel.key not in user.channels:
            raise ChatError("not_in_channel", f"you are not in {channel.name}")
        return channel

    def _member_named(self, channel: Channel, nick: str) -> Membership:
        target = self.nicks.get(fold(nick))
        if target is None:
            raise ChatError("no_such_nick", f"no user is called {nick}")
        member = channel.members.get(target)
        if member is None:
            raise ChatError(
                "user_not_in_channel", f"{target.nick} is not in {channel.name}"
            )
        return member

    def _peers(self, user: User) -> Iterator[User]:
        """Every other user who shares at least one channel with C{user}, once."""
        seen: set[User] = {user}
        for channel in user.channels.values():
            for member in channel.members:
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
            if user.origin.nick != user.nick:
                yield f"{user!r} has a stale origin {user.origin!r}"
        for key, channel in self.channels.items():
            if channel.key != key or channel_key(channel.name) != key:
                yield f"channel key {key!r} maps to {channel!r}"
            if not channel.members and channel.founder is None:
                yield f"{channel!r} is empty"
            for member, record in channel.members.items():
                if record.user is not member:
                    yield f"{record!r} in {channel.name} is filed under {member!r}"
                if (
                    member.nick is None
                    or self.nicks.get(fold(member.nick)) is not member
                ):
                    yield f"{member!r} in {channel.name} is not registered"
                if member.channels.get(key) is not channel:
                    yield f"{member!r} is in {channel.name} but does not know it"
                if record.may_speak != policy.may_speak(channel, record):
                    yield f"{record!r} in {channel.name} caches a stale may_speak"
        invisible = sum(1 for u in self.nicks.values() if u.invisible)
        if invisible != self.invisible_users:
            yield f"{invisible} invisible users counted as {self.invisible_users}"
        for account, same in self.logged_in.items():
            for user in same:
                if user.account is None or fold(user.account) != account:
                    yield f"{user!r} is filed under the account {account!r}"
                if user not in self.users:
                    yield f"{user!r} is filed under {account!r} but is gone"
        logged_in = sum(1 for u in self.users if u.account is not None)
        if logged_in != sum(len(same) for same in self.logged_in.values()):
            yield f"{logged_in} users logged in, filed otherwise"
        for user in self.users:
            for key, channel in user.channels.items():
                if self.channels.get(key) is not channel:
                    yield f"{user!r} is in a channel {key!r} the server does not have"

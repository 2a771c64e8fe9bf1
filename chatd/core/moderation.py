# -*- test-case-name: tests.core.test_moderation -*-
"""
Channel moderation: kicking, inviting, and reading and changing a
channel's modes and lists.

These rules are part of L{chatd.core.chat.Chat} (it inherits them), as the
rules for identities and registered channels are; who may do each is
L{chatd.core.policy}'s to say.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

from chatd.core import policy
from chatd.core.errors import ChatError
from chatd.core.events import Event, Invited, Kicked, ModeChanged
from chatd.core.modes import LISTS, Change, ListEntry, ModePlan, mode_letter
from chatd.core.names import REASON_MAX, check_channel, check_line, check_nick
from chatd.log import logger

if TYPE_CHECKING:
    from collections.abc import Sequence

    from chatd.core.model import Channel, Membership, User
    from chatd.core.router import Router

log = logger(__name__)

#: The modes whose change may change who may speak in a channel.
SPEECH_MODES = frozenset("mbeov")


class Moderation:
    """Kick, invite, modes and lists: L{Chat}'s rules for them."""

    if TYPE_CHECKING:
        router: Router
        channels: dict[str, Channel]
        last_event: Event | None

        def next_id(self, now: float | None = None) -> str: ...
        def _now(self, now: float | None) -> float: ...
        def require_nick(self, user: User) -> str: ...
        def find_user(self, nick: str) -> User | None: ...
        def kept(self, channel: Channel, dropped: bool = False) -> None: ...
        def _existing(self, name: str) -> Channel: ...
        def _visible(self, user: User, name: str) -> Channel: ...
        def _outsider(self, channel: Channel, name: str) -> NoReturn: ...
        def _member_named(self, channel: Channel, nick: str) -> Membership: ...
        def _remove(self, channel: Channel, user: User) -> None: ...

    def kick(
        self,
        user: User,
        name: str,
        nick: str,
        reason: str = "",
        now: float | None = None,
    ) -> Kicked:
        """
        Remove the member called C{nick} from C{name}: operators only.  Every
        member, the kicked one too, is told; the kicker learns it from the
        event returned.
        """
        self.require_nick(user)
        check_channel(name)
        check_line(reason, "reason", REASON_MAX)
        channel = self._existing(name)
        actor = channel.members.get(user)
        if user.oper is None:
            if actor is None:
                self._outsider(channel, name)
            refusal = policy.operator_refusal(channel, actor)
            if refusal is not None:
                raise refusal
        target = self._member_named(channel, nick)
        if actor is None or not actor.op:
            log.warn(
                "server operator {oper} ({nick}) kicks in {channel}, not as its"
                " operator",
                oper=user.oper,
                nick=user.nick,
                channel=channel.name,
            )
        event = Kicked(
            user.origin,
            self.next_id(),
            self._now(now),
            channel.name,
            target.user.nick or nick,
            reason,
        )
        self.router.to_users([u for u in channel.members if u is not user], event)
        self.router.record(event, (channel.key,))
        self._remove(channel, target.user)
        log.info(
            "{by} kicked {nick} from {channel}",
            by=user.nick,
            nick=event.nick,
            channel=channel.name,
        )
        return event

    def invite(
        self, user: User, name: str, nick: str, now: float | None = None
    ) -> Invited:
        """
        Invite the user called C{nick} into the channel C{name}, which lets
        them in past +i, +k and +l once.  The invitee is told, and so are
        the channel's operators (the members who could have invited too).
        """
        self.require_nick(user)
        check_channel(name)
        check_nick(nick)
        target = self.find_user(nick)
        if target is None or target.nick is None:
            raise ChatError("no_such_nick", f"no user is called {nick}")
        channel = self._existing(name)
        if user not in channel.members:
            self._outsider(channel, name)
        refusal = policy.invite_refusal(channel, channel.members.get(user))
        if refusal is not None:
            raise refusal
        if target in channel.members:
            raise ChatError(
                "already_in_channel", f"{target.nick} is already in {channel.name}"
            )
        target.invites[channel.key] = channel
        event = Invited(
            user.origin, self.next_id(), self._now(now), channel.name, target.nick
        )
        audience = [target]
        audience.extend(
            m.user for m in channel.members.values() if m.op and m.user is not user
        )
        self.router.to_users(audience, event)
        return event

    def invites(self, user: User) -> list[Channel]:
        """The channels C{user} is invited into and has not joined yet."""
        return [c for k, c in user.invites.items() if self.channels.get(k) is c]

    def modes(self, user: User, name: str) -> tuple[Channel, list[Change]]:
        """
        The channel C{name} and its modes as changes that would set them
        (the key shows as C{*} to outsiders).
        """
        self.require_nick(user)
        channel = self._visible(user, name)
        return channel, channel.modes.summary(show_key=user in channel.members)

    def list_entries(self, user: User, name: str, mode: str) -> list[ListEntry]:
        """
        The channel's ban (C{b}), exception (C{e}) or invite-exception
        (C{I}) list: bans for whoever may see the channel, the others for
        its operators.
        """
        self.require_nick(user)
        letter = mode_letter(mode)
        if letter not in LISTS:
            raise ChatError("unknown_mode", f"{mode!r} is not a list mode")
        channel = self._visible(user, name)
        if not policy.may_see_list(channel, user, letter):
            raise ChatError(
                "not_channel_operator",
                f"only operators of {channel.name} may see its {LISTS[letter]} list",
            )
        return list(channel.modes.lists[letter])

    def set_modes(
        self,
        user: User,
        name: str,
        changes: Sequence[Change],
        now: float | None = None,
        partial: bool = False,
    ) -> tuple[list[Change], list[ChatError]]:
        """
        Change the modes of C{name}: operators only.  Return the changes as
        applied (with parameters as stored: a full mask, a nick as spelled)
        and, with C{partial}, the refusals of the changes left out, as IRC
        applies what it can of a C{MODE} line.  Without C{partial}, any
        refusal is raised and nothing changes.  Changes that change nothing
        (setting a set flag, banning a banned mask) are left out silently.
        The members are told of what was applied in one event.
        """
        self.last_event = None
        self.require_nick(user)
        check_channel(name)
        channel = self._existing(name)
        actor = channel.members.get(user)
        refusal = policy.operator_refusal(channel, actor)
        if refusal is not None and user.oper is None:
            if actor is None and not channel.secret:
                raise ChatError("not_in_channel", f"you are not in {channel.name}")
            if actor is None:
                raise ChatError("no_such_channel", f"there is no channel {name}")
            raise refusal
        if refusal is not None:
            log.warn(
                "server operator {oper} ({nick}) changes modes of {channel}, not"
                " as its operator",
                oper=user.oper,
                nick=user.nick,
                channel=channel.name,
            )
        now = self._now(now)
        plan = ModePlan(channel.name, channel.modes, user.mask, now)
        errors: list[ChatError] = []
        for change in changes:
            try:
                plan.add(change, lambda nick: self._member_named(channel, nick))
            except ChatError as e:
                if not partial:
                    raise
                e.change = change
                errors.append(e)
        planned = plan.planned
        if not planned:
            return planned, errors
        plan.apply(channel.modes, channel.members)
        if any(c.mode in SPEECH_MODES for c in planned):
            # Who may speak depends on these alone: worked out again now,
            # so that no message has to (see Membership.may_speak).
            self._refresh_speech(channel)
        self.kept(channel)
        event = ModeChanged(
            user.origin, self.next_id(), now, channel.name, tuple(planned)
        )
        self.last_event = event
        self.router.to_users([u for u in channel.members if u is not user], event)
        self.router.record(event, (channel.key,))
        log.info(
            "{nick} set modes of {channel}: {changes}",
            nick=user.nick,
            channel=channel.name,
            # A key is a password: the log shows that one was set, not it.
            changes=" ".join(
                ("+" if c.adding else "-")
                + c.mode
                + (f" {'*' if c.mode == 'k' else c.param}" if c.param else "")
                for c in planned
            ),
        )
        return planned, errors

    def _refresh_speech(self, channel: Channel) -> None:
        for member in channel.members.values():
            member.may_speak = policy.may_speak(channel, member)

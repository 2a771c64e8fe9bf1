# -*- test-case-name: tests.core.test_policy -*-
"""
Who may do what in a channel, and who may see what: the decisions every
adapter shows the same way.

Plain functions of the state, changing nothing.  A refusal is returned as
a L{ChatError} for the caller to raise, so the same decision can also be
asked without raising (to show a channel as closed, say).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatd.core.errors import ChatError
from chatd.core.modes import matches

if TYPE_CHECKING:
    from chatd.core.model import Channel, Membership, User


def is_banned(channel: Channel, user: User) -> bool:
    """Whether a ban covers C{user} and no exception (+e) does."""
    lists = channel.modes.lists
    folded = user.folded_mask
    account = user.folded_account
    return matches(lists["b"], folded, account) and not matches(
        lists["e"], folded, account
    )


def speech_refusal(
    channel: Channel, user: User, member: Membership | None
) -> ChatError | None:
    """
    Why C{user} may not send to C{channel} (C{member} is their record
    there, None for an outsider), or None if they may.  Operators and
    voiced members always may; others not while banned, nor under +m;
    outsiders not under +n.
    """
    if member is not None and (member.op or member.voice):
        return None
    flags = channel.modes.flags
    if member is None and "n" in flags:
        return ChatError(
            "cannot_send",
            f"{channel.name} takes no messages from outside (+n): join it first",
        )
    if "m" in flags:
        return ChatError(
            "cannot_send",
            f"{channel.name} is moderated (+m): only voiced members and "
            "operators may speak",
        )
    if is_banned(channel, user):
        return ChatError("cannot_send", f"you are banned from {channel.name}")
    return None


def nick_change_refusal(user: User) -> ChatError | None:
    """
    Why C{user} may not change nick (its C{channel} says where), or None
    if they may: a member whom a ban covers (and no exception), without
    voice or operator status, keeps their nick while in that channel, as on
    InspIRCd and solanum; otherwise a new nick would slip out of a
    nick-based ban and let them speak again.
    """
    for channel, member in ((c, c.members[user]) for c in user.channels.values()):
        if not (member.op or member.voice) and is_banned(channel, user):
            error = ChatError(
                "banned",
                f"you cannot change your nick while banned from {channel.name}",
            )
            error.channel = channel.name
            return error
    return None


def may_speak(channel: Channel, member: Membership) -> bool:
    """What L{Membership.may_speak} caches."""
    return speech_refusal(channel, member.user, member) is None


def join_refusal(channel: Channel, user: User, key: str | None) -> ChatError | None:
    """
    Why C{user} may not join C{channel} with C{key}, or None if they may.
    A ban refuses unless an exception (+e) covers the user; an invitation
    (or an invite exception, +I) lets the user past +i, and an invitation
    past the key (+k) and the limit (+l) too.
    """
    modes = channel.modes
    name = channel.name
    if is_banned(channel, user):
        return ChatError("banned", f"you are banned from {name} (+b)")
    invited = user.invites.get(channel.key) is channel
    if (
        "i" in modes.flags
        and not invited
        and not matches(modes.lists["I"], user.folded_mask, user.folded_account)
    ):
        return ChatError(
            "invite_only", f"{name} is invite only (+i): ask for an invite"
        )
    if invited:
        return None
    if modes.key is not None and key != modes.key:
        return ChatError(
            "bad_key",
            f"{name} needs a key (+k): "
            + ("yours is wrong" if key else "join with the key"),
        )
    if modes.limit is not None and len(channel.members) >= modes.limit:
        return ChatError(
            "channel_full",
            f"{name} is full: it takes {modes.limit} "
            f"member{'' if modes.limit == 1 else 's'} (+l)",
        )
    return None


def operator_refusal(channel: Channel, member: Membership | None) -> ChatError | None:
    """Why C{member} may not act as an operator of C{channel}, or None."""
    if member is not None and member.op:
        return None
    return ChatError(
        "not_channel_operator", f"you are not an operator of {channel.name}"
    )


def topic_refusal(channel: Channel, member: Membership | None) -> ChatError | None:
    """Why C{member} may not set C{channel}'s topic (+t), or None."""
    if member is None:
        return ChatError("not_in_channel", f"you are not in {channel.name}")
    if "t" in channel.modes.flags and not member.op:
        return ChatError(
            "not_channel_operator",
            f"only operators may set the topic of {channel.name} (+t)",
        )
    return None


def invite_refusal(channel: Channel, member: Membership | None) -> ChatError | None:
    """Why C{member} may not invite people into C{channel}, or None."""
    if member is None:
        return ChatError("not_in_channel", f"you are not in {channel.name}")
    if "i" in channel.modes.flags and not member.op:
        return ChatError(
            "not_channel_operator",
            f"only operators may invite into {channel.name} (+i)",
        )
    return None


def may_see_list(channel: Channel, viewer: User, letter: str) -> bool:
    """
    Whether C{viewer} may read C{channel}'s list C{letter}: the bans anyone
    who can see the channel may; exceptions and invite exceptions its
    operators only.
    """
    member = channel.members.get(viewer)
    if viewer.oper is not None:
        return True
    if letter == "b":
        return member is not None or not channel.secret
    return member is not None and member.op


def can_see(channel: Channel, viewer: User) -> bool:
    """
    Whether C{viewer} may know C{channel} exists: not secret, or a member,
    or a server operator.
    """
    return not channel.secret or viewer in channel.members or viewer.oper is not None


def visible_members(channel: Channel, viewer: User) -> list[Membership]:
    """
    The members C{viewer} may see: all of them for a member; for an
    outsider none of a secret channel's, and of others all but the
    invisible (+i) users.
    """
    if viewer in channel.members or viewer.oper is not None:
        return list(channel.members.values())
    if channel.secret:
        return []
    return [m for m in channel.members.values() if not m.user.invisible]


def visible_channels(user: User, viewer: User) -> list[tuple[Channel, Membership]]:
    """
    The channels of C{user} that C{viewer} may see them in (for WHOIS):
    those C{viewer} shares, and, unless C{user} is invisible, the ones that
    are not secret.
    """
    shown = []
    for channel in user.channels.values():
        member = channel.members[user]
        if (
            viewer in channel.members
            or viewer is user
            or viewer.oper is not None
            or (not user.invisible and not channel.secret)
        ):
            shown.append((channel, member))
    return shown


def may_see_user(user: User, viewer: User) -> bool:
    """
    Whether a wildcard search (IRC's C{WHO *}) by C{viewer} may show
    C{user}: not invisible, or sharing a channel, or themselves.
    """
    if not user.invisible or user is viewer or viewer.oper is not None:
        return True
    return any(viewer in c.members for c in user.channels.values())


#: Who may read a channel's history: its members, everything kept
#: (C{everything}); members, what was said since they joined (C{since-join});
#: nobody (C{none}).  See docs/history.md for the trade-off.
HISTORY_ACCESS = ("everything", "since-join", "none")


def history_start(
    channel: Channel, member: Membership | None, default: str
) -> float | None:
    """
    From when C{member} may read C{channel}'s history (a time; 0 for all
    of it), or None if they may read none: outsiders never may, nor a
    member a ban covers (without an exception); the channel's own setting,
    or else C{default}, says the rest.
    """
    if member is None or is_banned(channel, member.user):
        return None
    access = channel.history_access or default
    if access == "everything":
        return 0.0
    if access == "since-join":
        return member.since
    return None

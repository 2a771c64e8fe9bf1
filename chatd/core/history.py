# -*- test-case-name: tests.core.test_history -*-
"""
Whose history is whose, who may read it, and who may delete from it.

The rules decide which conversation an event belongs to (a channel, or the
private conversation of two accounts) and hand it to the router with that
key (L{chatd.core.router.Router.record}); what keeps it is elsewhere
(L{chatd.history}).  These rules are part of L{chatd.core.chat.Chat}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from chatd.core import policy
from chatd.core.errors import ChatError
from chatd.core.events import ReadMarked, Redacted
from chatd.core.names import (
    REASON_MAX,
    channel_key,
    check_channel,
    check_line,
    check_nick,
    fold,
)

if TYPE_CHECKING:
    from collections.abc import Set

    from chatd.core.model import Channel, User
    from chatd.core.router import Router


def private_key(one: str, other: str) -> str:
    """
    The key two accounts' private conversation is kept under: both folded
    names, in order, with a space between (no name has one, and no
    channel's key has one either).
    """
    a, b = sorted((fold(one), fold(other)))
    return f"{a} {b}"


def guest_key(account: str, nick: str) -> str:
    """
    The key an account's private conversation with a guest (a nick with no
    account) is kept under, for the account's eyes only: its folded name,
    a space, C{~} and the guest's folded nick (no nick has a C{~}, so it is
    never two accounts' key).
    """
    return f"{fold(account)} ~{fold(nick)}"


def private_other(account: str, key: str) -> str | None:
    """
    Who C{account}'s private conversation kept under C{key} is with: the
    other account's folded name, or the guest's folded nick; None if the
    key is not one of C{account}'s private conversations.
    """
    first, space, second = key.partition(" ")
    if not space:
        return None
    mine = fold(account)
    if second.startswith("~"):
        return second[1:] if first == mine else None
    if first == mine:
        return second
    return first if second == mine else None


class Conversation(NamedTuple):
    """A history a user asked for, as they may read it."""

    #: what the store keeps it under
    key: str
    #: the target as the reader names it: the channel's name, or the nick
    #: of the other party as they asked for it
    name: str
    #: the earliest time they may read
    start: float


class HistoryRules:
    """L{Chat}'s rules for history."""

    if TYPE_CHECKING:
        router: Router
        channels: dict[str, Channel]
        nicks: dict[str, User]
        users: set[User]
        reserved: dict[str, str]

        def next_id(self, now: float | None = None) -> str: ...
        def _now(self, now: float | None) -> float: ...
        def require_nick(self, user: User) -> str: ...
        def connections_of(self, account: str) -> Set[User]: ...

    #: who may read a channel's history when the channel does not say
    #: (L{policy.HISTORY_ACCESS})
    history_default = "everything"

    def conversation(self, user: User, target: str) -> Conversation:
        """
        The history C{user} asks for as C{target} (a channel, or a nick for
        the private conversation with its account), if they may read it.
        """
        self.require_nick(user)
        if target.startswith("#"):
            check_channel(target)
            channel = self.channels.get(channel_key(target))
            member = None if channel is None else channel.members.get(user)
            if channel is None or (member is None and channel.secret):
                raise ChatError("no_such_channel", f"there is no channel {target}")
            if member is None:
                raise ChatError(
                    "not_on_channel",
                    f"only members read {channel.name}'s history: join it first",
                )
            start = policy.history_start(channel, member, self.history_default)
            if start is None:
                raise ChatError(
                    "history_hidden",
                    f"{channel.name} lets you read none of its history",
                )
            return Conversation(channel.key, channel.name, start)
        check_nick(target)
        if user.account is None:
            raise ChatError(
                "account_required",
                "private history is kept for accounts only: log in first",
            )
        other = self.account_named(target)
        if other is None:
            # A guest's nick (or nobody's): what this account said with
            # whoever wore it, kept for the account alone.
            return Conversation(guest_key(user.account, target), target, 0.0)
        return Conversation(private_key(user.account, other), target, 0.0)

    def redaction_conversation(self, user: User, target: str) -> Conversation:
        """
        The history C{user} would delete a message of as C{target}: as
        L{conversation}, but a channel's members may whatever its history
        setting (they were sent its messages live; "none" hides the history,
        it does not stop moderation), and server operators may from outside
        any channel.  Whether they may delete that message is L{redact}'s.
        """
        if target.startswith("#"):
            self.require_nick(user)
            check_channel(target)
            channel = self.channels.get(channel_key(target))
            if channel is not None and (
                user in channel.members or user.oper is not None
            ):
                return Conversation(channel.key, channel.name, 0.0)
        return self.conversation(user, target)

    def marker_key(self, user: User, target: str) -> str:
        """
        What C{user}'s read marker on C{target} is kept under: a marker is
        the user's own note, so any well-formed channel or nick has one
        (IRCv3 read-marker answers C{*} for one never set), whether or not
        its history may be read.  An account's markers on private
        conversations follow the conversation's key, shared by its
        connections; a guest's are its own.
        """
        self.require_nick(user)
        if target.startswith("#"):
            check_channel(target)
            return channel_key(target)
        check_nick(target)
        if user.account is None:
            return f"~{fold(target)}"
        other = self.account_named(target)
        if other is None:
            return guest_key(user.account, target)
        return private_key(user.account, other)

    def account_named(self, nick: str) -> str | None:
        """The account of whoever C{nick} names: the user, or else its owner."""
        folded = fold(nick)
        online = self.nicks.get(folded)
        if online is not None and online.account is not None:
            return online.account
        return self.reserved.get(folded)

    def readable_channels(self, user: User) -> list[Conversation]:
        """Every channel C{user} is in and may read the history of."""
        found = []
        for channel in user.channels.values():
            member = channel.members[user]
            start = policy.history_start(channel, member, self.history_default)
            if start is not None:
                found.append(Conversation(channel.key, channel.name, start))
        return found

    def private_conversation(self, sender: User, recipient: User) -> str | None:
        """
        The key a private message between the two is kept under, if any:
        two accounts share one; an account and a guest keep it on the
        account's side alone; two guests keep nothing.
        """
        if sender.account is not None:
            if recipient.account is not None:
                return private_key(sender.account, recipient.account)
            return guest_key(sender.account, recipient.nick or "")
        if recipient.account is not None:
            return guest_key(recipient.account, sender.nick or "")
        return None

    def redact(
        self,
        user: User,
        target: str,
        msgid: str,
        author: str | None,
        reason: str = "",
        now: float | None = None,
        to: str = "",
    ) -> Redacted:
        """
        Delete message C{msgid} of C{target} (which C{user} may read; see
        L{conversation}): allowed to server operators, to the channel's
        operators, and to the account that sent it (C{author}).  The other
        readers who are here are told.
        """
        conversation = self.redaction_conversation(user, target)
        check_line(reason, "reason", REASON_MAX)
        allowed = user.oper is not None or (
            author is not None
            and user.account is not None
            and fold(author) == fold(user.account)
        )
        channel = self.channels.get(conversation.key)
        if channel is not None and not allowed:
            member = channel.members.get(user)
            allowed = member is not None and member.op
        if not allowed:
            raise ChatError(
                "redact_forbidden",
                "only its sender's account, the channel's operators and server"
                " operators may delete a message",
            )
        now = self._now(now)
        event = Redacted(
            user.origin, self.next_id(now), now, conversation.name, msgid, reason, to
        )
        if channel is not None:
            self.router.to_users([u for u in channel.members if u is not user], event)
        else:
            # Every connection of both accounts but this one: the redactor's
            # own see it under the name they asked for, the other party's
            # under the redactor's nick.
            assert user.account is not None  # conversation() checked
            mine = [
                u
                for u in self.connections_of(user.account)
                if u is not user and u.nick is not None
            ]
            if mine:
                self.router.to_users(mine, event)
            other = self.account_named(target)
            if other is not None and fold(other) != fold(user.account):
                theirs = Redacted(
                    user.origin, event.msgid, now, user.nick or "", msgid, reason, to
                )
                self.router.to_users(
                    [u for u in self.connections_of(other) if u.nick is not None],
                    theirs,
                )
        return event

    def mark_read(
        self, user: User, target: str, marker: float, now: float | None = None
    ) -> ReadMarked:
        """
        C{user} has read C{target} up to C{marker}: tell their account's
        other connections.  The caller keeps the marker.
        """
        self.require_nick(user)
        now = self._now(now)
        event = ReadMarked(user.origin, self.next_id(now), now, target, marker)
        if user.account is not None:
            same = [
                u
                for u in self.connections_of(user.account)
                if u is not user and u.nick is not None
            ]
            if same:
                self.router.to_users(same, event)
        return event

# -*- test-case-name: tests.core.test_registration -*-
"""
Registered channels: a channel an account owns (its founder), with an
access list of accounts that get operator or voice when they join.  It
stays when its last member leaves, and the server keeps it across restarts.

These rules are part of L{chatd.core.chat.Chat} (it inherits them).  The
core keeps no storage: whoever keeps registered channels (the service's
store) sets L{ChannelRegistration.channel_kept} and is called after every
change of a registered channel, and at start-up hands the stored ones back
through L{ChannelRegistration.restore_channel}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from chatd.core import policy
from chatd.core.errors import ChatError
from chatd.core.model import Channel
from chatd.core.modes import FLAGS, ListEntry, compile_mask
from chatd.core.names import channel_key, check_channel, check_nick, fold
from chatd.log import logger

if TYPE_CHECKING:
    from collections.abc import Iterable

    from chatd.core.model import User

log = logger(__name__)

#: The levels an access list gives: operator or voice.
ACCESS_LEVELS = {"o": "op", "v": "voice"}


class ChannelRegistration:
    """Registering channels, their access lists, and restoring them."""

    if TYPE_CHECKING:
        channels: dict[str, Channel]

        def _now(self, now: float | None) -> float: ...
        def require_nick(self, user: User) -> str: ...
        def _existing(self, name: str) -> Channel: ...
        def _refresh_speech(self, channel: Channel) -> None: ...

    def _init_registration(self) -> None:
        #: called with a registered channel after each change to what is
        #: kept of it, and with (channel, dropped=True) when unregistered
        self.channel_kept: Callable[[Channel, bool], None] | None = None

    def kept(self, channel: Channel, dropped: bool = False) -> None:
        """Tell the keeper that C{channel} changed (if it is registered)."""
        keeper = self.channel_kept
        if keeper is not None and (dropped or channel.founder is not None):
            keeper(channel, dropped)

    def register_channel(
        self, user: User, name: str, now: float | None = None
    ) -> Channel:
        """
        Register C{name} to the account C{user} is logged in to: its
        operators may (and server operators), once.
        """
        self.require_nick(user)
        if user.account is None:
            raise ChatError(
                "not_logged_in", "log in to an account to register a channel"
            )
        check_channel(name)
        channel = self._existing(name)
        if user.oper is None:
            member = channel.members.get(user)
            if member is None and channel.secret:
                raise ChatError("no_such_channel", f"there is no channel {name}")
            refusal = policy.operator_refusal(channel, member)
            if refusal is not None:
                raise refusal
        if channel.founder is not None:
            raise ChatError(
                "already_registered", f"{channel.name} is registered already"
            )
        channel.founder = fold(user.account)
        channel.registered_at = self._now(now)
        log.info(
            "{nick} registered {channel} to the account {account}",
            nick=user.nick,
            channel=channel.name,
            account=user.account,
        )
        self.kept(channel)
        return channel

    def _founder_or_oper(self, user: User, name: str) -> Channel:
        self.require_nick(user)
        check_channel(name)
        channel = self._existing(name)
        if channel.founder is None:
            if channel.secret and user not in channel.members and not user.oper:
                raise ChatError("no_such_channel", f"there is no channel {name}")
            raise ChatError("not_registered", f"{channel.name} is not registered")
        if user.oper is None and (
            user.account is None or fold(user.account) != channel.founder
        ):
            raise ChatError(
                "not_founder",
                f"only the founder of {channel.name} may do that "
                "(log in to the account that registered it)",
            )
        return channel

    def unregister_channel(self, user: User, name: str) -> Channel:
        """Forget that C{name} is registered: its founder or a server operator."""
        channel = self._founder_or_oper(user, name)
        channel.founder = None
        channel.access.clear()
        channel.history_access = None
        if not channel.members:
            del self.channels[channel.key]
        log.info(
            "{nick} ({account}) dropped the registration of {channel}",
            nick=user.nick,
            account=user.account or user.oper,
            channel=channel.name,
        )
        self.kept(channel, dropped=True)
        return channel

    def forget_founder(self, account: str) -> None:
        """The account C{account} (folded) is gone: unregister its channels."""
        for channel in list(self.channels.values()):
            if channel.founder == account:
                channel.founder = None
                channel.access.clear()
                channel.history_access = None
                if not channel.members:
                    del self.channels[channel.key]
                log.info(
                    "{channel} unregistered: its founder's account was dropped",
                    channel=channel.name,
                )
                self.kept(channel, dropped=True)

    def set_access(
        self, user: User, name: str, account: str, level: str | None
    ) -> Channel:
        """
        Give the account C{account} operator (C{o}) or voice (C{v}) on
        joining C{name}, or nothing (None): its founder or a server operator.
        """
        channel = self._founder_or_oper(user, name)
        check_nick(account)
        key = fold(account)
        if level is None:
            channel.access.pop(key, None)
        elif level in ACCESS_LEVELS:
            channel.access[key] = level
        else:
            raise ChatError("bad_args", "an access level is o (operator) or v (voice)")
        log.info(
            "{nick} ({who}) set the access of {account} in {channel} to {given}",
            nick=user.nick,
            who=user.account or user.oper,
            account=account,
            channel=channel.name,
            given=ACCESS_LEVELS.get(level or "", "nothing"),
        )
        self.kept(channel)
        return channel

    def set_history_access(self, user: User, name: str, access: str | None) -> Channel:
        """
        Set who may read registered channel C{name}'s history (one of
        L{policy.HISTORY_ACCESS}), or None for the server's default: its
        founder or a server operator.
        """
        channel = self._founder_or_oper(user, name)
        if access is not None and access not in policy.HISTORY_ACCESS:
            raise ChatError(
                "bad_args",
                "history access is one of "
                + ", ".join(policy.HISTORY_ACCESS)
                + " or default",
            )
        channel.history_access = access
        log.info(
            "{nick} ({who}) set the history of {channel} to {access}",
            nick=user.nick,
            who=user.account or user.oper,
            channel=channel.name,
            access=access or "the server's default",
        )
        self.kept(channel)
        return channel

    def access_on_join(self, channel: Channel, user: User) -> str | None:
        """What C{user} gets on joining C{channel}: C{o}, C{v} or None."""
        if channel.founder is None or user.account is None:
            return None
        account = fold(user.account)
        if account == channel.founder:
            return "o"
        return channel.access.get(account)

    def restore_channel(
        self,
        name: str,
        founder: str,
        registered_at: float,
        topic: str = "",
        topic_by: str = "",
        topic_at: float = 0.0,
        flags: str = "nt",
        key: str | None = None,
        limit: int | None = None,
        lists: Iterable[tuple[str, str, str, float]] = (),
        access: Iterable[tuple[str, str]] = (),
        history: str | None = None,
    ) -> Channel:
        """
        Bring back a registered channel as it was kept (at start-up, before
        anyone connects): C{lists} holds (mode, mask, set by, set at).
        """
        ckey = channel_key(name)
        channel = self.channels.get(ckey)
        if channel is None:
            channel = self.channels[ckey] = Channel(name, registered_at)
        channel.founder = founder
        channel.registered_at = registered_at
        channel.topic, channel.topic_by, channel.topic_ts = topic, topic_by, topic_at
        modes = channel.modes
        modes.flags = {f for f in flags if f in FLAGS}
        modes.key = key
        modes.limit = limit
        for entries in modes.lists.values():
            entries.clear()
        for mode, mask, set_by, set_at in lists:
            if mode in modes.lists:
                modes.lists[mode].append(
                    ListEntry(mask, set_by, set_at, compile_mask(mask))
                )
        channel.access = {fold(a): level for a, level in access if level in "ov"}
        channel.history_access = history if history in policy.HISTORY_ACCESS else None
        self._refresh_speech(channel)
        return channel

# -*- test-case-name: tests.core.test_identity -*-
"""
Who a user is beyond their nick: the account they are logged in to, the
nicks that accounts own, and server operators.

These rules are part of L{chatd.core.chat.Chat} (it inherits them).  They
decide and tell, as the other rules do; checking a password is not theirs:
an adapter proves who someone is (SASL, a JSON login) by way of
L{chatd.accounts} and then calls L{Identity.log_in}.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from chatd.core.errors import ChatError
from chatd.core.events import (
    AccountChanged,
    Killed,
    NickChanged,
    OperRevoked,
    Wallops,
)
from chatd.core.names import REASON_MAX, TEXT_MAX, check_line, check_nick, fold
from chatd.log import logger

if TYPE_CHECKING:
    from collections.abc import Iterator, Set

    from chatd.core.model import Channel, User
    from chatd.core.router import Router

log = logger(__name__)

_NOBODY: frozenset[User] = frozenset()

#: What happens to someone who takes a nick an account owns: C{refuse} it
#: (the default), let them have it for a grace period (C{timeout}: the
#: service renames them unless they log in), or nothing (C{off}).
NICK_PROTECTION = ("refuse", "timeout", "off")

#: The nicks of the built-in services (IRC's NickServ and ChanServ), folded:
#: nobody may take them, on any protocol, nor register them as accounts.
SERVICE_NICKS = {"nickserv": "NickServ", "chanserv": "ChanServ"}


class Identity:
    """Accounts, owned nicks and server operators: L{Chat}'s rules for them."""

    if TYPE_CHECKING:
        router: Router
        nicks: dict[str, User]
        users: set[User]
        logged_in: dict[str, set[User]]

        def next_id(self, now: float | None = None) -> str: ...
        def _now(self, now: float | None) -> float: ...
        def _peers(self, user: User) -> Iterator[User]: ...
        def require_nick(self, user: User) -> str: ...
        def set_nick(
            self, user: User, nick: str, now: float | None = None, forced: bool = False
        ) -> str: ...
        def find_user(self, nick: str) -> User | None: ...
        def _refresh_speech(self, channel: Channel) -> None: ...

    def _init_identity(self) -> None:
        #: folded account names (the nicks they own) to the names as spelled
        self.reserved: dict[str, str] = {}
        self.nick_protection = "refuse"
        #: the server operators online
        self.opers: set[User] = set()
        #: under the C{timeout} policy, called with a user who took a nick
        #: an account owns (the service renames them later unless they log in)
        self.nick_claimed: Callable[[User], None] | None = None

    # nicks that accounts own

    def reserve(self, account: str) -> None:
        """The account C{account} exists: its name is a nick it owns."""
        self.reserved[fold(account)] = account

    def unreserve(self, account: str) -> None:
        """The account C{account} is gone: anyone may take its nick."""
        self.reserved.pop(fold(account), None)

    def nick_owner(self, nick: str) -> str | None:
        """The account that owns C{nick}, or None."""
        return self.reserved.get(fold(nick))

    def wears_owned_nick(self, user: User) -> bool:
        """Whether C{user}'s nick is an account's they are not logged in to."""
        if user.nick is None:
            return False
        owner = self.reserved.get(fold(user.nick))
        return owner is not None and (
            user.account is None or fold(user.account) != fold(owner)
        )

    def _nick_taken(self, user: User) -> None:
        """C{user} has a new nick: watch it if it is an account's."""
        claimed = self.nick_claimed
        if (
            claimed is not None
            and self.nick_protection == "timeout"
            and self.wears_owned_nick(user)
        ):
            claimed(user)

    def rename(self, user: User, nick: str, now: float | None = None) -> None:
        """
        The server changes C{user}'s nick (nick protection's timeout): as
        L{Chat.set_nick}, and the user is told too, having not asked.
        """
        if user.nick is None:
            return
        origin = user.origin
        self.set_nick(user, nick, now, forced=True)
        event = NickChanged(origin, self.next_id(), self._now(now), nick)
        user.session.deliver(event)

    def _check_owned(self, user: User, nick: str) -> None:
        """Refuse C{nick} to C{user} if an account they are not in owns it."""
        key = fold(nick)
        if key in SERVICE_NICKS:
            raise ChatError(
                "nick_in_use", f"{SERVICE_NICKS[key]} is one of the server's services"
            )
        if self.nick_protection != "refuse":
            return
        owner = self.reserved.get(fold(nick))
        if owner is not None and (
            user.account is None or fold(user.account) != fold(owner)
        ):
            raise ChatError(
                "nick_reserved",
                f"the nick {nick} belongs to the account {owner}: "
                "log in to that account to use it",
            )

    # logging in and out

    def log_in(self, user: User, account: str, now: float | None = None) -> None:
        """
        C{user} proved they own C{account} (the adapter checked): they are
        logged in to it, and everyone who shares a channel with them is told.
        """
        if user.account == account:
            return
        self._unindex_account(user)
        user.account = account
        if user in self.users:
            self.logged_in.setdefault(fold(account), set()).add(user)
        self._account_changed(user, now)
        log.info(
            "{who} logged in to the account {account}",
            who=user.nick or user.peer,
            account=account,
        )

    def log_out(self, user: User, now: float | None = None) -> None:
        """C{user} is no longer logged in to an account."""
        if user.account is None:
            return
        self._unindex_account(user)
        account, user.account = user.account, None
        self._account_changed(user, now)
        log.info(
            "{who} logged out of the account {account}",
            who=user.nick or user.peer,
            account=account,
        )

    def _unindex_account(self, user: User) -> None:
        if user.account is None:
            return
        folded = fold(user.account)
        same = self.logged_in.get(folded)
        if same is not None:
            same.discard(user)
            if not same:
                del self.logged_in[folded]

    def connections_of(self, account: str) -> Set[User]:
        """Every connected user logged in to C{account} (read only)."""
        return self.logged_in.get(fold(account), _NOBODY)

    def _account_changed(self, user: User, now: float | None) -> None:
        user.renamed()
        if user.nick is None:
            return
        for channel in user.channels.values():
            # account bans ($a:name) may now cover the user, or no longer
            self._refresh_speech(channel)
        event = AccountChanged(
            user.origin, self.next_id(), self._now(now), user.account
        )
        self.router.to_users(self._peers(user), event)

    # server operators

    def set_oper(self, user: User, name: str | None) -> None:
        """Make C{user} a server operator by the block C{name}, or not (None)."""
        user.oper = name
        if name is None:
            self.opers.discard(user)
        else:
            self.opers.add(user)
            user.wallops = True
            log.info(
                "{nick} ({mask}) is now a server operator ({name})",
                nick=user.nick,
                mask=user.mask,
                name=name,
            )

    def revoke_oper(self, user: User, reason: str, now: float | None = None) -> None:
        """
        Take server operator status from C{user}, who is told why (a config
        reload removed or changed their block).
        """
        name = user.oper
        if name is None:
            return
        self.set_oper(user, None)
        log.warn(
            "{nick} ({mask}) is no longer server operator {name}: {reason}",
            nick=user.nick,
            mask=user.mask,
            name=name,
            reason=reason,
        )
        event = OperRevoked(user.origin, self.next_id(), self._now(now), name, reason)
        user.session.deliver(event)

    def require_oper(self, user: User) -> str:
        if user.oper is None:
            raise ChatError("not_oper", "only server operators may do that")
        return user.oper

    def kill(
        self, user: User, nick: str, reason: str, now: float | None = None
    ) -> Killed:
        """
        Disconnect the user called C{nick}: server operators only.  The
        target's session is told (and closes, which disconnects it).
        """
        self.require_nick(user)
        self.require_oper(user)
        check_nick(nick)
        check_line(reason, "reason", REASON_MAX)
        target = self.find_user(nick)
        if target is None or target.nick is None:
            raise ChatError("no_such_nick", f"no user is called {nick}")
        event = Killed(user.origin, self.next_id(), self._now(now), target.nick, reason)
        log.warn(
            "server operator {oper} ({nick}, {mask}) killed {target} ({tmask}): "
            "{reason}",
            oper=user.oper,
            nick=user.nick,
            mask=user.mask,
            target=target.nick,
            tmask=target.mask,
            reason=reason,
        )
        target.session.deliver(event)
        return event

    def wallops(self, user: User, text: str, now: float | None = None) -> Wallops:
        """A server operator's message to every user who reads WALLOPS."""
        self.require_nick(user)
        self.require_oper(user)
        check_line(text, "text", TEXT_MAX)
        if not text:
            raise ChatError("bad_args", "say something")
        event = Wallops(user.origin, self.next_id(), self._now(now), text)
        self.router.to_users(
            [u for u in self.nicks.values() if u.wallops and u is not user], event
        )
        log.info(
            "WALLOPS from server operator {oper} ({nick}): {text}",
            oper=user.oper,
            nick=user.nick,
            text=text,
        )
        return event

# -*- test-case-name: tests.accounts.test_nickguard -*-
"""
Nick protection's C{timeout} policy (as ergo's): someone who takes a nick
an account owns is told to log in, and renamed to a guest nick if they have
not within the grace period.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

from chatd.core.events import Message, Origin
from chatd.log import logger

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime

    from chatd.core.chat import Chat
    from chatd.core.model import User

log = logger(__name__)


class NickGuard:
    """Renames users who keep an account's nick without logging in."""

    def __init__(
        self,
        chat: Chat,
        clock: IReactorTime,
        timeout: float = 30.0,
        server_name: str = "chatd.local",
    ) -> None:
        self.chat = chat
        self.clock = clock
        self.timeout = timeout
        #: Who the warning comes from: NickServ!services@<server>, as the
        #: IRC adapter's other service notices.
        self.nickserv = Origin("NickServ", "services", server_name)
        self._timers: dict[User, IDelayedCall] = {}

    def claimed(self, user: User) -> None:
        """C{user} took a nick an account owns (the core's C{nick_claimed})."""
        owner = self.chat.nick_owner(user.nick or "")
        old = self._timers.pop(user, None)
        if old is not None and old.active():
            old.cancel()
        self._timers[user] = self.clock.callLater(
            self.timeout, self._expired, user, user.nick
        )
        text = (
            f"The nick {user.nick} belongs to the account {owner}: log in to it"
            f" within {self.timeout:g} seconds or you will be renamed"
        )
        warning = Message(
            self.nickserv,
            self.chat.next_id(),
            self.clock.seconds(),
            user.nick or "*",
            text,
            notice=True,
        )
        # Told once the nick is theirs (an IRC client is still registering
        # when its first nick is set, and would not be shown it yet).
        self.clock.callLater(0, self._warn, user, warning)

    def _warn(self, user: User, warning: Message) -> None:
        if user in self.chat.users and user.nick == warning.to:
            user.session.deliver(warning)

    def _expired(self, user: User, nick: str | None) -> None:
        self._timers.pop(user, None)
        chat = self.chat
        if (
            user not in chat.users
            or user.nick != nick
            or not chat.wears_owned_nick(user)
        ):
            return
        guest = self.guest_nick()
        log.info(
            "{nick} did not log in to the account that owns the nick: now {guest}",
            nick=nick,
            guest=guest,
        )
        chat.rename(user, guest)

    def guest_nick(self) -> str:
        for _ in range(100):
            nick = f"Guest{random.randrange(10000, 100000)}"
            if self.chat.find_user(nick) is None and self.chat.nick_owner(nick) is None:
                return nick
        raise RuntimeError("no free guest nick")  # 90000 guests online

    def stop(self) -> None:
        for timer in self._timers.values():
            if timer.active():
                timer.cancel()
        self._timers.clear()

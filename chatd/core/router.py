# -*- test-case-name: tests.test_core -*-
"""
Delivery: the one seam between the rules, which decide what happened and
who should see it, and the sessions that show it.

The rules hand every event to a L{Router} with its audience.  L{LocalRouter}
delivers to this process's sessions; a history store or a link to other
nodes wraps or replaces it without touching the rules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Iterable

    from chatd.core.events import Event, Message
    from chatd.core.model import Channel, User


class Router(Protocol):
    def to_channel(self, channel: Channel, message: Message, skip: User | None) -> None:
        """Deliver a message to every member of C{channel} but C{skip}."""

    def to_users(self, users: Iterable[User], event: Event) -> None:
        """Deliver C{event} to each of C{users}."""

    def record(self, event: Event, keys: Iterable[str]) -> None:
        """
        C{event} belongs to the histories under C{keys} (channels' keys,
        private conversations' keys; see L{chatd.core.history}).  A channel
        message given to L{to_channel} belongs to its channel's history
        without this.
        """


class LocalRouter:
    """
    Delivery to this process's sessions.  A channel message is encoded once
    per wire form among the members and then only written (the fan-out hot
    path; see L{chatd.core.model.Session}).
    """

    def to_channel(self, channel: Channel, message: Message, skip: User | None) -> None:
        for encode, members in channel.fanout():
            data = encode(message)
            for member, write in members:
                if member is not skip:
                    write(data)

    def to_users(self, users: Iterable[User], event: Event) -> None:
        for user in users:
            user.session.deliver(event)

    def record(self, event: Event, keys: Iterable[str]) -> None:
        """Nothing: this router keeps no history."""

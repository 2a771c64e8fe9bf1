# -*- test-case-name: tests.test_core -*-
"""
Delivery: the one seam between the rules, which decide what happened and
who should see it, and the sessions that show it.

The rules hand every event to a L{Router} with its audience.  L{LocalRouter}
delivers to this process's sessions; a history store or a link to other
nodes wraps or replaces it without touching the rules.
"""

from __future__ import annotations

from collections.abc import Sized
from typing import TYPE_CHECKING, Protocol

from chatd.core.events import Message

if TYPE_CHECKING:
    from collections.abc import Iterable

    from chatd.core.events import Event
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


class Traffic:
    """
    What has been said, in plain integers the metrics read when scraped
    (L{chatd.web.metrics}): counted once per message, never per recipient.
    """

    __slots__ = ("channel_bytes", "deliveries", "messages")

    def __init__(self) -> None:
        #: messages, notices and actions (TAGMSG and CTCP are not counted)
        self.messages = 0
        #: copies of them handed to recipients' sessions
        self.deliveries = 0
        #: bytes of the channel messages' copies written by the fan-out (the
        #: members' wire forms; private messages are encoded per session)
        self.channel_bytes = 0


class LocalRouter:
    """
    Delivery to this process's sessions.  A channel message is encoded once
    per wire form among the members and then only written (the fan-out hot
    path; see L{chatd.core.model.Session}).  L{traffic} counts them.
    """

    def __init__(self, traffic: Traffic | None = None) -> None:
        self.traffic = traffic if traffic is not None else Traffic()

    def to_channel(self, channel: Channel, message: Message, skip: User | None) -> None:
        copies = size = 0
        for encode, members in channel.fanout():
            data = encode(message)
            for member, write in members:
                if member is not skip:
                    write(data)
            # Counted per wire form, not per member.
            copies += len(members)
            if type(data) is bytes:
                size += len(data) * len(members)
        if skip is not None and skip in channel.members:
            # The sender's own copy was not written.
            copies -= 1
            size -= len(message.wire.get(getattr(skip.session, "wire_key", ""), b""))
        traffic = self.traffic
        traffic.messages += 1
        traffic.deliveries += copies
        traffic.channel_bytes += size

    def to_users(self, users: Iterable[User], event: Event) -> None:
        for user in users:
            user.session.deliver(event)
        if type(event) is Message:
            traffic = self.traffic
            traffic.messages += 1
            if isinstance(users, Sized):  # the rules give a list
                traffic.deliveries += len(users)

    def record(self, event: Event, keys: Iterable[str]) -> None:
        """Nothing: this router keeps no history."""


__all__ = ["LocalRouter", "Router", "Traffic"]

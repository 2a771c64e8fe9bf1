# -*- test-case-name: tests.history.test_log -*-
"""Delivery that keeps what it delivers: the history's place on the Router seam."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from chatd.core.router import LocalRouter, Traffic

if TYPE_CHECKING:
    from chatd.core.events import Event, Message
    from chatd.core.model import Channel, User
    from chatd.history.log import HistoryLog


class HistoryRouter(LocalRouter):
    """L{LocalRouter}'s delivery, and every event recorded in the L{HistoryLog}."""

    def __init__(self, log: HistoryLog, traffic: Traffic | None = None) -> None:
        super().__init__(traffic)
        self.log = log

    def to_channel(self, channel: Channel, message: Message, skip: User | None) -> None:
        LocalRouter.to_channel(self, channel, message, skip)
        self.log.add(message, (channel.key,))

    def record(self, event: Event, keys: Iterable[str]) -> None:
        self.log.add(event, keys)

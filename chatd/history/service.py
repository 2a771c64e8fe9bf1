# -*- test-case-name: tests.history.test_service -*-
"""
History in the daemon: the log over the server's store, the router that
feeds it, read markers, and the background expiry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall

from chatd.history.log import HistoryLog
from chatd.history.markers import ReadMarkers
from chatd.history.reader import History
from chatd.history.router import HistoryRouter
from chatd.log import logger

if TYPE_CHECKING:
    from chatd.config import HistorySettings
    from chatd.core.chat import Chat
    from chatd.store.interface import Store

log = logger(__name__)


class HistoryKeeper:
    """
    The history side of one server: started once the store is open, and
    stopped (everything written) before it closes.
    """

    def __init__(
        self, chat: Chat, store: Store, settings: HistorySettings, reactor: Any
    ) -> None:
        self.chat = chat
        self.log = HistoryLog(store, reactor, settings.flush_interval)
        # Every store keeps accounts' read markers.
        self.history = History(chat, self.log, ReadMarkers(store))
        # The counts of what was said go on from the router it replaces.
        chat.router = HistoryRouter(self.log, getattr(chat.router, "traffic", None))
        self._expiry = LoopingCall(self.expire)
        self._expiry.clock = reactor
        self._expiring: Deferred[int] | None = None
        self.settings = settings
        self.reloaded_history(settings)

    def reloaded_history(self, settings: HistorySettings) -> None:
        """Take new settings (all but C{enabled}, which needs a restart)."""
        interval_changed = settings.expire_interval != self.settings.expire_interval
        self.settings = settings
        self.chat.history_default = settings.access
        self.history.replay_on_join = settings.replay_on_join
        self.log.interval = settings.flush_interval
        if interval_changed and self._expiry.running:
            self._expiry.stop()
            self._expiry.start(settings.expire_interval, now=False)

    def start(self) -> None:
        """The store is open: expire now and then."""
        self._expiry.start(self.settings.expire_interval, now=True)

    def expire(self) -> Deferred[int] | None:
        """Delete what retention no longer keeps, in the background."""
        s = self.settings
        if self._expiring is not None or not (s.max_age or s.max_per_target):
            return None
        older = self.chat.clock.seconds() - s.max_age if s.max_age else None
        d = self.log.expire(older, s.max_per_target or None)

        def done(count: int) -> int:
            if count:
                log.info("history: {count} expired items deleted", count=count)
            return count

        def failed(failure: Any) -> None:
            log.failure("while expiring the history", failure)

        d.addCallbacks(done, failed)

        def finished(result: Any) -> Any:
            self._expiring = None
            return result

        d.addBoth(finished)
        self._expiring = d
        return d

    def stop(self) -> Deferred[None]:
        """Write everything kept; the store may close once this fires."""
        if self._expiry.running:
            self._expiry.stop()
        d = self.log.close()
        if self._expiring is not None:
            expiring = self._expiring
            d.addCallback(lambda _: expiring)
            d.addCallback(lambda _: None)
        unwritten = self.log.lost

        def logged(_: object) -> None:
            if self.log.lost > unwritten:
                log.error(
                    "history: {count} items could not be written",
                    count=self.log.lost,
                )

        return d.addCallback(logged) if d is not None else succeed(None)

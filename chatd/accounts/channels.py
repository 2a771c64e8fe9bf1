# -*- test-case-name: tests.accounts.test_channels -*-
"""
Registered channels kept in the store: read back at start-up, and written
behind the chat as they change (a mode, a ban, the topic, the access list).

Writes are gathered: a burst of changes to one channel within a reactor
turn is one write of its latest state, so a MODE line of six changes costs
one row update, not six, and the chat never waits for the disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList, succeed

from chatd.log import logger
from chatd.store.records import AccessRecord, ChannelRecord, ListRecord

if TYPE_CHECKING:
    from twisted.internet.interfaces import IDelayedCall, IReactorTime
    from twisted.python.failure import Failure

    from chatd.core.chat import Chat
    from chatd.core.model import Channel
    from chatd.store.interface import Store

log = logger(__name__)


def record_of(channel: Channel) -> ChannelRecord:
    """What the store keeps of a registered channel."""
    modes = channel.modes
    assert channel.founder is not None
    return ChannelRecord(
        name=channel.name,
        folded=channel.key,
        founder=channel.founder,
        registered_at=channel.registered_at,
        topic=channel.topic,
        topic_by=channel.topic_by,
        topic_at=channel.topic_ts,
        flags="".join(sorted(modes.flags)),
        mode_key=modes.key,
        limit=modes.limit,
        lists=tuple(
            ListRecord(mode, e.mask, e.set_by, e.set_at)
            for mode, entries in modes.lists.items()
            for e in entries
        ),
        access=tuple(
            AccessRecord(account, level)
            for account, level in sorted(channel.access.items())
        ),
        history=channel.history_access,
    )


class ChannelKeeper:
    """Keeps the chat's registered channels in C{store}."""

    def __init__(self, chat: Chat, store: Store, clock: IReactorTime) -> None:
        self.chat = chat
        self.store = store
        self.clock = clock
        #: channels changed since the last write, by key (None: dropped)
        self._dirty: dict[str, Channel | None] = {}
        self._flush: IDelayedCall | None = None
        self._writing: list[Deferred[Any]] = []

    def load(self) -> Deferred[None]:
        """Bring back every registered channel, then follow their changes."""

        def loaded(records: list[ChannelRecord]) -> None:
            for r in records:
                self.chat.restore_channel(
                    r.name,
                    r.founder,
                    r.registered_at,
                    topic=r.topic,
                    topic_by=r.topic_by,
                    topic_at=r.topic_at,
                    flags=r.flags,
                    key=r.mode_key,
                    limit=r.limit,
                    lists=[(e.mode, e.mask, e.set_by, e.set_at) for e in r.lists],
                    access=[(a.account, a.level) for a in r.access],
                    history=r.history,
                )
            self.chat.channel_kept = self.changed
            log.info("{count} registered channels loaded", count=len(records))

        return self.store.load_channels().addCallback(loaded)

    def changed(self, channel: Channel, dropped: bool) -> None:
        """The chat's hook: C{channel} changed (or was unregistered)."""
        self._dirty[channel.key] = None if dropped else channel
        if self._flush is None:
            self._flush = self.clock.callLater(0, self.flush)

    def flush(self) -> Deferred[None]:
        """Write every change gathered so far; fires when the store has them."""
        self._flush = None
        dirty, self._dirty = self._dirty, {}
        writes = []
        for key, channel in dirty.items():
            if channel is None or channel.founder is None:
                d = self.store.delete_channel(key)
                d.addErrback(self._not_there)
            else:
                d = self.store.save_channel(record_of(channel))
            d.addErrback(self._failed, key)
            writes.append(d)
        if not writes:
            return succeed(None)
        done = DeferredList(writes)
        self._writing.append(done)
        done.addBoth(lambda _: self._writing.remove(done))
        return done.addCallback(lambda _: None)

    def _not_there(self, failure: Failure) -> None:
        from chatd.store.errors import NoSuchChannel

        failure.trap(NoSuchChannel)

    def _failed(self, failure: Failure, key: str) -> None:
        log.failure(
            "could not keep the registered channel {channel}", failure, channel=key
        )

    def stop(self) -> Deferred[None]:
        """Write what is pending (at shutdown), and wait for the writes."""
        if self._flush is not None:
            self._flush.cancel()
        self.flush()
        return DeferredList(list(self._writing)).addCallback(lambda _: None)

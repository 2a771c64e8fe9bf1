# -*- test-case-name: tests.history.test_markers -*-
"""
Read markers (IRCv3 C{draft/read-marker}): up to when a user has read each
history.  An account's markers are shared by all its connections and kept
in the store when it has a place for them; a guest's last as long as its
connection.  A marker only moves forward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol
from weakref import WeakKeyDictionary

from twisted.internet.defer import Deferred, succeed

from chatd.core.names import fold

if TYPE_CHECKING:
    from chatd.core.model import User


class MarkerStore(Protocol):
    def load_read_marker(self, account: str, target: str) -> Deferred[float | None]:
        """The marker kept for the folded account on C{target}, or None."""

    def save_read_marker(self, account: str, target: str, ts: float) -> Deferred[None]:
        """Keep the marker (the caller moves it forward only)."""


class ReadMarkers:
    """Every user's read markers."""

    def __init__(self, store: MarkerStore | None = None) -> None:
        self.store = store
        #: (folded account, key) -> marker
        self._known: dict[tuple[str, str], float] = {}
        #: a guest's markers, by key: gone with the guest (nothing is kept
        #: by an id a later connection could be given)
        self._guests: WeakKeyDictionary[User, dict[str, float]] = WeakKeyDictionary()

    def get(self, user: User, key: str) -> Deferred[float | None]:
        if user.account is None:
            return succeed(self._guests.get(user, {}).get(key))
        who = fold(user.account)
        known = self._known.get((who, key))
        if known is not None or self.store is None:
            return succeed(known)

        def loaded(marker: float | None) -> float | None:
            if marker is not None:
                current = self._known.get((who, key))
                if current is None or current < marker:
                    self._known[(who, key)] = marker
            return self._known.get((who, key))

        return self.store.load_read_marker(who, key).addCallback(loaded)

    def set(self, user: User, key: str, ts: float) -> Deferred[float]:
        """Move the marker to C{ts} if that is later; the marker now."""

        def moved(current: float | None) -> Deferred[float] | float:
            if current is not None and current >= ts:
                return current
            if user.account is None:
                self._guests.setdefault(user, {})[key] = ts
                return ts
            who = fold(user.account)
            self._known[(who, key)] = ts
            if self.store is not None:
                return self.store.save_read_marker(who, key, ts).addCallback(
                    lambda _: ts
                )
            return ts

        return self.get(user, key).addCallback(moved)

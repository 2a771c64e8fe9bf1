# -*- test-case-name: tests.history.test_markers -*-
"""
Read markers (IRCv3 C{draft/read-marker}): up to when a user has read each
history.  An account's markers are shared by all its connections and kept
in the store when it has a place for them; a guest's last as long as its
connection.  A marker only moves forward.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

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
        #: (who, key) -> marker; who is a folded account, or a guest's id
        self._known: dict[tuple[str, str], float] = {}

    def _who(self, user: User) -> tuple[str, bool]:
        if user.account is not None:
            return fold(user.account), True
        return f"guest {id(user)}", False

    def get(self, user: User, key: str) -> Deferred[float | None]:
        who, account = self._who(user)
        known = self._known.get((who, key))
        if known is not None or not account or self.store is None:
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
        who, account = self._who(user)

        def moved(current: float | None) -> Deferred[float] | float:
            if current is not None and current >= ts:
                return current
            self._known[(who, key)] = ts
            if account and self.store is not None:
                return self.store.save_read_marker(who, key, ts).addCallback(
                    lambda _: ts
                )
            return ts

        return self.get(user, key).addCallback(moved)

    def forget(self, user: User) -> None:
        """A guest is gone: its markers with it."""
        if user.account is None:
            who = f"guest {id(user)}"
            for pair in [p for p in self._known if p[0] == who]:
                del self._known[pair]

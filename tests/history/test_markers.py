"""Read markers (chatd.history.markers) kept in a store."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

from twisted.trial.unittest import SynchronousTestCase

from chatd.history.markers import ReadMarkers
from chatd.store.memory import MemoryStore

if TYPE_CHECKING:
    from chatd.core.model import User


def user(account: str | None) -> User:
    # ReadMarkers looks at the account alone.
    return cast("User", SimpleNamespace(account=account))


class StoredMarkersTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.store = MemoryStore()
        self.store.open()

    def test_an_accounts_markers_outlive_the_server(self) -> None:
        alice = user("Alice")
        markers = ReadMarkers(self.store)
        self.assertEqual(self.successResultOf(markers.set(alice, "#c", 10.0)), 10.0)
        self.assertEqual(self.successResultOf(markers.set(alice, "#c", 5.0)), 10.0)
        # A new server (new ReadMarkers), the same store: kept, by folded name.
        again = ReadMarkers(self.store)
        self.assertEqual(self.successResultOf(again.get(user("ALICE"), "#c")), 10.0)
        self.assertEqual(
            self.successResultOf(self.store.load_read_marker("alice", "#c")), 10.0
        )

    def test_a_guests_markers_are_not_stored(self) -> None:
        guest = user(None)
        markers = ReadMarkers(self.store)
        self.successResultOf(markers.set(guest, "#c", 10.0))
        self.assertEqual(self.store._markers, {})
        self.assertEqual(self.successResultOf(markers.get(guest, "#c")), 10.0)

"""Read markers (chatd.history.markers) kept in a store."""

from __future__ import annotations

from typing import Any, cast

from twisted.trial.unittest import SynchronousTestCase

from chatd.core.model import User
from chatd.history.markers import ReadMarkers
from chatd.store.memory import MemoryStore


def user(account: str | None) -> User:
    # ReadMarkers looks at the account alone.
    made = User(cast("Any", None), "127.0.0.1")
    made.account = account
    return made


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

    def test_a_guests_markers_go_with_it(self) -> None:
        import gc

        markers = ReadMarkers(self.store)
        first = User(cast("Any", None), "127.0.0.1")
        self.successResultOf(markers.set(first, "#c", 10.0))
        other = User(cast("Any", None), "127.0.0.1")
        self.assertIsNone(self.successResultOf(markers.get(other, "#c")))
        del first
        gc.collect()
        # Nothing is kept for a guest that is gone, so no later guest can be
        # taken for it.
        self.assertEqual(len(markers._guests), 0)
        later = User(cast("Any", None), "127.0.0.1")
        self.assertIsNone(self.successResultOf(markers.get(later, "#c")))

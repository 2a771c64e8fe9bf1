"""Message ids: unique across runs, sorting by time (chatd.core.msgids)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatd.core.msgids import LENGTH, MessageIds, base32, millisecond_of


class MessageIdTests(SynchronousTestCase):
    def test_sort_in_the_order_made(self) -> None:
        ids = MessageIds()
        made = [ids(1_700_000_000 + i / 3000) for i in range(3000)]
        self.assertEqual(made, sorted(made))
        self.assertEqual(len(set(made)), 3000)

    def test_a_clock_stepping_back_keeps_the_order(self) -> None:
        ids = MessageIds()
        first = ids(1_700_000_100.0)
        second = ids(1_700_000_000.0)
        self.assertLess(first, second)

    def test_two_runs_differ_and_sort_by_time(self) -> None:
        one, two = MessageIds(b"\x00" * 5), MessageIds(b"\xff" * 5)
        self.assertNotEqual(one(1_700_000_000.0), two(1_700_000_000.0))
        self.assertLess(two(1_700_000_000.0), one(1_700_000_000.002))

    def test_shape(self) -> None:
        msgid = MessageIds()(1_700_000_000.123)
        self.assertEqual(len(msgid), LENGTH)
        self.assertRegex(msgid, r"^[0-9A-Z]+$")
        self.assertEqual(millisecond_of(msgid), 1_700_000_000_123)
        self.assertIsNone(millisecond_of("not-one"))

    def test_base32(self) -> None:
        self.assertEqual(base32(0, 2), "00")
        self.assertEqual(base32(32, 2), "10")
        self.assertRaises(ValueError, base32, 32 * 32, 2)

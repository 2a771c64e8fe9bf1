"""
Failed logins and registrations per account and address
(chatd.accounts.throttle), with time passed in as numbers.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatd.accounts.throttle import (
    LoginThrottle,
    LoginThrottled,
    RegistrationLimit,
    address_key,
)

HOME = "192.0.2.7"


class AddressKeyTests(SynchronousTestCase):
    def test_ipv4(self) -> None:
        self.assertEqual(address_key("192.0.2.7"), "192.0.2.7")

    def test_ipv6_by_64(self) -> None:
        self.assertEqual(address_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64")
        self.assertEqual(address_key("2001:DB8:1:2::1"), "2001:db8:1:2::/64")
        self.assertNotEqual(
            address_key("2001:db8:1:3::1"), address_key("2001:db8:1:2::1")
        )

    def test_ipv4_mapped(self) -> None:
        self.assertEqual(address_key("::ffff:192.0.2.7"), "192.0.2.7")

    def test_not_an_address(self) -> None:
        self.assertEqual(address_key("/run/chatd.sock"), "/run/chatd.sock")


class LoginThrottleTests(SynchronousTestCase):
    def fail_times(
        self,
        throttle: LoginThrottle,
        n: int,
        account: str = "alice",
        address: str = HOME,
        now: float = 0.0,
    ) -> None:
        for _ in range(n):
            throttle.failed(account, address, now)

    def test_allowed_until_the_limit(self) -> None:
        throttle = LoginThrottle()
        self.assertEqual(throttle.check("alice", HOME, 0.0), 0.0)
        self.fail_times(throttle, 4)
        self.assertEqual(throttle.check("alice", HOME, 0.0), 0.0)
        throttle.failed("alice", HOME, 10.0)
        self.assertEqual(throttle.check("alice", HOME, 10.0), 1.0)
        self.assertEqual(throttle.check("alice", HOME, 10.25), 0.75)
        self.assertEqual(throttle.check("alice", HOME, 11.0), 0.0)

    def test_back_off_doubles_up_to_the_cap(self) -> None:
        throttle = LoginThrottle(address_max_failures=1000)
        self.fail_times(throttle, 4)
        now = 0.0
        waits = []
        for _ in range(12):
            throttle.failed("alice", HOME, now)
            wait = throttle.check("alice", HOME, now)
            waits.append(wait)
            now += wait
        self.assertEqual(
            waits,
            [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0, 300.0],
        )

    def test_many_failures_do_not_overflow(self) -> None:
        throttle = LoginThrottle()
        self.fail_times(throttle, 5000)
        self.assertEqual(throttle.check("alice", HOME, 0.0), 300.0)

    def test_account_names_fold(self) -> None:
        throttle = LoginThrottle(address_max_failures=1000)
        for name in ("alice", "Alice", "ALICE", "aLiCe", "alice"):
            throttle.failed(name, HOME, 0.0)
        self.assertEqual(throttle.check("Alice", "198.51.100.1", 0.0), 1.0)

    def test_success_forgets_the_account_not_the_address(self) -> None:
        throttle = LoginThrottle()
        self.fail_times(throttle, 5)
        self.assertEqual(throttle.check("alice", "198.51.100.1", 0.0), 1.0)
        self.assertEqual(throttle.check("bob", HOME, 0.0), 1.0)
        throttle.succeeded("alice", HOME, 0.5)
        self.assertEqual(throttle.check("alice", "198.51.100.1", 0.5), 0.0)
        self.assertEqual(throttle.check("bob", HOME, 0.5), 0.5)
        # after the success, alice again has five tries from elsewhere
        self.fail_times(throttle, 4, address="198.51.100.1", now=1.0)
        self.assertEqual(throttle.check("alice", "198.51.100.1", 1.0), 0.0)

    def test_one_address_many_accounts(self) -> None:
        throttle = LoginThrottle()
        for i in range(5):
            throttle.failed(f"user{i}", HOME, 0.0)
        self.assertEqual(throttle.check("someone", HOME, 0.0), 1.0)
        self.assertEqual(throttle.check("someone", "198.51.100.1", 0.0), 0.0)

    def test_separate_address_limit(self) -> None:
        throttle = LoginThrottle(address_max_failures=10)
        for i in range(9):
            throttle.failed(f"user{i}", HOME, 0.0)
        self.assertEqual(throttle.check("someone", HOME, 0.0), 0.0)
        throttle.failed("user9", HOME, 0.0)
        self.assertEqual(throttle.check("someone", HOME, 0.0), 1.0)

    def test_ipv6_64_counts_as_one(self) -> None:
        throttle = LoginThrottle()
        for i in range(5):
            throttle.failed(f"user{i}", f"2001:db8:0:1::{i + 1:x}", 0.0)
        self.assertEqual(throttle.check("x", "2001:db8:0:1:ffff::1", 0.0), 1.0)
        self.assertEqual(throttle.check("x", "2001:db8:0:2::1", 0.0), 0.0)

    def test_forgotten_after_a_quiet_while(self) -> None:
        throttle = LoginThrottle(forget_after=900.0)
        self.fail_times(throttle, 4)
        self.assertEqual(len(throttle), 2)
        # another account fails later: the stale entries go
        throttle.failed("bob", "198.51.100.1", 900.0)
        self.assertEqual(len(throttle), 2)
        # and alice has five tries again
        self.fail_times(throttle, 4, now=901.0)
        self.assertEqual(throttle.check("alice", HOME, 901.0), 0.0)
        throttle.failed("alice", HOME, 901.0)
        self.assertEqual(throttle.check("alice", HOME, 901.0), 1.0)

    def test_not_forgotten_while_failing(self) -> None:
        throttle = LoginThrottle(forget_after=900.0, address_max_failures=1000)
        for now in range(0, 8000, 800):
            throttle.failed("alice", HOME, float(now))
        self.assertEqual(throttle.check("alice", HOME, 7200.0), 32.0)

    def test_bounded(self) -> None:
        throttle = LoginThrottle(max_entries=3)
        for i in range(10):
            throttle.failed(f"user{i}", f"198.51.100.{i}", float(i))
        self.assertEqual(len(throttle), 6)
        # the newest are kept: user9 failed once already
        self.fail_times(throttle, 4, account="user9", address="198.51.100.9", now=10.0)
        self.assertEqual(throttle.check("user9", "203.0.113.1", 10.0), 1.0)
        # the oldest went: user0's first failure is forgotten
        self.fail_times(throttle, 4, account="user0", address="203.0.113.1", now=11.0)
        self.assertEqual(throttle.check("user0", "203.0.113.2", 11.0), 0.0)

    def test_bad_settings(self) -> None:
        for kwargs in (
            {"max_failures": 0},
            {"address_max_failures": 0},
            {"base_delay": 0.0},
            {"base_delay": 10.0, "max_delay": 5.0},
            {"max_delay": 1000.0, "forget_after": 900.0},
            {"max_entries": 0},
        ):
            with self.assertRaises(ValueError, msg=kwargs):
                LoginThrottle(**kwargs)  # type: ignore[arg-type]

    def test_throttled_error(self) -> None:
        error = LoginThrottled(12.4)
        self.assertEqual(error.retry_after, 12.4)
        self.assertIn("12 s", str(error))


class RegistrationLimitTests(SynchronousTestCase):
    def test_per_hour(self) -> None:
        limit = RegistrationLimit()
        for now in (0.0, 100.0, 200.0):
            self.assertEqual(limit.check(HOME, now), 0.0)
            limit.record(HOME, now)
        self.assertEqual(limit.check(HOME, 300.0), 3300.0)
        self.assertEqual(limit.check("198.51.100.1", 300.0), 0.0)
        self.assertEqual(limit.check(HOME, 3599.0), 1.0)
        self.assertEqual(limit.check(HOME, 3600.0), 0.0)
        limit.record(HOME, 3600.0)
        self.assertEqual(limit.check(HOME, 3600.0), 100.0)

    def test_other_limits(self) -> None:
        limit = RegistrationLimit(per_hour=1)
        limit.record(HOME, 0.0)
        self.assertEqual(limit.check(HOME, 60.0), 3540.0)
        with self.assertRaises(ValueError):
            RegistrationLimit(per_hour=0)

    def test_ipv6_64_counts_as_one(self) -> None:
        limit = RegistrationLimit(per_hour=2)
        limit.record("2001:db8::1", 0.0)
        limit.record("2001:db8::2", 0.0)
        self.assertEqual(limit.check("2001:db8::3", 0.0), 3600.0)
        self.assertEqual(limit.check("2001:db8:0:1::3", 0.0), 0.0)

    def test_old_entries_expire(self) -> None:
        limit = RegistrationLimit()
        for i in range(5):
            limit.record(f"198.51.100.{i}", float(i))
        self.assertEqual(len(limit), 5)
        limit.record(HOME, 3603.0)
        self.assertEqual(len(limit), 2)

    def test_bounded(self) -> None:
        limit = RegistrationLimit(max_entries=3)
        for i in range(10):
            limit.record(f"198.51.100.{i}", float(i))
        self.assertEqual(len(limit), 3)


class RaisedLimitTests(SynchronousTestCase):
    def test_raising_the_limit_counts_what_came_before(self) -> None:
        limit = RegistrationLimit(per_hour=2)
        limit.record("192.0.2.1", 0.0)
        limit.record("192.0.2.1", 1.0)
        self.assertGreater(limit.check("192.0.2.1", 2.0), 0)
        limit.per_hour = 3
        self.assertEqual(limit.check("192.0.2.1", 2.0), 0.0)
        limit.record("192.0.2.1", 2.0)
        self.assertGreater(limit.check("192.0.2.1", 3.0), 0)

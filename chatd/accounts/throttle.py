# -*- test-case-name: tests.accounts.test_throttle -*-
"""
How often a login may fail and an address may register, as pure state with
time passed in as C{now} (seconds, e.g. C{reactor.seconds()}): the adapters
ask before they spend a password hash, and report what happened after.

Each table is bounded: an entry is forgotten once it is old, and past
C{max_entries} the least recently touched entry goes first.
"""

from __future__ import annotations

import ipaddress
from collections import OrderedDict, deque
from dataclasses import dataclass

from chatd.core.names import fold

#: Failures in a row before an account or address has to wait.
MAX_FAILURES = 5
#: The first wait, doubled at each further failure, up to MAX_DELAY.
BASE_DELAY = 1.0
MAX_DELAY = 300.0
#: A record is forgotten this long after its last failure.
FORGET_AFTER = 900.0
MAX_ENTRIES = 100_000
HOUR = 3600.0


class LoginThrottled(Exception):
    """
    A login refused before its password was looked at, because too many
    failed just before; the injected login functions of
    L{chatd.accounts.sasl} may fail with it.
    """

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many failed logins: try again in {retry_after:.0f} s")
        self.retry_after = retry_after


def address_key(address: str) -> str:
    """
    What an address is counted as: an IPv4 address itself, an IPv6 address
    its /64 (one host usually has a whole /64), an IPv4-mapped IPv6 address
    its IPv4 address; anything else (a UNIX socket's name) as given.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))
    return str(ip)


@dataclass
class _Failures:
    count: int
    last: float
    blocked_until: float


class _FailureTable:
    """Failures per key, oldest first, so that expiry looks at the front only."""

    def __init__(
        self,
        max_failures: int,
        base_delay: float,
        max_delay: float,
        forget_after: float,
        max_entries: int,
    ) -> None:
        self.max_failures = max_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.forget_after = forget_after
        self.max_entries = max_entries
        self.entries: OrderedDict[str, _Failures] = OrderedDict()

    def _stale(self, entry: _Failures, now: float) -> bool:
        return now - entry.last >= self.forget_after and now >= entry.blocked_until

    def wait(self, key: str, now: float) -> float:
        entry = self.entries.get(key)
        if entry is None or self._stale(entry, now):
            return 0.0
        return max(0.0, entry.blocked_until - now)

    def failed(self, key: str, now: float) -> None:
        self.expire(now)
        entry = self.entries.pop(key, None)
        if entry is None or self._stale(entry, now):
            entry = _Failures(0, now, now)
        entry.count += 1
        entry.last = now
        beyond = entry.count - self.max_failures
        if beyond >= 0:
            # min() before the power would overflow after some 1000 failures.
            delay = self.base_delay * 2.0 ** min(beyond, 64)
            entry.blocked_until = now + min(delay, self.max_delay)
        self.entries[key] = entry
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    def forget(self, key: str) -> None:
        self.entries.pop(key, None)

    def expire(self, now: float) -> None:
        while self.entries:
            entry = next(iter(self.entries.values()))
            if not self._stale(entry, now):
                break
            self.entries.popitem(last=False)


class LoginThrottle:
    """
    Failed logins per account and per address.  After C{max_failures} failures
    (each within C{forget_after} of the one before), every further attempt is
    refused for C{base_delay} seconds, doubled at each further failure up to
    C{max_delay}.  A success forgets the account's failures but not the
    address's, or one account of one's own would reset the count while
    guessing the passwords of others.
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        *,
        address_max_failures: int | None = None,
        base_delay: float = BASE_DELAY,
        max_delay: float = MAX_DELAY,
        forget_after: float = FORGET_AFTER,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        if address_max_failures is None:
            address_max_failures = max_failures
        if max_failures < 1 or address_max_failures < 1:
            raise ValueError("a throttle needs at least one failure before it waits")
        if not 0 < base_delay <= max_delay <= forget_after:
            raise ValueError("0 < base_delay <= max_delay <= forget_after is required")
        if max_entries < 1:
            raise ValueError("a throttle needs room for at least one entry")
        self._accounts = _FailureTable(
            max_failures, base_delay, max_delay, forget_after, max_entries
        )
        self._addresses = _FailureTable(
            address_max_failures,
            base_delay,
            max_delay,
            forget_after,
            max_entries,
        )

    def __len__(self) -> int:
        """How many accounts and addresses are remembered."""
        return len(self._accounts.entries) + len(self._addresses.entries)

    def check(self, account: str, address: str, now: float) -> float:
        """0.0 when a login may be tried now; otherwise the seconds to wait."""
        return max(
            self._accounts.wait(fold(account), now),
            self._addresses.wait(address_key(address), now),
        )

    def failed(self, account: str, address: str, now: float) -> None:
        """A login to C{account} from C{address} failed (the account may not exist)."""
        self._accounts.failed(fold(account), now)
        self._addresses.failed(address_key(address), now)

    def succeeded(self, account: str, address: str, now: float) -> None:
        """A login to C{account} succeeded: its failures are forgotten."""
        self._accounts.forget(fold(account))
        self._accounts.expire(now)
        self._addresses.expire(now)


class RegistrationLimit:
    """Accounts registered per address (an IPv6 /64 as one) in the last hour."""

    def __init__(self, per_hour: int = 3, *, max_entries: int = MAX_ENTRIES) -> None:
        if per_hour < 1:
            raise ValueError("a registration limit of less than one per hour")
        if max_entries < 1:
            raise ValueError("a registration limit needs room for one entry")
        self.per_hour = per_hour
        self.max_entries = max_entries
        self._times: OrderedDict[str, deque[float]] = OrderedDict()

    def __len__(self) -> int:
        """How many addresses are remembered."""
        return len(self._times)

    def check(self, address: str, now: float) -> float:
        """0.0 when C{address} may register an account now; else the seconds to wait."""
        times = self._times.get(address_key(address))
        if times is None:
            return 0.0
        recent = [t for t in times if now - t < HOUR]
        if len(recent) < self.per_hour:
            return 0.0
        return recent[-self.per_hour] + HOUR - now

    def record(self, address: str, now: float) -> None:
        """C{address} registered an account at C{now}."""
        key = address_key(address)
        times = self._times.pop(key, None)
        if times is None or times.maxlen != self.per_hour:
            # (a reload may have changed the limit)
            times = deque(times or (), maxlen=self.per_hour)
        times.append(now)
        self._times[key] = times
        while self._times:
            oldest = next(iter(self._times.values()))
            if now - oldest[-1] < HOUR:
                break
            self._times.popitem(last=False)
        while len(self._times) > self.max_entries:
            self._times.popitem(last=False)

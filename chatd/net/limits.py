# -*- test-case-name: tests.test_limits -*-
"""
The limits that keep one client from costing everyone else: flood control
per connection and admission per address.

Like the core, this module knows nothing about sockets or reactors; time
reaches it as C{now} (seconds), and the wire adapters decide what a client
is told.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, NamedTuple, Union

if TYPE_CHECKING:
    from collections.abc import Iterable

Network = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]


class FloodLimit(NamedTuple):
    """
    Flood control settings: a client may do C{burst} costly things at once,
    then C{rate} per second; one that gets C{excess} of them ahead of that
    is disconnected.  A C{burst} of 0 turns flood control off.
    """

    burst: int = 10
    rate: float = 2.0
    excess: int = 20

    @property
    def enabled(self) -> bool:
        return self.burst > 0


DEFAULT_FLOOD = FloodLimit()


class Bucket:
    """
    A token bucket: it holds up to C{burst} tokens, gains C{rate} a second,
    and each costly command takes one per target.

    A command that finds too few tokens is refused (JSON) or delayed (IRC).
    A delayed command takes its tokens ahead of time, so the balance goes
    below zero and the next one waits behind it.  A refused command takes
    no tokens (nothing happened), so a client that comes back when told
    gets the configured rate exactly; instead its cost goes on a refusal
    debt that drains at C{rate} too, so a client that keeps sending without
    waiting falls further behind (L{behind}) until it is cut off.
    L{wait} says how long until a command of a given cost would be allowed.
    """

    __slots__ = ("burst", "debt", "rate", "stamp", "tokens")

    def __init__(self, limit: FloodLimit, now: float) -> None:
        self.burst = float(limit.burst)
        self.rate = limit.rate
        self.tokens = self.burst
        self.debt = 0.0
        self.stamp = now

    def _refill(self, now: float) -> float:
        if now > self.stamp:
            gained = (now - self.stamp) * self.rate
            self.tokens = min(self.burst, self.tokens + gained)
            if self.debt:
                self.debt = max(0.0, self.debt - gained)
            self.stamp = now
        return self.tokens

    def retune(self, limit: FloodLimit, now: float) -> None:
        """Go on at C{limit}'s burst and rate, keeping the tokens left."""
        self._refill(now)
        self.burst = float(limit.burst)
        self.rate = limit.rate
        self.tokens = min(self.tokens, self.burst)

    def cost(self, targets: int) -> float:
        """What a command with C{targets} targets costs: one each, at most a burst."""
        return float(min(max(targets, 1), self.burst))

    def wait(self, now: float, cost: float = 1.0) -> float:
        """Seconds until a command of C{cost} would be allowed (0: now)."""
        tokens = self._refill(now)
        if tokens >= cost:
            return 0.0
        return (cost - tokens) / self.rate

    def take(self, now: float, cost: float = 1.0) -> float:
        """
        Charge a command of C{cost} that runs only if it may run now.
        Returns 0 if it may, else the seconds to wait before trying again;
        then it is not charged, but its cost goes on the refusal debt.
        """
        wait = self.wait(now, cost)
        if wait:
            self.debt += cost
        else:
            self.tokens -= cost
        return wait

    def spend(self, now: float, cost: float = 1.0) -> None:
        """Charge a command that runs now, having waited for its turn."""
        self._refill(now)
        self.tokens -= cost

    def behind(self, now: float) -> float:
        """
        How many commands the client has sent beyond its allowance: those
        held for their turn and those refused and not yet waited out.
        """
        return max(0.0, -self._refill(now)) + self.debt


# -- admission per address ---------------------------------------------------


def address_key(host: str) -> str:
    """
    What connections are counted by: the address for IPv4, its /64 for
    IPv6 (one subscriber usually has a whole /64), and the host string for
    anything else (a UNIX socket).
    """
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped
        if mapped is not None:
            return str(mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


#: Where local connections come from: loopback (IPv4, IPv6, and IPv4 mapped
#: into IPv6).  L{is_local} also counts a UNIX socket's peer as local.
LOOPBACK: tuple[Network, ...] = (
    ipaddress.ip_network("127.0.0.0/8"),
    ipaddress.ip_network("::1/128"),
    ipaddress.ip_network("::ffff:127.0.0.0/104"),
)

#: The host the listeners give a UNIX socket's peer, which has no address.
UNIX_PEER = "localhost"


def is_local(host: str) -> bool:
    """
    Whether a connection from C{host} comes from this machine: a loopback
    address, or a UNIX socket (L{UNIX_PEER}).
    """
    if host == UNIX_PEER:
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return any(address in network for network in LOOPBACK)


def parse_networks(values: Iterable[str]) -> list[Network]:
    """
    C{values} as networks (C{10.0.0.0/8}, C{2001:db8::/32}, C{::1});
    ValueError if one is not.
    """
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values]


class AddressLimit(NamedTuple):
    """
    Admission settings: at most C{per_address} connections at once from
    one address (0: no limit) and C{connects} new ones per C{period}
    seconds (0: no limit), except from the C{exempt} networks and, unless
    C{exempt_loopback} is false, from this machine (L{is_local}: loopback and
    UNIX sockets), where bots, bouncers, proxies and test tools share one
    address.
    """

    per_address: int = 16
    connects: int = 32
    period: float = 60.0
    exempt: tuple[Network, ...] = ()
    exempt_loopback: bool = True


class Refusal(NamedTuple):
    """Why a connection was refused: a stable code and words for people."""

    code: str
    message: str


class _Address:
    __slots__ = ("bucket", "count", "last_refused", "refused")

    def __init__(self, bucket: Bucket | None) -> None:
        self.count = 0
        self.bucket = bucket
        #: refusals in the current burst, and when the last one was
        self.refused = 0
        self.last_refused = 0.0


class Gate:
    """
    Counts connections per address across every listener, and refuses
    those over the limits.  L{admit} and L{release} bracket a connection's
    life.

    Refusals are meant to be logged once per burst: L{admit} says whether a
    refusal is the first of a burst, and L{ended_bursts} returns how many
    more were refused from each address whose burst is over.
    """

    def __init__(self, limit: AddressLimit) -> None:
        self.limit = limit
        self._addresses: dict[str, _Address] = {}
        self._rate_limit = self._rate(limit)

    @staticmethod
    def _rate(limit: AddressLimit) -> FloodLimit | None:
        if limit.connects > 0 and limit.period > 0:
            return FloodLimit(limit.connects, limit.connects / limit.period, 0)
        return None

    def set_limit(self, limit: AddressLimit, now: float) -> None:
        """
        Go on under C{limit} (a config reload), keeping the connections
        counted and each address's place in its connection rate.
        """
        self.limit = limit
        rate = self._rate_limit = self._rate(limit)
        for state in self._addresses.values():
            if rate is None:
                state.bucket = None
            elif state.bucket is None:
                state.bucket = Bucket(rate, now)
            else:
                state.bucket.retune(rate, now)

    def exempt(self, host: str) -> bool:
        """Whether the per-address limits skip C{host}."""
        if self.limit.exempt_loopback and is_local(host):
            return True
        if not self.limit.exempt:
            return False
        try:
            address = ipaddress.ip_address(host.split("%", 1)[0])
        except ValueError:
            return False
        return any(address in network for network in self.limit.exempt)

    def admit(self, host: str, now: float) -> tuple[str, Refusal | None, bool]:
        """
        Let a connection from C{host} in or not.  Returns its key (for
        L{release}), the refusal or None, and whether the refusal is the
        first of a burst (worth a log line).
        """
        key = address_key(host)
        state = self._addresses.get(key)
        if state is None:
            rate = self._rate_limit
            state = self._addresses[key] = _Address(
                None if rate is None else Bucket(rate, now)
            )
        limit = self.limit
        refusal = None
        if self.exempt(host):
            pass
        elif limit.per_address and state.count >= limit.per_address:
            refusal = Refusal(
                "too_many_connections",
                f"too many connections from your address (at most "
                f"{limit.per_address} at once)",
            )
        elif state.bucket is not None:
            wait = state.bucket.wait(now)
            if wait:
                refusal = Refusal(
                    "connecting_too_fast",
                    f"too many new connections from your address (at most "
                    f"{limit.connects} per {_seconds(limit.period)}); try again "
                    f"in {max(1, round(wait))} s",
                )
            else:
                state.bucket.spend(now)
        if refusal is None:
            state.count += 1
            return key, None, False
        state.refused += 1
        state.last_refused = now
        return key, refusal, state.refused == 1

    def release(self, key: str) -> None:
        """A connection admitted under C{key} has closed."""
        state = self._addresses.get(key)
        if state is not None and state.count > 0:
            state.count -= 1

    def ended_bursts(self, now: float, quiet: float = 10.0) -> list[tuple[str, int]]:
        """
        Addresses that have had no refusal for C{quiet} seconds, with how
        many were refused in their burst after the first (which the caller
        logged already); also forgets addresses with nothing left to
        remember.  Call it every few seconds.
        """
        ended = []
        for key, state in list(self._addresses.items()):
            if state.refused and now - state.last_refused >= quiet:
                if state.refused > 1:
                    ended.append((key, state.refused - 1))
                state.refused = 0
            if state.count == 0 and state.refused == 0 and self._rested(state, now):
                del self._addresses[key]
        return ended

    @staticmethod
    def _rested(state: _Address, now: float) -> bool:
        bucket = state.bucket
        return bucket is None or bucket.wait(now, bucket.burst) == 0

    def connections(self, host: str) -> int:
        """How many connections count against C{host}'s address now."""
        state = self._addresses.get(address_key(host))
        return 0 if state is None else state.count

    def __len__(self) -> int:
        """How many addresses are remembered (for tests: memory stays bounded)."""
        return len(self._addresses)


def _seconds(period: float) -> str:
    if period == 60:
        return "minute"
    if period == int(period):
        return f"{int(period)} s"
    return f"{period} s"


__all__ = [
    "DEFAULT_FLOOD",
    "LOOPBACK",
    "UNIX_PEER",
    "AddressLimit",
    "Bucket",
    "FloodLimit",
    "Gate",
    "Refusal",
    "address_key",
    "is_local",
    "parse_networks",
]

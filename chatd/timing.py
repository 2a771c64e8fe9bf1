# -*- test-case-name: tests.web.test_metrics -*-
"""
Durations kept as plain counts for the metrics to read when scraped
(L{chatd.web.metrics}), and the reactor's lag: how late a timer that
should fire every second fires, which is how long the reactor was busy
with something else (a long batch of work, a blocking call, the GIL held
by a thread).

Nothing here knows Prometheus: the store records its transactions in a
L{Durations} without importing it.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

from twisted.application.service import Service
from twisted.internet.interfaces import IDelayedCall, IReactorTime

#: Upper bounds (seconds) of the buckets durations are counted in:
#: Prometheus's usual ones, from a millisecond to ten seconds.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Durations:
    """
    A histogram in integers: how many durations fell in each bucket (not
    cumulative; the last is the overflow), their count and their sum.
    """

    __slots__ = ("bounds", "count", "counts", "total")

    def __init__(self, bounds: tuple[float, ...] = BUCKETS) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.count = 0
        self.total = 0.0

    def add(self, seconds: float) -> None:
        """Count one duration."""
        self.counts[bisect_left(self.bounds, seconds)] += 1
        self.count += 1
        self.total += seconds

    def cumulative(self) -> list[tuple[str, int]]:
        """
        The buckets as Prometheus writes them: (upper bound, count of
        durations at most that), ending with C{+Inf}.
        """
        found = []
        running = 0
        for bound, count in zip((*self.bounds, float("inf")), self.counts):
            running += count
            found.append(("+Inf" if bound == float("inf") else repr(bound), running))
        return found


#: How often the reactor's lag is measured (seconds).
LAG_INTERVAL = 1.0


class ReactorLag(Service):
    """
    Every L{LAG_INTERVAL} seconds, how late the timer fired: C{latest} is
    the last lag seen, C{durations} all of them.

    A timer set anew each time (rather than a L{LoopingCall}, which keeps
    to a grid and skips the calls missed) knows exactly when it was due.
    """

    name = "reactor-lag"

    def __init__(self, clock: IReactorTime, interval: float = LAG_INTERVAL) -> None:
        self.clock = clock
        self.interval = interval
        #: the lag last measured (seconds)
        self.latest = 0.0
        self.durations = Durations()
        self._due = 0.0
        self._call: IDelayedCall | None = None

    def startService(self) -> None:
        super().startService()
        self._schedule()

    def stopService(self) -> Any:
        super().stopService()
        call, self._call = self._call, None
        if call is not None and call.active():
            call.cancel()
        return None

    def _schedule(self) -> None:
        self._due = self.clock.seconds() + self.interval
        self._call = self.clock.callLater(self.interval, self._fired)

    def _fired(self) -> None:
        lag = max(0.0, self.clock.seconds() - self._due)
        self.latest = lag
        self.durations.add(lag)
        self._schedule()


__all__ = ["BUCKETS", "LAG_INTERVAL", "Durations", "ReactorLag"]

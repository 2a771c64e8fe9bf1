# -*- test-case-name: tests.test_service -*-
"""
Giving the C heap's freed memory back to the system after a crowd leaves.

glibc keeps what CPython frees in its heap for reuse and hands little of it
back by itself, because a few live blocks are scattered among the free
pages.  After 2000 soak clients had come and gone, chatd's RSS stayed some
60 MiB above its start while glibc counted about 1 MiB more in use than
before; C{malloc_trim} gave it all back in about 3 ms.
"""

from __future__ import annotations

import ctypes
from typing import Callable

from twisted.internet.interfaces import IReactorTime
from twisted.internet.task import LoopingCall

from chatd.log import logger

log = logger(__name__)

#: How often the number of connections is looked at.
TRIM_INTERVAL = 10.0
#: Trim once at least this many connections (and a quarter of the most
#: there were since the last trim) have gone.
MIN_DROP = 64


def malloc_trim() -> Callable[[], object] | None:
    """
    glibc's C{malloc_trim(0)}, which gives every free page of the C heap
    back to the system, or None where there is none (musl, macOS).
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return lambda: trim(0)


class MemoryTrim:
    """
    Trims the heap when the number of connections has fallen well below
    its peak since the last trim: that is when much memory has been freed
    (each connection's buffers), and not so often that trimming costs
    anything (a few milliseconds, after a crowd has left).
    """

    def __init__(
        self,
        count: Callable[[], int],
        trim: Callable[[], object],
        clock: IReactorTime,
    ) -> None:
        self.count = count
        self.trim = trim
        self.peak = 0
        self.trims = 0
        self._loop = LoopingCall(self.check)
        self._loop.clock = clock

    def start(self) -> None:
        self._loop.start(TRIM_INTERVAL, now=False)

    def stop(self) -> None:
        if self._loop.running:
            self._loop.stop()

    def check(self) -> None:
        now = self.count()
        if now >= self.peak:
            self.peak = now
            return
        if self.peak - now >= max(MIN_DROP, self.peak // 4):
            log.debug(
                "{gone} connections gone since the peak; trimming the heap",
                gone=self.peak - now,
            )
            self.trim()
            self.trims += 1
            self.peak = now


__all__ = ["MIN_DROP", "TRIM_INTERVAL", "MemoryTrim", "malloc_trim"]

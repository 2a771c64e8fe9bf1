# -*- test-case-name: tests.test_codec,tests.test_irc -*-
"""Times as every wire format shows them."""

from __future__ import annotations

import time


def format_time(seconds: float) -> str:
    """
    C{seconds} since the epoch as UTC ISO 8601 with milliseconds
    (C{2026-11-24T10:00:00.123Z}): cut, not rounded, to the millisecond, so
    a message has one time whichever wire it is read on.
    """
    millis = int(seconds * 1000)
    whole, ms = divmod(millis, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{ms:03d}Z"


__all__ = ["format_time"]

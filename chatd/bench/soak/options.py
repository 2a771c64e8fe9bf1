# -*- test-case-name: tests.test_bench -*-
"""
What a soak is made of: its options, its channels, the roles' shares of
--clients, and the budgets every role keeps to.
"""

from __future__ import annotations

from dataclasses import dataclass

from chatd.bench.load import BenchError

#: The channel whose every message is checked.
CHANNEL = "#soak"
#: Other channels talkers join, leave and chatter in.
ROOMS = tuple(f"#room{i}" for i in range(8))

MIN_CLIENTS = 20
MAX_CLIENTS = 2000
MAX_DURATION = 600.0

#: Each role's share of --clients, and the fewest of it.
SHARES = {
    "reader": (0.15, 2),
    "talker": (0.42, 4),
    "flooder": (0.07, 2),
    "never_reader": (0.05, 4),
    "garbage": (0.10, 2),
    "silent": (0.07, 2),
    "storm": (0.14, 20),
}
ROLES = tuple(SHARES)
ROLE_NAMES = {
    "reader": "readers",
    "talker": "talkers",
    "flooder": "flooders",
    "never_reader": "never-readers",
    "garbage": "garbage senders",
    "silent": "silent registrants",
    "storm": "storm (one address)",
}
#: A storm wave must be bigger than chatd's default --max-per-ip (16).
STORM_MIN = SHARES["storm"][1]

#: Deliveries a second this process can read and check at ease: the rate
#: of messages to #soak is capped at this divided by its members.
DELIVERY_BUDGET = 25000.0

#: Readers and never-readers send something this often, so the idle reaper
#: (180 s by default) leaves them alone on long runs.
KEEPALIVE = 30.0


def role_counts(clients: int) -> dict[str, int]:
    """How many of C{clients} play each role (the storm at least L{STORM_MIN})."""
    counts = {
        role: max(least, round(share * clients))
        for role, (share, least) in SHARES.items()
        if role != "talker"
    }
    storm_share = round(SHARES["storm"][0] * clients)
    others = sum(n for role, n in counts.items() if role != "storm")
    counts["talker"] = max(SHARES["talker"][1], clients - others - storm_share)
    return {role: counts[role] for role in ROLES}


@dataclass
class Options:
    """What C{chatd-bench soak} was asked for."""

    clients: int = 300
    duration: float = 60.0
    seed: int = 1
    register_timeout: float = 5.0
    max_sendq: str | None = None


def sendq_bytes(text: str) -> int:
    """Bytes in C{1M}, C{512K}, C{1048576} (as chatd's --max-sendq reads them)."""
    units = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}
    value = text.strip().lower()
    digits = value.rstrip("kmib")
    try:
        return int(digits) * units[value[len(digits) :]]
    except (ValueError, KeyError):
        raise BenchError(f"--max-sendq {text!r} is not a size such as 1M") from None

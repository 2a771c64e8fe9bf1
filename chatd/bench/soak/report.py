# -*- test-case-name: tests.test_bench -*-
"""
What a soak reports: its result (a JSON line of chatd-bench's results) and
the table and checks it prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chatd.bench.soak.checks import Check
from chatd.bench.soak.options import ROLE_NAMES, ROLES

if TYPE_CHECKING:
    from chatd.bench.soak.records import Records


def result(
    rec: Records,
    server: str,
    interpreter: str,
    checks: list[Check],
    log_text: str,
) -> dict[str, Any]:
    """The run's result, with every check."""
    options = rec.options
    ok = all(c.status != "FAILED" for c in checks)
    return {
        "scenario": "soak",
        "server": server,
        "interpreter": interpreter,
        "proto": "json+irc",
        "clients": options.clients,
        "duration": options.duration,
        "seed": options.seed,
        "register_timeout": options.register_timeout,
        "max_sendq": options.max_sendq,
        "counts": rec.counts,
        "checks": [c.__dict__ for c in checks],
        "check_ok": ok,
        "check": "ok" if ok else "FAILED",
        "roles": role_rows(rec),
        "rss_before_kib": rec.rss.get("before", 0) // 1024,
        "rss_after_kib": rec.rss.get("after", 0) // 1024 or None,
        "rss_peak_kib": rec.rss.get("peak", 0) // 1024 or None,
        "server_cpu": rec.state.get("server_cpu"),
        "generator_cpu": rec.state.get("generator_cpu"),
        "messages_ok": sum(len(s.confirmed) for s in rec.streams.values()),
        "lines_in": rec.lines_in,
        "state": rec.state.get("after"),
        "server_log_tail": log_text[-3000:] if not ok else "",
        "malformed": dict(rec.malformed_kinds),
        "malformed_samples": rec.malformed_samples,
    }


def role_rows(rec: Records) -> list[dict[str, Any]]:
    """Each role's figures, by protocol."""
    rows = []
    for role in ROLES:
        for proto in ("json", "irc"):
            c = rec.stats.get((role, proto))
            if not c or not c["sessions"]:
                continue
            rows.append(
                {
                    "role": role,
                    "proto": proto,
                    "connections": c["sessions"],
                    "msgs_ok": c["msgs_ok"],
                    "received": c["received"],
                    "rate_limited": c["rate_limited"],
                    "slowed": c["flood_notices"],
                    "flood": c["bye:flood"],
                    "sendq": c["sendq_drops"],
                    "register_timeout": c["bye:register_timeout"],
                    "refused": c["bye:too_many_connections"]
                    + c["bye:connecting_too_fast"],
                    "line_too_long": c["bye:line_too_long"],
                    "errors": c["errors"],
                    "resets": c["resets"],
                    "surprises": c["surprises"],
                    "all": dict(c),
                }
            )
    return rows


COLUMNS = (
    ("connections", "conns"),
    ("msgs_ok", "msgs ok"),
    ("received", "received"),
    ("rate_limited", "rate_limited"),
    ("slowed", "slowed"),
    ("flood", "flood"),
    ("sendq", "sendq"),
    ("register_timeout", "reg timeout"),
    ("refused", "refused"),
    ("line_too_long", "too long"),
    ("errors", "errors"),
    ("resets", "resets"),
)


def summary(result: dict[str, Any]) -> str:
    """The per-role table and the checks, as printed."""
    head = f"{'role':<26}" + "".join(f"{label:>13}" for _, label in COLUMNS)
    lines = ["", head, "-" * len(head)]
    for row in result["roles"]:
        name = f"{ROLE_NAMES[row['role']].split(' (')[0]} ({row['proto'].upper()})"
        lines.append(f"{name:<26}" + "".join(f"{row[key]:>13,}" for key, _ in COLUMNS))
    lines.append("")
    lines.append("checks:")
    lines.extend(Check(**c).line() for c in result["checks"])
    failed = sum(1 for c in result["checks"] if c["status"] == "FAILED")
    lines.append(
        "soak passed"
        if not failed
        else f"soak FAILED ({failed} of {len(result['checks'])} checks)"
    )
    return "\n".join(lines)

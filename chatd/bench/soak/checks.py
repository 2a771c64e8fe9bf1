# -*- test-case-name: tests.test_bench -*-
"""
The soak's verdict: each check a function over a run's L{Records}, ok on
clean records and FAILED on the fault it is there to see (C{verdict} runs
them all, in order), and the two bookkeeping checks they build on:
L{check_deliveries} (what receivers got of the numbered streams) and
L{check_acks} (whether the server answered every numbered message).
"""

from __future__ import annotations

import signal
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from chatd.bench import servers
from chatd.bench.soak.abusers import ASK_RATE
from chatd.bench.soak.options import CHANNEL, sendq_bytes
from chatd.bench.soak.records import Stream

if TYPE_CHECKING:
    from chatd.bench.soak.records import Records

#: Memory "back near its start": within this much of the first figure...
MEMORY_SLACK = 16 << 20
#: ... or this fraction of it, whichever is more (see docs/security.md) ...
MEMORY_FRACTION = 0.25
#: ... or on PyPy this one: its GC collects the old generation only once the
#: heap has grown 1.82-fold (PYPY_GC_MAJOR_COLLECT), and the JIT keeps what
#: it compiled, so there RSS can only show a gross leak.
MEMORY_FRACTION_PYPY = 1.0


@dataclass
class Delivery:
    """What some receivers got of the streams, against what was confirmed."""

    receivers: int = 0
    confirmed: int = 0
    expected: int = 0
    delivered: int = 0
    lost: int = 0
    duplicated: int = 0
    reordered: int = 0
    refused_delivered: int = 0
    never_sent: int = 0
    unconfirmed: int = 0

    @property
    def ok(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.reordered
            or self.refused_delivered
            or self.never_sent
        )

    def problems(self) -> str:
        return (
            f"{self.lost:,} lost, {self.duplicated:,} duplicated, "
            f"{self.reordered:,} out of order, {self.refused_delivered:,} refused "
            f"ones delivered, {self.never_sent:,} never sent"
        )


def check_deliveries(
    streams: dict[int, Stream],
    received: Iterable[Mapping[int, Sequence[int]]],
    complete: bool,
) -> Delivery:
    """
    Compare what each receiver got (stream -> sequence numbers in arrival
    order) with what was sent.  Every receiver must get each stream in
    order, nothing twice, nothing that was refused or never sent; with
    C{complete} (receivers that were members all along), also every
    confirmed message.
    """
    d = Delivery()
    for got in received:
        d.receivers += 1
        for sid, seqs in got.items():
            stream = streams.get(sid)
            if stream is None:
                d.never_sent += len(seqs)
                continue
            seen: set[int] = set()
            last = -1
            for seq in seqs:
                if seq in seen:
                    d.duplicated += 1
                    continue
                seen.add(seq)
                if seq < last:
                    d.reordered += 1
                else:
                    last = seq
                if seq in stream.refused:
                    d.refused_delivered += 1
                elif seq not in stream.sent:
                    d.never_sent += 1
                elif seq in stream.confirmed:
                    d.delivered += 1
                else:
                    d.unconfirmed += 1
        if complete:
            for sid, stream in streams.items():
                d.expected += len(stream.confirmed)
                have = set(got.get(sid, ()))
                d.lost += len(stream.confirmed - have)
    d.confirmed = sum(len(s.confirmed) for s in streams.values())
    return d


#: Error replies an honest client may get, and why: what it asks about may
#: have just gone.  Any other error to a reader or talker fails the run.
HONEST_ERRORS = {
    "no_such_nick": "a private message or WHOIS to someone who has just left",
    "was_no_such_nick": "WHOWAS for a nick that never left",
    "no_such_channel": "a question about a room nobody is in",
    "nick_in_use": "a nick someone has (talkers try that on purpose)",
    "not_channel_operator": "a topic set in a room the talker did not create (+t)",
}


@dataclass
class Acks:
    """Whether the server answered every numbered message it was sent."""

    streams: int = 0
    sent: int = 0
    acked: int = 0
    refused: int = 0
    #: unanswered after the connection was reset by us: may never come
    cut_short: int = 0
    #: unanswered although a later message of the stream was answered, or
    #: the connection ended without our reset
    unanswered: int = 0
    samples: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unanswered


def check_acks(streams: Iterable[Stream]) -> Acks:
    """
    Every message written must have been answered, in order: with an C{ok}
    or a C{rate_limited} refusal (JSON), with its echo (IRC, whose
    C{echo-message} is the only sign the server took it).  A reply comes
    after the replies to everything written before, so only the last few
    of a stream may go unanswered, and only if we reset its connection.
    """
    a = Acks()
    for stream in streams:
        a.streams += 1
        a.sent += len(stream.sent)
        a.acked += len(stream.confirmed)
        a.refused += len(stream.refused)
        answered = stream.confirmed | stream.refused
        last = max(answered, default=-1)
        for seq in stream.sent:
            if seq in answered:
                continue
            if stream.reset and seq > last:
                a.cut_short += 1
            else:
                a.unanswered += 1
                if len(a.samples) < 3:
                    a.samples.append(f"{stream.proto} {stream.role} S{stream.id} {seq}")
    return a


@dataclass
class Check:
    """One line of the verdict."""

    name: str
    status: str  # "ok", "FAILED" or "note"
    detail: str

    def line(self) -> str:
        return f"  {self.status:<7} {self.name}: {self.detail}"


def verdict(rec: Records, log_text: str | None, exit_code: int | None) -> list[Check]:
    """Every check, in the order they are printed."""
    out = [
        delivery(rec),
        other_members(rec),
        integrity(rec),
        honest_clients(rec),
        honest_errors(rec),
        acks(rec),
        connections(rec),
        flood_control(rec),
        sendq(rec),
        registration_timeout(rec),
        per_address_limits(rec),
        garbage(rec),
        endings(rec),
        output(rec),
        state(rec),
        memory(rec),
        server_alive(rec),
    ]
    log = server_log(log_text, exit_code)
    if log is not None:
        out.append(log)
    return out + generator(rec)


def _check(name: str, good: bool | None, detail: str) -> Check:
    return Check(name, "note" if good is None else "ok" if good else "FAILED", detail)


def _expect(name: str, met: bool, possible: bool, clean: bool, what: str) -> Check:
    """A limit must be met, unless the run was too short to expect it."""
    if met or possible or not clean:
        return _check(name, met and clean, what)
    return _check(name, None, what + " (the run was too short to expect it)")


def _totals(rec: Records) -> Counter[str]:
    totals: Counter[str] = Counter()
    for counter in rec.stats.values():
        totals.update(counter)
    return totals


def _by_role(rec: Records, role: str) -> Counter[str]:
    c: Counter[str] = Counter()
    for (r, _), counter in rec.stats.items():
        if r == role:
            c.update(counter)
    return c


def _span(rec: Records) -> float:
    """How long the load lasted (the abusers' limits need time to bite)."""
    return rec.timeline.get("stop", 0.0) - rec.timeline.get("load", 0.0)


def delivery(rec: Records) -> Check:
    """Every confirmed message reached every reader, once and in order."""
    d = check_deliveries(rec.streams, (r.received for r in rec.readers), True)
    lost_readers = rec.readers_lost
    good = d.ok and not lost_readers and rec.state.get("synced", False)
    detail = (
        f"{d.confirmed:,} messages to {CHANNEL} got an ok; {d.delivered:,} of "
        f"{d.expected:,} deliveries to {d.receivers} readers arrived "
        f"({d.problems()}; {d.unconfirmed:,} unconfirmed ones arrived too)"
    )
    if lost_readers:
        detail += f"; readers dropped: {', '.join(lost_readers[:5])}"
    if not rec.state.get("synced", False):
        detail += "; the readers did not all sync at the end"
    return _check("delivery", good and d.confirmed > 0, detail)


def other_members(rec: Records) -> Check:
    """Other members of #soak got nothing twice, out of order, refused or unsent."""
    m = check_deliveries(rec.streams, (s.received for s in rec.other_members), False)
    return _check(
        "other members",
        m.ok,
        f"{m.receivers:,} other members of {CHANNEL} got "
        f"{m.delivered + m.unconfirmed:,} messages: {m.duplicated:,} twice, "
        f"{m.reordered:,} out of order, "
        f"{m.refused_delivered:,} refused ones, {m.never_sent:,} never sent",
    )


def integrity(rec: Records) -> Check:
    """Every message to #soak arrived as it was sent."""
    totals = _totals(rec)
    return _check(
        "integrity",
        rec.corrupt == 0,
        f"{totals['received']:,} messages read whole, {rec.corrupt:,} altered"
        + (f" (e.g. {rec.corrupt_samples[0]})" if rec.corrupt_samples else ""),
    )


def honest_clients(rec: Records) -> Check:
    """Readers and talkers were never refused or disconnected."""
    honest_surprises = [
        s for s in rec.surprises if s.split(" ", 1)[0] in ("reader", "talker")
    ]
    readers, talkers = _by_role(rec, "reader"), _by_role(rec, "talker")
    honest_count = readers["surprises"] + talkers["surprises"]
    cut_off = readers["cut_off"] + talkers["cut_off"]
    return _check(
        "honest clients",
        honest_count == 0 and rec.retry_broken == 0 and cut_off == 0,
        f"readers and talkers were never refused or disconnected by the server "
        f"({honest_count} were; {cut_off} reset mid-line); JSON talkers were "
        "rate_limited "
        f"{talkers['rate_limited']:,} times and waiting retry_after let them "
        f"through {talkers['retried'] - rec.retry_broken:,} of "
        f"{talkers['retried']:,} times; IRC talkers were slowed down "
        f"{talkers['flood_notices']:,} times"
        + (f"; e.g. {honest_surprises[0]}" if honest_surprises else ""),
    )


def honest_errors(rec: Records) -> Check:
    """Readers and talkers got no error they should not."""
    readers, talkers = _by_role(rec, "reader"), _by_role(rec, "talker")
    errors = readers + talkers
    codes = Counter(
        {key[6:]: n for key, n in errors.items() if key.startswith("error:") and n}
    )
    wrong = {code: n for code, n in codes.items() if code not in HONEST_ERRORS}
    return _check(
        "honest errors",
        not wrong,
        f"readers and talkers got {sum(codes.values()):,} error replies"
        + "".join(f", {n:,} {code}" for code, n in codes.most_common())
        + (
            "; none they should not (only "
            + ", ".join(HONEST_ERRORS)
            + ": what they ask about may have just gone)"
            if not wrong
            else "; " + ", ".join(sorted(wrong)) + " should never reach them"
        ),
    )


def acks(rec: Records) -> Check:
    """The server answered every talker's message, and nothing else."""
    honest_streams = [
        st for st in rec.streams.values() if st.role in ("reader", "talker")
    ]
    answers = {
        proto: check_acks(st for st in honest_streams if st.proto == proto)
        for proto in ("json", "irc")
    }
    bogus = rec.symptoms["bogus_ack"]
    return _check(
        "acks",
        all(a.ok for a in answers.values()) and not bogus,
        f"of talkers' messages to {CHANNEL}, JSON: {answers['json'].acked:,} of "
        f"{answers['json'].sent:,} got an ok and {answers['json'].refused:,} "
        f"rate_limited; IRC: {answers['irc'].acked:,} of {answers['irc'].sent:,} "
        "were echoed; "
        f"{sum(a.cut_short for a in answers.values()):,} went unanswered "
        f"because we reset the connection, "
        f"{sum(a.unanswered for a in answers.values()):,} otherwise"
        + "".join(
            f" (e.g. {', '.join(a.samples)})" for a in answers.values() if a.samples
        )
        + f"; {bogus:,} oks or echoes for messages never sent"
        + (f" (e.g. {', '.join(rec.symptom_samples['bogus_ack'])})" if bogus else ""),
    )


def connections(rec: Records) -> Check:
    """Every client could connect, and all had gone after the end."""
    totals = _totals(rec)
    failed_connects = rec.symptoms["connect"]
    not_gone = rec.symptoms["not_gone"]
    return _check(
        "connections",
        not failed_connects and not not_gone,
        f"{totals['sessions']:,} connections made, {failed_connects:,} refused "
        f"or timed out"
        + (f" (e.g. {rec.symptom_samples['connect'][0]})" if failed_connects else "")
        + f"; {not_gone:,} clients still connected 20 s after the end"
        + (f" (e.g. {rec.symptom_samples['not_gone'][0]})" if not_gone else ""),
    )


def flood_control(rec: Records) -> Check:
    """Flooders were disconnected for it."""
    span = _span(rec)
    flooders = _by_role(rec, "flooder")
    return _expect(
        "flood control",
        flooders["bye:flood"] > 0,
        span >= 5.0,
        flooders["surprises"] == 0,
        f"{flooders['floods']:,} floods, {flooders['bye:flood']:,} flood "
        f"disconnects, {flooders['rate_limited']:,} rate_limited replies "
        f"and {flooders['flood_notices']:,} IRC slow-down notices on the way",
    )


def sendq(rec: Records) -> Check:
    """Never-readers were dropped once their SendQ filled."""
    span = _span(rec)
    never = _by_role(rec, "never_reader")
    passive_undropped = [b for a, b in rec.undropped if not a]
    max_sendq = rec.options.max_sendq or "1M"
    detail = (
        f"{never['sendq_drops_active']:,} of {never['active']:,} active "
        f"never-readers and {never['sendq_drops_passive']:,} of "
        f"{never['passive']:,} passive "
        f"ones were dropped with SendQ exceeded (--max-sendq {max_sendq})"
    )
    if passive_undropped:
        detail += (
            f"; {len(passive_undropped)} passive ones were still there at the end, "
            f"{max(passive_undropped) / 2**10:,.0f} KiB of #soak text having "
            "been sent to them at most"
        )
    # an active never-reader asks for about ASK_RATE bytes a second, and
    # the kernel's buffers take the first few MiB of them
    needed = 4.0 + (sendq_bytes(max_sendq) + _wmem_max() + (512 << 10)) / ASK_RATE
    return _expect(
        "sendq",
        never["sendq_drops_active"] > 0,
        span >= needed,
        never["surprises"] == 0,
        detail,
    )


def registration_timeout(rec: Records) -> Check:
    """Silent registrants were closed in time."""
    span = _span(rec)
    silent = _by_role(rec, "silent")
    senders = _by_role(rec, "garbage")
    delays = rec.register_delays
    T = rec.register_timeout
    # the server looks once a second; and a busy generator sees the
    # connection, and the goodbye, late
    earliest, latest = T - 0.1 - rec.lag, T + 3.0 + rec.lag
    late = [x for x in delays if not earliest <= x <= latest]
    return _expect(
        "registration timeout",
        silent["bye:register_timeout"] > 0,
        span >= T + 4.0,
        not late and silent["surprises"] == 0,
        f"{silent['bye:register_timeout']:,} silent registrants (and "
        f"{senders['bye:register_timeout']:,} garbage senders) were closed with "
        f"register_timeout, "
        + (f"after {min(delays):.1f}-{max(delays):.1f} s" if delays else "never")
        + f" (--register-timeout {T:g}"
        + (f"; this generator ran up to {rec.lag:.1f} s late" if rec.lag >= 0.1 else "")
        + ")"
        + (f"; {len(late)} outside {earliest:.1f}-{latest:.1f} s" if late else ""),
    )


def per_address_limits(rec: Records) -> Check:
    """The storm met the per-address limits, and nobody else did."""
    span = _span(rec)
    storm = _by_role(rec, "storm")
    refused = storm["bye:too_many_connections"] + storm["bye:connecting_too_fast"]
    elsewhere = sum(
        c["bye:too_many_connections"] + c["bye:connecting_too_fast"]
        for (role, _), c in rec.stats.items()
        if role != "storm"
    )
    return _expect(
        "per-address limits",
        storm["bye:too_many_connections"] > 0
        and (storm["bye:connecting_too_fast"] > 0 or span < 8.0),
        span >= 3.0,
        storm["surprises"] == 0 and elsewhere == 0,
        f"the storm made {storm['sessions']:,} connections from one address in "
        f"waves of {rec.counts['storm']}: {storm['registered']:,} got in, "
        f"{storm['bye:too_many_connections']:,} too_many_connections, "
        f"{storm['bye:connecting_too_fast']:,} connecting_too_fast "
        f"({refused:,} refusals); {elsewhere} refusals from the other addresses",
    )


def garbage(rec: Records) -> Check:
    """Garbage senders met nothing but errors and their limits."""
    senders = _by_role(rec, "garbage")
    return _check(
        "garbage",
        senders["surprises"] == 0,
        f"{senders['sessions']:,} garbage connections got "
        f"{senders['errors']:,} error replies, "
        f"{senders['bye:line_too_long']:,} line_too_long, "
        f"{senders['bye:flood']:,} flood disconnects; nothing else",
    )


def endings(rec: Records) -> Check:
    """Every connection ended as its role expects."""
    return _check(
        "endings",
        rec.surprise_count == 0,
        "every connection ended as its role expects"
        if not rec.surprises
        else f"{rec.surprise_count} did not, e.g. " + "; ".join(rec.surprises[:3]),
    )


def output(rec: Records) -> Check:
    """Every line the server wrote was well formed."""
    return _check(
        "output",
        rec.malformed_lines == 0 and rec.internal_errors == 0,
        f"{rec.lines_in:,} lines ({rec.bytes_in / 2**20:,.1f} MiB) from the "
        f"server, {rec.malformed_lines} malformed, "
        f"{rec.internal_errors} internal errors"
        + "".join(f"; {n:,} x {kind}" for kind, n in rec.malformed_kinds.most_common(4))
        + (
            f" (e.g. {', '.join(rec.malformed_samples[:2])})"
            if rec.malformed_samples
            else ""
        )
        + (
            f"; {rec.cut_off} connections reset by the server mid-line"
            " (not read for the linger)"
            if rec.cut_off
            else ""
        ),
    )


def state(rec: Records) -> Check:
    """Afterwards a fresh client finds the server empty."""
    after = rec.state.get("after", {})
    good_state = (
        after.get("json_channels") == []
        and after.get("irc_channels") == []
        and after.get("users") == 1
        and not after.get("unregistered")
        and after.get("online") == []
    )
    return _check(
        "state",
        good_state,
        f"afterwards a fresh client saw channels {after.get('json_channels')}, "
        f"{after.get('users')} user(s) (itself), "
        f"{after.get('unregistered')} unregistered, and of the "
        f"{after.get('nicks_checked', 0):,} nicks used "
        f"{len(after.get('online') or [])} still taken"
        + (
            f" ({', '.join((after.get('online') or [])[:5])})"
            if after.get("online")
            else ""
        ),
    )


def memory(rec: Records) -> Check:
    """The server's memory went back near where it started."""
    before, now_ = rec.rss.get("before"), rec.rss.get("after")
    if before and now_:
        fraction = MEMORY_FRACTION_PYPY if rec.pypy else MEMORY_FRACTION
        limit = max(MEMORY_SLACK, fraction * before)
        grew = now_ - before
        return _check(
            "memory",
            grew <= limit,
            f"server RSS {before / 2**20:.1f} MiB before the load, "
            f"{now_ / 2**20:.1f} MiB after it ({grew / 2**20:+.1f} MiB; at most "
            f"+{limit / 2**20:.1f} MiB allowed), peak "
            f"{rec.rss.get('peak', 0) / 2**20:.1f} MiB",
        )
    else:
        return _check("memory", False, "no RSS figure after the run")


def server_alive(rec: Records) -> Check:
    """The server ran throughout."""
    return _check(
        "server alive",
        rec.server_dead is None,
        rec.server_dead or "the server ran throughout",
    )


def server_log(log_text: str | None, exit_code: int | None) -> Check | None:
    """Its log has no trouble, and it stopped cleanly (None without a log)."""
    if log_text is None:
        return None
    bad = {k: log_text.count(k) for k in servers.TROUBLE}
    stopped = "chatd stopped" in log_text
    found = [f"{n} x {k!r}" for k, n in bad.items() if n]
    first = servers.first_trouble(log_text)
    return _check(
        "server log",
        not found and stopped and exit_code in (0, -signal.SIGTERM),
        (
            "no inconsistent state, no traceback, nothing unhandled"
            if not found
            else "found " + ", ".join(found) + (f": {first}" if first else "")
        )
        + (
            f"; stopped with exit status {exit_code}"
            + (", saying 'chatd stopped'" if stopped else ", WITHOUT 'chatd stopped'")
        ),
    )


def generator(rec: Records) -> list[Check]:
    """This generator's own errors (which fail the run) and notes."""
    out: list[Check] = []
    if rec.bench_errors:
        out.append(_check("generator", False, "; ".join(rec.bench_errors[:2])[:2000]))
    for note in rec.notes:
        out.append(_check("generator", None, note))
    return out


def _wmem_max() -> int:
    """The most a TCP socket's send buffer grows to (net.ipv4.tcp_wmem)."""
    try:
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            return int(f.read().split()[2])
    except (OSError, ValueError, IndexError):
        return 4 << 20

# -*- test-case-name: tests.test_bench -*-
"""
C{chatd-bench}: run one scenario against a server, or compare servers.

Every run prints a table and appends one JSON object per result to the
results file (C{bench-results.jsonl} unless C{--results} says otherwise).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable

from chatd.bench import load, servers, soak
from chatd.bench.load import BenchError, Target
from chatd.bench.soak.options import MAX_CLIENTS, MAX_DURATION, MIN_CLIENTS, STORM_MIN

Result = dict[str, Any]


def _target(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host.strip("[]") or "127.0.0.1", int(port)


def _rate(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a number of deliveries/s or 'max'"
        ) from None
    if value <= 0:
        raise argparse.ArgumentTypeError("the rate must be positive")
    return value


def _bounded(kind: type, low: float, high: float) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be {low:g} to {high:g}")
        return value

    return parse


def _python(text: str) -> tuple[str, str]:
    label, sep, path = text.partition("=")
    if not sep:
        path, label = text, Path(text).name
    return label, _interpreter(path)


def _interpreter(path: str) -> str:
    """
    An absolute path, since servers start in a directory of their own;
    not resolved, so a virtual environment's C{bin/python} link stays one.
    """
    return os.path.abspath(path)


def _add_target(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        type=_target,
        help="HOST:PORT of a running server; without it chatd is started "
        "on loopback (with --python) and stopped afterwards",
    )
    p.add_argument(
        "--proto",
        choices=tuple(load.PROTOCOLS),
        default="irc",
        help="irc and json: lines over TCP; ws: IRC over WebSocket "
        "(text.ircv3.net), ws-json: JSON over WebSocket, on chatd's web "
        "listener (a started chatd gets one)",
    )
    p.add_argument(
        "--ws-path",
        help="with --target and a WebSocket --proto: the path to upgrade "
        "(default: / for ws, /json for ws-json)",
    )
    p.add_argument(
        "--server-pid",
        type=int,
        help="pid of the --target server: pins it, and reports its CPU and memory",
    )
    p.add_argument(
        "--python",
        type=_interpreter,
        default=sys.executable,
        help="Python to run chatd with when there is no --target",
    )
    p.add_argument(
        "--history",
        choices=("on", "off"),
        default="on",
        help="whether the chatd started keeps history (on, its default, in "
        "a fresh SQLite file; off: --no-history)",
    )
    _add_common(p)


def _add_common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--results",
        default="bench-results.jsonl",
        help="append results here as JSON lines ('-' for none)",
    )
    p.add_argument(
        "--no-pin",
        action="store_true",
        help="do not pin the generator and the server to different cores",
    )


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="chatd-bench",
        description="Load generator and benchmark for chatd and other IRC servers.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("fanout", help="members of one channel, a few senders")
    _add_target(p)
    p.add_argument("--members", type=int, default=1000)
    p.add_argument("--senders", type=int, default=4)
    p.add_argument(
        "--rate",
        type=_rate,
        default=50000.0,
        help="offered deliveries/s, or 'max' for the highest sustained rate",
    )
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--probes", type=int, default=16)
    p.add_argument("--step-seconds", type=float, default=3.0, help="with --rate max")
    p.add_argument("--start-rate", type=float, default=50000.0, help="with --rate max")
    p.add_argument("--max-seconds", type=float, default=180.0, help="with --rate max")
    p.add_argument(
        "--moderated",
        action="store_true",
        help="the channel is +m with the senders voiced and full ban and "
        "exception lists (chatd only)",
    )

    p = sub.add_parser("rooms", help="many small rooms and a few big channels")
    _add_target(p)
    p.add_argument("--clients", type=int, default=5000)
    p.add_argument("--room-size", type=int, default=10)
    p.add_argument("--big", type=int, default=3)
    p.add_argument("--big-size", type=int, default=500)
    p.add_argument(
        "--rate",
        type=_rate,
        default=1000.0,
        help="messages/s in all, or 'max' for the highest sustained rate",
    )
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--step-seconds", type=float, default=3.0, help="with --rate max")
    p.add_argument("--start-rate", type=float, default=1000.0, help="with --rate max")
    p.add_argument("--max-seconds", type=float, default=180.0, help="with --rate max")

    p = sub.add_parser(
        "store",
        help="many channels of two: what the server keeps in its history per second",
    )
    _add_target(p)
    p.add_argument("--clients", type=int, default=2000)
    p.add_argument("--room-size", type=int, default=2)
    p.add_argument(
        "--rate",
        type=_rate,
        default=None,
        help="messages/s in all, or 'max' (the default) for the highest rate "
        "both delivered and kept",
    )
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--step-seconds", type=float, default=3.0, help="with --rate max")
    p.add_argument("--start-rate", type=float, default=10000.0, help="with --rate max")
    p.add_argument("--max-seconds", type=float, default=180.0, help="with --rate max")
    p.add_argument(
        "--database",
        help="with --target: the server's SQLite file, to count what it keeps",
    )

    p = sub.add_parser(
        "history-read",
        help="CHATHISTORY LATEST and search latency on a prefilled store, "
        "under a background load",
    )
    p.add_argument(
        "--python",
        type=_interpreter,
        default=sys.executable,
        help="Python to run chatd (and the prefill) with",
    )
    p.add_argument("--messages", type=int, default=1_000_000)
    p.add_argument("--channels", type=int, default=1000)
    p.add_argument(
        "--state-dir",
        help="keep the prefilled store here (and reuse it if it is there "
        "already); default: a temporary directory, removed after",
    )
    p.add_argument("--queries", type=int, default=2000)
    p.add_argument("--searches", type=int, default=200)
    p.add_argument(
        "--read-channels",
        type=int,
        default=500,
        help="how many of the channels the reader joins and reads at random",
    )
    p.add_argument(
        "--background-rate",
        type=float,
        default=5000.0,
        help="messages/s sent meanwhile to other channels "
        "(of --background-members; 0: none)",
    )
    p.add_argument("--background-clients", type=int, default=1000)
    p.add_argument(
        "--background-members",
        type=int,
        default=2,
        help="members of each background channel: each background message "
        "is delivered to the other members (default 2: one delivery)",
    )
    _add_common(p)

    p = sub.add_parser("storm", help="connect, register and join as fast as possible")
    _add_target(p)
    p.add_argument("--clients", type=int, default=2000)
    p.add_argument("--mode", choices=("own", "one"), default="own")
    p.add_argument("--window", type=int, default=64)

    p = sub.add_parser("idle", help="idle registered clients; memory per connection")
    _add_target(p)
    p.add_argument("--clients", type=int, default=5000)

    p = sub.add_parser(
        "compare",
        help="chatd against the bare Twisted ceiling (and ngIRCd, InspIRCd)",
    )
    p.add_argument(
        "--python",
        action="append",
        type=_python,
        help="LABEL=PATH of a Python with chatd installed; repeat for "
        "several (default: this one)",
    )
    p.add_argument(
        "--servers",
        default="chatd-json,chatd-irc,ceiling,ngircd,inspircd",
        help="which servers: chatd-json, chatd-irc, chatd-json-moderated and "
        "chatd-irc-moderated (the channel +m with the senders voiced and full "
        "ban and exception lists), chatd-ws and chatd-ws-json (IRC and JSON "
        "over WebSocket, on chatd's web listener), ceiling, ngircd, inspircd "
        "(skipped when not installed)",
    )
    p.add_argument(
        "--measures",
        default="max,p99,idle,storm",
        help="max (highest sustained fan-out), p99 (latency at --p99-rate), "
        "idle (memory), storm (registrations/s), rooms (highest sustained "
        "rooms rate, messages/s; not for the ceiling)",
    )
    p.add_argument(
        "--history",
        choices=("on", "off", "both"),
        default="on",
        help="chatd keeping history (on, its default), not (off: "
        "--no-history), or both, one after the other in each round",
    )
    p.add_argument("--rooms-clients", type=int, default=2000)
    p.add_argument("--rooms-start-rate", type=float, default=1000.0)
    p.add_argument("--rounds", type=int, default=1)
    p.add_argument("--members", type=int, default=1000)
    p.add_argument("--senders", type=int, default=4)
    p.add_argument("--p99-rate", type=float, default=50000.0)
    p.add_argument("--probes", type=int, default=16)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--step-seconds", type=float, default=3.0)
    p.add_argument(
        "--start-rate",
        type=float,
        default=50000.0,
        help="first offered rate of the search for the maximum",
    )
    p.add_argument(
        "--max-seconds",
        type=float,
        default=180.0,
        help="stop searching for the maximum after this long",
    )
    p.add_argument("--idle-clients", type=int, default=5000)
    p.add_argument("--storm-clients", type=int, default=2000)
    p.add_argument(
        "--plot", default="bench-latency.png", help="PNG to draw ('-' for none)"
    )
    _add_common(p)

    p = sub.add_parser(
        "soak",
        help="hundreds of clients, honest and abusive, against a fresh chatd "
        "on loopback; then check it held up",
        description="Start chatd on loopback with its default limits and run "
        "readers, talkers, flooders, never-readers, garbage senders, silent "
        "registrants and a connection storm against it for --duration "
        "seconds; then check delivery, state, memory and the server's log. "
        "Exits with status 1 if a check fails.",
    )
    p.add_argument(
        "--python",
        type=_interpreter,
        default=sys.executable,
        help="Python to run chatd with",
    )
    p.add_argument(
        "--clients",
        type=_bounded(int, MIN_CLIENTS, MAX_CLIENTS),
        default=300,
        help=f"clients at a time ({MIN_CLIENTS}-{MAX_CLIENTS}; the "
        f"storm is at least {STORM_MIN})",
    )
    p.add_argument(
        "--duration",
        type=_bounded(float, 1.0, MAX_DURATION),
        default=60.0,
        help=f"seconds of load (at most {MAX_DURATION:g})",
    )
    p.add_argument(
        "--seed",
        type=int,
        help="makes the clients' choices repeatable (default: random)",
    )
    p.add_argument(
        "--register-timeout",
        type=_bounded(float, 0.5, 60.0),
        default=5.0,
        help="the server's --register-timeout, short so silent clients are seen",
    )
    p.add_argument(
        "--max-sendq",
        help="the server's --max-sendq (default: chatd's own, 1M)",
    )
    _add_common(p)

    p = sub.add_parser("plot", help="draw latency against offered load from results")
    p.add_argument("results")
    p.add_argument("--out", default="bench-latency.png")

    p = sub.add_parser("ceiling", help="run the bare Twisted broadcast server")
    p.add_argument("--port", type=int, default=6670)
    return parser.parse_args(argv)


def _save(path: str, results: list[Result]) -> None:
    if path == "-":
        return
    with open(path, "a") as f:
        for r in results:
            f.write(json.dumps(r, sort_keys=True) + "\n")


def _stamp(result: Result, **extra: Any) -> Result:
    return {
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(
            timespec="seconds"
        ),
        "generator": f"{platform.python_implementation()} {platform.python_version()}",
        **extra,
        **result,
    }


def _pins(no_pin: bool) -> tuple[int | None, int | None]:
    """(server cpu, generator cpu), or Nones when pinning is off or impossible."""
    if no_pin:
        return None, None
    available = servers.cpus()
    if len(available) < 2:
        print("only one CPU: not pinning; the generator competes with the server")
        return None, None
    return available[0], available[-1]


def run_scenario(args: argparse.Namespace) -> list[Result]:
    server_cpu, gen_cpu = _pins(args.no_pin)
    started = None
    database = getattr(args, "database", None)
    if args.target is None:
        started = servers.start_chatd(
            args.python,
            Path(args.python).name,
            server_cpu,
            history=args.history == "on",
            web=load.PROTOCOLS[args.proto][1] is not None,
        )
        target = started.target(args.proto)
        name = started.name
        database = str(started.database)
    else:
        host, port = args.target
        target = Target(host, port, args.proto, args.server_pid, args.ws_path)
        name = f"{host}:{port}"
        if args.server_pid is not None and server_cpu is not None:
            try:
                servers.pin(args.server_pid, server_cpu)
            except OSError as e:
                print(f"could not pin the server: {e}")
    servers.pin_self(gen_cpu)
    trouble = ""
    result: Result | None = None
    watch = None
    keeping = args.command == "store" and args.history == "on"
    if keeping:
        if database is None:
            raise BenchError("store with --target needs --database")
        watch = load.StoreWatch(database)
    try:
        if args.command == "store":
            result = _store(target, watch, args)
        else:
            result = _one(args.command, target, args)
    finally:
        if watch is not None:
            watch.close()
        if started is not None:
            trouble = started.stop(keep=True)
            if result is None and trouble:
                print(f"the server logged trouble:\n{trouble[-3000:]}")
    try:
        if result is not None and watch is not None and started is not None:
            after_stop(result, watch)
    finally:
        if started is not None:
            started.cleanup()
    _log_trouble(result, name, trouble)
    result = _stamp(result, server=name)
    _print_result(result)
    _save(args.results, [result])
    return [result]


def _fanout(
    target: Target,
    args: argparse.Namespace,
    rate: float | None,
    moderated: bool = False,
) -> Result:
    """C{fanout} with the options C{fanout} and C{compare} share."""
    return load.fanout(
        target,
        members=args.members,
        senders=args.senders,
        rate=rate,
        seconds=args.seconds,
        probes=args.probes,
        step_seconds=args.step_seconds,
        start_rate=args.start_rate,
        max_seconds=args.max_seconds,
        moderated=moderated,
    )


def _store(
    target: Target, watch: load.StoreWatch | None, args: argparse.Namespace
) -> Result:
    return load.store(
        target,
        watch,
        clients=args.clients,
        size=args.room_size,
        rate=args.rate,
        seconds=args.seconds,
        step_seconds=args.step_seconds,
        start_rate=args.start_rate,
        max_seconds=args.max_seconds,
    )


def after_stop(result: Result, watch: load.StoreWatch) -> None:
    """
    C{store}, once chatd has stopped cleanly (writing all it held): the
    messages in its SQLite file must be exactly those it accepted.
    """
    kept = watch.messages()
    watch.close()
    size = os.path.getsize(watch.path)
    result["kept_after_stop"] = kept
    result["store_ok"] = kept == result["accepted"]
    result["store_check"] = (
        f"ok: the {kept:,} messages accepted are all in the SQLite file"
        if result["store_ok"]
        else f"FAILED: {result['accepted']:,} accepted, {kept:,} kept"
    )
    result["database_bytes"] = size
    result["check_ok"] = bool(result.get("check_ok")) and result["store_ok"]


def _one(command: str, target: Target, args: argparse.Namespace) -> Result:
    if command == "fanout":
        return _fanout(target, args, args.rate, args.moderated)
    if command == "rooms":
        return load.rooms(
            target,
            clients=args.clients,
            size=args.room_size,
            big=args.big,
            big_size=args.big_size,
            rate=args.rate,
            seconds=args.seconds,
            step_seconds=args.step_seconds,
            start_rate=args.start_rate,
            max_seconds=args.max_seconds,
        )
    if command == "storm":
        return load.storm(
            target, clients=args.clients, mode=args.mode, window=args.window
        )
    return load.idle(target, clients=args.clients)


_SHOWN = (
    ("kept_per_s", "messages/s kept (highest sustained)"),
    ("sustained_messages_per_s", "messages/s (highest sustained)"),
    ("deliveries_per_s", "deliveries/s"),
    ("registrations_per_s", "registrations/s"),
    ("kib_per_connection", "KiB per connection"),
    ("offered", "offered deliveries/s"),
    ("delivered_fraction", "delivered on time"),
    ("p50_ms", "latency p50 ms"),
    ("p99_ms", "latency p99 ms"),
    ("max_ms", "latency max ms"),
    ("server_cpu", "server CPU (cores)"),
    ("server_cpu_ms_per_1000", "server CPU ms per 1000 deliveries"),
    ("generator_cpu", "generator CPU (cores)"),
    ("seconds", "seconds"),
    ("setup_s", "setup seconds"),
    ("check", "delivery check"),
    ("accepted", "messages accepted"),
    ("kept_after_stop", "messages in the SQLite file"),
    ("store_check", "store check"),
    ("database_bytes", "SQLite file bytes"),
    ("server_log", "server log"),
)


def _log_trouble(result: Result, name: str, trouble: str) -> None:
    """
    A server whose log shows a traceback or an inconsistent state failed,
    whatever its figures: mark C{result} so, and show the log.
    """
    if trouble:
        print(f"  {name} logged trouble:\n{trouble[-3000:]}")
        result["server_log"] = servers.first_trouble(trouble)


def _print_result(result: Result) -> None:
    print(f"\n{result['scenario']} against {result['server']} ({result['proto']})")
    for key, label in _SHOWN:
        if result.get(key) is not None:
            value = result[key]
            if isinstance(value, float) and key.endswith("fraction"):
                value = f"{100 * value:.1f}%"
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                value = f"{value:,}"
            print(f"  {label:<36} {value}")


# history-read


def run_history_read(args: argparse.Namespace) -> Result:
    """
    C{chatd-bench history-read}: prefill a store (or reuse --state-dir's),
    start chatd on it, and time LATEST and search under a background load.
    """
    import shutil
    import tempfile

    from chatd.bench import history
    from chatd.store import SQLITE_FILE

    server_cpu, gen_cpu = _pins(args.no_pin)
    state = args.state_dir or tempfile.mkdtemp(prefix="chatd-bench-history-")
    state = os.path.abspath(state)
    path = os.path.join(state, SQLITE_FILE)
    built: Result = {}
    try:
        if os.path.exists(path):
            print(f"reusing {path} (its prefill: --messages and --channels must match)")
        else:
            print(
                f"prefilling {path}: {args.messages:,} messages in "
                f"{args.channels:,} channels"
            )
            built = history.prefill(args.python, path, args.messages, args.channels)
            print(f"  {built}")
        size = os.path.getsize(path)
        servers.pin_self(gen_cpu)
        started = servers.start_chatd(
            args.python, Path(args.python).name, server_cpu, f"--state-dir={state}"
        )
        result: Result | None = None
        try:
            result = history.read_latency(
                started.target("irc"),
                started.target("json"),
                args.messages,
                args.channels,
                queries=args.queries,
                searches=args.searches,
                read_channels=args.read_channels,
                background_rate=args.background_rate,
                background_clients=args.background_clients,
                background_members=args.background_members,
            )
        finally:
            trouble = started.stop()
        result.update(built)
        result["database_bytes"] = size
        result["bytes_per_million"] = round(size / args.messages * 1e6)
        _log_trouble(result, started.name, trouble)
        result = _stamp(result, server=started.name)
        print(json.dumps(result, indent=1, sort_keys=True))
        _save(args.results, [result])
        return result
    finally:
        if not args.state_dir:
            shutil.rmtree(state, ignore_errors=True)


# soak


def run_soak(args: argparse.Namespace) -> Result:
    """C{chatd-bench soak}: run, print the checks, save, and say whether it held."""
    server_cpu, gen_cpu = _pins(args.no_pin)
    servers.pin_self(gen_cpu)
    seed = args.seed if args.seed is not None else random.randrange(10**6)
    options = soak.Options(
        clients=args.clients,
        duration=args.duration,
        seed=seed,
        register_timeout=args.register_timeout,
        max_sendq=args.max_sendq,
    )
    result = soak.run(args.python, options, server_cpu)
    result = _stamp(result)
    print(soak.summary(result))
    if args.seed is None:
        print(f"(seed {seed}: --seed {seed} repeats the clients' choices)")
    _save(args.results, [result])
    return result


# compare

MEASURES = ("max", "p99", "idle", "storm", "rooms")
STORM_SETTLE_SECONDS = 2.0


def _contenders(
    args: argparse.Namespace, pythons: list[tuple[str, str]]
) -> list[tuple[str, str, Callable[[int | None], servers.Server], str]]:
    """(row name, interpreter label, starter, proto) for each server to run."""
    wanted = [s.strip() for s in args.servers.split(",") if s.strip()]
    known = {
        "chatd-json",
        "chatd-irc",
        "chatd-json-moderated",
        "chatd-irc-moderated",
        "chatd-ws",
        "chatd-ws-json",
        "ceiling",
        "ngircd",
        "inspircd",
    }
    unknown = set(wanted) - known
    if unknown:
        raise BenchError(f"unknown servers: {', '.join(sorted(unknown))}")
    rows: list[tuple[str, str, Callable[[int | None], servers.Server], str]] = []
    histories = {"on": (True,), "off": (False,), "both": (True, False)}[
        getattr(args, "history", "on")
    ]
    for label, path in pythons:
        for history in histories:
            _chatd_rows(rows, wanted, label, path, history)
        if "ceiling" in wanted:

            def ceiling(
                cpu: int | None, path: str = path, label: str = label
            ) -> servers.Server:
                return servers.start_ceiling(path, label, cpu)

            rows.append((f"bare Twisted ({label})", label, ceiling, "irc"))

    if "ngircd" in wanted:
        if servers.ngircd_path():
            rows.append(("ngIRCd", "", servers.start_ngircd, "irc"))
        else:
            print("ngircd is not installed: skipped")
    if "inspircd" in wanted:
        if servers.inspircd_path():
            rows.append(("InspIRCd", "", servers.start_inspircd, "irc"))
        else:
            print("inspircd is not installed: skipped")
    return rows


#: What a chatd row's name says when it keeps no history.
NO_HISTORY = " no history"


def _chatd_rows(
    rows: list[tuple[str, str, Callable[[int | None], servers.Server], str]],
    wanted: list[str],
    label: str,
    path: str,
    history: bool,
) -> None:
    def chatd(
        cpu: int | None, path: str = path, label: str = label, history: bool = history
    ) -> servers.Server:
        return servers.start_chatd(path, label, cpu, history=history)

    def web(
        cpu: int | None, path: str = path, label: str = label, history: bool = history
    ) -> servers.Server:
        return servers.start_chatd(path, label, cpu, history=history, web=True)

    off = "" if history else NO_HISTORY
    if "chatd-json" in wanted:
        rows.append((f"chatd JSON{off} ({label})", label, chatd, "json"))
    if "chatd-irc" in wanted:
        rows.append((f"chatd IRC{off} ({label})", label, chatd, "irc"))
    if "chatd-json-moderated" in wanted:
        rows.append((f"chatd JSON +m{off} ({label})", label, chatd, "json"))
    if "chatd-irc-moderated" in wanted:
        rows.append((f"chatd IRC +m{off} ({label})", label, chatd, "irc"))
    if "chatd-ws" in wanted:
        rows.append((f"chatd {WS_ROWS['ws']}{off} ({label})", label, web, "ws"))
    if "chatd-ws-json" in wanted:
        rows.append(
            (f"chatd {WS_ROWS['ws-json']}{off} ({label})", label, web, "ws-json")
        )


#: The WebSocket rows' names, and the TCP rows they are compared with.
WS_ROWS = {"ws": "IRC over WebSocket", "ws-json": "JSON over WebSocket"}
TCP_TWINS = {"IRC over WebSocket": "IRC", "JSON over WebSocket": "JSON"}


def compare(args: argparse.Namespace) -> list[Result]:
    pythons = args.python or [(platform.python_implementation(), sys.executable)]
    measures = [m.strip() for m in args.measures.split(",") if m.strip()]
    for m in measures:
        if m not in MEASURES:
            raise BenchError(f"unknown measure {m!r}: {', '.join(MEASURES)}")
    versions = {label: servers.python_version(path) for label, path in pythons}
    for label, version in versions.items():
        print(f"{label}: {version}")
    rows = _contenders(args, pythons)
    server_cpu, gen_cpu = _pins(args.no_pin)
    servers.pin_self(gen_cpu)
    results: list[Result] = []
    for round_ in range(args.rounds):
        for measure in measures:
            for name, label, start, proto in rows:
                if measure == "rooms" and name.startswith("bare Twisted"):
                    continue  # it broadcasts to everyone: no rooms
                print(f"\n== round {round_ + 1}: {measure} on {name}", flush=True)
                server = start(server_cpu)
                try:
                    moderated = name.startswith("chatd") and " +m " in name
                    result = _measure(measure, server.target(proto), args, moderated)
                except BenchError as e:
                    result = {"scenario": measure, "proto": proto, "error": str(e)}
                    print(f"  failed: {e}")
                finally:
                    trouble = server.stop()
                _log_trouble(result, name, trouble)
                result = _stamp(
                    result,
                    server=name,
                    interpreter=versions.get(label, ""),
                    label=label,
                    measure=measure,
                    round=round_ + 1,
                )
                if "error" not in result:
                    _print_result(result)
                results.append(result)
                _save(args.results, [result])
    print()
    print(comparison_table(results, [r[0] for r in rows]))
    ratios = history_table(results, [r[0] for r in rows])
    if ratios:
        print()
        print(ratios)
    over_ws = websocket_table(results, [r[0] for r in rows])
    if over_ws:
        print()
        print(over_ws)
    if args.plot != "-" and any(r.get("measure") == "max" for r in results):
        try:
            plot(results, args.plot)
            print(f"\nlatency against offered load: {args.plot}")
        except ImportError:
            print("\nno plot: matplotlib is missing (pip install 'chatd[bench]')")
    return results


def _measure(
    measure: str, target: Target, args: argparse.Namespace, moderated: bool = False
) -> Result:
    log = print
    if measure == "max":
        return _fanout(target, args, None, moderated)
    if measure == "p99":
        return _fanout(target, args, args.p99_rate, moderated)
    if measure == "idle":
        return load.idle(target, clients=args.idle_clients, log=log)
    if measure == "rooms":
        return load.rooms(
            target,
            clients=args.rooms_clients,
            rate=None,
            start_rate=args.rooms_start_rate,
            step_seconds=args.step_seconds,
            max_seconds=args.max_seconds,
            log=log,
        )
    # A server runs for days: measure it warm.  The first storm against a
    # fresh PyPy server is mostly JIT compilation; C servers do not care.
    load.storm(target, clients=args.storm_clients, mode="own", log=log)
    time.sleep(STORM_SETTLE_SECONDS)  # let the server see the warm-up go
    return load.storm(target, clients=args.storm_clients, mode="own", log=log)


def _median(values: list[Any]) -> float | None:
    present = sorted(float(v) for v in values if v is not None)
    if not present:
        return None
    return present[len(present) // 2]


def _median_of(
    results: list[Result], name: str, measure: str, key: str
) -> float | None:
    """The median over rounds of C{key} in server C{name}'s C{measure} results."""
    return _median(
        [
            r.get(key)
            for r in results
            if r.get("server") == name and r.get("measure") == measure
        ]
    )


def comparison_table(results: list[Result], names: list[str]) -> str:
    """The side-by-side table, medians over rounds, with ratios to the ceiling."""

    def value(name: str, measure: str, key: str) -> float | None:
        return _median_of(results, name, measure, key)

    def checks(name: str) -> str:
        """FAILED if a measure's delivery check failed, or it did not finish,
        or the server's log showed a traceback or an inconsistent state."""
        bad = [
            r
            for r in results
            if r.get("server") == name
            and (not r.get("check_ok", True) or "error" in r or r.get("server_log"))
        ]
        return "ok" if not bad else "FAILED"

    header = (
        "| server | max sustained deliveries/s | p99 ms at "
        f"{_k(results)} deliveries/s | KiB per idle connection | "
        "registrations/s | checks |"
    )
    lines = [header, "|---|---|---|---|---|---|"]
    for name in names:
        ceiling = None
        label = next((r.get("label") for r in results if r.get("server") == name), "")
        if name.startswith("chatd"):
            ceiling = f"bare Twisted ({label})"
        cells = []
        for measure, key, fmt in (
            ("max", "deliveries_per_s", "{:,.0f}"),
            ("p99", "p99_ms", "{:.1f}"),
            ("idle", "kib_per_connection", "{:.1f}"),
            ("storm", "registrations_per_s", "{:,.0f}"),
        ):
            v = value(name, measure, key)
            cell = "n/a" if v is None else fmt.format(v)
            if v is not None and ceiling is not None:
                c = value(ceiling, measure, key)
                if c:
                    cell += f" ({v / c:.2f}x)"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {checks(name)} |")
    lines.append("")
    lines.append("(x) is the ratio to the bare Twisted server on the same interpreter.")
    return "\n".join(lines)


def history_table(results: list[Result], names: list[str]) -> str:
    """
    Each chatd row with history against its twin without (C{--history
    both}): medians over rounds of the highest sustained fan-out and rooms
    rates, and their ratios; '' when no row has a twin.
    """

    def value(name: str, measure: str, key: str) -> float | None:
        return _median_of(results, name, measure, key)

    lines = [
        "| server | fan-out on / off deliveries/s | ratio | "
        "rooms on / off messages/s | ratio |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        if not name.startswith("chatd") or NO_HISTORY in name:
            continue
        head, _, tail = name.rpartition(" (")
        twin = f"{head}{NO_HISTORY} ({tail}"
        if twin not in names:
            continue
        cells = []
        for measure, key in (
            ("max", "deliveries_per_s"),
            ("rooms", "sustained_messages_per_s"),
        ):
            on, off = value(name, measure, key), value(twin, measure, key)
            if on is None or off is None:
                cells += ["n/a", "n/a"]
            else:
                cells += [
                    f"{on:,.0f} / {off:,.0f}",
                    f"{on / off:.2f}" if off else "n/a",
                ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def websocket_table(results: list[Result], names: list[str]) -> str:
    """
    Each chatd row over WebSocket against the same protocol over TCP, when
    both ran: medians over rounds of the highest sustained fan-out (and its
    ratio, WebSocket / TCP) and of p99 at the --p99-rate (TCP's p99 times
    this); '' when no row has its twin.
    """

    def value(name: str, measure: str, key: str) -> float | None:
        return _median_of(results, name, measure, key)

    lines = [
        "| server | fan-out WebSocket / TCP deliveries/s | ratio | "
        f"p99 at {_k(results)} WebSocket / TCP ms | ratio |",
        "|---|---|---|---|---|",
    ]
    for name in names:
        twin = next(
            (
                name.replace(f"chatd {ws} ", f"chatd {tcp} ", 1)
                for ws, tcp in TCP_TWINS.items()
                if name.startswith(f"chatd {ws} ")
            ),
            None,
        )
        if twin is None or twin not in names:
            continue
        cells = []
        for measure, key, fmt in (
            ("max", "deliveries_per_s", "{:,.0f}"),
            ("p99", "p99_ms", "{:.1f}"),
        ):
            ws, tcp = value(name, measure, key), value(twin, measure, key)
            if ws is None or tcp is None:
                cells += ["n/a", "n/a"]
            else:
                cells += [
                    f"{fmt.format(ws)} / {fmt.format(tcp)}",
                    f"{ws / tcp:.2f}" if tcp else "n/a",
                ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) if len(lines) > 2 else ""


def _k(results: list[Result]) -> str:
    rates = {r.get("offered") for r in results if r.get("measure") == "p99"}
    if len(rates) == 1:
        (rate,) = rates
        if rate:
            return f"{rate / 1000:g}k"
    return "the --p99-rate"


def plot(results: list[Result], out: str) -> None:
    """p99 and p50 latency against offered load, one line per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 5.5), dpi=110)
    names: list[str] = []
    for r in results:
        if r.get("measure") == "max" and r["server"] not in names:
            names.append(r["server"])
    for name in names:
        steps = [
            s
            for r in results
            if r.get("server") == name and r.get("measure") == "max"
            for s in r.get("steps", [])
            if s.get("p99_ms") is not None
        ]
        steps.sort(key=lambda s: s["offered"])
        if not steps:
            continue
        xs = [s["offered"] for s in steps]
        (line,) = ax.plot(
            xs, [s["p99_ms"] for s in steps], marker="o", label=f"{name} p99"
        )
        late = [s for s in steps if s["delivered_fraction"] < 0.95]
        if late:
            ax.plot(
                [s["offered"] for s in late],
                [s["p99_ms"] for s in late],
                "x",
                color=line.get_color(),
                markersize=10,
            )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.axhline(500, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("offered load (deliveries/s, 1000 members in one channel)")
    ax.set_ylabel("p99 latency (ms)")
    ax.set_title(
        "chatd-bench fanout: p99 latency against offered load (x: <95% on time)"
    )
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:  # progress shows as it happens, even in a file
        reconfigure(line_buffering=True)
    try:
        if args.command == "ceiling":
            from chatd.bench import ceiling

            ceiling.main(["--port", str(args.port)])
        elif args.command == "plot":
            with open(args.results) as f:
                results = [json.loads(line) for line in f if line.strip()]
            plot(results, args.out)
            print(args.out)
        elif args.command == "compare":
            compare(args)
        elif args.command == "history-read":
            run_history_read(args)
        elif args.command == "soak":
            if not run_soak(args)["check_ok"]:
                sys.exit(1)
        else:
            run_scenario(args)
    except BenchError as e:
        sys.exit(f"chatd-bench: {e}")
    except KeyboardInterrupt:
        sys.exit(130)

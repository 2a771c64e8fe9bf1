# -*- test-case-name: tests.test_tap -*-
"""
C{twistd chatd}: command-line options and the service they describe.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
from typing import Any, Callable

from twisted.python import usage

import chatd
from chatd.core import Chat
from chatd.irc.factory import IRCFactory
from chatd.jsonproto.lines import ChatFactory
from chatd.log import LEVELS, set_level
from chatd.net.limits import AddressLimit, FloodLimit, Gate, parse_networks
from chatd.net.listener import MAX_SENDQ, Listener
from chatd.service import ChatService

DEFAULT_PORT = 8123
#: Listen backlog for --port and --irc-port.  Twisted's default of 50 makes
#: a burst of connections wait a second for SYN retransmits (chatd-bench
#: storm: 100 clients took 1.0 s with 50 and 0.02 s with 1024); the kernel
#: caps it at net.core.somaxconn.
BACKLOG = 1024


def _positive_int(value: str) -> int:
    n = int(value)
    if n < 1:
        raise ValueError(value)
    return n


def _count(value: str) -> int:
    n = int(value)
    if n < 0:
        raise ValueError(value)
    return n


def _seconds(value: str) -> float:
    t = float(value)
    if not t >= 0 or t == float("inf"):
        raise ValueError(value)
    return t


def _rate(value: str) -> float:
    r = float(value)
    if not r > 0 or r == float("inf"):
        raise ValueError(value)
    return r


_SIZES = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}


def _size(value: str) -> int:
    text = value.strip().lower()
    digits = text.rstrip("kmib")
    unit = text[len(digits) :]
    if unit not in _SIZES or not digits.isdigit():
        raise ValueError(value)
    return int(digits) * _SIZES[unit]


#: What each kind of value must be, as the help and the errors say it.
_WHOLE = "a whole number, 1 or more"
_COUNT = "a whole number, 0 or more"
_SECONDS = "a number of seconds, 0 or more"
_RATE = "a number above 0"
_BYTES = "a number of bytes such as 1048576, 512K or 1M"

#: The options with a number for a value: how to read it, and what is allowed.
_NUMBERS: dict[str, tuple[Callable[[str], Any], str]] = {
    "max-clients": (_positive_int, _WHOLE),
    "idle-timeout": (_seconds, _SECONDS),
    "max-line": (_positive_int, _WHOLE),
    "register-timeout": (_seconds, _SECONDS),
    "flood-burst": (_count, _COUNT),
    "flood-rate": (_rate, _RATE),
    "flood-excess": (_count, _COUNT),
    "max-sendq": (_size, _BYTES),
    "max-per-ip": (_count, _COUNT),
    "connects-per-minute": (_count, _COUNT),
}


def bad_value(option: str, value: str, allowed: str) -> usage.UsageError:
    """
    The error for a bad option value, in one line that names the option,
    the value as it would be typed, and what is allowed:
    C{--max-clients 0: must be a whole number, 1 or more}.
    """
    return usage.UsageError(f"--{option} {shlex.quote(value)}: {allowed}")


class Options(usage.Options):
    """
    C{twistd chatd}'s options.  A bad value is a L{usage.UsageError} naming
    the option, the value and what is allowed; under twistd (or twist) it
    is that one line on standard error and exit status 1, not the whole
    usage text first.
    """

    synopsis = "[options]"
    longdesc = (
        "Run the chatd chat server. Without --port or --listen it listens "
        f"on TCP port {DEFAULT_PORT} on all interfaces."
    )

    optFlags = [
        [
            "no-exempt-loopback",
            None,
            "Apply --max-per-ip and --connects-per-minute to connections from "
            "this machine too (loopback and UNIX sockets), which are exempt "
            "by default.",
        ],
    ]

    optParameters = [
        [
            "port",
            "p",
            None,
            "TCP port to listen on, on all interfaces "
            "(shorthand for --listen tcp:PORT:backlog=1024).",
        ],
        [
            "max-clients",
            None,
            1000,
            "Most connections served at once; more are refused with bye server_full.",
        ],
        [
            "idle-timeout",
            None,
            180.0,
            "Disconnect a client that sends nothing for this many seconds "
            "(0 turns reaping off).",
        ],
        [
            "max-line",
            None,
            16384,
            "Longest line a client may send, in bytes without the line ending.",
        ],
        [
            "register-timeout",
            None,
            60.0,
            "Close a connection that has not chosen a nick within this many "
            "seconds (0: never).",
        ],
        [
            "flood-burst",
            None,
            10,
            "Flood control: costly commands (messages, joins, leaves, nick "
            "and topic changes) a client may send at once (0 turns flood "
            "control off).",
        ],
        [
            "flood-rate",
            None,
            2.0,
            "Flood control: costly commands per second after the burst.",
        ],
        [
            "flood-excess",
            None,
            20,
            "Flood control: commands a client may send beyond its allowance "
            "(refused or delayed) before it is disconnected for flooding.",
        ],
        [
            "max-sendq",
            None,
            MAX_SENDQ,
            "Most bytes of output waiting for a client that does not read, "
            "in chatd and in the kernel's socket buffer, before it is "
            "disconnected (IRC's SendQ; 0: no cap).",
        ],
        [
            "max-per-ip",
            None,
            16,
            "Most connections at once from one address (IPv6: one /64), "
            "counted across listeners (0: no limit).",
        ],
        [
            "connects-per-minute",
            None,
            32,
            "Most new connections a minute from one address (IPv6: one "
            "/64), after a burst of as many (0: no limit).",
        ],
        ["log-level", None, "info", "debug, info, warn or error."],
        [
            "irc-port",
            None,
            None,
            "TCP port for IRC clients, on all interfaces "
            "(shorthand for --irc-listen tcp:PORT:backlog=1024). "
            "Without it or --irc-listen there is no IRC listener.",
        ],
        [
            "server-name",
            None,
            "chatd.local",
            "The server's name as IRC clients see it (a host name).",
        ],
        ["network", None, "chatd", "The network name IRC clients are told."],
        [
            "motd",
            None,
            None,
            "A UTF-8 text file whose lines IRC clients are shown as the "
            "message of the day (without it: 422 MOTD File is missing).",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []
        self["irc-listen"] = []
        self["exempt-ip"] = []
        # usage.Options wraps a docstring with its newlines and indentation
        # in it, which leaves gaps in --help: one space between words.
        for name, doc in self.docs.items():
            if doc:
                self.docs[name] = " ".join(doc.split())
        for name, (_, allowed) in _NUMBERS.items():
            self.docs[name] += f" Must be {allowed}."

    def parseOptions(self, options: list[str] | None = None) -> None:
        """
        Parse C{options}; a L{usage.UsageError} if one is bad.  Under
        twistd or twist (a parent command), the error is instead a
        L{SystemExit} with the one line C{twistd chatd: --OPTION VALUE: what
        is allowed}: both print their whole usage text before a plugin's
        usage error, burying the line that matters.
        """
        try:
            super().parseOptions(options)
        except usage.UsageError as e:
            if self.parent is None:
                raise
            command = f"{_program()} {self.parent.subCommand or 'chatd'}"
            raise SystemExit(f"{command}: {e}") from None

    def opt_version(self) -> None:
        """
        Print chatd's version (and Twisted's and Python's) and exit.
        """
        from twisted.copyright import version as twisted_version

        print(
            f"chatd {chatd.__version__} (Twisted {twisted_version}, "
            f"{platform.python_implementation()} {platform.python_version()})"
        )
        sys.exit(0)

    def opt_listen(self, description: str) -> None:
        """
        Twisted endpoint string to listen on, e.g. tcp:8123 or
        tcp6:8123:interface=\\:\\:1 (repeatable).
        """
        self["listen"].append(description)

    opt_l = opt_listen

    def opt_irc_listen(self, description: str) -> None:
        """
        Twisted endpoint string to serve IRC on, e.g. tcp:6667 or
        ssl:6697:privateKey=key.pem:certKey=cert.pem (repeatable).
        """
        self["irc-listen"].append(description)

    def opt_exempt_ip(self, network: str) -> None:
        """
        An address or network (10.0.0.0/8, 2001:db8::/32) that --max-per-ip
        and --connects-per-minute do not apply to, such as a gateway or
        bouncer (repeatable; loopback is exempt already).
        """
        try:
            self["exempt-ip"].extend(parse_networks([network]))
        except ValueError:
            raise bad_value(
                "exempt-ip", network, "must be an address or network such as 10.0.0.0/8"
            ) from None

    def postOptions(self) -> None:
        for option, (read, allowed) in _NUMBERS.items():
            value = self[option]
            if isinstance(value, str):
                try:
                    self[option] = read(value)
                except ValueError:
                    raise bad_value(option, value, f"must be {allowed}") from None
        for option, listen in (("port", "listen"), ("irc-port", "irc-listen")):
            port = self[option]
            if port is None:
                continue
            try:
                number = int(port)
            except ValueError:
                number = -1
            if not 0 <= number <= 65535:
                raise bad_value(option, port, "must be a TCP port number, 0 to 65535")
            self[listen].insert(0, f"tcp:{number}:backlog={BACKLOG}")
        if not self["listen"]:
            self["listen"].append(f"tcp:{DEFAULT_PORT}:backlog={BACKLOG}")
        level = self["log-level"].lower()
        if level not in LEVELS:
            raise bad_value(
                "log-level", self["log-level"], "must be debug, info, warn or error"
            )
        self["log-level"] = level
        from twisted.internet import reactor
        from twisted.internet.endpoints import serverFromString

        for option in ("listen", "irc-listen"):
            for description in self[option]:
                try:
                    serverFromString(reactor, description)
                except Exception as e:
                    raise bad_value(
                        option,
                        description,
                        f"must be a usable endpoint string such as tcp:8123 ({e})",
                    ) from None
        name = self["server-name"]
        if not name or any(c in name for c in " !@*?,:") or not name.isascii():
            raise bad_value(
                "server-name", name, "must be a host name such as irc.example.org"
            )
        network = self["network"]
        if not network or " " in network or not network.isprintable():
            raise bad_value("network", network, "must be a name without spaces")
        if self["motd"] is not None:
            self["motd"] = _read_motd(self["motd"])


def _program() -> str:
    """The command's name as the user typed it: twistd, twist..."""
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "twistd"


def _read_motd(path: str) -> list[str]:
    """The lines of a message-of-the-day file, read once at startup."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise bad_value(
            "motd", path, f"must be a readable UTF-8 file ({reason})"
        ) from None
    lines = [line.rstrip() for line in text.splitlines()]
    # An IRC line is 512 bytes; keep each MOTD line well inside it.
    return [_clip(line, 400) for line in lines] or [""]


def _clip(text: str, limit: int) -> str:
    data = text.encode("utf-8")[:limit]
    return data.decode("utf-8", "ignore")


def makeService(options: usage.Options, reactor: Any = None) -> ChatService:
    """The chat service that C{options} describe."""
    if reactor is None:
        from twisted.internet import reactor
    set_level(LEVELS[options["log-level"]])
    chat = Chat(max_users=options["max-clients"])
    limits: dict[str, Any] = {
        "flood": FloodLimit(
            options["flood-burst"], options["flood-rate"], options["flood-excess"]
        ),
        "max_sendq": options["max-sendq"],
        "register_timeout": options["register-timeout"],
        # one gate for every listener: the limits are per address, not port
        "gate": Gate(
            AddressLimit(
                per_address=options["max-per-ip"],
                connects=options["connects-per-minute"],
                period=60.0,
                exempt=tuple(options["exempt-ip"]),
                exempt_loopback=not options["no-exempt-loopback"],
            )
        ),
    }
    factory = ChatFactory(
        chat,
        reactor,
        max_line=options["max-line"],
        idle_timeout=options["idle-timeout"],
        **limits,
    )
    listeners: list[tuple[Listener, list[str]]] = [(factory, options["listen"])]
    if options["irc-listen"]:
        irc = IRCFactory(
            chat,
            reactor,
            max_line=options["max-line"],
            idle_timeout=options["idle-timeout"],
            server_name=options["server-name"],
            network=options["network"],
            motd=options["motd"],
            **limits,
        )
        listeners.append((irc, options["irc-listen"]))
    # Under twistd without -n the service runs in a forked daemon.
    parent = getattr(options, "parent", None)
    daemon = parent is not None and parent.get("nodaemon") is False
    return ChatService(reactor, listeners, daemon=daemon)

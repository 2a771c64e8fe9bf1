# -*- test-case-name: tests.test_config -*-
"""
chatd's settings, from a TOML file and the command line.

One table (L{OPTIONS}) defines every option once: its key in the file, its
command-line flag, what its value must be, its default and its help.  The
file (C{--config chatd.toml}) and the command line are both read through
it, so they cannot drift; an option given on the command line wins over the
file, which wins over the default.  The result is a frozen L{Settings}.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import math
import os
import re
import shlex
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Callable, Generic, TypeVar, Union

from chatd.log import LEVELS
from chatd.net.limits import AddressLimit, FloodLimit, Network
from chatd.net.listener import MAX_SENDQ

if sys.version_info >= (3, 11):
    import tomllib
else:  # PyPy 3.9
    import tomli as tomllib

T = TypeVar("T")

DEFAULT_PORT = 8123
#: Listen backlog for the port shorthands.  Twisted's default of 50 makes a
#: burst of connections wait a second for SYN retransmits (chatd-bench
#: storm: 100 clients took 1.0 s with 50 and 0.02 s with 1024); the kernel
#: caps it at net.core.somaxconn.
BACKLOG = 1024


class ConfigError(Exception):
    """
    A setting that cannot be used.  C{str()} is one line that says where
    (C{chatd.toml: flood.rate}, C{chatd.toml:3:7} or C{--flood-rate 0}) and
    why; C{file}, C{key}, C{line} and C{column} say it for programs.
    """

    def __init__(
        self,
        where: str,
        reason: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(f"{where}: {reason}" if where else reason)
        self.reason = reason
        self.file = file
        self.key = key
        self.line = line
        self.column = column


class NoConfigFile(ConfigError):
    """A reload was asked for, but chatd was started without C{--config}."""

    def __init__(self) -> None:
        super().__init__(
            "", "no config file to reload: chatd was started without --config"
        )


# -- kinds of value ------------------------------------------------------------


class Invalid(ValueError):
    """A value its kind does not allow; C{detail} says why when the rule does not."""

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail or "")
        self.detail = detail


@dataclass(frozen=True)
class Kind(Generic[T]):
    """
    What a value must be: the words for it (C{must be ...}), how to read it
    from the command line (C{text}) and from the file (C{toml}, a value
    tomllib returned).  Both raise L{ValueError} for a value not allowed.
    """

    rule: str
    text: Callable[[str], T]
    toml: Callable[[Any], T]
    #: the help text ends with "Must be RULE."
    numeric: bool = False
    #: a URL that may hold a password: errors show it through L{redact}
    url: bool = False


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid()
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise Invalid()
    return float(value)


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid()
    return value


def _at_least(low: int) -> Callable[[int], int]:
    def check(n: int) -> int:
        if n < low:
            raise Invalid()
        return n

    return check


def _seconds(t: float) -> float:
    if not t >= 0 or math.isinf(t):
        raise Invalid()
    return t


def _flush(t: float) -> float:
    if not 0 < t <= 10:
        raise Invalid()
    return t


def _rate(r: float) -> float:
    if not r > 0 or math.isinf(r):
        raise Invalid()
    return r


_SIZES = {"": 1, "b": 1, "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20}


def _size(value: str) -> int:
    text = value.strip().lower()
    digits = text.rstrip("kmib")
    unit = text[len(digits) :]
    if unit not in _SIZES or not digits.isdigit():
        raise Invalid()
    return int(digits) * _SIZES[unit]


def _size_toml(value: object) -> int:
    if isinstance(value, str):
        return _size(value)
    return _at_least(0)(_int(value))


def _port(n: int) -> int:
    if not 0 <= n <= 65535:
        raise Invalid()
    return n


def _level(text: str) -> str:
    if text.lower() not in LEVELS:
        raise Invalid()
    return text.lower()


def _host_name(name: str) -> str:
    if not name or any(c in name for c in " !@*?,:") or not name.isascii():
        raise Invalid()
    return name


def _network_name(name: str) -> str:
    if not name or " " in name or not name.isprintable():
        raise Invalid()
    return name


def _endpoint(description: str) -> str:
    from twisted.internet import reactor
    from twisted.internet.endpoints import serverFromString

    from chatd.net.proxy import split_endpoint

    try:
        serverFromString(reactor, split_endpoint(description)[1])
    except Exception as e:
        raise Invalid(str(e)) from None
    return description


def _origin(text: str) -> str:
    """
    A browser origin as an C{Origin} header carries it (C{scheme://host} or
    C{scheme://host:port}, lower case, without a default port), or C{*}.
    """
    from chatd.web.origins import normal_origin

    if text.strip() == "*":
        return "*"
    origin = normal_origin(text)
    if origin is None:
        raise Invalid()
    return origin


def _network(text: str) -> Network:
    return ipaddress.ip_network(text.strip(), strict=False)


@dataclass(frozen=True)
class Motd:
    """A message-of-the-day file and the lines read from it."""

    path: str
    lines: tuple[str, ...]


def read_motd(path: str) -> Motd:
    """The lines of a UTF-8 message-of-the-day file; L{Invalid} if unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        raise Invalid(reason) from None
    lines = [line.rstrip() for line in text.splitlines()]
    # An IRC line is 512 bytes; keep each MOTD line well inside it.
    return Motd(path, tuple(_clip(line, 400) for line in lines) or ("",))


def _clip(text: str, limit: int) -> str:
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


def _directory(path: str) -> str:
    if not path or "\x00" in path:
        raise Invalid()
    return path


def _database(url: str) -> str:
    if url in ("sqlite", "memory:"):
        return url
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("sqlite", "postgresql", "postgres"):
        raise Invalid()
    if scheme == "sqlite" and not rest.startswith("/"):
        raise Invalid("a SQLite URL is sqlite:///PATH")
    return url


def redact(url: str) -> str:
    """C{url} with any password in it replaced by C{***}, fit for a log."""
    url = re.sub(r"(password=)[^&]*", r"\1***", url)
    # (by pattern, not urlsplit, which raises on a URL it cannot parse)
    return re.sub(r"^(\w+://[^/@:]*):[^/]*@", r"\1:***@", url)


def _boolean_text(text: str) -> bool:
    words = {"true": True, "false": False}
    if text.lower() not in words:
        raise Invalid()
    return words[text.lower()]


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise Invalid()
    return value


def _one_of(*choices: str) -> Callable[[str], str]:
    def check(text: str) -> str:
        if text not in choices:
            raise Invalid()
        return text

    return check


def _kind(rule: str, read: Callable[[str], T], url: bool = False) -> Kind[T]:
    """A kind whose file value is a string, read as C{read} reads text."""
    return Kind(rule, read, lambda value: read(_string(value)), url=url)


WHOLE: Kind[int] = Kind(
    "a whole number, 1 or more",
    lambda s: _at_least(1)(int(s)),
    lambda v: _at_least(1)(_int(v)),
    numeric=True,
)
COUNT: Kind[int] = Kind(
    "a whole number, 0 or more",
    lambda s: _at_least(0)(int(s)),
    lambda v: _at_least(0)(_int(v)),
    numeric=True,
)
SECONDS: Kind[float] = Kind(
    "a number of seconds, 0 or more",
    lambda s: _seconds(float(s)),
    lambda v: _seconds(_number(v)),
    numeric=True,
)
RATE: Kind[float] = Kind(
    "a number above 0",
    lambda s: _rate(float(s)),
    lambda v: _rate(_number(v)),
    numeric=True,
)
BYTES: Kind[int] = Kind(
    "a number of bytes such as 1048576, 512K or 1M", _size, _size_toml, numeric=True
)
PORT: Kind[int] = Kind(
    "a TCP port number, 0 to 65535",
    lambda s: _port(int(s)),
    lambda v: _port(_int(v)),
)
LEVEL = _kind("debug, info, warn or error", _level)
HOST_NAME = _kind("a host name such as irc.example.org", _host_name)
NETWORK_NAME = _kind("a name without spaces", _network_name)
ENDPOINT = _kind("a usable endpoint string such as tcp:8123", _endpoint)
NETWORK = _kind("an address or network such as 10.0.0.0/8", _network)
ORIGIN = _kind("an origin such as https://chat.example.org or *", _origin)
MOTD = _kind("a readable UTF-8 file", read_motd)
DIRECTORY = _kind("a directory", _directory)
DATABASE = _kind(
    "a database URL: sqlite, sqlite:///PATH, memory: or "
    "postgresql://USER@HOST:PORT/DATABASE",
    _database,
    url=True,
)
BOOLEAN = Kind("true or false", _boolean_text, _boolean)
NICK_PROTECTION = _kind("refuse, timeout or off", _one_of("refuse", "timeout", "off"))
HISTORY_ACCESS = _kind(
    "everything, since-join or none", _one_of("everything", "since-join", "none")
)
FLUSH: Kind[float] = Kind(
    "a number of seconds above 0, at most 10",
    lambda s: _flush(float(s)),
    lambda v: _flush(_number(v)),
    numeric=True,
)


# -- the options -------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    """
    One setting: C{key} in the file (C{table.name}), the command-line
    C{flag} (None: the file only), its L{Kind}, default and help.
    """

    key: str
    kind: Kind[Any]
    default: Any
    help: str
    flag: str | None = None
    short: str | None = None
    #: a list: an array in the file, a repeatable flag
    many: bool = False
    #: a boolean whose flag turns it off (--no-exempt-loopback)
    negate: bool = False
    #: a path: relative to the file's directory in the file, to the
    #: working directory on the command line
    path: bool = False
    #: takes effect only when chatd starts, not on a reload
    restart: bool = False

    @property
    def table(self) -> str:
        return self.key.partition(".")[0]

    @property
    def name(self) -> str:
        return self.key.partition(".")[2]

    def from_text(self, text: str, base: str = ".") -> Any:
        """
        The value of one command-line occurrence, typed in directory
        C{base}; L{ConfigError} if bad.
        """
        try:
            if self.path and text:
                return self.kind.text(os.path.join(base, os.path.expanduser(text)))
            return self.kind.text(text)
        except ValueError as e:
            detail = e.detail if isinstance(e, Invalid) else None
            extra = f" ({detail})" if detail else ""
            shown = redact(text) if self.kind.url else text
            raise ConfigError(
                f"--{self.flag} {shlex.quote(shown)}",
                f"must be {self.kind.rule}{extra}",
                key=self.key,
            ) from None

    def from_file(self, value: object, file: str, base: str) -> Any:
        """The value of C{value}, from the file C{file} in directory C{base}."""
        if not self.many:
            return self._one(value, self.key, file, base)
        if not isinstance(value, list):
            raise _bad(file, self.key, "must be an array", value)
        return tuple(
            self._one(item, f"{self.key}[{i}]", file, base)
            for i, item in enumerate(value)
        )

    def _one(self, value: object, key: str, file: str, base: str) -> Any:
        try:
            if self.path and isinstance(value, str) and value:
                return self.kind.toml(os.path.join(base, os.path.expanduser(value)))
            return self.kind.toml(value)
        except ValueError as e:
            detail = e.detail if isinstance(e, Invalid) else None
            if self.kind.url and isinstance(value, str):
                value = redact(value)
            raise _bad(file, key, f"must be {self.kind.rule}", value, detail) from None


def _bad(
    file: str, key: str, reason: str, value: object, detail: str | None = None
) -> ConfigError:
    got = show(value) + (f": {detail}" if detail else "")
    return ConfigError(f"{file}: {key}", f"{reason} (got {got})", file=file, key=key)


def show(value: object) -> str:
    """A value as it would be written in TOML, cut short if long."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, dict):
        return "a table"
    elif isinstance(value, list):
        text = "[" + ", ".join(show(v) for v in value) + "]"
    elif isinstance(value, (tuple, frozenset)):
        return show(list(value))
    else:
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


OPTIONS: tuple[Option, ...] = (
    Option(
        "json.port",
        PORT,
        None,
        "TCP port to listen on, on all interfaces "
        f"(shorthand for --listen tcp:PORT:backlog={BACKLOG}).",
        flag="port",
        short="p",
    ),
    Option(
        "json.listen",
        ENDPOINT,
        (),
        "Twisted endpoint string to listen on, e.g. tcp:8123 or "
        "tcp6:8123:interface=\\:\\:1 (repeatable).",
        flag="listen",
        short="l",
        many=True,
    ),
    Option(
        "irc.port",
        PORT,
        None,
        "TCP port for IRC clients, on all interfaces "
        f"(shorthand for --irc-listen tcp:PORT:backlog={BACKLOG}). "
        "Without it or --irc-listen there is no IRC listener.",
        flag="irc-port",
    ),
    Option(
        "irc.listen",
        ENDPOINT,
        (),
        "Twisted endpoint string to serve IRC on, e.g. tcp:6667 or "
        "ssl:6697:privateKey=key.pem:certKey=cert.pem (repeatable).",
        flag="irc-listen",
        many=True,
    ),
    Option(
        "web.port",
        PORT,
        None,
        "TCP port for the web listener (the web client, IRC and JSON over "
        "WebSocket, /healthz), on all interfaces "
        f"(shorthand for --web-listen tcp:PORT:backlog={BACKLOG}). "
        "Without it or --web-listen there is no web listener.",
        flag="web-port",
    ),
    Option(
        "web.listen",
        ENDPOINT,
        (),
        "Twisted endpoint string to serve the web listener on, e.g. tcp:8080 "
        "or ssl:8443:privateKey=key.pem:certKey=cert.pem for HTTPS and WSS "
        "(repeatable).",
        flag="web-listen",
        many=True,
    ),
    Option(
        "web.origins",
        ORIGIN,
        (),
        "Web pages (origins such as https://chat.example.org, or * for any) "
        "allowed to open WebSocket connections besides the listener's own; "
        "connections without an Origin header (programs, not browsers) are "
        "always allowed.",
        many=True,
    ),
    Option(
        "server.name",
        HOST_NAME,
        "chatd.local",
        "The server's name as IRC clients see it (a host name).",
        flag="server-name",
        restart=True,
    ),
    Option(
        "server.network",
        NETWORK_NAME,
        "chatd",
        "The network name IRC clients are told.",
        flag="network",
        restart=True,
    ),
    Option(
        "server.motd",
        MOTD,
        None,
        "A UTF-8 text file whose lines IRC clients are shown as the message "
        "of the day (without it: 422 MOTD File is missing).",
        flag="motd",
        path=True,
    ),
    Option(
        "server.log_level",
        LEVEL,
        "info",
        "debug, info, warn or error.",
        flag="log-level",
    ),
    Option(
        "limits.max_clients",
        WHOLE,
        1000,
        "Most connections served at once; more are refused with bye server_full.",
        flag="max-clients",
    ),
    Option(
        "limits.idle_timeout",
        SECONDS,
        180.0,
        "Disconnect a client that sends nothing for this many seconds "
        "(0 turns reaping off).",
        flag="idle-timeout",
    ),
    Option(
        "limits.max_line",
        WHOLE,
        16384,
        "Longest line a client may send, in bytes without the line ending.",
        flag="max-line",
    ),
    Option(
        "limits.register_timeout",
        SECONDS,
        60.0,
        "Close a connection that has not chosen a nick within this many "
        "seconds (0: never).",
        flag="register-timeout",
    ),
    Option(
        "limits.max_sendq",
        BYTES,
        MAX_SENDQ,
        "Most bytes of output waiting for a client that does not read, in "
        "chatd and in the kernel's socket buffer, before it is disconnected "
        "(IRC's SendQ; 0: no cap).",
        flag="max-sendq",
    ),
    Option(
        "limits.max_per_ip",
        COUNT,
        16,
        "Most connections at once from one address (IPv6: one /64), counted "
        "across listeners (0: no limit).",
        flag="max-per-ip",
    ),
    Option(
        "limits.connects_per_minute",
        COUNT,
        32,
        "Most new connections a minute from one address (IPv6: one /64), "
        "after a burst of as many (0: no limit).",
        flag="connects-per-minute",
    ),
    Option(
        "limits.exempt_ip",
        NETWORK,
        (),
        "An address or network (10.0.0.0/8, 2001:db8::/32) that --max-per-ip "
        "and --connects-per-minute do not apply to, such as a gateway or "
        "bouncer (repeatable; loopback is exempt already).",
        flag="exempt-ip",
        many=True,
    ),
    Option(
        "limits.exempt_loopback",
        BOOLEAN,
        True,
        "Apply --max-per-ip and --connects-per-minute to connections from this "
        "machine too (loopback and UNIX sockets), which are exempt by default.",
        flag="no-exempt-loopback",
        negate=True,
    ),
    Option(
        "flood.burst",
        COUNT,
        10,
        "Flood control: costly commands (messages, joins, leaves, nick and "
        "topic changes) a client may send at once (0 turns flood control off).",
        flag="flood-burst",
    ),
    Option(
        "flood.rate",
        RATE,
        2.0,
        "Flood control: costly commands per second after the burst.",
        flag="flood-rate",
    ),
    Option(
        "flood.excess",
        COUNT,
        20,
        "Flood control: commands a client may send beyond its allowance "
        "(refused or delayed) before it is disconnected for flooding.",
        flag="flood-excess",
    ),
    Option(
        "storage.url",
        DATABASE,
        "sqlite",
        "Where accounts and registered channels are kept: sqlite (a file in "
        "--state-dir), sqlite:///PATH, memory: (nothing survives a restart) "
        "or postgresql://USER@HOST:PORT/DATABASE.",
        flag="database",
        restart=True,
    ),
    Option(
        "storage.state_dir",
        DIRECTORY,
        ".",
        "Directory for chatd's own files, such as the SQLite database "
        "(default: the directory twistd runs in, beside twistd.pid).",
        flag="state-dir",
        path=True,
        restart=True,
    ),
    Option(
        "accounts.registration",
        BOOLEAN,
        True,
        "Whether users may register accounts.",
    ),
    Option(
        "accounts.min_password_length",
        WHOLE,
        1,
        "The shortest password an account may have, in characters (any "
        "non-empty password by default, as ergo; 8 or more is wiser on a "
        "public server: failed logins are slowed down either way).",
    ),
    Option(
        "accounts.register_before_connect",
        BOOLEAN,
        True,
        "Whether an IRC client may register an account before its "
        "connection is complete (IRCv3 account-registration's before-connect), "
        "as clients that register at their first connection do.",
    ),
    Option(
        "accounts.email_required",
        BOOLEAN,
        False,
        "Whether registering an account needs an email address (it is kept "
        "with the account; chatd sends no mail).",
    ),
    Option(
        "accounts.nick_protection",
        NICK_PROTECTION,
        "refuse",
        "What happens to someone who takes a nick an account owns without "
        "logging in: refuse it, rename them after nick_timeout, or nothing.",
    ),
    Option(
        "accounts.nick_timeout",
        SECONDS,
        30.0,
        "Seconds to log in before being renamed (nick_protection = timeout).",
    ),
    Option(
        "accounts.registrations_per_hour",
        COUNT,
        3,
        "Accounts one address may register an hour (0: no limit).",
    ),
    Option(
        "accounts.login_failures",
        WHOLE,
        5,
        "Failed logins (per account and per address) before further tries "
        "are slowed down.",
    ),
    Option(
        "history.enabled",
        BOOLEAN,
        True,
        "Keep nothing of what is said (in channels and privately between "
        "accounts): no replay on join, paging back or search. History is "
        "kept by default.",
        flag="no-history",
        negate=True,
        restart=True,
    ),
    Option(
        "history.access",
        HISTORY_ACCESS,
        "everything",
        "Who may read a channel's history, unless the channel says otherwise: "
        "its members, all of it (everything); its members, what was said "
        "since they joined (since-join); nobody (none).  See docs/history.md.",
    ),
    Option(
        "history.replay_on_join",
        COUNT,
        20,
        "How many of a channel's last messages an IRC client that does not "
        "ask for history itself (draft/chathistory) is shown when it joins "
        "(0: none).",
    ),
    Option(
        "history.max_age",
        SECONDS,
        0.0,
        "Seconds a message is kept (0: no limit by age).",
    ),
    Option(
        "history.max_per_target",
        COUNT,
        0,
        "Messages kept per channel or private conversation, the newest "
        "(0: no limit by count).",
    ),
    Option(
        "history.expire_interval",
        WHOLE,
        3600,
        "Seconds between the background deletions of what max_age and "
        "max_per_target no longer keep.",
    ),
    Option(
        "history.flush_interval",
        FLUSH,
        0.2,
        "Seconds a message may wait in memory before it is written: the most "
        "history a server killed outright (SIGKILL, power loss) loses.",
    ),
    Option(
        "proxy.trusted",
        NETWORK,
        (),
        "An address or network (10.0.0.0/8, 2001:db8::/32) of a reverse "
        "proxy trusted to say who its clients are: X-Forwarded-For on the web "
        "listener, the PROXY protocol on TCP listeners (repeatable; nothing "
        "is trusted by default).",
        flag="trusted-proxy",
        many=True,
    ),
    # [metrics]: Prometheus's /metrics (see docs/operations.md)
    Option(
        "metrics.enabled",
        BOOLEAN,
        True,
        "Serve no Prometheus metrics. By default they are at /metrics on the "
        "web listener, or only on --metrics-listen's endpoints when given.",
        flag="no-metrics",
        negate=True,
        restart=True,
    ),
    Option(
        "metrics.listen",
        ENDPOINT,
        (),
        "Twisted endpoint string for a listener that serves only /metrics, "
        "e.g. tcp:9123:interface=127.0.0.1 (repeatable); the web listener "
        "then does not serve it.",
        flag="metrics-listen",
        many=True,
        restart=True,
    ),
)

BY_KEY: dict[str, Option] = {option.key: option for option in OPTIONS}


# -- settings ----------------------------------------------------------------


@dataclass(frozen=True)
class ListenSettings:
    """One wire format's listeners: a port shorthand and endpoint strings."""

    port: int | None
    listen: tuple[str, ...]

    @property
    def endpoints(self) -> tuple[str, ...]:
        """C{listen}, after C{tcp:PORT:backlog=1024} if a port is given."""
        head = () if self.port is None else (f"tcp:{self.port}:backlog={BACKLOG}",)
        return head + self.listen


@dataclass(frozen=True)
class WebSettings(ListenSettings):
    """The web listener: its endpoints, and the other pages' origins it lets in."""

    origins: tuple[str, ...]


@dataclass(frozen=True)
class ServerSettings:
    name: str
    network: str
    motd: Motd | None
    log_level: str


@dataclass(frozen=True)
class LimitSettings:
    max_clients: int
    idle_timeout: float
    max_line: int
    register_timeout: float
    max_sendq: int
    max_per_ip: int
    connects_per_minute: int
    exempt_ip: tuple[Network, ...]
    exempt_loopback: bool

    @property
    def address_limit(self) -> AddressLimit:
        return AddressLimit(
            per_address=self.max_per_ip,
            connects=self.connects_per_minute,
            period=60.0,
            exempt=self.exempt_ip,
            exempt_loopback=self.exempt_loopback,
        )


@dataclass(frozen=True)
class FloodSettings:
    burst: int
    rate: float
    excess: int

    @property
    def limit(self) -> FloodLimit:
        return FloodLimit(self.burst, self.rate, self.excess)


@dataclass(frozen=True)
class StorageSettings:
    #: may hold a password: shown only through L{redact}
    url: str = field(repr=False)
    #: absolute, or "." for the working directory when chatd starts
    state_dir: str


@dataclass(frozen=True)
class AccountSettings:
    registration: bool
    min_password_length: int
    register_before_connect: bool
    email_required: bool
    nick_protection: str
    nick_timeout: float
    registrations_per_hour: int
    login_failures: int


@dataclass(frozen=True)
class HistorySettings:
    enabled: bool
    access: str
    replay_on_join: int
    max_age: float
    max_per_target: int
    expire_interval: int
    flush_interval: float


@dataclass(frozen=True)
class ProxySettings:
    #: peers whose word on the client's address is taken (see docs/config.md)
    trusted: tuple[Network, ...]


@dataclass(frozen=True)
class OperSpec:
    """A server operator from an C{[[oper]]} table."""

    name: str
    #: the hash chatd-admin hash-password printed, never the password
    password: str = field(repr=False)
    hostmask: str = "*!*@*"


@dataclass(frozen=True)
class WebircSpec:
    """A web IRC gateway from a C{[[webirc]]} table (see L{chatd.irc.webirc})."""

    name: str
    #: the hash chatd-admin hash-password printed, never the password
    password: str = field(repr=False)
    #: where the gateway connects from: WEBIRC is refused from elsewhere
    hosts: tuple[Network, ...] = ()


@dataclass(frozen=True)
class MetricsSettings:
    enabled: bool
    #: endpoints of a listener for /metrics alone
    listen: tuple[str, ...]

    @property
    def on_web(self) -> bool:
        """Whether the web listener serves /metrics."""
        return self.enabled and not self.listen


#: Each table of the file, and the settings it becomes.
TABLES: dict[str, type] = {
    "server": ServerSettings,
    "json": ListenSettings,
    "irc": ListenSettings,
    "web": WebSettings,
    "limits": LimitSettings,
    "flood": FloodSettings,
    "storage": StorageSettings,
    "accounts": AccountSettings,
    "history": HistorySettings,
    "proxy": ProxySettings,
    "metrics": MetricsSettings,
}


@dataclass(frozen=True)
class Settings:
    """Everything chatd is configured with, checked."""

    server: ServerSettings
    json: ListenSettings
    irc: ListenSettings
    web: WebSettings
    limits: LimitSettings
    flood: FloodSettings
    storage: StorageSettings
    accounts: AccountSettings
    history: HistorySettings
    proxy: ProxySettings
    metrics: MetricsSettings
    opers: tuple[OperSpec, ...]
    #: the web IRC gateways, from the [[webirc]] tables
    webirc: tuple[WebircSpec, ...] = ()

    @property
    def endpoints(self) -> dict[str, tuple[str, ...]]:
        """
        Each listener's endpoint strings: JSON on TCP port 8123 when
        neither a port nor an endpoint is given, IRC and web only when
        asked for.
        """
        json_endpoints = self.json.endpoints or (
            f"tcp:{DEFAULT_PORT}:backlog={BACKLOG}",
        )
        return {
            "json": json_endpoints,
            "irc": self.irc.endpoints,
            "web": self.web.endpoints,
        }

    def value(self, key: str) -> Any:
        """The value of a dotted C{key} such as C{flood.rate}."""
        table, _, name = key.partition(".")
        return getattr(getattr(self, table), name)


def build(
    values: Mapping[str, Any],
    opers: tuple[OperSpec, ...] = (),
    webirc: tuple[WebircSpec, ...] = (),
) -> Settings:
    """L{Settings} from checked C{values} by key; defaults for the rest."""
    tables: dict[str, dict[str, Any]] = {table: {} for table in TABLES}
    for option in OPTIONS:
        tables[option.table][option.name] = values.get(option.key, option.default)
    parts = {table: TABLES[table](**tables[table]) for table in TABLES}
    return Settings(opers=opers, webirc=webirc, **parts)


DEFAULTS = build({})


# -- the file ----------------------------------------------------------------

#: What C{chatd-admin hash-password} prints.
PASSWORD_HASH = re.compile(
    r"\$scrypt\$ln=\d+,r=\d+,p=\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}"
)
#: A C{nick!user@host} glob.
HOSTMASK = re.compile(r"[^\s!@]+![^\s!@]+@[^\s!@]+")
OPER_KEYS = ("name", "password", "hostmask")
WEBIRC_KEYS = ("name", "password", "hosts")
#: The tables written [[name]], each of which may appear many times.
ARRAYS = ("oper", "webirc")


def read_document(path: str, shown: str) -> dict[str, Any]:
    """
    The TOML document in C{path} (named C{shown} in errors); L{ConfigError}
    if it cannot be read or is not TOML, with the line and column.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(
            shown, f"cannot be read ({e.strerror or e})", file=shown
        ) from None
    try:
        return tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"{shown}:{line}", "not UTF-8 text", file=shown, line=line
        ) from None
    except tomllib.TOMLDecodeError as e:
        message, line, column = _position(str(e), data.decode("utf-8"))
        raise ConfigError(
            f"{shown}:{line}:{column}",
            f"not valid TOML: {message}",
            file=shown,
            line=line,
            column=column,
        ) from None


def _position(message: str, text: str) -> tuple[str, int, int]:
    """tomllib's message without its position, and that line and column."""
    found = re.search(r" \(at line (\d+), column (\d+)\)$", message)
    if found:
        return message[: found.start()], int(found.group(1)), int(found.group(2))
    lines = text.split("\n")
    message = message.replace(" (at end of document)", "")
    return f"{message} at the end of the file", len(lines), len(lines[-1]) + 1


def parse_document(
    document: Mapping[str, Any], file: str, base: str
) -> tuple[dict[str, Any], tuple[OperSpec, ...], tuple[WebircSpec, ...]]:
    """
    Check a TOML C{document} read from C{file}, whose relative paths are
    relative to C{base}: the values it sets by key, its operators and its
    web IRC gateways.  L{ConfigError} for the first thing wrong, in the
    file's order.
    """
    values: dict[str, Any] = {}
    opers: tuple[OperSpec, ...] = ()
    webirc: tuple[WebircSpec, ...] = ()
    for table, content in document.items():
        if table == "oper":
            opers = _opers(content, file)
            continue
        if table == "webirc":
            webirc = _webirc(content, file)
            continue
        if table not in TABLES:
            what = "table" if isinstance(content, dict) else "key"
            raise _unknown(file, table, what, [*TABLES, *ARRAYS], table)
        if not isinstance(content, dict):
            raise _bad(file, table, f"must be a table ([{table}])", content)
        for name, value in content.items():
            key = f"{table}.{name}"
            option = BY_KEY.get(key)
            if option is None:
                names = [o.name for o in OPTIONS if o.table == table]
                raise _unknown(file, key, "key", names, name, table)
            values[key] = option.from_file(value, file, base)
    return values, opers, webirc


def _unknown(
    file: str,
    key: str,
    what: str,
    names: list[str],
    name: str,
    table: str | None = None,
) -> ConfigError:
    """An unknown key or table, with the closest known ones."""
    spelt = name.replace("-", "_").lower()
    close = [spelt] if spelt in names else []
    close = close or difflib.get_close_matches(name, names, n=2, cutoff=0.6)
    guesses = [f"{table}.{c}" if table else c for c in close]
    if not guesses:  # the right name in the wrong table?
        guesses = [o.key for o in OPTIONS if o.name == name.replace("-", "_")]
    hint = f" (did you mean {' or '.join(guesses)}?)" if guesses else ""
    return ConfigError(f"{file}: {key}", f"unknown {what}{hint}", file=file, key=key)


def _named_tables(
    content: object, file: str, array: str, keys: tuple[str, ...]
) -> list[tuple[str, dict[str, Any], str, str]]:
    """
    The tables of an array such as C{[[oper]]}, checked for what they all
    have: known C{keys}, a unique C{name} without spaces and a C{password}
    hash.  Each as (where, table, name, password).
    """
    if not isinstance(content, list) or not all(isinstance(t, dict) for t in content):
        raise _bad(file, array, f"must be tables written [[{array}]]", content)
    found = []
    seen: dict[str, int] = {}
    for i, table in enumerate(content):
        where = f"{array}[{i}]"
        for name in table:
            if name not in keys:
                raise _unknown(file, f"{where}.{name}", "key", list(keys), name)
        for name in ("name", "password"):
            if name not in table:
                key = f"{where}.{name}"
                raise ConfigError(f"{file}: {key}", "missing", file=file, key=key)
        name = table["name"]
        if (
            not isinstance(name, str)
            or not name.isprintable()
            or " " in name
            or not name
        ):
            raise _bad(file, f"{where}.name", "must be a name without spaces", name)
        if name.casefold() in seen:
            raise _bad(
                file,
                f"{where}.name",
                f"is {array}[{seen[name.casefold()]}]'s name already",
                name,
            )
        seen[name.casefold()] = i
        password = table["password"]
        if not isinstance(password, str) or not PASSWORD_HASH.fullmatch(password):
            key = f"{where}.password"
            # Never echo it: it may be the password itself.
            raise ConfigError(
                f"{file}: {key}",
                "must be a hash from chatd-admin hash-password, not a password",
                file=file,
                key=key,
            )
        found.append((where, table, name, password))
    return found


def _opers(content: object, file: str) -> tuple[OperSpec, ...]:
    opers: list[OperSpec] = []
    for where, table, name, password in _named_tables(content, file, "oper", OPER_KEYS):
        hostmask = table.get("hostmask", "*!*@*")
        if not isinstance(hostmask, str) or not HOSTMASK.fullmatch(hostmask):
            raise _bad(
                file,
                f"{where}.hostmask",
                "must be a nick!user@host mask such as *!*@192.0.2.*",
                hostmask,
            )
        opers.append(OperSpec(name, password, hostmask))
    return tuple(opers)


def _webirc(content: object, file: str) -> tuple[WebircSpec, ...]:
    gateways: list[WebircSpec] = []
    for where, table, name, password in _named_tables(
        content, file, "webirc", WEBIRC_KEYS
    ):
        key = f"{where}.hosts"
        if "hosts" not in table:
            raise ConfigError(
                f"{file}: {key}",
                "missing: the addresses or networks the gateway connects from",
                file=file,
                key=key,
            )
        hosts = table["hosts"]
        if not isinstance(hosts, list) or not hosts:
            raise _bad(
                file,
                key,
                'must be a list of addresses or networks such as ["10.0.0.5"]',
                hosts,
            )
        networks = []
        for i, host in enumerate(hosts):
            try:
                if not isinstance(host, str):
                    raise ValueError
                networks.append(_network(host))
            except ValueError:
                raise _bad(
                    file,
                    f"{key}[{i}]",
                    "must be an address or network such as 10.0.0.0/8",
                    host,
                ) from None
        gateways.append(WebircSpec(name, password, tuple(networks)))
    return tuple(gateways)


# -- where settings come from --------------------------------------------------

#: A command-line value as typed: text, a list of texts, or a flag's True.
Given = Union[str, list[str], bool]


@dataclass(frozen=True)
class ConfigSource:
    """
    Where chatd's settings come from: a config file (C{path} as it was
    given, C{file} absolute) or none, and the options given on the command
    line (C{overrides}, by key, as typed), which win over it.  L{load}
    reads both again, so a reload sees an edited file (and MOTD).
    """

    path: str | None = None
    file: str | None = None
    overrides: Mapping[str, Given] = field(default_factory=dict)
    #: where the command line was typed: its relative paths start there
    cwd: str = "."

    @classmethod
    def of(cls, path: str | None, overrides: Mapping[str, Given]) -> ConfigSource:
        """The file at C{path} (None: no file), and C{overrides} typed here."""
        cwd = os.getcwd()
        file = None if path is None else os.path.join(cwd, os.path.expanduser(path))
        return cls(path, file, dict(overrides), cwd)

    def load(self) -> Settings:
        """The settings now; L{ConfigError} for the first bad one."""
        values = {key: self._given(key, given) for key, given in self.overrides.items()}
        opers: tuple[OperSpec, ...] = ()
        webirc: tuple[WebircSpec, ...] = ()
        if self.path is not None and self.file is not None:
            document = read_document(self.file, self.path)
            base = os.path.dirname(self.file)
            found, opers, webirc = parse_document(document, self.path, base)
            values = {**found, **values}
        settings = build(values, opers, webirc)
        if settings.metrics.listen and not settings.metrics.enabled:
            where = "metrics.listen"
            raise ConfigError(
                where,
                "a listener for metrics, but metrics are off (metrics.enabled "
                "= false, --no-metrics): drop one of them",
                file=self.path,
                key=where,
            )
        return settings

    def _given(self, key: str, given: Given) -> Any:
        option = BY_KEY[key]
        if isinstance(given, bool):
            return given is not option.negate
        if isinstance(given, list):
            return tuple(option.from_text(text, self.cwd) for text in given)
        return option.from_text(given, self.cwd)


def changes(old: Settings, new: Settings) -> list[tuple[str, Any, Any]]:
    """The keys whose values differ, in table order, with both values."""
    found = [
        (option.key, old.value(option.key), new.value(option.key))
        for option in OPTIONS
        if old.value(option.key) != new.value(option.key)
    ]
    if old.opers != new.opers:
        found.append(("oper", old.opers, new.opers))
    if old.webirc != new.webirc:
        found.append(("webirc", old.webirc, new.webirc))
    return found


def settings_fields() -> list[str]:
    """
    Every key L{Settings} holds, dotted, C{oper.NAME} for the operators'
    and C{webirc.NAME} for the gateways'.
    """
    keys = [f"{table}.{f.name}" for table, cls in TABLES.items() for f in fields(cls)]
    keys += [f"oper.{f.name}" for f in fields(OperSpec)]
    return keys + [f"webirc.{f.name}" for f in fields(WebircSpec)]


__all__ = [
    "BACKLOG",
    "DEFAULTS",
    "DEFAULT_PORT",
    "OPTIONS",
    "PASSWORD_HASH",
    "AccountSettings",
    "ConfigError",
    "ConfigSource",
    "FloodSettings",
    "LimitSettings",
    "ListenSettings",
    "MetricsSettings",
    "Motd",
    "NoConfigFile",
    "OperSpec",
    "Option",
    "ServerSettings",
    "Settings",
    "StorageSettings",
    "WebSettings",
    "WebircSpec",
    "build",
    "changes",
    "redact",
]

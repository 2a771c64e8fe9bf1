# -*- test-case-name: tests.test_tap -*-
"""
C{twistd chatd}: command-line options and the service they describe.

The options are made from L{chatd.config.OPTIONS}, the table the config
file is read through too; an option given here wins over the file's value.
"""

from __future__ import annotations

import os
import platform
import sys
from typing import Any, Callable

from twisted.python import usage

import chatd
from chatd.config import (
    BACKLOG,
    DEFAULT_PORT,
    OPTIONS,
    ConfigError,
    ConfigSource,
    Given,
    Option,
    Settings,
)
from chatd.service import ChatService


class _Typed(str):
    """An option's text as typed: what tells it from the option's default."""


class Options(usage.Options):
    """
    C{twistd chatd}'s options.  A bad value is a L{usage.UsageError} naming
    the option, the value and what is allowed; under twistd (or twist) it
    is that one line on standard error and exit status 1, not the whole
    usage text first.  After parsing, L{settings} holds what they describe
    (with the config file's values for the options not given) and
    L{source} where to read them again on a reload.
    """

    synopsis = "[options]"
    longdesc = (
        "Run the chatd chat server. Without --port or --listen it listens "
        f"on TCP port {DEFAULT_PORT} on all interfaces. Options given here "
        "win over the --config file's values."
    )

    optFlags = [
        [option.flag, option.short, option.help]
        for option in OPTIONS
        if option.flag is not None and option.negate
    ]

    optParameters = [
        [
            "config",
            None,
            None,
            "A TOML file of settings (see chatd.example.toml); SIGHUP reloads it.",
        ],
        *(
            [option.flag, option.short, option.default, option.help, _Typed]
            for option in OPTIONS
            if option.flag is not None and not option.negate and not option.many
        ),
    ]

    settings: Settings
    source: ConfigSource

    def __init__(self) -> None:
        super().__init__()
        for option in OPTIONS:
            if option.many and option.flag is not None:
                self[option.flag] = []
                self.docs[option.flag] = option.help
        # usage.Options wraps a docstring with its newlines and indentation
        # in it, which leaves gaps in --help: one space between words.
        for name, doc in self.docs.items():
            if doc:
                self.docs[name] = " ".join(doc.split())
        for option in OPTIONS:
            if option.kind.numeric and option.flag is not None:
                self.docs[option.flag] += f" Must be {option.kind.rule}."

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

    def given(self) -> dict[str, Given]:
        """The options given on the command line, by key, as typed."""
        found: dict[str, Given] = {}
        for option in OPTIONS:
            if option.flag is None:
                continue
            value = self[option.flag]
            if option.many:
                if value:
                    found[option.key] = list(value)
            elif option.negate:
                if value:
                    found[option.key] = True
            elif isinstance(value, _Typed):
                found[option.key] = str(value)
        return found

    def postOptions(self) -> None:
        self.source = ConfigSource.of(self["config"], self.given())
        try:
            self.settings = self.source.load()
        except ConfigError as e:
            raise usage.UsageError(str(e)) from None
        # What each option came to, as these options always held it.
        for option in OPTIONS:
            if option.flag is not None:
                self[option.flag] = _as_option(option, self.settings)
        self["listen"] = list(self.settings.endpoints["json"])
        self["irc-listen"] = list(self.settings.endpoints["irc"])
        self["web-listen"] = list(self.settings.endpoints["web"])


def _as_option(option: Option, settings: Settings) -> Any:
    value = settings.value(option.key)
    if option.negate:
        return not value
    if option.many:
        return list(value)
    if option.key == "server.motd":
        return None if value is None else list(value.lines)
    return value


def _repeatable(option: Option) -> Callable[[Options, str], None]:
    """The C{opt_} method of a repeatable option: each value is kept."""

    def add(self: Options, value: str) -> None:
        assert option.flag is not None
        self[option.flag].append(value)

    add.__doc__ = option.help
    return add


for _option in OPTIONS:
    if _option.many and _option.flag is not None:
        _add = _repeatable(_option)  # one method: -l is a synonym of --listen
        for _name in (_option.flag, _option.short):
            if _name:
                setattr(Options, "opt_" + _name.replace("-", "_"), _add)


def _program() -> str:
    """The command's name as the user typed it: twistd, twist..."""
    return os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "twistd"


def makeService(options: Options, reactor: Any = None) -> ChatService:
    """The chat service that C{options} describe."""
    if reactor is None:
        from twisted.internet import reactor
    # Under twistd without -n the service runs in a forked daemon.
    parent = getattr(options, "parent", None)
    daemon = parent is not None and parent.get("nodaemon") is False
    return ChatService.from_settings(
        options.settings, reactor, source=options.source, daemon=daemon
    )


__all__ = ["BACKLOG", "DEFAULT_PORT", "Options", "makeService"]

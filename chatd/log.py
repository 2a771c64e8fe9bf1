# -*- test-case-name: tests.test_service -*-
"""
chatd's loggers, and the one switch that sets how much they say.

Every chatd logger sends its events through one level filter before they
reach Twisted's global log publisher, so C{--log-level} quiets chatd without
hiding what Twisted itself reports.
"""

from __future__ import annotations

from twisted.logger import (
    FilteringLogObserver,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogPublisher,
)

LEVELS = {
    "debug": LogLevel.debug,
    "info": LogLevel.info,
    "warn": LogLevel.warn,
    "warning": LogLevel.warn,
    "error": LogLevel.error,
}

_levels = LogLevelFilterPredicate(defaultLogLevel=LogLevel.info)

#: Whether chatd's debug events get through: hot paths test this before
#: building a debug event nobody would see.
debugging = False
_observer = FilteringLogObserver(globalLogPublisher, [_levels])


def logger(namespace: str) -> Logger:
    """A L{Logger} for C{namespace} whose events pass chatd's level filter."""
    return Logger(namespace=namespace, observer=_observer)


def set_level(level: LogLevel) -> None:
    """Let chatd's events of C{level} and above through, and drop the rest."""
    global debugging
    _levels.setLogLevelForNamespace("chatd", level)
    debugging = level <= LogLevel.debug


def get_level() -> LogLevel:
    level: LogLevel = _levels.logLevelForNamespace("chatd")
    return level

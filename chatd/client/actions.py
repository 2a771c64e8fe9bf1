# -*- test-case-name: tests.test_client,tests.test_client_accounts -*-
"""
What a typed line becomes: the actions L{chatd.client.commands.parse_input}
(and L{chatd.client.accounts} for the account commands) return, and the
word splitting both parsers share.  In a module of their own so that the
parsers and the session import them without importing each other.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, Union


class Send(NamedTuple):
    """A request for the server, without its C{id}."""

    request: dict[str, Any]


class SendAll(NamedTuple):
    """
    Several requests for one typed line (C{/mode +o-v bob carol}), sent one
    after the other, each once the one before has its reply.
    """

    requests: tuple[dict[str, Any], ...]


class Connect(NamedTuple):
    """(Re)connect; C{host} None means the last server again."""

    host: str | None
    port: int


class Quit(NamedTuple):
    reason: str


class Help(NamedTuple):
    pass


class Query(NamedTuple):
    """
    Make C{target} (a nick, or a channel one is in) where plain lines go,
    then say C{text} to it if any; a C{target} of None ends a query.
    """

    target: str | None
    text: str = ""


class Whois(NamedTuple):
    """Find the channels C{nick} is in."""

    nick: str


class Ping(NamedTuple):
    """Ping the server and show the round-trip time."""


class Rejoin(NamedTuple):
    """
    Join a channel again after a reconnection (queued by the session), with
    the key it was last known to have, if any.
    """

    channel: str
    key: str | None = None


class Reaway(NamedTuple):
    """Be away again after a reconnection (queued by the session)."""

    message: str


class ShowHistory(NamedTuple):
    """
    Show C{limit} messages of C{target}'s history from before the oldest
    shown (the newest, when none was).
    """

    target: str
    limit: int


class Problem(NamedTuple):
    """Something wrong with what was typed; shown as C{! message}."""

    message: str


class Login(NamedTuple):
    """
    Log in to C{account} (None: the account named as our nick) with SCRAM,
    so that the password itself is not sent.
    """

    account: str | None
    password: str


Action = Union[
    Send,
    SendAll,
    Connect,
    Quit,
    Help,
    Query,
    Whois,
    Ping,
    Rejoin,
    Reaway,
    Login,
    ShowHistory,
    Problem,
]


_SPACES = re.compile("[ \t]+")


def split_words(text: str, maxsplit: int = 0) -> list[str]:
    """
    The words of C{text}, separated by spaces and tabs only: Python's
    C{str.split} also splits on (and C{strip} removes) the formatting codes
    C{\\x1d}, C{\\x1e} and C{\\x1f}, which belong to the text.
    """
    text = text.strip(" \t")
    return _SPACES.split(text, maxsplit) if text else []


def split_channel(rest: str, current: str | None) -> tuple[str | None, str]:
    """
    Read C{[#chan] [text]}: the channel when the first word is one, else the
    current channel, and the rest.
    """
    if rest.startswith("#"):
        words = split_words(rest, 1)
        return words[0], words[1] if len(words) > 1 else ""
    return current, rest

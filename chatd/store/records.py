# -*- test-case-name: tests.store.test_contract -*-
"""
What the store keeps, as immutable values.

The store copies these in and out and interprets none of their text
(hashes, SCRAM credentials and masks are opaque to it), so every engine
gives back exactly what it was given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple


@dataclass(frozen=True)
class AccountRecord:
    """A registered account."""

    name: str  # as registered (display form), e.g. "Alice"
    folded: str  # unique lookup key (case-folded name), e.g. "alice"
    password_hash: str  # "$scrypt$ln=14,r=8,p=1$<b64 salt>$<b64 key>"
    scram: str  # SCRAM-SHA-256 credentials serialised as text
    created_at: float  # unix time
    email: str | None = None


@dataclass(frozen=True)
class ListRecord:
    """One entry of a registered channel's ban, exception or invite list."""

    mode: str  # "b", "e" or "I"
    mask: str  # "nick!user@host" glob, or "$a:account"
    set_by: str
    set_at: float


@dataclass(frozen=True)
class AccessRecord:
    """An account that gets +o or +v when it joins a registered channel."""

    account: str  # folded account name
    level: str  # "o" or "v"


@dataclass(frozen=True)
class ChannelRecord:
    """A registered channel: what it keeps across restarts."""

    name: str  # "#Chatd"
    folded: str  # "#chatd", unique
    founder: str  # folded account name
    registered_at: float
    topic: str = ""
    topic_by: str = ""
    topic_at: float = 0.0
    flags: str = "nt"  # mode letters set, e.g. "imnst"
    mode_key: str | None = None  # +k
    limit: int | None = None  # +l
    lists: tuple[ListRecord, ...] = ()  # in the order set
    access: tuple[AccessRecord, ...] = ()  # in the order given
    # what its history keeps: "everything", "since-join", "none", or None
    # for the server's default (the store does not check the value)
    history: str | None = None


class HistoryItem(NamedTuple):
    """
    One event kept in a conversation's history, as it was delivered.

    Items sort by C{(ts, msgid)}: the caller makes msgids that sort by time,
    and the msgid breaks ties between items of the same C{ts}.

    A named tuple, not a frozen dataclass: one is made for every message
    said, on the reactor's thread, and a tuple costs a hundredth of a frozen
    dataclass's C{__init__} there (and is the store's row as it is).
    """

    msgid: str  # unique
    target: str  # folded key: "#chat", or a private conversation's key
    ts: float  # unix time
    kind: str  # message, notice, action, tagmsg, join, part, kick, quit, ...
    nick: str
    username: str
    host: str
    account: str | None
    to: str  # the channel's name as shown, or the recipient
    text: str  # may be ""
    tags: str = ""  # JSON text of the client tags
    extra: str = ""  # JSON text, what the kind needs besides

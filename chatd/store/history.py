# -*- test-case-name: tests.store.test_history -*-
"""
What every engine's history shares: the order of items, how AROUND splits
its limit, and what a search's words are.

Search matches words, not substrings: a word is a run of letters and digits
(underscores, punctuation, spaces and symbols separate words), compared
without regard to case.  An item matches when every word of the query is
one of its text's words; a query without words matches nothing.  The query
is never read as a search language: quotes, C{-}, C{*}, C{OR} and the like
are ordinary text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

from .records import HistoryItem

T = TypeVar("T")

#: Rows an expiry deletes in one transaction, so that it never holds the
#: write lock for long: other writes run between its chunks.
EXPIRE_CHUNK = 1000

#: Targets one query names at most (SQL engines split longer lists).
TARGETS_PER_QUERY = 500

_WORD = re.compile(r"[^\W_]+")


def order(item: HistoryItem) -> tuple[float, str]:
    """The key items sort by: time, then msgid."""
    return (item.ts, item.msgid)


def words(text: str) -> list[str]:
    """The words of C{text}, lower-cased, in order, without repeats."""
    return list(dict.fromkeys(w.lower() for w in _WORD.findall(text)))


def fts5_query(query: Sequence[str]) -> str:
    """
    An FTS5 MATCH expression that every word of C{query} must match: each
    word quoted, so that none is read as an operator.
    """
    return " ".join('"' + w.replace('"', '""') + '"' for w in query)


def private_party(account: str, target: str) -> bool:
    """
    Whether C{target} is a private conversation's key (the two parties'
    folded names, sorted, joined by one space) with C{account} in it.
    """
    first, space, second = target.partition(" ")
    return bool(space) and account in (first, second) and " " not in second


def pick_targets(
    latest: dict[str, float], start_ts: float, end_ts: float, limit: int
) -> list[tuple[str, float]]:
    """
    CHATHISTORY TARGETS' answer from each target's latest time (those
    strictly between the times): in ascending time order, at most C{limit}
    counted from C{start_ts}'s side, as BETWEEN counts.
    """
    if limit <= 0:
        return []
    low, high = sorted((start_ts, end_ts))
    ordered = sorted(
        ((k, ts) for k, ts in latest.items() if low < ts < high),
        key=lambda pair: (pair[1], pair[0]),
    )
    return ordered[:limit] if start_ts <= end_ts else ordered[-limit:]


def around(before: Sequence[T], after: Sequence[T], limit: int) -> list[T]:
    """
    At most C{limit} items around a pivot, half before it if there are that
    many: C{before} are the items before it (in time order, the nearest
    last), C{after} the pivot and those after it (the nearest first).  When
    one side has fewer, the other gives more.
    """
    if limit <= 0:
        return []
    after_count = min(len(after), limit - min(len(before), limit // 2))
    before_count = min(len(before), limit - after_count)
    return list(before[len(before) - before_count :]) + list(after[:after_count])


def chunks(values: Sequence[T], size: int = TARGETS_PER_QUERY) -> list[Sequence[T]]:
    """C{values} in pieces of at most C{size}."""
    return [values[i : i + size] for i in range(0, len(values), size)]

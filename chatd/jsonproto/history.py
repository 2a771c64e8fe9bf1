# -*- test-case-name: tests.test_protocol_history -*-
"""
The JSON protocol's history: C{history} (a page of a channel's or a private
conversation's history), C{mark_read}, C{redact} and C{search}, and the
scrollback and read marker a C{join} may carry.

Who may read what is the core's rule and the paging is
L{chatd.history.reader.History}'s; this reads the requests and writes each
item as the event a client was (or would have been) sent live, with its
C{msgid} and C{ts}, so that one code path shows both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from chatd.core import ChatError, User
from chatd.history.items import to_event
from chatd.history.reader import Reference
from chatd.jsonproto import codec
from chatd.jsonproto.args import arg, flag

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from chatd.core.events import Redacted
    from chatd.history.reader import History, Page
    from chatd.jsonproto.lines import ChatFactory
    from chatd.store.records import HistoryItem

#: How many items C{history} gives when the request does not say.
DEFAULT_LIMIT = 50

#: The ways C{history} is asked where to read, one per request.
POSITIONS = ("latest", "before", "after", "around")

#: A time written as ISO 8601: a date, C{T}, a time.  Any other string
#: where a time or a msgid may be is a msgid (a msgid has no C{-}).
_ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")

#: Times are from 1970 (the epoch) to the end of 9999.
_YEAR_10000 = 253402300800.0


def _check_unicode(value: str, field: str) -> None:
    # as for every string argument (protocol.md): a lone surrogate is bad_args
    if codec.has_lone_surrogate(value):
        raise ChatError(
            "bad_args", f"field {field!r} is not valid Unicode (a lone surrogate)"
        )


def parse_time(value: object, field: str) -> float:
    """
    C{value} as seconds since the epoch: a number (seconds), or an ISO 8601
    string (C{2026-11-24T10:00:00.123Z}; UTC when it names no zone).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ChatError(
            "bad_args",
            f"field {field!r} must be a time: seconds since 1970 (a number) or"
            " ISO 8601 (a string)",
        )
    if isinstance(value, str):
        _check_unicode(value, field)
        if not _ISO_TIME.match(value):
            raise ChatError(
                "bad_reference",
                f"field {field!r} is not an ISO 8601 time (2026-11-24T10:00:00.123Z)",
            )
        try:
            # Python before 3.11 (PyPy 3.9) reads no "Z".
            text = value[:-1] + "+00:00" if value[-1:] in ("Z", "z") else value
            when = datetime.fromisoformat(text)
            if when.tzinfo is None:
                when = when.replace(tzinfo=timezone.utc)
            seconds = when.timestamp()
        except (ValueError, OverflowError):
            raise ChatError(
                "bad_reference",
                f"field {field!r} is not an ISO 8601 time (2026-11-24T10:00:00.123Z)",
            ) from None
    else:
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    if not math.isfinite(seconds) or not 0 <= seconds < _YEAR_10000:
        raise ChatError(
            "bad_reference", f"field {field!r} is not a time from 1970 to 9999"
        )
    return seconds


def parse_reference(value: object, field: str) -> Reference:
    """
    Where C{field} points in a history: a number or an ISO 8601 string is a
    time, any other string a message's C{msgid}.
    """
    if isinstance(value, str) and not _ISO_TIME.match(value):
        _check_unicode(value, field)
        if not value:
            raise ChatError(
                "bad_reference", f"field {field!r} is neither a msgid nor a time"
            )
        return Reference(msgid=value)
    return Reference(ts=parse_time(value, field))


def _limit(request: codec.Request, field: str, default: int, most: int) -> int:
    value = request.args.get(field)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChatError("bad_args", f"field {field!r} must be a whole number")
    if not 0 < value <= most:
        raise ChatError(
            "bad_limit", f"field {field!r} must be a whole number from 1 to {most}"
        )
    return value


def item_fields(item: HistoryItem) -> dict[str, Any] | None:
    """
    C{item} as the event its reader was (or would have been) sent, with its
    C{msgid} and C{ts}; None for what JSON clients are not shown (tag-only
    messages: a typing notice kept with other tags is long over).
    """
    if item.kind == "tagmsg":
        return None
    fields = codec.event_fields(to_event(item))
    if fields is None:
        return None
    fields["msgid"] = item.msgid
    fields["ts"] = codec.format_ts(item.ts)
    return fields


def items_of(items: Iterable[HistoryItem]) -> list[dict[str, Any]]:
    """The items JSON shows, each as L{item_fields} writes it."""
    return [f for f in map(item_fields, items) if f is not None]


def _marker(marker: float | None) -> str | None:
    return None if marker is None else codec.format_ts(marker)


class HistoryRequests:
    """The history commands of L{chatd.jsonproto.session.JSONSession}."""

    if TYPE_CHECKING:
        factory: ChatFactory
        user: User | None

    def _history(self) -> History:
        history = self.factory.history
        if history is None:
            raise ChatError("history_off", "this server keeps no history")
        return history

    def _reader(self) -> User:
        assert self.user is not None
        return self.user

    def do_history(self, request: codec.Request) -> Deferred[bytes]:
        history = self._history()
        user = self._reader()
        target = arg(request, "target")
        given = [p for p in POSITIONS if request.args.get(p) is not None]
        if len(given) != 1:
            raise ChatError(
                "bad_args",
                'give one of "latest":true, "before", "after" or "around"'
                " (a msgid or a time)",
            )
        position = given[0]
        limit = _limit(request, "limit", DEFAULT_LIMIT, history.limit_max)
        events = flag(request, "events")
        if position == "latest":
            if request.args["latest"] is not True:
                raise ChatError("bad_args", "field 'latest' must be true")
            d = history.latest(user, target, limit, events)
        else:
            ref = parse_reference(request.args[position], position)
            d = getattr(history, position)(user, target, ref, limit, events)

        def reply(page: Page) -> bytes:
            return codec.ok(
                "history",
                request.request_id,
                target=page.name,
                items=items_of(page.items),
                more=page.more,
            )

        return d.addCallback(reply)

    def joined_reply(
        self, request: codec.Request, channel: str, results: dict[str, Any]
    ) -> bytes | Deferred[bytes]:
        """
        The reply to C{join}: C{results}, and when the server keeps history
        the reader's C{read_marker} of the channel and, if asked, the last
        C{history} messages (null when the channel shows none to them).
        """
        history = self.factory.history
        count = request.args.get("history")
        if history is None:
            if count is None:
                return codec.ok("join", request.request_id, **results)
            return codec.ok(
                "join", request.request_id, **results, history=None, read_marker=None
            )
        user = self._reader()

        def hidden(failure: Failure) -> None:
            # The channel shows this member none of its history.
            failure.trap(ChatError)

        def with_marker(marker: float | None) -> Deferred[bytes] | bytes:
            results["read_marker"] = _marker(marker)
            if not count:
                if count is not None:
                    results["history"] = {"items": [], "more": False}
                return codec.ok("join", request.request_id, **results)

            def page(found: Page | None) -> bytes:
                results["history"] = (
                    None
                    if found is None
                    else {"items": items_of(found.items), "more": found.more}
                )
                return codec.ok("join", request.request_id, **results)

            d: Deferred[Any] = history.latest(user, channel, count)
            return d.addErrback(hidden).addCallback(page)

        marker: Deferred[Any] = history.read_marker(user, channel)
        return marker.addErrback(hidden).addCallback(with_marker)

    def join_history_count(self, request: codec.Request) -> int | None:
        """The C{history} count of a C{join}, checked before joining."""
        value = request.args.get("history")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise ChatError("bad_args", "field 'history' must be a whole number")
        history = self.factory.history
        most = history.limit_max if history is not None else 1000
        if not 0 <= value <= most:
            raise ChatError(
                "bad_limit", f"field 'history' must be a whole number from 0 to {most}"
            )
        return value

    def do_mark_read(self, request: codec.Request) -> Deferred[bytes]:
        history = self._history()
        user = self._reader()
        target = arg(request, "target")
        if request.args.get("ts") is None:
            raise ChatError("bad_args", "missing field 'ts'")
        ts = parse_time(request.args["ts"], "ts")
        # a marker is the user's own note: any channel or nick has one,
        # whether or not its history may be read (protocol.md)
        chat = self.factory.chat
        chat.marker_key(user, target)  # bad_channel, bad_nick
        channel = chat.find_channel(target) if target.startswith("#") else None
        name = target
        if channel is not None and (user in channel.members or not channel.secret):
            name = channel.name
        d = history.mark_read(user, target, ts, self.factory.clock.seconds())
        return d.addCallback(
            lambda marker: codec.ok(
                "mark_read",
                request.request_id,
                target=name,
                read_marker=_marker(marker),
            )
        )

    def do_redact(self, request: codec.Request) -> Deferred[bytes]:
        history = self._history()
        user = self._reader()
        target = arg(request, "target")
        msgid = arg(request, "msgid")
        reason = arg(request, "reason", "")
        d = history.redact(user, target, msgid, reason, self.factory.clock.seconds())

        def reply(event: Redacted) -> bytes:
            return codec.ok(
                "redact",
                request.request_id,
                target=event.target,
                msgid=event.redacted,
            )

        return d.addCallback(reply)

    def do_search(self, request: codec.Request) -> Deferred[bytes]:
        history = self._history()
        user = self._reader()
        text = arg(request, "text")
        target = arg(request, "target", None)
        limit = _limit(request, "limit", DEFAULT_LIMIT, history.limit_max)
        d = history.search(user, text, target, limit)

        def reply(found: list[tuple[str, HistoryItem]]) -> bytes:
            items = []
            for name, item in found:
                fields = item_fields(item)
                if fields is not None:
                    fields["target"] = name
                    items.append(fields)
            return codec.ok("search", request.request_id, items=items)

        return d.addCallback(reply)

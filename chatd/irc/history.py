# -*- test-case-name: tests.test_irc_history -*-
"""
History on IRC: IRCv3 C{draft/chathistory} (C{CHATHISTORY}),
C{draft/event-playback}, C{draft/read-marker} (C{MARKREAD}),
C{draft/message-redaction} (C{REDACT}), and the replay of a channel's last
lines to a client that joins without asking for history.

Who may read what, and what a page holds, is L{chatd.history.reader}'s;
this is how IRC asks for it and shows it.  Without history (the factory's
C{history} is None) none of this is offered: no capabilities, no ISUPPORT
tokens, and the commands are unknown (421).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.words.protocols import irc as rfc

from chatd.core import REASON_MAX, Channel, Event, Joined, Message, TagMessage
from chatd.core.errors import ChatError
from chatd.core.events import ReadMarked, Redacted
from chatd.core.names import clean_line
from chatd.history.items import to_event
from chatd.history.reader import LIMIT_MAX, Page, Reference
from chatd.irc.channels import Channels
from chatd.irc.message import Line, build, format_time, mask
from chatd.irc.session import Command

if TYPE_CHECKING:
    from chatd.history.reader import History
    from chatd.store.records import HistoryItem

#: The capabilities history adds (when the server keeps history).
HISTORY_CAPS = (
    "draft/chathistory",
    "draft/event-playback",
    "draft/message-redaction",
    "draft/read-marker",
)

#: The reference types CHATHISTORY takes, in order of preference (ISUPPORT).
MSGREFTYPES = "msgid,timestamp"

#: CHATHISTORY's subcommands and how many parameters follow each.
SUBCOMMANDS = {
    "LATEST": 3,
    "BEFORE": 3,
    "AFTER": 3,
    "AROUND": 3,
    "BETWEEN": 4,
    "TARGETS": 3,
}

#: What a refusal of the history means to a CHATHISTORY, MARKREAD or REDACT
#: client: the target may not be read by them (or is no target at all).
TARGET_REFUSALS = frozenset(
    {
        "no_such_channel",
        "not_on_channel",
        "history_hidden",
        "account_required",
        "no_such_nick",
        "bad_channel",
        "bad_nick",
        "nick_required",
    }
)

_TIMESTAMP = re.compile(
    r"\A(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z\Z", re.ASCII
)

#: A time in a reference is cut to the millisecond (as C{server-time}
#: shows it): a message at 12.3456 s shows as 12.345, and C{AFTER} that
#: time must not give it again.  An exclusive lower bound is therefore
#: moved to the end of its millisecond, less this.
_SUBMILLI = 1e-6


def parse_timestamp(text: str) -> float | None:
    """
    C{YYYY-MM-DDThh:mm:ss.sssZ} (as C{server-time} writes it; the fraction
    may be absent or longer) as seconds since the epoch, or None if it is
    not that.
    """
    found = _TIMESTAMP.match(text)
    if found is None:
        return None
    year, month, day, hour, minute, second, fraction = found.groups()
    try:
        whole = calendar.timegm(
            (int(year), int(month), int(day), int(hour), int(minute), int(second))
        )
    except (ValueError, OverflowError):
        return None
    if not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        return None
    if int(hour) > 23 or int(minute) > 59 or int(second) > 60:
        return None
    return whole + (int(fraction) / 10 ** len(fraction) if fraction else 0.0)


class BadParams(Exception):
    """A CHATHISTORY or MARKREAD line that cannot be read: its FAIL's params."""

    def __init__(self, code: str, *params: str) -> None:
        Exception.__init__(self, code, *params)
        self.code = code
        self.params = params


def _reference(subcommand: str, text: str, star: bool = False) -> Reference | None:
    """
    A CHATHISTORY reference: C{msgid=...}, C{timestamp=...}, or (for
    C{LATEST}: C{star}) C{*}, which is None.
    """
    if star and text == "*":
        return None
    kind, equals, value = text.partition("=")
    if not equals:
        raise BadParams("INVALID_PARAMS", subcommand, text, "Invalid reference")
    if kind == "msgid":
        if not value:
            raise BadParams("INVALID_PARAMS", subcommand, text, "Invalid msgid")
        return Reference(msgid=value)
    if kind == "timestamp":
        ts = parse_timestamp(value)
        if ts is None:
            raise BadParams("INVALID_PARAMS", subcommand, text, "Invalid timestamp")
        return Reference(ts=ts)
    raise BadParams(
        "INVALID_MSGREFTYPE",
        subcommand,
        text,
        f"{kind} references are not supported: use msgid= or timestamp=",
    )


def _after(ref: Reference) -> Reference:
    """C{ref} as an exclusive lower bound: a time's whole millisecond excluded."""
    if ref.ts is None or ref.msgid is not None:
        return ref
    return Reference(ts=int(ref.ts * 1000) / 1000 + 0.001 - _SUBMILLI)


def _limit(subcommand: str, text: str, most: int) -> int:
    """A page's size: a positive whole number, more than C{most} cut to it."""
    if not text.isdigit() or int(text) < 1:
        raise BadParams("INVALID_PARAMS", subcommand, text, "Invalid limit")
    return min(int(text), most)


class HistoryCommands(Channels):
    """CHATHISTORY, MARKREAD and REDACT, and history on joining."""

    @property
    def _history(self) -> History | None:
        history: History | None = self.factory.history
        return history

    def cap_values(self) -> dict[str, str]:
        values = super().cap_values()
        if self._history is not None:
            values.update(dict.fromkeys(HISTORY_CAPS, ""))
        return values

    def _unknown(self, command: str) -> None:
        self.write(self.numeric(rfc.ERR_UNKNOWNCOMMAND, command, "Unknown command"))

    def _batch(
        self,
        kind: str,
        params: Sequence[str],
        lines: Sequence[tuple[dict[str, str], str]],
    ) -> None:
        """C{lines} in a batch of C{kind} if the client has C{batch}; else bare."""
        if "batch" not in self.caps:
            for tags, line in lines:
                self.write(line, tags)
            return
        self._batches += 1
        ref = f"H{self._batches}"
        server = self.factory.server_name
        self.write(build("BATCH", f"+{ref}", kind, *params, prefix=server))
        for tags, line in lines:
            self.write(line, {**tags, "batch": ref})
        self.write(build("BATCH", f"-{ref}", prefix=server))

    def _playback(
        self, items: Sequence[HistoryItem]
    ) -> list[tuple[dict[str, str], str]]:
        """
        C{items} as this client sees them live, each with the time and msgid
        it had (a TAGMSG only for clients with C{draft/event-playback}, as
        ergo does: it is not a line of the conversation to read back).
        """
        caps = self.caps
        factory = self.factory
        out: list[tuple[dict[str, str], str]] = []
        for item in items:
            event = to_event(item)
            if isinstance(event, TagMessage) and (
                "draft/event-playback" not in caps or "message-tags" not in caps
            ):
                continue
            tags: dict[str, str] = {}
            if "account-tag" in caps and event.origin.account is not None:
                tags["account"] = event.origin.account
            if isinstance(event, (Message, TagMessage)) and event.tags:
                tags.update(event.tags)
            tags["msgid"] = event.msgid
            tags["time"] = format_time(event.ts)
            if isinstance(event, Joined) and "extended-join" in caps:
                lines = [factory.extended_join(event)]
            else:
                lines = factory.event_lines(event)
            out.extend((tags, line) for line in lines)
        return out

    # CHATHISTORY

    def irc_CHATHISTORY(self, line: Line) -> Deferred[None] | None:
        history = self._history
        if history is None:
            self._unknown(line.command)
            return None
        params = line.params
        try:
            d = self._chathistory(history, params)
        except BadParams as e:
            self._fail("CHATHISTORY", e.code, *e.params)
            return None
        subcommand = params[0].upper()
        target = params[1] if subcommand != "TARGETS" else "*"
        return d.addErrback(self._chathistory_refused, subcommand, target)

    def _chathistory(self, history: History, params: Sequence[str]) -> Deferred[None]:
        if not params:
            raise BadParams("INVALID_PARAMS", "*", "Insufficient parameters")
        subcommand = params[0].upper()
        wanted = SUBCOMMANDS.get(subcommand)
        if wanted is None:
            raise BadParams("INVALID_PARAMS", params[0][:32], "Unknown command")
        if len(params) - 1 < wanted:
            raise BadParams("INVALID_PARAMS", subcommand, "Insufficient parameters")
        if len(params) - 1 > wanted:
            raise BadParams("INVALID_PARAMS", subcommand, "Too many parameters")
        most = min(history.limit_max, LIMIT_MAX)
        limit = _limit(subcommand, params[-1], most)
        user = self._user()
        if subcommand == "TARGETS":
            times = []
            for text in params[1:3]:
                ref = _reference(subcommand, text)
                if ref is None or ref.ts is None:
                    raise BadParams(
                        "INVALID_PARAMS", subcommand, text, "TARGETS takes timestamps"
                    )
                times.append(ref.ts)
            # As BETWEEN: the earlier time is an exclusive bound (its whole
            # millisecond), and the limit counts from the first given.
            first, second = times
            if first <= second:
                first = _after(Reference(first)).ts or first
            else:
                second = _after(Reference(second)).ts or second
            found = history.targets(user, first, second, limit)
            return found.addCallback(self._targets)
        target = params[1]
        events = "draft/event-playback" in self.caps
        # a TAGMSG is played back only with event playback and message
        # tags (see _playback), so it must not take a line of the page
        tagmsg = events and "message-tags" in self.caps
        d: Deferred[Page]
        if subcommand == "LATEST":
            after = _reference(subcommand, params[2], star=True)
            d = history.latest(
                user,
                target,
                limit,
                events,
                None if after is None else _after(after),
                tagmsg=tagmsg,
            )
        elif subcommand == "BETWEEN":
            start = _reference(subcommand, params[2])
            end = _reference(subcommand, params[3])
            assert start is not None and end is not None
            a, b = start.ts, end.ts
            if a is not None and b is not None:
                # Two times: the earlier is an exclusive lower bound.
                if a < b:
                    start = _after(start)
                elif b < a:
                    end = _after(end)
            d = history.between(user, target, start, end, limit, events, tagmsg=tagmsg)
        else:
            ref = _reference(subcommand, params[2])
            assert ref is not None
            if subcommand == "BEFORE":
                d = history.before(user, target, ref, limit, events, tagmsg=tagmsg)
            elif subcommand == "AFTER":
                d = history.after(
                    user, target, _after(ref), limit, events, tagmsg=tagmsg
                )
            else:
                d = history.around(user, target, ref, limit, events, tagmsg=tagmsg)
        return d.addCallback(self._page)

    def _page(self, page: Page) -> None:
        self._batch("chathistory", (page.name,), self._playback(page.items))

    def _targets(self, found: list[tuple[str, float]]) -> None:
        server = self.factory.server_name
        lines: list[tuple[dict[str, str], str]] = [
            ({}, build("CHATHISTORY", "TARGETS", name, format_time(ts), prefix=server))
            for name, ts in found
        ]
        self._batch("draft/chathistory-targets", (), lines)

    def _chathistory_refused(
        self, failure: Failure, subcommand: str, target: str
    ) -> None:
        failure.trap(ChatError)
        e = failure.value
        assert isinstance(e, ChatError)
        if e.code == "unknown_msgid":
            # Nothing to return: an empty batch (as the spec advises), so
            # that the client does not wait.
            self._batch("chathistory", (target,), [])
        elif e.code in TARGET_REFUSALS:
            self._fail(
                "CHATHISTORY",
                "INVALID_TARGET",
                subcommand,
                target,
                "Messages could not be retrieved",
            )
        elif e.code in ("bad_reference", "bad_limit"):
            self._fail("CHATHISTORY", "INVALID_PARAMS", subcommand, e.message)
        else:
            self._fail(
                "CHATHISTORY",
                "MESSAGE_ERROR",
                subcommand,
                target,
                "Messages could not be retrieved",
            )

    # MARKREAD

    def irc_MARKREAD(self, line: Line) -> Deferred[None] | None:
        history = self._history
        if history is None:
            self._unknown(line.command)
            return None
        params = line.params
        if not params or not params[0]:
            self._fail("MARKREAD", "NEED_MORE_PARAMS", "Missing parameters")
            return None
        if len(params) > 2:
            self._fail("MARKREAD", "INVALID_PARAMS", params[2], "Invalid parameters")
            return None
        user = self._user()
        target = params[0]
        if len(params) == 1:
            d: Deferred[Any] = history.read_marker(user, target)
        else:
            kind, equals, value = params[1].partition("=")
            ts = parse_timestamp(value) if kind == "timestamp" and equals else None
            if ts is None:
                self._fail("MARKREAD", "INVALID_PARAMS", params[1], "Invalid timestamp")
                return None
            # Nobody has read what has yet to be said.
            ts = min(ts, self.factory.clock.seconds())
            d = history.mark_read(user, target, ts)
        return d.addCallbacks(
            self._marker,
            self._markread_refused,
            callbackArgs=(target,),
            errbackArgs=(target,),
        )

    def _marker(self, marker: float | None, target: str) -> None:
        self.write(self._markread_line(target, marker))

    def _markread_line(self, target: str, marker: float | None) -> str:
        value = "*" if marker is None else f"timestamp={format_time(marker)}"
        return build("MARKREAD", target, value, prefix=self.factory.server_name)

    def _markread_refused(self, failure: Failure, target: str) -> None:
        failure.trap(ChatError)
        e = failure.value
        assert isinstance(e, ChatError)
        if e.code in TARGET_REFUSALS:
            self._fail("MARKREAD", "INVALID_PARAMS", target, e.message)
        else:
            self._fail(
                "MARKREAD",
                "INTERNAL_ERROR",
                target,
                "The read timestamp could not be set",
            )

    # REDACT

    def irc_REDACT(self, line: Line) -> Deferred[None] | None:
        history = self._history
        if history is None:
            self._unknown(line.command)
            return None
        target, msgid = line.params[0], line.params[1]
        reason = clean_line(line.params[2], REASON_MAX) if len(line.params) > 2 else ""
        user = self._user()
        now = self.factory.clock.seconds()
        d = history.redact(user, target, msgid, reason, now)
        return d.addCallbacks(
            self._redacted, self._redact_refused, errbackArgs=(target, msgid)
        )

    def _redacted(self, event: Redacted) -> None:
        # the msgid the others' copies carry (message-tags)
        tags = {"time": format_time(event.ts), "msgid": event.msgid}
        self.write(self._redact_line(event), tags)

    def _redact_line(self, event: Redacted) -> str:
        # As the message's own line named it: its channel, or its recipient.
        params: tuple[str, ...] = (event.to, event.redacted)
        if event.reason:
            params = (*params, event.reason)
        source = mask(event.by, event.origin)
        return build("REDACT", *params, prefix=source, text=bool(event.reason))

    def _redact_refused(self, failure: Failure, target: str, msgid: str) -> None:
        failure.trap(ChatError)
        e = failure.value
        assert isinstance(e, ChatError)
        if e.code == "redact_forbidden":
            self._fail(
                "REDACT",
                "REDACT_FORBIDDEN",
                target,
                msgid,
                "You are not authorised to delete this message",
            )
        elif e.code == "unknown_msgid":
            self._fail(
                "REDACT",
                "UNKNOWN_MSGID",
                target,
                msgid,
                "This message does not exist or is too old",
            )
        elif e.code in TARGET_REFUSALS:
            self._fail(
                "REDACT",
                "INVALID_TARGET",
                target,
                f"You cannot delete messages from {target}",
            )
        else:
            self._fail("REDACT", "INVALID_PARAMS", target, msgid, e.message)

    # Events from the core, and joining.

    def deliver_history(self, event: Event) -> None:
        """A redaction or a read marker that moved, for clients that asked."""
        caps = self.caps
        if isinstance(event, Redacted):
            if "draft/message-redaction" in caps:
                self._emit(
                    {"time": format_time(event.ts), "msgid": event.msgid},
                    self._redact_line(event),
                )
        elif isinstance(event, ReadMarked) and "draft/read-marker" in caps:
            self._emit({}, self._markread_line(event.target, event.marker))

    def after_join(self, channel: Channel) -> Deferred[None] | None:
        """
        After the JOIN and topic: the read marker (C{draft/read-marker},
        before the names as the spec says), the names, then the last lines
        for a client that did not ask for C{draft/chathistory}.
        """
        history = self._history
        if history is None:
            return super().after_join(channel)
        user = self._user()
        caps = self.caps
        replay = 0 if "draft/chathistory" in caps else history.replay_on_join
        replay = min(replay, history.limit_max, LIMIT_MAX)
        if replay <= 0 and "draft/read-marker" not in caps:
            return super().after_join(channel)

        async def steps() -> None:
            if "draft/read-marker" in caps:
                try:
                    marker = await history.read_marker(user, channel.name)
                except ChatError:
                    marker = None
                self.write(self._markread_line(channel.name, marker))
            self._names(channel)
            if replay > 0:
                try:
                    page = await history.latest(
                        user, channel.name, replay, tagmsg=False
                    )
                except ChatError:
                    return  # the channel lets them read none of it
                if page.items:
                    self._page(page)

        d = Deferred.fromCoroutine(steps())
        return None if d.called and d.result is None else d


#: The history commands (least parameters: their own FAILs say what is
#: missing, but REDACT's).
HISTORY: dict[str, Command] = {
    "CHATHISTORY": (HistoryCommands.irc_CHATHISTORY, 0, True),
    "MARKREAD": (HistoryCommands.irc_MARKREAD, 0, True),
    "REDACT": (HistoryCommands.irc_REDACT, 2, True),
}


__all__ = [
    "HISTORY",
    "HISTORY_CAPS",
    "MSGREFTYPES",
    "HistoryCommands",
    "parse_timestamp",
]

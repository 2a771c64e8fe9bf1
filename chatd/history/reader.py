# -*- test-case-name: tests.history.test_reader -*-
"""
What a user may read of the history, a page at a time: the one place every
adapter asks (IRC's CHATHISTORY, JSON's C{history}, replay on join, search).

Who may read what is the core's rule (L{chatd.core.history}); this applies
it to the log's answers: items from before a reader's window are never
given, nor (unless asked for) events other than messages, and every page
says whether there is more beyond it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from twisted.internet.defer import Deferred, fail, succeed

from chatd.core.errors import ChatError
from chatd.core.history import Conversation, private_other
from chatd.core.names import fold
from chatd.history.items import MESSAGE_KINDS
from chatd.store.history import order, pick_targets, words
from chatd.store.records import HistoryItem

if TYPE_CHECKING:
    from chatd.core.chat import Chat
    from chatd.core.events import ReadMarked, Redacted
    from chatd.core.model import User
    from chatd.history.log import HistoryLog
    from chatd.history.markers import ReadMarkers

#: The most items one page may hold (IRC's C{CHATHISTORY=} in ISUPPORT).
LIMIT_MAX = 1000

#: A search of everything reads at most this many private conversations
#: (the most recently active).
PRIVATE_SEARCHED = 10_000
#: A time after every item (the year 9999).
FAR_FUTURE = 253402300799.0

#: Most items of the log a page reads, past those its reader does not see
#: (events, without event playback), before it stops short, saying there is
#: more.  Each read asks for four times as many as the last, from C{limit
#: + 1}: a small page after many joins and quits (a channel's churn) is
#: not short.  Before, four reads of C{limit + 1} each: a channel with
#: more than 4 x 21 events since its last message replayed nothing.
_SCAN_MAX = 10_000


def _read_sizes(limit: int) -> Iterator[int]:
    """How many items each read of a page asks the log for (see L{_SCAN_MAX})."""
    size = limit + 1
    asked = 0
    while asked < _SCAN_MAX:
        yield size
        asked += size
        size = min(_SCAN_MAX, 4 * size)


class Reference(NamedTuple):
    """
    A point in a history: a message's C{msgid}, or a time (C{ts}).  With a
    msgid the time is the message's; one that is not in the history is
    refused.
    """

    ts: float | None = None
    msgid: str | None = None


@dataclass(frozen=True)
class Page:
    """Items of one history, in time order, and whether there are more."""

    #: the target as the reader named it (the channel, or the other nick)
    name: str
    items: list[HistoryItem]
    #: whether more items lie beyond the page, in the direction it was read
    more: bool


_F = TypeVar("_F", bound=Callable[..., Deferred[Any]])


def _refusals_fail(method: _F) -> _F:
    """C{method}, with a refusal it raises at once given as a failed Deferred."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Deferred[Any]:
        try:
            return method(*args, **kwargs)
        except ChatError as e:
            return fail(e)

    return wrapper  # type: ignore[return-value]


def _check_limit(limit: int, most: int = LIMIT_MAX) -> None:
    if not 0 < limit <= most:
        raise ChatError(
            "bad_limit", f"a history limit is a whole number from 1 to {most}"
        )


class History:
    """The history as users may read it."""

    def __init__(
        self,
        chat: Chat,
        log: HistoryLog,
        markers: ReadMarkers | None = None,
        *,
        replay_on_join: int = 0,
        limit_max: int = LIMIT_MAX,
    ) -> None:
        self.chat = chat
        self.log = log
        self.markers = markers
        #: how many lines a client that asked for no history is shown when it
        #: joins (0: none)
        self.replay_on_join = replay_on_join
        self.limit_max = limit_max

    # Pages.

    def _visible(
        self, conversation: Conversation, events: bool, tagmsg: bool
    ) -> Callable[[HistoryItem], bool]:
        start = conversation.start

        def visible(item: HistoryItem) -> bool:
            return (
                item.ts >= start
                and (events or item.kind in MESSAGE_KINDS)
                and (tagmsg or item.kind != "tagmsg")
            )

        return visible

    async def _backward(
        self,
        conversation: Conversation,
        high: Reference | None,
        limit: int,
        events: bool,
        low: tuple[float, str] | None = None,
        tagmsg: bool = True,
    ) -> Page:
        """The newest C{limit} visible items before C{high} (and after C{low})."""
        visible = self._visible(conversation, events, tagmsg)
        key = conversation.key
        got: list[HistoryItem] = []
        pivot = high
        exhausted = False
        for want in _read_sizes(limit):
            if pivot is None:
                raw = await self.log.latest(key, want)
            else:
                raw = await self.log.before(
                    key, pivot.ts if pivot.ts is not None else 0.0, pivot.msgid, want
                )
            kept = [i for i in raw if visible(i) and (low is None or order(i) > low)]
            got = kept + got
            if (
                len(raw) < want
                or raw[0].ts < conversation.start
                or (low is not None and order(raw[0]) <= low)
            ):
                exhausted = True
                break
            if len(got) > limit:
                break
            pivot = Reference(raw[0].ts, raw[0].msgid)
        more = len(got) > limit or not exhausted
        return Page(conversation.name, got[-limit:], more)

    async def _forward(
        self,
        conversation: Conversation,
        low: Reference,
        limit: int,
        events: bool,
        high: tuple[float, str] | None = None,
        tagmsg: bool = True,
    ) -> Page:
        """The oldest C{limit} visible items after C{low} (and before C{high})."""
        visible = self._visible(conversation, events, tagmsg)
        key = conversation.key
        got: list[HistoryItem] = []
        pivot = low
        exhausted = False
        if pivot.ts is not None and pivot.ts < conversation.start:
            # From the start of the reader's window on, that time included.
            pivot = Reference(conversation.start, "")
        for want in _read_sizes(limit):
            raw = await self.log.after(
                key, pivot.ts if pivot.ts is not None else 0.0, pivot.msgid, want
            )
            kept = [i for i in raw if visible(i) and (high is None or order(i) < high)]
            got.extend(kept)
            if len(raw) < want or (high is not None and order(raw[-1]) >= high):
                exhausted = True
                break
            if len(got) > limit:
                break
            pivot = Reference(raw[-1].ts, raw[-1].msgid)
        more = len(got) > limit or not exhausted
        return Page(conversation.name, got[:limit], more)

    async def _resolve(self, conversation: Conversation, ref: Reference) -> Reference:
        """C{ref} with its time: a msgid's is the message's."""
        if ref.msgid is None:
            if ref.ts is None:
                raise ChatError("bad_reference", "give a msgid or a time")
            return ref
        item = await self.log.item(ref.msgid, conversation.key)
        if item is None:
            raise ChatError(
                "unknown_msgid",
                f"{ref.msgid} is not a message of {conversation.name}'s history",
            )
        return Reference(item.ts, item.msgid)

    def _run(self, work: Callable[[], object]) -> Deferred[Page]:
        try:
            coroutine = work()
        except ChatError as e:
            return fail(e)
        return Deferred.fromCoroutine(coroutine)  # type: ignore[arg-type]

    @_refusals_fail
    def latest(
        self,
        user: User,
        target: str,
        limit: int,
        events: bool = False,
        after: Reference | None = None,
        tagmsg: bool = True,
    ) -> Deferred[Page]:
        """
        The newest C{limit} items of C{target}, or if C{after} is given the
        newest of those after it; C{more}: whether there are older ones
        (after C{after}).
        """
        _check_limit(limit, self.limit_max)
        conversation = self.chat.conversation(user, target)

        async def page() -> Page:
            low = None
            if after is not None:
                ref = await self._resolve(conversation, after)
                low = (ref.ts or 0.0, ref.msgid or "\U0010ffff")
            return await self._backward(conversation, None, limit, events, low, tagmsg)

        return self._run(page)

    @_refusals_fail
    def before(
        self,
        user: User,
        target: str,
        ref: Reference,
        limit: int,
        events: bool = False,
        tagmsg: bool = True,
    ) -> Deferred[Page]:
        """The C{limit} items just before C{ref}; C{more}: whether older ones exist."""
        _check_limit(limit, self.limit_max)
        conversation = self.chat.conversation(user, target)

        async def page() -> Page:
            pivot = await self._resolve(conversation, ref)
            return await self._backward(
                conversation, pivot, limit, events, tagmsg=tagmsg
            )

        return self._run(page)

    @_refusals_fail
    def after(
        self,
        user: User,
        target: str,
        ref: Reference,
        limit: int,
        events: bool = False,
        tagmsg: bool = True,
    ) -> Deferred[Page]:
        """The C{limit} items just after C{ref}; C{more}: whether newer ones exist."""
        _check_limit(limit, self.limit_max)
        conversation = self.chat.conversation(user, target)

        async def page() -> Page:
            pivot = await self._resolve(conversation, ref)
            return await self._forward(
                conversation, pivot, limit, events, tagmsg=tagmsg
            )

        return self._run(page)

    @_refusals_fail
    def around(
        self,
        user: User,
        target: str,
        ref: Reference,
        limit: int,
        events: bool = False,
        tagmsg: bool = True,
    ) -> Deferred[Page]:
        """
        About C{limit} items around C{ref}: half before it, the rest from it
        on (the message C{ref} names included); C{more}: whether there are
        items beyond either end.
        """
        _check_limit(limit, self.limit_max)
        conversation = self.chat.conversation(user, target)

        async def page() -> Page:
            pivot = await self._resolve(conversation, ref)
            older = await self._backward(
                conversation, pivot, limit, events, tagmsg=tagmsg
            )
            # From the pivot on: a msgid's message included, a time's too.
            if pivot.msgid is not None:
                at = Reference(pivot.ts, "")
                newer = await self._forward(
                    conversation, at, limit, events, tagmsg=tagmsg
                )
                newer = Page(
                    newer.name,
                    [i for i in newer.items if order(i) >= (pivot.ts, pivot.msgid)],
                    newer.more,
                )
            else:
                newer = await self._forward(
                    conversation, Reference(pivot.ts, ""), limit, events, tagmsg=tagmsg
                )
            before, after = older.items, newer.items
            after_count = min(len(after), limit - min(len(before), limit // 2))
            before_count = min(len(before), limit - after_count)
            items = before[len(before) - before_count :] + after[:after_count]
            more = (
                before_count < len(before)
                or older.more
                or after_count < len(after)
                or newer.more
            )
            return Page(conversation.name, items, more)

        return self._run(page)

    @_refusals_fail
    def between(
        self,
        user: User,
        target: str,
        start: Reference,
        end: Reference,
        limit: int,
        events: bool = False,
        tagmsg: bool = True,
    ) -> Deferred[Page]:
        """
        At most C{limit} items strictly between C{start} and C{end}, counted
        from C{start}: the oldest if it is the earlier, else the newest.
        """
        _check_limit(limit, self.limit_max)
        conversation = self.chat.conversation(user, target)

        async def page() -> Page:
            a = await self._resolve(conversation, start)
            b = await self._resolve(conversation, end)
            ta, tb = a.ts or 0.0, b.ts or 0.0
            if (ta, a.msgid or "") <= (tb, b.msgid or ""):
                # Oldest first, up to (not including) the end.
                high = (tb, b.msgid or "")
                return await self._forward(conversation, a, limit, events, high, tagmsg)
            low = (tb, b.msgid or "\U0010ffff")
            return await self._backward(conversation, a, limit, events, low, tagmsg)

        return self._run(page)

    @_refusals_fail
    def targets(
        self, user: User, start: float, end: float, limit: int
    ) -> Deferred[list[tuple[str, float]]]:
        """
        The channels C{user} may read, and their account's private
        conversations, whose latest item is strictly between the two times,
        with that item's time: in ascending time order, at most C{limit}
        counted from C{start}'s side (IRC's C{CHATHISTORY TARGETS}).
        """
        _check_limit(limit, self.limit_max)
        readable = self.chat.readable_channels(user)
        names = {c.key: c.name for c in readable}

        async def targets() -> list[tuple[str, float]]:
            found = await self.log.targets(list(names), start, end, limit)
            latest = {names[k]: ts for k, ts in found}
            if user.account is not None:
                account = user.account
                for key, ts in await self.log.private_targets(
                    fold(account), start, end, limit
                ):
                    other = private_other(account, key)
                    if other is not None:
                        latest[other] = ts
            return pick_targets(latest, start, end, limit)

        return Deferred.fromCoroutine(targets())

    @_refusals_fail
    def search(
        self, user: User, text: str, target: str | None, limit: int
    ) -> Deferred[list[tuple[str, HistoryItem]]]:
        """
        The newest C{limit} messages C{user} may read (of C{target}, or of
        every channel they are in) with every word of C{text}, newest first,
        each with the name of the history it is in.
        """
        _check_limit(limit, self.limit_max)
        if not words(text):
            # punctuation or emoji alone: nothing the index could match
            raise ChatError("bad_args", "search for at least one word")
        if target is not None:
            readable = [self.chat.conversation(user, target)]
        else:
            readable = self.chat.readable_channels(user)
        names = {c.key: c for c in readable}

        async def search() -> list[tuple[str, HistoryItem]]:
            if target is None and user.account is not None:
                # And every private conversation of the account's.
                account = user.account
                for key, _ in await self.log.private_targets(
                    fold(account), FAR_FUTURE, 0.0, PRIVATE_SEARCHED
                ):
                    other = private_other(account, key)
                    if other is not None:
                        names[key] = Conversation(key, other, 0.0)
            if not names:
                return []
            found = await self.log.search(text, list(names), limit)
            return [
                (names[i.target].name, i)
                for i in found
                if i.kind in MESSAGE_KINDS and i.ts >= names[i.target].start
            ]

        return Deferred.fromCoroutine(search())

    # Changes.

    @_refusals_fail
    def redact(
        self,
        user: User,
        target: str,
        msgid: str,
        reason: str = "",
        now: float | None = None,
    ) -> Deferred[Redacted]:
        """
        Delete the message C{msgid} of C{target} for good, if C{user} may
        (see L{chatd.core.history.HistoryRules.redact}); the others reading
        it are told.
        """
        conversation = self.chat.redaction_conversation(user, target)

        async def redact() -> Redacted:
            item = await self.log.item(msgid, conversation.key)
            if item is None or item.ts < conversation.start:
                raise ChatError(
                    "unknown_msgid",
                    f"{msgid} is not a message of {conversation.name}'s history",
                )
            event = self.chat.redact(
                user, target, msgid, item.account, reason, now, to=item.to
            )
            await self.log.delete(msgid, conversation.key)
            return event

        return Deferred.fromCoroutine(redact())

    @_refusals_fail
    def mark_read(
        self, user: User, target: str, ts: float, now: float | None = None
    ) -> Deferred[float]:
        """
        C{user} has read C{target} up to C{ts}: keep it (a marker only moves
        forward) and tell the account's other connections; the marker kept.
        """
        if self.markers is None:
            return fail(ChatError("unavailable", "read markers are not kept here"))
        markers = self.markers
        key = self.chat.marker_key(user, target)

        channel = self.chat.find_channel(target) if target.startswith("#") else None
        name = target if channel is None else channel.name

        def known(before: float | None) -> Deferred[float]:
            def kept(marker: float) -> float:
                # the others are told only when it moved
                if marker == ts and (before is None or before < ts):
                    self.chat.mark_read(user, name, marker, now)
                return marker

            return markers.set(user, key, ts).addCallback(kept)

        return markers.get(user, key).addCallback(known)

    @_refusals_fail
    def read_marker(self, user: User, target: str) -> Deferred[float | None]:
        """Up to when C{user} has read C{target}, or None if not known."""
        if self.markers is None:
            return succeed(None)
        return self.markers.get(user, self.chat.marker_key(user, target))


__all__ = ["LIMIT_MAX", "History", "Page", "ReadMarked", "Reference"]

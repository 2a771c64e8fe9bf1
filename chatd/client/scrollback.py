# -*- test-case-name: tests.test_client_history -*-
"""
What the console client remembers of each conversation's history: the
oldest message shown (C{/history} pages back from it) and the newest seen
(a channel joined again after a reconnection shows only what was missed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from chatd.client.commands import JOIN_HISTORY

if TYPE_CHECKING:
    from chatd.client.actions import ShowHistory
    from chatd.client.session import _Out

#: A point in a history: an item's C{ts} and C{msgid}, which sort together.
Point = tuple[str, str]


def _point(item: object) -> Point | None:
    if not isinstance(item, dict):
        return None
    ts, msgid = item.get("ts"), item.get("msgid")
    if isinstance(ts, str) and isinstance(msgid, str):
        return (ts, msgid)
    return None


def _items(page: object) -> list[Any] | None:
    items = page.get("items") if isinstance(page, dict) else None
    return items if isinstance(items, list) else None


class Scrollback:
    """The part of L{chatd.client.session.ChatClient} that follows history."""

    if TYPE_CHECKING:
        nick: str | None

        def _send(
            self,
            request: dict[str, Any],
            silent: bool = False,
            *,
            then: Callable[[dict[str, Any], _Out], bool] | None = None,
            restore: bool = False,
            alternate: bool = False,
        ) -> None: ...

    #: join asks for this many of a channel's last messages
    join_history = JOIN_HISTORY

    def _scrollback_init(self) -> None:
        #: by folded target: the msgid of the oldest message shown
        self._oldest: dict[str, str] = {}
        #: by folded target: the newest message seen
        self._newest: dict[str, Point] = {}

    def _show_history(self, action: ShowHistory) -> None:
        """C{/history}: the messages before the oldest shown, or the last ones."""
        request: dict[str, Any] = {
            "cmd": "history",
            "target": action.target,
            "limit": action.limit,
        }
        oldest = self._oldest.get(action.target.lower())
        if oldest is None:
            request["latest"] = True
        else:
            request["before"] = oldest
        self._send(request, then=self._paged)

    def _paged(self, reply: dict[str, Any], out: _Out) -> bool:
        items = _items(reply)
        if reply.get("type") == "ok" and items:
            msgid = items[0].get("msgid") if isinstance(items[0], dict) else None
            if isinstance(msgid, str):
                self._oldest[str(out.request["target"]).lower()] = msgid
        return False  # shown as any reply is

    def _saw(self, target: str, item: object) -> None:
        """C{item} of C{target}'s history is on screen: the newest yet?"""
        point = _point(item)
        folded = target.lower()
        if point is not None and point > self._newest.get(folded, ("", "")):
            self._newest[folded] = point

    def _joined_with_history(self, reply: dict[str, Any], restore: bool) -> None:
        """
        A join reply with scrollback: the oldest and newest shown, and after
        a reconnection (C{restore}), only what was said since the newest
        seen is left in the reply to show.
        """
        channel = reply.get("channel")
        page = reply.get("history")
        items = _items(page)
        if not isinstance(channel, str) or items is None:
            return
        folded = channel.lower()
        seen = self._newest.get(folded)
        if restore and seen is not None:
            missed = [i for i in items if (_point(i) or ("", "")) > seen]
            assert isinstance(page, dict)
            page["items"] = missed
            items = missed
            if not missed:
                return
        elif items:
            msgid = items[0].get("msgid") if isinstance(items[0], dict) else None
            if isinstance(msgid, str):
                self._oldest[folded] = msgid
        for item in items:
            self._saw(channel, item)

    def _saw_live(self, message: dict[str, Any], mine: bool) -> None:
        """
        A message event, or the reply to one of ours (C{mine}): the newest
        of its conversation.
        """
        to = message.get("to")
        sender = message.get("from")
        if not isinstance(to, str):
            return
        if to.startswith("#") or mine:
            self._saw(to, message)
        elif isinstance(sender, str) and not to.startswith(("@", "+")):
            self._saw(sender, message)

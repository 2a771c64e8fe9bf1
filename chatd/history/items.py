# -*- test-case-name: tests.history.test_items -*-
"""
The core's value events as the store's L{HistoryItem}s, and back.

What is kept: messages, notices, actions and TAGMSGs (with their client
tags), and for IRCv3 C{draft/event-playback} joins, parts, kicks, quits,
nick, topic and mode changes.  A replayed event is the event as it was: the
same origin snapshot, C{msgid} and C{ts}.
"""

from __future__ import annotations

import json
from typing import Any

from chatd.core.events import (
    Event,
    Joined,
    Kicked,
    Left,
    Message,
    ModeChanged,
    NickChanged,
    Origin,
    Quit,
    TagMessage,
    TopicChanged,
)
from chatd.core.modes import Change
from chatd.store.records import HistoryItem

#: The kinds of item that are something said (the rest are events).
MESSAGE_KINDS = frozenset({"message", "notice", "action", "tagmsg"})


def _tags(tags: Any) -> str:
    return json.dumps(dict(tags), separators=(",", ":")) if tags else ""


def _item(
    event: Event,
    key: str,
    kind: str,
    to: str,
    text: str = "",
    tags: str = "",
    extra: str = "",
) -> HistoryItem:
    o = event.origin
    return HistoryItem(
        event.msgid,
        key,
        event.ts,
        kind,
        o.nick,
        o.username,
        o.host,
        o.account,
        to,
        text,
        tags,
        extra,
    )


def to_item(event: Event, key: str) -> HistoryItem | None:
    """C{event} as kept under C{key}, or None if it is not kept."""
    if isinstance(event, Message):
        kind = "notice" if event.notice else "action" if event.action else "message"
        return _item(event, key, kind, event.to, event.text, _tags(event.tags))
    if isinstance(event, TagMessage):
        return _item(event, key, "tagmsg", event.to, "", _tags(event.tags))
    if isinstance(event, Joined):
        extra = json.dumps({"realname": event.realname}) if event.realname else ""
        return _item(event, key, "join", event.channel, extra=extra)
    if isinstance(event, Left):
        return _item(event, key, "part", event.channel, event.reason)
    if isinstance(event, Kicked):
        extra = json.dumps({"nick": event.nick})
        return _item(event, key, "kick", event.channel, event.reason, extra=extra)
    if isinstance(event, TopicChanged):
        return _item(event, key, "topic", event.channel, event.topic)
    if isinstance(event, ModeChanged):
        changes = [[c.mode, c.adding, c.param] for c in event.changes]
        return _item(
            event, key, "mode", event.channel, extra=json.dumps({"changes": changes})
        )
    if isinstance(event, NickChanged):
        return _item(event, key, "nick", "", extra=json.dumps({"new": event.new}))
    if isinstance(event, Quit):
        return _item(event, key, "quit", "", event.reason)
    return None


def to_event(item: HistoryItem) -> Event:
    """The event C{item} keeps, as it was delivered."""
    origin = Origin(item.nick, item.username, item.host, item.account)
    base = (origin, item.msgid, item.ts)
    kind = item.kind
    extra: dict[str, Any] = json.loads(item.extra) if item.extra else {}
    if kind in ("message", "notice", "action"):
        tags = json.loads(item.tags) if item.tags else None
        return Message(
            *base, item.to, item.text, kind == "notice", kind == "action", tags
        )
    if kind == "tagmsg":
        return TagMessage(*base, item.to, json.loads(item.tags) if item.tags else {})
    if kind == "join":
        return Joined(*base, item.to, None, extra.get("realname", ""))
    if kind == "part":
        return Left(*base, item.to, item.text)
    if kind == "kick":
        return Kicked(*base, item.to, extra["nick"], item.text)
    if kind == "topic":
        return TopicChanged(*base, item.to, item.text)
    if kind == "mode":
        changes = tuple(Change(m, bool(a), p) for m, a, p in extra["changes"])
        return ModeChanged(*base, item.to, changes)
    if kind == "nick":
        return NickChanged(*base, extra["new"])
    if kind == "quit":
        return Quit(*base, item.text)
    raise ValueError(f"no event is kept as {kind!r}")

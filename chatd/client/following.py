# -*- test-case-name: tests.test_client_moderation -*-
"""
What the console client remembers of its session from the server's
replies and events: its nick, the channels it is in and their keys, its
away message; so that a reconnection restores them and a kick or a new
key is not forgotten.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from chatd.client.actions import Action, Reaway, Rejoin

if TYPE_CHECKING:
    from collections import deque

    from chatd.client.session import _Out


class Following:
    """The part of L{chatd.client.session.ChatClient} that follows state."""

    if TYPE_CHECKING:
        changed: Callable[[], None]
        nick: str | None
        want_nick: str | None
        channels: list[str]
        keys: dict[str, str]
        away: str | None
        query: str | None
        _joined: set[str]
        _inbox: deque[object]

    def _update(self, reply: dict[str, Any], out: _Out) -> None:
        """Follow the state an ok reply tells of."""
        cmd = reply.get("cmd")
        if cmd == "nick":
            had = self.nick
            self.nick = reply["nick"]
            if not out.alternate:
                self.want_nick = self.nick
            if had is None:
                # Our channels again, before anything typed meanwhile.
                waiting = [c for c in self.channels if c.lower() not in self._joined]
                again: list[Action] = [
                    Rejoin(c, self.keys.get(c.lower())) for c in waiting
                ]
                if self.away is not None:
                    again.append(Reaway(self.away))
                self._inbox.extendleft(reversed(again))
        elif cmd == "join":
            channel = reply["channel"]
            folded = channel.lower()
            self._joined.add(folded)
            key = out.request.get("key")
            if isinstance(key, str):
                self.keys[folded] = key
            if out.restore:  # where it was, as the server spells it
                self.channels = [
                    channel if c.lower() == folded else c for c in self.channels
                ]
            else:  # it becomes the current one
                self.channels = [c for c in self.channels if c.lower() != folded]
                self.channels.append(channel)
                self.query = None
        elif cmd == "leave":
            self._gone_from(reply["channel"])
        elif cmd == "away":
            message = reply.get("message")
            self.away = message if isinstance(message, str) else None
        elif cmd == "mode":
            self._follow_modes(out.request.get("channel"), reply.get("changes"))
            return
        else:
            return
        self.changed()

    def _gone_from(self, channel: str) -> None:
        """We are out of C{channel}: not current, not joined again."""
        folded = channel.lower()
        self.channels = [c for c in self.channels if c.lower() != folded]
        self._joined.discard(folded)
        self.keys.pop(folded, None)

    def _follow_event(self, event: dict[str, Any]) -> None:
        """Follow the state an event tells of: a kick, a new key."""
        kind = event.get("type")
        channel = event.get("channel")
        if not isinstance(channel, str):
            return
        if kind == "kick":
            kicked = event.get("nick")
            if (
                isinstance(kicked, str)
                and self.nick is not None
                and kicked.lower() == self.nick.lower()
            ):
                self._gone_from(channel)
                self.changed()
        elif kind == "mode":
            self._follow_modes(channel, event.get("changes"))

    def _follow_modes(self, channel: object, changes: object) -> None:
        """Remember a channel's key as it changes, to join it again with."""
        if not isinstance(channel, str) or not isinstance(changes, list):
            return
        folded = channel.lower()
        if folded not in self._joined:
            return
        for change in changes:
            if not isinstance(change, dict) or change.get("mode") != "key":
                continue
            key = change.get("param")
            if change.get("set") is not True:
                self.keys.pop(folded, None)
            elif isinstance(key, str) and key != "*":
                self.keys[folded] = key

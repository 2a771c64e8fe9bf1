# -*- test-case-name: tests.test_irc -*-
"""
Channels: JOIN, PART, NAMES, LIST and TOPIC.
"""

from __future__ import annotations

from twisted.internet.defer import Deferred
from twisted.words.protocols import irc as rfc

from chatd.core import (
    CHANNEL_MAX,
    REASON_MAX,
    TOPIC_MAX,
    Channel,
    ChatError,
    channel_key,
    clean_line,
    fold,
    is_valid_channel,
    policy,
)
from chatd.irc.message import (
    LINE_MAX,
    Line,
    build,
    mask,
)
from chatd.irc.numerics import (
    RPL_TOPICWHOTIME,
)
from chatd.irc.session import Command, IRCSession


class Channels(IRCSession):
    """Joining and leaving channels, their members, list and topics."""

    def irc_JOIN(self, line: Line) -> Deferred[None] | None:
        user = self._user()
        if line.params[0] == "0":
            for channel in list(user.channels.values()):
                self._part(channel.name, "")
            return None
        # Keys pair up with the channels by position: JOIN #a,#b key1,key2.
        keys = line.params[1].split(",") if len(line.params) > 1 else []
        names = line.params[0].split(",")
        wanted = [
            (name, keys[i] if i < len(keys) and keys[i] else None)
            for i, name in enumerate(names)
            if name
        ]
        return self._join_each(wanted)

    def _join_each(self, wanted: list[tuple[str, str | None]]) -> Deferred[None] | None:
        """
        Join each of C{wanted} (name, key) in turn; one whose aftermath
        (L{after_join}) waits for the history holds the rest until it is done.
        """
        user = self._user()
        chat = self.factory.chat
        while wanted:
            name, key = wanted.pop(0)
            if is_valid_channel(name) and chat.in_channel(user, name):
                continue
            now = self.factory.clock.seconds()
            try:
                channel = chat.join(user, name, now, key)
            except ChatError as e:
                code = e.code
                if code == "bad_channel" and not (
                    name.startswith("#") and len(name) <= CHANNEL_MAX
                ):
                    code = "no_such_channel"  # not even the shape of a channel
                self.reply_error("JOIN", code, name, e.message)
                continue
            self.write(
                build("JOIN", channel.name, prefix=mask(self.me, user)), self._made()
            )
            if channel.topic:
                self._topic_lines(channel)
            later = self.after_join(channel)
            if later is not None and not self.closing:
                return later.addCallback(lambda _: self._join_each(wanted))
        return None

    def after_join(self, channel: Channel) -> Deferred[None] | None:
        """
        What follows a JOIN's line and topic: the names (and, with history,
        L{chatd.irc.history.HistoryCommands.after_join}); a Deferred if it
        must wait.
        """
        self._names(channel)
        return None

    def irc_PART(self, line: Line) -> None:
        reason = clean_line(line.params[1], REASON_MAX) if len(line.params) > 1 else ""
        for name in line.params[0].split(","):
            if name:
                self._part(name, reason)

    def _part(self, name: str, reason: str) -> None:
        user = self._user()
        try:
            channel = self.factory.chat.leave(user, name, reason)
        except ChatError as e:
            self.reply_error("PART", e.code, name, e.message)
            return
        params = (channel.name, reason) if reason else (channel.name,)
        self.write(
            build("PART", *params, prefix=mask(self.me, user), text=bool(reason)),
            self._made(),
        )

    def irc_NAMES(self, line: Line) -> None:
        if not line.params or not line.params[0]:
            self.write(self.numeric(rfc.RPL_ENDOFNAMES, "*", "End of /NAMES list"))
            return
        asked = line.params[0]
        names = [name for name in asked.split(",") if name]
        # The 353s of each channel, then one 366 (RFC 2812): for a single
        # channel it names the channel, for several the list as asked.
        end = asked
        for name in names:
            channel = self.factory.chat.find_channel(name)
            if channel is not None:
                self._names(channel, end=False)
                if len(names) == 1:
                    end = channel.name
        self.write(self.numeric(rfc.RPL_ENDOFNAMES, end, "End of /NAMES list"))

    def _names(self, channel: Channel, end: bool = True) -> None:
        """
        The 353s for C{channel} (C{@} for a secret one, C{=} otherwise), each
        member with their prefix, and, with C{end}, its 366.
        """
        prefix = (
            build(
                rfc.RPL_NAMREPLY,
                self.me,
                "@" if channel.secret else "=",
                channel.name,
                prefix=self.factory.server_name,
            )
            + " :"
        )
        room = LINE_MAX - 2 - len(prefix.encode("utf-8"))
        names: list[str] = []
        used = 0
        full = "userhost-in-names" in self.caps
        for record in policy.visible_members(channel, self._user()):
            member = record.user
            nick = member.nick or ""
            if full:
                nick = mask(nick, member)
            nick = self._prefix(record) + nick
            if names and used + 1 + len(nick.encode("utf-8")) > room:
                self.write(prefix + " ".join(names))
                names, used = [], 0
            used += len(nick.encode("utf-8")) + (1 if names else 0)
            names.append(nick)
        if names:
            self.write(prefix + " ".join(names))
        if end:
            self.write(
                self.numeric(rfc.RPL_ENDOFNAMES, channel.name, "End of /NAMES list")
            )

    def irc_LIST(self, line: Line) -> None:
        chat = self.factory.chat
        if line.params and line.params[0]:
            wanted = {channel_key(n) for n in line.params[0].split(",")}
            channels = [
                s for s in chat.list_channels(self._user()) if s.channel.key in wanted
            ]
        else:
            channels = chat.list_channels(self._user())
        self.write(self.numeric(rfc.RPL_LISTSTART, "Channel", "Users  Name"))
        for summary in channels:
            self.write(
                self.numeric(
                    rfc.RPL_LIST,
                    summary.channel.name,
                    str(summary.users),
                    summary.channel.topic,
                )
            )
        self.write(self.numeric(rfc.RPL_LISTEND, "End of /LIST"))

    def irc_TOPIC(self, line: Line) -> None:
        user = self._user()
        chat = self.factory.chat
        name = line.params[0]
        if len(line.params) < 2:
            channel = chat.topic(user, name, None, 0.0)
            if channel.topic:
                self._topic_lines(channel)
            else:
                self.write(
                    self.numeric(rfc.RPL_NOTOPIC, channel.name, "No topic is set")
                )
            return
        topic = line.params[1][:TOPIC_MAX]
        now = self.factory.clock.seconds()
        channel = chat.topic(user, name, topic, now)  # a ChatError: ERRORS
        self.write(
            build(
                "TOPIC",
                channel.name,
                channel.topic,
                prefix=mask(self.me, user),
                text=True,
            ),
            self._made(),
        )

    def _topic_lines(self, channel: Channel) -> None:
        self.write(self.numeric(rfc.RPL_TOPIC, channel.name, channel.topic))
        # Who set it, as nick!user@host while they are still here by that
        # nick (clients show the mask), else the nick they had.
        setter = self.factory.chat.nicks.get(fold(channel.topic_by))
        by = mask(channel.topic_by, setter) if setter else channel.topic_by
        self.write(
            self.numeric(RPL_TOPICWHOTIME, channel.name, by, str(int(channel.topic_ts)))
        )


#: command: (handler, least number of parameters, needs registration)
CHANNELS: dict[str, Command] = {
    "JOIN": (Channels.irc_JOIN, 1, True),
    "PART": (Channels.irc_PART, 1, True),
    "NAMES": (Channels.irc_NAMES, 0, True),
    "LIST": (Channels.irc_LIST, 0, True),
    "TOPIC": (Channels.irc_TOPIC, 1, True),
}

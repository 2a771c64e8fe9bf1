# -*- test-case-name: tests.test_irc -*-
"""
The IRC listener: builds an L{IRCProtocol} per connection, keeps links
alive with PING, and encodes each core event once per kind of client.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IReactorTime

import chatd
from chatd.core import (
    AWAY_MAX,
    CHANNEL_MAX,
    CTCP,
    NICK_MAX,
    REASON_MAX,
    STATUS_PREFIXES,
    TOPIC_MAX,
    AwayChanged,
    Chat,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    ModeChanged,
    NickChanged,
    Quit,
    TagMessage,
    TopicChanged,
)
from chatd.core.events import AccountChanged, OperRevoked, Wallops
from chatd.core.modes import CHANMODES, ISUPPORT_PREFIX, KEY_MAX, LIST_MAX, LISTS
from chatd.history.reader import LIMIT_MAX
from chatd.irc.history import MSGREFTYPES
from chatd.irc.message import (
    LINE_MAX,
    TAGS_MAX,
    build,
    format_tags,
    format_time,
    mask,
    mode_params,
    split_text,
)
from chatd.irc.messages import MAX_TARGETS
from chatd.irc.moderation import KICK_TARGETS, MODES_MAX
from chatd.irc.protocol import IRCProtocol
from chatd.irc.registration import USERLEN
from chatd.log import logger
from chatd.net.connection import Connection
from chatd.net.listener import Listener

if TYPE_CHECKING:
    from chatd.accounts.gateways import Gateways
    from chatd.history.reader import History

log = logger(__name__)


class IRCFactory(Listener):
    """
    Builds an L{IRCProtocol} per IRC connection over the shared L{Chat};
    pings clients quiet for half the idle timeout and reaps those that stay
    silent for all of it.  C{limits} are L{Listener}'s keyword arguments
    (C{flood}, C{max_sendq}, C{register_timeout}, C{gate}).
    """

    protocol = IRCProtocol  # type: ignore[assignment]
    kind = "IRC"
    _history: History | None = None
    #: the web IRC gateways allowed to send WEBIRC (the config's
    #: [[webirc]] tables; None: none), which the service sets
    gateways: Gateways | None = None

    def __init__(
        self,
        chat: Chat,
        clock: IReactorTime,
        max_line: int = 16384,
        idle_timeout: float = 180.0,
        server_name: str = "chatd.local",
        network: str = "chatd",
        motd: list[str] | None = None,
        created: float | None = None,
        **limits: Any,
    ) -> None:
        super().__init__(chat, clock, max_line, idle_timeout, **limits)
        self.server_name = server_name
        self.network = network
        self.motd = motd
        self.version = f"chatd-{chatd.__version__}"
        #: welcome parts that are the same for every client but the nick
        self.templates: dict[str, bytes] = {}
        when = clock.seconds() if created is None else created
        self.created_text = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(when))
        #: The longest line without its tags, CR LF not counted.
        self.body_max = min(LINE_MAX - 2, max_line)
        #: Bytes buffered without a line ending before 417 and skipping.
        self.line_limit = TAGS_MAX + LINE_MAX
        targmax = (
            f"PRIVMSG:{MAX_TARGETS},NOTICE:{MAX_TARGETS},TAGMSG:{MAX_TARGETS},"
            f"JOIN:,PART:,NAMES:,LIST:,WHOIS:1,KICK:{KICK_TARGETS}"
        )
        lists = "".join(LISTS)
        self.isupport = [
            # IRCv3 account-extban: bans, exceptions and invite exceptions
            # may name an account as $a:name.
            "ACCOUNTEXTBAN=a",
            f"AWAYLEN={AWAY_MAX}",
            "CASEMAPPING=ascii",
            "CHANLIMIT=#:",
            f"CHANMODES={CHANMODES}",
            f"CHANNELLEN={CHANNEL_MAX}",
            "CHANTYPES=#",
            "EXCEPTS=e",
            "EXTBAN=$,a",
            "INVEX=I",
            f"KEYLEN={KEY_MAX}",
            f"KICKLEN={REASON_MAX}",
            f"MAXLIST={lists}:{LIST_MAX}",
            f"MAXTARGETS={MAX_TARGETS}",
            f"MODES={MODES_MAX}",
            f"NETWORK={network}",
            f"NICKLEN={NICK_MAX}",
            f"PREFIX={ISUPPORT_PREFIX}",
            "SAFELIST",
            f"STATUSMSG={STATUS_PREFIXES}",
            f"TARGMAX={targmax}",
            f"TOPICLEN={TOPIC_MAX}",
            f"USERLEN={USERLEN}",
            "UTF8ONLY",
            "WHOX",
        ]

    @property
    def history(self) -> History | None:
        """
        The history clients may read (None: the server keeps none, and
        offers no history capabilities or commands); the service sets it.
        """
        return self._history

    @history.setter
    def history(self, history: History | None) -> None:
        self._history = history
        self.templates.pop("server", None)  # ISUPPORT says whether it is on

    def isupport_tokens(self) -> list[str]:
        """The ISUPPORT tokens: L{isupport}, and history's when it is on."""
        history = self._history
        if history is None:
            return self.isupport
        most = min(history.limit_max, LIMIT_MAX)
        return sorted(
            [*self.isupport, f"CHATHISTORY={most}", f"MSGREFTYPES={MSGREFTYPES}"]
        )

    def apply_limits(self, **limits: Any) -> None:
        super().apply_limits(**limits)
        self.body_max = min(LINE_MAX - 2, self.max_line)

    def set_motd(self, motd: list[str] | None) -> None:
        """A new message of the day (a config reload), shown from now on."""
        self.motd = motd
        self.templates.pop("motd", None)

    @property
    def reap_interval(self) -> float:
        """Often enough to ping at half the timeout and reap at all of it."""
        t = self.idle_timeout
        return min(t / 2.0, max(t / 8.0, 1.0))

    def reap(self) -> None:
        """
        Ping every connection quiet for half the idle timeout; reap those
        quiet (their ping unanswered) for all of it.
        """
        now = self.clock.seconds()
        half = self.idle_timeout / 2.0
        server = self.server_name
        for proto in list(self.connections):
            quiet = now - proto.last_seen
            if quiet >= self.idle_timeout:
                self.reap_one(proto)
            elif quiet >= half and isinstance(proto, IRCProtocol) and not proto.pinged:
                proto.pinged = True
                proto.transport.write(build("PING", server).encode("utf-8") + b"\r\n")

    def registration_timed_out(self, proto: Connection) -> None:
        log.info("IRC {peer} did not register in time", peer=proto.peer)
        proto.close(
            "register_timeout", "Registration timed out", "Registration timed out"
        )

    def reap_one(self, proto: Connection) -> None:
        assert isinstance(proto, IRCProtocol)
        timeout = self.idle_timeout_reported
        log.info("reaping idle IRC {peer}", peer=proto.peer)
        proto.close(
            "idle_timeout",
            f"Ping timeout: {timeout} seconds",
            f"Ping timeout: {timeout} seconds",
        )

    # events, encoded once per kind of recipient

    def encode(
        self,
        event: Event,
        server_time: bool,
        message_tags: bool,
        extended_join: bool = False,
        account_tag: bool = False,
    ) -> bytes:
        """The bytes that show C{event} to a client with these capabilities."""
        tags: dict[str, str] = {}
        if account_tag and event.origin.account is not None:
            tags["account"] = event.origin.account
        if message_tags:
            if isinstance(event, (Message, TagMessage)) and event.tags:
                tags.update(event.tags)
            # Every event has its msgid: history replays a JOIN or a TOPIC
            # under the msgid it was first shown with.
            tags["msgid"] = event.msgid
        if server_time:
            tags["time"] = format_time(event.ts)
        head = b"@" + format_tags(tags).encode("utf-8") + b" " if tags else b""
        if extended_join and isinstance(event, Joined):
            lines = [self.extended_join(event)]
        else:
            lines = self.event_lines(event)
        return b"".join(head + line.encode("utf-8") + b"\r\n" for line in lines)

    def extended_join(self, event: Joined) -> str:
        """IRCv3 C{extended-join}: the account (or C{*}) and the real name."""
        return build(
            "JOIN",
            event.channel,
            event.origin.account or "*",
            event.realname or event.nick,
            prefix=mask(event.nick, event.origin),
            text=True,
        )

    def event_lines(self, event: Event) -> list[str]:
        source = event.source
        if isinstance(event, Message):
            return self.message_lines(event)
        if isinstance(event, TagMessage):
            return [build("TAGMSG", event.to, prefix=mask(event.sender, source))]
        if isinstance(event, CTCP):
            return [self.ctcp_line(event)]
        if isinstance(event, Joined):
            return [build("JOIN", event.channel, prefix=mask(event.nick, source))]
        if isinstance(event, Left):
            params = (event.channel, event.reason) if event.reason else (event.channel,)
            return [
                build(
                    "PART",
                    *params,
                    prefix=mask(event.nick, source),
                    text=bool(event.reason),
                )
            ]
        if isinstance(event, TopicChanged):
            return [
                build(
                    "TOPIC",
                    event.channel,
                    event.topic,
                    prefix=mask(event.by, source),
                    text=True,
                )
            ]
        if isinstance(event, NickChanged):
            return [build("NICK", event.new, prefix=mask(event.old, source))]
        if isinstance(event, Quit):
            return [
                build(
                    "QUIT",
                    event.reason or "Client Quit",
                    prefix=mask(event.nick, source),
                    text=True,
                )
            ]
        if isinstance(event, ModeChanged):
            modes = mode_params(event.changes)
            # The server itself (a registered channel's access list) has
            # no nick: its name is the source.
            by = mask(event.by, source) if event.by else self.server_name
            return [build("MODE", event.channel, *modes, prefix=by)]
        if isinstance(event, Kicked):
            return [
                build(
                    "KICK",
                    event.channel,
                    event.nick,
                    event.reason or event.by,
                    prefix=mask(event.by, source),
                    text=True,
                )
            ]
        if isinstance(event, Invited):
            by = mask(event.by, source)
            return [build("INVITE", event.nick, event.channel, prefix=by)]
        if isinstance(event, AwayChanged):
            if event.message is None:
                return [build("AWAY", prefix=mask(event.nick, source))]
            return [
                build("AWAY", event.message, prefix=mask(event.nick, source), text=True)
            ]
        if isinstance(event, AccountChanged):
            account = event.account or "*"
            return [build("ACCOUNT", account, prefix=mask(event.nick, source))]
        if isinstance(event, Wallops):
            by = mask(event.by, source)
            return [build("WALLOPS", event.text, prefix=by, text=True)]
        if isinstance(event, OperRevoked):
            return [
                build("MODE", event.nick, "-o", prefix=mask(event.nick, source)),
                build(
                    "NOTICE",
                    event.nick,
                    f"You are no longer a server operator: {event.reason}",
                    prefix=self.server_name,
                    text=True,
                ),
            ]
        raise TypeError(f"no IRC form for {event!r}")

    def ctcp_line(self, message: CTCP) -> str:
        command = "NOTICE" if message.notice else "PRIVMSG"
        source = mask(message.sender, message.source)
        return f":{source} {command} {message.to} :\x01{message.body}\x01"

    def message_lines(self, message: Message) -> list[str]:
        """
        The PRIVMSG or NOTICE lines for C{message}, each of at most 512
        bytes with the sender's prefix (and before tags), as RFC 1459 and
        clients expect: text that does not fit one line (a JSON client may
        send 4000 characters; an IRC client's longest line no longer fits
        once its prefix is added) is split into several, at a space where
        there is one, so nothing said is lost.
        """
        command = "NOTICE" if message.notice else "PRIVMSG"
        bare = f"{command} {message.to} :"
        head = f":{mask(message.sender, message.source)} {bare}"
        text = message.text
        wrap = ("\x01ACTION ", "\x01") if message.action else ("", "")
        extra = len(wrap[0]) + len(wrap[1])
        room = LINE_MAX - 2 - len(head.encode("utf-8")) - extra
        if len(text) <= room // 4 or len(text.encode("utf-8")) <= room:
            pieces = [text]
        else:
            pieces = split_text(text, room)
        return [f"{head}{wrap[0]}{piece}{wrap[1]}" for piece in pieces]


__all__ = ["IRCFactory"]

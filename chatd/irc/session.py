# -*- test-case-name: tests.test_irc -*-
"""
What every IRC handler builds on: the connection's IRC state, its replies
(numerics, labels, batches, corking) and its events from the core.  The
handlers (registration, channels, messages, queries, modes) are mixins of
L{IRCSession}; L{chatd.irc.protocol.IRCProtocol} composes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import ITCPTransport

from chatd.core import (
    AwayChanged,
    Channel,
    ChatError,
    Event,
    Invited,
    Joined,
    Membership,
    TagMessage,
    User,
    policy,
)
from chatd.core.events import AccountChanged, Killed, ReadMarked, Redacted
from chatd.irc.message import (
    LINE_MAX,
    Line,
    build,
    format_tags,
    format_time,
    irc_host,
)
from chatd.irc.numerics import answer
from chatd.net.connection import Connection

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from chatd.irc.factory import IRCFactory


#: A command's handler, the least number of parameters it takes, and
#: whether it needs registration.  A handler may return a Deferred: the
#: connection's later input waits until it fires (L{Connection.wait_for}).
Handler = Callable[[Any, Line], "Deferred[Any] | None"]
Command = tuple[Handler, int, bool]


class IRCSession(Connection):
    """One IRC client's state and replies, whatever it sends."""

    factory: IRCFactory
    transport: ITCPTransport
    registered = False
    log_prefix = "IRC "

    def __init__(self) -> None:
        self._buffer = b""
        self._discarding = False
        self.nick: str | None = None  # asked for before registration
        #: the last nick asked for before registration, even one refused
        self.wanted_nick: str | None = None
        self.username: str | None = None
        self.realname = ""
        self.negotiating = False
        self.caps: set[str] = set()
        # What events look like for these caps; changes only with CAP REQ.
        self._variant = (False, False, False, False)
        #: the key of this variant's lines in an event's cache (L{encoded})
        self.irc_key = "irc0000"
        self.wire_key = self.irc_key
        self.pinged = False
        self._label: str | None = None
        self._labelled: list[tuple[dict[str, str], str]] | None = None
        self._batches = 0
        #: while a chunk of input is handled, what we say to this client
        self._cork: list[bytes] | None = None
        self._template_nick: str | None = None
        self._flood_noticed = float("-inf")

    def turn_away(self, code: str, message: str) -> None:
        self.reply_error("*", code, message=message)

    def say_goodbye(self, code: str, reason: str) -> None:
        """Send C{ERROR :Closing Link} with C{reason}, and close."""
        self.closing = True
        self._uncork()
        self.transport.write(
            build(
                "ERROR", f"Closing Link: {irc_host(self.host)} ({reason})", text=True
            ).encode("utf-8")
            + b"\r\n"
        )
        self.end()

    def sendq_exceeded(self) -> None:
        self.close("sendq_exceeded", "SendQ exceeded", None)

    def _uncork(self) -> None:
        cork, self._cork = self._cork, None
        if cork:
            self._send(b"".join(cork))

    @property
    def me(self) -> str:
        """The nick numerics are addressed to: C{*} before registration."""
        if self._template_nick is not None:
            return self._template_nick
        if self.registered and self.user is not None and self.user.nick is not None:
            return self.user.nick
        return "*"

    def numeric(self, code: str, *params: str) -> str:
        return build(code, self.me, *params, prefix=self.factory.server_name)

    def write(self, line: str, tags: dict[str, str] | None = None) -> None:
        """Send one of this client's own replies (labelled when asked for)."""
        if self.closing:
            return
        if self._labelled is not None:
            self._labelled.append((tags or {}, line))
            return
        self._emit(tags or {}, line)

    def _emit(self, tags: Mapping[str, str], line: str) -> None:
        """
        Write C{line} with those of C{tags} this client asked for: C{label}
        and C{batch} are only ever added when it did; C{time} needs
        server-time, and the rest message-tags.
        """
        data = line.encode("utf-8")
        if len(data) > LINE_MAX - 2:
            # A reply that echoes a long parameter: cut it to IRC's 512
            # bytes, on a character boundary.
            data = data[: LINE_MAX - 2].decode("utf-8", "ignore").encode("utf-8")
        data += b"\r\n"
        if tags:
            caps = self.caps
            wanted = {
                k: v
                for k, v in tags.items()
                if k in ("label", "batch")
                or ("server-time" in caps if k == "time" else "message-tags" in caps)
            }
            if wanted:
                data = b"@" + format_tags(wanted).encode("utf-8") + b" " + data
        if self._cork is not None:
            self._cork.append(data)
        else:
            self._send(data)

    def _finish_label(self) -> None:
        label, lines = self._label, self._labelled or []
        self._label = self._labelled = None
        if self.closing or label is None:
            for tags, line in lines:
                self._emit(tags, line)
            return
        if not lines:
            self._emit({"label": label}, build("ACK", prefix=self.factory.server_name))
        elif len(lines) == 1:
            tags, line = lines[0]
            self._emit({"label": label, **tags}, line)
        elif "batch" in self.caps:
            self._batches += 1
            ref = f"L{self._batches}"
            server = self.factory.server_name
            self._emit(
                {"label": label},
                build("BATCH", f"+{ref}", "labeled-response", prefix=server),
            )
            for tags, line in lines:
                self._emit({"batch": ref, **tags}, line)
            self._emit({}, build("BATCH", f"-{ref}", prefix=server))
        else:
            for tags, line in lines:
                self._emit(tags, line)

    def deliver(self, event: Event) -> None:
        """Show a core event (the core's L{Session} interface)."""
        if self.closing or not self.registered:
            return
        caps = self.caps
        if (
            isinstance(event, Invited)
            and event.nick != self.me
            and "invite-notify" not in caps
        ):
            return
        if isinstance(event, (TagMessage, AwayChanged, AccountChanged)):
            wanted = (
                "message-tags"
                if isinstance(event, TagMessage)
                else "away-notify"
                if isinstance(event, AwayChanged)
                else "account-notify"
            )
            if wanted not in caps:
                return
        if isinstance(event, Killed):
            self.killed(event)
            return
        if isinstance(event, (Redacted, ReadMarked)):
            self.deliver_history(event)
            return
        data = self.encoded(event)
        if self._cork is not None:
            self._cork.append(data)
        else:
            self._send(data)
        if (
            isinstance(event, Joined)
            and event.away is not None
            and "away-notify" in caps
        ):
            away = AwayChanged(event.origin, "", event.ts, event.away)
            data = self.factory.encode(away, *self._variant)
            if self._cork is not None:
                self._cork.append(data)
            else:
                self._send(data)

    def deliver_history(self, event: Event) -> None:
        """A redaction or read marker (L{chatd.irc.history}): not shown here."""

    def service(self, target: str, text: str) -> Deferred[Any] | None:
        """A message to NickServ or ChanServ (L{chatd.irc.services})."""
        return None

    def cap_values(self) -> dict[str, str]:
        """The capabilities a server with accounts adds, with their values."""
        return {}

    def sasl_interrupted(self) -> None:
        """CAP END came during a SASL exchange (see L{chatd.irc.accounts})."""

    def caps_changed(self) -> None:
        """The capabilities that change how events look changed."""
        caps = self.caps
        self._variant = (
            "server-time" in caps,
            "message-tags" in caps,
            "extended-join" in caps,
            "account-tag" in caps,
        )
        self.irc_key = "irc" + "".join(str(int(v)) for v in self._variant)
        self.wire_key = self.irc_key
        if self.user is not None:
            self.factory.chat.session_changed(self.user)

    def encoded(self, event: Event) -> bytes:
        """
        C{event} as lines for clients with this one's capabilities, made
        once per event and capability set.
        """
        key = self.irc_key
        data = event.wire.get(key)
        if data is None:
            data = event.wire[key] = self.factory.encode(event, *self._variant)
        return data

    #: the core's L{Session} fast path: over TCP, the lines themselves (the
    #: WebSocket session frames them: L{chatd.web.sessions})
    wire_encode = encoded

    def _user(self) -> User:
        assert self.user is not None
        return self.user

    def _time(self, ts: float | None = None) -> dict[str, str]:
        return {"time": format_time(self.factory.clock.seconds() if ts is None else ts)}

    def _made(self) -> dict[str, str]:
        """
        The tags of the event the core just made for this client's own
        command (its JOIN, PART, TOPIC, NICK or MODE): the time and msgid
        the others see, and history replays.
        """
        event = self.factory.chat.last_event
        if event is None:
            return self._time()
        return {"time": format_time(event.ts), "msgid": event.msgid}

    def _tags_of(self, event: Event) -> dict[str, str]:
        """The time and msgid of C{event}, as this client's own echo."""
        return {"time": format_time(event.ts), "msgid": event.msgid}

    def _visible(self, channel: Channel) -> Iterable[User]:
        """The members of C{channel} this user may see."""
        return [m.user for m in policy.visible_members(channel, self._user())]

    def _prefix(self, member: Membership) -> str:
        """
        C{member}'s prefixes as this client reads them: all of them, highest
        first, with C{multi-prefix} (C{@+}); else only the highest (C{@}).
        """
        prefixes = member.prefixes
        return prefixes if "multi-prefix" in self.caps else prefixes[:1]

    def _fail(self, command: str, code: str, *context: str) -> None:
        self.write(
            build("FAIL", command, code, *context, prefix=self.factory.server_name)
        )

    def reply_error(
        self,
        command: str,
        code: str,
        target: str | tuple[str, ...] = "*",
        message: str = "",
    ) -> None:
        """
        Tell the client C{command} was refused with C{code} (a L{ChatError}
        code, C{message} its words) as L{numerics.ERRORS} says; C{target} is
        the nick or channel it was about, or several parameters (C{441
        <nick> <chan>}).
        """
        said = answer(code, command)
        text = said.text
        if "{" in text:
            text = text.format(
                message=message, Message=message[:1].upper() + message[1:]
            )
        targets = (target,) if isinstance(target, str) else target
        params = (*targets, text) if said.target else (text,)
        if said.numeric == "FAIL":
            self._fail(command, said.fail or code.upper(), *params)
        elif said.numeric == "ERROR":
            self.say_goodbye(code, text)
        else:
            self.write(self.numeric(said.numeric, *params))

    def refuse(self, context: Any, error: ChatError) -> None:
        """A handler of the line C{context} let C{error} out: say it about its
        first parameter."""
        line: Line = context
        target = line.params[0] if line.params else "*"
        self.reply_error(line.command, error.code, target, error.message)

    def internal_error(self, context: Any) -> None:
        self.write(
            build(
                "FAIL",
                context.command,
                "INTERNAL_ERROR",
                "The server failed to handle this command",
                prefix=self.factory.server_name,
            )
        )

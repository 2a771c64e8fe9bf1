# -*- test-case-name: tests.test_client,tests.test_tls -*-
"""
L{ChatClient}, the session: it owns the connection (a L{ChatConnection}),
numbers requests so replies can be matched to them, queues typed lines until
the server's C{welcome} (and then feeds them one reply at a time, so a piped
script reads in order), keeps the nick, the joined channels and the current
channel, and reconnects by itself in interactive use.
"""

from __future__ import annotations

import json
import re
from collections import deque
from datetime import tzinfo
from typing import Any, Callable, cast

from twisted.internet.interfaces import IDelayedCall, IReactorSSL, IReactorTCP
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from chatd.client.accounts import AccountSession
from chatd.client.actions import (
    Action,
    Connect,
    Help,
    Login,
    Ping,
    Problem,
    Query,
    Quit,
    Reaway,
    Rejoin,
    Send,
    SendAll,
    ShowHistory,
    Whois,
)
from chatd.client.commands import HELP_LINES, parse_input, split_text
from chatd.client.connection import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    ChatConnection,
    ConnectionFactory,
    describe_failure,
    encode_request,
)
from chatd.client.following import Following
from chatd.client.formatting import printable, strip_formatting
from chatd.client.render import bad_line, plural, render
from chatd.client.scrollback import Scrollback
from chatd.client.tls import TLS, check_identity, describe_tls_failure
from chatd.core import TEXT_MAX

# How long to wait for the server's bye and close after our quit, and for a
# TCP connection to be made.
QUIT_TIMEOUT = 5.0
#: The longest wait the client accepts from flood control before it gives
#: up on sending a request again (and shows the error instead).
RETRY_MAX = 60.0
#: Sent again this long after the server's retry_after, so that a server
#: that counts to the millisecond lets it through.
RETRY_MARGIN = 0.01
CONNECT_TIMEOUT = 10.0
#: A chatd server says welcome (or bye) at once; a server that has said
#: neither this long after the connection was made speaks something else
#: (an IRC server waits for its client to speak first).
WELCOME_TIMEOUT = 2.0
#: Reconnecting after a lost connection waits this long, doubling up to
#: RECONNECT_MAX between attempts.
RECONNECT_FIRST = 1.0
RECONNECT_MAX = 30.0
#: bye codes after which reconnecting by itself would not help: the server
#: hung up because the client had no nick, which a new connection has not
#: either; or must not: a server operator disconnected us on purpose.
NO_RECONNECT = frozenset({"quit", "register_timeout", "killed"})
#: /whois asks at most this many channels who is in them.
WHOIS_CHANNELS = 100


_END = object()  # marks the end of input in the inbox

#: Commands that cost the sender flood-control tokens (see docs/security.md):
#: one of them let through at once means the server no longer slows us down.
#: (C{mode} costs only when it changes modes; see L{_costly}.)
_COSTLY = frozenset(
    {
        "msg",
        "join",
        "leave",
        "nick",
        "topic",
        "away",
        "op",
        "deop",
        "voice",
        "devoice",
        "kick",
        "ban",
        "unban",
        "invite",
        "register",
        "login",
        "passwd",
        "drop_account",
        "oper",
        "redact",
        "search",
    }
)


def _costly(request: dict[str, Any]) -> bool:
    """Whether C{request} costs flood-control tokens."""
    cmd = request.get("cmd")
    if cmd == "mode":
        return "set" in request or "unset" in request
    return cmd in _COSTLY


#: The start of an IRC line: optional tags and prefix, then a command or a
#: numeric (``ERROR :Closing Link``, ``:irc.example NOTICE * :hi``).
_IRC_LINE = re.compile(rb"^(@\S+ +)?(:\S+ +)?([A-Za-z]+|[0-9]{3})( |$)")


def alternate_nick(nick: str) -> str:
    """The nick tried when C{nick} is taken on reconnecting: C{nick_}."""
    return (nick if len(nick) < 30 else nick[:29]) + "_"


class _Out:
    """
    A request on its way, until its reply comes.

    @ivar silent: neither the reply nor a slowdown is shown (keepalive).
    @ivar then: called with the reply and this record before anything else
        is done with it; True means it has been dealt with.
    @ivar restore: a join of L{ChatClient.channels} again after a
        reconnection: it does not change which channel is current.
    @ivar alternate: a nick taken because ours was in use on reconnecting:
        the next reconnection tries ours again.
    @ivar retried: it was refused by flood control and sent again.
    """

    __slots__ = (
        "alternate",
        "request",
        "restore",
        "retried",
        "sent_at",
        "silent",
        "then",
    )

    def __init__(
        self,
        request: dict[str, Any],
        *,
        silent: bool = False,
        then: Callable[[dict[str, Any], _Out], bool] | None = None,
        restore: bool = False,
        alternate: bool = False,
    ) -> None:
        self.request = request
        self.silent = silent
        self.then = then
        self.restore = restore
        self.alternate = alternate
        self.retried = False
        self.sent_at = 0.0


class ChatClient(AccountSession, Following, Scrollback):
    """
    A chat session: typed lines in, server lines out to C{output}.

    It keeps who you are across connections: C{want_nick} and C{channels}
    (the last one current) are taken again on every new connection, made by
    C{/connect} or by the client itself after the server went away (in
    interactive use only; see L{_connection_lost}).

    @ivar output: called with each line to show (no line ending).
    @ivar display: makes each line fit for C{output}: L{to_ansi} for a
        terminal, L{strip_formatting} (the default) for anything else.
    @ivar changed: called when the prompt may have changed.
    @ivar finished: called once with the exit status when the client is done.
    @ivar tls: how to speak TLS on every connection (C{--tls}), or None for
        plain TCP.
    @ivar nick: the nick the server gave us on this connection, or None.
    @ivar want_nick: the nick to take on connecting (C{--nick}, then the
        last one the user took).
    @ivar channels: the channels we are in, or were in and will join again
        once connected, in the order they became current (the last one is).
    @ivar keys: the keys of those channels that have one (by folded name).
    @ivar query: the nick plain lines go to (C{/query}), or None.
    @ivar credentials: the account and password to log in with on every
        connection, before the nick is taken (C{--account}, then the last
        login), or None.
    """

    def __init__(
        self,
        reactor: IReactorTCP,
        *,
        interactive: bool = False,
        tz: tzinfo | None = None,
        output: Callable[[str], None] = print,
        display: Callable[[str], str] = strip_formatting,
        changed: Callable[[], None] = lambda: None,
        finished: Callable[[int], None] = lambda status: None,
        tls: TLS | None = None,
        nick: str | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        self.reactor = reactor
        self.credentials = credentials
        self.tls = tls
        self.clock: Any = reactor  # IReactorTime too
        self.interactive = interactive
        self.tz = tz
        self.output = output
        self.display = display
        self.changed = changed
        self.finished = finished

        self.server: tuple[str, int] = (DEFAULT_HOST, DEFAULT_PORT)
        self.nick: str | None = None
        self.want_nick = nick
        self.channels: list[str] = []
        #: the keys of channels we are in that have one, by folded name,
        #: to join them again with after a reconnection
        self.keys: dict[str, str] = {}
        #: our away message, set again after a reconnection; None: here
        self.away: str | None = None
        self.query: str | None = None
        self.connection: ChatConnection | None = None
        self.welcomed = False
        self.max_line = 0  # from the welcome; 0 when unknown

        self._joined: set[str] = set()  # channels joined on this connection, folded
        self._attempt: ConnectionFactory | None = None
        self._inbox: deque[object] = deque()
        self._pumping = False
        self._pending: dict[int, _Out] = {}
        self._next_id = 0
        self._quit_sent = False
        self._quitting = False
        self._failed = False
        self._done = False
        self._last_sent = 0.0
        self._quit_timer: IDelayedCall | None = None
        #: a request the server's flood control refused, to send again
        self._retry: IDelayedCall | None = None
        #: the server's flood control is slowing us down (told once)
        self._slowed = False
        self._keepalive: LoopingCall | None = None
        self._welcome_timer: IDelayedCall | None = None
        self._bye: str | None = None  # the code of this connection's bye
        #: this connection is to something else than chatd, or to a server
        #: that failed to prove it knows our account: no reconnecting
        self._abandoned = False
        #: reconnecting by itself after the connection was lost
        self._reconnecting = False
        self._reconnect_call: IDelayedCall | None = None
        self._backoff = RECONNECT_FIRST
        self._scrollback_init()

    # What the front ends call.

    @property
    def channel(self) -> str | None:
        """The current channel: where commands apply by default."""
        return self.channels[-1] if self.channels else None

    def prompt(self) -> str:
        if self.connection is None and self._attempt is None:
            if self._reconnect_call is not None:
                return "(reconnecting)> "
            return "(not connected)> "
        if not self.welcomed:
            return "(connecting)> "
        target = f"*{self.query}*" if self.query else self.channel
        parts = [p for p in (self.nick and f"[{self.nick}]", target) if p]
        return " ".join(parts) + "> "

    def connect(self, host: str, port: int) -> None:
        """
        Connect to a server, dropping the current connection if any; the
        nick and channels are taken again there.
        """
        self._stop_reconnecting()
        self._open(host, port)

    def interrupt(self) -> None:
        """
        Quit now (Ctrl-C), whatever is queued; a second interrupt does not
        wait for the server any more.
        """
        self._inbox.clear()
        if self._quitting:
            self._finish()
        else:
            self._quit("")

    def handle_input(self, line: str) -> None:
        """A line was typed (or read from a pipe)."""
        if self.interactive and not self.welcomed:
            action = parse_input(line, self.channel, self.query)
            if isinstance(action, Quit):
                # Not connected (yet): nothing to wait for.
                self._inbox.clear()
                self._quit(action.reason)
                return
        self._inbox.append(line)
        self._pump()

    def input_ended(self) -> None:
        """No more input: quit once everything before has been answered."""
        if self.interactive and not self.welcomed:
            self.interrupt()  # Ctrl-D while (re)connecting: nothing to wait for
            return
        self._inbox.append(_END)
        self._pump()

    # Input, one line at a time.

    def _ready(self) -> bool:
        if self._done or self._quitting:
            return False
        if self._attempt is not None and not self.welcomed:
            return False  # wait for the welcome (or the failure)
        return not self._pending and self._retry is None

    def _pump(self) -> None:
        if self._pumping:
            return
        self._pumping = True
        try:
            while self._inbox and self._ready():
                item = self._inbox.popleft()
                if item is _END:
                    self._end_of_input()
                elif isinstance(item, str):
                    self._do(parse_input(item, self.channel, self.query))
                else:
                    self._do(cast(Action, item))
        finally:
            self._pumping = False

    def _do(self, action: Action | None) -> None:
        if action is None:
            return
        if isinstance(action, Problem):
            self._print(f"! {action.message}")
        elif isinstance(action, Help):
            for line in HELP_LINES:
                self._print(line)
            if self.welcomed:
                self._send({"cmd": "help"})
        elif isinstance(action, Connect):
            host = action.host
            if host is None:
                host, port = self.server
            else:
                port = action.port
            self.connect(host, port)
        elif isinstance(action, Quit):
            self._quit(action.reason)
        elif isinstance(action, Query):
            self._query(action)
        elif isinstance(action, Rejoin):
            if self.welcomed and self.nick is not None:
                request: dict[str, Any] = {
                    "cmd": "join",
                    "channel": action.channel,
                    "history": self.join_history,
                }
                if action.key is not None:
                    request["key"] = action.key
                self._send(
                    request,
                    restore=True,
                    then=self._rejoin_failed,
                )
        elif isinstance(action, Reaway):
            if self.welcomed and self.nick is not None:
                self._send({"cmd": "away", "message": action.message})
        elif not self.welcomed:
            self._not_connected_now()
        elif isinstance(action, Login):
            self._typed_login(action)
        elif isinstance(action, Ping):
            self._send({"cmd": "ping"}, then=self._pong)
        elif isinstance(action, Whois):
            self._whois(action.nick)
        elif isinstance(action, ShowHistory):
            self._show_history(action)
        elif isinstance(action, SendAll):
            first, *more = action.requests
            self._inbox.extendleft(reversed([Send(r) for r in more]))
            self._send_request(first)
        else:
            self._send_request(action.request)

    def _not_connected_now(self) -> None:
        self._failed = True
        call = self._reconnect_call
        if call is not None and call.active():
            wait = max(call.getTime() - self.clock.seconds(), 0.0)
            self._print(
                f"! not connected: reconnecting in {wait:.0f} s"
                " (/connect tries now, /quit stops)"
            )
        else:
            self._print("! not connected (use /connect HOST PORT)")

    def _query(self, action: Query) -> None:
        target = action.target
        if target is None:
            if self.query is None:
                self._print("! no private conversation to end (usage: /query NICK)")
                return
            where = self.channel or "nowhere: /join #channel"
            self._print(f"* no longer talking to {self.query}; lines go to {where}")
            self.query = None
        elif target.startswith("#"):
            folded = target.lower()
            found = [c for c in self.channels if c.lower() == folded]
            if not found:
                self._print(f"! you are not in {target}: /join {target} first")
                return
            self.channels = [c for c in self.channels if c.lower() != folded]
            self.channels.append(found[0])
            self.query = None
            self._print(f"* lines go to {found[0]}")
        else:
            self.query = target
            self._print(
                f"* talking privately to {target}: plain lines go to them"
                " (/query alone or /join goes back)"
            )
        self.changed()
        if target is not None and action.text:
            self._do(Send({"cmd": "msg", "to": target, "text": action.text}))

    def _send_request(self, request: dict[str, Any]) -> None:
        """
        Send a request the user asked for; text too long for one message
        (more than L{TEXT_MAX} characters, or more than the server's
        C{max_line} bytes) goes as several, cut at spaces where possible.
        """
        text = request.get("text")
        if request.get("cmd") == "msg" and isinstance(text, str):
            budget = 0
            if self.max_line:
                empty = encode_request({**request, "text": "", "id": 2**53})
                budget = self.max_line - len(empty)
            too_big = budget and len(encode_request(request)) - len(empty) > budget
            if (len(text) > TEXT_MAX or too_big) and budget >= 0:
                pieces = split_text(text, TEXT_MAX, budget)
                if len(pieces) > 1:
                    limit = (
                        f"{TEXT_MAX} characters"
                        if len(text) > TEXT_MAX
                        else f"{self.max_line} bytes"
                    )
                    self._print(
                        f"* {len(text)} characters are more than one message"
                        f" holds ({limit}): sending them as {len(pieces)}"
                        " messages"
                    )
                    more = [Send({**request, "text": p}) for p in pieces[1:]]
                    self._inbox.extendleft(reversed(more))
                if pieces:
                    request = {**request, "text": pieces[0]}
        self._send(request)

    def _send(
        self,
        request: dict[str, Any],
        silent: bool = False,
        *,
        then: Callable[[dict[str, Any], _Out], bool] | None = None,
        restore: bool = False,
        alternate: bool = False,
    ) -> None:
        out = _Out(
            request, silent=silent, then=then, restore=restore, alternate=alternate
        )
        self._transmit(out)

    def _transmit(self, out: _Out) -> None:
        assert self.connection is not None
        request_id = self._next_id + 1
        data = encode_request({**out.request, "id": request_id})
        if self.max_line and len(data) > self.max_line:
            # The server would hang up on it: say so instead.
            self._print(
                f"! too long: the server takes at most {self.max_line} bytes"
                f" a line, and this is {len(data)}"
            )
            return
        self._next_id = request_id
        self._pending[request_id] = out
        out.sent_at = self._last_sent = self.clock.seconds()
        self.connection.send(data)

    def _pong(self, reply: dict[str, Any], out: _Out) -> bool:
        if reply.get("type") != "ok":
            return False
        rtt = (self.clock.seconds() - out.sent_at) * 1000
        self._print(f"* pong from {self.server[0]} in {rtt:.0f} ms")
        return True

    def _whois(self, nick: str) -> None:
        """
        What the protocol can tell of a nick: the channels it is in, from
        C{list} and then C{who} on each channel (it has no whois).
        """
        found: list[str] = []
        spelled = [nick]
        folded = nick.lower()

        def look(channels: list[str], total: int) -> None:
            if not channels:
                if found:
                    self._print(f"* {spelled[0]} is in {', '.join(found)}")
                else:
                    looked = min(total, WHOIS_CHANNELS)
                    self._print(
                        f"* {nick} is in none of the {plural(looked, 'channel')}"
                        " (chatd tells no more: it may still be connected;"
                        f" /msg {nick} TEXT tries)"
                    )
                return
            channel = channels.pop(0)

            def who(reply: dict[str, Any], out: _Out) -> bool:
                members = reply.get("members")
                if reply.get("type") == "ok" and isinstance(members, list):
                    for member in members:
                        if isinstance(member, str) and member.lower() == folded:
                            spelled[0] = member
                            found.append(str(reply.get("channel", channel)))
                look(channels, total)
                return True

            self._send({"cmd": "who", "channel": channel}, then=who)

        def listed(reply: dict[str, Any], out: _Out) -> bool:
            entries = reply.get("channels")
            if reply.get("type") != "ok" or not isinstance(entries, list):
                return False
            names = [
                e["channel"]
                for e in entries
                if isinstance(e, dict) and isinstance(e.get("channel"), str)
            ]
            look(names[:WHOIS_CHANNELS], len(names))
            return True

        if self.nick is None:
            self._print("! choose a nick first: /nick NAME")
            return
        self._send({"cmd": "list"}, then=listed)

    def _quit(self, reason: str) -> None:
        self._quitting = True
        self._stop_reconnecting()
        if self.connection is None:
            self._finish()
            return
        if not self._quit_sent and self.welcomed:
            self._quit_sent = True
            self._send({"cmd": "quit", "reason": reason} if reason else {"cmd": "quit"})
        else:
            assert self.connection.transport is not None
            self.connection.transport.loseConnection()
        if self._quit_timer is None:
            self._quit_timer = self.clock.callLater(QUIT_TIMEOUT, self._quit_timed_out)

    def _quit_timed_out(self) -> None:
        self._quit_timer = None
        self._print("! the server did not close the connection; closing it")
        self._finish()

    def _end_of_input(self) -> None:
        if self.connection is not None:
            self._quit("")
        else:
            self._finish()

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        if self._quit_timer is not None and self._quit_timer.active():
            self._quit_timer.cancel()
        self._quit_timer = None
        self._stop_keepalive()
        self._stop_reconnecting()
        self._cancel_welcome_timer()
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None
        connection, self.connection = self.connection, None
        if connection is not None and connection.transport is not None:
            connection.transport.loseConnection()
        self.finished(1 if self._failed and not self.interactive else 0)

    # The connection.

    def _where(self) -> str:
        return f"{self.server[0]} port {self.server[1]}"

    def _open(self, host: str, port: int) -> None:
        self.server = (host, port)
        if self.connection is not None:
            self._print(f"* leaving {self._where()}")
            old, self.connection = self.connection, None
            self._reset()
            assert old.transport is not None
            old.transport.loseConnection()
        tls = self.tls
        if tls is not None and tls.insecure:
            self._print(
                "* warning: --insecure: the server's certificate is not checked"
            )
        over = " with TLS" if tls is not None else ""
        self._print(f"* connecting to {host} port {port}{over} ...")
        factory = self._attempt = ConnectionFactory(self)
        if tls is None:
            self.reactor.connectTCP(host, port, factory, timeout=CONNECT_TIMEOUT)
        else:
            try:
                creator = tls.creator(host)
            except ValueError as e:  # idna's errors are UnicodeErrors
                problem = ValueError(f"no certificate can be for {host!r}: {e}")
                self._connect_failed(factory, Failure(problem))
                return
            reactor = cast(IReactorSSL, self.reactor)
            reactor.connectSSL(
                host, port, factory, creator, timeout=CONNECT_TIMEOUT, bindAddress=None
            )
        self.changed()

    def _schedule_reconnect(self) -> float:
        """Try again after the next backoff delay; return the delay."""
        delay = self._backoff
        self._backoff = min(delay * 2, RECONNECT_MAX)
        self._reconnecting = True
        self._reconnect_call = self.clock.callLater(delay, self._reconnect)
        return delay

    def _reconnect(self) -> None:
        self._reconnect_call = None
        self._open(*self.server)

    def _stop_reconnecting(self) -> None:
        if self._reconnect_call is not None and self._reconnect_call.active():
            self._reconnect_call.cancel()
        self._reconnect_call = None
        self._reconnecting = False
        self._backoff = RECONNECT_FIRST

    def _reset(self) -> None:
        """Forget the connection; who we are (nick, channels) is kept."""
        self.nick = None
        self._joined.clear()
        self.welcomed = False
        self.max_line = 0
        self._pending.clear()
        if self._retry is not None:
            if self._retry.active():
                self._retry.cancel()
            self._retry = None
        self._slowed = False
        self._quit_sent = False
        self._bye = None
        self._abandoned = False
        self.account = None
        self._cancel_welcome_timer()
        self._stop_keepalive()

    def _connection_made(self, connection: ChatConnection) -> None:
        if connection.factory is not self._attempt or self._done:
            assert connection.transport is not None
            connection.transport.loseConnection()
            return
        self.connection = connection
        # Over TLS the handshake comes first: the wait starts again after it.
        wait = WELCOME_TIMEOUT if self.tls is None else CONNECT_TIMEOUT
        self._welcome_timer = self.clock.callLater(wait, self._no_welcome, connection)

    def _cancel_welcome_timer(self) -> None:
        if self._welcome_timer is not None and self._welcome_timer.active():
            self._welcome_timer.cancel()
        self._welcome_timer = None

    def _no_welcome(self, connection: ChatConnection) -> None:
        self._welcome_timer = None
        if connection is self.connection and not self.welcomed:
            self._not_chatd_server(connection, None)

    def _not_chatd_server(self, connection: ChatConnection, line: bytes | None) -> None:
        """
        The server's first line (or its silence) shows it does not speak
        chatd's protocol: say so, and hang up without reconnecting.
        """
        if line is None:
            why = (
                f"it said nothing within {WELCOME_TIMEOUT:g} s, as IRC servers"
                " do until the client speaks; is this an IRC port?"
            )
        else:
            text = line.decode("utf-8", "backslashreplace")
            shown = printable(text[:80] + ("..." if len(text) > 80 else ""))
            if _IRC_LINE.match(line):
                why = f"it sent IRC: {shown}; is this the IRC port?"
            else:
                why = f"it sent: {shown}"
        self._abandon(
            f"not connected: {self._where()} does not speak chatd's JSON"
            f" protocol ({why})"
        )

    def _abandon(self, why: str) -> None:
        """Say C{why} and hang up, without reconnecting by ourselves."""
        self._cancel_welcome_timer()
        self._abandoned = True
        self._failed = True
        self._stop_reconnecting()
        self._print(f"! {why}")
        if self.interactive:
            self._print("! /connect HOST PORT tries another")
        connection = self.connection
        if connection is not None and connection.transport is not None:
            connection.transport.loseConnection()

    def _handshake_completed(self, connection: ChatConnection) -> None:
        """The TLS handshake is done: check the certificate's host again."""
        if connection is not self.connection or connection.secured:
            return  # a renegotiation
        assert connection.transport is not None
        if self.tls is not None and not self.tls.insecure:
            try:
                handle = connection.transport.getHandle()  # type: ignore[attr-defined]
                check_identity(handle, self.server[0])
            except Exception:
                connection.rejected = Failure()
                connection.transport.abortConnection()  # type: ignore[attr-defined]
                return
        connection.secured = True
        if not self.welcomed:
            self._cancel_welcome_timer()
            self._welcome_timer = self.clock.callLater(
                WELCOME_TIMEOUT, self._no_welcome, connection
            )

    def _connect_failed(self, factory: ConnectionFactory, reason: Failure) -> None:
        if factory is not self._attempt:
            return
        self._attempt = None
        why = describe_failure(reason)
        if self._reconnecting and not self._quitting and not self._done:
            delay = self._schedule_reconnect()
            self._print(
                f"! not connected: {why} ({self._where()}); reconnecting in {delay:g} s"
            )
            self.changed()
            return
        self._not_connected(why)
        self.changed()
        self._after_close()

    def _not_connected(self, why: str) -> None:
        self._failed = True
        self._print(f"! not connected: {why} ({self._where()})")
        if self.interactive:
            self._print("! /connect HOST PORT tries again")

    def _connection_lost(self, connection: ChatConnection, reason: Failure) -> None:
        """
        The connection ended.  In interactive use the client connects again
        by itself, with a growing delay, unless we quit, the server was not
        chatd, TLS failed, or the server's bye says a new connection would
        fare no better (L{NO_RECONNECT}).  Piped, a script that lost its
        server stops: its later lines are not sent and it exits with 1.
        """
        if connection is not self.connection:
            return
        self.connection = None
        self._attempt = None
        welcomed, bye, abandoned = self.welcomed, self._bye, self._abandoned
        self._reset()
        self.changed()
        if self._quitting or self._done:
            self._finish()
            return
        if abandoned:
            self._after_close()
            return
        if self.tls is not None and not connection.secured:
            # The TLS handshake or the certificate check failed: this was
            # never a connection to the server.
            self._stop_reconnecting()
            why = connection.rejected or reason
            host = self.server[0]
            self._not_connected(describe_tls_failure(why, connection, host, self.tls))
            self._after_close()
            return
        if (
            self.interactive
            and (welcomed or self._reconnecting)
            and bye not in NO_RECONNECT
        ):
            delay = self._schedule_reconnect()
            self._print(
                f"! disconnected from server ({self._where()}); reconnecting in"
                f" {delay:g} s (/quit stops)"
            )
            self.changed()
            self._after_close()
            return
        self._stop_reconnecting()
        self._failed = True  # a script's later lines will not be sent
        self._print(
            f"! disconnected from server ({self._where()});"
            f" /connect {self.server[0]} {self.server[1]} reconnects"
        )
        self._after_close()

    def _after_close(self) -> None:
        if self._quitting:
            self._finish()
        else:
            self._pump()

    def _line_received(self, connection: ChatConnection, line: bytes) -> None:
        if connection is not self.connection or connection.rejected is not None:
            return
        line = line.strip()
        if not line:
            return
        try:
            obj = json.loads(line.decode("utf-8"))
        except (ValueError, RecursionError):
            obj = None
        kind = obj.get("type") if isinstance(obj, dict) else None
        if not self.welcomed and self._bye is None and kind not in ("welcome", "bye"):
            self._not_chatd_server(connection, line)
            return
        if not isinstance(obj, dict):
            self._print(bad_line(line))
            return
        out: _Out | None = None
        if kind in ("ok", "error"):
            request_id = obj.get("id")
            if isinstance(request_id, int) and not isinstance(request_id, bool):
                out = self._pending.pop(request_id, None)
        if out is not None:
            if self._slowed_down(obj, out):
                return
            if _costly(out.request) and not out.retried:
                self._slowed = False  # let through at once: the slowdown is over
            if out.then is not None and out.then(obj, out):
                self._pump()
                return
        if kind == "ok" and out is not None and obj.get("cmd") == "join":
            # Before it is shown: after a reconnection, only what was missed.
            self._joined_with_history(obj, out.restore)
        elif kind == "message" and out is None:
            self._saw_live(obj, mine=False)
        request = out.request if out is not None else None
        lines = render(
            obj, request, now=self.clock.seconds(), tz=self.tz, nick=self.nick
        )
        malformed = bool(lines) and lines[0].startswith("! bad line")
        if malformed:
            lines = [bad_line(line)]  # as it came, not as parsed
        if kind == "ok" and out is not None and not malformed:
            self._update(obj, out)
            self._follow_account(obj, out)
            if obj.get("cmd") == "msg":
                self._saw_live(obj, mine=True)
        elif out is None and not malformed and kind in ("kick", "mode"):
            self._follow_event(obj)
        if kind == "bye":
            code = obj.get("code")
            self._bye = code if isinstance(code, str) else "?"
            self._cancel_welcome_timer()
        if out is None or not out.silent:
            for text in lines:
                self._print(text)
        if kind == "welcome" and not self.welcomed:
            self._welcomed(obj)
        self._pump()

    def _welcomed(self, welcome: dict[str, Any]) -> None:
        """The server said welcome: take our nick (and then channels) again."""
        self.welcomed = True
        self._cancel_welcome_timer()
        self._stop_reconnecting()
        self._start_keepalive(welcome.get("idle_timeout"))
        max_line = welcome.get("max_line")
        if isinstance(max_line, int) and not isinstance(max_line, bool):
            self.max_line = max(max_line, 0)
        self.changed()
        if self.credentials is not None:
            # Before the nick: it may be the account's own.
            self._log_in(*self.credentials, self._logged_in_on_connecting)
        else:
            self._take_nick()

    def _logged_in_on_connecting(self, logged_in: bool) -> None:
        """
        Take the nick after logging in; a script whose login failed stops
        rather than run as someone else (a person can still /login).
        """
        if logged_in or self.interactive:
            self._take_nick()
            return
        self._print("! not logged in: the script's lines are not sent")
        self._failed = True
        self._inbox.clear()
        self._quit("")

    def _take_nick(self) -> None:
        if self.want_nick is not None:
            self._send({"cmd": "nick", "nick": self.want_nick}, then=self._nick_refused)
        elif self.interactive:
            self._print(
                "* choose a nick with /nick NAME; the server hangs up after a"
                " minute without one"
            )

    def _nick_refused(self, reply: dict[str, Any], out: _Out) -> bool:
        """
        The nick taken on connecting was refused: in use, try nick_ once;
        else ask for one (the channels are joined once we have a nick).
        """
        if reply.get("type") != "error":
            return False
        nick = out.request["nick"]
        if reply.get("code") == "nick_in_use" and not out.alternate:
            other = alternate_nick(nick)
            self._print(
                f"! the nick {nick} is taken; trying {other}"
                f" (/nick {nick} takes it back once it is free)"
            )
            self._send(
                {"cmd": "nick", "nick": other},
                then=self._nick_refused,
                alternate=True,
            )
            return True
        for text in render(reply, out.request, now=self.clock.seconds(), tz=self.tz):
            self._print(text)
        waiting = [c for c in self.channels if c.lower() not in self._joined]
        then = f"; then {', '.join(waiting)} are joined again" if waiting else ""
        if reply.get("code") == "nick_reserved":
            self._print(f"! /login PASSWORD logs in and takes {nick}{then}")
        else:
            self._print(f"! choose a nick with /nick NAME{then}")
        return True

    def _rejoin_failed(self, reply: dict[str, Any], out: _Out) -> bool:
        if reply.get("type") == "error":
            folded = str(out.request["channel"]).lower()
            self.channels = [c for c in self.channels if c.lower() != folded]
            self.changed()
        return False

    def _slowed_down(self, reply: dict[str, Any], out: _Out) -> bool:
        """
        The server's flood control refused a request (C{rate_limited}):
        send it again just after C{retry_after} seconds, keeping the order
        of what was typed, rather than lose it.  Said once per slowdown:
        until a costly request goes through at its first try.
        """
        wait = reply.get("retry_after")
        if (
            reply.get("type") != "error"
            or reply.get("code") != "rate_limited"
            or not isinstance(wait, (int, float))
            or isinstance(wait, bool)
            or not 0 <= wait <= RETRY_MAX
        ):
            return False
        if not out.silent and not self._slowed:
            self._print(
                "* the server asks us to slow down: sending at its pace"
                f" (the next line in {wait:g} s)"
            )
        self._slowed = True
        out.retried = True
        self._retry = self.clock.callLater(wait + RETRY_MARGIN, self._send_again, out)
        return True

    def _send_again(self, out: _Out) -> None:
        self._retry = None
        if self.connection is not None and self.welcomed and not self._done:
            self._transmit(out)
        self._pump()

    def _start_keepalive(self, idle_timeout: object) -> None:
        """
        Keep an idle session from being reaped: a silent ping whenever
        nothing was sent for a third of the server's idle timeout.
        """
        if not isinstance(idle_timeout, (int, float)) or idle_timeout <= 0:
            return
        interval = max(idle_timeout / 3.0, 1.0)

        def tick() -> None:
            idle = self.clock.seconds() - self._last_sent
            if self.welcomed and not self._quit_sent and idle >= interval:
                self._send({"cmd": "ping"}, silent=True)

        self._keepalive = LoopingCall(tick)
        self._keepalive.clock = self.clock
        self._keepalive.start(interval, now=False)

    def _stop_keepalive(self) -> None:
        if self._keepalive is not None and self._keepalive.running:
            self._keepalive.stop()
        self._keepalive = None

    def _print(self, text: str) -> None:
        self.output(self.display(text))

"""
An IRC user and a JSON user in one conversation, end to end: the chatd
service on real loopback sockets, jaraco's C{irc} library as the IRC client
and a plain socket as the JSON client, checking every event type in both
directions.

Both clients block, so each test body runs in a thread (C{deferToThread})
while the test's reactor serves chatd.  Every wait is a bounded loop on a
socket (C{select} or C{recv}) with a deadline; nothing sleeps, and nothing
depends on how long anything takes.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import socket
import time
from datetime import datetime, timezone
from typing import Any, Callable

import irc.client
import irc.connection
from twisted.internet import reactor, threads
from twisted.internet.defer import Deferred
from twisted.trial.unittest import FailTest, TestCase

from chatd.core import Change, Chat
from chatd.irc.factory import IRCFactory
from chatd.jsonproto.lines import ChatFactory
from chatd.service import ChatService

#: The longest any one expected line may take to arrive, in seconds.  It is
#: only a bound for a broken server: a passing test never waits for it.
WAIT = 10.0
#: The IRC capabilities the IRC user asks for.
CAPS = ("server-time", "message-tags")
#: IRC formatting: bold, colour with a background, italic, underline,
#: reverse, monospace, strikethrough, a colour reset and a full reset.
FORMATTED = (
    "\x02bold\x02 \x0304,01red on black\x03 \x1ditalic\x1d \x1funder\x1f "
    "\x16rev\x16 \x11mono\x11 \x1estrike\x1e \x0312blue\x03 plain\x0f end"
)


def matches(obj: dict[str, Any], fields: dict[str, Any]) -> bool:
    return all(obj.get(k) == v for k, v in fields.items())


class LineSocket:
    """
    A client on a blocking socket that reads lines; C{unread} holds those
    received and not yet expected, in order of arrival.  Lines end in
    C{ending} and are JSON unless a subclass parses them otherwise.
    """

    label = "JSON"
    ending = b"\n"

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        self._buffer = b""
        self.unread: list[Any] = []
        self.eof = False

    def parse(self, line: bytes) -> Any:
        return json.loads(line)

    def _read(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout
        self.sock.settimeout(left)
        data = self.sock.recv(65536)
        if not data:
            self.eof = True
            return
        *lines, self._buffer = (self._buffer + data).split(self.ending)
        self.unread.extend(self.parse(line) for line in lines)

    def closed(self) -> list[Any]:
        """
        Read until the server closes its side, then close ours, as clients
        do (the server waits for it); every line not yet expected.
        """
        deadline = time.monotonic() + WAIT
        while not self.eof:
            try:
                self._read(deadline)
            except socket.timeout:
                raise FailTest(f"{self.label}: still open after {WAIT} s") from None
        self.close()
        lines, self.unread = self.unread, []
        return lines

    def close(self) -> None:
        self.sock.close()


class JSONUser(LineSocket):
    """A JSON-lines client on a blocking socket."""

    unread: list[dict[str, Any]]

    def __init__(self, port: int, nick: str | None = None) -> None:
        super().__init__(port)
        self._ids = itertools.count(1)
        self.expect(type="welcome")
        if nick is not None:
            self.ok("nick", nick=nick)

    def send(self, **obj: Any) -> None:
        self.sock.sendall(json.dumps(obj).encode("utf-8") + b"\n")

    def expect_that(
        self, predicate: Callable[[dict[str, Any]], bool], what: str
    ) -> dict[str, Any]:
        """The first unread line for which C{predicate} holds (now read)."""
        deadline = time.monotonic() + WAIT
        while True:
            for i, obj in enumerate(self.unread):
                if predicate(obj):
                    del self.unread[i]
                    return obj
            if self.eof:
                raise FailTest(f"JSON: closed before {what}; unread: {self.unread}")
            try:
                self._read(deadline)
            except socket.timeout:
                raise FailTest(
                    f"JSON: no {what} within {WAIT} s; unread: {self.unread}"
                ) from None

    def expect(self, **fields: Any) -> dict[str, Any]:
        """The first unread line with these C{fields}."""
        return self.expect_that(lambda obj: matches(obj, fields), repr(fields))

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send a request and return its reply."""
        rid = next(self._ids)
        self.send(cmd=cmd, id=rid, **args)
        return self.expect_that(
            lambda obj: obj.get("id") == rid and obj["type"] in ("ok", "error"),
            f"reply to {cmd} {args}",
        )

    def ok(self, cmd: str, **args: Any) -> dict[str, Any]:
        reply = self.request(cmd, **args)
        if reply["type"] != "ok":
            raise FailTest(f"JSON: {cmd} {args} failed: {reply}")
        return reply

    def sync(self) -> list[dict[str, Any]]:
        """
        Every event not yet expected: a ping's reply comes after all that
        the server sent before it.
        """
        self.ok("ping")
        events, self.unread = self.unread, []
        return events


class IRCUser:
    """
    An IRC client made of the C{irc} library's C{Reactor} and
    C{ServerConnection}, driven by hand with bounded C{process_once} loops.
    """

    def __init__(
        self,
        port: int,
        nick: str,
        caps: tuple[str, ...] = CAPS,
        register: bool = True,
    ) -> None:
        self.reactor = irc.client.Reactor()
        #: Events not yet expected, in order of arrival.
        self.unread: list[irc.client.Event] = []
        #: Every line received, as sent.
        self.raw: list[str] = []
        self.reactor.add_global_handler("all_events", self._keep, -10)
        self.conn = self.reactor.server()
        self._pings = itertools.count(1)

        def cap_ls_first(address: tuple[str, int]) -> socket.socket:
            # The library sends NICK and USER as soon as it connects; a
            # CAP LS before them holds registration until CAP END.
            sock = irc.connection.Factory()(address)
            if caps:
                sock.sendall(b"CAP LS 302\r\n")
            return sock

        self.conn.connect(
            "127.0.0.1",
            port,
            nick,
            username=nick,
            ircname=f"{nick} on IRC",
            connect_factory=cap_ls_first,
        )
        if caps:
            offered = self.expect("cap", arguments=lambda a: a[0] == "LS")
            missing = set(caps) - set(offered.arguments[-1].split())
            if missing:
                raise FailTest(f"IRC: server does not offer {missing}: {offered}")
            self.conn.cap("REQ", *caps)
            ack = self.expect("cap", arguments=lambda a: a[0] in ("ACK", "NAK"))
            if ack.arguments[0] != "ACK" or set(ack.arguments[1].split()) != set(caps):
                raise FailTest(f"IRC: capabilities refused: {ack}")
            self.conn.cap("END")
        if register:
            self.expect("welcome")

    def _keep(self, connection: object, event: irc.client.Event) -> None:
        if event.type == "all_raw_messages":
            self.raw.append(event.arguments[0])
        else:
            self.unread.append(event)

    @property
    def nick(self) -> str:
        return str(self.conn.get_nickname())

    def expect(
        self,
        type: str,
        source: str | None = None,
        target: str | None = None,
        arguments: list[str] | Callable[[list[str]], bool] | None = None,
    ) -> irc.client.Event:
        """
        The first unread event of this C{type} (C{pubmsg}, C{join}, a
        numeric's name...) from the nick C{source}, to C{target}, with these
        C{arguments} (or arguments for which that function holds).
        """

        def wanted(e: irc.client.Event) -> bool:
            if e.type != type:
                return False
            if source is not None and (e.source is None or e.source.nick != source):
                return False
            if target is not None and e.target != target:
                return False
            if arguments is None:
                return True
            if callable(arguments):
                return bool(arguments(e.arguments))
            return list(e.arguments) == arguments

        what = f"{type} from {source} to {target} {arguments or ''}"
        deadline = time.monotonic() + WAIT
        while True:
            for i, e in enumerate(self.unread):
                if wanted(e):
                    del self.unread[i]
                    return e
            left = deadline - time.monotonic()
            if not self.conn.is_connected() or left <= 0:
                state = "no" if self.conn.is_connected() else "closed before"
                raise FailTest(
                    f"IRC {self.nick}: {state} {what}; last lines: {self.raw[-8:]}"
                )
            self.reactor.process_once(timeout=min(left, 1.0))

    def sync(self) -> list[irc.client.Event]:
        """
        Every event not yet expected: a PONG comes after all that the
        server sent before it.
        """
        token = f"sync{next(self._pings)}"
        self.conn.ping(token)
        self.expect("pong", arguments=[token])
        events, self.unread = self.unread, []
        return events

    def join(self, channel: str) -> list[str]:
        """Join C{channel}; the nicks its NAMES reply lists."""
        self.conn.join(channel)
        self.expect("join", source=self.nick)
        names = self.expect("namreply").arguments[-1].split()
        self.expect("endofnames")
        return names

    def closed(self) -> None:
        """Wait until the server closes the connection."""
        self.expect("disconnect")

    def close(self) -> None:
        if self.conn.is_connected():
            self.conn.disconnect("test over")


def in_thread(body: Callable[[Any], None]) -> Callable[[Any], Deferred[None]]:
    """Run a blocking test body in a thread while the reactor serves."""

    @functools.wraps(body)
    def test(self: Any) -> Deferred[None]:
        return threads.deferToThread(body, self)

    return test


def time_tag(event: irc.client.Event) -> str | None:
    """The IRCv3 server-time of an event."""
    for tag in event.tags or []:
        if tag["key"] == "time":
            return str(tag["value"])
    return None


def millis(ts: str) -> int:
    """C{2026-11-24T10:00:00.123Z} in milliseconds since the epoch."""
    when = datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ")
    return round(when.replace(tzinfo=timezone.utc).timestamp() * 1000)


class MidMillisecondClock:
    """
    The reactor's clock, always 0.6 ms past a millisecond: where truncating
    a time to milliseconds and rounding it disagree.
    """

    def seconds(self) -> float:
        return math.floor(reactor.seconds() * 1000) / 1000 + 0.0006

    def callLater(self, *args: Any, **kwargs: Any) -> Any:
        return reactor.callLater(*args, **kwargs)


class ChatdTestCase(TestCase):
    """A chatd service with a JSON and an IRC listener on loopback."""

    timeout = 60

    def clock(self) -> Any:
        """The clock the service runs on."""
        return reactor

    def setUp(self) -> None:
        self.chat = Chat(max_users=50)
        clock = self.clock()
        self.json_factory = ChatFactory(self.chat, clock, idle_timeout=60)
        self.irc_factory = IRCFactory(self.chat, clock, idle_timeout=60)
        listen = ["tcp:0:interface=127.0.0.1"]
        self.service = ChatService(
            reactor, [(self.json_factory, listen), (self.irc_factory, listen)]
        )
        self.service.startService()
        self.addCleanup(self._stop)
        self.json_port, self.irc_port = (
            port.getHost().port for port in self.service.ports
        )
        self.users: list[JSONUser | IRCUser] = []
        self.addCleanup(self._close_users)

    def _stop(self) -> Deferred[None] | None:
        if self.service.running:
            return self.service.stopService()
        return None

    def _close_users(self) -> None:
        for user in self.users:
            user.close()

    def nicks(self) -> list[str]:
        """Every nick in the chat, read in the reactor's thread."""
        return threads.blockingCallFromThread(
            reactor, lambda: sorted(u.nick for u in self.chat.nicks.values())
        )

    def json_user(self, nick: str | None = None) -> JSONUser:
        user = JSONUser(self.json_port, nick)
        self.users.append(user)
        return user

    def irc_user(self, nick: str, **options: Any) -> IRCUser:
        user = IRCUser(self.irc_port, nick, **options)
        self.users.append(user)
        return user

    def pair(self) -> tuple[JSONUser, IRCUser]:
        """alice (JSON) and then bob (IRC) in #general, each seeing the other."""
        alice = self.json_user("alice")
        reply = alice.ok("join", channel="#general")
        self.assertEqual(reply["members"], ["alice"])
        bob = self.irc_user("bob")
        # its creator is its operator
        self.assertEqual(bob.join("#general"), ["@alice", "bob"])
        alice.expect(type="join", channel="#general", nick="bob")
        self.assertEqual(alice.sync(), [])
        bob.sync()
        return alice, bob


class ServerTimeTests(ChatdTestCase):
    def clock(self) -> Any:
        return MidMillisecondClock()

    @in_thread
    def test_one_message_has_one_time(self) -> None:
        """
        The server-time an IRC user is shown is the C{ts} the JSON sender's
        reply and every JSON recipient's event give, to the millisecond.
        """
        alice, bob = self.pair()
        carol = self.json_user("carol")
        carol.ok("join", channel="#general")
        reply = alice.ok("msg", to="#general", text="when?")
        event = bob.expect("pubmsg", source="alice", target="#general")
        seen = carol.expect(type="message", text="when?")
        self.assertEqual(seen["ts"], reply["ts"])
        self.assertEqual(time_tag(event), reply["ts"])


class ConversationTests(ChatdTestCase):
    """alice on JSON and bob on IRC in #general."""

    def assertSameTime(self, event: irc.client.Event, reply: dict[str, Any]) -> None:
        """
        IRC's server-time is the instant of the JSON reply's C{ts} (give or
        take the millisecond that ServerTimeTests is about).
        """
        tag = time_tag(event)
        self.assertIsNotNone(tag, event)
        assert tag is not None
        self.assertLessEqual(abs(millis(tag) - millis(reply["ts"])), 1)

    @in_thread
    def test_joins_seen_both_ways(self) -> None:
        alice, bob = self.pair()
        carol = self.json_user("carol")
        reply = carol.ok("join", channel="#GENERAL")
        self.assertEqual(
            (reply["channel"], reply["members"]),
            ("#general", ["alice", "bob", "carol"]),
        )
        join = bob.expect("join", source="carol", target="#general")
        self.assertEqual(join.source.host, "127.0.0.1")
        dave = self.irc_user("dave")
        self.assertEqual(dave.join("#general"), ["@alice", "bob", "carol", "dave"])
        for json_user in (alice, carol):
            json_user.expect(type="join", channel="#general", nick="dave")
        bob.expect("join", source="dave", target="#general")

    @in_thread
    def test_messages_both_ways(self) -> None:
        alice, bob = self.pair()
        bob.conn.privmsg("#general", "hello from IRC")
        message = alice.expect(type="message", text="hello from IRC")
        # Neither "notice" nor "action": they are only there when true.
        self.assertEqual(set(message), {"type", "from", "to", "text", "ts", "msgid"})
        self.assertEqual((message["from"], message["to"]), ("bob", "#general"))
        reply = alice.ok("msg", to="#GENERAL", text="hello from JSON")
        event = bob.expect("pubmsg", source="alice", target="#general")
        self.assertEqual(event.arguments, ["hello from JSON"])
        # server-time gives IRC the instant JSON's reply reports.
        self.assertSameTime(event, reply)
        # Nobody is sent their own message.
        self.assertEqual(alice.sync(), [])
        self.assertEqual(bob.sync(), [])

    @in_thread
    def test_notices_and_actions(self) -> None:
        alice, bob = self.pair()
        bob.conn.notice("#general", "a notice")
        notice = alice.expect(type="message", text="a notice")
        self.assertEqual((notice["from"], notice["notice"]), ("bob", True))
        self.assertNotIn("action", notice)
        bob.conn.action("#general", "waves")
        action = alice.expect(type="message", text="waves")
        self.assertEqual((action["from"], action["action"]), ("bob", True))
        self.assertNotIn("notice", action)
        alice.ok("msg", to="#general", text="waves back", action=True)
        event = bob.expect("action", source="alice", target="#general")
        self.assertEqual(event.arguments, ["waves back"])
        self.assertTrue(
            bob.raw[-1].endswith(" PRIVMSG #general :\x01ACTION waves back\x01"),
            bob.raw[-1],
        )
        self.assertEqual([e.type for e in bob.sync()], ["ctcp"])  # the same line
        self.assertEqual(alice.sync(), [])

    @in_thread
    def test_formatting_passes_through_untouched(self) -> None:
        alice, bob = self.pair()
        bob.conn.privmsg("#general", FORMATTED)
        self.assertEqual(alice.expect(type="message")["text"], FORMATTED)
        alice.ok("msg", to="#general", text=FORMATTED)
        event = bob.expect("pubmsg", source="alice", target="#general")
        self.assertEqual(event.arguments, [FORMATTED])

    @in_thread
    def test_private_messages_both_ways(self) -> None:
        alice, bob = self.pair()
        bob.conn.privmsg("ALICE", "psst, alice")
        message = alice.expect(type="message", text="psst, alice")
        self.assertEqual((message["from"], message["to"]), ("bob", "alice"))
        bob.conn.notice("alice", "private notice")
        notice = alice.expect(type="message", text="private notice")
        self.assertEqual((notice["to"], notice["notice"]), ("alice", True))
        bob.conn.action("alice", "nods")
        action = alice.expect(type="message", text="nods")
        self.assertEqual((action["to"], action["action"]), ("alice", True))
        reply = alice.ok("msg", to="BOB", text="psst, bob")
        self.assertEqual(reply["to"], "bob")
        event = bob.expect("privmsg", source="alice", target="bob")
        self.assertEqual(event.arguments, ["psst, bob"])
        alice.ok("msg", to="bob", text="\x02formatted\x02 \x0304red\x03", action=True)
        event = bob.expect("action", source="alice", target="bob")
        self.assertEqual(event.arguments, ["\x02formatted\x02 \x0304red\x03"])
        self.assertEqual(alice.sync(), [])

    @in_thread
    def test_topics_both_ways(self) -> None:
        alice, bob = self.pair()
        # alice made #general, so she is its operator: she lets anyone set
        # the topic (-t)
        owner = self.chat.find_user("alice")
        assert owner is not None
        # In the reactor's thread, as every change to the chat is made: a
        # write from this thread would wait for the reactor to wake up.
        threads.blockingCallFromThread(
            reactor, self.chat.set_modes, owner, "#general", [Change("t", False)]
        )
        bob.expect("mode", source="alice", target="#general")
        bob.conn.topic("#general", "set on \x02IRC\x02")
        event = alice.expect(type="topic", channel="#general")
        self.assertEqual((event["topic"], event["by"]), ("set on \x02IRC\x02", "bob"))
        reply = alice.ok("topic", channel="#general", topic="set on JSON")
        self.assertEqual(reply["topic"], "set on JSON")
        topic = bob.expect("topic", source="alice", target="#general")
        self.assertEqual(topic.arguments, ["set on JSON"])
        # Newcomers are told the topic, and who set it.
        carol = self.irc_user("carol")
        carol.conn.join("#general")
        self.assertEqual(
            carol.expect("currenttopic").arguments, ["#general", "set on JSON"]
        )
        self.assertEqual(
            carol.expect("topicinfo").arguments[:2],
            ["#general", "alice!json@127.0.0.1"],
        )
        dave = self.json_user("dave")
        self.assertEqual(dave.ok("join", channel="#general")["topic"], "set on JSON")
        # Clearing it, from IRC (the library's topic() cannot send "").
        bob.conn.send_raw("TOPIC #general :")
        event = alice.expect(type="topic", channel="#general", by="bob")
        self.assertEqual(event["topic"], "")

    @in_thread
    def test_nick_changes_both_ways(self) -> None:
        alice, bob = self.pair()
        bob.conn.nick("Robert")
        bob.expect("nick", source="bob", target="Robert")
        alice.expect(type="nick", old="bob", new="Robert")
        self.assertEqual(bob.nick, "Robert")
        alice.ok("nick", nick="Alicia")
        bob.expect("nick", source="alice", target="Alicia")
        # The new nicks are the ones the others see from then on.
        bob.conn.privmsg("#general", "I am Robert now")
        message = alice.expect(type="message", text="I am Robert now")
        self.assertEqual(message["from"], "Robert")
        alice.ok("msg", to="robert", text="and I am Alicia")
        bob.expect("privmsg", source="Alicia", target="Robert")
        # Changing only the case is a change too.
        alice.ok("nick", nick="ALICIA")
        bob.expect("nick", source="Alicia", target="ALICIA")

    @in_thread
    def test_leaving_both_ways(self) -> None:
        alice, bob = self.pair()
        alice.ok("leave", channel="#general", reason="lunch \x02now\x02")
        part = bob.expect("part", source="alice", target="#general")
        self.assertEqual(part.arguments, ["lunch \x02now\x02"])
        alice.ok("join", channel="#general")
        bob.expect("join", source="alice", target="#general")
        # The library sends a PART reason as it is given: a reason of
        # several words must be a trailing parameter already.
        bob.conn.part("#general", ":see you later")
        bob.expect("part", source="bob", target="#general")  # its own PART
        leave = alice.expect(type="leave", channel="#general", nick="bob")
        self.assertEqual(leave["reason"], "see you later")
        self.assertEqual(alice.ok("who", channel="#general")["members"], ["alice"])
        # Without a reason.
        bob.join("#general")
        alice.expect(type="join", nick="bob")
        bob.conn.part("#general")
        self.assertEqual(alice.expect(type="leave", nick="bob")["reason"], "")
        bob.join("#general")
        alice.ok("leave", channel="#general")
        part = bob.expect("part", source="alice", target="#general")
        self.assertEqual(part.arguments, [])

    @in_thread
    def test_json_quits(self) -> None:
        alice, bob = self.pair()
        alice.send(cmd="quit", reason="gone \x1dfishing\x1d", id=1)
        lines = alice.closed()
        self.assertEqual([line["type"] for line in lines], ["ok", "bye"])
        self.assertEqual(lines[1]["code"], "quit")
        event = bob.expect("quit", source="alice")
        self.assertEqual(event.arguments, ["gone \x1dfishing\x1d"])
        # A JSON connection that just drops is a quit too.
        carol = self.json_user("carol")
        carol.ok("join", channel="#general")
        bob.expect("join", source="carol")
        carol.close()
        self.assertEqual(
            bob.expect("quit", source="carol").arguments, ["connection closed"]
        )
        self.assertEqual(self.nicks(), ["bob"])

    @in_thread
    def test_irc_quits(self) -> None:
        alice, bob = self.pair()
        bob.conn.quit("off to bed")
        error = bob.expect("error")
        self.assertEqual(error.target, "Closing Link: 127.0.0.1 (Quit: off to bed)")
        bob.closed()
        event = alice.expect(type="quit", nick="bob")
        self.assertEqual(event["reason"], "off to bed")
        # An IRC connection that just drops is a quit too.
        carol = self.irc_user("carol")
        carol.join("#general")
        alice.expect(type="join", nick="carol")
        carol.conn.socket.close()
        event = alice.expect(type="quit", nick="carol")
        self.assertEqual(event["reason"], "connection closed")
        # A QUIT without a reason.
        dave = self.irc_user("dave")
        dave.join("#general")
        alice.expect(type="join", nick="dave")
        dave.conn.quit()
        self.assertEqual(
            dave.expect("error").target, "Closing Link: 127.0.0.1 (Client Quit)"
        )
        dave.closed()
        self.assertEqual(alice.expect(type="quit", nick="dave")["reason"], "")
        self.assertEqual(self.nicks(), ["alice"])

    @in_thread
    def test_long_json_messages_are_split_for_irc(self) -> None:
        alice, bob = self.pair()
        words = " ".join(f"word{i:03d}" for i in range(125))  # 999 characters
        multibyte = "é€😀" * 300  # 900 characters, 2700 bytes, no spaces
        longest = ("x" * 99 + " ") * 40  # 4000 characters, the most there can be
        cases = [
            ("#general", words, False),
            ("#general", multibyte, False),
            ("bob", longest, False),
            ("#general", words, True),
        ]
        for to, text, action in cases:
            self.assertGreater(len(text), 510)
            first = len(bob.raw)
            reply = alice.ok("msg", to=to, text=text, action=action)
            kind = "action" if action else ("pubmsg" if to[0] == "#" else "privmsg")
            pieces: list[str] = []
            while len("".join(pieces)) < len(text):
                event = bob.expect(kind, source="alice", target=to)
                self.assertSameTime(event, reply)
                pieces.append(event.arguments[0])
            self.assertEqual("".join(pieces), text)
            self.assertGreater(len(pieces), 1)
            # Nothing else came (for an action, the library also reports
            # each line as a CTCP).
            others = [e.type for e in bob.sync()]
            self.assertEqual(others, ["ctcp"] * len(pieces) if action else [])
            lines = bob.raw[first:-1]  # the last is the sync's PONG
            self.assertEqual(len(lines), len(pieces))
            for line in lines:
                # IRC's 512 bytes, CR LF included, are counted without tags.
                body = line.split(" ", 1)[1] if line.startswith("@") else line
                self.assertLessEqual(len(body.encode("utf-8")) + 2, 512, line)

    @in_thread
    def test_nicks_are_shared(self) -> None:
        alice, bob = self.pair()
        # IRC cannot take a JSON user's nick, in any case: while registering...
        carol = self.irc_user("ALICE", register=False)
        taken = carol.expect("nicknameinuse")
        self.assertEqual(taken.arguments[0], "ALICE")
        carol.conn.nick("carol")
        carol.expect("welcome")
        # ...or by changing nick.
        bob.conn.nick("Alice")
        self.assertEqual(bob.expect("nicknameinuse").arguments[0], "Alice")
        self.assertEqual(bob.sync(), [])
        # JSON cannot take an IRC user's nick.
        reply = alice.request("nick", nick="BOB")
        self.assertEqual(reply["code"], "nick_in_use")
        dave = self.json_user()
        self.assertEqual(dave.request("nick", nick="Carol")["code"], "nick_in_use")
        # A nick let go of is free for the other side.
        alice.ok("nick", nick="alicia")
        bob.expect("nick", source="alice", target="alicia")
        bob.conn.nick("ALICE")
        bob.expect("nick", source="bob", target="ALICE")
        alice.expect(type="nick", old="bob", new="ALICE")
        self.assertEqual(self.nicks(), ["ALICE", "alicia", "carol"])
        self.assertEqual(alice.sync(), [])

    @in_thread
    def test_shutdown_says_goodbye_to_both(self) -> None:
        alice, bob = self.pair()
        threads.blockingCallFromThread(reactor, self.service.stopService)
        error = bob.expect("error")
        self.assertEqual(
            error.target, "Closing Link: 127.0.0.1 (the server is shutting down)"
        )
        bob.closed()
        self.assertEqual(bob.unread, [])  # nobody is seen to quit
        self.assertEqual(
            alice.closed(),
            [
                {
                    "type": "bye",
                    "code": "shutdown",
                    "reason": "the server is shutting down",
                }
            ],
        )

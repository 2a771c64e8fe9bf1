# -*- test-case-name: tests.test_bench -*-
"""
The soak's client connections: each splits the server's lines, checks
they are well formed, and tells its session what the server said, in
either protocol (L{JSONConn}, L{IRCConn}); and L{connect}, which makes one.
"""

from __future__ import annotations

import json
import random
import socket
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet import tcp
from twisted.internet.error import ConnectionAborted, ConnectionDone
from twisted.internet.protocol import ClientFactory, Protocol
from twisted.python.failure import Failure

from chatd.bench.soak.options import CHANNEL
from chatd.bench.soak.wire import (
    IRC_ERRORS,
    JSON_TYPES,
    STAMP,
    fold,
    irc_close_code,
    parse_irc,
)

if TYPE_CHECKING:
    from chatd.bench.soak.session import Session

#: Receive buffer of a never-reader, set before it connects.
RCVBUF = 4096


class Conn(Protocol):
    """One client connection: splits the server's lines for its session."""

    proto = ""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.soak = session.soak
        self._buffer = b""
        self.open = False
        self.tcp: Any = None

    def connectionMade(self) -> None:
        self.open = True
        self.tcp = self.transport
        self.session.made(self)

    def dataReceived(self, data: bytes) -> None:
        soak = self.soak
        soak.bytes_in += len(data)
        *lines, self._buffer = (self._buffer + data).split(b"\n")
        for raw in lines:
            soak.lines_in += 1
            self.line(raw)
        if len(self._buffer) > 65536:
            self.malformed(self._buffer[:200], "a line longer than 64 KiB")
            self._buffer = b""

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.open = False
        self.flush()
        if self._buffer:
            if reason is None or reason.check(ConnectionDone):
                # the server closed in the middle of a line
                self.malformed(self._buffer[:200], "no line ending at the close")
            elif not reason.check(ConnectionAborted):  # (we cut it off ourselves)
                # reset by the server: it cuts off who has not read for a while
                self.soak.cut_off += 1
                self.session.stats["cut_off"] += 1
        self.session.lost()

    def malformed(self, raw: bytes, why: str) -> None:
        self.soak.malformed(self.session, raw, why)

    def write(self, data: bytes) -> None:
        if self.open:
            self.tcp.write(data)

    def flush(self) -> None:
        """Deliver anything held back (IRC: a message split over lines)."""

    def line(self, raw: bytes) -> None:
        raise NotImplementedError

    # what a session can do, in either protocol

    def register(self, nick: str, caps: Sequence[str] = ()) -> None:
        raise NotImplementedError

    def join(self, channel: str) -> None:
        raise NotImplementedError

    def part(self, channel: str) -> None:
        raise NotImplementedError

    def say(self, to: str, text: str, stamp: tuple[int, int] | None) -> None:
        raise NotImplementedError

    def change_nick(self, nick: str) -> None:
        raise NotImplementedError

    def set_topic(self, channel: str, topic: str) -> None:
        raise NotImplementedError

    def query(self, rng: random.Random, nick: str, channel: str) -> None:
        """A random command that only reads (free under flood control)."""
        raise NotImplementedError

    def ping(self, token: str = "") -> None:
        raise NotImplementedError

    def quit(self, reason: str) -> None:
        raise NotImplementedError


class JSONConn(Conn):
    proto = "json"

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self._ids = 0
        #: the next request is the first costly one after waiting retry_after
        self.next_resumed = False
        #: id -> (cmd, what it was: a (stream, seq) stamp or a token, resumed)
        self.pending: dict[int, tuple[str, object, bool]] = {}

    def request(self, cmd: str, what: object = None, **args: Any) -> None:
        self._ids += 1
        resumed, self.next_resumed = self.next_resumed, False
        self.pending[self._ids] = (cmd, what, resumed)
        body = {"cmd": cmd, "id": self._ids, **args}
        self.write(json.dumps(body, separators=(",", ":")).encode() + b"\n")

    def register(self, nick: str, caps: Sequence[str] = ()) -> None:
        self.request("nick", nick=nick)

    def join(self, channel: str) -> None:
        self.request("join", channel=channel)

    def part(self, channel: str) -> None:
        self.request("leave", channel=channel, reason="moving on")

    def say(self, to: str, text: str, stamp: tuple[int, int] | None) -> None:
        self.request("msg", stamp, to=to, text=text)

    def change_nick(self, nick: str) -> None:
        self.request("nick", nick=nick)

    def set_topic(self, channel: str, topic: str) -> None:
        self.request("topic", channel=channel, topic=topic)

    def query(self, rng: random.Random, nick: str, channel: str) -> None:
        kind = rng.choice(("list", "who", "topic", "ping", "help"))
        if kind in ("who", "topic"):
            self.request(kind, channel=channel)
        else:
            self.request(kind)

    def ping(self, token: str = "") -> None:
        self.request("ping", token or None)

    def quit(self, reason: str) -> None:
        self.request("quit", reason=reason)

    def line(self, raw: bytes) -> None:
        try:
            obj = json.loads(raw)
        except ValueError:
            self.malformed(raw, "not JSON")
            return
        kind = obj.get("type") if isinstance(obj, dict) else None
        if kind not in JSON_TYPES or raw.endswith(b"\r"):
            self.malformed(raw, "not a chatd JSON line")
            return
        session = self.session
        try:
            if kind == "message":
                session.message(obj["to"], obj["from"], obj["text"])
            elif kind in ("ok", "error"):
                self._reply(obj, kind == "ok")
            elif kind == "quit":
                session.quit_seen(obj["nick"], obj["reason"])
            elif kind == "join":
                session.join_seen(obj["channel"], obj["nick"])
            elif kind == "nick":
                session.nick_seen(obj["old"], obj["new"])
            elif kind == "bye":
                session.bye(obj["code"], obj["reason"])
        except (KeyError, TypeError):
            self.malformed(raw, f"a {kind} without its fields")

    def _reply(self, obj: dict[str, Any], ok: bool) -> None:
        rid = obj.get("id")
        entry = self.pending.pop(rid, None) if isinstance(rid, int) else None
        cmd, what, resumed = entry or (str(obj.get("cmd")), None, False)
        code = "" if ok else str(obj["code"])
        session = self.session
        if code == "internal_error":
            self.soak.internal_errors += 1
        if isinstance(what, tuple):
            stream, seq = what
            if ok:
                self.soak.confirm(stream, seq)
            elif code == "rate_limited":
                self.soak.refuse(stream, seq)
        if code == "rate_limited":
            session.rate_limited(float(obj["retry_after"]), resumed)
        elif code:
            session.error(code)
        session.reply(cmd, ok, what, obj)


class IRCConn(Conn):
    proto = "irc"

    def __init__(self, session: Session) -> None:
        super().__init__(session)
        self.me = ""
        #: a message being put together from lines with one msgid:
        #: [msgid, sender, target, text]
        self._frag: list[str] | None = None
        #: channels (folded) we asked to join: a 366 for one of them ends
        #: the join; any other is the end of a NAMES reply
        self.joining: set[str] = set()

    def send_line(self, text: str) -> None:
        self.write(text.encode() + b"\r\n")

    def register(self, nick: str, caps: Sequence[str] = ()) -> None:
        lines = []
        if caps:
            lines += ["CAP LS 302", "CAP REQ :" + " ".join(caps)]
        lines += [f"NICK {nick}", "USER soak 0 * :chatd-bench soak"]
        if caps:
            lines.append("CAP END")
        self.write("".join(line + "\r\n" for line in lines).encode())

    def join(self, channel: str) -> None:
        self.joining.add(fold(channel))
        self.send_line(f"JOIN {channel}")

    def part(self, channel: str) -> None:
        self.send_line(f"PART {channel} :moving on")

    def say(self, to: str, text: str, stamp: tuple[int, int] | None) -> None:
        self.send_line(f"PRIVMSG {to} :{text}")

    def change_nick(self, nick: str) -> None:
        self.send_line(f"NICK {nick}")

    def set_topic(self, channel: str, topic: str) -> None:
        self.send_line(f"TOPIC {channel} :{topic}")

    def query(self, rng: random.Random, nick: str, channel: str) -> None:
        self.send_line(
            rng.choice(
                (
                    "LIST",
                    f"NAMES {channel}",
                    f"WHO {channel}",
                    f"WHOIS {nick}",
                    f"WHOWAS {nick}",
                    f"MODE {channel}",
                    f"TOPIC {channel}",
                    f"ISON {nick} nobody",
                    f"USERHOST {nick}",
                    "LUSERS",
                    "VERSION",
                    "TIME",
                    "MOTD",
                )
            )
        )

    def ping(self, token: str = "") -> None:
        self.send_line(f"PING :{token or 'soak'}")

    def quit(self, reason: str) -> None:
        self.send_line(f"QUIT :{reason}")

    def flush(self) -> None:
        frag, self._frag = self._frag, None
        if frag is not None:
            self._deliver(frag[1], frag[2], frag[3])

    def _deliver(self, sender: str, target: str, text: str) -> None:
        session = self.session
        stream = session.stream
        if stream is not None and fold(sender) == fold(self.me):
            match = STAMP.match(text)
            if match is not None and int(match.group(1)) == stream.id:
                # echo-message: the server took it and sent it on
                if fold(target) == CHANNEL:
                    self.soak.confirm(stream.id, int(match.group(2)))
                return
        session.message(target, sender, text)

    def line(self, raw: bytes) -> None:
        if not raw.endswith(b"\r"):
            self.malformed(raw, "no CR LF")
            return
        body = raw[:-1]
        if b"\0" in body or b"\r" in body:
            self.malformed(raw, "NUL inside a line" if b"\0" in body else "CR inside")
            return
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            self.malformed(raw, "not UTF-8")
            return
        parsed = parse_irc(text)
        if parsed is None:
            self.malformed(raw, "not an IRC line")
            return
        tags, prefix, command, params = parsed
        untagged = len(body) - (body.find(b" ") + 1 if body.startswith(b"@") else 0)
        if untagged > 512 + 80:
            self.malformed(raw, "an IRC line far over 512 bytes")
        source = prefix.split("!", 1)[0]
        frag = self._frag
        if frag is not None:
            msgid = tags.get("msgid")
            if command == "PRIVMSG" and msgid == frag[0] and len(params) >= 2:
                frag[3] += params[-1]
                return
            self.flush()
        session = self.session
        if command in ("PRIVMSG", "NOTICE"):
            if len(params) < 2:
                self.malformed(raw, f"{command} without text")
                return
            if "!" not in prefix:  # from the server
                if "sending too fast" in params[-1]:
                    session.flood_notice()
                return
            if command == "PRIVMSG":
                msgid = tags.get("msgid")
                if msgid:
                    self._frag = [msgid, source, params[0], params[-1]]
                else:
                    self._deliver(source, params[0], params[-1])
        elif command == "PING":
            self.send_line("PONG :" + (params[-1] if params else ""))
        elif command == "PONG":
            session.pong(params[-1] if params else "")
        elif command == "ERROR":
            code, reason = irc_close_code(params[-1] if params else "")
            session.bye(code, reason)
        elif command.isdigit():
            self._numeric(command, params)
        elif command == "JOIN" and params:
            if fold(source) != fold(self.me):
                session.join_seen(params[0], source)
        elif command == "PART" and params:
            if fold(source) == fold(self.me):
                session.reply("leave", True, None, {"channel": params[0]})
        elif command == "NICK" and params:
            if fold(source) == fold(self.me):
                self.me = params[0]
                session.reply("nick", True, None, {"nick": params[0]})
            else:
                session.nick_seen(source, params[0])
        elif command == "QUIT":
            session.quit_seen(source, params[0] if params else "")
        elif command == "FAIL" and len(params) >= 2:
            if params[1] == "INTERNAL_ERROR":
                self.soak.internal_errors += 1
            session.error(params[1].lower())
        elif command == "CAP" and len(params) >= 2 and params[1] == "NAK":
            session.error("cap_nak")

    def _numeric(self, command: str, params: list[str]) -> None:
        session = self.session
        session.numeric(command, params)
        if command == "001" and params:
            self.me = params[0]
            session.registered(params[0])
        elif command == "366" and len(params) >= 2 and fold(params[1]) in self.joining:
            self.joining.discard(fold(params[1]))
            session.reply("join", True, None, {"channel": params[1]})
        elif command[0] in "45" and command != "422":  # 422: no MOTD, fine
            session.error(IRC_ERRORS.get(command, command))


CONNS: dict[str, Callable[[Session], Conn]] = {"json": JSONConn, "irc": IRCConn}


class _Factory(ClientFactory):
    noisy = False

    def __init__(self, session: Session) -> None:
        self.session = session

    def buildProtocol(self, addr: Any) -> Conn:
        return CONNS[self.session.proto](self.session)

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.session.failed(reason)


class _SmallWindowClient(tcp.Client):
    """A TCP client whose receive buffer is tiny from before it connects."""

    def createInternetSocket(self) -> socket.socket:
        s: socket.socket = super().createInternetSocket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
        return s


class _SmallWindowConnector(tcp.Connector):
    def _makeTransport(self) -> tcp.Client:
        return _SmallWindowClient(
            self.host, self.port, self.bindAddress, self, self.reactor
        )


# -- sessions: one connection each, playing a role ----------------------------


def connect(reactor: Any, session: Session, port: int, address: str) -> None:
    """Connect C{session} to C{port} on loopback, from C{address}."""
    factory = _Factory(session)
    if session.rcvbuf:
        _SmallWindowConnector(
            "127.0.0.1", port, factory, 10, (address, 0), reactor
        ).connect()
    else:
        reactor.connectTCP(
            "127.0.0.1", port, factory, timeout=10, bindAddress=(address, 0)
        )

"""
Test fixtures: a JSON-lines server on StringTransports driven by a Clock.
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import maybeDeferred
from twisted.internet.protocol import ServerFactory
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransportWithDisconnection

from chatd.accounts.hasher import Hasher
from chatd.accounts.opers import Opers
from chatd.accounts.passwords import hash_password
from chatd.accounts.registry import Accounts
from chatd.core import Chat
from chatd.history.log import HistoryLog
from chatd.history.markers import ReadMarkers
from chatd.history.reader import History
from chatd.history.router import HistoryRouter
from chatd.jsonproto.lines import ChatFactory, ChatProtocol
from chatd.net.limits import FloodLimit
from chatd.store.memory import MemoryStore


class FakeConnection:
    """
    A protocol of C{factory} on a StringTransport, as if a client at
    C{address} had connected.
    """

    def __init__(
        self, factory: ServerFactory, address: IPv4Address | IPv6Address
    ) -> None:
        self.transport = StringTransportWithDisconnection(peerAddress=address)
        self.proto: Any = factory.buildProtocol(address)
        self.transport.protocol = self.proto
        self.proto.makeConnection(self.transport)

    @property
    def connected(self) -> bool:
        return bool(self.transport.connected)

    def send_raw(self, data: bytes) -> None:
        self.proto.dataReceived(data)


class Client(FakeConnection):
    """One fake JSON connection: send lines in, read decoded lines out."""

    proto: ChatProtocol

    def __init__(self, server: Server, port: int) -> None:
        self.server = server
        super().__init__(server.factory, IPv4Address("TCP", "127.0.0.1", port))
        assert isinstance(self.proto, ChatProtocol)

    def send(self, obj: Any) -> None:
        self.send_raw(json.dumps(obj).encode("utf-8") + b"\n")

    def lines(self) -> list[dict[str, Any]]:
        """Every line written to this client since the last call, decoded."""
        raw = self.transport.value()
        self.transport.clear()
        if raw:
            assert raw.endswith(b"\n"), raw
        return [json.loads(line) for line in raw.splitlines()]

    def request(self, cmd: str, **args: Any) -> dict[str, Any]:
        """Send a request and return its reply, which must be all there is."""
        self.lines()
        self.send({"cmd": cmd, **args})
        [reply] = self.lines()
        return reply

    def register(self, nick: str) -> Client:
        self.lines()
        reply = self.request("nick", nick=nick)
        assert reply["type"] == "ok", reply
        return self


class Server:
    """
    A factory over a fresh core, with a Clock.  Flood control is off unless
    a test asks for it: most tests send faster than a person types.
    """

    def __init__(self, **options: Any) -> None:
        self.clock = Clock()
        self.clock.advance(1_790_000_000.0)  # 2026-09-21: a realistic 'now'
        self.chat = Chat(max_users=options.pop("max_users", 1000), clock=self.clock)
        options.setdefault("flood", FloodLimit(burst=0))
        self.factory = ChatFactory(self.chat, self.clock, **options)
        self._ports = 40000

    def connect(self) -> Client:
        self._ports += 1
        return Client(self, self._ports)

    def user(self, nick: str, *channels: str) -> Client:
        client = self.connect().register(nick)
        for channel in channels:
            reply = client.request("join", channel=channel)
            assert reply["type"] == "ok", reply
        return client


class OperBlock(NamedTuple):
    name: str
    password: str
    hostmask: str = "*!*@*"


#: scrypt's cost in tests: 2**4 rounds, so a hash takes microseconds.
TEST_LN = 4


def give_history(
    factories: list[Any], chat: Chat, clock: Clock, **options: Any
) -> History:
    """
    History for C{factories} over C{chat}, kept in a memory store and
    written as C{clock} says (L{HistoryLog}'s interval); C{options} go to
    L{History}.  Returns it; its C{log} is the L{HistoryLog}.
    """
    store = options.pop("store", None)
    if store is None:
        store = MemoryStore()
        store.open()
    log = HistoryLog(store, clock)
    chat.router = HistoryRouter(log)
    history = History(chat, log, ReadMarkers(), **options)
    for factory in factories:
        factory.history = history
    return history


def give_accounts(
    factories: list[Any], chat: Chat, clock: Clock, **options: Any
) -> Accounts:
    """
    Accounts (on a memory store, hashing at once on the reactor thread and
    cheaply) and operator blocks for C{factories} over C{chat}.  C{opers}
    maps operator names to their passwords; the rest goes to L{Accounts}.
    """
    store = MemoryStore()
    store.open()
    hasher = Hasher(lambda fn, *args: maybeDeferred(fn, *args), ln=TEST_LN)
    opers = options.pop("opers", {})
    accounts = Accounts(chat, store, hasher, clock.seconds, **options)
    blocks = [
        OperBlock(name, hash_password(password, ln=TEST_LN))
        for name, password in opers.items()
    ]
    oper_blocks = Opers(blocks, hasher.verify)
    for factory in factories:
        factory.accounts = accounts
        factory.opers = oper_blocks
    return accounts

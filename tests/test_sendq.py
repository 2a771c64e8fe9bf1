"""
The SendQ's count of what the kernel holds (chatd.net.sendq), on real sockets:
the count itself, the capped send buffer that bounds it, the rule that asks
the kernel only near the cap, and never-readers over TLS and UNIX sockets.
"""

from __future__ import annotations

import fcntl
import json
import socket
import ssl
import time
from termios import FIONREAD
from typing import Any

from twisted.internet import reactor
from twisted.internet.endpoints import quoteStringArgument
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.trial.unittest import SkipTest, SynchronousTestCase

from chatd.core import Chat
from chatd.jsonproto.lines import ChatFactory
from chatd.net.limits import FloodLimit
from chatd.net.sendq import _INT, SIOCOUTQ, KernelQueue, kernel_unsent
from chatd.service import ChatService

from .support import Server
from .test_abuse import AbuseCase
from .test_irc_e2e import WAIT, JSONUser, in_thread
from .test_tls import make_certificate


def stalled_pair(family: int = socket.AF_INET) -> tuple[socket.socket, socket.socket]:
    """A connected (server side, client side) whose client never reads."""
    if family == socket.AF_UNIX:
        server, client = socket.socketpair()
    else:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
        listener.close()
    server.setblocking(False)
    return server, client


def fill(sock: socket.socket, limit: int = 16 << 20) -> int:
    """Send until the kernel takes no more (or C{limit}): how much it took."""
    sent = 0
    chunk = b"x" * 4000
    while sent < limit:
        try:
            sent += sock.send(chunk)
        except BlockingIOError:
            break
    return sent


class Socketed(StringTransport):
    """A transport with a socket beneath, as Twisted's TCP transport has."""

    bufferSize = 1 << 16

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.socket = sock


class KernelCountTests(SynchronousTestCase):
    def setUp(self) -> None:
        if SIOCOUTQ is None:
            raise SkipTest("the kernel's send queue is counted on Linux only")

    def pair(self, family: int = socket.AF_INET) -> tuple[socket.socket, socket.socket]:
        server, client = stalled_pair(family)
        self.addCleanup(server.close)
        self.addCleanup(client.close)
        return server, client

    def test_counts_what_the_peer_has_not_read(self) -> None:
        """
        What the kernel holds is what the peer's small receive buffer did
        not take, and nothing once the peer has read it all.
        """
        server, client = self.pair()
        sent = fill(server, 200_000)
        taken = -1
        deadline = time.monotonic() + WAIT
        while taken + kernel_unsent(server) != sent:  # until the ACKs settle
            self.assertLess(time.monotonic(), deadline, "never settled")
            taken = _INT.unpack(fcntl.ioctl(client.fileno(), FIONREAD, bytes(4)))[0]
        self.assertGreater(kernel_unsent(server), sent // 2)
        client.settimeout(WAIT)
        got = 0
        while got < sent:
            got += len(client.recv(1 << 16))
        while kernel_unsent(server):
            self.assertLess(time.monotonic(), deadline, "never acknowledged")
            time.sleep(0.001)
        self.assertEqual(kernel_unsent(server), 0)

    def test_a_closed_socket_counts_nothing(self) -> None:
        server, _ = self.pair()
        server.sendall(b"y" * 100)
        server.close()
        self.assertEqual(kernel_unsent(server), 0)

    def check_cap(self, family: int) -> None:
        cap = 256 * 1024
        left_alone, _ = self.pair(family)
        capped, _ = self.pair(family)
        queue = KernelQueue.attach(Socketed(capped), cap)
        assert queue is not None
        self.assertLessEqual(queue.bound, cap // 2)
        fill(left_alone)
        fill(capped)
        self.assertLessEqual(kernel_unsent(capped), queue.bound)
        # the fault this guards against: left alone, Linux's TCP buffer grows
        # past the cap (on loopback to 2 MB and more) for a client that
        # does not read
        if family != socket.AF_UNIX:
            self.assertGreater(kernel_unsent(left_alone), cap)

    def test_capped_send_buffer_bounds_the_kernel_tcp(self) -> None:
        self.check_cap(socket.AF_INET)

    def test_capped_send_buffer_bounds_the_kernel_unix(self) -> None:
        self.check_cap(socket.AF_UNIX)

    def test_small_caps_pause_twisted_sooner(self) -> None:
        """Under 128 KiB, Twisted says it is backed up at half the cap."""
        server, _ = self.pair()
        big, small = Socketed(server), Socketed(server)
        KernelQueue.attach(big, 1 << 20)
        KernelQueue.attach(small, 32 * 1024)
        self.assertEqual(big.bufferSize, 1 << 16)
        self.assertEqual(small.bufferSize, 16 * 1024)

    def test_no_socket_no_queue(self) -> None:
        self.assertIsNone(KernelQueue.attach(StringTransport(), 1 << 20))


class Counting(KernelQueue):
    """A kernel queue that says it holds C{held} bytes, counting the asks."""

    __slots__ = ("asked", "held")

    def __init__(self, bound: int, held: int) -> None:
        super().__init__(socket.socket(), bound)
        self.asked = 0
        self.held = held

    def unsent(self) -> int:
        self.asked += 1
        return self.held


class AskOncePerBackupTests(SynchronousTestCase):
    """
    The kernel is asked (a system call) once each time a connection backs
    up, never per write: asking on every delivery to every member that was
    behind made an overloaded PyPy server deliver nothing at all.
    """

    def setUp(self) -> None:
        self.server = Server(max_sendq=1000)
        self.alice = self.server.user("alice", "#a")
        self.bob = self.server.user("bob", "#a")
        self.alice.lines()
        self.kernel = Counting(bound=400, held=300)
        self.addCleanup(self.kernel.sock.close)
        self.proto = self.bob.proto
        self.proto._kernel = self.kernel
        # Twisted's buffer, as unsent() reads it
        transport: Any = self.bob.transport
        transport.dataBuffer, transport.offset, transport._tempDataLen = b"", 0, 0

    def in_twisted(self, size: int) -> None:
        self.bob.transport.dataBuffer = b"x" * size  # type: ignore[attr-defined]

    def say(self, text: str) -> None:
        self.assertEqual(self.alice.request("msg", to="#a", text=text)["type"], "ok")

    def test_asked_once_then_counted_on_each_write(self) -> None:
        self.in_twisted(600)
        self.proto.output_backed_up()
        self.proto.output_backed_up()  # TCP says it again on every write
        self.assertEqual(self.kernel.asked, 1)
        for n in range(20):
            self.say(str(n))
        self.assertTrue(self.bob.connected)
        self.assertEqual(self.kernel.asked, 1)
        # 701 in Twisted's buffer and the 300 the kernel held: over 1000
        self.in_twisted(701)
        self.say("one too many")
        self.assertEqual(self.bob.lines()[-1]["code"], "sendq_exceeded")
        self.assertEqual(self.kernel.asked, 1)

    def test_asked_again_after_draining(self) -> None:
        self.proto.output_backed_up()
        self.proto.output_drained()
        self.kernel.held = 900
        self.in_twisted(101)
        self.proto.output_backed_up()
        self.assertEqual(self.kernel.asked, 2)
        self.assertEqual(self.bob.lines()[-1]["code"], "sendq_exceeded")


class NeverReaderTests(AbuseCase):
    """
    A client that never reads, over TLS or a UNIX socket, is dropped once
    about the cap waits for it in all, while a member that reads gets every
    message.
    """

    cap = 64 * 1024

    def serve(self, extra: str) -> Any:
        """JSON on loopback TCP and on C{extra}: the address of C{extra}."""
        self.clock = Clock()
        self.clock.advance(time.time())
        self.chat = Chat(max_users=200)
        self.json_factory = ChatFactory(
            self.chat,
            self.clock,
            flood=FloodLimit(burst=0),
            max_sendq=self.cap,
            gate=None,
        )
        self.service = ChatService(
            reactor, [(self.json_factory, ["tcp:0:interface=127.0.0.1", extra])]
        )
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.json_port = self.service.ports[0].getHost().port
        self.sockets = []
        self.addCleanup(lambda: [s.close() for s in self.sockets])
        return self.service.ports[1].getHost()

    def join(self, sock: Any, nick: str) -> None:
        self.sockets.append(sock)
        sock.sendall(
            json.dumps({"cmd": "nick", "nick": nick}).encode()
            + b"\n"
            + json.dumps({"cmd": "join", "channel": "#a"}).encode()
            + b"\n"
        )

    def talk(self, taken: int) -> None:
        """
        Talk in #a until the slow reader is dropped, which must be before
        it is sent more than the cap, what its own end takes (C{taken}) and
        a last batch.
        """
        fast = self.json("fast")
        fast.ok("join", channel="#a")
        sender = self.json("sender")
        sender.ok("join", channel="#a")
        deadline = time.monotonic() + WAIT
        while not self.in_reactor(lambda: "slow" in self.chat.nicks):
            self.assertLess(time.monotonic(), deadline, "the slow reader never came")
            time.sleep(0.01)
        received: list[int] = []
        quits: list[str] = []
        padding = "x" * 900  # a message event is less than 1 KiB
        batch, sent = 8, 0
        while sent < 20000:  # at most 20 MB
            for _ in range(batch):
                sender.send(cmd="msg", to="#a", text=f"{sent} {padding}")
                sent += 1
            sender.sync()
            self.advance(0)  # a dropped reader is taken out next turn
            for event in fast.sync():
                if event["type"] == "message":
                    received.append(int(event["text"].split()[0]))
                elif event["type"] == "quit":
                    quits.append(event["reason"])
            if quits:
                break
        self.assertEqual(quits, ["SendQ exceeded"])
        self.assertLessEqual(sent * 1024, self.cap + taken + batch * 1024)
        self.assertEqual(received, list(range(sent)))

    def json(self, nick: str | None = None) -> JSONUser:
        user = JSONUser(self.json_port, nick)
        self.sockets.append(user)
        return user

    @in_thread
    def test_over_unix(self) -> None:
        path = self.mktemp()
        self.in_reactor(self.serve, f"unix:{quoteStringArgument(path)}")
        slow = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        slow.settimeout(WAIT)
        slow.connect(path)
        self.join(slow, "slow")
        # A UNIX socket has no receive buffer of its own: what the reader
        # has not read is all charged to the server's end.  Before the
        # kernel's part was counted, 112 KiB was sent before the drop.
        self.talk(taken=0)

    @in_thread
    def test_over_tls(self) -> None:
        key_pem, cert_pem = make_certificate(["localhost"], ["127.0.0.1"])
        key, cert = self.mktemp() + ".key", self.mktemp() + ".pem"
        with open(key, "wb") as f:
            f.write(key_pem)
        with open(cert, "wb") as f:
            f.write(cert_pem)
        address = self.in_reactor(
            self.serve,
            f"ssl:0:privateKey={quoteStringArgument(key)}"
            f":certKey={quoteStringArgument(cert)}:interface=127.0.0.1",
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.settimeout(WAIT)
        raw.connect(("127.0.0.1", address.port))
        self.join(context.wrap_socket(raw), "slow")
        # Before the kernel's part was counted, 2 MB was sent before the drop.
        self.talk(taken=64 * 1024)

"""
chatd-bench over WebSocket: the generator's own RFC 6455 client side (the
handshake, masked client frames, server frames however reads cut them),
the counters' raw count and the delivery check built on them.
"""

from __future__ import annotations

import base64
import contextlib
import io
import os
import random
import shutil
import socket
import sys
from pathlib import Path
from typing import Any

from twisted.internet import reactor, task, threads
from twisted.internet.defer import inlineCallbacks
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatd import tap
from chatd.bench import cli, load, servers
from chatd.bench import websocket as ws
from chatd.bench.load import (
    DIALECTS,
    PROTOCOLS,
    BenchError,
    Client,
    Load,
    Step,
    Target,
    WebSocket,
)
from chatd.core import Chat
from chatd.net.limits import FloodLimit
from chatd.service import ChatService
from chatd.web.site import WebListener

MARKER = DIALECTS["irc"].marker


def server_frame(
    payload: bytes, opcode: int = ws.TEXT, fin: bool = True, key: bytes = b""
) -> bytes:
    """A frame as a server sends it (unmasked, unless C{key} is given)."""
    n = len(payload)
    b0 = (0x80 if fin else 0) | opcode
    flag = 0x80 if key else 0
    if n < 126:
        head = bytes((b0, flag | n))
    elif n < 65536:
        head = bytes((b0, flag | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((b0, flag | 127)) + n.to_bytes(8, "big")
    return head + key + (ws.mask(payload, key) if key else payload)


def client_frames(data: bytes) -> list[tuple[int, bytes, bytes]]:
    """
    Decode frames as a server must: each masked (RFC 6455 section 5.1),
    all of C{data} used.  (opcode, masking key, payload) for each.
    """
    out = []
    at = 0
    while at < len(data):
        b0, b1 = data[at], data[at + 1]
        assert b0 & 0x80, "not final"
        assert b1 & 0x80, "a client frame must be masked"
        n = b1 & 0x7F
        at += 2
        if n == 126:
            n = int.from_bytes(data[at : at + 2], "big")
            at += 2
        elif n == 127:
            n = int.from_bytes(data[at : at + 8], "big")
            at += 8
        key = data[at : at + 4]
        at += 4
        out.append((b0 & 0x0F, key, ws.mask(data[at : at + n], key)))
        at += n
    assert at == len(data)
    return out


def delivery(seq: int, stream: int = 0) -> bytes:
    return b":s!u@h PRIVMSG #c :B%d %d %d" % (stream, seq, 10**9)


def splits(data: bytes, rng: random.Random) -> list[list[bytes]]:
    """C{data} cut in two at every place, byte by byte, and at random."""
    cuts: list[list[bytes]] = [[data[:i], data[i:]] for i in range(len(data) + 1)]
    cuts.append([data[i : i + 1] for i in range(len(data))])
    for _ in range(50):
        points = sorted(rng.sample(range(1, len(data)), 8))
        cuts.append([data[a:b] for a, b in zip([0, *points], [*points, len(data)])])
    return cuts


class HandshakeTests(SynchronousTestCase):
    KEY = b"dGhlIHNhbXBsZSBub25jZQ=="

    def answer(self, **changes: str) -> bytes:
        headers = {
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Accept": ws.accept_for(self.KEY).decode(),
            "Sec-WebSocket-Protocol": "text.ircv3.net",
            **changes,
        }
        lines = ["HTTP/1.1 101 Switching Protocols"] + [
            f"{k}: {v}" for k, v in headers.items() if v
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode()

    def test_the_rfcs_example(self) -> None:
        """RFC 6455 section 1.3's key and the accept value it gives."""
        self.assertEqual(ws.accept_for(self.KEY), b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")

    def test_keys_are_random_nonces(self) -> None:
        keys = {ws.new_key() for _ in range(100)}
        self.assertEqual(len(keys), 100)
        for key in keys:
            self.assertEqual(len(base64.b64decode(key)), 16)

    def test_request(self) -> None:
        text = ws.request("127.0.0.1", 8080, "/irc", self.KEY, "text.ircv3.net")
        lines = text.split(b"\r\n")
        self.assertEqual(lines[0], b"GET /irc HTTP/1.1")
        self.assertTrue(text.endswith(b"\r\n\r\n"))
        for header in (
            b"Host: 127.0.0.1:8080",
            b"Upgrade: websocket",
            b"Connection: Upgrade",
            b"Sec-WebSocket-Key: " + self.KEY,
            b"Sec-WebSocket-Version: 13",
            b"Sec-WebSocket-Protocol: text.ircv3.net",
        ):
            self.assertIn(header, lines)
        bare = ws.request("::1", 80, "/json", self.KEY, None)
        self.assertIn(b"Host: [::1]:80", bare.split(b"\r\n"))
        self.assertNotIn(b"Sec-WebSocket-Protocol", bare)

    def test_an_answer_in_pieces(self) -> None:
        """Frames right after the answer are left to read; reads cut anywhere."""
        answer = self.answer()
        after = server_frame(b":srv NOTICE * :hi")
        data = answer + after
        for i in range(len(answer)):
            self.assertIsNone(ws.handshake_end(data[:i], self.KEY, "text.ircv3.net"))
        end = ws.handshake_end(data, self.KEY, "text.ircv3.net")
        self.assertEqual(data[end:], after)

    def test_refusals(self) -> None:
        cases = [
            (
                b"HTTP/1.1 403 Forbidden\r\nContent-Length: 20\r\n\r\n"
                b"origin not allowed\r\n",
                "the server refused the upgrade: 'HTTP/1.1 403 Forbidden' "
                "('origin not allowed')",
            ),
            (self.answer(**{"Sec-WebSocket-Accept": "nope"}), "wrong Sec-WebSocket"),
            (self.answer(**{"Sec-WebSocket-Protocol": ""}), "the server chose None"),
            (self.answer(Upgrade=""), "without Upgrade"),
            (
                self.answer(**{"Sec-WebSocket-Extensions": "permessage-deflate"}),
                "extensions never offered",
            ),
        ]
        for answer, why in cases:
            with self.assertRaises(ws.WebSocketError) as e:
                ws.handshake_end(answer, self.KEY, "text.ircv3.net")
            self.assertIn(why, str(e.exception))
        with self.assertRaises(ws.WebSocketError):
            ws.handshake_end(b"x" * (ws.HANDSHAKE_MAX + 1), self.KEY, None)


class MaskerTests(SynchronousTestCase):
    def test_frames_round_trip_at_every_length_form(self) -> None:
        masker = ws.Masker(batch=3)
        payloads = [b"", b"x", b"a" * 125, b"b" * 126, b"c" * 65535, b"d" * 65536]
        data = b"".join(masker.frame(p) for p in payloads)
        frames = client_frames(data)
        self.assertEqual([f[2] for f in frames], payloads)
        self.assertEqual({f[0] for f in frames}, {ws.TEXT})

    def test_a_fresh_key_for_every_frame(self) -> None:
        """Drawn in batches, but never reused (past several refills)."""
        masker = ws.Masker(batch=16)
        keys = [
            f[1]
            for f in client_frames(b"".join(masker.frame(b"hi") for _ in range(100)))
        ]
        self.assertEqual(len(set(keys)), 100)

    def test_lines_become_messages(self) -> None:
        """A message a line, without its line ending (CRLF or LF)."""
        data = ws.Masker().lines(b'NICK a\r\nUSER a 0 * :a\r\n\r\n{"cmd":"x"}\n')
        self.assertEqual(
            [f[2] for f in client_frames(data)],
            [b"NICK a", b"USER a 0 * :a", b'{"cmd":"x"}'],
        )


class FrameReaderTests(SynchronousTestCase):
    def read_all(self, parts: list[bytes]) -> list[bytes]:
        reader = ws.FrameReader(ws.Masker(), ws.bad_starts(MARKER))
        got = []
        for part in parts:
            got += reader.feed(part)
        self.assertTrue(reader.idle)
        self.assertEqual(reader.unusual, 0, reader.first_unusual)
        self.assertEqual(len(client_frames(reader.replies)), 1)  # the ping
        return got

    def test_however_reads_cut_the_stream(self) -> None:
        """Every length form, a ping between messages, reads cut anywhere."""
        ping = server_frame(b"are you there", ws.PING)
        short = [delivery(0), b"", b"x" * 126, delivery(1)]
        data = server_frame(short[0]) + ping + b"".join(map(server_frame, short[1:]))
        for parts in splits(data, random.Random(6455)):
            self.assertEqual(self.read_all(parts), short)
        # 65536 bytes and more: an eight-byte length
        long = [b"y" * 70000, delivery(2)]
        data = ping + b"".join(map(server_frame, long))
        for cut in [*range(12), *range(12, len(data), 997)]:
            self.assertTrue(self.read_all([data[:cut], data[cut:]]) == long)

    def test_pings_are_answered_and_a_close_kept(self) -> None:
        reader = ws.FrameReader(ws.Masker())
        reader.feed(server_frame(b"abc", ws.PING)[:3])
        self.assertEqual(reader.replies, b"")
        reader.feed(server_frame(b"abc", ws.PING)[3:])
        self.assertEqual(
            [(f[0], f[2]) for f in client_frames(reader.replies)], [(ws.PONG, b"abc")]
        )
        reader.feed(server_frame(b"\x03\xe8going away", ws.CLOSE))
        self.assertEqual(str(reader.closed), "closed with 1000 'going away'")

    def test_what_the_counters_could_not_count_is_unusual(self) -> None:
        """
        Fragments are put together but are unusual (a fragment's header
        could split a marker from the raw count's view); so is a masked
        frame from the server, and a message beginning with the end of a
        marker.
        """
        cases = [
            (
                server_frame(b":s PRIV", fin=False)
                + server_frame(b"MSG #c :hi", ws.CONTINUATION),
                [b":s PRIVMSG #c :hi"],
                "a fragmented message",
            ),
            (server_frame(b"hi", key=b"abcd"), [b"hi"], "a masked frame"),
            (server_frame(b"PRIVMSG #c :x"), [b"PRIVMSG #c :x"], "beginning like"),
            (server_frame(b"oops", ws.CONTINUATION), [], "a continuation"),
            (bytes((0xC1, 1)) + b"x", [b"x"], "reserved bits"),
        ]
        for data, messages, why in cases:
            reader = ws.FrameReader(ws.Masker(), ws.bad_starts(MARKER))
            self.assertEqual(reader.feed(data), messages)
            self.assertGreaterEqual(reader.unusual, 1)
            self.assertIn(why, reader.first_unusual)


class RawCounterTests(SynchronousTestCase):
    def count_all(self, parts: list[bytes], marker: bytes = MARKER) -> int:
        carry = b""
        total = 0
        for part in parts:
            total += ws.RawCounter.count(carry, part, marker)
            carry = ws.carry_after(carry, part)
        return total

    def test_exact_however_reads_cut_the_stream(self) -> None:
        """
        Deliveries among other messages, with one frame whose length byte
        is a space (32 bytes) and one long enough for a two-byte length:
        the count is the deliveries', wherever the reads are cut.
        """
        messages = [
            delivery(0),
            b":srv 353 a = #c :a b c",
            b":a!a@h JOIN #c",
            b":" + b"m" * 31,  # a length byte of 0x20, the marker's first byte
            delivery(1),
            b":s!u@h PRIVMSG #c :" + b"z" * 200,
            b"PING srv",
            delivery(2),
        ]
        data = b"".join(map(server_frame, messages))
        want = sum(m.count(MARKER) for m in messages)
        self.assertEqual(want, 4)
        for parts in splits(data, random.Random(17)):
            self.assertEqual(self.count_all(parts), want)

    def test_json(self) -> None:
        marker = DIALECTS["json"].marker
        messages = [
            b'{"type":"message","from":"s","to":"#c","text":"B0 %d 1"}' % i
            for i in range(5)
        ] + [b'{"type":"join","nick":"a","channel":"#c"}']
        data = b"".join(map(server_frame, messages))
        for parts in splits(data, random.Random(18)):
            self.assertEqual(self.count_all(parts, marker), 5)

    def test_why_the_premise_matters(self) -> None:
        """
        A server message beginning with the end of the marker, after a
        length byte that is its start, would be counted: the probes'
        L{ws.FrameReader} reports such a message as unusual, which fails
        the check.
        """
        odd = server_frame(b"PRIVMSG " + b"x" * 24)  # 32 bytes: a space first
        self.assertEqual(odd[1:2], b" ")
        self.assertEqual(self.count_all([odd]), 1)
        reader = ws.FrameReader(ws.Masker(), ws.bad_starts(MARKER))
        reader.feed(odd)
        self.assertEqual(reader.unusual, 1)

    def test_pings_are_answered_once_however_reads_cut_them(self) -> None:
        masker = ws.Masker()
        data = b"".join(
            [
                server_frame(delivery(0)),
                server_frame(b"hello?", ws.PING),
                server_frame(delivery(1)),
                server_frame(b"PING srv.example"),
                server_frame(b"x" * 300),
                server_frame(delivery(2)),
            ]
        )
        counter = ws.RawCounter(masker, irc=True)
        for parts in splits(data, random.Random(19)):
            carry = b""
            held = False
            out = b""
            for part in parts:
                if counter.may_ping(carry, part, held):
                    replies, held = counter.replies(carry, part)
                    out += replies
                carry = ws.carry_after(carry, part)
            got = [(f[0], f[2]) for f in client_frames(out)]
            self.assertEqual(
                got, [(ws.PONG, b"hello?"), (ws.TEXT, b"PONG srv.example")]
            )
        # JSON has no PING lines to answer, only WebSocket pings
        counter = ws.RawCounter(masker, irc=False)
        out, held = counter.replies(b"", data)
        self.assertEqual([f[0] for f in client_frames(out)], [ws.PONG])
        self.assertFalse(held)


class LoadTests(SynchronousTestCase):
    """The generator's reads over WebSocket, and the check on them."""

    def setUp(self) -> None:
        dialect, spec = PROTOCOLS["ws"]
        self.load = Load("127.0.0.1", 1, dialect, ws=spec)
        self.addCleanup(self.load.close)

    def receiver(self, index: int, probe: bool) -> tuple[Client, socket.socket]:
        ours, theirs = socket.socketpair()
        self.addCleanup(theirs.close)
        ours.setblocking(False)
        client = Client(index, f"c{index}", ("#c",))
        client.sock, client.fd, client.probe = ours, ours.fileno(), probe
        client.reader = ws.FrameReader(self.load._masker, ws.bad_starts(MARKER))
        self.load.clients.append(client)
        self.load.by_fd[client.fd] = client
        self.load.members.setdefault("#c", []).append(client)
        return client, theirs

    def feed(self, client: Client, wire: socket.socket, data: bytes, cut: int) -> Step:
        step = Step(1.0)
        for part in (data[:cut], data[cut:]):
            wire.sendall(part)
            self.load._read(client, 2 * 10**9, step)
        return step

    def test_the_protocols(self) -> None:
        self.assertEqual(PROTOCOLS["ws"][1], WebSocket("/", "text.ircv3.net"))
        self.assertEqual(PROTOCOLS["ws-json"][1], WebSocket("/json", None))
        load = Load.of(Target("127.0.0.1", 1, "ws-json", None, "/j"), print)
        self.addCleanup(load.close)
        self.assertEqual(load.ws, WebSocket("/j", None))
        self.assertIs(load.dialect, DIALECTS["json"])

    def test_counters_switch_to_the_raw_count_at_a_frame_boundary(self) -> None:
        """
        Until the probes are chosen every client parses frames; then a
        counter counts raw from its next frame boundary, a probe keeps
        parsing; the check holds either way.
        """
        probe, w1 = self.receiver(0, probe=True)
        counter, w2 = self.receiver(1, probe=False)
        self.load.make_probes(0)  # the probes are chosen: counters may switch
        sender = Client(9, "s", ("#c",))
        self.load.members["#c"].append(sender)
        stream = self.load.add_stream(sender, "#c")
        self.assertEqual(stream.tail, b"")  # a message a frame: no CRLF
        first = b"".join(server_frame(delivery(i)) for i in range(3))
        rest = b"".join(server_frame(delivery(i)) for i in range(3, 6))
        # cut inside a frame: the counter cannot switch yet
        step = self.feed(counter, w2, first, len(first) - 5)
        self.assertIsNone(counter.reader)  # the second read ended on a boundary
        self.feed(counter, w2, rest, 7)
        step = self.feed(probe, w1, first + rest, 50)
        self.assertEqual(len(step.latencies), 6)
        self.assertIsNotNone(probe.reader)
        stream.sent = 6
        check = self.load.check()
        self.assertTrue(check.ok, check.summary())
        self.assertEqual((check.delivered, check.expected), (12, 12))

    def test_a_counter_still_in_a_frame_keeps_parsing(self) -> None:
        counter, wire = self.receiver(1, probe=False)
        self.load.make_probes(0)
        wire.sendall(server_frame(delivery(0))[:10])
        self.load._read(counter, 0, None)
        self.assertIsNotNone(counter.reader)
        wire.sendall(server_frame(delivery(0))[10:])
        self.load._read(counter, 0, None)
        self.assertIsNone(counter.reader)
        self.assertEqual(counter.count, 1)

    def test_unusual_frames_fail_the_check(self) -> None:
        probe, wire = self.receiver(0, probe=True)
        self.feed(
            probe,
            wire,
            server_frame(b":s!u@h PRIV", fin=False)
            + server_frame(b"MSG #c :B0 0 1", ws.CONTINUATION),
            3,
        )
        sender = Client(9, "s", ("#c",))
        self.load.members["#c"].append(sender)
        self.load.add_stream(sender, "#c").sent = 1
        check = self.load.check()
        self.assertFalse(check.ok)
        self.assertEqual(check.lost, 0)
        self.assertIn("1 unusual frames (first: a fragmented message)", check.summary())

    def test_pings_are_answered(self) -> None:
        """Both kinds, by a counter counting raw and by a probe."""
        for probe in (False, True):
            client, wire = self.receiver(int(probe), probe=probe)
            self.load.make_probes(0)
            client.reader = None if not probe else client.reader
            wire.sendall(
                server_frame(b"PING :abc")
                + server_frame(b"xyz", ws.PING)
                + server_frame(delivery(0))
            )
            self.load._read(client, 0, None)
            got = sorted((f[0], f[2]) for f in client_frames(wire.recv(1000)))
            self.assertEqual(got, [(ws.TEXT, b"PONG :abc"), (ws.PONG, b"xyz")])
            self.assertEqual(client.count, 1)

    def test_a_counter_however_reads_cut_its_stream(self) -> None:
        """
        The counters' read path (which has the raw count and the ping
        watch written out, for speed): every delivery counted once and
        every ping answered once, wherever the reads are cut.
        """
        data = b"".join(
            [
                server_frame(delivery(0)),
                server_frame(b"hello?", ws.PING),
                server_frame(b":" + b"m" * 31),
                server_frame(delivery(1)),
                server_frame(b"PING srv.example"),
                server_frame(b"x" * 300),
                server_frame(delivery(2)),
            ]
        )
        self.load.make_probes(0)
        for i, parts in enumerate(splits(data, random.Random(20))):
            counter, wire = self.receiver(i, probe=False)
            counter.reader = None
            for part in parts:
                wire.sendall(part)
                self.load._read(counter, 0, None)
            self.assertEqual(counter.count, 3)
            wire.setblocking(False)
            got = [(f[0], f[2]) for f in client_frames(wire.recv(1000))]
            self.assertEqual(
                got, [(ws.PONG, b"hello?"), (ws.TEXT, b"PONG srv.example")]
            )
            counter.sock.close()  # type: ignore[union-attr]
            wire.close()

    def test_each_counter_keeps_its_own_half_read_ping(self) -> None:
        """A ping cut by one counter's read is not lost to another's read."""
        one, w1 = self.receiver(0, probe=False)
        two, w2 = self.receiver(1, probe=False)
        self.load.make_probes(0)
        one.reader = two.reader = None
        ping = server_frame(b"PING one")
        pong = server_frame(b"abc", ws.PING)
        w1.sendall(server_frame(delivery(0)) + ping[:8])
        self.load._read(one, 0, None)
        w2.sendall(pong[:1])
        self.load._read(two, 0, None)
        w2.sendall(pong[1:] + server_frame(delivery(0)))
        self.load._read(two, 0, None)
        w1.sendall(ping[8:])
        self.load._read(one, 0, None)
        self.assertEqual([f[2] for f in client_frames(w1.recv(100))], [b"PONG one"])
        self.assertEqual([f[2] for f in client_frames(w2.recv(100))], [b"abc"])
        self.assertEqual((one.count, two.count), (1, 1))

    def test_messages_go_out_as_masked_frames(self) -> None:
        self.assertEqual(
            [f[2] for f in client_frames(self.load.encode(b"JOIN #a\r\nJOIN #b\r\n"))],
            [b"JOIN #a", b"JOIN #b"],
        )
        self.assertEqual(
            [f[2] for f in client_frames(self.load.wire(b"PRIVMSG #c :B0 1 2"))],
            [b"PRIVMSG #c :B0 1 2"],
        )
        tcp = Load("127.0.0.1", 1, DIALECTS["irc"])
        self.addCleanup(tcp.close)
        self.assertEqual(tcp.encode(b"JOIN #a\r\n"), b"JOIN #a\r\n")
        self.assertEqual(tcp.wire(b"x\r\n"), b"x\r\n")


class CompareTests(SynchronousTestCase):
    """C{compare} runs the WebSocket rows beside their TCP twins."""

    def test_rows_start_chatd_with_its_web_listener(self) -> None:
        args = cli.parse_args(
            ["compare", "--servers", "chatd-irc,chatd-ws,chatd-json,chatd-ws-json"]
        )
        rows = cli._contenders(args, [("py", sys.executable)])
        self.assertEqual(
            [(r[0], r[3]) for r in rows],
            [
                ("chatd JSON (py)", "json"),
                ("chatd IRC (py)", "irc"),
                ("chatd IRC over WebSocket (py)", "ws"),
                ("chatd JSON over WebSocket (py)", "ws-json"),
            ],
        )
        started: list[dict[str, Any]] = []
        self.patch(
            servers,
            "start_chatd",
            lambda *a, **kw: started.append(kw),  # type: ignore[func-returns-value]
        )
        for row in rows:
            row[2](None)
        self.assertEqual([kw.get("web", False) for kw in started], [0, 0, 1, 1])

    def test_the_web_listener_on_the_command_line(self) -> None:
        argvs: list[tuple[list[str], dict[str, int]]] = []

        def spawn(
            name: str, kind: str, argv: list[str], ports: Any, workdir: Path, *a: Any
        ) -> None:
            argvs.append((argv, ports))
            shutil.rmtree(workdir)

        self.patch(servers, "_spawn", spawn)
        servers.start_chatd(sys.executable, "py", None)
        servers.start_chatd(sys.executable, "py", None, web=True)
        (plain, plain_ports), (web, web_ports) = argvs
        self.assertNotIn("--web-listen", plain)
        self.assertNotIn("ws", plain_ports)
        endpoint = web[web.index("--web-listen") + 1]
        self.assertEqual(
            endpoint,
            f"tcp:{web_ports['ws']}:interface=127.0.0.1:backlog={tap.BACKLOG}",
        )
        self.assertEqual(web_ports["ws"], web_ports["ws-json"])

    def test_websocket_table(self) -> None:
        names = [
            "chatd IRC (py)",
            "chatd IRC over WebSocket (py)",
            "chatd JSON over WebSocket (py)",
        ]
        results = [
            {"server": names[0], "measure": "max", "deliveries_per_s": 1000},
            {"server": names[1], "measure": "max", "deliveries_per_s": 850},
            {"server": names[1], "measure": "max", "deliveries_per_s": 900},
            {"server": names[1], "measure": "max", "deliveries_per_s": 700},
            {"server": names[0], "measure": "p99", "p99_ms": 10.0, "offered": 50000},
            {"server": names[1], "measure": "p99", "p99_ms": 12.0, "offered": 50000},
        ]
        table = cli.websocket_table(results, names)
        self.assertIn("p99 at 50k WebSocket / TCP ms", table)
        self.assertIn(
            "| chatd IRC over WebSocket (py) | 850 / 1,000 | 0.85 | 12.0 / 10.0 | "
            "1.20 |",
            table,
        )
        self.assertEqual(table.count("\n"), 2)  # JSON over WebSocket: no twin
        self.assertEqual(cli.websocket_table(results, names[1:]), "")

    def test_arguments(self) -> None:
        args = cli.parse_args(
            ["fanout", "--proto", "ws", "--target", "h:1", "--ws-path", "/irc"]
        )
        self.assertEqual((args.proto, args.ws_path), ("ws", "/irc"))
        with self.assertRaises(SystemExit), contextlib.redirect_stderr(io.StringIO()):
            cli.parse_args(["fanout", "--proto", "wss"])


class ScenarioTests(TestCase):
    """
    The scenarios over chatd's own web listener, in this process (the
    generator in a thread, as in test_bench): every message reaches every
    member, however the server's writes and the generator's reads fall.
    """

    timeout = 120

    def setUp(self) -> None:
        self.chat = Chat(max_users=1000)
        fast = FloodLimit(burst=10**9, rate=10**9)
        self.web = WebListener(self.chat, reactor, idle_timeout=60, flood=fast)
        listen = ["tcp:0:interface=127.0.0.1:backlog=1024"]
        self.service = ChatService(reactor, [(self.web, listen)])
        self.service.startService()
        self.addCleanup(self.service.stopService)
        self.port = self.service.ports[0].getHost().port
        self.logged: list[str] = []

    def target(self, proto: str, path: str | None = None) -> Target:
        return Target("127.0.0.1", self.port, proto, os.getpid(), path)

    def bench(self, f: Any, *args: Any, **kw: Any) -> Any:
        return threads.deferToThread(f, *args, log=self.logged.append, **kw)

    @inlineCallbacks
    def assertDelivered(self, result: dict[str, Any]) -> Any:
        self.assertTrue(result["check_ok"], result["check"])
        self.assertEqual(result["delivered"], result["expected_deliveries"])
        for _ in range(500):
            if not self.chat.nicks:
                break
            yield task.deferLater(reactor, 0.01, lambda: None)
        self.assertEqual(self.chat.nicks, {})

    @inlineCallbacks
    def test_fanout(self) -> Any:
        for proto in ("ws", "ws-json"):
            result = yield self.bench(
                load.fanout,
                self.target(proto),
                members=30,
                senders=3,
                rate=3000.0,
                seconds=0.5,
                probes=4,
            )
            self.assertEqual(result["proto"], proto)
            self.assertGreaterEqual(result["expected_deliveries"], 29)
            self.assertIn("probes got every stream", result["check"])
            yield self.assertDelivered(result)

    @inlineCallbacks
    def test_fanout_moderated_over_irc_paths(self) -> Any:
        """/irc is IRC too; the operator's modes go out framed."""
        result = yield self.bench(
            load.fanout,
            self.target("ws", "/irc"),
            members=20,
            senders=2,
            rate=2000.0,
            seconds=0.3,
            probes=3,
            moderated=True,
        )
        yield self.assertDelivered(result)

    @inlineCallbacks
    def test_rooms_storm_and_idle(self) -> Any:
        result = yield self.bench(
            load.rooms,
            self.target("ws-json"),
            clients=60,
            size=5,
            big=1,
            big_size=20,
            rate=200.0,
            seconds=0.5,
        )
        yield self.assertDelivered(result)
        for mode in ("own", "one"):
            result = yield self.bench(
                load.storm, self.target("ws"), clients=40, mode=mode, window=8
            )
            yield self.assertDelivered(result)
        result = yield self.bench(load.idle, self.target("ws"), clients=20, settle=0)
        yield self.assertDelivered(result)

    @inlineCallbacks
    def test_a_refused_upgrade_is_reported(self) -> Any:
        d = self.bench(load.idle, self.target("ws", "/nowhere"), clients=1, settle=0)
        e = yield self.assertFailure(d, BenchError)
        self.assertIn("i0: the server refused the upgrade: 'HTTP/1.1 404", str(e))

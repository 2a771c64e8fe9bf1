"""
The limits on one client, on a Clock: flood control (JSON refuses, IRC
delays), the registration timeout and admission per address.  The same
limits over real sockets are in test_abuse.
"""

from __future__ import annotations

import json
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.testing import (
    EventLoggingObserver,
    StringTransportWithDisconnection,
)
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from chatd.irc.factory import IRCFactory
from chatd.irc.protocol import IRCProtocol
from chatd.jsonproto.lines import ChatFactory
from chatd.net.limits import (
    AddressLimit,
    Bucket,
    FloodLimit,
    Gate,
    address_key,
    is_local,
    parse_networks,
)

from .support import FakeConnection, Server


class BucketTests(SynchronousTestCase):
    def test_burst_then_rate(self) -> None:
        bucket = Bucket(FloodLimit(burst=3, rate=2.0), now=100.0)
        self.assertEqual([bucket.take(100.0) for _ in range(3)], [0.0, 0.0, 0.0])
        # the fourth is refused: one token comes in half a second
        self.assertEqual(bucket.take(100.0), 0.5)
        self.assertEqual(bucket.behind(100.0), 1.0)
        # refused commands take no tokens: the same answer again, one further behind
        self.assertEqual(bucket.take(100.0), 0.5)
        self.assertEqual(bucket.behind(100.0), 2.0)
        # waiting as told pays the debt off and lets the command through
        self.assertEqual(bucket.take(100.5), 0.0)
        self.assertEqual(bucket.behind(100.5), 1.0)
        self.assertEqual(bucket.behind(101.0), 0.0)

    def test_waiting_as_told_gets_the_configured_rate(self) -> None:
        # A client that sends each command again exactly when retry_after
        # says gets burst + rate * t commands through in t seconds.
        bucket = Bucket(FloodLimit(burst=10, rate=2.0), now=0.0)
        now = 0.0
        sent = 0
        for _ in range(100):
            if sent == 30:
                break
            wait = bucket.take(now)
            if wait:
                now += wait
            else:
                sent += 1
            self.assertLess(bucket.behind(now), 2.0)
        self.assertEqual(sent, 30)
        self.assertAlmostEqual(now, (30 - 10) / 2.0)

    def test_waiting_as_told_always_works(self) -> None:
        bucket = Bucket(FloodLimit(burst=2, rate=4.0), now=0.0)
        now = 0.0
        refused = 0
        for _ in range(20):
            wait = bucket.take(now)
            if wait:
                refused += 1
                now += wait
                self.assertEqual(bucket.take(now), 0.0)
        self.assertEqual(refused, 18)

    def test_it_never_holds_more_than_a_burst(self) -> None:
        bucket = Bucket(FloodLimit(burst=2, rate=1.0), now=0.0)
        bucket.take(10**6)
        bucket.take(10**6)
        self.assertGreater(bucket.take(10**6), 0)

    def test_cost_is_per_target_up_to_a_burst(self) -> None:
        bucket = Bucket(FloodLimit(burst=5), now=0.0)
        self.assertEqual([bucket.cost(n) for n in (0, 1, 3, 9)], [1, 1, 3, 5])


class AddressTests(SynchronousTestCase):
    def test_keys(self) -> None:
        self.assertEqual(address_key("192.0.2.7"), "192.0.2.7")
        self.assertEqual(address_key("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64")
        self.assertEqual(
            address_key("2001:db8:1:2::ffff"), address_key("2001:db8:1:2:aa::1")
        )
        self.assertNotEqual(
            address_key("2001:db8:1:2::1"), address_key("2001:db8:1:3::1")
        )
        self.assertEqual(address_key("::ffff:192.0.2.7"), "192.0.2.7")
        self.assertEqual(address_key("fe80::1%eth0"), "fe80::/64")
        self.assertEqual(address_key("localhost"), "localhost")

    def test_parse_networks(self) -> None:
        self.assertEqual(
            [str(n) for n in parse_networks(["10.1.2.3/8", "::1"])],
            ["10.0.0.0/8", "::1/128"],
        )
        self.assertRaises(ValueError, parse_networks, ["ten"])

    def test_at_most_so_many_at_once(self) -> None:
        gate = Gate(AddressLimit(per_address=2, connects=0))
        k1, r1, _ = gate.admit("192.0.2.1", 0)
        _, r2, _ = gate.admit("192.0.2.1", 0)
        _, r3, first = gate.admit("192.0.2.1", 0)
        _, _, again = gate.admit("192.0.2.1", 0)
        self.assertEqual((r1, r2), (None, None))
        assert r3 is not None
        self.assertEqual(r3.code, "too_many_connections")
        self.assertEqual((first, again), (True, False))
        self.assertIsNone(gate.admit("192.0.2.2", 0)[1])  # another address
        gate.release(k1)
        self.assertIsNone(gate.admit("192.0.2.1", 0)[1])

    def test_ipv6_counted_by_64(self) -> None:
        gate = Gate(AddressLimit(per_address=1, connects=0))
        self.assertIsNone(gate.admit("2001:db8::1", 0)[1])
        self.assertIsNotNone(gate.admit("2001:db8::2", 0)[1])
        self.assertIsNone(gate.admit("2001:db8:0:1::1", 0)[1])

    def test_connection_rate(self) -> None:
        gate = Gate(AddressLimit(per_address=0, connects=3, period=60))
        for _ in range(3):
            key, refusal, _ = gate.admit("192.0.2.1", 0)
            self.assertIsNone(refusal)
            gate.release(key)
        _, refusal, _ = gate.admit("192.0.2.1", 1)
        assert refusal is not None
        self.assertEqual(refusal.code, "connecting_too_fast")
        self.assertIn("try again in 19 s", refusal.message)
        self.assertIsNone(gate.admit("192.0.2.1", 20)[1])

    def test_exempt(self) -> None:
        limit = AddressLimit(
            per_address=1, connects=1, exempt=tuple(parse_networks(["10.0.0.0/8"]))
        )
        gate = Gate(limit)
        for _ in range(5):
            self.assertIsNone(gate.admit("10.9.8.7", 0)[1])
        self.assertIsNone(gate.admit("192.0.2.1", 0)[1])
        self.assertIsNotNone(gate.admit("192.0.2.1", 0)[1])

    def test_loopback_is_exempt_by_default(self) -> None:
        """
        Bots, bouncers and proxies on the server's machine all come from
        loopback (or a UNIX socket): they are not refused as one address.
        """
        gate = Gate(AddressLimit(per_address=1, connects=1))
        for host in ("127.0.0.1", "127.9.8.7", "::1", "::ffff:127.0.0.1", "localhost"):
            for _ in range(5):
                self.assertIsNone(gate.admit(host, 0)[1], host)
        # ...and nothing else is: not the neighbours of loopback either
        for host in (
            "192.0.2.1",
            "128.0.0.1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "fe80::1",
        ):
            self.assertIsNone(gate.admit(host, 0)[1], host)
            _, refusal, _ = gate.admit(host, 0)
            assert refusal is not None, host
            self.assertEqual(refusal.code, "too_many_connections")

    def test_loopback_exemption_can_be_turned_off(self) -> None:
        gate = Gate(AddressLimit(per_address=0, connects=2, exempt_loopback=False))
        for host in ("127.0.0.1", "::1", "localhost"):
            self.assertIsNone(gate.admit(host, 0)[1], host)
            self.assertIsNone(gate.admit(host, 0)[1], host)
            _, refusal, _ = gate.admit(host, 0)
            assert refusal is not None, host
            self.assertEqual(refusal.code, "connecting_too_fast")

    def test_is_local(self) -> None:
        self.assertEqual(
            [
                is_local(h)
                for h in ("127.0.0.1", "127.255.0.1", "::1", "::ffff:127.0.0.2")
            ],
            [True] * 4,
        )
        self.assertEqual(
            [
                is_local(h)
                for h in ("10.0.0.1", "::", "::ffff:128.0.0.1", "fe80::1%lo", "x")
            ],
            [False] * 5,
        )

    def test_bursts_end_and_memory_is_bounded(self) -> None:
        gate = Gate(AddressLimit(per_address=1, connects=10, period=10))
        key, _, _ = gate.admit("192.0.2.1", 0)
        for _ in range(5):
            gate.admit("192.0.2.1", 1)
        self.assertEqual(gate.ended_bursts(5), [])  # not quiet for long enough
        self.assertEqual(gate.ended_bursts(11), [("192.0.2.1", 4)])
        self.assertEqual(gate.ended_bursts(12), [])
        gate.release(key)
        for n in range(100):
            k, _, _ = gate.admit(f"198.51.100.{n}", 20)
            gate.release(k)
        self.assertEqual(len(gate), 101)
        gate.ended_bursts(40)
        self.assertEqual(len(gate), 0)


def json_server(**options: Any) -> Server:
    options.setdefault("flood", FloodLimit(burst=3, rate=2.0, excess=4))
    return Server(**options)


class JSONFloodTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = json_server()
        self.alice = self.server.user("alice", "#a")
        self.bob = self.server.user("bob", "#a")
        self.bob.lines()

    def say(self, text: str) -> dict[str, Any]:
        return self.alice.request("msg", to="#a", text=text)

    def test_burst_then_rate_limited(self) -> None:
        # nick and join cost nothing when registering... the join cost one
        self.assertEqual(self.say("1")["type"], "ok")
        self.assertEqual(self.say("2")["type"], "ok")
        reply = self.say("3")
        self.assertEqual(reply["code"], "rate_limited")
        self.assertEqual(reply["retry_after"], 0.5)
        self.assertIn("try again in 0.5 s", reply["message"])
        self.assertEqual(
            [m["text"] for m in self.bob.lines() if m["type"] == "message"],
            ["1", "2"],
        )
        self.server.clock.advance(reply["retry_after"])
        self.assertEqual(self.say("4")["type"], "ok")
        self.assertEqual([m["text"] for m in self.bob.lines()], ["4"])

    def test_following_retry_after_gets_the_configured_rate(self) -> None:
        # The defaults: a burst of 10, then 2 a second.  A client that sends
        # each message again after exactly retry_after gets 20 through in
        # (20 - 10) / 2 = 5 seconds, and every one reaches the channel.
        server = json_server(flood=FloodLimit())
        alice = server.user("alice")
        bob = server.user("bob", "#a")
        alice.request("join", channel="#a")  # one token
        start = server.clock.seconds()
        sent = refused = 0
        for _ in range(100):
            if sent == 20:
                break
            reply = alice.request("msg", to="#a", text=str(sent))
            if reply["type"] == "ok":
                sent += 1
            else:
                self.assertEqual(reply["code"], "rate_limited")
                refused += 1
                server.clock.advance(reply["retry_after"])
        self.assertEqual(sent, 20)
        self.assertEqual(server.clock.seconds() - start, 5.5)
        self.assertEqual(refused, 11)
        texts = [m["text"] for m in bob.lines() if m["type"] == "message"]
        self.assertEqual(texts, [str(n) for n in range(20)])

    def test_reading_costs_nothing(self) -> None:
        for text in "12":
            self.say(text)
        self.assertEqual(self.say("3")["code"], "rate_limited")
        for cmd, args in [("ping", {}), ("list", {}), ("who", {"channel": "#a"})]:
            for _ in range(10):
                self.assertEqual(self.alice.request(cmd, **args)["type"], "ok")
        topic = self.alice.request("topic", channel="#a")
        self.assertEqual(topic["type"], "ok")

    def test_what_costs(self) -> None:
        server = json_server(flood=FloodLimit(burst=1, rate=1.0, excess=100))
        carol = server.user("carol")  # registering is free
        self.assertEqual(carol.request("join", channel="#x")["type"], "ok")
        for cmd, args in [
            ("join", {"channel": "#y"}),
            ("leave", {"channel": "#x"}),
            ("nick", {"nick": "caroline"}),
            ("topic", {"channel": "#x", "topic": "t"}),
            ("msg", {"to": "#x", "text": "hi"}),
            ("nosuch", {}),
        ]:
            self.assertEqual(
                carol.request(cmd, **args)["code"], "rate_limited", (cmd, args)
            )
        carol.send_raw(b"not json\n")
        self.assertEqual(carol.lines()[0]["code"], "rate_limited")

    def test_sustained_flood_disconnects(self) -> None:
        for text in "12":
            self.say(text)
        codes = [self.say(str(n)).get("code") for n in range(4)]
        self.assertEqual(codes, ["rate_limited"] * 4)
        self.alice.send({"cmd": "msg", "to": "#a", "text": "more"})
        self.assertEqual(
            self.alice.lines(),
            [
                {
                    "type": "bye",
                    "code": "flood",
                    "reason": "too many commands too fast after being told to wait",
                }
            ],
        )
        self.assertFalse(self.alice.connected)
        self.assertEqual(
            self.bob.lines()[-1],
            {"type": "quit", "nick": "alice", "reason": "Excess Flood"},
        )

    def test_limits_are_per_connection(self) -> None:
        for text in "12":
            self.say(text)
        self.assertEqual(self.say("3")["code"], "rate_limited")
        reply = self.bob.request("msg", to="#a", text="me too")
        self.assertEqual(reply["type"], "ok")

    def test_rate_limiting_is_logged_once(self) -> None:
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        for n in range(6):
            self.say(str(n))
        texts = [formatEvent(e) for e in observer]
        self.assertEqual(sum("rate limited" in t for t in texts), 1, texts)


SERVER = "irc.test"


class IRCFloodTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = Server()
        self.factory = IRCFactory(
            self.server.chat,
            self.server.clock,
            server_name=SERVER,
            flood=FloodLimit(burst=3, rate=2.0, excess=4),
        )
        self.bob = self.server.user("bob", "#a")
        self.alice, self.transport = self.irc("alice")
        self.send(b"JOIN #a\r\n")
        self.bob.lines()
        self.transport.clear()

    def irc(self, nick: str) -> tuple[IRCProtocol, StringTransportWithDisconnection]:
        transport = StringTransportWithDisconnection(
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50001)
        )
        proto = self.factory.buildProtocol(transport.getPeer())
        assert isinstance(proto, IRCProtocol)
        transport.protocol = proto
        proto.makeConnection(transport)
        proto.dataReceived(f"NICK {nick}\r\nUSER {nick} 0 * :{nick}\r\n".encode())
        return proto, transport

    def send(self, data: bytes) -> None:
        self.alice.dataReceived(data)

    def said(self) -> list[str]:
        return [m["text"] for m in self.bob.lines() if m["type"] == "message"]

    def test_delayed_not_dropped(self) -> None:
        # the JOIN took one token; two more messages go at once
        self.send(b"".join(b"PRIVMSG #a :%d\r\n" % n for n in range(5)))
        self.assertEqual(self.said(), ["0", "1"])
        out = self.transport.value().decode()
        self.assertIn(
            f":{SERVER} NOTICE alice :*** You are sending too fast: your commands "
            "are delayed (flood control)\r\n",
            out,
        )
        self.assertEqual(self.transport.producerState, "paused")  # not read
        self.server.clock.advance(0.5)
        self.assertEqual(self.said(), ["2"])
        self.server.clock.advance(1.0)
        self.assertEqual(self.said(), ["3", "4"])
        self.assertEqual(self.transport.producerState, "producing")

    def test_order_is_kept_for_free_commands(self) -> None:
        self.send(b"PRIVMSG #a :1\r\nPRIVMSG #a :2\r\nPRIVMSG #a :3\r\nPING x\r\n")
        self.assertNotIn("PONG", self.transport.value().decode())
        self.server.clock.advance(0.5)
        out = self.transport.value().decode()
        self.assertIn("PONG", out)
        self.assertEqual(self.said(), ["1", "2", "3"])

    def test_ping_alone_is_free(self) -> None:
        self.send(b"PRIVMSG #a :1\r\nPRIVMSG #a :2\r\n")
        self.transport.clear()
        self.send(b"".join(b"PING %d\r\n" % n for n in range(50)))
        self.assertEqual(self.transport.value().decode().count("PONG"), 50)

    def test_per_target_cost(self) -> None:
        self.send(b"PRIVMSG #a,bob :x\r\n")  # two tokens: none left
        self.send(b"PRIVMSG #a :late\r\n")
        self.assertEqual(self.said(), ["x", "x"])
        self.server.clock.advance(0.5)
        self.assertEqual(self.said(), ["late"])

    def test_password_commands_cost(self) -> None:
        # Each may cost the server a password hash: a burst is delayed.
        self.send(b"NS IDENTIFY a b\r\nOPER x y\r\nPRIVMSG #a :late\r\n")
        self.assertEqual(self.said(), [])
        self.server.clock.advance(1.5)
        self.assertEqual(self.said(), ["late"])

    def test_excess_flood(self) -> None:
        self.send(b"".join(b"PRIVMSG #a :%d\r\n" % n for n in range(20)))
        out = self.transport.value().decode()
        self.assertTrue(
            out.endswith("ERROR :Closing Link: 127.0.0.1 (Excess Flood)\r\n"), out
        )
        self.assertFalse(self.transport.connected)
        lines = self.bob.lines()
        self.assertEqual(
            lines[-1], {"type": "quit", "nick": "alice", "reason": "Excess Flood"}
        )
        self.server.clock.advance(10)  # nothing held runs after the close
        self.assertEqual(self.said(), [])

    def test_half_close_runs_the_held_lines_first(self) -> None:
        self.send(b"PRIVMSG #a :1\r\nPRIVMSG #a :2\r\nPRIVMSG #a :3\r\n")
        self.alice.readConnectionLost()
        self.assertTrue(self.transport.connected)
        self.server.clock.advance(0.5)
        self.assertEqual(self.said(), ["1", "2", "3"])
        self.assertFalse(self.transport.connected)


class RegistrationTimeoutTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = Server(register_timeout=60)
        self.server.factory.start_reaping()
        self.addCleanup(self.server.factory.stop_reaping)

    def test_silent_json_client_is_closed(self) -> None:
        silent = self.server.connect()
        self.server.clock.advance(30)
        talker = self.server.connect()
        talker.send({"cmd": "ping"})  # talking is not registering
        registered = self.server.user("alice")
        self.server.clock.advance(30)
        self.assertFalse(silent.connected)
        self.assertEqual(
            silent.lines()[-1],
            {
                "type": "bye",
                "code": "register_timeout",
                "reason": "no nick chosen within 60 seconds",
            },
        )
        self.assertTrue(talker.connected)
        self.server.clock.advance(30)
        self.assertFalse(talker.connected)
        self.assertTrue(registered.connected)
        self.assertEqual(self.server.factory.registering, {})

    def test_silent_irc_client_is_closed(self) -> None:
        factory = IRCFactory(self.server.chat, self.server.clock, register_timeout=5)
        factory.start_reaping()
        self.addCleanup(factory.stop_reaping)
        transport = StringTransportWithDisconnection(
            peerAddress=IPv6Address("TCP", "::1", 50001)
        )
        proto = factory.buildProtocol(transport.getPeer())
        transport.protocol = proto
        proto.makeConnection(transport)
        proto.dataReceived(b"NICK half\r\n")  # no USER
        self.server.clock.advance(4)
        self.assertTrue(transport.connected)
        self.server.clock.advance(2)
        self.assertEqual(
            transport.value(), b"ERROR :Closing Link: 0::1 (Registration timed out)\r\n"
        )
        self.assertFalse(transport.connected)
        self.assertEqual(self.server.chat.users, set())


class AdmissionTests(SynchronousTestCase):
    """Per-address limits, shared by the JSON and IRC listeners."""

    def setUp(self) -> None:
        # every fake client comes from 127.0.0.1, which is exempt by default
        self.server = Server(
            gate=Gate(AddressLimit(per_address=2, connects=0, exempt_loopback=False))
        )
        gate = self.server.factory.gate
        self.irc = IRCFactory(self.server.chat, self.server.clock, gate=gate)

    def test_counted_across_listeners(self) -> None:
        observer = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        first = self.server.connect()
        transport = StringTransportWithDisconnection(
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50001)
        )
        proto = self.irc.buildProtocol(transport.getPeer())
        transport.protocol = proto
        proto.makeConnection(transport)
        refused = [self.server.connect() for _ in range(3)]
        for client in refused:
            self.assertFalse(client.connected)
            self.assertEqual(
                client.lines()[-1],
                {
                    "type": "bye",
                    "code": "too_many_connections",
                    "reason": "too many connections from your address "
                    "(at most 2 at once)",
                },
            )
        self.assertEqual(len(self.server.chat.users), 2)
        logged = [formatEvent(e) for e in observer if "refus" in formatEvent(e)]
        self.assertEqual(len(logged), 1, logged)
        first.transport.loseConnection()
        self.assertTrue(self.server.connect().connected)

    def test_irc_refusal(self) -> None:
        for _ in range(2):
            self.server.connect()
        transport = StringTransportWithDisconnection(
            peerAddress=IPv4Address("TCP", "127.0.0.1", 50001)
        )
        proto = self.irc.buildProtocol(transport.getPeer())
        transport.protocol = proto
        proto.makeConnection(transport)
        self.assertEqual(
            transport.value(),
            b"ERROR :Closing Link: 127.0.0.1 (Too many connections from your "
            b"address (at most 2 at once))\r\n",
        )
        self.assertFalse(transport.connected)


class LoopbackAdmissionTests(SynchronousTestCase):
    """
    With the default exemption, local clients get past the per-address
    limits, and flood control still holds each of them to its pace.
    """

    def setUp(self) -> None:
        self.server = Server(
            gate=Gate(AddressLimit(per_address=2, connects=3)),
            flood=FloodLimit(burst=2, rate=1.0, excess=5),
        )

    def test_many_local_clients_are_served(self) -> None:
        clients = [self.server.user(f"bot{n}") for n in range(40)]
        self.assertTrue(all(c.connected for c in clients))
        unix = FakeConnection(self.server.factory, UNIXAddress(None))  # type: ignore[arg-type]
        self.assertEqual(json.loads(unix.transport.value())["type"], "welcome")
        self.assertTrue(unix.connected)
        self.assertEqual(len(self.server.chat.users), 41)
        remote = [
            FakeConnection(self.server.factory, IPv4Address("TCP", "192.0.2.7", p))
            for p in (1, 2, 3)
        ]
        self.assertEqual([c.connected for c in remote], [True, True, False])
        self.assertIn(b"too_many_connections", remote[2].transport.value())

    def test_flood_control_still_applies(self) -> None:
        bot = self.server.user("bot", "#a")
        replies = []
        for n in range(3):
            bot.send({"cmd": "msg", "to": "#a", "text": str(n)})
            replies += bot.lines()
        # the join took one of the two tokens
        self.assertEqual(
            [r.get("code", r["type"]) for r in replies],
            ["ok", "rate_limited", "rate_limited"],
        )


class FactoryDefaultsTests(SynchronousTestCase):
    def test_defaults(self) -> None:
        factory = ChatFactory(Server().chat, Server().clock)
        self.assertEqual(factory.flood, FloodLimit(10, 2.0, 20))
        self.assertEqual(factory.max_sendq, 1 << 20)
        self.assertEqual(factory.register_timeout, 60.0)


class SendQTests(SynchronousTestCase):
    """
    The SendQ on a Clock: the transport's buffer is faked by giving the
    StringTransport the attributes a TCP transport keeps it in.
    """

    def setUp(self) -> None:
        self.server = Server(max_sendq=1000)
        self.slow = self.server.user("slow", "#a", "#b")
        self.others = [self.server.user(n, "#a", "#b") for n in ("b", "c", "d")]
        for client in (self.slow, *self.others):
            client.lines()
        transport: Any = self.slow.transport
        transport.dataBuffer, transport.offset, transport._tempDataLen = b"", 0, 0
        self.slow.proto.output_backed_up()  # the transport passed 64 KiB
        transport.dataBuffer = b"x" * 1001  # ...and now holds this much

    def test_dropped_inside_a_delivery_loop(self) -> None:
        """Overflowing while the core walks the members breaks nothing."""
        joiner = self.server.user("joiner")
        self.assertEqual(joiner.request("join", channel="#a")["type"], "ok")
        self.assertEqual(
            self.slow.lines()[-1],
            {
                "type": "bye",
                "code": "sendq_exceeded",
                "reason": "more than 1000 bytes waited to be sent: the client is not reading",
            },
        )
        self.assertFalse(self.slow.connected)
        self.server.clock.advance(0)
        for client in self.others:
            self.assertEqual(
                [e for e in client.lines() if e["type"] == "quit"],
                [{"type": "quit", "nick": "slow", "reason": "SendQ exceeded"}],
            )
        self.assertNotIn("slow", self.server.chat.nicks)
        self.assertEqual(list(self.server.chat.check_invariants()), [])
        self.assertEqual(self.flushLoggedErrors(), [])

    def test_dropped_inside_the_fan_out(self) -> None:
        sender = self.others[0]
        self.assertEqual(sender.request("msg", to="#a", text="hi")["type"], "ok")
        self.assertEqual(self.slow.lines()[-1]["code"], "sendq_exceeded")
        self.assertEqual(sender.request("msg", to="#b", text="again")["type"], "ok")
        self.assertEqual(self.slow.lines(), [])  # nothing after the bye
        self.server.clock.advance(0)
        self.assertEqual(
            [e["text"] for e in self.others[1].lines() if e["type"] == "message"],
            ["hi", "again"],
        )
        self.assertEqual(list(self.server.chat.check_invariants()), [])

    def test_under_the_cap_nothing_happens(self) -> None:
        transport: Any = self.slow.transport
        transport.dataBuffer = b"x" * 1000
        self.others[0].request("msg", to="#a", text="hi")
        self.assertTrue(self.slow.connected)
        self.slow.proto.output_drained()
        self.assertEqual(self.slow.proto.wire_write, transport.write)

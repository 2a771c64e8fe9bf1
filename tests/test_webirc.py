"""
IRC WEBIRC from the gateways of the config's C{[[webirc]]} tables: the
tables, and the command from a trusted gateway (the user's address for
limits, bans, WHOIS and logs), an untrusted address, a wrong password, too
late, and while the password is being checked.
"""

from __future__ import annotations

import ipaddress
import os
import signal
from pathlib import Path
from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.internet.task import Clock
from twisted.internet.testing import EventLoggingObserver
from twisted.logger import formatEvent, globalLogPublisher
from twisted.trial.unittest import SynchronousTestCase

from chatd.accounts.gateways import Gateways
from chatd.accounts.hasher import Hasher
from chatd.accounts.passwords import hash_password
from chatd.config import DEFAULTS as DEFAULT_SETTINGS
from chatd.config import ConfigError, ConfigSource, WebircSpec, changes
from chatd.irc.factory import IRCFactory
from chatd.log import get_level, set_level
from chatd.net.limits import AddressLimit, FloodLimit, Gate
from chatd.net.proxy import header_v1
from chatd.tap import Options, makeService
from tests.e2e_daemon import LOOPBACK as LOOPBACK_ENDPOINT
from tests.e2e_daemon import IRCClient as E2EIRC
from tests.support import TEST_LN, Server
from tests.test_accounts_e2e import DaemonCase
from tests.test_irc import IRCClient

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)
PASSWORD = "gateway-secret"


class ConfigTests(SynchronousTestCase):
    def load(self, text: str) -> Any:
        path = Path(self.mktemp())
        path.write_text(text, "utf-8")
        return ConfigSource.of(str(path), {}).load()

    def test_webirc_tables(self) -> None:
        hashed = hash_password(PASSWORD, ln=TEST_LN)
        settings = self.load(
            f'[[webirc]]\nname = "kiwi"\npassword = "{hashed}"\n'
            'hosts = ["10.0.0.5", "2001:db8::/32"]\n'
        )
        [gateway] = settings.webirc
        self.assertEqual(gateway.name, "kiwi")
        self.assertEqual(
            [str(n) for n in gateway.hosts], ["10.0.0.5/32", "2001:db8::/32"]
        )
        self.assertNotIn(hashed, repr(gateway))
        self.assertEqual(
            changes(DEFAULT_SETTINGS, settings),
            [("webirc", (), settings.webirc)],
        )

    def test_mistakes(self) -> None:
        hashed = hash_password(PASSWORD, ln=TEST_LN)
        good = f'name = "kiwi"\npassword = "{hashed}"\nhosts = ["10.0.0.5"]\n'
        cases = [
            ('webirc = "x"', "webirc: must be tables written [[webirc]]"),
            (
                '[[webirc]]\nname = "kiwi"\npassword = "hunter2"\nhosts = ["10.0.0.5"]',
                "webirc[0].password: must be a hash from chatd-admin hash-password",
            ),
            (
                f'[[webirc]]\nname = "kiwi"\npassword = "{hashed}"',
                "webirc[0].hosts: missing",
            ),
            (
                f'[[webirc]]\nname = "kiwi"\npassword = "{hashed}"\nhosts = []',
                "webirc[0].hosts: must be a list of addresses or networks",
            ),
            (
                f'[[webirc]]\nname = "k"\npassword = "{hashed}"\nhosts = ["x"]',
                "webirc[0].hosts[0]: must be an address or network such as "
                '10.0.0.0/8 (got "x")',
            ),
            (f"[[webirc]]\n{good}\n[[webirc]]\n{good}", "is webirc[0]'s name already"),
            (f"[[webirc]]\n{good}hostmask = 1", "webirc[0].hostmask: unknown key"),
            ("[[webirc]]\nhosts = []", "webirc[0].name: missing"),
        ]
        for text, error in cases:
            e = self.assertRaises(ConfigError, self.load, text)
            self.assertIn(error, str(e))
            self.assertNotIn("hunter2", str(e))

    def test_the_service_gives_gateways_to_irc(self) -> None:
        self.addCleanup(set_level, get_level())
        hashed = hash_password(PASSWORD, ln=TEST_LN)
        path = Path(self.mktemp())
        path.write_text(
            f'[storage]\nurl = "memory:"\n[[webirc]]\nname = "kiwi"\n'
            f'password = "{hashed}"\nhosts = ["127.0.0.1"]\n',
            "utf-8",
        )
        options = Options()
        options.parseOptions(["--config", str(path), "--irc-port", "0"])
        _, irc = makeService(options, Clock()).factories
        assert isinstance(irc, IRCFactory) and irc.gateways is not None
        self.assertEqual([b.name for b in irc.gateways.blocks], ["kiwi"])


class WebircTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.server = Server()
        self.gate = Gate(AddressLimit(per_address=1, connects=0))
        self.factory = IRCFactory(
            self.server.chat,
            self.server.clock,
            server_name="irc.test",
            network="TestNet",
            flood=FloodLimit(burst=0),
            gate=self.gate,
        )
        self.hashes = 0
        hasher = Hasher(lambda fn, *args: maybeDeferred(fn, *args), ln=TEST_LN)

        def verify(password: str, stored: str) -> Deferred[bool]:
            self.hashes += 1
            return hasher.verify(password, stored)

        spec = WebircSpec("kiwi", hash_password(PASSWORD, ln=TEST_LN), LOOPBACK)
        self.factory.gateways = Gateways([spec], verify)
        self.events = EventLoggingObserver.createWithCleanup(self, globalLogPublisher)
        self.ports = 50000

    def tearDown(self) -> None:
        self.assertEqual(list(self.server.chat.check_invariants()), [])

    def logged(self) -> str:
        return "\n".join(formatEvent(e) for e in self.events)

    def connect(self, host: str = "127.0.0.1") -> IRCClient:
        self.ports += 1
        if host != "127.0.0.1":  # as if from elsewhere
            return _from(self.factory, host, self.ports)
        return IRCClient(self.factory, self.ports)

    def webirc(self, ip: str, nick: str, password: str = PASSWORD, **kw: Any) -> Any:
        client = self.connect(**kw)
        client.send(
            f"WEBIRC {password} kiwi host.example {ip} :secure remote-port=5555",
            f"NICK {nick}",
            f"USER {nick} 0 * :{nick}",
        )
        return client

    def test_trusted_gateway(self) -> None:
        client = self.webirc("203.0.113.7", "alice")
        lines = client.raw()
        self.assertIn("alice!~alice@203.0.113.7", lines[0])
        [whois] = [r for r in client.ask("WHOIS alice") if r.command == "311"]
        self.assertEqual(whois.params[3], "203.0.113.7")
        [user] = [u for u in self.server.chat.users if u.nick == "alice"]
        self.assertEqual(user.peer, "203.0.113.7:5555")
        self.assertIn(
            "WEBIRC: 127.0.0.1:50001 (gateway kiwi) is 203.0.113.7:5555 (host.example)",
            self.logged(),
        )
        self.assertIn("203.0.113.7:5555 is now known as alice", self.logged())
        # an IPv6 address that starts with a colon is sent with a 0 first
        client = self.webirc("0::ffff:198.51.100.2", "bob")
        self.assertIn("bob!~bob@198.51.100.2", client.raw()[0])  # IPv4, mapped
        client = self.webirc("0::1", "carol")
        self.assertIn("carol!~carol@0::1", client.raw()[0])

    def test_untrusted_address(self) -> None:
        client = self.webirc("203.0.113.7", "alice", host="192.0.2.9")
        self.assertEqual(
            client.raw(),
            [
                ":irc.test FAIL WEBIRC ACCESS_DENIED :Invalid WebIRC password or "
                "gateway address",
                "ERROR :Closing Link: 192.0.2.9 (Invalid WebIRC password or gateway "
                "address)",
            ],
        )
        self.assertFalse(client.connected)
        self.assertEqual(self.hashes, 0)  # no hash for a stranger
        self.assertEqual(self.server.chat.users, set())
        self.assertIn(
            "refused WEBIRC from 192.0.2.9:50001 (gateway 'kiwi'): no [[webirc]] "
            "block names its address",
            self.logged(),
        )

    def test_wrong_password(self) -> None:
        client = self.webirc("203.0.113.7", "alice", password="guess")
        lines = client.raw()
        self.assertEqual(lines[0].split(" ")[1:4], ["FAIL", "WEBIRC", "ACCESS_DENIED"])
        self.assertEqual(
            lines[1],
            "ERROR :Closing Link: 127.0.0.1 (Invalid WebIRC password or gateway "
            "address)",
        )
        self.assertEqual(len(lines), 2)  # NICK and USER were never handled
        self.assertFalse(client.connected)
        self.assertEqual(self.server.chat.users, set())
        self.assertIn("wrong WEBIRC password", self.logged())

    def test_no_gateways(self) -> None:
        self.factory.gateways = None
        client = self.webirc("203.0.113.7", "alice")
        self.assertIn("ACCESS_DENIED", client.raw()[0])

    def test_too_late(self) -> None:
        client = self.connect()
        client.send("CAP LS 302", "WEBIRC gateway secret kiwi h 203.0.113.7")
        lines = client.raw()
        self.assertEqual(
            lines[-2],
            ":irc.test FAIL WEBIRC COMMAND_NOT_FIRST :WEBIRC must be the first command",
        )
        self.assertFalse(client.connected)
        # and after registration, as USER
        client = self.connect().register("alice")
        self.assertEqual(
            [r.command for r in client.ask("WEBIRC a b c 203.0.113.7")], ["462"]
        )
        self.assertTrue(client.connected)

    def test_bad_ip_and_missing_parameters(self) -> None:
        client = self.webirc("not-an-ip", "alice")
        self.assertIn("FAIL WEBIRC INVALID_IP", client.raw()[0])
        self.assertFalse(client.connected)
        client = self.connect()
        self.assertEqual([r.command for r in client.ask("WEBIRC a b c")], ["461"])

    def test_ipv6_zone_is_refused(self) -> None:
        """
        An IPv6 address with a zone is no user's address: what follows the
        C{%} would be the user's host, in every line about the user.
        """
        for ip in ("fe80::1%eth0", "fe80::1%x!y@z", "fe80::1%x KICK #c :hi"):
            client = self.connect()
            client.send(f"WEBIRC secret kiwi host.example :{ip}")
            self.assertIn("FAIL WEBIRC INVALID_IP", client.raw()[0])
            self.assertFalse(client.connected)
        self.assertEqual(self.server.chat.users, set())

    def test_address_limit_counts_the_user(self) -> None:
        # the gateway is on loopback (exempt); its users are counted each
        first = self.webirc("203.0.113.7", "alice")
        self.assertIn(" 001 ", first.raw()[0])
        second = self.webirc("203.0.113.7", "alice2")
        self.assertEqual(
            second.raw()[-1],
            "ERROR :Closing Link: 203.0.113.7 (Too many connections from your "
            "address (at most 1 at once))",
        )
        self.assertFalse(second.connected)
        self.assertEqual(self.gate.connections("203.0.113.7"), 1)
        third = self.webirc("198.51.100.9", "carol")
        self.assertIn(" 001 ", third.raw()[0])
        first.send("QUIT")
        self.assertEqual(self.gate.connections("203.0.113.7"), 0)
        self.assertEqual(self.gate.connections("127.0.0.1"), 0)
        self.assertEqual(len(self.server.chat.users), 1)

    def test_bans_match_the_user(self) -> None:
        op = self.connect().register("op")
        op.send("JOIN #c", "MODE #c +b *!*@203.0.113.7")
        client = self.webirc("203.0.113.7", "alice")
        self.assertEqual([r.command for r in client.ask("JOIN #c")], ["474"])
        other = self.webirc("198.51.100.9", "carol")
        self.assertIn("JOIN", [r.command for r in other.ask("JOIN #c")])

    def test_later_lines_wait_for_the_password_check(self) -> None:
        waiting: list[Deferred[bool]] = []

        def later(password: str, stored: str) -> Deferred[bool]:
            d: Deferred[bool] = Deferred()
            waiting.append(d)
            return d

        assert self.factory.gateways is not None
        self.factory.gateways.verify = later
        client = self.webirc("203.0.113.7", "alice")
        self.assertEqual(client.raw(), [])
        waiting[0].callback(True)
        self.assertIn("alice!~alice@203.0.113.7", client.raw()[0])


def _from(factory: IRCFactory, host: str, port: int) -> IRCClient:
    """An IRC client of C{factory} connecting from C{host}."""
    from tests.support import FakeConnection

    client = IRCClient.__new__(IRCClient)
    FakeConnection.__init__(client, factory, IPv4Address("TCP", host, port))
    return client


class DaemonTests(DaemonCase):
    """
    A real C{twistd -n chatd} whose IRC listener takes PROXY headers from
    loopback and WEBIRC from one gateway, checked in its hashing pool;
    clients on real sockets, and a SIGHUP that changes the gateway.
    """

    def setUp(self) -> None:
        self.workdir = self.directory()
        self.write_config("127.0.0.1")
        self.server = self.daemon("--config", "chatd.toml", workdir=self.workdir)
        self.server.start()

    def write_config(self, hosts: str) -> None:
        with open(os.path.join(self.workdir, "chatd.toml"), "w") as f:
            f.write(
                f'[json]\nlisten = ["{LOOPBACK_ENDPOINT}"]\n'
                f'[irc]\nlisten = ["proxy:{LOOPBACK_ENDPOINT}"]\n'
                '[storage]\nstate_dir = "state"\n'
                '[proxy]\ntrusted = ["127.0.0.0/8"]\n'
                f'[[webirc]]\nname = "kiwi"\npassword = "{self.hashed()}"\n'
                f'hosts = ["{hosts}"]\n'
            )

    def hashed(self) -> str:
        if not hasattr(self, "_hash"):
            self._hash = hash_password(PASSWORD)
        return self._hash

    def proxied(self, source: str) -> E2EIRC:
        """An IRC client whose proxy says it is at C{source}."""
        client = self.irc(self.server)
        client.sock.sendall(
            header_v1(
                IPv4Address("TCP", source, 40000), IPv4Address("TCP", "127.0.0.1", 1)
            )
        )
        return client

    def test_proxy_webirc_and_reload(self) -> None:
        direct = self.proxied("203.0.113.7")
        direct.connect("alice")
        direct.send("WHOIS alice")
        self.assertEqual(direct.expect("311").params[3], "203.0.113.7")
        # a gateway behind the proxy, at 127.0.0.1
        gateway = self.proxied("127.0.0.1")
        gateway.send(f"WEBIRC {PASSWORD} kiwi h.example 198.51.100.4")
        gateway.connect("bob")
        direct.send("WHOIS bob")
        self.assertEqual(direct.expect("311").params[3], "198.51.100.4")
        self.server.wait_for_line(r"WEBIRC: 127\.0\.0\.1:40000 \(gateway kiwi\)")
        wrong = self.proxied("127.0.0.1")
        wrong.send("WEBIRC guess kiwi h.example 198.51.100.5", "NICK carol")
        [fail, error] = wrong.closed()
        self.assertEqual(fail.params[:2], ("WEBIRC", "ACCESS_DENIED"))
        self.assertEqual(error.command, "ERROR")
        self.server.wait_for_line("wrong WEBIRC password")
        # the gateway moves: 127.0.0.1 is no longer it
        self.write_config("10.0.0.0/8")
        mark = len(self.server.log)
        self.server.signal(signal.SIGHUP)
        reloaded = self.server.wait_for_line("config reloaded from chatd.toml", mark)
        self.assertIn("webirc: kiwi changed", reloaded)
        moved = self.proxied("127.0.0.1")
        moved.send(f"WEBIRC {PASSWORD} kiwi h.example 198.51.100.6")
        self.assertEqual(moved.closed()[0].params[1], "ACCESS_DENIED")
        self.server.wait_for_line("no \\[\\[webirc\\]\\] block names its address")
        # and a connection without a header is closed unread
        bare = self.irc(self.server)
        bare.send("NICK dave")
        self.assertEqual(bare.closed(), [])

"""
TLS end to end: chatd's listeners on C{ssl:} endpoint strings (JSON lines
and IRC), and the console client's C{--tls}, C{--ca} and C{--insecure},
over real loopback sockets with certificates each test makes.

Every wait is a Deferred with a timeout; nothing sleeps.
"""

from __future__ import annotations

import datetime
import io
import ipaddress
import re
import sys
from typing import Any, Callable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from service_identity import CertificateError
from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred, inlineCallbacks, succeed
from twisted.internet.endpoints import (
    SSL4ClientEndpoint,
    TCP4ClientEndpoint,
    connectProtocol,
    quoteStringArgument,
)
from twisted.internet.error import ConnectionRefusedError
from twisted.internet.protocol import Protocol
from twisted.internet.ssl import Certificate, optionsForClientTLS
from twisted.internet.testing import MemoryReactorClock
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase

import chatd
from chatd import tap
from chatd.client import cli
from chatd.client.cli import main, parse_args
from chatd.client.session import ChatClient
from chatd.client.tls import TLS, load_certificates
from chatd.service import ChatService
from tests.test_service import LineClient

reactor: Any = _reactor

#: The longest any one expected thing may take, in seconds: only a bound
#: for a broken server or client, never waited for by a passing test.
WAIT = 10.0


def make_certificate(
    names: list[str],
    addresses: list[str],
    *,
    san: bool = True,
    common_name: str | None = None,
    valid_days: tuple[float, float] = (-1, 30),
) -> tuple[bytes, bytes]:
    """
    A self-signed certificate and its private key (both PEM): for the DNS
    C{names} and IP C{addresses} in its subjectAltName (or with no
    subjectAltName at all), valid from and until so many days from now.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    cn = common_name or (names + addresses)[0]
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now + datetime.timedelta(days=valid_days[0]))
        .not_valid_after(now + datetime.timedelta(days=valid_days[1]))
    )
    if san:
        general: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        general += [x509.IPAddress(ipaddress.ip_address(a)) for a in addresses]
        builder = builder.add_extension(
            x509.SubjectAlternativeName(general), critical=False
        )
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, cert.public_bytes(serialization.Encoding.PEM)


def within(d: Deferred[Any]) -> Deferred[Any]:
    return d.addTimeout(WAIT, reactor)


class Screen:
    """What a L{ChatClient} shows, with a way to wait for a line."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._waiting: list[tuple[Callable[[str], bool], Deferred[str]]] = []

    def show(self, line: str) -> None:
        self.lines.append(line)
        for entry in list(self._waiting):
            if entry[0](line):
                self._waiting.remove(entry)
                entry[1].callback(line)

    def wait_for(self, start: str) -> Deferred[str]:
        """The first line shown that starts with C{start}."""
        for line in self.lines:
            if line.startswith(start):
                return succeed(line)
        d: Deferred[str] = Deferred()
        self._waiting.append((lambda line: line.startswith(start), d))
        return within(d)

    def plain(self) -> list[str]:
        """The lines, with times as HH:MM."""
        return [re.sub(r"^\d\d:\d\d ", "HH:MM ", line) for line in self.lines]


class IRCClient(LineReceiver):
    """An IRC test client: keeps every line and can wait for one."""

    delimiter = b"\n"

    def __init__(self) -> None:
        self.received: list[str] = []
        self._waiting: list[tuple[str, Deferred[str]]] = []
        self.closed: Deferred[None] = Deferred()

    def lineReceived(self, line: bytes) -> None:
        text = line.decode("utf-8").rstrip("\r")
        self.received.append(text)
        for entry in list(self._waiting):
            if f" {entry[0]} " in text:
                self._waiting.remove(entry)
                entry[1].callback(text)

    def connectionLost(self, reason: object = None) -> None:
        self.closed.callback(None)

    def send(self, line: str) -> None:
        self.sendLine(line.encode("utf-8") + b"\r")

    def wait_for(self, command: str) -> Deferred[str]:
        """The first line whose command (or numeric) is C{command}."""
        for text in self.received:
            if f" {command} " in text:
                return succeed(text)
        d: Deferred[str] = Deferred()
        self._waiting.append((command, d))
        return within(d)


class RawClient(Protocol):
    """A plain TCP client that keeps whatever bytes come."""

    def __init__(self) -> None:
        self.data = b""
        self.closed: Deferred[None] = Deferred()

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = None) -> None:  # type: ignore[assignment]
        self.closed.callback(None)


class TLSTestCase(TestCase):
    """Certificates in temporary files, and chatd serving with them."""

    timeout = 30

    def certificate(
        self, names: list[str], addresses: list[str], **how: Any
    ) -> tuple[str, str]:
        """A new self-signed certificate: the paths of its key and of itself."""
        key_pem, cert_pem = make_certificate(names, addresses, **how)
        key_path, cert_path = self.mktemp() + ".key", self.mktemp() + ".pem"
        with open(key_path, "wb") as f:
            f.write(key_pem)
        with open(cert_path, "wb") as f:
            f.write(cert_pem)
        return key_path, cert_path

    def serve(self, *args: str) -> ChatService:
        """chatd as twistd would run it with these options, started."""
        options = tap.Options()
        options.parseOptions(list(args))
        service = tap.makeService(options, reactor)
        service.startService()
        self.addCleanup(lambda: service.stopService() if service.running else None)
        return service

    def serve_tls(self, key: str, cert: str, irc: bool = False) -> list[int]:
        """chatd on TLS only, on 127.0.0.1: its ports (JSON, then IRC)."""
        ssl = (
            f"ssl:0:privateKey={quoteStringArgument(key)}"
            f":certKey={quoteStringArgument(cert)}:interface=127.0.0.1"
        )
        args = ["--listen", ssl]
        if irc:
            args += ["--irc-listen", ssl]
        service = self.serve(*args)
        return [port.getHost().port for port in service.ports]


class ListenerTests(TLSTestCase):
    """The server's listeners on C{ssl:} endpoint strings."""

    def setUp(self) -> None:
        self.key, self.cert = self.certificate(["localhost"], ["127.0.0.1"])
        with open(self.cert, "rb") as f:
            self.trust = Certificate.loadPEM(f.read())
        self.json_port, self.irc_port = self.serve_tls(self.key, self.cert, irc=True)

    @inlineCallbacks
    def json_client(self):  # type: ignore[no-untyped-def]
        """A JSON-lines client over TLS that checks the certificate."""
        client = LineClient()
        endpoint = SSL4ClientEndpoint(
            reactor,
            "127.0.0.1",
            self.json_port,
            optionsForClientTLS("127.0.0.1", trustRoot=self.trust),
        )
        welcome = within(client.wait_for(type="welcome"))
        yield within(connectProtocol(endpoint, client))
        obj = yield welcome
        self.assertEqual((obj["server"], obj["version"]), ("chatd", chatd.__version__))
        return client

    @inlineCallbacks
    def test_json_over_tls(self):  # type: ignore[no-untyped-def]
        client = yield self.json_client()
        reply = yield within(client.request(cmd="nick", nick="x"))
        self.assertEqual((reply["type"], reply["nick"]), ("ok", "x"))
        client.transport.loseConnection()
        yield within(client.closed)

    @inlineCallbacks
    def test_irc_over_tls(self):  # type: ignore[no-untyped-def]
        client = IRCClient()
        endpoint = SSL4ClientEndpoint(
            reactor,
            "127.0.0.1",
            self.irc_port,
            optionsForClientTLS("localhost", trustRoot=self.trust),
        )
        yield within(connectProtocol(endpoint, client))
        client.send("NICK alice")
        client.send("USER alice 0 * :Alice")
        welcome = yield client.wait_for("001")
        self.assertIn("alice", welcome)
        client.send("QUIT :bye")
        yield within(client.closed)

    @inlineCallbacks
    def test_plain_tcp_to_a_tls_port(self):  # type: ignore[no-untyped-def]
        """
        A client that does not speak TLS gets nothing it can read and is
        closed; nothing is logged as an error, and the listener serves the
        next client as before.
        """
        for port in (self.json_port, self.irc_port):
            raw = RawClient()
            endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", port)
            yield within(connectProtocol(endpoint, raw))
            raw.transport.write(b'{"cmd":"nick","nick":"plain"}\nNICK plain\r\n')
            yield within(raw.closed)
            self.assertNotIn(b"welcome", raw.data)
            self.assertNotIn(b"plain", raw.data)
            self.assertNotIn(b"chatd", raw.data)
        self.assertEqual(self.flushLoggedErrors(), [])
        client = yield self.json_client()
        reply = yield within(client.request(cmd="nick", nick="plain"))
        self.assertEqual(reply["type"], "ok")
        client.transport.loseConnection()
        yield within(client.closed)
        self.assertEqual(self.flushLoggedErrors(), [])


class ClientTests(TLSTestCase):
    """The console client's L{ChatClient} with L{TLS} against real servers."""

    def setUp(self) -> None:
        self.key, self.cert = self.certificate(["localhost"], ["127.0.0.1"])
        [self.port] = self.serve_tls(self.key, self.cert)

    def start(
        self, tls: TLS, port: int | None = None, lines: tuple[str, ...] = ()
    ) -> tuple[ChatClient, Screen, Deferred[int]]:
        """A piped client connecting to 127.0.0.1 with C{tls}."""
        screen = Screen()
        done: Deferred[int] = Deferred()
        client = ChatClient(
            reactor, output=screen.show, finished=done.callback, tls=tls
        )
        client.connect("127.0.0.1", self.port if port is None else port)
        for line in lines:
            client.handle_input(line)
        return client, screen, within(done)

    @inlineCallbacks
    def fails(self, tls: TLS, port: int | None = None):  # type: ignore[no-untyped-def]
        """Connect, expecting no connection: the lines shown."""
        client, screen, done = self.start(tls, port, ("/nick alice",))
        client.input_ended()
        status = yield done
        self.assertEqual(status, 1)
        return screen.lines

    @inlineCallbacks
    def test_verified_with_ca(self):  # type: ignore[no-untyped-def]
        """With --ca the server's self-signed certificate, it connects."""
        tls = TLS(ca=load_certificates(self.cert))
        client, screen, done = self.start(tls, lines=("/nick alice",))
        client.input_ended()
        status = yield done
        self.assertEqual(status, 0)
        self.assertEqual(
            screen.plain(),
            [
                f"* connecting to 127.0.0.1 port {self.port} with TLS ...",
                f"* connected to chatd {chatd.__version__} (protocol 1)",
                "HH:MM * you are now known as alice",
                "* you have quit",
            ],
        )

    @inlineCallbacks
    def test_connect_command_keeps_tls(self):  # type: ignore[no-untyped-def]
        """/connect connects with the settings of the command line."""
        tls = TLS(ca=load_certificates(self.cert))
        client, screen, done = self.start(tls)
        yield screen.wait_for("* connected to chatd")
        client.handle_input(f"/connect 127.0.0.1 {self.port}")
        client.handle_input("/nick bob")
        client.input_ended()
        status = yield done
        self.assertEqual(status, 0)
        where = f"127.0.0.1 port {self.port}"
        self.assertEqual(
            screen.plain(),
            [
                f"* connecting to {where} with TLS ...",
                f"* connected to chatd {chatd.__version__} (protocol 1)",
                f"* leaving {where}",
                f"* connecting to {where} with TLS ...",
                f"* connected to chatd {chatd.__version__} (protocol 1)",
                "HH:MM * you are now known as bob",
                "* you have quit",
            ],
        )

    @inlineCallbacks
    def test_not_trusted_without_ca(self):  # type: ignore[no-untyped-def]
        """
        Against the system's authorities a self-signed certificate fails:
        one clear line, no traceback, and the script's lines are not sent.
        """
        lines = yield self.fails(TLS())
        self.assertEqual(
            lines,
            [
                f"* connecting to 127.0.0.1 port {self.port} with TLS ...",
                "! not connected: certificate verify failed: self-signed"
                " certificate, which the system does not trust; --ca FILE can"
                f" trust it (127.0.0.1 port {self.port})",
                "! not connected (use /connect HOST PORT)",
            ],
        )
        self.assertEqual(self.flushLoggedErrors(), [])

    @inlineCallbacks
    def test_another_ca(self):  # type: ignore[no-untyped-def]
        """A --ca that does not hold the server's certificate fails too."""
        _, other = self.certificate(["localhost"], ["127.0.0.1"])
        lines = yield self.fails(TLS(ca=load_certificates(other)))
        self.assertEqual(
            lines[1],
            "! not connected: certificate verify failed: self-signed"
            f" certificate, which is not in --ca (127.0.0.1 port {self.port})",
        )

    @inlineCallbacks
    def test_insecure(self):  # type: ignore[no-untyped-def]
        """--insecure connects to anything, and says so."""
        client, screen, done = self.start(TLS(insecure=True), lines=("/nick eve",))
        client.input_ended()
        status = yield done
        self.assertEqual(status, 0)
        self.assertEqual(
            screen.plain()[:3],
            [
                "* warning: --insecure: the server's certificate is not checked",
                f"* connecting to 127.0.0.1 port {self.port} with TLS ...",
                f"* connected to chatd {chatd.__version__} (protocol 1)",
            ],
        )

    @inlineCallbacks
    def test_certificate_for_another_host(self):  # type: ignore[no-untyped-def]
        """A trusted certificate for another name is refused."""
        key, cert = self.certificate(["chat.example.org"], [])
        [port] = self.serve_tls(key, cert)
        lines = yield self.fails(TLS(ca=load_certificates(cert)), port)
        self.assertEqual(
            lines[1],
            "! not connected: certificate verify failed: the certificate is for"
            f" chat.example.org, not 127.0.0.1 (127.0.0.1 port {port})",
        )

    @inlineCallbacks
    def test_certificate_without_subject_alt_name(self):  # type: ignore[no-untyped-def]
        """
        A trusted certificate that names its host in the common name only
        is refused: host names are checked against subjectAltName.  (Some
        Twisted releases let such a certificate through, logging the error;
        the client checks the host again itself.)
        """
        key, cert = self.certificate([], [], san=False, common_name="127.0.0.1")
        [port] = self.serve_tls(key, cert)
        lines = yield self.fails(TLS(ca=load_certificates(cert)), port)
        self.assertEqual(
            lines[1],
            "! not connected: certificate verify failed: the certificate names"
            " no host (no subjectAltName), not 127.0.0.1"
            f" (127.0.0.1 port {port})",
        )
        self.flushLoggedErrors(CertificateError)  # Twisted's, where it logs it

    @inlineCallbacks
    def test_expired_certificate(self):  # type: ignore[no-untyped-def]
        key, cert = self.certificate(["localhost"], ["127.0.0.1"], valid_days=(-10, -1))
        [port] = self.serve_tls(key, cert)
        lines = yield self.fails(TLS(ca=load_certificates(cert)), port)
        self.assertRegex(
            lines[1],
            r"^! not connected: certificate verify failed: the certificate"
            r" expired on \d{4}-\d\d-\d\d \d\d:\d\d UTC \(127\.0\.0\.1 port \d+\)$",
        )

    @inlineCallbacks
    def test_tls_to_a_plain_port(self):  # type: ignore[no-untyped-def]
        """--tls against a server that does not speak it: a clear line."""
        service = self.serve("--listen", "tcp:0:interface=127.0.0.1")
        port = service.ports[0].getHost().port
        lines = yield self.fails(TLS(ca=load_certificates(self.cert)), port)
        self.assertRegex(
            lines[1],
            r"^! not connected: TLS handshake failed: .+; does the server speak"
            rf" TLS on this port\? \(127\.0\.0\.1 port {port}\)$",
        )

    def test_interactive_failure_says_how_to_retry(self) -> None:
        screen = Screen()
        client = ChatClient(reactor, output=screen.show, interactive=True, tls=TLS())
        client.connect("127.0.0.1", self.port)
        d = screen.wait_for("! /connect HOST PORT tries again")

        def check(_: str) -> None:
            self.assertIn("certificate verify failed", screen.lines[-2])
            self.assertEqual(client.prompt(), "(not connected)> ")
            client.interrupt()

        return d.addCallback(check)


class ConnectTests(SynchronousTestCase):
    """Where the client connects, on a memory reactor."""

    def test_tls_connections_only(self) -> None:
        memory = MemoryReactorClock()
        shown: list[str] = []
        client = ChatClient(memory, output=shown.append, tls=TLS())
        client.connect("chat.example.org", 6697)
        factory = memory.sslClients[0][2]
        factory.clientConnectionFailed(None, Failure(ConnectionRefusedError()))
        client.handle_input("/connect other.example.org 7000")
        self.assertEqual(memory.tcpClients, [])
        self.assertEqual(
            [entry[:2] for entry in memory.sslClients],
            [("chat.example.org", 6697), ("other.example.org", 7000)],
        )

    def test_no_certificate_can_be_for_the_host(self) -> None:
        memory = MemoryReactorClock()
        shown: list[str] = []
        client = ChatClient(memory, output=shown.append, tls=TLS())
        client.connect("a..b", 6697)
        self.assertEqual(memory.sslClients, [])
        self.assertTrue(shown[-1].startswith("! not connected: no certificate can"))
        self.assertTrue(shown[-1].endswith("(a..b port 6697)"))
        self.assertEqual(client.prompt(), "(not connected)> ")


class CommandLineTests(TestCase):
    """C{chatd-client --tls [--ca FILE | --insecure]}."""

    def usage_error(self, *argv: str) -> str:
        """What argparse says to a mistake (it exits with status 2)."""
        stderr = io.StringIO()
        self.patch(sys, "stderr", stderr)
        e = self.assertRaises(SystemExit, parse_args, list(argv))
        self.assertEqual(e.code, 2)
        return stderr.getvalue().splitlines()[-1]

    def test_defaults(self) -> None:
        args = parse_args(["h", "9000"])
        self.assertIsNone(args.client_tls)
        args = parse_args(["--tls", "h", "9000"])
        self.assertEqual(args.client_tls, TLS(ca=None, insecure=False))
        args = parse_args(["--tls", "--insecure"])
        self.assertEqual(args.client_tls, TLS(ca=None, insecure=True))

    def test_ca(self) -> None:
        _, cert = make_certificate(["localhost"], [])
        _, second = make_certificate(["other"], [])
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"some text first\n" + cert + second)
        args = parse_args(["--tls", "--ca", path, "h"])
        tls = args.client_tls
        self.assertEqual(len(tls.ca), 2)
        self.assertEqual(tls.ca[0].dump(), Certificate.loadPEM(cert).dump())
        self.assertFalse(tls.insecure)

    def test_needs_tls(self) -> None:
        self.assertEqual(
            self.usage_error("--insecure", "h"),
            "chatd-client: error: --insecure goes with --tls, which is not given",
        )
        self.assertEqual(
            self.usage_error("--ca", "ca.pem", "h"),
            "chatd-client: error: --ca goes with --tls, which is not given",
        )

    def test_insecure_or_ca(self) -> None:
        self.assertIn(
            "--insecure checks no certificate: it does not go with --ca",
            self.usage_error("--tls", "--insecure", "--ca", "ca.pem"),
        )

    def test_bad_ca_files(self) -> None:
        missing = self.mktemp()
        self.assertEqual(
            self.usage_error("--tls", "--ca", missing),
            f"chatd-client: error: --ca {missing}: No such file or directory",
        )
        not_pem = self.mktemp()
        with open(not_pem, "w") as f:
            f.write("hello\n")
        self.assertIn("no PEM certificate", self.usage_error("--tls", "--ca", not_pem))
        broken = self.mktemp()
        with open(broken, "w") as f:
            f.write("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
        self.assertIn("a broken certificate", self.usage_error("--tls", "--ca", broken))

    def test_main_passes_tls_on(self) -> None:
        calls: list[tuple[Any, ...]] = []

        def run(
            host: str, port: int, *, formatting: bool, tls: TLS | None, nick: object
        ) -> int:
            calls.append((host, port, tls))
            return 0

        self.patch(cli, "run", run)
        self.assertRaises(SystemExit, main, ["--tls", "h", "8124"])
        self.assertRaises(SystemExit, main, ["h"])
        self.assertEqual(calls, [("h", 8124, TLS()), ("h", 8123, None)])

    def test_help_mentions_the_options(self) -> None:
        stdout = io.StringIO()
        self.patch(sys, "stdout", stdout)
        self.assertRaises(SystemExit, parse_args, ["--help"])
        text = " ".join(stdout.getvalue().split())
        for option in ("--tls", "--ca FILE", "--insecure"):
            self.assertIn(option, text)


class ServerOptionTests(SynchronousTestCase):
    """C{twistd chatd} with C{ssl:} endpoints."""

    def test_missing_key_file_is_a_usage_error(self) -> None:
        for option in ("--listen", "--irc-listen"):
            options = tap.Options()
            e = self.assertRaises(
                UsageError,
                options.parseOptions,
                [option, "ssl:0:privateKey=/nonexistent"],
            )
            message = str(e)
            self.assertIn(
                f"{option} ssl:0:privateKey=/nonexistent: must be a usable endpoint",
                message,
            )
            self.assertIn("/nonexistent", message)

    def test_broken_key_file_is_a_usage_error(self) -> None:
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("not a key\n")
        options = tap.Options()
        e = self.assertRaises(
            UsageError, options.parseOptions, ["--listen", f"ssl:0:privateKey={path}"]
        )
        self.assertIn("--listen", str(e))

    def test_endpoint_in_options(self) -> None:
        key_pem, cert_pem = make_certificate(["localhost"], ["127.0.0.1"])
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(key_pem + cert_pem)
        options = tap.Options()
        listen = f"ssl:8124:privateKey={path}"
        irc = f"ssl:6697:privateKey={path}:certKey={path}"
        options.parseOptions(["--listen", listen, "--irc-listen", irc])
        self.assertEqual(options["listen"], [listen])
        self.assertEqual(options["irc-listen"], [irc])

"""The web listener on an ssl: endpoint: HTTPS and WSS."""

from __future__ import annotations

from typing import Any

from twisted.internet import ssl
from twisted.internet.defer import inlineCallbacks

from chatd.net.limits import FloodLimit
from tests.test_tls import make_certificate
from tests.web.support import WebTestCase


class WSSTests(WebTestCase):
    web_options = {"max_sendq": 32 * 1024}
    irc_options = {"flood": FloodLimit(burst=0)}
    tls = ssl.CertificateOptions(verify=False)

    def web_listen(self) -> str:
        key_pem, cert_pem = make_certificate(["localhost"], ["127.0.0.1"])
        key, cert = self.mktemp() + ".key", self.mktemp() + ".pem"
        with open(key, "wb") as f:
            f.write(key_pem)
        with open(cert, "wb") as f:
            f.write(cert_pem)
        return f"ssl:0:interface=127.0.0.1:privateKey={key}:certKey={cert}"

    @inlineCallbacks
    def test_irc_over_wss(self) -> Any:
        """IRC over WSS, with a TCP user in the same channel; QUIT closes 1000."""
        alice = yield self.irc_user("alice")
        alice.send("JOIN #a")
        yield alice.line(" 366 ")
        bob = yield self.tcp_user("bob")
        bob.send("JOIN #a")
        yield bob.line(" 366 ")
        bob.send("PRIVMSG #a :over TLS")
        line = yield alice.line("over TLS")
        self.assertEqual(line, b":bob!~b@127.0.0.1 PRIVMSG #a :over TLS")
        alice.send("QUIT :done")
        code, _ = yield alice.closed
        self.assertEqual(code, 1000)

    @inlineCallbacks
    def test_slow_reader_over_tls(self) -> Any:
        """The SendQ counts what waits under TLS too: 4001."""
        alice = yield self.irc_user("alice", small_window=True)
        alice.send("JOIN #a")
        yield alice.line(" 366 ")
        bob = yield self.tcp_user("bob")
        bob.send("JOIN #a")
        yield bob.line(" 366 ")
        alice.transport.pauseProducing()
        text = "y" * 400
        for batch in range(200):
            for n in range(20):
                bob.send(f"PRIVMSG #a :{batch} {n} {text}")
            bob.send(f"PING :{batch}")
            yield bob.line(f"PONG chatd.local {batch}")
            self.clock.advance(0)
            if "alice" not in self.chat.nicks:
                break
        quit = yield bob.line(" QUIT ")
        self.assertEqual(quit, b":alice!~a@127.0.0.1 QUIT :SendQ exceeded")
        before = len(alice.messages)
        print(
            "TRANSPORT",
            alice.transport,
            alice.transport.transport,
            alice.transport.transport.reading
            if hasattr(alice.transport.transport, "reading")
            else None,
            flush=True,
        )
        alice.read_again()
        code, _ = yield alice.closed
        print("GOT", before, len(alice.messages), flush=True)
        self.assertEqual(code, 4001)

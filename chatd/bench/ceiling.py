# -*- test-case-name: tests.test_bench -*-
"""
The ceiling: a bare Twisted broadcast server with no chat logic.

It speaks just enough IRC for the load generator to register and join
(C{001} for C{USER}, the C{JOIN} echo and C{366} for C{JOIN}, C{PONG} for
C{PING}); every C{PRIVMSG} line is prefixed once with the sender's mask
and the same bytes are written to every other connection that joined
anything, through bound C{transport.write} methods kept between joins (the
cheapest loop Twisted allows, and the one chatd's core uses too), with
Nagle's algorithm off on every connection as chatd has it.  Nothing
is checked, parsed or stored beyond that, so what it sustains is what
Twisted itself sustains on a given interpreter, and chatd is measured as a
fraction of it.

It listens with chatd's own backlog (L{chatd.tap.BACKLOG}), so that a
connection storm meets the same accept queue in both.

Run it with C{python -m chatd.bench.ceiling --port 6670}.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Callable

from twisted.internet.protocol import ServerFactory
from twisted.protocols.basic import LineOnlyReceiver


class Bare(LineOnlyReceiver):
    """One connection; see the module docstring for all it does."""

    delimiter = b"\n"
    MAX_LENGTH = 16384
    factory: Ceiling
    nick = b"*"
    prefix = b""

    def connectionMade(self) -> None:
        self.transport.setTcpNoDelay(True)  # type: ignore[union-attr]  # as chatd

    def lineReceived(self, line: bytes) -> None:
        line = line.rstrip(b"\r")
        if line.startswith(b"PRIVMSG "):
            data = self.prefix + line + b"\r\n"
            for peer, write in self.factory.writers():
                if peer is not self:
                    write(data)
        elif line.startswith(b"NICK "):
            self.nick = line[5:].strip()
            self.prefix = b":%s!~%s@127.0.0.1 " % (self.nick, self.nick)
        elif line.startswith(b"USER "):
            self._reply(b":ceiling 001 %s :Welcome\r\n" % self.nick)
        elif line.startswith(b"JOIN "):
            channel = line[5:].strip()
            self.factory.members[self] = None
            self.factory.changed()
            self._reply(
                b"%sJOIN %s\r\n:ceiling 366 %s %s :End of /NAMES list.\r\n"
                % (self.prefix, channel, self.nick, channel)
            )
        elif line.startswith(b"PING"):
            self._reply(b"PONG" + line[4:] + b"\r\n")

    def _reply(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def connectionLost(self, reason: object = None) -> None:
        if self.factory.members.pop(self, False) is None:
            self.factory.changed()


class Ceiling(ServerFactory):
    protocol = Bare  # type: ignore[assignment]
    noisy = False

    def __init__(self) -> None:
        #: every connection that joined, in join order
        self.members: dict[Bare, None] = {}
        self._writers: list[tuple[Bare, Callable[[bytes], object]]] | None = None

    def writers(self) -> list[tuple[Bare, Callable[[bytes], object]]]:
        """Each member with its bound C{transport.write}, kept between joins."""
        if self._writers is None:
            self._writers = [(p, p.transport.write) for p in self.members]  # type: ignore[union-attr]
        return self._writers

    def changed(self) -> None:
        self._writers = None


def main(argv: list[str] | None = None, reactor: Any = None) -> None:
    # chatd's own constant, not a copy: a storm must meet the same accept
    # queue in both (Twisted's default of 50 made the ceiling's storm ~50x
    # slower than chatd's 1024; see chatd.tap).  Importing chatd.tap loads
    # the chat modules too, which costs the ceiling a little memory before
    # any client connects and nothing per connection.
    from chatd.tap import BACKLOG

    parser = argparse.ArgumentParser(
        prog="chatd-bench ceiling", description="The bare Twisted broadcast server."
    )
    parser.add_argument("--port", type=int, default=6670)
    parser.add_argument("--interface", default="127.0.0.1")
    parser.add_argument(
        "--backlog",
        type=int,
        default=BACKLOG,
        help=f"listen backlog (default {BACKLOG}, as chatd's --port and --irc-port)",
    )
    args = parser.parse_args(argv)
    if reactor is None:
        from twisted.internet import reactor
    port: Any = reactor.listenTCP(
        args.port, Ceiling(), backlog=args.backlog, interface=args.interface
    )
    print(f"ceiling listening on {args.interface}:{port.getHost().port}", flush=True)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1:])

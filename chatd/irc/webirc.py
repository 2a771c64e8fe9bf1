# -*- test-case-name: tests.test_webirc -*-
"""
C{WEBIRC password gateway hostname ip [:options]}
(https://ircv3.net/specs/extensions/webirc): a web IRC gateway configured
in a C{[[webirc]]} table says who the user it connects for is.  Sent as
the connection's first command, from an address the block names, with
its password, it replaces the connection's address with the user's: the
per-address limits count it again under the user's address, and bans,
WHOIS, WHO and the logs see it.

Anything else closes the connection, as the specification asks and ergo
does: C{FAIL WEBIRC <code> :<why>} then C{ERROR :Closing Link}, with the
reason in the log.  After registration it is C{462}, as for C{USER}.
Which blocks may be tried is L{chatd.accounts.gateways}'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.words.protocols import irc as rfc

from chatd.core import ChatError
from chatd.irc.numerics import Reply
from chatd.irc.session import Command, IRCSession
from chatd.log import logger
from chatd.net.addresses import parse_ip
from chatd.net.connection import format_peer

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred
    from twisted.python.failure import Failure

    from chatd.irc.message import Line

log = logger(__name__)

#: What a refused gateway is told: one message whether its address or its
#: password was wrong (the log says which).
DENIED = "Invalid WebIRC password or gateway address"


class WebircCommands(IRCSession):
    """WEBIRC."""

    #: No command has been handled yet, so WEBIRC may still come: cleared
    #: by the first command (L{chatd.irc.protocol.IRCProtocol._handle}).
    pristine = True

    def irc_WEBIRC(self, line: Line) -> Deferred[Any] | None:
        first, self.pristine = self.pristine, False
        if self.registered:
            raise Reply(rfc.ERR_ALREADYREGISTRED, "You may not reregister")
        password, gateway, hostname, given = line.params[:4]
        options = line.params[4] if len(line.params) > 4 else ""
        if not first:
            self._webirc_refused(
                "COMMAND_NOT_FIRST",
                "WEBIRC must be the first command",
                "it was not the first command",
                gateway,
            )
            return None
        gateways = self.factory.gateways
        if gateways is None or not gateways.admitting(self.host):
            self._webirc_refused(
                "ACCESS_DENIED",
                DENIED,
                "no [[webirc]] block names its address",
                gateway,
            )
            return None
        try:
            # IPv4 mapped into IPv6 is an IPv4 user; no IPv6 zone
            address = parse_ip(given)
        except ValueError:
            self._webirc_refused(
                "INVALID_IP",
                "The user's IP address is not an IPv4 or IPv6 address",
                "the user's IP address is not an address",
                gateway,
            )
            return None

        def accepted(block: str) -> None:
            if not self.closing:
                self._readdress(address, _remote_port(options), block, hostname)

        def refused(failure: Failure) -> None:
            failure.trap(ChatError)
            error: ChatError = failure.value  # type: ignore[assignment]
            self._webirc_refused("ACCESS_DENIED", DENIED, error.message, gateway)

        d = gateways.check(self.host, password)
        return d.addCallbacks(accepted, refused)

    def _readdress(self, address: Any, port: int, block: str, hostname: str) -> None:
        """The connection is the user's at C{address}, from now on."""
        user = self._user()
        kind = IPv6Address if address.version == 6 else IPv4Address
        host = str(address)
        peer = format_peer(kind("TCP", host, port)) if port else host
        was = self.peer
        self.host, self.peer = user.host, user.peer = host, peer
        user.renamed()
        log.info(
            "WEBIRC: {was} (gateway {block}) is {peer} ({hostname})",
            was=was,
            block=block,
            peer=peer,
            hostname=hostname,
        )
        # Counted again, under the user's address.
        factory = self.factory
        before = self._gate_key
        refusal = factory.admit(self)
        if refusal is not None:
            self.reply_error("*", refusal.code, message=refusal.message)
            factory.chat.disconnect(user, refusal.message)
            return
        if before is not None:
            factory.release(before)

    def _webirc_refused(self, code: str, words: str, why: str, gateway: str) -> None:
        log.warn(
            "refused WEBIRC from {peer} (gateway {gateway!r}): {why}",
            peer=self.peer,
            gateway=gateway[:64],
            why=why,
        )
        self._fail("WEBIRC", code, words)
        self.close("webirc_refused", words, "WEBIRC refused")


def _remote_port(options: str) -> int:
    """The C{remote-port} among a WEBIRC's options (0: not given)."""
    for option in options.split(" "):
        name, _, value = option.partition("=")
        if name.lower() == "remote-port" and value.isdigit() and len(value) <= 5:
            port = int(value)
            return port if port <= 65535 else 0
    return 0


#: command: (handler, least number of parameters, needs registration)
WEBIRC: dict[str, Command] = {
    "WEBIRC": (WebircCommands.irc_WEBIRC, 4, False),
}

__all__ = ["WEBIRC", "WebircCommands"]

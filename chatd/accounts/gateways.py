# -*- test-case-name: tests.test_webirc -*-
"""
Web IRC gateways: the C{[[webirc]]} blocks of the config file, and
checking a gateway's C{WEBIRC} password against them
(L{chatd.irc.webirc} is the command).

A block names the networks its gateway connects from and holds a
password hash (C{chatd-admin hash-password} prints one), checked off the
reactor thread in the accounts' hashing pool, as operators' are.  Only the
blocks whose networks hold the connection's address are tried, so a
WEBIRC from anywhere else costs no hash.
"""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING, Any, Callable, Protocol

from twisted.internet.defer import Deferred, fail

from chatd.core.errors import ChatError

if TYPE_CHECKING:
    from collections.abc import Iterable


class GatewayBlock(Protocol):
    """One C{[[webirc]]} table: what the config gives (see L{chatd.config})."""

    @property
    def name(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def hosts(self) -> tuple[Any, ...]: ...


def _address(host: str) -> Any:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None  # a UNIX socket: no network holds it


class Gateways:
    """
    The gateway blocks.  C{verify(password, hash)} checks a password
    against a hash and may finish later (the hashing pool).
    """

    def __init__(
        self,
        blocks: Iterable[GatewayBlock],
        verify: Callable[[str, str], Deferred[bool]],
    ) -> None:
        self.verify = verify
        self.blocks: tuple[GatewayBlock, ...] = ()
        self.replace(blocks)

    def replace(self, blocks: Iterable[GatewayBlock]) -> None:
        """Take the blocks of a (re)loaded config file."""
        self.blocks = tuple(blocks)

    def __len__(self) -> int:
        return len(self.blocks)

    def admitting(self, host: str) -> list[GatewayBlock]:
        """The blocks whose networks hold C{host} (IPv4 mapped in IPv6 too)."""
        address = _address(host)
        if address is None:
            return []
        mapped = getattr(address, "ipv4_mapped", None)
        return [
            block
            for block in self.blocks
            if any(
                address in net or (mapped is not None and mapped in net)
                for net in block.hosts
            )
        ]

    def check(self, host: str, password: str) -> Deferred[str]:
        """
        The name of the block that lets a gateway at C{host} in with
        C{password}; else a L{ChatError}: C{webirc_no_host} when no block
        names the address (no hash is computed), C{webirc_bad_password}
        when none of those that do has this password.
        """
        blocks = self.admitting(host)
        if not blocks:
            return fail(
                ChatError("webirc_no_host", "no [[webirc]] block names this address")
            )

        def attempt(ok: bool, tried: int) -> Deferred[str] | str:
            if ok:
                return blocks[tried].name
            if tried + 1 == len(blocks):
                raise ChatError("webirc_bad_password", "wrong WEBIRC password")
            d = self.verify(password, blocks[tried + 1].password)
            return d.addCallback(attempt, tried + 1)

        return self.verify(password, blocks[0].password).addCallback(attempt, 0)


__all__ = ["GatewayBlock", "Gateways"]

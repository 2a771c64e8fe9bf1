# -*- test-case-name: tests.web.test_forwarded -*-
"""
The client's address behind a reverse proxy: C{X-Forwarded-For}, taken only
from peers in C{[proxy] trusted}.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from chatd.net.addresses import parse_host
from chatd.net.limits import Network


def _address(text: str) -> str | None:
    """
    An address from the header (IPv6 may come in brackets), IPv4 mapped into
    IPv6 as IPv4, or None (an IPv6 zone too: L{parse_ip}).
    """
    text = text.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    try:
        return parse_host(text)
    except ValueError:
        return None


def _trusted(address: str, trusted: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == net.version and ip in net for net in trusted)


def client_address(
    peer: str, forwarded_for: str | None, trusted: Iterable[Network]
) -> str:
    """
    Who the client is: C{peer} (the TCP peer's address) unless it is a
    trusted proxy with an C{X-Forwarded-For} header (every such header's
    addresses, comma-separated, in order).  Then the header is read from its
    right end, where each proxy appended the address it saw, and the first
    address that is not itself a trusted proxy is the client; one that is
    not an address at all ends the walk at the last trusted one, and if
    all are trusted the leftmost is the client.  Nothing a client writes
    in the header can make chatd believe an address a trusted proxy did
    not vouch for.
    """
    trusted = tuple(trusted)
    if not forwarded_for or not _trusted(peer, trusted):
        return peer
    client = peer
    for item in reversed(forwarded_for.split(",")):
        address = _address(item)
        if address is None:
            break
        client = address
        if not _trusted(address, trusted):
            break
    return client


__all__ = ["client_address"]

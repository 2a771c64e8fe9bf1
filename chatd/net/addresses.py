"""
A client's IP address as a proxy or gateway names it (a PROXY header,
WEBIRC, X-Forwarded-For), parsed in one place so that every path takes
the same addresses and nothing else: what it returns becomes a user's
host, seen in IRC lines, so it must never carry text of its own.
"""

from __future__ import annotations

import ipaddress
from typing import Union

IP = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]


def parse_ip(text: str, version: int | None = None) -> IP:
    """
    The address C{text} names (of IP C{version}, 4 or 6, if given), with
    an IPv4 address mapped into IPv6 made IPv4's.  Raises C{ValueError} for
    anything else, and for an IPv6 address with a zone (C{fe80::1%eth0}):
    a zone names an interface of the proxy's machine, meaningless here, and
    would carry whatever text follows the C{%} into the user's host.

    C{str()} of what it returns is only hexadecimal digits, dots and colons.
    """
    if "%" in text:
        raise ValueError(f"an address with a zone: {text!r}")
    ip: IP = ipaddress.ip_address(text)
    if version is not None and ip.version != version:
        raise ValueError(f"not an IPv{version} address: {text!r}")
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def parse_host(text: str) -> str:
    """L{parse_ip}'s address as a host, in its canonical form."""
    return str(parse_ip(text))


__all__ = ["IP", "parse_host", "parse_ip"]

# -*- test-case-name: tests.web.test_origins -*-
"""
Which web pages may open a WebSocket connection: the C{Origin} header a
browser sends with every WebSocket handshake, checked against the
listener's own address and the C{[web] origins} allow-list.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

#: The port a scheme has when an origin names none.
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def normal_origin(text: str) -> str | None:
    """
    C{text} as the one spelling an C{Origin} header would have
    (C{scheme://host[:port]}, lower case, the scheme's default port left
    out), or None if it is not an origin (a path, a user, no host).
    """
    text = text.strip()
    if not text or any(c.isspace() for c in text):
        return None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if (
        scheme not in DEFAULT_PORTS
        or not host
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        return None
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def _host_port(origin: str) -> tuple[str, int]:
    parts = urlsplit(origin)
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 0)
    return (parts.hostname or "").lower(), port


def host_header(value: str) -> tuple[str, int | None] | None:
    """
    The host and port a C{Host} header names (the port None if it names
    none), or None if it is garbage.
    """
    try:
        parts = urlsplit("http://" + value.strip())
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host or parts.path or parts.username is not None:
        return None
    return host, port


def same_origin(origin: str, host: str) -> bool:
    """
    Whether the page of C{origin} (normalised) is the listener's own, as
    the request's C{Host} header names it: the same host, and the same port
    when the header names one, or the default port of http or https when it
    does not (a TLS proxy in front serves https on 443 what chatd serves on
    http, with the same C{Host}).
    """
    named = host_header(host)
    if named is None:
        return False
    origin_host, origin_port = _host_port(origin)
    host_name, host_port = named
    if origin_host != host_name:
        return False
    if host_port is None:
        return origin_port in (80, 443)
    return origin_port == host_port


class Origins:
    """
    The allow-list: pages of the listener's own address (the request's
    C{Host}, so same-origin) always; those of C{allowed} (normalised
    origins, or C{*} for any page at all) too.  A request without an
    C{Origin} header does not come from a web page (a program, a web IRC
    client's server-side part): it is let in.
    """

    def __init__(self, allowed: Iterable[str] = ()) -> None:
        allowed = tuple(allowed)
        self.any = "*" in allowed
        self.allowed = frozenset(o for o in allowed if o != "*")

    def refusal(self, origin: str | None, host: str | None) -> str | None:
        """
        None if a handshake with C{origin} (its C{Origin} header, None if
        it had none) sent to C{host} (its C{Host} header) may go on; else
        why not, for the 403 response.
        """
        if origin is None or self.any:
            return None
        normal = normal_origin(origin)
        if normal is not None:
            if normal in self.allowed:
                return None
            if host is not None and same_origin(normal, host):
                return None
        shown = origin if len(origin) <= 100 else origin[:97] + "..."
        return (
            f"pages from {shown} may not connect here "
            "(the server's [web] origins does not list it)"
        )


__all__ = ["Origins", "normal_origin"]

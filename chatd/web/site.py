# -*- test-case-name: tests.web.test_site -*-
"""
The web listener: one twisted.web site for the browser client's files,
IRC over WebSocket (C{/} when upgraded, and C{/irc}), the JSON protocol
over WebSocket (C{/json}), C{/healthz}, and whatever is L{mounted
<WebListener.mount>} beside them (C{/metrics}).

L{WebListener} is a L{Listener} as the service sees it (connections,
reaper, limits, goodbye at shutdown, reload), made of an IRC factory and a
JSON factory of its own whose sessions run over WebSocket.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred, DeferredList
from twisted.internet.interfaces import IAddress, IDelayedCall, IReactorTime
from twisted.internet.protocol import Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.web import http
from twisted.web.pages import notFound
from twisted.web.resource import IResource, Resource
from twisted.web.server import Request, Site
from twisted.web.static import File
from zope.interface import implementer

from chatd.irc.factory import IRCFactory
from chatd.jsonproto.lines import ChatFactory
from chatd.log import logger
from chatd.net.connection import Connection, format_peer, host_of
from chatd.net.limits import Network, address_key
from chatd.net.listener import Listener
from chatd.net.proxy import BurstLog
from chatd.web.door import DoorFactory, DoorResource, _upgrading
from chatd.web.origins import Origins

if TYPE_CHECKING:
    from chatd.accounts.opers import Opers
    from chatd.accounts.registry import Accounts
    from chatd.core import Chat
    from chatd.history.reader import History

log = logger(__name__)

#: The browser client's files, shipped inside the package.
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
#: How long an HTTP connection may sit idle between requests.
HTTP_TIMEOUT = 60
#: Seconds an HTTP connection has to send a whole request (request line,
#: headers and a body of at most L{BODY_MAX} bytes), from when it opens or
#: its previous response is done: twisted.web's own timeout starts again on
#: every byte (slowloris).
HEAD_TIMEOUT = 10.0
#: The longest request body read: chatd takes none (a WebSocket handshake
#: and every page are GET), so anything longer, or chunked, is refused
#: before it is read.
BODY_MAX = 4096

NOT_BUILT = b"""chatd is running, but its web client is not built (there is no
chatd/web/static/index.html in this installation).

IRC clients that speak WebSocket (Kiwi IRC, gamja) connect to this address,
or to /irc; programs speak the JSON protocol over WebSocket at /json.
See docs/web.md.
"""


#: The web client's Content-Security-Policy: its page's own (the C{meta} tag
#: of C{index.html}), and C{frame-ancestors 'none'}, which only a header can
#: say, so that no other site can frame the client (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'none'; frame-src 'none'; "
    "frame-ancestors 'none'"
)


class Files(File):
    """
    The client's files, without directory listings, each with the type its
    name says and C{nosniff}, so that a browser never runs a file as
    something else, and the client's L{CONTENT_SECURITY_POLICY} and
    C{X-Frame-Options: DENY}, so that no other site frames it.
    """

    contentTypes = {
        **File.contentTypes,
        ".js": "text/javascript",
        ".mjs": "text/javascript",
        ".css": "text/css",
        ".json": "application/json",
        ".webmanifest": "application/manifest+json",
        ".svg": "image/svg+xml",
        ".woff2": "font/woff2",
        ".wasm": "application/wasm",
    }

    def directoryListing(self) -> IResource:
        return notFound()

    def render(self, request: Request) -> bytes | int:
        request.setHeader(b"x-content-type-options", b"nosniff")
        request.setHeader(b"content-security-policy", CONTENT_SECURITY_POLICY)
        request.setHeader(b"x-frame-options", b"DENY")
        result: bytes | int = super().render(request)
        return result


class Healthz(Resource):
    """
    C{/healthz}: C{200 ok} while the server takes clients.  Answering at
    all shows that the process and its event loop are alive and that the
    accounts and registered channels were read (the listener takes no
    connection before); C{503 shutting down} once shutdown has begun.
    """

    isLeaf = True

    def __init__(self, listener: WebListener) -> None:
        super().__init__()
        self.listener = listener

    def render_GET(self, request: Request) -> bytes:
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        request.setHeader(b"cache-control", b"no-store")
        if self.listener.stopping:
            request.setResponseCode(503)
            return b"shutting down\n"
        return b"ok\n"

    render_HEAD = render_GET


class Root(Resource):
    """
    C{/}: the web client (C{index.html} and its files) for a browser, IRC
    over WebSocket for a WebSocket handshake; the doors and mounts are its
    children.
    """

    def __init__(self, listener: WebListener, static: str) -> None:
        super().__init__()
        self.static = static
        self.irc_door = DoorResource(listener.irc_door)
        self.putChild(b"irc", self.irc_door)
        self.putChild(b"json", DoorResource(listener.json_door))
        self.putChild(b"healthz", Healthz(listener))

    def getChild(self, path: bytes, request: Request) -> IResource:
        if path == b"":
            return self
        if not os.path.isdir(self.static):
            return notFound()
        child: IResource = Files(self.static).getChild(path, request)
        return child

    def render_GET(self, request: Request) -> bytes | int:
        if _upgrading(request):
            return self.irc_door.render(request)
        index = os.path.join(self.static, "index.html")
        if os.path.isfile(index):
            page: bytes | int = Files(index, defaultType="text/html").render(request)
            return page
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return NOT_BUILT

    def render_HEAD(self, request: Request) -> bytes | int:
        return self.render_GET(request)


@implementer(IResource)
class _HeadOnly:
    """
    A resource's answer to HEAD: its GET's headers, with the length of the
    body it would send, and no body (twisted.web would drop it, and log a
    warning each time).
    """

    isLeaf = True

    def __init__(self, resource: IResource) -> None:
        self.resource = resource

    def render(self, request: Request) -> bytes | int:
        body: bytes | int = self.resource.render(request)
        if isinstance(body, bytes) and body:
            request.setHeader(b"content-length", b"%d" % len(body))
            return b""
        return body

    def getChildWithDefault(self, name: bytes, request: Request) -> IResource:
        child: IResource = self.resource.getChildWithDefault(name, request)
        return child

    def putChild(self, path: bytes, child: IResource) -> None:
        self.resource.putChild(path, child)


class WebRequest(Request):
    """
    twisted.web's request, which refuses a body longer than L{BODY_MAX} or
    chunked (413, then closed) as soon as the headers say so, rather than
    buffering it to a temporary file without limit.
    """

    def render(self, resrc: IResource) -> None:
        if self.method == b"HEAD":
            resrc = _HeadOnly(resrc)
        super().render(resrc)

    def gotLength(self, length: int | None) -> None:
        channel: Any = self.channel
        if (length is None or length > BODY_MAX) and isinstance(
            channel, http.HTTPChannel
        ):
            self._refuse_body(channel)
            return
        super().gotLength(length)

    def _refuse_body(self, channel: http.HTTPChannel) -> None:
        body = (
            f"chatd takes no request body longer than {BODY_MAX} bytes, "
            "nor a chunked one\n"
        ).encode()
        # no "100 Continue" after the refusal
        self.requestHeaders.removeHeader(b"expect")
        # read nothing more: neither the body nor a next request
        noop: Any = lambda *args: None  # noqa: E731
        channel.dataReceived = channel.lineReceived = noop  # type: ignore[method-assign]
        channel.rawDataReceived = noop  # type: ignore[method-assign]
        channel.persistent = False
        transport: Any = channel.transport
        transport.write(
            b"HTTP/1.1 413 Content Too Large\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n"
            b"Connection: close\r\n\r\n" + body
        )
        channel.loseConnection()


class WebChannel(http.HTTPChannel):
    """
    One HTTP connection: counted per address (L{WebListener.http_admit}),
    given L{HEAD_TIMEOUT} seconds on the listener's clock for each request
    head, and closed without a log line when idle (chatd logs no HTTP).
    """

    #: the listener (L{WebListener.buildProtocol} sets it)
    listener: WebListener
    #: the client's address, as the PROXY header gave it (or the peer)
    chatd_client: IAddress | None = None
    #: the address this connection is counted under, while it is
    http_key: str | None = None
    _head: IDelayedCall | None = None

    def connectionMade(self) -> None:
        super().connectionMade()
        if self.listener.http_admit(self):
            self._start_head()

    def _start_head(self) -> None:
        self._stop_head()
        self._head = self.listener.clock.callLater(HEAD_TIMEOUT, self._head_late)

    def _stop_head(self) -> None:
        head, self._head = self._head, None
        if head is not None and head.active():
            head.cancel()

    def _head_late(self) -> None:
        self._head = None
        transport: Any = self.transport
        if transport is not None:
            transport.abortConnection()

    def allContentReceived(self) -> None:
        self._stop_head()
        super().allContentReceived()

    def requestDone(self, request: http.Request) -> None:
        super().requestDone(request)
        transport: Any = self.transport
        if transport is not None and self.persistent and not transport.disconnecting:
            self._start_head()  # the next request's head

    def handed_over(self) -> None:
        """The connection is a WebSocket's now: no longer HTTP's to count."""
        self._stop_head()
        self.setTimeout(None)
        self.listener.http_release(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._stop_head()
        self.listener.http_release(self)
        super().connectionLost(reason)

    def timeoutConnection(self) -> None:
        # twisted.web's, without its "Timing out client" line
        if self.abortTimeout is not None:
            self._abortingCall = self.callLater(
                self.abortTimeout, self.forceAbortClient
            )
        self.loseConnection()

    def forceAbortClient(self) -> None:
        # twisted.web's, without its "Forcibly timing out client" line
        self._abortingCall = None
        transport: Any = self.transport
        transport.abortConnection()


class WebSite(Site):
    """
    twisted.web's site, without its access log (chatd logs its own), and
    with no request bodies (L{WebRequest}).
    """

    noisy = False
    requestFactory = WebRequest
    #: HTTP/1.1 (twisted.web's HTTP/2 needs h2, which chatd does not
    #: install, and a WebSocket cannot open over HTTP/2)
    protocol = WebChannel  # type: ignore[assignment]

    def log(self, request: http.Request) -> None:
        pass


class WebListener(Listener):
    """
    The web listener: a L{Listener} whose connections are the WebSocket
    sessions of its own IRC factory (C{irc}) and JSON factory (C{json}),
    which share the server's core, limits and per-address gate; what the
    service asks of a listener (reaping, new limits, goodbye, draining) is
    asked of both.  It serves a twisted.web site (L{site}); L{mount} adds a
    resource beside the client and the doors (C{/metrics}).
    """

    kind = "web"

    def __init__(
        self,
        chat: Chat,
        clock: IReactorTime,
        max_line: int = 16384,
        idle_timeout: float = 180.0,
        *,
        server_name: str = "chatd.local",
        network: str = "chatd",
        motd: list[str] | None = None,
        origins: Iterable[str] = (),
        trusted: Iterable[Network] = (),
        static: str = STATIC,
        **limits: Any,
    ) -> None:
        self.irc = IRCFactory(
            chat,
            clock,
            max_line,
            idle_timeout,
            server_name=server_name,
            network=network,
            motd=motd,
            **limits,
        )
        self.json = ChatFactory(chat, clock, max_line, idle_timeout, **limits)
        super().__init__(chat, clock, max_line, idle_timeout, **limits)
        self.origins = Origins(origins)
        self.trusted: tuple[Network, ...] = tuple(trusted)
        #: open plain HTTP connections per address (L{http_admit})
        self._http_counts: dict[str, int] = {}
        #: HTTP connections refused, over the per-address limit
        self.http_refusals = BurstLog(
            clock,
            "refused an HTTP connection from {peer}: {reason} "
            "(further refusals are counted, not logged)",
            "refused {count} more HTTP connections",
            log,
        )
        #: refused WebSocket handshakes, logged once per burst
        self.handshake_refusals = BurstLog(
            clock,
            "refused a WebSocket from {peer}: {reason} "
            "(further refusals are counted, not logged)",
            "refused {count} more WebSocket handshakes",
            log,
        )
        self.irc_door = DoorFactory(self, "irc")
        self.json_door = DoorFactory(self, "json")
        self.root = Root(self, static)
        # HTTP timeouts on the listener's clock
        self.site = WebSite(self.root, timeout=HTTP_TIMEOUT, reactor=clock)

    def configure(self, origins: Iterable[str], trusted: Iterable[Network]) -> None:
        """New C{[web] origins} and C{[proxy] trusted} (a reload)."""
        self.origins = Origins(origins)
        self.trusted = tuple(trusted)

    def mount(self, name: str, resource: IResource | None) -> None:
        """
        Serve C{resource} at C{/name} (C{/metrics}: L{chatd.web.metrics}),
        or nothing there if it is None.
        """
        key = name.strip("/").encode("ascii")
        if resource is None:
            self.root.children.pop(key, None)
        else:
            self.root.putChild(key, resource)

    # the HTTP side

    def buildProtocol(self, addr: IAddress | None) -> Protocol | None:
        """
        An HTTP connection from C{addr}: the peer, or on a C{proxy:}
        endpoint the client its PROXY header names, which the WebSocket
        doors then take as the peer (L{chatd.net.proxy}).
        """
        protocol: Protocol | None = self.site.buildProtocol(addr)
        if isinstance(protocol, WebChannel):
            protocol.listener = self
            protocol.chatd_client = addr
        return protocol

    def http_admit(self, channel: WebChannel) -> bool:
        """
        Count a new HTTP connection under its address, or refuse it (503,
        closed) if that address has C{[limits] per_address} (C{--max-per-ip})
        open already.  Plain HTTP connections are counted apart from the
        sessions in the gate, with the same limit and exemptions: one that
        becomes a WebSocket (L{WebChannel.handed_over}) is counted by the
        gate as a session only, never twice.
        """
        gate = self.gate
        limit = 0 if gate is None else gate.limit.per_address
        address = channel.chatd_client or channel.transport.getPeer()  # type: ignore[union-attr]
        host = host_of(address)
        if gate is None or not limit or gate.exempt(host):
            return True
        key = address_key(host)
        count = self._http_counts.get(key, 0)
        if count >= limit:
            reason = f"too many connections from your address (at most {limit} at once)"
            self.http_refusals.refused(peer=format_peer(address), reason=reason)
            body = (reason + "\n").encode()
            transport: Any = channel.transport
            channel.persistent = False
            transport.write(
                b"HTTP/1.1 503 Service Unavailable\r\n"
                b"Content-Type: text/plain; charset=utf-8\r\n"
                b"Content-Length: " + str(len(body)).encode() + b"\r\n"
                b"Connection: close\r\n\r\n" + body
            )
            transport.loseConnection()
            return False
        self._http_counts[key] = count + 1
        channel.http_key = key
        return True

    def http_release(self, channel: WebChannel) -> None:
        """An HTTP connection counted by L{http_admit} is gone (or a WebSocket)."""
        key, channel.http_key = channel.http_key, None
        if key is None:
            return
        count = self._http_counts.pop(key, 0) - 1
        if count > 0:
            self._http_counts[key] = count

    def startFactory(self) -> None:
        self.site.doStart()

    def stopFactory(self) -> None:
        self.handshake_refusals.stop()
        self.http_refusals.stop()
        self.site.doStop()

    # what the service sets and asks of a listener, for both factories

    @property
    def factories(self) -> tuple[Listener, Listener]:
        return (self.irc, self.json)

    @property
    def connections(self) -> set[Connection]:
        """Every WebSocket session, IRC and JSON."""
        return self.irc.connections | self.json.connections

    @connections.setter
    def connections(self, value: set[Connection]) -> None:
        pass  # (Listener's own, unused: the sessions are the factories')

    @property
    def accounts(self) -> Accounts | None:
        return self.irc.accounts

    @accounts.setter
    def accounts(self, value: Accounts | None) -> None:
        self.irc.accounts = self.json.accounts = value

    @property
    def opers(self) -> Opers | None:
        return self.irc.opers

    @opers.setter
    def opers(self, value: Opers | None) -> None:
        self.irc.opers = self.json.opers = value

    @property
    def history(self) -> History | None:
        return self.irc.history

    @history.setter
    def history(self, value: History | None) -> None:
        self.irc.history = self.json.history = value

    @property
    def rehash(self) -> Any:
        return self.irc.rehash

    @rehash.setter
    def rehash(self, value: Any) -> None:
        self.irc.rehash = self.json.rehash = value

    def start_reaping(self) -> None:
        for factory in self.factories:
            factory.start_reaping()

    def stop_reaping(self) -> None:
        for factory in self.factories:
            factory.stop_reaping()

    def apply_limits(self, **limits: Any) -> None:
        for factory in self.factories:
            factory.apply_limits(**limits)
        self.max_line = limits["max_line"]
        self.idle_timeout = limits["idle_timeout"]

    def set_motd(self, motd: list[str] | None) -> None:
        self.irc.set_motd(motd)

    def say_goodbye(self) -> list[Connection]:
        self.stopping = True
        return [proto for factory in self.factories for proto in factory.say_goodbye()]

    def when_drained(self) -> Deferred[None]:
        d: Deferred[Any] = DeferredList([f.when_drained() for f in self.factories])
        return d.addCallback(lambda _: None)


__all__ = ["STATIC", "Healthz", "WebListener"]

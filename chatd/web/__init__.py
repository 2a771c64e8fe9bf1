"""
The web listener: one HTTP listener (L{chatd.web.site.WebListener}) that
serves the browser client's files, IRC and the JSON protocol over
WebSocket, and C{/healthz}; see docs/web.md.

A WebSocket connection is an existing session (L{chatd.irc.protocol.IRCProtocol},
L{chatd.jsonproto.session.JSONSession}) over another framing
(L{chatd.web.sessions}, L{chatd.web.transport}), not a third copy.
"""

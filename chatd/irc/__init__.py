"""
The IRC adapter: standard IRC clients (irssi, WeeChat, HexChat, bots) on
their own listener, sharing nicks and channels with every other client
through the core.

It speaks RFC 1459/2812 as modern clients use it (see
U{https://modern.ircdocs.horse}) with the IRCv3 capabilities in
L{chatd.irc.registration.CAPS}.  Twisted's C{twisted.words.protocols.irc}
provides the numerics' names.  L{message} is the wire format,
L{numerics} the replies, L{session} what every handler builds on, one
module per topic holds its handlers, L{protocol} composes them and
L{factory} listens.
"""

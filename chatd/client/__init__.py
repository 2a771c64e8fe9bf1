# -*- test-case-name: tests.test_client,tests.test_tls -*-
"""
The console client of chatd:
C{chatd-client [--nick NAME] [--account NAME [--password-file PATH]]
[--tls [--ca FILE | --insecure]] [HOST [PORT]]}.

Its layers, each testable on its own:

  - L{commands}: L{parse_input} turns a typed line into an action (a request
    for the server, a connect, a quit, help, or a complaint about the input).
  - L{render}: L{render} turns a line from the server into lines a person
    reads.  Both are pure functions.  Rendered lines keep the IRC formatting
    codes (bold, colours...) that message text, topics and reasons may carry;
    L{formatting} shows them with L{to_ansi} on a terminal or drops them with
    L{strip_formatting}, and both make every other control character visible.
  - L{session}: L{ChatClient} owns the connection (a L{ChatConnection}, in
    L{connection}), numbers requests so replies can be matched to them,
    queues typed lines until the server's C{welcome} (and then feeds them one
    reply at a time, so a piped script reads in order), keeps the nick, the
    joined channels and the current channel, and reconnects.
  - L{accounts}: the account, operator and registered channel commands,
    logging in with SCRAM-SHA-256 (L{scram}: the password is not sent, and
    the server's signature is checked) before the nick is taken, also with
    C{--account NAME} on connecting; passwords are drawn as C{*} and kept
    out of the input history.
  - L{tls}: with C{--tls} every connection, C{/connect}'s too, is made with
    TLS (L{TLS}).  The server's certificate is checked by default: it must
    chain to an authority the system trusts, or to one of the certificates of
    C{--ca FILE}, and be for the host name (or IP address) connected to.
    C{--insecure} turns the check off, for test setups with a self-signed
    certificate.  A failed handshake or check is one C{! not connected: ...}
    line, as a refused connection is.
  - The two front ends on standard input: L{terminal} (line editing and
    history, output above the input line) and L{piped} (plain lines, for
    scripts); L{cli} parses the options and starts the one that fits.
"""

from chatd.client.cli import main, parse_args
from chatd.client.commands import parse_input
from chatd.client.render import render
from chatd.client.session import ChatClient
from chatd.client.tls import TLS

__all__ = ["TLS", "ChatClient", "main", "parse_args", "parse_input", "render"]

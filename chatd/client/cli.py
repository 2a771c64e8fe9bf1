# -*- test-case-name: tests.test_client,tests.test_tls -*-
"""
The C{chatd-client} command: its options (L{parse_args}), L{main}, and
L{run}, which starts the client on standard input and output with the front
end that fits: L{chatd.client.terminal} on a terminal, L{chatd.client.piped}
in a pipe.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Mapping
from typing import Any, Callable

from chatd.client.connection import DEFAULT_HOST, DEFAULT_PORT
from chatd.client.formatting import display_for
from chatd.client.tls import TLS, load_certificates

#: The environment variable --account reads the password from when there is
#: no --password-file.
PASSWORD_VARIABLE = "CHATD_PASSWORD"


def parse_args(
    argv: list[str], environ: Mapping[str, str] | None = None
) -> argparse.Namespace:
    """
    The options; C{args.password} is the password of C{--account}, from
    C{--password-file} or C{CHATD_PASSWORD} in C{environ} (the process's
    environment by default), or None when neither gives one.
    """
    if environ is None:
        environ = os.environ
    parser = argparse.ArgumentParser(
        prog="chatd-client",
        description=(
            "The console client of chatd. Type /help once it runs. In a"
            " terminal it edits lines and keeps a history; with piped input it"
            " reads commands line by line, quits at the end of the input, and"
            " exits with status 1 if it could not send them all. In a terminal"
            " it reconnects by itself when the server goes away, taking its"
            " nick and channels again."
        ),
        epilog="example: printf '/nick alice\\n/join #general\\nhello\\n'"
        " | chatd-client 127.0.0.1 8123; over TLS, with the server's own"
        " self-signed certificate: chatd-client --tls --ca cert.pem localhost"
        " 8124",
    )
    parser.add_argument(
        "host", nargs="?", default=DEFAULT_HOST, help=f"default {DEFAULT_HOST}"
    )
    parser.add_argument(
        "port",
        nargs="?",
        type=int,
        default=DEFAULT_PORT,
        help=f"default {DEFAULT_PORT}",
    )
    parser.add_argument(
        "--nick",
        metavar="NAME",
        help="take this nick on connecting (default: none; /nick NAME takes one later)",
    )
    parser.add_argument(
        "--account",
        metavar="NAME",
        help="log in to this account on connecting (with SCRAM-SHA-256: the"
        " password is not sent), before taking the nick, which is NAME unless"
        " --nick says otherwise; the password comes from --password-file, else"
        f" from the {PASSWORD_VARIABLE} environment variable, else it is asked"
        " for on the terminal; with piped input, a failed login ends the"
        " client with status 1 before any line is sent",
    )
    parser.add_argument(
        "--password-file",
        metavar="PATH",
        help="with --account: the password is this file's first line",
    )
    parser.add_argument(
        "--no-format",
        action="store_true",
        help="show bold, colours and the other IRC formatting as plain text (so"
        " does a NO_COLOR environment variable, and output that is not a"
        " terminal)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS (so does /connect): the server's certificate"
        " must be signed by an authority the system trusts (or be in --ca)"
        " and be for HOST, else the client does not connect",
    )
    parser.add_argument(
        "--ca",
        metavar="FILE",
        help="with --tls: trust the certificates in this PEM file instead of"
        " the system's authorities, e.g. a test server's own self-signed"
        " certificate",
    )
    parser.add_argument(
        "--insecure",
        action="store_true",
        help="with --tls: do not check the server's certificate at all, for"
        " test setups with a self-signed certificate (--ca checks it)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.port < 65536:
        parser.error(f"not a port number: {args.port}")
    args.password = None
    if args.account is None:
        if args.password_file is not None:
            parser.error("--password-file goes with --account, which is not given")
    elif args.password_file is not None:
        try:
            args.password = read_password_file(args.password_file)
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else e
            parser.error(f"--password-file {args.password_file}: {why}")
    elif environ.get(PASSWORD_VARIABLE):
        args.password = environ[PASSWORD_VARIABLE]
    args.client_tls = None
    if not args.tls:
        for option, given in (("--insecure", args.insecure), ("--ca", args.ca)):
            if given:
                parser.error(f"{option} goes with --tls, which is not given")
        return args
    if args.insecure and args.ca is not None:
        parser.error("--insecure checks no certificate: it does not go with --ca")
    ca = None
    if args.ca is not None:
        try:
            ca = load_certificates(args.ca)
        except (OSError, ValueError) as e:
            why = e.strerror if isinstance(e, OSError) and e.strerror else e
            parser.error(f"--ca {args.ca}: {why}")
    args.client_tls = TLS(ca=ca, insecure=args.insecure)
    return args


def read_password_file(path: str) -> str:
    """
    The first line of the file at C{path}, without its line ending.

    @raise ValueError: when that line is empty or not UTF-8.
    @raise OSError: when the file cannot be read.
    """
    with open(path, "rb") as f:
        first = f.readline()
    try:
        password = first.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise ValueError("the password is not UTF-8 text") from None
    if not password:
        raise ValueError("the first line is empty: it should be the password")
    return password


def ask_password(
    account: str,
    interactive: bool,
    ask: Callable[[str], str] = getpass.getpass,
) -> str:
    """
    The password of C{--account} typed on the terminal, which does not show
    it.  Without a terminal, standard input is the script: say where the
    password can come from instead.

    @raise SystemExit: without a terminal, or when nothing is typed.
    """
    if not interactive:
        raise SystemExit(
            f"chatd-client: --account {account} needs its password: give"
            f" --password-file PATH or set {PASSWORD_VARIABLE} (standard input"
            " is the script)"
        )
    password = ask(f"password of the account {account}: ")
    if not password:
        raise SystemExit("chatd-client: no password given")
    return password


def main(argv: list[str] | None = None) -> None:
    """The C{chatd-client} command."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    login: dict[str, tuple[str, str]] = {}
    if args.account is not None:
        password = args.password
        if password is None:
            interactive = sys.stdin.isatty() and sys.stdout.isatty()
            password = ask_password(args.account, interactive)
        login["credentials"] = (args.account, password)
    sys.exit(
        run(
            args.host,
            args.port,
            formatting=not args.no_format,
            tls=args.client_tls,
            nick=args.nick or args.account,
            **login,
        )
    )


def run(
    host: str,
    port: int,
    reactor: Any = None,
    *,
    formatting: bool = True,
    tls: TLS | None = None,
    nick: str | None = None,
    credentials: tuple[str, str] | None = None,
) -> int:
    """
    Run the client on standard input and output; return the exit status.

    @param formatting: False (C{--no-format}) shows IRC formatting as plain
        text even on a terminal.
    @param tls: connect with TLS (C{--tls}), checking the server's
        certificate as it says; None for plain TCP.
    @param nick: the nick to take on connecting (C{--nick}), or None.
    @param credentials: the account and password to log in with on
        connecting, before the nick is taken (C{--account}), or None.
    """
    if reactor is None:
        from twisted.internet import reactor
    display = display_for(sys.stdout.isatty(), formatting, os.environ)
    stop = _stopper(reactor)
    if sys.stdin.isatty() and sys.stdout.isatty():
        from chatd.client.terminal import run_terminal

        return run_terminal(reactor, host, port, display, stop, tls, nick, credentials)
    from chatd.client.piped import run_piped

    return run_piped(reactor, host, port, display, stop, tls, nick, credentials)


def _stopper(reactor: Any) -> Callable[[], None]:
    def stop() -> None:
        if reactor.running:
            reactor.stop()

    return stop

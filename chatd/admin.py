# -*- test-case-name: tests.accounts.test_admin -*-
"""
C{chatd-admin}: the server's administration commands that need no server.

C{chatd-admin hash-password} reads a password on standard input and prints
its scrypt hash, for the config file's C{[[oper]]} tables, so that the
password itself is never written anywhere.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from collections.abc import Sequence
from contextlib import redirect_stderr, redirect_stdout
from typing import Callable, TextIO

from chatd.accounts.passwords import hash_password
from chatd.accounts.validation import PasswordError, check_password

#: Exit status for a refused input (the same as argparse's usage errors).
USAGE = 2


class AdminError(Exception):
    """A command that cannot go on; the message is for the person who ran it."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="chatd-admin",
        description="Administration commands for chatd that need no running server.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.add_parser(
        "hash-password",
        help="print the hash of a password read on standard input",
        description=(
            "Read a password on standard input and print its scrypt hash "
            "($scrypt$...), to put in the config file (an [[oper]] table's "
            "password key). On a terminal the password is asked for twice "
            "and not shown; otherwise the first line of standard input is "
            "the password (without its line ending). It must have 8 to 300 "
            "characters."
        ),
    )
    return parser


def read_password(stdin: TextIO, ask: Callable[[str], str]) -> str:
    """
    The password: asked twice with C{ask} (getpass) when C{stdin} is a
    terminal, else the first line of C{stdin} without its line ending.

    @raise AdminError: when the two typed passwords differ or none is given.
    """
    if stdin.isatty():
        password = ask("Password: ")
        if password and ask("Password again: ") != password:
            raise AdminError("the two passwords differ")
    else:
        password = stdin.readline()
        if password.endswith("\n"):
            password = password[:-1]
        if password.endswith("\r"):
            password = password[:-1]
    if not password:
        raise AdminError("no password given on standard input")
    return password


def _hash_password(
    stdin: TextIO, stdout: TextIO, stderr: TextIO, ask: Callable[[str], str]
) -> int:
    try:
        password = read_password(stdin, ask)
        check_password(password)
    except (AdminError, PasswordError) as e:
        print(f"chatd-admin hash-password: {e}", file=stderr)
        return USAGE
    except (EOFError, KeyboardInterrupt):
        print("chatd-admin hash-password: no password given", file=stderr)
        return USAGE
    print(hash_password(password), file=stdout)
    return 0


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    ask: Callable[[str], str] = getpass.getpass,
) -> int:
    """Run C{chatd-admin} with C{argv}; return the exit status."""
    stdin = sys.stdin if stdin is None else stdin
    stdout = sys.stdout if stdout is None else stdout
    stderr = sys.stderr if stderr is None else stderr
    parser = build_parser()
    try:
        with redirect_stdout(stdout), redirect_stderr(stderr):
            args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else USAGE
    if args.command == "hash-password":
        return _hash_password(stdin, stdout, stderr, ask)
    parser.print_usage(stderr)
    print("chatd-admin: a COMMAND is required (see --help)", file=stderr)
    return USAGE


if __name__ == "__main__":
    sys.exit(main())

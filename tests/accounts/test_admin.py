"""
C{chatd-admin} (chatd.admin): main() with fake standard streams, and once
as a real process.
"""

from __future__ import annotations

import io
import os
import secrets
import subprocess
import sys
import tempfile
from importlib.metadata import distribution
from typing import Callable

from twisted.trial.unittest import SynchronousTestCase

from chatd.accounts.passwords import is_password_hash, verify_password
from chatd.admin import main


def made_up() -> str:
    return "pw-" + secrets.token_urlsafe(12)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Run:
    def __init__(
        self,
        argv: list[str],
        stdin: io.StringIO,
        ask: Callable[[str], str] | None = None,
    ) -> None:
        self.stdout, self.stderr = io.StringIO(), io.StringIO()
        kwargs = {} if ask is None else {"ask": ask}
        self.status = main(
            argv, stdin=stdin, stdout=self.stdout, stderr=self.stderr, **kwargs
        )
        self.out, self.err = self.stdout.getvalue(), self.stderr.getvalue()


def never(prompt: str) -> str:
    raise AssertionError("getpass was called while stdin is not a terminal")


class HashPasswordTests(SynchronousTestCase):
    def test_piped(self) -> None:
        password = made_up()
        run = Run(["hash-password"], io.StringIO(password + "\n"), never)
        self.assertEqual((run.status, run.err), (0, ""))
        stored = run.out.rstrip("\n")
        self.assertEqual(run.out, stored + "\n")
        self.assertTrue(stored.startswith("$scrypt$ln=14,r=8,p=1$"), stored)
        self.assertTrue(is_password_hash(stored))
        self.assertTrue(verify_password(password, stored))
        self.assertNotIn(password, run.out)

    def test_first_line_only_without_its_line_ending(self) -> None:
        password = made_up()
        for text in (password, password + "\r\n", password + "\nsecond line\n"):
            run = Run(["hash-password"], io.StringIO(text), never)
            self.assertEqual(run.status, 0, run.err)
            self.assertTrue(verify_password(password, run.out.strip()), repr(text))

    def test_spaces_are_kept(self) -> None:
        password = f" {made_up()} "
        run = Run(["hash-password"], io.StringIO(password + "\n"))
        self.assertTrue(verify_password(password, run.out.strip()))
        self.assertFalse(verify_password(password.strip(), run.out.strip()))

    def test_empty(self) -> None:
        for text in ("", "\n", "\r\n", "\nsecond line\n"):
            run = Run(["hash-password"], io.StringIO(text), never)
            self.assertEqual(run.status, 2)
            self.assertEqual(run.out, "")
            self.assertEqual(
                run.err,
                "chatd-admin hash-password: no password given on standard input\n",
            )

    def test_too_short(self) -> None:
        run = Run(["hash-password"], io.StringIO("short\n"))
        self.assertEqual((run.status, run.out), (2, ""))
        self.assertIn("at least 8 characters", run.err)

    def test_terminal(self) -> None:
        password = made_up()
        prompts: list[str] = []

        def ask(prompt: str) -> str:
            prompts.append(prompt)
            return password

        run = Run(["hash-password"], Terminal(), ask)
        self.assertEqual((run.status, run.err), (0, ""))
        self.assertEqual(prompts, ["Password: ", "Password again: "])
        self.assertTrue(verify_password(password, run.out.strip()))

    def test_terminal_mismatch(self) -> None:
        answers = iter([made_up(), made_up()])
        run = Run(["hash-password"], Terminal(), lambda prompt: next(answers))
        self.assertEqual((run.status, run.out), (2, ""))
        self.assertIn("the two passwords differ", run.err)

    def test_terminal_empty(self) -> None:
        prompts: list[str] = []

        def ask(prompt: str) -> str:
            prompts.append(prompt)
            return ""

        run = Run(["hash-password"], Terminal(), ask)
        self.assertEqual((run.status, run.out), (2, ""))
        self.assertIn("no password given", run.err)
        self.assertEqual(prompts, ["Password: "])

    def test_terminal_interrupted(self) -> None:
        def ask(prompt: str) -> str:
            raise EOFError()

        run = Run(["hash-password"], Terminal(), ask)
        self.assertEqual((run.status, run.out), (2, ""))
        self.assertIn("no password given", run.err)


class UsageTests(SynchronousTestCase):
    def test_help(self) -> None:
        run = Run(["--help"], io.StringIO())
        self.assertEqual(run.status, 0)
        self.assertIn("usage: chatd-admin", run.out)
        self.assertIn("hash-password", run.out)

    def test_command_help(self) -> None:
        run = Run(["hash-password", "--help"], io.StringIO())
        self.assertEqual(run.status, 0)
        self.assertIn("standard input", run.out)
        self.assertIn("[[oper]]", run.out)

    def test_no_command(self) -> None:
        run = Run([], io.StringIO())
        self.assertEqual((run.status, run.out), (2, ""))
        self.assertIn("a COMMAND is required", run.err)

    def test_unknown_command(self) -> None:
        run = Run(["hash-pasword"], io.StringIO())
        self.assertEqual((run.status, run.out), (2, ""))
        self.assertIn("invalid choice", run.err)

    def test_console_script(self) -> None:
        scripts = {
            e.name: e.value
            for e in distribution("chatd").entry_points
            if e.group == "console_scripts" and e.name == "chatd-admin"
        }
        self.assertEqual(scripts, {"chatd-admin": "chatd.admin:main"})


class ProcessTests(SynchronousTestCase):
    def test_hash_password(self) -> None:
        password = made_up()
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        result = subprocess.run(
            [sys.executable, "-m", "chatd.admin", "hash-password"],
            input=password + "\n",
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tempfile.gettempdir(),
            env=env,
        )
        self.assertEqual((result.returncode, result.stderr), (0, ""))
        self.assertTrue(verify_password(password, result.stdout.strip()))

    def test_empty(self) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "chatd.admin", "hash-password"],
            input="",
            capture_output=True,
            text=True,
            timeout=60,
        )
        self.assertEqual((result.returncode, result.stdout), (2, ""))
        self.assertIn("no password given", result.stderr)

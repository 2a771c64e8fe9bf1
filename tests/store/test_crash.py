"""
Acknowledged means on disk: a writer killed with SIGKILL in the middle of
its account writes loses none that it had been told were written.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Generator
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.trial.unittest import TestCase

from chatd.store import SQLiteStore

from .crash_child import account

Steps = Generator["Deferred[Any]", Any, Any]

ROOT = Path(__file__).resolve().parent.parent.parent
#: Acknowledged writes to see before the kill.
ACKNOWLEDGED = 200
#: Seconds the child may take to acknowledge them.
DEADLINE = 30.0


def acknowledged_then_killed(path: str, count: int, deadline: float) -> list[int]:
    """
    Run the writer on C{path}, read the numbers it acknowledges until there
    are C{count}, kill it with SIGKILL, and return them.
    """
    pythonpath = [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(pythonpath))
    errors_path = f"{path}.stderr"
    with open(errors_path, "wb") as errors:
        child = subprocess.Popen(
            [sys.executable, "-m", "tests.store.crash_child", path],
            stdout=subprocess.PIPE,
            stderr=errors,
            env=env,
        )
    assert child.stdout is not None
    seen: list[int] = []
    buffer = b""
    ends = time.monotonic() + deadline
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(child.stdout, selectors.EVENT_READ)
            while len(seen) < count:
                left = ends - time.monotonic()
                if left <= 0 or not selector.select(left):
                    raise AssertionError(
                        f"the writer acknowledged {len(seen)} accounts in "
                        f"{deadline} s, not {count}"
                    )
                data = os.read(child.stdout.fileno(), 65536)
                if not data:
                    child.wait(5)
                    with open(errors_path, "rb") as errors:
                        said = errors.read()
                    raise AssertionError(
                        f"the writer exited ({child.returncode}) after "
                        f"{len(seen)} accounts: {said!r}"
                    )
                *lines, buffer = (buffer + data).split(b"\n")
                seen.extend(int(line) for line in lines)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(5)
        child.stdout.close()
    return seen


class SIGKILLTests(TestCase):
    timeout = DEADLINE * 2

    @inlineCallbacks
    def test_every_acknowledged_account_survives(self) -> Steps:
        directory = Path(self.mktemp()).resolve()
        directory.mkdir(parents=True)
        path = str(directory / "chatd.sqlite3")
        seen = acknowledged_then_killed(path, ACKNOWLEDGED, DEADLINE)
        self.assertGreaterEqual(len(seen), ACKNOWLEDGED)

        store = SQLiteStore(path)
        yield store.open()
        self.addCleanup(store.close)
        stored = {a.folded: a for a in (yield store.load_accounts())}
        for number in seen:
            expected = account(number)
            self.assertEqual(stored.get(expected.folded), expected, number)
        # Writes land in order: what is there is accounts 0 to n, n at least
        # the last acknowledged, each intact.
        self.assertEqual(
            sorted(stored.values(), key=lambda a: a.created_at),
            [account(n) for n in range(len(stored))],
        )

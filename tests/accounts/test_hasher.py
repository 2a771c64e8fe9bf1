"""
The bounded hashing pool (chatd.accounts.hasher): with a synchronous
runner, with a runner the test fires by hand, and once on a real thread pool.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from typing import Any, Callable

import cryptography
from twisted.internet import reactor
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatd.accounts.hasher import (
    Hasher,
    HasherBusy,
    ProcessPoolRunner,
    ThreadPoolService,
    scrypt_releases_gil,
    thread_pool_runner,
)
from chatd.accounts.passwords import dummy_hash, is_password_hash, verify_password
from chatd.accounts.scram import ScramCredentials, make_credentials

LN = 4


def made_up() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def synchronous(fn: Callable[..., Any], *args: object) -> Deferred[Any]:
    return maybeDeferred(fn, *args)


class Held:
    """A runner that keeps each call until the test runs it."""

    def __init__(self) -> None:
        self.calls: list[
            tuple[Callable[..., Any], tuple[object, ...], Deferred[Any]]
        ] = []

    def __call__(self, fn: Callable[..., Any], *args: object) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self.calls.append((fn, args, d))
        return d

    def run_one(self) -> None:
        fn, args, d = self.calls.pop(0)
        try:
            value = fn(*args)
        except Exception as e:
            d.errback(e)
        else:
            d.callback(value)


class SynchronousHasherTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.hasher = Hasher(synchronous, ln=LN)

    def test_hash_and_verify(self) -> None:
        password = made_up()
        stored = self.successResultOf(self.hasher.hash(password))
        self.assertTrue(is_password_hash(stored))
        self.assertIn(f"ln={LN},", stored)
        self.assertTrue(verify_password(password, stored))
        self.assertTrue(self.successResultOf(self.hasher.verify(password, stored)))
        self.assertFalse(self.successResultOf(self.hasher.verify(made_up(), stored)))
        self.assertEqual(self.hasher.pending, 0)

    def test_verify_without_an_account(self) -> None:
        held = Held()
        hasher = Hasher(held, ln=LN)
        d = hasher.verify(made_up(), None)
        self.assertEqual(hasher.pending, 1)
        [(fn, args, _)] = held.calls
        self.assertIs(fn, verify_password)
        self.assertEqual(args[1], dummy_hash(LN))
        held.run_one()
        self.assertFalse(self.successResultOf(d))
        self.assertEqual(hasher.pending, 0)

    def test_credentials(self) -> None:
        password = made_up()
        credentials = self.successResultOf(self.hasher.credentials(password))
        self.assertIsInstance(credentials, ScramCredentials)
        self.assertEqual(credentials.iterations, 4096)
        again = make_credentials(password, salt=credentials.salt)
        self.assertEqual(again, credentials)

    def test_iterations(self) -> None:
        hasher = Hasher(synchronous, iterations=5000)
        credentials = self.successResultOf(hasher.credentials(made_up()))
        self.assertEqual(credentials.iterations, 5000)

    def test_errors_are_passed_on(self) -> None:
        self.failureResultOf(self.hasher.hash("bad \udc80 text"), UnicodeEncodeError)
        self.assertEqual(self.hasher.pending, 0)


class BoundTests(SynchronousTestCase):
    def test_busy_at_once_past_max_pending(self) -> None:
        held = Held()
        hasher = Hasher(held, max_pending=2, ln=LN)
        first = hasher.hash(made_up())
        second = hasher.verify(made_up(), "$scrypt$nothing")
        self.assertEqual(hasher.pending, 2)
        busy = hasher.credentials(made_up())
        error = self.failureResultOf(busy, HasherBusy).value
        self.assertEqual(error.pending, 2)
        self.assertIn("2 password hashes are already waiting", str(error))
        self.assertEqual(len(held.calls), 2)
        # one finishes: there is room for one more
        held.run_one()
        self.assertTrue(is_password_hash(self.successResultOf(first)))
        self.assertEqual(hasher.pending, 1)
        third = hasher.credentials(made_up())
        self.failureResultOf(hasher.hash(made_up()), HasherBusy)
        held.run_one()
        held.run_one()
        self.assertFalse(self.successResultOf(second))
        self.assertIsInstance(self.successResultOf(third), ScramCredentials)
        self.assertEqual(hasher.pending, 0)

    def test_failures_free_their_place(self) -> None:
        held = Held()
        hasher = Hasher(held, max_pending=1)
        d = hasher.hash("bad \udc80 text")
        held.run_one()
        self.failureResultOf(d, UnicodeEncodeError)
        self.assertEqual(hasher.pending, 0)

    def test_runner_that_raises(self) -> None:
        def broken(fn: Callable[..., Any], *args: object) -> Deferred[Any]:
            raise RuntimeError("the pool is stopped")

        hasher = Hasher(broken, max_pending=1)
        self.failureResultOf(hasher.hash(made_up()), RuntimeError)
        self.assertEqual(hasher.pending, 0)

    def test_at_least_one(self) -> None:
        with self.assertRaises(ValueError):
            Hasher(synchronous, max_pending=0)


class ThreadPoolTests(TestCase):
    """A real pool: the hash runs in a chatd-hash thread, the result comes back."""

    def setUp(self) -> None:
        self.run, self.pool = thread_pool_runner(reactor)
        self.service = ThreadPoolService(self.pool)
        self.service.startService()
        self.addCleanup(self.service.stopService)

    def test_settings(self) -> None:
        self.assertEqual(self.pool.max, 2)
        self.assertEqual(self.pool.min, 0)
        self.assertEqual(self.pool.name, "chatd-hash")
        self.assertTrue(self.pool.started)

    def test_hash_in_a_thread(self) -> Deferred[None]:
        password = made_up()
        threads: list[str] = []

        def hash_here(fn: Callable[..., Any], *args: object) -> Deferred[Any]:
            def recorded(*args: object) -> Any:
                threads.append(threading.current_thread().name)
                return fn(*args)

            return self.run(recorded, *args)

        hasher = Hasher(hash_here, ln=LN)
        d = hasher.hash(password)

        def hashed(stored: str) -> Deferred[bool]:
            self.assertIs(threading.current_thread(), threading.main_thread())
            self.assertIn("chatd-hash", threads[0])
            return hasher.verify(password, stored)

        def verified(ok: bool) -> None:
            self.assertTrue(ok)
            self.assertEqual(len(threads), 2)
            self.assertEqual(hasher.pending, 0)

        return d.addCallback(hashed).addCallback(verified)

    def test_stop(self) -> None:
        service = ThreadPoolService(thread_pool_runner(reactor, max_threads=1)[1])
        service.startService()
        self.assertTrue(service.pool.started)
        self.assertEqual(service.pool.max, 1)
        service.stopService()
        self.assertFalse(service.pool.started)
        self.assertFalse(service.running)


def worker_pid() -> int:
    return os.getpid()


def busy_worker(pidfile: str) -> None:
    """Say which process this is, then stay busy far longer than any test."""
    with open(pidfile + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(pidfile + ".tmp", pidfile)
    time.sleep(120)


#: A server stand-in: hands L{busy_worker} to a hashing process and waits.
SERVER = """
import sys, time
from chatd.accounts.hasher import ProcessPoolRunner
from tests.accounts.test_hasher import busy_worker
class Reactor:
    def callFromThread(self, f, *a):
        pass
runner = ProcessPoolRunner(Reactor(), processes=1)
runner(busy_worker, sys.argv[1])
time.sleep(120)
"""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class ProcessPoolTests(TestCase):
    """Worker processes, for where scrypt holds the GIL (cryptography < 50)."""

    def setUp(self) -> None:
        self.runner = ProcessPoolRunner(reactor, processes=1)
        self.runner.startService()
        self.addCleanup(self.runner.stopService)

    def test_hash_in_another_process(self) -> Deferred[None]:
        hasher = Hasher(self.runner, ln=LN)
        password = made_up()

        def hashed(stored: str) -> Deferred[bool]:
            self.assertTrue(is_password_hash(stored))
            return hasher.verify(password, stored)

        def verified(ok: bool) -> Deferred[int]:
            self.assertTrue(ok)
            self.assertEqual(hasher.pending, 0)
            return self.runner(worker_pid)

        def ran_in(pid: int) -> None:
            self.assertNotEqual(pid, os.getpid())

        d = hasher.hash(password)
        return d.addCallback(hashed).addCallback(verified).addCallback(ran_in)

    def test_errors_come_back(self) -> Deferred[None]:
        d = Hasher(self.runner).hash("bad \udc80 text")
        return self.assertFailure(d, UnicodeEncodeError).addCallback(lambda _: None)

    def test_stopped(self) -> None:
        runner = ProcessPoolRunner(reactor)
        runner.startService()
        runner.stopService()
        self.failureResultOf(Hasher(runner).hash(made_up()), RuntimeError)


class OrphanTests(SynchronousTestCase):
    """A hashing process does not outlive a server that was SIGKILLed."""

    if not sys.platform.startswith("linux"):
        skip = "the kernel's parent-death signal is Linux's"

    def test_worker_dies_with_server(self) -> None:
        pidfile = os.path.abspath(self.mktemp() + "-worker.pid")
        root = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
        server = subprocess.Popen([sys.executable, "-c", SERVER, pidfile], cwd=root)
        self.addCleanup(server.wait)
        self.addCleanup(server.kill)
        deadline = time.monotonic() + 60
        while not os.path.exists(pidfile) and time.monotonic() < deadline:
            self.assertIsNone(server.poll(), "the stand-in server died")
            time.sleep(0.05)
        with open(pidfile) as f:
            worker = int(f.read())
        self.addCleanup(lambda: alive(worker) and os.kill(worker, signal.SIGKILL))

        server.kill()
        server.wait()
        deadline = time.monotonic() + 10
        while alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        # Without the parent-death signal it would sleep on for two minutes.
        self.assertFalse(alive(worker))


class ReleasesGilTests(SynchronousTestCase):
    def test_by_version(self) -> None:
        for version, expected in [
            ("43.0.3", False),
            ("49.0.0", False),
            ("50.0.0", True),
            ("51.0.1", True),
            ("3.4.8", False),
            ("dev", False),
        ]:
            self.patch(cryptography, "__version__", version)
            self.assertEqual(scrypt_releases_gil(), expected, version)

# -*- test-case-name: tests.accounts.test_hasher -*-
"""
Password hashing off the reactor thread, bounded: a scrypt hash takes tens
of milliseconds and 16 MiB, so a storm of logins must neither stall the chat
nor queue unbounded work.  L{Hasher} runs each hash through an injected
C{run(fn, *args) -> Deferred} and refuses at once, with L{HasherBusy}, when
C{max_pending} hashes are already waiting or running.

Two runs for production: L{thread_pool_runner}, where scrypt lets go of the
GIL (C{cryptography} 50 and later), and L{ProcessPoolRunner}, where it does
not (older releases, so PyPy 3.9 on 43: 20 hashes in threads stopped the
reactor for 0.6 s at a time, in processes for 14 ms at most).  See
L{scrypt_releases_gil}.  Tests pass a synchronous call.
"""

from __future__ import annotations

import ctypes
import functools
import multiprocessing
import multiprocessing.pool
import os
import signal
import sys
from typing import Any, Callable, TypeVar

import cryptography
from twisted.application.service import Service
from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IReactorFromThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from chatd.accounts.passwords import (
    DEFAULT_LN,
    dummy_hash,
    hash_password,
    verify_password,
)
from chatd.accounts.scram import DEFAULT_ITERATIONS, ScramCredentials, make_credentials

#: From <linux/prctl.h>: the signal a process gets when its parent dies.
PR_SET_PDEATHSIG = 1

#: C{run(fn, *args)}: call C{fn(*args)} somewhere and fire with its result.
Run = Callable[..., "Deferred[Any]"]

_T = TypeVar("_T")

#: Threads hashing at once: each scrypt hash takes a core and 16 MiB.
MAX_THREADS = 2
MAX_PENDING = 64


class HasherBusy(Exception):
    """Too many hashes are waiting already: the caller should refuse, not queue."""

    def __init__(self, pending: int) -> None:
        super().__init__(
            f"{pending} password hashes are already waiting: try again later"
        )
        self.pending = pending


class Hasher:
    """
    Hash and verify passwords and make SCRAM credentials through C{run},
    at most C{max_pending} at a time (waiting and running together).
    """

    def __init__(
        self,
        run: Run,
        max_pending: int = MAX_PENDING,
        *,
        ln: int = DEFAULT_LN,
        iterations: int = DEFAULT_ITERATIONS,
    ) -> None:
        if max_pending < 1:
            raise ValueError("a Hasher needs room for at least one hash")
        self._run = run
        self.max_pending = max_pending
        self.ln = ln
        self.iterations = iterations
        self._pending = 0

    @property
    def pending(self) -> int:
        """Hashes handed to C{run} that have not finished."""
        return self._pending

    def _submit(self, fn: Callable[..., _T], *args: object) -> Deferred[_T]:
        if self._pending >= self.max_pending:
            return fail(HasherBusy(self._pending))
        self._pending += 1
        try:
            d: Deferred[_T] = self._run(fn, *args)
        except BaseException:
            self._pending -= 1
            return fail()
        d.addBoth(self._finished)
        return d

    def _finished(self, result: _T) -> _T:
        self._pending -= 1
        return result

    def hash(self, password: str) -> Deferred[str]:
        """A new C{$scrypt$} hash of C{password}."""
        return self._submit(functools.partial(hash_password, ln=self.ln), password)

    def verify(self, password: str, stored: str | None) -> Deferred[bool]:
        """
        Whether C{password} matches the C{$scrypt$} hash C{stored}.  With
        None (no such account) a hash of the same cost is spent all the
        same, and the answer is False: timing tells no stranger which
        accounts exist.
        """
        if stored is None:
            d = self._submit(verify_password, password, dummy_hash(self.ln))
            return d.addCallback(lambda _: False)
        return self._submit(verify_password, password, stored)

    def credentials(self, password: str) -> Deferred[ScramCredentials]:
        """New SCRAM-SHA-256 credentials for C{password}."""
        return self._submit(make_credentials, password, self.iterations)


def scrypt_releases_gil() -> bool:
    """
    Whether this C{cryptography} lets other threads run while it derives
    a scrypt key (measured: 50.0 does, 43 to 49 do not), i.e. whether
    L{thread_pool_runner} keeps the reactor free, or L{ProcessPoolRunner}
    is needed.
    """
    major = cryptography.__version__.split(".", 1)[0]
    return major.isdigit() and int(major) >= 50


def thread_pool_runner(
    reactor: IReactorFromThreads, max_threads: int = MAX_THREADS
) -> tuple[Run, ThreadPool]:
    """
    A C{run} for L{Hasher} on a thread pool of its own (not the reactor's,
    which name resolution and others share), and that pool.  The pool is
    not started: whoever builds the server starts and stops it, e.g. with
    L{ThreadPoolService} under the server's MultiService.
    """
    pool = ThreadPool(minthreads=0, maxthreads=max_threads, name="chatd-hash")
    return functools.partial(deferToThreadPool, reactor, pool), pool


class ThreadPoolService(Service):
    """Starts a thread pool with the service and stops (joins) it with it."""

    def __init__(self, pool: ThreadPool) -> None:
        self.pool = pool

    def startService(self) -> None:
        super().startService()
        self.pool.start()

    def stopService(self) -> Deferred[None] | None:
        # Waits for the hashes under way (a few tens of ms each) to finish.
        self.pool.stop()
        super().stopService()
        return None


def die_with_parent(parent: int) -> None:
    """
    Run in each hashing process as it starts: on Linux, ask the kernel to
    kill it when the server dies, however it dies.  Without this a worker
    outlives a server that was SIGKILLed, finishes the hash it was given,
    and prints a C{BrokenPipeError} traceback into the server's log as it
    tries to hand the result to nobody.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - no prctl
            pass
    if os.getppid() != parent:
        # The server died before the request above took effect.
        os._exit(0)


class ProcessPoolRunner(Service):
    """
    A C{run} for L{Hasher} on worker processes, and the Service that stops
    them.  For where scrypt holds the GIL: C{cryptography} before 50 (and
    so PyPy 3.9, which stays on 43) keeps it for the whole derivation, so a
    hash in a thread stops the reactor as long as one on the reactor would.

    The workers start with the first hash, by C{spawn} (no fork of a process
    that has threads; the main module must not start a server on import, as
    twistd's does not).  C{multiprocessing.Pool} rather than
    C{concurrent.futures}: Debian's PyPy 3.9 has a ProcessPoolExecutor that
    fails with C{spawn}.  A hash whose worker dies never answers.
    """

    def __init__(self, reactor: IReactorFromThreads, processes: int = MAX_THREADS):
        self._reactor = reactor
        self.processes = processes
        self._pool: multiprocessing.pool.Pool | None = None
        self._closed = False

    def __call__(self, fn: Callable[..., _T], *args: object) -> Deferred[_T]:
        if self._closed:
            raise RuntimeError("the hashing processes are shut down")
        if self._pool is None:
            context = multiprocessing.get_context("spawn")
            self._pool = context.Pool(
                self.processes, initializer=die_with_parent, initargs=(os.getpid(),)
            )
        d: Deferred[_T] = Deferred()
        call = self._reactor.callFromThread
        self._pool.apply_async(
            fn,
            args,
            callback=lambda result: call(d.callback, result),
            error_callback=lambda error: call(d.errback, error),
        )
        return d

    def stopService(self) -> Deferred[None] | None:
        # Hashes still under way or queued are dropped: the server is stopping.
        self._closed = True
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
        super().stopService()
        return None

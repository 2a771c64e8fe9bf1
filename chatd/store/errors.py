# -*- test-case-name: tests.store.test_contract -*-
"""
What can go wrong in the store, as exceptions a caller can tell apart.

Every failure a store's Deferred delivers is a L{StoreError}: the expected
ones as the subclasses below, and anything else the database or its driver
raised wrapped in a plain L{StoreError} that names what was being done.
"""

from __future__ import annotations


class StoreError(Exception):
    """The store could not do what it was asked."""


class AccountExists(StoreError):
    """An account with that folded name is already registered."""


class NoSuchAccount(StoreError):
    """No account has that folded name."""


class NoSuchChannel(StoreError):
    """No registered channel has that folded name."""


class SchemaTooNew(StoreError):
    """The database was written by a newer chatd than this one."""


class StoreUnavailable(StoreError):
    """
    The database could not be opened or reached; the message names it (a
    URL without its password, or a path) and says why.
    """


class DuplicateMessage(StoreError):
    """A history item's msgid is already stored; nothing of its batch was."""

# -*- test-case-name: tests.accounts.test_opers -*-
"""
Server operators: the C{[[oper]]} blocks of the config file, and checking
an C{OPER name password} against them.

A block's password is a hash (C{chatd-admin hash-password} prints one), so
the config file holds no password; checking it runs off the reactor thread
in the accounts' hashing pool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Protocol

from twisted.internet.defer import Deferred, fail

from chatd.core.errors import ChatError
from chatd.core.modes import compile_mask
from chatd.log import logger

if TYPE_CHECKING:
    from collections.abc import Iterable

    from chatd.core.chat import Chat
    from chatd.core.model import User

log = logger(__name__)


class OperBlock(Protocol):
    """One C{[[oper]]} table: what the config gives (see L{chatd.config})."""

    @property
    def name(self) -> str: ...
    @property
    def password(self) -> str: ...
    @property
    def hostmask(self) -> str: ...


class Opers:
    """
    The operator blocks, by name.  C{verify(password, hash)} checks a
    password against a hash and may finish later (the hashing pool).
    """

    def __init__(
        self,
        blocks: Iterable[OperBlock],
        verify: Callable[[str, str], Deferred[bool]],
    ) -> None:
        self.verify = verify
        self.blocks: dict[str, OperBlock] = {}
        self.replace(blocks)

    def replace(self, blocks: Iterable[OperBlock]) -> None:
        """Take the blocks of a (re)loaded config file."""
        self.blocks = {b.name: b for b in blocks}

    def reload(self, blocks: Iterable[OperBlock], chat: Chat) -> None:
        """
        Take the blocks of a reloaded config file, and take operator status
        from the connected operators whose block is gone, has a new
        password, or no longer admits them (L{revocation}): removing an
        operator from the file takes effect at once, as on ergo.
        """
        before = self.blocks
        self.replace(blocks)
        for user in list(chat.opers):
            why = self.revocation(user, before.get(user.oper or ""))
            if why is not None:
                chat.revoke_oper(user, why)

    def revocation(self, user: User, before: OperBlock | None) -> str | None:
        """
        Why C{user}, operator by the block C{before} (as it was when they
        became one), is one no longer under the present blocks, or None if
        they still are: the block is gone, has another password (as after a
        leak: they must C{OPER} again), or no longer admits their mask.
        """
        name = user.oper
        if name is None:
            return None
        block = self.blocks.get(name)
        if block is None:
            return f"the operator block {name} is no longer in the config"
        if before is not None and block.password != before.password:
            return f"the operator block {name} has a new password: OPER again"
        if not compile_mask(block.hostmask).fullmatch(user.folded_mask):
            return f"the operator block {name} no longer admits {user.mask}"
        return None

    def __len__(self) -> int:
        return len(self.blocks)

    def check(self, user: User, name: str, password: str) -> Deferred[str]:
        """
        The block's name if C{user} may be operator C{name} with
        C{password}; else a L{ChatError}: C{oper_no_host} when no block of
        that name admits the user's C{nick!user@host} (IRC's 491: it does not
        say whether the name exists), C{oper_bad_password} when the password
        is wrong (464).
        """
        block = self.blocks.get(name)
        if block is None or not compile_mask(block.hostmask).fullmatch(
            user.folded_mask
        ):
            log.warn(
                "refused OPER {name} from {nick} ({mask}): no block admits them",
                name=name,
                nick=user.nick,
                mask=user.mask,
            )
            return fail(
                ChatError("oper_no_host", "no operator block matches your host")
            )

        def checked(ok: bool) -> str:
            if not ok:
                log.warn(
                    "refused OPER {name} from {nick} ({mask}): wrong password",
                    name=name,
                    nick=user.nick,
                    mask=user.mask,
                )
                raise ChatError("oper_bad_password", "wrong operator password")
            return block.name

        return self.verify(password, block.password).addCallback(checked)

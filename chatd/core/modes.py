# -*- test-case-name: tests.core.test_modes -*-
"""
Channel modes: IRC's letters, the names the JSON protocol gives them, a
channel's current modes, and C{nick!user@host} masks for its lists.

Plain code: no rule here decides who may change what (that is
L{chatd.core.policy} and L{chatd.core.chat}); this module says what a mode
change means and whether its parameter is valid.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Callable, NamedTuple

from chatd.core.errors import ChatError
from chatd.core.names import fold

if TYPE_CHECKING:
    from chatd.core.model import Membership, User

#: Modes without a parameter: letter -> name.
FLAGS = {
    "i": "invite_only",
    "m": "moderated",
    "n": "no_external",
    "s": "secret",
    "t": "topic_ops",
}
#: Modes with a parameter when set (the key also when unset, as in IRC).
SETTINGS = {"k": "key", "l": "limit"}
#: List modes: letter -> name.
LISTS = {"b": "ban", "e": "except", "I": "invite_except"}
#: Member privileges, highest first, with the prefix IRC shows for each.
PRIVILEGES = {"o": "op", "v": "voice"}
PREFIXES = {"o": "@", "v": "+"}

NAMES = {**FLAGS, **SETTINGS, **LISTS, **PRIVILEGES}
LETTERS = {name: letter for letter, name in NAMES.items()}

#: The modes a new channel starts with, as in most IRC servers.
DEFAULT_FLAGS = frozenset("nt")
#: Entries in each of a channel's lists.
LIST_MAX = 100
KEY_MAX = 32
LIMIT_MAX = 1_000_000
MASK_MAX = 200

#: RPL_ISUPPORT's CHANMODES: lists, always-parameter, set-parameter, flags.
CHANMODES = "beI,k,l," + "".join(sorted(FLAGS))
ISUPPORT_PREFIX = "(ov)@+"


class Change(NamedTuple):
    """One mode change: C{mode} is IRC's letter, C{param} its argument."""

    mode: str
    adding: bool
    param: str | None = None

    @property
    def name(self) -> str:
        return NAMES[self.mode]


class ListEntry(NamedTuple):
    """A mask on a ban, exception or invite-exception list."""

    mask: str
    set_by: str
    set_at: float
    pattern: re.Pattern[str]


class ChannelModes:
    """
    A channel's modes: C{flags} holds the letters set among L{FLAGS};
    C{key} and C{limit} are None when unset; C{lists} maps C{b}, C{e} and
    C{I} to their entries, oldest first.
    """

    __slots__ = ("flags", "key", "limit", "lists")

    def __init__(self) -> None:
        self.flags: set[str] = set(DEFAULT_FLAGS)
        self.key: str | None = None
        self.limit: int | None = None
        self.lists: dict[str, list[ListEntry]] = {"b": [], "e": [], "I": []}

    def summary(self, show_key: bool = True) -> list[Change]:
        """
        The modes set, as changes that would set them (flags in letter
        order, then key and limit); without C{show_key} the key shows as
        C{*}, as servers show it to non-members.
        """
        changes = [Change(letter, True) for letter in sorted(self.flags)]
        if self.key is not None:
            changes.append(Change("k", True, self.key if show_key else "*"))
        if self.limit is not None:
            changes.append(Change("l", True, str(self.limit)))
        return changes


def mode_letter(mode: str) -> str:
    """IRC's letter for C{mode}, given as a letter or a name."""
    if mode in NAMES:
        return mode
    letter = LETTERS.get(mode)
    if letter is None:
        raise ChatError("unknown_mode", f"there is no channel mode {mode!r}")
    return letter


def check_key(key: str) -> str:
    """A valid channel key: 1 to 32 printable characters, no space or comma."""
    if (
        not key
        or len(key) > KEY_MAX
        or any(c in " ,:" or not c.isprintable() for c in key)
    ):
        raise ChatError(
            "bad_mode_param",
            f"a channel key is 1 to {KEY_MAX} printable characters without "
            "spaces, commas or colons",
        )
    return key


def check_limit(value: str | int) -> int:
    """A valid member limit: a whole number from 1 to a million."""
    if isinstance(value, bool):
        value = -1
    if isinstance(value, str):
        value = int(value) if value.isdigit() and value.isascii() else -1
    if not 0 < value <= LIMIT_MAX:
        raise ChatError(
            "bad_mode_param",
            f"a member limit is a whole number from 1 to {LIMIT_MAX}",
        )
    return value


_BAD_MASK = re.compile(r"[\s\x00-\x1f\x7f,]")


def normalize_mask(text: str) -> str:
    """
    C{text} as a full C{nick!user@host} glob: C{bob} is C{bob!*@*},
    C{~b@host} is C{*!~b@host}, C{bob!~b} is C{bob!~b@*}, and a bare host
    (with a dot or a colon) is C{*!*@host}.  C{*} and C{?} are wildcards.
    C{$a:name} (a glob too) covers whoever is logged in to the account
    C{name}, on any nick or host.
    """
    if not text or len(text) > MASK_MAX or _BAD_MASK.search(text):
        raise ChatError(
            "bad_mask",
            f"{text!r} is not a mask: nick!user@host, 1 to {MASK_MAX} characters "
            "without spaces, commas or control characters (* and ? are wildcards)",
        )
    if text.startswith("$a:"):
        account = text[3:]
        if not account or any(c in "!@$" for c in account):
            raise ChatError(
                "bad_mask", f"{text!r} is not an account mask: $a:accountname"
            )
        return text
    nick, bang, rest = text.partition("!")
    if bang:
        user, at, host = rest.partition("@")
        if not at:
            host = "*"
    elif "@" in text:
        nick = "*"
        user, _, host = text.partition("@")
    elif "." in text or ":" in text:
        nick, user, host = "*", "*", text
    else:
        user, host = "*", "*"
    if "!" in user or "@" in host or "!" in host:
        raise ChatError("bad_mask", f"{text!r} is not a mask: nick!user@host")
    return f"{nick or '*'}!{user or '*'}@{host or '*'}"


def compile_mask(mask: str) -> re.Pattern[str]:
    """A pattern that matches the folded C{nick!user@host}s C{mask} covers."""
    parts = (
        ".*" if c == "*" else "." if c == "?" else re.escape(c) for c in fold(mask)
    )
    return re.compile("".join(parts), re.DOTALL)


def matches(
    entries: list[ListEntry], folded_mask: str, folded_account: str = ""
) -> bool:
    """
    Whether any entry covers C{folded_mask} (a user's folded mask) or, for
    an account mask (C{$a:name}), C{folded_account} (C{$a:} and the folded
    account name of a logged-in user).
    """
    if folded_account:
        return any(
            e.pattern.fullmatch(folded_mask) or e.pattern.fullmatch(folded_account)
            for e in entries
        )
    return any(entry.pattern.fullmatch(folded_mask) for entry in entries)


def is_privilege(letter: str) -> bool:
    return letter in PRIVILEGES


def takes_param(letter: str, adding: bool) -> bool:
    """Whether a change to C{letter} needs a parameter (as IRC parses it)."""
    return (
        letter in LISTS
        or letter in PRIVILEGES
        or letter == "k"
        or (letter == "l" and adding)
    )


class ModePlan:
    """
    What a series of changes would make of a channel's modes, worked out
    on copies so that nothing changes until L{apply}: C{planned} holds the
    changes that change something, with their parameters as stored (a
    full mask, a nick as its owner spells it, the old key for C{-k}).
    """

    def __init__(self, channel: str, modes: ChannelModes, setter: str, now: float):
        self.channel = channel
        self.setter = setter
        self.now = now
        self.flags = set(modes.flags)
        self.key, self.limit = modes.key, modes.limit
        self.lists = {letter: list(entries) for letter, entries in modes.lists.items()}
        self.privileges: dict[tuple[User, str], bool] = {}
        self.planned: list[Change] = []

    def add(self, change: Change, member_named: Callable[[str], Membership]) -> None:
        """
        Plan C{change}, or raise the L{ChatError} that refuses it (and plan
        nothing for it).  C{member_named} finds a member by nick, or raises.
        """
        letter = mode_letter(change.mode)
        adding, param = change.adding, change.param
        if letter in FLAGS:
            if (letter in self.flags) != adding:
                (self.flags.add if adding else self.flags.discard)(letter)
                self.planned.append(Change(letter, adding))
        elif letter == "k":
            self._key(adding, param)
        elif letter == "l":
            self._limit(adding, param)
        elif letter in LISTS:
            self._list(letter, adding, param)
        else:
            if param is None:
                raise ChatError("bad_mode_param", f"+{letter} needs a nick")
            target = member_named(param)
            held = self.privileges.get(
                (target.user, letter), target.op if letter == "o" else target.voice
            )
            if held != adding:
                self.privileges[(target.user, letter)] = adding
                self.planned.append(Change(letter, adding, target.user.nick or param))

    def _key(self, adding: bool, param: str | None) -> None:
        if not adding:
            if self.key is not None:
                self.planned.append(Change("k", False, self.key))
                self.key = None
            return
        if param is None:
            raise ChatError("bad_mode_param", "+k needs a key")
        param = check_key(param)
        if self.key is not None and self.key != param:
            raise ChatError(
                "key_set", f"{self.channel} has a key already: unset it first"
            )
        if self.key != param:
            self.key = param
            self.planned.append(Change("k", True, param))

    def _limit(self, adding: bool, param: str | None) -> None:
        if not adding:
            if self.limit is not None:
                self.limit = None
                self.planned.append(Change("l", False))
            return
        if param is None:
            raise ChatError("bad_mode_param", "+l needs a limit")
        value = check_limit(param)
        if value != self.limit:
            self.limit = value
            self.planned.append(Change("l", True, str(value)))

    def _list(self, letter: str, adding: bool, param: str | None) -> None:
        if param is None:
            raise ChatError("bad_mask", f"+{letter} needs a mask")
        mask = normalize_mask(param)
        entries = self.lists[letter]
        folded = fold(mask)
        found = next((e for e in entries if fold(e.mask) == folded), None)
        if adding and found is None:
            if len(entries) >= LIST_MAX:
                raise ChatError(
                    "list_full",
                    f"the {LISTS[letter]} list of {self.channel} is full "
                    f"({LIST_MAX} entries)",
                )
            entries.append(ListEntry(mask, self.setter, self.now, compile_mask(mask)))
            self.planned.append(Change(letter, True, mask))
        elif not adding and found is not None:
            entries.remove(found)
            self.planned.append(Change(letter, False, found.mask))

    def apply(self, modes: ChannelModes, members: dict[User, Membership]) -> None:
        """Make the plan the channel's modes and its members' privileges."""
        modes.flags = self.flags
        modes.key, modes.limit = self.key, self.limit
        modes.lists = self.lists
        for (user, letter), value in self.privileges.items():
            if letter == "o":
                members[user].op = value
            else:
                members[user].voice = value

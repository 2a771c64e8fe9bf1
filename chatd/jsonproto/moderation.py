# -*- test-case-name: tests.test_protocol_moderation -*-
"""
The JSON protocol's channel moderation: modes, privileges, kicks, bans and
invitations.  Requests are read and checked here, in this protocol's terms
(modes by name, typed values); the rules are the core's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from chatd.core import Change, ChatError, User, check_channel, fold
from chatd.core.modes import (
    FLAGS,
    LISTS,
    NAMES,
    PRIVILEGES,
    SETTINGS,
    check_key,
    check_limit,
    normalize_mask,
)
from chatd.jsonproto import codec
from chatd.jsonproto.args import arg

if TYPE_CHECKING:
    from collections.abc import Iterable

    from chatd.core import Membership
    from chatd.jsonproto.lines import ChatFactory

#: The modes C{mode} sets and unsets, by name.  Lists and privileges have
#: their own commands, named when C{mode} is asked for them.
MODE_NAMES = {name: letter for letter, name in {**FLAGS, **SETTINGS}.items()}
DEDICATED = {
    **{name: f'the "{name}" and "de{name}" commands' for name in PRIVILEGES.values()},
    **{
        name: 'the "ban" and "unban" commands'
        + ("" if name == "ban" else f' with "list":"{name}"')
        for name in LISTS.values()
    },
}
#: The C{list} argument of ban, unban and bans: IRC's list letters by name.
LIST_LETTERS = {name: letter for letter, name in LISTS.items()}


class Moderation:
    """The moderation commands of L{chatd.jsonproto.session.JSONSession}."""

    if TYPE_CHECKING:
        factory: ChatFactory
        user: User | None

    def do_mode(self, request: codec.Request) -> bytes:
        name = arg(request, "channel")
        changes = _mode_changes(request)
        chat = self.factory.chat
        user = self.user
        assert user is not None
        if changes is None:
            channel, summary = chat.modes(user, name)
            return codec.ok(
                "mode",
                request.request_id,
                channel=channel.name,
                modes=_modes(summary),
            )
        now = self.factory.clock.seconds()
        applied, _ = chat.set_modes(user, name, changes, now)
        channel, summary = chat.modes(user, name)
        return codec.ok(
            "mode",
            request.request_id,
            channel=channel.name,
            changes=[codec.mode_change(c) for c in applied],
            modes=_modes(summary),
        )

    def _privilege(self, request: codec.Request, letter: str, adding: bool) -> bytes:
        """C{op}, C{deop}, C{voice}, C{devoice}."""
        name = arg(request, "channel")
        nick = arg(request, "nick")
        now = self.factory.clock.seconds()
        chat = self.factory.chat
        applied, _ = chat.set_modes(
            self.user,  # type: ignore[arg-type]
            name,
            [Change(letter, adding, nick)],
            now,
        )
        channel = chat.find_channel(name)
        target = chat.find_user(nick)
        assert channel is not None and target is not None
        return codec.ok(
            request.cmd or "",
            request.request_id,
            channel=channel.name,
            nick=target.nick,
            changes=[codec.mode_change(c) for c in applied],
        )

    def do_op(self, request: codec.Request) -> bytes:
        return self._privilege(request, "o", True)

    def do_deop(self, request: codec.Request) -> bytes:
        return self._privilege(request, "o", False)

    def do_voice(self, request: codec.Request) -> bytes:
        return self._privilege(request, "v", True)

    def do_devoice(self, request: codec.Request) -> bytes:
        return self._privilege(request, "v", False)

    def do_kick(self, request: codec.Request) -> bytes:
        name = arg(request, "channel")
        nick = arg(request, "nick")
        reason = arg(request, "reason", "")
        now = self.factory.clock.seconds()
        kicked = self.factory.chat.kick(self.user, name, nick, reason, now)  # type: ignore[arg-type]
        return codec.ok(
            "kick",
            request.request_id,
            channel=kicked.channel,
            nick=kicked.nick,
            reason=kicked.reason,
        )

    def _ban(self, request: codec.Request, adding: bool) -> bytes:
        """C{ban} and C{unban}: a mask onto or off one of the lists."""
        name = arg(request, "channel")
        text = arg(request, "mask")
        list_name, letter = _list_arg(request)
        check_channel(name)
        mask = normalize_mask(text)
        now = self.factory.clock.seconds()
        chat = self.factory.chat
        applied, _ = chat.set_modes(
            self.user,  # type: ignore[arg-type]
            name,
            [Change(letter, adding, mask)],
            now,
        )
        channel = chat.find_channel(name)
        assert channel is not None
        if applied:
            mask = applied[0].param or mask
        else:  # there already, or not there: as stored, if it is
            folded = fold(mask)
            for entry in channel.modes.lists[letter]:
                if fold(entry.mask) == folded:
                    mask = entry.mask
        return codec.ok(
            request.cmd or "",
            request.request_id,
            channel=channel.name,
            list=list_name,
            mask=mask,
            changes=[codec.mode_change(c) for c in applied],
        )

    def do_ban(self, request: codec.Request) -> bytes:
        return self._ban(request, True)

    def do_unban(self, request: codec.Request) -> bytes:
        return self._ban(request, False)

    def do_bans(self, request: codec.Request) -> bytes:
        name = arg(request, "channel")
        list_name, letter = _list_arg(request)
        chat = self.factory.chat
        entries = chat.list_entries(self.user, name, letter)  # type: ignore[arg-type]
        channel = chat.find_channel(name)
        assert channel is not None
        return codec.ok(
            "bans",
            request.request_id,
            channel=channel.name,
            list=list_name,
            entries=[
                {"mask": e.mask, "by": e.set_by, "ts": codec.format_ts(e.set_at)}
                for e in entries
            ],
        )

    def do_invite(self, request: codec.Request) -> bytes:
        name = arg(request, "channel")
        nick = arg(request, "nick")
        now = self.factory.clock.seconds()
        invited = self.factory.chat.invite(self.user, name, nick, now)  # type: ignore[arg-type]
        return codec.ok(
            "invite",
            request.request_id,
            channel=invited.channel,
            nick=invited.nick,
        )


def accounts_of(members: Iterable[Membership]) -> dict[str, str]:
    """The accounts of the members logged in to one, by nick."""
    return {
        m.user.nick: m.user.account
        for m in members
        if m.user.account is not None and m.user.nick is not None
    }


def privileges(members: Iterable[Membership]) -> dict[str, list[str]]:
    """The privileges of the members that hold any, by nick."""
    return {
        m.user.nick: m.privileges
        for m in members
        if (m.op or m.voice) and m.user.nick is not None
    }


def _modes(summary: list[Change]) -> dict[str, Any]:
    """A channel's modes as C{mode} shows them: flags true, the limit a number."""
    return {
        c.name: True if c.param is None else int(c.param) if c.mode == "l" else c.param
        for c in summary
    }


def _mode_changes(request: codec.Request) -> list[Change] | None:
    """
    The changes a C{mode} request asks for, unsets first (so that a key is
    changed by unsetting and setting it in one request), then sets in the
    order given; None when it asks for none (it reads the modes).  Every
    name and value is checked here, before the channel's state is.
    """
    set_ = request.args.get("set")
    unset = request.args.get("unset")
    if set_ is None and unset is None:
        return None
    if set_ is not None and not isinstance(set_, dict):
        raise ChatError(
            "bad_args",
            "field 'set' must be an object of modes and values: {\"moderated\":true}",
        )
    if unset is not None and (
        not isinstance(unset, list) or not all(isinstance(n, str) for n in unset)
    ):
        raise ChatError(
            "bad_args",
            "field 'unset' must be an array of mode names: [\"moderated\"]",
        )
    check_channel(arg(request, "channel"))
    changes = [Change(_mode_letter(name), False) for name in unset or ()]
    for name, value in (set_ or {}).items():
        letter = _mode_letter(name)
        if letter in FLAGS:
            if value is not True:
                raise ChatError(
                    "bad_mode_param",
                    f"{name} is set with true (and unset with"
                    f' "unset":["{name}"]), not {_shown(value)}',
                )
            changes.append(Change(letter, True))
        elif letter == "k":
            if not isinstance(value, str) or codec.has_lone_surrogate(value):
                raise ChatError(
                    "bad_mode_param", f"the key must be a string, not {_shown(value)}"
                )
            changes.append(Change(letter, True, check_key(value)))
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ChatError(
                    "bad_mode_param",
                    f"the limit must be a whole number, not {_shown(value)}",
                )
            changes.append(Change(letter, True, str(check_limit(value))))
    return changes


def _mode_letter(name: str) -> str:
    """IRC's letter for the mode C{mode} sets or unsets, called C{name}."""
    letter = MODE_NAMES.get(name)
    if letter is not None:
        return letter
    dedicated = DEDICATED.get(name)
    if dedicated is not None:
        raise ChatError("bad_args", f"{name} is not changed with mode: use {dedicated}")
    message = f"there is no channel mode {name!r}"
    if name in NAMES:  # an IRC letter
        message += f" (by name: {NAMES[name]})"
    names = list(MODE_NAMES)
    raise ChatError(
        "unknown_mode",
        f"{message}; mode sets and unsets {', '.join(names[:-1])} and {names[-1]}",
    )


def _list_arg(request: codec.Request) -> tuple[str, str]:
    """The C{list} argument of ban, unban and bans, and its IRC letter."""
    name = arg(request, "list", "ban")
    letter = LIST_LETTERS.get(name)
    if letter is None:
        raise ChatError(
            "bad_args",
            "field 'list' must be "
            + ", ".join(f'"{n}"' for n in LIST_LETTERS)
            + f", not {_shown(name)}",
        )
    return name, letter


def _shown(value: object) -> str:
    """A request's value in an error message: as JSON, cut short."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, codec.HugeInteger):
        return "a number of more than 4300 digits"
    text = json.dumps(value, ensure_ascii=True)
    return text if len(text) <= 40 else text[:37] + "..."

# -*- test-case-name: tests.test_irc_moderation -*-
"""
Channel moderation: C{MODE} on channels (flags, key, limit, privileges and
the ban, exception and invite-exception lists), C{KICK} and C{INVITE}.

The rules are the core's (L{Chat.set_modes}, L{Chat.kick}, L{Chat.invite});
this module reads IRC's grammar into them and says their outcome as IRC
does.  The core tells everyone but the actor; the actor's echo is sent here.
"""

from __future__ import annotations

from twisted.words.protocols import irc as rfc

from chatd.core import (
    REASON_MAX,
    Change,
    ChatError,
    clean_line,
)
from chatd.core.modes import LISTS, NAMES, PRIVILEGES, takes_param
from chatd.irc.message import (
    Line,
    build,
    mask,
    mode_params,
)
from chatd.irc.modes import USER_MODES, UserModes
from chatd.irc.numerics import (
    RPL_CREATIONTIME,
    RPL_ENDOFINVITELIST,
    RPL_INVITELIST,
)
from chatd.irc.session import Command

#: The most mode changes with a parameter one C{MODE} line may carry
#: (ISUPPORT C{MODES}); those beyond are ignored.
MODES_MAX = 6
#: The most nicks one C{KICK} removes (TARGMAX C{KICK}); the rest are ignored.
KICK_TARGETS = 4
#: The channel modes, as 004 lists them: all, then those with a parameter.
CHANNEL_MODES = "".join(sorted(NAMES, key=lambda c: (c.lower(), c)))
CHANNEL_MODES_WITH_PARAM = "".join(
    sorted((*LISTS, "k", "l", *PRIVILEGES), key=lambda c: (c.lower(), c))
)
#: A list mode's letter: the numeric of each entry, and the closing one.
LIST_REPLIES = {
    "b": (rfc.RPL_BANLIST, rfc.RPL_ENDOFBANLIST, "End of channel ban list"),
    "e": (rfc.RPL_EXCEPTLIST, rfc.RPL_ENDOFEXCEPTLIST, "End of channel exception list"),
    "I": (rfc.RPL_INVITELIST, rfc.RPL_ENDOFINVITELIST, "End of channel invite list"),
}

__all__ = [
    "CHANNEL_MODES",
    "CHANNEL_MODES_WITH_PARAM",
    "KICK_TARGETS",
    "MODERATION",
    "MODES_MAX",
    "USER_MODES",
    "Moderation",
    "parse_modes",
]


def parse_modes(
    modes: str, args: list[str]
) -> tuple[list[Change], list[str], list[str]]:
    """
    A C{MODE} line's mode string and arguments as (the changes, the list
    letters asked for without a mask, the unknown letters).  A letter takes
    an argument as L{takes_param} says; a list letter with none left asks
    for the list (C{MODE #c +b}, C{MODE #c b}); another letter with none
    left becomes a change without one, which the core refuses (C{+k}) or
    takes (C{-k}).  After L{MODES_MAX} changes with an argument the rest of
    them are ignored.
    """
    changes: list[Change] = []
    lists: list[str] = []
    unknown: list[str] = []
    rest = list(args)
    adding = True
    with_param = 0
    for letter in modes:
        if letter in "+-":
            adding = letter == "+"
        elif letter not in NAMES:
            if letter not in unknown:
                unknown.append(letter)
        elif not takes_param(letter, adding):
            changes.append(Change(letter, adding))
        elif rest:
            param = rest.pop(0)
            with_param += 1
            if with_param <= MODES_MAX:
                changes.append(Change(letter, adding, param))
        elif letter in LISTS:
            if letter not in lists:
                lists.append(letter)
        else:
            changes.append(Change(letter, adding))
    return changes, lists, unknown


def _shown(param: str | None) -> str:
    """A parameter as a middle parameter of a numeric, or C{*}."""
    if not param or " " in param or param.startswith(":"):
        return "*"
    return param


class Moderation(UserModes):
    """MODE (channels here, users in L{UserModes}), KICK and INVITE."""

    def irc_MODE(self, line: Line) -> None:
        target = line.params[0]
        if target.startswith("#"):
            self._channel_mode(line)
        else:
            self._user_mode(target, line.params[1] if len(line.params) > 1 else "")

    def _channel_mode(self, line: Line) -> None:
        user = self._user()
        chat = self.factory.chat
        # No such channel (or a secret one, to an outsider): 403, whatever
        # was asked.  Any ChatError is said as ERRORS says.
        channel, current = chat.modes(user, line.params[0])
        name = channel.name
        if len(line.params) < 2 or not line.params[1]:
            modes = mode_params(current)
            self.write(
                self.numeric(
                    rfc.RPL_CHANNELMODEIS, channel.name, modes[0] or "+", *modes[1:]
                )
            )
            self.write(
                self.numeric(RPL_CREATIONTIME, channel.name, str(int(channel.created)))
            )
            return
        changes, lists, unknown = parse_modes(line.params[1], line.params[2:])
        refusals: list[ChatError] = []
        if changes:
            now = self.factory.clock.seconds()
            # Refused whole (not an operator, not a member, no channel):
            # raised, and said by ERRORS about the channel.
            applied, refusals = chat.set_modes(user, name, changes, now, partial=True)
            if applied:
                self.write(
                    build(
                        "MODE",
                        channel.name,
                        *mode_params(applied),
                        prefix=mask(self.me, user),
                    ),
                    self._made(),
                )
        for letter in unknown:
            self.reply_error("MODE", "unknown_mode", letter)
        for error in refusals:
            self._mode_refused(name, error)
        for letter in lists:
            self._mode_list(name, letter)

    def _mode_refused(self, channel: str, error: ChatError) -> None:
        """Say why one change of a C{MODE} line was left out."""
        change = error.change
        letter = change.mode if change is not None else "*"
        param = change.param if change is not None else None
        code = error.code
        target: tuple[str, ...]
        if code == "unknown_mode":
            target = (letter,)
        elif code in ("bad_mode_param", "bad_mask"):
            # A key is never repeated back: it may be one mistyped.
            target = (channel, letter, "*" if letter == "k" else _shown(param))
        elif code == "list_full":
            target = (channel, letter)
        elif code in ("no_such_nick", "bad_nick"):
            target = (_shown(param),)
        elif code == "user_not_in_channel":
            target = (_shown(param), channel)
        else:
            target = (channel,)
        self.reply_error("MODE", code, target, error.message)

    def _mode_list(self, name: str, letter: str) -> None:
        """A list (C{+b}, C{+e}, C{+I}) with who set each entry and when."""
        try:
            entries = self.factory.chat.list_entries(self._user(), name, letter)
        except ChatError as e:
            self.reply_error("MODE", e.code, name, e.message)
            return
        channel = self.factory.chat.find_channel(name)
        assert channel is not None
        item, end, text = LIST_REPLIES[letter]
        for entry in entries:
            self.write(
                self.numeric(
                    item, channel.name, entry.mask, entry.set_by, str(int(entry.set_at))
                )
            )
        self.write(self.numeric(end, channel.name, text))

    def irc_KICK(self, line: Line) -> None:
        user = self._user()
        chat = self.factory.chat
        channels = line.params[0].split(",")
        nicks = line.params[1].split(",")
        reason = clean_line(line.params[2], REASON_MAX) if len(line.params) > 2 else ""
        if len(channels) == 1:
            pairs = [(channels[0], nick) for nick in nicks if nick][:KICK_TARGETS]
        elif len(channels) == len(nicks):
            pairs = list(zip(channels, nicks))[:KICK_TARGETS]
        else:
            # RFC 2812: one channel, or as many channels as nicks.
            self.write(
                self.numeric(rfc.ERR_NEEDMOREPARAMS, "KICK", "Not enough parameters")
            )
            return
        for name, nick in pairs:
            now = self.factory.clock.seconds()
            try:
                event = chat.kick(user, name, nick, reason, now)
            except ChatError as e:
                if e.code == "user_not_in_channel":
                    target: tuple[str, ...] = (nick, name)
                elif e.code in ("no_such_nick", "bad_nick"):
                    target = (nick,)
                else:
                    target = (name,)
                self.reply_error("KICK", e.code, target, e.message)
                continue
            # The kicker sees the KICK as the members do (a missing comment
            # is the kicker's nick).
            for kick in self.factory.event_lines(event):
                self.write(kick, self._tags_of(event))

    def irc_INVITE(self, line: Line) -> None:
        user = self._user()
        chat = self.factory.chat
        if not line.params:
            for channel in chat.invites(user):
                self.write(self.numeric(RPL_INVITELIST, channel.name))
            self.write(self.numeric(RPL_ENDOFINVITELIST, "End of /INVITE list"))
            return
        if len(line.params) < 2:
            self.write(
                self.numeric(rfc.ERR_NEEDMOREPARAMS, "INVITE", "Not enough parameters")
            )
            return
        nick, name = line.params[0], line.params[1]
        try:
            event = chat.invite(user, name, nick, self.factory.clock.seconds())
        except ChatError as e:
            if e.code == "already_in_channel":
                target: tuple[str, ...] = (nick, name)
            elif e.code in ("no_such_nick", "bad_nick"):
                target = (nick,)
            else:
                target = (name,)
            self.reply_error("INVITE", e.code, target, e.message)
            return
        self.write(self.numeric(rfc.RPL_INVITING, event.nick, event.channel))
        invitee = chat.find_user(event.nick)
        if invitee is not None and invitee.away is not None:
            self.write(self.numeric(rfc.RPL_AWAY, event.nick, invitee.away))


#: command: (handler, least number of parameters, needs registration)
MODERATION: dict[str, Command] = {
    "MODE": (Moderation.irc_MODE, 1, True),
    "KICK": (Moderation.irc_KICK, 2, True),
    "INVITE": (Moderation.irc_INVITE, 0, True),
}

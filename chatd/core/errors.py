# -*- test-case-name: tests.test_core -*-
"""
The refusals of the chat rules: one exception, and the stable codes it
carries.  Adapters map each code to their own wire (JSON's C{error} replies,
IRC's numerics) from this one list.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chatd.core.modes import Change


class ChatError(Exception):
    """
    A request the rules refuse.  C{code} is the stable, documented name of
    the refusal (C{nick_in_use}, C{bad_channel}...); C{message} is for people.
    C{change} is the mode change refused, for each refusal that
    L{Chat.set_modes} returns when it applies what it can (IRC names the
    mode letter and parameter in its reply); None otherwise.
    """

    change: Change | None = None
    #: The channel a refusal is about where the request named none (a nick
    #: change refused by a ban in one of the user's channels).
    channel: str | None = None

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message


#: Every code the core raises, with when.  docs/protocol.md documents each.
CODES: dict[str, str] = {
    "bad_args": "a field is missing, empty, too long or has bad characters",
    "bad_nick": "the nick is not a valid nick",
    "nick_in_use": "another user has the nick",
    "nick_required": "the command needs a nick first",
    "server_full": "the server has as many clients as it takes",
    "bad_channel": "the channel name is not a valid name",
    "no_such_channel": "there is no such channel",
    "not_in_channel": "you are not in the channel",
    "no_such_nick": "there is no user with that nick",
    "user_not_in_channel": "the user named is not in the channel",
    "already_in_channel": "the user named is in the channel already",
    "not_channel_operator": "the command needs channel operator privileges",
    "cannot_send": "the channel does not take your message (+m, +n or a ban)",
    "banned": "you are banned from the channel",
    "invite_only": "the channel is invite only (+i) and you are not invited",
    "bad_key": "the channel has a key (+k) and yours is missing or wrong",
    "channel_full": "the channel has as many members as its limit (+l)",
    "unknown_mode": "no channel mode has that letter or name",
    "bad_mode_param": "a mode's parameter is missing or not valid",
    "key_set": "the channel has a key already; unset it first",
    "list_full": "a ban, exception or invite-exception list is full",
    "bad_mask": "a mask is not a valid nick!user@host pattern",
    "nick_reserved": "the nick is a registered account's: log in to use it",
    "not_logged_in": "the command needs you to be logged in to an account",
    "not_oper": "the command needs server operator privileges",
    "not_registered": "the channel is not registered",
    "already_registered": "the channel is registered already",
    "not_founder": "only the channel's founder (or a server operator) may do it",
    "email_required": "registering an account on this server needs an email",
    "bad_account_name": "an account's name is not a valid nick, or not your nick",
    "weak_password": "the password is too short, too long or the account's name",
    "account_exists": "the account exists, or another user has that nick",
    "already_logged_in": "you are logged in to an account already",
    "registration_closed": "the server takes no new accounts",
    "registration_limit": "your address registered as many accounts as it may",
    "bad_credentials": "wrong account name or password",
    "throttled": "too many failed logins: wait before trying again",
    "unavailable": "passwords cannot be checked now, or there are no accounts",
    "no_such_account": "there is no such account (an operator's drop)",
    "oper_no_host": "no operator block of that name admits your host",
    "oper_bad_password": "the operator block's password is not that",
    "no_config": "the server was started without a config file to reload",
    "invalid_config": "the config file is not valid; nothing changed",
}

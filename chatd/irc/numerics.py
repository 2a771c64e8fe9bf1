# -*- test-case-name: tests.test_irc -*-
"""
Numerics: the ones Twisted does not name, and how IRC says each refusal
of the core (a L{ChatError} code), in one table: L{ERRORS}.
"""

from __future__ import annotations

from typing import NamedTuple

from twisted.words.protocols import irc as rfc

# Numerics Twisted does not name.
RPL_LOCALUSERS = "265"
RPL_GLOBALUSERS = "266"
RPL_CREATIONTIME = "329"
RPL_TOPICWHOTIME = "333"
ERR_INVALIDCAPCMD = "410"
ERR_INPUTTOOLONG = "417"
#: solanum's and InspIRCd's refusal of a banned member's nick change
ERR_BANONCHAN = "435"
ERR_BADCHANMASK = "476"
#: Modern IRC's invitations of your own (twisted's 346/347 are the +I list's).
RPL_INVITELIST = "336"
RPL_ENDOFINVITELIST = "337"
ERR_INVALIDMODEPARAM = "696"
# Accounts (IRCv3 SASL and account-notify) and server operators.
RPL_WHOISACCOUNT = "330"
RPL_WHOSPCRPL = "354"
RPL_REHASHING = "382"
RPL_LOGGEDIN = "900"
RPL_LOGGEDOUT = "901"
ERR_NICKLOCKED = "902"
RPL_SASLSUCCESS = "903"
ERR_SASLFAIL = "904"
ERR_SASLTOOLONG = "905"
ERR_SASLABORTED = "906"
ERR_SASLALREADY = "907"
RPL_SASLMECHS = "908"


class Reply(Exception):
    """A numeric (or other line) that ends the handling of a command."""

    def __init__(self, command: str, *params: str) -> None:
        super().__init__(command, *params)
        self.command = command
        self.params = params


class Answer(NamedTuple):
    """
    How IRC says a refusal: a numeric, C{FAIL} (a standard reply, with
    C{fail} as its code) or C{ERROR} (the connection is closed).  C{text}
    may hold C{{message}}, the L{ChatError}'s words, or C{{Message}}, the
    same capitalised.  With C{target}, the nick or channel the command
    named comes before the text.
    """

    numeric: str
    text: str
    target: bool = True
    fail: str = ""


#: The commands that send messages: a refusal says the message was not sent.
_SENDING = ("PRIVMSG", "NOTICE", "TAGMSG")
_NOT_SENT = Answer(rfc.ERR_CANNOTSENDTOCHAN, "{message}")
_CLOSING = Answer("ERROR", "{Message}", target=False)

#: ChatError code -> command -> answer; "*" stands for any command, and the
#: code "*" for any code the table does not name.  The handler says what
#: the reply is about (the target before the text): a channel, a nick, or
#: for some several (C{441 <nick> <chan>}, C{696 <chan> <letter> <param>}).
ERRORS: dict[str, dict[str, Answer]] = {
    "bad_nick": {
        "*": Answer(rfc.ERR_NOSUCHNICK, "No such nick/channel"),
        "NICK": Answer(rfc.ERR_ERRONEUSNICKNAME, "Erroneous nickname"),
    },
    "nick_in_use": {"*": Answer(rfc.ERR_NICKNAMEINUSE, "Nickname is already in use")},
    "no_such_nick": {"*": Answer(rfc.ERR_NOSUCHNICK, "No such nick/channel")},
    "bad_channel": {
        "*": Answer(rfc.ERR_NOSUCHCHANNEL, "No such channel"),
        # a name of the right shape with a hidden character in it
        "JOIN": Answer(ERR_BADCHANMASK, "{message}"),
    },
    "no_such_channel": {"*": Answer(rfc.ERR_NOSUCHCHANNEL, "No such channel")},
    "not_in_channel": {
        "*": Answer(rfc.ERR_NOTONCHANNEL, "You're not on that channel"),
        **dict.fromkeys(
            _SENDING,
            Answer(
                rfc.ERR_CANNOTSENDTOCHAN, "Cannot send to channel (you are not in it)"
            ),
        ),
    },
    "bad_args": {
        "*": Answer("FAIL", "{message}", fail="INVALID_PARAMS"),
        **dict.fromkeys(
            _SENDING,
            Answer(rfc.ERR_CANNOTSENDTOCHAN, "Cannot send to target ({message})"),
        ),
        "TOPIC": Answer(
            "FAIL",
            "Topic contains control characters other than formatting",
            fail="INVALID_TEXT",
        ),
        "AWAY": Answer(
            "FAIL",
            "Away message contains control characters other than formatting",
            target=False,
            fail="INVALID_TEXT",
        ),
        "PART": Answer(rfc.ERR_NOSUCHCHANNEL, "No such channel"),
    },
    # channel moderation
    "not_channel_operator": {
        "*": Answer(rfc.ERR_CHANOPRIVSNEEDED, "You're not channel operator")
    },
    "user_not_in_channel": {
        "*": Answer(rfc.ERR_USERNOTINCHANNEL, "They aren't on that channel")
    },
    "already_in_channel": {"*": Answer(rfc.ERR_USERONCHANNEL, "is already on channel")},
    "banned": {"*": Answer(rfc.ERR_BANNEDFROMCHAN, "Cannot join channel (+b)")},
    "invite_only": {"*": Answer(rfc.ERR_INVITEONLYCHAN, "Cannot join channel (+i)")},
    "bad_key": {"*": Answer(rfc.ERR_BADCHANNELKEY, "Cannot join channel (+k)")},
    "channel_full": {"*": Answer(rfc.ERR_CHANNELISFULL, "Cannot join channel (+l)")},
    # +m, +n or a ban: the text says which
    "cannot_send": {
        "*": Answer(rfc.ERR_CANNOTSENDTOCHAN, "Cannot send to channel: {message}")
    },
    "key_set": {"*": Answer(rfc.ERR_KEYSET, "Channel key already set")},
    "unknown_mode": {"*": Answer(rfc.ERR_UNKNOWNMODE, "is unknown mode char to me")},
    "list_full": {"*": Answer(rfc.ERR_BANLISTFULL, "Channel list is full")},
    "bad_mode_param": {"*": Answer(ERR_INVALIDMODEPARAM, "{Message}")},
    "bad_mask": {"*": Answer(ERR_INVALIDMODEPARAM, "{Message}")},
    # accounts and server operators
    "nick_reserved": {
        "*": Answer(
            rfc.ERR_NICKNAMEINUSE,
            "Nickname is reserved by a registered account: {message}",
        )
    },
    "not_oper": {
        "*": Answer(
            rfc.ERR_NOPRIVILEGES,
            "Permission Denied- You're not an IRC operator",
            target=False,
        )
    },
    "oper_no_host": {
        "*": Answer(rfc.ERR_NOOPERHOST, "No O-lines for your host", target=False)
    },
    "oper_bad_password": {
        "*": Answer(rfc.ERR_PASSWDMISMATCH, "Password incorrect", target=False)
    },
    "nick_required": {
        "*": Answer(rfc.ERR_NOTREGISTERED, "You have not registered", target=False)
    },
    # refusals at the door: the connection is closed
    "server_full": {"*": Answer("ERROR", "{message}", target=False)},
    "too_many_connections": {"*": _CLOSING},
    "connecting_too_fast": {"*": _CLOSING},
    "*": {
        "*": Answer("FAIL", "{message}"),
        **dict.fromkeys(_SENDING, _NOT_SENT),
        "PART": Answer(rfc.ERR_NOSUCHCHANNEL, "No such channel"),
        "TOPIC": Answer(rfc.ERR_NOSUCHCHANNEL, "No such channel"),
    },
}


def answer(code: str, command: str) -> Answer:
    """How to tell a client that C{command} was refused with C{code}."""
    row = ERRORS.get(code)
    if row is not None:
        found = row.get(command) or row.get("*")
        if found is not None:
            return found
    any_code = ERRORS["*"]
    return any_code.get(command) or any_code["*"]


__all__ = ["ERRORS", "Answer", "Reply", "answer"]

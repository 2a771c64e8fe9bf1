# -*- test-case-name: tests.test_client -*-
"""
What a person types: L{parse_input} turns one typed line into an action (a
request for the server, a connect, a quit, help, or a complaint about the
input), without talking to the server; L{HELP_LINES} lists the commands.
L{split_text} cuts a message too long for one request into several.
"""

from __future__ import annotations

import json
from typing import Any

from chatd.client.accounts import ACCOUNT_COMMANDS, ACCOUNT_HELP_LINES
from chatd.client.actions import (
    Action,
    Connect,
    Help,
    Ping,
    Problem,
    Query,
    Quit,
    Send,
    SendAll,
    ShowHistory,
    Whois,
    split_channel,
    split_words,
)
from chatd.client.connection import DEFAULT_PORT
from chatd.client.formatting import strip_codes
from chatd.client.modes import LISTS, NAMES, PRIVILEGES
from chatd.core import AWAY_MAX, REASON_MAX, TOPIC_MAX

# The actions are chatd.client.actions'; they are named here too, where
# parse_input is.
__all__ = [
    "HELP_LINES",
    "Action",
    "Connect",
    "Help",
    "Ping",
    "Problem",
    "Query",
    "Quit",
    "Send",
    "SendAll",
    "ShowHistory",
    "Whois",
    "parse_input",
    "split_text",
]

#: How many of a channel's last messages a join shows (its scrollback).
JOIN_HISTORY = 20
#: How many more messages /history shows when not told.
HISTORY_PAGE = 20
#: The most the server gives at once (docs/protocol.md, History).
HISTORY_MAX = 1000

HELP_LINES = [
    "* commands:",
    "*   /connect [HOST [PORT]]     connect (again) to a server, keeping nick"
    " and channels",
    "*   /nick NAME                 take or change your nick",
    "*   /join #chan [KEY]          join a channel (with its KEY if it has one);"
    " it becomes the current one",
    "*   /leave [#chan] [reason]    leave a channel (default: the current one);"
    " /part too",
    "*   /msg TARGET TEXT           say TEXT to a channel or privately to a nick;"
    " to @#chan, to its operators only",
    "*   /query NICK [TEXT]         talk privately to NICK with plain lines;"
    " /query #chan or /join goes back",
    "*   /me TEXT                   act in the current channel: * yournick TEXT",
    "*   /list                      list the channels",
    "*   /who [#chan]               list the members of a channel; /names too",
    "*   /whois NICK                which channels NICK is in",
    "*   /topic [#chan] [text]      show or set a channel's topic",
    "*   /away [message]            mark yourself away; without a message, back",
    "*   /history [TARGET] [N]      N (20) earlier messages of the current"
    " channel or conversation, or of TARGET",
    "*   /search [#chan] TEXT       the newest messages with every word of TEXT,"
    " in your channels or in #chan",
    "*   /ping                      the time the server takes to answer",
    "*   /quit [reason]             disconnect and exit",
    "*   /help                      this list",
    "* channel operators' commands (members show as @nick for operators,"
    " +nick for voiced):",
    "*   /op NICK                   make NICK an operator of the channel;"
    " /deop NICK undoes it",
    "*   /voice NICK                let NICK speak when the channel is moderated;"
    " /devoice NICK undoes it",
    "*   /kick NICK [reason]        put NICK out of the channel",
    "*   /ban MASK                  keep MASK out: a nick, or nick!user@host with"
    " * and ?; /unban MASK lets it in",
    "*   /bans                      list the channel's bans",
    "*   /invite NICK [#chan]       invite NICK, into an invite only channel too",
    "*   /mode                      show the channel's modes",
    "*   /mode +MODES-MODES [ARGS]  change them, as in IRC: /mode +mi-t,"
    " /mode +k KEY, /mode -k, /mode +l 10, /mode +b MASK, /mode +o NICK",
    "*                              n no messages from outside, t only operators"
    " set the topic, m moderated (only @ and + speak), i invite only, s secret,",
    "*                              k key, l member limit, b ban, e ban"
    " exception, I invite exception, o operator, v voice",
    "*                              /mode +b alone lists the bans, +e and +I"
    " the exceptions",
    "*   these act on the current channel, or on a #chan given first: /kick #chan NICK",
    *ACCOUNT_HELP_LINES,
    "* anything else is said in the current channel (start it with // to say"
    " a line beginning with /)",
    "* in a terminal, Ctrl-W deletes a word, Ctrl-U the line; Ctrl-B types"
    " bold, Ctrl-] italic, Ctrl-_ underline, Ctrl-V reverse and Ctrl-O plain"
    " again",
]


def _channel_name(word: str) -> str:
    return word if word.startswith("#") else "#" + word


def _blank(text: str) -> bool:
    """Nothing to see: only spaces (any Unicode space) and formatting codes."""
    return not strip_codes(text).strip()


ONLY_SPACES = "not sent: the message is only spaces"


def _too_long(what: str, text: str, limit: int) -> Problem | None:
    if len(text) > limit:
        return Problem(
            f"not sent: a {what} is at most {limit} characters, and this one"
            f" has {len(text)}"
        )
    return None


def parse_input(
    line: str, current_channel: str | None, query: str | None = None
) -> Action | None:
    """
    Turn one typed line into an action, or None for an empty line.

    C{current_channel} is the channel commands apply to by default, and
    C{query} the nick of a private conversation (L{Query}), if any: plain
    text goes to C{query}, else to C{current_channel}.  Nothing here talks
    to the server: mistakes that can be seen locally (an unknown command, a
    missing argument, a message of spaces only, a topic or reason over the
    server's limit, text with no channel to go to) are a L{Problem}.  Text
    over L{TEXT_MAX} is left to the session, which splits it.
    """
    line = line.rstrip("\r\n")
    if not line:
        return None
    if line.startswith("/") and not line.startswith("//"):
        words = split_words(line[1:], 1)
        if not words:
            return Problem("an empty command; /help lists them")
        name = words[0].lower()
        rest = words[1] if len(words) > 1 else ""
        return _parse_command(name, rest, current_channel, query)
    if _blank(line):
        return Problem(ONLY_SPACES)
    if line.startswith("//"):
        line = line[1:]
    to = query or current_channel
    if to is None:
        return Problem(
            "you are not in a channel: /join #channel first, or /msg NICK text"
        )
    return Send({"cmd": "msg", "to": to, "text": line})


def _parse_command(
    name: str, rest: str, current: str | None, query: str | None
) -> Action:
    args = split_words(rest)
    if name == "connect":
        if len(args) > 2:
            return Problem("usage: /connect HOST PORT")
        if not args:
            return Connect(None, DEFAULT_PORT)
        port = DEFAULT_PORT
        if len(args) == 2:
            try:
                port = int(args[1])
            except ValueError:
                port = -1
            if not 0 < port < 65536:
                return Problem(
                    f"not a port number: {args[1]} (usage: /connect HOST PORT)"
                )
        return Connect(args[0], port)
    if name == "nick":
        if len(args) != 1:
            return Problem("usage: /nick NAME")
        return Send({"cmd": "nick", "nick": args[0]})
    if name == "join":
        if not 1 <= len(args) <= 2:
            return Problem("usage: /join #channel [KEY]")
        if len(args) == 2 and args[1].startswith("#"):
            return Problem("one channel at a time (usage: /join #channel [KEY])")
        request: dict[str, Any] = {
            "cmd": "join",
            "channel": _channel_name(args[0]),
            "history": JOIN_HISTORY,
        }
        if len(args) == 2:
            request["key"] = args[1]
        return Send(request)
    if name in ("leave", "part"):
        channel, reason = split_channel(rest, current)
        if channel is None:
            return Problem(
                f"you are not in a channel (usage: /{name} [#chan] [reason])"
            )
        request = {"cmd": "leave", "channel": channel}
        if reason:
            problem = _too_long("reason", reason, REASON_MAX)
            if problem:
                return problem
            request["reason"] = reason
        return Send(request)
    if name == "msg":
        words = split_words(rest, 1)
        if len(words) < 2:
            return Problem("usage: /msg TARGET TEXT")
        if _blank(words[1]):
            return Problem(ONLY_SPACES)
        return Send({"cmd": "msg", "to": words[0], "text": words[1]})
    if name == "query":
        words = split_words(rest, 1)
        if not words:
            return Query(None)
        text = words[1] if len(words) > 1 else ""
        if words[0].startswith("#"):
            if text:
                return Problem("usage: /query #chan (then type to it)")
            return Query(words[0])
        if text and _blank(text):
            return Problem(ONLY_SPACES)
        return Query(words[0], text)
    if name == "me":
        if _blank(rest):
            return Problem("usage: /me TEXT")
        to = query or current
        if to is None:
            return Problem("you are not in a channel: /join #channel first")
        return Send({"cmd": "msg", "to": to, "text": rest, "action": True})
    if name == "list":
        if args:
            return Problem("usage: /list")
        return Send({"cmd": "list"})
    if name in ("who", "names"):
        if len(args) > 1:
            return Problem(f"usage: /{name} [#chan]")
        channel = _channel_name(args[0]) if args else current
        if channel is None:
            return Problem(f"you are not in a channel (usage: /{name} [#chan])")
        return Send({"cmd": "who", "channel": channel})
    if name == "whois":
        if len(args) != 1:
            return Problem("usage: /whois NICK")
        return Whois(args[0])
    if name == "topic":
        channel, text = split_channel(rest, current)
        if channel is None:
            return Problem("you are not in a channel (usage: /topic [#chan] [text])")
        request = {"cmd": "topic", "channel": channel}
        if text:
            problem = _too_long("topic", text, TOPIC_MAX)
            if problem:
                return problem
            request["topic"] = text
        return Send(request)
    if name == "history":
        return _parse_history(args, current, query)
    if name == "search":
        return _parse_search(rest)
    if name == "ping":
        if args:
            return Problem("usage: /ping")
        return Ping()
    if name == "away":
        if rest.strip():
            problem = _too_long("away message", rest, AWAY_MAX)
            return problem or Send({"cmd": "away", "message": rest})
        return Send({"cmd": "away"})
    if name == "quit":
        problem = _too_long("reason", rest, REASON_MAX)
        return problem or Quit(rest)
    if name == "help":
        return Help()
    if name in _MODERATION:
        return _MODERATION[name](name, rest, current)
    if name in ACCOUNT_COMMANDS:
        return ACCOUNT_COMMANDS[name](name, rest, current)
    return Problem(f"unknown command /{name} (/help lists them)")


def _parse_history(args: list[str], current: str | None, query: str | None) -> Action:
    """C{/history [TARGET] [N]}: TARGET is a channel or a nick."""
    usage = "usage: /history [#chan or NICK] [N]"
    target = query or current
    count = str(HISTORY_PAGE)
    if len(args) == 1 and args[0].isascii() and args[0].lstrip("+-").isdigit():
        count = args[0]  # a number, if a bad one (no nick looks like -5)
    elif len(args) == 1:
        target = args[0]
    elif len(args) == 2:
        target, count = args
    elif args:
        return Problem(usage)
    if not (count.isascii() and count.isdigit()) or not 1 <= int(count) <= HISTORY_MAX:
        return Problem(f"N is a number from 1 to {HISTORY_MAX} ({usage})")
    if target is None:
        return Problem(f"you are not in a channel ({usage})")
    return ShowHistory(target, int(count))


def _parse_search(rest: str) -> Action:
    """C{/search [#chan] TEXT}."""
    request: dict[str, Any] = {"cmd": "search"}
    text = rest.strip(" \t")
    if text.startswith("#"):
        words = split_words(text, 1)
        request["target"] = words[0]
        text = words[1] if len(words) > 1 else ""
    if _blank(text):
        return Problem("usage: /search [#chan] TEXT")
    request["text"] = text
    return Send(request)


# Channel operators' commands: each acts on the current channel, or on a
# #channel given as its first argument.


def _not_in_channel(usage: str) -> Problem:
    return Problem(f"you are not in a channel (usage: {usage})")


def _parse_privilege(name: str, rest: str, current: str | None) -> Action:
    """C{/op}, C{/deop}, C{/voice}, C{/devoice}: C{[#chan] NICK}."""
    usage = f"/{name} [#chan] NICK"
    channel, text = split_channel(rest, current)
    args = split_words(text)
    if len(args) != 1:
        return Problem(f"usage: {usage}")
    if channel is None:
        return _not_in_channel(usage)
    return Send({"cmd": name, "channel": channel, "nick": args[0]})


def _parse_kick(name: str, rest: str, current: str | None) -> Action:
    """C{/kick [#chan] NICK [reason]}."""
    usage = "/kick [#chan] NICK [reason]"
    channel, text = split_channel(rest, current)
    words = split_words(text, 1)
    if not words:
        return Problem(f"usage: {usage}")
    if channel is None:
        return _not_in_channel(usage)
    request: dict[str, Any] = {"cmd": "kick", "channel": channel, "nick": words[0]}
    if len(words) > 1:
        reason = words[1]
        problem = _too_long("reason", reason, REASON_MAX)
        if problem:
            return problem
        request["reason"] = reason
    return Send(request)


def _parse_ban(name: str, rest: str, current: str | None) -> Action:
    """C{/ban} and C{/unban}: C{[#chan] MASK}."""
    usage = f"/{name} [#chan] MASK"
    channel, text = split_channel(rest, current)
    args = split_words(text)
    if len(args) != 1:
        return Problem(f"usage: {usage} (a nick, or nick!user@host with * and ?)")
    if channel is None:
        return _not_in_channel(usage)
    return Send({"cmd": name, "channel": channel, "mask": args[0]})


def _parse_bans(name: str, rest: str, current: str | None) -> Action:
    """C{/bans [#chan]}."""
    args = split_words(rest)
    if len(args) > 1 or (args and not args[0].startswith("#")):
        return Problem("usage: /bans [#chan]")
    channel = args[0] if args else current
    if channel is None:
        return _not_in_channel("/bans [#chan]")
    return Send({"cmd": "bans", "channel": channel, "list": "ban"})


def _parse_invite(name: str, rest: str, current: str | None) -> Action:
    """C{/invite NICK [#chan]} (or C{/invite #chan NICK})."""
    usage = "/invite NICK [#chan]"
    args = split_words(rest)
    if len(args) == 2 and args[0].startswith("#"):
        args.reverse()
    if not 1 <= len(args) <= 2 or args[0].startswith("#"):
        return Problem(f"usage: {usage}")
    if len(args) == 2 and not args[1].startswith("#"):
        return Problem(f"usage: {usage}")
    channel = args[1] if len(args) == 2 else current
    if channel is None:
        return _not_in_channel(usage)
    return Send({"cmd": "invite", "channel": channel, "nick": args[0]})


#: What the parameter of a mode letter is, as a usage line names it.
_MODE_PARAMS = {
    "k": ("a key", "KEY"),
    "l": ("a number of members", "10"),
    "b": ("a mask", "MASK"),
    "e": ("a mask", "MASK"),
    "I": ("a mask", "MASK"),
    "o": ("a nick", "NICK"),
    "v": ("a nick", "NICK"),
}
_MODE_USAGE = "/mode [#chan] [+MODES-MODES [ARGS]]"
_KNOWN_MODES = "n t m i s k l b e I o v"


def _parse_mode(name: str, rest: str, current: str | None) -> Action:
    """
    C{/mode [#chan]} reads a channel's modes; C{/mode [#chan] +mi-t},
    C{+k KEY}, C{-k}, C{+l 10}, C{-l}, C{+b MASK}, C{+o NICK} and so on
    change them, as in IRC: flags, the key and the limit in one C{mode}
    request, each C{b e I o v} change as its own C{ban}, C{unban}, C{op},
    C{deop}, C{voice} or C{devoice} request.  A list letter alone
    (C{/mode +b}) lists that list.
    """
    channel, text = split_channel(rest, current)
    if channel is None:
        return _not_in_channel(_MODE_USAGE)
    words = split_words(text)
    if not words:
        return Send({"cmd": "mode", "channel": channel})
    modes, params = words[0], words[1:]
    if modes[0] not in "+-":
        return Problem(
            f"a mode change starts with + or -: /mode +m, /mode -t (usage:"
            f" {_MODE_USAGE})"
        )
    changes: list[tuple[str, bool]] = []
    adding = True
    for letter in modes:
        if letter in "+-":
            adding = letter == "+"
        elif letter in NAMES:
            changes.append((letter, adding))
        else:
            sign = "+" if adding else "-"
            return Problem(
                f"there is no channel mode {sign}{letter}: the modes are"
                f" {_KNOWN_MODES} (/help says what they do)"
            )
    if not changes:
        return Problem(f"usage: {_MODE_USAGE}")
    if len(changes) == 1 and changes[0][0] in LISTS and changes[0][1] and not params:
        return Send({"cmd": "bans", "channel": channel, "list": LISTS[changes[0][0]]})

    def needs(letter: str, on: bool) -> bool:
        return letter in _MODE_PARAMS and (on or letter not in "kl")

    set_: dict[str, Any] = {}
    unset: list[str] = []
    requests: list[dict[str, Any]] = []
    mode_at: int | None = None  # where the mode request goes among the others
    for i, (letter, on) in enumerate(changes):
        sign = "+" if on else "-"
        param: str | None = None
        if needs(letter, on):
            if not params:
                what, shown = _MODE_PARAMS[letter]
                return Problem(
                    f"{sign}{letter} needs {what}: /mode {sign}{letter} {shown}"
                )
            param = params.pop(0)
        elif letter == "k" and len(params) > sum(needs(*c) for c in changes[i + 1 :]):
            # -k may name the key (as IRC has it): the word is taken when
            # the changes after it leave one over.
            params.pop(0)
        mode_name = NAMES[letter]
        if letter in PRIVILEGES:
            cmd = mode_name if on else "de" + mode_name
            requests.append({"cmd": cmd, "channel": channel, "nick": param})
            continue
        if letter in LISTS:
            request: dict[str, Any] = {
                "cmd": "ban" if on else "unban",
                "channel": channel,
                "mask": param,
            }
            if mode_name != "ban":
                request["list"] = mode_name
            requests.append(request)
            continue
        value: Any = True
        if letter == "l" and on:
            assert param is not None
            if not (param.isascii() and param.isdigit()) or int(param) == 0:
                return Problem(
                    f"+l needs a number of members, not {param}: /mode +l 10"
                )
            value = int(param)
        elif letter == "k" and on:
            value = param
        if mode_at is None:
            mode_at = len(requests)
        if on:
            set_[mode_name] = value
            # The server unsets before it sets: -k+k NEW changes the key
            # (a key cannot be set over another); other modes need no -.
            if mode_name in unset and mode_name != "key":
                unset.remove(mode_name)
        else:
            set_.pop(mode_name, None)
            if mode_name not in unset:
                unset.append(mode_name)
    if params:
        return Problem(
            f"too many arguments for {modes}: {' '.join(params)} (usage: {_MODE_USAGE})"
        )
    if mode_at is not None:
        mode: dict[str, Any] = {"cmd": "mode", "channel": channel}
        if set_:
            mode["set"] = set_
        if unset:
            mode["unset"] = unset
        requests.insert(mode_at, mode)
    if len(requests) == 1:
        return Send(requests[0])
    return SendAll(tuple(requests))


_MODERATION = {
    "op": _parse_privilege,
    "deop": _parse_privilege,
    "voice": _parse_privilege,
    "devoice": _parse_privilege,
    "kick": _parse_kick,
    "ban": _parse_ban,
    "unban": _parse_ban,
    "bans": _parse_bans,
    "invite": _parse_invite,
    "mode": _parse_mode,
}


def split_text(text: str, chars: int, budget: int = 0) -> list[str]:
    """
    C{text} cut into pieces of at most C{chars} characters and, when
    C{budget} is not 0, of at most C{budget} bytes as JSON string content:
    at the last space of a piece when there is one in its second half (the
    space is dropped), else at the limit.  Pieces of spaces only are left
    out.
    """
    pieces: list[str] = []
    start = 0
    while len(text) - start > 0:
        end = start
        size = 0
        while end < len(text) and end - start < chars:
            if budget:
                size += _json_size(text[end])
                if size > budget:
                    break
            end += 1
        if end == start:  # one character over the budget: let the server say
            end = start + 1
        cut = end
        if end < len(text):
            space = text.rfind(" ", start + (end - start) // 2, end + 1)
            if space > start:
                cut = space
        piece = text[start:cut]
        if not _blank(piece):
            pieces.append(piece)
        start = cut + 1 if cut < len(text) and text[cut] == " " else cut
    return pieces


def _json_size(ch: str) -> int:
    """The bytes C{ch} takes in a request (see L{encode_request})."""
    if " " <= ch < "\x7f" and ch not in '"\\':
        return 1
    encoded = json.dumps(ch, ensure_ascii=False)[1:-1]
    return len(encoded.encode("utf-8", "backslashreplace"))

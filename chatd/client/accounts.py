# -*- test-case-name: tests.test_client_accounts -*-
"""
The console client's accounts, server operators and registered channels:
what C{/register}, C{/login}, C{/logout}, C{/passwd}, C{/dropaccount},
C{/oper}, C{/kill}, C{/wallops}, C{/rehash}, C{/cregister}, C{/cdrop} and
C{/access} send (L{ACCOUNT_COMMANDS}), where passwords sit in a typed line
(L{secret_spans}, L{history_form}: they are neither kept in the history nor
drawn), and L{AccountSession}, the session's part that logs in with
SCRAM-SHA-256 (on connecting too, before the nick is taken) and remembers
the account across reconnections.
"""

from __future__ import annotations

import binascii
import re
from base64 import b64decode, b64encode
from typing import TYPE_CHECKING, Any, Callable

from chatd.client.actions import (
    Action,
    Login,
    Problem,
    Send,
    split_channel,
    split_words,
)
from chatd.client.render import render
from chatd.client.scram import ScramError, ScramLogin
from chatd.core import REASON_MAX, TEXT_MAX

if TYPE_CHECKING:
    from datetime import tzinfo

    from chatd.client.session import _Out

ACCOUNT_HELP_LINES = [
    "* accounts (the nick an account is named after is kept for whoever logs"
    " in to it):",
    "*   /register PASSWORD [EMAIL] register your nick as an account; this"
    " sends the password, as it must (use --tls where others can listen)",
    "*   /login [ACCOUNT] PASSWORD  log in (ACCOUNT: your nick if left out) with"
    " SCRAM-SHA-256: the password is not sent, and the server must prove it"
    " knows the account",
    "*   /logout                    log out of your account",
    "*   /passwd CURRENT NEW        change your password (this sends both)",
    "*   /dropaccount PASSWORD      delete your account (this sends the password)",
    "*   passwords are one word here; they are drawn as * and not kept in the"
    " history. chatd-client --account NAME logs in on connecting, before"
    " taking the nick",
    "* registered channels (their founder is the account that registered them):",
    "*   /cregister [#chan]         register a channel you operate: its topic,"
    " modes and bans stay, even when it is empty",
    "*   /cdrop #chan               unregister it (its founder)",
    "*   /access [#chan]            show its access list; /access [#chan] ACCOUNT"
    " op|voice|none: what ACCOUNT gets on joining",
    "* server operators' commands:",
    "*   /oper NAME PASSWORD        become a server operator (this sends the password)",
    "*   /kill NICK [reason]        disconnect NICK from the server",
    "*   /wallops TEXT              tell every server operator",
    "*   /rehash                    reload the server's config file",
]

#: The levels of C{/access}, as the protocol names them; none is null.
ACCESS_LEVELS = {"op": "op", "voice": "voice", "none": None}


def _usage(usage: str) -> Problem:
    # Never repeat what was typed: it may hold a password.
    return Problem(f"usage: {usage}")


def _words(rest: str, count: int, usage: str) -> list[str] | Problem:
    words = split_words(rest)
    if len(words) != count:
        return _usage(usage)
    return words


def _parse_register(name: str, rest: str, current: str | None) -> Action:
    """C{/register PASSWORD [EMAIL]}: the account is named as your nick."""
    words = split_words(rest)
    if not 1 <= len(words) <= 2:
        return _usage("/register PASSWORD [EMAIL]")
    request: dict[str, Any] = {"cmd": "register", "password": words[0]}
    if len(words) == 2:
        request["email"] = words[1]
    return Send(request)


def _parse_login(name: str, rest: str, current: str | None) -> Action:
    """C{/login [ACCOUNT] PASSWORD}."""
    words = split_words(rest)
    if len(words) == 1:
        return Login(None, words[0])
    if len(words) == 2:
        return Login(words[0], words[1])
    return _usage("/login [ACCOUNT] PASSWORD")


def _parse_passwd(name: str, rest: str, current: str | None) -> Action:
    words = _words(rest, 2, "/passwd CURRENT NEW")
    if isinstance(words, Problem):
        return words
    return Send({"cmd": "passwd", "current": words[0], "password": words[1]})


def _parse_dropaccount(name: str, rest: str, current: str | None) -> Action:
    words = _words(rest, 1, "/dropaccount PASSWORD")
    if isinstance(words, Problem):
        return words
    return Send({"cmd": "drop_account", "password": words[0]})


def _parse_oper(name: str, rest: str, current: str | None) -> Action:
    words = _words(rest, 2, "/oper NAME PASSWORD")
    if isinstance(words, Problem):
        return words
    return Send({"cmd": "oper", "name": words[0], "password": words[1]})


def _parse_bare(name: str, rest: str, current: str | None) -> Action:
    """C{/logout}, C{/rehash}: no arguments."""
    if split_words(rest):
        return _usage(f"/{name}")
    return Send({"cmd": name})


def _parse_kill(name: str, rest: str, current: str | None) -> Action:
    """C{/kill NICK [reason]}."""
    words = split_words(rest, 1)
    if not words or words[0].startswith("#"):
        return _usage("/kill NICK [reason]")
    request: dict[str, Any] = {"cmd": "kill", "nick": words[0]}
    if len(words) > 1:
        if len(words[1]) > REASON_MAX:
            return Problem(
                f"not sent: a reason is at most {REASON_MAX} characters, and this"
                f" one has {len(words[1])}"
            )
        request["reason"] = words[1]
    return Send(request)


def _parse_wallops(name: str, rest: str, current: str | None) -> Action:
    text = rest.strip(" \t")
    if not text:
        return _usage("/wallops TEXT")
    if len(text) > TEXT_MAX:
        return Problem(
            f"not sent: a wallops is at most {TEXT_MAX} characters, and this one"
            f" has {len(text)}"
        )
    return Send({"cmd": "wallops", "text": text})


def _parse_cregister(name: str, rest: str, current: str | None) -> Action:
    """C{/cregister [#chan]}."""
    words = split_words(rest)
    if len(words) > 1 or (words and not words[0].startswith("#")):
        return _usage("/cregister [#chan]")
    channel = words[0] if words else current
    if channel is None:
        return Problem("you are not in a channel (usage: /cregister [#chan])")
    return Send({"cmd": "register_channel", "channel": channel})


def _parse_cdrop(name: str, rest: str, current: str | None) -> Action:
    """C{/cdrop #chan}: named, not the current channel, as it is undone by hand."""
    words = split_words(rest)
    if len(words) != 1 or not words[0].startswith("#"):
        return _usage("/cdrop #chan (the channel is named: it is not the current one)")
    return Send({"cmd": "drop_channel", "channel": words[0]})


def _parse_access(name: str, rest: str, current: str | None) -> Action:
    """C{/access [#chan]} reads; C{/access [#chan] ACCOUNT op|voice|none} sets."""
    usage = "/access [#chan] [ACCOUNT op|voice|none]"
    channel, text = split_channel(rest, current)
    words = split_words(text)
    if len(words) not in (0, 2) or (words and words[0].startswith("#")):
        return _usage(usage)
    if channel is None:
        return Problem(f"you are not in a channel (usage: {usage})")
    request: dict[str, Any] = {"cmd": "access", "channel": channel}
    if words:
        account, level = words[0], words[1].lower()
        if level not in ACCESS_LEVELS:
            return Problem(
                f"an access level is op, voice or none, not {words[1]} (usage: {usage})"
            )
        request["account"] = account
        request["level"] = ACCESS_LEVELS[level]
    return Send(request)


#: Each account command's parser: (name, rest of the line, current channel).
ACCOUNT_COMMANDS: dict[str, Callable[[str, str, str | None], Action]] = {
    "register": _parse_register,
    "login": _parse_login,
    "logout": _parse_bare,
    "passwd": _parse_passwd,
    "dropaccount": _parse_dropaccount,
    "oper": _parse_oper,
    "kill": _parse_kill,
    "wallops": _parse_wallops,
    "rehash": _parse_bare,
    "cregister": _parse_cregister,
    "cdrop": _parse_cdrop,
    "access": _parse_access,
}


# Where the passwords are in a typed line.


def _shown(command: str, count: int) -> set[int]:
    """Which of C{count} words after C{/command} are not passwords."""
    if command == "login" and count >= 2:
        return {0}
    if command == "oper":
        return {0}
    return set()


#: The commands whose words (but those L{_shown} names) are passwords.
SECRET_COMMANDS = frozenset({"register", "login", "passwd", "dropaccount", "oper"})

_WORD = re.compile("[^ \t]+")


def _secret_words(line: str) -> tuple[str, list[re.Match[str]], set[int]] | None:
    if not line.startswith("/") or line.startswith("//"):
        return None
    words = list(_WORD.finditer(line))
    if not words or words[0].start() != 0:
        return None
    command = words[0].group()[1:].lower()
    if command not in SECRET_COMMANDS:
        return None
    args = words[1:]
    return words[0].group(), args, _shown(command, len(args))


def secret_spans(line: str) -> list[tuple[int, int]]:
    """
    The C{(start, end)} character spans of the passwords in a typed line (as
    its command reads them; while the line is being typed, a word may be
    taken for a password until the next one comes).
    """
    found = _secret_words(line)
    if found is None:
        return []
    _, args, shown = found
    return [(m.start(), m.end()) for i, m in enumerate(args) if i not in shown]


def history_form(line: str) -> str:
    """
    C{line} as the input history keeps it: a command with passwords keeps
    only its name and the words before the first password (C{/login alice }),
    ready for the password to be typed again.
    """
    found = _secret_words(line)
    if found is None:
        return line
    command, args, shown = found
    kept = [command]
    for i, match in enumerate(args):
        if i not in shown:
            return " ".join(kept) + " "
        kept.append(match.group())
    return " ".join(kept)


class AccountSession:
    """
    The part of L{chatd.client.session.ChatClient} that logs in: with
    SCRAM-SHA-256 when C{/login} is typed, and on every connection before
    the nick is taken when it knows the account's password (C{--account},
    or a login, registration or password change of this session), so that
    an account's own nick can be taken again after a reconnection.

    @ivar credentials: the account and password to log in with on
        connecting, or None.
    @ivar account: the account this connection is logged in to, or None.
    """

    credentials: tuple[str, str] | None = None
    account: str | None = None

    if TYPE_CHECKING:
        nick: str | None
        want_nick: str | None
        clock: Any
        tz: tzinfo | None

        def _send(
            self,
            request: dict[str, Any],
            silent: bool = False,
            *,
            then: Callable[[dict[str, Any], _Out], bool] | None = None,
        ) -> None: ...
        def _print(self, text: str) -> None: ...
        def _take_nick(self) -> None: ...
        def _abandon(self, why: str) -> None: ...

    def _typed_login(self, action: Login) -> None:
        """C{/login [ACCOUNT] PASSWORD}; then our nick, if we have none yet."""
        account = action.account or self.nick or self.want_nick
        if account is None:
            self._print("! usage: /login ACCOUNT PASSWORD (you have no nick yet)")
            return

        def then(logged_in: bool) -> None:
            if logged_in and self.nick is None and self.want_nick is not None:
                self._take_nick()

        self._log_in(account, action.password, then)

    def _log_in(
        self, account: str, password: str, then: Callable[[bool], None]
    ) -> None:
        """
        Log in to C{account} with SCRAM-SHA-256; C{then} is called with
        whether it worked, unless the server failed to prove it knows the
        account (the client then hangs up).
        """
        login = ScramLogin(account, password)

        def challenged(reply: dict[str, Any], out: _Out) -> bool:
            if reply.get("type") != "ok":
                self._show(reply, out)
                then(False)
                return True
            challenge = reply.get("challenge")
            try:
                if not isinstance(challenge, str):
                    raise ScramError("the server sent no SCRAM challenge")
                final = login.final(_unb64(challenge))
            except ScramError as e:
                self._print(f"! cannot log in to {account}: {e}")
                then(False)
                return True
            self._send({"cmd": "login", "data": _b64(final)}, then=finished)
            return True

        def finished(reply: dict[str, Any], out: _Out) -> bool:
            if reply.get("type") != "ok":
                self._show(reply, out)
                then(False)
                return True
            name = reply.get("account")
            signature = reply.get("final")
            try:
                if not isinstance(signature, str) or not isinstance(name, str):
                    raise ScramError("the server's reply has no final signature")
                login.verify(_unb64(signature))
            except ScramError as e:
                self._abandon(
                    f"the server could not prove it knows the account {account}"
                    f" ({e}): it may not be the server it claims to be;"
                    " disconnecting"
                )
                return True
            self.account = name
            self.credentials = (name, password)
            self._show(reply, out)
            then(True)
            return True

        first = {"cmd": "login", "mechanism": "SCRAM-SHA-256"}
        self._send({**first, "data": _b64(login.first())}, then=challenged)

    def _show(self, reply: dict[str, Any], out: _Out) -> None:
        now = self.clock.seconds()
        for text in render(reply, out.request, now=now, tz=self.tz, nick=self.nick):
            self._print(text)

    def _follow_account(self, reply: dict[str, Any], out: _Out) -> None:
        """Follow the account (and its password) an ok reply tells of."""
        cmd = reply.get("cmd")
        request = out.request
        if cmd == "register":
            name = reply.get("account")
            if isinstance(name, str):
                self.account = name
                self.credentials = (name, request["password"])
        elif cmd == "passwd":
            if self.credentials is not None:
                self.credentials = (self.credentials[0], request["password"])
        elif cmd in ("logout", "drop_account"):
            self.account = None
            self.credentials = None


def _b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    try:
        return b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ScramError("the server's SCRAM message is not base64") from None

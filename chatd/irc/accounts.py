# -*- test-case-name: tests.test_irc_accounts -*-
"""
Accounts on IRC: IRCv3 SASL (C{AUTHENTICATE} with PLAIN and SCRAM-SHA-256,
numerics 900-908, 400-byte chunks) and C{draft/account-registration}'s
C{REGISTER}.  Proving who someone is belongs to L{chatd.accounts}; this
module only speaks IRC's side of it.
"""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from chatd.accounts.sasl import MECHANISMS, Challenge, Success
from chatd.accounts.validation import is_email
from chatd.core import ChatError
from chatd.irc.message import Line, build, mask
from chatd.irc.numerics import (
    ERR_SASLABORTED,
    ERR_SASLALREADY,
    ERR_SASLFAIL,
    ERR_SASLTOOLONG,
    RPL_LOGGEDIN,
    RPL_LOGGEDOUT,
    RPL_SASLMECHS,
    RPL_SASLSUCCESS,
)
from chatd.irc.session import Command, IRCSession

if TYPE_CHECKING:
    from chatd.accounts.sasl import Mechanism, Step

#: AUTHENTICATE's payloads come in base64 chunks of at most this many bytes.
CHUNK = 400
#: The most base64 one SASL message may take, in all its chunks.
SASL_MAX = 8192

#: draft/account-registration's FAIL codes for each refusal of the accounts.
REGISTER_FAILS = {
    "account_exists": "ACCOUNT_EXISTS",
    "bad_account_name": "BAD_ACCOUNT_NAME",
    "weak_password": "WEAK_PASSWORD",
    "already_logged_in": "ALREADY_AUTHENTICATED",
    "registration_closed": "TEMPORARILY_UNAVAILABLE",
    "email_required": "INVALID_EMAIL",
    "registration_limit": "TEMPORARILY_UNAVAILABLE",
    "unavailable": "TEMPORARILY_UNAVAILABLE",
}


def chunks(data: bytes) -> list[str]:
    """C{data} as AUTHENTICATE parameters: base64 in 400-byte pieces, C{+}
    for nothing or after a last piece of exactly 400."""
    text = b64encode(data).decode("ascii")
    pieces = [text[i : i + CHUNK] for i in range(0, len(text), CHUNK)]
    if not pieces or len(pieces[-1]) == CHUNK:
        pieces.append("+")
    return pieces


class AccountCommands(IRCSession):
    """SASL and REGISTER."""

    _sasl: Mechanism | None = None
    _sasl_data = ""
    #: a SCRAM success whose server-final the client has yet to acknowledge
    _sasl_success: Success | None = None

    def cap_values(self) -> dict[str, str]:
        """The values of the account capabilities, as CAP LS 302 shows them."""
        accounts = self.factory.accounts
        if accounts is None:
            return {}
        values = {"sasl": ",".join(MECHANISMS)}
        if accounts.registration:
            flags = []
            if accounts.register_before_connect:
                flags.append("before-connect")
            if accounts.email_required:
                flags.append("email-required")
            values["draft/account-registration"] = ",".join(flags)
        return values

    # SASL

    def irc_AUTHENTICATE(self, line: Line) -> Deferred[Any] | None:
        accounts = self.factory.accounts
        arg = line.params[0]
        if accounts is None or "sasl" not in self.caps:
            self._sasl_reset()
            self.write(self.numeric(ERR_SASLFAIL, "SASL authentication failed"))
            return None
        if arg == "*":
            self._sasl_reset()
            self.write(self.numeric(ERR_SASLABORTED, "SASL authentication aborted"))
            return None
        mechanism = self._sasl
        if mechanism is None:
            if self._user().account is not None:
                self.write(
                    self.numeric(
                        ERR_SASLALREADY,
                        "You have already authenticated using SASL",
                    )
                )
                return None
            mechanism = accounts.mechanism(arg, self.host)
            if mechanism is None:
                self.write(
                    self.numeric(
                        RPL_SASLMECHS,
                        ",".join(MECHANISMS),
                        "are available SASL mechanisms",
                    )
                )
                self.write(self.numeric(ERR_SASLFAIL, "SASL authentication failed"))
                return None
            self._sasl = mechanism
            self._sasl_data = ""
            self.write(build("AUTHENTICATE", "+", prefix=self.factory.server_name))
            return None
        if len(arg) > CHUNK:
            self._sasl_reset()
            self.write(self.numeric(ERR_SASLTOOLONG, "SASL message too long"))
            return None
        if len(self._sasl_data) + len(arg) > SASL_MAX:
            # A client that never ends its message: fail the exchange, keep
            # the connection (later chunks find no exchange and fail too).
            self._sasl_failed("the message is too long")
            return None
        if arg != "+":
            self._sasl_data += arg
        if len(arg) == CHUNK:
            return None  # more to come
        text, self._sasl_data = self._sasl_data, ""
        try:
            data = b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            self._sasl_failed()
            return None
        success = self._sasl_success
        if success is not None:
            # The client read SCRAM's server-final; any answer ends it.
            self._sasl_logged_in(success.account)
            return None
        return mechanism.step(data).addCallback(self._sasl_step, mechanism)

    def _sasl_step(self, step: Step, mechanism: Mechanism) -> None:
        if self._sasl is not mechanism or self.closing:
            return  # aborted meanwhile
        if isinstance(step, Challenge):
            self._sasl_challenge(step.data)
        elif isinstance(step, Success):
            accounts = self.factory.accounts
            if accounts is not None and mechanism.name != "PLAIN":
                accounts.login_succeeded(step.account, self.host)
            if step.final:
                self._sasl_success = step
                self._sasl_challenge(step.final)
            else:
                self._sasl_logged_in(step.account)
        else:
            accounts = self.factory.accounts
            if (
                accounts is not None
                and step.reason == "bad_credentials"
                and step.account is not None
                and mechanism.name != "PLAIN"  # PLAIN's check counted it
            ):
                accounts.login_failed(step.account, self.host)
            self._sasl_failed(
                "too many failed logins: try again later"
                if step.reason == "throttled"
                else ""
            )

    def _sasl_challenge(self, data: bytes) -> None:
        server = self.factory.server_name
        for piece in chunks(data):
            self.write(build("AUTHENTICATE", piece, prefix=server))

    def _sasl_failed(self, why: str = "") -> None:
        self._sasl_reset()
        text = "SASL authentication failed"
        self.write(self.numeric(ERR_SASLFAIL, f"{text}: {why}" if why else text))

    def _sasl_reset(self) -> None:
        if self._sasl is not None:
            self._sasl.abort()
        self._sasl = None
        self._sasl_data = ""
        self._sasl_success = None

    def _sasl_logged_in(self, account: str) -> None:
        self._sasl_reset()
        self._logged_in(account)
        self.write(self.numeric(RPL_SASLSUCCESS, "SASL authentication successful"))

    def _logged_in(self, account: str) -> None:
        user = self._user()
        if user.account != account:
            self.factory.chat.log_in(user, account)
        self.write(
            self.numeric(
                RPL_LOGGEDIN,
                self._own_mask(),
                account,
                f"You are now logged in as {account}",
            )
        )

    def sasl_interrupted(self) -> None:
        """Registration ended (CAP END) in the middle of an exchange: abort it."""
        if self._sasl is not None:
            self._sasl_reset()
            self.write(self.numeric(ERR_SASLABORTED, "SASL authentication aborted"))

    def logged_out(self) -> None:
        """Say 901 (the account is gone, or the user logged out)."""
        self.write(
            self.numeric(RPL_LOGGEDOUT, self._own_mask(), "You are now logged out")
        )

    def _own_mask(self) -> str:
        user = self._user()
        nick = user.nick or self.nick or "*"
        return mask(nick, user) if user.username else f"{nick}!*@{user.host}"

    # draft/account-registration

    def irc_REGISTER(self, line: Line) -> Deferred[Any] | None:
        accounts = self.factory.accounts
        name, email, password = line.params[:3]
        if accounts is None:
            self._fail(
                "REGISTER",
                "TEMPORARILY_UNAVAILABLE",
                name,
                "This server has no accounts",
            )
            return None
        # Before registration, the nick asked for even if another has it:
        # registering a nick somebody is using is refused (no land grabs).
        nick = self._user().nick or self.nick or self.wanted_nick
        if name == "*":
            if nick is None:
                self._fail("REGISTER", "NEED_NICK", "*", "Choose a nick first")
                return None
            name = nick
        elif nick is None or name.lower() != nick.lower():
            self._fail(
                "REGISTER",
                "ACCOUNT_NAME_MUST_BE_NICK",
                name,
                "Register the nick you are using: the account's name is your nick",
            )
            return None
        if not self.registered and not accounts.register_before_connect:
            self._fail(
                "REGISTER",
                "COMPLETE_CONNECTION_REQUIRED",
                name,
                "Finish connecting (NICK, USER, CAP END) before registering",
            )
            return None
        if email == "*" and accounts.email_required:
            self._fail(
                "REGISTER", "INVALID_EMAIL", name, "This server needs an email address"
            )
            return None
        if email == "*":
            address = None
        elif is_email(email):
            address = email
        else:
            self._fail("REGISTER", "INVALID_EMAIL", email, "That email is not valid")
            return None

        def done(record: Any) -> None:
            self.write(
                build(
                    "REGISTER",
                    "SUCCESS",
                    record.name,
                    "Account created",
                    prefix=self.factory.server_name,
                )
            )
            self._logged_in(record.name)

        def refused(failure: Any) -> None:
            failure.trap(ChatError)
            error: ChatError = failure.value
            code = REGISTER_FAILS.get(error.code, "TEMPORARILY_UNAVAILABLE")
            self._fail("REGISTER", code, name, error.message)

        d = accounts.register(self._user(), name, password, self.host, address)
        return d.addCallbacks(done, refused)


#: command: (handler, least number of parameters, needs registration)
ACCOUNTS: dict[str, Command] = {
    "AUTHENTICATE": (AccountCommands.irc_AUTHENTICATE, 1, False),
    "REGISTER": (AccountCommands.irc_REGISTER, 3, False),
}

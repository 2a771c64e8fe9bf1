# -*- test-case-name: tests.test_protocol_accounts -*-
"""
The JSON protocol's accounts, server operators and registered channels:
C{register}, C{login} (a password, or SCRAM-SHA-256 for clients that do not
want to send it), C{logout}, C{passwd}, C{drop_account}, C{oper}, C{kill},
C{wallops}, C{rehash}, C{register_channel}, C{drop_channel} and C{access}.
Proving who someone is belongs to L{chatd.accounts}; the rules to the core.
"""

from __future__ import annotations

import binascii
from base64 import b64decode, b64encode
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred

from chatd.accounts.sasl import Challenge, Success
from chatd.accounts.validation import EMAIL_MAX, is_email
from chatd.config import ConfigError, NoConfigFile
from chatd.core import ChatError, User, check_channel, policy
from chatd.core.names import fold
from chatd.jsonproto import codec
from chatd.jsonproto.args import arg
from chatd.log import logger

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from chatd.accounts.registry import Accounts
    from chatd.accounts.sasl import Mechanism, Step
    from chatd.core.model import Channel
    from chatd.jsonproto.lines import ChatFactory

log = logger(__name__)


#: The levels of the C{access} command, as the core names them.
ACCESS_LEVELS = {"op": "o", "voice": "v"}


class AccountRequests:
    """The account commands of L{chatd.jsonproto.session.JSONSession}."""

    if TYPE_CHECKING:
        factory: ChatFactory
        user: User | None
        host: str
        closing: bool

    _scram: Mechanism | None = None

    def _me(self) -> User:
        assert self.user is not None
        return self.user

    def _here(self, user: User) -> bool:
        """
        Whether C{user} is still connected: a password check finishes
        later, and whoever left meanwhile is logged in to nothing.
        """
        return user in self.factory.chat.users

    def _accounts(self) -> Accounts:
        accounts = self.factory.accounts
        if accounts is None:
            raise ChatError("unavailable", "this server has no accounts")
        return accounts

    def do_register(self, request: codec.Request) -> Deferred[bytes]:
        accounts = self._accounts()
        user = self._me()
        password = arg(request, "password")
        email = arg(request, "email", None)
        name = arg(request, "account", None) or user.nick
        if name is None:
            raise ChatError(
                "bad_args",
                'give the account\'s name ("account") or take a nick first: '
                "an account's name is a nick",
            )
        if user.nick is not None and fold(name) != fold(user.nick):
            raise ChatError(
                "bad_account_name",
                f"register the nick you are using ({user.nick}): "
                "an account's name is a nick it owns",
            )
        if email is not None and not is_email(email):
            raise ChatError(
                "bad_args",
                f"field 'email' is not an email address (name@domain, at most "
                f"{EMAIL_MAX} characters)",
            )
        d: Deferred[Any] = accounts.register(user, name, password, self.host, email)
        return d.addCallback(
            lambda record: codec.ok("register", request.request_id, account=record.name)
        )

    def do_login(self, request: codec.Request) -> Deferred[bytes] | bytes:
        accounts = self._accounts()
        user = self._me()
        mechanism = arg(request, "mechanism", None)
        data = arg(request, "data", None)
        if mechanism is not None or data is not None:
            return self._scram_step(request, accounts, mechanism, data)
        if user.account is not None:
            raise ChatError(
                "already_logged_in", f"you are logged in to {user.account} already"
            )
        name = arg(request, "account", None) or user.nick
        if name is None:
            raise ChatError("bad_args", "missing field 'account'")
        password = arg(request, "password")

        def checked(account: str | None) -> bytes:
            if account is None:
                raise ChatError("bad_credentials", "wrong account name or password")
            if user.account != account and self._here(user):
                self.factory.chat.log_in(user, account)
            return codec.ok("login", request.request_id, account=account)

        d: Deferred[Any] = accounts.authenticate(name, password, self.host)
        return d.addCallback(checked)

    def _scram_step(
        self,
        request: codec.Request,
        accounts: Accounts,
        mechanism: str | None,
        data: str | None,
    ) -> Deferred[bytes]:
        user = self._me()
        if mechanism is not None:
            self._scram_over()  # a first message starts over
            if user.account is not None:
                raise ChatError(
                    "already_logged_in",
                    f"you are logged in to {user.account} already",
                )
            if mechanism.upper() != "SCRAM-SHA-256":
                raise ChatError(
                    "bad_args",
                    'the login mechanism is "SCRAM-SHA-256" (or send a "password")',
                )
        elif self._scram is None:
            raise ChatError(
                "bad_args", 'start with {"cmd":"login","mechanism":"SCRAM-SHA-256",...}'
            )
        # Any error from here on ends the exchange.
        if data is None:
            self._scram_over()
            raise ChatError("bad_args", "missing field 'data' (base64)")
        try:
            payload = b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            self._scram_over()
            raise ChatError("bad_args", "field 'data' is not base64") from None
        if mechanism is not None:
            self._scram = accounts.mechanism("SCRAM-SHA-256", self.host)
        exchange = self._scram
        assert exchange is not None

        # The connection's input is held until a step has fired (wait_for),
        # so no other login can start meanwhile.
        def stepped(step: Step) -> bytes:
            if isinstance(step, Challenge):
                return codec.ok(
                    "login",
                    request.request_id,
                    challenge=b64encode(step.data).decode("ascii"),
                )
            self._scram = None
            if isinstance(step, Success):
                accounts.login_succeeded(step.account, self.host)
                if self._here(user):
                    self.factory.chat.log_in(user, step.account)
                return codec.ok(
                    "login",
                    request.request_id,
                    account=step.account,
                    final=b64encode(step.final).decode("ascii"),
                )
            if step.reason == "bad_credentials" and step.account is not None:
                accounts.login_failed(step.account, self.host)
            if step.reason == "throttled":
                wait = 0.0
                if step.account is not None:
                    wait = accounts.login_allowed(step.account, self.host)
                later = f"again in {int(wait) + 1} seconds" if wait > 0 else "later"
                raise ChatError("throttled", f"too many failed logins; try {later}")
            if step.reason == "malformed":
                raise ChatError("bad_args", "that is not a SCRAM-SHA-256 message")
            raise ChatError("bad_credentials", "wrong account name or password")

        return exchange.step(payload).addCallback(stepped)

    def _scram_over(self) -> None:
        if self._scram is not None:
            self._scram.abort()
            self._scram = None

    def do_logout(self, request: codec.Request) -> bytes:
        user = self._me()
        if user.account is None:
            raise ChatError("not_logged_in", "you are not logged in")
        self.factory.chat.log_out(user)
        return codec.ok("logout", request.request_id)

    def do_passwd(self, request: codec.Request) -> Deferred[bytes]:
        accounts = self._accounts()
        user = self._me()
        account = user.account
        if account is None:
            raise ChatError("not_logged_in", "log in to change your password")
        current = arg(request, "current")
        new = arg(request, "password")

        def checked(name: str | None) -> Deferred[Any]:
            if name is None:
                raise ChatError("bad_credentials", "your current password is wrong")
            return accounts.change_password(name, new)

        d: Deferred[Any] = accounts.authenticate(account, current, self.host)
        d.addCallback(checked)
        return d.addCallback(lambda _: codec.ok("passwd", request.request_id))

    def do_drop_account(self, request: codec.Request) -> Deferred[bytes]:
        accounts = self._accounts()
        user = self._me()
        account = user.account
        if account is None:
            raise ChatError("not_logged_in", "log in to the account to drop it")
        password = arg(request, "password")

        def checked(name: str | None) -> Deferred[Any]:
            if name is None:
                raise ChatError("bad_credentials", "wrong password")
            return accounts.drop(name)

        d: Deferred[Any] = accounts.authenticate(account, password, self.host)
        d.addCallback(checked)
        return d.addCallback(
            lambda _: codec.ok("drop_account", request.request_id, account=account)
        )

    # server operators

    def do_oper(self, request: codec.Request) -> Deferred[bytes]:
        name = arg(request, "name")
        password = arg(request, "password")
        opers = self.factory.opers
        user = self._me()
        if opers is None or not len(opers):
            raise ChatError("oper_no_host", "this server has no operators")

        def done(block: str) -> bytes:
            if self._here(user):
                self.factory.chat.set_oper(user, block)
            return codec.ok("oper", request.request_id, oper=block)

        return opers.check(user, name, password).addCallback(done)

    def do_kill(self, request: codec.Request) -> bytes | None:
        nick = arg(request, "nick")
        reason = arg(request, "reason", "")
        event = self.factory.chat.kill(self._me(), nick, reason)
        if self.closing:
            return None  # an operator killed themselves: their bye was the last line
        return codec.ok("kill", request.request_id, nick=event.nick)

    def do_wallops(self, request: codec.Request) -> bytes:
        self.factory.chat.wallops(self._me(), arg(request, "text"))
        return codec.ok("wallops", request.request_id)

    def do_rehash(self, request: codec.Request) -> Deferred[bytes]:
        user = self._me()
        self.factory.chat.require_oper(user)
        rehash = self.factory.rehash
        if rehash is None:
            raise ChatError(
                "no_config",
                "chatd was started without --config: there is no file to reload",
            )
        log.warn(
            "server operator {oper} ({nick}) asked for a REHASH",
            oper=user.oper,
            nick=user.nick,
        )

        def failed(failure: Failure) -> None:
            if failure.check(NoConfigFile):
                raise ChatError("no_config", failure.getErrorMessage())
            # Anything but a config error is a bug: internal_error, logged.
            failure.trap(ConfigError)
            raise ChatError("invalid_config", failure.getErrorMessage())

        d: Deferred[Any] = rehash().addCallbacks(
            lambda summary: codec.ok("rehash", request.request_id, summary=summary),
            failed,
        )
        return d

    # registered channels

    def do_register_channel(self, request: codec.Request) -> bytes:
        channel = self.factory.chat.register_channel(
            self._me(), arg(request, "channel")
        )
        return codec.ok(
            "register_channel",
            request.request_id,
            channel=channel.name,
            founder=self._me().account,
        )

    def do_drop_channel(self, request: codec.Request) -> bytes:
        channel = self.factory.chat.unregister_channel(
            self._me(), arg(request, "channel")
        )
        return codec.ok("drop_channel", request.request_id, channel=channel.name)

    def do_access(self, request: codec.Request) -> bytes:
        chat = self.factory.chat
        name = arg(request, "channel")
        account = arg(request, "account", None)
        if account is not None:
            if "level" not in request.args:
                raise ChatError(
                    "bad_args", 'missing field \'level\' ("op", "voice" or null)'
                )
            level = request.args["level"]
            if level is not None and (
                not isinstance(level, str) or level not in ACCESS_LEVELS
            ):
                raise ChatError("bad_args", 'field \'level\' is "op", "voice" or null')
            channel = chat.set_access(
                self._me(),
                name,
                account,
                None if level is None else ACCESS_LEVELS[level],
            )
        else:
            channel = self._registered(name)
        names = {v: k for k, v in ACCESS_LEVELS.items()}
        founder = channel.founder
        assert founder is not None
        return codec.ok(
            "access",
            request.request_id,
            channel=channel.name,
            founder=self._account_name(founder),
            access={
                self._account_name(key): names[level]
                for key, level in sorted(channel.access.items())
            },
        )

    def do_history_access(self, request: codec.Request) -> bytes:
        chat = self.factory.chat
        name = arg(request, "channel")
        if "access" in request.args:
            access = request.args["access"]
            if access is not None and (
                not isinstance(access, str) or access not in policy.HISTORY_ACCESS
            ):
                raise ChatError(
                    "bad_args",
                    "field 'access' is "
                    + ", ".join(f'"{a}"' for a in policy.HISTORY_ACCESS)
                    + " or null (the server's default)",
                )
            channel = chat.set_history_access(self._me(), name, access)
        else:
            channel = self._registered(name)
        return codec.ok(
            "history_access",
            request.request_id,
            channel=channel.name,
            access=channel.history_access,
            effective=channel.history_access or chat.history_default,
        )

    def _registered(self, name: str) -> Channel:
        """The registered channel C{name}, for reading its settings."""
        check_channel(name)
        found = self.factory.chat.find_channel(name)
        if found is None or not policy.can_see(found, self._me()):
            raise ChatError("no_such_channel", f"there is no channel {name}")
        if found.founder is None:
            raise ChatError("not_registered", f"{found.name} is not registered")
        return found

    def _account_name(self, key: str) -> str:
        """The account whose folded name is C{key}, as it was registered."""
        accounts = self.factory.accounts
        record = None if accounts is None else accounts.find(key)
        return key if record is None else record.name

# -*- test-case-name: tests.test_irc_accounts -*-
"""
NickServ and ChanServ, as IRC users expect to find them: C{/msg NickServ
REGISTER password} and C{/msg ChanServ REGISTER #channel}, built into the
server as ergo does (no separate services daemon).  They are a way of
typing commands, not users: they answer with NOTICEs and hold no state;
the accounts (L{chatd.accounts}) and the core's rules do the work.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Callable

from twisted.internet.defer import Deferred

from chatd.accounts.validation import is_email
from chatd.core import ChatError, policy
from chatd.core.names import fold
from chatd.irc.message import Line, build
from chatd.irc.session import Command, IRCSession

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from chatd.core.model import Channel

NICKSERV_HELP = [
    "NickServ keeps accounts. Commands:",
    "REGISTER <password> [email]  register your current nick as an account",
    "IDENTIFY [account] <password>  log in (or configure SASL in your client)",
    "LOGOUT  log out",
    "PASSWD <new password>  change your password (log in first)",
    "DROP <password>  delete your account",
    "INFO  when your account was registered (operators: INFO <account>)",
]
CHANSERV_HELP = [
    "ChanServ keeps registered channels. Commands:",
    "REGISTER <#channel>  register a channel you are an operator of",
    "DROP <#channel>  unregister it (its founder or a server operator)",
    "ACCESS <#channel> ADD <account> <op|voice>  give on joining",
    "ACCESS <#channel> DEL <account>  give nothing",
    "ACCESS <#channel> LIST  who gets what",
    "SET <#channel> HISTORY <everything|since-join|none|default>  who may read"
    " its history",
    "INFO <#channel>  its founder, when it was registered, its history setting",
]


class Services(IRCSession):
    """The NickServ and ChanServ commands of one connection."""

    def service(self, target: str, text: str) -> Deferred[Any] | None:
        """C{text} was sent to NickServ or ChanServ: run it."""
        words = text.split()
        name = "NickServ" if fold(target) == "nickserv" else "ChanServ"
        if not words:
            return None
        command, args = words[0].upper(), words[1:]
        table = NICKSERV if name == "NickServ" else CHANSERV
        handler = table.get(command)
        if handler is None:
            self.service_notice(
                name, f"Unknown command {command}: /msg {name} HELP for the commands"
            )
            return None
        try:
            result = handler(self, args)
        except ChatError as e:
            self.service_notice(name, e.message)
            return None
        if result is None:
            return None

        def refused(failure: Failure) -> None:
            failure.trap(ChatError)
            self.service_notice(name, failure.value.message)  # type: ignore[union-attr]

        return result.addErrback(refused)

    def service_notice(self, service: str, text: str) -> None:
        prefix = f"{service}!services@{self.factory.server_name}"
        self.write(build("NOTICE", self.me, text, prefix=prefix, text=True))

    def irc_NICKSERV(self, line: Line) -> Deferred[Any] | None:
        return self.service("NickServ", " ".join(line.params))

    def irc_CHANSERV(self, line: Line) -> Deferred[Any] | None:
        return self.service("ChanServ", " ".join(line.params))

    # NickServ

    def _accounts(self, service: str) -> Any:
        accounts = self.factory.accounts
        if accounts is None:
            raise ChatError("unavailable", "this server has no accounts")
        return accounts

    def ns_help(self, args: list[str]) -> None:
        for text in NICKSERV_HELP:
            self.service_notice("NickServ", text)

    def ns_register(self, args: list[str]) -> Deferred[Any]:
        accounts = self._accounts("NickServ")
        if not args:
            raise ChatError("bad_args", "Syntax: REGISTER <password> [email]")
        user = self._user()
        nick = user.nick or "*"
        email = args[1] if len(args) > 1 else None
        if email is not None and not is_email(email):
            raise ChatError("bad_args", f"{email!r} is not an email address")

        def done(record: Any) -> None:
            self.service_notice("NickServ", "Account created")
            self._logged_in(record.name)  # type: ignore[attr-defined]

        d: Deferred[Any] = accounts.register(user, nick, args[0], self.host, email)
        return d.addCallback(done)

    def ns_identify(self, args: list[str]) -> Deferred[Any]:
        accounts = self._accounts("NickServ")
        user = self._user()
        if not args or len(args) > 2:
            raise ChatError("bad_args", "Syntax: IDENTIFY [account] <password>")
        if user.account is not None:
            raise ChatError(
                "already_logged_in", f"You are logged in to {user.account} already"
            )
        name = args[0] if len(args) == 2 else (user.nick or "")
        password = args[-1]

        def checked(account: str | None) -> None:
            if account is None:
                self.service_notice("NickServ", "Invalid account credentials")
                return
            self.service_notice("NickServ", f"You're now logged in as {account}")
            self._logged_in(account)  # type: ignore[attr-defined]

        d: Deferred[Any] = accounts.authenticate(name, password, self.host)
        return d.addCallback(checked)

    def ns_logout(self, args: list[str]) -> None:
        user = self._user()
        if user.account is None:
            raise ChatError("not_logged_in", "You are not logged in")
        self.factory.chat.log_out(user)
        self.service_notice("NickServ", "You're now logged out")
        self.logged_out()  # type: ignore[attr-defined]

    def ns_passwd(self, args: list[str]) -> Deferred[Any]:
        accounts = self._accounts("NickServ")
        user = self._user()
        if user.account is None:
            raise ChatError("not_logged_in", "Log in first")
        if len(args) != 2:
            raise ChatError(
                "bad_args", "Syntax: PASSWD <current password> <new password>"
            )
        current, new = args

        def checked(name: str | None) -> Deferred[Any] | None:
            # As JSON's passwd and DROP: a session left open is not enough
            # to take the account over.
            if name is None:
                self.service_notice("NickServ", "Your current password is wrong")
                return None
            changed: Deferred[Any] = accounts.change_password(name, new)
            return changed.addCallback(
                lambda _: self.service_notice("NickServ", "Password changed")
            )

        d: Deferred[Any] = accounts.authenticate(user.account, current, self.host)
        return d.addCallback(checked)

    def ns_drop(self, args: list[str]) -> Deferred[Any]:
        accounts = self._accounts("NickServ")
        user = self._user()
        if user.account is None:
            raise ChatError("not_logged_in", "Log in first")
        if len(args) != 1:
            raise ChatError(
                "bad_args", "Syntax: DROP <password> (your password, to be sure)"
            )
        account = user.account

        def checked(name: str | None) -> Deferred[Any] | None:
            if name is None:
                self.service_notice("NickServ", "Invalid account credentials")
                return None
            d: Deferred[Any] = accounts.drop(name)
            return d.addCallback(
                lambda _: self.service_notice("NickServ", f"Account {name} dropped")
            )

        d: Deferred[Any] = accounts.authenticate(account, args[0], self.host)
        return d.addCallback(checked)

    def ns_info(self, args: list[str]) -> None:
        accounts = self._accounts("NickServ")
        user = self._user()
        name = args[0] if args else (user.account or "")
        mine = user.account is not None and fold(name) == fold(user.account)
        if not mine and user.oper is None:
            # Not for strangers: whether an account exists is its owner's.
            raise ChatError(
                "not_logged_in", "INFO shows your own account: log in first"
            )
        record = accounts.find(name)
        if record is None:
            self.service_notice("NickServ", f"{name} is not a registered account")
            return
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(record.created_at))
        self.service_notice("NickServ", f"Account {record.name}, registered {when}")

    # ChanServ

    def cs_help(self, args: list[str]) -> None:
        for text in CHANSERV_HELP:
            self.service_notice("ChanServ", text)

    def cs_register(self, args: list[str]) -> None:
        if len(args) != 1:
            raise ChatError("bad_args", "Syntax: REGISTER <#channel>")
        channel = self.factory.chat.register_channel(self._user(), args[0])
        self.service_notice(
            "ChanServ",
            f"Channel {channel.name} registered to your account {self._user().account}",
        )

    def cs_drop(self, args: list[str]) -> None:
        if len(args) != 1:
            raise ChatError("bad_args", "Syntax: DROP <#channel>")
        channel = self.factory.chat.unregister_channel(self._user(), args[0])
        self.service_notice("ChanServ", f"Channel {channel.name} is not registered now")

    def cs_access(self, args: list[str]) -> None:
        chat = self.factory.chat
        if len(args) < 2:
            raise ChatError("bad_args", "Syntax: ACCESS <#channel> ADD|DEL|LIST ...")
        name, verb = args[0], args[1].upper()
        if verb == "LIST":
            channel = chat.find_channel(name)
            if (
                channel is None
                or channel.founder is None
                or not policy.can_see(channel, self._user())
            ):
                raise ChatError("not_registered", f"{name} is not registered")
            self.service_notice("ChanServ", f"Access list of {channel.name}:")
            self.service_notice("ChanServ", f"  {channel.founder}  founder")
            for account, level in sorted(channel.access.items()):
                self.service_notice(
                    "ChanServ", f"  {account}  {'op' if level == 'o' else 'voice'}"
                )
            return
        if verb == "ADD" and len(args) == 4:
            wanted = {"op": "o", "o": "o", "voice": "v", "v": "v"}.get(args[3].lower())
            if wanted is None:
                raise ChatError("bad_args", "The level is op or voice")
            channel = chat.set_access(self._user(), name, args[2], wanted)
            self.service_notice(
                "ChanServ",
                f"{args[2]} gets {args[3].lower()} on joining {channel.name}",
            )
            return
        if verb == "DEL" and len(args) == 3:
            channel = chat.set_access(self._user(), name, args[2], None)
            self.service_notice(
                "ChanServ", f"{args[2]} gets nothing on joining {channel.name}"
            )
            return
        raise ChatError("bad_args", "Syntax: ACCESS <#channel> ADD|DEL|LIST ...")

    def cs_set(self, args: list[str]) -> None:
        if len(args) != 3 or args[1].upper() != "HISTORY":
            raise ChatError(
                "bad_args",
                "Syntax: SET <#channel> HISTORY <everything|since-join|none|default>",
            )
        wanted = args[2].lower()
        channel = self.factory.chat.set_history_access(
            self._user(), args[0], None if wanted == "default" else wanted
        )
        self.service_notice(
            "ChanServ", f"{channel.name}: {self._history_said(channel)}"
        )

    def _history_said(self, channel: Channel) -> str:
        chat = self.factory.chat
        access = channel.history_access or chat.history_default
        said = {
            "everything": "members read all of its history",
            "since-join": "members read its history since they joined",
            "none": "nobody reads its history",
        }[access]
        if channel.history_access is None:
            said += " (the server's default)"
        return said

    def cs_info(self, args: list[str]) -> None:
        if len(args) != 1:
            raise ChatError("bad_args", "Syntax: INFO <#channel>")
        channel = self.factory.chat.find_channel(args[0])
        if (
            channel is None
            or channel.founder is None
            or (channel.secret and self._user() not in channel.members)
        ):
            raise ChatError("not_registered", f"{args[0]} is not registered")
        when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(channel.registered_at))
        self.service_notice(
            "ChanServ",
            f"{channel.name}: founder {channel.founder}, registered {when};"
            f" {self._history_said(channel)}",
        )


ServiceCommand = Callable[[Services, list[str]], "Deferred[Any] | None"]
NICKSERV: dict[str, ServiceCommand] = {
    "HELP": Services.ns_help,
    "REGISTER": Services.ns_register,
    "IDENTIFY": Services.ns_identify,
    "LOGIN": Services.ns_identify,
    "LOGOUT": Services.ns_logout,
    "PASSWD": Services.ns_passwd,
    "DROP": Services.ns_drop,
    "INFO": Services.ns_info,
}
CHANSERV: dict[str, ServiceCommand] = {
    "HELP": Services.cs_help,
    "REGISTER": Services.cs_register,
    "DROP": Services.cs_drop,
    "ACCESS": Services.cs_access,
    "SET": Services.cs_set,
    "INFO": Services.cs_info,
}
#: command: (handler, least number of parameters, needs registration)
SERVICES: dict[str, Command] = {
    "NICKSERV": (Services.irc_NICKSERV, 1, True),
    "NS": (Services.irc_NICKSERV, 1, True),
    "CHANSERV": (Services.irc_CHANSERV, 1, True),
    "CS": (Services.irc_CHANSERV, 1, True),
}

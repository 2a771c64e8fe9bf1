# -*- test-case-name: tests.accounts.test_validation -*-
"""
What an account name and a password may be.  An account's name is a nick
reserved for it, so it follows the nick rules of L{chatd.core.names}; a
password has bounds so that hashing it costs what we planned.
"""

from __future__ import annotations

from chatd.core.names import NICK_MAX, fold, is_valid_nick

#: The shortest password chatd-admin takes for an operator; accounts take
#: what the config's accounts.min_password_length says (at least 1).
PASSWORD_MIN = 8
#: The longest password (what hashing one may cost is bounded by it).
PASSWORD_MAX = 600
_FORBIDDEN = {"\0": "NUL", "\r": "CR", "\n": "LF"}


class AccountNameError(ValueError):
    """A name that cannot be an account's; C{reason} says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PasswordError(ValueError):
    """A password that may not be set; C{reason} says why, for people."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def check_account_name(name: str) -> str:
    """
    The key C{name} is stored and compared by (nick folding: ASCII lower
    case), if it is a valid nick.

    @raise AccountNameError: if it is not.
    """
    if not is_valid_nick(name):
        raise AccountNameError(
            f"an account name is a nick: 1 to {NICK_MAX} ASCII letters, digits "
            "or -_[]{}|^`\\, not starting with a digit or -"
        )
    return fold(name)


def check_password(
    password: str, account: str | None = None, min_length: int = PASSWORD_MIN
) -> None:
    """
    Refuse a password shorter than C{min_length} (and empty, whatever it
    is) or longer than L{PASSWORD_MAX} characters, one with NUL, CR or LF
    (no wire could carry it), one that is not valid Unicode, and one equal
    to the C{account} name, whatever its case.

    @raise PasswordError: saying which rule it breaks.
    """
    least = max(1, min_length)
    if len(password) < least:
        raise PasswordError(
            "a password may not be empty"
            if least == 1
            else f"a password has at least {least} characters"
        )
    if len(password) > PASSWORD_MAX:
        raise PasswordError(f"a password has at most {PASSWORD_MAX} characters")
    for char, name in _FORBIDDEN.items():
        if char in password:
            raise PasswordError(f"a password may not contain {name}")
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:
        raise PasswordError("a password must be valid Unicode text") from None
    if account is not None and password.casefold() == account.casefold():
        raise PasswordError("a password may not be the account's name")


#: The longest email address (RFC 5321's path limit), as IRC's REGISTER takes.
EMAIL_MAX = 254


def is_email(text: str) -> bool:
    """
    Whether C{text} may be kept as an account's email: IRC C{REGISTER}'s
    rule (an C{@}, no space, at most 254 characters), and no control
    character or other whitespace.
    """
    return (
        "@" in text
        and len(text) <= EMAIL_MAX
        and not any(c.isspace() or c < " " or c == "\x7f" for c in text)
    )

# -*- test-case-name: tests.accounts.test_passwords -*-
"""
SASLprep (RFC 4013): the form a password takes before it is hashed, so that
one password typed as composed or decomposed Unicode, or with a no-break
space, is the same password.  SCRAM clients prepare the password this way
before they derive their keys, so the server must prepare it the same way
when it makes the stored credentials; the scrypt hashes use it too, so that
PLAIN and SCRAM accept the same passwords.
"""

from __future__ import annotations

import stringprep
import unicodedata


class SASLprepError(ValueError):
    """A string that SASLprep refuses: a prohibited character or mixed direction."""


def _prohibited(char: str) -> bool:
    return (
        stringprep.in_table_c12(char)
        or stringprep.in_table_c21_c22(char)
        or stringprep.in_table_c3(char)
        or stringprep.in_table_c4(char)
        or stringprep.in_table_c5(char)
        or stringprep.in_table_c6(char)
        or stringprep.in_table_c7(char)
        or stringprep.in_table_c8(char)
        or stringprep.in_table_c9(char)
    )


def saslprep(text: str) -> str:
    """
    C{text} prepared as RFC 4013 says for a query (unassigned code points
    are let through): non-ASCII spaces mapped to a space, characters
    "commonly mapped to nothing" removed, NFKC, then the prohibited
    characters and the bidirectional rule checked.

    @raise SASLprepError: when the result has a prohibited character or
        mixes right-to-left and left-to-right text.
    """
    if text.isascii() and text.isprintable():
        return text
    mapped = "".join(
        " " if stringprep.in_table_c12(c) else c
        for c in text
        if not stringprep.in_table_b1(c)
    )
    prepared = unicodedata.ucd_3_2_0.normalize("NFKC", mapped)
    for char in prepared:
        if _prohibited(char):
            raise SASLprepError(
                f"SASLprep prohibits U+{ord(char):04X} "
                f"({unicodedata.name(char, 'unnamed')})"
            )
    if any(stringprep.in_table_d1(c) for c in prepared):
        if any(stringprep.in_table_d2(c) for c in prepared):
            raise SASLprepError(
                "SASLprep refuses a string with both right-to-left and "
                "left-to-right characters"
            )
        if not (
            stringprep.in_table_d1(prepared[0]) and stringprep.in_table_d1(prepared[-1])
        ):
            raise SASLprepError(
                "SASLprep refuses right-to-left text that does not start and "
                "end with a right-to-left character"
            )
    return prepared


def password_bytes(password: str) -> bytes:
    """
    The bytes a password is hashed as: its SASLprep form in UTF-8, or, when
    SASLprep refuses it, the password itself in UTF-8 (as PostgreSQL does),
    so that no password is unusable, only unusable with a strict SCRAM client.

    @raise UnicodeEncodeError: for a string with a lone surrogate.
    """
    try:
        prepared = saslprep(password)
    except SASLprepError:
        prepared = password
    return prepared.encode("utf-8")

# -*- test-case-name: tests.accounts.test_passwords -*-
"""
Password hashes: scrypt (memory-hard, salted, slow) from C{cryptography},
in the text form C{$scrypt$ln=14,r=8,p=1$<salt>$<key>} that the store keeps
for accounts and the config file for operators.  C{hashlib.scrypt} is
missing on PyPy 3.9, so cryptography's Scrypt does the work.

One hash with the default cost takes about 50 ms (median on this project's
machine, CPython 3.11 and PyPy 3.9 alike) and 16 MiB: call these off the
reactor thread (L{chatd.accounts.hasher}).
"""

from __future__ import annotations

import base64
import binascii
import hmac
import re
import secrets

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from chatd.accounts.saslprep import password_bytes

#: scrypt's cost as log2(N): 2**14 rounds of 8 blocks of 128 bytes, 16 MiB.
DEFAULT_LN = 14
BLOCK_SIZE = 8
PARALLELISM = 1
SALT_BYTES = 16
KEY_BYTES = 32
#: The most memory one verification may take (128 * r * 2**ln bytes), so
#: that a mistyped or hostile stored hash cannot make a login take gigabytes.
MAX_MEMORY = 256 * 1024 * 1024
#: The most passes of it (each takes as long as one with p=1).
MAX_PARALLELISM = 16

_B64 = "[A-Za-z0-9+/]"
_HASH = re.compile(
    r"\$scrypt\$ln=([1-9][0-9]?),r=([1-9][0-9]?),p=([1-9][0-9]?)"
    rf"\$({_B64}{{22}})\$({_B64}{{43}})\Z"
)


class PasswordHashError(ValueError):
    """Parameters that this module will not hash with."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _check_cost(ln: int, r: int, p: int) -> None:
    if not (1 <= ln <= 63 and 1 <= r <= 99 and 1 <= p <= MAX_PARALLELISM):
        raise PasswordHashError(f"scrypt parameters out of range: ln={ln} r={r} p={p}")
    if 128 * r * (1 << ln) > MAX_MEMORY:
        raise PasswordHashError(
            f"scrypt with ln={ln} and r={r} needs more than "
            f"{MAX_MEMORY // (1024 * 1024)} MiB"
        )


def _derive(password: str, salt: bytes, ln: int, r: int, p: int) -> bytes:
    kdf = Scrypt(salt=salt, length=KEY_BYTES, n=1 << ln, r=r, p=p)
    return kdf.derive(password_bytes(password))


def hash_password(password: str, *, ln: int = DEFAULT_LN) -> str:
    """
    A new salted scrypt hash of C{password} (after SASLprep, see
    L{chatd.accounts.saslprep.password_bytes}).  C{ln} is the cost as
    log2(N); tests pass a small one to stay fast.

    @raise PasswordHashError: for a cost out of range.
    @raise UnicodeEncodeError: for a password with a lone surrogate.
    """
    _check_cost(ln, BLOCK_SIZE, PARALLELISM)
    salt = secrets.token_bytes(SALT_BYTES)
    key = _derive(password, salt, ln, BLOCK_SIZE, PARALLELISM)
    return f"$scrypt$ln={ln},r={BLOCK_SIZE},p={PARALLELISM}${_b64(salt)}${_b64(key)}"


def _parse(stored: str) -> tuple[int, int, int, bytes, bytes] | None:
    match = _HASH.match(stored)
    if match is None:
        return None
    ln, r, p = (int(match.group(i)) for i in (1, 2, 3))
    try:
        _check_cost(ln, r, p)
        salt, key = _unb64(match.group(4)), _unb64(match.group(5))
    except (PasswordHashError, binascii.Error):
        return None
    # Base64 with stray low bits in its last character decodes, but is not
    # what hash_password writes.
    if _b64(salt) != match.group(4) or _b64(key) != match.group(5):
        return None
    return ln, r, p, salt, key


def is_password_hash(text: str) -> bool:
    """
    Whether C{text} is a hash that L{verify_password} can check: what the
    config file's operator C{password} must be, so that a password written
    there in clear is refused rather than never matching.
    """
    return _parse(text) is not None


def verify_password(password: str, stored: str) -> bool:
    """
    Whether C{password} is the one C{stored} was made from; the keys are
    compared in constant time.  False for a malformed C{stored} (check
    configuration with L{is_password_hash} to tell that apart).
    """
    parsed = _parse(stored)
    if parsed is None:
        return False
    ln, r, p, salt, key = parsed
    try:
        candidate = _derive(password, salt, ln, r, p)
    except UnicodeEncodeError:
        return False
    return hmac.compare_digest(candidate, key)


def dummy_hash(ln: int = DEFAULT_LN) -> str:
    """
    A well-formed hash that no password matches (its salt and key are all
    zero bytes), to verify against when the account does not exist, so
    that the answer takes as long as for one that does.
    """
    _check_cost(ln, BLOCK_SIZE, PARALLELISM)
    zeros = _b64(bytes(SALT_BYTES)), _b64(bytes(KEY_BYTES))
    return f"$scrypt$ln={ln},r={BLOCK_SIZE},p={PARALLELISM}${zeros[0]}${zeros[1]}"


def needs_rehash(stored: str, *, ln: int = DEFAULT_LN) -> bool:
    """
    Whether C{stored} should be replaced by a new hash at the next
    successful login: malformed, or made with less cost than C{ln},
    L{BLOCK_SIZE} and L{PARALLELISM}.
    """
    parsed = _parse(stored)
    if parsed is None:
        return True
    stored_ln, r, p, _, _ = parsed
    return stored_ln < ln or r < BLOCK_SIZE or p < PARALLELISM

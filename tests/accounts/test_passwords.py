"""
Password hashes (chatd.accounts.passwords) and SASLprep
(chatd.accounts.saslprep).  Hashes use a small cost to stay fast; every
password here is made up by the test.
"""

from __future__ import annotations

import base64
import re
import secrets

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from twisted.trial.unittest import SynchronousTestCase

from chatd.accounts.passwords import (
    DEFAULT_LN,
    PasswordHashError,
    dummy_hash,
    hash_password,
    is_password_hash,
    needs_rehash,
    verify_password,
)
from chatd.accounts.saslprep import SASLprepError, password_bytes, saslprep

LN = 4
FORMAT = re.compile(
    r"\$scrypt\$ln=(\d+),r=8,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})\Z"
)


def made_up() -> str:
    return "pw-" + secrets.token_urlsafe(12)


def unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


class HashTests(SynchronousTestCase):
    def test_format(self) -> None:
        stored = hash_password(made_up(), ln=LN)
        match = FORMAT.match(stored)
        assert match is not None, stored
        self.assertEqual(match.group(1), str(LN))
        self.assertEqual(len(unb64(match.group(2))), 16)
        self.assertEqual(len(unb64(match.group(3))), 32)

    def test_default_cost(self) -> None:
        self.assertEqual(DEFAULT_LN, 14)
        stored = hash_password(made_up())
        self.assertTrue(stored.startswith("$scrypt$ln=14,r=8,p=1$"), stored)
        self.assertFalse(needs_rehash(stored))

    def test_key_is_scrypt_of_salt_and_password(self) -> None:
        """The stored key is scrypt(password, salt) with the stored parameters."""
        password = made_up()
        stored = hash_password(password, ln=LN)
        match = FORMAT.match(stored)
        assert match is not None
        kdf = Scrypt(salt=unb64(match.group(2)), length=32, n=2**LN, r=8, p=1)
        self.assertEqual(kdf.derive(password.encode()), unb64(match.group(3)))

    def test_salted(self) -> None:
        password = made_up()
        first, second = hash_password(password, ln=LN), hash_password(password, ln=LN)
        self.assertNotEqual(first, second)
        self.assertTrue(verify_password(password, first))
        self.assertTrue(verify_password(password, second))

    def test_verify(self) -> None:
        password = made_up()
        stored = hash_password(password, ln=LN)
        self.assertTrue(verify_password(password, stored))
        self.assertFalse(verify_password(password + "x", stored))
        self.assertFalse(verify_password(password.upper(), stored))
        self.assertFalse(verify_password("", stored))

    def test_cost_out_of_range(self) -> None:
        for ln in (0, -1, 19, 64):
            with self.assertRaises(PasswordHashError):
                hash_password(made_up(), ln=ln)

    def test_lone_surrogate(self) -> None:
        stored = hash_password(made_up(), ln=LN)
        self.assertFalse(verify_password("pass\udc80word", stored))
        with self.assertRaises(UnicodeEncodeError):
            hash_password("pass\udc80word", ln=LN)


class DummyHashTests(SynchronousTestCase):
    def test_well_formed_and_matches_nothing(self) -> None:
        for ln in (LN, DEFAULT_LN):
            dummy = dummy_hash(ln)
            self.assertTrue(is_password_hash(dummy))
            self.assertIn(f"$scrypt$ln={ln},r=8,p=1$", dummy)
            self.assertFalse(needs_rehash(dummy, ln=ln))
        self.assertFalse(verify_password(made_up(), dummy_hash(LN)))
        self.assertFalse(verify_password("", dummy_hash(LN)))
        with self.assertRaises(PasswordHashError):
            dummy_hash(30)


class MalformedTests(SynchronousTestCase):
    def malformed(self) -> list[str]:
        good = hash_password(made_up(), ln=LN)
        head, salt, key = good.rsplit("$", 2)
        return [
            "",
            made_up(),
            good[:-1],
            good + "A",
            good + "\n",
            " " + good,
            good.replace("$scrypt$", "$scrypt2$"),
            good.replace("ln=4", "ln=04"),
            good.replace("ln=4", "ln=0"),
            # 128 * 8 * 2**19 bytes is 512 MiB: more than a login may take
            good.replace("ln=4", "ln=19"),
            good.replace("r=8", "r=0"),
            good.replace("p=1", "p=17"),
            f"{head}${salt}=${key}",
            f"{head}${salt}${key}=",
            f"{head}${salt[:-1]}*${key}",
            f"{head}${salt}",
            # the last character carries bits beyond the 16 bytes (A, Q, g
            # and w are the only ones that do not)
            f"{head}${salt[:-1]}{chr(ord(salt[-1]) + 1)}${key}",
        ]

    def test_is_password_hash(self) -> None:
        self.assertTrue(is_password_hash(hash_password(made_up(), ln=LN)))
        for text in self.malformed():
            self.assertFalse(is_password_hash(text), text)

    def test_verify_is_false_not_an_error(self) -> None:
        for text in self.malformed():
            self.assertFalse(verify_password(made_up(), text), text)

    def test_needs_rehash_when_malformed(self) -> None:
        for text in self.malformed():
            self.assertTrue(needs_rehash(text), text)

    def test_still_valid_after_changes_elsewhere(self) -> None:
        """The variants above are malformed because of what they change."""
        good = hash_password(made_up(), ln=LN)
        self.assertTrue(is_password_hash(good.replace("ln=4", "ln=5")))
        self.assertTrue(is_password_hash(good.replace("p=1", "p=2")))


class RehashTests(SynchronousTestCase):
    def test_below_current_cost(self) -> None:
        stored = hash_password(made_up(), ln=LN)
        self.assertTrue(needs_rehash(stored))
        self.assertTrue(needs_rehash(stored, ln=LN + 1))
        self.assertFalse(needs_rehash(stored, ln=LN))
        self.assertFalse(needs_rehash(stored, ln=LN - 1))

    def test_below_current_block_size(self) -> None:
        stored = hash_password(made_up(), ln=LN).replace("r=8", "r=4")
        self.assertTrue(is_password_hash(stored))
        self.assertTrue(needs_rehash(stored, ln=LN))


class SASLprepTests(SynchronousTestCase):
    def test_rfc4013_examples(self) -> None:
        """The examples of RFC 4013, section 3."""
        self.assertEqual(saslprep("I\u00adX"), "IX")
        self.assertEqual(saslprep("user"), "user")
        self.assertEqual(saslprep("USER"), "USER")
        self.assertEqual(saslprep("\u00aa"), "a")
        self.assertEqual(saslprep("\u2168"), "IX")
        with self.assertRaises(SASLprepError):
            saslprep("\u0007")
        with self.assertRaises(SASLprepError):
            saslprep("\u0627\u0031")

    def test_spaces(self) -> None:
        self.assertEqual(saslprep("a\u00a0b\u3000c"), "a b c")
        self.assertEqual(saslprep("a b"), "a b")

    def test_right_to_left(self) -> None:
        self.assertEqual(saslprep("\u0627\u0628"), "\u0627\u0628")
        with self.assertRaises(SASLprepError):
            saslprep("\u0627b\u0628")

    def test_password_bytes(self) -> None:
        self.assertEqual(password_bytes("caf\u0065\u0301"), "caf\u00e9".encode())
        # SASLprep refuses a control character: the password is used as it is
        self.assertEqual(password_bytes("tab\there"), b"tab\there")

    def test_equivalent_spellings_verify(self) -> None:
        """Composed and decomposed, or with a soft hyphen: one password."""
        stored = hash_password("caf\u00e9 au lait", ln=LN)
        self.assertTrue(verify_password("cafe\u0301 au lait", stored))
        self.assertTrue(verify_password("caf\u00e9\u00a0au lait", stored))
        self.assertTrue(verify_password("caf\u00e9 au l\u00adait", stored))
        self.assertFalse(verify_password("cafe au lait", stored))

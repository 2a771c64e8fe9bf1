"""Account names and passwords (chatd.accounts.validation)."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatd.accounts.validation import (
    AccountNameError,
    PasswordError,
    check_account_name,
    check_password,
)


class AccountNameTests(SynchronousTestCase):
    def test_valid_names_fold(self) -> None:
        self.assertEqual(check_account_name("Alice"), "alice")
        self.assertEqual(check_account_name("[Bob]^"), "[bob]^")
        self.assertEqual(check_account_name("x" * 30), "x" * 30)

    def test_invalid(self) -> None:
        for name in [
            "",
            "1abc",
            "-abc",
            "a b",
            "al,ice",
            "x" * 31,
            "*",
            "#chan",
            "\u0430lice",
            "alice\n",
        ]:
            with self.assertRaises(AccountNameError, msg=name) as caught:
                check_account_name(name)
            self.assertIn("account name is a nick", caught.exception.reason)


class PasswordTests(SynchronousTestCase):
    def assertRefused(
        self, password: str, words: str, account: str | None = None
    ) -> None:
        with self.assertRaises(PasswordError) as caught:
            check_password(password, account)
        self.assertIn(words, caught.exception.reason)
        self.assertEqual(str(caught.exception), caught.exception.reason)

    def test_accepted(self) -> None:
        for password in [
            "8 chars!",
            "x" * 300,
            "\u00e9" * 8,
            "\U0001f600" * 300,
            "tab\there\x01",
        ]:
            check_password(password)
            check_password(password, "alice")

    def test_configured_minimum(self) -> None:
        check_password("bar", "foo", min_length=1)
        with self.assertRaises(PasswordError) as caught:
            check_password("", "foo", min_length=0)
        self.assertEqual(caught.exception.reason, "a password may not be empty")
        with self.assertRaises(PasswordError):
            check_password("bar", "foo", min_length=4)

    def test_length_in_characters(self) -> None:
        self.assertRefused("", "at least 8")
        self.assertRefused("7 chars", "at least 8")
        self.assertRefused("x" * 601, "at most 600")
        self.assertRefused("\U0001f600" * 601, "at most 600")

    def test_line_breaks_and_nul(self) -> None:
        self.assertRefused("pass\0word", "NUL")
        self.assertRefused("pass\rword", "CR")
        self.assertRefused("pass\nword", "LF")

    def test_not_unicode(self) -> None:
        self.assertRefused("password\udc80", "valid Unicode")

    def test_not_the_account_name(self) -> None:
        self.assertRefused("Alice123", "account's name", "alice123")
        self.assertRefused("ALICE123", "account's name", "Alice123")
        check_password("alice1234", "alice123")

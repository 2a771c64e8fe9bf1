"""Channel modes and masks, without a chat around them."""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatd.core import ChatError
from chatd.core.modes import (
    CHANMODES,
    LIST_MAX,
    Change,
    ChannelModes,
    check_key,
    check_limit,
    compile_mask,
    mode_letter,
    normalize_mask,
    takes_param,
)


class MaskTests(SynchronousTestCase):
    def test_short_forms_become_full_masks(self) -> None:
        for given, full in [
            ("bob", "bob!*@*"),
            ("~b@host.example", "*!~b@host.example"),
            ("bob!~b", "bob!~b@*"),
            ("10.0.0.1", "*!*@10.0.0.1"),
            ("*.example.org", "*!*@*.example.org"),
            ("0::1", "*!*@0::1"),
            ("b*!*@*", "b*!*@*"),
            ("!@", "*!*@*"),
        ]:
            self.assertEqual(normalize_mask(given), full, given)

    def test_bad_masks(self) -> None:
        for bad in ["", "a b", "a,b", "a\x01", "x" * 201, "a!b!c", "a@b@c"]:
            with self.assertRaises(ChatError) as raised:
                normalize_mask(bad)
            self.assertEqual(raised.exception.code, "bad_mask", bad)

    def test_globs_match_without_case(self) -> None:
        pattern = compile_mask("B?b*!*@*.Example.org")
        self.assertTrue(pattern.fullmatch("bob!~b@host.example.org"))
        self.assertTrue(pattern.fullmatch("babble!x@a.example.org"))
        self.assertFalse(pattern.fullmatch("bb!x@a.example.org"))
        self.assertFalse(pattern.fullmatch("bob!~b@example.org.evil"))

    def test_brackets_are_nick_characters_not_classes(self) -> None:
        pattern = compile_mask("[bot]!*@*")
        self.assertTrue(pattern.fullmatch("[bot]!u@h"))
        self.assertFalse(pattern.fullmatch("b!u@h"))


class ParameterTests(SynchronousTestCase):
    def test_keys(self) -> None:
        self.assertEqual(check_key("s3cret"), "s3cret")
        for bad in ["", "a b", "a,b", "x" * 33, "a:b", "a\x07"]:
            with self.assertRaises(ChatError) as raised:
                check_key(bad)
            self.assertEqual(raised.exception.code, "bad_mode_param")

    def test_limits(self) -> None:
        self.assertEqual(check_limit("10"), 10)
        self.assertEqual(check_limit(5), 5)
        for bad in ["0", "-1", "ten", "", "1.5", 0, True, 10**7, "١٢"]:
            with self.assertRaises(ChatError) as raised:
                check_limit(bad)  # type: ignore[arg-type]
            self.assertEqual(raised.exception.code, "bad_mode_param")


class TableTests(SynchronousTestCase):
    def test_names_and_letters(self) -> None:
        self.assertEqual(mode_letter("moderated"), "m")
        self.assertEqual(mode_letter("invite_except"), "I")
        self.assertEqual(mode_letter("o"), "o")
        self.assertEqual(Change("k", True, "x").name, "key")
        with self.assertRaises(ChatError) as raised:
            mode_letter("loud")
        self.assertEqual(raised.exception.code, "unknown_mode")

    def test_isupport_matches_the_table(self) -> None:
        self.assertEqual(CHANMODES, "beI,k,l,imnst")
        self.assertEqual(LIST_MAX, 100)

    def test_which_changes_take_a_parameter(self) -> None:
        self.assertTrue(takes_param("b", False))
        self.assertTrue(takes_param("k", False))
        self.assertTrue(takes_param("l", True))
        self.assertFalse(takes_param("l", False))
        self.assertFalse(takes_param("m", True))

    def test_new_channel_modes_and_summary(self) -> None:
        modes = ChannelModes()
        self.assertEqual(modes.summary(), [Change("n", True), Change("t", True)])
        modes.key, modes.limit = "k", 5
        self.assertEqual(
            modes.summary(show_key=False)[2:],
            [Change("k", True, "*"), Change("l", True, "5")],
        )

"""
Channel names that look like other names: the characters a name may not
hide, and the confusable skeletons that make two spellings one channel.
"""

from __future__ import annotations

from twisted.trial.unittest import SynchronousTestCase

from chatd.core.names import channel_key, first_invisible, invisible, skeleton


class InvisibleTests(SynchronousTestCase):
    def test_hidden_and_direction_changing_characters(self) -> None:
        for char in [
            "\u00ad",  # soft hyphen
            "\u200b",  # zero-width space
            "\u200c",  # zero-width non-joiner
            "\u200d",  # zero-width joiner
            "\u200e",  # left-to-right mark
            "\u202e",  # right-to-left override
            "\u2066",  # left-to-right isolate
            "\u2060",  # word joiner
            "\ufeff",  # zero-width no-break space
            "\u034f",  # combining grapheme joiner
            "\u115f",  # Hangul choseong filler
            "\u3164",  # Hangul filler
            "\ufe0f",  # variation selector 16
            "\U000e0041",  # tag latin capital a
            "\u061c",  # Arabic letter mark
            "\u180e",  # Mongolian vowel separator
            "\u2800",  # braille pattern blank
            "\u00a0",  # no-break space
            "\u3000",  # ideographic space
            "\u2028",  # line separator
            "\ue000",  # private use
            "\U0010ffff",  # a noncharacter, unassigned
        ]:
            self.assertTrue(invisible(char), f"U+{ord(char):04X}")

    def test_visible_characters(self) -> None:
        for char in "aZ9#-_éßжא日🎉ـ\u0301":
            self.assertFalse(invisible(char), f"U+{ord(char):04X}")

    def test_first_invisible(self) -> None:
        self.assertEqual(first_invisible("#gen\u00aderal"), "\u00ad")
        self.assertIsNone(first_invisible("#général"))
        self.assertIsNone(first_invisible("#general"))


class SkeletonTests(SynchronousTestCase):
    def test_lookalikes_share_a_skeleton(self) -> None:
        self.assertEqual(skeleton("gen\u0435ral"), skeleton("general"))  # Cyrillic e
        self.assertEqual(skeleton("\u0440\u0430ypal"), skeleton("paypal"))
        self.assertEqual(skeleton("rn"), skeleton("m"))
        self.assertEqual(skeleton("c0de"), skeleton("cOde"))

    def test_different_names_do_not(self) -> None:
        self.assertNotEqual(skeleton("cafe"), skeleton("café"))
        self.assertNotEqual(skeleton("general"), skeleton("generals"))
        self.assertNotEqual(skeleton("привет"), skeleton("пока"))

    def test_channel_key_folds_case_around_the_skeleton(self) -> None:
        key = channel_key("#general")
        for same in ["#General", "#GENERAL", "#gen\u0435ral", "#GEN\u0415RAL"]:
            self.assertEqual(channel_key(same), key, same)
        self.assertNotEqual(channel_key("#generals"), key)
        # IRC folds ASCII only: Cyrillic capitals stay distinct from small ones
        self.assertNotEqual(channel_key("#Привет"), channel_key("#привет"))

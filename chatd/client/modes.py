# -*- test-case-name: tests.test_client_moderation -*-
"""
Channel modes as the client speaks of them: IRC's letters (what people
type after C{/mode}) and the names the JSON protocol gives them, and a
channel's modes or a list of mode changes written back as an IRC mode
string (C{+mi-t}, C{+kl secret 10}).
"""

from __future__ import annotations

from typing import Any

#: Modes without a parameter: letter -> the protocol's name.
FLAGS = {
    "n": "no_external",
    "t": "topic_ops",
    "m": "moderated",
    "i": "invite_only",
    "s": "secret",
}
#: Modes with a parameter when set (C{-k} may repeat the key, as in IRC).
SETTINGS = {"k": "key", "l": "limit"}
#: List modes: letter -> the list's name (C{ban}'s C{list} argument).
LISTS = {"b": "ban", "e": "except", "I": "invite_except"}
#: Member privileges: letter -> name.
PRIVILEGES = {"o": "op", "v": "voice"}
#: The prefix a member list shows for each privilege, highest first.
PREFIXES = {"op": "@", "voice": "+"}

NAMES = {**FLAGS, **SETTINGS, **LISTS, **PRIVILEGES}
LETTERS = {name: letter for letter, name in NAMES.items()}

#: What each flag means, for C{/mode} without changes.
MEANINGS = {
    "no_external": "no messages from outside",
    "topic_ops": "only operators set the topic",
    "moderated": "moderated (only operators and voiced members speak)",
    "invite_only": "invite only",
    "secret": "secret",
}


def mode_string(changes: list[tuple[str, bool, Any]]) -> str:
    """
    C{(name, set, param)} changes as IRC writes them: C{+m-k k},
    C{+ol bob 10}.  A name without a letter is written whole.
    """
    letters: list[str] = []
    params: list[str] = []
    sign = ""
    for name, on, param in changes:
        want = "+" if on else "-"
        if want != sign:
            letters.append(want)
            sign = want
        letter = LETTERS.get(name)
        if letter is None:  # a mode newer than this client
            letters.append(f"({name})")
        else:
            letters.append(letter)
        if param is not None:
            params.append(str(param))
    return " ".join(["".join(letters), *params])


def prefixed(nick: str, privileges: list[str]) -> str:
    """C{nick} with the prefix of its highest privilege: C{@alice}."""
    for name, prefix in PREFIXES.items():
        if name in privileges:
            return prefix + nick
    return nick

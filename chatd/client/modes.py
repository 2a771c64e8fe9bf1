# -*- test-case-name: tests.test_client_moderation -*-
"""
Channel modes as the client speaks of them: IRC's letters (what people
type after C{/mode}) and the names the JSON protocol gives them, and a
channel's modes or a list of mode changes written back as an IRC mode
string (C{+mi-t}, C{+kl secret 10}).
"""

from __future__ import annotations

from typing import Any

from chatd.core import modes as core_modes

# The tables are the server's own (chatd.core.modes: plain data, no
# server code comes with them): letter -> the protocol's name for the
# flags, the settings, the lists and the member privileges.
FLAGS = core_modes.FLAGS
SETTINGS = core_modes.SETTINGS
LISTS = core_modes.LISTS
PRIVILEGES = core_modes.PRIVILEGES
NAMES = core_modes.NAMES
LETTERS = core_modes.LETTERS
#: The prefix a member list shows for each privilege, highest first.
PREFIXES = {PRIVILEGES[letter]: p for letter, p in core_modes.PREFIXES.items()}

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

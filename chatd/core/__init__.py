"""
The chat itself: users, nicknames, channels, membership, moderation and
the rules, with no sockets, reactors or wire formats (see chatd/core/*.py).

  - L{names}: valid nicks, channel names and text; what makes names equal
  - L{errors}: L{ChatError} and its codes
  - L{events}: what happened, as values with an L{Origin}
  - L{model}: L{User}, L{Channel}, L{Membership}
  - L{modes}: channel modes and masks
  - L{policy}: who may do and see what
  - L{router}: delivery, the seam between the rules and the sessions
  - L{chat}: L{Chat}, the rules, with those for moderation in
    L{moderation}, for accounts, owned nicks and server operators in
    L{identity} and for registered channels in L{registration}
"""

from chatd.core.chat import STATUS_PREFIXES, Chat
from chatd.core.errors import CODES, ChatError
from chatd.core.events import (
    CTCP,
    SERVER,
    AwayChanged,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    ModeChanged,
    NickChanged,
    Origin,
    Quit,
    TagMessage,
    TopicChanged,
    hostmask,
)
from chatd.core.model import (
    GONE,
    Channel,
    ChannelSummary,
    Clock,
    Departed,
    Membership,
    Session,
    User,
)
from chatd.core.modes import Change, ListEntry
from chatd.core.names import (
    AWAY_MAX,
    CHANNEL_MAX,
    CTCP_MAX,
    FORMATTING,
    HISTORY_MAX,
    NICK_MAX,
    REASON_MAX,
    TEXT_MAX,
    TOPIC_MAX,
    channel_key,
    check_channel,
    check_line,
    check_nick,
    check_text,
    clean_line,
    fold,
    is_valid_channel,
    is_valid_nick,
)
from chatd.core.router import LocalRouter, Router

__all__ = [
    "AWAY_MAX",
    "CHANNEL_MAX",
    "CODES",
    "CTCP",
    "CTCP_MAX",
    "FORMATTING",
    "GONE",
    "HISTORY_MAX",
    "NICK_MAX",
    "REASON_MAX",
    "SERVER",
    "STATUS_PREFIXES",
    "TEXT_MAX",
    "TOPIC_MAX",
    "AwayChanged",
    "Change",
    "Channel",
    "ChannelSummary",
    "Chat",
    "ChatError",
    "Clock",
    "Departed",
    "Event",
    "Invited",
    "Joined",
    "Kicked",
    "Left",
    "ListEntry",
    "LocalRouter",
    "Membership",
    "Message",
    "ModeChanged",
    "NickChanged",
    "Origin",
    "Quit",
    "Router",
    "Session",
    "TagMessage",
    "TopicChanged",
    "User",
    "channel_key",
    "check_channel",
    "check_line",
    "check_nick",
    "check_text",
    "clean_line",
    "fold",
    "hostmask",
    "is_valid_channel",
    "is_valid_nick",
]

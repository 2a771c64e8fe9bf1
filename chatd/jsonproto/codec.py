# -*- test-case-name: tests.test_codec -*-
"""
The JSON-lines codec of protocol v1: one JSON object per line, UTF-8.

Decoding turns a received line into a L{Request} or raises L{DecodeError};
encoding turns replies and core events into ready-to-write lines.  An event
is encoded once and the bytes are cached on it, so fanning it out to a
thousand members costs one C{json.dumps}.
"""

from __future__ import annotations

import json
import re
from typing import Any, Union

from chatd.core import (
    AwayChanged,
    Change,
    Event,
    Invited,
    Joined,
    Kicked,
    Left,
    Message,
    ModeChanged,
    NickChanged,
    Quit,
    TagMessage,
    TopicChanged,
)
from chatd.core.events import (
    AccountChanged,
    OperRevoked,
    ReadMarked,
    Redacted,
    Wallops,
)
from chatd.net.times import format_time

RequestId = Union[str, int]


class DecodeError(Exception):
    """
    A line that is not a well-formed request.  C{cmd} and C{id} are what
    could be read of it, for the error reply.
    """

    def __init__(
        self,
        code: str,
        message: str,
        cmd: str | None = None,
        request_id: RequestId | None = None,
    ) -> None:
        super().__init__(code, message)
        self.code = code
        self.message = message
        self.cmd = cmd
        self.request_id = request_id


class Request:
    """
    A decoded request.  C{cmd} is None when the client sent none; C{args} is
    the whole object, read by the command's handler.
    """

    __slots__ = ("args", "cmd", "request_id")

    def __init__(
        self, cmd: str | None, request_id: RequestId | None, args: dict[str, Any]
    ) -> None:
        self.cmd = cmd
        self.request_id = request_id
        self.args = args


#: Longest integer accepted, in digits (Python's own default limit).
MAX_INT_DIGITS = 4300

_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class HugeInteger:
    """
    A JSON integer too long for Python to convert (over 4300 digits).  It is
    valid JSON, so the line decodes; but it is no C{int}, so as an C{id} or
    an argument it is refused like any other wrong type.
    """

    __slots__ = ("digits",)

    def __init__(self, digits: str) -> None:
        self.digits = digits


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _parse_int(digits: str) -> int | HugeInteger:
    if len(digits) > MAX_INT_DIGITS:
        return HugeInteger(digits)
    return int(digits)


def has_lone_surrogate(text: str) -> bool:
    """
    True when C{text} holds a lone surrogate (JSON's C{"\\ud800"} escape
    can make one): it is not Unicode text and cannot be written as UTF-8.
    """
    return _LONE_SURROGATE.search(text) is not None


_decoder = json.JSONDecoder(parse_constant=_reject_constant, parse_int=_parse_int)


def decode(line: bytes) -> Request:
    """
    Read one request line (without its line ending).  Raise L{DecodeError}
    with C{bad_encoding}, C{bad_json} or C{bad_request}.
    """
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DecodeError(
            "bad_encoding", f"the line is not valid UTF-8 (byte {e.start})"
        ) from None
    try:
        obj = _decoder.decode(text)
    except json.JSONDecodeError as e:
        raise DecodeError(
            "bad_json", f"the line is not valid JSON: {e.msg} at character {e.pos}"
        ) from None
    except ValueError as e:  # NaN, Infinity
        raise DecodeError("bad_json", f"the line is not valid JSON: {e}") from None
    except RecursionError:
        raise DecodeError(
            "bad_json", "the line is not valid JSON: nested too deeply"
        ) from None
    if not isinstance(obj, dict):
        raise DecodeError(
            "bad_request",
            f"a request must be a JSON object, not {_json_type(obj)}",
        )
    cmd = obj.get("cmd")
    if isinstance(cmd, str) and has_lone_surrogate(cmd):
        cmd = None
        cmd_problem: str | None = "'cmd' is not valid Unicode (a lone surrogate)"
    elif cmd is not None and not isinstance(cmd, str):
        cmd_problem = f"'cmd' must be a string, not {_json_type(cmd)}"
    else:
        cmd_problem = None
    request_id = obj.get("id")
    if request_id is not None and (
        isinstance(request_id, bool) or not isinstance(request_id, (str, int))
    ):
        raise DecodeError(
            "bad_request",
            f"'id' must be a string or an integer, not {_json_type(request_id)}",
            cmd if isinstance(cmd, str) else None,
        )
    if isinstance(request_id, str) and has_lone_surrogate(request_id):
        raise DecodeError(
            "bad_request",
            "'id' is not valid Unicode (a lone surrogate)",
            cmd if isinstance(cmd, str) else None,
        )
    if cmd_problem is not None:
        raise DecodeError("bad_request", cmd_problem, None, request_id)
    return Request(cmd, request_id, obj)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, HugeInteger):
        return f"an integer of more than {MAX_INT_DIGITS} digits"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_ascii_encoder = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


def encode(obj: dict[str, Any]) -> bytes:
    """One line of JSON, UTF-8, with its C{\\n}."""
    try:
        return (_encoder.encode(obj) + "\n").encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8.  decode() keeps them out of
        # everything that is echoed; should one slip through, escaped it is
        # still valid JSON.
        return (_ascii_encoder.encode(obj) + "\n").encode("ascii")


#: The client tag of a typing notice (IRCv3 C{+typing}), its draft name,
#: and the states it may have: the JSON C{typing} command and event.
TYPING_TAG = "+typing"
DRAFT_TYPING_TAG = "+draft/typing"
TYPING_STATES = ("active", "paused", "done")

#: C{seconds} since the epoch as UTC ISO 8601 with milliseconds.
format_ts = format_time


def ok(cmd: str, request_id: RequestId | None, **results: Any) -> bytes:
    reply: dict[str, Any] = {"type": "ok", "cmd": cmd}
    if request_id is not None:
        reply["id"] = request_id
    reply.update(results)
    return encode(reply)


def error(
    cmd: str | None,
    request_id: RequestId | None,
    code: str,
    message: str,
    **details: Any,
) -> bytes:
    """An error reply; C{details} are further fields (C{retry_after}...)."""
    reply: dict[str, Any] = {"type": "error", "cmd": cmd}
    if request_id is not None:
        reply["id"] = request_id
    reply["code"] = code
    reply["message"] = message
    reply.update(details)
    return encode(reply)


def bye(code: str, reason: str) -> bytes:
    return encode({"type": "bye", "code": code, "reason": reason})


def event_fields(event: Event) -> dict[str, Any] | None:
    """
    The fields of C{event}'s line, a fresh dict; None for events JSON
    clients are not shown.
    """
    fields = _fields_of(event)
    if fields is not None and event.origin.account is not None:
        # The account of whoever acted (the sender, the joiner...).
        fields.setdefault("account", event.origin.account)
    return fields


def _fields_of(event: Event) -> dict[str, Any] | None:
    if isinstance(event, Message):
        fields: dict[str, Any] = {
            "type": "message",
            "from": event.sender,
            "to": event.to,
            "text": event.text,
            "ts": format_ts(event.ts),
            "msgid": event.msgid,
        }
        if event.notice:
            fields["notice"] = True
        if event.action:
            fields["action"] = True
        return fields
    if isinstance(event, Joined):
        return {"type": "join", "channel": event.channel, "nick": event.nick}
    if isinstance(event, Left):
        return {
            "type": "leave",
            "channel": event.channel,
            "nick": event.nick,
            "reason": event.reason,
        }
    if isinstance(event, TopicChanged):
        return {
            "type": "topic",
            "channel": event.channel,
            "topic": event.topic,
            "by": event.by,
        }
    if isinstance(event, NickChanged):
        return {"type": "nick", "old": event.old, "new": event.new}
    if isinstance(event, Quit):
        return {"type": "quit", "nick": event.nick, "reason": event.reason}
    if isinstance(event, AwayChanged):
        return {"type": "away", "nick": event.nick, "message": event.message}
    if isinstance(event, ModeChanged):
        return {
            "type": "mode",
            "channel": event.channel,
            "by": event.by,
            "changes": [mode_change(c) for c in event.changes],
        }
    if isinstance(event, Kicked):
        return {
            "type": "kick",
            "channel": event.channel,
            "nick": event.nick,
            "by": event.by,
            "reason": event.reason,
        }
    if isinstance(event, Invited):
        return {"type": "invite", "channel": event.channel, "by": event.by}
    if isinstance(event, AccountChanged):
        return {"type": "account", "nick": event.nick, "account": event.account}
    if isinstance(event, Wallops):
        return {"type": "wallops", "by": event.by, "text": event.text}
    if isinstance(event, OperRevoked):
        return {"type": "oper", "oper": None, "reason": event.reason}
    if isinstance(event, Redacted):
        return {
            "type": "redact",
            "target": event.target,
            "msgid": event.redacted,
            "by": event.by,
            "reason": event.reason,
        }
    if isinstance(event, ReadMarked):
        return {
            "type": "read_marker",
            "target": event.target,
            "read_marker": format_ts(event.marker),
        }
    if isinstance(event, TagMessage):
        # A typing notice (IRCv3 +typing, or its draft name) is shown;
        # other tag-only messages (reactions...) have no JSON form.
        tags = event.tags
        state = tags.get(TYPING_TAG) or tags.get(DRAFT_TYPING_TAG)
        if state not in TYPING_STATES:
            return None
        return {"type": "typing", "from": event.sender, "to": event.to, "state": state}
    return None


def mode_change(change: Change) -> dict[str, Any]:
    """
    One mode change as JSON shows it: the mode's name, whether it was set,
    and its parameter (a nick, a mask, the key, or the limit as a number).
    """
    fields: dict[str, Any] = {"mode": change.name, "set": change.adding}
    if change.param is not None:
        fields["param"] = int(change.param) if change.mode == "l" else change.param
    return fields


def encode_event(event: Event) -> bytes:
    """
    The event's line, encoded on first use and then shared; empty for
    events JSON clients are not shown.
    """
    data = event.wire.get("json")
    if data is None:
        fields = event_fields(event)
        data = event.wire["json"] = b"" if fields is None else encode(fields)
    return data

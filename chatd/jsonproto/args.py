# -*- test-case-name: tests.test_protocol -*-
"""A request's arguments, read and type-checked as every command reads them."""

from __future__ import annotations

from typing import Any

from chatd.core import ChatError
from chatd.jsonproto import codec

_MISSING: Any = object()


def arg(request: codec.Request, field: str, default: Any = _MISSING) -> Any:
    """
    The string argument C{field} of C{request}.  Absent or null is missing:
    an error unless a C{default} is given.
    """
    value = request.args.get(field)
    if value is None:
        if default is _MISSING:
            raise ChatError("bad_args", f"missing field {field!r}")
        return default
    if not isinstance(value, str):
        raise ChatError("bad_args", f"field {field!r} must be a string")
    if codec.has_lone_surrogate(value):
        raise ChatError(
            "bad_args", f"field {field!r} is not valid Unicode (a lone surrogate)"
        )
    return value


def flag(request: codec.Request, field: str) -> bool:
    """The optional boolean argument C{field} of C{request} (absent: false)."""
    value = request.args.get(field)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ChatError("bad_args", f"field {field!r} must be true or false")
    return value

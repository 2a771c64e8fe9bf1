# -*- test-case-name: tests.store.test_schema -*-
"""
The versioned schema: one file of SQL per version step, read from a directory.

Step N brings a database from version N-1 to N.  Its file is C{N.sql}, or
C{N.sqlite.sql} / C{N.postgresql.sql} where the two dialects need different
SQL (a dialect's own file wins over the shared one).  The versions in a
directory must run 1, 2, ... without a gap.  A file holds statements, each
ending with C{;} at the end of a line; lines starting with C{--} are
comments.  PostgreSQL's driver reads C{%} as a parameter marker: steps must
not contain one.

chatd applies the steps in C{chatd/store/schema/}; tests pass a directory
of their own to prove that upgrades work.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from .errors import StoreError

#: The steps this chatd ships with.
SCHEMA_DIR = Path(__file__).with_name("schema")
DIALECTS = ("sqlite", "postgresql")

_STEP_FILE = re.compile(r"^(?P<version>[1-9][0-9]*)(?:\.(?P<dialect>[a-z]+))?\.sql$")


@dataclass(frozen=True)
class Step:
    """The statements that bring a database to C{version}."""

    version: int
    path: Path
    statements: tuple[str, ...]


def split_statements(text: str, where: str) -> tuple[str, ...]:
    """The statements in C{text}, without comments or their final C{;}."""
    statements: list[str] = []
    lines: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("--"):
            continue
        lines.append(line.rstrip())
        if stripped.endswith(";"):
            statement = "\n".join(lines)[:-1].strip()
            if statement:
                statements.append(statement)
            lines = []
    if lines:
        raise StoreError(f"{where}: the last statement does not end with ';'")
    return tuple(statements)


def load_steps(directory: Path, dialect: str) -> list[Step]:
    """
    The steps in C{directory} for C{dialect}, by version.

    @raise StoreError: a file is named neither C{N.sql} nor C{N.<dialect>.sql},
        a version is missing, or a file is not valid.
    """
    if dialect not in DIALECTS:
        raise ValueError(f"unknown SQL dialect {dialect!r}: use one of {DIALECTS}")
    shared: dict[int, Path] = {}
    own: dict[int, Path] = {}
    latest = 0
    try:
        paths = sorted(directory.iterdir())
    except OSError as e:
        raise StoreError(f"cannot read the schema steps in {directory}: {e}") from e
    for path in paths:
        if not path.name.endswith(".sql"):
            continue
        match = _STEP_FILE.match(path.name)
        if match is None or match["dialect"] not in (None, *DIALECTS):
            raise StoreError(
                f"{path}: a schema step is named N.sql or N.<dialect>.sql "
                f"(dialects: {', '.join(DIALECTS)})"
            )
        version = int(match["version"])
        latest = max(latest, version)
        if match["dialect"] is None:
            shared[version] = path
        elif match["dialect"] == dialect:
            own[version] = path
    # Every dialect has every version: a step written for one dialect only
    # leaves a gap in the other.
    steps = []
    for version in range(1, latest + 1):
        step = own.get(version) or shared.get(version)
        if step is None:
            raise StoreError(
                f"{directory}: no schema step for version {version} in {dialect}"
                f" (neither {version}.sql nor {version}.{dialect}.sql)"
            )
        text = step.read_text("utf-8")
        steps.append(Step(version, step, split_statements(text, str(step))))
    return steps


def latest_version(directory: Path = SCHEMA_DIR) -> int:
    """The version the steps in C{directory} bring a database to."""
    versions = [
        int(m["version"])
        for m in (_STEP_FILE.match(p.name) for p in directory.iterdir())
        if m is not None
    ]
    return max(versions, default=0)


def too_new(where: str, version: int, latest: int) -> str:
    """The message of L{SchemaTooNew}."""
    return (
        f"database at {where} has schema version {version}; "
        f"this chatd knows up to {latest}: upgrade chatd"
    )

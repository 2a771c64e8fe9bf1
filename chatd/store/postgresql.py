# -*- test-case-name: tests.store.test_contract -*-
"""
The PostgreSQL engine, for deployments that share a database server.

It talks to the server through pg8000, a pure-Python driver: psycopg does
not run on PyPy 3.9.  One connection carries every transaction, in order;
when it is lost, the transaction that saw it fails and the next one
reconnects.
"""

from __future__ import annotations

import getpass
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from twisted.enterprise import adbapi

from .records import HistoryItem
from .schema import SCHEMA_DIR
from .sql import HISTORY_COLUMNS, Cursor, SQLStore

SCHEMES = ("postgresql", "postgres")
SSL_MODES = ("disable", "require", "verify-full")

#: Seconds a socket operation with the server may take before it fails
#: (the connection included), so that a server that stopped answering
#: cannot hold every later write forever.
TIMEOUT = 30.0


@dataclass(frozen=True)
class PostgreSQLAddress:
    """Where a PostgreSQL database is, and as whom to connect."""

    host: str
    port: int
    database: str
    user: str
    password: str | None = None
    sslmode: str = "disable"

    def __str__(self) -> str:
        """The address as a URL, without the password."""
        who = quote(self.user, safe="")
        if self.password is not None:
            who += ":***"
        host = f"[{self.host}]" if ":" in self.host else self.host
        url = f"postgresql://{who}@{host}:{self.port}/{quote(self.database)}"
        if self.sslmode != "disable":
            url += f"?sslmode={self.sslmode}"
        return url

    def ssl_context(self) -> ssl.SSLContext | None:
        if self.sslmode == "disable":
            return None
        context = ssl.create_default_context()
        if self.sslmode == "require":
            # libpq's "require": encrypted, but the certificate is not checked
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


def redact(url: str) -> str:
    """C{url} with any password in it replaced by C{***}."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a URL that cannot be parsed>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rpartition("@")
    user = netloc[0].partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{netloc[2]}").geturl()


def parse_url(url: str) -> PostgreSQLAddress:
    """
    The address in C{postgresql://user:password@host:port/dbname}
    (C{postgres://} too; user, password, port and dbname may be left out:
    the user is then the OS user, the port 5432 and the database the user's
    name, as with libpq).  The only query parameter is C{sslmode}
    (C{disable}, the default, C{require} or C{verify-full}).

    @raise ValueError: C{url} is not such a URL.
    """
    form = "postgresql://user:password@host:port/dbname"
    shown = redact(url)
    try:
        parts = urlsplit(url)
        port = parts.port or 5432
    except ValueError as e:
        raise ValueError(f"bad PostgreSQL URL {shown}: {e}; use {form}") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"not a PostgreSQL URL: {shown}; use {form}")
    if not parts.hostname:
        raise ValueError(f"PostgreSQL URL {shown} names no host; use {form}")
    if parts.fragment:
        raise ValueError(f"PostgreSQL URL {shown} has a fragment; use {form}")
    database = unquote(parts.path[1:]) if parts.path.startswith("/") else ""
    if "/" in database:
        raise ValueError(f"PostgreSQL URL {shown} has a bad database name")
    sslmode = "disable"
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key != "sslmode" or value not in SSL_MODES:
            raise ValueError(
                f"PostgreSQL URL {shown}: the only query parameter is sslmode="
                + "|".join(SSL_MODES)
            )
        sslmode = value
    user = unquote(parts.username) if parts.username else getpass.getuser()
    return PostgreSQLAddress(
        host=parts.hostname,
        port=port,
        database=database or user,
        user=user,
        password=unquote(parts.password) if parts.password is not None else None,
        sslmode=sslmode,
    )


class PostgreSQLStore(SQLStore):
    """A store in the PostgreSQL database at C{address}."""

    kind = "postgresql"

    def __init__(
        self,
        address: PostgreSQLAddress,
        reactor: Any = None,
        schema_dir: Path = SCHEMA_DIR,
    ) -> None:
        super().__init__(str(address), reactor, schema_dir)
        self.address = address

    def _make_pool(self) -> adbapi.ConnectionPool:
        a = self.address
        return adbapi.ConnectionPool(
            "pg8000.dbapi",
            user=a.user,
            password=a.password,
            host=a.host,
            port=a.port,
            database=a.database,
            ssl_context=a.ssl_context(),
            timeout=TIMEOUT,
            application_name="chatd",
            # One connection: transactions run in the order they were called.
            cp_min=1,
            cp_max=1,
            cp_reconnect=True,
            cp_openfun=self._connected,
            cp_reactor=self._reactor,
        )

    def _connected(self, connection: Any) -> None:
        # A commit is acknowledged only once it is on the server's disk, even
        # where the server's default says otherwise.
        cursor = connection.cursor()
        cursor.execute("SET synchronous_commit TO on")
        cursor.close()
        connection.commit()

    def _lock_schema(self, cursor: Cursor) -> None:
        # Two chatd nodes starting at once: one upgrades, the other waits.
        cursor.execute("LOCK TABLE schema_version IN EXCLUSIVE MODE")

    def _q(self, sql: str) -> str:
        return sql.replace("?", "%s")

    def _reason(self, error: BaseException) -> str:
        # pg8000 puts the server's error fields in a dict; M is the message.
        if error.args and isinstance(error.args[0], dict):
            fields = error.args[0]
            return str(fields.get("M", fields))
        return super()._reason(error)

    def _search(
        self, cursor: Cursor, query: list[str], targets: Sequence[str], limit: int
    ) -> list[HistoryItem]:
        # The same expression as the index history_text, so that it is used.
        cursor.execute(
            self._q(
                f"SELECT {HISTORY_COLUMNS} FROM history"
                " WHERE to_tsvector('simple', text) @@ plainto_tsquery('simple', ?)"
                f" AND target IN ({', '.join('?' * len(targets))})"
                " ORDER BY ts DESC, msgid DESC LIMIT ?"
            ),
            (" ".join(query), *targets, limit),
        )
        return [HistoryItem(*row) for row in cursor.fetchall()]

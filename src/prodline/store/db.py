"""SQLAlchemy engine and transactions; SQLite (WAL) by default, PostgreSQL by URL.

Write transactions serialize: on SQLite every write transaction (``tx()``) starts with
``BEGIN IMMEDIATE`` (so two processes never interleave read-then-write), on PostgreSQL the
services lock the rows they change (``SELECT ... FOR UPDATE``). Read transactions
(``read()``) start with a deferred ``BEGIN`` on SQLite: in WAL mode a reader takes no lock
that a writer or another reader waits on, and sees one snapshot for its whole block.
Driver errors are translated to ``StoreUnavailable`` here, at the boundary.

``UTCDateTime`` is the one timestamp column type: it refuses naive datetimes on the way
in and hands back UTC-aware ones on every backend (SQLite stores no zone).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from prodline.errors import InvalidInput, StoreUnavailable

__all__ = ["Database", "UTCDateTime", "redact_url"]

_MODE = "prodline_tx"
"""Execution option naming the kind of transaction a connection begins: read or write."""


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timezone-aware timestamp stored as UTC; values read back are always UTC-aware.

    PostgreSQL keeps ``timestamptz``; SQLite keeps the UTC wall time as text (it has no
    zone), which sorts and compares correctly because every value is in UTC.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} given; pass a UTC-aware one")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def redact_url(url: str) -> str:
    """Hide the password of a database URL so it never reaches logs or messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return "<unparseable url>"


class Database:
    """One engine per workspace: ``tx()`` writes (serialized), ``read()`` reads (never waits)."""

    def __init__(self, url: str) -> None:
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise InvalidInput(
                f"Database URL '{_scrub(url)}' is not valid; use sqlite:///path or "
                "postgresql+psycopg://user@host/db (check PRODLINE_DB_URL)."
            ) from exc
        except ValueError as exc:  # a port that is not a number
            raise InvalidInput(
                f"Database URL '{_scrub(url)}' has a port that is not a number; write it as "
                "postgresql+psycopg://user@host:5432/db (check PRODLINE_DB_URL)."
            ) from exc
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.engine = self._make_engine(parsed)
        self._reader = self.engine.execution_options(**{_MODE: "read"})

    @property
    def is_sqlite(self) -> bool:
        """Whether the backend is SQLite, where locking and SQL functions differ."""
        return self.dialect == "sqlite"

    def _make_engine(self, url: sa.URL) -> Engine:
        if url.get_backend_name() == "sqlite":
            if url.database and url.database != ":memory:":
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = sa.create_engine(url, connect_args={"timeout": 30})

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_conn: Any, _record: Any) -> None:
                dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA busy_timeout=30000")
                cur.close()

            @event.listens_for(engine, "begin")
            def _on_begin(conn: Connection) -> None:
                if conn.get_execution_options().get(_MODE) == "read":
                    conn.exec_driver_sql("BEGIN")  # deferred: shared snapshot, no lock
                else:
                    conn.exec_driver_sql("BEGIN IMMEDIATE")

            return engine
        return sa.create_engine(
            url, pool_pre_ping=True, pool_size=5, connect_args={"connect_timeout": 5}
        )

    @contextmanager
    def tx(self) -> Iterator[Connection]:
        """A write transaction: committed on success, rolled back on any error."""
        try:
            with self.engine.begin() as conn:
                yield conn
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(
                f"Cannot reach the metadata database {redact_url(self.url)}: "
                f"{_first_line(exc)}. Check PRODLINE_DB_URL and that the server is running."
            ) from exc

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: one snapshot, rolled back at the end, never waiting for a lock.

        Do not write through it: on SQLite a write here could not wait for the lock.
        """
        try:
            with self._reader.connect() as conn:
                yield conn
                conn.rollback()
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(
                f"Cannot reach the metadata database {redact_url(self.url)}: "
                f"{_first_line(exc)}. Check PRODLINE_DB_URL and that the server is running."
            ) from exc

    def dispose(self) -> None:
        """Close every pooled connection (the workspace calls it on ``close``)."""
        self.engine.dispose()


def _scrub(url: str) -> str:
    """The URL with any password replaced, for messages about URLs that do not parse."""
    return re.sub(r"(//[^/:@]*):[^/@]*@", r"\1:***@", url)


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""SQLAlchemy engine and transactions; SQLite (WAL) by default, PostgreSQL by URL.

Write transactions serialize: on SQLite every transaction starts with ``BEGIN IMMEDIATE``
(so two processes never interleave read-then-write), on PostgreSQL the services lock
the rows they change (``SELECT ... FOR UPDATE``). Driver errors are translated to
``StoreUnavailable`` here, at the boundary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from prodline.errors import InvalidInput, StoreUnavailable

__all__ = ["Database", "redact_url"]


def redact_url(url: str) -> str:
    """Hide the password of a database URL so it never reaches logs or messages."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparseable url>"


class Database:
    """One engine per workspace; ``tx()`` opens a serialized write transaction."""

    def __init__(self, url: str) -> None:
        try:
            parsed = sa.make_url(url)
        except sa.exc.ArgumentError as exc:
            raise InvalidInput(
                f"Database URL '{url}' is not valid; use sqlite:///path or "
                "postgresql+psycopg://user@host/db."
            ) from exc
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect == "postgresql" and parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        self.engine = self._make_engine(parsed)

    @property
    def is_sqlite(self) -> bool:
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
        """A read-only connection (no write lock taken on PostgreSQL)."""
        try:
            with self.engine.connect() as conn:
                yield conn
                conn.rollback()
        except sa.exc.OperationalError as exc:
            raise StoreUnavailable(
                f"Cannot reach the metadata database {redact_url(self.url)}: "
                f"{_first_line(exc)}. Check PRODLINE_DB_URL and that the server is running."
            ) from exc

    def dispose(self) -> None:
        self.engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", exc) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

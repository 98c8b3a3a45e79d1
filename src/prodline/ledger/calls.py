"""The LLM/RAG call log: one writer and one reader over the ``llm_calls`` table.

Every answered call (a RAG chat or retrieval, or any gateway call a part logs) is one
row: who answered (``provider``, ``model``), how it was routed (``route``: the providers
tried in order; ``route_reason``), what it cost (``input_tokens``, ``output_tokens``,
``cost_usd``, ``latency_ms``), how grounded it was (``groundedness``, ``flagged``), the
knowledge base and the highest ``sensitivity`` of the context it saw. Keys of a record
that have no column (``citations``, ``stream``, ...) are kept in ``details`` and come
back as columns of their own. The table lives in the metadata database, so PostgreSQL
deployments keep it, and monitoring and cost read it with :class:`CallReader`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.errors import InvalidInput
from prodline.ledger.window import check_window
from prodline.store.db import Database
from prodline.store.tables import llm_calls

__all__ = ["CALL_COLUMNS", "CallReader", "CallWriter"]

CALL_COLUMNS = (
    "request_id",
    "ts",
    "kb",
    "endpoint",
    "provider",
    "model",
    "route",
    "route_reason",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "latency_ms",
    "groundedness",
    "flagged",
    "sensitivity",
    "question",
    "chunk_ids",
)
"""The columns every call has, in order; ``details`` keys follow them."""

_DEFAULTS: dict[str, Any] = {
    "endpoint": "chat",
    "input_tokens": 0,
    "output_tokens": 0,
    "cost_usd": 0.0,
    "latency_ms": 0.0,
    "sensitivity": "none",
    "chunk_ids": [],
}


class CallWriter:
    """Insert call records (dicts with the keys of ``CALL_COLUMNS``; others go to details)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def write(self, records: Sequence[Mapping[str, Any]], conn: Connection | None = None) -> int:
        """Insert ``records`` in ``conn``'s transaction, or in one of their own."""
        if not records:
            return 0
        rows = [_row(r) for r in records]
        if conn is not None:
            conn.execute(llm_calls.insert(), rows)
        else:
            with self._db.tx() as own:
                own.execute(llm_calls.insert(), rows)
        return len(rows)


class CallReader:
    """Read the call log as DataFrames: by knowledge base, provider, time window, request id."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def read(
        self,
        kb: str | None = None,
        *,
        provider: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        last: int | None = None,
        request_id: str | None = None,
    ) -> pd.DataFrame:
        """Calls matching every filter given, oldest first (``last``: only the newest N).

        Examples
        --------
        >>> calls.read("support-desk", provider="openai", last=1000)  # doctest: +SKIP
        """
        c = llm_calls.c
        where: list[sa.ColumnElement[bool]] = []
        check_window(since, until, last, unit="calls")
        if kb is not None:
            where.append(c.kb == kb)
        if provider is not None:
            where.append(c.provider == provider)
        if since is not None:
            where.append(c.ts >= since)
        if until is not None:
            where.append(c.ts <= until)
        if request_id is not None:
            where.append(c.request_id == request_id)
        query = sa.select(*(c[name] for name in CALL_COLUMNS), c.details).where(*where)
        if last is None:
            query = query.order_by(c.ts, c.id)
        else:
            query = query.order_by(c.ts.desc(), c.id.desc()).limit(last)
        with self._db.read() as conn:
            rows = [tuple(r) for r in conn.execute(query)]
        if last is not None:
            rows.reverse()
        frame = pd.DataFrame([r[:-1] for r in rows], columns=list(CALL_COLUMNS)).astype(
            {"input_tokens": "int64", "output_tokens": "int64", "cost_usd": "float64"}
        )
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        if not rows:
            return frame
        details = pd.DataFrame([dict(r[-1] or {}) for r in rows], index=frame.index)
        extra = [name for name in details.columns if name not in frame.columns]
        return pd.concat([frame, details[extra]], axis=1) if extra else frame


def _row(record: Mapping[str, Any]) -> dict[str, Any]:
    if not record.get("request_id"):
        raise InvalidInput("A call record needs a request_id.", field="request_id")
    row = {name: record.get(name, _DEFAULTS.get(name)) for name in CALL_COLUMNS}
    row["ts"] = _timestamp(record.get("ts"))
    route = row["route"]
    if isinstance(route, list | tuple):
        row["route"] = ">".join(str(p) for p in route)
    row["chunk_ids"] = list(row["chunk_ids"] or [])
    row["details"] = {k: v for k, v in record.items() if k not in row}
    return row


def _timestamp(value: Any) -> datetime:
    """ISO-8601 text with a zone, an aware datetime, or epoch seconds; now when absent."""
    if value is None:
        return datetime.now(UTC)
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    else:
        moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise InvalidInput(
            f"A call record's ts must carry its zone (e.g. {datetime.now(UTC).isoformat()}); "
            f"got {value!r}.",
            field="ts",
        )
    return moment

"""The prediction log: every answered request, written in batches off the hot path.

A request appends one tuple to a bounded in-memory queue (a ``deque``: no lock on the
event loop) and moves on; a writer thread wakes every ``flush_interval`` (or as soon as a
batch is full), encodes the JSON and inserts the batch with one ``executemany`` in one
transaction. ``close()`` drains and flushes everything, so nothing acknowledged is lost
on a clean stop.

Overload never drops silently: when the queue is full a request waits briefly for room
(backpressure); if there is still none, its record is shed, counted in
``prodline_prediction_log_shed_total`` and reported by a ``server.predictions_shed``
audit event (at most one per ``shed_audit_interval`` seconds, plus one at close).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from prodline.serving.logqueue import POLL_S, BoundedLogWriter
from prodline.serving.options import ServeOptions
from prodline.serving.payload import records_of
from prodline.store.tables import prediction_log

if TYPE_CHECKING:
    from prodline.serving.batching import Outcome
    from prodline.serving.payload import Parsed
    from prodline.workspace import Workspace

__all__ = ["LogRecord", "PredictionLog"]

# request_id, wall-clock time, parsed request, its outcome, latency in ms
LogRecord = tuple[str, float, "Parsed", "Outcome", float]


class PredictionLog(BoundedLogWriter[LogRecord]):
    """Bounded queue plus writer thread into the ``prediction_log`` table."""

    label = "prediction log"
    shed_action = "server.predictions_shed"
    thread_name = "prodline-predlog"

    def __init__(
        self,
        ws: Workspace,
        subject: str,
        options: ServeOptions | None = None,
        *,
        on_written: Callable[[int], None] | None = None,
        on_shed: Callable[[int], None] | None = None,
    ) -> None:
        opts = options or ServeOptions()
        super().__init__(
            ws,
            subject,
            max_size=opts.log_queue_size,
            batch_size=opts.log_batch_size,
            flush_interval=opts.log_flush_interval_s,
            backpressure=opts.log_backpressure_s,
            shed_audit_interval=opts.shed_audit_interval_s,
            on_written=on_written,
            on_shed=on_shed,
        )
        self._sql: str | None = None
        self._iso = _Timestamps()

    async def put(self, record: LogRecord) -> bool:
        """Queue a record, waiting up to ``backpressure`` seconds for room; else shed it."""
        if self.offer(record):
            return True
        for _ in self._backpressure():
            await asyncio.sleep(POLL_S)
            if self.offer(record):
                return True
        self._count_shed(1)
        return False

    def _write(self, batch: list[LogRecord], *, final: bool) -> None:
        iso = self._iso
        rows = [_row(record, iso) for record in batch]
        if self._retry(lambda: self._insert(rows), len(rows), "write", final):
            self._count_written(len(rows))

    def _insert(self, rows: list[tuple[Any, ...]]) -> None:
        with self._ws.db.tx() as conn:
            if self._sql is None:
                self._sql = _insert_sql(conn.dialect.paramstyle)
            conn.exec_driver_sql(self._sql, rows)


_COLUMNS = ("request_id", "model", "version", "ts", "inputs", "outputs", "latency_ms")


def _insert_sql(paramstyle: str) -> str:
    """A plain INSERT for the driver's ``executemany`` (SQLAlchemy's per-row binding costs
    more than the write itself at thousands of rows a second)."""
    mark = "?" if paramstyle == "qmark" else "%s"
    names = ", ".join(_COLUMNS)
    return f"INSERT INTO {prediction_log.name} ({names}) VALUES ({', '.join([mark] * 7)})"


class _Timestamps:
    """ISO-8601 UTC text of epoch seconds, reusing the formatted second (3x faster)."""

    def __init__(self) -> None:
        self._second = -1
        self._prefix = ""

    def __call__(self, wall: float) -> str:
        second = int(wall)
        if second != self._second:
            self._second = second
            self._prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
        micro = round((wall - second) * 1e6)
        if micro >= 1_000_000:  # rounds up into the next second
            return datetime.fromtimestamp(wall, UTC).isoformat(timespec="microseconds")
        return f"{self._prefix}.{micro:06d}+00:00"


def _row(record: LogRecord, iso: _Timestamps) -> tuple[Any, ...]:
    request_id, wall, parsed, outcome, latency_ms = record
    served = outcome.served
    outputs: dict[str, Any] = {"predictions": outcome.predictions}
    if outcome.probabilities is not None:
        outputs["probabilities"] = outcome.probabilities
        outputs["classes"] = outcome.classes
    inputs = parsed.records if parsed.records is not None else records_of(served.spec, parsed)
    return (
        request_id,
        served.name,
        served.version,
        iso(wall),
        dumps(inputs).decode(),
        dumps(outputs).decode(),
        latency_ms,
    )


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """orjson with NumPy arrays and scalars (object arrays too)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)

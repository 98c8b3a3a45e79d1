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
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson

from prodline.serving.options import ServeOptions
from prodline.serving.payload import records_of
from prodline.store.tables import prediction_log

if TYPE_CHECKING:
    from prodline.serving.batching import Outcome
    from prodline.serving.payload import Parsed
    from prodline.workspace import Workspace

__all__ = ["LogRecord", "PredictionLog"]

log = logging.getLogger("prodline.serving")

# request_id, wall-clock time, parsed request, its outcome, latency in ms
LogRecord = tuple[str, float, "Parsed", "Outcome", float]

_RETRIES_ON_CLOSE = 3


class PredictionLog:
    """Bounded queue plus writer thread into the ``prediction_log`` table."""

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
        self._ws = ws
        self._subject = subject
        self.max_size = opts.log_queue_size
        self.batch_size = opts.log_batch_size
        self.flush_interval = opts.log_flush_interval_s
        self.backpressure = opts.log_backpressure_s
        self.shed_audit_interval = opts.shed_audit_interval_s
        self._on_written = on_written
        self._on_shed = on_shed
        self._queue: deque[LogRecord] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.written = 0
        self.shed = 0
        self.lost = 0
        self._shed_audited = 0
        self._last_shed_audit = 0.0
        self._sql: str | None = None
        self._iso = _Timestamps()

    # -- the request side (event loop) -----------------------------------------------
    def depth(self) -> int:
        return len(self._queue)

    def offer(self, record: LogRecord) -> bool:
        """Queue a record if there is room; never blocks."""
        queue = self._queue
        size = len(queue)
        if size >= self.max_size:
            return False
        queue.append(record)
        if size + 1 >= self.batch_size:
            self._wake.set()
        return True

    async def put(self, record: LogRecord) -> bool:
        """Queue a record, waiting up to ``backpressure`` seconds for room; else shed it."""
        if self.offer(record):
            return True
        self._wake.set()
        deadline = time.monotonic() + self.backpressure
        while time.monotonic() < deadline:
            await asyncio.sleep(0.002)
            if self.offer(record):
                return True
        self.shed += 1
        if self._on_shed is not None:
            self._on_shed(1)
        return False

    # -- the writer thread -----------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prodline-predlog", daemon=True)
            self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout: float = 60.0) -> None:
        """Write everything queued, then stop the writer thread."""
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:  # never started: flush here
            self._flush(final=True)
            self._audit_shed(force=True)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            stopping = self._stop
            try:
                self._flush(final=stopping)
                self._audit_shed(force=stopping)
            except Exception:  # keep the writer alive whatever happens
                log.exception("prediction log writer failed; retrying")
                time.sleep(0.5)
            if stopping:
                return

    def _flush(self, *, final: bool = False) -> None:
        queue = self._queue
        while queue:
            batch: list[LogRecord] = []
            while queue and len(batch) < self.batch_size:
                batch.append(queue.popleft())
            self._write(batch, final=final)

    def _write(self, batch: list[LogRecord], *, final: bool) -> None:
        iso = self._iso
        rows = [_row(record, iso) for record in batch]
        attempt = 0
        while True:
            try:
                with self._ws.db.tx() as conn:
                    if self._sql is None:
                        self._sql = _insert_sql(conn.dialect.paramstyle)
                    conn.exec_driver_sql(self._sql, rows)
                break
            except Exception as exc:
                attempt += 1
                log.warning(
                    "prediction log: cannot write %d records (%s); retrying", len(rows), exc
                )
                if (final or self._stop) and attempt >= _RETRIES_ON_CLOSE:
                    self.lost += len(rows)
                    self.shed += len(rows)
                    if self._on_shed is not None:
                        self._on_shed(len(rows))
                    return
                time.sleep(0.5)
        self.written += len(rows)
        if self._on_written is not None:
            self._on_written(len(rows))

    def _audit_shed(self, *, force: bool) -> None:
        pending = self.shed - self._shed_audited
        if pending <= 0:
            return
        now = time.monotonic()
        if not force and now - self._last_shed_audit < self.shed_audit_interval:
            return
        self._ws.audit.append(
            "server.predictions_shed",
            self._subject,
            {
                "count": pending,
                "total": self.shed,
                "lost_on_store_error": self.lost,
                "queue_size": self.max_size,
            },
        )
        self._shed_audited += pending
        self._last_shed_audit = now


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

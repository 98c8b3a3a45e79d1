"""The server's side of the prediction log: a bounded queue into the ledger's writer.

A request hands its record to ``submit`` and, by default, moves on: the record waits in
a bounded in-memory queue (a ``deque``: no lock on the event loop) until the writer thread
wakes (every ``flush_interval``, or as soon as a batch is full) and writes the batch with
:class:`prodline.ledger.predictions.PredictionWriter` in one transaction. ``close()``
drains and writes everything, so nothing acknowledged is lost on a clean stop; a
``kill -9`` loses what was still queued.

**Durable mode** (``ServeOptions(durable_log=True)``, ``prodline serve --durable-log``):
``submit`` returns only once the record is committed, so every acknowledged prediction
survives a crash of the server. The writer is woken by every record and commits whatever
has queued since its last commit in one transaction (group commit): concurrent requests
share one commit, and the batch grows with the load. A record that cannot be committed
fails its request with 503 (``StoreUnavailable``) instead of being acknowledged. On SQLite
a commit survives the process, not a power cut (``synchronous=NORMAL``).

Overload never drops silently: when the queue is full a request waits briefly for room
(backpressure); if there is still none, its record is shed, counted in
``prodline_prediction_log_shed_total`` and reported by a ``server.predictions_shed``
audit event (at most one per ``shed_audit_interval`` seconds, plus one at close). In
durable mode such a request is refused (503) rather than answered unlogged.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from prodline.errors import StoreUnavailable
from prodline.ledger.predictions import Prediction, PredictionWriter, dumps
from prodline.serving.logqueue import POLL_S, BoundedLogWriter
from prodline.serving.options import ServeOptions
from prodline.serving.payload import records_of

if TYPE_CHECKING:
    from prodline.serving.batching import Outcome
    from prodline.serving.payload import Parsed
    from prodline.workspace import Workspace

__all__ = ["LogRecord", "PredictionLog", "dumps"]

log = logging.getLogger("prodline.serving")

# request_id, wall-clock time, parsed request, its outcome, latency in ms
LogRecord = tuple[str, float, "Parsed", "Outcome", float]


class PredictionLog(BoundedLogWriter[LogRecord]):
    """Bounded queue plus writer thread into the ledger's prediction log."""

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
        on_batch: Callable[[list[LogRecord], bool], None] | None = None,
        on_close: Callable[[], None] | None = None,
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
        self.durable = opts.durable_log
        self._on_batch = on_batch  # metering: the same batches, in this writer thread
        self._on_close = on_close
        self._writer = PredictionWriter(
            ws.db,
            ws.artifacts,
            segment_rows=opts.log_segment_rows,
            minimize=ws.retention.minimizer(),  # data minimisation, in the writer thread
        )
        # Durable mode: requests waiting for their commit, in queue order (loop thread only).
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._queued = 0  # records queued by ``submit`` in durable mode (loop thread)
        self._settled = 0  # of those, written or failed (writer thread)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def submit(self, record: LogRecord) -> None:
        """Log one answered request: queue it (default) or wait for its commit (durable).

        Raises ``StoreUnavailable`` in durable mode when the record was not committed;
        the request must then not be acknowledged.
        """
        if not self.durable:
            if not self.offer(record):
                await self.put(record)
            return
        if not self.offer(record) and not await self._wait_for_room(record):
            self._count_shed(1)
            raise StoreUnavailable(
                f"The prediction log queue is full ({self.max_size} records) and durable "
                "logging is on, so the prediction was not answered; retry, or raise "
                "log_queue_size."
            )
        self._loop = self._loop or asyncio.get_running_loop()
        self._queued += 1
        done = self._loop.create_future()
        self._waiters.append((self._queued, done))
        self._wake.set()
        await done

    async def put(self, record: LogRecord) -> bool:
        """Queue a record, waiting up to ``backpressure`` seconds for room; else shed it."""
        if self.offer(record) or await self._wait_for_room(record):
            return True
        self._count_shed(1)
        return False

    async def _wait_for_room(self, record: LogRecord) -> bool:
        for _ in self._backpressure():
            await asyncio.sleep(POLL_S)
            if self.offer(record):
                return True
        return False

    def _write(self, batch: list[LogRecord], *, final: bool) -> None:
        predictions = [_prediction(record) for record in batch]
        if not self.durable:
            if self._retry(lambda: self._writer.write(predictions), len(batch), "write", final):
                self._count_written(len(batch))
            self._metered(batch, final)
            return
        error: Exception | None = None
        try:  # the requests are waiting: fail them now rather than retry behind their backs
            self._writer.write(predictions, seal=False)
        except Exception as exc:
            log.warning("prediction log: cannot commit %d records (%s)", len(batch), exc)
            error = exc
        else:
            self._count_written(len(batch))
        self._settled += len(batch)
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._settle, self._settled, error)
        self._writer.seal_full()  # after answering: the Parquet copy is nobody's wait
        self._metered(batch, final)

    def _metered(self, batch: list[LogRecord], final: bool) -> None:
        """Hand the batch to the meter (``on_batch``); its failure is not the log's."""
        if self._on_batch is not None:
            try:
                self._on_batch(batch, final)
            except Exception:
                log.exception("prediction log: metering a batch failed")

    def _settle(self, upto: int, error: Exception | None) -> None:
        """Answer the waiters of records ``<= upto`` (runs in the event loop)."""
        waiters = self._waiters
        while waiters and waiters[0][0] <= upto:
            _, done = waiters.popleft()
            if done.done():  # the request was cancelled (client gone)
                continue
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(
                    StoreUnavailable(
                        "The prediction could not be logged, so it was not answered "
                        f"(durable logging is on): {error}. Check the metadata database."
                    )
                )

    def _closed(self) -> None:
        """Seal the open columnar segments once everything queued is written; write what
        the meter still holds."""
        self._writer.close()
        if self._on_close is not None:
            self._on_close()


def _prediction(record: LogRecord) -> Prediction:
    request_id, wall, parsed, outcome, latency_ms = record
    served = outcome.served
    inputs = parsed.records if parsed.records is not None else records_of(served.spec, parsed)
    return Prediction(
        request_id,
        served.name,
        served.version,
        wall,
        inputs,
        outcome.predictions,
        outcome.probabilities,
        outcome.classes if outcome.probabilities is not None else None,
        latency_ms,
    )

"""The RAG server's side of the call log: a bounded queue into the ledger, off the hot path.

A request appends one record (a dict) to a bounded in-memory queue and moves on; a
writer thread wakes every ``flush_interval`` (or as soon as a batch is full) and writes
the batch to the ledger's call log (:class:`prodline.ledger.calls.CallWriter`) together
with its audit events (``rag.answered`` / ``rag.retrieved``) in one transaction, so a
call is logged and audited together or not at all. ``close()`` drains and writes
everything, so nothing acknowledged is lost on a clean stop.

Overload never drops silently: when the queue is full a request waits briefly for room
(backpressure); if there is still none, its record is shed, counted in
``prodline_rag_log_shed_total`` and reported by a ``server.rag_log_shed`` audit event
(at most one per ``shed_audit_interval`` seconds, plus one at close).

Each record holds: ``request_id``, ``ts`` (ISO-8601 UTC), ``kb``, ``endpoint`` (``chat``
or ``retrieve``), ``question``, ``chunk_ids``, ``sensitivity``, ``provider``, ``model``,
``route``, ``route_reason``, ``input_tokens``, ``output_tokens``, ``cost_usd``,
``latency_ms``, ``groundedness``, ``flagged`` and ``stream``; with guards on, also
``guards`` (the events), ``quarantined`` (chunk ids kept out of the prompt), ``privacy``
and ``redactions``, and ``blocked`` for a request a guard refused (audited as
``rag.blocked``). The audit event carries no question text. A JSON-lines log left by an
older version (``<home>/logs/rag-<kb>.jsonl``) is imported into the call log when the
server starts, and renamed ``*.imported``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from prodline.ledger.calls import CallWriter
from prodline.serving.logqueue import POLL_S, BoundedLogWriter

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["METER_KEY", "RagLog", "legacy_log_path"]

log = logging.getLogger("prodline.serving")

Record = dict[str, Any]
METER_KEY = "_meter"
"""A record's metering note (CPU time, token user, reservation): handed to ``on_batch``,
never written to the call log."""
_AUDITED = ("request_id", "provider", "chunk_ids", "groundedness", "flagged")
_AUDITED_IF_SET = ("guards",)  # only calls a guard acted on carry its events


def legacy_log_path(home: Path, kb: str) -> Path:
    """Where RAG servers before the ledger call log wrote their JSON lines for ``kb``."""
    return Path(home) / "logs" / f"rag-{kb}.jsonl"


class RagLog(BoundedLogWriter[Record]):
    """Bounded queue plus writer thread into the ledger's call log and the audit log."""

    label = "rag log"
    shed_action = "server.rag_log_shed"
    thread_name = "prodline-raglog"

    def __init__(
        self,
        ws: Workspace,
        kb: str,
        *,
        max_size: int = 10_000,
        batch_size: int = 256,
        flush_interval: float = 0.05,
        backpressure: float = 0.05,
        shed_audit_interval: float = 60.0,
        on_written: Callable[[int], None] | None = None,
        on_shed: Callable[[int], None] | None = None,
        on_batch: Callable[[list[Record], list[Any], bool], None] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(
            ws,
            f"kb:{kb}",
            max_size=max_size,
            batch_size=batch_size,
            flush_interval=flush_interval,
            backpressure=backpressure,
            shed_audit_interval=shed_audit_interval,
            on_written=on_written,
            on_shed=on_shed,
        )
        self.kb = kb
        self._calls = CallWriter(ws.db)
        self._on_batch = on_batch  # metering: the same batches, in this writer thread
        self._on_close = on_close

    def start(self) -> None:
        """Import a legacy JSON-lines log (once), then start the writer thread."""
        self._import_legacy()
        super().start()

    def put(self, record: Record) -> bool:
        """Queue a record, waiting up to ``backpressure`` seconds for room; else shed it.

        Called from worker threads (the request path runs there), so it may sleep.
        """
        if self.offer(record):
            return True
        for _ in self._backpressure():
            time.sleep(POLL_S)
            if self.offer(record):
                return True
        self._count_shed(1)
        return False

    def _write(self, batch: list[Record], *, final: bool) -> None:
        notes = [r.pop(METER_KEY, None) for r in batch]  # the meter's, not the call log's
        events = [
            (
                _action(r),
                self.subject,
                {key: r.get(key) for key in _AUDITED}
                | {key: r[key] for key in _AUDITED_IF_SET if r.get(key)},
            )
            for r in batch
        ]

        def write() -> None:
            self._ws.audit.append_many(events, before=lambda conn: self._calls.write(batch, conn))

        if self._retry(write, len(batch), "write", final):
            self._count_written(len(batch))
        if self._on_batch is not None:
            try:
                self._on_batch(batch, notes, final)
            except Exception:  # the call log never fails for the meter
                log.exception("rag log: metering a batch failed")

    def _closed(self) -> None:
        """Write what the meter still holds."""
        if self._on_close is not None:
            self._on_close()

    def _import_legacy(self) -> None:
        path = legacy_log_path(self._ws.home, self.kb)
        if not path.is_file():
            return
        try:
            records = [orjson.loads(line) for line in path.read_bytes().splitlines() if line]
            self._calls.write(records)
            path.rename(path.with_name(path.name + ".imported"))
        except Exception as exc:  # the old file stays; the server runs without it
            log.warning("rag log: cannot import %s into the call log (%s)", path, exc)
            return
        log.info("rag log: imported %d calls from %s", len(records), path)


def _action(record: Record) -> str:
    if record.get("blocked"):
        return "rag.blocked"
    return "rag.answered" if record.get("endpoint") == "chat" else "rag.retrieved"

"""The RAG log: every answered call as a JSON line, plus its audit event, off the hot path.

A request appends one record (a dict) to a bounded in-memory queue and moves on; a
writer thread wakes every ``flush_interval`` (or as soon as a batch is full), appends
the batch to ``<home>/logs/rag-<kb>.jsonl`` in one write, then appends the batch's
audit events (``rag.answered`` / ``rag.retrieved``) with one ``audit.append_many``.
``close()`` drains and writes everything, so nothing acknowledged is lost on a clean stop.

Overload never drops silently: when the queue is full a request waits briefly for room
(backpressure); if there is still none, its record is shed, counted in
``prodline_rag_log_shed_total`` and reported by a ``server.rag_log_shed`` audit event
(at most one per ``shed_audit_interval`` seconds, plus one at close).

Each line holds: ``request_id``, ``ts`` (ISO-8601 UTC), ``kb``, ``endpoint`` (``chat`` or
``retrieve``), ``question``, ``chunk_ids``, ``provider``, ``model``, ``input_tokens``,
``output_tokens``, ``cost_usd``, ``latency_ms``, ``groundedness``, ``flagged``,
``route_reason`` and ``stream``. The audit event carries no question text.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

from prodline.serving.logqueue import POLL_S, BoundedLogWriter

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["RagLog", "log_path"]

log = logging.getLogger("prodline.serving")

Record = dict[str, Any]
_AUDITED = ("request_id", "provider", "chunk_ids", "groundedness", "flagged")


def log_path(home: Path, kb: str) -> Path:
    """Where the RAG server for ``kb`` writes its log."""
    return Path(home) / "logs" / f"rag-{kb}.jsonl"


class RagLog(BoundedLogWriter[Record]):
    """Bounded queue plus writer thread into a JSON-lines file and the audit log."""

    label = "rag log"
    shed_action = "server.rag_log_shed"
    thread_name = "prodline-raglog"

    def __init__(
        self,
        ws: Workspace,
        kb: str,
        *,
        path: Path | None = None,
        max_size: int = 10_000,
        batch_size: int = 256,
        flush_interval: float = 0.05,
        backpressure: float = 0.05,
        shed_audit_interval: float = 60.0,
        on_written: Callable[[int], None] | None = None,
        on_shed: Callable[[int], None] | None = None,
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
        self.path = path or log_path(ws.home, kb)
        self._file: IO[bytes] | None = None

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
        data = b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in batch)
        if not self._retry(lambda: self._append(data), len(batch), "write", final):
            return
        events = [
            (
                "rag.answered" if r["endpoint"] == "chat" else "rag.retrieved",
                self.subject,
                {key: r.get(key) for key in _AUDITED},
            )
            for r in batch
        ]
        if not self._retry(lambda: self._ws.audit.append_many(events), len(batch), "audit", final):
            return
        self._count_written(len(batch))

    def _append(self, data: bytes) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 - held open while serving
        self._file.write(data)
        self._file.flush()

    def _retry_failed(self, what: str) -> None:
        if self._file is not None and what == "write":  # reopen on the next try
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _closed(self) -> None:
        """Sync and close the file once everything queued is written."""
        if self._file is not None:
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
            except OSError as exc:
                log.warning("rag log: cannot sync %s (%s)", self.path, exc)
            self._file.close()
            self._file = None

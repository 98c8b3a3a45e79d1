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
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["RagLog", "log_path"]

log = logging.getLogger("prodline.serving")

Record = dict[str, Any]
_RETRIES_ON_CLOSE = 3
_AUDITED = ("request_id", "provider", "chunk_ids", "groundedness", "flagged")


def log_path(home: Path, kb: str) -> Path:
    """Where the RAG server for ``kb`` writes its log."""
    return Path(home) / "logs" / f"rag-{kb}.jsonl"


class RagLog:
    """Bounded queue plus writer thread into a JSON-lines file and the audit log."""

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
        self._ws = ws
        self.kb = kb
        self.subject = f"kb:{kb}"
        self.path = path or log_path(ws.home, kb)
        self.max_size = max_size
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.backpressure = backpressure
        self.shed_audit_interval = shed_audit_interval
        self._on_written = on_written
        self._on_shed = on_shed
        self._queue: deque[Record] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._file: IO[bytes] | None = None
        self.written = 0
        self.shed = 0
        self.lost = 0
        self._shed_audited = 0
        self._last_shed_audit = 0.0

    # -- the request side (any thread) -----------------------------------------------
    def depth(self) -> int:
        return len(self._queue)

    def offer(self, record: Record) -> bool:
        """Queue a record if there is room; never blocks."""
        size = len(self._queue)
        if size >= self.max_size:
            return False
        self._queue.append(record)
        if size + 1 >= self.batch_size:
            self._wake.set()
        return True

    def put(self, record: Record) -> bool:
        """Queue a record, waiting up to ``backpressure`` seconds for room; else shed it.

        Called from worker threads (the request path runs there), so it may sleep.
        """
        if self.offer(record):
            return True
        self._wake.set()
        deadline = time.monotonic() + self.backpressure
        while time.monotonic() < deadline:
            time.sleep(0.002)
            if self.offer(record):
                return True
        self.shed += 1
        if self._on_shed is not None:
            self._on_shed(1)
        return False

    # -- the writer thread -----------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="prodline-raglog", daemon=True)
            self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def close(self, timeout: float = 60.0) -> None:
        """Write everything queued, then stop the writer thread and close the file."""
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:  # never started: write here
            self._flush(final=True)
            self._audit_shed(force=True)
        if self._file is not None:
            try:
                self._file.flush()
                os.fsync(self._file.fileno())
            except OSError as exc:
                log.warning("rag log: cannot sync %s (%s)", self.path, exc)
            self._file.close()
            self._file = None

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            stopping = self._stop
            try:
                self._flush(final=stopping)
                self._audit_shed(force=stopping)
            except Exception:  # keep the writer alive whatever happens
                log.exception("rag log writer failed; retrying")
                time.sleep(0.5)
            if stopping:
                return

    def _flush(self, *, final: bool) -> None:
        queue = self._queue
        while queue:
            batch: list[Record] = []
            while queue and len(batch) < self.batch_size:
                batch.append(queue.popleft())
            self._write(batch, final=final)

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
        self.written += len(batch)
        if self._on_written is not None:
            self._on_written(len(batch))

    def _append(self, data: bytes) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 - held open while serving
        self._file.write(data)
        self._file.flush()

    def _retry(self, action: Callable[[], object], count: int, what: str, final: bool) -> bool:
        attempt = 0
        while True:
            try:
                action()
                return True
            except Exception as exc:
                attempt += 1
                log.warning("rag log: cannot %s %d records (%s); retrying", what, count, exc)
                if (final or self._stop) and attempt >= _RETRIES_ON_CLOSE:
                    self.lost += count
                    self.shed += count
                    if self._on_shed is not None:
                        self._on_shed(count)
                    return False
                if self._file is not None and what == "write":  # reopen on the next try
                    with contextlib.suppress(OSError):
                        self._file.close()
                    self._file = None
                time.sleep(0.5)

    def _audit_shed(self, *, force: bool) -> None:
        pending = self.shed - self._shed_audited
        if pending <= 0:
            return
        now = time.monotonic()
        if not force and now - self._last_shed_audit < self.shed_audit_interval:
            return
        self._ws.audit.append(
            "server.rag_log_shed",
            self.subject,
            {
                "count": pending,
                "total": self.shed,
                "lost_on_store_error": self.lost,
                "queue_size": self.max_size,
            },
        )
        self._shed_audited += pending
        self._last_shed_audit = now

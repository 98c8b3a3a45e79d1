"""A bounded log queue drained by a writer thread: what the prediction and RAG logs share.

A request appends one record to a bounded in-memory queue (a ``deque``: no lock on the
event loop) and moves on; a writer thread wakes every ``flush_interval`` (or as soon as a
batch is full) and hands each batch to the subclass's ``_write``. ``close()`` drains and
writes everything, so nothing acknowledged is lost on a clean stop.

Overload never drops silently: when the queue is full a caller may wait briefly for room
(backpressure); if there is still none, its record is shed, counted (``on_shed``) and
reported by an audit event (at most one per ``shed_audit_interval`` seconds, plus one at
close). A batch the store keeps refusing while stopping is counted as lost and shed too.
"""

from __future__ import annotations

import logging
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["BoundedLogWriter"]

log = logging.getLogger("prodline.serving")

R = TypeVar("R")

POLL_S = 0.002
"""How often a caller waiting for room looks again."""
_RETRIES_ON_CLOSE = 3
_RETRY_PAUSE_S = 0.5


class BoundedLogWriter(ABC, Generic[R]):
    """Bounded queue plus writer thread; subclasses say how a batch is written.

    Subclasses set ``label`` (for log messages), ``shed_action`` (the audit action of shed
    records) and ``thread_name``, implement ``_write(batch, final=...)`` and may extend
    ``_closed()`` (runs once the writer has stopped) and ``_retry_failed(what)``.
    """

    label = "log"
    shed_action = "server.log_shed"
    thread_name = "prodline-log"

    def __init__(
        self,
        ws: Workspace,
        subject: str,
        *,
        max_size: int,
        batch_size: int,
        flush_interval: float,
        backpressure: float,
        shed_audit_interval: float,
        on_written: Callable[[int], None] | None = None,
        on_shed: Callable[[int], None] | None = None,
    ) -> None:
        self._ws = ws
        self.subject = subject
        self.max_size = max_size
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.backpressure = backpressure
        self.shed_audit_interval = shed_audit_interval
        self._on_written = on_written
        self._on_shed = on_shed
        self._queue: deque[R] = deque()
        self._wake = threading.Event()
        self._stop = False
        self._thread: threading.Thread | None = None
        self.written = 0
        self.shed = 0
        self.lost = 0
        self._shed_audited = 0
        self._last_shed_audit = 0.0

    # -- the request side ------------------------------------------------------------
    def depth(self) -> int:
        return len(self._queue)

    def offer(self, record: R) -> bool:
        """Queue a record if there is room; never blocks."""
        queue = self._queue
        size = len(queue)
        if size >= self.max_size:
            return False
        queue.append(record)
        if size + 1 >= self.batch_size:
            self._wake.set()
        return True

    def _backpressure(self) -> Iterator[None]:
        """Wake the writer, then yield (the caller sleeps ``POLL_S`` and offers again)
        until ``backpressure`` seconds have passed."""
        self._wake.set()
        deadline = time.monotonic() + self.backpressure
        while time.monotonic() < deadline:
            yield

    def _count_shed(self, count: int) -> None:
        self.shed += count
        if self._on_shed is not None:
            self._on_shed(count)

    def _count_written(self, count: int) -> None:
        self.written += count
        if self._on_written is not None:
            self._on_written(count)

    # -- the writer thread -----------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=self.thread_name, daemon=True)
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
        else:  # never started: write here
            self._flush(final=True)
            self._audit_shed(force=True)
        self._closed()

    def _closed(self) -> None:
        """Release what the writer held open (nothing here)."""

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            stopping = self._stop
            try:
                self._flush(final=stopping)
                self._audit_shed(force=stopping)
            except Exception:  # keep the writer alive whatever happens
                log.exception("%s writer failed; retrying", self.label)
                time.sleep(_RETRY_PAUSE_S)
            if stopping:
                return

    def _flush(self, *, final: bool = False) -> None:
        queue = self._queue
        while queue:
            batch: list[R] = []
            while queue and len(batch) < self.batch_size:
                batch.append(queue.popleft())
            self._write(batch, final=final)

    @abstractmethod
    def _write(self, batch: list[R], *, final: bool) -> None:
        """Write one batch (use ``_retry``), then ``_count_written`` it."""

    def _retry(self, action: Callable[[], object], count: int, what: str, final: bool) -> bool:
        """Run ``action`` until it succeeds; while stopping, give up after a few tries and
        count the ``count`` records as lost (and shed). Returns whether it succeeded."""
        attempt = 0
        while True:
            try:
                action()
                return True
            except Exception as exc:
                attempt += 1
                log.warning("%s: cannot %s %d records (%s); retrying", self.label, what, count, exc)
                if (final or self._stop) and attempt >= _RETRIES_ON_CLOSE:
                    self.lost += count
                    self._count_shed(count)
                    return False
                self._retry_failed(what)
                time.sleep(_RETRY_PAUSE_S)

    def _retry_failed(self, what: str) -> None:
        """Prepare the next try after ``what`` failed (nothing here)."""

    def _audit_shed(self, *, force: bool) -> None:
        pending = self.shed - self._shed_audited
        if pending <= 0:
            return
        now = time.monotonic()
        if not force and now - self._last_shed_audit < self.shed_audit_interval:
            return
        self._ws.audit.append(
            self.shed_action,
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

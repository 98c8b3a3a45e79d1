"""Tuning knobs of the prediction server, in one frozen object with measured defaults."""

from __future__ import annotations

from dataclasses import dataclass

from prodline.serving.limits import ServerLimits

__all__ = ["ServeOptions"]


@dataclass(frozen=True)
class ServeOptions:
    """How the server batches, logs and watches its alias.

    The defaults were measured with ``bench/serving.py`` (one uvicorn worker on one core).

    Parameters
    ----------
    max_batch_rows
        Rows merged into one ``predict`` call; requests queue behind a running batch and
        go together in the next one, whole requests only (one request is never split).
    predict_in_thread
        Run ``predict`` in a worker thread instead of inline in the event loop. Inline
        measured faster for small models (no thread hand-off; the GIL is held anyway).
    max_body_bytes
        Larger request bodies are refused with 413 before they are parsed. Left at its
        default, ``limits.max_body_bytes`` (the ``[server]`` table) applies instead.
    log_queue_size
        Prediction-log records held in memory before backpressure starts.
    log_batch_size
        Records the writer thread inserts in one transaction at most.
    log_flush_interval_s
        The writer thread wakes at least this often (or when a batch is full).
    log_backpressure_s
        How long a request waits for room in a full log queue before its record is shed
        (counted in ``/metrics`` and audited).
    shed_audit_interval_s
        At most one ``server.predictions_shed`` audit event per this many seconds.
    log_segment_rows
        Predicted rows per columnar (Parquet) segment of the prediction log: the reader
        decodes at most this many rows from JSON, the rest it reads as Parquet.
    durable_log
        Answer a prediction only once its log record is committed (group commit: the
        requests waiting share one transaction). Off by default: a ``kill -9`` then loses
        the records still queued, in exchange for throughput (see ``bench/serving.py``).
    poll_interval_s
        How often the alias is read to notice a promote or rollback.
    auth
        ``none`` (default) or ``token``: every route but health then needs a bearer token
        of a user whose role may ``predict`` (``/v1/feedback``: ``feedback.add``); see
        ``prodline.serving.auth``.
    auth_cache_s
        How long one token's check is reused (a revocation applies within it).
    review_poll_interval_s
        How often the model's human-review policy is checked for changes
        (``ws.reviews.policy_version()``; a changed policy applies within this).
    limits
        Body, depth, rate, concurrency and time limits (``prodline.serving.limits``);
        None reads the ``[server]`` table of ``prodline.toml`` (model-server defaults).
    """

    max_batch_rows: int = 512
    predict_in_thread: bool = False
    max_body_bytes: int = 16 * 1024 * 1024
    log_queue_size: int = 50_000
    log_batch_size: int = 2_000
    log_flush_interval_s: float = 0.2
    log_backpressure_s: float = 0.05
    shed_audit_interval_s: float = 5.0
    log_segment_rows: int = 10_000
    durable_log: bool = False
    poll_interval_s: float = 0.25
    auth: str = "none"
    auth_cache_s: float = 5.0
    review_poll_interval_s: float = 2.0
    limits: ServerLimits | None = None

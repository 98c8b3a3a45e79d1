"""Prometheus metrics of one server, in its own registry (never the global one).

``MetricsBase`` is what both servers share: the registry, the log writer's series
(written, shed, queue depth) and the text rendering; ``ServerMetrics`` (here) and
``RagMetrics`` add their request series.

Requests, latency and errors of the prediction server are labelled by model and version,
so a promote shows up as a new series. Labelled children are cached per version: the hot
path does two dict lookups, one ``inc`` and one ``observe``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = [
    "CONTENT_TYPE_LATEST",
    "METRICS_DOC",
    "MetricsBase",
    "PrometheusResponse",
    "ServerMetrics",
]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class PrometheusResponse(Response):
    """``GET /metrics``: Prometheus text exposition format, not JSON."""

    media_type = CONTENT_TYPE_LATEST


METRICS_DOC: dict[str, Any] = {
    "response_class": PrometheusResponse,
    "responses": {
        200: {
            "description": "Prometheus text exposition format 0.0.4.",
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
        }
    },
}


class MetricsBase:
    """A registry of its own, the log writer's series, and ``render()``.

    Parameters
    ----------
    log
        Metric name prefix of the log writer (``prodline_prediction_log``).
    label, value
        The label every log series carries and its value (``model``, ``credit-risk``).
    records
        What the log holds, for the help texts ("Prediction-log records").
    """

    def __init__(self, log: str, label: str, value: str, records: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.log_written = Counter(
            f"{log}_written", f"{records} written to the store.", [label], registry=reg
        ).labels(value)
        self.log_shed = Counter(
            f"{log}_shed",
            f"{records} dropped under overload (each drop is also audited).",
            [label],
            registry=reg,
        ).labels(value)
        self._log_depth = Gauge(
            f"{log}_queue_depth", f"{records} waiting to be written.", [label], registry=reg
        ).labels(value)

    def watch_log_depth(self, depth: Callable[[], int]) -> None:
        """Read the log queue's depth at each scrape."""
        self._log_depth.set_function(lambda: float(depth()))

    def render(self) -> bytes:
        """The registry in Prometheus text format."""
        return generate_latest(self.registry)


class ServerMetrics(MetricsBase):
    """The counters, histograms and gauges the prediction server's ``/metrics`` renders."""

    def __init__(self, model: str, alias: str) -> None:
        super().__init__("prodline_prediction_log", "model", model, "Prediction-log records")
        self.model = model
        self.alias = alias
        reg = self.registry
        self.requests = Counter(
            "prodline_requests",
            "Predict requests answered, by model version and HTTP status.",
            ["model", "version", "status"],
            registry=reg,
        )
        self.latency = Histogram(
            "prodline_request_latency_seconds",
            "Predict request latency (parse, validate, predict, encode), by model version.",
            ["model", "version"],
            buckets=LATENCY_BUCKETS,
            registry=reg,
        )
        self.errors = Counter(
            "prodline_request_errors",
            "Predict requests that failed, by model version and error code.",
            ["model", "version", "code"],
            registry=reg,
        )
        self.batch_requests = Histogram(
            "prodline_batch_requests",
            "Requests merged into one predict call.",
            ["model"],
            buckets=BATCH_BUCKETS,
            registry=reg,
        ).labels(model)
        self.served_version = Gauge(
            "prodline_served_version",
            "Model version the alias serves now.",
            ["model", "alias"],
            registry=reg,
        ).labels(model, alias)
        self.switches = Counter(
            "prodline_model_switches",
            "Hot model switches after a promote or rollback.",
            ["model"],
            registry=reg,
        ).labels(model)
        self._ok: dict[int, tuple[Counter, Histogram]] = {}

    def observe_ok(self, version: int, seconds: float) -> None:
        try:
            count, latency = self._ok[version]
        except KeyError:
            label = str(version)
            count = self.requests.labels(self.model, label, "200")
            latency = self.latency.labels(self.model, label)
            self._ok[version] = (count, latency)
        count.inc()
        latency.observe(seconds)

    def observe_status(self, version: int, status: int, seconds: float) -> None:
        """Count an answer that is neither 200 nor an error (202: held for review)."""
        label = str(version)
        self.requests.labels(self.model, label, str(status)).inc()
        self.latency.labels(self.model, label).observe(seconds)

    def observe_error(self, version: int | None, status: int, code: str, seconds: float) -> None:
        label = "" if version is None else str(version)
        self.requests.labels(self.model, label, str(status)).inc()
        self.errors.labels(self.model, label, code).inc()
        self.latency.labels(self.model, label).observe(seconds)

    def observe_batch(self, requests: int, rows: int) -> None:
        self.batch_requests.observe(requests)

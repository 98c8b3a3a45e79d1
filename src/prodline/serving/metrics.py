"""Prometheus metrics of one server, in its own registry (never the global one).

Requests, latency and errors are labelled by model and version, so a promote shows up
as a new series. Labelled children are cached per version: the hot path does two dict
lookups, one ``inc`` and one ``observe``.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

__all__ = ["CONTENT_TYPE_LATEST", "ServerMetrics"]

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024)


class ServerMetrics:
    """The counters, histograms and gauges ``GET /metrics`` renders."""

    def __init__(self, model: str, alias: str) -> None:
        self.model = model
        self.alias = alias
        self.registry = CollectorRegistry(auto_describe=True)
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
        self.log_written = Counter(
            "prodline_prediction_log_written",
            "Prediction-log records written to the store.",
            ["model"],
            registry=reg,
        ).labels(model)
        self.log_shed = Counter(
            "prodline_prediction_log_shed",
            "Prediction-log records dropped under overload (each drop is also audited).",
            ["model"],
            registry=reg,
        ).labels(model)
        self._log_depth = Gauge(
            "prodline_prediction_log_queue_depth",
            "Prediction-log records waiting to be written.",
            ["model"],
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

    def watch_log_depth(self, depth: Callable[[], int]) -> None:
        self._log_depth.set_function(lambda: float(depth()))

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

    def observe_error(self, version: int | None, status: int, code: str, seconds: float) -> None:
        label = "" if version is None else str(version)
        self.requests.labels(self.model, label, str(status)).inc()
        self.errors.labels(self.model, label, code).inc()
        self.latency.labels(self.model, label).observe(seconds)

    def observe_batch(self, requests: int, rows: int) -> None:
        self.batch_requests.observe(requests)

    def render(self) -> bytes:
        return generate_latest(self.registry)

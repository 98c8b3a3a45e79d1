"""The checks a monitor runs over its window, each a function ``ctx -> CheckResult``.

A check reads what it needs from :class:`CheckContext` (the window of the prediction
or RAG call log, and lazily the reference dataset, the window before, the labelled
rows) and returns a verdict, the numbers behind it, an alert when it failed, and the
charts for the report. Model monitors know ``data_drift``, ``prediction_drift``,
``performance`` and ``concept``; knowledge-base monitors ``groundedness`` and
``rag_drift``. Statuses: ``passed``, ``failed`` (raises an alert), ``skipped`` (nothing
to check: an empty window, no labels yet) and ``error`` (the check could not run: the
message says why, e.g. a column whose type changed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from prodline.ledger.predictions import META_COLUMNS
from prodline.monitor.report import distribution

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "KB_CHECKS",
    "MODEL_CHECKS",
    "CheckContext",
    "CheckResult",
    "feature_columns",
    "output_columns",
]

_LABEL_COLUMNS = ("row", "label", "label_at")


@dataclass
class CheckContext:
    """What a check may read: the window now, and lazily what it is compared with."""

    monitor: Any  # monitors.Monitor (a plain entity; typed loosely to avoid a cycle)
    window: pd.DataFrame
    version: int | None
    loaders: Mapping[str, Callable[[], Any]]
    """``reference``, ``previous`` and ``labelled`` loaders, called at most once each."""
    _cache: dict[str, Any] = field(default_factory=dict)

    def get(self, what: str) -> Any:
        """The named input (``reference``, ``previous``, ``labelled``), loaded on first use."""
        if what not in self._cache:
            self._cache[what] = self.loaders[what]()
        return self._cache[what]

    @property
    def config(self) -> Mapping[str, Any]:
        """The monitor's per-check settings (thresholds, drift options)."""
        return dict(self.monitor.config or {})


@dataclass
class CheckResult:
    """One check's verdict, its numbers, the alert it raises and its report charts."""

    check: str
    status: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    alert_kind: str | None = None
    severity: str = "warning"
    charts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The check's entry in the run summary."""
        return {"status": self.status, "message": self.message, **self.details}


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The input columns of a prediction-log window (not outputs, meta or labels)."""
    skip = {*META_COLUMNS, *_LABEL_COLUMNS, "prediction"}
    return [c for c in frame.columns if c not in skip and not str(c).startswith("proba_")]


def output_columns(frame: pd.DataFrame) -> list[str]:
    """The model's output columns: ``prediction`` and ``proba_<class>``."""
    return [c for c in frame.columns if c == "prediction" or str(c).startswith("proba_")]


def _drift_options(ctx: CheckContext) -> Any:
    from prodline.monitor.drift import DriftOptions

    settings = ctx.config.get("drift") or {}
    return DriftOptions(**settings) if settings else DriftOptions()


def _drift_result(
    check: str, kind: str, report: Any, reference: pd.DataFrame, current: pd.DataFrame, what: str
) -> CheckResult:
    body = report.to_dict()
    drifted = [name for name, col in body["columns"].items() if col.get("drift")]
    charts = [
        distribution(name, reference[name], current[name])
        for name in drifted
        if name in reference.columns and name in current.columns
    ]
    n = len(body["columns"])
    details = {
        "dataset_drift": bool(body["dataset_drift"]),
        "share": float(body["share"]),
        "drifted": drifted,
        "rows_reference": int(getattr(report, "rows_reference", len(reference))),
        "rows_current": int(getattr(report, "rows_current", len(current))),
        "columns": body["columns"],
    }
    if body["dataset_drift"]:
        message = f"{what} drift: {len(drifted)} of {n} columns drifted ({', '.join(drifted)})"
        return CheckResult(check, "failed", message, details, kind, "warning", charts)
    message = f"no {what} drift: {len(drifted)} of {n} columns drifted"
    return CheckResult(check, "passed", message, details, charts=charts)


def data_drift(ctx: CheckContext) -> CheckResult:
    """Inputs of the window against the monitor's reference dataset version."""
    from prodline.monitor.drift import compute_drift

    columns = feature_columns(ctx.window)
    reference = ctx.get("reference")
    current = ctx.window[columns]
    report = compute_drift(reference, current, columns=columns, options=_drift_options(ctx))
    return _drift_result("data_drift", "data_drift", report, reference, current, "data")


def prediction_drift(ctx: CheckContext) -> CheckResult:
    """Outputs of the window against the window just before it (same length)."""
    from prodline.monitor.drift import prediction_drift as outputs_drift

    previous = ctx.get("previous")
    if previous.empty or not output_columns(previous):
        return CheckResult(
            "prediction_drift",
            "skipped",
            "no earlier window to compare the predictions with yet",
            {"rows_previous": len(previous)},
        )
    report = outputs_drift(previous, ctx.window, options=_drift_options(ctx))
    return _drift_result(
        "prediction_drift", "prediction_drift", report, previous, ctx.window, "prediction"
    )


def _labelled(ctx: CheckContext, check: str) -> tuple[pd.DataFrame, str, CheckResult | None]:
    """The window's labelled rows and the task, or a ``skipped`` result when too few."""
    frame = ctx.get("labelled")
    settings = dict(ctx.config.get(check) or {})
    need = int(settings.get("min_labels", 30))
    if len(frame) < need:
        skip = CheckResult(
            check,
            "skipped",
            f"{len(frame)} labelled predictions in the window; {check} needs at least {need} "
            "(send labels with prodline feedback add or POST /v1/feedback)",
            {"labelled": len(frame)},
        )
        return frame, "classification", skip
    task = settings.get("task") or _task(frame)
    return frame, str(task), None


def _task(frame: pd.DataFrame) -> str:
    import pandas as pd

    if any(str(c).startswith("proba_") for c in frame.columns):
        return "classification"
    pred = frame["prediction"]
    return "regression" if pd.api.types.is_float_dtype(pred) else "classification"


def performance(ctx: CheckContext) -> CheckResult:
    """The alias's version's metric on labelled predictions against its floor.

    The floor is ``config["performance"]["min"]`` (``max`` for an error metric), else
    the version's registered metric of that name less ``margin`` (default 0.05).
    """
    from prodline.monitor.performance import performance as measure
    from prodline.monitor.report import series

    frame, task, skip = _labelled(ctx, "performance")
    if skip:
        return skip
    settings = dict(ctx.config.get("performance") or {})
    metric = str(settings.get("metric") or ("accuracy" if task == "classification" else "mae"))
    lower_is_better = metric in ("mae", "rmse", "mse")
    per_window = max(len(frame) // 10, 1)
    report = measure(frame, task, window=per_window)  # type: ignore[arg-type]
    version = ctx.version if ctx.version in report.versions else None
    if version is None:
        version = max((v for v in report.versions if v is not None), default=None)
    value = report.metric(metric, version)
    floor = settings.get("max" if lower_is_better else "min")
    origin = "configured"
    if floor is None and ctx.monitor.model and version is not None:
        registered = ctx.loaders["model_metrics"]() if "model_metrics" in ctx.loaders else {}
        base = registered.get(metric)
        if isinstance(base, int | float):
            margin = float(settings.get("margin", 0.05))
            floor = base + margin if lower_is_better else base - margin
            origin = f"registered {metric} {base:.4g} of version {version} less {margin:g}"
    details = {
        "task": task,
        "metric": metric,
        "value": value,
        "threshold": floor,
        "threshold_from": origin if floor is not None else None,
        "version": version,
        "labelled": len(frame),
        "versions": {str(k): dict(v) for k, v in report.versions.items()},
    }
    by_version: dict[str, list[float | None]] = {}
    labels = []
    for i, w in enumerate(report.windows):
        labels.append(w.end.strftime("%m-%d %H:%M") if w.end else str(i))
        for key in {f"v{w.version}" for w in report.windows}:
            by_version.setdefault(key, [None] * len(report.windows))
        by_version[f"v{w.version}"][i] = w.metrics.get(metric)
    chart = series(
        f"{metric} over time (windows of {per_window} labelled rows)",
        labels,
        by_version,
        threshold=floor,
    )
    if value is None or floor is None:
        note = "no threshold: set config performance.min/max or register the metric"
        return CheckResult(
            "performance", "passed", f"{metric} = {value} ({note})", details, charts=[chart]
        )
    bad = value > floor if lower_is_better else value < floor
    word = "above" if lower_is_better else "below"
    if bad:
        message = f"{metric} {value:.4g} of version {version} is {word} {floor:.4g} ({origin})"
        return CheckResult(
            "performance", "failed", message, details, "performance_drop", "critical", [chart]
        )
    message = f"{metric} {value:.4g} of version {version} (threshold {floor:.4g})"
    return CheckResult("performance", "passed", message, details, charts=[chart])


def concept(ctx: CheckContext) -> CheckResult:
    """Change detectors (ADWIN, Page-Hinkley, DDM) over the labelled error stream."""
    import numpy as np

    from prodline.monitor.concept import DETECTORS, detect_concept_drift
    from prodline.monitor.performance import error_stream
    from prodline.monitor.report import series

    frame, task, skip = _labelled(ctx, "concept")
    if skip:
        return skip
    settings = dict(ctx.config.get("concept") or {})
    frame = frame.sort_values("ts", kind="stable") if "ts" in frame.columns else frame
    errors = error_stream(frame, task)  # type: ignore[arg-type]
    report = detect_concept_drift(
        errors,
        ts=frame["ts"] if "ts" in frame.columns else None,
        detectors=tuple(settings.get("detectors", DETECTORS)),
        params=settings.get("params"),
    )
    details = report.to_dict()
    chunks = np.array_split(errors, min(10, len(errors)))
    chart = series(
        "error rate over the window (10 slices)",
        [str(i + 1) for i in range(len(chunks))],
        {"error": [float(c.mean()) if len(c) else None for c in chunks]},
    )
    fired = [name for name, r in report.detectors.items() if r.count]
    if fired:
        first = {name: report.detectors[name].first_index for name in fired}
        message = (
            f"concept drift on the error stream: {', '.join(fired)} fired (first at rows {first})"
        )
        return CheckResult(
            "concept", "failed", message, details, "concept_drift", "warning", [chart]
        )
    return CheckResult(
        "concept", "passed", f"no change in {len(errors)} errors", details, charts=[chart]
    )


def groundedness(ctx: CheckContext) -> CheckResult:
    """Share of answers whose groundedness is below the threshold, against ``max_share``."""
    from prodline.monitor.report import series

    report = ctx.get("rag")
    settings = dict(ctx.config.get("groundedness") or {})
    need, limit = int(settings.get("min_answers", 20)), float(settings.get("max_share", 0.2))
    details = {k: v for k, v in report.to_dict().items() if k != "embedding_drift"}
    details["max_share"] = limit
    if report.answers < need or report.share_below is None:
        message = f"{report.answers} scored answers in the window; groundedness needs {need}"
        return CheckResult("groundedness", "skipped", message, details)
    chart = series(
        f"share of answers below groundedness {report.threshold:g}",
        [w.end.strftime("%m-%d %H:%M") if w.end else str(i) for i, w in enumerate(report.windows)],
        {"share below": [w.share_below for w in report.windows]},
        threshold=limit,
    )
    share = float(report.share_below)
    text = f"{share:.1%} of {report.answers} answers below groundedness {report.threshold:g}"
    if share > limit:
        return CheckResult(
            "groundedness",
            "failed",
            f"{text} (more than {limit:.0%})",
            details,
            "groundedness_low",
            "warning",
            [chart],
        )
    return CheckResult(
        "groundedness", "passed", f"{text} (limit {limit:.0%})", details, charts=[chart]
    )


def rag_drift(ctx: CheckContext) -> CheckResult:
    """Query embeddings of the window against the knowledge base's chunk embeddings (MMD)."""
    report = ctx.get("rag")
    drift = report.embedding_drift
    if drift is None:
        return CheckResult(
            "rag_drift",
            "skipped",
            "too few logged questions or chunks to compare embeddings (needs 2 of each)",
        )
    details = drift.to_dict()
    text = f"MMD² {drift.mmd2:.4g} (p = {drift.p_value:.3g}) over {drift.queries} questions"
    if drift.drift:
        return CheckResult(
            "rag_drift", "failed", f"query drift: {text}", details, "rag_drift", "warning"
        )
    return CheckResult("rag_drift", "passed", f"no query drift: {text}", details)


MODEL_CHECKS: dict[str, Callable[[CheckContext], CheckResult]] = {
    "data_drift": data_drift,
    "prediction_drift": prediction_drift,
    "performance": performance,
    "concept": concept,
}
"""Checks a monitor on ``MODEL@ALIAS`` may run, by name."""

KB_CHECKS: dict[str, Callable[[CheckContext], CheckResult]] = {
    "groundedness": groundedness,
    "rag_drift": rag_drift,
}
"""Checks a monitor on a knowledge base may run, by name."""

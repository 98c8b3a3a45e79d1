"""Model performance on labelled predictions, per window and per model version.

Input is a frame of predictions joined with their labels (``ws.feedback.read(model)``:
``prediction``, ``proba_<class>`` when the model gives probabilities, ``label``,
``version``, ``ts``). Metrics come from scikit-learn, computed per model version over
the whole frame and per window of it:

- classifiers: ``accuracy``; ``f1`` (binary, on the positive class, when labels and
  predictions hold at most two classes; macro-averaged otherwise; ``f1_average`` says
  which); ``roc_auc`` when the frame has the probability columns and the window holds
  both classes (one-vs-rest macro for more than two classes; ``None`` otherwise, never
  a made-up number);
- regressors: ``mae`` and ``rmse``.

A window is a number of rows (consecutive labelled rows, oldest first, per version) or a
span of time (``"1h"``, ``"30m"``, ``"1d"``, a ``timedelta``; buckets aligned on the
epoch). The positive class of a binary classifier is ``positive`` when given, else the
class of the last ``proba_`` column (scikit-learn's ``classes_[1]``), else the larger
label.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from prodline.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "PerformanceReport",
    "WindowPerformance",
    "error_stream",
    "parse_window",
    "performance",
]

Task = Literal["classification", "regression"]
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SPAN = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*")


@dataclass(frozen=True)
class WindowPerformance:
    """The metrics of one window of one model version."""

    version: int | None
    start: datetime | None
    end: datetime | None
    rows: int
    metrics: Mapping[str, Any] = field(hash=False)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO-8601)."""
        return {
            "version": self.version,
            "start": self.start.isoformat() if self.start is not None else None,
            "end": self.end.isoformat() if self.end is not None else None,
            "rows": self.rows,
            **dict(self.metrics),
        }


@dataclass(frozen=True)
class PerformanceReport:
    """Performance per model version (``versions``) and per window (``windows``)."""

    task: Task
    rows: int
    window: int | float | None
    """Rows per window, seconds per window, or None (one window per version)."""
    window_kind: Literal["rows", "time", "all"]
    versions: Mapping[int | None, Mapping[str, Any]] = field(hash=False)
    windows: tuple[WindowPerformance, ...] = ()

    def metric(self, name: str, version: int | None = None) -> Any:
        """One metric over all rows of ``version`` (the only version when omitted)."""
        if version is None and len(self.versions) == 1:
            version = next(iter(self.versions))
        if version not in self.versions:
            raise InvalidInput(
                f"No labelled predictions of version {version}; versions with labels: "
                f"{sorted(v for v in self.versions if v is not None) or 'none'}.",
                field="version",
            )
        return self.versions[version].get(name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: task, rows, window, per-version metrics and windows."""
        return {
            "task": self.task,
            "rows": self.rows,
            "window": self.window,
            "window_kind": self.window_kind,
            "versions": {str(v): {"version": v, **dict(m)} for v, m in self.versions.items()},
            "windows": [w.to_dict() for w in self.windows],
        }


def parse_window(window: int | str | timedelta | None) -> tuple[str, int | float | None]:
    """``("rows", n)``, ``("time", seconds)`` or ``("all", None)`` from a window spec.

    Examples
    --------
    >>> parse_window(500), parse_window("1h"), parse_window("90s"), parse_window(None)
    (('rows', 500), ('time', 3600.0), ('time', 90.0), ('all', None))
    """
    if window is None:
        return "all", None
    if isinstance(window, bool):
        raise InvalidInput(f"window must be a row count or a span like '1h', got {window!r}.")
    if isinstance(window, int):
        if window < 1:
            raise InvalidInput(f"window must be at least 1 row, got {window}.", field="window")
        return "rows", window
    if isinstance(window, timedelta):
        seconds = window.total_seconds()
    elif isinstance(window, str) and window.strip().isdigit():
        return parse_window(int(window))
    elif isinstance(window, str) and (match := _SPAN.fullmatch(window)):
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise InvalidInput(
            f"window must be a row count (1000) or a span such as 30m, 1h or 1d; got {window!r}.",
            field="window",
        )
    if seconds <= 0:
        raise InvalidInput(f"window must be a positive span, got {window!r}.", field="window")
    return "time", float(seconds)


def performance(
    frame: pd.DataFrame,
    task: Task = "classification",
    *,
    window: int | str | timedelta | None = None,
    label: str = "label",
    prediction: str = "prediction",
    positive: Any = None,
) -> PerformanceReport:
    """Metrics of labelled predictions per model version and per window.

    Parameters
    ----------
    frame
        Predictions with labels, e.g. ``ws.feedback.read("credit-risk")``; ``version``
        and ``ts`` are optional (one version, one time-less window without them).
    task
        ``"classification"`` or ``"regression"``.
    window
        Rows per window, a span (``"1h"``, ``timedelta``), or None for one window.
    label, prediction
        The columns holding the truth and the model's answer.
    positive
        The positive class of a binary classifier (see the module docstring).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"prediction": [1, 0, 1, 1], "label": [1, 0, 0, 1],
    ...                       "proba_1": [0.9, 0.2, 0.6, 0.8], "version": [1, 1, 1, 1]})
    >>> report = performance(frame)
    >>> report.metric("accuracy"), report.metric("f1"), report.metric("roc_auc")
    (0.75, 0.8, 1.0)
    """
    if task not in ("classification", "regression"):
        raise InvalidInput(
            f"task must be 'classification' or 'regression', got {task!r}.", field="task"
        )
    for name in (label, prediction):
        if name not in frame.columns:
            raise InvalidInput(
                f"The frame has no {name!r} column; read labelled predictions with "
                "ws.feedback.read(model).",
                field=name,
            )
    kind, size = parse_window(window)
    if "ts" in frame.columns:
        frame = frame.sort_values("ts", kind="stable")
    frame = frame[frame[label].notna()]
    y_true, y_pred = _aligned(frame[label].to_numpy(), frame[prediction].to_numpy(), task)
    classes, proba = _probabilities(frame)
    if task == "classification" and positive is None:
        positive = _positive(classes, y_true, y_pred)
    elif task == "classification":
        positive = _like(positive, y_true)
    versions_col = frame["version"].to_numpy() if "version" in frame.columns else None
    ts = frame["ts"] if "ts" in frame.columns else None
    if kind == "time" and ts is None:
        raise InvalidInput("A time window needs a 'ts' column in the frame.", field="window")

    def measure(idx: np.ndarray) -> dict[str, Any]:
        if task == "regression":
            return _regression(y_true[idx], y_pred[idx])
        p = proba[idx] if proba is not None else None
        return _classification(y_true[idx], y_pred[idx], classes, p, positive)

    versions: dict[int | None, dict[str, Any]] = {}
    windows: list[WindowPerformance] = []
    keys: Sequence[Any] = [None] if versions_col is None else sorted(set(versions_col.tolist()))
    for version in keys:
        idx = (
            np.arange(len(frame))
            if versions_col is None
            else np.flatnonzero(versions_col == version)
        )
        ver = None if version is None else int(version)
        versions[ver] = {"rows": len(idx), **measure(idx)}
        for part in _split(idx, kind, size, ts):
            start = end = None
            if ts is not None and len(part):
                start, end = ts.iloc[part[0]].to_pydatetime(), ts.iloc[part[-1]].to_pydatetime()
            windows.append(WindowPerformance(ver, start, end, len(part), measure(part)))
    windows.sort(key=lambda w: (w.start is None, w.start or 0, w.version or 0))
    return PerformanceReport(task, len(frame), size, kind, versions, tuple(windows))  # type: ignore[arg-type]


def error_stream(
    frame: pd.DataFrame,
    task: Task = "classification",
    *,
    label: str = "label",
    prediction: str = "prediction",
) -> np.ndarray:
    """The per-row error, oldest first: 1.0/0.0 for a wrong/right class, the absolute
    error for a regressor. This is what concept-drift detectors watch."""
    for name in (label, prediction):
        if name not in frame.columns:
            raise InvalidInput(f"The frame has no {name!r} column.", field=name)
    if "ts" in frame.columns:
        frame = frame.sort_values("ts", kind="stable")
    frame = frame[frame[label].notna()]
    y_true, y_pred = _aligned(frame[label].to_numpy(), frame[prediction].to_numpy(), task)
    if task == "regression":
        return np.abs(y_true.astype(float) - y_pred.astype(float))
    return (y_true != y_pred).astype(float)


# -- pieces ------------------------------------------------------------------------------
def _aligned(y_true: np.ndarray, y_pred: np.ndarray, task: str) -> tuple[np.ndarray, np.ndarray]:
    """Labels and predictions of comparable types (labels arrive as JSON values)."""
    if task == "regression":
        try:
            return y_true.astype(float), y_pred.astype(float)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(
                f"Regression labels and predictions must be numbers: {exc}.", field="label"
            ) from exc
    if _numeric(y_true) and _numeric(y_pred):
        return y_true.astype(float), y_pred.astype(float)
    return y_true.astype(str), y_pred.astype(str)


def _numeric(values: np.ndarray) -> bool:
    if values.dtype.kind in "biuf":
        return True
    return all(isinstance(v, int | float | np.number) and not isinstance(v, bool) for v in values)


def _like(value: Any, reference: np.ndarray) -> Any:
    return float(value) if reference.dtype.kind == "f" else str(value)


def _probabilities(frame: pd.DataFrame) -> tuple[list[str], np.ndarray | None]:
    columns = [c for c in frame.columns if str(c).startswith("proba_")]
    if not columns:
        return [], None
    return [str(c)[6:] for c in columns], frame[columns].to_numpy(dtype=float)


def _positive(classes: list[str], y_true: np.ndarray, y_pred: np.ndarray) -> Any:
    seen = np.unique(np.concatenate([y_true, y_pred]))
    if classes:
        return _like(classes[-1], y_true)
    return seen[-1] if len(seen) else None


def _classification(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    classes: list[str],
    proba: np.ndarray | None,
    positive: Any,
) -> dict[str, Any]:
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    if len(y_true) == 0:
        return {"accuracy": None, "f1": None, "f1_average": None, "roc_auc": None}
    seen = np.unique(np.concatenate([y_true, y_pred]))
    binary = len(seen) <= 2 and (positive in seen or len(seen) < 2)
    if binary:
        f1 = f1_score(y_true, y_pred, average="binary", pos_label=positive, zero_division=0.0)
    else:
        f1 = f1_score(y_true, y_pred, average="macro", zero_division=0.0)
    auc: float | None = None
    present = np.unique(y_true)
    if proba is not None and len(present) >= 2:
        names = [_like(c, y_true) for c in classes]
        if len(names) == 1 and len(present) == 2:  # one class's column: that class vs rest
            auc = float(roc_auc_score(y_true == names[0], proba[:, 0]))
        elif len(names) == 2 and set(present) <= set(names):
            column = names.index(positive) if positive in names else 1
            auc = float(roc_auc_score(y_true == names[column], proba[:, column]))
        elif len(names) > 2 and set(present) == set(names):
            auc = float(roc_auc_score(y_true, proba, multi_class="ovr", labels=names))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "f1": float(f1),
        "f1_average": "binary" if binary else "macro",
        "roc_auc": auc,
    }


def _regression(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import mean_absolute_error, root_mean_squared_error

    if len(y_true) == 0:
        return {"mae": None, "rmse": None}
    return {
        "mae": float(mean_absolute_error(y_true, y_pred)),
        "rmse": float(root_mean_squared_error(y_true, y_pred)),
    }


def _split(
    idx: np.ndarray, kind: str, size: int | float | None, ts: pd.Series | None
) -> list[np.ndarray]:
    if kind == "all" or size is None:
        return [idx]
    if kind == "rows":
        step = int(size)
        return [idx[i : i + step] for i in range(0, len(idx), step)]
    assert ts is not None
    moments = ts.iloc[idx]
    if moments.dt.tz is not None:
        moments = moments.dt.tz_convert(None)
    micros = moments.to_numpy().astype("datetime64[us]").astype("int64")
    bucket = micros // int(size * 1_000_000)
    cuts = np.flatnonzero(np.diff(bucket)) + 1
    return [part for part in np.split(idx, cuts) if len(part)]

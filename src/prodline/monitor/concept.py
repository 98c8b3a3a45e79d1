"""Concept drift: streaming change detectors over a model's error stream.

When the relation between inputs and outcome changes, the model's errors change before
anything else does. The error stream (1/0 for a wrong/right class, the absolute error of
a regressor; :func:`prodline.monitor.performance.error_stream`) is fed, oldest first, to
detectors from river (a maintained library; pinned in pyproject):

``adwin``
    ADWIN (Bifet & Gavaldà 2007): an adaptive window that drops its older part when the
    two parts' means differ by more than a Hoeffding bound at confidence ``delta``.
    Any real-valued stream; detects increases and decreases.
``page_hinkley``
    Page-Hinkley: cumulative deviation from the running mean beyond ``threshold``. Here
    ``mode="up"`` by default: only a rise of the error is concept drift (a model getting
    better is no alarm). Any real-valued stream.
``ddm``
    DDM (Gama et al. 2004): error rate ``p`` and its deviation ``s``; drift when
    ``p + s`` exceeds its minimum by ``drift_threshold`` deviations. Binary streams only
    (a regressor's stream skips it, with the reason in the report). ``warm_start`` is
    300 here (river: 30): the minimum of ``p + s`` over the first rows is mostly noise,
    and on stationary 6,000-row streams at a 15 % error rate it raised a false alarm on
    18 of 30 streams with 30 and on 7 of 30 with 300, for the same delay after a real
    change. DDM still false-alarms more than the others: read it with them.

Each detector resets itself after a detection (river's behaviour), so ``count`` is the
number of detected changes, and ``detections`` their row indices (and times when ``ts``
is given). Parameters are river's, per detector: ``params={"adwin": {"delta": 0.01}}``.
``bench/concept.py`` measures detection delay and false alarms per detector.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from prodline.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DETECTORS", "ConceptDriftReport", "DetectorResult", "detect_concept_drift"]

DETECTORS = ("adwin", "page_hinkley", "ddm")
"""The detectors available, in the order reports list them."""

_DEFAULTS: dict[str, dict[str, Any]] = {
    "adwin": {},
    "page_hinkley": {"mode": "up"},
    "ddm": {"warm_start": 300},
}


@dataclass(frozen=True)
class DetectorResult:
    """What one detector saw on the stream."""

    detector: str
    params: Mapping[str, Any] = field(hash=False)
    detections: tuple[int, ...] = ()
    """Row indices (0-based, oldest first) where a change was detected."""
    times: tuple[datetime, ...] = ()
    """The times of those rows, when the stream had them."""
    skipped: str | None = None
    """Why the detector did not run (e.g. DDM on a non-binary stream)."""

    @property
    def count(self) -> int:
        """How many changes were detected."""
        return len(self.detections)

    @property
    def first_index(self) -> int | None:
        """Row index of the first detection, or None."""
        return self.detections[0] if self.detections else None

    @property
    def first_ts(self) -> datetime | None:
        """Time of the first detection, or None."""
        return self.times[0] if self.times else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "detector": self.detector,
            "params": dict(self.params),
            "count": self.count,
            "first_index": self.first_index,
            "first_ts": self.first_ts.isoformat() if self.first_ts else None,
            "detections": list(self.detections),
            "skipped": self.skipped,
        }


@dataclass(frozen=True)
class ConceptDriftReport:
    """Per detector: first detection (index, time) and count, over ``rows`` errors."""

    rows: int
    binary: bool
    detectors: Mapping[str, DetectorResult] = field(hash=False)

    @property
    def drift(self) -> bool:
        """Whether any detector detected a change."""
        return any(r.count for r in self.detectors.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form: ``{"drift", "rows", "binary", "detectors": {name: {...}}}``."""
        return {
            "drift": self.drift,
            "rows": self.rows,
            "binary": self.binary,
            "detectors": {name: r.to_dict() for name, r in self.detectors.items()},
        }


def detect_concept_drift(
    errors: Sequence[float] | np.ndarray,
    *,
    ts: Sequence[datetime] | pd.Series | None = None,
    detectors: Sequence[str] = DETECTORS,
    params: Mapping[str, Mapping[str, Any]] | None = None,
) -> ConceptDriftReport:
    """Run the change detectors over an error stream, oldest first.

    Parameters
    ----------
    errors
        Per-row errors: 0/1 for classifiers, absolute errors for regressors.
    ts
        The rows' times, to report when each change was detected.
    detectors
        Which detectors to run (of ``DETECTORS``).
    params
        river parameters per detector, over the defaults.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> stream = np.r_[rng.random(2000) < 0.1, rng.random(2000) < 0.4].astype(float)
    >>> report = detect_concept_drift(stream)
    >>> {name: r.first_index for name, r in report.detectors.items()}
    {'adwin': 2047, 'page_hinkley': 2084, 'ddm': 2008}
    """
    from river import drift

    values = np.asarray(errors, dtype=float)
    if values.ndim != 1:
        raise InvalidInput(f"errors must be one stream (1-D), got shape {values.shape}.")
    if np.isnan(values).any():
        raise InvalidInput(
            f"errors holds {int(np.isnan(values).sum())} NaN values; drop unlabelled rows first.",
            field="errors",
        )
    unknown = [d for d in detectors if d not in DETECTORS]
    if unknown:
        raise InvalidInput(
            f"Unknown concept-drift detector(s) {unknown}; choose from {list(DETECTORS)}.",
            field="detectors",
        )
    for name in params or {}:
        if name not in DETECTORS:
            raise InvalidInput(
                f"params names unknown detector {name!r}; choose from {list(DETECTORS)}.",
                field="params",
            )
    times = _times(ts, len(values))
    binary = bool(np.isin(values, (0.0, 1.0)).all())
    makers = {"adwin": drift.ADWIN, "page_hinkley": drift.PageHinkley, "ddm": drift.binary.DDM}
    results: dict[str, DetectorResult] = {}
    for name in detectors:
        chosen = {**_DEFAULTS[name], **dict((params or {}).get(name, {}))}
        if name == "ddm" and not binary:
            results[name] = DetectorResult(
                name, chosen, skipped="DDM needs a binary (0/1) error stream; this one is not"
            )
            continue
        try:
            detector = makers[name](**chosen)
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"Bad parameters for {name}: {exc}.", field="params") from exc
        hits = _run(detector, values, as_bool=name == "ddm")
        results[name] = DetectorResult(
            name,
            chosen,
            tuple(hits),
            tuple(times[i] for i in hits) if times is not None else (),
        )
    return ConceptDriftReport(len(values), binary, results)


def _run(detector: Any, values: np.ndarray, *, as_bool: bool) -> list[int]:
    hits: list[int] = []
    update = detector.update
    for i, value in enumerate(values.tolist()):
        update(bool(value) if as_bool else value)
        if detector.drift_detected:
            hits.append(i)
    return hits


def _times(ts: Sequence[datetime] | pd.Series | None, rows: int) -> list[datetime] | None:
    if ts is None:
        return None
    moments = [m.to_pydatetime() if hasattr(m, "to_pydatetime") else m for m in ts]
    if len(moments) != rows:
        raise InvalidInput(
            f"ts has {len(moments)} values for {rows} errors; give one time per error.",
            field="ts",
        )
    return moments

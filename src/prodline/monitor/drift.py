"""Data and prediction drift: one test per column, then a dataset-level verdict.

Defaults follow Evidently's data-drift preset, so verdicts can be compared with it
column for column:

=================  ==============================  ================================
column type        reference ≤ 1000 rows           reference > 1000 rows
=================  ==============================  ================================
numeric            ``ks``: drift when p < 0.05      ``wasserstein`` (normalized by
                                                    the reference std): drift when
                                                    score ≥ 0.1
categorical        ``chisquare``: drift when        ``jensenshannon``: drift when
                   p < 0.05                         distance ≥ 0.1
=================  ==============================  ================================

(Evidently uses a Z-test for binary categoricals on small references; prodline uses
chi-squared for every categorical, which is the same test up to continuity.) The
dataset drifts when the share of drifted columns is ≥ 0.5. ``psi`` (drift when ≥ 0.1)
is available for any column. Every choice is a field of :class:`DriftOptions`: the
test and threshold per column type, per-column overrides, the share, the size that
switches tests, the bins, and ``min_rows``.

Column types: integer and float columns are numeric; string, boolean and
categorical ones are categorical (``categorical=`` forces integer codes to be
categorical, as :func:`prediction_drift` does for a classifier's ``prediction``);
datetime columns are left out. Missing and infinite values are dropped before a
test (as Evidently does). A column with no values left on either side, or too few
(fewer than ``min_rows``), gets no verdict: it is reported with a note and does not
count in the share. A constant column is tested like any other (the Wasserstein
norm is floored at 0.001; chi-squared over one category gives p = 1) and noted.

Bad input raises ``InvalidInput`` naming the thing: different columns (listed per
side), a column whose type changed, a frame with fewer rows than ``min_rows``, an
unknown test or one that does not fit the column type.

Examples
--------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> ref = pd.DataFrame({"x": rng.normal(size=500), "c": rng.choice(["a", "b"], 500)})
>>> cur = pd.DataFrame({"x": rng.normal(1.0, size=500), "c": rng.choice(["a", "b"], 500)})
>>> report = compute_drift(ref, cur)
>>> report.columns["x"].test, report.columns["x"].drift, report.columns["c"].drift
('ks', True, False)
>>> report.to_dict()["share"], report.dataset_drift
(0.5, True)
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from prodline.errors import InvalidInput
from prodline.monitor import stattests as st

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DEFAULT_THRESHOLDS",
    "TESTS",
    "ColumnDrift",
    "DriftOptions",
    "DriftReport",
    "compute_drift",
    "output_columns",
    "prediction_drift",
]

Kind = Literal["numeric", "categorical"]

TESTS: Mapping[str, frozenset[str]] = {
    "ks": frozenset({"numeric"}),
    "wasserstein": frozenset({"numeric"}),
    "psi": frozenset({"numeric", "categorical"}),
    "jensenshannon": frozenset({"numeric", "categorical"}),
    "chisquare": frozenset({"categorical"}),
}
"""Each test and the column types it applies to."""

DEFAULT_THRESHOLDS: Mapping[str, float] = {
    "ks": 0.05,
    "chisquare": 0.05,
    "wasserstein": 0.1,
    "psi": 0.1,
    "jensenshannon": 0.1,
}
"""Thresholds when none is given: p-value below (ks, chisquare), score at or above (rest)."""

_P_VALUE_TESTS = frozenset({"ks", "chisquare"})


@dataclass(frozen=True)
class DriftOptions:
    """Which test and threshold each column gets, and when the dataset drifts.

    ``numeric_test``/``categorical_test`` of ``None`` choose by the reference's size
    (see the module docstring); a threshold of ``None`` is the test's default from
    :data:`DEFAULT_THRESHOLDS`. ``columns`` overrides single columns:
    ``{"age": ("psi", 0.2), "amount": (None, 0.2)}`` (``None`` keeps the default).
    """

    numeric_test: str | None = None
    numeric_threshold: float | None = None
    categorical_test: str | None = None
    categorical_threshold: float | None = None
    columns: Mapping[str, tuple[str | None, float | None]] = field(default_factory=dict)
    drift_share: float = 0.5
    large_reference: int = 1000
    min_rows: int = 30
    bins: int = 10
    workers: int | None = None

    def __post_init__(self) -> None:
        defaults = (
            ("numeric_test", self.numeric_test),
            ("categorical_test", self.categorical_test),
        )
        for where, test in defaults:
            if test is not None and test not in TESTS:
                raise InvalidInput(_unknown_test(test, where))
        for name, (test, threshold) in self.columns.items():
            if test is not None and test not in TESTS:
                raise InvalidInput(_unknown_test(test, f"column '{name}'"))
            if threshold is not None and not (math.isfinite(threshold) and threshold >= 0):
                raise InvalidInput(f"Threshold for column '{name}' must be ≥ 0, got {threshold}.")
        if not 0.0 < self.drift_share <= 1.0:
            raise InvalidInput(f"drift_share must be in (0, 1], got {self.drift_share}.")
        if self.min_rows < 1:
            raise InvalidInput(f"min_rows must be at least 1, got {self.min_rows}.")
        if self.bins < 2:
            raise InvalidInput(f"bins must be at least 2, got {self.bins}.")

    def choose(self, column: str, kind: Kind, reference_rows: int) -> tuple[str, float]:
        """The test and threshold for one column."""
        test, threshold = self.columns.get(column, (None, None))
        if test is None:
            small = reference_rows <= self.large_reference
            if kind == "numeric":
                test = self.numeric_test or ("ks" if small else "wasserstein")
                threshold = threshold if threshold is not None else self.numeric_threshold
            else:
                test = self.categorical_test or ("chisquare" if small else "jensenshannon")
                threshold = threshold if threshold is not None else self.categorical_threshold
        if kind not in TESTS[test]:
            fits = ", ".join(t for t, kinds in TESTS.items() if kind in kinds)
            raise InvalidInput(
                f"Test '{test}' does not apply to {kind} column '{column}'; use one of {fits}."
            )
        return test, DEFAULT_THRESHOLDS[test] if threshold is None else float(threshold)


@dataclass(frozen=True)
class ColumnDrift:
    """One column's verdict: its test, statistic, p-value (tests) or score (distances)."""

    name: str
    type: Kind
    test: str
    statistic: float | None
    p_value: float | None
    score: float | None
    threshold: float
    drift: bool
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """``{"type", "test", "statistic", "p_value" or "score", "threshold", "drift"}``.

        Non-finite numbers (a category absent from the reference makes chi-squared
        infinite) and untested columns show as ``null``.
        """
        out: dict[str, Any] = {"type": self.type, "test": self.test}
        out["statistic"] = _finite(self.statistic)
        if self.test in _P_VALUE_TESTS:
            out["p_value"] = _finite(self.p_value)
        else:
            out["score"] = _finite(self.score)
        out["threshold"] = self.threshold
        out["drift"] = self.drift
        return out


@dataclass(frozen=True)
class DriftReport:
    """Per-column verdicts and the dataset-level one."""

    dataset_drift: bool
    share: float
    columns: dict[str, ColumnDrift]
    rows_reference: int
    rows_current: int
    drift_share: float = 0.5
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def drifted(self) -> list[str]:
        """Names of the columns that drifted."""
        return [name for name, c in self.columns.items() if c.drift]

    @property
    def notes(self) -> dict[str, str]:
        """What to know about single columns (untested, constant) and left-out ones."""
        out = {name: c.note for name, c in self.columns.items() if c.note}
        out.update(self.left_out)
        return out

    def to_dict(self) -> dict[str, Any]:
        """``{"dataset_drift", "share", "columns": {NAME: ColumnDrift.to_dict()}}``."""
        return {
            "dataset_drift": self.dataset_drift,
            "share": self.share,
            "columns": {name: c.to_dict() for name, c in self.columns.items()},
        }


def output_columns(frame: pd.DataFrame) -> list[str]:
    """A frame's model outputs: ``prediction`` and ``proba_<class>`` columns."""
    return [c for c in frame.columns if c == "prediction" or str(c).startswith("proba_")]


def compute_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    columns: Sequence[str] | None = None,
    categorical: Collection[str] = (),
    options: DriftOptions | None = None,
    left_out: Mapping[str, str] | None = None,
) -> DriftReport:
    """Test each column of ``current`` against ``reference`` and decide on the dataset.

    Parameters
    ----------
    reference, current : DataFrame
        The same columns (or at least ``columns``), with compatible types.
    columns : sequence of str, optional
        Only these columns (every column of both frames otherwise).
    categorical : collection of str
        Columns to treat as categories whatever their dtype (integer codes, labels).
    options : DriftOptions, optional
        Tests, thresholds and the dataset share; Evidently's defaults otherwise.
    left_out : mapping, optional
        Columns the caller did not compare, with why; kept on the report.

    Returns
    -------
    DriftReport

    Raises
    ------
    InvalidInput
        Different columns, a changed type, too few rows, or a test that does not fit.
    """
    import pandas as pd

    opts = options or DriftOptions()
    for label, frame in (("reference", reference), ("current", current)):
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(f"The {label} data must be a pandas DataFrame, got {type(frame)}.")
    names = _columns(reference, current, columns)
    for label, frame in (("reference", reference), ("current window", current)):
        if len(frame) < opts.min_rows:
            raise InvalidInput(
                f"The {label} has {len(frame)} rows; drift tests need at least "
                f"{opts.min_rows} (DriftOptions.min_rows)."
            )
    unknown = sorted(set(opts.columns) - set(names))
    if unknown:
        raise InvalidInput(
            f"Test overrides name column(s) not compared: {', '.join(unknown)}; "
            f"columns are: {', '.join(map(str, names))}."
        )
    kinds, skipped = _kinds(reference, current, names, set(categorical))
    plans: list[tuple[str, Kind, str, float]] = []
    for name in names:
        if name in skipped:
            continue
        kind = kinds[name]
        test, threshold = opts.choose(name, kind, len(reference))
        plans.append((name, kind, test, threshold))
    workers = opts.workers or min(len(plans), os.cpu_count() or 1) or 1

    def run(plan: tuple[str, Kind, str, float]) -> ColumnDrift:
        name, kind, test, threshold = plan
        return _one(reference[name], current[name], name, kind, test, threshold, opts)

    if workers > 1 and len(plans) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(run, plans))
    else:
        results = [run(p) for p in plans]
    by_name = {c.name: c for c in results}
    ordered = {name: by_name[name] for name in names if name in by_name}
    tested = [c for c in ordered.values() if c.statistic is not None]
    share = sum(c.drift for c in tested) / len(tested) if tested else 0.0
    out_left = dict(left_out or {})
    out_left.update(skipped)
    return DriftReport(
        dataset_drift=bool(tested) and share >= opts.drift_share,
        share=share,
        columns=ordered,
        rows_reference=len(reference),
        rows_current=len(current),
        drift_share=opts.drift_share,
        left_out=out_left,
    )


def prediction_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    *,
    options: DriftOptions | None = None,
) -> DriftReport:
    """Drift of a model's outputs: ``prediction`` and ``proba_<class>`` columns.

    ``prediction`` is categorical unless it is a float (a regressor's), so class
    labels get chi-squared / Jensen-Shannon and probabilities KS / Wasserstein.

    Raises
    ------
    InvalidInput
        If ``current`` has no output columns, or the two frames' outputs differ.
    """
    outputs = output_columns(current)
    if not outputs:
        raise InvalidInput(
            "The current data has no output columns (prediction, proba_<class>); "
            "prediction drift needs a window of the prediction log or a frame with them."
        )
    return compute_drift(
        reference,
        current,
        columns=outputs,
        categorical=_label_columns(current, outputs),
        options=options,
    )


def _label_columns(frame: pd.DataFrame, outputs: Sequence[str]) -> list[str]:
    from pandas.api import types

    if "prediction" in outputs and not types.is_float_dtype(frame["prediction"].dtype):
        return ["prediction"]
    return []


# -- internals ------------------------------------------------------------------------
def _columns(
    reference: pd.DataFrame, current: pd.DataFrame, columns: Sequence[str] | None
) -> list[str]:
    if columns is not None:
        names = list(columns)
        for label, frame in (("reference", reference), ("current window", current)):
            missing = [c for c in names if c not in frame.columns]
            if missing:
                raise InvalidInput(
                    f"The {label} lacks column(s) {', '.join(map(str, missing))}; "
                    f"it has: {', '.join(map(str, frame.columns))}."
                )
        return names
    only_ref = [c for c in reference.columns if c not in set(current.columns)]
    only_cur = [c for c in current.columns if c not in set(reference.columns)]
    if only_ref or only_cur:
        parts = []
        if only_ref:
            parts.append(f"only in the reference: {', '.join(map(str, only_ref))}")
        if only_cur:
            parts.append(f"only in the current window: {', '.join(map(str, only_cur))}")
        raise InvalidInput(
            f"Reference and current window have different columns ({'; '.join(parts)}); "
            "compare the shared ones with columns=[...] or fix the data.",
            only_reference=[str(c) for c in only_ref],
            only_current=[str(c) for c in only_cur],
        )
    return list(reference.columns)


def _kind_of(series: pd.Series, forced: bool) -> str:
    from prodline.core.schema import column_type_of

    if forced:
        return "categorical"
    kind = column_type_of(series.dtype)
    if kind in ("integer", "float"):
        return "numeric"
    if kind == "datetime":
        return "datetime"
    return "categorical"


def _kinds(
    reference: pd.DataFrame, current: pd.DataFrame, names: Sequence[str], forced: set[str]
) -> tuple[dict[str, Kind], dict[str, str]]:
    kinds: dict[str, Kind] = {}
    skipped: dict[str, str] = {}
    changed = []
    for name in names:
        ref, cur = reference[name], current[name]
        kr, kc = _kind_of(ref, name in forced), _kind_of(cur, name in forced)
        ref_empty, cur_empty = bool(ref.isna().all()), bool(cur.isna().all())
        if not ref_empty and not cur_empty and kr != kc:
            changed.append(
                f"'{name}' is {kr} ({ref.dtype}) in the reference but {kc} ({cur.dtype})"
            )
            continue
        kind = kc if ref_empty else kr
        if kind == "datetime":
            skipped[str(name)] = "datetime columns are not tested for drift"
            continue
        kinds[name] = "numeric" if kind == "numeric" else "categorical"
    if changed:
        raise InvalidInput(
            f"Column type changed: {'; '.join(changed)} in the current window; "
            "cast it back, or compare other columns with columns=[...].",
        )
    return kinds, skipped


def _values(series: pd.Series, kind: Kind) -> np.ndarray:
    if kind == "numeric":
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        values = values[np.isfinite(values)]
        values.sort()
        return values
    values = series.to_numpy(dtype=object)
    return values[~series.isna().to_numpy()]


def _one(
    ref_series: pd.Series,
    cur_series: pd.Series,
    name: str,
    kind: Kind,
    test: str,
    threshold: float,
    opts: DriftOptions,
) -> ColumnDrift:
    ref, cur = _values(ref_series, kind), _values(cur_series, kind)
    empty = [label for label, v in (("reference", ref), ("current window", cur)) if not len(v)]
    few = [
        f"{len(v)} in the {label}"
        for label, v in (("reference", ref), ("current window", cur))
        if len(v) < opts.min_rows
    ]
    if empty or few:
        why = (
            f"all values missing in the {' and the '.join(empty)}"
            if empty
            else f"too few values to test ({', '.join(few)}; {test} needs {opts.min_rows})"
        )
        return ColumnDrift(name, kind, test, None, None, None, threshold, False, why)
    note: str | None = None
    if kind == "numeric":
        if ref[0] == ref[-1] and cur[0] == cur[-1]:
            note = "constant in the reference and the current window"
        result = _numeric(ref, cur, test, opts.bins)
    else:
        result, categories = _categorical(ref, cur, test)
        if categories <= 1:
            note = "constant in the reference and the current window"
    if test in _P_VALUE_TESTS:
        p = result.p_value
        assert p is not None
        return ColumnDrift(
            name, kind, test, result.statistic, p, None, threshold, bool(p < threshold), note
        )
    score = result.statistic
    return ColumnDrift(
        name, kind, test, score, None, score, threshold, bool(score >= threshold), note
    )


def _numeric(ref: np.ndarray, cur: np.ndarray, test: str, bins: int) -> st.StatResult:
    if test == "ks":
        return st.ks_2samp(ref, cur)
    if test == "wasserstein":
        return st.wasserstein_normed(ref, cur)
    if test == "psi":
        return st.psi(ref, cur, bins)
    # jensenshannon: equal-width shared bins, or one bin per value when there are few
    # distinct values (≤ 20, as Evidently does)
    distinct = int(np.count_nonzero(np.diff(ref))) + 1
    if distinct <= 20:
        _, r, c = st.category_counts(ref, cur)
        return st.jensen_shannon(_shares(r), _shares(c))
    r_shares, c_shares = st.binned_shares(ref, cur, bins)
    return st.jensen_shannon(r_shares, c_shares)


def _categorical(ref: np.ndarray, cur: np.ndarray, test: str) -> tuple[st.StatResult, int]:
    import pandas as pd

    codes, uniques = pd.factorize(np.concatenate([ref, cur]))
    k = len(uniques)
    r = np.bincount(codes[: len(ref)], minlength=k).astype(np.float64)
    c = np.bincount(codes[len(ref) :], minlength=k).astype(np.float64)
    if test == "chisquare":
        return st.chi_squared(r, c), k
    if test == "psi":
        return st.psi_shares(_shares(r), _shares(c)), k
    return st.jensen_shannon(_shares(r), _shares(c)), k


def _shares(counts: np.ndarray) -> np.ndarray:
    shares = counts / counts.sum()
    return np.where(shares == 0, st.EPSILON, shares)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _unknown_test(test: str, where: str) -> str:
    return f"Unknown drift test '{test}' for {where}; use one of {', '.join(TESTS)}."

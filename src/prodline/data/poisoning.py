"""Data-poisoning scan: the rows of a training set that look planted or mislabelled.

:func:`scan_poisoning` looks for four kinds of suspect rows and reports each with its
reasons and a 0..1 score; the share of suspect rows is compared with a threshold, so a
gate can refuse a model trained on a set where too much looks wrong.

* **label_error**: the given label disagrees confidently with what the other rows
  say. Out-of-fold class probabilities come from scikit-learn's ``cross_val_predict``
  (a logistic regression on standardised numbers and one-hot categories, 5 stratified
  folds, so no row is judged by a model that saw it). The rule is confident learning
  (Northcutt, Jiang & Chuang, JAIR 2021): class ``j``'s threshold is the mean
  probability of ``j`` over rows labelled ``j``; a row labelled ``i`` whose probability
  of some other class reaches that class's threshold lies off the diagonal of the
  confident joint. On top of that a row must have given its own label at most
  ``label_confidence`` (0.15). That bound is what makes the scan usable as a gate: on
  a hard problem (German credit: ~75 % accuracy) the confident joint alone marks ~19 %
  of a *clean* set, because it cannot tell planted flips from the ambiguity the data
  already has; with the bound a clean set shows ~2 %, and on a learnable problem
  injected flips are still found (``bench/poisoning.py`` prints the measured precision
  and recall). The rows the confident joint marks with less confidence are counted as
  ``label_review`` in the report, not as suspects.
* **outlier**: a numeric value more than one span beyond the span between the feature's
  1st and 99th percentiles (a fence like Tukey's, on quantiles: skewed columns such as
  amounts do not trip it, a value planted far out does), or a combination of values
  that an isolation forest isolates at once: anomaly score (Liu, Ting & Zhou 2008:
  about 0.5 for ordinary rows, towards 1 for isolated ones) at least ``outlier_score``
  (0.75). Neither is a fixed contamination share, which would flag the same fraction
  of every set, planted or not.
* **duplicate_conflict** / **near_duplicate_conflict**: rows with identical features
  (hashed) but different labels, and rows whose nearest neighbour differs by at most
  ``near`` standard deviations in every numeric feature, has the same categories, and
  another label: copies with a flipped label are a classic poisoning move. ``near``
  shrinks to a tenth of the median nearest-row distance on dense data.
* **provenance**: with ``provenance_column``, the rows of a minority source (under half
  the rows) whose labels (total-variation distance ≥ 0.2 and chi-square p < 0.001) or
  features (a standardised mean difference ≥ 0.5) differ from the rest.

Why not cleanlab: its ``find_label_issues`` is this same rule plus options we do not
use, and would add a dependency for ~30 lines of NumPy.

Example
-------
>>> import numpy as np, pandas as pd
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(400, 2))
>>> frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x.sum(axis=1) > 0).astype(int)})
>>> flips = [i for i in range(400) if abs(x[i].sum()) > 1.5][:2]
>>> frame.loc[flips, "y"] = 1 - frame.loc[flips, "y"]  # two planted flips
>>> report = scan_poisoning(frame, "y")
>>> report.rows_with("label_error") == flips
True
>>> report.passed, round(report.share, 3)
(True, 0.005)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from prodline.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["REASONS", "PoisoningReport", "Suspect", "scan_poisoning"]

REASONS: tuple[str, ...] = (
    "label_error",
    "outlier",
    "duplicate_conflict",
    "near_duplicate_conflict",
    "provenance",
)
_MAX_CATEGORIES = 20


@dataclass(frozen=True)
class Suspect:
    """One suspect row: its position in the frame, why, and how strongly (0..1)."""

    row: int
    reasons: tuple[str, ...]
    score: float
    label: Any
    suggested_label: Any = None  # the label the out-of-fold model believes (label_error)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "row": self.row,
            "reasons": list(self.reasons),
            "score": round(self.score, 6),
            "label": _jsonable(self.label),
            "suggested_label": _jsonable(self.suggested_label),
        }


@dataclass(frozen=True)
class PoisoningReport:
    """What :func:`scan_poisoning` found; ``passed`` when ``share <= threshold``."""

    rows: int
    target: str
    features: tuple[str, ...]
    threshold: float
    suspects: tuple[Suspect, ...]
    counts: dict[str, int]
    notes: tuple[str, ...] = ()
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def share(self) -> float:
        """Suspect rows over all rows (a row with several reasons counts once)."""
        return len(self.suspects) / self.rows if self.rows else 0.0

    @property
    def passed(self) -> bool:
        """Whether the share of suspect rows is within the threshold."""
        return self.share <= self.threshold

    def rows_with(self, reason: str) -> list[int]:
        """Positions of the suspects flagged for ``reason``."""
        return [s.row for s in self.suspects if reason in s.reasons]

    def to_dict(self, *, limit: int = 1000) -> dict[str, Any]:
        """JSON-ready report; the ``limit`` highest-scoring suspects are listed."""
        top = sorted(self.suspects, key=lambda s: (-s.score, s.row))[:limit]
        return {
            "rows": self.rows,
            "target": self.target,
            "features": list(self.features),
            "threshold": self.threshold,
            "share": self.share,
            "passed": self.passed,
            "counts": dict(self.counts),
            "suspect_rows": len(self.suspects),
            "suspects": [s.to_dict() for s in top],
            "listed": len(top),
            "notes": list(self.notes),
            "sources": self.sources,
        }


def scan_poisoning(
    frame: pd.DataFrame,
    target: str,
    *,
    features: Sequence[str] | None = None,
    provenance_column: str | None = None,
    threshold: float = 0.05,
    seed: int = 0,
    folds: int = 5,
    label_confidence: float = 0.15,
    outlier_score: float = 0.75,
    near: float = 0.01,
) -> PoisoningReport:
    """Scan a labelled training frame for suspect rows.

    Parameters
    ----------
    frame
        The training data, one row per example.
    target
        The label column (classes; a continuous target cannot have label errors).
    features
        Columns the model learns from; default every column but the target and the
        provenance column.
    provenance_column
        A column naming where each row came from (source, batch, annotator).
    threshold
        The largest share of suspect rows that still passes.
    seed
        Seeds the folds and the isolation forest: the same frame gives the same report.

    Raises
    ------
    InvalidInput
        A named column is missing, the frame is empty, or the target is continuous.
    """
    import pandas as pd

    _check_columns(frame, target, features, provenance_column)
    if not 0 <= threshold <= 1:
        raise InvalidInput("threshold must be a share between 0 and 1.", field="threshold")
    cols = (
        list(features)
        if features
        else [c for c in frame.columns if c not in (target, provenance_column)]
    )
    if not cols:
        raise InvalidInput("The frame has no feature columns besides the target.", field="features")
    rows = len(frame)
    if rows == 0:
        raise InvalidInput("The frame has no rows; scan a dataset version with data.")
    labels = frame[target]
    if pd.api.types.is_float_dtype(labels) and labels.nunique() > max(20, rows // 20):
        raise InvalidInput(
            f"Target '{target}' looks continuous ({labels.nunique()} distinct values); the "
            "poisoning scan needs class labels — name the class column with --target.",
            field="target",
        )
    x = frame[cols].reset_index(drop=True)
    codes, classes = pd.factorize(labels.reset_index(drop=True), sort=True)
    reasons: dict[int, dict[str, float]] = {}
    suggested: dict[int, Any] = {}
    notes: list[str] = []
    counts = dict.fromkeys((*REASONS, "label_review"), 0)

    def flag(positions: np.ndarray, reason: str, scores: np.ndarray | float) -> None:
        values = np.broadcast_to(np.asarray(scores, dtype=float), positions.shape)
        for pos, score in zip(positions.tolist(), values.tolist(), strict=True):
            reasons.setdefault(pos, {})[reason] = score
        counts[reason] += len(positions)

    matrix = _design(x)
    labelled = codes >= 0
    if not labelled.all():
        notes.append(f"{int((~labelled).sum())} rows without a label were not checked for errors")

    # 1. label errors: out-of-fold probabilities and the confident-learning rule.
    probs, why = _out_of_fold(x, codes, labelled, len(classes), folds, seed)
    if probs is None:
        notes.append(f"label errors not checked: {why}")
    else:
        where = np.flatnonzero(labelled)
        off, other, self_conf = _confident_joint(probs, codes[where])
        sure = off & (self_conf <= label_confidence)
        counts["label_review"] = int((off & ~sure).sum())
        flag(where[sure], "label_error", 1.0 - self_conf[sure])
        for pos, cls in zip(where[sure].tolist(), other[sure].tolist(), strict=True):
            suggested[pos] = _value(classes[cls])

    # 2. outliers: a value far outside a feature's bulk, or an isolated combination.
    far, spans = _far_values(x)
    hits = np.flatnonzero(far)
    flag(hits, "outlier", np.minimum(1.0, 0.5 + 0.25 * spans[hits]))
    if rows >= 16:
        from sklearn.ensemble import IsolationForest

        forest = IsolationForest(random_state=seed).fit(matrix)
        anomaly = -forest.score_samples(matrix)
        hits = np.flatnonzero((anomaly >= outlier_score) & ~far)
        flag(hits, "outlier", anomaly[hits])

    # 3. duplicates with conflicting labels, exact then near.
    hashed = pd.util.hash_pandas_object(x, index=False).to_numpy()
    by_hash = pd.DataFrame({"h": hashed, "y": codes})[labelled]
    conflict = by_hash.groupby("h")["y"].transform("nunique") > 1
    exact = by_hash.index.to_numpy()[conflict.to_numpy()]
    flag(exact, "duplicate_conflict", 1.0)
    near_rows = _near_conflicts(matrix, codes, labelled, near, set(exact.tolist()))
    flag(near_rows, "near_duplicate_conflict", 0.9)

    # 4. provenance: minority sources that differ from the rest.
    sources: dict[str, dict[str, Any]] = {}
    if provenance_column is not None:
        origin = frame[provenance_column].reset_index(drop=True)
        sources = _provenance(origin, codes, labelled, matrix, flag)

    suspects = tuple(
        Suspect(
            row=pos,
            reasons=tuple(r for r in REASONS if r in found),
            score=float(min(1.0, max(found.values()))),
            label=_value(classes[codes[pos]]) if codes[pos] >= 0 else None,
            suggested_label=suggested.get(pos),
        )
        for pos, found in sorted(reasons.items())
    )
    return PoisoningReport(
        rows=rows,
        target=target,
        features=tuple(map(str, cols)),
        threshold=threshold,
        suspects=suspects,
        counts=counts,
        notes=tuple(notes),
        sources=sources,
    )


def _check_columns(
    frame: pd.DataFrame, target: str, features: Sequence[str] | None, provenance: str | None
) -> None:
    named = [("target", target)] + [("features", f) for f in features or ()]
    if provenance is not None:
        named.append(("provenance_column", provenance))
    for what, column in named:
        if column not in frame.columns:
            raise InvalidInput(
                f"Column '{column}' ({what}) is not in the dataset; its columns are: "
                f"{', '.join(map(str, frame.columns))}.",
                field=what,
            )


def _design(x: pd.DataFrame) -> np.ndarray:
    """Standardised numbers (median-imputed) then one-hot categories, as one matrix."""
    import pandas as pd

    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c]) and x[c].dtype != bool]
    parts: list[np.ndarray] = []
    if numeric:
        table = x[numeric].astype(float)
        values = table.fillna(table.median()).fillna(0.0).to_numpy()
        std = values.std(axis=0)
        parts.append((values - values.mean(axis=0)) / np.where(std > 0, std, 1.0))
    for column in (c for c in x.columns if c not in numeric):
        text = x[column].astype("string").fillna("<missing>")
        keep = text.value_counts().index[:_MAX_CATEGORIES]
        text = text.where(text.isin(keep), "<other>")
        parts.append(pd.get_dummies(text).to_numpy(dtype=float))
    return np.hstack(parts)


def _far_values(x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Rows with a numeric value more than one 1-99 % span beyond that span; (mask, spans)."""
    import pandas as pd

    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c]) and x[c].dtype != bool]
    if not numeric or len(x) < 16:
        return np.zeros(len(x), dtype=bool), np.zeros(len(x))
    values = x[numeric].to_numpy(dtype=float)
    low, high = np.nanquantile(values, 0.01, axis=0), np.nanquantile(values, 0.99, axis=0)
    span = np.where(high > low, high - low, np.inf)
    beyond = np.maximum(low - values, values - high) / span
    beyond = np.nan_to_num(beyond, nan=0.0, posinf=0.0).max(axis=1)
    return beyond > 1.0, beyond


def _out_of_fold(
    x: pd.DataFrame, codes: np.ndarray, labelled: np.ndarray, k: int, folds: int, seed: int
) -> tuple[np.ndarray | None, str]:
    """Out-of-fold probabilities for the labelled rows, or (None, why not)."""
    if k < 2:
        return None, "the target has a single class"
    smallest = int(np.bincount(codes[labelled], minlength=k).min())
    folds = min(folds, smallest)
    if folds < 2:
        return None, "a class has a single row, too few for cross-validation"
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    data = x[labelled]
    numeric = [c for c in x.columns if pd.api.types.is_numeric_dtype(x[c]) and x[c].dtype != bool]
    other = [c for c in x.columns if c not in numeric]
    data = data.assign(**{c: data[c].astype("string").fillna("<missing>") for c in other})
    prep = ColumnTransformer(
        [
            ("num", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            (
                "cat",
                OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=_MAX_CATEGORIES),
                other,
            ),
        ]
    )
    model = make_pipeline(prep, LogisticRegression(max_iter=2000))
    cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
    probs = cross_val_predict(model, data, codes[labelled], cv=cv, method="predict_proba")
    return np.asarray(probs, dtype=float), ""


def _confident_joint(
    probs: np.ndarray, given: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(off the confident joint's diagonal, the confident other class, self-confidence)."""
    k = probs.shape[1]
    per_class = np.array(
        [probs[given == j, j].mean() if np.any(given == j) else 1.0 for j in range(k)]
    )
    above = probs >= per_class
    confident = np.where(above.any(axis=1), np.where(above, probs, -1.0).argmax(axis=1), -1)
    off = (confident >= 0) & (confident != given)
    others = probs.copy()
    others[np.arange(len(given)), given] = -1.0
    self_conf = probs[np.arange(len(given)), given]
    return off, others.argmax(axis=1), self_conf


def _near_conflicts(
    matrix: np.ndarray,
    codes: np.ndarray,
    labelled: np.ndarray,
    near: float,
    exact: set[int],
) -> np.ndarray:
    """Rows within ``near`` (Chebyshev, standardised) of a row with another label."""
    from sklearn.neighbors import NearestNeighbors

    where = np.flatnonzero(labelled)
    if len(where) < 2 or near <= 0:
        return np.array([], dtype=np.int64)
    points = matrix[where]
    k = min(6, len(where))
    distance, index = NearestNeighbors(n_neighbors=k, metric="chebyshev").fit(points).kneighbors()
    # One-hot columns differ by 1 > near: near duplicates share every category.
    # "Near" is relative to how close rows usually are: at most a tenth of the median
    # distance to the nearest other row, so that dense data (one continuous feature)
    # does not turn ordinary neighbours across a class boundary into duplicates.
    spacing = distance[:, 0][distance[:, 0] > 0]
    limit = min(near, 0.1 * float(np.median(spacing))) if spacing.size else near
    close = distance <= limit
    differs = codes[where][index] != codes[where][:, None]
    hits = where[(close & differs).any(axis=1)]
    return np.array([h for h in hits.tolist() if h not in exact], dtype=np.int64)


def _provenance(
    origin: pd.Series, codes: np.ndarray, labelled: np.ndarray, matrix: np.ndarray, flag: Any
) -> dict[str, dict[str, Any]]:
    """Per source: rows, label distance and feature shift; flag minority sources that differ."""
    from scipy.stats import chi2_contingency

    names = origin.astype("string").fillna("<missing>").to_numpy()
    k = int(codes.max()) + 1 if labelled.any() else 1
    out: dict[str, dict[str, Any]] = {}
    for source in sorted(set(names.tolist())):
        mine = names == source
        n = int(mine.sum())
        if n == len(names):
            out[source] = {"rows": n, "flagged": False}
            continue
        a = np.bincount(codes[mine & labelled], minlength=k)
        b = np.bincount(codes[~mine & labelled], minlength=k)
        tvd = 0.5 * float(np.abs(a / max(a.sum(), 1) - b / max(b.sum(), 1)).sum())
        table = np.vstack([a, b])
        table = table[:, table.sum(axis=0) > 0]
        p = float(chi2_contingency(table)[1]) if table.shape[1] > 1 and a.sum() else 1.0
        spread = matrix.std(axis=0)
        smd = np.abs(matrix[mine].mean(axis=0) - matrix[~mine].mean(axis=0)) / np.where(
            spread > 0, spread, 1.0
        )
        shift = float(smd.max()) if smd.size else 0.0
        why = []
        if tvd >= 0.2 and p < 0.001:
            why.append(f"label distribution differs (total variation {tvd:.2f}, p={p:.1e})")
        if shift >= 0.5:
            why.append(f"features differ (largest standardised mean difference {shift:.2f})")
        minority = n < len(names) / 2
        flagged = minority and bool(why)
        out[source] = {
            "rows": n,
            "label_distance": round(tvd, 6),
            "label_p_value": p,
            "feature_shift": round(shift, 6),
            "flagged": flagged,
            "why": why,
        }
        if flagged:
            flag(np.flatnonzero(mine), "provenance", min(1.0, max(tvd * 2, shift / 2)))
    return out


def _value(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _jsonable(value: Any) -> Any:
    value = _value(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)

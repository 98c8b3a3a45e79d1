"""Fairness audit: a binary model's decisions by protected group, in one grouped pass.

For each protected attribute and for their intersection (every attribute crossed with
every other: the finest groups), :func:`fairness_audit` reports per group the count,
selection rate, true-positive rate (TPR), false-positive rate (FPR) and accuracy, and
per grouping the demographic-parity difference (largest minus smallest selection
rate), the equalized-odds difference (the larger of the TPR and FPR spreads) and the
disparate-impact ratio (smallest over largest selection rate; the four-fifths rule
asks for at least 0.8). :func:`protected_groups` picks the attributes from a
dataset's sensitivity tags when none are named.

Why it works this way
---------------------
* **One pass, not one call per group and metric.** Each row gets one code: the mixed
  radix of its attributes' factorized codes, times four, plus its confusion cell
  ``2 * truth + decision``. One ``np.bincount`` over those codes gives the confusion
  matrix of every intersectional group; each single attribute's table is a marginal
  sum of that array. Every metric is a ratio of those counts. fairlearn's
  ``MetricFrame`` calls each metric function once per group (a scikit-learn confusion
  matrix each time); ``bench/fairness.py`` measures the difference on 1M rows.
* **fairlearn is the oracle.** The tests check every number against ``MetricFrame``
  and ``demographic_parity_difference`` / ``equalized_odds_difference`` /
  ``demographic_parity_ratio`` to 1e-9. One deliberate difference: a group with no
  actual positives has no TPR (and one with no actual negatives no FPR). fairlearn
  reports 0.0 there (scikit-learn's normalised confusion matrix turns 0/0 into 0),
  which can invent or hide an equalized-odds gap; here the rate is ``None``, the
  group lists it under ``undefined``, and the spreads skip it.
* **Small groups are reported, never dropped.** A group with fewer than
  ``min_group_size`` rows carries ``too_small: true`` and its numbers, and stays out
  of the grouping's differences and ratio (a group of three swings any spread). With
  ``min_group_size=1`` every group counts, as in fairlearn.
* **Gate-ready.** :meth:`FairnessReport.passed` checks thresholds on every grouping
  and names each breach. A single attribute with fewer than two groups large enough
  to compare fails (the audit could not look); an intersection that cannot be
  compared is noted in ``to_dict`` but does not fail on its own, since on a small
  holdout the cross of three attributes is often all small groups.

Example
-------
>>> import pandas as pd
>>> groups = pd.DataFrame({"sex": ["f", "f", "m", "m"] * 10})
>>> report = fairness_audit([1, 0, 1, 0] * 10, [1, 0, 1, 1] * 10, groups, min_group_size=5)
>>> sex = report.grouping("sex")
>>> [(g.label, g.selection_rate, g.fpr) for g in sex.groups]
[('sex=f', 0.5, 0.0), ('sex=m', 1.0, 1.0)]
>>> sex.demographic_parity_difference, sex.disparate_impact_ratio
(0.5, 0.5)
>>> report.passed({"disparate_impact_ratio": 0.8})
(False, ['sex: disparate-impact ratio 0.500 is below the minimum 0.8 (four-fifths rule)'])
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from prodline.errors import InvalidInput

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "AGE_BANDS",
    "FairnessReport",
    "GroupStats",
    "Grouping",
    "PROTECTED_KINDS",
    "THRESHOLD_KEYS",
    "fairness_audit",
    "protected_groups",
]

# Sensitivity kinds that describe who a person is (a group), not how to reach them.
PROTECTED_KINDS: tuple[str, ...] = ("age", "sex")
# Lower bounds of the age bands a numeric age column is cut into.
AGE_BANDS: tuple[int, ...] = (0, 25, 35, 45, 55, 65)
# Threshold keys passed() understands, and whether each is a maximum or a minimum.
THRESHOLD_KEYS: dict[str, str] = {
    "demographic_parity_difference": "max",
    "equalized_odds_difference": "max",
    "disparate_impact_ratio": "min",
}
_METRICS = ("selection_rate", "tpr", "fpr", "accuracy")
_MAX_GROUPS = 10_000


@dataclass(frozen=True)
class GroupStats:
    """One group's decisions: counts and rates (``None`` where a rate has no rows)."""

    values: tuple[tuple[str, Any], ...]  # (attribute, value) pairs
    count: int
    positives: int  # actual positives (the TPR's denominator)
    negatives: int  # actual negatives (the FPR's denominator)
    selection_rate: float
    tpr: float | None
    fpr: float | None
    accuracy: float
    too_small: bool

    @property
    def label(self) -> str:
        """``sex=female & age=25-34``: how reports and reasons name the group."""
        return " & ".join(f"{a}={v}" for a, v in self.values)

    @property
    def undefined(self) -> list[str]:
        """The rates this group cannot have: ``tpr`` without positives, ``fpr`` without
        negatives."""
        return [m for m in ("tpr", "fpr") if getattr(self, m) is None]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "group": {a: _jsonable(v) for a, v in self.values},
            "label": self.label,
            "count": self.count,
            "positives": self.positives,
            "negatives": self.negatives,
            "selection_rate": self.selection_rate,
            "tpr": self.tpr,
            "fpr": self.fpr,
            "accuracy": self.accuracy,
            "too_small": self.too_small,
            "undefined": self.undefined,
        }


@dataclass(frozen=True)
class Grouping:
    """One attribute (or the intersection of several) with its groups and disparities.

    The differences and the ratio cover the groups that are not ``too_small``; they are
    ``None`` when fewer than two such groups have the rate.
    """

    attributes: tuple[str, ...]
    groups: tuple[GroupStats, ...]
    demographic_parity_difference: float | None
    equalized_odds_difference: float | None
    disparate_impact_ratio: float | None

    @property
    def name(self) -> str:
        """``sex`` or ``sex&age&foreign``."""
        return "&".join(self.attributes)

    @property
    def is_intersection(self) -> bool:
        """Whether this grouping crosses several attributes."""
        return len(self.attributes) > 1

    @property
    def four_fifths(self) -> bool | None:
        """Whether the disparate-impact ratio is at least 0.8 (``None``: not assessed)."""
        ratio = self.disparate_impact_ratio
        return None if ratio is None else ratio >= 0.8

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, groups included."""
        return {
            "name": self.name,
            "attributes": list(self.attributes),
            "demographic_parity_difference": self.demographic_parity_difference,
            "equalized_odds_difference": self.equalized_odds_difference,
            "disparate_impact_ratio": self.disparate_impact_ratio,
            "four_fifths": self.four_fifths,
            "too_small_groups": [g.label for g in self.groups if g.too_small],
            "groups": [g.to_dict() for g in self.groups],
        }


@dataclass(frozen=True)
class FairnessReport:
    """What :func:`fairness_audit` found: every grouping, overall rates, the settings."""

    rows: int
    attributes: tuple[str, ...]
    min_group_size: int
    pos_label: Any
    groupings: tuple[Grouping, ...]
    overall: GroupStats

    def grouping(self, name: str | Sequence[str]) -> Grouping:
        """The grouping of one attribute (``"sex"``) or an intersection (``["sex", "age"]``
        or ``"sex&age"``)."""
        key = tuple(name.split("&")) if isinstance(name, str) else tuple(name)
        for found in self.groupings:
            if found.attributes == key:
                return found
        known = ", ".join(g.name for g in self.groupings)
        raise InvalidInput(
            f"The fairness report has no grouping '{'&'.join(key)}'; groupings are: {known}."
        )

    def passed(self, thresholds: Mapping[str, float]) -> tuple[bool, list[str]]:
        """Check ``thresholds`` on every grouping; return (passed, one reason per breach).

        Keys are those of :data:`THRESHOLD_KEYS`: the two differences are maxima, the
        disparate-impact ratio a minimum (0.8 is the four-fifths rule).
        """
        unknown = sorted(set(thresholds) - set(THRESHOLD_KEYS))
        if unknown:
            raise InvalidInput(
                f"Unknown fairness threshold(s) {', '.join(map(repr, unknown))}; "
                f"use {', '.join(THRESHOLD_KEYS)}.",
                field="thresholds",
            )
        reasons: list[str] = []
        for grouping in self.groupings:
            for key, limit in thresholds.items():
                value = getattr(grouping, key)
                words = key.replace("_", " ").replace("disparate impact", "disparate-impact")
                words = words.replace("demographic parity", "demographic-parity")
                words = words.replace("equalized odds", "equalized-odds")
                if value is None:
                    if not grouping.is_intersection:
                        reasons.append(
                            f"{grouping.name}: {words} not assessed: fewer than two groups "
                            f"with at least {self.min_group_size} rows; use a larger holdout"
                        )
                elif THRESHOLD_KEYS[key] == "max" and value > limit:
                    reasons.append(
                        f"{grouping.name}: {words} {value:.3f} exceeds the maximum {limit}"
                    )
                elif THRESHOLD_KEYS[key] == "min" and value < limit:
                    rule = " (four-fifths rule)" if limit == 0.8 else ""
                    reasons.append(
                        f"{grouping.name}: {words} {value:.3f} is below the minimum {limit}{rule}"
                    )
        return not reasons, reasons

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (what a gate stores as evidence)."""
        return {
            "rows": self.rows,
            "attributes": list(self.attributes),
            "min_group_size": self.min_group_size,
            "pos_label": _jsonable(self.pos_label),
            "overall": {m: getattr(self.overall, m) for m in _METRICS},
            "groupings": [g.to_dict() for g in self.groupings],
            "not_assessed": [
                g.name for g in self.groupings if g.demographic_parity_difference is None
            ],
        }


def fairness_audit(
    y_true: Any,
    y_pred: Any,
    groups: pd.DataFrame,
    *,
    min_group_size: int = 30,
    intersections: bool = True,
    pos_label: Any = 1,
) -> FairnessReport:
    """Audit binary decisions ``y_pred`` against outcomes ``y_true`` by protected group.

    Parameters
    ----------
    y_true, y_pred
        Array-likes of the same length; ``pos_label`` marks the positive (selected)
        outcome and every other value counts as negative. Scores must be thresholded
        first.
    groups
        One column per protected attribute, one row per decision (see
        :func:`protected_groups`). Missing values form their own group.
    min_group_size
        Groups with fewer rows are reported with ``too_small: true`` and left out of
        the differences and ratios.
    intersections
        Also report the cross of all attributes (when there are two or more).

    Raises
    ------
    InvalidInput
        Lengths differ, no attribute is given, the decisions are not binary, or the
        cross of the attributes has more than 10,000 groups.
    """
    import pandas as pd

    if not isinstance(groups, pd.DataFrame) or groups.shape[1] == 0:
        raise InvalidInput(
            "The fairness audit needs at least one protected attribute (a DataFrame column).",
            field="protected",
        )
    if min_group_size < 1:
        raise InvalidInput("min_group_size must be at least 1.", field="min_group_size")
    truth = _binary(y_true, pos_label, "y_true")
    decided = _binary(y_pred, pos_label, "y_pred")
    rows = len(groups)
    if not len(truth) == len(decided) == rows:
        raise InvalidInput(
            f"y_true ({len(truth)}), y_pred ({len(decided)}) and the protected attributes "
            f"({rows} rows) must have one entry per decision.",
            field="y_pred",
        )
    attributes = tuple(str(c) for c in groups.columns)
    codes, uniques = [], []
    for column in groups.columns:
        code, values = pd.factorize(groups[column], sort=True, use_na_sentinel=False)
        codes.append(code.astype(np.int64, copy=False))
        uniques.append([_value(v) for v in values])
    sizes = tuple(len(u) for u in uniques)
    cells = int(np.prod(sizes, dtype=np.int64))
    if cells > _MAX_GROUPS:
        raise InvalidInput(
            f"The protected attributes cross into {cells} groups, more than {_MAX_GROUPS}; "
            "band continuous columns (age bands) or audit fewer attributes.",
            field="protected",
        )
    # The single pass: mixed-radix group code x 4 confusion cells, counted at once.
    combined = np.zeros(rows, dtype=np.int64)
    for code, size in zip(codes, sizes, strict=True):
        combined *= size
        combined += code
    cell = 2 * truth.astype(np.int64) + decided
    table = np.bincount(combined * 4 + cell, minlength=cells * 4).reshape((*sizes, 4))

    groupings: list[Grouping] = []
    axes = range(len(attributes))
    combos: list[tuple[int, ...]] = [(i,) for i in axes]
    if intersections and len(attributes) > 1:
        combos.append(tuple(axes))
    for combo in combos:
        other = tuple(i for i in axes if i not in combo)
        counts = table.sum(axis=other) if other else table
        groupings.append(
            _grouping(
                [attributes[i] for i in combo],
                [uniques[i] for i in combo],
                counts,
                min_group_size,
            )
        )
    overall = _stats((), table.reshape(-1, 4).sum(axis=0), min_group_size)
    return FairnessReport(
        rows=rows,
        attributes=attributes,
        min_group_size=min_group_size,
        pos_label=pos_label,
        groupings=tuple(groupings),
        overall=overall,
    )


def _grouping(
    attributes: list[str], uniques: list[list[Any]], counts: np.ndarray, min_size: int
) -> Grouping:
    flat = counts.reshape(-1, 4)
    present = np.flatnonzero(flat.sum(axis=1))
    shape = counts.shape[:-1]
    stats = []
    for index in present:
        position = np.unravel_index(index, shape)
        values = tuple(
            (a, u[int(p)]) for a, u, p in zip(attributes, uniques, position, strict=True)
        )
        stats.append(_stats(values, flat[index], min_size))
    big = [s for s in stats if not s.too_small]
    selection = _spread([s.selection_rate for s in big])
    tpr = _spread([s.tpr for s in big if s.tpr is not None])
    fpr = _spread([s.fpr for s in big if s.fpr is not None])
    spreads = [x[1] - x[0] for x in (tpr, fpr) if x is not None]
    ratio = None
    if selection is not None:
        low, high = selection
        ratio = low / high if high > 0 else 1.0
    return Grouping(
        attributes=tuple(attributes),
        groups=tuple(stats),
        demographic_parity_difference=None if selection is None else selection[1] - selection[0],
        equalized_odds_difference=max(spreads) if spreads else None,
        disparate_impact_ratio=ratio,
    )


def _stats(values: tuple[tuple[str, Any], ...], cells: np.ndarray, min_size: int) -> GroupStats:
    # cells: [true 0 decided 0, true 0 decided 1, true 1 decided 0, true 1 decided 1]
    tn, fp, fn, tp = (int(x) for x in cells)
    count = tn + fp + fn + tp
    positives, negatives = tp + fn, tn + fp
    return GroupStats(
        values=values,
        count=count,
        positives=positives,
        negatives=negatives,
        selection_rate=(tp + fp) / count,
        tpr=tp / positives if positives else None,
        fpr=fp / negatives if negatives else None,
        accuracy=(tp + tn) / count,
        too_small=count < min_size,
    )


def _spread(rates: list[float]) -> tuple[float, float] | None:
    return (min(rates), max(rates)) if len(rates) >= 2 else None


def _binary(values: Any, pos_label: Any, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidInput(f"{name} must be one-dimensional; give one decision per row.")
    if array.dtype.kind == "f" and len(array):
        finite = array[~np.isnan(array)]
        if len(finite) and not np.all(np.isin(finite, (0.0, 1.0))):
            raise InvalidInput(
                f"{name} holds scores, not decisions; threshold them (e.g. score >= 0.5) "
                "before the fairness audit.",
                field=name,
            )
    hit = np.asarray(array == pos_label, dtype=bool)
    if hit.shape != array.shape:
        hit = np.zeros(array.shape, dtype=bool)
    rest = array[~hit]
    if len(rest) and (array.dtype.kind == "f" and bool(np.isnan(rest).any())):
        raise InvalidInput(f"{name} has missing values; give a decision for every row.")
    if len(rest) and not bool(np.all(rest == rest[0])):
        raise InvalidInput(
            f"{name} has more than two distinct values; the fairness audit is for binary "
            f"decisions (positive label {pos_label!r}).",
            field=name,
        )
    return hit.astype(np.int8)


def _value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return value.item() if isinstance(value, np.generic) else value


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def protected_groups(
    frame: pd.DataFrame,
    *,
    sensitivity: Mapping[str, Mapping[str, Any]] | None = None,
    attributes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The protected-attribute columns of ``frame``, ready for :func:`fairness_audit`.

    Named ``attributes`` are taken as given; otherwise the columns that the sensitivity
    scan tagged with a kind of :data:`PROTECTED_KINDS` (``sensitivity`` is a dataset
    version's per-column tags; the frame is scanned when it is ``None``). A numeric age
    column is cut into :data:`AGE_BANDS` (``<25``, ``25-34`` … ``65+``).

    Raises
    ------
    InvalidInput
        A named attribute is not a column of the frame, or none is named and no column
        is tagged with a protected kind.
    """
    import pandas as pd

    if sensitivity is None:
        from prodline.core.sensitivity import scan_dataframe

        sensitivity = {c: s.to_dict() for c, s in scan_dataframe(frame).items()}
    kinds = {str(c): set(sensitivity.get(str(c), {}).get("kinds", ())) for c in frame.columns}
    if attributes:
        missing = [a for a in attributes if a not in frame.columns]
        if missing:
            raise InvalidInput(
                f"Protected attribute(s) {', '.join(map(repr, missing))} are not columns of the "
                f"holdout; its columns are: {', '.join(map(str, frame.columns))}. Name existing "
                "columns, or add them to the holdout dataset.",
                field="protected",
            )
        chosen = list(dict.fromkeys(attributes))
    else:
        chosen = [c for c, k in kinds.items() if k & set(PROTECTED_KINDS)]
        if not chosen:
            raise InvalidInput(
                "No protected attributes: the sensitivity scan tagged no column as "
                f"{' or '.join(PROTECTED_KINDS)}; name them (e.g. --protected sex,age).",
                field="protected",
            )
    out = pd.DataFrame(index=frame.index)
    for column in chosen:
        values = frame[column]
        is_age = "age" in kinds.get(column, set()) or column.lower() in {"age", "age_years"}
        if is_age and pd.api.types.is_numeric_dtype(values) and values.nunique() > len(AGE_BANDS):
            values = _age_bands(values)
        out[column] = values
    return out


def _age_bands(ages: pd.Series) -> pd.Series:
    import pandas as pd

    edges = [*AGE_BANDS, np.inf]
    labels = [
        f"<{hi}" if lo == 0 else f"{lo}+" if hi == np.inf else f"{lo}-{int(hi) - 1}"
        for lo, hi in itertools.pairwise(edges)
    ]
    banded = pd.cut(ages, bins=edges, right=False, labels=labels)
    out: pd.Series = banded.astype(object)
    out[banded.isna()] = None
    return out

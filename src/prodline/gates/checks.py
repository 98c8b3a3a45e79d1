"""The gate checks as pure functions: measurements in, a verdict and its reasons out.

Nothing here reads the store: :mod:`prodline.gates.service` gathers the inputs (the
holdout rows, both versions' predictions, the training frames) through callables the
workspace injects, calls these, and records each result as evidence. Each function
returns a :class:`CheckResult` whose ``summary`` is what the evidence keeps and whose
``reasons`` say, for a failure, what was short and how to meet it.

Examples
--------
>>> import numpy as np
>>> y = np.array([0, 1, 1, 0])
>>> r = evaluation(y, (y, None, [0, 1]), None, {"min": {"accuracy": 0.9}, "max": {}})
>>> r.passed, r.summary["candidate"]["accuracy"]
(True, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["CheckResult", "evaluation", "metrics_of", "poisoning", "sensitivity"]

# (predictions, probabilities or None, classes or None), as a predictor returns them
Scored = tuple[Any, Any, Any]


@dataclass(frozen=True)
class CheckResult:
    """One check's verdict: what it measured and, when it failed, why."""

    check: str
    passed: bool
    summary: Mapping[str, Any] = field(hash=False)
    reasons: tuple[str, ...] = ()


def metrics_of(y_true: Any, scored: Scored) -> dict[str, float]:
    """accuracy/f1 (and auc with probabilities) for labels, rmse/mae/r2 for numbers."""
    from sklearn import metrics as skm

    y = np.asarray(y_true)
    predictions, probabilities, classes = scored
    predictions = np.asarray(predictions)
    if classes is not None or probabilities is not None or y.dtype.kind in "OUSb":
        out = {
            "accuracy": float(skm.accuracy_score(y, predictions)),
            "f1": float(skm.f1_score(y, predictions, average="macro")),
        }
        if probabilities is not None and classes is not None and len(set(y.tolist())) > 1:
            labels = list(classes)
            if np.isin(y, labels).all():
                proba = np.asarray(probabilities)
                if len(labels) == 2:
                    out["auc"] = float(skm.roc_auc_score(y == labels[1], proba[:, 1]))
                else:
                    out["auc"] = float(
                        skm.roc_auc_score(y, proba, multi_class="ovr", labels=labels)
                    )
        return out
    p = predictions.astype(float)
    t = y.astype(float)
    return {
        "rmse": float(np.sqrt(np.mean((p - t) ** 2))),
        "mae": float(np.mean(np.abs(p - t))),
        "r2": float(skm.r2_score(t, p)),
    }


def evaluation(
    y_true: Any,
    candidate: Scored,
    champion: Scored | None,
    conf: Mapping[str, Any],
    *,
    champion_version: int | None = None,
) -> CheckResult:
    """Candidate metrics against the policy's ``min``/``max`` and against the champion.

    The champion (the version holding the alias now) is scored on the same rows; every
    metric the policy bounds must be no worse than the champion's by more than
    ``champion_tolerance``.
    """
    mins: Mapping[str, float] = conf.get("min") or {}
    maxs: Mapping[str, float] = conf.get("max") or {}
    tolerance = float(conf.get("champion_tolerance") or 0.0)
    ours = metrics_of(y_true, candidate)
    theirs = metrics_of(y_true, champion) if champion is not None else None
    reasons: list[str] = []
    compared = {**{m: True for m in mins}, **{m: False for m in maxs}}
    if not compared:  # nothing bounded: compare on the headline metric
        headline = next(m for m in ("auc", "accuracy", "rmse") if m in ours)
        compared[headline] = headline != "rmse"
    for bounds, higher in ((mins, True), (maxs, False)):
        for metric, limit in bounds.items():
            if metric not in ours:
                reasons.append(
                    f"metric '{metric}' cannot be computed for this model "
                    f"(it has {', '.join(sorted(ours))}); change the policy's evaluation bounds"
                )
                continue
            value = ours[metric]
            if (value < limit) if higher else (value > limit):
                reasons.append(
                    f"{metric} {value:.4g} is {'below' if higher else 'above'} the policy's "
                    f"{'minimum' if higher else 'maximum'} {limit:g}"
                )
    for metric, higher in compared.items():
        if theirs is not None and metric in theirs and metric in ours:
            value = ours[metric]
            worse = theirs[metric] - value if higher else value - theirs[metric]
            if worse > tolerance:
                reasons.append(
                    f"{metric} {value:.4g} is worse than the current holder "
                    f"v{champion_version}'s {theirs[metric]:.4g} on the same rows "
                    f"(tolerance {tolerance:g})"
                )
    summary = {
        "rows": len(np.asarray(y_true)),
        "candidate": ours,
        "champion": theirs,
        "champion_version": champion_version,
        "min": dict(mins),
        "max": dict(maxs),
        "champion_tolerance": tolerance,
    }
    return CheckResult("evaluation", not reasons, summary, tuple(reasons))


def poisoning(reports: Mapping[str, Any], conf: Mapping[str, Any]) -> CheckResult:
    """Each training dataset's suspect share against the policy's ``max_share``."""
    limit = float(conf.get("max_share", 0.05))
    reasons = []
    summary: dict[str, Any] = {"max_share": limit, "datasets": {}}
    for ref, report in reports.items():
        share = float(report.share)
        summary["datasets"][ref] = report.to_dict()
        if share > limit:
            reasons.append(
                f"{share:.1%} of the rows of {ref} look poisoned (over {limit:.1%}); inspect "
                f"`prodline gate show` for the suspect rows, fix or drop them, retrain"
            )
    if not reports:
        reasons.append(
            "the version names no training dataset to scan; register it with --trained-on"
        )
    return CheckResult("poisoning", not reasons, summary, tuple(reasons))


def sensitivity(
    sensitive: Mapping[str, Mapping[str, Any]],
    justifications: Sequence[Mapping[str, Any]],
    ref: str = "N@V",
) -> CheckResult:
    """Passes when no feature is PII/PHI-tagged or a justification (who, why) is recorded."""
    justified = [dict(j) for j in justifications]
    needed = bool(sensitive)
    passed = not needed or bool(justified)
    reasons: tuple[str, ...] = ()
    if not passed:
        cols = ", ".join(f"{c} ({s.get('level')})" for c, s in sensitive.items())
        reasons = (
            f"the model uses PII/PHI-tagged columns {cols} and no justification is recorded; "
            f"record one with `prodline gate justify {ref} --reason ...`",
        )
    summary = {
        "sensitive_columns": {c: dict(s) for c, s in sensitive.items()},
        "justifications": justified,
    }
    return CheckResult("sensitivity", passed, summary, reasons)

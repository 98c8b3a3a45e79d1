"""Candidate against champion on the same holdout rows, and the promotion decision.

Both versions are scored through the registry's own loader (the same code path as
serving), on the same rows, with the same metric. The candidate wins when it improves
on the champion by at least the pipeline's margin and strictly (a tie keeps the
champion).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from prodline.errors import InvalidInput
from prodline.pipelines.entities import LOWER_IS_BETTER

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Comparison", "Scores", "compare", "score", "split_holdout"]

# (model name, version, feature frame) → (predictions, probabilities or None, classes or None)
Predict = Callable[[str, int, "pd.DataFrame"], tuple[np.ndarray, np.ndarray | None, Any]]


def split_holdout(
    frame: pd.DataFrame, fraction: float, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, holdout rows): a seeded random ``fraction`` of rows held out."""
    rng = np.random.default_rng(seed)
    n_out = max(1, round(len(frame) * fraction))
    if len(frame) - n_out < 1:
        raise InvalidInput(
            f"The dataset has {len(frame)} rows: too few to hold out {fraction:.0%} "
            "and still train; register more rows or give a holdout dataset."
        )
    mask = np.zeros(len(frame), dtype=bool)
    mask[rng.permutation(len(frame))[:n_out]] = True
    return frame[~mask].reset_index(drop=True), frame[mask].reset_index(drop=True)


@dataclass(frozen=True)
class Scores:
    """One version's metrics on the holdout."""

    version: int
    metrics: dict[str, float]
    task: str  # "classification" | "regression"


def score(predict: Predict, model: str, version: int, frame: pd.DataFrame, target: str) -> Scores:
    """Score ``model`` v``version`` on ``frame``'s rows against its ``target`` column."""
    from sklearn import metrics as skm

    y_true = frame[target].to_numpy()
    predictions, probabilities, classes = predict(model, version, frame.drop(columns=[target]))
    if classes is not None or probabilities is not None or y_true.dtype.kind in "OUSb":
        out = {
            "accuracy": float(skm.accuracy_score(y_true, predictions)),
            "f1": float(skm.f1_score(y_true, predictions, average="macro")),
        }
        if probabilities is not None and classes is not None and len(set(y_true)) > 1:
            labels = list(classes)
            known = np.isin(y_true, labels)
            if known.all():
                if len(labels) == 2:
                    positive = (y_true == labels[1]).astype(int)
                    out["auc"] = float(skm.roc_auc_score(positive, probabilities[:, 1]))
                else:
                    out["auc"] = float(
                        skm.roc_auc_score(y_true, probabilities, multi_class="ovr", labels=labels)
                    )
        return Scores(version, out, "classification")
    y = y_true.astype(float)
    p = np.asarray(predictions, dtype=float)
    return Scores(
        version,
        {
            "mae": float(np.mean(np.abs(y - p))),
            "rmse": float(np.sqrt(np.mean((y - p) ** 2))),
            "r2": float(skm.r2_score(y, p)),
        },
        "regression",
    )


def default_metric(scores: Scores) -> str:
    """ROC AUC when available, else accuracy (classifiers); RMSE (regressors)."""
    if scores.task == "regression":
        return "rmse"
    return "auc" if "auc" in scores.metrics else "accuracy"


@dataclass(frozen=True)
class Comparison:
    """The candidate's and the champion's holdout scores and the verdict."""

    metric: str
    candidate: Scores
    champion: Scores | None
    margin: float
    rows: int
    champion_error: str | None = None

    @property
    def improvement(self) -> float | None:
        """How much better the candidate is (positive = better), in the metric's units."""
        if self.champion is None or self.metric not in self.champion.metrics:
            return None
        cand, champ = self.candidate.metrics[self.metric], self.champion.metrics[self.metric]
        return champ - cand if self.metric in LOWER_IS_BETTER else cand - champ

    @property
    def candidate_wins(self) -> bool:
        """True when there is no champion to beat, or the candidate beats it by the margin."""
        if self.champion is None:
            return True
        gain = self.improvement
        return gain is not None and gain > 0 and gain >= self.margin

    def summary(self) -> str:
        """One line: the two numbers and the verdict."""
        cand = self.candidate.metrics[self.metric]
        if self.champion is None:
            why = (
                f" (champion could not score: {self.champion_error})" if self.champion_error else ""
            )
            return f"candidate v{self.candidate.version} {self.metric}={cand:.4f}; no champion{why}"
        champ = self.champion.metrics[self.metric]
        gain = self.improvement or 0.0
        verdict = "beats" if self.candidate_wins else "does not beat"
        return (
            f"candidate v{self.candidate.version} {self.metric}={cand:.4f} {verdict} champion "
            f"v{self.champion.version} {self.metric}={champ:.4f} (improvement {gain:+.4f}, "
            f"margin {self.margin:g}, {self.rows} holdout rows)"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, stored as the run's ``metrics``."""
        return {
            "metric": self.metric,
            "margin": self.margin,
            "holdout_rows": self.rows,
            "candidate": self.candidate.metrics,
            "champion": self.champion.metrics if self.champion else None,
            "champion_error": self.champion_error,
            "improvement": self.improvement,
            "candidate_wins": self.candidate_wins,
        }


def compare(
    predict: Predict,
    model: str,
    candidate: int,
    champion: int | None,
    holdout: pd.DataFrame,
    *,
    target: str,
    metric: str | None,
    margin: float,
) -> Comparison:
    """Score candidate and champion on the same ``holdout`` rows and compare them.

    A champion that cannot score the holdout (its inputs are no longer in the data)
    counts as no champion, with the reason kept in ``champion_error``.

    Raises
    ------
    InvalidInput
        If ``target`` is not a holdout column or ``metric`` is not one the task has.
    """
    from prodline.errors import ProdlineError

    if target not in holdout.columns:
        raise InvalidInput(
            f"The holdout has no target column '{target}'; its columns are "
            f"{', '.join(map(str, holdout.columns))}.",
            field="target",
        )
    cand = score(predict, model, candidate, holdout, target)
    chosen = metric or default_metric(cand)
    if chosen not in cand.metrics:
        raise InvalidInput(
            f"Metric '{chosen}' is not computed for a {cand.task} model; choose one of "
            f"{', '.join(sorted(cand.metrics))}.",
            field="metric",
        )
    champ: Scores | None = None
    error: str | None = None
    if champion is not None:
        try:
            champ = score(predict, model, champion, holdout, target)
        except ProdlineError as exc:
            error = exc.message
    return Comparison(chosen, cand, champ, margin, len(holdout), error)

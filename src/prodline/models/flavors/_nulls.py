"""Which input columns a fitted scikit-learn model copes with when they are missing.

A column is nullable when every step its values flow through either fills missing
values (an imputer) or lets them pass (scikit-learn's ``allow_nan`` input tag) up to a
step that fills or natively handles them (``HistGradientBoosting*``). Inside a
``ColumnTransformer`` each column follows its own branch. The answer is structural:
nothing is scored to find it out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

__all__ = ["nullable_columns"]

Handling = Literal["fills", "passes", "fails"]


def nullable_columns(estimator: Any, names: Sequence[str]) -> set[str]:
    """The columns of ``names`` that ``estimator`` accepts as NaN."""
    return {name for name in names if _column(estimator, name) == "fills"}


def _column(estimator: Any, name: str) -> Handling:
    """How a missing value in column ``name`` fares through ``estimator``."""
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        steps = [step for _, step in estimator.steps if step not in (None, "passthrough")]
        if not steps:
            return "passes"
        head = _column(steps[0], name)
        if head != "passes":
            return head
        return _whole(steps[1:])
    branch = _branch(estimator, name)
    if branch is not None:
        return branch
    return _single(estimator)


def _branch(estimator: Any, name: str) -> Handling | None:
    """For a ColumnTransformer, the handling of the branch that reads ``name``."""
    from sklearn.compose import ColumnTransformer

    if not isinstance(estimator, ColumnTransformer):
        return None
    for _, transformer, columns in getattr(estimator, "transformers_", []):
        if _selects(columns, name):
            if transformer == "drop":
                return "fills"  # never read
            if transformer == "passthrough":
                return "passes"
            return _column(transformer, name)
    return "fails"


def _selects(columns: Any, name: str) -> bool:
    if isinstance(columns, str):
        return columns == name
    try:
        return any(isinstance(c, str) and c == name for c in columns)
    except TypeError:
        return False


def _whole(steps: Sequence[Any]) -> Handling:
    """How missing values fare through a chain of steps fed by one another."""
    for step in steps:
        handling = _single(step) if not _composite(step) else _composite_handling(step)
        if handling != "passes":
            return handling
    return "fails"  # nothing filled them and the last step predicts on them


def _composite(step: Any) -> bool:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    return isinstance(step, Pipeline | ColumnTransformer)


def _composite_handling(step: Any) -> Handling:
    from sklearn.pipeline import Pipeline

    if isinstance(step, Pipeline):
        return _whole([s for _, s in step.steps if s not in (None, "passthrough")])
    branches = {
        "fills" if t == "drop" else "passes" if t == "passthrough" else _composite_or_single(t)
        for _, t, _ in getattr(step, "transformers_", [])
    }
    if "fails" in branches:
        return "fails"
    return "fills" if branches == {"fills"} else "passes"


def _composite_or_single(step: Any) -> Handling:
    return _composite_handling(step) if _composite(step) else _single(step)


def _single(estimator: Any) -> Handling:
    """One estimator: imputers fill, predictors with ``allow_nan`` fill, others pass or fail."""
    kind = type(estimator).__name__
    if kind.endswith("Imputer"):
        return "fills"
    if kind == "FunctionTransformer" and not getattr(estimator, "validate", True):
        return "passes"  # no input check; a fitted "passthrough" branch is one of these
    try:
        allow_nan = bool(estimator.__sklearn_tags__().input_tags.allow_nan)
    except AttributeError:
        return "fails"
    if not allow_nan:
        return "fails"
    # A predictor that takes NaN handles it; a transformer that takes NaN passes it on.
    return "fills" if hasattr(estimator, "predict") else "passes"

"""What a model version learned from: the training datasets' columns, checked on register.

A model registered as trained on a dataset must read columns of that dataset and never
its target; a target must be one of its columns. Datasets arrive as plain objects
(:class:`TrainingDataset`) so this part never imports the datasets part.
"""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Sequence
from typing import Any, Protocol

from prodline.core.schema import columns_from_schema
from prodline.errors import InvalidInput

__all__ = ["TrainingDataset", "check_features", "check_target", "feature_columns"]


class TrainingDataset(Protocol):
    """What the registry needs to know of a dataset version a model learned from.

    ``prodline.data.DatasetVersion`` satisfies it; the registry never imports it.
    """

    @property
    def name(self) -> str:
        """The dataset's name."""
        ...

    @property
    def version(self) -> int:
        """The version number."""
        ...

    @property
    def schema(self) -> list[dict[str, Any]]:
        """Columns as ``{"name", "type"}`` records."""
        ...

    @property
    def ref(self) -> str:
        """``name@version``."""
        ...

    @property
    def profile(self) -> dict[str, Any]:
        """Per-column profile (missing counts make columns nullable)."""
        ...


def _columns(trained: Sequence[TrainingDataset]) -> builtins.list[str]:
    seen: dict[str, None] = {}
    for ds in trained:
        for column in ds.schema:
            seen.setdefault(str(column["name"]), None)
    return builtins.list(seen)


def check_target(trained: Sequence[TrainingDataset], target: str | None) -> None:
    """Refuse a target that is not a column of the training data, suggesting the nearest."""
    if not trained or target is None:
        return
    columns = _columns(trained)
    if target not in columns:
        refs = ", ".join(d.ref for d in trained)
        close = difflib.get_close_matches(target, columns, n=1)
        hint = f"did you mean '{close[0]}'? " if close else ""
        raise InvalidInput(
            f"Target '{target}' is not a column of {refs}; {hint}columns are: "
            f"{', '.join(columns)}.",
            field="target",
        )


def check_features(
    trained: Sequence[TrainingDataset], target: str | None, features: Sequence[str]
) -> None:
    """A model trained on a dataset reads that dataset's columns (never its target)."""
    if not trained:
        return
    columns = set(_columns(trained))
    refs = ", ".join(d.ref for d in trained)
    missing = [f for f in features if f not in columns]
    if missing:
        shown = ", ".join(missing[:8]) + (" …" if len(missing) > 8 else "")
        raise InvalidInput(
            f"The model reads {len(missing)} feature(s) that are not columns of {refs}: "
            f"{shown}. Is --trained-on the dataset this model was trained on?",
            field="trained_on",
        )
    if target is not None and target in features:
        raise InvalidInput(
            f"The model reads the target column '{target}' as a feature; "
            "pass the label column as --target, or fix the model's features.",
            field="target",
        )


def feature_columns(trained: Sequence[TrainingDataset], target: str | None) -> Any:
    """The first training dataset's columns but the target; nullable where it has gaps."""
    if not trained:
        return None
    return columns_from_schema(
        trained[0].schema, exclude=[target or ""], profile=trained[0].profile
    )

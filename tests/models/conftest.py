"""Factories for registry tests: a small dataset and fitted models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 2))
    return pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": (x.sum(axis=1) > 0).astype(int)})


@pytest.fixture
def fitted(frame: pd.DataFrame) -> list[LogisticRegression]:
    """Two different fitted models on the same features."""
    features = frame[["x1", "x2"]]
    return [LogisticRegression(C=c).fit(features, frame["label"]) for c in (1.0, 0.01)]

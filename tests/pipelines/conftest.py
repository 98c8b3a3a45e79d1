"""Factories for pipeline tests: a drifting classification dataset and pipeline modules."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from prodline.workspace import Workspace

# A module of pipelines, written to a file and registered by path (file.py:function).
PIPELINES = """
import time
from pathlib import Path

from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression

import prodline as pl


@pl.pipeline(name="good", target="y")
def good(data):
    x, y = data.frame[["a", "b"]], data.frame["y"]
    return LogisticRegression().fit(x, y), {"train_rows": float(len(x))}


@pl.pipeline(name="weak", target="y")
def weak(data):
    x, y = data.frame[["a", "b"]], data.frame["y"]
    return DummyClassifier(strategy="most_frequent").fit(x, y), {}


@pl.pipeline(name="broken", target="y")
def broken(data):
    raise RuntimeError("feature store unreachable while training on " + data.ref)


@pl.pipeline(name="slow", target="y")
def slow(data):
    Path(__file__).with_suffix(".started").write_text("x")
    time.sleep(600)


def undecorated(data):
    return None, {}
"""


def frame(n: int = 600, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """Two features; ``y`` depends on both (a logistic model learns it, a dummy cannot)."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(shift, 1, n), rng.normal(0, 1, n)
    y = (a + 0.5 * b + rng.normal(0, 0.3, n) > shift).astype(int)
    return pd.DataFrame({"a": a, "b": b, "y": y})


@pytest.fixture
def make_frame() -> Callable[..., pd.DataFrame]:
    """The :func:`frame` factory, for tests that register more versions."""
    return frame


@pytest.fixture
def pipeline_file(tmp_path: Path) -> Path:
    """The module above, as a file."""
    path = tmp_path / "my_pipelines.py"
    path.write_text(textwrap.dedent(PIPELINES))
    return path


@pytest.fixture
def setup(pipeline_file: Path) -> Callable[..., Workspace]:
    """``setup(ws, champion="weak")``: dataset d@1, model m v1 (a dummy) in production."""

    def make(ws: Workspace, *, champion: bool = True) -> Workspace:
        from sklearn.dummy import DummyClassifier

        ws.datasets.register(frame(), name="d", owner="team")
        if champion:
            x = frame()
            dummy = DummyClassifier(strategy="most_frequent").fit(x[["a", "b"]], x["y"])
            ws.models.register(dummy, name="m", trained_on=["d@1"], target="y", git_commit="")
            ws.promote("m", 1, "production")
        return ws

    return make

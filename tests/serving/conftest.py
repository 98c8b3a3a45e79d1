"""Serving fixtures: a workspace with registered models (``make_world``).

The models are trained and registered once per session into a template home; each test
gets its own copy of that home (SQLite and artifacts are plain files under it), so tests
can promote, roll back and log predictions without seeing each other.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from serving_support import Template, World, mixed_frame, numeric_frame
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from prodline.workspace import Workspace


@pytest.fixture(scope="session")
def _template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    home = tmp_path_factory.mktemp("serving-template") / "home"
    with pytest.MonkeyPatch.context() as mp:
        for var in ("PRODLINE_HOME", "PRODLINE_DB_URL", "PRODLINE_AUDIT_KEY", "PRODLINE_ARTIFACTS"):
            mp.delenv(var, raising=False)
        frame, mixed = numeric_frame(), mixed_frame()
        features = frame[["x1", "x2"]]
        v1 = LogisticRegression().fit(features, frame["label"])
        v2 = LogisticRegression().fit(features, 1 - frame["label"])
        pipe = Pipeline(
            [
                (
                    "prep",
                    ColumnTransformer(
                        [
                            ("cat", OneHotEncoder(handle_unknown="ignore"), ["color"]),
                            ("num", StandardScaler(), ["x1", "count"]),
                        ]
                    ),
                ),
                ("clf", LogisticRegression()),
            ]
        ).fit(mixed[["color", "x1", "count"]], mixed["label"])
        ws = Workspace.open(home, actor="tester")
        ws.datasets.register(frame, name="toy", owner="tests", source="synthetic")
        ws.datasets.register(mixed, name="toy-mixed", owner="tests", source="synthetic")
        ws.models.register(v1, name="clf", trained_on=["toy@1"], target="label")
        ws.models.register(v2, name="clf", trained_on=["toy@1"], target="label")
        ws.models.register(pipe, name="mixed", trained_on=["toy-mixed@1"], target="label")
        ws.promote("clf", 1, "production")
        ws.promote("mixed", 1, "production")
        ws.close()
    yield Template(home, frame, v1, v2, mixed, pipe)


@pytest.fixture
def make_world(_template: Template, tmp_path: Path) -> Iterator[Callable[[], World]]:
    """Factory: a fresh copy of the template workspace per call."""
    opened: list[Workspace] = []

    def make() -> World:
        home = tmp_path / f"home-{len(opened)}"
        shutil.copytree(_template.home, home)
        ws = Workspace.open(home, actor="tester")
        opened.append(ws)
        t = _template
        return World(home, ws, t.frame, t.v1, t.v2, t.mixed_frame, t.mixed)

    yield make
    for ws in opened:
        ws.close()

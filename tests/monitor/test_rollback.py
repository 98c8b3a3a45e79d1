"""Auto-rollback end to end: real predictions through the model server's app, real labels
through the feedback log, then the alias goes back with an alert carrying the numbers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LogisticRegression

from prodline.pipelines import PipelineSettings, RollbackGuard
from prodline.serving import create_app
from prodline.workspace import Workspace

PREDICT = "/v1/models/clf/predict"


def _data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x1, x2 = rng.normal(size=n).round(4), rng.normal(size=n).round(4)
    label = (x1 - 0.5 * x2 + rng.normal(scale=0.3, size=n) > 0).astype(int)
    return pd.DataFrame({"x1": x1, "x2": x2, "label": label})


def _world(ws: Workspace, *, v2_flipped: bool) -> None:
    train = _data(400, 0)
    x, y = train[["x1", "x2"]], train["label"]
    ws.datasets.register(train, name="d", owner="team")
    good = LogisticRegression().fit(x, y)
    second = LogisticRegression().fit(x, 1 - y if v2_flipped else y)
    for model in (good, second):
        ws.models.register(model, name="clf", trained_on=["d@1"], target="label", git_commit="")
    ws.promote("clf", 1, "production")


def _serve_and_label(ws: Workspace, rows: int, seed: int, expect_version: int) -> None:
    """POST ``rows`` rows to the served alias in batches of 50, then label every row."""
    live = _data(rows, seed)
    labels = []
    with TestClient(create_app(ws, "clf", "production")) as client:
        for start in range(0, rows, 50):
            batch = live.iloc[start : start + 50]
            doc = {
                "dataframe_split": {
                    "columns": ["x1", "x2"],
                    "data": batch[["x1", "x2"]].to_numpy().tolist(),
                }
            }
            reply = client.post(PREDICT, json=doc)
            assert reply.status_code == 200, reply.text
            assert reply.json()["version"] == expect_version
            rid = reply.headers["x-request-id"]
            labels += [
                {"request_id": rid, "row": i, "label": int(v)} for i, v in enumerate(batch["label"])
            ]
    result = ws.feedback.add_many(labels)
    assert result.accepted == rows, result


def test_a_worse_promoted_version_is_rolled_back_with_an_alert(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    _world(ws, v2_flipped=True)
    _serve_and_label(ws, 300, seed=1, expect_version=1)
    ws.promote("clf", 2, "production")
    _serve_and_label(ws, 100, seed=2, expect_version=2)

    waiting = ws.auto_rollback.check("clf", metric="accuracy", margin=0.1, min_labels=200)
    assert not waiting.rolled_back and "waiting for labels: v2 has 100" in waiting.reason
    assert ws.models.alias_state("clf", "production")[0] == 2  # type: ignore[index]

    _serve_and_label(ws, 150, seed=3, expect_version=2)
    check = ws.auto_rollback.check("clf", metric="accuracy", margin=0.1, min_labels=200)
    assert check.rolled_back and check.current == 2 and check.previous == 1
    assert check.current_labels == 250 and check.previous_labels == 250
    assert check.previous_value is not None and check.previous_value > 0.85
    assert check.current_value is not None and check.current_value < 0.15
    assert check.drop == pytest.approx(check.previous_value - check.current_value)
    assert ws.models.alias_state("clf", "production")[0] == 1  # type: ignore[index]

    alert = ws.alerts.get(check.alert_id)  # type: ignore[arg-type]
    assert alert.kind == "rollback" and alert.severity == "critical"
    assert "Rolled back clf@production from v2 to v1" in alert.message
    assert f"{check.current_value:.4f}" in alert.message and "250" in alert.message
    assert alert.payload["previous_value"] == check.previous_value
    actions = [e.action for e in ws.audit.events(limit=50)]
    assert "alias.rollback" in actions and "alert.raised" in actions

    again = ws.auto_rollback.check("clf", metric="accuracy", margin=0.1, min_labels=200)
    assert not again.rolled_back and "no promotion to watch" in again.reason


def test_a_version_within_the_margin_stays(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    _world(ws, v2_flipped=False)
    _serve_and_label(ws, 200, seed=1, expect_version=1)
    ws.promote("clf", 2, "production")
    _serve_and_label(ws, 200, seed=2, expect_version=2)
    check = ws.auto_rollback.check("clf", margin=0.1, min_labels=150)
    assert not check.rolled_back and "within the margin 0.1" in check.reason
    assert ws.models.alias_state("clf", "production")[0] == 2  # type: ignore[index]
    assert ws.alerts.list() == []


def test_guards_come_from_pipeline_settings(sqlite_ws: Workspace, tmp_path: Path) -> None:
    ws = sqlite_ws
    _world(ws, v2_flipped=True)
    _serve_and_label(ws, 250, seed=1, expect_version=1)
    ws.promote("clf", 2, "production")
    _serve_and_label(ws, 250, seed=2, expect_version=2)
    code = tmp_path / "train_clf.py"
    code.write_text(
        textwrap.dedent(
            """
            import prodline as pl
            from sklearn.linear_model import LogisticRegression

            @pl.pipeline(name="clf-retrain", target="label")
            def train(data):
                x = data.frame[["x1", "x2"]]
                return LogisticRegression().fit(x, data.frame["label"]), {}
            """
        )
    )
    ws.pipelines.register(
        "clf-retrain",
        entrypoint=f"{code}:train",
        dataset="d",
        model="clf",
        settings=PipelineSettings(rollback=RollbackGuard("accuracy", 0.2, 200)),
    )
    [check] = ws.auto_rollback.check_all()
    assert check.rolled_back and check.margin == 0.2 and check.min_labels == 200
    assert ws.models.alias_state("clf", "production")[0] == 1  # type: ignore[index]

"""Helpers for monitor tests: a workspace with a dataset, a served model and a logged window."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from prodline.ledger.predictions import Prediction, PredictionWriter
from prodline.workspace import Workspace


def training_frame(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Two numeric features and a category; ``y`` follows ``a``."""
    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    return pd.DataFrame(
        {"a": a, "b": b, "c": rng.choice(["x", "y"], size=n), "y": (a > 0).astype(int)}
    )


def setup_model(ws: Workspace) -> None:
    """Dataset ``d@1`` and model ``m@1`` (registered accuracy 0.95) promoted to production."""
    frame = training_frame()
    ws.datasets.register(frame, name="d", owner="team")
    model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
    ws.models.register(
        model, name="m", trained_on=["d@1"], metrics={"accuracy": 0.95}, git_commit=""
    )
    ws.promote("m", 1, "production")


def log_window(
    ws: Workspace,
    n: int,
    *,
    shift: float = 0.0,
    wrong: float = 0.0,
    seed: int = 1,
    start: int = 0,
    ts: float | None = None,
) -> list[str]:
    """Log ``n`` one-row predictions of m@1 (inputs shifted by ``shift``); returns request ids.

    ``wrong`` is the share of predictions that disagree with the rule ``a > 0``; the
    labels sent as feedback are always the rule, so the accuracy is ``1 - wrong``.
    """
    rng = np.random.default_rng(seed)
    writer = PredictionWriter(ws.db, ws.artifacts)
    batch, ids = [], []
    now = ts if ts is not None else time.time()
    for i in range(n):
        a, b = float(rng.normal() + shift), float(rng.normal() + shift)
        truth = int(a > 0)
        pred = 1 - truth if rng.random() < wrong else truth
        rid = f"r{start + i}"
        ids.append(rid)
        row: dict[str, Any] = {"a": a, "b": b, "c": "x" if rng.random() < 0.5 else "y"}
        proba = [[1 - 0.8 * pred - 0.1, 0.8 * pred + 0.1]]
        batch.append(
            Prediction(rid, "m", 1, now - (n - i) * 0.001, [row], [pred], proba, [0, 1], 1.0)
        )
    writer.write(batch)
    writer.close()
    return ids


def send_labels(ws: Workspace, ids: list[str]) -> None:
    """Feedback for each logged request: the truth ``a > 0``."""
    frame = ws.predictions.read("m")
    truth = dict(zip(frame["request_id"], (frame["a"] > 0).astype(int), strict=True))
    ws.feedback.add_many([{"request_id": rid, "label": int(truth[rid])} for rid in ids])

"""The worker hands a real drift alert to the pipelines: one retraining per alert."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from prodline.pipelines import PipelineSettings
from prodline.serving import create_app
from prodline.serving.worker import build_worker
from prodline.workspace import Workspace


def test_a_drift_alert_retrains_once_through_the_worker(
    sqlite_ws: Workspace, setup: Callable[..., Workspace], pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws)
    ws.pipelines.register(
        "retrain",
        entrypoint=f"{pipeline_file}:good",
        dataset="d",
        model="m",
        settings=PipelineSettings(promote="auto", triggers=("alert:m-drift",)),
    )
    ws.monitors.create(
        "m-drift", model="m@production", reference="d@1", window=300, checks=["data_drift"]
    )
    worker = build_worker(ws, holder="test-worker")
    assert worker.tick().held

    rng = np.random.default_rng(7)  # live traffic: both inputs shifted by 3 sd
    rows = np.column_stack([rng.normal(3, 1, 300), rng.normal(3, 1, 300)]).round(4)
    with TestClient(create_app(ws, "m", "production")) as client:
        doc = {"dataframe_split": {"columns": ["a", "b"], "data": rows.tolist()}}
        assert client.post("/v1/models/m/predict", json=doc).status_code == 200
    run = ws.monitors.run("m-drift")
    assert run.alerts >= 1, run.summary
    [alert] = [a for a in ws.alerts.list() if a.kind == "data_drift"]

    tick = worker.tick()
    assert tick.dispatched >= 1
    [retrain] = ws.pipelines.runs("retrain")
    assert retrain.trigger == "alert"
    assert retrain.trigger_key == f"monitor:m-drift:{alert.run_id}:retrain"
    assert retrain.status == "succeeded" and ws.models.alias_state("m", "production") == (2, 2)
    ws.pipelines.on_alert(alert)  # the same alert handed over again (a crash mid-dispatch)
    worker.tick()
    assert len(ws.pipelines.runs("retrain")) == 1

"""The logs are read through the workspace: ``ws.predictions`` and ``ws.calls``."""

from __future__ import annotations

import time

from prodline.ledger import CallWriter, Prediction, PredictionWriter
from prodline.workspace import Workspace


def test_workspace_reads_what_the_writers_wrote(ws: Workspace) -> None:
    writer = PredictionWriter(ws.db, ws.artifacts, segment_rows=3)
    batch = [
        Prediction(f"r{i}", "clf", 1, time.time(), [{"x": float(i)}], [i % 2], None, None, 1.0)
        for i in range(5)
    ]
    writer.write(batch)
    writer.close()
    frame = ws.predictions.read("clf", last=4)
    assert list(frame["request_id"]) == ["r1", "r2", "r3", "r4"]
    assert list(frame["x"]) == [1.0, 2.0, 3.0, 4.0]
    assert ws.predictions.read("other").empty

    CallWriter(ws.db).write([{"kb": "desk", "provider": "extractive", "request_id": "q1"}])
    calls = ws.calls.read("desk")
    assert list(calls["request_id"]) == ["q1"] and list(calls["provider"]) == ["extractive"]

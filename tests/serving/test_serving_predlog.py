"""Prediction log: everything queued is written on close; overload sheds, counted and audited."""

from __future__ import annotations

import asyncio
import json
import time

import numpy as np
import sqlalchemy as sa

from prodline.serving import ServeOptions
from prodline.serving.batching import Outcome
from prodline.serving.payload import InputSpec, Parsed
from prodline.serving.predlog import LogRecord, PredictionLog
from prodline.serving.served import ServedModel
from prodline.store.tables import prediction_log
from prodline.workspace import Workspace

SPEC = InputSpec.from_signature([{"name": "x1", "type": "float"}, {"name": "x2", "type": "float"}])
SERVED = ServedModel("clf", "production", 3, 1, "fake", None, SPEC)  # type: ignore[arg-type]
SUBJECT = "deployment:clf@production"


def record(i: int) -> LogRecord:
    parsed = Parsed([[float(i)], [2.0]], 1, [{"x1": float(i), "x2": 2.0}])
    outcome = Outcome(SERVED, np.array([i % 2]), np.array([[0.25, 0.75]]), [0, 1])
    return (f"req-{i}", time.time(), parsed, outcome, 0.5)


def rows(ws: Workspace) -> list[sa.Row]:
    with ws.db.read() as conn:
        return list(conn.execute(sa.select(prediction_log).order_by(prediction_log.c.id)))


def test_every_queued_record_is_written_by_close(ws: Workspace) -> None:
    written: list[int] = []
    log = PredictionLog(
        ws,
        SUBJECT,
        ServeOptions(log_flush_interval_s=0.05, log_batch_size=64),
        on_written=written.append,
    )
    log.start()
    for i in range(300):
        assert log.offer(record(i))
    log.close()
    found = rows(ws)
    assert len(found) == 300 == log.written == sum(written)
    assert max(written) <= 64
    first = found[0]
    assert (first.request_id, first.model, first.version, first.latency_ms) == (
        "req-0",
        "clf",
        3,
        0.5,
    )
    assert json.loads(first.inputs) == [{"x1": 0.0, "x2": 2.0}]
    assert json.loads(first.outputs) == {
        "predictions": [0],
        "probabilities": [[0.25, 0.75]],
        "classes": [0, 1],
    }
    assert first.ts.endswith("+00:00")


def test_a_full_queue_sheds_after_backpressure_and_audits_the_count(sqlite_ws: Workspace) -> None:
    shed: list[int] = []
    opts = ServeOptions(log_queue_size=3, log_backpressure_s=0.01)
    log = PredictionLog(sqlite_ws, SUBJECT, opts, on_shed=shed.append)  # writer not started

    async def go() -> list[bool]:
        return [await log.put(record(i)) for i in range(10)]

    accepted = asyncio.run(go())
    assert accepted == [True] * 3 + [False] * 7
    assert log.shed == 7 == sum(shed)
    log.close()  # never started: flushes in the caller
    assert len(rows(sqlite_ws)) == 3
    events = sqlite_ws.audit.events(action="server.predictions_shed")
    assert [(e.subject, e.payload["count"], e.payload["total"]) for e in events] == [
        (SUBJECT, 7, 7)
    ]


def test_backpressure_waits_for_the_writer_instead_of_shedding(sqlite_ws: Workspace) -> None:
    opts = ServeOptions(log_queue_size=2, log_backpressure_s=5.0, log_flush_interval_s=10.0)
    log = PredictionLog(sqlite_ws, SUBJECT, opts)
    log.start()

    async def go() -> list[bool]:
        return [await log.put(record(i)) for i in range(40)]

    assert all(asyncio.run(go()))
    log.close()
    assert log.shed == 0 and len(rows(sqlite_ws)) == 40

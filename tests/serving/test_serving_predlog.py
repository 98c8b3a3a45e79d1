"""Prediction log: everything queued is written on close; overload sheds, counted and audited;
in durable mode a prediction is answered only once its record is committed, even under kill -9.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import httpx
import numpy as np
import pytest
import sqlalchemy as sa
from serving_support import HOST, World, free_port

from prodline.errors import StoreUnavailable
from prodline.ledger.predictions import PredictionReader
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
    assert first.ts.tzinfo is not None and abs(first.ts.timestamp() - time.time()) < 60
    frame = PredictionReader(ws.db, ws.artifacts).read("clf")
    assert list(frame.columns) == [
        "x1",
        "x2",
        "prediction",
        "proba_0",
        "proba_1",
        "request_id",
        "model",
        "version",
        "ts",
        "latency_ms",
    ]
    assert frame["request_id"].tolist() == [f"req-{i}" for i in range(300)]
    assert frame["x1"].tolist() == [float(i) for i in range(300)]
    assert frame["prediction"].tolist() == [i % 2 for i in range(300)]


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


# -- durable mode ----------------------------------------------------------------------
def test_durable_submit_returns_once_committed_and_groups_commits(sqlite_ws: Workspace) -> None:
    written: list[int] = []
    opts = ServeOptions(durable_log=True, log_flush_interval_s=10.0)
    log = PredictionLog(sqlite_ws, SUBJECT, opts, on_written=written.append)
    log.start()
    reader = PredictionReader(sqlite_ws.db, sqlite_ws.artifacts)

    async def one(i: int) -> int:
        await log.submit(record(i))
        # acknowledged: the record is in the store now, not merely queued
        return len(reader.read(request_id=f"req-{i}"))

    async def go() -> list[int]:
        return await asyncio.gather(*(one(i) for i in range(200)))

    t0 = time.monotonic()
    assert asyncio.run(go()) == [1] * 200
    assert time.monotonic() - t0 < 10.0  # woken per record, not by the 10 s flush interval
    assert sum(written) == 200
    assert len(written) < 200  # concurrent requests shared commits
    log.close()
    assert len(rows(sqlite_ws)) == 200


def test_durable_submit_fails_the_request_when_the_store_refuses(
    sqlite_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = PredictionLog(sqlite_ws, SUBJECT, ServeOptions(durable_log=True))
    log.start()

    def refuse(batch: object, **_: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(log._writer, "write", refuse)
    with pytest.raises(StoreUnavailable, match=r"not answered.*disk full"):
        asyncio.run(log.submit(record(1)))
    log.close()
    assert log.written == 0


KILL_SCRIPT = """
import sys
from prodline.serving import ServeOptions, serve
from prodline.workspace import Workspace
ws = Workspace.open(sys.argv[1])
serve(ws, "clf", "production", port=int(sys.argv[2]), options=ServeOptions(durable_log=True))
"""


@pytest.mark.slow
def test_kill_9_under_load_in_durable_mode_loses_no_acknowledged_prediction(
    make_world: Callable[[], World],
) -> None:
    world = make_world()
    port = free_port()
    url = f"http://{HOST}:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(world.home), str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    acknowledged: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    response = http.post(
                        "/v1/models/clf/predict", json={"inputs": [{"x1": i * 0.01, "x2": 1.0}]}
                    )
                except httpx.HTTPError:
                    if proc.poll() is not None:
                        return
                    time.sleep(0.02)  # not up yet
                    continue
                if response.status_code == 200:
                    acknowledged.append(response.json()["request_id"])

    threads = [threading.Thread(target=client) for _ in range(8)]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + 120
        while len(acknowledged) < 1500 and time.monotonic() < deadline:
            assert proc.poll() is None, proc.communicate()[1]
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)  # mid-load: requests are in flight
        proc.wait(30)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
        if proc.poll() is None:
            proc.kill()
    assert len(acknowledged) >= 1500, "the server did not answer enough requests in time"
    logged = set(PredictionReader(world.ws.db, world.ws.artifacts).read("clf")["request_id"])
    missing = [rid for rid in acknowledged if rid not in logged]
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged predictions lost"

"""End to end on real uvicorn servers on 127.0.0.1: clean stop, hot switch, overload, ports."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from serving_support import HOST, World, free_port, live_server, metric

from prodline.errors import Conflict
from prodline.serving import ServeOptions, serve
from prodline.store.tables import prediction_log

PREDICT = "/v1/models/clf/predict"
SERVE_SCRIPT = """
import sys
from prodline.serving import serve
from prodline.workspace import Workspace
serve(Workspace.open(sys.argv[1]), "clf", "production", host="127.0.0.1", port=int(sys.argv[2]))
print("serve() returned", flush=True)
"""


def expect(model: Any, a: float, b: float) -> list[int]:
    """The in-process prediction for one row."""
    return list(model.predict(pd.DataFrame({"x1": [a], "x2": [b]})).tolist())


def logged_ids(world: World) -> list[str]:
    with world.ws.db.read() as conn:
        return list(conn.execute(sa.select(prediction_log.c.request_id)).scalars())


def wait_ready(url: str, proc: subprocess.Popen[str], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise AssertionError("server did not become ready")


def test_clean_stop_logs_every_acknowledged_prediction(make_world: Callable[[], World]) -> None:
    world = make_world()
    port = free_port()
    url = f"http://{HOST}:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT, str(world.home), str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(url, proc)
        inputs = np.random.default_rng(7).normal(size=(240, 2)).round(3)

        def send(chunk: np.ndarray) -> list[tuple[str, list[int], list[int]]]:
            out = []
            with httpx.Client(base_url=url, timeout=10) as client:
                for a, b in chunk:
                    response = client.post(PREDICT, json={"inputs": [{"x1": a, "x2": b}]})
                    assert response.status_code == 200, response.text
                    body = response.json()
                    expected = expect(world.v1, a, b)
                    out.append((body["request_id"], body["predictions"], expected))
            return out

        with ThreadPoolExecutor(8) as pool:  # concurrent clients: batches form for real
            answers = [a for part in pool.map(send, np.array_split(inputs, 8)) for a in part]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"POST http://{HOST}:{port}/v1/models/clf/predict" in out
    assert "serve() returned" in out
    assert "Traceback" not in err
    assert all(got == expected for _, got, expected in answers)  # nobody got another's answer
    assert sorted(logged_ids(world)) == sorted(rid for rid, _, _ in answers)
    stopped = world.ws.audit.events(action="server.stopped")[0].payload
    assert (stopped["answered"], stopped["logged"], stopped["shed"]) == (240, 240, 0)


def test_promote_and_rollback_switch_while_serving_without_failures(
    make_world: Callable[[], World],
) -> None:
    world = make_world()
    good = {"inputs": [{"x1": 1.5, "x2": -0.5}]}
    by_version = {1: expect(world.v1, 1.5, -0.5), 2: expect(world.v2, 1.5, -0.5)}
    assert by_version[1] != by_version[2]
    results: list[tuple[float, int, Any, Any]] = []
    stop = threading.Event()
    with live_server(world.ws) as live:

        def hammer() -> None:
            with live.client() as client:
                while not stop.is_set():
                    try:
                        r = client.post(PREDICT, json=good)
                        body = r.json()
                        results.append(
                            (
                                time.monotonic(),
                                r.status_code,
                                body.get("version"),
                                body.get("predictions"),
                            )
                        )
                    except httpx.HTTPError as exc:
                        results.append((time.monotonic(), 0, None, str(exc)))

        def first_answer(version: int, after: float) -> float:
            deadline = after + 30  # a hang guard, not a latency claim (see bench/serving.py)
            while time.monotonic() < deadline:
                hits = [t for t, _, v, _ in list(results) if t > after and v == version]
                if hits:
                    return min(hits) - after
                time.sleep(0.01)
            return float("inf")

        threads = [threading.Thread(target=hammer) for _ in range(3)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        admin = world.open()
        moved = time.monotonic()
        admin.promote("clf", 2, "production")
        to_v2 = first_answer(2, moved)
        time.sleep(0.3)
        moved_back = time.monotonic()
        admin.rollback("clf", "production")
        to_v1 = first_answer(1, moved_back)
        time.sleep(0.2)
        stop.set()
        for t in threads:
            t.join(10)
        admin.close()
        text = httpx.get(f"{live.url}/metrics").text
    # Both moves were picked up while serving (how fast is a benchmark's business).
    assert to_v2 != float("inf") and to_v1 != float("inf"), (to_v2, to_v1)
    failures = [r for r in results if r[1] != 200]
    assert not failures, failures[:5]
    assert all(preds == by_version[v] for _, _, v, preds in results)
    assert {v for _, _, v, _ in results} == {1, 2}
    switched = [e.payload for e in reversed(world.ws.audit.events(action="server.model_switched"))]
    assert [(p["from_version"], p["to_version"]) for p in switched] == [(1, 2), (2, 1)]
    assert metric(text, "prodline_model_switches_total", model="clf") == 2
    assert metric(text, "prodline_requests_total", model="clf", version="2", status="200") > 0


def test_overload_sheds_counts_and_audits(make_world: Callable[[], World]) -> None:
    world = make_world()
    opts = ServeOptions(
        log_queue_size=2, log_backpressure_s=0.01, log_flush_interval_s=0.02, poll_interval_s=30
    )
    with live_server(world.ws, options=opts) as live:
        # The store stalls: another process holds the write lock, so the log cannot drain.
        blocker = sqlite3.connect(world.home / "prodline.db", timeout=30, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with live.client() as client:
                codes = [
                    client.post(PREDICT, json={"inputs": [{"x1": 1.0, "x2": float(i)}]}).status_code
                    for i in range(30)
                ]
                text = client.get("/metrics").text
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
    assert codes == [200] * 30  # the requests themselves are never failed by the log
    shed = metric(text, "prodline_prediction_log_shed_total", model="clf")
    assert shed >= 20
    stopped = world.ws.audit.events(action="server.stopped")[0].payload
    assert stopped["shed"] == shed
    assert len(logged_ids(world)) + shed == 30 == stopped["logged"] + stopped["shed"]
    audited = world.ws.audit.events(action="server.predictions_shed")
    assert sum(e.payload["count"] for e in audited) == shed


def test_a_taken_port_is_a_clear_error(make_world: Callable[[], World]) -> None:
    world = make_world()
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(Conflict, match=f"Cannot listen on {HOST}:{port}.*--port"):
            serve(world.ws, "clf", "production", host=HOST, port=port)

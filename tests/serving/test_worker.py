"""The worker: one lease holder runs the schedule; restarts keep it; missed runs run once."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression

from prodline.monitor.alerts import Alert
from prodline.serving.worker import LEASE, Worker
from prodline.store.leases import Leases
from prodline.workspace import Workspace


def _model(ws: Workspace) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=100), "b": rng.normal(size=100)})
    frame["y"] = (frame["a"] > 0).astype(int)
    ws.datasets.register(frame, name="d", owner="team")
    model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
    ws.models.register(model, name="m", trained_on=["d@1"], git_commit="")
    ws.promote("m", 1, "production")


def test_a_schedule_survives_a_restart_and_a_missed_run_runs_once(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    _model(ws)
    ws.monitors.create("every-minute", model="m@production", every="1m")
    first = Worker(ws, holder="w1")
    assert first.tick().runs == [("every-minute", "passed")]
    assert first.tick().runs == []  # not due again for a minute
    first.stop()
    first.run()  # stops at once, releasing the lease
    assert Leases(ws.db).holder(LEASE) is None

    again = Worker(ws, holder="w2")  # a restart: the schedule is in the store
    assert again.tick().runs == []
    nxt = ws.monitors.get("every-minute").next_run_at
    assert nxt is not None and nxt > datetime.now(UTC) + timedelta(seconds=50)

    ws.monitors.reschedule("every-minute", datetime.now(UTC) - timedelta(minutes=30))
    assert again.tick().runs == [("every-minute", "passed")]  # 30 missed periods: one run
    assert again.tick().runs == []
    nxt = ws.monitors.get("every-minute").next_run_at
    assert nxt is not None and nxt > datetime.now(UTC) + timedelta(seconds=50)
    assert [r.runner for r in ws.monitors.runs("every-minute")] == ["w2", "w1"]


def test_only_the_lease_holder_works(make_ws: Any, tmp_path: Path) -> None:
    ws_a, ws_b = make_ws(), make_ws()
    _model(ws_a)
    ws_a.monitors.create("often", model="m@production", every="1s")
    a, b = Worker(ws_a, holder="a", ttl_s=30), Worker(ws_b, holder="b", ttl_s=30)
    assert a.tick().held and not b.tick().held
    ws_a.monitors.reschedule("often", datetime.now(UTC) - timedelta(seconds=5))
    assert b.tick().runs == [] and a.tick().runs == [("often", "passed")]
    a.stop()
    a.run()  # releases the lease: b takes over on its next tick
    assert b.tick().held


def test_alert_hooks_see_each_alert_once_and_steps_run(sqlite_ws: Workspace) -> None:
    seen: list[Alert] = []
    steps: list[str] = []
    worker = Worker(sqlite_ws, holder="w")
    worker.on_alert(lambda ws, alert: seen.append(alert))
    worker.on_alert(lambda ws, alert: 1 / 0)  # a broken hook does not stop the others
    worker.every("count", 3600, lambda ws: steps.append("ran"))
    first = sqlite_ws.alerts.add("rollback", "rolled back m", subject="model:m@production")
    assert worker.tick().dispatched == 1
    second = sqlite_ws.alerts.add("data_drift", "drift", subject="model:m@2")
    worker.tick()
    worker.tick()
    assert [a.id for a in seen] == [first.id, second.id] and seen[0].kind == "rollback"
    assert steps == ["ran"]


def _start(home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "PRODLINE_HOME": str(home), "PRODLINE_ACTOR": "tester"}
    code = "from prodline.cli.main import run; run()"
    return subprocess.Popen(
        [sys.executable, "-c", code, "worker", "--tick", "0.2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_worker_processes_never_run_the_same_schedule(make_ws: Any, tmp_path: Path) -> None:
    ws = make_ws()
    _model(ws)
    ws.monitors.create("tick", model="m@production", every="1s")
    workers = [_start(tmp_path / "home"), _start(tmp_path / "home")]
    try:
        deadline = time.monotonic() + 60
        while len(ws.monitors.runs("tick")) < 4 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        for proc in workers:
            proc.send_signal(signal.SIGTERM)
        outputs = [proc.communicate(timeout=30)[0] for proc in workers]
    assert [proc.returncode for proc in workers] == [0, 0], outputs
    runs = ws.monitors.runs("tick", limit=100)
    assert len(runs) >= 4, outputs
    assert len({r.runner for r in runs}) == 1, outputs  # one holder ran every run
    starts = sorted(r.started_at for r in runs)
    assert all(b - a >= timedelta(seconds=0.9) for a, b in itertools.pairwise(starts))
    assert sum("waits: the scheduler lease is held by" in out for out in outputs) == 1, outputs
    assert all("released the scheduler lease" in out for out in outputs if "holds" in out)
    assert Leases(ws.db).holder(LEASE) is None

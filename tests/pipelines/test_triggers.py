"""Triggers (alert, new dataset version, schedule) and runs whose process died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from prodline.pipelines import PipelineSettings
from prodline.workspace import Workspace

Setup = Callable[..., Workspace]


@dataclass(frozen=True)
class FakeAlert:
    id: int
    monitor: str | None
    kind: str = "data_drift"


def _register(ws: Workspace, path: Path, *triggers: str, fn: str = "good") -> None:
    ws.pipelines.register(
        "retrain",
        entrypoint=f"{path}:{fn}",
        dataset="d",
        model="m",
        settings=PipelineSettings(promote="auto", triggers=triggers),
    )


def test_an_alert_of_the_named_monitor_starts_one_run(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws)
    _register(ws, pipeline_file, "alert:credit-drift")
    assert ws.pipelines.on_alert(FakeAlert(1, "other-monitor")) == []
    assert ws.pipelines.on_alert(FakeAlert(2, "credit-drift", kind="rollback")) == []
    [run] = ws.pipelines.on_alert(FakeAlert(3, "credit-drift"))
    assert run.trigger == "alert" and run.trigger_key == "alert:3:retrain"
    assert run.status == "succeeded" and ws.models.alias_state("m", "production") == (2, 2)
    assert ws.pipelines.on_alert(FakeAlert(3, "credit-drift")) == []  # handed over again
    assert len(ws.pipelines.runs("retrain")) == 1 and len(ws.models.versions("m")) == 2


def test_a_new_dataset_version_starts_one_run_on_it(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path, make_frame: Callable[..., Any]
) -> None:
    ws = setup(sqlite_ws)
    _register(ws, pipeline_file, "dataset")
    assert ws.pipelines.tick() == []  # d@1 existed before the pipeline: nothing new
    ws.datasets.register(make_frame(seed=5, shift=0.5), name="d", owner="team")
    [run] = ws.pipelines.tick()
    assert run.trigger == "dataset" and run.dataset == "d@2"
    assert ws.pipelines.tick() == []


def test_a_schedule_runs_once_per_period_and_missed_periods_once(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws)
    _register(ws, pipeline_file, "schedule:1h", fn="weak")
    created = ws.pipelines.get("retrain").created_at
    assert ws.pipelines.tick(now=created + timedelta(minutes=30)) == []  # first period
    later = created + timedelta(hours=5, minutes=1)  # the worker was down for 5 periods
    [run] = ws.pipelines.tick(now=later)
    assert run.trigger == "schedule"
    assert ws.pipelines.tick(now=later + timedelta(minutes=1)) == []
    assert len(ws.pipelines.tick(now=later + timedelta(hours=1))) == 1
    assert len(ws.pipelines.runs("retrain")) == 2


def test_a_trigger_that_cannot_run_is_audited_not_raised(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws)
    ws.pipelines.register(
        "retrain",
        entrypoint=f"{pipeline_file}:good",
        dataset="d",
        model="m",
        alias="shadow",
        settings=PipelineSettings(triggers=("alert:credit-drift",)),
    )
    assert ws.pipelines.on_alert(FakeAlert(9, "credit-drift")) == []
    [event] = ws.audit.events(action="pipeline.trigger_refused")
    assert "has no alias 'shadow'" in event.payload["reason"]


def test_a_run_whose_process_was_killed_is_marked_failed(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws)
    _register(ws, pipeline_file, fn="slow")
    script = (
        "import prodline as pl\n"
        f"ws = pl.Workspace.open({str(ws.home)!r})\n"
        "ws.pipelines.run('retrain')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], env=dict(os.environ))
    marker = pipeline_file.with_suffix(".started")
    deadline = time.monotonic() + 60
    while not marker.exists() and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it was killed"
        time.sleep(0.1)
    [running] = ws.pipelines.runs("retrain")
    assert running.status == "running" and running.pid == proc.pid
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)

    [dead] = ws.pipelines.runs("retrain")
    assert dead.status == "failed" and dead.finished_at is not None
    assert f"its process (pid {proc.pid}" in (dead.error or "") and "is gone" in (dead.error or "")
    assert ws.models.alias_state("m", "production") == (1, 1)
    assert "pipeline.run_abandoned" in [e.action for e in ws.audit.events(limit=20)]


def test_a_run_on_another_host_without_heartbeat_is_marked_failed(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    import sqlalchemy as sa

    from prodline.store.tables import pipeline_runs

    ws = setup(sqlite_ws)
    _register(ws, pipeline_file, fn="weak")
    run = ws.pipelines.run("retrain")
    old = datetime.now(UTC) - timedelta(minutes=10)
    with ws.db.tx() as conn:  # what a run on a machine that lost power leaves behind
        conn.execute(
            sa.update(pipeline_runs).values(
                status="running", host="elsewhere", pid=1, heartbeat_at=old, finished_at=None
            )
        )
    [dead] = ws.pipelines.runs("retrain")
    assert dead.number == run.number and dead.status == "failed"
    assert "no heartbeat from pid 1 on elsewhere" in (dead.error or "")


@pytest.mark.parametrize("every", ["30s", "10m", "6h", "1d"])
def test_schedule_periods_parse(every: str) -> None:
    from prodline.pipelines.triggers import parse_trigger

    assert parse_trigger(f"schedule:{every}").every is not None

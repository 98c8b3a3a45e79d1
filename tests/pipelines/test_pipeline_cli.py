"""``prodline pipeline register|run|list|show|approve`` as a user types them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prodline.workspace import Workspace


def test_register_run_list_show_and_mistakes(
    cli: Callable[..., Any],
    tmp_path: Path,
    setup: Callable[..., Workspace],
    pipeline_file: Path,
) -> None:
    with Workspace.open(tmp_path / "home") as ws:
        setup(ws)
    reg = cli(
        "pipeline", "register", "retrain", "--entrypoint", f"{pipeline_file}:good",
        "--dataset", "d", "--model", "m", "--promote", "auto", "--margin", "0.05",
        "--trigger", "alert:credit-drift", "--rollback-margin", "0.1",
    )  # fmt: skip
    assert reg.code == 0, reg.err
    assert "registered pipeline retrain" in reg.out and "m@production (promote auto)" in reg.out

    ran = cli("pipeline", "run", "retrain", "--dataset", "d@1")
    assert ran.code == 0, ran.err + ran.out
    assert "run retrain@1: succeeded" in ran.out and "promoted v2 to production" in ran.out

    listed = json.loads(cli("pipeline", "list", "--json").out)
    assert listed[0]["name"] == "retrain" and listed[0]["last_run"]["status"] == "succeeded"
    assert listed[0]["settings"]["rollback"] == {
        "metric": "accuracy",
        "margin": 0.1,
        "min_labels": 200,
    }
    shown = json.loads(cli("pipeline", "show", "retrain", "--json").out)
    assert shown["runs"][0]["metrics"]["candidate_wins"] is True
    table = cli("pipeline", "show", "retrain")
    assert table.code == 0 and "alert:credit-drift" in table.out and "succeeded" in table.out
    one = json.loads(cli("pipeline", "show", "retrain", "--run", "1", "--json").out)
    assert one["ref"] == "retrain@1" and one["candidate_version"] == 2

    bad = cli("pipeline", "register", "x", "--entrypoint", "nope_mod:f", "--dataset", "d",
              "--model", "m")  # fmt: skip
    assert bad.code == 2 and bad.err.startswith("error: Pipeline entrypoint 'nope_mod:f' does")
    assert len(bad.err.strip().splitlines()) == 1
    missing = cli("pipeline", "run", "nope")
    assert missing.code == 2 and "Pipeline 'nope' does not exist" in missing.err
    no_run = cli("pipeline", "approve", "retrain", "1")
    assert no_run.code == 2 and "not awaiting approval" in no_run.err


def test_a_failed_run_exits_1_and_prints_the_traceback(
    cli: Callable[..., Any],
    tmp_path: Path,
    setup: Callable[..., Workspace],
    pipeline_file: Path,
) -> None:
    with Workspace.open(tmp_path / "home") as ws:
        setup(ws)
    cli("pipeline", "register", "retrain", "--entrypoint", f"{pipeline_file}:broken",
        "--dataset", "d", "--model", "m")  # fmt: skip
    ran = cli("pipeline", "run", "retrain")
    assert ran.code == 1
    assert "run retrain@1: failed" in ran.out and "feature store unreachable" in ran.out
    assert "Traceback" in ran.out

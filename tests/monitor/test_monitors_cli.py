"""``prodline monitor`` / ``alerts`` / ``worker`` as a user types them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from monitor_support import log_window, setup_model

from prodline.cli.main import run
from prodline.workspace import Workspace


def _cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.setattr(sys, "argv", ["prodline", *args])
    code = 0
    try:
        run()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_monitor_commands_end_to_end(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("PRODLINE_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    with Workspace.open(home) as ws:
        setup_model(ws)
        log_window(ws, 300, shift=2.0)

    def cli(*args: str) -> tuple[int, str, str]:
        return _cli(capsys, monkeypatch, *args)

    code, _, err = cli("monitor", "create", "w", "--model", "m@prod")
    assert code == 2 and err.startswith("error: Cannot create monitor 'w' on m@prod")
    assert "\n" not in err.strip()
    code, _, err = cli("monitor", "create", "w", "--model", "m@production", "--checks", "nope")
    assert code == 2 and "unknown check(s) nope" in err
    code, out, err = cli(
        "monitor", "create", "w", "--model", "m@production", "--reference", "d@1",
        "--window", "300", "--checks", "data_drift,prediction_drift", "--every", "10m",
    )  # fmt: skip
    assert code == 0, err
    assert "monitor w watches m@production: data_drift, prediction_drift" in out

    code, out, _ = cli("monitor", "run", "w", "--json")
    result = json.loads(out)
    assert code == 0 and result["status"] == "failed" and result["alerts"] == 1
    code, out, _ = cli("monitor", "run", "w")
    assert code == 0 and "data_drift" in out and "1 alert(s) raised" in out

    code, out, _ = cli("monitor", "list", "--json")
    assert [m["name"] for m in json.loads(out)] == ["w"]
    code, out, _ = cli("monitor", "list")
    assert code == 0 and "m@production" in out
    code, out, _ = cli("monitor", "show", "w", "--json")
    shown = json.loads(out)
    assert shown["every"] == "10m" and len(shown["runs"]) == 2
    code, out, _ = cli("monitor", "show", "w")
    assert code == 0 and "recent runs" in out

    code, out, _ = cli("alerts", "list", "--json")
    alerts = json.loads(out)
    assert [a["kind"] for a in alerts] == ["data_drift", "data_drift"]
    code, out, _ = cli("alerts", "list")
    assert code == 0 and "data_drift" in out

    report = tmp_path / "report.html"
    code, out, _ = cli("monitor", "report", "w", "--html", str(report))
    assert code == 0 and "<svg" in report.read_text()
    code, _, err = cli("monitor", "report", "zz", "--html", str(report))
    assert code == 2 and "Monitor 'zz' does not exist; monitors are: w" in err

    code, out, err = cli("worker", "--once")
    assert code == 0, err
    assert "holds the scheduler lease" in out and "released the scheduler lease" in out

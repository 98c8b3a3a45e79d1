"""In-process pieces: charts, sessions, and the dashboard with authentication off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from fastapi import FastAPI
from fastapi.testclient import TestClient
from ui_support import csrf_of

from prodline import Workspace
from prodline.ui import build_ui
from prodline.ui.charts import histogram, line_chart
from prodline.ui.routes_monitors import drift_chart, performance_chart
from prodline.ui.sessions import SessionStore


def test_line_chart_escapes_and_leaves_gaps() -> None:
    svg = line_chart("<t>", ["a", "b", "c"], {"s<1>": [0.1, None, 0.3]}, threshold=0.2)
    assert svg.startswith("<svg") and "&lt;t&gt;" in svg and "s&lt;1&gt;" in svg
    assert 'class="threshold"' in svg and "<polyline" not in svg  # two 1-point segments
    assert "no data yet" in line_chart("empty", [], {})


def test_histogram_has_one_bar_per_bin() -> None:
    svg = histogram("age", [0.0, 1.0, 2.0, 3.0], [1, 5, 2])
    assert svg.count("<rect") == 3 and 'data-testid="chart-histogram"' in svg


def test_monitor_charts_read_run_summaries() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    runs = [
        SimpleNamespace(
            started_at=start + timedelta(hours=i),
            summary={
                "checks": {
                    "data_drift": {"status": "passed", "share": i / 10},
                    "performance": {"value": 0.9 - i / 100, "metric": "auc", "threshold": 0.85},
                }
            },
        )
        for i in range(4)
    ]
    drift = drift_chart(runs)
    assert 'data-testid="drift-chart"' in drift and "data_drift" in drift and "<polyline" in drift
    perf = performance_chart(runs)
    assert "auc per run" in perf and 'class="threshold"' in perf


def test_sessions_are_random_and_forgotten() -> None:
    store = SessionStore()
    a, b = store.create(token="t"), store.create()
    assert a.id != b.id and len(a.id) >= 43 and a.csrf != b.csrf
    assert store.get(a.id) is a and store.get("forged") is None
    assert a.csrf_ok(a.csrf) and not a.csrf_ok(b.csrf) and not a.csrf_ok(None)
    store.delete(a.id)
    assert store.get(a.id) is None


def test_without_auth_the_server_workspace_acts(tmp_path: object) -> None:
    ws = Workspace.open(str(tmp_path))
    try:
        app = FastAPI()
        app.include_router(build_ui(ws, auth=False))
        with TestClient(app, follow_redirects=False) as client:
            assert client.get("/login").headers["location"] == "/"
            page = client.get("/audit")
            assert page.status_code == 200 and "(admin)" in page.text
            assert "prodline_session" in page.cookies
            assert client.post("/audit/verify", data={}).status_code == 403
            r = client.post("/audit/verify", data={"csrf_token": csrf_of(page.text)})
            assert r.status_code == 303
            assert "Audit log verified" in client.get("/audit").text
            assert client.get("/models/none").status_code == 404
    finally:
        ws.close()

"""Monitors: validation on create, runs that record evidence/audit/lineage, alerts, reports."""

from __future__ import annotations

import re

import pytest
from monitor_support import log_window, send_labels, setup_model

from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.workspace import Workspace


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"model": "m@prod"}, NotFound, "Cannot create monitor 'w' on m@prod"),
        ({"model": "nope@production"}, NotFound, "nope"),
        ({"model": "m@1"}, InvalidInput, "must watch an alias, not version 1"),
        ({"model": "m"}, InvalidInput, "needs a version or alias"),
        ({}, InvalidInput, "needs exactly one target"),
        ({"model": "m@production", "checks": ["bogus"]}, InvalidInput, "unknown check(s) bogus"),
        ({"model": "m@production", "checks": ["data_drift"]}, InvalidInput, "add --reference"),
        ({"model": "m@production", "reference": "d@9"}, NotFound, "no version 9"),
        ({"model": "m@production", "window": "1 fortnight"}, InvalidInput, "window '1 fortnight'"),
        ({"model": "m@production", "every": "often"}, InvalidInput, "every 'often'"),
    ],
)
def test_create_refuses_bad_monitors(
    sqlite_ws: Workspace, kwargs: dict[str, object], error: type[Exception], message: str
) -> None:
    setup_model(sqlite_ws)
    with pytest.raises(error) as info:
        sqlite_ws.monitors.create("w", **kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)


def test_create_pins_the_reference_and_refuses_a_duplicate(sqlite_ws: Workspace) -> None:
    setup_model(sqlite_ws)
    mon = sqlite_ws.monitors.create(
        "w", model="m@production", reference="d", window="1h", every="10m"
    )
    assert mon.reference == "d@1" and mon.window == "1h" and mon.every_seconds == 600
    assert mon.checks == ("data_drift", "prediction_drift") and mon.next_run_at is not None
    assert [m.name for m in sqlite_ws.monitors.list()] == ["w"]
    with pytest.raises(Conflict, match="already exists"):
        sqlite_ws.monitors.create("w", model="m@production")
    assert sqlite_ws.audit.events(action="monitor.create")[0].subject == "monitor:w"


def test_a_drifted_window_fails_records_and_alerts(ws: Workspace) -> None:
    setup_model(ws)
    ws.monitors.create("drift", model="m@production", reference="d@1", window="300")
    log_window(ws, 300, shift=0.0, seed=1)
    calm = ws.monitors.run("drift")
    assert calm.status == "passed", calm.summary
    assert calm.summary["checks"]["data_drift"]["status"] == "passed"
    assert calm.alerts == 0 and ws.alerts.list() == []

    log_window(ws, 300, shift=1.5, seed=2, start=1000)
    run = ws.monitors.run("drift")
    assert run.status == "failed" and run.model_version == 1
    checks = run.summary["checks"]
    assert checks["data_drift"]["status"] == "failed"
    assert set(checks["data_drift"]["drifted"]) >= {"a", "b"}
    assert checks["prediction_drift"]["status"] in ("passed", "failed")
    kinds = {a.kind for a in ws.alerts.list(monitor="drift")}
    assert "data_drift" in kinds and run.alerts == len(kinds)
    alert = ws.alerts.list(kind="data_drift")[0]
    assert alert.subject == "model:m@1" and alert.run_id == run.id
    assert "a" in alert.payload["drifted"]
    assert alert.message.startswith("drift on m@production: data drift: ")

    evidence = ws.evidence.list(subject="model:m@1", kind="monitor")
    assert [e.passed for e in evidence] == [True, False]
    assert evidence[-1].artifact == run.report_artifact
    assert {e.subject for e in ws.audit.events(action="monitor.run")} == {
        f"monitor:drift@{calm.id}",
        f"monitor:drift@{run.id}",
    }
    assert ws.audit.events(action="alert.raised")[0].subject == "model:m@1"
    assert ws.audit.verify().ok
    tree = ws.lineage.upstream(f"monitor:drift@{run.id}")
    assert [p.id for p in tree.parents] == ["model:m@1"]
    assert [r.id for r in ws.monitors.runs("drift")] == [run.id, calm.id]


def test_the_report_opens_offline(sqlite_ws: Workspace) -> None:
    setup_model(sqlite_ws)
    sqlite_ws.monitors.create("drift", model="m@production", reference="d@1", window="300")
    log_window(sqlite_ws, 300, shift=2.0)
    sqlite_ws.monitors.run("drift")
    html = sqlite_ws.monitors.report_html("drift").decode()
    assert html.count("<svg") >= 2 and "<figcaption>a: reference vs current" in html
    assert not re.search(r"(https?:)?//|<script|<link|src=|href=|@import", html), (
        "the report must not load anything from elsewhere"
    )


def test_performance_drop_alerts_with_the_numbers(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    setup_model(ws)
    ws.monitors.create(
        "perf", model="m@production", window="400", checks=["performance", "concept"]
    )
    ids = log_window(ws, 200, wrong=0.02, seed=3)
    skipped = ws.monitors.run("perf")
    assert skipped.summary["checks"]["performance"]["status"] == "skipped"
    assert "needs at least 30" in skipped.summary["checks"]["performance"]["message"]
    send_labels(ws, ids)
    ok = ws.monitors.run("perf")
    assert ok.summary["checks"]["performance"]["status"] == "passed", ok.summary
    ids = log_window(ws, 200, wrong=0.5, seed=4, start=500)
    send_labels(ws, ids)
    run = ws.monitors.run("perf")
    perf = run.summary["checks"]["performance"]
    assert perf["status"] == "failed" and perf["metric"] == "accuracy"
    assert perf["threshold"] == pytest.approx(0.90) and perf["value"] < 0.85
    assert run.summary["checks"]["concept"]["status"] == "failed"
    alert = ws.alerts.list(kind="performance_drop")[0]
    assert alert.severity == "critical" and "below 0.9" in alert.message
    assert alert.payload["value"] == perf["value"]


def test_an_empty_window_skips_and_a_vanished_alias_is_an_error_run(sqlite_ws: Workspace) -> None:
    setup_model(sqlite_ws)
    sqlite_ws.monitors.create("m1", model="m@production", reference="d@1")
    run = sqlite_ws.monitors.run("m1")
    assert run.status == "passed"
    assert {c["status"] for c in run.summary["checks"].values()} == {"skipped"}
    with pytest.raises(NotFound, match="Monitor 'zz' does not exist; monitors are: m1"):
        sqlite_ws.monitors.run("zz")


def test_a_knowledge_base_monitor_alerts_on_ungrounded_answers(sqlite_ws: Workspace) -> None:
    from prodline.ledger.calls import CallWriter

    ws = sqlite_ws
    ws.kbs.create("desk", owner="support")
    with pytest.raises(InvalidInput, match="knowledge-base monitor knows groundedness, rag_drift"):
        ws.monitors.create("g", kb="desk", checks=["data_drift"])
    mon = ws.monitors.create("g", kb="desk", window="100")
    assert mon.checks == ("groundedness",) and mon.target == "kb:desk"

    def calls(scores: list[float], start: int) -> None:
        CallWriter(ws.db).write(
            [
                {"kb": "desk", "request_id": f"q{start + i}", "groundedness": g, "latency_ms": 5}
                for i, g in enumerate(scores)
            ]
        )

    calls([0.9] * 40, 0)
    assert ws.monitors.run("g").status == "passed"
    calls([0.1] * 30 + [0.9] * 30, 100)
    run = ws.monitors.run("g")
    check = run.summary["checks"]["groundedness"]
    assert run.status == "failed" and check["share_below"] == pytest.approx(0.3)
    alert = ws.alerts.list(kind="groundedness_low")[0]
    assert alert.subject == "kb:desk@live" and "30.0% of 100 answers" in alert.message

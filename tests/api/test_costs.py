"""``/api/v1`` costs routes over a real control plane: events, KPIs, budgets, reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from prodline.api import ControlPlane
from prodline.workspace import Workspace


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    with Workspace.open(tmp_path_factory.mktemp("costs") / "home", actor="tester") as ws:
        ws.costs.kpis.create(
            "grounded", definition="share of grounded answers", source="events",
            aggregate="rate", baseline=0.5, target=0.8, direction="up",
            value_per_unit_usd=2.0, window="day",
        )  # fmt: skip
        ws.costs.budgets.create(
            "desk", scope_kind="kb", scope="desk", period="month", amount_usd=5, hard=True
        )
        tokens = {}
        for role, user in (("admin", "ada"), ("service", "svc"), ("auditor", "aud")):
            ws.identity.add_user(user, role)
            tokens[role] = ws.identity.create_token(user)[1]
        with ControlPlane(ws, scheduler=False, ui=False) as cp:
            yield cp.url, tokens


def _client(plane: tuple[str, dict[str, str]], role: str) -> httpx.Client:
    url, tokens = plane
    return httpx.Client(
        base_url=url + "/api/v1", headers={"authorization": f"Bearer {tokens[role]}"}, timeout=30
    )


def test_events_are_accepted_and_counted_in_their_windows(
    plane: tuple[str, dict[str, str]],
) -> None:
    now = datetime.now(UTC)
    with _client(plane, "service") as svc:
        one = svc.post("/events", json={"kpi": "grounded", "value": 1})
        assert one.status_code == 202 and one.json() == {"accepted": 1, "kpis": {"grounded": 1}}
        # out of order: the older event comes last and still lands in yesterday's window
        batch = svc.post(
            "/events",
            json={"events": [
                {"kpi": "grounded", "value": 0, "ts": now.isoformat()},
                {"kpi": "grounded", "value": 1, "ts": (now - timedelta(days=1)).isoformat()},
            ]},
        )  # fmt: skip
        assert batch.status_code == 202 and batch.json()["accepted"] == 2
    with _client(plane, "auditor") as aud:
        body = aud.get("/kpis/grounded", params={"windows": 2, "period": "7d"}).json()
        assert [(w["n"], w["value"]) for w in body["windows"]] == [(1, 1.0), (2, 0.5)]
        assert body["roi"]["n"] == 3 and body["roi"]["current"] == pytest.approx(2 / 3)
        listed = aud.get("/kpis").json()
        assert listed["total"] == 1 and listed["items"][0]["name"] == "grounded"


def test_bad_events_are_4xx_naming_the_field(plane: tuple[str, dict[str, str]]) -> None:
    with _client(plane, "service") as svc:
        unknown = svc.post("/events", json={"kpi": "nope", "value": 1})
        assert unknown.status_code == 404
        error = unknown.json()["error"]
        assert error["details"]["field"] == "kpi" and "KPI 'nope'" in error["message"]
        for value in ("abc", None, [1]):
            bad = svc.post("/events", json={"kpi": "grounded", "value": value})
            assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "value"
        mixed = svc.post(
            "/events", json={"events": [{"kpi": "grounded", "value": 1}, {"kpi": "x", "value": 1}]}
        )
        assert mixed.status_code == 404
        assert svc.post("/events", json={"events": "lots"}).json()["error"]["details"] == {
            "field": "events"
        }
        assert svc.post("/events", content=b"[1, 2]").status_code == 422
    with _client(plane, "auditor") as aud:  # an auditor reads, never records
        assert aud.post("/events", json={"kpi": "grounded", "value": 1}).status_code == 403
    url, _ = plane
    assert (
        httpx.post(url + "/api/v1/events", json={"kpi": "grounded", "value": 1}).status_code == 401
    )


def test_budgets_and_cost_report(plane: tuple[str, dict[str, str]]) -> None:
    with _client(plane, "auditor") as aud:
        budgets = aud.get("/budgets").json()
        assert budgets["total"] == 1
        first = budgets["items"][0]
        assert first["budget"]["name"] == "desk" and first["state"] == "ok"
        assert aud.get("/budgets/desk").json()["spent_usd"] == 0
        assert aud.get("/budgets/nope").status_code == 404
        report = aud.get("/costs", params={"by": "kb", "period": "7d"})
        assert report.status_code == 200 and report.json()["by"] == "kb"
        bad = aud.get("/costs", params={"by": "planet"})
        assert bad.status_code == 422 and bad.json()["error"]["details"]["field"] == "by"

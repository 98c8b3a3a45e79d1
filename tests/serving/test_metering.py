"""Metering and hard budgets on the prediction server: each request is metered off the
request path (CPU ms of its share of the batch, rows, team, model, token user), metering
can be turned off, and a spent hard budget refuses with 429 naming it."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from serving_support import World, live_server, metric

from prodline.errors import InvalidInput
from prodline.serving import ServeOptions, create_app

PREDICT = "/v1/models/clf/predict"
ROWS = [{"x1": 0.5, "x2": 1.0}, {"x1": -0.3, "x2": 0.2}, {"x1": 1.5, "x2": -1.0}]
# 1 USD per CPU millisecond: the first metered request spends any small budget
PRICES = """currency: USD
tokens:
  extractive/extractive: {input: 0, output: 0}
compute:
  cpu_core_hour: 3600000
  gpu_hour: 0
  memory_gb_hour: 0
"""


def _scan(world: World) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    table = world.ws.costs.meter.scan(now - timedelta(hours=1), now + timedelta(hours=1))
    return sorted(table.to_pylist(), key=lambda r: r["request_id"])


def test_each_request_is_metered_with_its_cpu_share_rows_team_and_model(
    make_world: Callable[[], World],
) -> None:
    world = make_world()
    with live_server(world.ws) as live, live.client() as client:
        for i, rows in enumerate((ROWS[:1], ROWS, ROWS[1:])):
            resp = client.post(PREDICT, json={"inputs": rows}, headers={"x-request-id": f"m-{i}"})
            assert resp.status_code == 200, resp.text
        time.sleep(0.4)  # the log writer flushes every 0.2 s
        text = client.get("/metrics").text
    records = _scan(world)  # the meter is flushed when the server stops
    assert [r["request_id"] for r in records] == ["m-0", "m-1", "m-2"]
    assert [r["rows"] for r in records] == [1, 3, 2]
    owner = world.ws.models.model("clf").owner
    for r in records:
        assert r["kind"] == "predict" and r["model"] == "clf" and r["version"] == 1
        assert r["team"] == owner and r["kb"] == "" and r["token_user"] == ""
        assert r["cpu_ms"] > 0 and r["latency_ms"] > 0 and r["gpu_ms"] == 0
        assert r["input_tokens"] == 0 and r["output_tokens"] == 0 and r["provider"] == ""
    compute = metric(text, "prodline_compute_ms_total", route="self-hosted/clf", team=owner)
    assert compute is not None and compute > 0


def test_metering_off_writes_no_records(make_world: Callable[[], World]) -> None:
    world = make_world()
    (world.home / "prodline.toml").write_text("[cost]\nmetering = false\n", encoding="utf-8")
    with live_server(world.ws) as live, live.client() as client:
        for _ in range(3):
            assert client.post(PREDICT, json={"inputs": ROWS}).status_code == 200
    assert _scan(world) == []
    logged = world.ws.predictions.read("clf")  # the prediction log is unaffected
    assert logged["request_id"].nunique() == 3


def test_a_spent_hard_budget_refuses_with_429_naming_it(make_world: Callable[[], World]) -> None:
    world = make_world()
    ws = world.ws
    ws.costs.prices.set(PRICES)
    ws.costs.budgets.create(
        "clf-daily", scope_kind="model", scope="clf", period="day", amount_usd=0.001, hard=True
    )
    refused: httpx.Response | None = None
    with live_server(ws) as live, live.client() as client:
        deadline = time.monotonic() + 5.0
        while refused is None and time.monotonic() < deadline:
            resp = client.post(PREDICT, json={"inputs": ROWS})
            if resp.status_code == 429:
                refused = resp
            else:
                assert resp.status_code == 200, resp.text
                time.sleep(0.05)
        assert refused is not None, "the budget was never enforced"
        error = refused.json()["error"]
        assert error["code"] == "budget_exceeded"
        assert error["details"]["budget"] == "clf-daily" and "'clf-daily'" in error["message"]
        assert refused.json()["request_id"]
        text = client.get("/metrics").text
        assert metric(text, "prodline_requests_total", model="clf", version="1", status="429")
    status = ws.costs.budgets.status("clf-daily")
    assert status.spent_usd >= 0.001 and status.state == "exceeded"
    assert status.reserved_usd == 0  # every reservation settled or released


def test_token_user_is_the_authenticated_user(make_world: Callable[[], World]) -> None:
    world = make_world()
    ws = world.ws
    ws.identity.add_user("ada", "admin")
    ws.identity.add_user("app", "service")
    secret = ws.identity.create_token("app")[1]
    with live_server(ws, options=ServeOptions(auth="token")) as live, live.client() as client:
        headers = {"authorization": f"Bearer {secret}", "x-request-id": "tok-1"}
        assert client.post(PREDICT, json={"inputs": ROWS}, headers=headers).status_code == 200
    assert [(r["request_id"], r["token_user"]) for r in _scan(world)] == [("tok-1", "app")]


def test_a_bad_metering_switch_is_refused_naming_it(make_world: Callable[[], World]) -> None:
    world = make_world()
    (world.home / "prodline.toml").write_text('[cost]\nmetering = "yes"\n', encoding="utf-8")
    with pytest.raises(InvalidInput, match="metering must be true or false") as caught:
        create_app(world.ws, "clf", "production")
    assert caught.value.details["field"] == "cost.metering"

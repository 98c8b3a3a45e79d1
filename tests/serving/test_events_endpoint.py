"""POST /v1/events on the model server: a client application reports business events of a
KPI, singly or in batches; an unknown KPI is 404 and a bad value 422, naming the field,
and nothing of the batch is stored then."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from serving_support import World

from prodline.serving import create_app

KPI = "approved-without-referral"


@pytest.fixture
def world(make_world: Callable[[], World]) -> World:
    world = make_world()
    world.ws.costs.kpis.create(
        "approved-without-referral",
        definition="share of applications decided without a human referral",
        source="events",
        aggregate="rate",
        baseline=0.5,
        target=0.7,
        direction="up",
        window="day",
    )
    return world


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.ws, "clf", "production")) as c:
        yield c


def test_events_land_in_the_kpi(world: World, client: TestClient) -> None:
    one = client.post("/v1/events", json={"kpi": "approved-without-referral", "value": 1})
    assert one.status_code == 202 and one.json() == {"accepted": 1}
    batch = client.post(
        "/v1/events",
        json={"events": [{"kpi": "approved-without-referral", "value": v} for v in (1, 0, 1)]},
    )
    assert batch.status_code == 202 and batch.json() == {"accepted": 3}
    today = world.ws.costs.kpis.series("approved-without-referral", windows=1)[-1]
    assert today.n == 4 and today.value == pytest.approx(0.75) and today.met


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"events": [{"kpi": KPI, "value": 1}, {"kpi": "nope", "value": 1}]}, 404, "kpi"),
        ({"kpi": KPI, "value": "lots"}, 422, "value"),
        ({"events": "x"}, 422, "events"),
        ({"events": [3]}, 422, "events[0]"),
        ([1, 2], 422, "body"),
    ],
)  # fmt: skip
def test_bad_events_name_the_field_and_store_nothing(
    world: World, client: TestClient, body: object, status: int, field: str
) -> None:
    response = client.post("/v1/events", json=body)
    assert response.status_code == status, response.text
    assert response.json()["error"]["details"]["field"] == field
    assert world.ws.costs.kpis.series("approved-without-referral", windows=1)[-1].n == 0
    assert client.post("/v1/events", content=b"{oops").json()["error"]["details"]["field"] == (
        "body"
    )

"""POST /v1/feedback on the model server: labels by x-request-id, singly or in batches;
unknown ids reported; duplicates last-one-wins; 422 naming the field. In-process app and
a live uvicorn server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving_support import World, live_server

from prodline.serving import create_app

PREDICT = "/v1/models/clf/predict"


@pytest.fixture
def world(make_world: Callable[[], World]) -> World:
    return make_world()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.ws, "clf", "production")) as c:
        yield c


def predict(client: Any, rows: list[list[float]], request_id: str | None = None) -> str:
    headers = {"x-request-id": request_id} if request_id else {}
    doc = {"dataframe_split": {"columns": ["x1", "x2"], "data": rows}}
    response = client.post(PREDICT, json=doc, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.headers["x-request-id"])


def test_single_label_right_after_its_prediction(world: World, client: TestClient) -> None:
    rid = predict(client, [[1.0, -1.0]])
    response = client.post("/v1/feedback", json={"request_id": rid, "label": 1})
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "unknown": 0, "duplicates": 0, "unknown_ids": []}
    frame = world.ws.feedback.read("clf")
    assert frame["request_id"].tolist() == [rid] and frame["label"].tolist() == [1]
    assert frame["prediction"].tolist() == [1] and frame["version"].tolist() == [1]


def test_batch_with_rows_unknown_ids_and_duplicates(world: World, client: TestClient) -> None:
    a = predict(client, [[1.0, -1.0], [-1.0, 1.0], [0.5, 0.5]], request_id="client-a")
    b = predict(client, [[2.0, 0.0]])
    body = {
        "feedback": [
            {"request_id": a, "label": 1, "row": 0},
            {"request_id": a, "label": 1, "row": 1},
            {"request_id": a, "label": 0, "row": 1},  # last one wins
            {"request_id": b, "label": 0},
            {"request_id": "never-seen", "label": 1},
            {"request_id": a, "label": 1, "row": 3},  # the request had 3 rows
        ]
    }
    response = client.post("/v1/feedback", json=body)
    assert response.status_code == 200, response.text
    assert response.json() == {
        "accepted": 3,
        "unknown": 2,
        "duplicates": 1,
        "unknown_ids": ["never-seen", "client-a"],
    }
    again = client.post("/v1/feedback", json={"request_id": b, "label": 1})
    assert again.json()["duplicates"] == 1
    frame = world.ws.feedback.read("clf")
    labels = {
        (r, i): lab
        for r, i, lab in zip(frame["request_id"], frame["row"], frame["label"], strict=True)
    }
    assert labels == {(a, 0): 1, (a, 1): 0, (b, 0): 1}
    assert world.ws.audit.events(limit=1, action="feedback.replaced")[0].payload["count"] == 1


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (b"not json", "body", "not valid JSON"),
        (b"[1, 2]", "body", "must be a JSON object"),
        (b"{}", "request_id", "needs request_id and label"),
        (b'{"request_id": "r1"}', "label", "label is missing"),
        (b'{"label": 1}', "request_id", "x-request-id"),
        (b'{"request_id": 5, "label": 1}', "request_id", "x-request-id"),
        (b'{"request_id": "r1", "label": 1, "row": -2}', "row", "position"),
        (b'{"request_id": "r1", "label": 1, "colour": 2}', "colour", "Unexpected field"),
        (b'{"feedback": []}', "feedback", "non-empty list"),
        (b'{"feedback": {"request_id": "r1"}}', "feedback", "non-empty list"),
        (b'{"feedback": [{"request_id": "r1", "label": 1}, 7]}', "feedback[1]", "an object"),
        (
            b'{"feedback": [{"request_id": "r1", "label": 1}, {"request_id": "r2"}]}',
            "feedback[1].label",
            "missing",
        ),
        (
            b'{"feedback": [{"request_id": "r1", "label": 1, "x": 1}]}',
            "feedback[0].x",
            "Unexpected",
        ),
        (b'{"feedback": [], "request_id": "r1"}', "request_id", "beside 'feedback'"),
    ],
)
def test_bad_bodies_get_422_naming_the_field(
    world: World, client: TestClient, body: bytes, field: str, words: str
) -> None:
    response = client.post("/v1/feedback", content=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input" and error["details"]["field"] == field
    assert words in error["message"]
    assert world.ws.feedback.count() == 0


def test_feedback_on_a_live_server(make_world: Callable[[], World]) -> None:
    world = make_world()
    with live_server(world.ws) as live, live.client() as http:
        ids = [predict(http, [[float(i), -1.0]]) for i in range(20)]
        body = {"feedback": [{"request_id": rid, "label": i % 2} for i, rid in enumerate(ids)]}
        response = http.post("/v1/feedback", json=body)
        assert response.status_code == 200, response.text
        assert response.json()["accepted"] == 20
        schema = http.get("/openapi.json").json()
        assert "/v1/feedback" in schema["paths"]
    frame = world.open().feedback.read("clf")
    assert len(frame) == 20 and frame["label"].tolist() == [i % 2 for i in range(20)]

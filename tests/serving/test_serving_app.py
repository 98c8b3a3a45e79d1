"""The app in-process (lifespan included): answers, errors, health, metrics, audit, lineage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from serving_support import World, metric

from prodline.errors import NotFound
from prodline.serving import ServeOptions, create_app
from prodline.store.tables import prediction_log

PREDICT = "/v1/models/clf/predict"


@pytest.fixture
def world(make_world: Callable[[], World]) -> World:
    return make_world()


@pytest.fixture
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_app(world.ws, "clf", "production")) as c:
        yield c


def shapes(frame: Any) -> dict[str, dict[str, Any]]:
    records = frame.to_dict(orient="records")
    split = frame.to_dict(orient="split")
    return {
        "inputs": {"inputs": records},
        "dataframe_records": {"dataframe_records": records},
        "dataframe_split": {
            "dataframe_split": {"columns": split["columns"], "data": split["data"]}
        },
    }


def test_every_shape_answers_like_in_process_predict(world: World, client: TestClient) -> None:
    features = world.frame[["x1", "x2"]].iloc[:7]
    expected = world.v1.predict(features).tolist()
    proba = world.v1.predict_proba(features)
    predictor = world.ws.models.load_predictor(world.ws.models.get("clf", 1))
    in_process = predictor.predict({c: features[c].to_numpy() for c in features})
    assert in_process.predictions.tolist() == expected
    answers = {}
    for shape, doc in shapes(features).items():
        response = client.post(PREDICT, json=doc)
        assert response.status_code == 200, response.text
        answers[shape] = response.json()
    for answer in answers.values():
        assert answer["predictions"] == expected
        assert (answer["model"], answer["version"]) == ("clf", 1)
        assert answer["classes"] == [0, 1]
        np.testing.assert_allclose(answer["probabilities"], proba)
    assert len({a["request_id"] for a in answers.values()}) == 3


def test_mlflow_invocations_route_and_ping(client: TestClient) -> None:
    doc = {"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, -1.0]]}}
    response = client.post("/invocations", json=doc)
    assert response.status_code == 200 and response.json()["predictions"] == [1]
    assert client.get("/ping").status_code == 200


def test_mixed_string_and_numeric_pipeline(world: World) -> None:
    frame = world.mixed_frame[["color", "x1", "count"]].iloc[:9]
    with TestClient(create_app(world.ws, "mixed", "production")) as client:
        for doc in shapes(frame).values():
            response = client.post("/v1/models/mixed/predict", json=doc)
            assert response.status_code == 200, response.text
            assert response.json()["predictions"] == world.mixed.predict(frame).tolist()
        bad = client.post(
            "/v1/models/mixed/predict", json={"inputs": [{"color": 3, "x1": 1.0, "count": 2}]}
        )
        assert bad.status_code == 422
        assert bad.json()["error"]["details"] == {"field": "inputs[0].color"}


GOOD = {"x1": 1.0, "x2": 2.0}
ERRORS: list[tuple[str, bytes | dict[str, Any], str]] = [
    ("missing column", {"inputs": [{"x1": 1.0}]}, "inputs[0].x2"),
    ("wrong type", {"inputs": [GOOD, {"x1": 1.0, "x2": "high"}]}, "inputs[1].x2"),
    ("extra field", {"dataframe_records": [{**GOOD, "x9": 1}]}, "dataframe_records[0].x9"),
    ("empty inputs", {"inputs": []}, "inputs"),
    ("non-object record", {"inputs": [GOOD, 5]}, "inputs[1]"),
    ("malformed JSON", b'{"inputs": [', "body"),
    (
        "split length mismatch",
        {"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0]]}},
        "dataframe_split.data[0]",
    ),
    (
        "split missing column",
        {"dataframe_split": {"columns": ["x1"], "data": [[1.0]]}},
        "dataframe_split.columns",
    ),
    ("no payload key", {"rows": [GOOD]}, "rows"),
]


@pytest.mark.parametrize(("case", "doc", "field"), ERRORS, ids=[e[0] for e in ERRORS])
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, case: str, doc: bytes | dict[str, Any], field: str
) -> None:
    if isinstance(doc, bytes):
        response = client.post(PREDICT, content=doc, headers={"content-type": "application/json"})
    else:
        response = client.post(PREDICT, json=doc)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_input"
    assert error["details"] == {"field": field}
    assert field.split(".")[-1].split("[")[0] in error["message"] or case == "malformed JSON"
    assert "Traceback" not in response.text


def test_unknown_model_is_a_404_naming_the_served_one(client: TestClient) -> None:
    response = client.post("/v1/models/other/predict", json={"inputs": [GOOD]})
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "'other'" in error["message"] and "serves 'clf'" in error["message"]
    assert error["details"] == {"model": "other", "served": "clf"}
    assert client.get("/v1/models/other").status_code == 404
    assert client.get("/v1/models/clf").json()["signature"] == [
        {"name": "x1", "type": "float"},
        {"name": "x2", "type": "float"},
    ]


def test_unknown_route_renders_the_error_shape(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_body_over_the_limit_is_a_413(world: World) -> None:
    app = create_app(world.ws, "clf", "production", options=ServeOptions(max_body_bytes=64))
    with TestClient(app) as client:
        response = client.post(PREDICT, json={"inputs": [GOOD] * 10})
    assert response.status_code == 413
    assert response.json()["error"]["details"] == {"field": "body"}


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    given = client.post(PREDICT, json={"inputs": [GOOD]}, headers={"x-request-id": "abc-1"})
    assert given.json()["request_id"] == "abc-1" == given.headers["x-request-id"]
    made = client.post(PREDICT, json={"inputs": [GOOD]}, headers={"x-request-id": "bad id!"})
    assert made.json()["request_id"] != "bad id!"
    assert made.json()["request_id"] == made.headers["x-request-id"]


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "model": "clf", "alias": "production", "version": 1}
    for _ in range(3):
        assert client.post(PREDICT, json={"inputs": [GOOD, GOOD]}).status_code == 200
    client.post(PREDICT, json={"inputs": [{"x1": 1.0}]})
    client.post("/v1/models/zzz/predict", json={"inputs": [GOOD]})
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    v1 = {"model": "clf", "version": "1"}
    assert metric(text, "prodline_requests_total", **v1, status="200") == 3
    assert metric(text, "prodline_requests_total", **v1, status="422") == 1
    assert metric(text, "prodline_requests_total", **v1, status="404") == 1
    assert metric(text, "prodline_request_errors_total", **v1, code="invalid_input") == 1
    assert metric(text, "prodline_request_errors_total", **v1, code="not_found") == 1
    assert metric(text, "prodline_request_latency_seconds_count", **v1) == 5
    assert metric(text, "prodline_served_version", model="clf", alias="production") == 1
    assert metric(text, "prodline_batch_requests_sum", model="clf") == 3
    assert "prodline_prediction_log_shed_total" in text


def test_start_and_stop_are_audited_and_logged(world: World) -> None:
    app = create_app(world.ws, "clf", "production", address=("127.0.0.1", 8123))
    with TestClient(app) as client:
        ids = [client.post(PREDICT, json={"inputs": [GOOD]}).json()["request_id"] for _ in range(4)]
        client.post(PREDICT, json={"inputs": []})
    started = world.ws.audit.events(action="server.started")[0]
    assert started.subject == "deployment:clf@production"
    assert {k: started.payload[k] for k in ("host", "port", "model", "version")} == {
        "host": "127.0.0.1",
        "port": 8123,
        "model": "clf",
        "version": 1,
    }
    stopped = world.ws.audit.events(action="server.stopped")[0].payload
    assert (stopped["answered"], stopped["failed"], stopped["logged"], stopped["shed"]) == (
        4,
        1,
        4,
        0,
    )
    assert ("deployment:clf@production", "deployed_as") in world.ws.lineage.downstream(
        "alias:clf@production"
    )
    with world.ws.db.read() as conn:
        logged = conn.execute(sa.select(prediction_log.c.request_id)).scalars().all()
    assert sorted(logged) == sorted(ids)
    assert world.ws.audit.verify().ok


def test_a_missing_alias_fails_before_serving(world: World) -> None:
    with pytest.raises(NotFound, match="no alias 'staging'"):
        create_app(world.ws, "clf", "staging")
    with pytest.raises(NotFound, match="Model 'nope' does not exist"):
        create_app(world.ws, "nope", "production")

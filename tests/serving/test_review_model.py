"""Human review on the prediction server: held answers (202), after-mode queueing, the
``GET /v1/reviews/{id}`` endpoint, policy refresh, and no cost for models without policy."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from serving_support import World, live_server, metric

from prodline.serving import ServeOptions

PREDICT = "/v1/models/clf/predict"


def _wait(check: Callable[[], Any], timeout_s: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got or time.monotonic() > deadline:
            return got
        time.sleep(0.05)


def _rows(frame: pd.DataFrame, n: int) -> list[dict[str, float]]:
    return [{"x1": float(a), "x2": float(b)} for a, b in frame[["x1", "x2"]].values[:n]]


def _logged(world: World, request_id: str) -> bool:
    return request_id in set(world.ws.predictions.read("clf")["request_id"])


def test_a_held_prediction_is_202_then_served_as_decided_and_labelled(make_world: Any) -> None:
    world: World = make_world()
    world.ws.reviews.set_policy("model", "clf", mode="hold")  # every prediction waits
    rows = _rows(world.frame, 2)
    with live_server(world.ws) as live, live.client() as client:
        resp = client.post(PREDICT, json={"inputs": rows}, headers={"x-request-id": "held-1"})
        assert resp.status_code == 202, resp.text
        body = resp.json()
        assert body == {
            "status": "pending_review",
            "review_id": body["review_id"],
            "review_url": f"/v1/reviews/{body['review_id']}",
            "request_id": "held-1",
        }
        assert resp.headers["x-request-id"] == "held-1"
        pending = client.get(body["review_url"])
        assert pending.status_code == 200
        assert pending.json()["status"] == "pending_review" and pending.json()["output"] is None

        item = world.ws.reviews.get(body["review_id"])
        assert (item.kind, item.subject, item.version, item.mode) == ("model", "clf", 1, "hold")
        assert item.reason == "hold: every prediction" and item.input == rows
        expected = world.v1.predict(pd.DataFrame(rows)).tolist()
        assert [out["prediction"] for out in item.output] == expected
        assert item.score == pytest.approx(world.v1.predict_proba(pd.DataFrame(rows)).max(1).min())

        assert _wait(lambda: _logged(world, "held-1")), "the held prediction is logged as usual"
        world.ws.reviews.decide(item.id, "approve")
        decided = client.get(body["review_url"]).json()
        assert decided["status"] == "approved" and decided["output"] == item.output
        assert decided["decided_at"]

        # an edited held prediction: the reviewer's output is served and becomes the label
        resp = client.post(PREDICT, json={"inputs": rows[:1]}, headers={"x-request-id": "held-2"})
        assert resp.status_code == 202
        second = resp.json()["review_id"]
        assert _wait(lambda: _logged(world, "held-2"))
        flipped = [{"prediction": 1 - expected[0]}]
        world.ws.reviews.decide(second, "edit", output=flipped, comment="wrong side")
        assert client.get(f"/v1/reviews/{second}").json()["output"] == flipped
        text = client.get("/metrics").text
        assert metric(text, "prodline_requests_total", model="clf", version="1", status="202") == 2
        assert metric(text, "prodline_review_items_total", route="held") == 2

    labels = world.ws.feedback.read("clf")
    by_request = {(r.request_id, int(r.row)): r.label for r in labels.itertuples()}
    assert by_request == {
        ("held-1", 0): expected[0],
        ("held-1", 1): expected[1],
        ("held-2", 0): 1 - expected[0],
    }


def test_review_endpoint_errors_name_review_id(make_world: Any) -> None:
    world: World = make_world()
    with live_server(world.ws) as live, live.client() as client:
        missing = client.get("/v1/reviews/987654")
        assert missing.status_code == 404
        assert missing.json()["error"]["details"]["field"] == "review_id"
        assert "987654" in missing.json()["error"]["message"]
        for bad in ("abc", "1.5"):
            resp = client.get(f"/v1/reviews/{bad}")
            assert resp.status_code == 422, resp.text
            assert "review_id" in resp.json()["error"]["details"]["field"]
        huge = client.get(f"/v1/reviews/{2**70}")
        assert huge.status_code == 404
        assert client.get("/v1/reviews/0").status_code == 404


def test_after_mode_queues_only_low_confidence_answers_off_the_hot_path(
    make_world: Any,
) -> None:
    world: World = make_world()
    world.ws.reviews.set_policy("model", "clf", mode="after", threshold=0.6)
    frame = pd.DataFrame(_rows(world.frame, 60))
    confidence = world.v1.predict_proba(frame).max(axis=1)
    low = np.flatnonzero(confidence < 0.6)[:4].tolist()
    high = np.flatnonzero(confidence > 0.8)[:8].tolist()
    assert low and high
    with live_server(world.ws) as live, live.client() as client:
        for i in low + high:
            resp = client.post(
                PREDICT,
                json={"inputs": [frame.iloc[i].to_dict()]},
                headers={"x-request-id": f"r{i}"},
            )
            assert resp.status_code == 200, resp.text
            assert resp.json()["predictions"] == world.v1.predict(frame.iloc[[i]]).tolist()
        items = _wait(lambda: world.ws.reviews.list(kind="model", subject="clf") or None)
        assert items is not None
        time.sleep(0.4)  # a second flush would bring any stray high-confidence item
        items = world.ws.reviews.list(kind="model", subject="clf", limit=100)
    assert sorted(item.request_id for item in items) == sorted(f"r{i}" for i in low)
    for item in items:
        i = int(str(item.request_id)[1:])
        assert item.mode == "after" and item.status == "open"
        assert item.score == pytest.approx(float(confidence[i]))
        assert item.reason == f"confidence {confidence[i]:.2f} < 0.60"


def test_a_model_without_policy_pays_nothing_and_policy_changes_apply_within_the_poll(
    make_world: Any,
) -> None:
    world: World = make_world()
    rows = _rows(world.frame, 1)
    options = ServeOptions(review_poll_interval_s=0.1)
    with live_server(world.ws, options=options) as live, live.client() as client:
        runtime = live.app.runtime
        for _ in range(5):
            assert client.post(PREDICT, json={"inputs": rows}).status_code == 200
        assert runtime.review.policy is None
        assert runtime.review_intake._thread is None  # no review thread for this model
        assert world.ws.reviews.count() == 0

        world.open().reviews.set_policy("model", "clf", mode="hold")  # another process
        held = _wait(lambda: client.post(PREDICT, json={"inputs": rows}).status_code == 202)
        assert held, "a new policy applies within the poll interval"
        world.ws.reviews.clear_policy("model", "clf")
        assert _wait(lambda: client.post(PREDICT, json={"inputs": rows}).status_code == 200)
        other = world.open()
        other.reviews.set_policy("model", "mixed", mode="hold")  # another model's policy
        time.sleep(0.3)
        assert client.post(PREDICT, json={"inputs": rows}).status_code == 200
        other.close()


def test_a_hold_that_cannot_be_queued_is_not_answered(make_world: Any, monkeypatch: Any) -> None:
    world: World = make_world()
    world.ws.reviews.set_policy("model", "clf", mode="hold")
    rows = _rows(world.frame, 1)
    with live_server(world.ws) as live, live.client() as client:

        def broken(*_: Any, **__: Any) -> Any:
            raise RuntimeError("database is locked")

        monkeypatch.setattr(type(world.ws.reviews), "submit", broken)
        resp = client.post(PREDICT, json={"inputs": rows})
        assert resp.status_code == 503
        assert resp.json()["error"]["code"] == "store_unavailable"
        assert "review" in resp.json()["error"]["message"]
        assert "predictions" not in resp.json()

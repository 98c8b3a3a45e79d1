"""Human review on the RAG server: answers under the KB policy's groundedness threshold
(or sampled) are queued after the fact, and ``GET /v1/reviews/{id}`` answers there too."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from rag_support import KB, Live, ask, copy_home, live_rag, open_ws, template

from prodline.workspace import Workspace

QUESTIONS = (
    "How long do refunds take to be issued?",
    "Who pays customs fees on international orders?",
    "What is the capital of France?",  # not covered: abstained on, fully grounded
)
THRESHOLD = 0.9


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Live]]:
    home = copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-review") / "home")
    with open_ws(home) as ws:
        ws.reviews.set_policy("kb", KB, mode="after", threshold=THRESHOLD)
        with live_rag(ws, k=3, review_poll_interval_s=0.1) as live:
            yield ws, live


def _kb_items(ws: Workspace, want: int, timeout_s: float = 5.0) -> list[Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        items = ws.reviews.list(kind="kb", subject=KB, limit=100)
        if len(items) >= want or time.monotonic() > deadline:
            return items
        time.sleep(0.05)


def test_answers_under_the_groundedness_threshold_are_queued_after_the_fact(
    served: tuple[Workspace, Live],
) -> None:
    ws, live = served
    scores: dict[str, float] = {}
    with live.client() as client:
        for question in QUESTIONS:
            resp = client.post("/v1/chat/completions", json=ask(question))
            assert resp.status_code == 200, resp.text  # the answer goes out as usual
            doc = resp.json()
            scores[doc["request_id"]] = doc["groundedness"]["score"]
        low = {rid for rid, score in scores.items() if score < THRESHOLD}
        assert low and len(low) < len(scores), scores
        items = _kb_items(ws, len(low))
        time.sleep(0.4)  # another flush would bring any answer queued by mistake
        items = ws.reviews.list(kind="kb", subject=KB, limit=100)
        assert {item.request_id for item in items} == low
        item = items[0]
        assert item.mode == "after" and item.status == "open" and item.version is None
        assert item.reason == f"groundedness {scores[str(item.request_id)]:.2f} < 0.90"
        assert item.input["question"] in QUESTIONS and item.input["contexts"]
        assert item.output["answer"]

        public = client.get(f"/v1/reviews/{item.id}")
        assert public.status_code == 200
        assert public.json()["status"] == "pending_review"
        ws.reviews.decide(item.id, "approve", comment="fine")
        decided = client.get(f"/v1/reviews/{item.id}").json()
        assert decided["status"] == "approved" and decided["output"] == item.output
        labels = ws.reviews.labels("kb", KB)
        assert len(labels) == 1


def test_a_sampling_policy_queues_grounded_answers_too(served: tuple[Workspace, Live]) -> None:
    ws, live = served
    before = ws.reviews.count(kind="kb")
    ws.reviews.set_policy("kb", KB, mode="after", sample_rate=1.0)
    time.sleep(0.5)  # the server polls the policy version every 0.1 s here
    try:
        with live.client() as client:
            resp = client.post("/v1/chat/completions", json=ask(QUESTIONS[2]))
            assert resp.status_code == 200
        items = _kb_items(ws, before + 1)
        assert len(items) == before + 1
        newest = max(items, key=lambda i: i.id)
        assert newest.request_id == resp.json()["request_id"] and newest.reason == "sample"
    finally:
        ws.reviews.set_policy("kb", KB, mode="after", threshold=THRESHOLD)


def test_review_endpoint_errors_are_openai_shaped_and_name_review_id(
    served: tuple[Workspace, Live],
) -> None:
    _, live = served
    with live.client() as client:
        missing = client.get("/v1/reviews/424242")
        assert missing.status_code == 404
        assert missing.json()["error"]["param"] == "review_id"
        bad = client.get("/v1/reviews/first")
        assert bad.status_code == 422
        assert "review_id" in bad.json()["error"]["param"]


def test_a_guard_flag_queues_an_answer_the_threshold_lets_pass() -> None:
    from prodline.review import ReviewPolicy
    from prodline.serving.rag.guarding import GuardEvent
    from prodline.serving.reviewing import kb_submission

    policy = ReviewPolicy("kb", KB, "after", threshold=0.5)
    flagged = [
        GuardEvent("groundedness", "flag", "not grounded"),  # the policy threshold decides
        GuardEvent("injection", "flag", "instruction override"),
    ]
    make = kb_submission(policy, KB, "c-1", "q?", ["ctx"], "a.", 0.9, flagged)
    assert make is not None
    item = make()
    assert item["reason"] == "guard: injection instruction override"
    assert item["input"] == {"question": "q?", "contexts": ["ctx"]}
    assert item["output"] == {"answer": "a."} and item["score"] == 0.9
    assert kb_submission(policy, KB, "c-2", "q?", [], "a.", 0.9, flagged[:1]) is None
    low = kb_submission(policy, KB, "c-3", "q?", [], "a.", 0.2)
    assert low is not None and low()["reason"] == "groundedness 0.20 < 0.50"

"""The RAG server over a real socket, driven by the official ``openai`` client and httpx."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from rag_support import (
    KB,
    PII_Q,
    REFUND_Q,
    Live,
    ask,
    copy_home,
    live_rag,
    metric,
    open_ws,
    openai_of,
    template,
)

EXTRAS = {"citations", "groundedness", "provider", "provider_model", "route_reason", "request_id"}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-endpoint") / "home")
    with open_ws(home) as ws, live_rag(ws, k=3) as server:
        yield server


def _sources(citations: list[dict[str, Any]]) -> list[str]:
    return [Path(c["source"]).name for c in citations]


def test_openai_client_answers_with_citations_and_groundedness(live: Live) -> None:
    client = openai_of(live)
    resp = client.chat.completions.create(
        model=KB, messages=[{"role": "user", "content": REFUND_Q}]
    )
    assert resp.object == "chat.completion"
    assert resp.model == KB
    text = resp.choices[0].message.content
    assert text is not None and "14 days" in text and "[1]" in text
    assert resp.choices[0].message.role == "assistant"
    assert resp.choices[0].finish_reason == "stop"
    assert resp.usage is not None
    assert resp.usage.total_tokens == resp.usage.prompt_tokens + resp.usage.completion_tokens > 0
    extra = resp.model_extra or {}
    assert set(extra) >= EXTRAS
    assert _sources(extra["citations"])[0] == "refunds.md"
    first = extra["citations"][0]
    assert first["index"] == 1 and isinstance(first["chunk_id"], int)
    assert first["title"] == "Refund policy" and first["sensitivity"] == "none"
    grounded = extra["groundedness"]
    assert 0.5 <= grounded["score"] <= 1.0 and grounded["flagged"] is False
    assert grounded["method"] == "offline" and grounded["threshold"] == 0.5
    assert extra["provider"] == "extractive"
    assert resp.id == f"chatcmpl-{extra['request_id']}"
    assert resp.to_dict()["groundedness"] == grounded


def test_a_question_the_documents_do_not_cover_is_abstained_on(live: Live) -> None:
    question = "Which telescope discovered the moons of Jupiter?"
    resp = openai_of(live).chat.completions.create(
        model=KB, messages=[{"role": "user", "content": question}]
    )
    assert resp.choices[0].message.content == (
        'The documents do not cover "Which telescope discovered the moons of Jupiter".'
    )
    extra = resp.model_extra or {}
    assert extra["citations"] == []
    why = extra["abstention"]
    assert why["abstained"] is True and why["best_relevance"] < why["threshold"]
    assert why["reason"].startswith("no retrieved passage is relevant enough")
    grounded = extra["groundedness"]
    assert grounded["flagged"] is False and grounded["answer_relevance"] is None
    assert grounded["context_relevance"] == why["best_relevance"]


def test_an_answer_carries_three_scores(live: Live) -> None:
    resp = openai_of(live).chat.completions.create(
        model=KB, messages=[{"role": "user", "content": REFUND_Q}]
    )
    extra = resp.model_extra or {}
    grounded = extra["groundedness"]
    assert grounded["faithfulness"] == grounded["score"]
    assert 0.3 <= grounded["answer_relevance"] <= 1.0
    assert 0.2858 <= grounded["context_relevance"] <= 1.0 and grounded["reasons"] == []
    assert extra["abstention"] == {"abstained": False}


def test_openai_client_stream_matches_the_plain_answer(live: Live) -> None:
    client = openai_of(live)
    messages: Any = [
        {"role": "user", "content": "How long does express and international shipping take?"}
    ]
    plain = client.chat.completions.create(model=KB, messages=messages)
    chunks = list(client.chat.completions.create(model=KB, messages=messages, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [c.choices[0].delta.content or "" for c in chunks]
    assert len([d for d in deltas if d]) >= 2  # really streamed: one sentence per delta
    assert "".join(deltas) == plain.choices[0].message.content
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    extra = last.model_extra or {}
    assert set(extra) >= EXTRAS
    assert extra["citations"] == (plain.model_extra or {})["citations"]
    assert extra["groundedness"]["score"] == (plain.model_extra or {})["groundedness"]["score"]
    assert last.usage is not None and last.usage.completion_tokens > 0
    assert {c.id for c in chunks} == {f"chatcmpl-{extra['request_id']}"}


def test_raw_stream_is_server_sent_events_ending_in_done(live: Live) -> None:
    with (
        live.client() as http,
        http.stream("POST", "/v1/chat/completions", json=ask(REFUND_Q, stream=True)) as resp,
    ):
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("text/event-stream")
        assert resp.headers["x-request-id"]
        events = [line for line in resp.iter_lines() if line]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert '"object":"chat.completion.chunk"' in events[0]


def test_model_may_be_omitted(live: Live) -> None:
    with live.client() as http:
        resp = http.post("/v1/chat/completions", json={"messages": _USER})
    assert resp.status_code == 200 and resp.json()["model"] == KB


def test_extension_fields_k_filters_and_system_messages(live: Live) -> None:
    client = openai_of(live)
    resp = client.chat.completions.create(
        model=KB,
        messages=[
            {"role": "system", "content": "Answer briefly."},
            {"role": "user", "content": "Tell me about refunds."},
            {"role": "assistant", "content": "Sure."},
            {"role": "user", "content": [{"type": "text", "text": "How long does shipping take?"}]},
        ],
        extra_body={"k": 2, "filters": {"source": "*shipping*"}},
        max_tokens=200,
        temperature=0,
    )
    extra = resp.model_extra or {}
    assert set(_sources(extra["citations"])) == {"shipping.md"}


def test_pii_answer_is_routed_to_a_self_hosted_provider(live: Live) -> None:
    resp = openai_of(live).chat.completions.create(
        model=KB, messages=[{"role": "user", "content": PII_Q}]
    )
    extra = resp.model_extra or {}
    assert extra["provider"] == "extractive"
    assert "pii" in extra["route_reason"]
    assert "customer-note.md" in _sources(extra["citations"])
    assert "pii" in {c["sensitivity"] for c in extra["citations"]}


def test_retrieve(live: Live) -> None:
    with live.client() as http:
        resp = http.post("/v1/retrieve", json={"query": "international customs fees", "k": 2})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert body["kb"] == KB and body["request_id"] == resp.headers["x-request-id"]
        hits = body["hits"]
        assert len(hits) == 2
        assert Path(hits[0]["source"]).name == "shipping.md"
        assert hits[0]["heading"] == "International shipping"
        assert set(hits[0]) >= {"chunk_id", "score", "text", "title", "sensitivity", "scores"}
        assert [h["rank"] for h in hits] == [1, 2]
        assert all(0.0 <= h["relevance"] <= 1.0 for h in hits)
        assert hits[0]["relevance"] > 0.5 > hits[1]["relevance"]
        safe = http.post(
            "/v1/retrieve", json={"query": "blender order", "k": 10, "clearance": "none"}
        ).json()["hits"]
        assert safe and all(h["sensitivity"] == "none" for h in safe)
        bm25 = http.post("/v1/retrieve", json={"query": "warranty", "k": 1, "mode": "bm25"})
        assert Path(bm25.json()["hits"][0]["source"]).name == "warranty.md"


_CHAT = "/v1/chat/completions"
_RETRIEVE = "/v1/retrieve"
_USER = [{"role": "user", "content": REFUND_Q}]

BAD = [
    ("empty messages", _CHAT, {"model": KB, "messages": []}, 422, "messages", "at least 1"),
    ("no messages", _CHAT, {"model": KB}, 422, "messages", "required"),
    (
        "no user message",
        _CHAT,
        {"model": KB, "messages": [{"role": "system", "content": "Be brief."}]},
        422,
        "messages",
        "user message",
    ),
    (
        "bad role",
        _CHAT,
        {"model": KB, "messages": [{"role": "robot", "content": "hi"}]},
        422,
        "messages[0].role",
        "'system', 'user' or 'assistant'",
    ),
    (
        "empty question",
        _CHAT,
        {"model": KB, "messages": [{"role": "user", "content": "   "}]},
        422,
        "messages[0].content",
        "empty",
    ),
    (
        "image content",
        _CHAT,
        {"model": KB, "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
        422,
        "messages[0].content",
        "only text",
    ),
    (
        "unknown filter",
        _CHAT,
        {"model": KB, "messages": _USER, "filters": {"colour": "red"}},
        422,
        "filters.colour",
        "source, owner, after, before",
    ),
    ("k=0", _CHAT, {"model": KB, "messages": _USER, "k": 0}, 422, "k", "greater than or equal"),
    ("k=101", _CHAT, {"model": KB, "messages": _USER, "k": 101}, 422, "k", "less than or equal"),
    ("n=2", _CHAT, {"model": KB, "messages": _USER, "n": 2}, 422, "n", "less than or equal"),
    (
        "tools",
        _CHAT,
        {"model": KB, "messages": _USER, "tools": [{"type": "function"}]},
        422,
        "tools",
        "not supported",
    ),
    (
        "temperature",
        _CHAT,
        {"model": KB, "messages": _USER, "temperature": 3},
        422,
        "temperature",
        "less than or equal",
    ),
    (
        "bad filter date",
        _CHAT,
        {"model": KB, "messages": _USER, "filters": {"after": "last week"}},
        422,
        "filters.after",
        "ISO",
    ),
    ("wrong model", _CHAT, {"model": "hr-policies", "messages": _USER}, 404, None, KB),
    ("not an object", _CHAT, [1, 2], 422, "body", "JSON object"),
    ("empty query", _RETRIEVE, {"query": "  "}, 422, "query", "query is empty"),
    ("no query", _RETRIEVE, {"k": 3}, 422, "query", "required"),
    ("retrieve k=0", _RETRIEVE, {"query": "refunds", "k": 0}, 422, "k", "greater than"),
    ("retrieve k=101", _RETRIEVE, {"query": "refunds", "k": 101}, 422, "k", "less than"),
    (
        "retrieve unknown filter",
        _RETRIEVE,
        {"query": "refunds", "filters": {"team": "x"}},
        422,
        "filters.team",
        "unknown filter field 'team'",
    ),
    ("retrieve unknown field", _RETRIEVE, {"query": "x", "top": 3}, 422, "top", "not a known"),
    ("retrieve bad mode", _RETRIEVE, {"query": "x", "mode": "fuzzy"}, 422, "mode", "hybrid"),
]


@pytest.mark.parametrize(
    ("path", "body", "status", "field", "fragment"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_input_gets_a_clear_error_naming_the_field(
    live: Live, path: str, body: Any, status: int, field: str | None, fragment: str
) -> None:
    with live.client() as http:
        resp = http.post(path, json=body)
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert set(error) >= {"code", "message", "details"}
    assert fragment in error["message"]
    if field is not None:
        assert error["details"]["field"] == field
        assert error["param"] == field
        assert field in error["message"] or field == "body"
    assert resp.json()["request_id"] == resp.headers["x-request-id"]


def test_malformed_json_is_a_422_naming_the_body(live: Live) -> None:
    with live.client() as http:
        resp = http.post(
            _CHAT,
            content=b'{"model": "x", "messages": [',
            headers={"content-type": "application/json"},
        )
    assert resp.status_code == 422
    error = resp.json()["error"]
    assert error["details"]["field"] == "body"
    assert "not valid JSON" in error["message"]


def test_openai_client_sees_status_and_param(live: Live) -> None:
    client = openai_of(live)
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="hr-policies", messages=_USER)  # type: ignore[arg-type]
    assert KB in str(missing.value)
    with pytest.raises(openai.UnprocessableEntityError) as bad:
        client.chat.completions.create(
            model=KB,
            messages=[{"role": "robot", "content": "hi"}],  # type: ignore[list-item, misc]
        )
    assert bad.value.param == "messages[0].role"


def test_models_list_names_the_kb(live: Live) -> None:
    models = openai_of(live).models.list()
    assert [m.id for m in models.data] == [KB]
    with live.client() as http:
        assert http.get(f"/v1/models/{KB}").json()["owned_by"] == "support"
        assert http.get("/v1/models/other").status_code == 404
        nowhere = http.get("/v1/nowhere")
        assert (
            nowhere.status_code == 404
            and "/v1/chat/completions" in nowhere.json()["error"]["message"]
        )


def test_health_readiness_and_metrics(live: Live) -> None:
    client = openai_of(live)
    client.chat.completions.create(model=KB, messages=_USER)  # type: ignore[arg-type]
    with live.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["status"] == "ready" and ready.json()["chunks"] >= 5
        http.post(_CHAT, json={"model": KB, "messages": []})
        text = http.get("/metrics").text
    ok = {"kb": KB, "endpoint": "chat", "status": "200", "provider": "extractive"}
    assert metric(text, "prodline_rag_requests_total", **ok) >= 1
    bad = {"kb": KB, "endpoint": "chat", "status": "422", "provider": ""}
    assert metric(text, "prodline_rag_requests_total", **bad) >= 1
    assert metric(text, "prodline_rag_groundedness_count", kb=KB) >= 1
    assert metric(text, "prodline_rag_request_latency_seconds_count", kb=KB, endpoint="chat") >= 1
    tokens = {"kb": KB, "provider": "extractive", "kind": "output"}
    assert metric(text, "prodline_rag_tokens_total", **tokens) > 0
    assert "prodline_rag_cost_usd_total" in text
    assert "prodline_rag_flagged_total" in text
    assert "prodline_rag_log_shed_total" in text
    assert "prodline_rag_log_queue_depth" in text

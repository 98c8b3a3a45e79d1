"""Provider outages and routing: fallback to the offline answerer, or a clear 503.

``prodline.toml`` puts an OpenAI-kind provider on a closed port first in ``llm.fallback``.
The app runs in this process (lifespan included), driven by the official client.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from fastapi.testclient import TestClient
from rag_support import (
    KB,
    PII_Q,
    REFUND_Q,
    ask,
    closed_url,
    copy_home,
    in_process,
    metric,
    open_ws,
    openai_over,
    template,
    write_llm_config,
)

from prodline.errors import InvalidInput, NotFound
from prodline.llm import LlmConfig, ProviderUnavailable
from prodline.serving.rag import RagOptions, create_rag_app
from prodline.workspace import Workspace


@pytest.fixture(scope="module")
def dead_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    home = copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-fallback") / "home")
    write_llm_config(home, closed_url())
    with open_ws(home) as ws:
        yield ws


def test_dead_provider_falls_back_to_the_extractive_answerer(dead_ws: Workspace) -> None:
    with in_process(dead_ws, k=2) as http:
        resp = openai_over(http).chat.completions.create(
            model=KB, messages=[{"role": "user", "content": REFUND_Q}]
        )
        text = http.get("/metrics").text
    extra = resp.model_extra or {}
    assert extra["provider"] == "extractive"
    assert "dead failed, answered by extractive" in extra["route_reason"]
    assert [t["provider"] for t in extra["tried"]] == ["dead"]
    assert "14 days" in (resp.choices[0].message.content or "")
    assert metric(text, "prodline_rag_provider_failures_total", kb=KB, provider="dead") == 1


def test_pii_context_never_reaches_a_provider_that_is_not_self_hosted(
    dead_ws: Workspace,
) -> None:
    with in_process(dead_ws, k=2) as http:
        resp = openai_over(http).chat.completions.create(
            model=KB, messages=[{"role": "user", "content": PII_Q}]
        )
    extra = resp.model_extra or {}
    assert extra["provider"] == "extractive"
    assert extra["tried"] == []  # "dead" is first in fallback but was never eligible
    assert "context has pii" in extra["route_reason"]


def test_forced_dead_provider_is_a_503_naming_what_was_tried(dead_ws: Workspace) -> None:
    with in_process(dead_ws, provider="dead", k=2) as http:
        resp = http.post("/v1/chat/completions", json=ask(REFUND_Q))
        streamed = http.post("/v1/chat/completions", json=ask(REFUND_Q, stream=True))
        with pytest.raises(openai.InternalServerError) as caught:
            openai_over(http).chat.completions.create(
                model=KB, messages=[{"role": "user", "content": REFUND_Q}]
            )
        pii = http.post("/v1/chat/completions", json=ask(PII_Q))
        metrics = http.get("/metrics").text
    assert resp.status_code == 503
    error = resp.json()["error"]
    assert error["code"] == "provider_unavailable"
    assert [t["provider"] for t in error["details"]["tried"]] == ["dead"]
    assert "dead" in error["message"]
    assert streamed.status_code == 503  # routing fails before the stream starts
    assert streamed.json()["error"]["details"]["tried"][0]["provider"] == "dead"
    assert caught.value.status_code == 503
    # A forced provider that is not self-hosted is refused for PII context, not rerouted.
    assert pii.status_code == 422 and "self-hosted" in pii.json()["error"]["message"]
    labels = {"kb": KB, "endpoint": "chat", "status": "503", "provider": ""}
    assert metric(metrics, "prodline_rag_requests_total", **labels) == 3


def test_clearance_caps_what_is_retrieved(dead_ws: Workspace) -> None:
    with in_process(dead_ws, clearance="none", k=5) as http:
        resp = http.post("/v1/chat/completions", json=ask(PII_Q))
        above = http.post("/v1/retrieve", json={"query": "blender", "clearance": "pii"})
    assert resp.status_code == 200
    assert {c["sensitivity"] for c in resp.json()["citations"]} <= {"none"}
    assert above.status_code == 422 and above.json()["error"]["details"]["field"] == "clearance"


class _BreaksMidStream:
    """A gateway whose provider dies after the first delta (as a real one can)."""

    config = LlmConfig()

    def stream(self, *args: Any, **kwargs: Any) -> Iterator[str]:
        yield "Refunds are issued"
        raise ProviderUnavailable(
            "No LLM provider could answer mid-stream (dead: connection reset).",
            tried=[{"provider": "dead", "error": "connection reset"}],
            partial=True,
        )

    def close(self) -> None:
        pass


def test_a_failure_mid_stream_ends_with_an_error_event(dead_ws: Workspace) -> None:
    app = create_rag_app(dead_ws, KB, options=RagOptions(k=2))
    app.state.runtime.gateway = _BreaksMidStream()
    with TestClient(app) as http:
        client = openai_over(http)
        stream = client.chat.completions.create(
            model=KB, messages=[{"role": "user", "content": REFUND_Q}], stream=True
        )
        seen: list[str] = []
        with pytest.raises(openai.APIError) as caught:
            for chunk in stream:
                seen.append(chunk.choices[0].delta.content or "")
        metrics = http.get("/metrics").text
    assert "".join(seen) == "Refunds are issued"
    assert "mid-stream" in caught.value.message
    assert (caught.value.body or {})["details"]["partial"] is True  # type: ignore[index]
    labels = {"kb": KB, "endpoint": "chat", "status": "503", "provider": ""}
    assert metric(metrics, "prodline_rag_requests_total", **labels) == 1


def test_answers_below_the_threshold_are_flagged(dead_ws: Workspace) -> None:
    with in_process(dead_ws, threshold=0.999, k=2) as http:
        body = http.post("/v1/chat/completions", json=ask(REFUND_Q)).json()
        text = http.get("/metrics").text
    grounded = body["groundedness"]
    assert grounded["flagged"] is True and grounded["score"] < 0.999
    assert grounded["threshold"] == 0.999
    assert metric(text, "prodline_rag_flagged_total", kb=KB) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "fragment"),
    [
        ({"kb": "nope"}, NotFound, "support-desk"),
        ({"provider": "gpt-x"}, InvalidInput, "dead, extractive"),
        ({"clearance": "secret"}, InvalidInput, "none, pii, phi"),
        ({"threshold": 1.5}, InvalidInput, "between 0 and 1"),
        ({"k": 0}, InvalidInput, "between 1 and 100"),
    ],
)
def test_bad_server_arguments_fail_before_serving(
    dead_ws: Workspace, kwargs: dict[str, object], error: type[Exception], fragment: str
) -> None:
    args: dict[str, object] = {"kb": KB, **kwargs}
    kb = str(args.pop("kb"))
    with pytest.raises(error, match=fragment):
        create_rag_app(dead_ws, kb, options=RagOptions(**args))


def test_usage_hint_shows_the_openai_snippet() -> None:
    from prodline.serving.rag.server import usage_hint

    hint = usage_hint(KB, "127.0.0.1", 8001)
    assert "POST http://127.0.0.1:8001/v1/chat/completions" in hint
    assert 'OpenAI(base_url="http://127.0.0.1:8001/v1", api_key="unused")' in hint


def test_package_exports_are_sorted() -> None:
    import prodline.serving.rag as rag

    assert rag.__all__ == sorted(rag.__all__) == ["RagOptions", "create_rag_app", "serve_rag"]


def test_provider_credentials_reach_neither_the_answer_nor_the_log(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    password, key = "pw-SECRET-123456", "sk-SECRET-abcdef0123"
    home = copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-secrets") / "home")
    write_llm_config(home, closed_url().replace("http://", f"http://me:{password}@"))
    with (home / "prodline.toml").open("a", encoding="utf-8") as f:
        f.write('api_key_env = "RAG_TEST_KEY"\n')
    monkeypatch.setenv("RAG_TEST_KEY", key + "\n")
    caplog.set_level(logging.DEBUG)
    with open_ws(home) as ws, in_process(ws, k=2) as http:
        resp = http.post("/v1/chat/completions", json=ask(REFUND_Q))
    assert resp.status_code == 200
    assert [t["provider"] for t in resp.json()["tried"]] == ["dead"]
    seen = [resp.text] + [r.getMessage() for r in caplog.records]
    for text in seen:
        assert password not in text and key not in text

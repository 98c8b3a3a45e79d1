"""Both real servers behind the hardening layer, over a real socket: the bad input of
issue 10 (50 MB bodies, depth bombs, 10,000 messages, 1 MB prompts, lone surrogates,
invalid UTF-8, nested content parts, empty prompts), limits from ``prodline.toml``,
headers on every answer, refusals counted in ``/metrics``."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from hardening_support import chunked, post_head, send_raw
from rag_support import KB, REFUND_Q, Live, ask, copy_home, in_process, live_rag, open_ws, template
from serving_support import World, live_server, metric

from prodline.errors import InvalidInput
from prodline.serving import ServeOptions, create_app
from prodline.serving.fastpath import ServingApp
from prodline.serving.limits import ServerLimits
from prodline.serving.rag import RagOptions, create_rag_app

FIFTY_MB = 50 * 1024 * 1024
PREDICT = "/v1/models/clf/predict"
SECURITY = {"x-content-type-options": "nosniff", "x-frame-options": "DENY"}


def _port(live: Live) -> int:
    return int(live.url.rsplit(":", 1)[1])


def _secure(headers: httpx.Headers | dict[str, str]) -> bool:
    return all(headers.get(k) == v for k, v in SECURITY.items())


# -- the model server ---------------------------------------------------------------------


@pytest.fixture
def world(make_world: Callable[[], World]) -> World:
    return make_world()


def test_model_server_refuses_what_it_cannot_read_and_counts_it(world: World) -> None:
    with live_server(world.ws) as live, live.client() as http:
        ok = http.post(PREDICT, json={"inputs": [{"x1": 0.5, "x2": 1.0}]})
        deep = http.post(PREDICT, content=b'{"inputs": ' + b"[" * 64 + b"]" * 64 + b"}")
        not_utf8 = http.post(PREDICT, content=b'{"inputs": [{"x1": "\xc3\x28"}]}')
        lone = http.post(PREDICT, content=b'{"inputs": [{"x1": 1, "x2": "\\udc00"}]}')
        big = send_raw(_port(live), post_head(PREDICT, FIFTY_MB), [b"{" * 65536])
        health = http.get("/healthz")
        metrics = http.get("/metrics").text
    assert (
        ok.status_code == 200 and _secure(ok.headers) and ok.headers["cache-control"] == "no-store"
    )
    assert _secure(health.headers)
    assert deep.status_code == 400 and deep.json()["error"]["details"]["field"] == "body"
    assert "nests 65 levels" in deep.json()["error"]["message"]
    assert not_utf8.status_code == 400 and "not valid UTF-8" in not_utf8.json()["error"]["message"]
    assert lone.status_code == 400 and lone.json()["error"]["details"]["field"] == "inputs[0].x2"
    assert big.status == 413 and big.seconds < 2 and big.closed
    assert big.json()["error"]["code"] == "body_too_large" and _secure(big.headers)
    assert metric(metrics, "prodline_rejected_requests_total", reason="bad_json") == 3
    assert metric(metrics, "prodline_rejected_requests_total", reason="body_too_large") == 1


def test_model_server_limits_come_from_the_server_table(world: World) -> None:
    (world.home / "prodline.toml").write_text(
        "[server]\nmax_body_bytes = 2048\nrate_limit_per_min = 2\n", encoding="utf-8"
    )
    body = {"inputs": [{"x1": 0.5, "x2": 1.0}] * 200}  # about 4 kB
    with TestClient(create_app(world.ws, "clf", "production")) as client:
        too_big = client.post(PREDICT, json=body)
        ok = client.post(PREDICT, json={"inputs": [{"x1": 0.5, "x2": 1.0}]})
        limited = client.post(PREDICT, json={"inputs": [{"x1": 0.5, "x2": 1.0}]})
    assert (
        too_big.status_code == 413 and "limit of 2048 bytes" in too_big.json()["error"]["message"]
    )
    assert ok.status_code == 200
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
    (world.home / "prodline.toml").write_text("[server]\nburst = 5\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"unknown key 'burst'.*rate_limit_per_min"):
        create_app(world.ws, "clf", "production")


def test_model_server_without_the_layer_is_the_plain_fast_path(world: World) -> None:
    limits = ServerLimits.from_table({"enabled": False}, server="model")
    app = create_app(world.ws, "clf", "production", options=ServeOptions(limits=limits))
    assert type(app) is ServingApp
    with TestClient(app) as client:
        resp = client.post(PREDICT, json={"inputs": [{"x1": 0.5, "x2": 1.0}]})
    assert resp.status_code == 200 and "x-frame-options" not in resp.headers


# -- the RAG server -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def rag(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    home = copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-harden") / "home")
    limits = ServerLimits.from_table({"rate_limit_per_min": 0}, server="rag")
    with open_ws(home) as ws, live_rag(ws, KB, k=3, limits=limits) as live:
        yield live


def _error(resp: httpx.Response, status: int, field: str) -> str:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["details"]["field"] == field and error["param"] == field
    assert _secure(resp.headers)
    return str(error["message"])


def test_lone_surrogates_and_invalid_utf8_are_a_400_naming_the_field(rag: Live) -> None:
    with rag.client() as http:
        retrieve = http.post("/v1/retrieve", content=b'{"query": "\\ud800"}')
        chat = http.post(
            "/v1/chat/completions",
            content=b'{"messages": [{"role": "user", "content": "refunds \\ud800?"}]}',
        )
        raw = http.post("/v1/retrieve", content=b'{"query": "\xed\xa0\x80"}')
        latin1 = http.post("/v1/retrieve", content='{"query": "café"}'.encode("latin-1"))
        fine = http.post(
            "/v1/retrieve",
            content=b'{"query": "refunds \\ud83d\\ude00"}',
            headers={"content-type": "application/json"},
        )
    assert "lone UTF-16 surrogate" in _error(retrieve, 400, "query")
    _error(chat, 400, "messages[0].content")
    assert "not valid UTF-8" in _error(raw, 400, "body")
    _error(latin1, 400, "body")
    assert fine.status_code == 200, fine.text


def test_huge_and_deep_requests_are_refused_fast_and_cleanly(rag: Live) -> None:
    many = {"model": KB, "messages": [{"role": "user", "content": "hi"}] * 10_000}
    prompt = ask("refunds " * 125_000)  # 1 MB: under the 1 MiB body limit
    deep = b'{"messages": ' + b"[" * 40 + b"]" * 40 + b"}"
    with rag.client() as http:
        t0 = time.monotonic()
        too_many = http.post("/v1/chat/completions", json=many)
        too_long = http.post("/v1/chat/completions", json=prompt)
        too_deep = http.post("/v1/chat/completions", content=deep)
        long_query = http.post("/v1/retrieve", json={"query": "refunds " * 125_000})
        seconds = time.monotonic() - t0
    assert "at most 256 items" in _error(too_many, 422, "messages")
    assert "at most 32000 characters" in _error(too_long, 422, "messages[0].content")
    assert "nests 41 levels" in _error(too_deep, 400, "body")
    _error(long_query, 422, "query")
    assert seconds < 5
    big = send_raw(_port(rag), post_head("/v1/chat/completions", FIFTY_MB), [b"{" * 65536])
    streamed = send_raw(_port(rag), post_head("/v1/chat/completions", None), chunked(FIFTY_MB))
    for answer in (big, streamed):
        assert answer.status == 413 and answer.seconds < 5 and _secure(answer.headers)
        error = answer.json()["error"]
        assert error["code"] == "body_too_large" and error["param"] == "body"
        assert "1048576 bytes" in error["message"]
    assert streamed.sent < FIFTY_MB // 4


def test_content_parts_text_only_and_empty_prompts_name_the_field(rag: Live) -> None:
    parts = [{"type": "text", "text": "How long do refunds"}, {"type": "text", "text": "take?"}]
    with rag.client() as http:
        ok = http.post("/v1/chat/completions", json=ask("") | {"messages": [
            {"role": "user", "content": parts}
        ]})  # fmt: skip
        image = http.post(
            "/v1/chat/completions",
            json=ask("")
            | {"messages": [{"role": "user", "content": [parts[0], {"type": "image_url"}]}]},
        )
        nested = http.post(
            "/v1/chat/completions",
            json=ask("")
            | {"messages": [{"role": "user", "content": [{"type": "text", "text": {"t": "x"}}]}]},
        )
        as_object = http.post(
            "/v1/chat/completions",
            json=ask("") | {"messages": [{"role": "user", "content": {"text": "hi"}}]},
        )
        blank = http.post("/v1/chat/completions", json=ask(" \n\t "))
        blank_query = http.post("/v1/retrieve", json={"query": "   "})
    assert ok.status_code == 200, ok.text
    assert "14 days" in ok.json()["choices"][0]["message"]["content"]
    assert "part [1]: only text content" in _error(image, 422, "messages[0].content")
    assert 'part [0]: a text part needs a string "text"' in _error(
        nested, 422, "messages[0].content"
    )
    _error(as_object, 422, "messages[0].content")
    assert "empty" in _error(blank, 422, "messages[0].content")
    assert "empty" in _error(blank_query, 422, "query")


def test_streamed_answers_carry_the_headers_and_keep_their_cache_control(rag: Live) -> None:
    with (
        rag.client() as http,
        http.stream("POST", "/v1/chat/completions", json=ask(REFUND_Q, stream=True)) as resp,
    ):
        text = "".join(resp.iter_text())
        headers = resp.headers
    assert resp.status_code == 200 and "[DONE]" in text
    assert _secure(headers) and headers["cache-control"] == "no-cache"
    assert headers["content-security-policy"].startswith("default-src 'none'")


def test_rag_rate_limit_default_is_on_and_refusals_are_in_metrics(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    home = copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-rate") / "home")
    (home / "prodline.toml").write_text("[server]\nrate_limit_per_min = 3\n", encoding="utf-8")
    with open_ws(home) as ws, in_process(ws, k=2) as client:
        statuses = [
            client.post("/v1/retrieve", json={"query": "refunds"}).status_code for _ in range(3)
        ]
        over = client.post("/v1/retrieve", json={"query": "refunds"})
        metrics = client.get("/metrics").text
        (home / "prodline.toml").write_text("[server]\nmax_body = 1\n", encoding="utf-8")
        with pytest.raises(
            InvalidInput, match="unknown key 'max_body'; valid keys: max_body_bytes"
        ):
            create_rag_app(ws, KB, options=RagOptions())
    assert statuses == [200, 200, 200]
    assert over.status_code == 429 and over.headers["retry-after"] == "20"
    assert over.json()["error"]["type"] == "invalid_request_error"
    assert metric(metrics, "prodline_rejected_requests_total", reason="rate_limited") == 1
    assert ServerLimits.from_table({}, server="rag").rate_limit_per_min == 600

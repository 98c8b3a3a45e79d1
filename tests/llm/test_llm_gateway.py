"""The gateway over real servers: fallback, sensitivity routing, metering, streaming."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from llm_test_servers import USAGE_IN, USAGE_OUT, FakeServers, closed_url

from prodline.errors import InvalidInput
from prodline.llm import (
    ChatMessage,
    Completion,
    Gateway,
    LlmConfig,
    ProviderConfig,
    ProviderUnavailable,
)
from prodline.llm.config import EXTRACTIVE
from prodline.llm.providers import NOT_FOUND, ExtractiveProvider
from prodline.rag.types import Hit

ASK = [ChatMessage("user", "How long do refunds take?")]


def _config(*providers: ProviderConfig, fallback: list[str] | None = None) -> LlmConfig:
    table = {EXTRACTIVE: ExtractiveProvider().config, **{p.name: p for p in providers}}
    order = fallback if fallback is not None else [*(p.name for p in providers), EXTRACTIVE]
    return LlmConfig(providers=table, fallback=tuple(order))


@pytest.fixture
def world(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig]
) -> dict[str, ProviderConfig]:
    """A self-hosted vLLM, a cloud OpenAI and a cloud Anthropic, told apart by model name."""
    return {
        "down": make_provider("down", base_url=closed_url()),
        "local": make_provider(
            "local", base_url=servers.openai_url, self_hosted=True, model="local-model"
        ),
        "cloud": make_provider(
            "cloud",
            base_url=servers.openai_url,
            model="cloud-model",
            price_in_per_1k=0.5,
            price_out_per_1k=1.5,
        ),
        "claude": make_provider("claude", "anthropic", base_url=servers.url),
    }


def test_default_gateway_answers_offline(hits: list[Hit]) -> None:
    out = Gateway().complete(ASK, hits)
    assert out.provider == EXTRACTIVE and out.cost_usd == 0.0
    assert out.text.startswith("Refunds are issued within 14 days of the request [1].")
    assert out.citations[0] == 22
    assert out.route_reason == "fallback order: extractive"
    assert out.input_tokens > 0 and out.output_tokens > 0 and out.latency_ms >= 0


def test_cost_is_tokens_times_prices(
    servers: FakeServers, world: dict[str, ProviderConfig], hits: list[Hit]
) -> None:
    recorded: list[Completion] = []
    with Gateway(_config(world["cloud"]), on_complete=recorded.append) as gateway:
        out = gateway.complete(ASK, hits)
    assert out.provider == "cloud" and out.tried == []
    assert (out.input_tokens, out.output_tokens) == (USAGE_IN, USAGE_OUT)
    assert out.cost_usd == pytest.approx(USAGE_IN / 1000 * 0.5 + USAGE_OUT / 1000 * 1.5)
    assert recorded == [out]


def test_fallback_down_then_failing_then_extractive(
    servers: FakeServers, world: dict[str, ProviderConfig], hits: list[Hit]
) -> None:
    servers.anthropic.always_status = 500
    gateway = Gateway(_config(world["down"], world["claude"]))
    out = gateway.complete(ASK, hits)
    assert out.provider == EXTRACTIVE and out.citations[0] == 22
    assert [t["provider"] for t in out.tried] == ["down", "claude"]
    assert "ConnectError" in out.tried[0]["error"] and "HTTP 500" in out.tried[1]["error"]
    assert out.route_reason.endswith("down, claude failed, answered by extractive")


def test_fallback_to_the_next_remote_provider(
    servers: FakeServers, world: dict[str, ProviderConfig], hits: list[Hit]
) -> None:
    out = Gateway(_config(world["down"], world["claude"], world["cloud"])).complete(ASK, hits)
    assert out.provider == "claude" and [t["provider"] for t in out.tried] == ["down"]
    assert servers.openai.requests == []


def test_timeout_falls_back(
    servers: FakeServers, world: dict[str, ProviderConfig], hits: list[Hit]
) -> None:
    servers.openai.sleep_s = 1.0
    slow = ProviderConfig(**{**world["cloud"].__dict__, "timeout_s": 0.2})
    out = Gateway(_config(slow)).complete(ASK, hits)
    assert out.provider == EXTRACTIVE and "ReadTimeout" in out.tried[0]["error"]


def test_all_down_raises_provider_unavailable_with_tried(
    servers: FakeServers, world: dict[str, ProviderConfig], hits: list[Hit]
) -> None:
    servers.openai.always_status = 502
    config = _config(world["down"], world["cloud"], fallback=["down", "cloud"])
    with pytest.raises(ProviderUnavailable) as caught:
        Gateway(config).complete(ASK, hits)
    error = caught.value
    assert error.code == "provider_unavailable"
    tried = error.details["tried"]
    assert [t["provider"] for t in tried] == ["down", "cloud"]
    assert all(set(t) == {"provider", "error"} for t in tried)
    assert "HTTP 502" in tried[1]["error"]
    assert "No LLM provider could answer" in error.message and "llm.fallback" in error.message
    assert error.to_dict()["error"]["details"]["tried"] == tried


@pytest.mark.parametrize("label", ["pii", "phi"])
def test_sensitive_context_goes_only_to_self_hosted(
    servers: FakeServers,
    world: dict[str, ProviderConfig],
    pii_hits: list[Hit],
    label: str,
) -> None:
    hits = [*pii_hits[:-1], Hit(chunk_id=44, score=0.7, text="Jane Roe.", sensitivity=label)]
    config = _config(world["cloud"], world["claude"], world["local"])
    out = Gateway(config).complete(ASK, hits)
    assert out.provider == "local"
    assert servers.openai.models() == ["local-model"]  # the cloud model never saw it
    assert servers.anthropic.requests == []
    assert out.route_reason.startswith(f"context has {label}: restricted to self-hosted providers")


def test_sensitive_context_without_self_hosted_uses_extractive(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    config = _config(world["cloud"], world["claude"], fallback=["cloud", "claude"])
    out = Gateway(config).complete(ASK, pii_hits)
    assert out.provider == EXTRACTIVE and out.citations[0] == 22
    assert "no self-hosted provider configured" in out.route_reason
    assert servers.openai.requests == [] and servers.anthropic.requests == []


def test_sensitive_context_falls_back_among_self_hosted_only(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    servers.openai.always_status = 500
    config = _config(world["local"], world["cloud"], world["claude"])
    out = Gateway(config).complete(ASK, pii_hits)
    assert out.provider == EXTRACTIVE and [t["provider"] for t in out.tried] == ["local"]
    assert servers.openai.models() == ["local-model"] and servers.anthropic.requests == []


def test_explicit_cloud_provider_is_refused_for_sensitive_context(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    gateway = Gateway(_config(world["cloud"], world["local"]))
    with pytest.raises(InvalidInput, match=r"'cloud' is not self-hosted .* has pii") as caught:
        gateway.complete(ASK, pii_hits, provider="cloud")
    assert caught.value.details == {"provider": "cloud", "sensitivity": "pii"}
    assert servers.openai.requests == []
    ok = gateway.complete(ASK, pii_hits, provider="local")
    assert ok.provider == "local" and "provider is self-hosted" in ok.route_reason


def test_explicit_provider_is_used_alone(
    servers: FakeServers, world: dict[str, ProviderConfig], hits: list[Hit]
) -> None:
    gateway = Gateway(_config(world["down"], world["claude"]))
    assert gateway.complete(ASK, hits, provider="claude").provider == "claude"
    with pytest.raises(ProviderUnavailable) as caught:
        gateway.complete(ASK, hits, provider="down")  # no silent fallback
    assert [t["provider"] for t in caught.value.details["tried"]] == ["down"]
    with pytest.raises(InvalidInput, match="'nope' is not configured; known: claude, down"):
        gateway.complete(ASK, hits, provider="nope")


def test_stream_falls_back_before_the_first_delta(
    servers: FakeServers, world: dict[str, ProviderConfig], hits: list[Hit]
) -> None:
    servers.anthropic.break_stream_after = 0  # cut before any text
    items = list(Gateway(_config(world["down"], world["claude"], world["cloud"])).stream(ASK, hits))
    *deltas, final = items
    assert isinstance(final, Completion) and final.provider == "cloud"
    assert "".join(str(d) for d in deltas) == final.text
    assert [t["provider"] for t in final.tried] == ["down", "claude"]
    assert final.cost_usd == pytest.approx(USAGE_IN / 1000 * 0.5 + USAGE_OUT / 1000 * 1.5)


def test_stream_cut_midway_raises_partial(
    servers: FakeServers, world: dict[str, ProviderConfig], hits: list[Hit]
) -> None:
    servers.openai.break_stream_after = 3
    stream = Gateway(_config(world["cloud"])).stream(ASK, hits)
    received: list[Any] = []
    with pytest.raises(ProviderUnavailable, match="mid-stream") as caught:
        for item in stream:
            received.append(item)
    assert received and all(isinstance(r, str) for r in received)
    assert caught.value.details["partial"] is True


def test_extractive_stream_through_the_gateway(hits: list[Hit]) -> None:
    *deltas, final = list(Gateway().stream(ASK, hits))
    assert isinstance(final, Completion)
    assert " ".join(str(d).strip() for d in deltas) == final.text


def test_injected_providers_replace_configured_ones(hits: list[Hit]) -> None:
    picky = ExtractiveProvider(min_score=10.0)  # never confident enough
    out = Gateway(providers={EXTRACTIVE: picky}).complete(ASK, hits)
    assert out.text == NOT_FOUND and out.citations == []


@pytest.mark.parametrize(
    ("messages", "kwargs", "message"),
    [
        ([], {}, "messages must include a user message"),
        ([ChatMessage("system", "x")], {}, "messages must include a user message"),
        ([{"role": "robot", "content": "x"}], {}, r"messages\[0\].role must be one of"),
        (ASK, {"max_tokens": 0}, "max_tokens must be a positive integer"),
        (ASK, {"temperature": 3.0}, "temperature must be between 0 and 2"),
    ],
)
def test_bad_requests_are_invalid_input(
    messages: list[Any], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        Gateway().complete(messages, [], **kwargs)


def test_plain_dict_messages_are_accepted(hits: list[Hit]) -> None:
    out = Gateway().complete([{"role": "user", "content": "When are refunds issued?"}], hits)
    assert out.citations[0] == 22

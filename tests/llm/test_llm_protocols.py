"""Both HTTP protocols against real servers on 127.0.0.1: bodies, headers, usage, retries."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from llm_test_servers import USAGE_IN, USAGE_OUT, FakeServers, closed_url

from prodline.llm import (
    AnthropicProvider,
    ChatMessage,
    Completion,
    LlmRequest,
    OpenAICompatProvider,
    ProviderConfig,
    ProviderFailed,
    build_messages,
    count_message_tokens,
    count_tokens,
)
from prodline.llm.prompt import SYSTEM_PROMPT
from prodline.rag.types import Hit

RENUMBERED = "Refunds are issued within 14 days [1]. Ask support to start one [2]."
QUESTION = [ChatMessage("user", "How long do refunds take?")]


def _request(hits: list[Hit], max_tokens: int = 512, temperature: float = 0.0) -> LlmRequest:
    return LlmRequest(tuple(QUESTION), tuple(hits), max_tokens, temperature)


def _drain(items: list[str | Completion]) -> tuple[list[str], Completion]:
    *deltas, final = items
    assert isinstance(final, Completion)
    assert all(isinstance(d, str) for d in deltas)
    return [str(d) for d in deltas], final


@pytest.fixture
def openai_cfg(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig]
) -> ProviderConfig:
    return make_provider("cloud", base_url=servers.openai_url, api_key_env="FAKE_OPENAI_KEY")


@pytest.fixture
def anthropic_cfg(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig]
) -> ProviderConfig:
    return make_provider(
        "claude", "anthropic", base_url=servers.url, api_key_env="FAKE_ANTHROPIC_KEY"
    )


def test_openai_complete_sends_protocol_and_reads_usage(
    servers: FakeServers,
    openai_cfg: ProviderConfig,
    hits: list[Hit],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_OPENAI_KEY", "k-123")
    provider = OpenAICompatProvider(openai_cfg)
    try:
        out = provider.complete(_request(hits, max_tokens=64, temperature=0.3))
    finally:
        provider.close()
    assert out.text == RENUMBERED
    assert out.citations == [22, 11]  # [1] -> chunk 22, [2] -> chunk 11
    assert (out.input_tokens, out.output_tokens, out.usage_source) == (
        USAGE_IN,
        USAGE_OUT,
        "provider",
    )
    assert out.finish_reason == "stop" and out.model == "cloud-model"
    sent = servers.openai.requests[0]
    assert sent["headers"]["authorization"] == "Bearer k-123"
    body = sent["body"]
    assert body["model"] == "cloud-model" and body["max_tokens"] == 64
    assert body["temperature"] == 0.3 and "stream" not in body
    assert body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert "[2] (Refunds — Timing)" in body["messages"][-1]["content"]


def test_openai_sends_no_authorization_without_a_key(
    servers: FakeServers,
    openai_cfg: ProviderConfig,
    hits: list[Hit],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FAKE_OPENAI_KEY", raising=False)
    OpenAICompatProvider(openai_cfg).complete(_request(hits))
    assert "authorization" not in servers.openai.requests[0]["headers"]


def test_openai_stream_yields_deltas_then_completion(
    servers: FakeServers, openai_cfg: ProviderConfig, hits: list[Hit]
) -> None:
    servers.openai.chunk = 3  # markers like "[2]" arrive split across deltas
    deltas, final = _drain(list(OpenAICompatProvider(openai_cfg).stream(_request(hits))))
    assert len(deltas) > 5
    assert "".join(deltas) == final.text == RENUMBERED
    assert final.citations == [22, 11]
    assert (final.input_tokens, final.output_tokens, final.usage_source) == (
        USAGE_IN,
        USAGE_OUT,
        "provider",
    )
    body = servers.openai.requests[0]["body"]
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True])
def test_missing_usage_is_counted_locally(
    servers: FakeServers, openai_cfg: ProviderConfig, hits: list[Hit], stream: bool
) -> None:
    servers.openai.usage = False
    provider = OpenAICompatProvider(openai_cfg)
    request = _request(hits)
    out = _drain(list(provider.stream(request)))[1] if stream else provider.complete(request)
    assert out.usage_source == "counted"
    assert out.input_tokens == count_message_tokens(build_messages(QUESTION, hits))
    assert out.output_tokens == count_tokens(RENUMBERED) > 0


def test_anthropic_complete_sends_protocol_and_reads_usage(
    servers: FakeServers,
    anthropic_cfg: ProviderConfig,
    hits: list[Hit],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_ANTHROPIC_KEY", "a-456")
    messages = (
        ChatMessage("system", "Be brief."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello"),
        *QUESTION,
    )
    out = AnthropicProvider(anthropic_cfg).complete(LlmRequest(messages, tuple(hits), 99))
    assert out.text == RENUMBERED and out.citations == [22, 11]
    assert (out.input_tokens, out.output_tokens, out.usage_source) == (
        USAGE_IN,
        USAGE_OUT,
        "provider",
    )
    sent = servers.anthropic.requests[0]
    assert sent["headers"]["x-api-key"] == "a-456"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    body = sent["body"]
    assert body["system"] == SYSTEM_PROMPT + "\n\nBe brief."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["max_tokens"] == 99 and body["model"] == "claude-model"


@pytest.mark.parametrize("usage", [True, False])
def test_anthropic_stream(
    servers: FakeServers, anthropic_cfg: ProviderConfig, hits: list[Hit], usage: bool
) -> None:
    servers.anthropic.usage = usage
    servers.anthropic.chunk = 2
    deltas, final = _drain(list(AnthropicProvider(anthropic_cfg).stream(_request(hits))))
    assert "".join(deltas) == final.text == RENUMBERED
    assert final.citations == [22, 11] and final.finish_reason == "stop"
    assert servers.anthropic.requests[0]["body"]["stream"] is True
    if usage:
        assert (final.input_tokens, final.output_tokens) == (USAGE_IN, USAGE_OUT)
    else:
        assert final.usage_source == "counted" and final.output_tokens == count_tokens(RENUMBERED)


def test_retries_with_exponential_backoff_then_success(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig], hits: list[Hit]
) -> None:
    servers.openai.fail_first = 2
    waits: list[float] = []
    cfg = make_provider("flaky", base_url=servers.openai_url, retries=2)
    out = OpenAICompatProvider(cfg, sleep=waits.append, backoff_s=0.1).complete(_request(hits))
    assert out.text == RENUMBERED
    assert len(servers.openai.requests) == 3
    assert waits == [0.1, 0.2]


def test_retries_are_bounded(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig], hits: list[Hit]
) -> None:
    servers.openai.always_status = 503
    cfg = make_provider("flaky", base_url=servers.openai_url, retries=1)
    with pytest.raises(ProviderFailed, match=r"HTTP 503 .*after 2 attempts") as caught:
        OpenAICompatProvider(cfg, sleep=lambda _: None).complete(_request(hits))
    assert "fake upstream refused with 503" in caught.value.message
    assert len(servers.openai.requests) == 2


def test_429_honours_retry_after(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig], hits: list[Hit]
) -> None:
    servers.openai.fail_first, servers.openai.fail_status = 1, 429
    servers.openai.retry_after = "1.5"
    waits: list[float] = []
    cfg = make_provider("limited", base_url=servers.openai_url, retries=3)
    OpenAICompatProvider(cfg, sleep=waits.append, backoff_s=0.01).complete(_request(hits))
    assert waits == [1.5]


def test_client_errors_are_not_retried(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig], hits: list[Hit]
) -> None:
    servers.anthropic.always_status = 400
    cfg = make_provider("claude", "anthropic", base_url=servers.url, retries=3)
    with pytest.raises(ProviderFailed, match="HTTP 400") as caught:
        AnthropicProvider(cfg, sleep=lambda _: None).complete(_request(hits))
    assert not caught.value.retryable
    assert len(servers.anthropic.requests) == 1


def test_timeout_and_connection_refused_are_provider_failures(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig], hits: list[Hit]
) -> None:
    servers.openai.sleep_s = 1.0
    slow = make_provider("slow", base_url=servers.openai_url, timeout_s=0.2)
    with pytest.raises(ProviderFailed, match="ReadTimeout"):
        OpenAICompatProvider(slow).complete(_request(hits))
    down = make_provider("down", base_url=closed_url(), retries=2)
    waits: list[float] = []
    with pytest.raises(ProviderFailed, match=r"ConnectError.*after 3 attempts"):
        OpenAICompatProvider(down, sleep=waits.append).complete(_request(hits))
    assert waits == [0.25, 0.5]


def test_stream_is_retried_before_its_first_byte(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig], hits: list[Hit]
) -> None:
    servers.anthropic.fail_first = 1
    cfg = make_provider("claude", "anthropic", base_url=servers.url, retries=1)
    provider = AnthropicProvider(cfg, sleep=lambda _: None)
    _, final = _drain(list(provider.stream(_request(hits))))
    assert final.text == RENUMBERED and len(servers.anthropic.requests) == 2


def test_garbled_replies_are_provider_failures(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig], hits: list[Hit]
) -> None:
    chat = make_provider("html", base_url=servers.url + "/garbled")
    with pytest.raises(ProviderFailed, match="is not JSON"):
        OpenAICompatProvider(chat).complete(_request(hits))
    claude = make_provider("empty", "anthropic", base_url=servers.url + "/garbled")
    with pytest.raises(ProviderFailed, match="has no content blocks"):
        AnthropicProvider(claude).complete(_request(hits))


def test_an_unusable_url_is_not_retried(make_provider: Callable[..., ProviderConfig]) -> None:
    waits: list[float] = []
    provider = OpenAICompatProvider(make_provider("x", base_url="http://", retries=3))
    provider._sleep = waits.append
    with pytest.raises(ProviderFailed, match="UnsupportedProtocol") as caught:
        provider.complete(_request([]))
    assert waits == [] and not caught.value.retryable


def test_a_wrong_base_url_is_a_provider_failure(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig], hits: list[Hit]
) -> None:
    cfg = make_provider("wrong-path", base_url=servers.url + "/nope")
    with pytest.raises(ProviderFailed, match="HTTP 404"):
        OpenAICompatProvider(cfg).complete(_request(hits))

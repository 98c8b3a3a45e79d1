"""API keys stay in the environment: never in repr, error messages, details or logs."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
from llm_test_servers import SECRET, FakeServers, closed_url

from prodline.errors import InvalidInput
from prodline.llm import (
    ChatMessage,
    Gateway,
    LlmConfig,
    ProviderConfig,
    ProviderUnavailable,
    parse_llm_config,
)
from prodline.llm.providers import AnthropicProvider, OpenAICompatProvider
from prodline.llm.providers.base import scrub
from prodline.rag.types import Hit

ASK = [ChatMessage("user", "How long do refunds take?")]


@pytest.fixture
def keyed(
    servers: FakeServers,
    make_provider: Callable[..., ProviderConfig],
    monkeypatch: pytest.MonkeyPatch,
) -> list[ProviderConfig]:
    monkeypatch.setenv("LLM_TEST_KEY", SECRET)
    return [
        make_provider("cloud", base_url=servers.openai_url, api_key_env="LLM_TEST_KEY"),
        make_provider("claude", "anthropic", base_url=servers.url, api_key_env="LLM_TEST_KEY"),
    ]


def test_repr_hides_the_key(keyed: list[ProviderConfig]) -> None:
    config = LlmConfig(providers={p.name: p for p in keyed}, fallback=("cloud", "claude"))
    texts = [repr(config), str(config), repr(keyed[0]), repr(OpenAICompatProvider(keyed[0]))]
    texts.append(repr(AnthropicProvider(keyed[1])))
    for text in texts:
        assert SECRET not in text
    assert "$LLM_TEST_KEY (hidden)" in repr(keyed[0])
    assert keyed[0].api_key() == SECRET  # read from the environment at call time


def test_key_is_sent_but_never_logged_or_raised(
    servers: FakeServers,
    keyed: list[ProviderConfig],
    hits: list[Hit],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx and httpcore included
    config = LlmConfig(providers={p.name: p for p in keyed}, fallback=("cloud", "claude"))
    gateway = Gateway(config)
    ok = gateway.complete(ASK, hits)
    assert servers.openai.requests[0]["headers"]["authorization"] == f"Bearer {SECRET}"
    servers.reset()
    for fake in (servers.openai, servers.anthropic):
        fake.always_status, fake.echo_key = 401, True  # the servers echo the key back
    with pytest.raises(ProviderUnavailable) as caught:
        gateway.complete(ASK, hits)
    assert servers.anthropic.requests[0]["headers"]["x-api-key"] == SECRET
    error = caught.value
    assert "key was Bearer ***" in error.message and "key was ***" in error.message
    seen = [repr(ok), str(error), repr(error.details), repr(error.to_dict())]
    seen += [r.getMessage() for r in caplog.records]
    assert caplog.records, "expected the fallback warnings to be logged"
    for text in seen:
        assert SECRET not in text


@pytest.mark.parametrize(
    "table",
    [
        {"kind": "openai", "model": "m", "api_key": SECRET},
        {"kind": "openai", "model": "m", "api_key_env": SECRET},
    ],
)
def test_config_errors_do_not_echo_a_pasted_key(table: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_llm_config({"providers": {"openai": table}})
    assert "api_key" in caught.value.message
    assert SECRET not in str(caught.value) and SECRET not in repr(caught.value.to_dict())


PASSWORD = "pw-SECRET-9876543210"


def _with_userinfo(url: str) -> str:
    return url.replace("http://", f"http://proxyuser:{PASSWORD}@", 1)


@pytest.mark.parametrize("kind", ["openai", "anthropic"])
def test_userinfo_and_a_key_with_a_newline_never_reach_errors_or_logs(
    servers: FakeServers,
    make_provider: Callable[..., ProviderConfig],
    hits: list[Hit],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    kind: str,
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx logs every request URL at INFO
    monkeypatch.setenv("LLM_TEST_KEY", SECRET + "\n")  # as `echo $KEY > file` leaves it
    base = servers.openai_url if kind == "openai" else servers.url
    config = make_provider("cloud", kind, base_url=_with_userinfo(base), api_key_env="LLM_TEST_KEY")
    gateway = Gateway(LlmConfig(providers={"cloud": config}, fallback=("cloud",)))
    fake = servers.openai if kind == "openai" else servers.anthropic
    ok = gateway.complete(ASK, hits)  # the key is sent stripped, the userinfo as Basic auth
    sent = fake.requests[0]["headers"]
    key_header = "authorization" if kind == "openai" else "x-api-key"
    assert SECRET + "\n" not in str(sent)
    if kind == "anthropic":
        assert sent["x-api-key"] == SECRET
    assert sent["authorization"].startswith("Basic ")  # URL credentials still reach the proxy
    fake.always_status, fake.echo_key = 401, True
    with pytest.raises(ProviderUnavailable) as caught:
        gateway.complete(ASK, hits)
    error = caught.value
    tried = error.details["tried"]
    assert tried and "key was" in tried[0]["error"] and "***" in tried[0]["error"]
    assert key_header  # the echoed header value is what the fake server put in the message
    seen = [repr(ok), str(error), repr(error.details), repr(error.to_dict())]
    seen += [r.getMessage() for r in caplog.records]
    for text in seen:
        assert SECRET not in text and PASSWORD not in text


def test_a_dead_provider_with_userinfo_is_named_without_it(
    make_provider: Callable[..., ProviderConfig],
    hits: list[Hit],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    dead = closed_url().replace("http://", f"http://me:{PASSWORD}@")
    config = make_provider("dead", base_url=dead)
    gateway = Gateway(LlmConfig(providers={"dead": config}, fallback=("dead",)))
    with pytest.raises(ProviderUnavailable) as caught:
        gateway.complete(ASK, hits)
    message = caught.value.details["tried"][0]["error"]
    assert "ConnectError" in message and "://" in message
    for text in [message, str(caught.value)] + [r.getMessage() for r in caplog.records]:
        assert PASSWORD not in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET https://u:p4ss@h.example/v1 failed", "GET https://***@h.example/v1 failed"),
        ("Illegal header value b'Bearer sk-abcdef\\n'", "Illegal header value b'Bearer ***'"),
        ("headers {'x-api-key': 'abc-123'}", "headers {'x-api-key': '***'}"),
        ("Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic ***"),
        ("nothing secret here: 14 days", "nothing secret here: 14 days"),
    ],
)
def test_scrub_removes_credentials_in_any_form(text: str, expected: str) -> None:
    assert scrub(text, ["sk-abcdef\n"]) == expected


def test_repr_hides_url_credentials() -> None:
    config = ProviderConfig(
        name="vllm", kind="openai", base_url="https://bob:s3cret@llm.example/v1", model="m"
    )
    assert "s3cret" not in repr(config) and "bob" not in repr(config)
    assert "llm.example/v1" in repr(config)

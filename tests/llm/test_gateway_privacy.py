"""The gateway's privacy policies (route, redact, refuse) over a real OpenAI-style server.

The fake server records every request body, so these tests assert what actually left
the process: placeholders, never the raw values; and that the answer that came back
with placeholders (whole or split across SSE deltas) reaches the caller restored.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from llm_test_servers import FakeServers, closed_url

from prodline.errors import InvalidInput
from prodline.guard.redact import PLACEHOLDER, Redaction
from prodline.llm import ChatMessage, Completion, Gateway, LlmConfig, ProviderConfig
from prodline.llm.config import EXTRACTIVE
from prodline.llm.providers import ExtractiveProvider
from prodline.rag.types import Hit

EMAIL, PHONE, NAME = "jane.roe@example.org", "+1 415 555 0100", "Jane Roe"
USER_EMAIL = "sam.lee@example.com"
RAW = [EMAIL, PHONE, NAME, USER_EMAIL, "555 0100", "jane.roe"]
ASK = [ChatMessage("user", f"I am {USER_EMAIL}. How do I reach the customer Jane Roe?")]


def _config(*providers: ProviderConfig, fallback: list[str] | None = None) -> LlmConfig:
    table = {EXTRACTIVE: ExtractiveProvider().config, **{p.name: p for p in providers}}
    order = fallback if fallback is not None else [*(p.name for p in providers), EXTRACTIVE]
    return LlmConfig(providers=table, fallback=tuple(order))


@pytest.fixture
def world(
    servers: FakeServers, make_provider: Callable[..., ProviderConfig]
) -> dict[str, ProviderConfig]:
    return {
        "local": make_provider(
            "local", base_url=servers.openai_url, self_hosted=True, model="local-model"
        ),
        "cloud": make_provider("cloud", base_url=servers.openai_url, model="cloud-model"),
        "down": make_provider("down", base_url=closed_url(), model="down-model"),
        "claude": make_provider("claude", "anthropic", base_url=servers.url),
    }


@pytest.fixture
def pii_hits() -> list[Hit]:
    return [
        Hit(
            chunk_id=7,
            score=0.9,
            text=f"Customer record. Patient: {NAME}. Email {EMAIL}, phone {PHONE}.",
            title="Customers",
            heading=f"Contact of {EMAIL}",
            sensitivity="pii",
        ),
        Hit(chunk_id=8, score=0.5, text="Support answers within one business day."),
    ]


def _sent(servers: FakeServers) -> list[str]:
    return [json.dumps(r["body"]) for r in servers.openai.requests]


def _assert_nothing_raw(bodies: list[str]) -> None:
    assert bodies
    for body in bodies:
        for value in RAW:
            assert value not in body, value


def test_redact_sends_placeholders_and_restores_the_answer(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    servers.openai.reply = "Write to <EMAIL_2> or call <PHONE_1> [1]; <PERSON_1> replies."
    recorded: list[Completion] = []
    gateway = Gateway(_config(world["cloud"]), redactor=Redaction, on_complete=recorded.append)
    out = gateway.complete(ASK, pii_hits, privacy="redact")
    (body,) = _sent(servers)
    _assert_nothing_raw([body])
    sent = servers.openai.requests[0]["body"]["messages"]
    user = sent[-1]["content"]
    assert "I am <EMAIL_1>." in user  # the user's own address, redacted too
    assert "Patient: <PERSON_1>. Email <EMAIL_2>, phone <PHONE_1>." in user
    assert "(Customers — Contact of <EMAIL_2>)" in user  # the heading as well
    assert "customer <PERSON_1>?" in user  # the bare name, known from the passage
    assert all(
        m.group(0) in {"<EMAIL_1>", "<EMAIL_2>", "<PERSON_1>", "<PHONE_1>"}
        for m in PLACEHOLDER.finditer(body)
    )
    assert out.provider == "cloud"
    assert out.text == f"Write to {EMAIL} or call {PHONE} [1]; {NAME} replies."
    assert out.citations == [7]
    assert out.redactions == {"email": 2, "person_name": 1, "phone": 1}
    assert out.route_reason.endswith(
        "redacted 4 values (email, person_name, phone) for provider 'cloud'"
    )
    assert all(value not in out.route_reason for value in RAW)
    assert recorded == [out]


def test_redacted_stream_restores_placeholders_split_across_deltas(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    servers.openai.reply = "Mail <EMAIL_2> now [1]. Unknown: <EMAIL_9>. Call <PHONE_1>"
    servers.openai.chunk = 3  # "<EM", "AIL", "_2>" arrive as separate SSE events
    gateway = Gateway(_config(world["cloud"]), redactor=Redaction)
    *deltas, final = list(gateway.stream(ASK, pii_hits, privacy="redact"))
    _assert_nothing_raw(_sent(servers))
    assert isinstance(final, Completion)
    expected = f"Mail {EMAIL} now [1]. Unknown: <EMAIL_9>. Call {PHONE}"
    assert final.text == expected and "".join(str(d) for d in deltas) == expected
    assert any(EMAIL in d for d in deltas) and any(PHONE in d for d in deltas)  # whole
    for delta in deltas:
        assert not str(delta).endswith(("<", "<E", "<EM", "<EMAIL_", "<PHO"))
    assert final.redactions == {"email": 2, "person_name": 1, "phone": 1}


def test_redact_over_anthropic_too(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    servers.anthropic.reply = "Ask <PERSON_1> [1]."
    gateway = Gateway(_config(world["claude"]), redactor=Redaction)
    out = gateway.complete(ASK, pii_hits, privacy="redact")
    body = json.dumps(servers.anthropic.requests[0]["body"])
    assert "<PERSON_1>" in body and all(value not in body for value in RAW)
    assert out.text == f"Ask {NAME} [1]." and out.provider == "claude"


def test_self_hosted_providers_get_the_raw_text(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    servers.openai.reply = "Her address is <EMAIL_1>."  # a literal, not ours to restore
    gateway = Gateway(_config(world["local"], world["cloud"]), redactor=Redaction)
    out = gateway.complete(ASK, pii_hits, privacy="redact")
    assert servers.openai.models() == ["local-model"]
    assert EMAIL in _sent(servers)[0] and USER_EMAIL in _sent(servers)[0]
    assert out.provider == "local" and out.redactions == {}
    assert out.text == "Her address is <EMAIL_1>." and "for provider" not in out.route_reason


def test_every_remote_attempt_gets_the_same_placeholders(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    servers.openai.fail_first = 1
    servers.openai.reply = "<EMAIL_2> [1]"
    cloud2 = ProviderConfig(**{**world["cloud"].__dict__, "name": "cloud2"})
    config = _config(world["down"], world["cloud"], cloud2, fallback=["down", "cloud", "cloud2"])
    out = Gateway(config, redactor=Redaction).complete(ASK, pii_hits, privacy="redact")
    assert [t["provider"] for t in out.tried] == ["down", "cloud"]
    first, second = (r["body"]["messages"] for r in servers.openai.requests)
    assert first == second  # one vault per request: the same redacted prompt
    _assert_nothing_raw(_sent(servers))
    assert out.provider == "cloud2" and out.text == f"{EMAIL} [1]"
    assert out.route_reason.endswith("for provider 'cloud2'")


def test_redact_also_covers_pii_in_an_unlabelled_request(
    servers: FakeServers, world: dict[str, ProviderConfig]
) -> None:
    hits = [Hit(chunk_id=1, score=1.0, text="Refunds take 14 days.")]
    gateway = Gateway(_config(world["cloud"]), redactor=Redaction)
    out = gateway.complete(ASK, hits, privacy="redact")
    body = _sent(servers)[0]
    assert USER_EMAIL not in body and "<EMAIL_1>" in body
    assert out.route_reason.startswith("fallback order: cloud, extractive")
    assert out.redactions == {"email": 1}
    # Nothing found: nothing counted, and the reason still says redaction ran.
    servers.reset()
    plain = gateway.complete([ChatMessage("user", "Refund time?")], hits, privacy="redact")
    assert plain.redactions == {} and plain.route_reason.endswith(
        "redacted 0 values for provider 'cloud'"
    )


def test_user_text_that_looks_like_a_placeholder_is_not_confused(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    servers.openai.reply = "You typed <LITERAL_1>; the customer is <EMAIL_1> [1]."
    ask = [ChatMessage("user", "What is <EMAIL_1> in my export?")]
    gateway = Gateway(_config(world["cloud"]), redactor=Redaction)
    out = gateway.complete(ask, pii_hits, privacy="redact")
    user = servers.openai.requests[0]["body"]["messages"][-1]["content"]
    assert "What is <LITERAL_1> in my export?" in user and "Email <EMAIL_1>" in user
    assert out.text == f"You typed <EMAIL_1>; the customer is {EMAIL} [1]."
    assert out.redactions == {"email": 1, "person_name": 1, "phone": 1}


def test_explicit_cloud_provider_under_redact_is_sent_redacted(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    gateway = Gateway(_config(world["local"], world["cloud"]), redactor=Redaction)
    out = gateway.complete(ASK, pii_hits, provider="cloud", privacy="redact")
    assert servers.openai.models() == ["cloud-model"]
    _assert_nothing_raw(_sent(servers))
    assert out.route_reason.startswith(
        "provider 'cloud' requested by the caller; context has pii, sent redacted"
    )


def test_route_never_sends_sensitive_context_off_box(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    gateway = Gateway(_config(world["cloud"]), redactor=Redaction)
    out = gateway.complete(ASK, pii_hits)  # privacy="route" is the default
    assert out.provider == EXTRACTIVE and servers.openai.requests == []
    assert out.redactions == {}
    with pytest.raises(InvalidInput, match=r"privacy policy 'route'.*use privacy 'redact'"):
        gateway.complete(ASK, pii_hits, provider="cloud", privacy="route")


def test_refuse_names_the_policy_and_sends_nothing(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    gateway = Gateway(_config(world["cloud"]))
    with pytest.raises(InvalidInput, match="privacy policy 'refuse'") as caught:
        gateway.complete(ASK, pii_hits, privacy="refuse")
    message = caught.value.message
    assert "'route'" in message and "'redact'" in message and "self-hosted" in message
    assert caught.value.details == {"provider": "cloud", "sensitivity": "pii", "privacy": "refuse"}
    with pytest.raises(InvalidInput, match="privacy policy 'refuse'"):
        list(gateway.stream(ASK, pii_hits, privacy="refuse"))
    with pytest.raises(InvalidInput, match=r"'cloud' is not self-hosted .*'refuse'"):
        gateway.complete(ASK, pii_hits, provider="cloud", privacy="refuse")
    assert servers.openai.requests == []


def test_refuse_answers_when_the_first_choice_is_self_hosted(
    servers: FakeServers, world: dict[str, ProviderConfig], pii_hits: list[Hit]
) -> None:
    gateway = Gateway(_config(world["local"], world["cloud"]))
    out = gateway.complete(ASK, pii_hits, privacy="refuse")
    assert out.provider == "local" and servers.openai.models() == ["local-model"]
    # Without sensitive context there is nothing to refuse.
    servers.reset()
    plain = [Hit(chunk_id=1, score=1.0, text="Refunds take 14 days.")]
    assert Gateway(_config(world["cloud"])).complete(ASK, plain, privacy="refuse").provider == (
        "cloud"
    )


def test_redact_needs_the_guard_and_bad_policies_are_refused(pii_hits: list[Hit]) -> None:
    with pytest.raises(InvalidInput, match="redact' needs the guard") as caught:
        Gateway().complete(ASK, pii_hits, privacy="redact")
    assert caught.value.details == {"field": "privacy"}
    with pytest.raises(InvalidInput, match="needs the guard"):
        next(iter(Gateway().stream(ASK, pii_hits, privacy="redact")))
    with pytest.raises(InvalidInput, match="privacy must be one of route, redact, refuse"):
        Gateway().complete(ASK, pii_hits, privacy="sometimes")
    with pytest.raises(InvalidInput, match="factory"):
        Gateway(redactor=Redaction())  # type: ignore[arg-type]


def test_the_extractive_answerer_is_self_hosted_under_every_policy(pii_hits: list[Hit]) -> None:
    gateway = Gateway(redactor=Redaction)
    for privacy in ("route", "redact", "refuse"):
        out: Any = gateway.complete(ASK, pii_hits, privacy=privacy)
        assert out.provider == EXTRACTIVE and out.redactions == {}

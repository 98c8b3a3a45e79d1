"""``[llm]`` in prodline.toml: defaults, a full example, and one message per mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from prodline.errors import InvalidInput
from prodline.llm import LlmConfig, load_llm_config, parse_llm_config
from prodline.llm.config import EXTRACTIVE

EXAMPLE = """
[prodline]
actor = "ops"

[llm]
fallback = ["local-vllm", "openai", "extractive"]
judge = "openai"

[llm.providers.local-vllm]
kind = "openai"
model = "meta-llama/Llama-3.1-8B-Instruct"
base_url = "http://127.0.0.1:8000/v1/"
self_hosted = true

[llm.providers.openai]
kind = "openai"
model = "gpt-4o-mini"
api_key_env = "OPENAI_API_KEY"
timeout_s = 30
retries = 2
price_in_per_1k = 0.0005
price_out_per_1k = 0.0015

[llm.providers.claude]
kind = "anthropic"
model = "claude-sonnet-4-5"
api_key_env = "ANTHROPIC_API_KEY"
timeout_s = 12.5
"""


def test_no_file_means_only_the_extractive_answerer(tmp_path: Path) -> None:
    config = load_llm_config(tmp_path)
    assert config == LlmConfig()
    assert list(config.providers) == [EXTRACTIVE] and config.fallback == (EXTRACTIVE,)
    assert config.providers[EXTRACTIVE].is_self_hosted and config.judge is None


def test_a_file_without_llm_section_is_the_default(tmp_path: Path) -> None:
    (tmp_path / "prodline.toml").write_text('[prodline]\nactor = "x"\n')
    assert load_llm_config(tmp_path) == LlmConfig()


def test_full_example(tmp_path: Path) -> None:
    (tmp_path / "prodline.toml").write_text(EXAMPLE)
    config = load_llm_config(tmp_path)
    assert config.fallback == ("local-vllm", "openai", "extractive")
    assert config.judge == "openai"
    local, cloud, claude = (config.providers[n] for n in ("local-vllm", "openai", "claude"))
    assert local.base_url == "http://127.0.0.1:8000/v1" and local.self_hosted
    assert local.api_key_env is None and local.retries == 2 and local.timeout_s == 30.0
    assert cloud.base_url == "https://api.openai.com/v1" and not cloud.self_hosted
    assert (cloud.price_in_per_1k, cloud.price_out_per_1k) == (0.0005, 0.0015)
    assert cloud.api_key_env == "OPENAI_API_KEY"
    assert claude.kind == "anthropic" and claude.base_url == "https://api.anthropic.com"
    assert claude.timeout_s == 12.5
    assert cloud.cost(2000, 1000) == pytest.approx(0.001 + 0.0015)


def test_fallback_defaults_to_declared_order_then_extractive() -> None:
    config = parse_llm_config(
        {
            "providers": {
                "b": {"kind": "anthropic", "model": "m"},
                "a": {"kind": "openai", "model": "m"},
            }
        }
    )
    assert config.fallback == ("b", "a", EXTRACTIVE)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "prodline.toml").write_text("[llm\n")
    with pytest.raises(InvalidInput, match=r"prodline\.toml' is not valid TOML"):
        load_llm_config(tmp_path)


def _p(**values: Any) -> dict[str, Any]:
    return {"providers": {"openai": {"kind": "openai", "model": "m", **values}}}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"provider": {}}, "llm.provider is not a known key; use providers, fallback or judge."),
        ({"providers": []}, "llm.providers must be a table of [llm.providers.NAME]."),
        ({"providers": {"x": 3}}, "llm.providers.x must be a table ([llm.providers.x])."),
        ({"providers": {"bad name": {}}}, "llm.providers.bad name is not a valid provider name"),
        (_p(kind="gpt"), "llm.providers.openai.kind must be one of openai, anthropic, extractive."),
        (_p(kind=None), "llm.providers.openai.kind must be one of openai, anthropic, extractive."),
        (_p(model=""), "llm.providers.openai.model must be a non-empty string."),
        (
            _p(base_url="ftp://x"),
            "llm.providers.openai.base_url must be an http:// or https:// URL.",
        ),
        (_p(self_hosted="yes"), "llm.providers.openai.self_hosted must be true or false."),
        (_p(timeout_s=0), "llm.providers.openai.timeout_s must be a number > 0."),
        (_p(timeout_s="30"), "llm.providers.openai.timeout_s must be a number > 0."),
        (_p(retries=-1), "llm.providers.openai.retries must be an integer >= 0 and <= 10."),
        (_p(retries=1.5), "llm.providers.openai.retries must be an integer >= 0 and <= 10."),
        (_p(retries=True), "llm.providers.openai.retries must be an integer >= 0 and <= 10."),
        (_p(price_in_per_1k=-0.1), "llm.providers.openai.price_in_per_1k must be a number >= 0."),
        (_p(price_out_per_1k="x"), "llm.providers.openai.price_out_per_1k must be a number >= 0."),
        (_p(temperature=1), "llm.providers.openai.temperature is not a known key; use one of"),
        (_p(api_key_env="my key"), "llm.providers.openai.api_key_env must be the name of an"),
        (
            {"providers": {"extractive": {"kind": "openai", "model": "m"}}},
            "llm.providers.extractive.kind must be extractive: the name is reserved",
        ),
        ({"fallback": []}, "llm.fallback must be a non-empty list of provider names"),
        ({"fallback": "extractive"}, "llm.fallback must be a non-empty list of provider names"),
        (
            {"fallback": ["ghost"]},
            "llm.fallback names unknown provider 'ghost'; known: extractive.",
        ),
        ({"judge": "ghost"}, "llm.judge must name a configured provider; known: extractive."),
    ],
)
def test_validation_messages_name_the_key(section: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_llm_config(section)
    assert caught.value.message.startswith(message)
    assert caught.value.details["key"].startswith("llm")


def test_extractive_can_be_declared_and_listed_anywhere() -> None:
    config = parse_llm_config(
        {"fallback": ["extractive"], "providers": {"extractive": {"kind": "extractive"}}}
    )
    assert config.providers[EXTRACTIVE].model == EXTRACTIVE

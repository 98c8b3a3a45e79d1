"""The ``[llm]`` section of ``<home>/prodline.toml``: providers, fallback order, judge.

Example::

    [llm]
    fallback = ["local-vllm", "openai", "extractive"]
    judge = "openai"                      # optional: the provider evaluators use

    [llm.providers.local-vllm]
    kind = "openai"                       # openai | anthropic | extractive
    model = "meta-llama/Llama-3.1-8B-Instruct"
    base_url = "http://127.0.0.1:8000/v1"
    self_hosted = true                    # may see PII/PHI context

    [llm.providers.openai]
    kind = "openai"
    model = "gpt-4o-mini"
    api_key_env = "OPENAI_API_KEY"        # the key stays in the environment
    timeout_s = 30
    retries = 2
    price_in_per_1k = 0.00015
    price_out_per_1k = 0.0006

The offline ``extractive`` provider always exists, so a file without ``[llm]`` (or no
file at all) still answers. Keys are never written in the file: ``api_key`` is refused
and the error does not echo it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from prodline.config import toml_table
from prodline.core.refs import is_valid_name
from prodline.errors import InvalidInput
from prodline.llm.types import KINDS, ProviderConfig, ProviderKind

__all__ = ["EXTRACTIVE", "LlmConfig", "load_llm_config", "parse_llm_config"]

EXTRACTIVE = "extractive"
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "anthropic": "https://api.anthropic.com",
}
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
_KEYS = {
    "kind",
    "model",
    "base_url",
    "api_key_env",
    "self_hosted",
    "timeout_s",
    "retries",
    "price_in_per_1k",
    "price_out_per_1k",
}


def _builtin_extractive() -> ProviderConfig:
    return ProviderConfig(name=EXTRACTIVE, kind="extractive", model=EXTRACTIVE, self_hosted=True)


@dataclass(frozen=True)
class LlmConfig:
    """Providers by name, the order to try them in, and the optional judge."""

    providers: dict[str, ProviderConfig] = field(
        default_factory=lambda: {EXTRACTIVE: _builtin_extractive()}
    )
    fallback: tuple[str, ...] = (EXTRACTIVE,)
    judge: str | None = None


def load_llm_config(home: Path) -> LlmConfig:
    """Read ``[llm]`` from ``<home>/prodline.toml``; only the extractive provider if absent.

    Raises
    ------
    InvalidInput
        The file is not TOML, or a key under ``[llm]`` is wrong; the message names it.
    """
    return parse_llm_config(toml_table(home, "llm"))


def parse_llm_config(section: Any) -> LlmConfig:
    """Validate the ``[llm]`` table (already parsed from TOML) into an ``LlmConfig``."""
    if not isinstance(section, dict):
        raise InvalidInput("llm must be a table ([llm]).", key="llm")
    unknown = sorted(set(section) - {"providers", "fallback", "judge"})
    if unknown:
        raise InvalidInput(
            f"llm.{unknown[0]} is not a known key; use providers, fallback or judge.",
            key=f"llm.{unknown[0]}",
        )
    raw = section.get("providers", {})
    if not isinstance(raw, dict):
        raise InvalidInput(
            "llm.providers must be a table of [llm.providers.NAME].", key="llm.providers"
        )
    providers = {EXTRACTIVE: _builtin_extractive()}
    declared: list[str] = []
    for name, table in raw.items():
        providers[name] = _provider(str(name), table)
        declared.append(name)
    fallback = _fallback(section, declared, providers)
    judge = section.get("judge")
    if judge is not None and (not isinstance(judge, str) or judge not in providers):
        raise InvalidInput(
            f"llm.judge must name a configured provider; known: {', '.join(sorted(providers))}.",
            key="llm.judge",
        )
    return LlmConfig(providers=providers, fallback=fallback, judge=judge)


def _fallback(
    section: dict[str, Any], declared: list[str], providers: dict[str, ProviderConfig]
) -> tuple[str, ...]:
    if "fallback" not in section:  # declared order, offline answerer last
        return tuple(dict.fromkeys([*declared, EXTRACTIVE]))
    value = section["fallback"]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise InvalidInput(
            "llm.fallback must be a non-empty list of provider names, "
            'e.g. ["openai", "extractive"].',
            key="llm.fallback",
        )
    for name in value:
        if name not in providers:
            raise InvalidInput(
                f"llm.fallback names unknown provider '{name}'; "
                f"known: {', '.join(sorted(providers))}.",
                key="llm.fallback",
            )
    return tuple(dict.fromkeys(value))


def _provider(name: str, table: Any) -> ProviderConfig:
    where = f"llm.providers.{name}"
    if not is_valid_name(name):
        raise InvalidInput(
            f"{where} is not a valid provider name; use letters, digits, '-', '_' or '.'.",
            key=where,
        )
    if not isinstance(table, dict):
        raise InvalidInput(f"{where} must be a table ([{where}]).", key=where)
    if "api_key" in table:  # never echo the value: it is probably a real key
        raise InvalidInput(
            f"{where}.api_key is not allowed: keep the key in an environment variable "
            f"and set {where}.api_key_env to its name.",
            key=f"{where}.api_key",
        )
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise InvalidInput(
            f"{where}.{unknown[0]} is not a known key; use one of {', '.join(sorted(_KEYS))}.",
            key=f"{where}.{unknown[0]}",
        )
    kind = table.get("kind")
    if kind not in KINDS:
        raise InvalidInput(f"{where}.kind must be one of {', '.join(KINDS)}.", key=f"{where}.kind")
    if name == EXTRACTIVE and kind != EXTRACTIVE:
        raise InvalidInput(
            f"{where}.kind must be extractive: the name is reserved for the offline answerer.",
            key=f"{where}.kind",
        )
    model = table.get("model", EXTRACTIVE if kind == EXTRACTIVE else None)
    if not isinstance(model, str) or not model.strip():
        raise InvalidInput(f"{where}.model must be a non-empty string.", key=f"{where}.model")
    base_url = table.get("base_url", DEFAULT_BASE_URLS.get(str(kind), ""))
    if not isinstance(base_url, str) or (
        kind != EXTRACTIVE and not base_url.startswith(("http://", "https://"))
    ):
        raise InvalidInput(
            f"{where}.base_url must be an http:// or https:// URL.", key=f"{where}.base_url"
        )
    api_key_env = table.get("api_key_env")
    bad_env = not isinstance(api_key_env, str) or not _ENV.match(api_key_env)
    if api_key_env is not None and bad_env:
        raise InvalidInput(  # the value is not echoed: people paste keys here by mistake
            f"{where}.api_key_env must be the name of an environment variable "
            "(letters, digits, '_'), not the key itself.",
            key=f"{where}.api_key_env",
        )
    self_hosted = table.get("self_hosted", False)
    if not isinstance(self_hosted, bool):
        raise InvalidInput(
            f"{where}.self_hosted must be true or false.", key=f"{where}.self_hosted"
        )
    return ProviderConfig(
        name=name,
        kind=cast(ProviderKind, kind),
        model=model.strip(),
        base_url=base_url.rstrip("/"),
        api_key_env=api_key_env,
        self_hosted=self_hosted,
        timeout_s=_number(table, where, "timeout_s", 30.0, low=0.0, strict=True),
        retries=int(_number(table, where, "retries", 2, low=0, high=10, integer=True)),
        price_in_per_1k=_number(table, where, "price_in_per_1k", 0.0, low=0.0),
        price_out_per_1k=_number(table, where, "price_out_per_1k", 0.0, low=0.0),
    )


def _number(
    table: dict[str, Any],
    where: str,
    key: str,
    default: float,
    *,
    low: float,
    high: float | None = None,
    strict: bool = False,
    integer: bool = False,
) -> float:
    value = table.get(key, default)
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    ok = isinstance(value, kinds) and not isinstance(value, bool)
    if ok:
        ok = (value > low if strict else value >= low) and (high is None or value <= high)
    if not ok:
        what = "an integer" if integer else "a number"
        bound = f"> {low:g}" if strict else f">= {low:g}"
        if high is not None:
            bound += f" and <= {high:g}"
        raise InvalidInput(f"{where}.{key} must be {what} {bound}.", key=f"{where}.{key}")
    return float(value)

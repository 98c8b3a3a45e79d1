"""Providers behind one interface: OpenAI-compatible, Anthropic, offline extractive."""

from __future__ import annotations

from prodline.llm.providers.anthropic import AnthropicProvider
from prodline.llm.providers.base import HttpProvider, Provider
from prodline.llm.providers.extractive import NOT_FOUND, Embed, ExtractiveProvider
from prodline.llm.providers.openai_compat import OpenAICompatProvider
from prodline.llm.types import ProviderConfig

__all__ = [
    "AnthropicProvider",
    "ExtractiveProvider",
    "HttpProvider",
    "NOT_FOUND",
    "OpenAICompatProvider",
    "Provider",
    "build_provider",
]


def build_provider(config: ProviderConfig, *, embed: Embed | None = None) -> Provider:
    """The provider for ``config.kind`` (``embed`` is used by the extractive answerer)."""
    if config.kind == "openai":
        return OpenAICompatProvider(config)
    if config.kind == "anthropic":
        return AnthropicProvider(config)
    return ExtractiveProvider(config, embed=embed)

"""The LLM gateway: providers behind one interface, sensitivity routing, fallback, metering.

Example
-------
>>> from prodline.llm import ChatMessage, Gateway, Passage
>>> passages = [Passage(chunk_id=3, score=1.0, text="Refunds are issued within 14 days.")]
>>> answer = Gateway().complete([ChatMessage("user", "When are refunds issued?")], passages)
>>> answer.text, answer.citations, answer.provider
('Refunds are issued within 14 days [1].', [3], 'extractive')
"""

from __future__ import annotations

from prodline.llm.config import LlmConfig, load_llm_config, parse_llm_config
from prodline.llm.errors import ProviderFailed, ProviderUnavailable
from prodline.llm.gateway import Gateway
from prodline.llm.prompt import build_messages, renumber_citations
from prodline.llm.providers import (
    AnthropicProvider,
    ExtractiveProvider,
    OpenAICompatProvider,
    Provider,
)
from prodline.llm.tokens import count_message_tokens, count_tokens
from prodline.llm.types import (
    ChatMessage,
    Completion,
    LlmRequest,
    Passage,
    PassageLike,
    Privacy,
    ProviderConfig,
    Redactor,
)

__all__ = [
    "AnthropicProvider",
    "ChatMessage",
    "Completion",
    "ExtractiveProvider",
    "Gateway",
    "LlmConfig",
    "LlmRequest",
    "OpenAICompatProvider",
    "Passage",
    "PassageLike",
    "Privacy",
    "Provider",
    "ProviderConfig",
    "ProviderFailed",
    "ProviderUnavailable",
    "Redactor",
    "build_messages",
    "count_message_tokens",
    "count_tokens",
    "load_llm_config",
    "parse_llm_config",
    "renumber_citations",
]

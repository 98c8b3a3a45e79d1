"""Plain data for the LLM gateway: messages, passages, providers, requests, completions.

No I/O here. API keys are never held by these objects: ``ProviderConfig`` keeps only
the *name* of the environment variable, and the key is read at call time.

A request's ``privacy`` policy (``route``, ``redact`` or ``refuse``) says what may happen
to sensitive context; redacting needs a :class:`Redactor`, which the serving layer
injects (the guard part provides one) so that this part never imports another.

The context an answer is grounded in arrives as passages. The gateway owns that word:
anything with a passage's fields will do (:class:`PassageLike`; a retrieval hit from
``prodline.rag`` has them), and :class:`Passage` is the plain one callers build
themselves. The gateway never imports the retrieval part.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "ChatMessage",
    "Completion",
    "KINDS",
    "LlmRequest",
    "PRIVACY",
    "Passage",
    "PassageLike",
    "Privacy",
    "ProviderConfig",
    "ProviderKind",
    "Redactor",
    "Role",
    "StreamRestoring",
    "UsageSource",
]

ProviderKind = Literal["openai", "anthropic", "extractive"]
KINDS: tuple[str, ...] = ("openai", "anthropic", "extractive")
Role = Literal["system", "user", "assistant"]
UsageSource = Literal["provider", "counted"]
Privacy = Literal["route", "redact", "refuse"]
PRIVACY: tuple[str, ...] = ("route", "redact", "refuse")


@dataclass(frozen=True)
class ChatMessage:
    """One turn of a conversation."""

    role: Role
    content: str


class PassageLike(Protocol):
    """What the gateway reads of a context passage; ``prodline.rag.Hit`` has it all."""

    @property
    def chunk_id(self) -> int:
        """The chunk's id; answers cite it and the call log records it."""
        ...

    @property
    def score(self) -> float:
        """The retrieval score, higher is better (used to order the context)."""
        ...

    @property
    def text(self) -> str:
        """The passage's text, as put in the prompt."""
        ...

    @property
    def title(self) -> str:
        """The source document's title, shown with the citation."""
        ...

    @property
    def heading(self) -> str:
        """The heading the passage sits under ("" when none)."""
        ...

    @property
    def source(self) -> str:
        """Where the passage came from: a path or URL."""
        ...

    @property
    def sensitivity(self) -> str:
        """The passage's sensitivity level ("none", "pii" or "phi")."""
        ...


@dataclass(frozen=True)
class Passage:
    """One passage of context: a chunk's id, retrieval score, text and where it came from.

    Examples
    --------
    >>> Passage(chunk_id=3, score=1.0, text="Refunds take 14 days.").sensitivity
    'none'
    """

    chunk_id: int
    score: float
    text: str = ""
    title: str = ""
    heading: str = ""
    source: str = ""
    sensitivity: str = "none"  # none, pii or phi (prodline.core.sensitivity.LEVELS)

    @classmethod
    def of(cls, passage: PassageLike) -> Passage:
        """Copy the passage fields of any passage-like object (a retrieval hit)."""
        return cls(
            passage.chunk_id,
            passage.score,
            passage.text,
            passage.title,
            passage.heading,
            passage.source,
            passage.sensitivity,
        )


class StreamRestoring(Protocol):
    """Restores a streamed answer delta by delta (``feed``), then ``flush`` at the end."""

    def feed(self, delta: str) -> str:
        """The restored text safe to emit after ``delta`` (a partial placeholder waits)."""
        ...

    def flush(self) -> str:
        """Whatever was held back, restored."""
        ...


class Redactor(Protocol):
    """One request's redaction: what the gateway needs to send context off-box safely.

    ``prodline.guard.redact.Redaction`` is one; the gateway takes a factory of them
    (``Gateway(redactor=Redaction)``) and makes a fresh one per request, so the same
    value gets the same placeholder across the messages and passages of that request.
    """

    def redact(self, text: str) -> str:
        """``text`` with sensitive values replaced by typed placeholders."""
        ...

    def redact_many(self, texts: Sequence[str]) -> list[str]:
        """All texts of the request at once: a value found in one is replaced in all."""
        ...

    def restore(self, text: str) -> str:
        """``text`` with this request's placeholders replaced by their values."""
        ...

    def stream_restorer(self) -> StreamRestoring:
        """A restorer for one streamed answer."""
        ...

    def counts(self) -> dict[str, int]:
        """Distinct values redacted so far, per kind (e.g. ``{"email": 2}``)."""
        ...


_USERINFO = re.compile(r"//[^/?#@]*@")  # user:password@ in a URL, never shown


@dataclass(frozen=True)
class ProviderConfig:
    """How to reach one provider and what it costs.

    ``api_key_env`` names the environment variable holding the key; the key itself is
    read by :meth:`api_key` when a request is sent and is never stored, so it cannot
    show up in ``repr``, logs or error messages built from this object.
    """

    name: str
    kind: ProviderKind
    model: str
    base_url: str = ""
    api_key_env: str | None = None
    self_hosted: bool = False
    timeout_s: float = 30.0
    retries: int = 2
    price_in_per_1k: float = 0.0
    price_out_per_1k: float = 0.0

    @property
    def is_self_hosted(self) -> bool:
        """Self-hosted providers may see PII/PHI context; the extractive one always is."""
        return self.self_hosted or self.kind == "extractive"

    def api_key(self) -> str | None:
        """The key from ``api_key_env`` at call time, or ``None`` when unset or empty."""
        if not self.api_key_env:
            return None
        return os.environ.get(self.api_key_env) or None

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        """Dollars for one call: tokens / 1000 x the price per 1k tokens."""
        return (
            input_tokens / 1000.0 * self.price_in_per_1k
            + output_tokens / 1000.0 * self.price_out_per_1k
        )

    def __repr__(self) -> str:
        key = f"${self.api_key_env} (hidden)" if self.api_key_env else None
        url = _USERINFO.sub("//***@", self.base_url)
        return (
            f"ProviderConfig(name={self.name!r}, kind={self.kind!r}, model={self.model!r}, "
            f"base_url={url!r}, api_key={key!r}, self_hosted={self.self_hosted}, "
            f"timeout_s={self.timeout_s}, retries={self.retries}, "
            f"price_in_per_1k={self.price_in_per_1k}, price_out_per_1k={self.price_out_per_1k})"
        )


@dataclass(frozen=True)
class LlmRequest:
    """What a provider is asked: the caller's messages plus the retrieved context.

    ``privacy`` is the request's policy for sensitive context (see
    :mod:`prodline.llm.gateway`); a provider sent a redacted request sees only
    placeholders in ``messages`` and ``hits``.
    """

    messages: tuple[ChatMessage, ...]
    hits: tuple[PassageLike, ...] = ()  # the context passages, in prompt order
    max_tokens: int = 512
    temperature: float = 0.0
    privacy: Privacy = "route"

    @property
    def question(self) -> str:
        """The last user message: what the answer must address."""
        for message in reversed(self.messages):
            if message.role == "user":
                return message.content
        return ""


@dataclass(frozen=True)
class Completion:
    """One answer and its metering.

    In ``text``, a marker ``[n]`` always refers to ``citations[n - 1]`` (a chunk id),
    whichever provider answered: generative answers are renumbered to match.
    ``usage_source`` says whether the token counts came from the provider or were
    counted locally (an approximation, see :mod:`prodline.llm.tokens`). ``tried`` lists
    the providers that failed before this one answered. ``redactions`` counts, per
    kind, the distinct values that were replaced by placeholders before the request
    left the process (empty when nothing was sent redacted); ``text`` is restored.
    """

    text: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: float
    cost_usd: float
    citations: list[int] = field(default_factory=list)
    finish_reason: str = "stop"
    route_reason: str = ""
    usage_source: UsageSource = "provider"
    tried: list[dict[str, Any]] = field(default_factory=list)
    redactions: dict[str, int] = field(default_factory=dict)

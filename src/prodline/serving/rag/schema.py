"""Request bodies of the RAG server and the translation of their errors to field names.

``ChatRequest`` is the OpenAI chat-completions request (the fields the official client
sends), plus three extension fields a client passes with ``extra_body``: ``k``,
``filters`` and ``clearance``. Fields OpenAI defines but a RAG server has no use for
(``top_p``, ``seed``, ``user``, …) are accepted and ignored, so clients that always send
them work unchanged; ``n`` above 1 and ``tools`` are refused, since ignoring them would
give the caller something other than what it asked for.

Sizes are bounded: at most ``MAX_MESSAGES`` messages (and content parts per message),
``MAX_TEXT_CHARS`` characters per message or retrieve query; the body as a whole is
bounded by ``prodline.serving.hardening`` before it is parsed.

Validation errors name the field the way a caller writes it: ``messages[0].role``,
``filters.owner``, ``body`` for a body that is not a JSON object.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from prodline.rag.retrieve import MAX_K

__all__ = [
    "DEFAULT_MAX_TOKENS",
    "MAX_MESSAGES",
    "MAX_TEXT_CHARS",
    "ChatRequest",
    "Message",
    "RetrieveRequest",
    "field_path",
    "validation_message",
]

DEFAULT_MAX_TOKENS = 512
MAX_MESSAGES = 256  # turns in one chat request
MAX_TEXT_CHARS = 32_000  # one message's content, or a retrieve query: a question, not a corpus
Clearance = Literal["none", "pii", "phi"]


class Message(BaseModel):
    """One chat turn; ``content`` may be text or OpenAI's list of ``{"type": "text"}`` parts."""

    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str = Field("", max_length=MAX_TEXT_CHARS)

    @field_validator("content", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, list):
            if len(value) > MAX_MESSAGES:
                raise ValueError(f"at most {MAX_MESSAGES} content parts are accepted")
            texts = []
            for i, part in enumerate(value):
                if not isinstance(part, dict) or part.get("type") != "text":
                    raise ValueError(
                        f"part [{i}]: only text content is supported: a string or "
                        '[{"type": "text", "text": "..."}]'
                    )
                text = part.get("text")
                if not isinstance(text, str):
                    raise ValueError(f'part [{i}]: a text part needs a string "text"')
                texts.append(text)
            return "\n".join(texts)
        return value


class ChatRequest(BaseModel):
    """``POST /v1/chat/completions``: OpenAI's request plus ``k``, ``filters``, ``clearance``."""

    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, description="The knowledge base served here (or omitted).")
    messages: list[Message] = Field(..., min_length=1, max_length=MAX_MESSAGES)
    stream: bool = False
    max_tokens: int | None = Field(None, ge=1, le=32768)
    max_completion_tokens: int | None = Field(None, ge=1, le=32768)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    n: int | None = Field(None, ge=1, le=1, description="Only one choice is produced.")
    stream_options: dict[str, Any] | None = None
    tools: list[Any] | None = Field(None, description="Not supported: refused when non-empty.")
    k: int | None = Field(None, ge=1, le=MAX_K, description="Chunks to retrieve (extension).")
    filters: dict[str, str] | None = Field(
        None, description="Retrieval filters: source, owner, after, before (extension)."
    )
    clearance: Clearance | None = Field(
        None, description="Highest sensitivity to retrieve, at most the server's (extension)."
    )

    @field_validator("tools")
    @classmethod
    def _no_tools(cls, value: list[Any] | None) -> list[Any] | None:
        if value:
            raise ValueError("tools are not supported; this server answers from its knowledge base")
        return value

    @property
    def limit(self) -> int:
        return self.max_completion_tokens or self.max_tokens or DEFAULT_MAX_TOKENS

    def question(self) -> tuple[int, str]:
        """Index and text of the last user message; ``(-1, "")`` when there is none."""
        for i in range(len(self.messages) - 1, -1, -1):
            if self.messages[i].role == "user":
                return i, self.messages[i].content
        return -1, ""


class RetrieveRequest(BaseModel):
    """``POST /v1/retrieve``: the chunks a question would be answered from."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(..., max_length=MAX_TEXT_CHARS)
    k: int | None = Field(None, ge=1, le=MAX_K)
    filters: dict[str, str] | None = None
    clearance: Clearance | None = None
    mode: Literal["hybrid", "vector", "bm25"] = "hybrid"


def field_path(loc: Sequence[str | int]) -> str:
    """``("body", "messages", 0, "role")`` -> ``"messages[0].role"``; the body is ``body``."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "body"


def validation_message(error: dict[str, Any]) -> tuple[str, str]:
    """The field and a one-line message for one pydantic/FastAPI validation error."""
    kind = error.get("type", "")
    loc = error.get("loc", ())
    if kind == "json_invalid":
        detail = (error.get("ctx") or {}).get("error", "")
        suffix = f" ({detail})" if detail else ""
        return "body", (
            f"The request body is not valid JSON{suffix}; send a JSON object such as "
            '{"messages": [{"role": "user", "content": "..."}]}.'
        )
    field = field_path(loc)
    if field == "body" or kind == "model_attributes_type":
        return "body", (
            "The request body must be a JSON object such as "
            '{"messages": [{"role": "user", "content": "..."}]}.'
        )
    if kind == "missing":
        return field, f"{field} is required."
    if kind == "extra_forbidden":
        return field, f"{field} is not a known field."
    msg = str(error.get("msg", "is invalid"))
    msg = msg.removeprefix("Value error, ")
    return field, f"{field}: {msg}."

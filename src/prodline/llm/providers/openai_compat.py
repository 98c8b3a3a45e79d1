"""OpenAI-compatible chat completions over httpx: OpenAI, vLLM, llama.cpp, Ollama, prodline.

``POST {base_url}/chat/completions`` with ``model``, ``messages``, ``max_tokens``,
``temperature`` and, when streaming, ``stream: true`` plus
``stream_options.include_usage`` so servers that support it report usage in a last
chunk. Usage comes from ``usage.prompt_tokens`` / ``usage.completion_tokens``; when a
server omits it the tokens are counted locally. ``Authorization: Bearer`` is sent only
when ``api_key_env`` is configured and set. The official ``openai`` package is not used.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prodline.llm.prompt import CitationRenumberer, build_messages, renumber_citations
from prodline.llm.providers.base import HttpProvider, metered
from prodline.llm.types import ChatMessage, Completion, LlmRequest

__all__ = ["OpenAICompatProvider"]

PATH = "/chat/completions"


class OpenAICompatProvider(HttpProvider):
    """Any server speaking the OpenAI chat-completions protocol."""

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        key = self.api_key()
        if key:
            headers["Authorization"] = f"Bearer {key}"
        return headers

    def _body(self, prompt: list[ChatMessage], request: LlmRequest, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.config.model,
            "messages": [{"role": m.role, "content": m.content} for m in prompt],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    def complete(self, request: LlmRequest) -> Completion:
        """One ``/chat/completions`` call; citations renumbered to the request's passages."""
        prompt = build_messages(request.messages, request.hits)
        started = time.perf_counter()
        data = self.read_json(self.send(PATH, self._body(prompt, request, stream=False)))
        try:
            choice = data["choices"][0]
            raw = choice["message"]["content"] or ""
        except (KeyError, IndexError, TypeError):
            raise self.fail(f"reply from {self.url} has no choices[0].message.content") from None
        if not isinstance(raw, str):
            raise self.fail(f"reply from {self.url} has non-text content")
        text, citations = renumber_citations(raw, request.hits)
        usage = data.get("usage") or {}
        return metered(
            self.config,
            prompt,
            text,
            citations,
            choice.get("finish_reason") or "stop",
            (usage.get("prompt_tokens"), usage.get("completion_tokens")),
            started,
        )

    def stream(self, request: LlmRequest) -> Iterator[str | Completion]:
        """Text deltas from the server-sent chunks, then the metered ``Completion``."""
        prompt = build_messages(request.messages, request.hits)
        started = time.perf_counter()
        response = self.send(PATH, self._body(prompt, request, stream=True), stream=True)
        renumber = CitationRenumberer(request.hits)
        emitted: list[str] = []
        usage: dict[str, Any] = {}
        finish = "stop"
        for _, chunk in self.events(response):
            if chunk is None:  # [DONE]
                break
            if "error" in chunk:
                error = chunk["error"]
                detail = error.get("message") if isinstance(error, dict) else error
                raise self.fail(f"stream from {self.url} failed: {detail}")
            if isinstance(chunk.get("usage"), dict):
                usage = chunk["usage"]
            for choice in chunk.get("choices") or []:
                delta = (choice.get("delta") or {}).get("content")
                if isinstance(delta, str) and delta:
                    out = renumber.feed(delta)
                    if out:
                        emitted.append(out)
                        yield out
                finish = choice.get("finish_reason") or finish
        tail = renumber.finish()
        if tail:
            emitted.append(tail)
            yield tail
        yield metered(
            self.config,
            prompt,
            "".join(emitted),
            renumber.citations,
            finish,
            (usage.get("prompt_tokens"), usage.get("completion_tokens")),
            started,
        )

"""The Anthropic Messages API over httpx.

``POST {base_url}/v1/messages`` with ``x-api-key`` and ``anthropic-version: 2023-06-01``;
body ``model``, ``max_tokens``, ``temperature``, ``system`` (all system messages joined)
and ``messages`` (user/assistant turns; consecutive turns of one role are merged because
the API requires them to alternate). Streaming reads ``message_start`` (input usage),
``content_block_delta`` (``delta.text``), ``message_delta`` (stop reason, output usage)
and ``message_stop``. The official ``anthropic`` package is not used.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from prodline.llm.prompt import CitationRenumberer, build_messages, renumber_citations
from prodline.llm.providers.base import HttpProvider, metered
from prodline.llm.types import ChatMessage, Completion, LlmRequest

__all__ = ["ANTHROPIC_VERSION", "AnthropicProvider"]

ANTHROPIC_VERSION = "2023-06-01"
PATH = "/v1/messages"
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicProvider(HttpProvider):
    """Claude models through the Messages API."""

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "anthropic-version": ANTHROPIC_VERSION}
        key = self.api_key()
        if key:
            headers["x-api-key"] = key
        return headers

    def _body(self, prompt: list[ChatMessage], request: LlmRequest, stream: bool) -> dict[str, Any]:
        turns: list[dict[str, str]] = []
        for message in prompt:
            if message.role == "system":
                continue
            if turns and turns[-1]["role"] == message.role:
                turns[-1]["content"] += "\n\n" + message.content
            else:
                turns.append({"role": message.role, "content": message.content})
        body: dict[str, Any] = {
            "model": self.config.model,
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "system": "\n\n".join(m.content for m in prompt if m.role == "system"),
            "messages": turns,
        }
        if stream:
            body["stream"] = True
        return body

    def complete(self, request: LlmRequest) -> Completion:
        """One Messages API call; citations renumbered to the request's passages."""
        prompt = build_messages(request.messages, request.hits)
        started = time.perf_counter()
        data = self.read_json(self.send(PATH, self._body(prompt, request, stream=False)))
        blocks = data.get("content")
        if not isinstance(blocks, list):
            raise self.fail(f"reply from {self.url} has no content blocks")
        texts = [b.get("text") for b in blocks if isinstance(b, dict) and b.get("type") == "text"]
        raw = "".join(t for t in texts if isinstance(t, str))
        text, citations = renumber_citations(raw, request.hits)
        usage = data.get("usage") or {}
        stop = str(data.get("stop_reason") or "end_turn")
        return metered(
            self.config,
            prompt,
            text,
            citations,
            _FINISH.get(stop, stop),
            (usage.get("input_tokens"), usage.get("output_tokens")),
            started,
        )

    def stream(self, request: LlmRequest) -> Iterator[str | Completion]:
        """Text deltas from the Messages API's event stream, then the metered ``Completion``."""
        prompt = build_messages(request.messages, request.hits)
        started = time.perf_counter()
        response = self.send(PATH, self._body(prompt, request, stream=True), stream=True)
        renumber = CitationRenumberer(request.hits)
        emitted: list[str] = []
        tokens_in: Any = None
        tokens_out: Any = None
        stop = "end_turn"
        for event, data in self.events(response):
            kind = (data or {}).get("type", event)
            if data is None or kind == "message_stop":
                break
            if kind == "error":
                error = data.get("error")
                detail = error.get("message") if isinstance(error, dict) else error
                raise self.fail(f"stream from {self.url} failed: {detail}")
            if kind == "message_start":
                usage = (data.get("message") or {}).get("usage") or {}
                tokens_in = usage.get("input_tokens", tokens_in)
            elif kind == "content_block_delta":
                delta = (data.get("delta") or {}).get("text")
                if isinstance(delta, str) and delta:
                    out = renumber.feed(delta)
                    if out:
                        emitted.append(out)
                        yield out
            elif kind == "message_delta":
                stop = (data.get("delta") or {}).get("stop_reason") or stop
                tokens_out = (data.get("usage") or {}).get("output_tokens", tokens_out)
        tail = renumber.finish()
        if tail:
            emitted.append(tail)
            yield tail
        yield metered(
            self.config,
            prompt,
            "".join(emitted),
            renumber.citations,
            _FINISH.get(stop, stop),
            (tokens_in, tokens_out),
            started,
        )

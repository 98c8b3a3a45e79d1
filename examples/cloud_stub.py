"""A stand-in for a cloud LLM: a real OpenAI-compatible HTTP server on 127.0.0.1.

It answers ``POST /v1/chat/completions`` by quoting the sentence of the context that
best matches the question (the words they share), cited as ``[n]``, reports token usage
as a cloud API does (words and punctuation marks counted), and keeps every request body it
received so the story can show what left the process. Used by the
support-desk guard story; not a model, and nothing here is sent anywhere else.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from typing import Any

import uvicorn
from fastapi import FastAPI, Request

_PASSAGE = re.compile(r"^\[(\d+)\][^\n]*\n(.+?)(?=\n\n\[\d+\]|\Z)", re.S | re.M)
_WORD = re.compile(r"[a-z]{3,}")
_TOKEN = re.compile(r"\w+|[^\w\s]")


class CloudStub:
    """Start with ``with CloudStub() as stub:``; ``stub.url`` is its ``/v1`` base URL."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}/v1"
        config = uvicorn.Config(self._app(), host="127.0.0.1", port=self.port, log_level="error")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> CloudStub:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started and time.monotonic() < deadline:
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> dict[str, Any]:
            body = await request.json()
            self.received.append(body)
            text = _answer(str(body["messages"][-1]["content"]))
            prompt = sum(_tokens(str(m.get("content", ""))) for m in body["messages"])
            return {
                "id": "chatcmpl-stub",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", "stub"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt,
                    "completion_tokens": _tokens(text),
                    "total_tokens": prompt + _tokens(text),
                },
            }

        return app


def _tokens(text: str) -> int:
    """About what a BPE tokenizer counts: words, numbers and punctuation marks."""
    return len(_TOKEN.findall(text))


def _answer(prompt: str) -> str:
    context, _, question = prompt.rpartition("Question:")
    asked = set(_WORD.findall(question.lower()))
    best, best_n, best_overlap = "The documents do not cover it.", 0, 0
    for match in _PASSAGE.finditer(context):
        for sentence in re.split(r"(?<=[.!?])\s+", match.group(2).strip()):
            overlap = len(asked & set(_WORD.findall(sentence.lower())))
            if overlap > best_overlap:
                best, best_overlap = " ".join(sentence.split()), overlap
                best_n = int(match.group(1))
    return f"{best} [{best_n}]" if best_n else best

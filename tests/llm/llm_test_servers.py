"""Tiny real servers for the gateway tests: OpenAI chat completions and Anthropic Messages.

One FastAPI app serves both protocols (``/v1/chat/completions`` and ``/v1/messages``),
each driven by its own ``Behaviour``: the reply, failures for the first N requests, a
status for every request, a delay (to trigger client timeouts), usage on or off, a
stream that breaks mid-way. Every request is recorded (headers and JSON body) so tests
can assert what the gateway sent — and to whom.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

HOST = "127.0.0.1"
SECRET = "sk-test-SECRET-0123456789abcdef"  # a fake API key the tests hunt for
USAGE_IN, USAGE_OUT = 42, 7


@dataclass
class Behaviour:
    """How one fake protocol endpoint answers; ``reset()`` between tests."""

    reply: str = "Refunds are issued within 14 days [2]. Ask support to start one [1]."
    fail_first: int = 0  # answer ``fail_status`` to the first N requests
    fail_status: int = 500
    always_status: int | None = None  # answer this status to every request
    retry_after: str | None = None
    sleep_s: float = 0.0
    usage: bool = True
    chunk: int = 5  # characters per streamed delta
    break_stream_after: int | None = None  # deltas sent before the connection is cut
    echo_key: bool = False  # put the received key in error messages (as some APIs do)
    requests: list[dict[str, Any]] = field(default_factory=list)

    def reset(self) -> None:
        fresh = Behaviour()
        for name in fresh.__dataclass_fields__:
            setattr(self, name, getattr(fresh, name))

    def models(self) -> list[str]:
        return [r["body"].get("model") for r in self.requests]


def _pieces(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def _sse(data: dict[str, Any] | str, event: str | None = None) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {payload}\n\n".encode()


async def _record(state: Behaviour, request: Request, key_header: str) -> Response | None:
    body = await request.json()
    state.requests.append({"headers": dict(request.headers), "body": body})
    if state.sleep_s:
        await asyncio.sleep(state.sleep_s)
    status = state.always_status
    if status is None and len(state.requests) <= state.fail_first:
        status = state.fail_status
    if status is None:
        return None
    message = f"fake upstream refused with {status}"
    if state.echo_key:
        message += f"; key was {request.headers.get(key_header, '')}"
    headers = {"Retry-After": state.retry_after} if state.retry_after else None
    return JSONResponse({"error": {"message": message}}, status_code=status, headers=headers)


def build_app(openai: Behaviour, anthropic: Behaviour) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        refused = await _record(openai, request, "authorization")
        if refused is not None:
            return refused
        body = openai.requests[-1]["body"]
        usage = {"prompt_tokens": USAGE_IN, "completion_tokens": USAGE_OUT}
        if not body.get("stream"):
            reply: dict[str, Any] = {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": openai.reply},
                        "finish_reason": "stop",
                    }
                ],
            }
            if openai.usage:
                reply["usage"] = usage
            return JSONResponse(reply)
        with_usage = openai.usage and (body.get("stream_options") or {}).get("include_usage")

        async def events() -> AsyncIterator[bytes]:
            for i, piece in enumerate(_pieces(openai.reply, openai.chunk)):
                if openai.break_stream_after is not None and i >= openai.break_stream_after:
                    raise RuntimeError("fake stream cut")
                delta = {"index": 0, "delta": {"content": piece}, "finish_reason": None}
                yield _sse({"object": "chat.completion.chunk", "choices": [delta]})
            end = {"index": 0, "delta": {}, "finish_reason": "stop"}
            yield _sse({"object": "chat.completion.chunk", "choices": [end]})
            if with_usage:
                yield _sse({"object": "chat.completion.chunk", "choices": [], "usage": usage})
            yield _sse("[DONE]")

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/v1/messages")
    async def messages(request: Request) -> Response:
        refused = await _record(anthropic, request, "x-api-key")
        if refused is not None:
            return refused
        if request.headers.get("anthropic-version") != "2023-06-01":
            return JSONResponse({"error": {"message": "bad anthropic-version"}}, status_code=400)
        body = anthropic.requests[-1]["body"]
        if not body.get("stream"):
            reply: dict[str, Any] = {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": anthropic.reply}],
                "stop_reason": "end_turn",
            }
            if anthropic.usage:
                reply["usage"] = {"input_tokens": USAGE_IN, "output_tokens": USAGE_OUT}
            return JSONResponse(reply)

        async def events() -> AsyncIterator[bytes]:
            start: dict[str, Any] = {"id": "msg_1", "type": "message", "content": []}
            if anthropic.usage:
                start["usage"] = {"input_tokens": USAGE_IN, "output_tokens": 1}
            yield _sse({"type": "message_start", "message": start}, "message_start")
            block = {"type": "content_block_start", "index": 0}
            yield _sse(
                {**block, "content_block": {"type": "text", "text": ""}}, "content_block_start"
            )
            yield _sse({"type": "ping"}, "ping")
            for i, piece in enumerate(_pieces(anthropic.reply, anthropic.chunk)):
                if anthropic.break_stream_after is not None and i >= anthropic.break_stream_after:
                    raise RuntimeError("fake stream cut")
                delta = {"type": "text_delta", "text": piece}
                event = {"type": "content_block_delta", "index": 0, "delta": delta}
                yield _sse(event, "content_block_delta")
            yield _sse({"type": "content_block_stop", "index": 0}, "content_block_stop")
            final: dict[str, Any] = {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}
            if anthropic.usage:
                final["usage"] = {"output_tokens": USAGE_OUT}
            yield _sse(final, "message_delta")
            yield _sse({"type": "message_stop"}, "message_stop")

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.post("/garbled/chat/completions")
    async def garbled_chat() -> Response:
        return Response("<html>proxy error</html>", media_type="text/html")

    @app.post("/garbled/v1/messages")
    async def garbled_messages() -> Response:
        return JSONResponse({"type": "message"})  # no content blocks

    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class FakeServers:
    url: str
    openai: Behaviour
    anthropic: Behaviour

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def reset(self) -> None:
        self.openai.reset()
        self.anthropic.reset()


@contextmanager
def running_fake_servers() -> Iterator[FakeServers]:
    """Both protocols on one uvicorn server on 127.0.0.1, in a daemon thread."""
    openai, anthropic = Behaviour(), Behaviour()
    port = free_port()
    config = uvicorn.Config(
        build_app(openai, anthropic),
        host=HOST,
        port=port,
        loop="asyncio",
        access_log=False,
        log_level="critical",
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="llm-fake-servers", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the fake LLM server did not start")
        time.sleep(0.01)
    try:
        yield FakeServers(f"http://{HOST}:{port}", openai, anthropic)
    finally:
        server.should_exit = True
        thread.join(10)


def closed_url() -> str:
    """A URL on a port where nothing listens: connections are refused at once."""
    return f"http://{HOST}:{free_port()}/v1"

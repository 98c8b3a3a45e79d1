"""The ASGI entry point: predict requests on a raw fast path, the rest to FastAPI.

``POST /v1/models/{name}/predict`` (and MLflow's ``POST /invocations``) never touch
Starlette routing, pydantic or pandas: the body is read from ``receive``, handed to
``Runtime.predict`` and the bytes it returns are sent as they are. Everything else
(health, readiness, metrics, docs, lifespan) goes to the FastAPI app.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from prodline.serving.auth import TokenGuard
from prodline.serving.runtime import Runtime

__all__ = ["ServingApp"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PREFIX, SUFFIX = "/v1/models/", "/predict"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_JSON = (b"content-type", b"application/json")


class ServingApp:
    """ASGI app of ``prodline serve``; ``api`` is the FastAPI app behind the fast path."""

    def __init__(self, runtime: Runtime, api: ASGIApp, guard: TokenGuard | None = None) -> None:
        self.runtime = runtime
        self.api = api
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        guard = self.guard
        if guard is not None and scope["type"] == "http" and await guard.deny(scope, send):
            return
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            if path.startswith(PREFIX) and path.endswith(SUFFIX) and len(path) > 19:
                await self._predict(path[11:-8], scope, receive, send)
                return
            if path == "/invocations":  # MLflow's scoring route, for MLflow clients
                await self._predict(self.runtime.served.name, scope, receive, send)
                return
        await self.api(scope, receive, send)

    async def _predict(self, name: str, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        runtime = self.runtime
        request_id = ""
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                text = value.decode("latin-1")
                if _REQUEST_ID.fullmatch(text):
                    request_id = text
                break
        if not request_id:
            request_id = runtime.new_request_id()
        body = await _read_body(receive, runtime.options.max_body_bytes)
        if body is None:
            status, data = runtime.too_large(runtime.served.version, t0, request_id)
        elif body is _DISCONNECTED:
            return
        else:
            user = scope.get("prodline.user", "")
            status, data = await runtime.predict(name, body, request_id, t0, user)
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    _JSON,
                    (b"content-length", str(len(data)).encode()),
                    (b"x-request-id", request_id.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})


_DISCONNECTED = b"\x00disconnected"


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body; None when it exceeds ``limit``; ``_DISCONNECTED`` if the client left."""
    message = await receive()
    if message["type"] == "http.disconnect":
        return _DISCONNECTED
    body: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return body if len(body) <= limit else None
    chunks = [body]
    size = len(body)
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return _DISCONNECTED
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)

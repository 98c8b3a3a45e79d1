"""What both servers refuse before a request reaches a route, and the headers on every answer.

:class:`HardeningMiddleware` sits in front of the prediction server and of the RAG server
(outside the token check) and, in this order:

* lets ``/healthz``, ``/readyz``, ``/ping`` and ``/metrics`` through untouched (probes and
  scrapes are never limited), apart from the headers;
* takes a token from the client's bucket (:mod:`prodline.serving.ratelimit`): **429** with
  ``Retry-After`` when it is empty. The client is the bearer token when the server runs with
  ``--auth token`` (else, and for requests without one, the client's address);
* counts the requests in flight: **503** with ``Retry-After: 1`` past ``max_concurrent``;
* reads the body, refusing **413** as soon as ``Content-Length`` or the bytes received pass
  ``max_body_bytes`` (the rest is never read and the connection is closed); then refuses
  **400** a body that is not UTF-8, JSON nested deeper than ``max_json_depth``, or a JSON
  string holding a lone UTF-16 surrogate (``"\\ud800"``), naming the field;
* runs the route under a deadline (``chat_timeout_s`` for chat, ``timeout_s`` otherwise):
  **504** when no answer has started by then (**408** when the body itself was still
  arriving). A stream that has started is not cut.

Every answer gets ``X-Content-Type-Options: nosniff``, ``X-Frame-Options: DENY``,
``Referrer-Policy: no-referrer``, a ``Content-Security-Policy`` (``default-src 'none'``;
``/docs`` and ``/redoc`` get what their page needs) and ``Cache-Control: no-store`` unless
the route set its own. Refusals are counted in ``/metrics`` as
``prodline_rejected_requests_total{reason=...}``. Settings: :mod:`prodline.serving.limits`.
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Counter

from prodline.errors import InvalidInput, ProdlineError
from prodline.serving.deadlines import Deadlines
from prodline.serving.errors import ErrorResponse
from prodline.serving.limits import ServerLimits
from prodline.serving.ratelimit import RateLimiter

__all__ = [
    "EXEMPT_PATHS",
    "REFUSALS",
    "REJECT_REASONS",
    "HardeningMiddleware",
    "check_body",
    "json_depth",
    "surrogate_field",
]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Render = Callable[[ProdlineError, int], bytes]

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/ping", "/metrics"})
REJECT_REASONS = ("bad_json", "body_too_large", "overloaded", "rate_limited", "timeout")
CHAT_PATH = "/v1/chat/completions"
DOCS_PATHS = frozenset({"/docs", "/redoc", "/docs/oauth2-redirect"})
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})

REFUSALS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": text}
    for status, text in (
        (400, "Not UTF-8, JSON nested too deep, or a lone surrogate; names the field."),
        (408, "The request body did not arrive within the timeout."),
        (413, "The request body is larger than [server] max_body_bytes."),
        (
            429,
            "Over the rate limit of this token or address (see Retry-After), or a hard "
            "budget is spent (code budget_exceeded, details.budget names it).",
        ),
        (503, "Starting, stopping, too many requests in flight, or no provider answered."),
        (504, "No answer started within the timeout."),
    )
}
"""OpenAPI ``responses`` of the refusals, for routes that take a body."""

_COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
_API_CSP = (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'")
_DOCS_CSP = (
    b"content-security-policy",
    b"default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' "
    b"'unsafe-inline'; img-src 'self' data:; worker-src 'self' blob:; frame-ancestors 'none'",
)
_NO_STORE = (b"cache-control", b"no-store")
_API_HEADERS = (*_COMMON, _API_CSP)
_DOCS_HEADERS = (*_COMMON, _DOCS_CSP)
_API_NO_STORE = (*_API_HEADERS, _NO_STORE)
_DOCS_NO_STORE = (*_DOCS_HEADERS, _NO_STORE)

# JSON string escapes of a UTF-16 surrogate: a cheap test before the exact one.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_TOKEN = np.zeros(256, dtype=bool)
_TOKEN[list(b'[]{}"')] = True
_STEP = np.zeros(256, dtype=np.int32)
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1


def json_depth(body: bytes) -> int:
    r"""How deep the arrays and objects of a JSON text nest (brackets inside strings are
    not counted; an unbalanced text gives a bound, not an error). Vectorized: about 2 ms
    for a 1 MiB body, whatever its shape.

    >>> json_depth(b'{"a": [1, {"b": "[[[[\\\\"}]}')
    3
    """
    data = np.frombuffer(body, dtype=np.uint8)
    keep = _TOKEN[data]  # brackets and quotes only
    if b"\\" in body:  # a quote after an odd run of backslashes is escaped: not a delimiter
        slash = data == 92
        count = np.cumsum(slash, dtype=np.int64)
        run = count - np.maximum.accumulate(np.where(slash, 0, count))  # backslashes ending here
        escaped = np.zeros(len(data), dtype=bool)
        escaped[1:] = (run[:-1] & 1) == 1
        keep &= ~escaped
    tokens = data[keep]
    if not len(tokens):
        return 0
    steps = _STEP[tokens]
    steps[np.cumsum(tokens == 34) & 1 == 1] = 0  # inside a string (from its opening quote)
    return max(0, int(np.cumsum(steps).max()))


def surrogate_field(doc: Any, path: str = "") -> str | None:
    """The field (``messages[0].content``; ``body`` for the top) of the first string,
    key or value, holding a lone UTF-16 surrogate; None when there is none.

    >>> surrogate_field({"messages": [{"content": "ok"}, {"content": "\\ud800"}]})
    'messages[1].content'
    """
    if isinstance(doc, str):
        return None if _encodes(doc) else path or "body"
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            found = surrogate_field(item, f"{path}[{i}]")
            if found is not None:
                return found
    elif isinstance(doc, dict):
        for key, value in doc.items():
            where = f"{path}.{key}" if path else key
            if not _encodes(key):
                return where.encode("utf-8", "backslashreplace").decode()
            found = surrogate_field(value, where)
            if found is not None:
                return found
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_body(body: bytes, max_depth: int) -> InvalidInput | None:
    """Why a request body cannot be read (not UTF-8, nested too deep, a lone surrogate),
    as an error naming the field; None when it may go on to the route (which checks
    that it is JSON of the right shape)."""
    if not body.isascii():
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as exc:
            return InvalidInput(
                f"The request body is not valid UTF-8 (byte {exc.start}); send JSON encoded "
                "as UTF-8.",
                field="body",
                offset=exc.start,
            )
    if body.count(b"[") + body.count(b"{") > max_depth:
        depth = json_depth(body)
        if depth > max_depth:
            return InvalidInput(
                f"The request body nests {depth} levels of arrays and objects; at most "
                f"{max_depth} are accepted.",
                field="body",
                depth=depth,
                limit=max_depth,
            )
    if b"\\u" in body and _SURROGATE_ESCAPE.search(body):
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            return None  # not JSON: the route says so
        field = surrogate_field(doc)
        if field is not None:
            return InvalidInput(
                f"{field} holds a lone UTF-16 surrogate (like \\ud800), which is not text; "
                "send valid Unicode.",
                field=field,
            )
    return None


class _Refusal(Exception):
    """A request refused before its route: status, error, extra headers."""

    def __init__(
        self, status: int, reason: str, error: ProdlineError, headers: list[tuple[bytes, bytes]]
    ) -> None:
        super().__init__(error.message)
        self.status, self.reason, self.error, self.headers = status, reason, error, headers


_DISCONNECTED = object()


class HardeningMiddleware:
    """ASGI middleware enforcing :class:`ServerLimits` in front of ``app``.

    Parameters
    ----------
    app
        The server's ASGI app (or its bound ``__call__``).
    limits
        What to enforce (``ServerLimits.load``).
    render
        The server's error body for a ``ProdlineError`` and an HTTP status.
    registry
        Where ``prodline_rejected_requests_total`` is registered (the server's own).
    by_token
        The server checks bearer tokens: rate-limit per token rather than per address.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        limits: ServerLimits,
        render: Render,
        registry: CollectorRegistry | None = None,
        by_token: bool = False,
    ) -> None:
        self.app = app
        self.limits = limits
        self.render = render
        self.by_token = by_token
        self.limiter = RateLimiter(limits.rate_limit_per_min) if limits.rate_limit_per_min else None
        self.in_flight = 0
        self.deadlines = Deadlines()
        counter = Counter(
            "prodline_rejected_requests",
            "Requests refused before their route, by reason: body_too_large, bad_json "
            "(not UTF-8, too deep, lone surrogate), rate_limited, overloaded, timeout.",
            ["reason"],
            registry=registry,
        )
        self.rejected = {reason: counter.labels(reason) for reason in REJECT_REASONS}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        docs = path in DOCS_PATHS
        deadlines = self.deadlines
        task: asyncio.Task[Any] | None = None
        started = False

        async def send_safe(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if task is not None:
                    deadlines.disarm(task)  # an answer under way is not cut
                have = message.get("headers") or []
                for key, _ in have:
                    if key.lower() == b"cache-control":
                        extra = _DOCS_HEADERS if docs else _API_HEADERS
                        break
                else:
                    extra = _DOCS_NO_STORE if docs else _API_NO_STORE
                message["headers"] = [*have, *extra]
            await send(message)

        if path in EXEMPT_PATHS:
            await self.app(scope, receive, send_safe)
            return
        limits = self.limits
        try:
            if self.limiter is not None:
                wait = self.limiter.take(self._client(scope))
                if wait:
                    raise self._rate_limited(wait)
            if limits.max_concurrent and self.in_flight >= limits.max_concurrent:
                raise self._overloaded()
        except _Refusal as refusal:
            await self._refuse(refusal, send_safe)
            return
        self.in_flight += 1
        reading = True
        timeout = limits.chat_timeout_s if path == CHAT_PATH else limits.timeout_s
        try:
            if timeout:
                task = deadlines.arm(timeout)
            if scope["method"] in _BODY_METHODS:
                body = await self._read(scope, receive)
                if body is _DISCONNECTED:
                    return
                assert isinstance(body, bytes)
                receive = _replay(body, receive)
            reading = False
            await self.app(scope, receive, send_safe)
        except _Refusal as refusal:
            if task is not None:
                deadlines.disarm(task)
            await self._refuse(refusal, send_safe)
        except asyncio.CancelledError:
            if task is None or not deadlines.took(task):
                raise  # the server is stopping, or the client left
            task.uncancel()
            if not started:
                await self._refuse(self._timed_out(timeout, reading), send_safe)
        finally:
            self.in_flight -= 1
            if task is not None:
                deadlines.forget(task)

    def _client(self, scope: Scope) -> object:
        if self.by_token:
            for key, value in scope["headers"]:
                if key == b"authorization":
                    return value
        client = scope.get("client")
        return client[0] if client else ""

    async def _read(self, scope: Scope, receive: Receive) -> bytes | object:
        """The whole body; ``_Refusal`` as soon as it is known to be too large."""
        limit = self.limits.max_body_bytes
        for key, value in scope["headers"]:
            if key == b"content-length":
                if not value.isdigit() or int(value) > limit:
                    raise self._too_large(value.decode("latin-1"))
                break
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return _DISCONNECTED
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise self._too_large(f"more than {limit}")
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        if body:
            error = check_body(body, self.limits.max_json_depth)
            if error is not None:
                raise _Refusal(400, "bad_json", error, [])
        return body

    def _too_large(self, size: str) -> _Refusal:
        limit = self.limits.max_body_bytes
        error = InvalidInput(
            f"The request body ({size} bytes) is larger than the limit of {limit} bytes "
            f"({_human(limit)}); send less per request, or raise [server] max_body_bytes.",
            field="body",
            limit=limit,
        )
        error.code = "body_too_large"
        return _Refusal(413, "body_too_large", error, [(b"connection", b"close")])

    def _rate_limited(self, wait: float) -> _Refusal:
        per_min = self.limits.rate_limit_per_min
        seconds = max(1, math.ceil(wait))
        who = "token" if self.by_token else "client address"
        error = ProdlineError(
            f"Too many requests: at most {per_min} a minute per {who}; retry in {seconds} s.",
            limit_per_min=per_min,
            retry_after_s=seconds,
        )
        error.code = "rate_limited"
        return _Refusal(429, "rate_limited", error, [(b"retry-after", str(seconds).encode())])

    def _overloaded(self) -> _Refusal:
        cap = self.limits.max_concurrent
        error = ProdlineError(
            f"The server is at its limit of {cap} requests in flight; retry in a second.",
            max_concurrent=cap,
            retry_after_s=1,
        )
        error.code = "overloaded"
        return _Refusal(503, "overloaded", error, [(b"retry-after", b"1")])

    def _timed_out(self, timeout: float, reading: bool) -> _Refusal:
        if reading:
            error = ProdlineError(
                f"The request body did not arrive within {timeout:g} s.", timeout_s=timeout
            )
            status = 408
        else:
            error = ProdlineError(
                f"No answer within {timeout:g} s; retry later or ask for less.",
                timeout_s=timeout,
            )
            status = 504
        error.code = "timeout"
        return _Refusal(status, "timeout", error, [(b"connection", b"close")] if reading else [])

    async def _refuse(self, refusal: _Refusal, send: Send) -> None:
        self.rejected[refusal.reason].inc()
        body = self.render(refusal.error, refusal.status)
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *refusal.headers,
        ]
        await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` giving ``body`` in one message, then the client's own (disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _human(size: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:g} {unit}"
    return f"{size} bytes"

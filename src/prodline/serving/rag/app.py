"""The RAG server's app: an OpenAI-compatible chat endpoint over one knowledge base.

Routes:

* ``POST /v1/chat/completions`` — OpenAI's chat-completions protocol, streaming and not;
  ``model`` names the knowledge base. Answers carry citations, groundedness, provider
  and routing in extension fields (see :mod:`prodline.serving.rag.wire`).
* ``POST /v1/retrieve`` — ``{query, k, filters, clearance, mode}`` → ``{hits: [...]}``.
* ``GET /v1/models`` — the one "model" served: the knowledge base.
* ``GET /v1/reviews/{review_id}`` — a human-review item of the workspace (answers under
  the KB's review policy are queued after the fact: :mod:`prodline.serving.reviewing`).
* ``GET /healthz``, ``/readyz``, ``/metrics`` — as the prediction server.

Errors are ``{"error": {"code", "message", "details", "type", "param"}, "request_id"}``:
422 naming the field (``messages[0].role``, ``filters.owner``, ``k``, ``body``), 404 for
another knowledge base, 503 with ``details.tried`` when no LLM provider could answer.

Example
-------
>>> from prodline.serving.rag import create_rag_app        # doctest: +SKIP
>>> app = create_rag_app(ws, "support-desk")                # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8001)           # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import StreamingResponse

from prodline.errors import InvalidInput, NotFound, ProdlineError
from prodline.llm import Completion, Gateway
from prodline.serving.app import lifespan_of
from prodline.serving.auth import TokenAuthMiddleware, guard_for
from prodline.serving.docs import add_offline_docs
from prodline.serving.errors import HttpError, error_responses, install_error_handlers
from prodline.serving.hardening import REFUSALS, HardeningMiddleware
from prodline.serving.limits import ServerLimits
from prodline.serving.metrics import METRICS_DOC, PrometheusResponse
from prodline.serving.rag import wire
from prodline.serving.rag.options import RagOptions
from prodline.serving.rag.runtime import Answer, Question, RagRuntime
from prodline.serving.rag.schema import ChatRequest, RetrieveRequest, validation_message
from prodline.serving.reviewing import REVIEW_DOC, review_status

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["create_rag_app"]

log = logging.getLogger("prodline.serving")

_ENDPOINTS = {"/v1/chat/completions": "chat", "/v1/retrieve": "retrieve"}
_ROUTES = (
    "POST /v1/chat/completions, POST /v1/retrieve, GET /v1/models, "
    "GET /v1/reviews/{review_id}, /healthz, /readyz, /metrics and /docs"
)


def create_rag_app(
    ws: Workspace,
    kb: str,
    *,
    options: RagOptions | None = None,
    address: tuple[str, int] | None = None,
    gateway: Gateway | None = None,
) -> FastAPI:
    """Build the ASGI app answering questions from knowledge base ``kb``.

    Parameters
    ----------
    ws
        The workspace holding the knowledge base, ``prodline.toml`` and the audit log.
    kb
        The knowledge base; clients pass it as ``model``.
    options
        Provider, clearance, groundedness threshold and k (``RagOptions``).
    address
        ``(host, port)`` the server listens on, for the ``server.started`` audit event.
    gateway
        The LLM gateway to answer through; by default one built from ``[llm]`` of
        ``prodline.toml`` (with the guard's redactor for ``privacy = redact`` KBs).

    Raises
    ------
    NotFound
        The knowledge base does not exist.
    InvalidInput
        An unknown provider, or an unknown or bad ``[server]`` or ``[guard]`` key.
    GuardModelError
        The guard model is missing or corrupt and ``[guard] fail_open`` is not set.
    """
    ws.authorize("kb.serve")
    opts = options or RagOptions()
    limits = opts.limits or ServerLimits.load(ws.home, server="rag")

    def render_error(exc: ProdlineError, status: int) -> bytes:
        return orjson.dumps(wire.error_body(exc, "", status=status))

    guard = guard_for(
        ws, opts.auth, action_of=lambda path: "chat", render=render_error, ttl_s=opts.auth_cache_s
    )
    runtime = RagRuntime(ws, kb, options, address=address, gateway=gateway)

    api = FastAPI(
        title=f"prodline RAG over {kb}",
        lifespan=lifespan_of(runtime),
        description=(
            "OpenAI-compatible chat completions answered from a prodline knowledge base, "
            "with citations and groundedness in extension fields."
        ),
        docs_url=None,
        redoc_url=None,
    )
    api.state.runtime = runtime
    if guard is not None:
        api.add_middleware(TokenAuthMiddleware, guard=guard)
    if limits.enabled:  # outermost: refuse cheaply before the token check
        api.add_middleware(
            HardeningMiddleware,
            limits=limits,
            render=render_error,
            registry=runtime.metrics.registry,
            by_token=guard is not None,
        )
    add_offline_docs(api)

    def fail(endpoint: str, exc: ProdlineError, request_id: str, t0: float | None) -> Response:
        status = wire.status_of(exc)
        runtime.failed += 1
        seconds = None if t0 is None else time.perf_counter() - t0
        runtime.metrics.observe_request(endpoint, status, "", seconds)
        return _json(wire.error_body(exc, request_id), status, request_id)

    def render(_: Request, error: HttpError) -> Response:
        exc = ProdlineError(error.message, **error.details)
        exc.code = error.code
        doc = wire.error_body(exc, "", status=error.status)
        return _json(doc, error.status, "", error.headers)

    def invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        field, message = validation_message(dict(errors[0]) if errors else {})
        endpoint = _ENDPOINTS.get(request.url.path, "other")
        error = InvalidInput(message, field=field)
        if len(errors) > 1:
            error.details["more"] = [validation_message(dict(e))[1] for e in errors[1:5]]
        return fail(endpoint, error, runtime.new_request_id(), None)

    install_error_handlers(api, routes=_ROUTES, render=render, invalid=invalid)

    @api.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @api.get(
        "/readyz",
        summary="Readiness: KB and embedding model loaded, log writer running",
        responses=error_responses(503),
    )
    async def readyz() -> Response:
        info = await asyncio.to_thread(runtime.current_info)
        body = {"kb": kb, "version": info.version, "chunks": info.chunks}
        if runtime.ready and runtime.raglog.alive:
            return _json({"status": "ready", **body}, 200, "")
        exc = ProdlineError(f"The RAG server for '{kb}' is starting or stopping; retry shortly.")
        doc = exc.to_dict()
        doc["error"].update(code="not_ready", details=body)
        return _json(doc, 503, "")

    @api.get("/metrics", summary="Prometheus metrics", **METRICS_DOC)
    async def metrics() -> Response:
        return PrometheusResponse(runtime.metrics.render())

    def model_card() -> dict[str, Any]:
        info = runtime.info
        return {
            "id": kb,
            "object": "model",
            "created": int(info.created_at.timestamp()),
            "owned_by": info.owner,
        }

    @api.get("/v1/models", summary="The knowledge base served, as an OpenAI model list")
    async def models() -> Response:
        return _json({"object": "list", "data": [model_card()]}, 200, "")

    @api.get(
        "/v1/models/{model}",
        summary="The knowledge base served, as an OpenAI model",
        responses=error_responses(404),
    )
    async def model(model: str) -> Response:
        if model != kb:
            exc = NotFound(
                f"Knowledge base '{model}' is not served here; this server serves '{kb}'.",
                model=model,
                served=kb,
            )
            return _json(wire.error_body(exc, ""), 404, "")
        return _json(model_card(), 200, "")

    @api.post(
        "/v1/retrieve",
        summary="The chunks a question would be answered from",
        responses=error_responses(422, 500, 503) | REFUSALS,
    )
    async def retrieve(body: RetrieveRequest, request: Request) -> Response:
        t0 = time.perf_counter()
        request_id = runtime.new_request_id()
        user = request.scope.get("prodline.user", "")
        try:
            result = await asyncio.to_thread(runtime.retrieve, body, request_id, t0, user)
        except ProdlineError as exc:
            return fail("retrieve", exc, request_id, t0)
        except Exception as exc:
            return fail("retrieve", _unexpected(exc, request_id), request_id, t0)
        runtime.answered += 1
        runtime.metrics.observe_request("retrieve", 200, "", time.perf_counter() - t0)
        return _json(result, 200, request_id)

    @api.post(
        "/v1/chat/completions",
        summary="OpenAI chat completions, answered from the knowledge base",
        description=wire.__doc__ or "",
        responses=error_responses(404, 422, 500, 503) | REFUSALS,
    )
    async def chat(body: ChatRequest, request: Request) -> Response:
        t0 = time.perf_counter()
        request_id = runtime.new_request_id()
        user = request.scope.get("prodline.user", "")
        try:
            if body.stream:
                question = await asyncio.to_thread(runtime.ask, body, request_id, t0, user)
                return await start_stream(question)
            answer = await asyncio.to_thread(_ask_and_answer, runtime, body, request_id, t0, user)
        except ProdlineError as exc:
            return fail("chat", exc, request_id, t0)
        except Exception as exc:
            return fail("chat", _unexpected(exc, request_id), request_id, t0)
        completion = answer.completion
        extra = wire.extras(
            completion,
            answer.grounded,
            answer.question.hits,
            runtime.threshold,
            request_id,
            answer.question.guarded.to_dict(),
        )
        doc = wire.completion_body(kb, int(time.time()), completion, extra)
        runtime.answered += 1
        runtime.metrics.observe_request("chat", 200, completion.provider, answer.latency_s)
        return _json(doc, 200, request_id)

    @api.get("/v1/reviews/{review_id}", responses=error_responses(404, 422, 503), **REVIEW_DOC)
    async def review(review_id: int) -> Response:
        status, doc = await review_status(
            runtime.ws, review_id, lambda exc, code: wire.error_body(exc, "", status=code)
        )
        return _json(doc, status, "")

    async def start_stream(question: Question) -> Response:
        """Route and start the answer before replying, so routing errors get a status."""
        items = runtime.stream(question)
        first = await asyncio.to_thread(next, items, None)
        return StreamingResponse(
            _events(runtime, question, first, items),
            media_type="text/event-stream",
            headers={"x-request-id": question.request_id, "cache-control": "no-cache"},
        )

    return api


def _ask_and_answer(
    runtime: RagRuntime, body: ChatRequest, request_id: str, t0: float, user: str
) -> Answer:
    return runtime.answer(runtime.ask(body, request_id, t0, user))


def _events(
    runtime: RagRuntime,
    question: Question,
    first: str | Completion | None,
    items: Iterator[str | Completion],
) -> Iterator[bytes]:
    """The SSE body; iterated in a worker thread by Starlette (it blocks on the provider)."""
    kb, request_id = runtime.kb, question.request_id
    created = int(time.time())
    yield wire.sse(wire.chunk(kb, request_id, created, {"role": "assistant", "content": ""}))
    item, waited = first, False
    try:
        while True:
            if item is None:
                raise ProdlineError("The LLM stream ended without a result; retry the request.")
            if isinstance(item, Completion):
                answer = runtime.finish(question, item, stream=True)
                extra = wire.extras(
                    item,
                    answer.grounded,
                    question.hits,
                    runtime.threshold,
                    request_id,
                    question.guarded.to_dict(),
                )
                yield wire.sse(wire.final_chunk(kb, created, item, extra))
                yield wire.DONE
                runtime.answered += 1
                runtime.metrics.observe_request("chat", 200, item.provider, answer.latency_s)
                return
            if not waited:
                waited = True
                runtime.metrics.first_token.observe(time.perf_counter() - question.t0)
            yield wire.sse(wire.chunk(kb, request_id, created, {"content": item}))
            item = next(items, None)
    except Exception as exc:
        error = exc if isinstance(exc, ProdlineError) else _unexpected(exc, request_id)
        runtime.failed += 1
        runtime.metrics.observe_request(
            "chat", wire.status_of(error), "", time.perf_counter() - question.t0
        )
        yield wire.sse(wire.error_body(error, request_id))


def _unexpected(exc: Exception, request_id: str) -> ProdlineError:
    """Never a traceback to the client; one in the server log."""
    log.error("RAG request %s failed", request_id, exc_info=exc)
    return ProdlineError(
        f"Unexpected error: {type(exc).__name__}: {exc}; see the server log for request "
        f"{request_id}."
    )


def _json(
    doc: dict[str, Any],
    status: int,
    request_id: str,
    headers: Mapping[str, str] | None = None,
) -> Response:
    extra = dict(headers or {})
    if request_id:
        extra["x-request-id"] = request_id
    return Response(
        orjson.dumps(doc), status_code=status, media_type="application/json", headers=extra
    )

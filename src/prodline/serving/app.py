"""The prediction server's app: FastAPI for health, readiness, metrics, docs, feedback and
review status, with the predict route on a raw ASGI fast path in front of it (see
``fastpath``). A model with a human-review policy may answer 202 pending_review; the
client polls ``GET /v1/reviews/{review_id}`` (:mod:`prodline.serving.reviewing`).

Example
-------
>>> from prodline.serving import create_app                      # doctest: +SKIP
>>> app = create_app(ws, "credit-risk", "production")            # doctest: +SKIP
>>> uvicorn.run(app, host="127.0.0.1", port=8000)                # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from prodline.errors import NotFound, ProdlineError
from prodline.serving.auth import TokenGuard, guard_for
from prodline.serving.docs import add_offline_docs
from prodline.serving.errors import HttpError, error_responses, install_error_handlers
from prodline.serving.fastpath import Receive, Scope, Send, ServingApp
from prodline.serving.hardening import REFUSALS, HardeningMiddleware
from prodline.serving.limits import ServerLimits
from prodline.serving.metrics import METRICS_DOC, PrometheusResponse
from prodline.serving.options import ServeOptions
from prodline.serving.reviewing import REVIEW_DOC, PendingReview, review_status
from prodline.serving.runtime import Runtime

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["HardenedServingApp", "create_app", "lifespan_of"]

_ROWS = {"type": "array", "items": {"type": "object"}, "description": "One object per row."}
_PREDICT_SCHEMA = {
    "type": "object",
    "description": "Exactly one of inputs, dataframe_records or dataframe_split.",
    "minProperties": 1,
    "maxProperties": 1,
    "properties": {
        "inputs": {"oneOf": [_ROWS, {"type": "object", "description": "One array per column."}]},
        "dataframe_records": _ROWS,
        "dataframe_split": {
            "type": "object",
            "required": ["columns", "data"],
            "properties": {
                "columns": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "array", "items": {"type": "array"}},
            },
        },
    },
}

_PREDICT_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": _PREDICT_SCHEMA,
                "examples": {
                    "inputs": {"value": {"inputs": [{"x1": 0.5, "x2": 1.0}]}},
                    "dataframe_records": {"value": {"dataframe_records": [{"x1": 0.5, "x2": 1.0}]}},
                    "dataframe_split": {
                        "value": {
                            "dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, 1.0]]}
                        }
                    },
                },
            }
        },
    },
}

_LABEL = {
    "type": "object",
    "required": ["request_id", "label"],
    "properties": {
        "request_id": {"type": "string", "description": "The x-request-id of the answer."},
        "label": {"description": "The true outcome, of the model's target type."},
        "row": {"type": "integer", "minimum": 0, "description": "Row of a batch (default 0)."},
    },
}
_FEEDBACK_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _LABEL,
                        {
                            "type": "object",
                            "required": ["feedback"],
                            "properties": {"feedback": {"type": "array", "items": _LABEL}},
                        },
                    ]
                },
                "examples": {
                    "one": {"value": {"request_id": "3f9a0c1d2e4b-17", "label": 1}},
                    "batch": {
                        "value": {
                            "feedback": [
                                {"request_id": "3f9a0c1d2e4b-17", "label": 1},
                                {"request_id": "3f9a0c1d2e4b-18", "label": 0, "row": 2},
                            ]
                        }
                    },
                },
            }
        },
    },
}

_EVENT = {
    "type": "object",
    "required": ["kpi", "value"],
    "properties": {
        "kpi": {"type": "string", "description": "A KPI whose source is events."},
        "value": {"type": "number", "description": "The observation (1/0 for a rate)."},
        "ts": {"type": "string", "format": "date-time", "description": "Default: now."},
    },
}
_EVENTS_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _EVENT,
                        {
                            "type": "object",
                            "required": ["events"],
                            "properties": {"events": {"type": "array", "items": _EVENT}},
                        },
                    ]
                },
                "examples": {"one": {"value": {"kpi": "resolved-without-agent", "value": 1}}},
            }
        },
    },
}


def create_app(
    ws: Workspace,
    name: str,
    alias: str,
    *,
    options: ServeOptions | None = None,
    address: tuple[str, int] | None = None,
) -> ServingApp:
    """Build the ASGI app serving ``name@alias``; the model is loaded now.

    Parameters
    ----------
    ws
        The workspace holding the model, the prediction log and the audit log.
    name, alias
        What to serve; a promote or rollback of ``alias`` is picked up while running.
    options
        Batching, logging, polling and auth knobs (``ServeOptions``); ``options.limits``
        (default: the ``[server]`` table of ``prodline.toml``) are enforced in front of
        every route (``prodline.serving.hardening``).
    address
        ``(host, port)`` the server listens on, for the ``server.started`` audit event.

    Raises
    ------
    NotFound
        The model or alias does not exist.
    InvalidInput
        An unknown or bad ``[server]`` key.
    """
    ws.authorize("model.serve")
    opts = options or ServeOptions()
    limits = opts.limits or ServerLimits.load(ws.home, server="model")
    if opts.max_body_bytes == _FAST_PATH_BODY_DEFAULT:  # not set: the [server] limit
        opts = replace(opts, max_body_bytes=limits.max_body_bytes)
    guard = guard_for(
        ws,
        opts.auth,
        action_of=lambda path: _ACTIONS.get(path, "predict"),
        render=_render,
        ttl_s=opts.auth_cache_s,
    )
    runtime = Runtime(ws, name, alias, opts, address)
    api = _build_api(runtime)
    if not limits.enabled:
        return ServingApp(runtime, api, guard)
    return HardenedServingApp(runtime, api, guard, limits)


_FAST_PATH_BODY_DEFAULT = ServeOptions.max_body_bytes
_ACTIONS = {"/v1/feedback": "feedback.add", "/v1/events": "kpi.record"}


def _render(exc: ProdlineError, status: int) -> bytes:
    return orjson.dumps(exc.to_dict())


class HardenedServingApp(ServingApp):
    """``ServingApp`` behind :class:`HardeningMiddleware`: limits, refusals, headers."""

    def __init__(
        self, runtime: Runtime, api: Any, guard: TokenGuard | None, limits: ServerLimits
    ) -> None:
        super().__init__(runtime, api, guard)
        self.hardening = HardeningMiddleware(
            super().__call__,
            limits=limits,
            render=_render,
            registry=runtime.metrics.registry,
            by_token=guard is not None,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.hardening(scope, receive, send)


class _Lifecycle(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


def lifespan_of(
    runtime: _Lifecycle,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's lifespan: ``runtime.start()`` before the first request, ``runtime.stop()``
    after the last, even when serving fails."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    return lifespan


def _build_api(runtime: Runtime) -> FastAPI:
    api = FastAPI(
        title=f"prodline serving {runtime.name}@{runtime.alias}",
        lifespan=lifespan_of(runtime),
        description="Predictions from a prodline model alias.",
        docs_url=None,
        redoc_url=None,
    )
    add_offline_docs(api)

    def render(_: Request, error: HttpError) -> Response:
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    def invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        field = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{field}: {first.get('msg', 'invalid')}"
        return render(_, HttpError(422, "invalid_input", message, {"field": field}))

    install_error_handlers(
        api,
        routes=(
            f"POST /v1/models/{runtime.name}/predict, GET /v1/models/{runtime.name}, "
            "POST /v1/feedback, POST /v1/events, GET /v1/reviews/{review_id}, "
            "/healthz, /readyz, /metrics and /docs"
        ),
        render=render,
        invalid=invalid,
    )

    @api.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @api.get(
        "/readyz",
        summary="Readiness: model loaded and prediction log writer running",
        responses=error_responses(503),
    )
    async def readyz() -> JSONResponse:
        served = runtime.served
        body = {"model": served.name, "alias": served.alias, "version": served.version}
        if runtime.ready and runtime.predlog.alive:
            return JSONResponse({"status": "ready", **body})
        return _error(
            503,
            "not_ready",
            f"{served.name}@{served.alias} is starting or stopping; retry shortly.",
            body,
        )

    @api.get("/ping", include_in_schema=False)  # MLflow's health route
    async def ping() -> Response:
        return Response(b"\n", media_type="application/json")

    @api.get("/metrics", summary="Prometheus metrics", **METRICS_DOC)
    async def metrics() -> Response:
        return PrometheusResponse(runtime.metrics.render())

    @api.get(
        "/v1/models/{name}",
        summary="The served model version and its input signature",
        responses=error_responses(404),
    )
    async def model_info(name: str) -> JSONResponse:
        served = runtime.served
        if name != served.name:
            exc = NotFound(
                f"Model '{name}' is not served here; this server serves '{served.name}'.",
                model=name,
                served=served.name,
            )
            return JSONResponse(exc.to_dict(), status_code=404)
        return JSONResponse(
            {
                "model": served.name,
                "alias": served.alias,
                "version": served.version,
                "flavor": served.flavor,
                "signature": [
                    {"name": n, "type": k}
                    for n, k in zip(served.spec.names, served.spec.kinds, strict=True)
                ],
            }
        )

    @api.post(
        "/v1/models/{name}/predict",
        openapi_extra=_PREDICT_DOC,
        summary="Predict: {inputs}, {dataframe_records} or {dataframe_split}",
        responses=error_responses(404, 413, 422, 500, 503) | REFUSALS | _HELD,
    )
    async def predict(name: str, request: Request) -> Response:
        # Normally answered by the fast path before FastAPI sees it; kept for docs and for
        # anyone mounting this FastAPI app on its own.
        t0 = time.perf_counter()
        request_id = runtime.new_request_id()
        user = request.scope.get("prodline.user", "")
        status, data = await runtime.predict(name, await request.body(), request_id, t0, user)
        return Response(
            data,
            status_code=status,
            media_type="application/json",
            headers={"x-request-id": request_id},
        )

    @api.post(
        "/v1/feedback",
        openapi_extra=_FEEDBACK_DOC,
        summary="Labels for answered predictions, by their x-request-id",
        responses=error_responses(422, 503) | REFUSALS,
    )
    async def feedback(request: Request) -> JSONResponse:
        status, doc = await runtime.feedback(
            await request.body(), actor=request.scope.get("prodline.user")
        )
        return JSONResponse(doc, status_code=status)

    @api.post(
        "/v1/events",
        openapi_extra=_EVENTS_DOC,
        status_code=202,
        summary="Business events of KPIs (what a client application saw happen)",
        responses=error_responses(404, 422, 503) | REFUSALS,
    )
    async def events(request: Request) -> JSONResponse:
        status, doc = await runtime.events(await request.body())
        return JSONResponse(doc, status_code=status)

    @api.get("/v1/reviews/{review_id}", responses=error_responses(404, 422, 503), **REVIEW_DOC)
    async def review(review_id: int) -> JSONResponse:
        status, doc = await review_status(runtime.ws, review_id)
        return JSONResponse(doc, status_code=status)

    return api


_HELD: dict[int | str, dict[str, Any]] = {
    202: {
        "model": PendingReview,
        "description": (
            "Held for human review (the model's review policy): poll review_url "
            "(GET /v1/reviews/{review_id}) for the reviewer's decision."
        ),
    }
}


def _error(status: int, code: str, message: str, details: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status
    )

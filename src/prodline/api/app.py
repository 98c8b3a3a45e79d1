"""The control-plane API: one FastAPI app, ``/api/v1/…`` routes, one error shape.

Every route but ``/healthz`` needs a bearer token (``prodline.api.auth``); the OpenAPI
document (``/api/v1/openapi.json``) and its docs pages (``/api/v1/docs``,
``/api/v1/redoc``, served from the package: they work offline) too. Every error is
``{"error": {"code", "message", "details"}}`` with the status of ``HTTP_STATUS``: 401
naming the reason, 403 the role needed, 404 what does not exist (an unknown path too),
409 a conflict (nothing was changed), 422 the field that is wrong; never a 500 for a
caller's mistake.

Example
-------
>>> from prodline.api import build_api                           # doctest: +SKIP
>>> uvicorn.run(build_api(ws), host="127.0.0.1", port=8400)      # doctest: +SKIP
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

import anyio
import orjson
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from prometheus_client import CollectorRegistry
from starlette.exceptions import HTTPException

from prodline.api.auth import Authenticator
from prodline.api.routers import PREFIX, routers
from prodline.errors import HTTP_STATUS, ProdlineError
from prodline.serving.docs import ASSETS
from prodline.serving.errors import HttpError, install_error_handlers
from prodline.serving.hardening import HardeningMiddleware
from prodline.serving.limits import ServerLimits

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["DOCS_PATH", "OPENAPI_PATH", "build_api", "error_response"]

log = logging.getLogger("prodline.api")

OPENAPI_PATH = f"{PREFIX}/openapi.json"
"""Where the OpenAPI document is served."""

DOCS_PATH = f"{PREFIX}/docs"
"""Where Swagger UI is served (ReDoc: ``/api/v1/redoc``)."""

_ASSETS_PATH = f"{PREFIX}/docs-assets"
_ROUTES = f"{PREFIX}/… (listed in {OPENAPI_PATH}), /healthz and the dashboard at /"

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGI = Callable[[Scope, Receive, Send], Awaitable[None]]


def error_response(exc: ProdlineError) -> JSONResponse:
    """The JSON answer for a ``ProdlineError``: its code's status, the house body."""
    status = HTTP_STATUS.get(exc.code, 500)
    headers = {"www-authenticate": 'Bearer realm="prodline"'} if status == 401 else None
    return JSONResponse(exc.to_dict(), status_code=status, headers=headers)


def build_api(
    ws: Workspace,
    *,
    auth: bool = True,
    ttl_s: float = 15.0,
    lifespan: Callable[[FastAPI], AbstractAsyncContextManager[None]] | None = None,
) -> FastAPI:
    """The control-plane app over ``ws`` (mount the dashboard with ``server.build_app``).

    Parameters
    ----------
    ws
        The workspace; each request acts through ``ws.acting_as(token)``.
    auth
        ``False``: no token asked, ``ws`` acts for everyone (loopback servers only; the
        CLI enforces it).
    ttl_s
        How long a token's workspace view is reused (at most 30 s).
    lifespan
        What runs around serving (the server starts and stops its scheduler there).

    Raises
    ------
    InvalidInput
        ``auth`` on a workspace without users (no token could pass), or a bad ``[server]``
        table in ``prodline.toml`` (its limits apply to the API's routes).
    """
    authenticator = Authenticator(ws, auth=auth, ttl_s=ttl_s)
    api = FastAPI(
        title="prodline control plane",
        description=(
            "Datasets, models and aliases, evidence and gates, knowledge bases, monitors "
            "and alerts, pipelines, the human review queue, the audit log and lineage of "
            "one prodline workspace. Send 'Authorization: Bearer <token>'."
        ),
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    api.state.ws = ws
    api.state.authenticator = authenticator
    _install_errors(api)
    _add_docs(api)

    @api.get("/healthz", summary="Liveness: the process answers (no token needed)")
    async def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    for router in routers():
        api.include_router(router, prefix=PREFIX)
    if auth:
        api.add_middleware(_ApiGate, authenticator=authenticator)
    limits = ServerLimits.load(ws.home, server="model")
    if limits.enabled:  # outside the gate, as on the serving side
        api.add_middleware(_ApiLimits, limits=limits)
    return api


def _install_errors(api: FastAPI) -> None:
    def render(_: Request, error: HttpError) -> Response:
        return JSONResponse(error.body(), status_code=error.status, headers=error.headers)

    def invalid(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in first.get("loc", ())]
        if loc and loc[0] in ("query", "path", "body", "header"):
            loc = loc[1:]
        field = ".".join(loc) or "body"
        message = f"{field}: {first.get('msg', 'invalid')}"
        return render(_, HttpError(422, "invalid_input", message, {"field": field}))

    install_error_handlers(api, routes=_ROUTES, render=render, invalid=invalid)

    async def prodline_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ProdlineError)
        return error_response(exc)

    async def unexpected(request: Request, exc: Exception) -> Response:
        ref = uuid.uuid4().hex[:12]
        log.error("unexpected error %s on %s %s", ref, request.method, request.url.path,
                  exc_info=exc)  # fmt: skip
        body = HttpError(
            500, "error", f"Unexpected error; the server log has it under reference {ref}."
        ).body()
        return JSONResponse(body, status_code=500)

    api.add_exception_handler(ProdlineError, prodline_error)
    api.add_exception_handler(Exception, unexpected)


def _add_docs(api: FastAPI) -> None:
    from importlib.resources import files

    @api.get(DOCS_PATH, include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=OPENAPI_PATH,
            title=f"{api.title} - Swagger UI",
            swagger_js_url=f"{_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{_ASSETS_PATH}/favicon.png",
        )

    @api.get(f"{PREFIX}/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=OPENAPI_PATH,
            title=f"{api.title} - ReDoc",
            redoc_js_url=f"{_ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{_ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )

    @api.get(_ASSETS_PATH + "/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404)
        data = (files("fastapi_offline") / "static" / name).read_bytes()
        return Response(data, media_type=media_type, headers={"cache-control": "max-age=86400"})


class _ApiLimits:
    """The servers' limits (``serving.hardening``: body size, JSON depth, concurrency,
    deadline, security headers) on the API's routes; the ``[server]`` table of
    ``prodline.toml`` sets them, with the model server's defaults (no rate limit). The docs
    pages and the dashboard pass untouched (their pages need scripts and styles).
    """

    def __init__(self, app: ASGI, limits: ServerLimits) -> None:
        self.app = app
        self.hardened = HardeningMiddleware(
            app,
            limits=limits,
            render=lambda exc, _status: orjson.dumps(exc.to_dict()),
            registry=CollectorRegistry(),
            by_token=True,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] == "http"
            and path.startswith(PREFIX + "/")
            and not path.startswith((DOCS_PATH, f"{PREFIX}/redoc", _ASSETS_PATH))
        ):
            await self.hardened(scope, receive, send)
        else:
            await self.app(scope, receive, send)


class _ApiGate:
    """Refuse (401) a request under ``/api/v1`` without a valid token before any route runs.

    Routes check the role themselves (``deps.Reader``; the library per action); this
    also covers the OpenAPI document, its docs pages and unknown API paths, so nothing
    about the workspace answers an anonymous caller. The dashboard's pages, elsewhere,
    have their own login.
    """

    def __init__(self, app: ASGI, authenticator: Authenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == PREFIX or path.startswith(PREFIX + "/")):
            header = None
            for key, value in scope["headers"]:
                if key == b"authorization":
                    header = value.decode("latin-1")
                    break
            try:
                await anyio.to_thread.run_sync(self.authenticator.workspace, header)
            except ProdlineError as exc:  # Unauthorized; StoreUnavailable (503)
                await _send_error(send, exc)
                return
        await self.app(scope, receive, send)


async def _send_error(send: Send, exc: ProdlineError) -> None:
    status = HTTP_STATUS.get(exc.code, 500)
    body = orjson.dumps(exc.to_dict())
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="prodline"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

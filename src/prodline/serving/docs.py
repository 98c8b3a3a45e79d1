"""Interactive API docs served from the package itself, so ``/docs`` works offline.

FastAPI's default ``/docs`` and ``/redoc`` pages load Swagger UI and ReDoc from a CDN; on
a machine without internet access they stay blank. The same assets ship in the pinned
``fastapi-offline`` package (Swagger UI 5, which renders OpenAPI 3.1, and ReDoc 2); both
servers serve them under ``/docs-assets/``.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

__all__ = ["ASSETS", "ASSETS_PATH", "add_offline_docs"]

ASSETS_PATH = "/docs-assets"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}


@cache
def _asset(name: str) -> bytes:
    return (files("fastapi_offline") / "static" / name).read_bytes()


def add_offline_docs(api: FastAPI) -> None:
    """Serve ``/docs``, ``/redoc`` and their assets from the package (build ``api`` with
    ``docs_url=None, redoc_url=None``)."""
    openapi_url = api.openapi_url or "/openapi.json"
    redirect_url = api.swagger_ui_oauth2_redirect_url or "/docs/oauth2-redirect"

    def base(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    @api.get("/docs", include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = base(request)
        return get_swagger_ui_html(
            openapi_url=root + openapi_url,
            title=f"{api.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            oauth2_redirect_url=root + redirect_url,
        )

    @api.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @api.get("/redoc", include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        root = base(request)
        return get_redoc_html(
            openapi_url=root + openapi_url,
            title=f"{api.title} - ReDoc",
            redoc_js_url=f"{root}{ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{root}{ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )

    @api.get(ASSETS_PATH + "/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        media_type = ASSETS.get(name)
        if media_type is None:
            raise HTTPException(404)
        return Response(
            _asset(name), media_type=media_type, headers={"cache-control": "max-age=86400"}
        )

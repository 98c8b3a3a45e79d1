"""How both servers answer errors that FastAPI raises, and how their OpenAPI documents them.

Starlette raises ``HTTPException`` for an unknown route (404) or a method the route does
not take (405, with the ``Allow`` header it must keep); FastAPI raises
``RequestValidationError`` for a body that does not fit the schema. Each server installs
the handlers here and says how it renders an error body (the prediction server:
``{"error": {code, message, details}}``; the RAG server adds OpenAI's ``type`` and
``param``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "ErrorResponse",
    "HttpError",
    "error_responses",
    "http_error_of",
    "install_error_handlers",
]


@dataclass(frozen=True)
class HttpError:
    """One error answer: status, code, message naming the fix, details, extra headers."""

    status: int
    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    headers: Mapping[str, str] | None = None

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


class ErrorDetail(BaseModel):
    """The ``error`` object of every error answer."""

    model_config = ConfigDict(extra="allow")
    code: str
    message: str
    details: dict[str, Any] = {}


class ErrorResponse(BaseModel):
    """``{"error": {code, message, details}}`` (the RAG server adds ``type`` and ``param``)."""

    model_config = ConfigDict(extra="allow")
    error: ErrorDetail


_DESCRIPTIONS = {
    400: "The request could not be read.",
    404: "No such route, model or knowledge base here; the message says what is served.",
    405: "The route does not take this method; the Allow header lists those it takes.",
    413: "The request body is too large.",
    422: "The request does not fit the schema; the message names the field.",
    500: "Unexpected error; the message gives the request id to find in the server log.",
    503: "Starting, stopping, or no provider could answer; retry shortly.",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the error statuses a route answers."""
    return {s: {"model": ErrorResponse, "description": _DESCRIPTIONS[s]} for s in statuses}


def http_error_of(request: Request, exc: StarletteHTTPException, routes: str) -> HttpError:
    """The error answer for a Starlette ``HTTPException``; ``routes`` lists what is served."""
    path = request.url.path
    headers = dict(exc.headers) if exc.headers else None
    if exc.status_code == 404:
        return HttpError(404, "not_found", f"No route {path}; this server answers {routes}.")
    if exc.status_code == 405:
        allow = (headers or {}).get("Allow", "")
        return HttpError(
            405,
            "method_not_allowed",
            f"{request.method} is not allowed on {path}; use {allow or 'another method'}.",
            {"allow": [m.strip() for m in allow.split(",") if m.strip()]},
            headers,
        )
    return HttpError(exc.status_code, "http_error", str(exc.detail), {}, headers)


def install_error_handlers(
    api: FastAPI,
    *,
    routes: str,
    render: Callable[[Request, HttpError], Response],
    invalid: Callable[[Request, RequestValidationError], Response],
) -> None:
    """Route Starlette's HTTP errors through ``render`` and validation errors to ``invalid``."""

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        return render(request, http_error_of(request, exc, routes))

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return invalid(request, exc)

    api.add_exception_handler(StarletteHTTPException, http_error)
    api.add_exception_handler(RequestValidationError, validation_error)

"""Login with an API token, logout, and the dashboard's own static files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from prodline.errors import ProdlineError, Unauthorized
from prodline.ui.web import UI, read_form, redirect, safe_next

__all__ = ["STATIC", "add_auth_routes"]

STATIC = Path(__file__).with_name("static")
_TYPES = {".css": "text/css", ".svg": "image/svg+xml", ".js": "text/javascript"}


def add_auth_routes(router: APIRouter, ui: UI) -> None:
    """``/login``, ``/logout`` and ``/static/{name}`` on ``router``."""

    @router.get("/login", include_in_schema=False)
    def login_page(request: Request) -> Response:
        if not ui.auth:
            return redirect("/")
        session = ui.session_of(request)
        if session is not None and session.token is not None:
            return redirect(safe_next(request.query_params.get("next")))
        session = ui.sessions.create()  # anonymous: carries the login form's CSRF secret
        response = ui.render(
            "login.html",
            csrf=session.csrf,
            next=safe_next(request.query_params.get("next")),
            error=None,
        )
        return ui.set_cookie(response, session)

    @router.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await read_form(request)
        return await _threaded(lambda: _login(ui, request, form))

    @router.get("/logout", include_in_schema=False)
    def logout_page(request: Request) -> Response:
        return ui.page(request, lambda ctx: ctx.render("logout.html"))

    @router.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        form = await read_form(request)

        def act(ctx: object, _: object) -> Response:
            session = ui.session_of(request)
            if session is not None:
                ui.forget(session)
            response = redirect("/login" if ui.auth else "/")
            response.delete_cookie("prodline_session", path="/")
            return response

        return ui.action(request, form, act)

    @router.get("/static/{name}", include_in_schema=False)
    def static(name: str) -> Response:
        path = STATIC / name
        if "/" in name or name.startswith(".") or not path.is_file():
            return PlainTextResponse("Not found", status_code=404)
        return FileResponse(
            path,
            media_type=_TYPES.get(path.suffix, "application/octet-stream"),
            headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
        )


async def _threaded(fn: Callable[[], Response]) -> Response:
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn)


def _login(ui: UI, request: Request, form: dict[str, str]) -> Response:
    if not ui.auth:
        return redirect("/")
    session = ui.session_of(request)
    target = safe_next(form.get("next"))
    if session is None or not session.csrf_ok(form.get("csrf_token")):
        return ui.render(
            "error.html",
            403,
            error=ProdlineError(
                "The login form expired or its CSRF token is wrong; open /login again."
            ),
            status_code=403,
        )
    token = form.get("token", "").strip()
    try:
        if not token:
            raise Unauthorized("Enter an API token (prodline token create USER).", reason="missing")
        view = ui.ws.acting_as(token)
    except Unauthorized as exc:
        return ui.render("login.html", 401, csrf=session.csrf, next=target, error=exc.message)
    principal = view.principal
    ui.sessions.delete(session.id)  # a new id after login: no session fixation
    fresh = ui.sessions.create(
        token=token,
        user=principal.user if principal else "",
        role=principal.role if principal else "",
    )
    return ui.set_cookie(redirect(target), fresh)

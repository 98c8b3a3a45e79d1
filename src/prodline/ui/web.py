"""The dashboard's request plumbing: session → acting workspace, CSRF, rendering, errors.

Every route hands its work to :meth:`UI.page` (GET) or :meth:`UI.action` (POST). They
resolve the session cookie, turn it into ``ws.acting_as(token)`` (one view per token, kept
≤ 30 s), check the CSRF token of forms, and turn ``ProdlineError`` into a page with the
error's HTTP status and message (never a traceback). A route therefore never sees a
request it may not serve. The router cannot rely on app-level exception handlers: the
control-plane server owns the app and mounts this router into it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from prodline.core.roles import is_allowed
from prodline.errors import HTTP_STATUS, InvalidInput, ProdlineError, Unauthorized
from prodline.ui.sessions import COOKIE, Session, SessionStore

if TYPE_CHECKING:
    from jinja2 import Environment

    from prodline.workspace import Workspace

__all__ = ["Ctx", "Page", "UI", "read_form", "redirect", "safe_next"]

TEMPLATES = Path(__file__).with_name("templates")
VIEW_TTL_S = 30.0
MAX_FORM_BYTES = 1_000_000


@dataclass(frozen=True)
class Page:
    """Validated ``page``/``size`` query parameters (page ≥ 1, size 1..200, default 50)."""

    page: int
    size: int

    @property
    def offset(self) -> int:
        """Rows to skip."""
        return (self.page - 1) * self.size


@dataclass
class Ctx:
    """What a route gets: the request, the acting workspace and the session."""

    ui: UI
    request: Request
    ws: Workspace
    session: Session
    fresh: bool = False  # a session made for this request: its cookie goes on the response

    @property
    def user(self) -> str:
        """Who acts (the token's user, or the server's actor with authentication off)."""
        return self.session.user or self.ws.actor

    @property
    def role(self) -> str:
        """The acting role; "admin" when the workspace has no users."""
        principal = self.ws.principal
        return principal.role if principal is not None else "admin"

    def can(self, action: str) -> bool:
        """Whether the acting role may perform ``action`` (decides which buttons show)."""
        return is_allowed(self.role, action)

    def query(self, name: str) -> str | None:
        """A query parameter, stripped; None when absent or empty."""
        value = self.request.query_params.get(name)
        return value.strip() or None if value is not None else None

    def paging(self, default_size: int = 50) -> Page:
        """``page`` and ``size`` from the query; InvalidInput naming the field otherwise."""
        return Page(
            _int_param(self.query("page"), "page", 1, 1, 10**9),
            _int_param(self.query("size"), "size", default_size, 1, 200),
        )

    def flash(self, message: str) -> None:
        """Show ``message`` once on the next page."""
        self.session.flash.append(message)

    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """Render ``template`` with the layout's values (user, role, csrf, flash, nav)."""
        return self.ui.render(template, status, ctx=self, **values)


class UI:
    """The dashboard's state in one server process: workspace, sessions, templates."""

    def __init__(self, ws: Workspace, *, auth: bool) -> None:
        self.ws = ws
        self.auth = auth
        self.sessions = SessionStore()
        self.env = _environment()
        self._views: dict[str, tuple[Workspace, float]] = {}
        self._views_lock = threading.Lock()

    # -- rendering -----------------------------------------------------------------------
    def render(self, template: str, status: int = 200, **values: Any) -> HTMLResponse:
        """Render a template to an HTML response (autoescaped)."""
        ctx: Ctx | None = values.setdefault("ctx", None)
        values.setdefault("auth", self.auth)
        values.setdefault("flash", ctx.session.pop_flash() if ctx else [])
        values.setdefault("csrf", ctx.session.csrf if ctx else "")
        html = self.env.get_template(template).render(**values)
        return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)

    def error(self, exc: ProdlineError, ctx: Ctx | None = None) -> HTMLResponse:
        """The error page: the error's status (403 for a role without the right) and message."""
        status = HTTP_STATUS.get(exc.code, 500)
        return self.render("error.html", status, ctx=ctx, error=exc, status_code=status)

    # -- sessions ------------------------------------------------------------------------
    def session_of(self, request: Request) -> Session | None:
        """The live session named by the request's cookie, if any."""
        return self.sessions.get(request.cookies.get(COOKIE))

    def set_cookie(self, response: Response, session: Session) -> Response:
        """Attach the session cookie (HttpOnly, SameSite=Strict, Path=/)."""
        response.set_cookie(
            COOKIE, session.id, httponly=True, samesite="strict", path="/", max_age=8 * 3600
        )
        return response

    def to_login(self, request: Request) -> RedirectResponse:
        """303 to the login page, remembering where the user was going."""
        if request.method != "GET":  # after login, land on a page, not on a form's target
            response = RedirectResponse("/login", status_code=303)
        else:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    def acting(self, session: Session) -> Workspace:
        """The workspace as the session's user (``ws.acting_as``, cached ≤ 30 s per token)."""
        if not self.auth or session.token is None:
            return self.ws
        now = time.monotonic()
        with self._views_lock:
            cached = self._views.get(session.token)
            if cached is not None and now - cached[1] < VIEW_TTL_S:
                return cached[0]
        view = self.ws.acting_as(session.token)
        with self._views_lock:
            if len(self._views) > 1000:
                self._views.clear()
            self._views[session.token] = (view, now)
        return view

    def forget(self, session: Session) -> None:
        """Drop a session and its cached view (logout, or its token stopped working)."""
        self.sessions.delete(session.id)
        if session.token is not None:
            with self._views_lock:
                self._views.pop(session.token, None)

    def _context(self, request: Request) -> tuple[Ctx | None, Response | None]:
        session = self.session_of(request)
        fresh = False
        if session is None or (self.auth and session.token is None):
            if self.auth:
                return None, self.to_login(request)
            session, fresh = self.sessions.create(), True
        try:
            ws = self.acting(session)
        except Unauthorized:
            self.forget(session)
            return None, self.to_login(request)
        return Ctx(self, request, ws, session, fresh), None

    # -- the two ways into a route -------------------------------------------------------
    def page(self, request: Request, build: Callable[[Ctx], Response]) -> Response:
        """Serve a GET: session (else 303 to /login), then ``build(ctx)``, errors as pages."""
        ctx, early = self._context(request)
        if ctx is None:
            assert early is not None
            return early
        try:
            response = build(ctx)
        except ProdlineError as exc:
            response = self.error(exc, ctx)
        if ctx.fresh:
            self.set_cookie(response, ctx.session)
        return response

    def action(
        self,
        request: Request,
        form: Mapping[str, str],
        act: Callable[[Ctx, Mapping[str, str]], Response],
    ) -> Response:
        """Serve a form POST: unknown session → 303 /login; bad CSRF → 403; then ``act``."""
        session = self.session_of(request)
        if session is None or (self.auth and session.token is None):
            return self.to_login(request) if self.auth else self._csrf_refused(None)
        if not session.csrf_ok(form.get("csrf_token")):
            return self._csrf_refused(session)
        ctx, early = self._context(request)
        if ctx is None:
            assert early is not None
            return early
        try:
            return act(ctx, form)
        except ProdlineError as exc:
            return self.error(exc, ctx)

    def _csrf_refused(self, session: Session | None) -> HTMLResponse:
        exc = _CsrfRefused(
            "This form's CSRF token is missing or stale; reload the page and submit it again."
        )
        return self.render("error.html", 403, error=exc, status_code=403, ctx=None)


class _CsrfRefused(ProdlineError):
    code = "forbidden"


async def read_form(request: Request) -> dict[str, str]:
    """The urlencoded form body as {name: last value} (no multipart: forms carry text only).

    Bodies over 1 MB are not read to the end and give an empty form.
    """
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:  # no CSRF token then: the action is refused with 403
            return {}
        chunks.append(chunk)
    body = b"".join(chunks)
    parsed = parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True)
    return {key: values[-1] for key, values in parsed.items()}


def redirect(path: str) -> RedirectResponse:
    """303 See Other to ``path`` (after a successful POST)."""
    return RedirectResponse(path, status_code=303)


def safe_next(target: str | None) -> str:
    """A local path to go to after login; anything else (other hosts, ``//``) goes home."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _int_param(raw: str | None, field: str, default: int, low: int, high: int) -> int:
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidInput(
            f"{field} must be a whole number from {low} to {high}, got {raw!r}.", field=field
        )
    return value


_SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _environment() -> Environment:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["ts"] = _ts
    env.filters["num"] = _num
    return env


def _ts(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M:%S"))
    return str(value).replace("T", " ")[:19]


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    return f"{value:.4g}" if isinstance(value, float) else str(value)

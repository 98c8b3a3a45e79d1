"""The audit log: filtered keyset pages and the verification status (see audit_view)."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import APIRouter, Request
from fastapi.responses import Response

from prodline.errors import InvalidInput
from prodline.ui.audit_view import Verifier, page_of_events, tail_check
from prodline.ui.web import UI, Ctx, read_form, redirect

__all__ = ["add_audit_routes"]


def add_audit_routes(router: APIRouter, ui: UI) -> None:
    """``/audit`` and the ``/audit/verify`` action."""
    verifier = Verifier()

    @router.get("/audit", include_in_schema=False)
    def audit_page(request: Request) -> Response:
        return ui.page(request, lambda ctx: _audit(ctx, verifier))

    @router.post("/audit/verify", include_in_schema=False)
    async def verify(request: Request) -> Response:
        from starlette.concurrency import run_in_threadpool

        form = await read_form(request)

        def act(ctx: Ctx, _: Mapping[str, str]) -> Response:
            done = verifier.run(ctx.ws, ctx.user)
            if done is None:
                ctx.flash("A verification is already running; reload in a moment.")
            else:
                ctx.flash(f"Audit log verified: {done.result}.")
            return redirect("/audit")

        response: Response = await run_in_threadpool(lambda: ui.action(request, form, act))
        return response


def _audit(ctx: Ctx, verifier: Verifier) -> Response:
    page = ctx.paging()
    raw = ctx.query("before")
    if raw is not None and (not raw.isdigit() or len(raw) > 18):
        raise InvalidInput(f"before must be an event number, got {raw!r}.", field="before")
    filters = {"action": ctx.query("action"), "actor": ctx.query("actor")}
    filters["subject"] = ctx.query("subject")
    result = page_of_events(ctx.ws, before=int(raw) if raw else None, size=page.size, **filters)
    query = {k: v for k, v in filters.items() if v}
    if page.size != 50:
        query["size"] = str(page.size)
    return ctx.render(
        "audit.html",
        result=result,
        filters=filters,
        query=query,
        tail=tail_check(ctx.ws),
        last=verifier.last,
    )

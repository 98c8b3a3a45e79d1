"""The human review queue: filtered list, item detail, claim/release and decisions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from prodline.errors import InvalidInput
from prodline.ui.web import UI, Ctx, read_form, redirect

__all__ = ["STATUSES", "add_review_routes"]

STATUSES = ("pending", "open", "claimed", "decided", "approved", "edited", "rejected", "all")
"""The status filter's choices ("pending" = open or claimed, the default)."""


def add_review_routes(router: APIRouter, ui: UI) -> None:
    """``/reviews``, ``/reviews/{id}`` and its claim, release and decide actions."""

    @router.get("/reviews", include_in_schema=False)
    def reviews_page(request: Request) -> Response:
        return ui.page(request, _reviews)

    @router.get("/reviews/{item_id}", include_in_schema=False)
    def review_page(request: Request, item_id: str) -> Response:
        return ui.page(request, lambda ctx: _review(ctx, _item_id(item_id)))

    @router.post("/reviews/{item_id}/{verb}", include_in_schema=False)
    async def review_action(request: Request, item_id: str, verb: str) -> Response:
        from starlette.concurrency import run_in_threadpool

        form = await read_form(request)

        def act(ctx: Ctx, data: Mapping[str, str]) -> Response:
            return _act(ctx, _item_id(item_id), verb, data)

        response: Response = await run_in_threadpool(lambda: ui.action(request, form, act))
        return response


def _item_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise InvalidInput(f"review_id must be a number, got {raw!r}.", field="review_id")
    return int(raw)


def _filters(ctx: Ctx) -> dict[str, Any]:
    status = ctx.query("status") or "pending"
    if status not in STATUSES:
        raise InvalidInput(
            f"status must be one of {', '.join(STATUSES)}, got {status!r}.", field="status"
        )
    kind = ctx.query("kind")
    if kind not in (None, "model", "kb"):
        raise InvalidInput(f"kind must be model or kb, got {kind!r}.", field="kind")
    return {
        "status": None if status == "all" else status,
        "kind": kind,
        "subject": ctx.query("subject"),
        "claimed_by": ctx.user if ctx.query("mine") else None,
    }


def _reviews(ctx: Ctx) -> Response:
    page = ctx.paging()
    filters = _filters(ctx)
    reviews = ctx.ws.reviews
    items = reviews.list(**filters, limit=page.size, offset=page.offset)
    total = reviews.count(**filters)
    query = {k: v for k, v in ctx.request.query_params.items() if k not in ("page", "size")}
    return ctx.render(
        "reviews.html",
        items=items,
        total=total,
        page=page,
        filters={**filters, "status": filters["status"] or "all", "mine": bool(ctx.query("mine"))},
        statuses=STATUSES,
        query=query,
        health=reviews.health(),
    )


def _review(ctx: Ctx, item_id: int) -> Response:
    item = ctx.ws.reviews.get(item_id)
    decided = item.status in ("approved", "edited", "rejected")
    return ctx.render(
        "review.html",
        item=item,
        decided=decided,
        input_json=_pretty(item.input),
        output_json=_pretty(item.output),
        final_json=_pretty(item.final_output) if decided else "",
        can_claim=ctx.can("review.claim") and not decided,
        can_decide=ctx.can("review.decide") and not decided,
        mine=item.claimed_by == ctx.user,
    )


def _act(ctx: Ctx, item_id: int, verb: str, form: Mapping[str, str]) -> Response:
    reviews = ctx.ws.reviews
    if verb == "claim":
        reviews.claim(item_id)
        ctx.flash(f"You claimed review {item_id}.")
    elif verb == "release":
        reviews.release(item_id)
        ctx.flash(f"You released review {item_id}.")
    elif verb in ("approve", "edit", "reject"):
        output = None
        if verb == "edit":
            output = _parse_output(form.get("output", ""))
        item = reviews.decide(item_id, verb, output=output, comment=form.get("comment", ""))
        ctx.flash(f"Review {item_id}: {item.status}.")
    else:
        raise InvalidInput(
            f"Unknown review action {verb!r}; use claim, release, approve, edit or reject.",
            field="action",
        )
    return redirect(f"/reviews/{item_id}")


def _parse_output(text: str) -> Any:
    if not text.strip():
        raise InvalidInput("Enter the corrected output as JSON to edit.", field="output")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInput(
            f"The corrected output is not valid JSON ({exc.msg} at line {exc.lineno}); "
            "fix it and submit again.",
            field="output",
        ) from exc


def _pretty(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)

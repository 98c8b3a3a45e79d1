"""``/api/v1/reviews``: the human review queue (``ws.reviews``).

Reading needs a reader's role; claiming and deciding need ``review.claim`` /
``review.decide`` (reviewer or admin), setting a policy ``review.configure`` (ml-engineer
or admin), all checked and audited in the review service itself. A decision is final: a
second one is 409, as is a decision on an item someone else claimed.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from prodline.api.deps import Actor, Paging, Reader

__all__ = ["DecideBody", "PolicyBody", "router"]

router = APIRouter(prefix="/reviews", tags=["reviews"])


class DecideBody(BaseModel):
    """A reviewer's decision on one item."""

    decision: Literal["approve", "edit", "reject"]
    output: Any = Field(None, description="edit: the corrected output (JSON).")
    comment: str = Field("", max_length=10_000)


class PolicyBody(BaseModel):
    """How answers of one model or knowledge base are reviewed."""

    mode: Literal["hold", "after"]
    threshold: float | None = Field(None, ge=0, le=1)
    sample_rate: float = Field(0.0, ge=0, le=1)
    sla: str = Field("4h", description="30m, 4h, 2d or seconds.")
    webhook: str | None = None


@router.get("", summary="Review items, oldest first (newest with newest_first)")
def list_reviews(
    ws: Reader,
    page: Paging,
    status: str | None = Query(
        None, description="open, claimed, approved, edited, rejected, pending or decided."
    ),
    kind: str | None = Query(None, description="model or kb."),
    subject: str | None = Query(None, description="The model or knowledge base name."),
    claimed_by: str | None = Query(None, description="Items claimed by this user."),
    newest_first: bool = Query(False),
) -> dict[str, Any]:
    """A page of the queue, filtered."""
    where = {"status": status, "kind": kind, "subject": subject, "claimed_by": claimed_by}
    items = ws.reviews.list(**where, limit=page.size, offset=page.offset, newest_first=newest_first)
    return page.body([i.to_dict() for i in items], ws.reviews.count(**where))


@router.get("/health", summary="Queue health: open, oldest age, breaches, per reviewer")
def queue_health(ws: Reader) -> dict[str, Any]:
    """How the queue is doing now."""
    return ws.reviews.health().to_dict()


@router.get("/policies", summary="Review policies of every model and knowledge base")
def list_policies(ws: Reader) -> dict[str, Any]:
    """Every policy set (not paginated: one per model or KB at most)."""
    found = [p.to_dict() for p in ws.reviews.policies()]
    return {"items": found, "page": 1, "size": len(found), "total": len(found)}


@router.put("/policies/{kind}/{subject}", summary="Set how a model or KB is reviewed")
def set_policy(
    ws: Actor, kind: Literal["model", "kb"], subject: str, body: PolicyBody
) -> dict[str, Any]:
    """``ws.reviews.set_policy`` (ml-engineer or admin); audited."""
    policy = ws.reviews.set_policy(
        kind,
        subject,
        mode=body.mode,
        threshold=body.threshold,
        sample_rate=body.sample_rate,
        sla=body.sla,
        webhook=body.webhook,
    )
    return policy.to_dict()


@router.delete("/policies/{kind}/{subject}", summary="Stop reviewing a model or KB")
def clear_policy(ws: Actor, kind: Literal["model", "kb"], subject: str) -> dict[str, Any]:
    """``ws.reviews.clear_policy`` (ml-engineer or admin); audited."""
    ws.reviews.clear_policy(kind, subject)
    return {"kind": kind, "subject": subject, "cleared": True}


@router.get("/{item_id}", summary="One review item")
def get_review(ws: Reader, item_id: int) -> dict[str, Any]:
    """Item ``item_id`` with its input, output, score, claim and decision."""
    return ws.reviews.get(item_id).to_dict()


@router.post("/{item_id}/claim", summary="Claim an item to decide it")
def claim(ws: Actor, item_id: int) -> dict[str, Any]:
    """Claim ``item_id`` (reviewer or admin); 409 if decided or claimed by another."""
    return ws.reviews.claim(item_id).to_dict()


@router.post("/{item_id}/release", summary="Give a claimed item back to the queue")
def release(ws: Actor, item_id: int) -> dict[str, Any]:
    """Release ``item_id`` (its claimer or an admin)."""
    return ws.reviews.release(item_id).to_dict()


@router.post("/{item_id}/decide", summary="Approve, edit or reject an item (final)")
def decide(ws: Actor, item_id: int, body: DecideBody) -> dict[str, Any]:
    """Decide ``item_id`` (reviewer or admin); audited, and labelled feedback for the model."""
    item = ws.reviews.decide(item_id, body.decision, output=body.output, comment=body.comment)
    return item.to_dict()

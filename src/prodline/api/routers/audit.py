"""``/api/v1/audit``: the audit log, newest first, filtered, and its verification."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from prodline.api.deps import Paging, Reader
from prodline.api.queries import AuditFilter, audit_page

__all__ = ["router"]

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("/events", summary="Audit events, newest first")
def list_events(
    ws: Reader,
    page: Paging,
    action: str | None = Query(None, description="Exactly this action, e.g. alias.promote."),
    actor: str | None = Query(None, description="Exactly this user."),
    subject: str | None = Query(None, description="Subjects starting with this."),
    before: int | None = Query(
        None, description="Only events older than this seq: the previous answer's next."
    ),
) -> dict[str, Any]:
    """A page of events; follow ``next`` with ``before=`` to walk millions of them quickly."""
    where = AuditFilter(action=action, actor=actor, subject=subject, before=before)
    return audit_page(ws, page, where)


@router.get("/verify", summary="Check the hash chain, signatures and anchor")
def verify(ws: Reader) -> dict[str, Any]:
    """``ws.audit.verify()``: ok, how many events, and where it breaks if it does."""
    result = ws.audit.verify()
    return {
        "ok": result.ok,
        "events": result.events,
        "first_bad_seq": result.first_bad_seq,
        "reason": result.reason,
        "summary": str(result),
    }

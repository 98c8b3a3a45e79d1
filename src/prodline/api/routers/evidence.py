"""``/api/v1/evidence`` and gate status: what each version (or KB) proved, and whether
that is enough for an alias under its risk level's policy."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from prodline.api.deps import Paging, Reader
from prodline.api.pagination import paged

__all__ = ["router"]

router = APIRouter(tags=["evidence and gates"])


@router.get("/evidence", summary="Recorded evidence, newest first")
def list_evidence(
    ws: Reader,
    page: Paging,
    subject: str | None = Query(
        None, description="model:NAME@V, kb:NAME@V, monitor:NAME…; a trailing * matches a prefix."
    ),
    kind: str | None = Query(None, description="gate:evaluation, monitor_run …"),
) -> dict[str, Any]:
    """Evidence rows matching ``subject`` and ``kind``."""
    rows = ws.evidence.list(subject, kind)
    return paged(page, rows[::-1], lambda e: e.to_dict())


@router.get("/evidence/{evidence_id}", summary="One evidence row")
def get_evidence(ws: Reader, evidence_id: int) -> dict[str, Any]:
    """Evidence ``evidence_id`` with its summary."""
    return ws.evidence.get(evidence_id).to_dict()


@router.get("/models/{name}/versions/{version}/gate", summary="A version's gate status")
def gate_status(
    ws: Reader,
    name: str,
    version: int,
    alias: str = Query("production", description="The alias the version would hold."),
) -> dict[str, Any]:
    """Whether ``name@version`` may hold ``alias``, from recorded evidence alone, with it."""
    ref = f"{name}@{version}"
    report = ws.gates.status(ref, alias=alias).to_dict()
    report["gate_evidence"] = [e.to_dict() for e in ws.gates.evidence(ref)]
    return report


@router.get("/kbs/{name}/gate", summary="A knowledge base's gate status")
def kb_gate_status(ws: Reader, name: str) -> dict[str, Any]:
    """Whether KB ``name`` may be served (PII/PHI chunks need a recorded justification)."""
    return ws.gates.kb_status(name).to_dict()

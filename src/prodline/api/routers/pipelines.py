"""``/api/v1/pipelines``: training pipelines and their runs; approving a run that waits."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from prodline.api.deps import Actor, Paging, Reader
from prodline.api.pagination import paged

__all__ = ["router"]

router = APIRouter(prefix="/pipelines", tags=["pipelines"])


@router.get("", summary="Pipelines, by name")
def list_pipelines(ws: Reader, page: Paging) -> dict[str, Any]:
    """Every registered pipeline with its triggers and settings."""
    return paged(page, ws.pipelines.list(), lambda p: p.to_dict())


@router.get("/{name}", summary="One pipeline")
def get_pipeline(ws: Reader, name: str) -> dict[str, Any]:
    """Pipeline ``name``."""
    return ws.pipelines.get(name).to_dict()


@router.get("/{name}/runs", summary="A pipeline's runs, newest first")
def pipeline_runs(
    ws: Reader,
    name: str,
    page: Paging,
    status: str | None = Query(None, description="Only runs in this status."),
) -> dict[str, Any]:
    """The runs of ``name`` (``total`` is null when more exist than were fetched)."""
    runs = ws.pipelines.runs(name, status=status, limit=page.end + 1)
    body = paged(page, runs, lambda r: r.to_dict())
    if len(runs) > page.end:
        body["total"] = None
    return body


@router.get("/{name}/runs/{number}", summary="One pipeline run")
def pipeline_run(ws: Reader, name: str, number: int) -> dict[str, Any]:
    """Run ``number`` of ``name`` with its steps, metrics and outcome."""
    return ws.pipelines.run_info(name, number).to_dict()


@router.post("/{name}/runs/{number}/approve", summary="Approve a run waiting for a person")
def approve_run(ws: Actor, name: str, number: int) -> dict[str, Any]:
    """``ws.pipelines.approve``: promotes the run's candidate (ml-engineer or admin)."""
    return ws.pipelines.approve(name, number).to_dict()

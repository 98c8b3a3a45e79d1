"""``/api/v1/kbs``: knowledge bases, their sources with owners and sensitivity tags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from prodline.api.deps import Paging, Reader
from prodline.api.pagination import paged

__all__ = ["router"]

router = APIRouter(prefix="/kbs", tags=["knowledge bases"])


@router.get("", summary="Knowledge bases, by name")
def list_kbs(ws: Reader, page: Paging) -> dict[str, Any]:
    """Each knowledge base with its source and chunk counts and latest version."""
    return paged(page, ws.kbs.list(), lambda k: k.to_dict())


@router.get("/{name}", summary="One knowledge base")
def get_kb(ws: Reader, name: str) -> dict[str, Any]:
    """Knowledge base ``name``."""
    return ws.kbs.get(name).to_dict()


@router.get("/{name}/sources", summary="A knowledge base's sources, by path")
def kb_sources(ws: Reader, name: str, page: Paging) -> dict[str, Any]:
    """The ingested sources of ``name``: owner, chunks, sensitivity, times."""
    return paged(page, ws.kbs.sources(name), dict)

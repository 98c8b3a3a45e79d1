"""``/api/v1/lineage``: the graph around a node (sources → dataset → model → alias →
deployment; documents → KB), for the dashboard to draw and link."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from prodline.api.deps import Reader
from prodline.api.queries import lineage_graph

__all__ = ["router"]

router = APIRouter(prefix="/lineage", tags=["lineage"])


@router.get("", summary="The lineage graph around a node")
def graph(
    ws: Reader,
    node: str = Query(..., description="dataset:NAME@V, model:NAME@V, alias:NAME@ALIAS …"),
    depth: int = Query(3, description="Edges to follow each way, 1..10."),
) -> dict[str, Any]:
    """Nodes and edges within ``depth`` of ``node``, up- and downstream."""
    return lineage_graph(ws, node, depth=depth)

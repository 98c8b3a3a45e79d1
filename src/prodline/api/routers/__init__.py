"""One router per part under ``/api/v1``; each route is a thin call into the workspace."""

from __future__ import annotations

from fastapi import APIRouter

from prodline.api.routers import (
    audit,
    costs,
    datasets,
    evidence,
    kbs,
    lineage,
    models,
    monitors,
    pipelines,
    reviews,
)

__all__ = ["PREFIX", "routers"]

PREFIX = "/api/v1"
"""Where every control-plane route lives."""


def routers() -> list[APIRouter]:
    """Every part's router, in the order the OpenAPI document lists them."""
    return [
        datasets.router,
        models.router,
        evidence.router,
        kbs.router,
        monitors.router,
        pipelines.router,
        reviews.router,
        costs.router,
        audit.router,
        lineage.router,
    ]

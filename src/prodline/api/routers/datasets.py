"""``/api/v1/datasets``: datasets, their versions, schema, profile and sensitivity tags."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from prodline.api.deps import Paging, Reader
from prodline.api.pagination import paged

__all__ = ["router"]

router = APIRouter(prefix="/datasets", tags=["datasets"])


@router.get("", summary="Datasets: the newest version of each, by name")
def list_datasets(ws: Reader, page: Paging) -> dict[str, Any]:
    """Each dataset's newest version (without its profile)."""
    return paged(page, ws.datasets.list(), lambda d: d.to_dict())


@router.get("/{name}", summary="A dataset's newest version, with its profile")
def get_dataset(ws: Reader, name: str) -> dict[str, Any]:
    """The newest version of dataset ``name``: schema, profile, sensitivity tags."""
    return ws.datasets.get(name).to_dict(profile=True)


@router.get("/{name}/versions", summary="Every version of a dataset, oldest first")
def dataset_versions(ws: Reader, name: str, page: Paging) -> dict[str, Any]:
    """The versions of ``name``; 404 naming the datasets when there is none."""
    found = ws.datasets.versions(name)
    if not found:
        ws.datasets.get(name)  # NotFound naming the datasets that exist
    return paged(page, found, lambda d: d.to_dict())


@router.get("/{name}/versions/{version}", summary="One dataset version, with its profile")
def dataset_version(ws: Reader, name: str, version: int) -> dict[str, Any]:
    """Version ``version`` of ``name``: schema, profile histograms, sensitivity tags."""
    return ws.datasets.get(name, version).to_dict(profile=True)

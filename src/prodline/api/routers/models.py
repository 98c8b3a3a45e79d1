"""``/api/v1/models``: registered models, versions, aliases with their history, and the
two alias moves a person makes from the control plane: promote and rollback.

Both moves go through ``ws.promote`` / ``ws.rollback``: the caller's role is authorized,
the promotion policy (gates) asked, the move made as a compare-and-swap and audited under
the caller's name, as from the CLI.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from prodline.api.deps import Actor, Paging, Reader
from prodline.api.pagination import paged
from prodline.api.queries import model_versions_page, models_page
from prodline.errors import Conflict, NotFound

__all__ = ["PromoteBody", "router"]

router = APIRouter(prefix="/models", tags=["models"])


class PromoteBody(BaseModel):
    """What to point the alias at."""

    version: int = Field(..., ge=1, description="The version the alias moves to.")
    create: bool = Field(False, description="Allow a new alias name (a typo guard).")


@router.get("", summary="Registered models, by name")
def list_models(ws: Reader, page: Paging) -> dict[str, Any]:
    """Each registered model with its latest version and aliases."""
    return models_page(ws, page)


@router.get("/{name}", summary="One registered model")
def get_model(ws: Reader, name: str) -> dict[str, Any]:
    """Model ``name``: owner, risk level, latest version, aliases."""
    return ws.models.model(name).to_dict()


@router.get("/{name}/versions", summary="A model's versions, newest first")
def list_versions(ws: Reader, name: str, page: Paging) -> dict[str, Any]:
    """One page of the versions of ``name`` with metrics, status and the aliases held."""
    return model_versions_page(ws, name, page)


@router.get("/{name}/versions/{version}", summary="One model version")
def get_version(ws: Reader, name: str, version: int) -> dict[str, Any]:
    """Version ``version`` of ``name``."""
    return ws.models.get(name, version).to_dict()


@router.get("/{name}/aliases", summary="A model's aliases and the versions they hold")
def list_aliases(ws: Reader, name: str) -> dict[str, Any]:
    """Alias → version for ``name``."""
    return {"model": name, "aliases": ws.models.aliases(name)}


@router.get("/{name}/aliases/{alias}/history", summary="Every move of an alias, newest first")
def alias_history(ws: Reader, name: str, alias: str, page: Paging) -> dict[str, Any]:
    """The promotions and rollbacks of ``name@alias``, newest first."""
    moves = ws.models.alias_history(name, alias)
    if not moves and alias not in ws.models.aliases(name):
        raise NotFound(
            f"Model '{name}' has no alias '{alias}'; its aliases are "
            f"{', '.join(ws.models.aliases(name)) or 'none yet'}.",
            field="alias",
        )
    return paged(page, moves[::-1], lambda m: m.to_dict())


@router.post("/{name}/aliases/{alias}/promote", summary="Point an alias at a version")
def promote(ws: Actor, name: str, alias: str, body: PromoteBody) -> dict[str, Any]:
    """``ws.promote``: gated, a compare-and-swap, audited (role ml-engineer or admin)."""
    mv = ws.promote(name, body.version, alias, create=body.create)
    return {"model": name, "alias": alias, "version": mv.version, "action": "promote"}


@router.post("/{name}/aliases/{alias}/rollback", summary="Move an alias back one promotion")
def rollback(ws: Actor, name: str, alias: str) -> dict[str, Any]:
    """``ws.rollback``: back to the version held before the latest promotion (409 if none)."""
    before = ws.models.alias_state(name, alias)
    try:
        mv = ws.rollback(name, alias)
    except Conflict as exc:
        raise Conflict(f"{exc.message} Nothing was changed.", **exc.details) from None
    return {
        "model": name,
        "alias": alias,
        "version": mv.version,
        "from_version": before[0] if before else None,
        "action": "rollback",
    }

"""Reads of the model registry the dashboard needs beyond its pages (``ws.models.page``
and ``version_page``): an alias's newest moves without reading its whole history."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from prodline.models.entities import AliasMove
from prodline.store.tables import (
    alias_history,
    models,
)

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["recent_moves"]


def recent_moves(ws: Workspace, name: str, alias: str, *, limit: int = 10) -> list[AliasMove]:
    """The newest ``limit`` moves of ``alias`` (newest first), without reading its history."""
    with ws.db.read() as conn:
        rows = conn.execute(
            sa.select(alias_history)
            .join(models, models.c.id == alias_history.c.model_id)
            .where(models.c.name == name, alias_history.c.alias == alias)
            .order_by(alias_history.c.id.desc())
            .limit(limit)
        ).all()
    return [AliasMove(r.alias, r.action, r.from_version, r.to_version, r.actor, r.at) for r in rows]

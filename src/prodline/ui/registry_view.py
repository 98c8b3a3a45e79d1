"""Paged reads of the model registry for the dashboard (a page costs the same at any size).

``ws.models.models()`` and ``ws.models.versions(name)`` build every entity with a few
queries each: right for the CLI, slow for a page over 1,000 versions. Here a page of
models is three queries (the page, their latest versions, their aliases) and a page of
versions asks the registry only for the versions shown.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from prodline.models.entities import AliasMove, ModelVersion, RegisteredModel
from prodline.store.tables import (
    alias_history,
    aliases,
    model_training_data,
    model_versions,
    models,
)

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["model_page", "recent_moves", "version_page"]


def model_page(ws: Workspace, *, offset: int, size: int) -> tuple[list[RegisteredModel], int]:
    """Registered models by name, ``size`` from ``offset``, and how many there are."""
    with ws.db.read() as conn:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(models)).scalar_one())
        rows = conn.execute(
            sa.select(models).order_by(models.c.name).limit(size).offset(offset)
        ).all()
        ids = [r.id for r in rows]
        latest = dict(
            conn.execute(
                sa.select(model_versions.c.model_id, sa.func.max(model_versions.c.version))
                .where(model_versions.c.model_id.in_(ids))
                .group_by(model_versions.c.model_id)
            ).all()
        )
        held: dict[int, dict[str, int]] = {}
        for a in conn.execute(
            sa.select(aliases.c.model_id, aliases.c.alias, aliases.c.version)
            .where(aliases.c.model_id.in_(ids))
            .order_by(aliases.c.alias)
        ):
            held.setdefault(a.model_id, {})[a.alias] = int(a.version)
    out = [
        RegisteredModel(
            name=r.name,
            owner=r.owner,
            description=r.description or "",
            risk_level=r.risk_level,
            created_by=r.created_by,
            created_at=r.created_at,
            latest_version=int(latest.get(r.id) or 0),
            aliases=held.get(r.id, {}),
        )
        for r in rows
    ]
    return out, total


def version_page(
    ws: Workspace, model: RegisteredModel, *, offset: int, size: int
) -> tuple[list[ModelVersion], int]:
    """Versions of ``model``, newest first, ``size`` from ``offset``, and their count.

    A few queries whatever the page: the model, the count, the versions, their data.
    """
    name = model.name
    with ws.db.read() as conn:
        row = conn.execute(sa.select(models).where(models.c.name == name)).one()
        total = int(
            conn.execute(
                sa.select(sa.func.count()).where(model_versions.c.model_id == row.id)
            ).scalar_one()
        )
        rows = conn.execute(
            sa.select(model_versions)
            .where(model_versions.c.model_id == row.id)
            .order_by(model_versions.c.version.desc())
            .limit(size)
            .offset(offset)
        ).all()
        trained: dict[int, list[str]] = {}
        for t in conn.execute(
            sa.select(
                model_training_data.c.model_version_id,
                model_training_data.c.dataset,
                model_training_data.c.dataset_version,
            )
            .where(model_training_data.c.model_version_id.in_([r.id for r in rows]))
            .order_by(model_training_data.c.dataset, model_training_data.c.dataset_version)
        ):
            trained.setdefault(t.model_version_id, []).append(f"{t.dataset}@{t.dataset_version}")
    out = [
        ModelVersion(
            name=name,
            version=r.version,
            flavor=r.flavor,
            artifact=r.artifact,
            filename=r.filename,
            signature=list(r.signature),
            metrics=dict(r.metrics),
            params=dict(r.params),
            tags=dict(r.tags),
            risk_level=model.risk_level,
            git_commit=r.git_commit,
            description=r.description or "",
            status=r.status,
            created_by=r.created_by,
            created_at=r.created_at,
            trained_on=tuple(trained.get(r.id, ())),
            aliases=tuple(a for a, v in model.aliases.items() if v == r.version),
            owner=model.owner,
        )
        for r in rows
    ]
    return out, total


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

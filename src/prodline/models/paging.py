"""Paged reads of the registry: a page of models or of one model's versions.

``ModelRegistry.models()`` and ``versions(name)`` build every entity with a few queries
each — right for the CLI, slow for a page over 1,000 versions. A page here costs the same
at any size: models are three queries (the page, their latest versions, their aliases),
versions four (the count, the page, their training data, the model's aliases). The
control plane's API and the dashboard both read through ``ws.models.page`` and
``ws.models.version_page``.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from prodline.models.entities import ModelVersion, RegisteredModel
from prodline.store.tables import aliases, model_training_data, model_versions, models

__all__ = ["model_page", "version_page"]


def model_page(conn: sa.Connection, *, offset: int, size: int) -> tuple[list[RegisteredModel], int]:
    """Registered models by name, ``size`` from ``offset``, and how many there are."""
    total = int(conn.execute(sa.select(sa.func.count()).select_from(models)).scalar_one())
    rows = conn.execute(sa.select(models).order_by(models.c.name).limit(size).offset(offset)).all()
    ids = [r.id for r in rows]
    latest: dict[int, int] = {}
    held: dict[int, dict[str, int]] = {}
    if ids:
        latest = {
            int(model_id): int(version or 0)
            for model_id, version in conn.execute(
                sa.select(model_versions.c.model_id, sa.func.max(model_versions.c.version))
                .where(model_versions.c.model_id.in_(ids))
                .group_by(model_versions.c.model_id)
            )
        }
        for a in conn.execute(
            sa.select(aliases.c.model_id, aliases.c.alias, aliases.c.version)
            .where(aliases.c.model_id.in_(ids))
            .order_by(aliases.c.alias)
        ):
            held.setdefault(int(a.model_id), {})[a.alias] = int(a.version)
    out = [
        RegisteredModel(
            name=r.name,
            owner=r.owner,
            description=r.description or "",
            risk_level=r.risk_level,
            created_by=r.created_by,
            created_at=r.created_at,
            latest_version=latest.get(r.id, 0),
            aliases=held.get(r.id, {}),
        )
        for r in rows
    ]
    return out, total


def version_page(
    conn: sa.Connection, model: Any, *, offset: int, size: int, newest_first: bool = True
) -> tuple[list[ModelVersion], int]:
    """Versions of the model row ``model``, ``size`` from ``offset``, and their count."""
    total = int(
        conn.execute(
            sa.select(sa.func.count()).where(model_versions.c.model_id == model.id)
        ).scalar_one()
    )
    order = model_versions.c.version.desc() if newest_first else model_versions.c.version
    rows = conn.execute(
        sa.select(model_versions)
        .where(model_versions.c.model_id == model.id)
        .order_by(order)
        .limit(size)
        .offset(offset)
    ).all()
    trained: dict[int, list[str]] = {}
    if rows:
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
    held: dict[int, list[str]] = {}
    for a in conn.execute(
        sa.select(aliases.c.alias, aliases.c.version)
        .where(aliases.c.model_id == model.id)
        .order_by(aliases.c.alias)
    ):
        held.setdefault(int(a.version), []).append(a.alias)
    out = [entity(model, r, trained.get(r.id, ()), held.get(int(r.version), ())) for r in rows]
    return out, total


def entity(model: Any, row: Any, trained: Any, held: Any) -> ModelVersion:
    """A ``ModelVersion`` from its model row, version row, ``name@v`` data and aliases."""
    return ModelVersion(
        name=model.name,
        version=row.version,
        flavor=row.flavor,
        artifact=row.artifact,
        filename=row.filename,
        signature=list(row.signature),
        metrics=dict(row.metrics),
        params=dict(row.params),
        tags=dict(row.tags),
        risk_level=model.risk_level,
        git_commit=row.git_commit,
        description=row.description or "",
        status=row.status,
        created_by=row.created_by,
        created_at=row.created_at,
        trained_on=tuple(trained),
        aliases=tuple(held),
        owner=model.owner,
    )

"""Reads the parts do not offer in pages: model versions, the audit log, lineage.

The parts' own readers return whole lists (``ws.models.versions`` builds every version
with two queries each); the control plane must answer a page of 1,000 versions or of
1,000,000 audit events in milliseconds, so these few reads go to the store's tables
directly, one query per page (plus one per page for what hangs off it). They only read:
every change still goes through the workspace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.errors import InvalidInput, NotFound
from prodline.models.entities import ModelVersion, RegisteredModel
from prodline.store.tables import (
    aliases,
    audit_events,
    lineage_edges,
    model_training_data,
    model_versions,
    models,
)

if TYPE_CHECKING:
    from prodline.api.pagination import Page
    from prodline.workspace import Workspace

__all__ = ["AuditFilter", "audit_page", "lineage_graph", "model_versions_page", "models_page"]


def _model_row(conn: sa.Connection, ws: Workspace, name: str) -> Any:
    row = conn.execute(sa.select(models).where(models.c.name == name)).first()
    if row is None:
        ws.models.model(name)  # NotFound naming the models that exist
        raise NotFound(f"Model '{name}' does not exist.", field="name")
    return row


def models_page(ws: Workspace, page: Page) -> dict[str, Any]:
    """One page of the registered models, by name, with latest version and aliases."""
    with ws.db.read() as conn:
        total = conn.execute(sa.select(sa.func.count()).select_from(models)).scalar_one()
        rows = conn.execute(
            sa.select(models).order_by(models.c.name).offset(page.offset).limit(page.size)
        ).all()
        ids = [r.id for r in rows]
        latest: dict[int, int] = {}
        held: dict[int, dict[str, int]] = {}
        if ids:
            newest = sa.func.max(model_versions.c.version).label("v")
            latest = {
                int(r.model_id): int(r.v or 0)
                for r in conn.execute(
                    sa.select(model_versions.c.model_id, newest)
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
    items = [
        RegisteredModel(
            name=r.name,
            owner=r.owner,
            description=r.description or "",
            risk_level=r.risk_level,
            created_by=r.created_by,
            created_at=r.created_at,
            latest_version=latest.get(r.id, 0),
            aliases=held.get(r.id, {}),
        ).to_dict()
        for r in rows
    ]
    return page.body(items, int(total))


def model_versions_page(
    ws: Workspace, name: str, page: Page, *, newest_first: bool = True
) -> dict[str, Any]:
    """One page of model ``name``'s versions (newest first by default), with aliases."""
    with ws.db.read() as conn:
        model = _model_row(conn, ws, name)
        total = conn.execute(
            sa.select(sa.func.count())
            .select_from(model_versions)
            .where(model_versions.c.model_id == model.id)
        ).scalar_one()
        order = model_versions.c.version.desc() if newest_first else model_versions.c.version
        rows = conn.execute(
            sa.select(model_versions)
            .where(model_versions.c.model_id == model.id)
            .order_by(order)
            .offset(page.offset)
            .limit(page.size)
        ).all()
        ids = [r.id for r in rows]
        trained: dict[int, list[str]] = {}
        if ids:
            for t in conn.execute(
                sa.select(model_training_data)
                .where(model_training_data.c.model_version_id.in_(ids))
                .order_by(model_training_data.c.dataset, model_training_data.c.dataset_version)
            ):
                trained.setdefault(t.model_version_id, []).append(
                    f"{t.dataset}@{t.dataset_version}"
                )
        held: dict[int, list[str]] = {}
        for a in conn.execute(
            sa.select(aliases.c.alias, aliases.c.version)
            .where(aliases.c.model_id == model.id)
            .order_by(aliases.c.alias)
        ):
            held.setdefault(int(a.version), []).append(a.alias)
    items = [
        ModelVersion(
            name=model.name,
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
            aliases=tuple(held.get(int(r.version), ())),
            owner=model.owner,
        ).to_dict()
        for r in rows
    ]
    return page.body(items, int(total))


@dataclass(frozen=True)
class AuditFilter:
    """Which audit events a list shows: exact ``action`` and ``actor``, ``subject`` prefix."""

    action: str | None = None
    actor: str | None = None
    subject: str | None = None
    before: int | None = None

    def __post_init__(self) -> None:
        if self.before is not None and self.before < 1:
            raise InvalidInput(
                f"before must be an event number (seq) of 1 or more, got {self.before}.",
                field="before",
            )


def audit_page(ws: Workspace, page: Page, where: AuditFilter) -> dict[str, Any]:
    """Audit events newest first, filtered, by keyset (``before``) and/or page.

    ``next`` is the ``before`` value of the following page, ``None`` on the last. With
    ``before``, the page number counts from that cursor.
    """
    t = audit_events
    query = sa.select(t).order_by(t.c.seq.desc())
    if where.action:
        query = query.where(t.c.action == where.action)
    if where.actor:
        query = query.where(t.c.actor == where.actor)
    if where.subject:
        query = query.where(t.c.subject.startswith(where.subject, autoescape=True))
        if ws.db.is_sqlite:  # SQLite's LIKE ignores case, so no index serves it; a range can
            upper = where.subject[:-1] + chr(ord(where.subject[-1]) + 1)
            query = query.where(t.c.subject >= where.subject, t.c.subject < upper)
    if where.before is not None:
        query = query.where(t.c.seq < where.before)
    query = query.offset(page.offset).limit(page.size + 1)
    with ws.db.read() as conn:
        rows = conn.execute(query).all()
    more = len(rows) > page.size
    rows = rows[: page.size]
    items = [
        {
            "seq": r.seq,
            "ts": r.ts,
            "actor": r.actor,
            "action": r.action,
            "subject": r.subject,
            "payload": json.loads(r.payload),
            "prev_hash": r.prev_hash,
            "hash": r.hash,
        }
        for r in rows
    ]
    return {
        "items": items,
        "page": page.page,
        "size": page.size,
        "next": int(rows[-1].seq) if more and rows else None,
    }


def lineage_graph(ws: Workspace, node: str, *, depth: int = 3) -> dict[str, Any]:
    """The lineage nodes within ``depth`` edges of ``node``, up- and downstream.

    Raises
    ------
    NotFound
        ``node`` has no edge (it is unknown or stands alone).
    """
    if not 1 <= depth <= 10:
        raise InvalidInput(f"depth must be between 1 and 10, got {depth}.", field="depth")
    e = lineage_edges
    edges: set[tuple[str, str, str]] = set()
    seen = {node}
    up, down = {node}, {node}
    with ws.db.read() as conn:
        for _ in range(depth):
            found: list[Any] = []
            if up:
                found += conn.execute(
                    sa.select(e.c.src, e.c.dst, e.c.relation).where(e.c.dst.in_(sorted(up)))
                ).all()
            if down:
                found += conn.execute(
                    sa.select(e.c.src, e.c.dst, e.c.relation).where(e.c.src.in_(sorted(down)))
                ).all()
            next_up = {r.src for r in found if r.dst in up} - seen
            next_down = {r.dst for r in found if r.src in down} - seen
            edges.update((r.src, r.dst, r.relation) for r in found)
            seen |= next_up | next_down
            up, down = next_up, next_down
            if not up and not down:
                break
    if not edges:
        raise NotFound(
            f"No lineage around '{node}': it is unknown or has no edges. Nodes look like "
            "dataset:NAME@V, model:NAME@V, alias:NAME@ALIAS or kb:NAME@V.",
            field="node",
        )
    ids = sorted({n for s, d, _ in edges for n in (s, d)})
    return {
        "node": node,
        "nodes": [_node(n) for n in ids],
        "edges": [{"src": s, "dst": d, "relation": r} for s, d, r in sorted(edges)],
    }


def _node(node_id: str) -> dict[str, str]:
    kind, _, rest = node_id.partition(":")
    name, _, ref = rest.rpartition("@")
    return {"id": node_id, "kind": kind, "name": name or rest, "ref": ref if name else ""}

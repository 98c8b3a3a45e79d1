"""Paged reads for the control plane: models and versions (the registry's own pages,
``ws.models.page`` / ``version_page``), and the audit log and lineage, which their ledgers
offer only as whole lists: the control plane must answer a page of 1,000,000 audit events
in milliseconds, so those two go to the store's tables directly, one query per page. They
only read: every change still goes through the workspace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.errors import InvalidInput, NotFound
from prodline.store.tables import (
    audit_events,
    lineage_edges,
)

if TYPE_CHECKING:
    from prodline.api.pagination import Page
    from prodline.workspace import Workspace

__all__ = ["AuditFilter", "audit_page", "lineage_graph", "model_versions_page", "models_page"]


def models_page(ws: Workspace, page: Page) -> dict[str, Any]:
    """One page of the registered models, by name, with latest version and aliases."""
    items, total = ws.models.page(offset=page.offset, size=page.size)
    return page.body([m.to_dict() for m in items], total)


def model_versions_page(
    ws: Workspace, name: str, page: Page, *, newest_first: bool = True
) -> dict[str, Any]:
    """One page of model ``name``'s versions (newest first by default), with aliases."""
    items, total = ws.models.version_page(
        name, offset=page.offset, size=page.size, newest_first=newest_first
    )
    return page.body([v.to_dict() for v in items], total)


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

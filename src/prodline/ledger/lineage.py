"""Lineage graph: edges dataset version → model version → alias → deployment.

Nodes are plain strings ``kind:name@ref`` (``dataset:german-credit@1``,
``model:credit-risk@2``, ``alias:credit-risk@production``,
``deployment:credit-risk@production``). Edges are recorded in the same transaction as
the event that creates them, so the graph and the audit log never disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.core.refs import node
from prodline.store.db import Database
from prodline.store.tables import lineage_edges

__all__ = ["Lineage", "LineageNode", "node"]


@dataclass
class LineageNode:
    """A node with the nodes it came from (``parents``), as a tree toward the sources."""

    id: str
    relation: str = ""
    parents: list[LineageNode] = field(default_factory=list)

    @property
    def kind(self) -> str:
        """What the node is: "dataset", "model", "alias" or "deployment"."""
        return self.id.split(":", 1)[0]

    @property
    def name(self) -> str:
        """The dataset or model name, between the kind and the ``@``."""
        return self.id.split(":", 1)[1].rsplit("@", 1)[0]

    @property
    def ref(self) -> str:
        """What follows the ``@``: a version number or an alias name."""
        return self.id.rsplit("@", 1)[1]

    def walk(self) -> Iterator[LineageNode]:
        """This node, then its ancestors depth-first (shared ancestors come once per path)."""
        yield self
        for parent in self.parents:
            yield from parent.walk()


class Lineage:
    """Record edges and read the upstream tree of any node."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def record(self, conn: Connection, src: str, dst: str, relation: str) -> None:
        """Add the edge ``src`` → ``dst`` in ``conn``'s transaction; a repeat is a no-op.

        Recording inside the caller's transaction keeps the graph from naming a version
        whose registration rolled back.
        """
        exists = conn.execute(
            sa.select(lineage_edges.c.id).where(
                lineage_edges.c.src == src,
                lineage_edges.c.dst == dst,
                lineage_edges.c.relation == relation,
            )
        ).first()
        if exists is None:
            conn.execute(
                lineage_edges.insert().values(
                    src=src, dst=dst, relation=relation, created_at=datetime.now(UTC)
                )
            )

    def replace_incoming(self, conn: Connection, dst: str, src: str, relation: str) -> None:
        """Point ``dst`` at a new source (an alias that moved to another version)."""
        conn.execute(
            lineage_edges.delete().where(
                lineage_edges.c.dst == dst, lineage_edges.c.relation == relation
            )
        )
        self.record(conn, src, dst, relation)

    def upstream(self, start: str, *, max_depth: int = 20) -> LineageNode:
        """The tree from ``start`` back to its sources."""
        with self._db.read() as conn:
            edges = conn.execute(
                sa.select(lineage_edges.c.src, lineage_edges.c.dst, lineage_edges.c.relation)
            ).all()
        incoming: dict[str, list[tuple[str, str]]] = {}
        for src, dst, relation in edges:
            incoming.setdefault(dst, []).append((src, relation))

        def build(node_id: str, relation: str, depth: int, seen: frozenset[str]) -> LineageNode:
            item = LineageNode(node_id, relation)
            if depth < max_depth:
                for src, rel in sorted(incoming.get(node_id, [])):
                    if src not in seen:
                        item.parents.append(build(src, rel, depth + 1, seen | {src}))
            return item

        return build(start, "", 0, frozenset({start}))

    def downstream(self, start: str) -> list[tuple[str, str]]:
        """Direct consumers of a node: (dst, relation)."""
        with self._db.read() as conn:
            rows = conn.execute(
                sa.select(lineage_edges.c.dst, lineage_edges.c.relation).where(
                    lineage_edges.c.src == start
                )
            ).all()
        return [(r.dst, r.relation) for r in rows]

"""The derived indexes behind knowledge bases: vector index, BM25, their folders.

The database is the source of truth; these are rebuilt from it. ``reconcile`` brings
the vector index back in line after a crash, so a kill -9 during an ingest never leaves
a duplicate or orphan chunk behind. Ingest and search use this; users go through
``ws.kbs`` (:class:`prodline.rag.kb.KnowledgeBases`).
"""

from __future__ import annotations

import builtins
import hashlib
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from prodline.errors import Conflict, NotFound
from prodline.rag.types import SENSITIVITY_ORDER, ChunkMeta
from prodline.store.tables import kb_chunks, kb_sources, kbs

if TYPE_CHECKING:
    from prodline.rag.bm25 import Bm25Index
    from prodline.rag.embed import Embedder
    from prodline.rag.index import VectorIndex
    from prodline.workspace import Workspace

__all__ = ["KbIndexes", "collection_name", "kb_row"]


def kb_row(conn: sa.Connection, name: str) -> Any:
    """The ``kbs`` row of ``name``, or NotFound listing the knowledge bases there are."""
    row = conn.execute(sa.select(kbs).where(kbs.c.name == name)).first()
    if row is None:
        names = conn.execute(sa.select(kbs.c.name).order_by(kbs.c.name)).scalars().all()
        known = (
            f"knowledge bases are: {', '.join(names)}"
            if names
            else "none exist yet (prodline kb create NAME --owner TEAM)"
        )
        raise NotFound(f"Knowledge base '{name}' does not exist; {known}.")
    return row


class KbIndexes:
    """Opens, caches, reconciles and rebuilds the derived indexes of a workspace's KBs."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._indexes: dict[str, VectorIndex] = {}
        self._bm25: dict[str, tuple[str, Bm25Index]] = {}
        self._stamps: dict[str, int | None] = {}

    def folder(self, name: str) -> Path:
        """The KB's own folder under the workspace (index files, BM25, writer lock)."""
        return self._ws.home / "kb" / name

    def index_url(self, name: str) -> str:
        """Where the KB's vectors live: a configured vector URL, else its own folder."""
        configured = self._ws.settings.vector_url
        if configured:
            return configured
        return str(self.folder(name) / "vectors")

    def embedder(self, name: str | None = None) -> Embedder:
        """KB ``name``'s embedder (the one that built it), else the configured one."""
        from prodline.rag.embed import configured_embedder, embedder_named

        if name is None:
            return configured_embedder(self._ws.settings.embedder)
        with self._ws.db.read() as conn:
            return embedder_named(kb_row(conn, name).embedder)

    def ingest_embedder(self, name: str) -> Embedder:
        """The configured embedder, once KB ``name`` is known to be built by it.

        An empty KB adopts the configured embedder; one holding chunks from another
        embedder raises ``Conflict`` naming both (vectors of two models never mix).
        """
        from prodline.rag.embed import embedder_setting

        configured = self.embedder()
        with self._ws.tx() as conn:
            row = kb_row(conn, name)
            if row.embedder == configured.name:
                return configured
            filled = conn.execute(
                sa.select(kb_chunks.c.id).where(kb_chunks.c.kb_id == row.id).limit(1)
            ).first()
            if filled is not None:
                raise Conflict(
                    f"Knowledge base '{name}' was built with embedder '{row.embedder}' but "
                    f"the configured embedder is '{configured.name}'; vectors of two "
                    f"embedders cannot be mixed: set [rag] embedder (or PRODLINE_EMBEDDER) "
                    f"to '{embedder_setting(row.embedder)}' to ingest into it, or create a "
                    "new knowledge base.",
                    kb=name,
                    recorded=row.embedder,
                    configured=configured.name,
                )
            conn.execute(kbs.update().where(kbs.c.id == row.id).values(embedder=configured.name))
        return configured

    def vector_index(self, name: str) -> VectorIndex:
        """The KB's vector index, opened once and cached."""
        if name not in self._indexes:
            from prodline.rag.index import open_index

            shared = bool(self._ws.settings.vector_url)
            index = open_index(
                self.index_url(name),
                dim=self.embedder().dim,
                name=collection_name(name) if shared else _index_name(name),
            )
            self._indexes[name] = index
            scheme = self.index_url(name).partition("://")[0].lower()
            if scheme in ("milvus", "http", "https") and not index.count():
                self._migrate(name)
        return self._indexes[name]

    def _migrate(self, name: str) -> None:
        """Fill a new, empty Milvus collection from the vectors kept in the store.

        Before KB names mapped one-to-one, ``a-b`` and ``a_b`` shared one collection; each
        KB now has its own and is filled here on first open (the old collection is left
        alone: drop it by hand once no release older than this one uses it).
        """
        with self._ws.db.read() as conn:
            kb = conn.execute(sa.select(kbs.c.id).where(kbs.c.name == name)).first()
            if kb is None:
                return
            has_chunks = conn.execute(
                sa.select(kb_chunks.c.id).where(kb_chunks.c.kb_id == kb.id).limit(1)
            ).first()
        if has_chunks is not None:
            self.reconcile(name)

    def searchable_index(self, name: str) -> VectorIndex:
        """The vector index, reopened when another process committed a newer generation.

        A long-running server holds the embedded index in memory; an ingest run from the
        CLI commits a new generation on disk. One ``stat`` per search notices it.
        Milvus is a server and is always current.
        """
        index = self.vector_index(name)
        if self._ws.settings.vector_url:
            return index
        manifest = Path(self.index_url(name)) / _index_name(name) / "MANIFEST.json"
        try:
            stamp: int | None = manifest.stat().st_mtime_ns
        except FileNotFoundError:
            stamp = None
        if name in self._stamps and self._stamps[name] != stamp:
            index.close()  # a reader: nothing unflushed to lose
            del self._indexes[name]
            index = self.vector_index(name)
        self._stamps[name] = stamp
        return index

    def close(self) -> None:
        """Close every index opened here."""
        for index in self._indexes.values():
            index.close()
        self._indexes.clear()
        self._bm25.clear()

    def reconcile(self, name: str) -> tuple[int, int]:
        """Make the vector index hold exactly the DB's chunks; returns (added, removed)."""
        index = self.vector_index(name)
        with self._ws.db.read() as conn:
            kb = kb_row(conn, name)
            db_ids = set(
                conn.execute(sa.select(kb_chunks.c.id).where(kb_chunks.c.kb_id == kb.id)).scalars()
            )
        stale = index.ids() - db_ids
        missing = db_ids - index.ids()
        if stale:
            index.delete(sorted(stale))
        if missing:
            ids, vectors, metas = self.load_vectors(name, sorted(missing))
            index.upsert(ids, vectors, metas)
        if stale or missing:
            index.flush()
        return len(missing), len(stale)

    def load_vectors(
        self, name: str, ids: builtins.list[int]
    ) -> tuple[builtins.list[int], np.ndarray, builtins.list[ChunkMeta]]:
        """The stored embeddings and filter metadata of chunks ``ids``."""
        dim = self.embedder().dim
        out_ids: list[int] = []
        vectors: list[np.ndarray] = []
        metas: list[ChunkMeta] = []
        with self._ws.db.read() as conn:
            for start in range(0, len(ids), 5000):
                rows = conn.execute(
                    sa.select(
                        kb_chunks.c.id,
                        kb_chunks.c.embedding,
                        kb_chunks.c.sensitivity,
                        kb_sources.c.id.label("sid"),
                        kb_sources.c.owner_id,
                        kb_sources.c.modified_at,
                    )
                    .join(kb_sources, kb_sources.c.id == kb_chunks.c.source_id)
                    .where(kb_chunks.c.id.in_(ids[start : start + 5000]))
                ).all()
                for r in rows:
                    out_ids.append(int(r.id))
                    vectors.append(np.frombuffer(r.embedding, dtype="<f4"))
                    metas.append(
                        ChunkMeta(
                            source_id=int(r.sid),
                            owner_id=int(r.owner_id),
                            modified_at=r.modified_at.timestamp(),
                            sensitivity=SENSITIVITY_ORDER.get(r.sensitivity, 2),
                        )
                    )
        matrix = (
            np.vstack(vectors).astype(np.float32) if vectors else np.zeros((0, dim), np.float32)
        )
        return out_ids, matrix, metas

    def lookup(self, name: str) -> tuple[int, int]:
        """(id, chunk generation) of a KB in one query — what the search path needs."""
        with self._ws.db.read() as conn:
            row = kb_row(conn, name)
        return int(row.id), int(row.generation)

    def bm25(self, name: str, generation: int | None = None) -> Bm25Index:
        """The BM25 index for the KB's current chunk generation, rebuilt when it moved."""
        from prodline.rag.bm25 import Bm25Index

        kb_id, current = self.lookup(name) if generation is None else (None, generation)
        identity = str(current)
        cached = self._bm25.get(name)
        if cached and cached[0] == identity:
            return cached[1]
        folder = self.folder(name) / "bm25"
        stamp = folder / "IDENTITY"
        if stamp.exists() and stamp.read_text() == identity:
            index = Bm25Index.load(folder)
        else:
            if kb_id is None:
                kb_id = self.lookup(name)[0]
            with self._ws.db.read() as conn:
                texts = conn.execute(
                    sa.select(
                        kb_chunks.c.id, kb_chunks.c.title, kb_chunks.c.heading, kb_chunks.c.text
                    )
                    .where(kb_chunks.c.kb_id == kb_id)
                    .order_by(kb_chunks.c.id)
                ).all()
            index = Bm25Index()
            index.build([r.id for r in texts], [f"{r.title} {r.heading} {r.text}" for r in texts])
            if folder.exists():
                shutil.rmtree(folder)
            index.save(folder)
            stamp.write_text(identity)
        self._bm25[name] = (identity, index)
        return index


def _index_name(kb: str) -> str:
    """The index's name in the KB's own folder (the default location): nothing shares it."""
    return f"kb_{kb}".replace("-", "_").replace(".", "_")


_ESCAPES = {"_": "__", "-": "_h", ".": "_d"}
_MAX_COLLECTION = 255


def collection_name(kb: str) -> str:
    """The index's name where indexes of several KBs live side by side (Milvus, or a
    configured ``PRODLINE_VECTOR_URL`` folder): one-to-one with the KB name.

    Milvus names allow ``[A-Za-z0-9_]``; ``_``, ``-`` and ``.`` are escaped as ``__``,
    ``_h`` and ``_d`` (so ``a-b``, ``a_b`` and ``a.b`` never share a collection), and a
    name that would pass 255 characters keeps a prefix and a hash of the exact KB name.
    Names of letters and digits map as they always did (``kb_<name>``).

    >>> [collection_name(n) for n in ("support", "a-b", "a_b", "a.b")]
    ['kb_support', 'kb_a_hb', 'kb_a__b', 'kb_a_db']
    """
    escaped = "kb_" + "".join(_ESCAPES.get(c, c) for c in kb)
    if len(escaped) <= _MAX_COLLECTION:
        return escaped
    digest = hashlib.sha256(kb.encode("utf-8")).hexdigest()[:16]
    return f"{escaped[: _MAX_COLLECTION - 18]}_x{digest}"

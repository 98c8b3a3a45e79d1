"""Ingest files into a knowledge base: incremental, idempotent and crash-safe.

Per file: load → chunk → scan sensitivity → embed, then ONE database transaction
replaces the file's chunks (embeddings included); only after it commits are the
derived indexes touched. A kill -9 at any point leaves the database consistent, and
the next ingest first reconciles the vector index with the database, so the two
always agree. Unchanged files (same sha256) are skipped; changed files replace their
chunks; ``prune`` drops sources whose files are gone.

The same model call embeds each chunk's sentences, which chat would otherwise embed on
every answer; they are stored with the chunks (:mod:`prodline.rag.sentences`).

Every chunk is scanned by the workspace's input guard before it is embedded
(:mod:`prodline.rag.poisoning`): its score is stored as ``injection_risk``, and the
KB's injection policy tags a flagged chunk, quarantines it, or (``block``) refuses its
whole source — nothing of a refused source is written, and the report says why.

Sources are stored relative to the ingest root (``docs/faq.md`` for a file of
``docs/``), so citations and ``kb remove`` read the same on every machine; a source an
older ingest recorded under its absolute path is renamed the first time it is seen.
A file of more than ``FILE_BATCH`` chunks is committed ``FILE_BATCH`` chunks at a time,
and an ingest killed inside it resumes after the chunks already stored.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import sqlalchemy as sa

from prodline.core.sensitivity import scan_text, summarize
from prodline.errors import Conflict, InvalidInput
from prodline.rag.poisoning import ChunkScan, block_reason, is_quarantined, scan_texts
from prodline.rag.sentences import Pieces, delete_sentences, embed_with_sentences, insert_sentences
from prodline.rag.sources import (
    gone,
    known_sources,
    match_source,
    source_names,
    stored_ordinals,
)
from prodline.rag.types import SENSITIVITY_ORDER, ChunkMeta, Document, Skipped
from prodline.store.tables import kb_chunks, kb_owners, kb_sources, kb_versions

if TYPE_CHECKING:
    from prodline.rag.indexes import KbIndexes
    from prodline.rag.kb import KnowledgeBases
    from prodline.workspace import Workspace

__all__ = [
    "FILE_BATCH",
    "IngestProgress",
    "IngestReport",
    "bump_generation",
    "embed_text",
    "ingest",
    "record_version",
    "remove_source",
    "writer_lock",
]

EMBED_BATCH = 64
FILE_BATCH = 256  # chunks per commit inside a large file: a kill loses at most this many


@dataclass
class IngestProgress:
    """Where an ingest stands, passed to the ``progress`` callback after each commit."""

    event: str = "start"  # "file" after a file (or group of small files), "batch" inside one
    files_done: int = 0
    files_total: int = 0
    chunks_done: int = 0
    bytes_done: int = 0
    bytes_total: int = 0
    rate: float = 0.0  # chunks/s so far


Progress = Callable[[IngestProgress], None]


@dataclass
class IngestReport:
    """What one ingest did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    removed: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    blocked: list[tuple[str, str]] = field(default_factory=list)  # refused by policy block
    flagged_sources: list[str] = field(default_factory=list)
    chunks_flagged: int = 0  # the input guard's verdict was not "allow"
    chunks_quarantined: int = 0
    chunks_added: int = 0
    chunks_removed: int = 0
    recovered: tuple[int, int] = (0, 0)
    resumed: list[str] = field(default_factory=list)
    version: int = 0
    seconds: float = 0.0
    embed_seconds: float = 0.0
    scan_seconds: float = 0.0

    @property
    def read_nothing(self) -> bool:
        """True when files were found but none could be read (all skipped)."""
        return bool(self.skipped) and not (self.added or self.updated or self.unchanged)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts and timings (seconds rounded to ms) for the CLI and API."""
        return {
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "removed": self.removed,
            "skipped": [{"source": s, "reason": r} for s, r in self.skipped],
            "blocked": [{"source": s, "reason": r} for s, r in self.blocked],
            "flagged_sources": self.flagged_sources,
            "chunks_flagged": self.chunks_flagged,
            "chunks_quarantined": self.chunks_quarantined,
            "chunks_added": self.chunks_added,
            "chunks_removed": self.chunks_removed,
            "recovered": {"added": self.recovered[0], "removed": self.recovered[1]},
            "resumed": self.resumed,
            "version": self.version,
            "seconds": round(self.seconds, 3),
            "embed_seconds": round(self.embed_seconds, 3),
            "scan_seconds": round(self.scan_seconds, 3),
        }


def embed_text(title: str, heading: str, text: str) -> str:
    """A chunk as it is embedded and scanned: "title — heading", a blank line, the text."""
    head = " — ".join(p for p in (title, heading) if p)
    return f"{head}\n\n{text}" if head else text


def ingest(
    ws: Workspace,
    kbs: KnowledgeBases,
    indexes: KbIndexes,
    name: str,
    paths: Sequence[Path],
    *,
    owner: str | None = None,
    prune: bool = False,
    max_tokens: int = 200,
    overlap: int = 40,
    follow_symlinks: bool = False,
    progress: Progress | None = None,
) -> IngestReport:
    """Bring knowledge base ``name`` in line with the files under ``paths``.

    One ingest per knowledge base at a time on this machine: a second one waits for the
    first (the embedded index has one writer per folder). A folder's file symlinks that
    point outside it are skipped (and, with ``prune``, their earlier chunks removed)
    unless ``follow_symlinks``.
    """
    from prodline.rag.extras import require_rag_extra

    require_rag_extra("Ingesting documents")
    with writer_lock(indexes, name):
        return _ingest(
            ws,
            kbs,
            indexes,
            name,
            paths,
            owner=owner,
            prune=prune,
            max_tokens=max_tokens,
            overlap=overlap,
            follow_symlinks=follow_symlinks,
            progress=progress,
        )


@contextmanager
def writer_lock(indexes: KbIndexes, name: str) -> Iterator[None]:
    """Hold the KB's writer lock (ingest, remove) for the duration."""
    folder = indexes.folder(name)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".writer.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _ingest(
    ws: Workspace,
    kbs: KnowledgeBases,
    indexes: KbIndexes,
    name: str,
    paths: Sequence[Path],
    *,
    owner: str | None,
    prune: bool,
    max_tokens: int,
    overlap: int,
    follow_symlinks: bool,
    progress: Progress | None,
) -> IngestReport:
    from prodline.rag.chunking import chunk_document
    from prodline.rag.documents import plan_files, walk_documents

    started = time.perf_counter()
    kb = kbs.get(name)
    missing = [str(p) for p in paths if not Path(p).exists()]
    if missing:
        raise InvalidInput(f"Path(s) not found: {', '.join(missing)}.", field="paths")
    report = IngestReport(recovered=indexes.reconcile(name))
    index = indexes.vector_index(name)
    embedder = indexes.ingest_embedder(name)
    roots = [Path(p) for p in paths]
    seen: set[str] = set()
    escaped: set[str] = set()  # targets of symlinks out of a root, not followed
    files_total, bytes_total = plan_files(roots, follow_symlinks=follow_symlinks)
    state = IngestProgress(files_total=files_total, bytes_total=bytes_total)
    known = known_sources(ws, kb.id)

    def tell(event: str, extra_bytes: int = 0) -> None:
        if progress:
            elapsed = time.perf_counter() - started
            rate = state.chunks_done / elapsed if elapsed else 0.0
            progress(
                replace(
                    state,
                    event=event,
                    bytes_done=min(state.bytes_done + extra_bytes, state.bytes_total),
                    rate=rate,
                )
            )

    def store(
        doc: Document,
        drafts: Sequence[Any],
        tags: Sequence[tuple[str, tuple[str, ...]]],
        vectors: np.ndarray,
        pieces: Sequence[Pieces],
        scans: Sequence[ChunkScan],
        *,
        file_tags: Sequence[tuple[str, tuple[str, ...]]] | None = None,
        total: int | None = None,
        append: bool = False,
    ) -> None:
        new_ids, old_ids, meta = _replace_source(
            ws,
            kb.id,
            doc,
            drafts,
            tags,
            vectors,
            pieces,
            owner or kb.owner,
            [(s.score, s.flagged, is_quarantined(kb.injection_policy, s.flagged)) for s in scans],
            file_tags=file_tags,
            total=total,
            append=append,
        )
        flagged = sum(s.flagged for s in scans)
        if flagged and doc.source not in report.flagged_sources:
            report.flagged_sources.append(doc.source)
        report.chunks_flagged += flagged
        report.chunks_quarantined += sum(
            is_quarantined(kb.injection_policy, s.flagged) for s in scans
        )
        if old_ids:
            index.delete(old_ids)
        index.upsert(new_ids, vectors, [meta(level) for level, _ in tags])
        report.chunks_added += len(new_ids)
        report.chunks_removed += len(old_ids)
        state.chunks_done += len(new_ids)

    def embed(drafts: Sequence[Any]) -> tuple[np.ndarray, list[Pieces]]:
        """The chunks' vectors and, in the same model call, their sentences' (chat's)."""
        t0 = time.perf_counter()
        out = embed_with_sentences(
            embedder.embed,
            [embed_text(d.title, d.heading, d.text) for d in drafts],
            [d.text for d in drafts],
        )
        report.embed_seconds += time.perf_counter() - t0
        return out

    def scan(drafts: Sequence[Any]) -> list[ChunkScan]:
        ws.guard  # noqa: B018 - loaded on first use, outside the timing (as the embedder is)
        t0 = time.perf_counter()
        scans = scan_texts(ws, [embed_text(d.title, d.heading, d.text) for d in drafts])
        report.scan_seconds += time.perf_counter() - t0
        return scans

    def refused(doc: Document, drafts: Sequence[Any], scans: Sequence[ChunkScan]) -> bool:
        """Under policy ``block``, a source with a flagged chunk is refused whole."""
        if kb.injection_policy != "block" or not any(s.flagged for s in scans):
            return False
        report.blocked.append((doc.source, block_reason([d.ordinal for d in drafts], scans)))
        return True

    # Files are embedded in groups of about EMBED_BATCH chunks (one model call pads and
    # batches far better than one call per small file), then committed one file at a time.
    pending: list[tuple[Document, Sequence[Any], list[tuple[str, tuple[str, ...]]], int]] = []

    def flush_pending() -> None:
        if not pending:
            return
        scans = scan([d for _, drafts, _, _ in pending for d in drafts])  # one guard batch
        kept = []
        offset = 0
        for doc, drafts, tags, size in pending:
            found = scans[offset : offset + len(drafts)]
            offset += len(drafts)
            if refused(doc, drafts, found):
                state.files_done += 1
                state.bytes_done += size
            else:
                kept.append((doc, drafts, tags, size, found))
        if not kept:
            pending.clear()
            tell("file")
            return
        vectors, pieces = embed([d for _, drafts, _, _, _ in kept for d in drafts])
        offset = 0
        for doc, drafts, tags, size, found in kept:
            end = offset + len(drafts)
            store(doc, drafts, tags, vectors[offset:end], pieces[offset:end], found)
            offset = end
            (report.updated if doc.source in known else report.added).append(doc.source)
            state.files_done += 1
            state.bytes_done += size
        pending.clear()
        tell("file")

    def store_large(
        doc: Document, drafts: Sequence[Any], tags: list[tuple[str, tuple[str, ...]]], size: int
    ) -> None:
        """A file of more than FILE_BATCH chunks: commit FILE_BATCH chunks at a time.

        The first commit replaces the source row (new hash, total chunk count) and drops
        its old chunks; each later one adds chunks. A kill in between leaves fewer chunk
        rows than the row's count: the next ingest resumes after the stored ordinals.
        """
        stored = stored_ordinals(ws, kb.id, doc.source) if doc.source in known else {}
        resume = bool(stored) and known[doc.source][0] == doc.content_sha256
        if resume and any(
            stored.get(d.ordinal, d.content_sha256) != d.content_sha256 for d in drafts
        ):
            resume = False  # chunked differently (other --max-tokens): start again
        todo = [n for n, d in enumerate(drafts) if not (resume and d.ordinal in stored)]
        scans = scan([drafts[n] for n in todo])  # all of it before any commit: block is whole
        if refused(doc, [drafts[n] for n in todo], scans):
            state.files_done += 1
            state.bytes_done += size
            tell("file")
            return
        if resume:
            report.resumed.append(doc.source)
        first = not resume
        for start in range(0, len(todo), FILE_BATCH):
            part = todo[start : start + FILE_BATCH]
            batch = [drafts[n] for n in part]
            vectors, pieces = embed(batch)
            store(
                doc,
                batch,
                [tags[n] for n in part],
                vectors,
                pieces,
                scans[start : start + FILE_BATCH],
                file_tags=tags,
                total=len(drafts),
                append=not first,
            )
            first = False
            tell("batch", size * (start + len(part)) // max(len(todo), 1))
        (report.updated if doc.source in known else report.added).append(doc.source)
        state.files_done += 1
        state.bytes_done += size
        tell("file")

    for item, absolute in walk_documents(roots, follow_symlinks=follow_symlinks, relative=True):
        size = _size(absolute)
        if isinstance(item, Skipped):
            report.skipped.append((item.source, item.reason))
            if Path(item.source).is_symlink():
                escaped.add(str(Path(item.source).resolve()))
            state.files_done += 1
            state.bytes_done += size
            continue
        if item.source not in known and absolute in known:
            _rename_source(ws, kb.id, absolute, item.source)  # recorded before relative names
            known[item.source] = known.pop(absolute)
        seen.add(item.source)
        sha, expected, present = known.get(item.source, ("", 0, 0))
        if sha == item.content_sha256 and present >= expected:
            report.unchanged += 1
            state.files_done += 1
            state.bytes_done += size
            continue
        drafts = chunk_document(item, max_tokens=max_tokens, overlap=overlap)
        if not drafts:
            report.skipped.append((item.source, "no text to index"))
            state.files_done += 1
            state.bytes_done += size
            continue
        tags: list[tuple[str, tuple[str, ...]]] = [summarize(scan_text(d.text)) for d in drafts]
        if len(drafts) > FILE_BATCH or sha == item.content_sha256:  # large, or interrupted
            flush_pending()
            store_large(item, drafts, tags, size)
            continue
        pending.append((item, drafts, tags, size))
        if sum(len(d) for _, d, _, _ in pending) >= EMBED_BATCH:
            flush_pending()
    flush_pending()
    if prune:
        for source in sorted(set(known) - seen):
            # gone from a root, or reached through a symlink out of it (no longer followed)
            if gone(source, roots) or source in escaped:
                report.chunks_removed += remove_source(ws, kbs, indexes, name, source, record=False)
                report.removed.append(source)
    index.flush()
    report.version = record_version(ws, name, report)
    if report.blocked:
        with ws.tx() as conn:
            ws.audit.record(
                conn,
                "kb.sources_blocked",
                f"kb:{name}",
                {"sources": [{"source": s, "reason": r} for s, r in report.blocked]},
            )
    report.seconds = time.perf_counter() - started
    return report


def _size(path: str) -> int:
    try:
        return Path(path).stat().st_size
    except OSError:
        return 0


def _rename_source(ws: Workspace, kb_id: int, old: str, new: str) -> None:
    """Store a source recorded under its absolute path under its relative name."""
    with ws.tx() as conn:
        conn.execute(
            kb_sources.update()
            .where(kb_sources.c.kb_id == kb_id, kb_sources.c.source == old)
            .values(source=new)
        )
        bump_generation(conn, kb_id)


def _replace_source(
    ws: Workspace,
    kb_id: int,
    doc: Document,
    drafts: Sequence[Any],
    tags: Sequence[tuple[str, tuple[str, ...]]],
    vectors: np.ndarray,
    pieces: Sequence[Pieces],
    owner: str,
    risks: Sequence[tuple[float, bool, bool]],
    *,
    file_tags: Sequence[tuple[str, tuple[str, ...]]] | None = None,
    total: int | None = None,
    append: bool = False,
) -> tuple[list[int], list[int], Callable[[str], ChunkMeta]]:
    """Store ``drafts`` of ``doc`` in one transaction: replace its chunks, or ``append``.

    ``risks`` holds each draft's (injection_risk, injection_flagged, quarantined), and
    ``pieces`` its sentence embeddings (:mod:`prodline.rag.sentences`), stored with it.

    ``file_tags`` and ``total`` describe the whole file when ``drafts`` is one batch of
    it (the source row records the file's sensitivity and full chunk count).
    """
    now = datetime.now(UTC)
    every = file_tags if file_tags is not None else tags
    levels = [level for level, _ in every]
    worst = max(levels, key=lambda lv: SENSITIVITY_ORDER[lv]) if levels else "none"
    kinds = sorted({k for _, ks in every for k in ks})
    with ws.tx() as conn:
        owner_id = _owner_id(conn, owner)
        existing = conn.execute(
            sa.select(kb_sources.c.id).where(
                kb_sources.c.kb_id == kb_id, kb_sources.c.source == doc.source
            )
        ).scalar()
        values = {
            "title": doc.title[:500],
            "owner_id": owner_id,
            "content_sha256": doc.content_sha256,
            "modified_at": doc.modified_at,
            "ingested_at": now,
            "chunks": total if total is not None else len(drafts),
            "sensitivity": worst,
            "kinds": kinds,
        }
        old_ids: list[int] = []
        if existing is None:
            result = conn.execute(
                kb_sources.insert().values(kb_id=kb_id, source=doc.source, **values)
            )
            source_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        elif append:
            source_id = int(existing)
        else:
            source_id = int(existing)
            old_ids = list(
                conn.execute(
                    sa.select(kb_chunks.c.id).where(kb_chunks.c.source_id == source_id)
                ).scalars()
            )
            delete_sentences(conn, source_id)
            conn.execute(kb_chunks.delete().where(kb_chunks.c.source_id == source_id))
            conn.execute(kb_sources.update().where(kb_sources.c.id == source_id).values(**values))
        rows = [
            {
                "kb_id": kb_id,
                "source_id": source_id,
                "ordinal": d.ordinal,
                "title": d.title[:500],
                "heading": d.heading[:500],
                "text": d.text,
                "token_count": d.token_count,
                "content_sha256": d.content_sha256,
                "sensitivity": level,
                "kinds": list(kinds_),
                "embedding": np.asarray(vec, dtype="<f4").tobytes(),
                "ingested_at": now,
                "injection_risk": risk,
                "injection_flagged": flagged,
                "quarantined": quarantined,
            }
            for d, (level, kinds_), vec, (risk, flagged, quarantined) in zip(
                drafts, tags, vectors, risks, strict=True
            )
        ]
        conn.execute(kb_chunks.insert(), rows)
        bump_generation(conn, kb_id)
        ids = dict(
            conn.execute(
                sa.select(kb_chunks.c.ordinal, kb_chunks.c.id).where(
                    kb_chunks.c.source_id == source_id,
                    kb_chunks.c.ordinal.in_([d.ordinal for d in drafts]),
                )
            ).all()
        )
        new_ids = [ids[d.ordinal] for d in drafts]  # the order of drafts and vectors
        insert_sentences(conn, new_ids, pieces)
    modified = doc.modified_at.timestamp()

    def meta(level: str) -> ChunkMeta:
        return ChunkMeta(source_id, owner_id, modified, SENSITIVITY_ORDER[level])

    return [int(i) for i in new_ids], [int(i) for i in old_ids], meta


def bump_generation(conn: sa.Connection, kb_id: int) -> None:
    """Mark the KB's chunk set as changed, in the same transaction as the change."""
    from prodline.store.tables import kbs as kbs_table

    conn.execute(
        kbs_table.update()
        .where(kbs_table.c.id == kb_id)
        .values(generation=kbs_table.c.generation + 1)
    )


def remove_source(
    ws: Workspace,
    kbs: KnowledgeBases,
    indexes: KbIndexes,
    name: str,
    source: str,
    *,
    record: bool = True,
) -> int:
    """Drop one source's chunks from the KB; returns how many chunks went."""
    kb = kbs.get(name)
    names = source_names(source)
    with ws.db.read() as conn:
        stored = match_source(conn, kb.id, names)
    lookup = sa.select(kb_sources.c.id, kb_sources.c.source).where(
        kb_sources.c.kb_id == kb.id, kb_sources.c.source == (stored or source)
    )
    with ws.db.read() as conn:
        found = conn.execute(lookup).first()
    if found is None:  # said outside any write transaction: SQLite readers would wait on it
        known = [s["source"] for s in kbs.sources(name)][:10]
        hint = f"sources include: {', '.join(known)}" if known else "it has no sources yet"
        raise InvalidInput(
            f"Knowledge base '{name}' has no source '{source}'; {hint}.", field="source"
        )
    with ws.tx() as conn:
        row = conn.execute(lookup).first()
        if row is None:
            raise Conflict(f"Source '{source}' was removed concurrently.")
        ids = list(
            conn.execute(sa.select(kb_chunks.c.id).where(kb_chunks.c.source_id == row.id)).scalars()
        )
        delete_sentences(conn, row.id)
        conn.execute(kb_chunks.delete().where(kb_chunks.c.source_id == row.id))
        conn.execute(kb_sources.delete().where(kb_sources.c.id == row.id))
        bump_generation(conn, kb.id)
        ws.audit.record(
            conn, "kb.source_removed", f"kb:{name}", {"source": row.source, "chunks": len(ids)}
        )
    index = indexes.vector_index(name)
    if ids:
        index.delete([int(i) for i in ids])
    if record:
        index.flush()
        report = IngestReport(removed=[row.source], chunks_removed=len(ids))
        record_version(ws, name, report)
    return len(ids)


def record_version(ws: Workspace, name: str, report: IngestReport) -> int:
    """Record a KB version when the chunk set differs from the newest recorded one."""
    from prodline.ledger.lineage import node
    from prodline.rag.kb import chunk_set_sha256
    from prodline.store.tables import kbs as kbs_table

    with ws.tx() as conn:
        kb_id = conn.execute(sa.select(kbs_table.c.id).where(kbs_table.c.name == name)).scalar_one()
        hashes = (
            conn.execute(sa.select(kb_chunks.c.content_sha256).where(kb_chunks.c.kb_id == kb_id))
            .scalars()
            .all()
        )
        identity = chunk_set_sha256(hashes)
        latest = conn.execute(
            sa.select(kb_versions.c.version, kb_versions.c.chunk_set_sha256)
            .where(kb_versions.c.kb_id == kb_id)
            .order_by(kb_versions.c.version.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.chunk_set_sha256 == identity:
            return int(latest.version)
        version = int(latest.version) + 1 if latest else 1
        sources = conn.execute(
            sa.select(sa.func.count()).select_from(kb_sources).where(kb_sources.c.kb_id == kb_id)
        ).scalar_one()
        conn.execute(
            kb_versions.insert().values(
                kb_id=kb_id,
                version=version,
                chunk_set_sha256=identity,
                chunks=len(hashes),
                sources=int(sources),
                created_by=ws.actor,
                created_at=datetime.now(UTC),
            )
        )
        ws.audit.record(
            conn,
            "kb.ingested",
            f"kb:{name}@{version}",
            {
                "chunk_set_sha256": identity,
                "chunks": len(hashes),
                "sources": int(sources),
                "added": report.added,
                "updated": report.updated,
                "removed": report.removed,
                "skipped": len(report.skipped),
                "blocked": [s for s, _ in report.blocked],
                "chunks_flagged": report.chunks_flagged,
                "chunks_quarantined": report.chunks_quarantined,
            },
        )
        this = node("kb", name, version)
        if latest is not None:
            ws.lineage.record(conn, node("kb", name, int(latest.version)), this, "revised_as")
        for source in report.added + report.updated:
            ws.lineage.record(conn, f"document:{source}@-", this, "ingested_into")
    return version


def _owner_id(conn: sa.Connection, owner: str) -> int:
    found = conn.execute(sa.select(kb_owners.c.id).where(kb_owners.c.name == owner)).scalar()
    if found is not None:
        return int(found)
    try:
        with conn.begin_nested():
            result = conn.execute(kb_owners.insert().values(name=owner))
    except sa.exc.IntegrityError:
        return int(
            conn.execute(sa.select(kb_owners.c.id).where(kb_owners.c.name == owner)).scalar_one()
        )
    return int(result.inserted_primary_key[0])  # type: ignore[index]

"""Indirect prompt injection in a knowledge base: scan chunks, apply the KB's policy, report.

Ingest scans every chunk with the workspace's input guard (``ws.guard``, reached at run
time: rag never imports the guard) and stores its score as ``injection_risk``; a chunk
whose verdict is not "allow" is *flagged*. The KB's ``injection_policy`` decides what a
flag does: ``tag`` keeps the chunk usable, ``quarantine`` (the default) stores it with
``quarantined`` set so the RAG server keeps it out of chat context, ``block`` refuses
the whole source at ingest. Chunks stored before scanning existed have
``injection_risk`` NULL until :func:`scan_stored` (``prodline kb scan``) scans them in
place. :func:`set_policies` changes the policies and re-applies the injection policy
to the stored flags in one transaction; :func:`poisoning_report` lists flagged chunks
per source.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.errors import InvalidInput
from prodline.rag.types import INJECTION_POLICIES, PRIVACY_POLICIES
from prodline.store.tables import kb_chunks, kb_sources, kbs

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = [
    "SCAN_BATCH",
    "ChunkScan",
    "PoisoningReport",
    "ScanReport",
    "block_reason",
    "excerpt",
    "is_quarantined",
    "poisoning_report",
    "scan_stored",
    "scan_texts",
    "set_policies",
]

SCAN_BATCH = 256  # texts per guard call: batched like embedding, bounded in memory
EXCERPT = 160


@dataclass(frozen=True)
class ChunkScan:
    """The input guard's view of one chunk: its score, whether flagged, and why."""

    score: float
    flagged: bool  # the verdict was not "allow"
    reason: str


def scan_texts(ws: Workspace, texts: Sequence[str]) -> list[ChunkScan]:
    """Scan ``texts`` as documents with ``ws.guard``, ``SCAN_BATCH`` at a time.

    Raises the guard's ``GuardModelError`` when its model cannot be loaded: chunks are
    never stored unscanned because the guard is missing.
    """
    out: list[ChunkScan] = []
    for start in range(0, len(texts), SCAN_BATCH):
        results = ws.guard.scan_many(list(texts[start : start + SCAN_BATCH]), kind="document")
        out.extend(ChunkScan(float(r.score), r.verdict != "allow", r.reason) for r in results)
    return out


def is_quarantined(policy: str, flagged: bool) -> bool:
    """Whether a chunk is kept out of chat context under ``policy``.

    ``block`` refuses a flagged source at ingest; a flagged chunk stored before (found by
    ``kb scan``, or kept when the policy changed to block) is quarantined as well.
    """
    return flagged and policy in ("quarantine", "block")


def block_reason(ordinals: Sequence[int], scans: Sequence[ChunkScan]) -> str:
    """The one-line reason a source is refused under policy ``block``."""
    flagged = [(s, o) for s, o in zip(scans, ordinals, strict=True) if s.flagged]
    worst, ordinal = max(flagged, key=lambda pair: pair[0].score)
    return (
        f"refused by injection policy 'block': {len(flagged)} chunk(s) flagged by the "
        f"input guard; worst chunk {ordinal} (score {worst.score:.2f}): {worst.reason}"
    )


def excerpt(text: str, limit: int = EXCERPT) -> str:
    """The start of ``text`` on one line, cut at ``limit`` characters with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def _kb(conn: sa.Connection, name: str) -> Any:
    from prodline.rag.indexes import kb_row

    return kb_row(conn, name)


def _check(value: str | None, allowed: Sequence[str], what: str, field_: str) -> None:
    if value is not None and value not in allowed:
        raise InvalidInput(f"{what} '{value}' is not one of {', '.join(allowed)}.", field=field_)


def set_policies(
    ws: Workspace, name: str, *, privacy: str | None = None, injection_policy: str | None = None
) -> dict[str, Any]:
    """Change KB ``name``'s privacy and/or injection policy, audited as ``kb.updated``.

    A new injection policy re-applies to every flagged chunk in the same transaction
    (``tag`` releases quarantined chunks; ``quarantine`` or ``block`` quarantines them).
    Returns the changes as ``{field: [old, new]}`` plus ``requarantined``/``released``
    counts; nothing is written when nothing changes.
    """
    _check(privacy, PRIVACY_POLICIES, "Privacy policy", "privacy")
    _check(injection_policy, INJECTION_POLICIES, "Injection policy", "injection_policy")
    if privacy is None and injection_policy is None:
        raise InvalidInput(
            "Nothing to update; pass --privacy and/or --injection-policy.", field="privacy"
        )
    with ws.tx() as conn:
        row = _kb(conn, name)
        changes: dict[str, Any] = {}
        values: dict[str, str] = {}
        if privacy is not None and privacy != row.privacy:
            changes["privacy"] = [row.privacy, privacy]
            values["privacy"] = privacy
        if injection_policy is not None and injection_policy != row.injection_policy:
            changes["injection_policy"] = [row.injection_policy, injection_policy]
            values["injection_policy"] = injection_policy
        if not values:
            return {}
        conn.execute(kbs.update().where(kbs.c.id == row.id).values(**values))
        if "injection_policy" in values:
            hold = is_quarantined(injection_policy or "", True)
            moved = conn.execute(
                kb_chunks.update()
                .where(
                    kb_chunks.c.kb_id == row.id,
                    kb_chunks.c.injection_flagged.is_(True),
                    kb_chunks.c.quarantined.is_(not hold),
                )
                .values(quarantined=hold)
            ).rowcount
            changes["requarantined" if hold else "released"] = int(moved or 0)
        ws.audit.record(conn, "kb.updated", f"kb:{name}", changes)
    return changes


@dataclass
class ScanReport:
    """What ``kb scan`` did: chunks scanned, flagged and quarantined, per source."""

    kb: str
    policy: str
    scanned: int = 0
    flagged: int = 0
    quarantined: int = 0
    flagged_sources: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts for the CLI and API."""
        return {
            "kb": self.kb,
            "injection_policy": self.policy,
            "scanned": self.scanned,
            "flagged": self.flagged,
            "quarantined": self.quarantined,
            "flagged_sources": self.flagged_sources,
            "seconds": round(self.seconds, 3),
        }


def scan_stored(ws: Workspace, name: str, *, rescan: bool = False) -> ScanReport:
    """Scan KB ``name``'s stored chunks in place (those never scanned, or all with ``rescan``).

    Each batch of ``SCAN_BATCH`` chunks is written in one transaction, so an interrupted
    scan resumes with the chunks still unscanned. The KB's injection policy applies to
    the new flags; under ``block`` the flagged chunks of stored sources are quarantined
    (a re-ingest of such a source would be refused).
    """
    from prodline.rag.ingest import embed_text

    started = time.perf_counter()
    with ws.db.read() as conn:
        row = _kb(conn, name)
        query = (
            sa.select(
                kb_chunks.c.id,
                kb_chunks.c.title,
                kb_chunks.c.heading,
                kb_chunks.c.text,
                kb_sources.c.source,
            )
            .join(kb_sources, kb_sources.c.id == kb_chunks.c.source_id)
            .where(kb_chunks.c.kb_id == row.id)
            .order_by(kb_chunks.c.id)
        )
        if not rescan:
            query = query.where(kb_chunks.c.injection_risk.is_(None))
        ids = [(int(r.id), r.source) for r in conn.execute(query)]
    report = ScanReport(kb=name, policy=row.injection_policy)
    sources: set[str] = set()
    for start in range(0, len(ids), SCAN_BATCH):
        part = [i for i, _ in ids[start : start + SCAN_BATCH]]
        with ws.db.read() as conn:
            texts = {
                int(r.id): embed_text(r.title, r.heading, r.text)
                for r in conn.execute(query.where(kb_chunks.c.id.in_(part)))
            }
        part = [i for i in part if i in texts]  # a chunk removed meanwhile is skipped
        scans = scan_texts(ws, [texts[i] for i in part])
        with ws.tx() as conn:
            policy = _kb(conn, name).injection_policy  # as of this write
            for chunk_id, scan in zip(part, scans, strict=True):
                conn.execute(
                    kb_chunks.update()
                    .where(kb_chunks.c.id == chunk_id)
                    .values(
                        injection_risk=scan.score,
                        injection_flagged=scan.flagged,
                        quarantined=is_quarantined(policy, scan.flagged),
                    )
                )
        report.scanned += len(part)
        report.flagged += sum(s.flagged for s in scans)
        report.quarantined += sum(is_quarantined(policy, s.flagged) for s in scans)
        source_of = dict(ids[start : start + SCAN_BATCH])
        sources.update(source_of[i] for i, s in zip(part, scans, strict=True) if s.flagged)
    report.flagged_sources = sorted(sources)
    report.seconds = time.perf_counter() - started
    if report.scanned:
        with ws.tx() as conn:
            ws.audit.record(conn, "kb.scanned", f"kb:{name}", report.to_dict())
    return report


@dataclass
class PoisoningReport:
    """A KB's flagged chunks per source, worst source first, with its policies."""

    kb: str
    privacy: str
    policy: str
    chunks: int
    unscanned: int
    sources: list[dict[str, Any]]

    @property
    def flagged(self) -> int:
        """How many chunks the input guard flagged."""
        return sum(s["flagged"] for s in self.sources)

    @property
    def quarantined(self) -> int:
        """How many flagged chunks are kept out of chat context."""
        return sum(c["quarantined"] for s in self.sources for c in s["chunks"])

    def top(self, limit: int) -> list[dict[str, Any]]:
        """The ``limit`` highest-scoring flagged chunks, each naming its source."""
        every = [c | {"source": s["source"]} for s in self.sources for c in s["chunks"]]
        return sorted(every, key=lambda c: (-c["score"], c["source"], c["ordinal"]))[:limit]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report for the CLI and API."""
        return {
            "kb": self.kb,
            "privacy": self.privacy,
            "injection_policy": self.policy,
            "chunks": self.chunks,
            "scanned": self.chunks - self.unscanned,
            "unscanned": self.unscanned,
            "flagged": self.flagged,
            "quarantined": self.quarantined,
            "sources": self.sources,
        }


def poisoning_report(ws: Workspace, name: str) -> PoisoningReport:
    """KB ``name``'s poisoning report: per source, flagged chunks with score and excerpt."""
    with ws.db.read() as conn:
        row = _kb(conn, name)
        total, unscanned = conn.execute(
            sa.select(
                sa.func.count(),
                sa.func.count().filter(kb_chunks.c.injection_risk.is_(None)),
            ).where(kb_chunks.c.kb_id == row.id)
        ).one()
        flagged = conn.execute(
            sa.select(
                kb_sources.c.source,
                kb_chunks.c.ordinal,
                kb_chunks.c.injection_risk,
                kb_chunks.c.quarantined,
                kb_chunks.c.heading,
                kb_chunks.c.text,
            )
            .join(kb_sources, kb_sources.c.id == kb_chunks.c.source_id)
            .where(kb_chunks.c.kb_id == row.id, kb_chunks.c.injection_flagged.is_(True))
            .order_by(kb_sources.c.source, kb_chunks.c.ordinal)
        ).all()
    per: dict[str, list[dict[str, Any]]] = {}
    for r in flagged:
        per.setdefault(r.source, []).append(
            {
                "ordinal": int(r.ordinal),
                "score": round(float(r.injection_risk or 0.0), 4),
                "quarantined": bool(r.quarantined),
                "heading": r.heading,
                "excerpt": excerpt(r.text),
            }
        )
    sources = [
        {
            "source": source,
            "flagged": len(chunks),
            "max_score": max(c["score"] for c in chunks),
            "chunks": chunks,
        }
        for source, chunks in per.items()
    ]
    sources.sort(key=lambda s: (-s["max_score"], s["source"]))
    return PoisoningReport(
        kb=name,
        privacy=row.privacy,
        policy=row.injection_policy,
        chunks=int(total),
        unscanned=int(unscanned),
        sources=sources,
    )

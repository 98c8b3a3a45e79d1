"""Knowledge bases: create, list, show, ingest, search and remove sources (``ws.kbs``).

The database is the source of truth: sources, chunks (with their embeddings) and KB
versions live in tables; the vector and BM25 indexes behind them are derived
(:mod:`prodline.rag.indexes`) and rebuilt from the store after a crash.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import sqlalchemy as sa

from prodline.core.refs import check_name
from prodline.errors import Conflict, InvalidInput
from prodline.rag.indexes import KbIndexes, kb_row
from prodline.rag.types import Hit, InjectionPolicy, Privacy
from prodline.store.tables import kb_chunks, kb_owners, kb_sources, kb_versions, kbs

if TYPE_CHECKING:
    from prodline.rag.embed import Embedder
    from prodline.rag.eval_gate import KbGateReport
    from prodline.rag.evaluate import Answerer, EvalQuestion, EvalReport, Grader
    from prodline.rag.ingest import IngestReport, Progress
    from prodline.rag.poisoning import PoisoningReport, ScanReport
    from prodline.rag.retrieve import Mode
    from prodline.workspace import Workspace

__all__ = ["KnowledgeBase", "KnowledgeBases", "chunk_set_sha256"]


@dataclass(frozen=True)
class KnowledgeBase:
    """One knowledge base and its counts (plain data)."""

    id: int
    name: str
    owner: str
    description: str
    embedder: str
    created_by: str
    created_at: datetime
    sources: int
    chunks: int
    version: int
    privacy: Privacy = "route"  # see rag.types.PRIVACY_POLICIES
    injection_policy: InjectionPolicy = "quarantine"  # see rag.types.INJECTION_POLICIES

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields for the CLI and API (the internal ``id`` left out)."""
        return {
            "name": self.name,
            "owner": self.owner,
            "description": self.description,
            "embedder": self.embedder,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "sources": self.sources,
            "chunks": self.chunks,
            "version": self.version,
            "privacy": self.privacy,
            "injection_policy": self.injection_policy,
        }


def chunk_set_sha256(hashes: Iterable[str]) -> str:
    """The identity of a KB version: sha256 over its sorted chunk hashes."""
    digest = hashlib.sha256()
    for h in sorted(hashes):
        digest.update(h.encode())
    return digest.hexdigest()


class KnowledgeBases:
    """Reached as ``ws.kbs``."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._indexes = KbIndexes(ws)

    def embedder(self, name: str | None = None) -> Embedder:
        """KB ``name``'s embedding model (to embed a question once), else the configured one."""
        return self._indexes.embedder(name)

    def chunk_embeddings(self, name: str, *, limit: int | None = None) -> np.ndarray:
        """The stored embeddings of KB ``name``'s chunks, ``(n, dim)`` float32 (monitoring
        compares query embeddings with them); ``limit`` takes an even sample of the rows."""
        with self._ws.db.read() as conn:
            kb_id = self._row(conn, name).id
            query = sa.select(kb_chunks.c.id).where(kb_chunks.c.kb_id == kb_id)
            ids = list(conn.execute(query.order_by(kb_chunks.c.id)).scalars())
        if limit is not None and len(ids) > limit:
            ids = [ids[i] for i in np.linspace(0, len(ids) - 1, limit).astype(int)]
        return self._indexes.load_vectors(name, ids)[1]

    def close(self) -> None:
        """Close the derived indexes this handle opened."""
        self._indexes.close()

    # -- create / read ---------------------------------------------------------------
    def create(self, name: str, *, owner: str, description: str = "") -> KnowledgeBase:
        """Create an empty knowledge base owned by team ``owner``; ``ingest`` fills it.

        Raises ``Conflict`` when the name is taken, ``InvalidInput`` without an owner.
        """
        self._ws.authorize("kb.create")
        check_name("Knowledge base", name)
        from prodline.rag.extras import require_rag_extra

        require_rag_extra("A knowledge base")
        if not owner:
            raise InvalidInput("A knowledge base needs an owner; pass --owner.", field="owner")
        now = datetime.now(UTC)
        with self._ws.tx() as conn:
            if conn.execute(sa.select(kbs.c.id).where(kbs.c.name == name)).first():
                raise Conflict(f"Knowledge base '{name}' already exists.")
            conn.execute(
                kbs.insert().values(
                    name=name,
                    owner=owner,
                    description=description,
                    embedder=self._indexes.embedder().name,
                    created_by=self._ws.actor,
                    created_at=now,
                )
            )
            self._ws.audit.record(conn, "kb.created", f"kb:{name}", {"owner": owner})
        return self.get(name)

    def _row(self, conn: sa.Connection, name: str) -> Any:
        return kb_row(conn, name)

    def get(self, name: str) -> KnowledgeBase:
        """Knowledge base ``name`` with its source and chunk counts and latest version."""
        with self._ws.db.read() as conn:
            row = self._row(conn, name)
            sources = conn.execute(
                sa.select(sa.func.count())
                .select_from(kb_sources)
                .where(kb_sources.c.kb_id == row.id)
            ).scalar_one()
            chunks = conn.execute(
                sa.select(sa.func.count()).select_from(kb_chunks).where(kb_chunks.c.kb_id == row.id)
            ).scalar_one()
            version = conn.execute(
                sa.select(sa.func.max(kb_versions.c.version)).where(kb_versions.c.kb_id == row.id)
            ).scalar()
        created = row.created_at  # UTC-aware: the column type sees to it
        return KnowledgeBase(
            id=row.id,
            name=row.name,
            owner=row.owner,
            description=row.description or "",
            embedder=row.embedder,
            created_by=row.created_by,
            created_at=created,
            sources=int(sources),
            chunks=int(chunks),
            version=int(version or 0),
            privacy=row.privacy,
            injection_policy=row.injection_policy,
        )

    def list(self) -> list[KnowledgeBase]:
        """Every knowledge base, sorted by name."""
        with self._ws.db.read() as conn:
            names = conn.execute(sa.select(kbs.c.name).order_by(kbs.c.name)).scalars().all()
        return [self.get(n) for n in names]

    def sources(self, name: str) -> builtins.list[dict[str, Any]]:
        """One JSON-ready row per ingested source of ``name`` (owner, chunks, sensitivity…)."""
        with self._ws.db.read() as conn:
            kb = self._row(conn, name)
            rows = conn.execute(
                sa.select(kb_sources, kb_owners.c.name.label("owner"))
                .join(kb_owners, kb_owners.c.id == kb_sources.c.owner_id)
                .where(kb_sources.c.kb_id == kb.id)
                .order_by(kb_sources.c.source)
            ).all()
        return [
            {
                "source": r.source,
                "title": r.title,
                "owner": r.owner,
                "chunks": r.chunks,
                "sensitivity": r.sensitivity,
                "kinds": list(r.kinds),
                "content_sha256": r.content_sha256,
                "modified_at": r.modified_at.isoformat(),
                "ingested_at": r.ingested_at.isoformat(),
            }
            for r in rows
        ]

    # -- operations (see ingest.py and retrieve.py) ----------------------------------
    def ingest(
        self,
        name: str,
        paths: Sequence[str | Path],
        *,
        owner: str | None = None,
        prune: bool = False,
        max_tokens: int = 200,
        overlap: int = 40,
        follow_symlinks: bool = False,
        progress: Progress | None = None,
    ) -> IngestReport:
        """Bring the KB in line with the files under ``paths``.

        Unchanged files are skipped, changed ones replaced; ``prune`` drops sources gone
        from the given folders. A folder's file symlinks pointing outside it are skipped
        unless ``follow_symlinks``. See :func:`prodline.rag.ingest.ingest`.
        """
        self._ws.authorize("kb.ingest")
        from prodline.rag.ingest import ingest

        return ingest(
            self._ws,
            self,
            self._indexes,
            name,
            [Path(p) for p in paths],
            owner=owner,
            prune=prune,
            max_tokens=max_tokens,
            overlap=overlap,
            follow_symlinks=follow_symlinks,
            progress=progress,
        )

    def search(
        self,
        name: str,
        query: str,
        *,
        k: int = 5,
        filters: Mapping[str, str] | None = None,
        clearance: str = "phi",
        mode: str = "hybrid",
        vector: np.ndarray | None = None,
        include_quarantined: bool = True,
    ) -> builtins.list[Hit]:
        """The ``k`` best chunks for ``query`` (hybrid by default) that pass the filters.

        ``clearance`` caps the sensitivity returned; ``vector`` is the query's embedding
        when the caller has it. Each hit carries ``injection_risk`` and ``quarantined``;
        ``include_quarantined=False`` drops quarantined chunks before the top ``k`` are
        cut. See :func:`prodline.rag.retrieve.search`.
        """
        from prodline.rag.retrieve import search

        return search(
            self._ws,
            self._indexes,
            name,
            query,
            k=k,
            filters=filters,
            clearance=clearance,
            mode=cast("Mode", mode),  # checked there: one of hybrid, vector, bm25
            vector=vector,
            include_quarantined=include_quarantined,
        )

    def evaluate(
        self,
        name: str,
        questions: str | Path | Sequence[EvalQuestion],
        *,
        k: int = 10,
        mode: str = "hybrid",
        provider: str | None = None,
        record: bool = True,
        answerer: Answerer | None = None,
        variant: str | None = None,
        answer: bool = True,
        grader: Grader | None = None,
        judge: str | None = None,
    ) -> EvalReport:
        """Evaluate KB ``name`` on a question set and record the run as evidence.

        ``questions`` is a JSON-lines file, the name of a shipped set (``pydoc_topics``)
        or parsed questions. Answers go through the RAG server's chat path
        (``ws.rag_answerer``; ``provider`` forces one LLM) unless ``answerer`` is given;
        ``mode`` is the retrieval ranked for hit@k/MRR/nDCG; ``variant`` labels the run
        (default: the mode); ``answer=False`` measures retrieval alone. With ``record``,
        the metrics land as ``rag_eval`` evidence on ``kb:NAME@VERSION``. Correctness is
        graded by the configured ``[llm] judge`` when there is one (through the chat path),
        or by ``grader`` (named ``judge``) with a given ``answerer``; else lexically.
        See :func:`prodline.rag.evaluate.evaluate`.
        """
        from prodline.rag.evaluate import evaluate, load_questions, set_sha256

        kb = self.get(name)
        if isinstance(questions, str | Path):
            parsed, set_id = load_questions(questions), set_sha256(questions)
            set_name = Path(questions).stem
        else:
            parsed, set_id, set_name = builtins.list(questions), None, "inline"
        label = variant or mode
        if answerer is None:
            with self._ws.rag_answerer(name, provider=provider, mode=mode) as chat:
                grade = chat.grader
                report = evaluate(
                    parsed,
                    chat,
                    k=k,
                    variant=label,
                    answer=answer,
                    grader=grade,
                    judge=grade.name if grade is not None else None,
                )
        else:
            report = evaluate(
                parsed, answerer, k=k, variant=label, answer=answer, grader=grader, judge=judge
            )
        if record:
            summary = {
                **report.to_dict(questions=False),
                "question_set": set_name,
                "question_set_sha256": set_id,
                "provider": provider,
                "kb_version": kb.version,
            }
            with self._ws.tx() as conn:
                self._ws.evidence.record(conn, f"kb:{name}@{kb.version}", "rag_eval", summary)
        return report

    def gate(self, name: str) -> KbGateReport:
        """Check KB ``name``'s current version against the ``[rag.gate]`` minimums of
        prodline.toml, using its latest ``rag_eval`` evidence; audited (``kb.gate_checked``).
        See :func:`prodline.rag.eval_gate.check_kb_gate`.
        """
        from prodline.config import toml_table
        from prodline.rag.eval_gate import RagGatePolicy, check_kb_gate

        kb = self.get(name)
        rag = toml_table(self._ws.home, "rag")
        policy = RagGatePolicy.parse(rag.get("gate", {}) if isinstance(rag, dict) else rag)
        subject = f"kb:{name}@{kb.version}"
        latest = self._ws.evidence.list(subject, "rag_eval", last=1)
        ev = latest[-1] if latest else None
        metrics = ev.summary.get("metrics", {}) if ev is not None else None
        report = check_kb_gate(
            policy, name, kb.version, metrics, evidence_id=ev.id if ev is not None else None
        )
        self._ws.audit.append(
            "kb.gate_checked",
            subject,
            {"passed": report.passed, "evidence_id": report.evidence_id, "reasons": report.reasons},
        )
        return report

    def remove(self, name: str, source: str) -> int:
        """Drop one source's chunks; returns how many chunks were removed."""
        self._ws.authorize("kb.remove")
        from prodline.rag.ingest import remove_source, writer_lock

        self.get(name)
        with writer_lock(self._indexes, name):
            return remove_source(self._ws, self, self._indexes, name, source)

    # -- injection guard (see poisoning.py) --------------------------------------------
    def update(
        self, name: str, *, privacy: str | None = None, injection_policy: str | None = None
    ) -> dict[str, Any]:
        """Set KB ``name``'s privacy (route, redact, refuse) and/or injection policy
        (tag, quarantine, block); audited. A new injection policy re-applies to the stored
        flagged chunks in one transaction. Returns the changes (``{}`` when none).
        See :func:`prodline.rag.poisoning.set_policies`.
        """
        self._ws.authorize("kb.update")
        from prodline.rag.poisoning import set_policies

        return set_policies(self._ws, name, privacy=privacy, injection_policy=injection_policy)

    def poisoning(self, name: str) -> PoisoningReport:
        """KB ``name``'s poisoning report: the chunks the input guard flagged, per source."""
        from prodline.rag.poisoning import poisoning_report

        return poisoning_report(self._ws, name)

    def scan(self, name: str, *, rescan: bool = False) -> ScanReport:
        """Scan stored chunks for prompt injection in place: those never scanned (ingested
        before scanning existed), or every chunk with ``rescan``. See
        :func:`prodline.rag.poisoning.scan_stored`.
        """
        self._ws.authorize("kb.scan")
        from prodline.rag.ingest import writer_lock
        from prodline.rag.poisoning import scan_stored

        self.get(name)
        with writer_lock(self._indexes, name):
            return scan_stored(self._ws, name, rescan=rescan)

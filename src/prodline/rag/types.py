"""Plain data shared by the RAG parts: documents, chunks, filters, search hits.

No I/O here. Loaders produce ``Document``; the chunker turns it into ``ChunkDraft``;
the knowledge-base service stores drafts as chunks with integer ids, which the vector
index and BM25 index key on; searches return ``Hit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from prodline.core.sensitivity import LEVEL_ORDER, Level

__all__ = [
    "ChunkDraft",
    "ChunkMeta",
    "Document",
    "Hit",
    "INJECTION_POLICIES",
    "InjectionPolicy",
    "PRIVACY_POLICIES",
    "Privacy",
    "SENSITIVITY_ORDER",
    "SearchFilter",
    "Section",
    "Sensitivity",
    "Skipped",
]

Sensitivity = Level
SENSITIVITY_ORDER: dict[str, int] = LEVEL_ORDER  # one table, defined in core.sensitivity

Privacy = Literal["route", "redact", "refuse"]
InjectionPolicy = Literal["tag", "quarantine", "block"]

PRIVACY_POLICIES: tuple[Privacy, ...] = ("route", "redact", "refuse")
"""A KB's privacy policy: how context it holds may reach a provider that is not
self-hosted — ``route`` (sensitive context goes to self-hosted providers only),
``redact`` (PII replaced by placeholders first), ``refuse`` (the request is refused)."""

INJECTION_POLICIES: tuple[InjectionPolicy, ...] = ("tag", "quarantine", "block")
"""What ingest does with a chunk the input guard flags: ``tag`` (stored, usable, tagged),
``quarantine`` (stored, kept out of chat context) or ``block`` (the source is refused)."""


@dataclass(frozen=True)
class Section:
    """A run of text under one heading (``heading`` is "" before the first heading)."""

    heading: str
    text: str
    level: int = 0


@dataclass(frozen=True)
class Document:
    """One loaded source file."""

    source: str  # absolute path or URL
    title: str
    sections: tuple[Section, ...]
    modified_at: datetime
    content_sha256: str  # of the file's bytes

    @property
    def text(self) -> str:
        """The whole document as plain text, sections separated by a blank line."""
        return "\n\n".join(s.text for s in self.sections)


@dataclass(frozen=True)
class Skipped:
    """A file the loader would not read, and why (binary, encrypted, empty, …)."""

    source: str
    reason: str


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it is stored: text plus where it came from."""

    source: str
    title: str
    heading: str
    text: str
    ordinal: int  # position within its document, from 0
    token_count: int
    content_sha256: str  # of ``text``


@dataclass(frozen=True)
class ChunkMeta:
    """What the indexes keep per chunk id so filters run inside the search."""

    source_id: int
    owner_id: int
    modified_at: float  # POSIX seconds
    sensitivity: int  # SENSITIVITY_ORDER value


@dataclass(frozen=True)
class SearchFilter:
    """Restrictions applied inside the search. ``None`` means no restriction.

    ``max_sensitivity`` is the caller's clearance: chunks above it are never returned.
    """

    source_ids: frozenset[int] | None = None
    owner_ids: frozenset[int] | None = None
    modified_after: float | None = None
    modified_before: float | None = None
    max_sensitivity: int | None = None

    @property
    def is_empty(self) -> bool:
        """True when nothing is restricted, so a search can skip filtering altogether."""
        return (
            self.source_ids is None
            and self.owner_ids is None
            and self.modified_after is None
            and self.modified_before is None
            and self.max_sensitivity is None
        )


@dataclass(frozen=True)
class Hit:
    """One search result.

    ``score`` is the retriever's (fusion) score, useful only for ordering; ``relevance``
    is comparable across queries and is what abstention and readers use.
    """

    chunk_id: int
    score: float
    text: str = ""
    source: str = ""
    title: str = ""
    heading: str = ""
    sensitivity: str = "none"
    kinds: tuple[str, ...] = ()
    scores: dict[str, float] = field(default_factory=dict)  # per retriever, before fusion
    rank: int = 0  # 1-based position in the fused (and reranked) order; 0 when unranked
    relevance: float | None = None  # calibrated P(bears on the query), see rag.relevance
    injection_risk: float | None = None  # the input guard's score; None: not scanned
    injection_flagged: bool = False  # the guard's verdict was not "allow"
    quarantined: bool = False  # flagged and the KB's policy keeps it out of chat context

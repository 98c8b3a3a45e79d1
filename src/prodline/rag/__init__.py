"""Knowledge bases: ingest, chunk, embed, index, and hybrid retrieval."""

from prodline.rag.ingest import IngestReport
from prodline.rag.kb import KnowledgeBase, KnowledgeBases
from prodline.rag.types import ChunkDraft, Document, Hit, SearchFilter

__all__ = [
    "ChunkDraft",
    "Document",
    "Hit",
    "IngestReport",
    "KnowledgeBase",
    "KnowledgeBases",
    "SearchFilter",
]

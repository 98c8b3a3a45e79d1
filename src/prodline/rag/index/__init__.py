"""Vector indexes: the embedded FAISS default and its Milvus twin, chosen by URL.

``MilvusIndex`` and ``EmbeddedIndex`` are imported on first use, so opening an embedded
index never pays for pymilvus and a Milvus deployment never loads FAISS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prodline.rag.index.base import VectorIndex, open_index

if TYPE_CHECKING:
    from prodline.rag.index.embedded import EmbeddedIndex
    from prodline.rag.index.milvus import MilvusIndex

__all__ = ["EmbeddedIndex", "MilvusIndex", "VectorIndex", "open_index"]


def __getattr__(name: str) -> Any:
    if name == "EmbeddedIndex":
        from prodline.rag.index.embedded import EmbeddedIndex

        return EmbeddedIndex
    if name == "MilvusIndex":
        from prodline.rag.index.milvus import MilvusIndex

        return MilvusIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

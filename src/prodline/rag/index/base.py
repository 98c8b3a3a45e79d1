"""The vector-index contract and the URL that picks its backend.

Both backends keep, per chunk id, one L2-normalized vector and its ``ChunkMeta``, and
apply a ``SearchFilter`` inside the search itself (a row bitmap in the FAISS graph walk,
a boolean expression in Milvus), so a selective filter still yields ``k`` hits when
``k`` chunks match. Scores are cosine similarities (inner products of unit vectors),
best first.

=====================================  =========================================
URL                                    backend
=====================================  =========================================
``file:///abs/dir`` or a plain path    ``EmbeddedIndex`` in ``dir/<name>/``
``milvus:///abs/path/milvus.db``       ``MilvusIndex`` on Milvus Lite (local file)
``http://host:19530`` (or https)       ``MilvusIndex`` on a Milvus server
=====================================  =========================================
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable
from urllib.parse import unquote, urlparse

import numpy as np

from prodline.errors import InvalidInput
from prodline.rag.types import ChunkMeta, SearchFilter

__all__ = ["ACCEPTED_URLS", "VectorIndex", "check_name", "open_index"]

ACCEPTED_URLS = (
    "file:///abs/dir or a plain directory path (embedded FAISS index), "
    "milvus:///abs/path/milvus.db (Milvus Lite) or http(s)://host:19530 (Milvus server)"
)
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,254}")


@runtime_checkable
class VectorIndex(Protocol):
    """What the knowledge base needs from a vector store; every backend passes one suite."""

    dim: int

    def upsert(self, ids: Sequence[int], vectors: np.ndarray, metas: Sequence[ChunkMeta]) -> None:
        """Store ``vectors[i]`` with ``metas[i]`` under ``ids[i]``, replacing what was there."""
        ...

    def delete(self, ids: Sequence[int]) -> None:
        """Remove these ids; unknown ids are ignored."""
        ...

    def search(
        self, vector: np.ndarray, k: int, flt: SearchFilter | None = None
    ) -> list[tuple[int, float]]:
        """Up to ``k`` ``(id, cosine)`` pairs that pass ``flt``, best first."""
        ...

    def ids(self) -> set[int]:
        """Every stored id (to reconcile with the metadata store after a crash)."""
        ...

    def count(self) -> int:
        """How many ids are stored."""
        ...

    def flush(self) -> None:
        """Make every change so far durable."""
        ...

    def close(self) -> None:
        """Flush and release files, servers and memory; the object is unusable after."""
        ...


def check_name(name: str) -> str:
    """Index names travel to Milvus as collection names, so both backends take the same set."""
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"Index name {name!r} is not allowed; use letters, digits and underscores, "
            "starting with a letter or underscore (at most 255 characters).",
            name=name,
        )
    return name


def open_index(url: str, *, dim: int, name: str, token: str = "") -> VectorIndex:
    """Open (or create) the index ``name`` of ``dim``-d vectors at ``url``.

    Parameters
    ----------
    url : str
        Where the index lives; see the module docstring for the accepted forms.
    dim : int
        Vector dimension; opening an existing index with another dimension fails.
    name : str
        Sub-directory (embedded) or collection (Milvus) name.
    token : str
        Milvus server credentials (``user:password`` or an API key); unused otherwise.
    """
    check_name(name)
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(f"Vector index URL is empty; use {ACCEPTED_URLS}.", url=url)
    url = url.strip()
    if "://" not in url:
        from prodline.rag.index.embedded import EmbeddedIndex

        return EmbeddedIndex(Path(url).expanduser().resolve() / name, dim=dim)
    parsed = urlparse(url)
    scheme = parsed.scheme.lower()
    if scheme == "file":
        path = Path(unquote(parsed.path))
        if parsed.netloc not in ("", "localhost") or not path.is_absolute():
            raise InvalidInput(
                f"Vector index URL {url!r} needs an absolute path: file:///abs/dir.", url=url
            )
        from prodline.rag.index.embedded import EmbeddedIndex

        return EmbeddedIndex(path / name, dim=dim)
    if scheme == "milvus":
        path = Path(unquote(parsed.path))
        if parsed.netloc or not path.is_absolute() or path.suffix != ".db":
            raise InvalidInput(
                f"Vector index URL {url!r} is not a Milvus Lite file; use "
                "milvus:///abs/path/milvus.db (an absolute path ending in .db).",
                url=url,
            )
        from prodline.rag.index.milvus import MilvusIndex

        return MilvusIndex(str(path), dim=dim, name=name)
    if scheme in ("http", "https"):
        if not parsed.hostname:
            raise InvalidInput(f"Vector index URL {url!r} has no host; use {ACCEPTED_URLS}.")
        from prodline.rag.index.milvus import MilvusIndex

        return MilvusIndex(url, dim=dim, name=name, token=token)
    raise InvalidInput(
        f"Vector index URL {url!r} has an unknown scheme {parsed.scheme!r}; use {ACCEPTED_URLS}.",
        url=url,
    )

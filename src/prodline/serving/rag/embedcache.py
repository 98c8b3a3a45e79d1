"""An embedding cache by text, shared by the extractive answerer and the groundedness scorer.

Both embed the retrieved chunks' sentences on every call. Ingest stores those vectors
(:mod:`prodline.rag.sentences`), and :meth:`CachedEmbed.preload` puts the retrieved
hits' into the cache right after retrieval, so a chat embeds the question and the few
answer pieces that are not context sentences. Hits without stored vectors (a KB
ingested before, a widened hit) are embedded on first use and kept, as before.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from prodline.rag.embed import Embedder
    from prodline.rag.types import Hit
    from prodline.store.db import Database

__all__ = ["CachedEmbed"]


class CachedEmbed:
    """``embed(texts)`` with an LRU cache by text, shared by the answerer and the scorer.

    Chunk sentences come back request after request (the KB changes rarely), and
    :meth:`preload` fills them from the vectors ingest stored, so a call embeds little
    more than the question: misses go to the model in one batch. Vectors are read-only
    views; callers never modify them.
    """

    def __init__(self, embedder: Embedder, max_items: int = 50_000) -> None:
        self.embedder = embedder
        self.max_items = max_items
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

    def preload(self, db: Database, hits: Sequence[Hit]) -> int:
        """Cache the hits' sentence vectors stored at ingest (``prodline.rag.sentences``).

        Parameters
        ----------
        db : Database
            The workspace's database, holding ``kb_sentences``.
        hits : sequence of Hit
            The retrieved chunks.

        Returns
        -------
        int
            How many vectors were not cached before.
        """
        from prodline.rag.sentences import stored_vectors

        found = stored_vectors(db, [(h.chunk_id, h.text) for h in hits if h.text])
        with self._lock:
            new = 0
            for text, vector in found.items():
                if text not in self._cache:
                    new += 1
                    self._cache[text] = vector
                self._cache.move_to_end(text)
            while len(self._cache) > self.max_items:
                self._cache.popitem(last=False)
        return new

    def __call__(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        items = list(texts)
        found: dict[str, npt.NDArray[np.float32]] = {}
        with self._lock:
            for text in items:
                vector = self._cache.get(text)
                if vector is not None:
                    self._cache.move_to_end(text)
                    found[text] = vector
        missing = list(dict.fromkeys(t for t in items if t not in found))
        if missing:
            vectors = self.embedder.embed(missing)
            vectors.setflags(write=False)
            with self._lock:
                for text, vector in zip(missing, vectors, strict=True):
                    found[text] = self._cache[text] = vector
                while len(self._cache) > self.max_items:
                    self._cache.popitem(last=False)
        if not items:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.vstack([found[t] for t in items])

"""An embedding cache by text, shared by the extractive answerer and the groundedness scorer.

Both embed the retrieved chunks' sentences on every call, and a knowledge base changes
rarely: after warm-up a call embeds little more than the question.
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

__all__ = ["CachedEmbed"]


class CachedEmbed:
    """``embed(texts)`` with an LRU cache by text, shared by the answerer and the scorer.

    Chunk sentences come back request after request (the KB changes rarely), so after
    warm-up a call embeds little more than the question: misses go to the model in one
    batch. Vectors are read-only views; callers never modify them.
    """

    def __init__(self, embedder: Embedder, max_items: int = 50_000) -> None:
        self.embedder = embedder
        self.max_items = max_items
        self._cache: OrderedDict[str, npt.NDArray[np.float32]] = OrderedDict()
        self._lock = threading.Lock()

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

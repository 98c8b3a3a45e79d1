"""The server's embedding cache: each distinct text reaches the model once, order kept."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from prodline.serving.rag.embedcache import CachedEmbed


class _Counting:
    name, dim = "fake", 3

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.seen.append(list(texts))
        return np.array([[len(t), 1.0, 0.0] for t in texts], dtype=np.float32)

    def embed_query(self, text: str) -> npt.NDArray[np.float32]:
        return self.embed([text])[0]


def test_misses_are_embedded_once_in_one_batch_and_rows_keep_their_order() -> None:
    model = _Counting()
    embed = CachedEmbed(model, max_items=3)
    first = embed(["a", "bb", "a"])
    assert model.seen == [["a", "bb"]]
    assert first[:, 0].tolist() == [1.0, 2.0, 1.0]
    again = embed(["bb", "ccc"])
    assert model.seen[-1] == ["ccc"] and again[:, 0].tolist() == [2.0, 3.0]
    embed(["dddd"])  # evicts the least recently used ("a")
    embed(["a"])
    assert model.seen[-1] == ["a"]
    assert embed([]).shape == (0, 3)

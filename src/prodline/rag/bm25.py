"""Keyword retrieval: a BM25 index over chunk texts on ``bm25s`` (Lucene scoring).

Tokens are lower-cased words of two or more characters with English stopwords removed.
No stemmer: bm25s takes one only from PyStemmer, an extra dependency, and exact words
suit the names, codes and identifiers keyword search is there to catch (the vector
side already covers paraphrase).

A filter arrives as ``allowed`` and becomes bm25s's ``weight_mask`` (0 for rows the
caller may not see) before the top-k is taken, so a selective filter still yields
``k`` hits when ``k`` allowed chunks contain a query word: no over-fetch loop.

The index is static: ``build`` again after chunks change (between rebuilds, pass the
deleted ids' complement as ``allowed``). ``save`` is atomic like the vector index: a new
generation folder, committed by replacing ``MANIFEST.json``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import bm25s
import numpy as np

from prodline.errors import IntegrityError, InvalidInput, StoreUnavailable
from prodline.rag.index import _files

__all__ = ["Bm25Index"]

_FORMAT = 1
_PREFIXES = ("bm25.", ".tmp-bm25.")


def _tokenize(texts: list[str], *, ids: bool) -> Any:
    return bm25s.tokenize(
        texts, lower=True, stopwords="en", stemmer=None, return_ids=ids, show_progress=False
    )


class Bm25Index:
    """BM25 (Lucene variant, k1=1.5, b=0.75) keyed by chunk id.

    Examples
    --------
    >>> index = Bm25Index().build([1, 2, 3], ["red apples", "green pears", "red cars"])
    >>> [i for i, _ in index.search("red", k=5)]
    [1, 3]
    >>> [i for i, _ in index.search("red", k=5, allowed={3})]
    [3]
    """

    def __init__(self) -> None:
        self._retriever: Any = None
        self._ids = np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def build(self, ids: Sequence[int], texts: Sequence[str]) -> Bm25Index:
        """Index ``texts[i]`` under ``ids[i]``, replacing any previous content."""
        keys = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(keys) != len(texts):
            raise InvalidInput(f"Got {len(keys)} ids but {len(texts)} texts; pass one per id.")
        if len(np.unique(keys)) != len(keys):
            raise InvalidInput("Chunk ids repeat in the BM25 build; pass each id once.")
        if not all(isinstance(t, str) for t in texts):
            raise InvalidInput("BM25 texts must be strings.")
        self._ids = keys
        self._retriever = None
        if len(keys):
            retriever = bm25s.BM25(method="lucene")
            retriever.index(_tokenize(list(texts), ids=True), show_progress=False)
            self._retriever = retriever
        return self

    def search(
        self, query: str, k: int, allowed: set[int] | np.ndarray | None = None
    ) -> list[tuple[int, float]]:
        """Up to ``k`` ``(id, score)`` with at least one query word, best first.

        ``allowed`` restricts the candidates: a set or integer array of chunk ids, or a
        boolean array aligned with the ids given to ``build``. Ties go to the lower id.
        """
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise InvalidInput(f"k={k!r} is not valid; ask for at least 1 result.")
        if not isinstance(query, str):
            raise InvalidInput("BM25 query must be a string.")
        if self._retriever is None:
            return []
        mask = self._mask(allowed)
        tokens = _tokenize([query], ids=False)[0]
        token_ids = self._retriever.get_tokens_ids(tokens)
        if not token_ids:
            return []
        scores = self._retriever.get_scores_from_ids(token_ids, weight_mask=mask)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > k:
            hits = hits[np.argpartition(-scores[hits], k - 1)[:k]]
        order = np.lexsort((self._ids[hits], -scores[hits]))
        hits = hits[order]
        return list(zip(self._ids[hits].tolist(), scores[hits].astype(float).tolist(), strict=True))

    def _mask(self, allowed: set[int] | np.ndarray | None) -> np.ndarray | None:
        if allowed is None:
            return None
        if isinstance(allowed, np.ndarray) and allowed.dtype == np.bool_:
            if allowed.shape != self._ids.shape:
                raise InvalidInput(
                    f"A boolean allowed-mask needs {len(self._ids)} entries (one per built id)."
                )
            return allowed.astype(np.float32)
        wanted = (
            np.fromiter(allowed, np.int64, len(allowed))
            if isinstance(allowed, set | frozenset)
            else np.asarray(allowed, dtype=np.int64).reshape(-1)
        )
        return np.isin(self._ids, wanted).astype(np.float32)

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | os.PathLike[str]) -> None:
        """Write a new generation under ``directory`` and commit it with the manifest."""
        where = Path(directory)
        try:
            where.mkdir(parents=True, exist_ok=True)
            previous = _files.read_manifest(where)
            gen = int(previous["generation"]) + 1 if previous else 1
            name = f"bm25.{gen:08d}"
            tmp = where / f".tmp-{name}"
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir()
            with open(tmp / "ids.npy", "wb") as f:
                np.save(f, self._ids, allow_pickle=False)
            if self._retriever is not None:
                self._retriever.save(str(tmp / "bm25s"), show_progress=False)
            for path in sorted(tmp.rglob("*")):
                if path.is_file():
                    _files.fsync_file(path)
            shutil.rmtree(where / name, ignore_errors=True)  # left by a save that died
            os.replace(tmp, where / name)
            _files.fsync_dir(where)
            manifest = {
                "format": _FORMAT,
                "kind": "prodline-bm25",
                "generation": gen,
                "folder": name,
                "count": len(self._ids),
                "files": {f"{name}/ids.npy": _files.file_digest(where / name / "ids.npy")},
            }
            _files.write_manifest(where, manifest)
        except OSError as exc:
            raise StoreUnavailable(
                f"Cannot save the BM25 index in {where}: {exc}; free disk space or fix "
                "permissions, then save again (the last saved state is intact)."
            ) from exc
        _files.remove_unreferenced(where, {name}, _PREFIXES)

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Bm25Index:
        """The last committed save in ``directory`` (an empty index when there is none)."""
        where = Path(directory)
        manifest = _files.read_manifest(where)
        index = cls()
        if manifest is None:
            return index
        if manifest.get("format") != _FORMAT or manifest.get("kind") != "prodline-bm25":
            raise IntegrityError(f"{where} holds no prodline BM25 index this version can read.")
        _files.verify_files(where, manifest["files"])
        folder = where / manifest["folder"]
        try:
            index._ids = np.load(folder / "ids.npy", allow_pickle=False)
            if len(index._ids):
                index._retriever = bm25s.BM25.load(str(folder / "bm25s"), show_progress=False)
        except (OSError, ValueError, KeyError) as exc:
            raise IntegrityError(
                f"Cannot read the BM25 index in {folder}: {exc}; rebuild it from the chunks."
            ) from exc
        if index._retriever is not None and index._retriever.scores["num_docs"] != len(index._ids):
            raise IntegrityError(f"BM25 index in {folder} disagrees with its ids; rebuild it.")
        return index

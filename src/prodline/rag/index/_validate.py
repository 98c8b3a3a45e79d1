"""Input checks shared by the index backends: ids, unit vectors, queries, metadata.

Both backends take the same inputs and fail the same way, so the contract suite can
hold them to one set of messages.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from prodline.errors import InvalidInput
from prodline.rag.types import ChunkMeta

__all__ = ["as_ids", "as_query", "as_unit_rows", "check_k", "isin", "meta_columns"]


def as_ids(ids: Sequence[int], *, unique: bool = True) -> np.ndarray:
    try:
        keys = np.asarray(ids, dtype=np.int64).reshape(-1)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"Chunk ids must be 64-bit integers: {exc}.") from exc
    if unique and len(np.unique(keys)) != len(keys):
        raise InvalidInput("Chunk ids repeat within one upsert; pass each id once.")
    return keys


def as_unit_rows(vectors: np.ndarray, m: int, dim: int) -> np.ndarray:
    x = np.asarray(vectors, dtype=np.float32)
    if x.ndim == 1 and m == 1:
        x = x.reshape(1, -1)
    if x.ndim != 2 or x.shape != (m, dim):
        raise InvalidInput(
            f"Vectors have shape {x.shape}; expected ({m}, {dim}): one {dim}-d row per id."
        )
    norms = np.linalg.norm(x, axis=1)
    bad = np.flatnonzero(~np.isfinite(norms) | (norms == 0))
    if len(bad):
        raise InvalidInput(
            f"Vector at position {int(bad[0])} is zero or not finite; it cannot be normalized."
        )
    return np.ascontiguousarray(x / norms[:, None], dtype=np.float32)


def as_query(vector: np.ndarray, dim: int) -> np.ndarray:
    q = np.asarray(vector, dtype=np.float32).reshape(1, -1)
    if q.shape[1] != dim:
        raise InvalidInput(f"Query vector has {q.shape[1]} values; this index holds {dim}-d.")
    norm = math.sqrt(float(np.dot(q[0], q[0])))
    if not (norm > 0 and math.isfinite(norm)):
        raise InvalidInput("Query vector is zero or not finite; embed a non-empty query.")
    if abs(norm - 1.0) > 1e-4:
        q = q / np.float32(norm)
    return np.ascontiguousarray(q)


def meta_columns(keys: np.ndarray, metas: Sequence[ChunkMeta]) -> dict[str, np.ndarray]:
    m = len(keys)
    try:
        source = np.fromiter((c.source_id for c in metas), np.int64, m)
        owner = np.fromiter((c.owner_id for c in metas), np.int64, m)
        modified = np.fromiter((c.modified_at for c in metas), np.float64, m)
        sens = np.fromiter((c.sensitivity for c in metas), np.int64, m)
    except (AttributeError, TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"Chunk metadata must be ChunkMeta with numeric fields: {exc}.") from exc
    if not np.all(np.isfinite(modified)):
        raise InvalidInput("ChunkMeta.modified_at must be finite POSIX seconds.")
    if m and (sens.min() < 0 or sens.max() > 127):
        raise InvalidInput("ChunkMeta.sensitivity must be in 0..127 (SENSITIVITY_ORDER values).")
    return {
        "ids": keys,
        "source": source,
        "owner": owner,
        "modified": modified,
        "sensitivity": sens.astype(np.int8),
        "live": np.ones(m, np.bool_),
    }


def isin(column: np.ndarray, values: frozenset[int]) -> np.ndarray:
    wanted = np.fromiter(values, np.int64, len(values))
    return np.isin(column, wanted)


def check_k(k: int, limit: int = 16_384) -> int:
    """``k`` must be a positive int (Milvus caps a search at 16384 results)."""
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= limit:
        raise InvalidInput(f"k={k!r} is not valid; ask for 1 to {limit} results.")
    return k

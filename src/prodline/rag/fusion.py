"""Reciprocal rank fusion: merge rankings (BM25, vectors, …) by rank, not by score.

Scores from different retrievers live on different scales (BM25 is unbounded, cosine
is in [-1, 1]); RRF (Cormack, Clarke & Büttcher, SIGIR 2009) ignores them and sums
``1 / (k + rank)`` per ranking, which is robust without any tuning.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from prodline.errors import InvalidInput

__all__ = ["reciprocal_rank_fusion"]


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[tuple[int, float]]], *, k: int = 60, limit: int
) -> list[tuple[int, float, list[float | None]]]:
    """Fuse best-first ``(id, score)`` rankings into one.

    Parameters
    ----------
    rankings : sequence of rankings
        Each a best-first list of ``(id, score)``; an id repeated within one ranking
        counts at its first (best) rank only.
    k : int
        The RRF constant; larger values flatten the advantage of top ranks.
    limit : int
        How many fused results to return.

    Returns
    -------
    list of ``(id, fused_score, per_ranking_scores)``
        Best first; ties broken by ascending id so the order is deterministic.
        ``per_ranking_scores[j]`` is the id's original score in ranking ``j``, or None.

    Examples
    --------
    >>> bm25 = [(7, 12.5), (3, 9.0)]
    >>> vectors = [(3, 0.91), (5, 0.80)]
    >>> [(i, round(s, 5), p) for i, s, p in reciprocal_rank_fusion([bm25, vectors], limit=3)]
    [(3, 0.03252, [9.0, 0.91]), (7, 0.01639, [12.5, None]), (5, 0.01613, [None, 0.8])]
    """
    if isinstance(k, bool) or not isinstance(k, int) or k < 0:
        raise InvalidInput(f"RRF constant k={k!r} is not valid; use an int >= 0 (60 is usual).")
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidInput(f"limit={limit!r} is not valid; use an int >= 0.")
    parts: dict[int, list[float]] = {}
    originals: dict[int, list[float | None]] = {}
    width = len(rankings)
    for j, ranking in enumerate(rankings):
        seen: set[int] = set()
        for rank, (cid, score) in enumerate(ranking, start=1):
            if cid in seen:
                continue
            seen.add(cid)
            originals.setdefault(cid, [None] * width)[j] = float(score)
            parts.setdefault(cid, []).append(1.0 / (k + rank))
    # fsum is exact, so equal contributions give equal totals whatever their order.
    fused = {cid: math.fsum(terms) for cid, terms in parts.items()}
    order = sorted(fused, key=lambda cid: (-fused[cid], cid))[:limit]
    return [(cid, fused[cid], originals[cid]) for cid in order]

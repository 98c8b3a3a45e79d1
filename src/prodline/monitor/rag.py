"""RAG monitoring over the call log: groundedness, retrieval scores, query drift.

Input is the call log of one knowledge base (``ws.calls.read(kb, ...)``): one row per
chat or retrieve call with ``groundedness`` (chat answers), ``retrieval_scores`` (the
retriever's score of each chunk it returned, best first) and ``question``. The report:

- **groundedness**: per window (rows or time, as in ``performance``) the answers scored,
  the share below ``threshold`` (0.5 by default, the RAG server's), the mean score;
- **retrieval scores**: the distribution of the top hit's score and of all hits' scores
  (count, mean, quantiles 5/25/50/75/95 %, a 10-bin histogram of the top score), over
  the whole window and the mean top score per window. A falling top score means the
  questions are moving away from what the knowledge base holds;
- **query-embedding drift** against the KB's own chunk embeddings: the squared maximum
  mean discrepancy (MMD², unbiased) with a Gaussian (RBF) kernel
  ``exp(-d² / median(d²))`` over the pooled sample's squared distances (the median
  heuristic; ``bandwidth`` reports the kernel's sigma), and a
  permutation p-value (``permutations`` random relabellings of the pooled sample; p =
  (1 + #{MMD²_perm ≥ MMD²}) / (1 + permutations)); ``drift`` when p < ``alpha``. At most
  ``max_samples`` vectors per side are used (an even sample). Beside it, ``coverage``:
  each query's cosine similarity to its nearest chunk (mean, and the share under
  ``coverage_floor``), which says *which* queries the KB does not cover.

Questions and passages are different kinds of text, so their embeddings are seldom
distributed alike even when every question is on topic: read MMD² as a level to watch
over time (a jump when a new topic arrives) rather than a verdict on its own; the
coverage numbers are the plain-language view of the same thing.

Embeddings come in as arrays (the Workspace supplies them: chunk embeddings from the
store, query embeddings from the KB's embedder), so this module needs no RAG code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from prodline.errors import InvalidInput
from prodline.monitor.performance import parse_window

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["EmbeddingDrift", "RagReport", "RagWindow", "embedding_drift", "rag_report"]

_QUANTILES = (5, 25, 50, 75, 95)


@dataclass(frozen=True)
class EmbeddingDrift:
    """Query embeddings against chunk embeddings: MMD² (RBF kernel), p-value, coverage."""

    method: str
    mmd2: float
    p_value: float
    alpha: float
    drift: bool
    bandwidth: float
    permutations: int
    queries: int
    chunks: int
    coverage_mean: float
    coverage_floor: float
    share_uncovered: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class RagWindow:
    """One window of calls: how many, how grounded, how well retrieved."""

    start: datetime | None
    end: datetime | None
    calls: int
    answers: int
    below_threshold: int
    share_below: float | None
    mean_groundedness: float | None
    mean_top_score: float | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (times as ISO-8601)."""
        doc = dict(self.__dict__)
        for key in ("start", "end"):
            doc[key] = doc[key].isoformat() if doc[key] is not None else None
        return doc


@dataclass(frozen=True)
class RagReport:
    """Groundedness per window, retrieval-score distribution and query drift of one KB."""

    kb: str | None
    calls: int
    threshold: float
    answers: int
    share_below: float | None
    windows: tuple[RagWindow, ...]
    retrieval: Mapping[str, Any] = field(hash=False)
    embedding_drift: EmbeddingDrift | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "kb": self.kb,
            "calls": self.calls,
            "threshold": self.threshold,
            "answers": self.answers,
            "share_below": self.share_below,
            "windows": [w.to_dict() for w in self.windows],
            "retrieval": dict(self.retrieval),
            "embedding_drift": self.embedding_drift.to_dict() if self.embedding_drift else None,
        }


def rag_report(
    calls: pd.DataFrame,
    *,
    kb: str | None = None,
    threshold: float = 0.5,
    window: int | str | timedelta | None = None,
    query_embeddings: np.ndarray | None = None,
    chunk_embeddings: np.ndarray | None = None,
    alpha: float = 0.05,
    permutations: int = 200,
    max_samples: int = 500,
    seed: int = 0,
) -> RagReport:
    """Monitor one knowledge base's calls (see the module docstring).

    Parameters
    ----------
    calls
        ``ws.calls.read(kb, ...)``: ``groundedness``, ``retrieval_scores``, ``ts``.
    threshold
        Answers scoring below it count as ungrounded.
    window
        Calls per window, a span (``"1h"``), or None for one window.
    query_embeddings, chunk_embeddings
        Both given: the query-embedding drift is computed (rows are vectors).
    alpha, permutations, max_samples, seed
        The permutation test's level, size, sample cap per side and random seed.
    """
    if not 0.0 <= threshold <= 1.0:
        raise InvalidInput(
            f"threshold must be between 0 and 1, got {threshold}.", field="threshold"
        )
    kind, size = parse_window(window)
    if "ts" in calls.columns:
        calls = calls.sort_values("ts", kind="stable")
    ts = calls["ts"] if "ts" in calls.columns else None
    if kind == "time" and ts is None:
        raise InvalidInput("A time window needs a 'ts' column.", field="window")
    grounded = _floats(calls, "groundedness")
    scores = _score_lists(calls)
    top = np.array([s[0] if s else np.nan for s in scores], dtype=float)
    windows = []
    for part in _parts(len(calls), kind, size, ts):
        g = grounded[part]
        g = g[~np.isnan(g)]
        t = top[part]
        t = t[~np.isnan(t)]
        below = int((g < threshold).sum())
        windows.append(
            RagWindow(
                start=ts.iloc[part[0]].to_pydatetime() if ts is not None and len(part) else None,
                end=ts.iloc[part[-1]].to_pydatetime() if ts is not None and len(part) else None,
                calls=len(part),
                answers=len(g),
                below_threshold=below,
                share_below=below / len(g) if len(g) else None,
                mean_groundedness=float(g.mean()) if len(g) else None,
                mean_top_score=float(t.mean()) if len(t) else None,
            )
        )
    answered = grounded[~np.isnan(grounded)]
    drift = None
    if query_embeddings is not None and chunk_embeddings is not None:
        drift = embedding_drift(
            query_embeddings,
            chunk_embeddings,
            alpha=alpha,
            permutations=permutations,
            max_samples=max_samples,
            seed=seed,
        )
    all_scores = np.array([v for s in scores for v in s], dtype=float)
    return RagReport(
        kb=kb,
        calls=len(calls),
        threshold=threshold,
        answers=len(answered),
        share_below=float((answered < threshold).mean()) if len(answered) else None,
        windows=tuple(windows),
        retrieval={
            "top": _distribution(top[~np.isnan(top)], histogram=True),
            "all": _distribution(all_scores, histogram=False),
        },
        embedding_drift=drift,
    )


def embedding_drift(
    queries: np.ndarray,
    chunks: np.ndarray,
    *,
    alpha: float = 0.05,
    permutations: int = 200,
    max_samples: int = 500,
    seed: int = 0,
    coverage_floor: float = 0.3,
) -> EmbeddingDrift:
    """MMD² (RBF kernel, median bandwidth) of ``queries`` vs ``chunks`` with a
    permutation p-value, and the queries' nearest-chunk coverage.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> same = embedding_drift(rng.normal(size=(80, 8)), rng.normal(size=(80, 8)))
    >>> moved = embedding_drift(rng.normal(1.0, 1, size=(80, 8)), rng.normal(size=(80, 8)))
    >>> same.drift, moved.drift
    (False, True)
    """
    q = np.asarray(queries, dtype=np.float64)
    c = np.asarray(chunks, dtype=np.float64)
    for name, arr in (("query_embeddings", q), ("chunk_embeddings", c)):
        if arr.ndim != 2 or len(arr) < 2:
            raise InvalidInput(
                f"{name} must be a 2-D array of at least 2 vectors, got shape {arr.shape}.",
                field=name,
            )
    if q.shape[1] != c.shape[1]:
        raise InvalidInput(
            f"Query embeddings have {q.shape[1]} dimensions and chunk embeddings "
            f"{c.shape[1]}; embed the queries with the knowledge base's embedder.",
            field="query_embeddings",
        )
    if permutations < 1:
        raise InvalidInput("permutations must be at least 1.", field="permutations")
    rng = np.random.default_rng(seed)
    coverage = _coverage(q, c)
    q, c = _sample(q, max_samples, rng), _sample(c, max_samples, rng)
    pooled = np.vstack([q, c])
    sq = (pooled**2).sum(axis=1)
    dist2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * pooled @ pooled.T, 0.0)
    upper = dist2[np.triu_indices(len(pooled), k=1)]
    median = float(np.median(upper[upper > 0])) if (upper > 0).any() else 1.0
    bandwidth = float(np.sqrt(median / 2.0))  # k = exp(-d2 / (2 s2)), s2 = median(d2) / 2
    kernel = np.exp(-dist2 / median)
    n = len(q)
    observed = _mmd2(kernel, np.arange(n), np.arange(n, len(pooled)))
    exceed = 0
    for _ in range(permutations):
        order = rng.permutation(len(pooled))
        if _mmd2(kernel, order[:n], order[n:]) >= observed:
            exceed += 1
    p_value = (1 + exceed) / (1 + permutations)
    return EmbeddingDrift(
        method="mmd_rbf_permutation",
        mmd2=float(observed),
        p_value=float(p_value),
        alpha=alpha,
        drift=bool(p_value < alpha),
        bandwidth=bandwidth,
        permutations=permutations,
        queries=len(q),
        chunks=len(c),
        coverage_mean=float(coverage.mean()),
        coverage_floor=coverage_floor,
        share_uncovered=float((coverage < coverage_floor).mean()),
    )


# -- pieces ------------------------------------------------------------------------------
def _mmd2(kernel: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Unbiased MMD² from a precomputed kernel matrix and two index sets."""
    kaa = kernel[np.ix_(a, a)]
    kbb = kernel[np.ix_(b, b)]
    kab = kernel[np.ix_(a, b)]
    m, n = len(a), len(b)
    term_a = (kaa.sum() - np.trace(kaa)) / (m * (m - 1))
    term_b = (kbb.sum() - np.trace(kbb)) / (n * (n - 1))
    return float(term_a + term_b - 2.0 * kab.mean())


def _coverage(q: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Each query's cosine similarity to its nearest chunk."""
    qn = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
    cn = c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)
    best = np.full(len(qn), -1.0)
    for start in range(0, len(cn), 4096):
        best = np.maximum(best, (qn @ cn[start : start + 4096].T).max(axis=1))
    return best


def _sample(x: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    if len(x) <= limit:
        return x
    return x[np.sort(rng.choice(len(x), size=limit, replace=False))]


def _floats(calls: pd.DataFrame, column: str) -> np.ndarray:
    if column not in calls.columns:
        return np.full(len(calls), np.nan)
    return np.array(
        [np.nan if v is None else float(v) for v in calls[column].tolist()], dtype=float
    )


def _score_lists(calls: pd.DataFrame) -> list[list[float]]:
    if "retrieval_scores" not in calls.columns:
        return [[] for _ in range(len(calls))]
    out = []
    for value in calls["retrieval_scores"].tolist():
        if isinstance(value, list | tuple | np.ndarray):
            out.append([float(v) for v in value if v is not None])
        else:
            out.append([])
    return out


def _distribution(values: np.ndarray, *, histogram: bool) -> dict[str, Any]:
    if not len(values):
        return {"count": 0}
    doc: dict[str, Any] = {"count": len(values), "mean": float(values.mean())}
    for q, v in zip(_QUANTILES, np.percentile(values, _QUANTILES), strict=True):
        doc[f"p{q}"] = float(v)
    if histogram:
        counts, edges = np.histogram(values, bins=10)
        doc["histogram"] = {"counts": counts.tolist(), "edges": edges.tolist()}
    return doc


def _parts(rows: int, kind: str, size: int | float | None, ts: pd.Series | None) -> list[Any]:
    idx = np.arange(rows)
    if rows == 0:
        return []
    if kind == "all" or size is None:
        return [idx]
    if kind == "rows":
        return [idx[i : i + int(size)] for i in range(0, rows, int(size))]
    assert ts is not None
    moments = ts if ts.dt.tz is None else ts.dt.tz_convert(None)
    micros = moments.to_numpy().astype("datetime64[us]").astype("int64")
    bucket = micros // int(size * 1_000_000)
    return np.split(idx, np.flatnonzero(np.diff(bucket)) + 1)

"""Calibrated search relevance: the probability, in [0, 1], that a hit bears on the query.

Fusion scores (reciprocal rank, ≈ 0.03) order hits but mean nothing to a reader and
cannot be compared across queries. Each hit therefore also gets a *relevance*: a
logistic model (Platt scaling) over two features that exist for every hit whatever
the retriever that found it:

* ``cosine`` — the cosine of the query's embedding and the chunk's stored embedding
  (title and heading included, as ingest embedded it);
* ``coverage`` — the share of the query's content words (stemmed, question stop words
  dropped) found in the chunk's title, heading or text.

The shipped weights were fitted by ``bench/rag_calibrate.py`` on the train half of the
shipped evaluation set (``rag/evalsets/pydoc_topics.jsonl``; a hit is relevant when it
comes from the question's expected source, every hit of an unanswerable question is
not); the other half is held out and its numbers are printed by the same script. Refit
and paste when the embedder or the chunking changes.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from prodline.core.text import QUESTION_STOP_WORDS, stem, terms, words

__all__ = [
    "RELEVANCE_WEIGHTS",
    "RelevanceWeights",
    "coverage",
    "fit_weights",
    "query_terms",
    "relevance",
]


@dataclass(frozen=True)
class RelevanceWeights:
    """``relevance = sigmoid(intercept + cosine * c + coverage * v)``."""

    intercept: float
    cosine: float
    coverage: float


# Fitted by bench/rag_calibrate.py (train half of pydoc_topics.jsonl, MiniLM-L6-v2).
# Held-out (test half) hit-level ROC AUC: 0.777 (370 hits, 105 from the expected source).
RELEVANCE_WEIGHTS = RelevanceWeights(intercept=-3.74, cosine=3.19, coverage=1.841)


_ASKING = re.compile(r"\bhow\s+(?:long|much|many|often|soon|far|old|big|large)\b", re.I)


def query_terms(query: str) -> frozenset[str]:
    """The query's content-word stems: question stop words and the asking phrase
    ("how long", "how many" …, which says what kind of answer, not what about) dropped.

    >>> sorted(query_terms("How long does shipping take?"))
    ['ship']
    """
    return frozenset(terms(_ASKING.sub(" ", query), QUESTION_STOP_WORDS))


def coverage(wanted: frozenset[str], *texts: str) -> float:
    """Share of ``wanted`` stems found in any of ``texts`` (0 when nothing is wanted)."""
    if not wanted:
        return 0.0
    seen: set[str] = set()
    for text in texts:
        seen.update(words(text))
    found = {_stem(w) for w in seen if w not in QUESTION_STOP_WORDS}
    return len(wanted & found) / len(wanted)


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """``core.text.stem``, cached: a KB's vocabulary repeats from query to query."""
    return stem(word)


def relevance(cosine: float, cover: float, weights: RelevanceWeights = RELEVANCE_WEIGHTS) -> float:
    """The calibrated relevance of one hit, rounded to 4 places.

    >>> relevance(0.9, 1.0) > 0.5 > relevance(0.1, 0.0)
    True
    """
    z = weights.intercept + weights.cosine * cosine + weights.coverage * cover
    return round(1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z)))), 4)


def fit_weights(
    features: Sequence[tuple[float, float]], labels: Sequence[int], *, C: float = 1.0
) -> RelevanceWeights:
    """Fit the logistic weights from ``(cosine, coverage)`` rows and 0/1 labels."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=C).fit(np.asarray(features, dtype=float), list(labels))
    cos, cov = (round(float(c), 3) for c in model.coef_[0])
    return RelevanceWeights(round(float(model.intercept_[0]), 3), cos, cov)

"""Answer relevance and context relevance: the two scores next to faithfulness.

Faithfulness (:class:`~prodline.monitor.groundedness.GroundednessScorer`) asks whether
the answer is supported by the context. Two more questions decide whether a reader can
use it:

* **answer relevance** — does the answer address the question asked? Offline: the mean
  of (a) the best cosine between the question and an answer sentence (needs ``embed``)
  and (b) the share of the question's content words that the
  answer uses; lexical share alone without ``embed``.
* **context relevance** — do the retrieved chunks bear on the question? The best
  calibrated relevance among the retrieved hits (``Hit.relevance``, a probability fitted
  on the shipped evaluation set); ``None`` when the hits carry none.

Both are in [0, 1]; an abstention answers no question, so its answer relevance is
``None`` (not a failure: abstaining was the right call when the context is irrelevant).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import numpy as np

from prodline.core.text import QUESTION_STOP_WORDS, split_sentences, terms

__all__ = ["answer_relevance", "context_relevance"]

Embed = Callable[[Sequence[str]], np.ndarray]
_MARKER = re.compile(r"\s*\[\d+(?:\s*,\s*\d+)*\]")


def answer_relevance(question: str, answer: str, embed: Embed | None = None) -> float | None:
    """How well ``answer`` addresses ``question``, in [0, 1]; None for an empty answer.

    >>> answer_relevance("When are refunds issued?", "Refunds are issued within 14 days [1].")
    1.0
    >>> answer_relevance("When are refunds issued?", "Our office is in Paris.")
    0.0
    """
    text = _MARKER.sub("", answer).strip()
    if not text or not question.strip():
        return None
    wanted = set(terms(question, QUESTION_STOP_WORDS))
    used = set(terms(text, QUESTION_STOP_WORDS))
    share = len(wanted & used) / len(wanted) if wanted else 0.0
    if embed is None:
        return round(share, 4)
    # the answer's own sentences, markers kept: the faithfulness scorer embedded exactly
    # these, so a caching ``embed`` (the RAG server's) does not embed them again
    sentences = split_sentences(answer) or [answer]
    vectors = np.asarray(embed([question, *sentences]), dtype=np.float64)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    cosine = float(np.clip(vectors[1:] @ vectors[0], 0.0, 1.0).max())
    return round((cosine + share) / 2, 4)


def context_relevance(relevances: Sequence[float | None]) -> float | None:
    """The best calibrated relevance among the retrieved hits; None when none is known.

    >>> context_relevance([0.2, 0.81, None])
    0.81
    >>> context_relevance([]) is None
    True
    """
    known = [float(r) for r in relevances if r is not None]
    return round(max(known), 4) if known else None

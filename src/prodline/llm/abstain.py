"""Abstention: answer "The documents do not cover …" when the context cannot support one.

The decision is the same for every provider: when no retrieved passage has a calibrated
relevance (``Hit.relevance``, :mod:`prodline.rag.relevance`) of at least
``ABSTAIN_BELOW``, the offline answerer says the documents do not cover the question
and the prompt given to an LLM provider carries no passages and tells the model to say
so. Passages without a relevance (built by hand, from an older retriever) never trigger
it: there is nothing calibrated to decide on.

``ABSTAIN_BELOW`` was chosen by ``bench/rag_calibrate.py`` on the train half of the
shipped evaluation set: the fewest train errors (false plus missed abstentions) with
false abstention at most 5%, in the middle of the gap between the classes; the script
prints recall and false abstention on the held-out half.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ABSTAIN_BELOW", "Abstention", "NOT_COVERED", "abstention", "not_covered"]

# Calibrated by bench/rag_calibrate.py (see the module docstring). Best relevance in the
# top 5, train half (27 answerable, 9 not): answerable 0.34-0.59, unanswerable 0.05-0.23;
# the threshold sits mid-gap. Held-out half (31 answerable, 6 not): abstention recall
# 1.00 at false abstention 0.00 (answerable from 0.29, unanswerable up to 0.09).
ABSTAIN_BELOW = 0.2858
NOT_COVERED = "The documents do not cover"
_TRIM = re.compile(r"^\s*(?:please\s+)?|[\s?.!]+$", re.I)


@dataclass(frozen=True)
class Abstention:
    """Why an answer abstained: the best passage relevance and the threshold it missed."""

    best_relevance: float
    threshold: float
    retrieved: int = 1  # passages retrieved; 0 when nothing passed the search

    @property
    def reason(self) -> str:
        """One line for the response metadata and the log."""
        if not self.retrieved:
            return "no passages were retrieved"
        return (
            f"no retrieved passage is relevant enough: best relevance "
            f"{self.best_relevance:.2f} < threshold {self.threshold:.2f}"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{abstained, reason, best_relevance, threshold}``."""
        return {
            "abstained": True,
            "reason": self.reason,
            "best_relevance": self.best_relevance,
            "threshold": self.threshold,
        }


def abstention(hits: Sequence[Any], threshold: float = ABSTAIN_BELOW) -> Abstention | None:
    """An ``Abstention`` when calibrated hits exist and none reaches ``threshold``.

    No hits at all also abstain (best relevance 0). Hits without a ``relevance``
    attribute (or ``None``) leave the decision to the answerer: returns None.

    >>> from types import SimpleNamespace as H
    >>> abstention([H(relevance=0.1), H(relevance=0.2)], 0.5).reason
    'no retrieved passage is relevant enough: best relevance 0.20 < threshold 0.50'
    >>> abstention([H(relevance=0.7)], 0.5) is None
    True
    """
    if not hits:
        return Abstention(0.0, threshold, retrieved=0)
    values = [getattr(h, "relevance", None) for h in hits]
    known = [float(v) for v in values if v is not None]
    if len(known) < len(values):
        return None
    best = max(known)
    return Abstention(best, threshold) if best < threshold else None


def not_covered(question: str) -> str:
    """``The documents do not cover "<question>".``

    >>> not_covered("How do I bake bread?")
    'The documents do not cover "How do I bake bread".'
    """
    topic = _TRIM.sub("", " ".join(question.split()))[:200]
    return f'{NOT_COVERED} "{topic}".' if topic else f"{NOT_COVERED} this question."

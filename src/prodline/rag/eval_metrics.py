"""The metrics of a knowledge-base evaluation, as small pure functions.

Retrieval is judged on binary relevance: a retrieved chunk is relevant when it comes
from an expected source. A source counts once (its first chunk in the ranking), so a
question with one expected source has an ideal ranking of one relevant item.

Examples
--------
>>> hit_at_k([False, True, False], 1), hit_at_k([False, True, False], 5)
(0.0, 1.0)
>>> reciprocal_rank([False, False, True])
0.3333333333333333
>>> round(token_f1("the cat sat", "a cat sat down"), 4)
0.8
"""

from __future__ import annotations

import math
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "Abstention",
    "abstention",
    "contains_phrase",
    "hit_at_k",
    "ndcg_at_k",
    "normalize",
    "percentile",
    "reciprocal_rank",
    "token_f1",
]

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans(dict.fromkeys(string.punctuation + "“”‘’…", " "))


def hit_at_k(relevant: Sequence[bool], k: int) -> float:
    """1.0 when any of the first ``k`` results is relevant, else 0.0."""
    return 1.0 if any(relevant[:k]) else 0.0


def reciprocal_rank(relevant: Sequence[bool]) -> float:
    """1 / rank of the first relevant result (ranks from 1); 0.0 when none is."""
    for rank, rel in enumerate(relevant, start=1):
        if rel:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(relevant: Sequence[bool], k: int, ideal: int = 1) -> float:
    """Binary-gain nDCG over the first ``k`` results.

    DCG = sum over relevant ranks i of 1 / log2(i + 1); the ideal ranking puts
    ``min(ideal, k)`` relevant results first. ``ideal`` is how many relevant items exist
    (distinct expected sources); 0 gives 0.0.
    """
    best = min(ideal, k)
    if best <= 0:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, rel in enumerate(relevant[:k], start=1) if rel)
    idcg = sum(1.0 / math.log2(i + 1) for i in range(1, best + 1))
    return dcg / idcg


def normalize(text: str) -> str:
    """Lower case, punctuation and articles dropped, whitespace collapsed (SQuAD-style)."""
    text = unicodedata.normalize("NFKC", text).lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _singular(word: str) -> str:
    """A plural's final ``s`` dropped (``iterables`` -> ``iterable``; not ``class``)."""
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _tokens(text: str) -> str:
    return " ".join(_singular(w) for w in normalize(text).split())


def contains_phrase(answer: str, phrase: str) -> bool:
    """True when the normalized ``phrase`` occurs in the normalized ``answer`` on word
    boundaries ("in" is not found inside "print"), plurals matching their singular."""
    needle = _tokens(phrase)
    if not needle:
        return False
    return f" {needle} " in f" {_tokens(answer)} "


def token_f1(answer: str, reference: str) -> float:
    """Harmonic mean of token precision and recall between answer and reference.

    Tokens are the words of :func:`normalize`; shared tokens are counted with their
    multiplicity. Both empty gives 1.0, one empty 0.0.
    """
    pred, ref = normalize(answer).split(), normalize(reference).split()
    if not pred or not ref:
        return 1.0 if pred == ref else 0.0
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class Abstention:
    """How well abstentions match the unanswerable questions.

    ``precision``: of the abstentions, the share on unanswerable questions (``None``
    without any abstention); ``recall``: of the unanswerable questions, the share
    abstained on (``None`` without any); ``false_rate``: of the answerable questions, the
    share abstained on (``None`` without any).
    """

    precision: float | None
    recall: float | None
    false_rate: float | None
    abstained: int
    unanswerable: int


def abstention(answerable: Sequence[bool], abstained: Sequence[bool]) -> Abstention:
    """Abstention precision, recall and false-abstention rate over paired flags."""
    if len(answerable) != len(abstained):
        raise ValueError("answerable and abstained must have the same length")
    true_pos = sum(1 for a, s in zip(answerable, abstained, strict=True) if s and not a)
    false_pos = sum(1 for a, s in zip(answerable, abstained, strict=True) if s and a)
    unanswerable = sum(1 for a in answerable if not a)
    answerable_n = len(answerable) - unanswerable
    predicted = true_pos + false_pos
    return Abstention(
        precision=true_pos / predicted if predicted else None,
        recall=true_pos / unanswerable if unanswerable else None,
        false_rate=false_pos / answerable_n if answerable_n else None,
        abstained=predicted,
        unanswerable=unanswerable,
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0 to 100) with linear interpolation; ``None`` when empty."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = math.floor(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)

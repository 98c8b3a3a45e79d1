"""The offline extractive answerer: an answer built from retrieved sentences, with citations.

No model server, no network, deterministic. The retrieved chunks are split into
sentences and each sentence is scored by how well it supports the question:

* lexical support — BM25-style: for each content word of the question found in the
  sentence, its idf (computed over the retrieved sentences) times a saturated term
  frequency, divided by the total idf of the question's words, so a sentence covering
  the rare, specific words of the question scores near 1 and one sharing only common
  words scores near 0;
* an answer-type cue — a question asking *how long / when* favours sentences with a
  duration or day, one asking *how much / how many* favours sentences with an amount
  (``cue_bonus``, only for sentences that already share a word with the question);
* optionally, when an ``embed`` callable is given, the cosine similarity of sentence and
  question embeddings, blended in with weight ``embed_weight``.

The best sentences above ``min_score`` (at most ``max_sentences``, each at least
``relative`` x the best, near-duplicates dropped) are composed into an answer grouped by
chunk — strongest chunk first, sentences in source order within a chunk — each followed
by ``[n]``, where ``n`` numbers the distinct chunks cited. Nothing above the floor gives
"I could not find this in the knowledge base." and no citations.

Before any of that, abstention: when the passages carry a calibrated relevance and none
reaches ``abstain_below`` (:mod:`prodline.llm.abstain`), the answer is
``The documents do not cover "<question>".`` with no citations, rather than the best of
the near-misses.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from prodline.core.text import QUESTION_STOP_WORDS, passage_sentences, terms
from prodline.llm.abstain import ABSTAIN_BELOW, abstention, not_covered
from prodline.llm.tokens import count_message_tokens, count_tokens
from prodline.llm.types import Completion, LlmRequest, PassageLike, ProviderConfig

__all__ = [
    "ExtractiveProvider",
    "NOT_FOUND",
]

NOT_FOUND = "I could not find this in the knowledge base."
Embed = Callable[[list[str]], np.ndarray]

_K1, _B = 1.2, 0.75
_UNITS = r"(?:second|minute|hour|day|week|month|year)s?"
_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)day|daily|weekly|monthly|yearly|annually"
_CUES = (
    (
        re.compile(r"\b(?:how (?:long|soon|quickly|fast|often)|when|what time|deadline)\b", re.I),
        re.compile(rf"\b\d+(?:\.\d+)?\s*(?:\w+\s)?{_UNITS}\b|\b(?:{_DAYS})\b", re.I),
    ),
    (
        re.compile(r"\b(?:how (?:much|many)|cost|costs|price|fee|fees|charge)\b", re.I),
        re.compile(r"[$\u20ac\u00a3]\s?\d|\b\d", re.I),
    ),
)


def _terms(text: str) -> list[str]:
    return terms(text, QUESTION_STOP_WORDS)


@dataclass(frozen=True)
class _Sentence:
    hit: int  # index of the hit among the distinct retrieved chunks
    position: int  # index within its chunk
    text: str
    terms: tuple[str, ...]
    code: str = ""  # the code block this sentence introduces ("… is equivalent to"), if any


def _sentences(hits: Sequence[PassageLike]) -> list[_Sentence]:
    """Prose sentences and code blocks of each hit (``core.text.passage_sentences``); a
    sentence that ends its paragraph and leads into a code block carries it."""
    return [
        _Sentence(h, position, text, tuple(_terms(text)), code)
        for h, hit in enumerate(hits)
        for position, (text, code) in enumerate(passage_sentences(hit.text or ""))
    ]


def _cite(sentence: str, n: int, code: str = "") -> str:
    """``"… request."`` -> ``"… request [1]."``; a code block follows on its own lines."""
    if code:
        return f"{sentence.rstrip(':').rstrip()} [{n}]:\n\n{code}\n"
    if sentence[-1] in ".!?":
        return f"{sentence[:-1]} [{n}]{sentence[-1]}"
    return f"{sentence} [{n}]"


class ExtractiveProvider:
    """Composes answers from the best-supported retrieved sentences; cost 0."""

    def __init__(
        self,
        config: ProviderConfig | None = None,
        *,
        embed: Embed | None = None,
        min_score: float = 0.2,
        relative: float = 0.5,
        max_sentences: int = 3,
        embed_weight: float = 0.35,
        cue_bonus: float = 0.2,
        context_weight: float = 0.5,
        abstain_below: float = ABSTAIN_BELOW,
    ) -> None:
        self.config = config or ProviderConfig(
            name="extractive", kind="extractive", model="extractive", self_hosted=True
        )
        self.embed = embed
        self.min_score = min_score
        self.relative = relative
        self.max_sentences = max_sentences
        self.embed_weight = embed_weight
        self.cue_bonus = cue_bonus
        self.context_weight = context_weight
        self.abstain_below = abstain_below

    def __repr__(self) -> str:
        return f"ExtractiveProvider(min_score={self.min_score}, embed={self.embed is not None})"

    def close(self) -> None:
        """Nothing to release."""

    def score(
        self,
        question: str,
        sentences: Sequence[_Sentence],
        context: Sequence[frozenset[str]] = (),
    ) -> list[float]:
        """Support of each sentence for ``question``, roughly in [0, 1].

        ``context`` holds, per hit, the terms of its title, heading and file name: a
        question word found there but not in the sentence still counts, at
        ``context_weight``, so "how many instances in the iris dataset" prefers the
        sentence under the *Iris* heading over the same sentence about digits.
        """
        wanted = set(_terms(question))
        if not sentences or not wanted:
            return [0.0] * len(sentences)
        n = len(sentences)
        df = Counter(t for s in sentences for t in set(s.terms))
        idf = {t: math.log(1.0 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in wanted}
        total = sum(idf.values())
        avg = sum(len(s.terms) for s in sentences) / n or 1.0
        scores = []
        for s in sentences:
            tf = Counter(s.terms)
            norm = _K1 * (1 - _B + _B * len(s.terms) / avg)
            hit = sum(idf[t] * tf[t] * (_K1 + 1) / (tf[t] + norm) for t in wanted if t in tf)
            if hit and s.hit < len(context):
                around = sum(idf[t] for t in wanted if t not in tf and t in context[s.hit])
                hit += self.context_weight * around
            scores.append(hit / total)
        cues = [has for asks, has in _CUES if asks.search(question)]
        scores = [
            value + self.cue_bonus if value > 0 and any(c.search(s.text) for c in cues) else value
            for value, s in zip(scores, sentences, strict=True)
        ]
        if self.embed is not None:
            vectors = np.asarray(self.embed([question, *(s.text for s in sentences)]), dtype=float)
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            cosine = np.clip(vectors[1:] @ vectors[0], 0.0, 1.0)
            w = self.embed_weight
            scores = [(1 - w) * lex + w * float(c) for lex, c in zip(scores, cosine, strict=True)]
        return scores

    def _pick(self, question: str, hits: Sequence[PassageLike]) -> list[tuple[float, _Sentence]]:
        sentences = _sentences(hits)
        context = [
            frozenset(_terms(f"{h.title} {h.heading} {h.source.rsplit('/', 1)[-1]}")) for h in hits
        ]
        ranked = sorted(
            zip(self.score(question, sentences, context), sentences, strict=True),
            key=lambda pair: (-pair[0], pair[1].hit, pair[1].position),
        )
        if not ranked or ranked[0][0] < self.min_score:
            return []
        floor = max(self.min_score, self.relative * ranked[0][0])
        chosen: list[tuple[float, _Sentence]] = []
        for value, sentence in ranked:
            if value < floor or len(chosen) == self.max_sentences:
                break
            if not any(_similar(sentence, other) for _, other in chosen):
                chosen.append((value, sentence))
        return chosen

    def answer(
        self, question: str, hits: Sequence[PassageLike], max_tokens: int = 512
    ) -> tuple[list[str], list[int]]:
        """The answer as citation-marked sentences, and the chunk ids cited, in order."""
        distinct = list({h.chunk_id: h for h in hits}.values())
        if distinct and abstention(distinct, self.abstain_below) is not None:
            return [not_covered(question)], []
        chosen = self._pick(question, distinct)
        while True:
            pieces, cited = _compose(chosen, distinct)
            if len(chosen) <= 1 or count_tokens(" ".join(pieces)) <= max_tokens:
                return pieces, cited
            chosen = chosen[:-1]  # drop the weakest sentence until it fits

    def complete(self, request: LlmRequest) -> Completion:
        """Answer offline with the passages' best-matching sentences, each cited."""
        return self._run(request)[1]

    def stream(self, request: LlmRequest) -> Iterator[str | Completion]:
        """One delta per sentence, then the ``Completion``; joined deltas equal its text."""
        pieces, completion = self._run(request)
        for i, piece in enumerate(pieces):
            yield piece if i == 0 else " " + piece
        yield completion

    def _run(self, request: LlmRequest) -> tuple[list[str], Completion]:
        started = time.perf_counter()
        pieces, cited = self.answer(request.question, request.hits, request.max_tokens)
        text = " ".join(pieces)
        context = sum(count_tokens(h.text) for h in request.hits)
        completion = Completion(
            text=text,
            provider=self.config.name,
            model=self.config.model,
            input_tokens=count_message_tokens(request.messages) + context,
            output_tokens=count_tokens(text),
            latency_ms=(time.perf_counter() - started) * 1000.0,
            cost_usd=0.0,
            citations=cited,
            finish_reason="stop",
            usage_source="counted",
        )
        return pieces, completion


def _similar(a: _Sentence, b: _Sentence) -> bool:
    if a.text.casefold() == b.text.casefold():
        return True
    sa, sb = set(a.terms), set(b.terms)
    return bool(sa | sb) and len(sa & sb) / len(sa | sb) >= 0.8


def _compose(
    chosen: list[tuple[float, _Sentence]], hits: Sequence[PassageLike]
) -> tuple[list[str], list[int]]:
    if not chosen:
        return [NOT_FOUND], []
    order: list[int] = []  # hit indexes, strongest first (chosen is sorted by score)
    for _, sentence in chosen:
        if sentence.hit not in order:
            order.append(sentence.hit)
    pieces: list[str] = []
    for n, h in enumerate(order, start=1):
        own = sorted((s for _, s in chosen if s.hit == h), key=lambda s: s.position)
        shown = {s.text for s in own}
        pieces.extend(_cite(s.text, n, "" if s.code in shown else s.code) for s in own)
    return pieces, [hits[h].chunk_id for h in order]

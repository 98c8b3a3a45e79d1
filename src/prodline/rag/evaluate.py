"""Evaluate a knowledge base on a question set: retrieval, answers, abstention, latency.

Question sets are described in :mod:`prodline.rag.eval_questions`.

:func:`evaluate` asks an :class:`Answerer` — retrieval for the ranking metrics, and the
RAG server's chat path for the answer (``ws.kbs.evaluate`` composes it) — and returns an
:class:`EvalReport`. The metric definitions live in :mod:`prodline.rag.eval_metrics`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from statistics import fmean
from typing import Any, Protocol

from prodline.errors import InvalidInput
from prodline.rag import eval_metrics as m
from prodline.rag.eval_questions import (
    SHIPPED_SETS,
    EvalQuestion,
    load_questions,
    resolve_question_set,
    set_sha256,
    write_pydoc_corpus,
)
from prodline.rag.types import Hit

__all__ = [
    "LEXICAL",
    "SHIPPED_SETS",
    "Answered",
    "Answerer",
    "EvalQuestion",
    "EvalReport",
    "Grader",
    "QuestionResult",
    "evaluate",
    "load_questions",
    "resolve_question_set",
    "set_sha256",
    "source_matches",
    "write_pydoc_corpus",
]


LEXICAL = "key phrase / token F1"

Grader = Callable[[str, str, str], bool | None]
"""``grade(question, answer, reference) -> bool | None``: a judge's verdict on whether the
answer states the reference's fact; ``None`` when it could not say (the lexical score then
stands in and the run counts a judge failure). Injected by the composition layer
(``prodline.serving.rag.judge``), so this part never calls an LLM itself."""


@dataclass(frozen=True)
class Answered:
    """What the chat path gave for one question."""

    text: str
    abstained: bool
    faithfulness: float | None = None
    answer_relevance: float | None = None
    citations: tuple[int, ...] = ()
    reason: str = ""


class Answerer(Protocol):
    """Retrieval and the chat answer for one knowledge base."""

    def retrieve(self, question: str, k: int) -> list[Hit]:
        """The ``k`` best chunks for ``question``, best first."""
        ...

    def answer(self, question: str) -> Answered:
        """The chat path's answer to ``question`` (retrieval included)."""
        ...


@dataclass(frozen=True)
class QuestionResult:
    """One question's outcome."""

    id: str
    question: str
    answerable: bool
    rank: int | None  # of the first relevant chunk, from 1; None when not found / not judged
    relevant: tuple[bool, ...]
    answer: str
    abstained: bool
    correct: float | None  # key phrase (0/1) or token F1; None when not judged
    token_f1: float | None
    faithfulness: float | None
    answer_relevance: float | None
    latency_ms: float
    sources: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "id": self.id,
            "question": self.question,
            "answerable": self.answerable,
            "rank": self.rank,
            "answer": self.answer,
            "abstained": self.abstained,
            "correct": self.correct,
            "token_f1": self.token_f1,
            "faithfulness": self.faithfulness,
            "answer_relevance": self.answer_relevance,
            "latency_ms": round(self.latency_ms, 3),
            "retrieved_sources": list(self.sources),
        }


@dataclass(frozen=True)
class EvalReport:
    """Aggregate metrics and per-question results of one evaluation run."""

    metrics: dict[str, float | None]
    counts: dict[str, int]
    results: tuple[QuestionResult, ...] = field(repr=False)
    k: int = 10
    variant: str = "hybrid"
    correctness_method: str = LEXICAL

    def to_dict(self, *, questions: bool = True) -> dict[str, Any]:
        """JSON-ready form; ``questions=False`` leaves the per-question rows out."""
        out: dict[str, Any] = {
            "variant": self.variant,
            "k": self.k,
            "correctness_method": self.correctness_method,
            "metrics": {k: _round(v) for k, v in self.metrics.items()},
            "counts": dict(self.counts),
        }
        if questions:
            out["questions"] = [r.to_dict() for r in self.results]
        return out

    def rows(self) -> list[tuple[str, str]]:
        """(metric, formatted value) pairs for a table, in reading order."""
        return [(name, _fmt(name, value)) for name, value in self.metrics.items()]


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _fmt(name: str, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f}" if name.endswith(("_ms", "_words")) else f"{value:.3f}"


# -- evaluation ------------------------------------------------------------------------
def source_matches(source: str, expected: str) -> bool:
    """True when a chunk's ``source`` is the ``expected`` file: the same path, a path that
    ends with it, or a file whose name without suffix equals it (``assert`` ~ ``assert.md``)."""
    got = source.replace("\\", "/").rstrip("/")
    want = expected.replace("\\", "/").strip("/")
    if got == want or got.endswith("/" + want):
        return True
    name = got.rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[0] == want


def _relevant(q: EvalQuestion, hits: Sequence[Hit]) -> tuple[bool, ...]:
    """Per hit: from an expected source (and section), counting each source once."""
    flags: list[bool] = []
    seen: set[str] = set()
    for h in hits:
        found = next((s for s in q.sources if source_matches(h.source, s)), None)
        ok = found is not None if q.sources else True
        if q.section is not None:
            ok = ok and q.section.lower() in (h.heading or "").lower()
        key = f"{found or ''}#{q.section or ''}"
        if ok and key not in seen:
            seen.add(key)
            flags.append(True)
        else:
            flags.append(False)
    return tuple(flags)


def _correct(q: EvalQuestion, answered: Answered) -> tuple[float | None, float | None]:
    """(correctness, token F1) of an answer to an answerable question."""
    f1 = m.token_f1(answered.text, q.reference) if q.reference else None
    if answered.abstained:
        return 0.0, (0.0 if q.reference else None)
    if q.key_phrases:
        return (1.0 if any(m.contains_phrase(answered.text, p) for p in q.key_phrases) else 0.0), f1
    return f1, f1


def _judged(
    q: EvalQuestion, answered: Answered, lexical: float | None, grader: Grader
) -> tuple[float | None, bool]:
    """(correctness, judge failed) by the judge; the lexical score when it cannot say."""
    if answered.abstained:
        return 0.0, False
    reference = q.reference or " / ".join(q.key_phrases)
    if not reference:
        return lexical, False
    try:
        verdict = grader(q.question, answered.text, reference)
    except Exception:  # a judge outage must not lose the run: the lexical score stands in
        verdict = None
    if verdict is None:
        return lexical, True
    return (1.0 if verdict else 0.0), False


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if present else None


def evaluate(
    questions: Sequence[EvalQuestion],
    answerer: Answerer,
    *,
    k: int = 10,
    variant: str = "hybrid",
    answer: bool = True,
    grader: Grader | None = None,
    judge: str | None = None,
) -> EvalReport:
    """Run every question through ``answerer`` and aggregate the metrics.

    Retrieval metrics (hit@1, hit@5, MRR, nDCG@k) cover the answerable questions that
    name a source or section; correctness (key phrase, else token F1) the answerable
    ones with a key phrase or reference, an abstention counting as wrong; faithfulness
    and answer relevance the answers given (not abstained); abstention all questions.
    Latency is the chat path's (retrieval and answer) per question; ``answer_words`` the
    median length of the answers given to answerable questions (a key phrase is easier
    to hit in a long quote). ``answer=False``
    measures retrieval alone: the answer metrics are then ``None`` and the latency is
    the retrieval's.

    With a ``grader`` (the configured judge, named ``judge`` in the report's
    ``correctness_method`` as ``judge:NAME``), each answerable question with a reference
    or key phrase is graded yes/no by it instead; where it fails or answers neither, the
    lexical score stands in and ``counts["judge_failures"]`` counts it.
    """
    if not questions:
        raise InvalidInput("No questions to evaluate.", field="questions")
    results: list[QuestionResult] = []
    failures = 0
    for q in questions:
        t0 = time.perf_counter()
        hits = answerer.retrieve(q.question, k)
        relevant = _relevant(q, hits) if q.judged_on_retrieval else ()
        if answer:
            t0 = time.perf_counter()
            answered = answerer.answer(q.question)
        else:
            answered = _NOT_ASKED
        latency = (time.perf_counter() - t0) * 1000.0
        correct, f1 = _correct(q, answered) if q.answerable and answer else (None, None)
        if grader is not None and q.answerable and answer:
            correct, failed = _judged(q, answered, correct, grader)
            failures += failed
        results.append(
            QuestionResult(
                id=q.id,
                question=q.question,
                answerable=q.answerable,
                rank=next((i for i, r in enumerate(relevant, start=1) if r), None),
                relevant=relevant,
                answer=answered.text,
                abstained=answered.abstained,
                correct=correct,
                token_f1=f1,
                faithfulness=None if answered.abstained else answered.faithfulness,
                answer_relevance=None if answered.abstained else answered.answer_relevance,
                latency_ms=latency,
                sources=tuple(h.source for h in hits),
            )
        )
    report = _aggregate(questions, results, k=k, variant=variant)
    if grader is not None and answer:
        report = replace(report, correctness_method=f"judge:{judge or 'custom'}")
        report.counts["judge_failures"] = failures
    if not answer:
        for name in _ANSWER_METRICS:
            report.metrics[name] = None
        report.counts["abstained"] = 0
    return report


_NOT_ASKED = Answered(text="", abstained=False)
_ANSWER_METRICS = (
    "correctness",
    "token_f1",
    "faithfulness",
    "answer_relevance",
    "abstention_precision",
    "abstention_recall",
    "false_abstention",
    "answer_words",
)


def _aggregate(
    questions: Sequence[EvalQuestion], results: list[QuestionResult], *, k: int, variant: str
) -> EvalReport:
    judged = [(q, r) for q, r in zip(questions, results, strict=True) if q.judged_on_retrieval]
    ideal = [max(1, len(q.sources)) for q, _ in judged]
    absent = m.abstention([r.answerable for r in results], [r.abstained for r in results])
    latencies = [r.latency_ms for r in results]
    metrics: dict[str, float | None] = {
        "hit@1": _mean([m.hit_at_k(r.relevant, 1) for _, r in judged]),
        "hit@5": _mean([m.hit_at_k(r.relevant, 5) for _, r in judged]),
        "mrr": _mean([m.reciprocal_rank(r.relevant) for _, r in judged]),
        f"ndcg@{k}": _mean(
            [m.ndcg_at_k(r.relevant, k, n) for (_, r), n in zip(judged, ideal, strict=True)]
        ),
        "correctness": _mean([r.correct for r in results if r.answerable]),
        "token_f1": _mean([r.token_f1 for r in results if r.answerable]),
        "faithfulness": _mean([r.faithfulness for r in results if r.answerable]),
        "answer_relevance": _mean([r.answer_relevance for r in results if r.answerable]),
        "abstention_precision": absent.precision,
        "abstention_recall": absent.recall,
        "false_abstention": absent.false_rate,
        "latency_p50_ms": m.percentile(latencies, 50),
        "latency_p95_ms": m.percentile(latencies, 95),
        "answer_words": m.percentile(
            [len(r.answer.split()) for r in results if r.answerable and not r.abstained], 50
        ),
    }
    counts = {
        "questions": len(results),
        "answerable": sum(1 for r in results if r.answerable),
        "unanswerable": absent.unanswerable,
        "retrieval_judged": len(judged),
        "abstained": absent.abstained,
    }
    return EvalReport(metrics=metrics, counts=counts, results=tuple(results), k=k, variant=variant)

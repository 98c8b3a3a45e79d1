"""The evaluation harness: question sets, aggregation by hand, evidence, the shipped set."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from pydoc_data import topics

import orjson
import pytest

from prodline.errors import InvalidInput
from prodline.rag.eval_metrics import contains_phrase
from prodline.rag.evaluate import (
    SHIPPED_SETS,
    Answered,
    EvalQuestion,
    evaluate,
    load_questions,
    source_matches,
    write_pydoc_corpus,
)
from prodline.rag.types import Hit
from prodline.workspace import Workspace


class FakeAnswerer:
    """Canned rankings and answers per question."""

    def __init__(self, ranked: dict[str, Sequence[str]], answers: dict[str, Answered]) -> None:
        self.ranked = ranked
        self.answers = answers
        self.asked: list[tuple[str, int]] = []

    def retrieve(self, question: str, k: int) -> list[Hit]:
        self.asked.append((question, k))
        return [
            Hit(chunk_id=i, score=1.0 / (i + 1), source=s, heading=s.upper())
            for i, s in enumerate(self.ranked.get(question, ())[:k])
        ]

    def answer(self, question: str) -> Answered:
        return self.answers[question]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(r) for r in rows) + b"\n")
    return path


QUESTIONS = [
    EvalQuestion("q1", "what colour is the sky", sources=("docs/a.md",), key_phrases=("blue",)),
    EvalQuestion("q2", "do cats sleep", sources=("c",), reference="cats sleep a lot"),
    EvalQuestion("q3", "how do I fly", answerable=False),
]
FAKE = FakeAnswerer(
    ranked={
        "what colour is the sky": ["/x/b.md", "/x/docs/a.md", "/x/docs/a.md"],
        "do cats sleep": ["/x/c.txt"],
        "how do I fly": ["/x/b.md"],
    },
    answers={
        "what colour is the sky": Answered("The sky is blue [1].", False, 0.9, 0.6),
        "do cats sleep": Answered("Cats sleep.", False, 0.7, 0.4),
        "how do I fly": Answered("The documents do not cover flying.", True),
    },
)


def test_aggregate_by_hand() -> None:
    report = evaluate(QUESTIONS, FAKE, k=10)
    got = report.metrics
    assert got["hit@1"] == 0.5  # q1 ranks a.md 2nd, q2 ranks c 1st
    assert got["hit@5"] == 1.0
    assert got["mrr"] == 0.75  # (1/2 + 1) / 2
    assert got["ndcg@10"] == pytest.approx((0.6309 + 1.0) / 2, abs=1e-4)  # second a.md: no gain
    # q1 key phrase found (1); q2 token F1 of "cats sleep" vs "cats sleep a lot" = 0.8
    assert got["correctness"] == pytest.approx(0.9)
    assert got["token_f1"] == pytest.approx(0.8)
    assert got["faithfulness"] == pytest.approx(0.8)
    assert got["answer_relevance"] == pytest.approx(0.5)
    assert got["abstention_precision"] == 1.0
    assert got["abstention_recall"] == 1.0
    assert got["false_abstention"] == 0.0
    assert got["latency_p50_ms"] is not None and got["latency_p50_ms"] >= 0.0
    assert got["answer_words"] == 3.5  # "The sky is blue [1]." (5) and "Cats sleep." (2)
    assert report.counts == {
        "questions": 3,
        "answerable": 2,
        "unanswerable": 1,
        "retrieval_judged": 2,
        "abstained": 1,
    }
    assert [r.rank for r in report.results] == [2, 1, None]
    assert ("what colour is the sky", 10) in FAKE.asked
    assert dict(report.rows())["hit@1"] == "0.500"
    assert report.to_dict(questions=False)["metrics"]["mrr"] == 0.75


def test_abstaining_on_an_answerable_question_is_wrong() -> None:
    fake = FakeAnswerer(
        ranked={"what colour is the sky": ["a.md"], "how do I fly": []},
        answers={
            "what colour is the sky": Answered("The documents do not cover blue skies.", True),
            "how do I fly": Answered("Flap harder.", False, 0.2),
        },
    )
    report = evaluate([QUESTIONS[0], QUESTIONS[2]], fake)
    assert report.metrics["correctness"] == 0.0  # "blue" is in it, but it abstained
    assert report.metrics["abstention_precision"] == 0.0
    assert report.metrics["abstention_recall"] == 0.0
    assert report.metrics["false_abstention"] == 1.0
    assert report.metrics["faithfulness"] is None  # no answerable question was answered


def test_section_relevance() -> None:
    q = EvalQuestion("s", "sky", sources=("a.md",), section="Colours", key_phrases=("blue",))
    fake = FakeAnswerer(
        ranked={"sky": ["a.md", "colours.md", "b/a.md"]},
        answers={"sky": Answered("blue", False)},
    )
    # headings are the upper-cased sources: only "colours.md" carries "colours"; it is
    # not a.md, so nothing is relevant
    assert evaluate([q], fake).metrics["hit@5"] == 0.0
    q2 = EvalQuestion("s", "sky", section="Colours", key_phrases=("blue",))
    assert evaluate([q2], fake).results[0].rank == 2


def test_source_matches() -> None:
    assert source_matches("/home/u/docs/assert.md", "assert.md")
    assert source_matches("docs/assert.md", "docs/assert.md")
    assert source_matches("C:\\docs\\assert.md", "assert.md")
    assert source_matches("/docs/assert.md", "assert")
    assert not source_matches("/docs/not-assert.md", "assert.md")
    assert not source_matches("/docs/assert.md", "with.md")


def test_load_questions_and_errors(tmp_path: Path) -> None:
    good = _write(
        tmp_path / "q.jsonl",
        [
            {"question": "a?", "source": ["x.md", "y.md"], "key_phrase": "p"},
            {"id": "u", "question": "b?", "answerable": False},
        ],
    )
    qs = load_questions(good)
    assert [q.id for q in qs] == ["q1", "u"]
    assert qs[0].sources == ("x.md", "y.md") and qs[0].key_phrases == ("p",)
    assert not qs[1].answerable
    cases = [
        ({"question": ""}, "question"),
        ({"question": "a?"}, "needs a source"),
        ({"question": "a?", "answerable": False, "source": "x.md"}, "unanswerable"),
        ({"question": "a?", "source": "x.md", "colour": 1}, "unknown field 'colour'"),
        ({"question": "a?", "key_phrase": []}, "key_phrase"),
        ({"question": "a?", "source": "x", "answerable": "no"}, "true or false"),
    ]
    for row, message in cases:
        bad = _write(tmp_path / "bad.jsonl", [{"question": "ok?", "source": "x"}, row])
        with pytest.raises(InvalidInput, match=message) as info:
            load_questions(bad)
        assert "bad.jsonl:2" in info.value.message
    (tmp_path / "broken.jsonl").write_text("{not json\n")
    with pytest.raises(InvalidInput, match=r"broken\.jsonl:1: not valid JSON"):
        load_questions(tmp_path / "broken.jsonl")
    with pytest.raises(InvalidInput, match="shipped set"):
        load_questions(tmp_path / "missing.jsonl")
    dup = _write(tmp_path / "dup.jsonl", [{"id": "a", "question": "x", "source": "s"}] * 2)
    with pytest.raises(InvalidInput, match="used twice"):
        load_questions(dup)


def test_shipped_set_is_honest() -> None:
    """>= 60 questions, >= 20% unanswerable, every key phrase in its expected topic."""
    qs = load_questions("pydoc_topics")
    assert SHIPPED_SETS["pydoc_topics"].is_file()
    assert len(qs) >= 60
    unanswerable = [q for q in qs if not q.answerable]
    assert len(unanswerable) / len(qs) >= 0.20
    for q in qs:
        if not q.answerable:
            continue
        assert q.sources and q.key_phrases, q.id
        topic = q.sources[0].removesuffix(".md")
        assert topic in topics.topics, q.id
        assert any(contains_phrase(topics.topics[topic], p) for p in q.key_phrases), q.id


def test_write_pydoc_corpus(tmp_path: Path) -> None:
    written = write_pydoc_corpus(tmp_path / "pydoc")
    assert len(written) == len(topics.topics)
    text = (tmp_path / "pydoc" / "comparisons.md").read_text(encoding="utf-8")
    assert text.startswith("# Comparisons\n")
    assert "\n## Identity comparisons\n" in text
    assert "====" not in text


def test_kbs_evaluate_records_evidence(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    ws.kbs.create("sky", owner="docs")
    report = ws.kbs.evaluate("sky", QUESTIONS, answerer=FAKE)
    assert report.metrics["mrr"] == 0.75
    (ev,) = ws.evidence.list("kb:sky@0")
    assert ev.kind == "rag_eval" and ev.passed is None
    assert ev.summary["metrics"]["hit@5"] == 1.0
    assert ev.summary["counts"]["questions"] == 3
    assert ev.summary["question_set"] == "inline"
    ws.kbs.evaluate("sky", QUESTIONS, answerer=FAKE, record=False)
    assert len(ws.evidence.list("kb:sky@0")) == 1


def test_retrieval_only() -> None:
    report = evaluate(QUESTIONS, FAKE, answer=False, variant="bm25")
    assert report.metrics["mrr"] == 0.75
    assert report.metrics["correctness"] is None
    assert report.metrics["abstention_recall"] is None
    assert report.counts["abstained"] == 0
    assert report.results[0].answer == ""
    assert report.to_dict()["variant"] == "bm25"

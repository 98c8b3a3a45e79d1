"""``prodline kb eval`` with ``[llm] judge``: correctness graded yes/no by a real
OpenAI-compatible server (the fake one), the lexical score standing in for a bad reply."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rag_support import KB, REFUND_Q, copy_home, open_ws, template

from prodline.rag.evaluate import LEXICAL, Answered, EvalQuestion, evaluate
from prodline.rag.types import Hit
from prodline.serving.rag.judge import CorrectnessJudge, parse_verdict
from prodline.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "llm"))
from llm_test_servers import FakeServers, running_fake_servers

QUESTIONS = [
    EvalQuestion("refund", REFUND_Q, sources=("refunds.md",), key_phrases=("14 days",)),
    EvalQuestion(
        "shipping",
        "How long does standard shipping take within the country?",
        sources=("shipping.md",),
        reference="three to five working days",
    ),
    EvalQuestion("mongolia", "What is the capital city of Mongolia?", answerable=False),
]


@pytest.fixture(scope="module")
def judge() -> Iterator[FakeServers]:
    with running_fake_servers() as servers:
        yield servers


@pytest.fixture
def judged_ws(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, judge: FakeServers
) -> Iterator[Workspace]:
    judge.openai.reset()
    home = copy_home(template(tmp_path_factory), tmp_path / "home")
    (home / "prodline.toml").write_text(
        f"""[llm]
fallback = ["extractive"]
judge = "fake"

[llm.providers.fake]
kind = "openai"
model = "judge"
base_url = "{judge.openai_url}"
timeout_s = 5
retries = 0
""",
        encoding="utf-8",
    )
    with open_ws(home) as ws:
        yield ws


def _graded(servers: FakeServers) -> list[str]:
    """The correctness questions the judge was asked (not the groundedness ones)."""
    asked = []
    for request in servers.openai.requests:
        text = "\n".join(str(m.get("content", "")) for m in request["body"]["messages"])
        if "REFERENCE:" in text:
            asked.append(text)
    return asked


def test_the_judge_grades_correctness(judged_ws: Workspace, judge: FakeServers) -> None:
    lexical = judged_ws.kbs.evaluate(
        KB, QUESTIONS, answerer=judged_ws.rag_answerer(KB), record=False
    )
    assert lexical.correctness_method == LEXICAL
    answered = [r for r in lexical.results if r.answerable and not r.abstained]
    assert answered, "the extractive answerer should answer the covered questions"

    judge.openai.reply = "no"
    judge.openai.requests.clear()
    said_no = judged_ws.kbs.evaluate(KB, QUESTIONS)
    asked = _graded(judge)
    assert len(asked) == len(answered)  # answered, answerable questions only
    assert "Reply with exactly 'yes' or 'no'." in asked[0]
    assert "REFERENCE: 14 days" in asked[0] or "REFERENCE: 14 days" in asked[-1]
    assert {m for r in judge.openai.requests for m in [r["body"]["model"]]} == {"judge"}
    assert said_no.correctness_method == "judge:fake"
    assert said_no.metrics["correctness"] == 0.0
    assert said_no.counts["judge_failures"] == 0

    judge.openai.reply = "Yes."
    said_yes = judged_ws.kbs.evaluate(KB, QUESTIONS)
    assert said_yes.metrics["correctness"] == pytest.approx(len(answered) / 2)
    (ev, *_) = reversed(judged_ws.evidence.list(f"kb:{KB}@{judged_ws.kbs.get(KB).version}"))
    assert ev.summary["correctness_method"] == "judge:fake"
    assert ev.summary["counts"]["judge_failures"] == 0


def test_a_garbage_reply_falls_back_to_the_lexical_score(
    judged_ws: Workspace, judge: FakeServers
) -> None:
    lexical = judged_ws.kbs.evaluate(
        KB, QUESTIONS, answerer=judged_ws.rag_answerer(KB), record=False
    )
    judge.openai.reply = "It depends on how you read the reference."
    report = judged_ws.kbs.evaluate(KB, QUESTIONS, record=False)
    answered = sum(1 for r in report.results if r.answerable and not r.abstained)
    assert report.counts["judge_failures"] == answered
    assert report.correctness_method == "judge:fake"
    assert [r.correct for r in report.results] == [r.correct for r in lexical.results]


def test_a_failing_judge_falls_back_and_is_counted() -> None:
    def down(messages: list[dict[str, str]]) -> str:
        raise ConnectionError("judge down")

    class Canned:
        def retrieve(self, question: str, k: int) -> list[Hit]:
            return []

        def answer(self, question: str) -> Answered:
            return Answered("Refunds take 14 days.", False)

    report = evaluate(QUESTIONS[:1], Canned(), grader=CorrectnessJudge(down, name="x"), judge="x")
    assert report.metrics["correctness"] == 1.0  # the key phrase, lexically
    assert report.counts["judge_failures"] == 1
    assert report.to_dict()["correctness_method"] == "judge:x"


@pytest.mark.parametrize(
    ("reply", "verdict"),
    [("yes", True), ("No.", False), (" 'YES' ", True), ("yes, it does", None), ("", None)],
)
def test_parse_verdict(reply: str, verdict: bool | None) -> None:
    assert parse_verdict(reply) is verdict

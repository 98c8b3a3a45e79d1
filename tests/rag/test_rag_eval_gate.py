"""The KB quality gate: ``[rag.gate]`` minimums against the latest ``rag_eval`` evidence,
``prodline kb gate`` (exit 0 / 1 / 2) and ``prodline serve rag KB --require-gate``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from prodline.errors import InvalidInput
from prodline.rag.eval_gate import GATE_KEYS, RagGatePolicy, check_kb_gate
from prodline.rag.evaluate import Answered, EvalQuestion
from prodline.rag.types import Hit
from prodline.workspace import Workspace

QUESTIONS = [
    EvalQuestion("q1", "what colour is the sky", sources=("a.md",), key_phrases=("blue",)),
    EvalQuestion("q2", "how do I fly", answerable=False),
]
GATE = """[rag.gate]
min_hit_at_5 = 0.9
min_correctness = 0.75
min_abstention_recall = 0.9
max_false_abstention = 0.05
"""


class Canned:
    """Ranks a.md first; answers q1 with ``sky`` and abstains on q2."""

    def __init__(self, sky: str) -> None:
        self.sky = sky

    def retrieve(self, question: str, k: int) -> list[Hit]:
        return [Hit(chunk_id=1, score=1.0, source="/d/a.md", heading="A")]

    def answer(self, question: str) -> Answered:
        if "sky" in question:
            return Answered(self.sky, False, 0.9, 0.9)
        return Answered("The documents do not cover flying.", True)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"min_hit5": 0.9}, "rag.gate.min_hit5 is not a known key; valid: max_false_abstention"),
        ({"min_mrr": "high"}, "rag.gate.min_mrr must be a number"),
        ({"min_mrr": True}, "rag.gate.min_mrr must be a number"),
        ([1], "rag.gate must be a table"),
    ],
)
def test_bad_gate_tables_name_the_key(table: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message.replace("[", r"\[")):
        RagGatePolicy.parse(table)


def test_every_gate_key_names_a_reported_metric() -> None:
    reported = {"hit@1", "hit@5", "mrr", "ndcg@10", "correctness", "token_f1", "faithfulness"}
    reported |= {"answer_relevance", "abstention_precision", "abstention_recall"}
    reported |= {"false_abstention", "latency_p50_ms", "latency_p95_ms"}
    assert {metric for metric, _ in GATE_KEYS.values()} == reported


def test_check_kb_gate() -> None:
    policy = RagGatePolicy.parse({"min_hit_at_5": 0.9, "min_correctness": 0.75})
    ok = check_kb_gate(policy, "docs", 1, {"hit@5": 0.9, "correctness": 0.8})
    assert ok.passed and ok.reasons == ()
    unmeasured = check_kb_gate(policy, "docs", 1, {"hit@5": 1.0, "correctness": None})
    assert not unmeasured.passed
    assert unmeasured.reasons == ("correctness was not measured by the latest evaluation",)
    none = check_kb_gate(policy, "docs", 1, None)
    assert not none.passed and "run prodline kb eval first" in none.reasons[0]
    with pytest.raises(InvalidInput, match=r"add a \[rag.gate\] table"):
        check_kb_gate(RagGatePolicy.parse({}), "docs", 1, None)


def _home(make_ws: Callable[..., Workspace], tmp_path: Path, gate: str = GATE) -> Workspace:
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "prodline.toml").write_text(gate, encoding="utf-8")
    ws = make_ws(home=home)
    ws.kbs.create("sky", owner="docs")
    return ws


def test_kb_gate_cli(make_ws: Callable[..., Workspace], tmp_path: Path, cli: Any) -> None:
    ws = _home(make_ws, tmp_path)
    first = cli("kb", "gate", "sky")
    assert first.code == 1
    assert "run prodline kb eval first" in first.out

    ws.kbs.evaluate("sky", QUESTIONS, answerer=Canned("The sky is blue."))
    passed = cli("kb", "gate", "sky", "--json")
    assert passed.code == 0, passed.out + passed.err
    body = orjson.loads(passed.out)
    assert body["passed"] is True and body["subject"] == "kb:sky@0"
    assert {c["metric"] for c in body["checks"]} == {
        "hit@5",
        "correctness",
        "abstention_recall",
        "false_abstention",
    }

    ws.kbs.evaluate("sky", QUESTIONS, answerer=Canned("It is green."))  # the latest run counts
    failed = cli("kb", "gate", "sky")
    assert failed.code == 1
    assert "correctness 0.000 is below the minimum 0.75" in failed.out
    events = [e for e in ws.audit.events() if e.action == "kb.gate_checked"]
    assert [e.payload["passed"] for e in events] == [False, True, False]
    assert events[-1].subject == "kb:sky@0"

    refused = cli("serve", "rag", "sky", "--require-gate", "--port", "1")
    assert refused.code == 2
    assert "Not serving kb:sky@0: its quality gate fails (correctness 0.000" in refused.err
    assert len(refused.err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("gate", "message"),
    [
        ("[rag.gate]\nmin_recall = 0.9\n", "rag.gate.min_recall is not a known key"),
        ("[rag]\nembedder = 'torch'\n", "add a [rag.gate] table"),
    ],
)
def test_kb_gate_user_errors_exit_2(
    make_ws: Callable[..., Workspace], tmp_path: Path, cli: Any, gate: str, message: str
) -> None:
    _home(make_ws, tmp_path, gate)
    result = cli("kb", "gate", "sky")
    assert result.code == 2
    assert message in result.err

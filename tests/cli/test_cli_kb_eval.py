"""``prodline kb eval`` and ``kb eval-corpus`` as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from pydoc_data import topics
from typing import TYPE_CHECKING

import pytest

from prodline.workspace import Workspace

if TYPE_CHECKING:
    from conftest import Result

CLI = Callable[..., "Result"]


def test_eval_corpus_writes_the_pydoc_topics(cli: CLI, tmp_path: Path) -> None:
    done = cli("kb", "eval-corpus", str(tmp_path / "pydoc"))
    assert done.code == 0, done.err
    assert f"wrote {len(topics.topics)} pydoc topics" in done.out
    assert (tmp_path / "pydoc" / "assert.md").read_text().startswith("# The ")
    wrong = cli("kb", "eval-corpus", str(tmp_path / "x"), "--corpus", "sphinx")
    assert wrong.code == 2 and "Unknown corpus 'sphinx'" in wrong.err


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (None, "neither a file nor a shipped set"),
        (['{"question": "a?"}'], "q.jsonl:1: an answerable question needs a source"),
        (["{oops"], "q.jsonl:1: not valid JSON"),
    ],
)
def test_eval_mistakes_are_one_line_exit_2(
    cli: CLI, tmp_path: Path, lines: list[str] | None, message: str
) -> None:
    assert cli("init").code == 0
    assert cli("kb", "create", "docs", "--owner", "team").code == 0
    path = tmp_path / "q.jsonl"
    if lines is not None:
        path.write_text("\n".join(lines) + "\n")
    done = cli("kb", "eval", "docs", str(path))
    assert done.code == 2
    assert message in done.err
    assert len(done.err.strip().splitlines()) == 1


@pytest.mark.slow
def test_eval_prints_the_table_and_records_evidence(cli: CLI, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text(
        "# Refunds\n\nRefunds are issued within 14 days of the request.\n"
    )
    (docs / "shipping.md").write_text(
        "# Shipping\n\nStandard delivery takes 3 to 5 business days.\n"
    )
    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(q)
            for q in [
                {
                    "question": "How long do refunds take?",
                    "source": "refunds.md",
                    "key_phrase": "14 days",
                },
                {
                    "question": "How long is standard delivery?",
                    "source": "shipping.md",
                    "key_phrase": "3 to 5 business days",
                },
                {"question": "Which colour is the logo?", "answerable": False},
            ]
        )
        + "\n"
    )
    assert cli("init").code == 0
    assert cli("kb", "create", "shop", "--owner", "support").code == 0
    assert cli("kb", "ingest", "shop", str(docs)).code == 0
    done = cli("kb", "eval", "shop", str(questions))
    assert done.code == 0, done.err
    for metric in ("hit@1", "hit@5", "mrr", "ndcg@10", "correctness", "abstention_recall"):
        assert metric in done.out
    assert "3 questions (1 unanswerable)" in done.out
    assert "rag_eval evidence on kb:shop@1" in done.out
    as_json = cli("kb", "eval", "shop", str(questions), "--json", "--no-record")
    report = json.loads(as_json.out)
    assert report["metrics"]["hit@5"] == 1.0  # two documents: the right one is in the top 5
    assert report["counts"] == {
        "questions": 3,
        "answerable": 2,
        "unanswerable": 1,
        "retrieval_judged": 2,
        "abstained": report["counts"]["abstained"],
    }
    assert [q["id"] for q in report["questions"]] == ["q1", "q2", "q3"]
    ws = Workspace.open(tmp_path / "home")
    try:
        (evidence,) = ws.evidence.list("kb:shop@1")  # the --no-record run left none
    finally:
        ws.close()
    assert evidence.kind == "rag_eval"
    assert evidence.summary["question_set"] == "q"
    assert evidence.summary["metrics"]["hit@5"] == 1.0

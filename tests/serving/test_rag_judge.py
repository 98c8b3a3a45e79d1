"""``[llm] judge``: groundedness from an LLM judge, through the gateway's routing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rag_support import (
    KB,
    PII_Q,
    REFUND_Q,
    closed_url,
    copy_home,
    in_process,
    open_ws,
    openai_over,
    template,
)

from prodline.workspace import Workspace


def _judge_config(home: Path, judge: str) -> None:
    (home / "prodline.toml").write_text(
        f"""[llm]
fallback = ["extractive"]
judge = "{judge}"

[llm.providers.dead]
kind = "openai"
model = "gpt-dead"
base_url = "{closed_url()}"
timeout_s = 2
retries = 0
""",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def judged_ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    home = copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-judge") / "home")
    _judge_config(home, "dead")
    with open_ws(home) as ws:
        yield ws


@pytest.mark.parametrize("question", [REFUND_Q, PII_Q])
def test_an_unreachable_or_ineligible_judge_falls_back_to_the_offline_score(
    judged_ws: Workspace, question: str
) -> None:
    with in_process(judged_ws, k=2) as http:
        resp = openai_over(http).chat.completions.create(
            model=KB, messages=[{"role": "user", "content": question}]
        )
    grounded = (resp.model_extra or {})["groundedness"]
    assert grounded["method"] == "offline (judge failed)"
    assert 0.0 <= grounded["score"] <= 1.0

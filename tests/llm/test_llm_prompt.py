"""Prompt building and citation renumbering (whole text and streamed)."""

from __future__ import annotations

import pytest

from prodline.llm import ChatMessage, build_messages, renumber_citations
from prodline.llm.prompt import SYSTEM_PROMPT, CitationRenumberer, numbered_hits
from prodline.rag.types import Hit

HITS = [
    Hit(chunk_id=7, score=1.0, text="Alpha.", title="Doc A", heading="Intro"),
    Hit(chunk_id=9, score=0.9, text="Beta."),
    Hit(chunk_id=7, score=0.5, text="Alpha."),  # same chunk twice: numbered once
    Hit(chunk_id=4, score=0.4, text="Gamma.", title="Doc C"),
]


def test_build_messages_numbers_context_and_keeps_history() -> None:
    messages = [
        ChatMessage("system", "Answer in French."),
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello"),
        ChatMessage("user", "What is alpha?"),
    ]
    built = build_messages(messages, HITS)
    assert [m.role for m in built] == ["system", "user", "assistant", "user"]
    assert built[0].content == SYSTEM_PROMPT + "\n\nAnswer in French."
    assert built[1:3] == messages[1:3]
    last = built[-1].content
    assert "[1] (Doc A — Intro)\nAlpha." in last and "[2]\nBeta." in last
    assert "[3] (Doc C)\nGamma." in last and "[4]" not in last
    assert last.endswith("Question: What is alpha?")
    assert [h.chunk_id for h in numbered_hits(HITS)] == [7, 9, 4]


def test_build_messages_without_context_says_so() -> None:
    built = build_messages([ChatMessage("user", "Q?")], [])
    assert "(no passages were retrieved)" in built[-1].content


@pytest.mark.parametrize(
    ("raw", "text", "citations"),
    [
        ("Alpha [1].", "Alpha [1].", [7]),
        (
            "Gamma [3]. Alpha [1]. Gamma again [3].",
            "Gamma [1]. Alpha [2]. Gamma again [1].",
            [4, 7],
        ),
        ("Both [3, 1].", "Both [1, 2].", [4, 7]),
        ("Twice [2,2].", "Twice [1].", [9]),
        ("Made up [9]. Real [2].", "Made up . Real [1].", [9]),
        ("No citations.", "No citations.", []),
        ("A list [a] and [ 1 ] text.", "A list [a] and [ 1 ] text.", []),
    ],
)
def test_renumber_citations(raw: str, text: str, citations: list[int]) -> None:
    assert renumber_citations(raw, HITS) == (text, citations)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 8])
def test_streamed_renumbering_matches_whole_text(size: int) -> None:
    raw = "Gamma [3]. Alpha [1, 3]. An open bracket [ stays. Ends with [2"
    expected, cited = renumber_citations(raw, HITS)
    renumber = CitationRenumberer(HITS)
    out = "".join(renumber.feed(raw[i : i + size]) for i in range(0, len(raw), size))
    out += renumber.finish()
    assert out == expected and renumber.citations == cited
    assert expected.endswith("Ends with [2")  # an unclosed marker is plain text

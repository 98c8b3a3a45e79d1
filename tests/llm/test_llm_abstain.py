"""Abstention: calibrated relevance below the threshold → "The documents do not cover …"."""

from __future__ import annotations

from dataclasses import dataclass

from prodline.llm import ChatMessage, LlmRequest
from prodline.llm.abstain import ABSTAIN_BELOW, NOT_COVERED, abstention, not_covered
from prodline.llm.prompt import build_messages, numbered_hits, renumber_citations
from prodline.llm.providers import NOT_FOUND, ExtractiveProvider
from prodline.llm.types import Passage


@dataclass(frozen=True)
class Scored:
    """A passage with a calibrated relevance, as ``prodline.rag.Hit`` has it."""

    chunk_id: int
    relevance: float | None
    score: float = 0.03
    text: str = "Refunds are issued within 14 days of receiving the returned item."
    title: str = "Refund policy"
    heading: str = ""
    source: str = "refunds.md"
    sensitivity: str = "none"


QUESTION = "How long do refunds take to be issued?"


def test_decision_uses_the_best_relevance_and_the_threshold() -> None:
    assert abstention([Scored(1, 0.9), Scored(2, 0.1)]) is None
    low = abstention([Scored(1, 0.2), Scored(2, 0.1)], 0.35)
    assert low is not None and low.best_relevance == 0.2 and low.threshold == 0.35
    assert "0.20 < threshold 0.35" in low.reason
    assert low.to_dict()["abstained"] is True
    assert abstention([Scored(1, ABSTAIN_BELOW)]) is None  # at the threshold: answer


def test_uncalibrated_passages_never_abstain_and_no_passages_do() -> None:
    assert abstention([Passage(chunk_id=1, score=1.0)]) is None
    assert abstention([Scored(1, None), Scored(2, 0.0)]) is None
    empty = abstention([])
    assert empty is not None and empty.reason == "no passages were retrieved"


def test_not_covered_names_the_question() -> None:
    assert (
        not_covered("  How do I bake bread?? ")
        == 'The documents do not cover "How do I bake bread".'
    )
    assert not_covered("?") == "The documents do not cover this question."


def _ask(hits: list[Scored]) -> str:
    request = LlmRequest(messages=[ChatMessage("user", QUESTION)], hits=hits)
    return ExtractiveProvider().complete(request).text


def test_extractive_answerer_abstains_instead_of_quoting_near_misses() -> None:
    relevant = _ask([Scored(1, 0.8)])
    assert "14 days" in relevant and relevant.endswith("[1].")
    out = ExtractiveProvider().complete(
        LlmRequest(messages=[ChatMessage("user", QUESTION)], hits=[Scored(1, 0.1)])
    )
    assert out.text == not_covered(QUESTION) and out.text.startswith(NOT_COVERED)
    assert out.citations == []
    # the same passage without a calibrated relevance is still quoted (old behaviour)
    plain = [Passage(chunk_id=1, score=1.0, text=Scored(1, 0.1).text)]
    assert (
        "14 days"
        in ExtractiveProvider()
        .complete(LlmRequest(messages=[ChatMessage("user", QUESTION)], hits=plain))
        .text
    )
    assert (
        _ask([]) != NOT_COVERED
        and ExtractiveProvider()
        .complete(LlmRequest(messages=[ChatMessage("user", QUESTION)], hits=[]))
        .text
        == NOT_FOUND
    )


def test_provider_prompt_withholds_irrelevant_passages_and_says_how_to_abstain() -> None:
    hits = [Scored(1, 0.1), Scored(2, 0.2)]
    built = build_messages([ChatMessage("user", QUESTION)], hits)
    system, user = built[0].content, built[-1].content
    assert "No retrieved passage is relevant enough" in system
    assert not_covered(QUESTION) in system
    assert "Refunds are issued" not in user and "(no passages were retrieved)" in user
    assert numbered_hits(hits) == []
    assert renumber_citations("Refunds take 14 days [1].", hits) == ("Refunds take 14 days .", [])
    relevant = build_messages([ChatMessage("user", QUESTION)], [Scored(1, 0.9)])
    assert "No retrieved passage" not in relevant[0].content
    assert "[1] (Refund policy)" in relevant[-1].content
    assert _ask([]) == NOT_FOUND  # nothing retrieved: the answerer's own "not found"

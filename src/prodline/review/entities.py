"""The review queue's plain data: policies, items, queue health, and the routing rule.

A :class:`ReviewPolicy` says which answers of one model or knowledge base a human sees:
in ``hold`` mode (models only) the answer waits for the decision; in ``after`` mode it
goes out and a copy is queued. :func:`route` applies a policy to one score; the servers
call it on their hot path, so it is pure and allocates nothing.

Examples
--------
>>> p = ReviewPolicy("model", "credit-risk", "after", threshold=0.6, sample_rate=0.0)
>>> route(p, 0.52, draw=0.9), route(p, 0.75, draw=0.9), route(None, 0.1, draw=0.0)
('queue', None, None)
>>> route(ReviewPolicy("model", "m", "hold", threshold=None), 0.99, draw=0.5)
'hold'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

__all__ = [
    "DECIDED",
    "DECISIONS",
    "KINDS",
    "MODES",
    "PENDING",
    "STATUSES",
    "QueueHealth",
    "ReviewItem",
    "ReviewPolicy",
    "route",
]

KINDS: Final[tuple[str, ...]] = ("model", "kb")
"""What a policy or item is about: a registered model or a knowledge base."""

MODES: Final[tuple[str, ...]] = ("hold", "after")
"""``hold``: the answer waits for the decision; ``after``: it goes out, a copy is queued."""

PENDING: Final[tuple[str, ...]] = ("open", "claimed")
"""Statuses of items still waiting for a decision."""

DECIDED: Final[tuple[str, ...]] = ("approved", "edited", "rejected")
"""Statuses of decided items (decisions are final)."""

STATUSES: Final[tuple[str, ...]] = PENDING + DECIDED
"""Every status an item can have."""

DECISIONS: Final[dict[str, str]] = {"approve": "approved", "edit": "edited", "reject": "rejected"}
"""A reviewer's decision → the status it gives the item."""


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True)
class ReviewPolicy:
    """Which answers of one model (or knowledge base) go to a human, and how fast.

    ``threshold``: a score under it is held (hold mode) or queued (after mode); ``None``
    holds every answer in hold mode and leaves only sampling in after mode.
    ``sample_rate``: in after mode, the share of the other answers queued too (0..1).
    ``sla_s``: an item still pending after this many seconds breaches the SLA (one
    alert). ``webhook``: receives the decided item as JSON.
    """

    kind: str
    subject: str
    mode: str
    threshold: float | None = None
    sample_rate: float = 0.0
    sla_s: float = 4 * 3600.0
    webhook: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain data; the webhook in full (policies are shown to their configurers)."""
        return {
            "kind": self.kind,
            "subject": self.subject,
            "mode": self.mode,
            "threshold": self.threshold,
            "sample_rate": self.sample_rate,
            "sla_s": self.sla_s,
            "webhook": self.webhook,
        }


def route(policy: ReviewPolicy | None, score: float | None, draw: float) -> str | None:
    """``"hold"``, ``"queue"`` or ``None`` for one answer with ``score`` under ``policy``.

    ``draw`` is the caller's ``random.random()`` (sampling in after mode). Hold mode
    holds when there is no threshold, no score, or the score is under the threshold;
    after mode queues a score under the threshold, or a draw under the sample rate.
    """
    if policy is None:
        return None
    threshold = policy.threshold
    if policy.mode == "hold":
        if threshold is None or score is None or score < threshold:
            return "hold"
        return None
    if threshold is not None and score is not None and score < threshold:
        return "queue"
    if draw < policy.sample_rate:
        return "queue"
    return None


@dataclass(frozen=True)
class ReviewItem:
    """One answer waiting for (or having had) a human decision.

    ``input``/``output`` are JSON values: for a model the request's rows and the
    server's per-row outputs, for a knowledge base ``{"question", "contexts"}`` and
    ``{"answer"}``. ``final_output`` is what the reviewer let out: the output when
    approved, their own when edited, ``None`` when rejected.
    """

    id: int
    kind: str
    subject: str
    version: int | None
    mode: str
    reason: str
    request_id: str | None
    input: Any
    output: Any
    score: float | None
    status: str
    claimed_by: str | None
    claimed_at: datetime | None
    final_output: Any
    comment: str
    decided_by: str | None
    decided_at: datetime | None
    created_at: datetime
    due_at: datetime
    webhook_status: str | None = field(default=None, compare=False)

    @property
    def pending(self) -> bool:
        """Whether the item still waits for a decision (open or claimed)."""
        return self.status in PENDING

    def to_dict(self) -> dict[str, Any]:
        """Everything about the item, times as ISO 8601."""
        return {
            "id": self.id,
            "kind": self.kind,
            "subject": self.subject,
            "version": self.version,
            "mode": self.mode,
            "reason": self.reason,
            "request_id": self.request_id,
            "input": self.input,
            "output": self.output,
            "score": self.score,
            "status": self.status,
            "claimed_by": self.claimed_by,
            "claimed_at": _iso(self.claimed_at),
            "final_output": self.final_output,
            "comment": self.comment,
            "decided_by": self.decided_by,
            "decided_at": _iso(self.decided_at),
            "created_at": _iso(self.created_at),
            "due_at": _iso(self.due_at),
            "webhook_status": self.webhook_status,
        }

    def public(self) -> dict[str, Any]:
        """What a client polling ``GET /v1/reviews/{id}`` sees: status and released output."""
        return {
            "review_id": self.id,
            "status": "pending_review" if self.pending else self.status,
            "output": None if self.pending else self.final_output,
            "decided_at": _iso(self.decided_at),
        }


@dataclass(frozen=True)
class QueueHealth:
    """How the queue is doing: backlog, age of the oldest open item, SLA breaches.

    ``per_reviewer`` maps each reviewer to ``{"claimed": n, "decided": n}`` (items they
    hold now, items they decided).
    """

    open: int
    claimed: int
    oldest_open_age_s: float | None
    breaches: int
    per_reviewer: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain data."""
        return {
            "open": self.open,
            "claimed": self.claimed,
            "oldest_open_age_s": self.oldest_open_age_s,
            "breaches": self.breaches,
            "per_reviewer": {k: dict(v) for k, v in self.per_reviewer.items()},
        }

"""What the queue does besides claims and decisions: health, labels, SLA alerts, webhooks.

The worker calls ``check_sla`` and ``deliver_webhooks`` every 15 s. An SLA breach is
raised once per item (``sla_alerted_at`` is set by compare-and-swap in the alert's
transaction). A decided item of a policy with a webhook is POSTed there as JSON
(``ReviewItem.public()`` plus ``kind``, ``subject`` and ``request_id``); a failure is
retried with the ``[alerts]`` settings of prodline.toml (``max_attempts``, doubling
``backoff_seconds``, ``timeout_seconds``), each attempt claimed first by a
compare-and-swap on its attempt count so two workers never post the same attempt.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.review.entities import DECIDED, PENDING, QueueHealth, ReviewItem
from prodline.review.items import item_from_row
from prodline.review.policies import redact_webhook
from prodline.store.tables import review_items

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["add_labels", "check_sla", "deliver_webhooks", "health", "labels"]

log = logging.getLogger(__name__)

_CLAIM_S = 30.0
"""How long a claimed webhook attempt keeps other workers off (beyond its HTTP timeout)."""


def labels(ws: Workspace, kind: str, subject: str) -> list[dict[str, Any]]:
    """Decided items of one subject as labelled examples, oldest first."""
    query = (
        sa.select(review_items)
        .where(
            review_items.c.kind == kind,
            review_items.c.subject == subject,
            review_items.c.status.in_(DECIDED),
        )
        .order_by(review_items.c.id)
    )
    with ws.db.read() as conn:
        items = [item_from_row(r) for r in conn.execute(query).all()]
    return [
        {
            "review_id": i.id,
            "request_id": i.request_id,
            "version": i.version,
            "input": i.input,
            "output": i.output,
            "label": i.final_output,
            "decision": i.status,
            "decided_by": i.decided_by,
            "decided_at": i.decided_at.isoformat() if i.decided_at else None,
        }
        for i in items
    ]


def health(ws: Workspace, now: datetime) -> QueueHealth:
    """The queue's backlog and load, as of ``now``."""
    c = review_items.c
    with ws.db.read() as conn:
        counts: dict[str, int] = dict(
            conn.execute(
                sa.select(c.status, sa.func.count()).where(c.status.in_(PENDING)).group_by(c.status)
            ).all()
        )
        oldest = conn.execute(sa.select(sa.func.min(c.created_at)).where(c.status == "open"))
        oldest_at = oldest.scalar()
        breaches = conn.execute(
            sa.select(sa.func.count()).where(c.status.in_(PENDING), c.due_at <= now)
        ).scalar_one()
        claimed = conn.execute(
            sa.select(c.claimed_by, sa.func.count())
            .where(c.status == "claimed")
            .group_by(c.claimed_by)
        ).all()
        decided = conn.execute(
            sa.select(c.decided_by, sa.func.count())
            .where(c.status.in_(DECIDED))
            .group_by(c.decided_by)
        ).all()
    per: dict[str, dict[str, int]] = {}
    for user, n in claimed:
        per.setdefault(user, {"claimed": 0, "decided": 0})["claimed"] = int(n)
    for user, n in decided:
        per.setdefault(user, {"claimed": 0, "decided": 0})["decided"] = int(n)
    if oldest_at is not None and oldest_at.tzinfo is None:  # pragma: no cover - UTCDateTime
        oldest_at = oldest_at.replace(tzinfo=now.tzinfo)
    return QueueHealth(
        open=int(counts.get("open", 0)),
        claimed=int(counts.get("claimed", 0)),
        oldest_open_age_s=None if oldest_at is None else (now - oldest_at).total_seconds(),
        breaches=int(breaches),
        per_reviewer=dict(sorted(per.items())),
    )


def add_labels(ws: Workspace, item: ReviewItem) -> None:
    """Store an approved or edited model item's output as feedback, one label per row.

    The decision was authorized (``review.decide``), so the labels are written by the
    workspace's feedback log without asking for ``feedback.add`` again (a reviewer does
    not hold it). A failure is logged: the decision stands.
    """
    from prodline.ledger.feedback import FeedbackLog

    rows = item.final_output if isinstance(item.final_output, list) else [item.final_output]
    records = []
    for number, out in enumerate(rows):
        label = out["prediction"] if isinstance(out, dict) and "prediction" in out else out
        if label is not None:
            records.append({"request_id": item.request_id, "row": number, "label": label})
    if not records:
        return
    try:
        FeedbackLog(ws.db, ws.audit, ws.predictions).add_many(records)
    except Exception:  # the decision is committed; a bad label must not undo it
        log.exception("review %s: storing its labels as feedback failed", item.id)


def check_sla(ws: Workspace, now: datetime) -> int:
    """One ``review_sla`` alert per item pending past its due time; how many raised."""
    c = review_items.c
    with ws.db.read() as conn:
        due = conn.execute(
            sa.select(review_items)
            .where(c.status.in_(PENDING), c.due_at <= now, c.sla_alerted_at.is_(None))
            .order_by(c.id)
            .limit(500)
        ).all()
    raised = 0
    for row in due:
        item = item_from_row(row)
        with ws.tx() as conn:
            done = conn.execute(
                review_items.update()
                .where(c.id == item.id, c.sla_alerted_at.is_(None))
                .values(sla_alerted_at=now)
            )
            if done.rowcount != 1:
                continue
            late = (now - item.due_at).total_seconds()
            ws.alerts.record(
                conn,
                "review_sla",
                f"Review {item.id} of {item.kind} {item.subject} has waited past its SLA "
                f"({item.status}, due {item.due_at.isoformat()}); claim and decide it with "
                f"prodline review decide {item.id}.",
                subject=f"{item.kind}:{item.subject}",
                severity="warning",
                payload={
                    "review_id": item.id,
                    "status": item.status,
                    "claimed_by": item.claimed_by,
                    "due_at": item.due_at.isoformat(),
                    "late_s": round(late, 3),
                },
            )
            raised += 1
    return raised


def deliver_webhooks(ws: Workspace, now: datetime) -> int:
    """Make one attempt at every due webhook delivery; how many were tried."""
    c = review_items.c
    with ws.db.read() as conn:
        due = conn.execute(
            sa.select(c.id, c.webhook_attempts)
            .where(c.webhook_status == "pending", c.webhook_next_at <= now)
            .order_by(c.webhook_next_at, c.id)
            .limit(100)
        ).all()
    tried = 0
    for item_id, attempts in due:
        if _claim(ws, int(item_id), int(attempts)):
            _attempt(ws, int(item_id), int(attempts) + 1)
            tried += 1
    return tried


def _claim(ws: Workspace, item_id: int, seen: int) -> bool:
    options = ws.alerts.options
    hold = datetime.now(UTC) + timedelta(seconds=options.timeout_seconds + _CLAIM_S)
    c = review_items.c
    with ws.db.tx() as conn:
        done = conn.execute(
            review_items.update()
            .where(c.id == item_id, c.webhook_status == "pending", c.webhook_attempts == seen)
            .values(webhook_attempts=seen + 1, webhook_next_at=hold)
        )
    return done.rowcount == 1


def _attempt(ws: Workspace, item_id: int, attempt: int) -> None:
    with ws.db.read() as conn:
        row = conn.execute(sa.select(review_items).where(review_items.c.id == item_id)).one()
    item = item_from_row(row)
    url = str(row.webhook)
    error = _post(ws, url, item)
    now = datetime.now(UTC)
    options = ws.alerts.options
    subject = f"{item.kind}:{item.subject}"
    update = review_items.update().where(review_items.c.id == item_id)
    with ws.tx() as conn:
        if error is None:
            conn.execute(update.values(webhook_status="delivered", webhook_next_at=None))
            ws.audit.record(
                conn,
                "review.webhook_delivered",
                subject,
                {"item": item_id, "url": redact_webhook(url), "attempts": attempt},
            )
        elif attempt >= options.max_attempts:
            conn.execute(
                update.values(
                    webhook_status="undelivered", webhook_error=error, webhook_next_at=None
                )
            )
            ws.audit.record(
                conn,
                "review.webhook_undelivered",
                subject,
                {"item": item_id, "url": redact_webhook(url), "attempts": attempt, "error": error},
            )
        else:
            retry = now + timedelta(seconds=options.backoff(attempt))
            conn.execute(update.values(webhook_error=error, webhook_next_at=retry))


def _post(ws: Workspace, url: str, item: ReviewItem) -> str | None:
    """POST the decided item; None when a 2xx came back, else the error in one line."""
    import httpx

    body = {
        **item.public(),
        "kind": item.kind,
        "subject": item.subject,
        "request_id": item.request_id,
    }
    try:
        response = httpx.post(
            url,
            json=body,
            timeout=ws.alerts.options.timeout_seconds,
            headers={"x-prodline-review-id": str(item.id)},
        )
    except httpx.HTTPError as exc:
        text = str(exc).splitlines()[0] if str(exc) else ""
        text = text.replace(url, redact_webhook(url) or "")
        return f"{type(exc).__name__}: {text}"[:500]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}: {response.text[:200]}"

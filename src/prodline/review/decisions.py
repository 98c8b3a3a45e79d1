"""Claims and decisions: compare-and-swap updates, each audited in its transaction.

A claim is ``UPDATE … WHERE status = 'open'``: of two reviewers claiming one item, the
database lets exactly one update through and the other is told who holds it. A decision
updates only an open item or one the decider holds, so decisions are final.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.errors import Conflict, Forbidden, InvalidInput, NotFound
from prodline.review.entities import DECISIONS, PENDING, ReviewItem
from prodline.review.items import item_from_row
from prodline.review.policies import read_policy
from prodline.review.upkeep import add_labels
from prodline.store.tables import review_items

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["claim", "decide", "item_row", "release", "unavailable"]


def claim(ws: Workspace, item_id: int) -> ReviewItem:
    """Take an open item for yourself (claiming your own claim again is a no-op).

    Raises
    ------
    Conflict
        The item is decided, or claimed by someone else (named).
    """
    ws.authorize("review.claim")
    me = ws.actor
    with ws.tx() as conn:
        done = conn.execute(
            review_items.update()
            .where(review_items.c.id == item_id, review_items.c.status == "open")
            .values(status="claimed", claimed_by=me, claimed_at=datetime.now(UTC))
        )
        row = item_row(conn, item_id)
        if done.rowcount == 1:
            ws.audit.record(conn, "review.claimed", f"{row.kind}:{row.subject}", {"item": item_id})
            return item_from_row(row)
    if row.status == "claimed" and row.claimed_by == me:
        return item_from_row(row)
    raise unavailable(row, "claim")


def release(ws: Workspace, item_id: int) -> ReviewItem:
    """Give a claimed item back to the queue; its claimer or an admin may."""
    ws.authorize("review.claim")
    me = ws.actor
    who = ws.principal
    admin = who is None or who.role == "admin"
    clauses = [review_items.c.id == item_id, review_items.c.status == "claimed"]
    if not admin:
        clauses.append(review_items.c.claimed_by == me)
    with ws.tx() as conn:
        done = conn.execute(
            review_items.update()
            .where(*clauses)
            .values(status="open", claimed_by=None, claimed_at=None)
        )
        row = item_row(conn, item_id)
        if done.rowcount == 1:
            ws.audit.record(conn, "review.released", f"{row.kind}:{row.subject}", {"item": item_id})
            return item_from_row(row)
    if row.status == "claimed":
        raise Forbidden(
            f"Review {item_id} is claimed by {row.claimed_by}; only they or an admin may "
            "release it.",
            field="review_id",
        )
    if row.status == "open":
        raise Conflict(f"Review {item_id} is not claimed; nothing to release.")
    raise unavailable(row, "release")


def decide(ws: Workspace, item_id: int, decision: str, *, output: Any, comment: str) -> ReviewItem:
    """Approve, edit or reject an item (an open item is claimed implicitly).

    ``approve`` lets the model's output out, ``edit`` the reviewer's ``output``
    instead, ``reject`` nothing. Approved and edited model items with a request id
    become feedback labels, one per row (a failure there is logged; the decision
    stands). The policy's webhook, if any, is queued for the worker.

    Raises
    ------
    InvalidInput
        An unknown decision (``decision``), an edit without ``output``.
    Conflict
        The item is decided already (decisions are final) or claimed by someone else.
    """
    ws.authorize("review.decide")
    if decision not in DECISIONS:
        raise InvalidInput(
            f"Decision '{decision}' is not known; use approve, edit or reject.",
            field="decision",
        )
    if decision == "edit" and output is None:
        raise InvalidInput(
            "An edit needs the corrected output (--output JSON); to let the model's "
            "answer out use approve, to stop it use reject.",
            field="output",
        )
    if not isinstance(comment, str):
        raise InvalidInput("comment must be text.", field="comment")
    me, now = ws.actor, datetime.now(UTC)
    c = review_items.c
    with ws.tx() as conn:
        row = item_row(conn, item_id)
        final = {"approve": row.output, "edit": output, "reject": None}[decision]
        policy = read_policy(conn, row.kind, row.subject)
        hook = policy.webhook if policy is not None else None
        done = conn.execute(
            review_items.update()
            .where(
                c.id == item_id,
                sa.or_(c.status == "open", sa.and_(c.status == "claimed", c.claimed_by == me)),
            )
            .values(
                status=DECISIONS[decision],
                claimed_by=me,
                claimed_at=sa.func.coalesce(c.claimed_at, now),
                final_output=final,
                comment=comment,
                decided_by=me,
                decided_at=now,
                webhook=hook,
                webhook_status="pending" if hook else None,
                webhook_next_at=now if hook else None,
            )
        )
        if done.rowcount == 1:
            ws.audit.record(
                conn,
                "review.decided",
                f"{row.kind}:{row.subject}",
                {
                    "decision": decision,
                    "reviewer": me,
                    "item": item_id,
                    "subject": row.subject,
                    "version": row.version,
                    "request_id": row.request_id,
                    "comment": comment,
                },
            )
        row = item_row(conn, item_id)
    if done.rowcount != 1:
        raise unavailable(row, "decide")
    item = item_from_row(row)
    if item.kind == "model" and item.request_id and decision in ("approve", "edit"):
        add_labels(ws, item)
    return item


def _missing(item_id: int) -> NotFound:
    return NotFound(
        f"Review {item_id} does not exist; list the queue with prodline review list.",
        field="review_id",
    )


def item_row(conn: Connection, item_id: int) -> Any:
    """The row of review ``item_id``; NotFound naming ``review_id``."""
    if isinstance(item_id, bool) or not isinstance(item_id, int):
        raise InvalidInput(f"A review id is a whole number, not {item_id!r}.", field="review_id")
    row = conn.execute(sa.select(review_items).where(review_items.c.id == item_id)).first()
    if row is None:
        raise _missing(item_id)
    return row


def unavailable(row: Any, verb: str) -> Conflict:
    """Why ``verb`` cannot happen to a row that is claimed by another or decided."""
    if row.status in PENDING:
        return Conflict(
            f"Review {row.id} is claimed by {row.claimed_by}; ask them to release it, or "
            "pick another item (prodline review list --status open).",
            field="review_id",
            claimed_by=row.claimed_by,
        )
    return Conflict(
        f"Review {row.id} was already {row.status} by {row.decided_by}; decisions are "
        f"final, so there is nothing to {verb}.",
        field="review_id",
        status=row.status,
    )

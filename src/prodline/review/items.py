"""Review items in the store: the rows submitted, the filters of a listing, rows → entities.

Intake (``submit_many``) comes from the servers' hot paths, so a batch is checked
field by field here (naming ``records[i].field``) and inserted with one statement.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from prodline.errors import InvalidInput
from prodline.review.entities import DECIDED, KINDS, MODES, PENDING, STATUSES, ReviewItem
from prodline.store.tables import review_items

__all__ = ["LIST_STATUSES", "item_from_row", "item_rows", "where"]

LIST_STATUSES: tuple[str, ...] = (*STATUSES, "pending", "decided")
"""What ``list(status=...)`` accepts: a status, ``pending`` (open or claimed) or ``decided``."""

_KEYS = {
    "kind",
    "subject",
    "mode",
    "reason",
    "input",
    "output",
    "version",
    "request_id",
    "score",
}
_REQUIRED = ("kind", "subject", "mode", "reason")


def item_from_row(row: Any) -> ReviewItem:
    """The entity for one ``review_items`` row."""
    return ReviewItem(
        id=int(row.id),
        kind=row.kind,
        subject=row.subject,
        version=row.version,
        mode=row.mode,
        reason=row.reason,
        request_id=row.request_id,
        input=row.input,
        output=row.output,
        score=None if row.score is None else float(row.score),
        status=row.status,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        final_output=row.final_output,
        comment=row.comment or "",
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        created_at=row.created_at,
        due_at=row.due_at,
        webhook_status=row.webhook_status,
    )


def _check(index: int, record: Mapping[str, Any]) -> dict[str, Any]:
    where_ = f"records[{index}]"
    if not isinstance(record, Mapping):
        raise InvalidInput(f"{where_} must be a mapping of review fields.", field=where_)
    unknown = sorted(set(record) - _KEYS)
    if unknown:
        raise InvalidInput(
            f"{where_} has unknown key(s) {', '.join(unknown)}; known keys are "
            f"{', '.join(sorted(_KEYS))}.",
            field=f"{where_}.{unknown[0]}",
        )
    for key in _REQUIRED:
        if not isinstance(record.get(key), str) or not record[key]:
            raise InvalidInput(f"{where_}.{key} must be non-empty text.", field=f"{where_}.{key}")
    if record["kind"] not in KINDS:
        raise InvalidInput(
            f"{where_}.kind '{record['kind']}' is not one of {', '.join(KINDS)}.",
            field=f"{where_}.kind",
        )
    if record["mode"] not in MODES:
        raise InvalidInput(
            f"{where_}.mode '{record['mode']}' is not one of {', '.join(MODES)}.",
            field=f"{where_}.mode",
        )
    version = record.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise InvalidInput(f"{where_}.version must be a whole number.", field=f"{where_}.version")
    request_id = record.get("request_id")
    if request_id is not None and not isinstance(request_id, str):
        raise InvalidInput(f"{where_}.request_id must be text.", field=f"{where_}.request_id")
    score = record.get("score")
    if score is not None:
        if isinstance(score, bool) or not isinstance(score, int | float):
            raise InvalidInput(f"{where_}.score must be a number.", field=f"{where_}.score")
        score = float(score) if math.isfinite(score) else None
    return {
        "kind": record["kind"],
        "subject": record["subject"],
        "mode": record["mode"],
        "reason": record["reason"][:500],
        "input": record.get("input"),
        "output": record.get("output"),
        "version": version,
        "request_id": request_id,
        "score": score,
    }


def item_rows(
    records: Iterable[Mapping[str, Any]], now: datetime, sla_of: Any
) -> list[dict[str, Any]]:
    """Checked insert rows for ``records``; ``sla_of(kind, subject)`` gives each SLA in s."""
    rows = []
    for index, record in enumerate(records):
        row = _check(index, record)
        row.update(
            status="open",
            comment="",
            created_at=now,
            due_at=now + timedelta(seconds=sla_of(row["kind"], row["subject"])),
            webhook_attempts=0,
        )
        rows.append(row)
    return rows


def where(
    *,
    status: str | None = None,
    kind: str | None = None,
    subject: str | None = None,
    claimed_by: str | None = None,
) -> list[sa.ColumnElement[bool]]:
    """The WHERE clauses of a listing; InvalidInput naming the field on a bad value."""
    clauses: list[sa.ColumnElement[bool]] = []
    if status is not None:
        if status not in LIST_STATUSES:
            raise InvalidInput(
                f"Review status '{status}' is not known; use one of {', '.join(LIST_STATUSES)}.",
                field="status",
            )
        if status == "pending":
            clauses.append(review_items.c.status.in_(PENDING))
        elif status == "decided":
            clauses.append(review_items.c.status.in_(DECIDED))
        else:
            clauses.append(review_items.c.status == status)
    if kind is not None:
        if kind not in KINDS:
            raise InvalidInput(
                f"Review kind '{kind}' is not known; use one of {', '.join(KINDS)}.",
                field="kind",
            )
        clauses.append(review_items.c.kind == kind)
    if subject is not None:
        clauses.append(review_items.c.subject == subject)
    if claimed_by is not None:
        clauses.append(review_items.c.claimed_by == claimed_by)
    return clauses

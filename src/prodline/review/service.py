"""The human review queue, reached as ``ws.reviews``.

Servers submit answers that a policy routes to a human (``submit``, ``submit_many``:
intake, not authorized, like the prediction log); reviewers claim items and decide
(``review.claim``, ``review.decide``); ml-engineers set the policies
(``review.configure``). Every change is audited in its own transaction. A claim is a
compare-and-swap (``UPDATE … WHERE status = 'open'``), so of two reviewers claiming the
same item exactly one wins; decisions are final.

An approved or edited decision on a model item becomes ground truth: one feedback label
per row of the request, joined to the prediction log by its request id. The worker
(``prodline worker``) raises one ``review_sla`` alert per item left pending past its
SLA and delivers decided items to the policy's webhook (:mod:`prodline.review.upkeep`).

Examples
--------
>>> ws.reviews.set_policy("model", "credit-risk", mode="hold", threshold=0.6)  # doctest: +SKIP
>>> item = ws.reviews.claim(7)  # doctest: +SKIP
>>> ws.reviews.decide(7, "edit", output=[{"prediction": 0}], comment="bad income")  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.errors import InvalidInput, NotFound
from prodline.review import decisions, upkeep
from prodline.review.entities import QueueHealth, ReviewItem, ReviewPolicy
from prodline.review.items import item_from_row, item_rows, where
from prodline.review.policies import (
    DEFAULT_SLA_S,
    check_kind,
    check_policy,
    read_policies,
    read_policy,
    read_version,
    redact_webhook,
    write_policy,
)
from prodline.store.tables import review_items

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["Reviews"]


def _limit(limit: int, offset: int) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= 1000:
        raise InvalidInput(f"limit must be between 1 and 1000, got {limit!r}.", field="limit")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"offset must be 0 or more, got {offset!r}.", field="offset")


class Reviews:
    """Policies, intake, claims and decisions of the human review queue."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- policies --------------------------------------------------------------------
    def set_policy(
        self,
        kind: str,
        subject: str,
        *,
        mode: str,
        threshold: float | None = None,
        sample_rate: float = 0.0,
        sla: str | float = "4h",
        webhook: str | None = None,
    ) -> ReviewPolicy:
        """Set (or replace) the review policy of a model or knowledge base; audited.

        Raises
        ------
        InvalidInput
            A bad mode, threshold, sample rate, SLA or webhook (named in ``field``);
            hold mode for a knowledge base.
        NotFound
            The model or knowledge base does not exist.
        """
        self._ws.authorize("review.configure")
        policy = check_policy(
            kind,
            subject,
            mode=mode,
            threshold=threshold,
            sample_rate=sample_rate,
            sla=sla,
            webhook=webhook,
        )
        if kind == "model":
            self._ws.models.model(subject)
        else:
            self._ws.kbs.get(subject)
        with self._ws.tx() as conn:
            write_policy(conn, kind, subject, policy.to_dict(), self._ws.actor)
            body = {**policy.to_dict(), "webhook": redact_webhook(policy.webhook)}
            self._ws.audit.record(conn, "review.policy_set", f"{kind}:{subject}", body)
        return policy

    def clear_policy(self, kind: str, subject: str) -> None:
        """Remove the policy of a model or knowledge base (pending items stay queued)."""
        self._ws.authorize("review.configure")
        check_kind(kind)
        with self._ws.tx() as conn:
            if not write_policy(conn, kind, subject, None, self._ws.actor):
                raise NotFound(
                    f"{kind} '{subject}' has no review policy; list them with prodline "
                    "review policy --help.",
                    field="subject",
                )
            self._ws.audit.record(conn, "review.policy_cleared", f"{kind}:{subject}", {})

    def policy(self, kind: str, subject: str) -> ReviewPolicy | None:
        """The policy of a model or knowledge base, or None."""
        check_kind(kind)
        with self._ws.db.read() as conn:
            return read_policy(conn, kind, subject)

    def policies(self) -> builtins.list[ReviewPolicy]:
        """Every policy, by kind then subject."""
        with self._ws.db.read() as conn:
            return read_policies(conn)

    def policy_version(self) -> int:
        """A number that grows on every policy change: poll it to refresh a cached policy."""
        with self._ws.db.read() as conn:
            return read_version(conn)

    # -- intake ----------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        subject: str,
        *,
        mode: str,
        reason: str,
        input: Any,
        output: Any,
        version: int | None = None,
        request_id: str | None = None,
        score: float | None = None,
    ) -> ReviewItem:
        """Queue one answer for review (see ``submit_many``); returns the open item."""
        record = {
            "kind": kind,
            "subject": subject,
            "mode": mode,
            "reason": reason,
            "input": input,
            "output": output,
            "version": version,
            "request_id": request_id,
            "score": score,
        }
        return self.get(self.submit_many([record])[0])

    def submit_many(self, records: Iterable[Mapping[str, Any]]) -> builtins.list[int]:
        """Queue answers for review in one transaction with one audit event; their ids.

        Each record has ``kind``, ``subject``, ``mode``, ``reason``, ``input``, ``output``
        and optionally ``version``, ``request_id``, ``score``. An item is due within its
        policy's SLA (four hours without a policy).

        Raises
        ------
        InvalidInput
            A record lacks a field or has a wrong type, named as ``records[i].field``;
            nothing of the batch is stored then.
        """
        now = datetime.now(UTC)
        with self._ws.tx() as conn:
            slas: dict[tuple[str, str], float] = {}

            def sla_of(kind: str, subject: str) -> float:
                if (kind, subject) not in slas:
                    policy = read_policy(conn, kind, subject)
                    slas[(kind, subject)] = policy.sla_s if policy else DEFAULT_SLA_S
                return slas[(kind, subject)]

            rows = item_rows(records, now, sla_of)
            if not rows:
                return []
            result = conn.execute(
                review_items.insert().returning(review_items.c.id, sort_by_parameter_order=True),
                rows,
            )
            ids = [int(i) for i in result.scalars().all()]
            subjects = sorted({f"{r['kind']}:{r['subject']}" for r in rows})
            payload: dict[str, Any]
            if len(rows) == 1:
                row = rows[0]
                payload = {
                    "item": ids[0],
                    "mode": row["mode"],
                    "reason": row["reason"],
                    "version": row["version"],
                    "request_id": row["request_id"],
                    "score": row["score"],
                }
            else:
                payload = {"items": ids[:1000], "count": len(ids), "subjects": subjects}
            subject = subjects[0] if len(subjects) == 1 else "reviews"
            self._ws.audit.record(conn, "review.submitted", subject, payload)
        return ids

    # -- reading ---------------------------------------------------------------------
    def get(self, item_id: int) -> ReviewItem:
        """One item by id; NotFound naming ``review_id``."""
        with self._ws.db.read() as conn:
            return item_from_row(decisions.item_row(conn, item_id))

    def list(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        subject: str | None = None,
        claimed_by: str | None = None,
        limit: int = 50,
        offset: int = 0,
        newest_first: bool = False,
    ) -> builtins.list[ReviewItem]:
        """Items, oldest first (the order to work a queue in), filtered.

        ``status`` is a status, ``pending`` (open or claimed) or ``decided``.
        """
        _limit(limit, offset)
        clauses = where(status=status, kind=kind, subject=subject, claimed_by=claimed_by)
        order = review_items.c.id.desc() if newest_first else review_items.c.id
        query = sa.select(review_items).where(*clauses).order_by(order).limit(limit)
        with self._ws.db.read() as conn:
            rows = conn.execute(query.offset(offset)).all()
        return [item_from_row(r) for r in rows]

    def count(
        self,
        *,
        status: str | None = None,
        kind: str | None = None,
        subject: str | None = None,
        claimed_by: str | None = None,
    ) -> int:
        """How many items ``list`` would give without a limit."""
        clauses = where(status=status, kind=kind, subject=subject, claimed_by=claimed_by)
        query = sa.select(sa.func.count()).select_from(review_items).where(*clauses)
        with self._ws.db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def labels(self, kind: str, subject: str) -> builtins.list[dict[str, Any]]:
        """Decided items of a model or KB as labelled examples (for retraining, evaluation).

        Each: ``review_id``, ``request_id``, ``version``, ``input``, ``output`` (what the
        model said), ``label`` (what the reviewer let out; None when rejected),
        ``decision`` status, ``decided_by``, ``decided_at``.
        """
        return upkeep.labels(self._ws, check_kind(kind), subject)

    def health(self, *, now: datetime | None = None) -> QueueHealth:
        """Backlog, age of the oldest open item, SLA breaches, and load per reviewer."""
        return upkeep.health(self._ws, now or datetime.now(UTC))

    # -- claims and decisions --------------------------------------------------------
    def claim(self, item_id: int) -> ReviewItem:
        """Take an open item for yourself (claiming your own claim again is a no-op).

        Raises
        ------
        Conflict
            The item is decided, or claimed by someone else (named).
        """
        return decisions.claim(self._ws, item_id)

    def release(self, item_id: int) -> ReviewItem:
        """Give a claimed item back to the queue; its claimer or an admin may."""
        return decisions.release(self._ws, item_id)

    def decide(
        self, item_id: int, decision: str, *, output: Any = None, comment: str = ""
    ) -> ReviewItem:
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
        return decisions.decide(self._ws, item_id, decision, output=output, comment=comment)

    # -- the worker's upkeep ---------------------------------------------------------
    def check_sla(self, *, now: datetime | None = None) -> int:
        """Raise one ``review_sla`` alert per item pending past its SLA; how many raised."""
        return upkeep.check_sla(self._ws, now or datetime.now(UTC))

    def deliver_webhooks(self, *, now: datetime | None = None) -> int:
        """Make one attempt at each due webhook delivery of a decision; how many tried."""
        return upkeep.deliver_webhooks(self._ws, now or datetime.now(UTC))

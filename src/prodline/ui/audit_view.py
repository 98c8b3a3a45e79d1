"""Reading the audit log for the dashboard: keyset pages and a bounded tail check.

With a million events, ``OFFSET`` paging and ``COUNT(*)`` walk the table; a page here is
``seq < before ORDER BY seq DESC LIMIT size + 1`` on the primary key, so every page
costs the same. The number shown as the log's length is the newest ``seq`` (the chain
numbers events 1, 2, 3, … without gaps, which ``verify`` checks).

Verification. A full ``verify`` rehashes the whole chain (seconds at 1M events), so a
page load never runs it. The audit page shows instead (1) the last full verification
this server ran, when and for whom (the "Verify now" button runs one, at most one at a
time), and (2) a bounded tail check on every load: the newest ``TAIL`` events are
rehashed and their links followed. The tail is where tampering after the last full run
would show first; the full run and its signed checkpoints cover the rest.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.ledger.audit import AuditEvent, VerifyResult, event_hash
from prodline.store.tables import audit_events

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = [
    "AuditPage",
    "FullVerify",
    "TAIL",
    "TailCheck",
    "Verifier",
    "page_of_events",
    "tail_check",
]

TAIL = 200


@dataclass(frozen=True)
class AuditPage:
    """One page of events, newest first, and the cursor for the next (older) page."""

    events: list[AuditEvent]
    next_before: int | None
    newest_seq: int


@dataclass(frozen=True)
class TailCheck:
    """The bounded check of the newest events run on each audit page load."""

    ok: bool
    checked: int
    message: str


@dataclass(frozen=True)
class FullVerify:
    """The last full ``ws.audit.verify()`` this server ran."""

    result: VerifyResult
    at: datetime
    by: str


def page_of_events(
    ws: Workspace,
    *,
    before: int | None,
    size: int,
    action: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
) -> AuditPage:
    """Events older than ``before`` (newest first) matching the filters, ``size`` of them."""
    t = audit_events
    query = sa.select(t).order_by(t.c.seq.desc()).limit(size + 1)
    if before is not None:
        query = query.where(t.c.seq < before)
    if action:
        query = query.where(t.c.action == action)
    if actor:
        query = query.where(t.c.actor == actor)
    if subject:
        query = query.where(t.c.subject.startswith(subject, autoescape=True))
    with ws.db.read() as conn:
        rows = conn.execute(query).all()
        newest = conn.execute(sa.select(sa.func.max(t.c.seq))).scalar_one_or_none()
    events = [_event(r) for r in rows[:size]]
    more = len(rows) > size
    return AuditPage(events, events[-1].seq if more and events else None, int(newest or 0))


def tail_check(ws: Workspace, n: int = TAIL) -> TailCheck:
    """Rehash the newest ``n`` events and follow their links (bounded: ``n`` rows)."""
    t = audit_events
    with ws.db.read() as conn:
        rows = conn.execute(sa.select(t).order_by(t.c.seq.desc()).limit(n)).all()
    rows = rows[::-1]
    for i, r in enumerate(rows):
        body = event_hash(r.seq, r.ts, r.actor, r.action, r.subject, r.payload, r.prev_hash)
        if body != r.hash:
            return TailCheck(False, i + 1, f"event #{r.seq} does not match its hash (edited)")
        if i and (r.seq != rows[i - 1].seq + 1 or r.prev_hash != rows[i - 1].hash):
            return TailCheck(False, i + 1, f"the chain is broken at event #{r.seq}")
    if not rows:
        return TailCheck(True, 0, "the log is empty")
    return TailCheck(
        True, len(rows), f"newest {len(rows)} events (#{rows[0].seq}–#{rows[-1].seq}) intact"
    )


class Verifier:
    """Runs the full verification on demand, one at a time, and remembers the result."""

    def __init__(self) -> None:
        self.last: FullVerify | None = None
        self._lock = threading.Lock()

    def run(self, ws: Workspace, by: str) -> FullVerify | None:
        """Verify the whole chain now; None when another verification is running."""
        if not self._lock.acquire(blocking=False):
            return None
        try:
            self.last = FullVerify(ws.audit.verify(), datetime.now(UTC), by)
            return self.last
        finally:
            self._lock.release()


def _event(r: Any) -> AuditEvent:
    try:
        payload = json.loads(r.payload)
    except ValueError:
        payload = {"raw": r.payload}
    return AuditEvent(r.seq, r.ts, r.actor, r.action, r.subject, payload, r.prev_hash, r.hash)

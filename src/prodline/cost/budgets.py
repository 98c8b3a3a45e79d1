"""Budgets: spend limits per team, model, KB, API token or everything, per day/week/month.

A budget is soft (an alert when its spend crosses ``soft_share`` of the amount, through
the monitors' alert path) or hard (a call that would take the period's spend past the
amount is refused with :class:`BudgetExceeded`, or routed to ``route_to``). At most one
live budget covers a scope per period length, so "which limit applies" has one answer.

The servers' hot path is ``applicable`` (cached by them), ``reserve`` before the work and
``settle`` after it. A reservation against a hard budget is one conditional UPDATE::

    UPDATE budget_spend SET reserved_usd = reserved_usd + :e
     WHERE budget_id = :id AND period_start = :p
       AND spent_usd + reserved_usd + :e <= :amount

so of two concurrent calls that both want the last dollar exactly one gets it (the row
lock of the UPDATE serializes them on PostgreSQL; ``BEGIN IMMEDIATE`` on SQLite). Spend
overshoots the amount by at most what the calls' actual costs exceed their estimates.
Reserving and settling write no audit event; alerts are raised once per budget-period,
when a threshold is crossed.

Examples
--------
>>> b = ws.costs.budgets.create("desk", scope_kind="kb", scope="support-desk",
...     period="month", amount_usd=50, hard=True)  # doctest: +SKIP
>>> r = ws.costs.budgets.reserve([b.id], 0.002)  # doctest: +SKIP
>>> ws.costs.budgets.settle(r, 0.0017)  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from prodline.cost.budget_rules import (
    PERIODS,
    SCOPE_KINDS,
    Budget,
    BudgetExceeded,
    BudgetStatus,
    Reservation,
    budget_from_row,
    check_budget,
    number,
    period_bounds,
)
from prodline.errors import Conflict, NotFound
from prodline.store.tables import budget_spend, budgets

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = [
    "PERIODS",
    "SCOPE_KINDS",
    "Budget",
    "BudgetExceeded",
    "BudgetStatus",
    "Budgets",
    "Reservation",
    "period_bounds",
]


class Budgets:
    """Budgets and their spend, reached as ``ws.costs.budgets``."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self._by_id: dict[int, Budget] = {}  # definitions never change; deletes end them
        self._alerted: set[tuple[int, datetime, str]] = set()
        self._rows: set[tuple[int, datetime]] = set()  # spend rows known to exist

    # -- definitions -----------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        scope_kind: str,
        scope: str = "",
        period: str,
        amount_usd: float,
        soft_share: float = 0.8,
        hard: bool = False,
        on_exceed: str = "refuse",
        route_to: str | None = None,
    ) -> Budget:
        """Create a budget; audited.

        Raises
        ------
        InvalidInput
            A bad scope kind, period, amount, soft share or on_exceed (named in ``field``).
        Conflict
            The name is taken, or a live budget covers the same scope and period.
        """
        self._ws.authorize("cost.budget")
        scope = "" if scope_kind == "all" else scope
        check_budget(name, scope_kind, scope, period, amount_usd, soft_share, on_exceed, route_to)
        b = budgets.c
        with self._ws.tx() as conn:
            if conn.dialect.name == "postgresql":  # two creates must not both miss the other
                conn.execute(sa.text("LOCK TABLE budgets IN SHARE ROW EXCLUSIVE MODE"))
            if conn.execute(sa.select(b.id).where(b.name == name)).first() is not None:
                raise Conflict(
                    f"Budget '{name}' exists (budget names are never reused); pick another.",
                    field="name",
                )
            same = sa.and_(b.scope_kind == scope_kind, b.scope == scope, b.period == period)
            clash = conn.execute(sa.select(b.name).where(same, b.deleted_at.is_(None))).first()
            if clash is not None:
                raise Conflict(
                    f"Budget '{name}' overlaps budget '{clash.name}' ({scope_kind} "
                    f"{scope or '*'} per {period}); change or delete that one instead.",
                    field="scope",
                    budget=clash.name,
                )
            values = {
                "name": name, "scope_kind": scope_kind, "scope": scope, "period": period,
                "amount_usd": float(amount_usd), "soft_share": float(soft_share),
                "hard": bool(hard), "on_exceed": on_exceed, "route_to": route_to,
                "created_by": self._ws.actor, "created_at": datetime.now(UTC),
            }  # fmt: skip
            new_id = conn.execute(budgets.insert().values(**values).returning(b.id)).scalar_one()
            budget = Budget(id=int(new_id), **values)  # type: ignore[arg-type]
            self._ws.audit.record(conn, "budget.created", f"budget:{name}", budget.to_dict())
        return budget

    def delete(self, name: str) -> None:
        """End a budget (its row and spend stay for history); audited."""
        self._ws.authorize("cost.budget")
        b = budgets.c
        with self._ws.tx() as conn:
            done = conn.execute(
                budgets.update()
                .where(b.name == name, b.deleted_at.is_(None))
                .values(deleted_at=datetime.now(UTC))
            )
            if done.rowcount != 1:
                raise self._missing(conn, name)
            self._ws.audit.record(conn, "budget.deleted", f"budget:{name}", {})

    def get(self, name: str) -> Budget:
        """A live budget by name; NotFound naming ``budget``."""
        with self._ws.db.read() as conn:
            row = conn.execute(
                sa.select(budgets).where(budgets.c.name == name, budgets.c.deleted_at.is_(None))
            ).first()
            if row is None:
                raise self._missing(conn, name)
        return budget_from_row(row)

    def list(self) -> builtins.list[Budget]:
        """Live budgets, by name."""
        query = sa.select(budgets).where(budgets.c.deleted_at.is_(None)).order_by(budgets.c.name)
        with self._ws.db.read() as conn:
            return [budget_from_row(r) for r in conn.execute(query)]

    def status(self, name: str, now: datetime | None = None) -> BudgetStatus:
        """Spend of budget ``name`` in the period holding ``now``."""
        return self.statuses([self.get(name)], now)[0]

    def statuses(
        self, found: Sequence[Budget] | None = None, now: datetime | None = None
    ) -> builtins.list[BudgetStatus]:
        """Spend of each budget (every live one by default) in its current period."""
        found = self.list() if found is None else found
        moment = now or datetime.now(UTC)
        s = budget_spend.c
        out = []
        with self._ws.db.read() as conn:
            for budget in found:
                start, end = period_bounds(budget.period, moment)
                row = conn.execute(
                    sa.select(s.spent_usd, s.reserved_usd).where(
                        s.budget_id == budget.id, s.period_start == start
                    )
                ).first()
                spent, reserved = (float(row[0]), float(row[1])) if row else (0.0, 0.0)
                out.append(BudgetStatus(budget, start, end, spent, reserved))
        return out

    # -- the hot path ----------------------------------------------------------------
    def applicable(
        self, *, team: str = "", model: str = "", kb: str = "", token_user: str = ""
    ) -> builtins.list[Budget]:
        """The live budgets that cover a call of ``team``/``model``/``kb``/``token_user``."""
        b = budgets.c
        wanted = [b.scope_kind == "all"]
        for kind, value in (("team", team), ("model", model), ("kb", kb), ("token", token_user)):
            if value:
                wanted.append(sa.and_(b.scope_kind == kind, b.scope == value))
        query = sa.select(budgets).where(b.deleted_at.is_(None), sa.or_(*wanted)).order_by(b.id)
        with self._ws.db.read() as conn:
            found = [budget_from_row(r) for r in conn.execute(query)]
        self._by_id.update((x.id, x) for x in found)
        return found

    def reserve(
        self, budget_ids: Sequence[int], estimate_usd: float, now: datetime | None = None
    ) -> Reservation:
        """Put ``estimate_usd`` aside in each budget's current period, atomically.

        Raises
        ------
        BudgetExceeded
            A hard budget has no room (nothing is reserved anywhere then).
        """
        estimate = max(0.0, number(estimate_usd, "estimate_usd"))
        moment = now or datetime.now(UTC)
        found = self._definitions(budget_ids)
        s = budget_spend.c
        periods = []
        try:
            with self._ws.tx() as conn:
                for budget in found:
                    start = period_bounds(budget.period, moment)[0]
                    if (budget.id, start) not in self._rows:
                        _ensure_row(conn, budget.id, start)
                    change = budget_spend.update().where(
                        s.budget_id == budget.id, s.period_start == start
                    )
                    if budget.hard:
                        room = s.spent_usd + s.reserved_usd + estimate <= budget.amount_usd
                        change = change.where(room)
                    done = conn.execute(change.values(reserved_usd=s.reserved_usd + estimate))
                    if done.rowcount != 1:
                        raise _Refused(budget)  # rolls back what this call reserved
                    periods.append((budget.id, start))
        except _Refused as refused:
            budget = refused.budget
            self._alert_once(budget, period_bounds(budget.period, moment)[0], "budget_exceeded")
            raise BudgetExceeded(budget, estimate) from None
        self._rows.update(periods)
        return Reservation(tuple(periods), estimate)

    def settle(self, reservation: Reservation, actual_usd: float) -> None:
        """Turn a reservation into spend of ``actual_usd``; alert on a threshold crossed."""
        actual = max(0.0, number(actual_usd, "actual_usd"))
        s = budget_spend.c
        crossed = []
        known = {b.id: b for b in self._definitions([i for i, _ in reservation.periods])}
        with self._ws.tx() as conn:
            for budget_id, start in reservation.periods:
                row = conn.execute(
                    budget_spend.update()
                    .where(s.budget_id == budget_id, s.period_start == start)
                    .values(
                        reserved_usd=sa.func.max(s.reserved_usd - reservation.estimate_usd, 0.0)
                        if conn.dialect.name == "sqlite"
                        else sa.func.greatest(s.reserved_usd - reservation.estimate_usd, 0.0),
                        spent_usd=s.spent_usd + actual,
                    )
                    .returning(s.spent_usd, s.soft_alerted_at, s.hard_alerted_at)
                ).first()
                budget = known[budget_id]
                if row is None:
                    continue
                share = float(row.spent_usd) / budget.amount_usd
                if share >= budget.soft_share and row.soft_alerted_at is None:
                    crossed.append((budget, start, "budget_soft"))
                if share >= 1.0 and row.hard_alerted_at is None:
                    crossed.append((budget, start, "budget_exceeded"))
        for budget, start, kind in crossed:
            self._alert_once(budget, start, kind)

    # -- helpers ---------------------------------------------------------------------
    def _definitions(self, budget_ids: Sequence[int]) -> builtins.list[Budget]:
        missing = [i for i in budget_ids if i not in self._by_id]
        if missing:
            with self._ws.db.read() as conn:
                rows = conn.execute(sa.select(budgets).where(budgets.c.id.in_(missing))).all()
            self._by_id.update((int(r.id), budget_from_row(r)) for r in rows)
        unknown = [i for i in budget_ids if i not in self._by_id]
        if unknown:
            raise NotFound(f"No budget has id {unknown[0]}; list them with prodline budget list.",
                           field="budget")  # fmt: skip
        return [self._by_id[i] for i in budget_ids]

    def _alert_once(self, budget: Budget, start: datetime, kind: str) -> None:
        """Raise ``kind`` for this budget-period unless it was raised already (by anyone)."""
        key = (budget.id, start, kind)
        if key in self._alerted:
            return
        s = budget_spend.c
        column = "hard_alerted_at" if kind == "budget_exceeded" else "soft_alerted_at"
        with self._ws.tx() as conn:
            claimed = conn.execute(
                budget_spend.update()
                .where(s.budget_id == budget.id, s.period_start == start, s[column].is_(None))
                .values({column: datetime.now(UTC)})
            ).rowcount
            if claimed == 1:
                what = (
                    f"passed {budget.soft_share:.0%} of its amount"
                    if kind == "budget_soft"
                    else "has no room left for calls in its amount"
                    if budget.hard
                    else "reached its amount"
                )
                self._ws.alerts.record(
                    conn,
                    kind,
                    f"Budget '{budget.name}' ({budget.scope_kind} {budget.scope or '*'}) {what}"
                    f" of ${budget.amount_usd:g} this {budget.period}.",
                    subject=f"budget:{budget.name}",
                    severity="critical" if kind == "budget_exceeded" else "warning",
                    payload={"budget": budget.name, "period_start": start.isoformat(),
                             "amount_usd": budget.amount_usd},
                )  # fmt: skip
        self._alerted.add(key)

    def _missing(self, conn: Connection, name: str) -> NotFound:
        live = (
            conn.execute(
                sa.select(budgets.c.name)
                .where(budgets.c.deleted_at.is_(None))
                .order_by(budgets.c.name)
            )
            .scalars()
            .all()
        )
        known = ", ".join(live[:20]) or "none yet"
        return NotFound(f"Budget '{name}' does not exist; budgets are: {known}.", field="budget")


class _Refused(Exception):
    def __init__(self, budget: Budget) -> None:
        self.budget = budget


def _ensure_row(conn: Connection, budget_id: int, start: datetime) -> None:
    """Insert the period's spend row unless it exists (race-safe: ON CONFLICT DO NOTHING)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {"budget_id": budget_id, "period_start": start, "spent_usd": 0.0, "reserved_usd": 0.0}
    conn.execute(dialect.insert(budget_spend).values(**values).on_conflict_do_nothing())

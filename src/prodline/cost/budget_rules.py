"""Budget definitions as plain data, their checks, and the calendar periods they run over.

:mod:`prodline.cost.budgets` is the service; this module holds what it (and the servers
that enforce budgets) share: :class:`Budget`, :class:`BudgetStatus`, :class:`Reservation`,
:class:`BudgetExceeded` and :func:`period_bounds`.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from prodline.errors import Conflict, InvalidInput

__all__ = [
    "PERIODS",
    "SCOPE_KINDS",
    "Budget",
    "BudgetExceeded",
    "BudgetStatus",
    "Reservation",
    "budget_from_row",
    "check_budget",
    "number",
    "period_bounds",
]

SCOPE_KINDS = ("team", "model", "kb", "token", "all")
"""What a budget can cover: a team's, a model's, a KB's or an API token user's calls, or all."""

PERIODS = ("day", "week", "month")
"""Budget (and KPI) periods, in UTC: from midnight, from Monday, from the 1st."""

_ON_EXCEED = ("refuse", "route")


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The UTC ``[start, end)`` of the ``period`` (day, week, month) that holds ``now``.

    >>> period_bounds("week", datetime(2026, 12, 3, 15, tzinfo=UTC))[0].isoformat()
    '2026-11-30T00:00:00+00:00'
    """
    day = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day, day + timedelta(days=1)
    if period == "week":
        start = day - timedelta(days=day.weekday())
        return start, start + timedelta(days=7)
    if period == "month":
        start = day.replace(day=1)
        nxt = start.replace(year=start.year + 1, month=1) if start.month == 12 else None
        return start, nxt or start.replace(month=start.month + 1)
    raise InvalidInput(f"Period '{period}' is not known; use day, week or month.", field="period")


@dataclass(frozen=True)
class Budget:
    """One budget's definition (its spend is in :class:`BudgetStatus`)."""

    id: int
    name: str
    scope_kind: str
    scope: str
    period: str
    amount_usd: float
    soft_share: float
    hard: bool
    on_exceed: str
    route_to: str | None
    created_by: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**asdict(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class BudgetStatus:
    """A budget's spend in the period holding ``now``; ``state`` is ok, soft or exceeded."""

    budget: Budget
    period_start: datetime
    period_end: datetime
    spent_usd: float
    reserved_usd: float

    @property
    def share(self) -> float:
        """Spent (settled) over the amount."""
        return self.spent_usd / self.budget.amount_usd

    @property
    def state(self) -> str:
        """``exceeded`` at or past the amount, ``soft`` past the soft share, else ``ok``."""
        if self.share >= 1.0:
            return "exceeded"
        return "soft" if self.share >= self.budget.soft_share else "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, with the budget's definition under ``budget``."""
        return {
            "budget": self.budget.to_dict(),
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(),
            "spent_usd": self.spent_usd,
            "reserved_usd": self.reserved_usd,
            "share": self.share,
            "state": self.state,
        }


@dataclass(frozen=True)
class Reservation:
    """What ``reserve`` put aside: per budget id, the period row it went to; the estimate."""

    periods: tuple[tuple[int, datetime], ...]
    estimate_usd: float


class BudgetExceeded(Conflict):
    """A hard budget has no room for the call; the servers answer 429 naming ``budget``."""

    code = "budget_exceeded"

    def __init__(self, budget: Budget, estimate_usd: float) -> None:
        super().__init__(
            f"Hard budget '{budget.name}' ({budget.scope_kind} {budget.scope or '*'}, "
            f"${budget.amount_usd:g} per {budget.period}) has no room for this call "
            f"(~${estimate_usd:.6g}); wait for the next {budget.period} or raise it with "
            "prodline budget create.",
            budget=budget.name,
            on_exceed=budget.on_exceed,
            route_to=budget.route_to,
        )
        self.budget = budget.name
        self.on_exceed = budget.on_exceed
        self.route_to = budget.route_to


def budget_from_row(row: Any) -> Budget:
    """The entity for one ``budgets`` row."""
    return Budget(
        id=int(row.id),
        name=row.name,
        scope_kind=row.scope_kind,
        scope=row.scope,
        period=row.period,
        amount_usd=float(row.amount_usd),
        soft_share=float(row.soft_share),
        hard=bool(row.hard),
        on_exceed=row.on_exceed,
        route_to=row.route_to,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def number(value: Any, name: str) -> float:
    """``value`` as a finite float; InvalidInput naming ``name`` otherwise (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a number, got {value!r}.", field=name)
    return float(value)


def check_budget(
    name: str, scope_kind: str, scope: str, period: str, amount: Any, soft: Any, on_exceed: str,
    route_to: str | None,
) -> None:  # fmt: skip
    """Refuse a budget definition with a bad field, naming it."""
    if not isinstance(name, str) or not name.strip() or len(name) > 100:
        raise InvalidInput("A budget needs a name of 1-100 characters.", field="name")
    if scope_kind not in SCOPE_KINDS:
        raise InvalidInput(
            f"Scope kind '{scope_kind}' is not known; use one of {', '.join(SCOPE_KINDS)}.",
            field="scope_kind",
        )
    if scope_kind != "all" and not scope:
        raise InvalidInput(
            f"A {scope_kind} budget needs the {scope_kind}'s name as scope.", field="scope"
        )
    period_bounds(period, datetime.now(UTC))
    if number(amount, "amount_usd") <= 0:
        raise InvalidInput(f"amount_usd must be above 0, got {amount}.", field="amount_usd")
    if not 0 < number(soft, "soft_share") <= 1:
        raise InvalidInput(
            f"soft_share {soft} is outside (0, 1]; give e.g. 0.8.", field="soft_share"
        )
    if on_exceed not in _ON_EXCEED:
        raise InvalidInput(
            f"on_exceed '{on_exceed}' is not known; use refuse (HTTP 429) or route.",
            field="on_exceed",
        )
    if on_exceed == "route" and not route_to:
        raise InvalidInput(
            "on_exceed route needs route_to: the (cheaper) provider to send calls to.",
            field="route_to",
        )

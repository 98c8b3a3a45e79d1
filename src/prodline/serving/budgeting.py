"""Hard and soft budgets on both servers (issue 11: costs).

A :class:`BudgetWatch` keeps the budgets that apply to the server's model or
knowledge base (``ws.costs.budgets.applicable``) and the price version in force, read at
start and every 5 s in a worker thread, never per request. With no hard budget the
request path pays one attribute read (``watch.enforcing``). With one, a request reserves
its estimated cost first (the last request's cost; for a chat call, the price of its
``max_tokens``); a refused reservation is HTTP 429 ``budget_exceeded`` naming the budget
or, for a RAG budget with ``on_exceed = "route"``, the call goes to the budget's
``route_to`` provider and its ``route_reason`` says why. The log writer settles each
reservation with the actual cost. Soft-only budgets are charged by the writer thread,
per batch (:mod:`prodline.serving.metering`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prodline.errors import ProdlineError
from prodline.serving.polling import Refreshing

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = [
    "BUDGET_STATUS",
    "REFRESH_S",
    "BudgetRefused",
    "BudgetWatch",
    "budget_refusal",
    "budget_route",
    "is_budget_exceeded",
]

log = logging.getLogger("prodline.serving")

BUDGET_STATUS = 429
"""HTTP status of a request a hard budget refuses."""

REFRESH_S = 5.0
"""How often the servers re-read the applicable budgets and the price version."""


class BudgetRefused(ProdlineError):
    """A hard budget is spent: the request is refused (HTTP 429, code ``budget_exceeded``)."""

    code = "budget_exceeded"


def _budget_name(exc: BaseException) -> str:
    budget = getattr(exc, "budget", None)
    return str(getattr(budget, "name", budget) or "")


def budget_refusal(exc: BaseException) -> BudgetRefused:
    """The 429 error of a refused reservation, naming the budget."""
    name = _budget_name(exc)
    text = str(getattr(exc, "message", "") or "")
    if f"'{name}'" not in text:
        text = (
            f"The hard budget '{name}' is spent for this period; requests it covers are "
            f"refused until the period ends or an admin raises it (prodline budget show {name})."
        )
    return BudgetRefused(text, budget=name)


def budget_route(exc: BaseException) -> str | None:
    """The provider a refused reservation routes to (``on_exceed = "route"``), or None."""
    if getattr(exc, "on_exceed", "refuse") == "route":
        return getattr(exc, "route_to", None) or None
    return None


def is_budget_exceeded(exc: BaseException) -> bool:
    """Whether ``exc`` is ``prodline.cost.budgets.BudgetExceeded`` (by its shape)."""
    return hasattr(exc, "budget") and hasattr(exc, "on_exceed")


class BudgetWatch(Refreshing):
    """The budgets of one model or knowledge base and the price version in force.

    ``refresh()`` (every ``interval`` seconds in a worker thread, after ``start()``) reads
    ``ws.costs.budgets.applicable(...)`` for each token user seen so far and
    ``ws.costs.prices.at(now)``. ``enforcing`` is what the request path reads: True once
    a hard budget applies (or, under ``--auth token``, a user's budgets are to be read).
    A store error keeps the last values and is logged once per streak.
    """

    task_name = "budgets"

    def __init__(
        self,
        ws: Workspace,
        *,
        team: str,
        model: str = "",
        kb: str = "",
        by_token: bool = False,
        interval: float = REFRESH_S,
        on_refresh: Callable[[BudgetWatch], None] | None = None,
    ) -> None:
        self._ws = ws
        self._on_refresh = on_refresh
        self.team, self.model, self.kb = team, model, kb
        self.by_token = by_token
        self.interval = interval
        self.hard: dict[str, list[Any]] = {"": []}
        self.soft: dict[str, list[Any]] = {"": []}
        self.price: Any = None
        self.enforcing = by_token
        self.last_cost = 0.0
        self._failing = False
        self._lock = threading.Lock()

    # -- reading -----------------------------------------------------------------------
    def _applicable(self, user: str) -> tuple[list[Any], list[Any]]:
        found = self._ws.costs.budgets.applicable(
            team=self.team, model=self.model, kb=self.kb, token_user=user
        )
        hard = [b for b in found if getattr(b, "hard", False)]
        return hard, [b for b in found if not getattr(b, "hard", False)]

    def refresh(self) -> None:
        """Read the budgets of every user seen, and the price version in force."""
        try:
            costs = self._ws.costs
            price = costs.prices.at(datetime.now(UTC))
            hard, soft = {}, {}
            for user in list(self.hard):
                hard[user], soft[user] = self._applicable(user)
        except Exception as exc:
            if not self._failing:
                log.warning("budgets of %s: cannot read: %s", self.model or self.kb, exc)
            self._failing = True
            return
        self._failing = False
        with self._lock:
            self.price = price
            self.hard.update(hard)
            self.soft.update(soft)
            self.enforcing = self.by_token or any(hard.values())
        if self._on_refresh is not None:
            self._on_refresh(self)

    @property
    def charging(self) -> bool:
        """Whether any budget (hard or soft) applies to someone: costs must be measured."""
        return any(self.hard.values()) or any(self.soft.values())

    def budgets_of(self, user: str) -> list[Any]:
        """The hard budgets of ``user`` (read now, once, for a user not seen before)."""
        found = self.hard.get(user)
        if found is None:
            try:
                found, soft = self._applicable(user)
            except Exception as exc:
                log.warning("budgets of token user %s: cannot read: %s", user, exc)
                return self.hard.get("", [])
            with self._lock:
                self.hard[user], self.soft[user] = found, soft
        return found

    # -- reserving (blocking: worker threads) -----------------------------------------
    def reserve(self, user: str, estimate: float | None = None) -> Any:
        """Reserve ``estimate`` (default: the last request's cost) on ``user``'s hard
        budgets; None when none applies. Raises ``BudgetExceeded`` when one is spent."""
        budgets = self.budgets_of(user)
        if not budgets:
            return None
        cost = self.last_cost if estimate is None else estimate
        return self._ws.costs.budgets.reserve([b.id for b in budgets], cost)

    def settle(self, reservation: Any, actual: float) -> None:
        """Turn a reservation into spend (0 releases it); a store error is logged."""
        if reservation is None:
            return
        try:
            self._ws.costs.budgets.settle(reservation, actual)
        except Exception as exc:
            log.warning("budget: cannot settle a reservation of %.6f USD: %s", actual, exc)

    def charge_soft(self, by_user: Mapping[str, float]) -> None:
        """Charge soft-only budgets with what a batch cost (writer thread)."""
        budgets = self._ws.costs.budgets if any(self.soft.values()) else None
        if budgets is None:
            return
        for user, cost in by_user.items():
            soft = self.soft.get(user) or self.soft.get("", [])
            if soft and cost > 0:
                try:
                    budgets.settle(budgets.reserve([b.id for b in soft], 0.0), cost)
                except Exception as exc:
                    log.warning("soft budgets: cannot charge %.6f USD: %s", cost, exc)

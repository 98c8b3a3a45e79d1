"""Costs: versioned price tables, the meter, budgets, KPIs, reports and route comparisons.

Reached as ``ws.costs``::

    ws.costs.prices.set(Path("prices.yaml"))           # a new price version, audited
    ws.costs.meter.write([{"ts": now, "kind": "chat", ...}])
    report = ws.costs.report(by="team", period="30d")  # priced by the version at each ts
    ws.costs.compare(kb="support", period="7d", routes={...})

Budgets and KPIs (``ws.costs.budgets``, ``ws.costs.kpis``) live in
:mod:`prodline.cost.budgets` and :mod:`prodline.cost.kpis`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from prodline.cost.compare import Comparison, compare_routes
from prodline.cost.meter import Meter
from prodline.cost.prices import PriceBook, PriceVersion
from prodline.cost.report import CostReport, build_report

if TYPE_CHECKING:
    from prodline.cost.budgets import Budgets
    from prodline.cost.kpis import Kpis
    from prodline.workspace import Workspace

__all__ = ["Comparison", "CostReport", "Costs", "Meter", "PriceBook", "PriceVersion"]


class Costs:
    """Reached as ``ws.costs``: prices, meter, budgets, KPIs, reports and comparisons."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws
        self.prices = PriceBook(ws)
        self.meter = Meter(ws, self.prices)
        self._budgets: Budgets | None = None
        self._kpis: Kpis | None = None

    @property
    def budgets(self) -> Budgets:
        """Budgets per team, model, KB, token or everything (:mod:`prodline.cost.budgets`)."""
        if self._budgets is None:
            from prodline.cost.budgets import Budgets

            self._budgets = Budgets(self._ws)
        return self._budgets

    @property
    def kpis(self) -> Kpis:
        """Business KPIs and their events (:mod:`prodline.cost.kpis`)."""
        if self._kpis is None:
            from prodline.cost.kpis import Kpis

            self._kpis = Kpis(self._ws)
        return self._kpis

    def report(
        self, *, by: str, period: str | timedelta = "30d", now: datetime | None = None
    ) -> CostReport:
        """Costs of the last ``period`` grouped by team, model, kb, provider or token."""
        return build_report(self.meter, self.prices, by=by, period=period, now=now)

    def compare(
        self,
        *,
        kb: str,
        period: str | timedelta = "7d",
        routes: Mapping[str, Mapping[str, Any]] | None = None,
        now: datetime | None = None,
    ) -> Comparison:
        """KB ``kb``'s recorded calls of ``period`` replayed against every route."""
        return compare_routes(
            self._ws, self.meter, self.prices, kb=kb, period=period, routes=routes, now=now
        )

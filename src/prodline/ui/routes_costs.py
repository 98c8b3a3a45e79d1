"""Costs: spend by team, model, KB, provider or token over a period; budgets; KPIs.

Everything is read through ``ws.costs`` (the report aggregates the metered records
columnar, in pyarrow; budgets and KPIs are a few indexed reads), so the page stays
fast however many records the meter holds.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from prodline.errors import InvalidInput
from prodline.ui.charts import bars, line_chart
from prodline.ui.web import UI, Ctx

__all__ = ["add_cost_routes"]

GROUPINGS = ("team", "model", "kb", "provider", "token")
PERIODS = ("1d", "7d", "30d", "90d")
BARS = 12


def add_cost_routes(router: APIRouter, ui: UI) -> None:
    """``/costs``."""

    @router.get("/costs", include_in_schema=False)
    def costs_page(request: Request) -> Response:
        return ui.page(request, _costs)


def _choice(ctx: Ctx, name: str, allowed: tuple[str, ...], default: str) -> str:
    value = ctx.query(name) or default
    if value not in allowed:
        raise InvalidInput(
            f"{name} must be one of {', '.join(allowed)}, got {value!r}.", field=name
        )
    return value


def _costs(ctx: Ctx) -> Response:
    by = _choice(ctx, "by", GROUPINGS, "team")
    period = _choice(ctx, "period", PERIODS, "30d")
    costs = ctx.ws.costs
    report = costs.report(by=by, period=period)
    top = report.groups[:BARS]
    chart = bars(
        f"cost (USD) by {by}, last {period}",
        [row.key or "(none)" for row in top],
        [row.cost_usd for row in top],
        testid="cost-chart",
    )
    kpis = [(kpi, costs.kpis.series(kpi.name, windows=8)) for kpi in costs.kpis.list()]
    return ctx.render(
        "costs.html",
        by=by,
        period=period,
        groupings=GROUPINGS,
        periods=PERIODS,
        report=report,
        chart=chart,
        budgets=costs.budgets.statuses(),
        kpis=[(kpi, windows, _kpi_chart(kpi, windows)) for kpi, windows in kpis],
    )


def _kpi_chart(kpi: Any, windows: list[Any]) -> Markup:
    labels = [w.start.strftime("%m-%d") for w in windows]
    values = [w.value for w in windows]
    return line_chart(
        f"{kpi.name} per {kpi.window} (baseline {kpi.baseline:g}, target {kpi.target:g})",
        labels,
        {
            kpi.name: values,
            "baseline": [kpi.baseline] * len(windows),
            "target": [kpi.target] * len(windows),
        },
        testid="kpi-chart",
    )

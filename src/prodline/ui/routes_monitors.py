"""Monitors: their latest verdicts, drift and performance over time, alerts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup

from prodline.ui.charts import line_chart
from prodline.ui.web import UI, Ctx

__all__ = ["add_monitor_routes"]

RUNS = 60
DRIFT_CHECKS = ("data_drift", "prediction_drift", "query_drift", "embedding_drift")


def add_monitor_routes(router: APIRouter, ui: UI) -> None:
    """``/monitors`` and ``/monitors/{name}``."""

    @router.get("/monitors", include_in_schema=False)
    def monitors_page(request: Request) -> Response:
        return ui.page(request, _monitors)

    @router.get("/monitors/{name}", include_in_schema=False)
    def monitor_page(request: Request, name: str) -> Response:
        return ui.page(request, lambda ctx: _monitor(ctx, name))


def _monitors(ctx: Ctx) -> Response:
    page = ctx.paging()
    everything = ctx.ws.monitors.list()
    return ctx.render(
        "monitors.html",
        monitors=everything[page.offset : page.offset + page.size],
        page=page,
        total=len(everything),
        alerts=ctx.ws.alerts.list(limit=20),
    )


def _monitor(ctx: Ctx, name: str) -> Response:
    monitor = ctx.ws.monitors.get(name)
    runs = ctx.ws.monitors.runs(name, limit=RUNS)[::-1]  # oldest first, for the charts
    return ctx.render(
        "monitor.html",
        monitor=monitor,
        runs=runs[::-1][:20],
        drift=drift_chart(runs),
        performance=performance_chart(runs),
        alerts=ctx.ws.alerts.list(monitor=name, limit=20),
    )


def _label(run: Any) -> str:
    return str(run.started_at.strftime("%m-%d %H:%M"))


def _checks(run: Any) -> dict[str, Any]:
    checks = run.summary.get("checks") if isinstance(run.summary, dict) else None
    return checks if isinstance(checks, dict) else {}


def drift_chart(runs: list[Any]) -> Markup:
    """Share of drifted columns per drift check, one point per run (oldest first)."""
    series: dict[str, list[float | None]] = {}
    for i, run in enumerate(runs):
        for check, result in _checks(run).items():
            if check in DRIFT_CHECKS or check.endswith("drift"):
                share = result.get("share") if isinstance(result, dict) else None
                line = series.setdefault(check, [None] * len(runs))
                line[i] = float(share) if isinstance(share, int | float) else None
    return line_chart(
        "drift: share of drifted columns per run",
        [_label(r) for r in runs],
        series,
        testid="drift-chart",
    )


def performance_chart(runs: list[Any]) -> Markup:
    """The performance check's metric per run, with its threshold."""
    values: list[float | None] = []
    threshold = None
    metric = "performance"
    for run in runs:
        result = _checks(run).get("performance")
        value = result.get("value") if isinstance(result, dict) else None
        values.append(float(value) if isinstance(value, int | float) else None)
        if isinstance(result, dict):
            metric = str(result.get("metric") or metric)
            if isinstance(result.get("threshold"), int | float):
                threshold = float(result["threshold"])
    return line_chart(
        f"{metric} per run",
        [_label(r) for r in runs],
        {metric: values} if any(v is not None for v in values) else {},
        threshold=threshold,
        testid="performance-chart",
    )

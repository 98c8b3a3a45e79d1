"""Costs, budgets, KPIs and business events under ``/api/v1`` (``ws.costs``).

``POST /events`` is how a business system reports what happened (a ticket resolved
without an agent, a decision's minutes): one event ``{"kpi", "value", "ts"?}`` or a batch
``{"events": [...]}``, answered 202 with the counts. It needs ``kpi.record`` (service,
ml-engineer or admin); an unknown KPI is 404 and a value that is not a number 422, both
naming the field, and nothing of the batch is stored then. Reading KPIs, budgets and cost
reports needs a reader's role.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Body, Query
from fastapi.responses import JSONResponse

from prodline.api.deps import Actor, Paging, Reader
from prodline.api.pagination import paged
from prodline.errors import InvalidInput

__all__ = ["router"]

router = APIRouter(tags=["costs"])

_EVENT_EXAMPLE = {"kpi": "grounded-answers", "value": 1, "ts": "2026-12-01T10:00:00Z"}


@router.post(
    "/events",
    summary="Record business events of KPIs (one, or a batch under events)",
    status_code=202,
)
def post_events(
    ws: Actor, body: dict[str, Any] = Body(..., examples=[_EVENT_EXAMPLE])
) -> JSONResponse:
    """``ws.costs.kpis.record_many``: all the events or none; 202 with counts per KPI."""
    if "events" in body:
        records = body["events"]
        if not isinstance(records, list):
            raise InvalidInput(
                'events must be a list of {"kpi", "value", "ts"?} objects.', field="events"
            )
    else:
        records = [body]
    accepted = ws.costs.kpis.record_many(records)
    counts = Counter(str(r.get("kpi")) for r in records if isinstance(r, dict))
    return JSONResponse({"accepted": accepted, "kpis": dict(counts)}, status_code=202)


@router.get("/kpis", summary="KPIs, by name")
def list_kpis(ws: Reader, page: Paging) -> dict[str, Any]:
    """A page of KPI definitions."""
    return paged(page, ws.costs.kpis.list(), lambda k: k.to_dict())


@router.get("/kpis/{name}", summary="One KPI with its value per window (and its ROI)")
def get_kpi(
    ws: Reader,
    name: str,
    windows: int = Query(8, description="How many windows, the current one last (1..520)."),
    period: str | None = Query(None, description="Add the ROI over this period, e.g. 30d."),
) -> dict[str, Any]:
    """The KPI's definition, its last ``windows`` windows and, given ``period``, its ROI."""
    kpis = ws.costs.kpis
    found = kpis.get(name)
    series = [w.to_dict() for w in kpis.series(name, windows=windows)]
    roi = kpis.roi(name, period=period).to_dict() if period else None
    return {**found.to_dict(), "windows": series, "roi": roi}


@router.get("/budgets", summary="Budgets with their spend in the current period")
def list_budgets(ws: Reader, page: Paging) -> dict[str, Any]:
    """A page of live budgets, by name, each with spent, reserved, share and state."""
    return paged(page, ws.costs.budgets.statuses(), lambda s: s.to_dict())


@router.get("/budgets/{name}", summary="One budget with its spend in the current period")
def get_budget(ws: Reader, name: str) -> dict[str, Any]:
    """Budget ``name``'s definition and current spend."""
    return ws.costs.budgets.status(name).to_dict()


@router.get("/costs", summary="Metered cost of a period, grouped")
def cost_report(
    ws: Reader,
    by: str = Query("team", description="team, model, kb, provider or token."),
    period: str = Query("30d", description="The last 30d, 12h, 2w, 90m…"),
) -> dict[str, Any]:
    """``ws.costs.report``: requests, tokens, CPU and cost per group, priced by the price
    version in force at each record's time."""
    return ws.costs.report(by=by, period=period).to_dict()

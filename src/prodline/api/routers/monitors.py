"""``/api/v1/monitors`` and ``/api/v1/alerts``: monitors, their runs, and the alerts
they raised (with webhook deliveries)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from prodline.api.deps import Paging, Reader
from prodline.api.pagination import paged

__all__ = ["router"]

router = APIRouter(tags=["monitors and alerts"])


@router.get("/monitors", summary="Monitors, by name")
def list_monitors(ws: Reader, page: Paging) -> dict[str, Any]:
    """Every monitor with its target, checks and schedule."""
    return paged(page, ws.monitors.list(), lambda m: m.to_dict())


@router.get("/monitors/{name}", summary="One monitor")
def get_monitor(ws: Reader, name: str) -> dict[str, Any]:
    """Monitor ``name``."""
    return ws.monitors.get(name).to_dict()


@router.get("/monitors/{name}/runs", summary="A monitor's runs, newest first")
def monitor_runs(ws: Reader, name: str, page: Paging) -> dict[str, Any]:
    """The runs of ``name`` with each check's verdict (``total`` counts those fetched)."""
    runs = ws.monitors.runs(name, limit=page.end + 1)
    body = paged(page, runs, lambda r: r.to_dict())
    if len(runs) > page.end:
        body["total"] = None  # more than asked for: not counted
    return body


@router.get("/alerts", summary="Alerts, newest first")
def list_alerts(
    ws: Reader,
    page: Paging,
    monitor: str | None = Query(None, description="Only this monitor's alerts."),
    kind: str | None = Query(None, description="data_drift, performance_drop, review_sla …"),
) -> dict[str, Any]:
    """Alerts of every monitor (or one), optionally of one kind."""
    found = ws.alerts.list(monitor=monitor, kind=kind, limit=page.end + 1)
    body = paged(page, found, lambda a: a.to_dict())
    if len(found) > page.end:
        body["total"] = None
    return body


@router.get("/alerts/{alert_id}", summary="One alert with its webhook deliveries")
def get_alert(ws: Reader, alert_id: int) -> dict[str, Any]:
    """Alert ``alert_id`` and where it was delivered."""
    alert = ws.alerts.get(alert_id).to_dict()
    alert["deliveries"] = [d.to_dict() for d in ws.alerts.deliveries(alert_id)]
    return alert

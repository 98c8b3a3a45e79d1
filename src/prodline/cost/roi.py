"""ROI of a KPI: the declared value of its change against baseline, next to what it cost.

The arithmetic, over the last ``period`` (``[end - period, end)``):

* ``current`` is the KPI's value over the period (its aggregate over every observation in
  it), ``n`` the number of observations;
* ``change`` = (``current`` - ``expected``) x sign, sign +1 when up is better, -1 when down:
  a positive change is an improvement;
* for a ``mean`` or ``rate`` KPI the baseline is a per-observation level, so
  ``expected`` = ``baseline`` and the change applies to every observation:
  ``benefit`` = ``value_per_unit_usd`` x ``change`` x ``n``
  (0.70 resolved vs a 0.50 baseline over 1,000 tickets at $5 a resolved ticket:
  5 x 0.20 x 1,000 = $1,000);
* for a ``sum`` or ``count`` KPI the baseline is a volume per KPI window, so
  ``expected`` = ``baseline`` x (period / window) (a day, 7 days, 30.44 days) and
  ``benefit`` = ``value_per_unit_usd`` x ``change`` (a volume already);
* ``cost`` is the metered cost of the KPI's subject over the same period
  (``ws.costs.report`` grouped by ``cost_by``: the model, else the KB of that name; every
  cost when the KPI has no subject); ``net`` = benefit - cost; ``ratio`` = benefit / cost
  (None when nothing was spent).

Records of unknown price are not counted in the cost (``unknown_records`` says how many).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from prodline.cost.report import parse_period

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["RoiReport", "roi"]

_WINDOW_DAYS = {"day": 1.0, "week": 7.0, "month": 365.25 / 12}
_COST_BY = ("model", "kb", "team", "provider", "token")


@dataclass(frozen=True)
class RoiReport:
    """The benefit, cost, net and ratio of one KPI over one period, with their inputs."""

    kpi: str
    subject: str | None
    start: datetime
    end: datetime
    aggregate: str
    direction: str
    baseline: float
    expected: float
    current: float | None
    n: int
    change: float
    value_per_unit_usd: float
    benefit_usd: float
    cost_usd: float
    cost_by: str | None
    unknown_records: int
    price_versions: list[int]
    net_usd: float
    ratio: float | None
    formula: str
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**asdict(self), "start": self.start.isoformat(), "end": self.end.isoformat()}


def roi(
    ws: Workspace,
    name: str,
    *,
    period: str | timedelta = "30d",
    cost_by: str | None = None,
    now: datetime | None = None,
) -> RoiReport:
    """The ROI of KPI ``name`` over the last ``period`` (see the module for the arithmetic).

    Raises
    ------
    NotFound
        No KPI ``name`` (``field`` kpi).
    InvalidInput
        A bad ``period`` or ``cost_by``.
    """
    from prodline.errors import InvalidInput

    if cost_by is not None and cost_by not in _COST_BY:
        raise InvalidInput(
            f"cost_by '{cost_by}' is not known; use one of {', '.join(_COST_BY)}.",
            field="cost_by",
        )
    span = parse_period(period)
    end = (now or datetime.now(UTC)).astimezone(UTC)
    start = end - span
    kpi = ws.costs.kpis.get(name)
    measured = ws.costs.kpis.measure(name, start, end)
    notes = []
    if kpi.aggregate in ("sum", "count"):
        windows = span / timedelta(days=_WINDOW_DAYS[kpi.window])
        expected = kpi.baseline * windows
        formula = (
            f"benefit = {kpi.value_per_unit_usd:g} x ({kpi.direction}) (current - "
            f"baseline {kpi.baseline:g} x {windows:.4g} {kpi.window}s)"
        )
    else:
        expected = kpi.baseline
        formula = (
            f"benefit = {kpi.value_per_unit_usd:g} x ({kpi.direction}) (current - baseline "
            f"{kpi.baseline:g}) x n"
        )
    if measured.value is None:
        change, benefit = 0.0, 0.0
        notes.append("no observations in the period")
    else:
        change = (measured.value - expected) * kpi.sign
        volume = measured.n if kpi.aggregate in ("mean", "rate") else 1
        benefit = kpi.value_per_unit_usd * change * volume
    cost, used_by, unknown, versions, cost_note = _cost(ws, kpi.subject, cost_by, span, end)
    if cost_note:
        notes.append(cost_note)
    return RoiReport(
        kpi=kpi.name,
        subject=kpi.subject,
        start=start,
        end=end,
        aggregate=kpi.aggregate,
        direction=kpi.direction,
        baseline=kpi.baseline,
        expected=expected,
        current=measured.value,
        n=measured.n,
        change=change,
        value_per_unit_usd=kpi.value_per_unit_usd,
        benefit_usd=benefit,
        cost_usd=cost,
        cost_by=used_by,
        unknown_records=unknown,
        price_versions=versions,
        net_usd=benefit - cost,
        ratio=benefit / cost if cost > 0 else None,
        formula=formula + "; net = benefit - cost; ratio = benefit / cost",
        note="; ".join(notes) or None,
    )


def _cost(
    ws: Workspace, subject: str | None, cost_by: str | None, span: timedelta, end: datetime
) -> tuple[float, str | None, int, list[int], str | None]:
    """Cost, the grouping used, unknown-price records, price versions and a note."""
    if subject is None:
        report = ws.costs.report(by=cost_by or "team", period=span, now=end)
        return report.total_usd, None, report.unknown, list(report.price_versions), report.note
    for by in (cost_by,) if cost_by else ("model", "kb"):
        report = ws.costs.report(by=by, period=span, now=end)
        for row in report.groups:
            if row.key == subject:
                return row.cost_usd, by, row.unknown, list(report.price_versions), report.note
    note = f"no metered cost for '{subject}' in the period"
    return 0.0, cost_by, 0, [], note

"""ROI arithmetic against hand-computed numbers: rate, count and down-is-better KPIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from prodline.errors import InvalidInput, NotFound
from prodline.workspace import Workspace

PRICES = """
currency: USD
tokens:
  cloud/gpt-4o-mini: {input: 0.00015, output: 0.0006}
compute:
  cpu_core_hour: 0.048
  gpu_hour: 2.50
  memory_gb_hour: 0.006
"""


def _chat(ts: datetime, kb: str) -> dict[str, object]:
    return {
        "ts": ts, "kind": "chat", "request_id": "r", "team": "support", "kb": kb,
        "provider": "cloud", "llm_model": "gpt-4o-mini", "input_tokens": 1000,
        "output_tokens": 2000, "cpu_ms": 60_000.0,
    }  # fmt: skip


def _kpi(ws: Workspace, name: str, **fields: object) -> None:
    args: dict[str, object] = {"definition": name, "source": "events", "window": "week"}
    ws.costs.kpis.create(name, **{**args, **fields})  # type: ignore[arg-type]


def test_roi_by_hand(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    now = datetime.now(UTC)
    ws.costs.prices.set(PRICES, effective=now - timedelta(days=60))
    # 10 desk calls in the period: tokens 1000 x 0.00015/1k + 2000 x 0.0006/1k = 0.00135,
    # compute 60 s of a core = 60,000 / 3,600,000 x 0.048 = 0.0008; 0.00215 a call
    calls = [_chat(now - timedelta(days=i + 1), "desk") for i in range(10)]
    calls += [_chat(now - timedelta(days=2), "other"), _chat(now - timedelta(days=40), "desk")]
    ws.costs.meter.write(calls)

    # a rate KPI of the desk: 7 of 10 grounded in the period (one older event is outside)
    _kpi(ws, "grounded", aggregate="rate", subject="desk", baseline=0.5, target=0.8,
         direction="up", value_per_unit_usd=2.0)  # fmt: skip
    values = [1, 1, 1, 1, 1, 1, 1, 0, 0, 0]
    events = [{"kpi": "grounded", "value": v, "ts": now - timedelta(days=i + 1)}
              for i, v in enumerate(values)]  # fmt: skip
    ws.costs.kpis.record_many(
        [*events, {"kpi": "grounded", "value": 0, "ts": now - timedelta(days=31)}]
    )
    report = ws.costs.kpis.roi("grounded", period="30d", now=now)
    assert (report.current, report.n) == (pytest.approx(0.7), 10)
    assert report.change == pytest.approx(0.2)
    assert report.benefit_usd == pytest.approx(2.0 * 0.2 * 10)  # = 4.0
    assert report.cost_by == "kb" and report.cost_usd == pytest.approx(10 * 0.00215)
    assert report.net_usd == pytest.approx(4.0 - 0.0215)
    assert report.ratio == pytest.approx(4.0 / 0.0215)
    assert report.price_versions == [1] and report.unknown_records == 0

    # a count KPI: baseline 10 a week, so 20 expected in 14 days; 26 recorded: +6 x $5 = $30
    _kpi(ws, "deflected", aggregate="count", baseline=10, target=15, direction="up",
         value_per_unit_usd=5.0)  # fmt: skip
    ws.costs.kpis.record_many(
        [{"kpi": "deflected", "value": 1, "ts": now - timedelta(hours=i + 1)} for i in range(26)]
    )
    report = ws.costs.kpis.roi("deflected", period="14d", now=now)
    assert (report.expected, report.current) == (pytest.approx(20.0), 26.0)
    assert report.benefit_usd == pytest.approx(30.0)
    # no subject: every cost of the period (11 calls; the 40-day-old one is outside)
    assert report.cost_usd == pytest.approx(11 * 0.00215)

    # down is better: minutes per decision, baseline 10, now 7 over 4 decisions at $0.5 a
    # minute: (7 - 10) x -1 x 0.5 x 4 = $6
    _kpi(ws, "minutes", aggregate="mean", subject="nobody", baseline=10, target=8,
         direction="down", value_per_unit_usd=0.5)  # fmt: skip
    ws.costs.kpis.record_many(
        [{"kpi": "minutes", "value": v, "ts": now - timedelta(days=1)} for v in (6, 8, 5, 9)]
    )
    report = ws.costs.kpis.roi("minutes", now=now)
    assert report.benefit_usd == pytest.approx(6.0)
    assert report.cost_usd == 0 and report.ratio is None
    assert "no metered cost for 'nobody'" in (report.note or "")
    assert report.to_dict()["net_usd"] == pytest.approx(6.0)


def test_roi_bad_input(sqlite_ws: Workspace) -> None:
    with pytest.raises(NotFound) as info:
        sqlite_ws.costs.kpis.roi("nope")
    assert info.value.details["field"] == "kpi"
    _kpi(sqlite_ws, "k", aggregate="mean", baseline=1, target=2, direction="up")
    with pytest.raises(InvalidInput) as invalid:
        sqlite_ws.costs.kpis.roi("k", period="forever")
    assert invalid.value.details["field"] == "period"
    with pytest.raises(InvalidInput) as invalid:
        sqlite_ws.costs.kpis.roi("k", cost_by="planet")
    assert invalid.value.details["field"] == "cost_by"
    empty = sqlite_ws.costs.kpis.roi("k")
    assert (empty.current, empty.benefit_usd) == (None, 0.0)
    assert "no observations" in (empty.note or "")

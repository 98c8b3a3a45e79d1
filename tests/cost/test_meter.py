"""The meter: parquet segments with their ts range, a clock that goes backwards, scans of
a window, and one price_unknown alert per provider/model and price version."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from meter_support import NOW, PRICES, PRICES_V2, rec

from prodline.errors import InvalidInput
from prodline.store.tables import alerts, meter_segments
from prodline.workspace import Workspace


def _segments(ws: Workspace) -> list[Any]:
    with ws.db.read() as conn:
        return list(conn.execute(sa.select(meter_segments).order_by(meter_segments.c.id)))


def test_a_batch_is_one_parquet_segment_and_scans_by_ts(ws: Workspace) -> None:
    # the clock went backwards between the 2nd and 3rd record: kept as given
    batch = [rec(2, request_id="a"), rec(1, request_id="b"), rec(30, request_id="c")]
    assert ws.costs.meter.write(batch) == 3
    assert ws.costs.meter.write([rec(100, request_id="d", kind="predict", provider="")]) == 1
    assert ws.costs.meter.write([]) == 0
    first, _ = _segments(ws)
    assert first.rows == 3
    assert (first.min_ts, first.max_ts) == (NOW - timedelta(hours=30), NOW - timedelta(hours=1))
    assert first.path.startswith("2026/11/29/") and first.path.endswith(".parquet")
    assert (ws.home / "meter" / first.path).is_file()
    table = ws.costs.meter.scan(NOW - timedelta(hours=31), NOW)
    assert sorted(table["request_id"].to_pylist()) == ["a", "b", "c"]
    assert ws.costs.meter.segments(NOW - timedelta(hours=31), NOW) == [first.path]
    late = ws.costs.meter.scan(NOW - timedelta(hours=1, minutes=30), NOW)
    assert late["request_id"].to_pylist() == ["b"]
    assert late["ts"].to_pylist() == [datetime(2026, 11, 30, 11, 0, tzinfo=UTC)]
    assert ws.costs.meter.scan(NOW - timedelta(hours=200), NOW).num_rows == 4
    assert ws.costs.meter.scan(NOW, NOW + timedelta(hours=1)).num_rows == 0


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"ts": datetime(2026, 1, 1), "kind": "chat"}, "ts"),
        ({"kind": "chat"}, "ts"),
        ({"ts": NOW, "kind": "train"}, "kind"),
        ({"ts": NOW, "kind": "chat", "colour": "red"}, "colour"),
    ],
)
def test_bad_records_are_refused(make_ws: Any, record: dict[str, Any], field: str) -> None:
    ws = make_ws()
    with pytest.raises(InvalidInput) as err:
        ws.costs.meter.write([record])
    assert err.value.details["field"] == field
    assert _segments(ws) == []


def test_a_missing_price_raises_one_alert_per_route_and_version(make_ws: Any) -> None:
    ws = make_ws()
    meter = ws.costs.meter
    meter.write([rec(1, llm_model="gpt-5")])  # no price table at all: no version to name
    ws.costs.prices.set(PRICES, effective=NOW - timedelta(days=3))
    for _ in range(2):
        meter.write([rec(1, llm_model="gpt-5"), rec(2, llm_model="gpt-5"), rec(1)])
    ws.costs.prices.set(PRICES_V2, effective=NOW - timedelta(days=1))
    meter.write([rec(1, llm_model="gpt-5")])
    with ws.db.read() as conn:
        raised = conn.execute(
            sa.select(alerts.c.subject, alerts.c.payload, alerts.c.message)
            .where(alerts.c.kind == "price_unknown")
            .order_by(alerts.c.id)
        ).all()
    assert [(r.subject, r.payload["price_version"]) for r in raised] == [
        ("route:cloud/gpt-5", 1),
        ("route:cloud/gpt-5", 2),
    ]
    assert "prodline cost prices set" in raised[0].message
    # the report over those records neither raises them again nor prices them at 0
    report = ws.costs.report(by="provider", period="7d", now=NOW)
    row = next(r for r in report.groups if r.key == "cloud/gpt-5")
    assert (row.requests, row.unknown, row.cost_usd) == (6, 6, 0.0)
    with ws.db.read() as conn:
        count = conn.execute(
            sa.select(sa.func.count()).where(alerts.c.kind == "price_unknown")
        ).scalar_one()
    assert count == 2

"""Cost reports against hand-computed numbers: each record priced by the version in force
at its ts, unknown prices counted and named (never priced at 0), the HTML page offline."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from meter_support import NOW, PRICES, PRICES_V2, rec

from prodline.cost.html import write_html
from prodline.cost.report import NO_PRICES, parse_period
from prodline.errors import InvalidInput
from prodline.workspace import Workspace

# v1 (from NOW-10d): cloud/gpt 1.0 in / 2.0 out per 1k; 1,000 CPU ms = 0.001; 1,000 GPU ms = 0.01
RECORDS = [
    # A: 2*1.0 + 1*2.0 + 0.001 = 4.001 (v1)
    rec(2, input_tokens=2000, output_tokens=1000, cpu_ms=1000, token_user="ann"),
    # B: local/llama tokens free; 0.002 CPU + 0.01 GPU = 0.012 (v1)
    rec(
        3,
        provider="local",
        llm_model="llama",
        input_tokens=5000,
        output_tokens=5000,
        cpu_ms=2000,
        gpu_ms=1000,
        token_user="bob",
    ),
    # C: a prediction of credit@3 by team risk: 500 CPU ms = 0.0005 (v1)
    rec(
        5,
        kind="predict",
        team="risk",
        kb="",
        model="credit",
        version=3,
        provider="",
        llm_model="",
        cpu_ms=500,
    ),
    # D: no price for cloud/gpt-5 in v1: unknown
    rec(4, team="risk", kb="", llm_model="gpt-5", input_tokens=100),
    # E: 40 days ago, outside the 30-day period
    rec(24 * 40, input_tokens=1000),
    # F: after v2 (from NOW-1h): 1*10 + 1*20 = 30.0
    rec(0.5, input_tokens=1000, output_tokens=1000),
]


@pytest.fixture
def metered(make_ws: Any) -> Workspace:
    ws: Workspace = make_ws()
    ws.costs.prices.set(PRICES, effective=NOW - timedelta(days=10))
    ws.costs.meter.write(RECORDS[:5])
    ws.costs.prices.set(PRICES_V2, effective=NOW - timedelta(hours=1))
    ws.costs.meter.write(RECORDS[5:])
    return ws


def _rows(ws: Workspace, by: str) -> dict[str, tuple[Any, ...]]:
    report = ws.costs.report(by=by, period="30d", now=NOW)
    return {
        r.key: (
            r.requests,
            r.input_tokens,
            r.output_tokens,
            r.cpu_ms,
            round(r.cost_usd, 9),
            r.unknown,
        )
        for r in report.groups
    }


def test_report_by_team_and_provider_matches_hand_computed(metered: Workspace) -> None:
    assert _rows(metered, "team") == {
        "support": (3, 8000, 7000, 3000.0, 34.013, 0),
        "risk": (2, 100, 0, 500.0, 0.0005, 1),
    }
    assert _rows(metered, "provider") == {
        "cloud/gpt": (2, 3000, 2000, 1000.0, 34.001, 0),
        "local/llama": (1, 5000, 5000, 2000.0, 0.012, 0),
        "(none)": (1, 0, 0, 500.0, 0.0005, 0),
        "cloud/gpt-5": (1, 100, 0, 0.0, 0.0, 1),
    }
    report = metered.costs.report(by="team", period="30d", now=NOW)
    assert [r.key for r in report.groups] == ["support", "risk"]  # most expensive first
    assert report.total_usd == pytest.approx(34.0135)
    assert (report.requests, report.unknown) == (5, 1)
    assert report.price_versions == [1, 2]
    assert report.missing == [{"route": "cloud/gpt-5", "price_version": 1}]
    assert report.note is None
    assert report.to_dict()["rows"][0]["cost_usd"] == pytest.approx(34.013)


def test_report_by_model_kb_and_token(metered: Workspace) -> None:
    assert _rows(metered, "model")["credit"] == (1, 0, 0, 500.0, 0.0005, 0)
    assert _rows(metered, "kb")["help"] == (3, 8000, 7000, 3000.0, 34.013, 0)
    tokens = _rows(metered, "token")
    assert tokens["ann"][4] == 4.001 and tokens["bob"][4] == 0.012
    assert tokens["(none)"][:2] == (3, 1100)
    # a shorter period leaves the older records out
    week = metered.costs.report(by="team", period="90m", now=NOW)
    assert [(r.key, r.requests, round(r.cost_usd, 9)) for r in week.groups] == [
        ("support", 1, 30.0)
    ]
    assert week.price_versions == [2]


def test_without_a_price_table_costs_are_unknown(make_ws: Any) -> None:
    ws = make_ws()
    ws.costs.meter.write(RECORDS[:3])
    report = ws.costs.report(by="team", period="30d", now=NOW)
    assert report.note == NO_PRICES
    assert (report.requests, report.unknown, report.total_usd) == (3, 3, 0.0)
    assert report.price_versions == [] and report.missing == []
    empty = make_ws(home=ws.home.parent / "other").costs.report(by="kb", now=NOW)
    assert empty.groups == [] and empty.note == NO_PRICES


def test_bad_arguments_name_the_field(make_ws: Any) -> None:
    ws = make_ws()
    with pytest.raises(InvalidInput) as err:
        ws.costs.report(by="colour")
    assert err.value.details["field"] == "by"
    for bad in ("30", "d", "-1d", "0d"):
        with pytest.raises(InvalidInput) as err:
            parse_period(bad)
        assert err.value.details["field"] == "period"
    assert parse_period("2w") == timedelta(days=14)


def test_html_page_is_self_contained(metered: Workspace, tmp_path: Path) -> None:
    report = metered.costs.report(by="provider", period="30d", now=NOW)
    page = write_html(report, tmp_path / "out" / "costs.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<rect" in page
    assert "cloud/gpt" in page and "no price for cloud/gpt-5 in price version 1" in page
    assert "http://" not in page and "https://" not in page
    assert "<script" not in page and "<link" not in page and "src=" not in page

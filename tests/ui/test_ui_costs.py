"""The costs page: spend by grouping with its chart, unknown prices named, budgets, KPIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from ui_support import Site

PRICES = """
currency: USD
tokens:
  cloud/gpt-x: {input: 0.5, output: 1.0}
compute:
  cpu_core_hour: 3.6
  gpu_hour: 0
  memory_gb_hour: 0
"""


def test_costs_page_shows_spend_budgets_and_kpis(site: Site, admin: httpx.Client) -> None:
    ws = site.ws.acting_as(site.tokens["admin"])
    ws.costs.prices.set(PRICES, effective=datetime.now(UTC) - timedelta(days=2))
    now = datetime.now(UTC) - timedelta(minutes=5)
    ws.costs.meter.write(
        [
            {"ts": now, "kind": "chat", "team": "support", "kb": "docs", "provider": "cloud",
             "llm_model": "gpt-x", "input_tokens": 2000, "output_tokens": 1000},
            {"ts": now, "kind": "predict", "team": "risk", "model": "clf", "cpu_ms": 1000.0},
            {"ts": now, "kind": "chat", "team": "support", "kb": "docs", "provider": "other",
             "llm_model": "unpriced", "input_tokens": 10, "output_tokens": 10},
        ]
    )  # fmt: skip
    ws.costs.budgets.create(
        "support-daily", scope_kind="team", scope="support", period="day", amount_usd=5.0
    )
    ws.costs.kpis.create(
        "grounded-share",
        definition="share of answers that were grounded",
        source="events",
        aggregate="rate",
        baseline=0.5,
        target=0.8,
        direction="up",
        window="day",
    )
    ws.costs.kpis.record("grounded-share", 1.0)

    page = admin.get("/costs", params={"by": "team", "period": "7d"})
    assert page.status_code == 200, page.text
    text = page.text
    for testid in ("cost-filters", "cost-total", "cost-chart", "cost-row", "budget-row", "kpi"):
        assert f'data-testid="{testid}"' in text, testid
    # 2k in at $0.5/1k + 1k out at $1/1k = $2 for support; 1 s of a $3.6/h core = $0.001
    assert "2.000000" in text and "0.001000" in text
    assert 'data-testid="cost-missing-price"' in text and "other/unpriced" in text
    assert "support-daily" in text and "grounded-share" in text

    bad = admin.get("/costs", params={"by": "colour"})
    assert bad.status_code == 422 and "by must be one of" in bad.text

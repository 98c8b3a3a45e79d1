"""Route comparison: a KB's recorded calls replayed on every route, cost per 1,000
requests against hand-computed numbers, p50 latency where measured, sensitivity rules."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from meter_support import NOW, PRICES, rec

from prodline.errors import InvalidInput
from prodline.workspace import Workspace

ROUTES = {
    "cloud": {"model": "gpt", "self_hosted": False},
    "local": {"model": "llama", "self_hosted": True},
    "other": {"model": "x", "self_hosted": False},  # no price: unknown
}


@pytest.fixture
def kb_ws(make_ws: Any) -> Workspace:
    ws: Workspace = make_ws()
    ws.kbs.create("help", owner="support")
    ws.costs.prices.set(PRICES, effective=NOW - timedelta(days=10))
    ws.costs.meter.write(
        [
            rec(1, input_tokens=1000, output_tokens=500, cpu_ms=1000, latency_ms=100),
            rec(2, input_tokens=3000, output_tokens=1500, cpu_ms=1000, latency_ms=300),
            rec(
                3,
                provider="local",
                llm_model="llama",
                input_tokens=2000,
                output_tokens=1000,
                cpu_ms=2000,
                gpu_ms=4000,
                latency_ms=50,
            ),
            rec(1, kb="other", input_tokens=10**6),  # another KB
            rec(24 * 10, input_tokens=10**6),  # before the period
            rec(1, kind="predict", kb="help", provider="", llm_model="", cpu_ms=10**6),
        ]
    )
    return ws


def test_every_route_priced_per_1000_requests(kb_ws: Workspace) -> None:
    result = kb_ws.costs.compare(kb="help", period="7d", routes=ROUTES, now=NOW)
    assert (result.requests, result.input_tokens, result.output_tokens, result.cpu_ms) == (
        3,
        6000,
        3000,
        4000.0,
    )
    assert result.sensitivity == "none" and result.price_version == 1
    rows = {r.route: r for r in result.routes}
    assert [r.route for r in result.routes] == ["local", "cloud", "other"]  # cheapest first
    # cloud: 6*1.0 + 3*2.0 tokens + 4,000 CPU ms (0.004)
    assert rows["cloud"].cost_usd == pytest.approx(12.004)
    assert rows["cloud"].cost_per_1k_requests == pytest.approx(12.004 / 3 * 1000)
    assert rows["cloud"].p50_latency_ms == 200.0 and rows["cloud"].requests_seen == 2
    # local: free tokens + 0.004 CPU + 3 requests x 4,000 GPU ms (0.12)
    assert rows["local"].cost_usd == pytest.approx(0.124)
    assert rows["local"].cost_per_1k_requests == pytest.approx(124 / 3)
    assert rows["local"].p50_latency_ms == 50.0
    assert rows["other"].cost_usd is None and rows["other"].cost_per_1k_requests is None
    assert rows["other"].p50_latency_ms is None
    assert all(r.allowed for r in result.routes)
    assert result.to_dict()["routes"][0]["route"] == "local"


def test_a_sensitive_kb_allows_self_hosted_routes_only(
    kb_ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kb_ws.kbs, "sources", lambda name: [{"sensitivity": "pii"}])
    result = kb_ws.costs.compare(kb="help", period="7d", routes=ROUTES, now=NOW)
    assert result.sensitivity == "pii"
    allowed = {r.route: (r.allowed, r.reason) for r in result.routes}
    assert allowed["local"] == (True, "self-hosted")
    assert allowed["cloud"] == (False, "KB holds pii, privacy route: self-hosted providers only")
    assert allowed["other"][0] is False

    kb_ws.kbs.update("help", privacy="redact")  # the others get the context redacted
    result = kb_ws.costs.compare(kb="help", period="7d", routes=ROUTES, now=NOW)
    allowed = {r.route: (r.allowed, r.reason) for r in result.routes}
    assert allowed["cloud"] == (True, "KB holds pii: sent redacted (privacy redact)")


def test_routes_default_to_what_was_recorded(kb_ws: Workspace) -> None:
    result = kb_ws.costs.compare(kb="help", period="7d", now=NOW)
    assert sorted(r.route for r in result.routes) == ["cloud", "local"]
    with pytest.raises(InvalidInput):
        kb_ws.costs.compare(kb="help", period="week")

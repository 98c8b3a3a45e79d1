"""What a KB's recorded traffic would have cost on every configured route.

``Costs.compare(kb=..., period="7d", routes=...)`` replays the period's metered calls of
the knowledge base (their token counts, request volume and CPU time) against each route
— an ``[llm]`` provider and its model, passed in as ``routes`` since this part does not
read the LLM configuration itself — priced by the price version in force now. Per route:
the cost of the period and per 1,000 requests, p50 latency where that provider's calls
were measured, and whether the KB's sensitivity allows the route (a KB holding pii or phi
may only use self-hosted providers, unless its privacy is ``redact``: then the others get
the context redacted). A route without a token price has an unknown cost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow.compute as pc

from prodline.core.sensitivity import LEVEL_ORDER
from prodline.cost.report import parse_period

if TYPE_CHECKING:
    from prodline.cost.meter import Meter
    from prodline.cost.prices import PriceBook
    from prodline.workspace import Workspace

__all__ = ["Comparison", "RouteCost", "compare_routes"]

_SENSITIVE = ("pii", "phi")


@dataclass(frozen=True)
class RouteCost:
    """One route of a comparison."""

    route: str  # provider name
    model: str
    self_hosted: bool
    allowed: bool
    reason: str
    cost_usd: float | None  # None: no token price for provider/model
    cost_per_1k_requests: float | None
    p50_latency_ms: float | None  # None: no call of this provider was measured
    requests_seen: int  # recorded calls that went to this provider

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "route": self.route,
            "model": self.model,
            "self_hosted": self.self_hosted,
            "allowed": self.allowed,
            "reason": self.reason,
            "cost_usd": self.cost_usd,
            "cost_per_1k_requests": self.cost_per_1k_requests,
            "p50_latency_ms": self.p50_latency_ms,
            "requests_seen": self.requests_seen,
        }


@dataclass(frozen=True)
class Comparison:
    """A KB's period replayed against every route."""

    kb: str
    start: datetime
    end: datetime
    requests: int
    input_tokens: int
    output_tokens: int
    cpu_ms: float
    sensitivity: str
    price_version: int | None
    routes: list[RouteCost] = field(default_factory=list)

    def rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per route, cheapest known cost first."""
        return [r.to_dict() for r in self.routes]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready comparison."""
        return {
            "kb": self.kb,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cpu_ms": self.cpu_ms,
            "sensitivity": self.sensitivity,
            "price_version": self.price_version,
            "routes": self.rows(),
        }


def kb_sensitivity(ws: Workspace, kb: str) -> str:
    """The highest sensitivity among the KB's sources (``none`` without any)."""
    levels = [str(s.get("sensitivity") or "none") for s in ws.kbs.sources(kb)]
    return max(levels, key=lambda x: LEVEL_ORDER.get(x, 0), default="none")


def compare_routes(
    ws: Workspace,
    meter: Meter,
    prices: PriceBook,
    *,
    kb: str,
    period: str | timedelta = "7d",
    routes: Mapping[str, Mapping[str, Any]] | None = None,
    now: datetime | None = None,
) -> Comparison:
    """Replay KB ``kb``'s calls of the period on each route of ``routes``.

    ``routes`` maps a provider name to ``{"model": str, "self_hosted": bool}`` (the
    ``[llm]`` providers); without it, the provider/models seen in the records are used.
    """
    ws.kbs.get(kb)  # NotFound naming the KB
    span = parse_period(period)
    end = (now or datetime.now(UTC)).astimezone(UTC) + timedelta(microseconds=1)
    start = end - span
    table = meter.scan(start, end)
    table = table.filter(
        pc.and_(
            pc.equal(table["kb"].cast("string"), kb),
            pc.not_equal(table["kind"].cast("string"), "predict"),
        )
    )
    tin = int(pc.sum(table["input_tokens"]).as_py() or 0)
    tout = int(pc.sum(table["output_tokens"]).as_py() or 0)
    cpu = float(pc.sum(table["cpu_ms"]).as_py() or 0.0)
    n = table.num_rows
    version = prices.at(end)
    sensitivity = kb_sensitivity(ws, kb)
    privacy = str(getattr(ws.kbs.get(kb), "privacy", "route"))
    providers = np.asarray(table["provider"].cast("string").to_numpy(zero_copy_only=False))
    latency = table["latency_ms"].to_numpy()
    gpu = table["gpu_ms"].to_numpy()
    if routes is None:
        seen = {
            str(p): str(m)
            for p, m in zip(
                table["provider"].cast("string").to_pylist(),
                table["llm_model"].cast("string").to_pylist(),
                strict=True,
            )
            if p
        }
        routes = {p: {"model": m, "self_hosted": False} for p, m in seen.items()}
    rows: list[RouteCost] = []
    for name, config in sorted(routes.items()):
        model = str(config.get("model", ""))
        self_hosted = bool(config.get("self_hosted", False))
        mine = providers == name
        if sensitivity in _SENSITIVE and not self_hosted and privacy == "redact":
            allowed, reason = True, f"KB holds {sensitivity}: sent redacted (privacy redact)"
        elif sensitivity in _SENSITIVE and not self_hosted:
            allowed = False
            reason = f"KB holds {sensitivity}, privacy {privacy}: self-hosted providers only"
        else:
            allowed = True
            reason = "self-hosted" if self_hosted else f"KB sensitivity {sensitivity}"
        cost: float | None = None
        if version is not None:
            tokens = version.token_cost(name, model, tin, tout)
            if tokens is not None:
                gpu_ms = float(gpu[mine].mean()) * n if self_hosted and mine.any() else 0.0
                cost = tokens + version.compute_cost(cpu_ms=cpu, gpu_ms=gpu_ms)
        rows.append(
            RouteCost(
                route=name,
                model=model,
                self_hosted=self_hosted,
                allowed=allowed,
                reason=reason,
                cost_usd=cost,
                cost_per_1k_requests=None if cost is None or n == 0 else cost / n * 1000.0,
                p50_latency_ms=float(np.median(latency[mine])) if mine.any() else None,
                requests_seen=int(mine.sum()),
            )
        )
    rows.sort(key=lambda r: (r.cost_usd is None, r.cost_usd or 0.0, r.route))
    return Comparison(
        kb=kb,
        start=start,
        end=end,
        requests=n,
        input_tokens=tin,
        output_tokens=tout,
        cpu_ms=cpu,
        sensitivity=sensitivity,
        price_version=None if version is None else version.version,
        routes=rows,
    )

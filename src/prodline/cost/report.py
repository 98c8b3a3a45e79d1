"""Cost reports: metered records of a period, priced and grouped by team, model, KB,
provider/model or API token user.

Each record is priced by the price version in force at its ts (a vectorised search over
the versions' ``effective_from``): cost = input_tokens / 1000 * input price + output_tokens
/ 1000 * output price + cpu_ms / 3,600,000 * cpu_core_hour + gpu_ms / 3,600,000 * gpu_hour.
Records without a token price (or without any version in force) are counted as
``unknown`` and their cost is left out, never taken as zero; the report names the missing
provider/model and price version. Grouping is one pyarrow ``group_by`` over the scanned
table: no Python loop over records.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from prodline.cost.prices import codes, price_records
from prodline.errors import InvalidInput

if TYPE_CHECKING:
    from prodline.cost.meter import Meter
    from prodline.cost.prices import PriceBook

__all__ = ["BY", "CostReport", "CostRow", "build_report", "parse_period"]

BY = ("team", "model", "kb", "provider", "token")
"""What a report groups by; ``provider`` groups by provider/model, ``token`` by token user."""
_COLUMN = {"team": "team", "model": "model", "kb": "kb", "token": "token_user"}
_PERIOD = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": 60, "h": 3600, "d": 86_400, "w": 604_800}
NO_PRICES = "no price table; prodline cost prices set FILE"
NONE_KEY = "(none)"


def parse_period(text: str | timedelta) -> timedelta:
    """``30d``, ``12h``, ``2w``, ``90m`` (or a timedelta) as a timedelta > 0."""
    if isinstance(text, timedelta):
        period = text
    else:
        match = _PERIOD.match(str(text))
        if not match:
            raise InvalidInput(
                f"period must look like 30d, 12h, 2w or 90m, got {text!r}.", field="period"
            )
        period = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if period <= timedelta(0):
        raise InvalidInput("period must be longer than zero.", field="period")
    return period


@dataclass(frozen=True)
class CostRow:
    """One group of a cost report."""

    key: str
    requests: int
    input_tokens: int
    output_tokens: int
    cpu_ms: float
    cost_usd: float
    unknown: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "key": self.key,
            "requests": self.requests,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cpu_ms": self.cpu_ms,
            "cost_usd": self.cost_usd,
            "unknown": self.unknown,
        }


@dataclass(frozen=True)
class CostReport:
    """Costs of a period grouped by ``by``; ``missing`` names the prices that were lacking."""

    by: str
    start: datetime
    end: datetime
    groups: list[CostRow]
    price_versions: list[int]
    missing: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None

    @property
    def total_usd(self) -> float:
        """The known cost of every group."""
        return float(sum(r.cost_usd for r in self.groups))

    @property
    def requests(self) -> int:
        """Every metered record of the period."""
        return sum(r.requests for r in self.groups)

    @property
    def unknown(self) -> int:
        """Records whose cost is unknown."""
        return sum(r.unknown for r in self.groups)

    def rows(self) -> list[dict[str, Any]]:
        """One JSON-ready dict per group, most expensive first."""
        return [r.to_dict() for r in self.groups]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready report (``--json`` and the API)."""
        return {
            "by": self.by,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "requests": self.requests,
            "total_usd": self.total_usd,
            "unknown": self.unknown,
            "rows": self.rows(),
            "price_versions": list(self.price_versions),
            "missing": list(self.missing),
            "note": self.note,
        }


def _keys(table: pa.Table, by: str) -> tuple[np.ndarray, list[str]]:
    if by != "provider":
        return codes(table[_COLUMN[by]])
    pcode, providers = codes(table["provider"])
    mcode, models = codes(table["llm_model"])
    nm = max(len(models), 1)
    names = [
        f"{p}/{m}" if p else "" for p in providers or [""] for m in models or [""]
    ]  # index p * nm + m
    return pcode * nm + mcode, names


def build_report(
    meter: Meter,
    prices: PriceBook,
    *,
    by: str,
    period: str | timedelta = "30d",
    now: datetime | None = None,
) -> CostReport:
    """Price and group the metered records of the last ``period`` before ``now``."""
    if by not in BY:
        raise InvalidInput(f"by must be one of {', '.join(BY)}, got {by!r}.", field="by")
    span = parse_period(period)
    end = (now or datetime.now(UTC)).astimezone(UTC) + timedelta(microseconds=1)
    start = end - span
    wanted = ["ts", "provider", "llm_model", "input_tokens", "output_tokens", "cpu_ms", "gpu_ms"]
    if by != "provider":
        wanted.append(_COLUMN[by])
    table = meter.scan(start, end, columns=wanted)
    versions = prices.versions()
    priced = price_records(table, versions)
    meter.note_missing(priced.missing)
    key, names = _keys(table, by)
    grouped = (
        pa.table(
            {
                "k": key,
                "input_tokens": table["input_tokens"],
                "output_tokens": table["output_tokens"],
                "cpu_ms": table["cpu_ms"],
                "cost": priced.cost,
                "unknown": priced.unknown.astype(np.int64),
            }
        )
        .group_by("k")
        .aggregate(
            [
                ("k", "count"),
                ("input_tokens", "sum"),
                ("output_tokens", "sum"),
                ("cpu_ms", "sum"),
                ("cost", "sum"),
                ("unknown", "sum"),
            ]
        )
        .to_pydict()
    )
    groups = [
        CostRow(
            key=names[k] or NONE_KEY,
            requests=int(n),
            input_tokens=int(tin or 0),
            output_tokens=int(tout or 0),
            cpu_ms=float(cpu or 0.0),
            cost_usd=float(cost or 0.0),
            unknown=int(unk or 0),
        )
        for k, n, tin, tout, cpu, cost, unk in zip(
            grouped["k"],
            grouped["k_count"],
            grouped["input_tokens_sum"],
            grouped["output_tokens_sum"],
            grouped["cpu_ms_sum"],
            grouped["cost_sum"],
            grouped["unknown_sum"],
            strict=True,
        )
    ]
    groups.sort(key=lambda r: (-r.cost_usd, r.key))
    note = None
    if not versions:
        note = NO_PRICES
    elif priced.unknown.any() and not priced.missing:
        note = "records before the first price version have an unknown cost"
    return CostReport(
        by=by,
        start=start,
        end=end,
        groups=groups,
        price_versions=priced.used,
        missing=[{"route": r, "price_version": v} for r, v in priced.missing],
        note=note,
    )

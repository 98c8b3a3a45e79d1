"""Cost reports: metered records of a period, priced and grouped by team, model, KB,
provider/model or API token user.

Each record is priced by the price version in force at its ts (a vectorised search over
the versions' ``effective_from``): cost = input_tokens / 1000 * input price + output_tokens
/ 1000 * output price + cpu_ms / 3,600,000 * cpu_core_hour + gpu_ms / 3,600,000 * gpu_hour.
Records without a token price (or without any version in force) are counted as
``unknown`` and their cost is left out, never taken as zero; the report names the missing
provider/model and price version.

No Python loop over records: since a cost is linear in the counts, one pyarrow
``group_by`` sums requests, tokens and CPU/GPU ms per (group, price combination) — the
combination being the version in force at the record's ts and its provider/model — and
the few sums are priced. Segments lying inside the period under one price version are
read without their ts column (their version is known from the segment's ts range); the
others are read with it, filtered to the period and searched.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from prodline.cost.prices import codes, index_prices
from prodline.errors import InvalidInput

if TYPE_CHECKING:
    from prodline.cost.meter import Meter
    from prodline.cost.prices import PriceBook, PriceVersion

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


def _parts(
    meter: Meter, versions: list[PriceVersion], start: datetime, end: datetime
) -> list[tuple[list[str], int | None]]:
    """Segments to read together: those inside the window under one price version (read
    without ts: the version is known), and the rest (read with ts, filtered, searched)."""
    starts = [v.effective_from for v in versions]
    plain: dict[int, list[str]] = {}
    mixed: list[str] = []
    for path, low, high in meter.segment_ranges(start, end):
        slot = bisect_right(starts, low)
        if low >= start and high < end and slot == bisect_right(starts, high):
            plain.setdefault(slot, []).append(path)
        else:
            mixed.append(path)
    parts: list[tuple[list[str], int | None]] = [(p, s - 1) for s, p in sorted(plain.items())]
    return [*parts, (mixed, None)] if mixed else parts


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
    wanted = ["provider", "llm_model", "input_tokens", "output_tokens", "cpu_ms", "gpu_ms"]
    if by != "provider":
        wanted.append(_COLUMN[by])
    versions = prices.versions()
    totals: dict[str, np.ndarray] = {}  # key -> requests, in, out, cpu ms, cost, unknown
    missing: set[tuple[str, int]] = set()
    used: set[int] = set()
    before_first = False
    for paths, version in _parts(meter, versions, start, end):
        if version is None:
            table = meter.read(paths, ["ts", *wanted], start=start, end=end)
        else:
            table = meter.read(paths, wanted)
        if table.num_rows == 0:
            continue
        index = index_prices(table, versions, version=version)
        if by == "provider":  # the combination names the provider/model already
            g_in, names = index.combo, [""]
        else:
            key, names = codes(table[_COLUMN[by]])
            wide = len(names) * index.size >= 2**31
            g_in = (key.astype(np.int64) if wide else key) * index.size + index.combo
        grouped = (
            pa.table(
                {
                    "g": g_in,
                    "input_tokens": table["input_tokens"],
                    "output_tokens": table["output_tokens"],
                    "cpu_ms": table["cpu_ms"],
                    "gpu_ms": table["gpu_ms"],
                }
            )
            .group_by("g")
            .aggregate(
                [
                    ("g", "count"),
                    ("input_tokens", "sum"),
                    ("output_tokens", "sum"),
                    ("cpu_ms", "sum"),
                    ("gpu_ms", "sum"),
                ]
            )
        )
        g = grouped["g"].to_numpy()
        gk, gc = np.divmod(g, index.size)
        n = grouped["g_count"].to_numpy().astype(np.float64)
        tin = grouped["input_tokens_sum"].to_numpy().astype(np.float64)
        tout = grouped["output_tokens_sum"].to_numpy().astype(np.float64)
        cpu = grouped["cpu_ms_sum"].to_numpy()
        gpu = grouped["gpu_ms_sum"].to_numpy()
        cost = (
            tin * index.unit_in[gc]
            + tout * index.unit_out[gc]
            + cpu * index.unit_cpu[gc]
            + gpu * index.unit_gpu[gc]
        )
        unknown = np.isnan(cost)
        sums = np.stack([n, tin, tout, cpu, np.where(unknown, 0.0, cost), n * unknown], axis=1)
        for k, c, row in zip(gk.tolist(), gc.tolist(), sums, strict=True):  # per group
            name = (index.labels[c][0] if by == "provider" else names[k]) or NONE_KEY
            totals[name] = totals[name] + row if name in totals else row.copy()
        present = np.zeros(index.size, dtype=bool)
        present[gc] = True
        missing.update(index.missing(present))
        used.update(index.used(present))
        before_first = before_first or bool(np.isnan(index.unit_cpu[gc]).any())
    meter.note_missing(sorted(missing))
    groups = [
        CostRow(
            key=name,
            requests=int(v[0]),
            input_tokens=int(v[1]),
            output_tokens=int(v[2]),
            cpu_ms=float(v[3]),
            cost_usd=float(v[4]),
            unknown=int(v[5]),
        )
        for name, v in totals.items()
    ]
    groups.sort(key=lambda r: (-r.cost_usd, r.key))
    note = None
    if not versions:
        note = NO_PRICES
    elif before_first:
        note = "records before the first price version have an unknown cost"
    return CostReport(
        by=by,
        start=start,
        end=end,
        groups=groups,
        price_versions=sorted(used),
        missing=[{"route": r, "price_version": v} for r, v in sorted(missing)],
        note=note,
    )

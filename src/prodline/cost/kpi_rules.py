"""KPI definitions and windows as plain data, their checks, and the aggregate arithmetic.

:mod:`prodline.cost.kpis` is the service; this module holds the entities and the pure
functions it shares with :mod:`prodline.cost.roi`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from prodline.cost.budget_rules import PERIODS, number
from prodline.errors import InvalidInput

__all__ = [
    "AGGREGATES",
    "DIRECTIONS",
    "SOURCES",
    "Kpi",
    "KpiWindow",
    "Stats",
    "check_kpi",
    "kpi_from_row",
    "parse_ts",
    "stats_of",
]

SOURCES = ("events", "feedback", "reviews")
"""Where a KPI's observations come from."""

AGGREGATES = ("mean", "sum", "count", "rate")
"""How a window's observations become its value."""

DIRECTIONS = ("up", "down")
"""Whether a higher (up) or a lower (down) value is better."""


@dataclass(frozen=True)
class Kpi:
    """One KPI's definition."""

    id: int
    name: str
    definition: str
    source: str
    aggregate: str
    subject: str | None
    baseline: float
    target: float
    direction: str
    value_per_unit_usd: float
    window: str
    created_by: str
    created_at: datetime

    @property
    def sign(self) -> int:
        """+1 when up is better, -1 when down is."""
        return 1 if self.direction == "up" else -1

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**asdict(self), "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class Stats:
    """A window's observations, summed up: how many, their total, how many above 0."""

    n: int
    total: float
    positive: int

    def value(self, aggregate: str) -> float | None:
        """The aggregate's value; None for a mean or rate of no observations."""
        if aggregate == "count":
            return float(self.n)
        if aggregate == "sum":
            return self.total
        if self.n == 0:
            return None
        return self.total / self.n if aggregate == "mean" else self.positive / self.n


def stats_of(values: Sequence[float]) -> Stats:
    """The :class:`Stats` of a list of observed values.

    >>> stats_of([1.0, 0.0, 1.0, 3.0]).value("rate")
    0.75
    """
    return Stats(len(values), float(sum(values)), sum(1 for v in values if v > 0))


@dataclass(frozen=True)
class KpiWindow:
    """A KPI's value in ``[start, end)``: ``n`` observations, the difference from the
    baseline, and whether the target was met (None without a value)."""

    start: datetime
    end: datetime
    value: float | None
    n: int
    vs_baseline: float | None
    met: bool | None

    @classmethod
    def of(cls, kpi: Kpi, start: datetime, end: datetime, stats: Stats) -> KpiWindow:
        """The window of ``kpi`` whose observations sum up to ``stats``."""
        value = stats.value(kpi.aggregate)
        if value is None:
            return cls(start, end, None, stats.n, None, None)
        met = value >= kpi.target if kpi.direction == "up" else value <= kpi.target
        return cls(start, end, value, stats.n, value - kpi.baseline, met)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {**asdict(self), "start": self.start.isoformat(), "end": self.end.isoformat()}


def kpi_from_row(row: Any) -> Kpi:
    """The entity for one ``kpis`` row."""
    return Kpi(
        id=int(row.id),
        name=row.name,
        definition=row.definition,
        source=row.source,
        aggregate=row.aggregate,
        subject=row.subject,
        baseline=float(row.baseline),
        target=float(row.target),
        direction=row.direction,
        value_per_unit_usd=float(row.value_per_unit_usd),
        window=row.window,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _one_of(value: Any, allowed: Sequence[str], field: str, what: str) -> str:
    if value not in allowed:
        raise InvalidInput(
            f"{what} '{value}' is not known; use one of {', '.join(allowed)}.", field=field
        )
    return str(value)


def check_kpi(name: str, **fields: Any) -> dict[str, Any]:
    """The ``kpis`` row values of a definition; InvalidInput naming the first bad field."""
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise InvalidInput("A KPI needs a name of 1-200 characters.", field="name")
    definition = fields["definition"]
    if not isinstance(definition, str) or not definition.strip():
        raise InvalidInput(
            "A KPI needs a definition in words, e.g. 'share of tickets resolved without an agent'.",
            field="definition",
        )
    source = _one_of(fields["source"], SOURCES, "source", "KPI source")
    subject = fields.get("subject") or None
    if source != "events" and not subject:
        raise InvalidInput(
            f"A {source} KPI needs subject: the model"
            + (" or knowledge base" if source == "reviews" else "")
            + " whose "
            + ("labelled predictions" if source == "feedback" else "review decisions")
            + " it reads.",
            field="subject",
        )
    vpu = number(fields["value_per_unit_usd"], "value_per_unit_usd")
    if vpu < 0:
        raise InvalidInput(
            f"value_per_unit_usd must be 0 or more, got {vpu}.", field="value_per_unit_usd"
        )
    return {
        "name": name,
        "definition": definition,
        "source": source,
        "aggregate": _one_of(fields["aggregate"], AGGREGATES, "aggregate", "KPI aggregate"),
        "subject": subject,
        "baseline": number(fields["baseline"], "baseline"),
        "target": number(fields["target"], "target"),
        "direction": _one_of(fields["direction"], DIRECTIONS, "direction", "Direction"),
        "value_per_unit_usd": vpu,
        "window": _one_of(fields["window"], PERIODS, "window", "KPI window"),
    }


def parse_ts(value: Any, default: datetime) -> datetime:
    """An aware UTC datetime from an ISO string or a datetime (no zone: UTC); ``default``
    for None. InvalidInput naming ``ts`` otherwise.

    >>> parse_ts("2026-12-01T10:00:00+01:00", datetime.now(UTC)).isoformat()
    '2026-12-01T09:00:00+00:00'
    """
    if value is None or value == "":
        return default
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(
                f"ts {value!r} is not an ISO time; write e.g. 2026-12-01T10:00:00Z.", field="ts"
            ) from None
    if not isinstance(value, datetime):
        raise InvalidInput(f"ts must be an ISO time string, got {value!r}.", field="ts")
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

"""KPIs: what a model or KB is meant to move, tracked per window against baseline and target.

A KPI reads one source of observations, each a ``(ts, value)``:

* ``events``: business events recorded here (``record``, ``record_many``, the API's
  ``POST /api/v1/events``, ``load_csv``), kept in ``kpi_events`` by their own ``ts`` — an
  event that arrives late or out of order still counts in the window its ``ts`` falls in;
* ``feedback``: the labelled predictions of model ``subject`` (``ws.feedback.read``), one
  observation per row: 1 when the prediction equals the label, else 0, at the
  prediction's time;
* ``reviews``: the decided review items of model or KB ``subject`` (``ws.reviews.labels``):
  1 when approved as is, 0 when edited or rejected, at the decision's time.

The ``aggregate`` turns a window's observations into its value: ``mean`` (of the values),
``sum``, ``count`` (how many), ``rate`` (the share with a value above 0; for 0/1
observations the same as ``mean``). A window's value ``met`` the target when it is at or
above it (``direction`` up) or at or below it (down). Windows are UTC calendar days,
weeks (from Monday) or months.

Examples
--------
>>> ws.costs.kpis.create("grounded", definition="share of grounded answers",
...     source="events", aggregate="rate", baseline=0.6, target=0.8,
...     direction="up", value_per_unit_usd=2.0)  # doctest: +SKIP
>>> ws.costs.kpis.record("grounded", 1)  # doctest: +SKIP
>>> [w.value for w in ws.costs.kpis.series("grounded", windows=4)]  # doctest: +SKIP
"""

from __future__ import annotations

import builtins
import csv
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.cost.budget_rules import number, period_bounds
from prodline.cost.kpi_rules import (
    Kpi,
    KpiWindow,
    Stats,
    check_kpi,
    kpi_from_row,
    parse_ts,
    stats_of,
)
from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.store.tables import kpi_events, kpis

if TYPE_CHECKING:
    from prodline.cost.roi import RoiReport
    from prodline.workspace import Workspace

__all__ = ["MAX_EVENTS", "Kpi", "KpiWindow", "Kpis"]

MAX_EVENTS = 10_000
"""The most events one ``record_many`` call (one API request) may carry."""


class Kpis:
    """KPI definitions, their events, and their values per window: ``ws.costs.kpis``."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

    # -- definitions -----------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        definition: str,
        source: str,
        aggregate: str,
        baseline: float,
        target: float,
        direction: str,
        value_per_unit_usd: float = 0.0,
        window: str = "week",
        subject: str | None = None,
    ) -> Kpi:
        """Define a KPI; audited.

        Raises
        ------
        InvalidInput
            A bad source, aggregate, direction, window or number (named in ``field``); a
            feedback or reviews KPI without ``subject``.
        NotFound
            A feedback KPI's model does not exist.
        Conflict
            A KPI of that name exists.
        """
        self._ws.authorize("kpi.create")
        values = check_kpi(
            name, definition=definition, source=source, aggregate=aggregate,
            baseline=baseline, target=target, direction=direction,
            value_per_unit_usd=value_per_unit_usd, window=window, subject=subject,
        )  # fmt: skip
        if source == "feedback":
            self._ws.models.model(str(subject))
        values.update(created_by=self._ws.actor, created_at=datetime.now(UTC))
        with self._ws.tx() as conn:
            if conn.execute(sa.select(kpis.c.id).where(kpis.c.name == name)).first():
                raise Conflict(f"KPI '{name}' exists; pick another name.", field="name")
            new_id = conn.execute(kpis.insert().values(**values).returning(kpis.c.id))
            kpi = Kpi(id=int(new_id.scalar_one()), **values)
            self._ws.audit.record(conn, "kpi.created", f"kpi:{name}", kpi.to_dict())
        return kpi

    def get(self, name: str) -> Kpi:
        """A KPI by name; NotFound naming ``kpi``."""
        with self._ws.db.read() as conn:
            row = conn.execute(sa.select(kpis).where(kpis.c.name == name)).first()
            if row is None:
                raise self._missing(conn, name)
        return kpi_from_row(row)

    def list(self) -> builtins.list[Kpi]:
        """Every KPI, by name."""
        with self._ws.db.read() as conn:
            return [kpi_from_row(r) for r in conn.execute(sa.select(kpis).order_by(kpis.c.name))]

    # -- events ----------------------------------------------------------------------
    def record(
        self, name: str, value: float, *, ts: datetime | str | None = None, source: str = "api"
    ) -> int:
        """Record one event of KPI ``name`` (at ``ts``, default now); see ``record_many``."""
        return self.record_many([{"kpi": name, "value": value, "ts": ts, "source": source}])

    def record_many(self, records: Iterable[Mapping[str, Any]]) -> int:
        """Record events ``{"kpi", "value", "ts"?, "source"?}`` in one transaction; how many.

        ``ts`` is an ISO string or an aware datetime (no zone: UTC), default now; events
        land in the window of their ``ts``, whatever order they arrive in. One audit event
        counts the batch.

        Raises
        ------
        NotFound
            An event names a KPI that does not exist (``field`` kpi).
        InvalidInput
            A value that is not a finite number (``field`` value), a bad ``ts``, a KPI
            whose source is not events, more than ``MAX_EVENTS`` events.
        """
        self._ws.authorize("kpi.record")
        batch = builtins.list(records)
        if not batch:
            return 0
        if len(batch) > MAX_EVENTS:
            raise InvalidInput(
                f"{len(batch)} events in one call; send at most {MAX_EVENTS} per call.",
                field="events",
            )
        now = datetime.now(UTC)
        counts: dict[str, int] = {}
        with self._ws.tx() as conn:
            names = {str(r.get("kpi")) for r in batch if isinstance(r, Mapping)}
            found = {
                row.name: kpi_from_row(row)
                for row in conn.execute(sa.select(kpis).where(kpis.c.name.in_(names)))
            }
            rows = []
            for index, record in enumerate(batch):
                rows.append(self._event_row(conn, index, record, found, now))
                counts[str(record["kpi"])] = counts.get(str(record["kpi"]), 0) + 1
            conn.execute(kpi_events.insert(), rows)
            subject = f"kpi:{next(iter(counts))}" if len(counts) == 1 else "kpis"
            self._ws.audit.record(conn, "kpi.recorded", subject, {"events": counts})
        return len(batch)

    def load_csv(self, name: str, path: str | Path) -> int:
        """Record the events of a CSV file with columns ``ts,value`` for KPI ``name``."""
        try:
            with Path(path).open(newline="", encoding="utf-8") as handle:
                reader = csv.DictReader(handle)
                if not {"ts", "value"} <= set(reader.fieldnames or ()):
                    raise InvalidInput(
                        f"{path} needs a header row with columns ts,value.", field="path"
                    )
                lines = builtins.list(reader)
        except OSError as exc:
            raise InvalidInput(f"Cannot read {path}: {exc.strerror}.", field="path") from exc
        records = []
        for line_no, line in enumerate(lines, start=2):
            try:
                value = float(line["value"])
            except (TypeError, ValueError):
                raise InvalidInput(
                    f"{path} line {line_no}: value {line['value']!r} is not a number.",
                    field="value",
                ) from None
            records.append({"kpi": name, "value": value, "ts": line["ts"], "source": "csv"})
        return self.record_many(records)

    # -- values ----------------------------------------------------------------------
    def series(
        self, name: str, *, windows: int = 8, now: datetime | None = None
    ) -> builtins.list[KpiWindow]:
        """The KPI's value in each of the last ``windows`` windows (oldest first), the
        current (partial) window last."""
        if isinstance(windows, bool) or not isinstance(windows, int) or not 1 <= windows <= 520:
            raise InvalidInput(f"windows must be 1..520, got {windows!r}.", field="windows")
        kpi = self.get(name)
        bounds = [period_bounds(kpi.window, now or datetime.now(UTC))]
        while len(bounds) < windows:
            bounds.insert(0, period_bounds(kpi.window, bounds[0][0] - timedelta(seconds=1)))
        stats = self._stats(kpi, bounds)
        return [
            KpiWindow.of(kpi, start, end, s) for (start, end), s in zip(bounds, stats, strict=True)
        ]

    def measure(self, name: str, start: datetime, end: datetime) -> KpiWindow:
        """The KPI's value over ``[start, end)`` (any span, e.g. the period of an ROI)."""
        kpi = self.get(name)
        return KpiWindow.of(kpi, start, end, self._stats(kpi, [(start, end)])[0])

    def roi(
        self,
        name: str,
        *,
        period: str | timedelta = "30d",
        cost_by: str | None = None,
        now: datetime | None = None,
    ) -> RoiReport:
        """The KPI's benefit against its subject's cost over ``period`` (:mod:`~.roi`)."""
        from prodline.cost.roi import roi

        return roi(self._ws, name, period=period, cost_by=cost_by, now=now)

    def _stats(self, kpi: Kpi, bounds: Sequence[tuple[datetime, datetime]]) -> builtins.list[Stats]:
        if kpi.source == "events":
            e = kpi_events.c
            positive = sa.func.sum(sa.case((e.value > 0, 1), else_=0))
            out = []
            with self._ws.db.read() as conn:
                for start, end in bounds:
                    n, total, pos = conn.execute(
                        sa.select(sa.func.count(), sa.func.sum(e.value), positive).where(
                            e.kpi_id == kpi.id, e.ts >= start, e.ts < end
                        )
                    ).one()
                    out.append(Stats(int(n), float(total or 0.0), int(pos or 0)))
            return out
        observed = self._observations(kpi, bounds[0][0], bounds[-1][1])
        return [stats_of([v for ts, v in observed if start <= ts < end]) for start, end in bounds]

    def _observations(
        self, kpi: Kpi, start: datetime, end: datetime
    ) -> builtins.list[tuple[datetime, float]]:
        subject = str(kpi.subject)
        if kpi.source == "feedback":
            frame = self._ws.feedback.read(subject, since=start, until=end)
            if frame.empty:
                return []
            right = [
                str(p) == str(y) for p, y in zip(frame["prediction"], frame["label"], strict=True)
            ]
            times = [t.to_pydatetime() for t in frame["ts"]]
            return [(t, 1.0 if ok else 0.0) for t, ok in zip(times, right, strict=True)]
        decided = [
            *self._ws.reviews.labels("model", subject),
            *self._ws.reviews.labels("kb", subject),
        ]
        return [
            (ts, 1.0 if item["decision"] == "approved" else 0.0)
            for item in decided
            if item["decided_at"]
            and start <= (ts := datetime.fromisoformat(item["decided_at"])) < end
        ]

    # -- helpers ---------------------------------------------------------------------
    def _event_row(
        self, conn: Any, index: int, record: Any, found: Mapping[str, Kpi], now: datetime
    ) -> dict[str, Any]:
        where = f" (event {index + 1})" if index else ""
        if not isinstance(record, Mapping) or "kpi" not in record:
            raise InvalidInput(f"Each event needs a kpi and a value{where}.", field="kpi")
        kpi = found.get(str(record["kpi"]))
        if kpi is None:
            raise self._missing(conn, str(record["kpi"]))
        if kpi.source != "events":
            raise InvalidInput(
                f"KPI '{kpi.name}' reads {kpi.source}, not events; record events only for a "
                "KPI created with source events.",
                field="kpi",
            )
        value = record.get("value")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput(f"value must be a number, got {value!r}{where}.", field="value")
        source = str(record.get("source") or "api")[:50]
        return {
            "kpi_id": kpi.id, "ts": parse_ts(record.get("ts"), now), "source": source,
            "value": number(value, "value"), "recorded_at": now,
        }  # fmt: skip

    def _missing(self, conn: Any, name: str) -> NotFound:
        known = conn.execute(sa.select(kpis.c.name).order_by(kpis.c.name).limit(20)).scalars()
        return NotFound(
            f"KPI '{name}' does not exist; create it with prodline kpi create (KPIs are: "
            f"{', '.join(known) or 'none yet'}).",
            field="kpi",
            kpi=name,
        )

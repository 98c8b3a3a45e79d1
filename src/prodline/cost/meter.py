"""The meter: one record per prediction request or RAG/LLM call, as parquet segments.

``Meter.write(records)`` writes one parquet file per batch under
``<home>/meter/YYYY/MM/DD/<uuid>.parquet`` and one ``meter_segments`` row (its ts range),
without an audit event per batch: servers call it from their log writer threads, off the
request path. Records keep the ts they were given, even when the clock went backwards
between them; the segment's min/max cover every record, and reports select by ts, not
by arrival. ``Meter.scan(start, end)`` reads only the segments overlapping the window.

A record whose provider/model has no price in the version in force at its ts raises one
``price_unknown`` alert per provider/model and price version (its cost is unknown, not 0).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pds
import pyarrow.parquet as pq
import sqlalchemy as sa

from prodline.cost.prices import missing_prices
from prodline.errors import InvalidInput
from prodline.store.tables import alerts, meter_segments

if TYPE_CHECKING:
    from prodline.cost.prices import PriceBook
    from prodline.workspace import Workspace

__all__ = ["KINDS", "METER_SCHEMA", "Meter"]

KINDS = ("predict", "chat", "retrieve", "llm")
"""What a metered record is: a prediction request, a RAG chat or retrieval, an LLM call."""

METER_SCHEMA = pa.schema(
    [
        ("ts", pa.timestamp("us", tz="UTC")),
        ("kind", pa.string()),
        ("request_id", pa.string()),
        ("team", pa.string()),
        ("model", pa.string()),
        ("version", pa.int32()),
        ("kb", pa.string()),
        ("token_user", pa.string()),
        ("provider", pa.string()),
        ("llm_model", pa.string()),
        ("input_tokens", pa.int64()),
        ("output_tokens", pa.int64()),
        ("cpu_ms", pa.float64()),
        ("gpu_ms", pa.float64()),
        ("rows", pa.int32()),
        ("latency_ms", pa.float64()),
    ]
)
"""The columns of a metered record, in order."""

_STRINGS = [f.name for f in METER_SCHEMA if pa.types.is_string(f.type) and f.name != "request_id"]
_DEFAULTS: dict[str, Any] = {
    "request_id": "",
    "team": "",
    "model": "",
    "version": 0,
    "kb": "",
    "token_user": "",
    "provider": "",
    "llm_model": "",
    "input_tokens": 0,
    "output_tokens": 0,
    "cpu_ms": 0.0,
    "gpu_ms": 0.0,
    "rows": 1,
    "latency_ms": 0.0,
}


def _ts(value: Any, index: int) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            value = None
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput(
            f"record {index}: ts must be a timezone-aware datetime, got {value!r}.", field="ts"
        )
    return value.astimezone(UTC)


def _columns(records: Sequence[Mapping[str, Any]]) -> dict[str, list[Any]]:
    columns: dict[str, list[Any]] = {f.name: [] for f in METER_SCHEMA}
    for i, record in enumerate(records):
        unknown = set(record) - set(columns)
        if unknown:
            raise InvalidInput(
                f"record {i}: {sorted(unknown)[0]} is not a meter column; "
                f"use {', '.join(columns)}.",
                field=sorted(unknown)[0],
            )
        kind = record.get("kind")
        if kind not in KINDS:
            raise InvalidInput(
                f"record {i}: kind must be one of {', '.join(KINDS)}, got {kind!r}.", field="kind"
            )
        columns["ts"].append(_ts(record.get("ts"), i))
        columns["kind"].append(kind)
        for name, default in _DEFAULTS.items():
            value = record.get(name, default)
            columns[name].append(default if value is None else value)
    return columns


class Meter:
    """Writes and scans metered records."""

    def __init__(self, ws: Workspace, prices: PriceBook) -> None:
        self._ws = ws
        self._prices = prices

    @property
    def root(self) -> Path:
        """``<home>/meter``: the parquet segments' folder."""
        return self._ws.home / "meter"

    def write(self, records: Sequence[Mapping[str, Any]]) -> int:
        """Write one batch as one parquet segment; the number of records written.

        Raises
        ------
        InvalidInput
            A record lacks a timezone-aware ts, has an unknown kind or an unknown column.
        """
        if not records:
            return 0
        try:
            table = pa.table(_columns(records), schema=METER_SCHEMA)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise InvalidInput(f"A meter record has a value of the wrong type: {exc}") from exc
        return self.write_table(table)

    def write_table(self, table: pa.Table) -> int:
        """Write an Arrow table with ``METER_SCHEMA``'s columns as one segment (bulk path)."""
        if table.num_rows == 0:
            return 0
        table = table.select(METER_SCHEMA.names).cast(METER_SCHEMA)
        ts = table["ts"]
        low = pc.min(ts).as_py()
        high = pc.max(ts).as_py()
        relative = f"{low:%Y/%m/%d}/{uuid.uuid4().hex}.parquet"
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp, compression="lz4")
        tmp.replace(path)
        with self._ws.tx() as conn:
            conn.execute(
                meter_segments.insert().values(
                    path=relative,
                    rows=table.num_rows,
                    min_ts=low,
                    max_ts=high,
                    created_at=datetime.now(UTC),
                )
            )
        if pc.any(pc.not_equal(table["provider"], "")).as_py():
            self.alert_unknown(table)
        return table.num_rows

    def alert_unknown(self, table: pa.Table) -> list[tuple[str, int]]:
        """One ``price_unknown`` alert per provider/model and price version lacking a price.

        Returns the (provider/model, version) pairs without a price; alerts already
        raised for a pair are not raised again.
        """
        missing = missing_prices(table, self._prices.versions())
        self.note_missing(missing)
        return missing

    def note_missing(self, missing: Sequence[tuple[str, int]]) -> None:
        """Raise the ``price_unknown`` alerts of ``missing`` not raised before."""
        if not missing:
            return
        subjects = {f"route:{route}" for route, _ in missing}
        with self._ws.tx() as conn:
            raised = {
                (row.subject, (row.payload or {}).get("price_version"))
                for row in conn.execute(
                    sa.select(alerts.c.subject, alerts.c.payload).where(
                        alerts.c.kind == "price_unknown", alerts.c.subject.in_(subjects)
                    )
                )
            }
            for route, version in missing:
                if (f"route:{route}", version) in raised:
                    continue
                self._ws.alerts.record(
                    conn,
                    "price_unknown",
                    f"No token price for {route} in price version {version}: its calls have "
                    "an unknown cost. Add it to the price table and run "
                    "prodline cost prices set FILE.",
                    subject=f"route:{route}",
                    payload={"route": route, "price_version": version},
                )

    def segment_ranges(
        self, start: datetime, end: datetime
    ) -> list[tuple[str, datetime, datetime]]:
        """(relative path, min ts, max ts) of the segments overlapping [start, end)."""
        with self._ws.db.read() as conn:
            rows = conn.execute(
                sa.select(meter_segments.c.path, meter_segments.c.min_ts, meter_segments.c.max_ts)
                .where(meter_segments.c.max_ts >= start, meter_segments.c.min_ts < end)
                .order_by(meter_segments.c.id)
            )
            return [(str(r.path), r.min_ts, r.max_ts) for r in rows]

    def segments(self, start: datetime, end: datetime) -> list[str]:
        """Relative paths of the segments whose ts range overlaps [start, end)."""
        return [path for path, _, _ in self.segment_ranges(start, end)]

    def read(
        self,
        paths: Sequence[str],
        columns: Sequence[str],
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pa.Table:
        """``columns`` of the segments at ``paths`` (relative), strings as dictionaries;
        only records with start ≤ ts < end when a bound is given."""
        names = list(dict.fromkeys(columns))
        if not paths:
            return pa.schema(
                [
                    pa.field(f.name, pa.dictionary(pa.int32(), pa.string()))
                    if f.name in _STRINGS
                    else f
                    for f in METER_SCHEMA
                    if f.name in names
                ]
            ).empty_table()
        fmt = pds.ParquetFileFormat(read_options={"dictionary_columns": _STRINGS})
        dataset = pds.dataset([str(self.root / p) for p in paths], format=fmt)
        ts_type = METER_SCHEMA.field("ts").type
        window = None
        if start is not None:
            window = pds.field("ts") >= pa.scalar(start, ts_type)
        if end is not None:
            upper = pds.field("ts") < pa.scalar(end, ts_type)
            window = upper if window is None else window & upper
        return dataset.to_table(columns=names, filter=window)

    def scan(
        self, start: datetime, end: datetime, *, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """Metered records with start ≤ ts < end (only overlapping segments are read)."""
        names = list(columns or METER_SCHEMA.names)
        if "ts" not in names:
            names.append("ts")
        return self.read(self.segments(start, end), names, start=start, end=end)

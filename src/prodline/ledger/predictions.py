"""The prediction log: one writer and one reader, both over the store.

The ``prediction_log`` table is the log of record: one row per answered request, its
inputs as JSON records and its outputs as JSON, in the metadata database (so PostgreSQL
deployments keep it). Decoding JSON is what makes reading slow (≈ 1 s for 100k rows), so
the writer also keeps a columnar copy: every ``segment_rows`` predicted rows of a model
it writes one Parquet file to the artifact store and records it in
``prediction_segments``. The reader takes sealed segments as Parquet and only the rows of
open segments (the newest, or those of a writer that crashed before sealing) from the
table, so the last 100k predictions cost a few file reads plus at most one segment's
JSON. Both paths build rows with the same function, so they agree column for column.
pandas and pyarrow load when a segment is sealed or read, not with the module: a model
server that only writes rows does not hold them for the log's sake.

Rows come back as a DataFrame with one row per predicted row: one column per input
feature, ``prediction``, ``proba_<class>`` per class when the model gives
probabilities, then ``request_id``, ``model``, ``version``, ``ts`` (UTC) and
``latency_ms``.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.errors import InvalidInput
from prodline.ledger.window import check_window
from prodline.store.artifacts import ArtifactStore
from prodline.store.db import Database
from prodline.store.tables import prediction_log, prediction_segments

if TYPE_CHECKING:
    import pandas as pd

    from prodline.ledger.retention import Minimizer

__all__ = ["META_COLUMNS", "Prediction", "PredictionReader", "PredictionWriter", "dumps"]

log = logging.getLogger("prodline.ledger")

META_COLUMNS = ("request_id", "model", "version", "ts", "latency_ms")
"""The columns every prediction row has after its features and outputs."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_COLUMNS = (
    "request_id",
    "model",
    "version",
    "ts",
    "inputs",
    "outputs",
    "latency_ms",
    "segment_id",
)


class Prediction(NamedTuple):
    """One answered request, as the writer takes it (NumPy values are fine)."""

    request_id: str
    model: str
    version: int
    ts: float
    """Wall-clock time, seconds since the epoch (``time.time()``)."""
    inputs: Sequence[Mapping[str, Any]]
    """One record per predicted row."""
    predictions: Any
    probabilities: Any | None
    classes: Sequence[Any] | None
    latency_ms: float


def _default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, datetime):  # pandas' Timestamp (and NaT) included
        return value.isoformat()
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    """orjson with NumPy arrays and scalars (object arrays too)."""
    return orjson.dumps(value, default=_default, option=orjson.OPT_SERIALIZE_NUMPY)


# (request_id, model, version, ts in µs since the epoch, inputs JSON, outputs JSON, latency)
_Row = tuple[str, str, int, int, str, str, float]


@dataclass
class _Segment:
    """A segment a writer is filling: its id and the rows since it opened."""

    id: int
    rows: list[_Row] = field(default_factory=list)
    predicted: int = 0


class PredictionWriter:
    """Insert batches of predictions, one transaction each; seal full segments as Parquet.

    Not thread-safe: one writer thread per writer. ``close()`` seals what is open, so a
    clean stop leaves every row in a segment.
    """

    def __init__(
        self,
        db: Database,
        artifacts: ArtifactStore,
        *,
        segment_rows: int = 10_000,
        minimize: Minimizer | None = None,
    ) -> None:
        """``minimize`` applies the models' retention policies (``ws.retention``) to each
        batch before it is written: hashed and dropped columns never reach the log."""
        if segment_rows < 1:
            raise InvalidInput(f"segment_rows must be at least 1, got {segment_rows}.")
        self._db = db
        self._artifacts = artifacts
        self.segment_rows = segment_rows
        self._open: dict[str, _Segment] = {}
        self._sql: str | None = None
        self._stamp = _driver_ts(db.is_sqlite)
        self._minimize = minimize

    def write(self, batch: Sequence[Prediction], *, seal: bool = True) -> None:
        """Insert ``batch`` in one transaction (raises on failure, changing nothing), then
        seal the segments that are full (never raises: a segment that cannot be sealed
        stays open and its rows stay readable from the table).

        ``seal=False`` leaves sealing to a later ``seal_full()``: a caller with requests
        waiting for the commit answers them first.
        """
        if not batch:
            return
        if self._minimize is not None:
            batch = self._minimize.apply(batch)
        rows = [_encode(p) for p in batch]
        stamp = self._stamp
        with self._db.tx() as conn:
            if self._sql is None:
                self._sql = _insert_sql(conn.dialect.paramstyle)
            opened: dict[str, _Segment] = {}
            params = []
            for row in rows:
                segment = self._open.get(row[1]) or opened.get(row[1])
                if segment is None:
                    segment = opened[row[1]] = _Segment(_open_segment(conn, row[1]))
                params.append((*row[:3], stamp(row[3]), *row[4:], segment.id))
            conn.exec_driver_sql(self._sql, params)
        self._open.update(opened)
        for row, p in zip(rows, batch, strict=True):
            segment = self._open[row[1]]
            segment.rows.append(row)
            segment.predicted += max(len(p.inputs), 1)
        if seal:
            self.seal_full()

    def seal_full(self) -> None:
        """Seal the open segments that hold ``segment_rows`` rows or more."""
        for model, segment in list(self._open.items()):
            if segment.predicted >= self.segment_rows:
                self._seal(model, segment)

    def close(self) -> None:
        """Seal every open segment (best effort; unsealed rows stay in the table)."""
        for model, segment in list(self._open.items()):
            self._seal(model, segment)

    def _seal(self, model: str, segment: _Segment) -> None:
        try:
            cutoff = self._minimize.cutoff(model) if self._minimize is not None else None
            if cutoff is not None:  # purged from the table meanwhile: keep them purged
                oldest = _to_micros(cutoff)
                segment.rows = [row for row in segment.rows if row[3] >= oldest]
            frame = _frame(segment.rows)
            sha = self._artifacts.put_bytes(_parquet(frame))
            ts = frame["ts"]
            with self._db.tx() as conn:
                conn.execute(
                    prediction_segments.update()
                    .where(prediction_segments.c.id == segment.id)
                    .values(
                        artifact=sha,
                        requests=len(segment.rows),
                        rows=len(frame),
                        ts_min=ts.min().to_pydatetime() if len(ts) else None,
                        ts_max=ts.max().to_pydatetime() if len(ts) else None,
                    )
                )
        except Exception as exc:  # the rows are safe in the table; try again next batch
            log.warning("prediction log: cannot seal segment %d (%s)", segment.id, exc)
            return
        del self._open[model]


class PredictionReader:
    """Read the prediction log as DataFrames: by model, version, time window, request id."""

    def __init__(self, db: Database, artifacts: ArtifactStore) -> None:
        self._db = db
        self._artifacts = artifacts

    def read(
        self,
        model: str | None = None,
        *,
        version: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        last: int | None = None,
        request_id: str | None = None,
    ) -> pd.DataFrame:
        """Predicted rows matching every filter given, oldest first.

        Parameters
        ----------
        model, version
            Only this model (and version of it).
        since, until
            Only rows logged at or after ``since`` and at or before ``until`` (aware
            datetimes).
        last
            Only the newest ``last`` rows (after the other filters).
        request_id
            Only the rows of this request.

        Examples
        --------
        >>> reader.read("credit-risk", last=100_000)  # doctest: +SKIP
        """
        check_window(since, until, last, unit="rows")
        where = _where(model, version, since, until, request_id)
        with self._db.read() as conn:
            if request_id is not None:  # an indexed lookup: the table answers it directly
                frames = [_frame(_select(conn, where, None))]
                sealed: list[sa.Row[Any]] = []
            else:  # open segments from the table (by segment id), sealed ones as Parquet
                open_ids = _open_segment_ids(conn, model)
                tail = _where(None, version, since, until, None)
                tail.append(prediction_log.c.segment_id.in_(open_ids))
                frames = [_frame(_select(conn, tail, last) if open_ids else [])]
                sealed = _sealed_segments(conn, model, since, until)
        count = len(frames[0])
        stamps = [_micros(frames[0]["ts"])]
        for segment in sealed:
            if last is not None and count >= last and segment.ts_max is not None:
                # Segments come newest first: stop once one ends before the rows we keep.
                oldest_kept = np.partition(np.concatenate(stamps), count - last)[count - last]
                if _to_micros(segment.ts_max) < oldest_kept:
                    break
            part = self._segment(segment.artifact, version, since, until)
            frames.append(part)
            stamps.append(_micros(part["ts"]))
            count += len(part)
        return _finish(frames, last)

    def _segment(
        self,
        sha: str,
        version: int | None,
        since: datetime | None,
        until: datetime | None,
    ) -> pd.DataFrame:
        import pandas as pd
        import pyarrow.parquet as pq

        path = self._artifacts.path(sha, name="prediction log segment")
        frame: pd.DataFrame = pq.read_table(path).to_pandas()
        keep = np.ones(len(frame), dtype=bool)
        if version is not None:
            keep &= (frame["version"] == version).to_numpy()
        if since is not None:
            keep &= (frame["ts"] >= pd.Timestamp(since)).to_numpy()
        if until is not None:
            keep &= (frame["ts"] <= pd.Timestamp(until)).to_numpy()
        return frame if keep.all() else frame[keep]


# -- the writer's pieces ---------------------------------------------------------------
def _encode(p: Prediction) -> _Row:
    outputs: dict[str, Any] = {"predictions": p.predictions}
    if p.probabilities is not None:
        outputs["probabilities"] = p.probabilities
        outputs["classes"] = p.classes
    return (
        p.request_id,
        p.model,
        int(p.version),
        round(p.ts * 1_000_000),
        dumps(p.inputs).decode(),
        dumps(outputs).decode(),
        float(p.latency_ms),
    )


def _insert_sql(paramstyle: str) -> str:
    """A plain INSERT for the driver's ``executemany`` (SQLAlchemy's per-row binding costs
    more than the write itself at thousands of rows a second)."""
    mark = "?" if paramstyle == "qmark" else "%s"
    names = ", ".join(_COLUMNS)
    marks = ", ".join([mark] * len(_COLUMNS))
    return f"INSERT INTO {prediction_log.name} ({names}) VALUES ({marks})"


def _driver_ts(sqlite: bool) -> Any:
    """Microseconds since the epoch to what the driver stores for ``UTCDateTime``:
    SQLite's text (as SQLAlchemy writes it, UTC), an aware datetime for PostgreSQL."""
    if not sqlite:
        return lambda micros: _EPOCH + timedelta(microseconds=micros)
    cache = {"second": -1, "prefix": ""}

    def stamp(micros: int) -> str:
        second, micro = divmod(micros, 1_000_000)
        if second != cache["second"]:  # reuse the formatted second (3x faster)
            cache["second"] = second
            cache["prefix"] = (_EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%d %H:%M:%S")
        return f"{cache['prefix']}.{micro:06d}"

    return stamp


def _open_segment(conn: Connection, model: str) -> int:
    result = conn.execute(
        prediction_segments.insert().values(model=model, created_at=datetime.now(UTC))
    )
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _parquet(frame: pd.DataFrame) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    for name in frame.columns:  # a column mixing types (rare) is kept as JSON text
        if frame[name].dtype == object:
            try:
                pa.array(frame[name], from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                frame[name] = [None if v is None else dumps(v).decode() for v in frame[name]]
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), sink)
    # Arrow's allocator (mimalloc) keeps freed pages for reuse: a long-running server
    # would hold ~30 MB more after its first seal, and more later, for nothing.
    pa.default_memory_pool().release_unused()
    return sink.getvalue()


# -- the reader's pieces ---------------------------------------------------------------
def _where(
    model: str | None,
    version: int | None,
    since: datetime | None,
    until: datetime | None,
    request_id: str | None,
) -> list[sa.ColumnElement[bool]]:
    c = prediction_log.c
    where: list[sa.ColumnElement[bool]] = []
    if model is not None:
        where.append(c.model == model)
    if version is not None:
        where.append(c.version == version)
    if since is not None:
        where.append(c.ts >= since)
    if until is not None:
        where.append(c.ts <= until)
    if request_id is not None:
        where.append(c.request_id == request_id)
    return where


def _select(conn: Connection, where: list[sa.ColumnElement[bool]], last: int | None) -> list[_Row]:
    c = prediction_log.c
    query = sa.select(
        c.request_id, c.model, c.version, c.ts, c.inputs, c.outputs, c.latency_ms
    ).where(*where)
    if last is None:
        query = query.order_by(c.ts, c.id)
    else:
        query = query.order_by(c.ts.desc(), c.id.desc()).limit(last)
    rows = [
        (rid, model, version, _to_micros(ts), inputs, outputs, latency)
        for rid, model, version, ts, inputs, outputs, latency in conn.execute(query)
    ]
    if last is not None:
        rows.reverse()
    return rows


def _to_micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _micros(ts: pd.Series) -> np.ndarray:
    """Microseconds since the epoch of a UTC timestamp column."""
    return ts.dt.tz_convert(None).to_numpy().astype("datetime64[us]").astype("int64")


def _open_segment_ids(conn: Connection, model: str | None) -> list[int]:
    s = prediction_segments.c
    query = sa.select(s.id).where(s.artifact.is_(None))
    if model is not None:
        query = query.where(s.model == model)
    return list(conn.execute(query).scalars())


def _sealed_segments(
    conn: Connection, model: str | None, since: datetime | None, until: datetime | None
) -> list[sa.Row[Any]]:
    s = prediction_segments.c
    query = sa.select(s.artifact, s.ts_min, s.ts_max).where(s.artifact.is_not(None))
    if model is not None:
        query = query.where(s.model == model)
    if since is not None:
        query = query.where(s.ts_max >= since)
    if until is not None:
        query = query.where(s.ts_min <= until)
    return list(conn.execute(query.order_by(s.ts_max.desc(), s.id.desc())))


def _frame(rows: Sequence[_Row]) -> pd.DataFrame:
    """One DataFrame row per predicted row of ``rows`` (the one place rows are built)."""
    import pandas as pd

    features: list[Mapping[str, Any]] = []
    predictions: list[Any] = []
    probas: list[dict[str, Any]] = []
    meta: dict[str, list[Any]] = {name: [] for name in META_COLUMNS}
    any_proba = False
    for rid, model, version, micros, inputs, outputs, latency in rows:
        records = orjson.loads(inputs)
        out = orjson.loads(outputs)
        preds = out.get("predictions") or []
        probs = out.get("probabilities")
        classes = out.get("classes") or []
        for i, record in enumerate(records):
            features.append(record)
            predictions.append(preds[i] if i < len(preds) else None)
            if probs is not None and i < len(probs):
                any_proba = True
                probas.append({f"proba_{c}": v for c, v in zip(classes, probs[i], strict=False)})
            else:
                probas.append({})
            meta["request_id"].append(rid)
            meta["model"].append(model)
            meta["version"].append(version)
            meta["ts"].append(micros)
            meta["latency_ms"].append(latency)
    frame = pd.DataFrame.from_records(features) if features else pd.DataFrame()
    frame.index = pd.RangeIndex(len(predictions))
    frame["prediction"] = pd.Series(predictions, dtype=object if not predictions else None)
    if any_proba:
        proba_frame = pd.DataFrame.from_records(probas, index=frame.index)
        frame = pd.concat([frame, proba_frame], axis=1)
    frame["request_id"] = pd.Series(meta["request_id"], dtype=object)
    frame["model"] = pd.Series(meta["model"], dtype=object)
    frame["version"] = pd.Series(meta["version"], dtype="int64")
    frame["ts"] = pd.to_datetime(np.asarray(meta["ts"], dtype="int64"), unit="us", utc=True)
    frame["latency_ms"] = pd.Series(meta["latency_ms"], dtype="float64")
    return frame


def _finish(frames: list[pd.DataFrame], last: int | None) -> pd.DataFrame:
    import pandas as pd

    frames = [f for f in frames if len(f)] or frames[:1]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True, sort=False)
    frame = frame.sort_values("ts", kind="stable", ignore_index=True)
    if last is not None and len(frame) > last:
        frame = frame.iloc[len(frame) - last :].reset_index(drop=True)
    outputs = [c for c in frame.columns if c == "prediction" or str(c).startswith("proba_")]
    features = [c for c in frame.columns if c not in META_COLUMNS and c not in outputs]
    return frame[[*features, *outputs, *META_COLUMNS]]

"""Feedback: ground-truth labels for logged predictions; one writer and one reader.

A label is attached to one predicted row, named by the request id the server answered
with (``x-request-id``) and the row's position in that request (``row``, 0 for a
one-row request). The ``feedback`` table keeps one label per ``(request_id, row)``:
a later label for the same row replaces the earlier one (last one wins) and the
replacement is audited with both values (``feedback.replaced``).

Labels whose request id is not in the prediction log are **stored as orphans and
reported**, never dropped and never silently joined: they are counted in
``FeedbackResult.unknown``, listed in ``unknown_ids`` and in the ``feedback.received``
audit event. Why store rather than refuse: a model server logs predictions
asynchronously (a label sent right after its answer can arrive before the log commits),
and a label is expensive ground truth that a refusal would lose; an orphan joins its
prediction as soon as the prediction is in the log, and ``orphans()`` lists those that
never matched (a typo, a label meant for another workspace).

Writes are batched: one transaction per ``add_many`` call, the lookups by chunks of
request ids, the rows upserted with one ``executemany`` (see ``bench/feedback.py``).
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.errors import InvalidInput
from prodline.ledger.audit import AuditLog
from prodline.store.db import Database
from prodline.store.tables import feedback, prediction_log

if TYPE_CHECKING:
    import pandas as pd

    from prodline.ledger.predictions import PredictionReader

__all__ = ["FeedbackLog", "FeedbackResult"]

_CHUNK = 900  # ids per IN (...) lookup: under SQLite's old 999-parameter limit
_MAX_ID = 64
_LISTED = 1000  # unknown ids named in a result or an audit event at most
_CLOCK_SLACK = timedelta(minutes=10)  # labels older than their predictions by this much


@dataclass(frozen=True)
class FeedbackResult:
    """What one ``add_many`` did with its labels.

    ``accepted`` labels matched a logged prediction row; ``unknown`` ones did not (they
    are stored as orphans, see the module docstring) and ``unknown_ids`` names their
    request ids (the first 1,000). ``duplicates`` counts labels that replaced an earlier
    label for the same row, stored or earlier in the same batch (last one wins).
    """

    accepted: int
    unknown: int
    duplicates: int
    unknown_ids: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts and the unknown request ids."""
        return {
            "accepted": self.accepted,
            "unknown": self.unknown,
            "duplicates": self.duplicates,
            "unknown_ids": list(self.unknown_ids),
        }


class FeedbackLog:
    """Attach labels to logged predictions and read predictions with their labels.

    Reached as ``ws.feedback``.

    Examples
    --------
    >>> ws.feedback.add("3f9a-17", 1)  # doctest: +SKIP
    FeedbackResult(accepted=1, unknown=0, duplicates=0, unknown_ids=())
    >>> ws.feedback.read("credit-risk", last=10_000)["label"]  # doctest: +SKIP
    """

    def __init__(
        self,
        db: Database,
        audit: AuditLog,
        predictions: PredictionReader,
        authorize: Callable[[str], None] | None = None,
    ) -> None:
        self._db = db
        self._audit = audit
        self._predictions = predictions
        self._authorize = authorize

    # -- the writer ------------------------------------------------------------------
    def add(
        self, request_id: str, label: Any, *, row: int = 0, actor: str | None = None
    ) -> FeedbackResult:
        """Attach ``label`` to row ``row`` of request ``request_id`` (see ``add_many``)."""
        return self.add_many([{"request_id": request_id, "label": label, "row": row}], actor=actor)

    def add_many(
        self,
        records: Iterable[Mapping[str, Any]] | pd.DataFrame,
        *,
        actor: str | None = None,
    ) -> FeedbackResult:
        """Store a batch of labels in one transaction, with one audit event.

        Parameters
        ----------
        records
            Mappings with ``request_id`` (text), ``label`` (any JSON value but null) and
            optionally ``row`` (default 0), or a DataFrame with those columns.
        actor
            Who sent the labels; the workspace's actor by default.

        Raises
        ------
        InvalidInput
            A record lacks a field or has a wrong type; the message names it as
            ``feedback[i].field``. Nothing of the batch is stored then.
        """
        if self._authorize is not None:
            self._authorize("feedback.add")
        batch = _validate(_records(records))
        if not batch:
            return FeedbackResult(0, 0, 0)
        latest: dict[tuple[str, int], Any] = {}
        in_batch = 0
        for request_id, row, label in batch:
            key = (request_id, row)
            if key in latest:
                in_batch += 1
            latest[key] = label
        ids = sorted({key[0] for key in latest})
        who = actor or self._audit.actor
        now = datetime.now(UTC)
        with self._db.tx() as conn:
            known = _known(conn, ids)
            stored = _stored(conn, ids)
            stamp = now if conn.dialect.name == "postgresql" else _sqlite_ts(now)
            rows: list[tuple[Any, ...]] = []
            unknown_ids: dict[str, None] = {}
            accepted = unknown = 0
            replaced: list[dict[str, Any]] = []
            for (request_id, row), label in latest.items():
                match = known.get(request_id)
                model: str | None
                version: int | None
                if match is not None and row < match[2]:
                    model, version = match[0], match[1]
                    accepted += 1
                else:
                    model = version = None
                    unknown += 1
                    unknown_ids.setdefault(request_id)
                if (request_id, row) in stored:
                    before = stored[(request_id, row)]
                    replaced.append(
                        {"request_id": request_id, "row": row, "from": before, "to": label}
                    )
                rows.append((request_id, row, _dumps(label), model, version, stamp, who))
            conn.exec_driver_sql(_upsert_sql(conn.dialect.paramstyle), rows)
            listed = tuple(list(unknown_ids)[:_LISTED])
            result = FeedbackResult(accepted, unknown, in_batch + len(replaced), listed)
            events: list[tuple[str, Mapping[str, Any]]] = [
                ("feedback.received", {**result.to_dict(), "labels": len(batch)})
            ]
            if replaced:
                events.append(("feedback.replaced", {"count": len(replaced), "labels": replaced}))
            for action, payload in events:
                self._audit.record(conn, action, "feedback", payload, actor=who)
        return result

    # -- the reader ------------------------------------------------------------------
    def read(
        self,
        model: str,
        *,
        version: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        last: int | None = None,
    ) -> pd.DataFrame:
        """Logged predictions of ``model`` that have a label, oldest first.

        The filters select predictions as ``ws.predictions.read`` does (``last``: among
        the newest N predicted rows, those labelled). The frame is the prediction log's
        (features, ``prediction``, ``proba_<class>``, ``request_id``, ``model``,
        ``version``, ``ts``, ``latency_ms``) plus ``row`` (position in its request),
        ``label`` and ``label_at`` (when the label was received).
        """
        import pandas as pd

        frame = self._predictions.read(model, version=version, since=since, until=until, last=last)
        frame = frame.assign(row=_row_numbers(frame, self._predictions, model))
        if frame.empty:
            return frame.assign(label=pd.Series(dtype=object), label_at=pd.Series(dtype=object))
        oldest = frame["ts"].min().to_pydatetime() - _CLOCK_SLACK
        f = feedback.c
        query = sa.select(f.request_id, f.row, f.label, f.received_at).where(
            sa.or_(f.model == model, f.model.is_(None)), f.received_at >= oldest
        )
        with self._db.read() as conn:
            labels = pd.DataFrame(
                conn.execute(query).all(), columns=["request_id", "row", "label", "label_at"]
            )
        labels["row"] = labels["row"].astype("int64")
        joined = frame.merge(labels, on=["request_id", "row"], how="inner", sort=False)
        joined["label"] = pd.Series(joined["label"].tolist(), index=joined.index).infer_objects()
        joined["label_at"] = pd.to_datetime(joined["label_at"], utc=True)
        return joined.reset_index(drop=True)

    def orphans(self) -> pd.DataFrame:
        """Labels that match no logged prediction row (yet), oldest first.

        A label stored as unknown drops out of this list once its prediction is logged
        (the prediction log's writer may lag behind a quick client).
        """
        import pandas as pd

        f = feedback.c
        query = (
            sa.select(f.request_id, f.row, f.label, f.received_at, f.actor)
            .where(f.model.is_(None))
            .order_by(f.id)
        )
        with self._db.read() as conn:
            rows = conn.execute(query).all()
            known = _known(conn, sorted({r.request_id for r in rows}))
        rows = [r for r in rows if r.request_id not in known or r.row >= known[r.request_id][2]]
        frame = pd.DataFrame(rows, columns=["request_id", "row", "label", "received_at", "actor"])
        frame["received_at"] = pd.to_datetime(frame["received_at"], utc=True)
        return frame

    def count(self, model: str | None = None) -> int:
        """How many labels are stored (for ``model``, when given; orphans have none)."""
        query = sa.select(sa.func.count()).select_from(feedback)
        if model is not None:
            query = query.where(feedback.c.model == model)
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())


# -- validation ------------------------------------------------------------------------
def _records(records: Iterable[Mapping[str, Any]] | pd.DataFrame) -> Sequence[Any]:
    if hasattr(records, "to_dict") and hasattr(records, "columns"):
        out: list[Any] = records.to_dict(orient="records")
        return out
    if isinstance(records, Mapping | str | bytes):
        raise InvalidInput(
            "feedback must be a list of {request_id, label, row?} records, got a single "
            f"{type(records).__name__}; wrap it in a list or use add().",
            field="feedback",
        )
    return builtins.list(records)


def _validate(records: Sequence[Any]) -> list[tuple[str, int, Any]]:
    out: list[tuple[str, int, Any]] = []
    for i, record in enumerate(records):
        where = f"feedback[{i}]"
        if not isinstance(record, Mapping):
            raise InvalidInput(
                f"{where} must be an object with request_id and label, "
                f"got {type(record).__name__}.",
                field=where,
            )
        request_id = record.get("request_id")
        if not isinstance(request_id, str) or not request_id or len(request_id) > _MAX_ID:
            raise InvalidInput(
                f"{where}.request_id must be the x-request-id of a prediction (text of 1-"
                f"{_MAX_ID} characters), got {request_id!r}.",
                field=f"{where}.request_id",
            )
        if "label" not in record or _missing(record["label"]):
            raise InvalidInput(
                f'{where}.label is missing; send the true outcome, e.g. 0, 1 or "approved".',
                field=f"{where}.label",
            )
        label = _plain(record["label"])
        if not isinstance(label, str | int | float | bool | list | dict):
            raise InvalidInput(
                f"{where}.label must be a JSON value (number, text, boolean, list or object), "
                f"got {type(label).__name__}.",
                field=f"{where}.label",
            )
        row = _plain(record.get("row", 0))
        if row is None or (isinstance(row, float) and math.isnan(row)):
            row = 0
        if isinstance(row, float) and row.is_integer():
            row = int(row)
        if isinstance(row, bool) or not isinstance(row, int) or row < 0:
            raise InvalidInput(
                f"{where}.row must be the row's position in its request (0, 1, ...), got {row!r}.",
                field=f"{where}.row",
            )
        out.append((request_id, row, label))
    return out


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _plain(value: Any) -> Any:
    """NumPy scalars (from a DataFrame) as Python ones."""
    item = getattr(value, "item", None)
    if item is not None and getattr(value, "shape", None) == ():
        return item()
    return value


# -- the writer's pieces ---------------------------------------------------------------
def _known(conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str, int, int]]:
    """``request_id -> (model, version, rows)`` of the logged requests among ``ids``
    (the latest, if a client reused an id)."""
    found: dict[str, tuple[str, int, int]] = {}
    for request_id, model, version, rows in _lookup(conn, _KNOWN, ids):
        found[request_id] = (model, int(version), max(int(rows or 0), 1))
    return found


def _stored(conn: Connection, ids: Sequence[str]) -> dict[tuple[str, int], Any]:
    """The labels already stored for ``ids``, by ``(request_id, row)``."""
    out: dict[tuple[str, int], Any] = {}
    # psycopg decodes jsonb; SQLite gives the JSON text (numbers come back as numbers:
    # the column has numeric affinity there)
    decode = conn.dialect.name != "postgresql"
    for request_id, row, label in _lookup(conn, _STORED, ids):
        text = decode and isinstance(label, str | bytes)
        out[(request_id, int(row))] = orjson.loads(label) if text else label
    return out


_KNOWN = (
    "SELECT p.request_id, p.model, p.version, json_array_length({inputs}) "
    f"FROM {prediction_log.name} p {{ids}} ORDER BY p.id"
)
_STORED = f'SELECT f.request_id, f."row", f.label FROM {feedback.name} f {{ids}}'


def _lookup(conn: Connection, template: str, ids: Sequence[str]) -> list[Any]:
    """Rows of ``template`` for ``ids``. PostgreSQL joins the ids as one array (a hash or
    index join whatever the planner's statistics say: an IN list over a table whose
    statistics predate a bulk load was scanned row by row, at ~1k labels/s); SQLite
    takes chunks of an IN list, answered from the index."""
    alias = template.split("FROM ", 1)[1].split()[1]
    if conn.dialect.name == "postgresql":
        sql = template.format(
            inputs="p.inputs::json",
            ids=f"JOIN unnest(%s::text[]) AS wanted(id) ON {alias}.request_id = wanted.id",
        )
        return list(conn.exec_driver_sql(sql, (list(ids),)))
    out: list[Any] = []
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        sql = template.format(
            inputs="p.inputs",
            ids=f"WHERE {alias}.request_id IN ({', '.join(['?'] * len(chunk))})",
        )
        out.extend(conn.exec_driver_sql(sql, tuple(chunk)))
    return out


def _upsert_sql(paramstyle: str) -> str:
    """INSERT ... ON CONFLICT (request_id, row) DO UPDATE (SQLite and PostgreSQL): the
    last label wins, also against a concurrent writer. Written for the driver's
    ``executemany``: SQLAlchemy's per-row parameter processing cost more than the write."""
    mark = "?" if paramstyle == "qmark" else "%s"
    columns = ("request_id", "row", "label", "model", "version", "received_at", "actor")
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join([mark] * len(columns))
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns[2:])
    return (
        f"INSERT INTO {feedback.name} ({names}) VALUES ({marks}) "
        f'ON CONFLICT ("request_id", "row") DO UPDATE SET {updates}'
    )


def _dumps(label: Any) -> str:
    return orjson.dumps(label, option=orjson.OPT_NON_STR_KEYS).decode()


def _sqlite_ts(moment: datetime) -> str:
    """What ``UTCDateTime`` stores on SQLite: UTC wall time as text."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def _row_numbers(frame: pd.DataFrame, reader: PredictionReader, model: str) -> Any:
    """Each predicted row's position in its request.

    Rows of a request are consecutive in the log's frames; only the oldest request of a
    ``last`` window can be cut, so its numbering is offset by the rows left out.
    """
    import numpy as np

    if frame.empty:
        return np.zeros(0, dtype="int64")
    rows = frame.groupby("request_id", sort=False).cumcount().to_numpy(dtype="int64")
    first = frame["request_id"].iloc[0]
    kept = int((frame["request_id"] == first).sum())
    whole = len(reader.read(model, request_id=first))
    if whole > kept:
        rows[(frame["request_id"] == first).to_numpy()] += whole - kept
    return rows

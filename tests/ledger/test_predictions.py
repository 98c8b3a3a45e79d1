"""The prediction log on SQLite and PostgreSQL: one writer, one reader, segments or not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from alembic import command

from prodline.errors import InvalidInput
from prodline.ledger.predictions import Prediction, PredictionReader, PredictionWriter
from prodline.store.db import Database
from prodline.store.migrate import alembic_config
from prodline.store.tables import prediction_segments
from prodline.workspace import Workspace

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC).timestamp()


def pred(i: int, model: str = "m", version: int = 1, rows: int = 1) -> Prediction:
    inputs = [{"x": float(i), "color": "red" if i % 2 else "blue", "n": i + r} for r in range(rows)]
    return Prediction(
        request_id=f"r{i}",
        model=model,
        version=version,
        ts=T0 + i,  # one second apart
        inputs=inputs,
        predictions=np.array([i % 2] * rows),
        probabilities=np.array([[0.25, 0.75]] * rows),
        classes=["no", "yes"],
        latency_ms=1.0 + i,
    )


def at(i: int) -> datetime:
    return datetime.fromtimestamp(T0 + i, UTC)


def write(ws: Workspace, items: list[Prediction], segment_rows: int, batch: int = 7) -> None:
    writer = PredictionWriter(ws.db, ws.artifacts, segment_rows=segment_rows)
    for start in range(0, len(items), batch):
        writer.write(items[start : start + batch])


def sealed(ws: Workspace) -> int:
    with ws.db.read() as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(prediction_segments.c.artifact.is_not(None))
            ).scalar_one()
        )


def test_rows_come_back_one_per_predicted_row_with_every_column(ws: Workspace) -> None:
    write(ws, [pred(i) for i in range(50)], segment_rows=20)
    assert sealed(ws) == 2  # 40 rows in Parquet, 10 only in the table (open segment)
    frame = PredictionReader(ws.db, ws.artifacts).read("m")
    assert list(frame.columns) == [
        "x",
        "color",
        "n",
        "prediction",
        "proba_no",
        "proba_yes",
        "request_id",
        "model",
        "version",
        "ts",
        "latency_ms",
    ]
    assert frame["request_id"].tolist() == [f"r{i}" for i in range(50)]
    assert frame["x"].tolist() == [float(i) for i in range(50)]
    assert frame["prediction"].tolist() == [i % 2 for i in range(50)]
    assert frame["proba_yes"].tolist() == [0.75] * 50
    assert frame["ts"].tolist() == [pd.Timestamp(at(i)) for i in range(50)]
    assert str(frame["ts"].dt.tz) == "UTC"
    assert frame["latency_ms"].tolist() == [1.0 + i for i in range(50)]


def test_segments_and_table_rows_read_the_same(ws: Workspace) -> None:
    items = [pred(i, rows=1 + i % 3) for i in range(30)]
    write(ws, items, segment_rows=1_000_000)  # nothing sealed: every row from the table
    reader = PredictionReader(ws.db, ws.artifacts)
    from_table = reader.read("m")
    assert sealed(ws) == 0
    writer = PredictionWriter(ws.db, ws.artifacts, segment_rows=1)
    writer.write([pred(99)])  # another writer's segment, sealed at once
    assert sealed(ws) == 1
    both = reader.read("m")
    assert len(both) == len(from_table) + 1
    pd.testing.assert_frame_equal(both.iloc[:-1], from_table)
    assert len(from_table) == sum(1 + i % 3 for i in range(30))


def test_filters_by_version_window_last_and_request_id(ws: Workspace) -> None:
    items = [pred(i, version=1 if i < 60 else 2) for i in range(100)]
    items += [pred(1000 + i, model="other") for i in range(5)]
    write(ws, items, segment_rows=25)
    reader = PredictionReader(ws.db, ws.artifacts)
    assert len(reader.read()) == 105
    assert set(reader.read("other")["model"]) == {"other"}
    assert reader.read("m", version=2)["request_id"].tolist() == [f"r{i}" for i in range(60, 100)]
    window = reader.read("m", since=at(10), until=at(14))
    assert window["request_id"].tolist() == ["r10", "r11", "r12", "r13", "r14"]
    assert reader.read("m", last=3)["request_id"].tolist() == ["r97", "r98", "r99"]
    assert reader.read("m", last=30)["request_id"].tolist() == [f"r{i}" for i in range(70, 100)]
    assert reader.read("m", version=1, last=2)["request_id"].tolist() == ["r58", "r59"]
    (row,) = reader.read(request_id="r42").to_dict("records")
    assert (row["x"], row["version"], row["prediction"]) == (42.0, 1, 0)
    assert reader.read("m", request_id="nope").empty
    assert reader.read("m", since=at(500)).empty


def test_last_spans_many_segments_and_the_open_tail(ws: Workspace) -> None:
    write(ws, [pred(i) for i in range(230)], segment_rows=50, batch=13)
    frame = PredictionReader(ws.db, ws.artifacts).read("m", last=120)
    assert frame["request_id"].tolist() == [f"r{i}" for i in range(110, 230)]


def test_a_writer_that_never_sealed_leaves_its_rows_readable(ws: Workspace) -> None:
    crashed = PredictionWriter(ws.db, ws.artifacts, segment_rows=1000)
    crashed.write([pred(i) for i in range(10)])  # never closed: its segment stays open
    later = PredictionWriter(ws.db, ws.artifacts, segment_rows=5)
    later.write([pred(i) for i in range(10, 20)])
    later.close()
    frame = PredictionReader(ws.db, ws.artifacts).read("m")
    assert frame["request_id"].tolist() == [f"r{i}" for i in range(20)]


def test_requests_without_probabilities_have_no_proba_columns(sqlite_ws: Workspace) -> None:
    item = pred(1)._replace(probabilities=None, classes=None, predictions=np.array([3.5]))
    write(sqlite_ws, [item], segment_rows=1)
    frame = PredictionReader(sqlite_ws.db, sqlite_ws.artifacts).read()
    assert [c for c in frame.columns if c.startswith("proba")] == []
    assert frame["prediction"].tolist() == [3.5]


def test_an_empty_log_reads_as_an_empty_frame(sqlite_ws: Workspace) -> None:
    frame = PredictionReader(sqlite_ws.db, sqlite_ws.artifacts).read("m", last=10)
    assert frame.empty and {"request_id", "ts", "model"} <= set(frame.columns)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"since": datetime(2026, 1, 1)}, "since"),
        ({"until": datetime(2026, 1, 1)}, "until"),
        ({"last": 0}, "last"),
    ],
)
def test_bad_reader_arguments_name_the_field(
    sqlite_ws: Workspace, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        PredictionReader(sqlite_ws.db, sqlite_ws.artifacts).read("m", **kwargs)  # type: ignore[arg-type]
    assert info.value.details["field"] == field


def test_migration_0005_converts_logged_predictions_and_back(db_url: str, tmp_path: Path) -> None:
    db = Database(db_url)
    cfg = alembic_config()
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0004")
        conn.execute(
            sa.text(
                "INSERT INTO prediction_log (request_id, model, version, ts, inputs, outputs, "
                "latency_ms) VALUES ('old-1', 'm', 2, '2026-02-03T04:05:06.789012+00:00', "
                "'[{\"x\": 1.5}]', '{\"predictions\": [1]}', 2.5)"
            )
        )
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    db.dispose()
    ws = Workspace.open(tmp_path / "home", db_url=db_url)
    frame = PredictionReader(ws.db, ws.artifacts).read("m")
    assert frame.to_dict("records") == [
        {
            "x": 1.5,
            "prediction": 1,
            "request_id": "old-1",
            "model": "m",
            "version": 2,
            "ts": pd.Timestamp("2026-02-03T04:05:06.789012+00:00"),
            "latency_ms": 2.5,
        }
    ]
    ws.close()
    db = Database(db_url)
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0004")
    with db.read() as conn:
        ts = conn.execute(sa.text("SELECT ts FROM prediction_log")).scalar_one()
    assert str(ts) == "2026-02-03T04:05:06.789012+00:00"
    db.dispose()


def test_writer_refuses_a_nonsense_segment_size(sqlite_ws: Workspace) -> None:
    with pytest.raises(InvalidInput, match="segment_rows"):
        PredictionWriter(sqlite_ws.db, sqlite_ws.artifacts, segment_rows=0)


def test_window_bounds_are_inclusive_and_compare_in_utc(sqlite_ws: Workspace) -> None:
    write(sqlite_ws, [pred(i) for i in range(5)], segment_rows=2)
    berlin = at(1).astimezone(timezone(timedelta(hours=2)))
    frame = PredictionReader(sqlite_ws.db, sqlite_ws.artifacts).read(since=berlin, until=at(3))
    assert frame["request_id"].tolist() == ["r1", "r2", "r3"]

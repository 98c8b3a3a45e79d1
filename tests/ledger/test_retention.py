"""Prediction-log minimisation and retention: hashed/dropped columns never reach the log;
purge removes expired records from the table and the Parquet segments, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.dummy import DummyClassifier

from prodline.errors import InvalidInput, NotFound
from prodline.ledger.predictions import Prediction, PredictionWriter
from prodline.store.tables import prediction_log, prediction_segments
from prodline.workspace import Workspace

T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(days=3)


def _model(ws: Workspace, name: str = "m") -> None:
    frame = pd.DataFrame({"x": [0.0, 1.0], "color": ["red", "blue"], "n": [1, 2]})
    ws.models.register(DummyClassifier().fit(frame, [0, 1]), name=name, git_commit="")


def _pred(i: int, *, hours: float = 0.0, model: str = "m") -> Prediction:
    return Prediction(
        request_id=f"r{i}",
        model=model,
        version=1,
        ts=(T0 + timedelta(hours=hours)).timestamp(),
        inputs=[{"x": float(i), "color": "scarlet" if i % 2 else "cobalt", "n": 987650 + i}],
        predictions=np.array([i % 2]),
        probabilities=None,
        classes=None,
        latency_ms=1.0,
    )


def _raw_log_text(ws: Workspace) -> str:
    """Everything the log holds for the model: the table's JSON and the Parquet files."""
    with ws.db.read() as conn:
        texts = [r.inputs for r in conn.execute(sa.select(prediction_log.c.inputs))]
        shas = [
            r.artifact
            for r in conn.execute(
                sa.select(prediction_segments.c.artifact).where(
                    prediction_segments.c.artifact.is_not(None)
                )
            )
        ]
    parquet = [ws.artifacts.read_bytes(s).decode("latin-1") for s in shas]
    return "\n".join(texts + parquet)


def test_hashed_and_dropped_columns_never_reach_the_log(ws: Workspace) -> None:
    _model(ws)
    policy = ws.retention.set("m", {"color": "hash", "n": "drop"}, days=30)
    assert policy.hashed == ("color",) and policy.dropped == ("n",) and policy.days == 30
    writer = PredictionWriter(
        ws.db, ws.artifacts, segment_rows=4, minimize=ws.retention.minimizer()
    )
    writer.write([_pred(i) for i in range(10)])
    writer.close()
    frame = ws.predictions.read("m")
    assert len(frame) == 10 and "n" not in frame.columns
    assert set(frame["color"]) == {
        ws.retention.pseudonym("scarlet"),
        ws.retention.pseudonym("cobalt"),
    }
    assert frame["x"].tolist() == [float(i) for i in range(10)]  # kept as is
    raw = _raw_log_text(ws)
    assert "scarlet" not in raw and "cobalt" not in raw and "98765" not in raw
    # the keyed hash groups equal values but is not a plain hash anyone can recompute
    import hashlib

    assert hashlib.sha256(b"scarlet").hexdigest()[:32] not in raw
    event = ws.audit.events(action="retention.set")[0]
    assert event.subject == "model:m" and event.payload["columns"] == {"color": "hash", "n": "drop"}


def test_policy_changes_reach_a_running_writer(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    _model(ws)
    writer = PredictionWriter(ws.db, ws.artifacts, minimize=ws.retention.minimizer(ttl=0))
    writer.write([_pred(1)])
    ws.retention.set("m", {"color": "drop"})
    writer.write([_pred(2)])
    frame = ws.predictions.read("m")
    assert frame["color"].tolist()[0] == "scarlet" and pd.isna(frame["color"].tolist()[1])
    ws.retention.set("m", {"color": "keep"})  # keep again: the policy forgets the column
    assert ws.retention.get("m").columns == {}


def test_purge_removes_expired_records_and_segments_and_is_audited(ws: Workspace) -> None:
    _model(ws)
    ws.retention.set("m", {"color": "hash"}, days=1)
    writer = PredictionWriter(ws.db, ws.artifacts, segment_rows=10)
    for start in range(0, 45, 10):  # one an hour: segments of 10 rows, 5 left open
        writer.write([_pred(i, hours=i) for i in range(start, min(start + 10, 45))])
    writer.write([_pred(100, model="other", hours=0)])  # no policy: never purged
    now = T0 + timedelta(hours=48)  # cutoff: hour 24
    with ws.db.read() as conn:
        old_shas = list(
            conn.execute(
                sa.select(prediction_segments.c.artifact)
                .where(prediction_segments.c.artifact.is_not(None))
                .order_by(prediction_segments.c.id)
            ).scalars()
        )
    assert len(old_shas) == 4
    dry = ws.retention.purge(now=now, dry_run=True)
    assert [r.requests for r in dry] == [24] and len(ws.predictions.read("m")) == 45

    [result] = ws.retention.purge(now=now)
    assert result.requests == 24 and result.segments_deleted == 2
    assert result.segments_rewritten == 1 and result.rows_removed_from_segments == 4
    frame = ws.predictions.read("m")
    assert len(frame) == 21 and frame["ts"].min() == pd.Timestamp(T0 + timedelta(hours=24))
    assert len(ws.predictions.read("other")) == 1
    assert not ws.artifacts.exists(old_shas[0]) and not ws.artifacts.exists(old_shas[1])
    assert not ws.artifacts.exists(old_shas[2])  # rewritten without its expired rows
    assert ws.artifacts.exists(old_shas[3])
    event = ws.audit.events(action="retention.purged")[0]
    assert event.subject == "model:m" and event.payload["requests"] == 24
    assert ws.audit.verify().ok
    assert ws.retention.purge(now=now)[0].requests == 0  # nothing left to purge


def test_an_open_segment_sealed_after_a_purge_keeps_expired_rows_out(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    _model(ws)
    ws.retention.set("m", days=1)
    writer = PredictionWriter(
        ws.db, ws.artifacts, segment_rows=1000, minimize=ws.retention.minimizer(ttl=0)
    )
    old = datetime.now(UTC) - timedelta(days=3)
    writer.write([_pred(1, hours=(old - T0).total_seconds() / 3600), _pred(2, hours=0)])
    writer.write([_pred(3, hours=(datetime.now(UTC) - T0).total_seconds() / 3600)])
    ws.retention.purge()
    writer.close()  # seals the open segment: the purged rows must not come back
    assert ws.predictions.read("m")["request_id"].tolist() == ["r3"]


@pytest.mark.parametrize(
    ("columns", "days", "message"),
    [
        ({"color": "encrypt"}, None, "must be one of keep, hash, drop"),
        ({"colour": "hash"}, None, "has no input column 'colour'; its columns are x, color, n"),
        ({}, 0, "days must be a whole number from 1"),
    ],
)
def test_bad_policies_are_refused(
    sqlite_ws: Workspace, columns: dict[str, str], days: int | None, message: str
) -> None:
    _model(sqlite_ws)
    with pytest.raises(InvalidInput, match=message):
        sqlite_ws.retention.set("m", columns, days=days)


def test_unknown_model_and_missing_policy(sqlite_ws: Workspace) -> None:
    with pytest.raises(NotFound):
        sqlite_ws.retention.set("nope", {"x": "hash"})
    _model(sqlite_ws)
    with pytest.raises(NotFound, match="prodline retention set m"):
        sqlite_ws.retention.get("m")

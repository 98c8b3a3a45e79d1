"""Feedback labels: matched, unknown (stored as orphans, reported), duplicates (last wins,
audited), validation naming the field, and the reader's join — on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
import pytest

from prodline.errors import InvalidInput
from prodline.ledger import Prediction, PredictionWriter
from prodline.workspace import Workspace


def log_predictions(ws: Workspace, count: int, *, rows: int = 1, model: str = "clf") -> None:
    writer = PredictionWriter(ws.db, ws.artifacts, segment_rows=7)
    batch = [
        Prediction(
            f"r{i}",
            model,
            1 + i % 2,
            time.time(),
            [{"x": float(i * 10 + j)} for j in range(rows)],
            [(i + j) % 2 for j in range(rows)],
            [[0.3, 0.7]] * rows,
            [0, 1],
            1.0,
        )
        for i in range(count)
    ]
    writer.write(batch)
    writer.close()


def test_labels_join_their_predictions_row_by_row(ws: Workspace) -> None:
    log_predictions(ws, 10, rows=3)
    result = ws.feedback.add_many(
        [{"request_id": f"r{i}", "label": 1, "row": j} for i in range(10) for j in (0, 2)]
    )
    assert (result.accepted, result.unknown, result.duplicates) == (20, 0, 0)
    frame = ws.feedback.read("clf")
    assert len(frame) == 20
    assert set(frame["row"]) == {0, 2}
    # the label sits beside the row it names: x encodes (request, row)
    expected = [
        float(int(r[1:]) * 10 + row)
        for r, row in zip(frame["request_id"], frame["row"], strict=True)
    ]
    assert frame["x"].tolist() == expected
    assert frame["label"].tolist() == [1] * 20 and frame["label"].dtype == "int64"
    assert {"prediction", "proba_1", "version", "ts", "label_at"} <= set(frame.columns)
    # filters apply to the predictions: version, and last (a cut request keeps its numbering)
    assert set(ws.feedback.read("clf", version=2)["request_id"]) == {
        f"r{i}" for i in range(1, 10, 2)
    }
    tail = ws.feedback.read("clf", last=5)  # r8 rows 1-2 and r9 rows 0-2
    assert list(zip(tail["request_id"], tail["row"], strict=True)) == [
        ("r8", 2),
        ("r9", 0),
        ("r9", 2),
    ]


def test_unknown_ids_are_reported_stored_and_join_once_logged(ws: Workspace) -> None:
    log_predictions(ws, 3, rows=2)
    result = ws.feedback.add_many(
        [
            {"request_id": "r0", "label": 0},
            {"request_id": "nope", "label": 1},
            {"request_id": "r1", "label": 1, "row": 5},  # the request has 2 rows
            {"request_id": "late", "label": 1},
        ]
    )
    assert (result.accepted, result.unknown, result.duplicates) == (1, 3, 0)
    assert result.unknown_ids == ("nope", "r1", "late")
    event = ws.audit.events(limit=1, action="feedback.received")[0]
    assert event.payload["unknown"] == 3 and event.payload["unknown_ids"] == ["nope", "r1", "late"]
    assert sorted(ws.feedback.orphans()["request_id"]) == ["late", "nope", "r1"]
    assert ws.feedback.count() == 4 and ws.feedback.count("clf") == 1
    # the prediction of "late" reaches the log after its label: the label joins it then
    writer = PredictionWriter(ws.db, ws.artifacts)
    writer.write([Prediction("late", "clf", 1, time.time(), [{"x": 9.0}], [1], None, None, 1.0)])
    writer.close()
    assert sorted(ws.feedback.orphans()["request_id"]) == ["nope", "r1"]
    assert sorted(ws.feedback.read("clf")["request_id"]) == ["late", "r0"]


def test_duplicates_last_one_wins_and_the_replacement_is_audited(ws: Workspace) -> None:
    log_predictions(ws, 2)
    ws.feedback.add("r0", "approved")
    result = ws.feedback.add_many(
        [
            {"request_id": "r0", "label": "rejected"},
            {"request_id": "r1", "label": "approved"},
            {"request_id": "r1", "label": "rejected"},  # in-batch duplicate: last wins
        ],
        actor="reviewer",
    )
    assert (result.accepted, result.unknown, result.duplicates) == (2, 0, 2)
    frame = ws.feedback.read("clf")
    assert dict(zip(frame["request_id"], frame["label"], strict=True)) == {
        "r0": "rejected",
        "r1": "rejected",
    }
    replaced = ws.audit.events(limit=1, action="feedback.replaced")[0]
    assert replaced.actor == "reviewer"
    assert replaced.payload["labels"] == [
        {"request_id": "r0", "row": 0, "from": "approved", "to": "rejected"}
    ]
    assert ws.feedback.count() == 2


def test_structured_labels_and_dataframe_input(ws: Workspace) -> None:
    log_predictions(ws, 2)
    records = pd.DataFrame({"request_id": ["r0", "r1"], "label": [0.5, 2.25], "row": [0, 0]})
    assert ws.feedback.add_many(records).accepted == 2
    assert ws.feedback.read("clf")["label"].tolist() == [0.5, 2.25]
    ws.feedback.add("r0", {"class": "a", "score": 3})
    assert ws.feedback.read("clf")["label"].tolist()[0] == {"class": "a", "score": 3}


@pytest.mark.parametrize(
    ("records", "field", "words"),
    [
        ([{"label": 1}], "feedback[0].request_id", "x-request-id"),
        ([{"request_id": "", "label": 1}], "feedback[0].request_id", "1-64"),
        ([{"request_id": "r" * 65, "label": 1}], "feedback[0].request_id", "1-64"),
        ([{"request_id": "r0", "label": 1}, {"request_id": "r1"}], "feedback[1].label", "missing"),
        ([{"request_id": "r0", "label": None}], "feedback[0].label", "missing"),
        ([{"request_id": "r0", "label": object()}], "feedback[0].label", "JSON value"),
        ([{"request_id": "r0", "label": 1, "row": -1}], "feedback[0].row", "position"),
        ([{"request_id": "r0", "label": 1, "row": "a"}], "feedback[0].row", "position"),
        (["r0"], "feedback[0]", "an object"),
        ({"request_id": "r0", "label": 1}, "feedback", "wrap it in a list"),
    ],
)
def test_bad_records_name_the_field_and_store_nothing(
    sqlite_ws: Workspace, records: Any, field: str, words: str
) -> None:
    log_predictions(sqlite_ws, 2)
    with pytest.raises(InvalidInput, match=words) as info:
        sqlite_ws.feedback.add_many(records)
    assert info.value.details["field"] == field
    assert sqlite_ws.feedback.count() == 0


def test_empty_batch_and_empty_log(sqlite_ws: Workspace) -> None:
    assert sqlite_ws.feedback.add_many([]).to_dict() == {
        "accepted": 0,
        "unknown": 0,
        "duplicates": 0,
        "unknown_ids": [],
    }
    frame = sqlite_ws.feedback.read("clf")
    assert frame.empty and "label" in frame.columns

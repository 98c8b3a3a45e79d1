"""The LLM/RAG call log on SQLite and PostgreSQL: one writer, one reader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from prodline.errors import InvalidInput
from prodline.ledger.calls import CALL_COLUMNS, CallReader, CallWriter
from prodline.workspace import Workspace

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def call(i: int, kb: str = "support", provider: str = "extractive") -> dict[str, object]:
    return {
        "request_id": f"c{i}",
        "ts": (T0 + timedelta(seconds=i)).isoformat(),
        "kb": kb,
        "endpoint": "chat",
        "question": f"question {i}",
        "chunk_ids": [i, i + 1],
        "provider": provider,
        "model": "extractive-1",
        "route": ["openai", provider],
        "route_reason": "pii in context: self-hosted only",
        "input_tokens": 100 + i,
        "output_tokens": 20,
        "cost_usd": 0.001 * i,
        "latency_ms": 12.5,
        "groundedness": 0.8,
        "flagged": False,
        "sensitivity": "pii",
        "stream": i % 2 == 0,
        "citations": [i],
    }


def test_calls_round_trip_with_every_column(ws: Workspace) -> None:
    assert CallWriter(ws.db).write([call(i) for i in range(5)]) == 5
    frame = CallReader(ws.db).read("support")
    assert list(frame.columns)[: len(CALL_COLUMNS)] == list(CALL_COLUMNS)
    assert {"stream", "citations"} <= set(frame.columns)
    first = frame.iloc[0].to_dict()
    assert first["request_id"] == "c0" and first["route"] == "openai>extractive"
    assert first["chunk_ids"] == [0, 1] and first["citations"] == [0]
    assert first["ts"].to_pydatetime() == T0
    assert (first["input_tokens"], first["sensitivity"], first["flagged"]) == (100, "pii", False)
    assert frame["stream"].tolist() == [True, False, True, False, True]


def test_calls_filter_by_kb_provider_window_last_and_request_id(ws: Workspace) -> None:
    records = [call(i) for i in range(10)] + [
        call(100 + i, kb="hr", provider="openai") for i in range(3)
    ]
    CallWriter(ws.db).write(records)
    reader = CallReader(ws.db)
    assert len(reader.read()) == 13
    assert reader.read("hr")["request_id"].tolist() == ["c100", "c101", "c102"]
    assert len(reader.read(provider="openai")) == 3
    window = reader.read(
        "support", since=T0 + timedelta(seconds=2), until=T0 + timedelta(seconds=4)
    )
    assert window["request_id"].tolist() == ["c2", "c3", "c4"]
    assert reader.read("support", last=2)["request_id"].tolist() == ["c8", "c9"]
    assert reader.read(request_id="c5")["question"].tolist() == ["question 5"]
    assert reader.read("nope").empty


@pytest.mark.parametrize(
    ("record", "field"),
    [
        ({"request_id": ""}, "request_id"),
        ({"request_id": "x", "ts": "2026-01-01T00:00:00"}, "ts"),
    ],
)
def test_bad_records_name_the_field(
    sqlite_ws: Workspace, record: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        CallWriter(sqlite_ws.db).write([record])
    assert info.value.details["field"] == field
    assert CallReader(sqlite_ws.db).read().empty

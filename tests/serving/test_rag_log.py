"""Every acknowledged RAG call is logged (the ledger's call log) and audited, off the hot path."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest
from rag_support import (
    KB,
    PII_Q,
    REFUND_Q,
    ask,
    copy_home,
    in_process,
    open_ws,
    template,
)

from prodline.ledger.calls import CallReader
from prodline.serving.rag.raglog import RagLog, legacy_log_path
from prodline.workspace import Workspace


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[Workspace]:
    with open_ws(copy_home(template(tmp_path_factory), tmp_path / "home")) as opened:
        yield opened


def _calls(ws: Workspace, **filters: Any) -> list[dict[str, Any]]:
    return list(CallReader(ws.db).read(**filters).to_dict("records"))


def _events(ws: Workspace, action: str) -> list[Any]:
    return [e for e in ws.audit.events() if e.action == action]


def test_every_acknowledged_call_is_logged_and_audited_after_a_clean_stop(
    ws: Workspace,
) -> None:
    questions = [REFUND_Q, PII_Q, "How long does express shipping take?", "Is misuse covered?"]
    with in_process(ws, k=3) as http:

        def call(i: int) -> tuple[int, str]:
            if i % 4 == 3:
                resp = http.post("/v1/retrieve", json={"query": questions[i % 4], "k": 2})
            else:
                resp = http.post(
                    "/v1/chat/completions", json=ask(questions[i % 4], stream=i % 4 == 2)
                )
            return resp.status_code, resp.headers["x-request-id"]

        with ThreadPoolExecutor(8) as pool:
            results = list(pool.map(call, range(24)))
        bad = http.post("/v1/chat/completions", json={"model": KB, "messages": []})
    assert bad.status_code == 422
    assert {status for status, _ in results} == {200}
    acknowledged = {rid for _, rid in results}

    records = _calls(ws, kb=KB)
    assert len(records) == 24
    assert {r["request_id"] for r in records} == acknowledged
    chats = [r for r in records if r["endpoint"] == "chat"]
    assert len(chats) == 18
    assert sum(r["stream"] for r in chats) == 6
    for r in chats:
        assert set(r) >= {
            "request_id",
            "ts",
            "kb",
            "question",
            "chunk_ids",
            "provider",
            "model",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "latency_ms",
            "groundedness",
            "flagged",
            "route",
            "route_reason",
            "sensitivity",
        }
        assert r["kb"] == KB and r["provider"] == "extractive" and r["chunk_ids"]
        assert r["route"].split(">")[-1] == "extractive"
        assert 0.0 <= r["groundedness"] <= 1.0 and r["latency_ms"] > 0
    pii = [r for r in chats if r["question"] == PII_Q]
    assert pii and all("pii" in r["route_reason"] for r in pii)
    assert all(r["sensitivity"] in {"pii", "phi"} for r in pii)
    (one,) = _calls(ws, request_id=chats[0]["request_id"])
    assert one["question"] == chats[0]["question"]
    assert len(_calls(ws, provider="extractive")) == 18

    answered = _events(ws, "rag.answered")
    assert len(answered) == 18
    assert {e.payload["request_id"] for e in answered} == {r["request_id"] for r in chats}
    assert all(e.subject == f"kb:{KB}" for e in answered)
    assert set(answered[0].payload) == {
        "request_id",
        "provider",
        "chunk_ids",
        "groundedness",
        "flagged",
    }
    assert len(_events(ws, "rag.retrieved")) == 6
    (started,) = _events(ws, "server.started")
    assert started.payload["kb"] == KB and started.payload["clearance"] == "phi"
    (stopped,) = _events(ws, "server.stopped")
    assert stopped.payload["answered"] == 24 and stopped.payload["failed"] == 1
    assert stopped.payload["logged"] == 24 and stopped.payload["shed"] == 0
    assert ws.audit.verify().ok


def test_overload_sheds_are_counted_and_audited(ws: Workspace, tmp_path: Path) -> None:
    shed: list[int] = []
    raglog = RagLog(ws, KB, max_size=2, backpressure=0.0, on_shed=shed.append)
    record = {
        "request_id": "r",
        "kb": KB,
        "endpoint": "chat",
        "provider": "extractive",
        "chunk_ids": [],
    }
    assert raglog.offer({**record, "request_id": "r1"})
    assert raglog.put({**record, "request_id": "r2"})
    assert not raglog.put({**record, "request_id": "r3"})  # queue full, not started: shed
    assert raglog.depth() == 2 and shed == [1]
    raglog.close()
    assert [r["request_id"] for r in _calls(ws, kb=KB)] == ["r1", "r2"]
    (event,) = _events(ws, "server.rag_log_shed")
    assert event.payload["count"] == 1 and event.payload["queue_size"] == 2
    assert raglog.written == 2 and raglog.shed == 1


def test_a_legacy_jsonl_log_is_imported_into_the_call_log_once(ws: Workspace) -> None:
    legacy = legacy_log_path(ws.home, KB)
    legacy.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        {
            "request_id": f"old-{i}",
            "ts": f"2026-01-0{i + 1}T10:00:00.000000+00:00",
            "kb": KB,
            "endpoint": "chat",
            "question": "q",
            "chunk_ids": [1, 2],
            "provider": "extractive",
            "input_tokens": 10,
            "output_tokens": 5,
            "cost_usd": 0.0,
            "latency_ms": 3.5,
            "groundedness": 0.9,
            "flagged": False,
            "route_reason": "default",
            "stream": False,
        }
        for i in range(3)
    ]
    legacy.write_bytes(b"".join(orjson.dumps(line) + b"\n" for line in lines))
    for _ in range(2):  # a second start finds nothing left to import
        raglog = RagLog(ws, KB)
        raglog.start()
        raglog.close()
    calls = _calls(ws, kb=KB)
    assert [c["request_id"] for c in calls] == ["old-0", "old-1", "old-2"]
    assert calls[0]["chunk_ids"] == [1, 2] and calls[0]["stream"] is False
    assert str(calls[2]["ts"]) == "2026-01-03 10:00:00+00:00"
    assert not legacy.exists() and legacy.with_name(legacy.name + ".imported").exists()

"""RAG monitoring end to end: the RAG server logs retrieval scores, and
``ws.rag_report`` reads the call log, embeds the questions with the KB's embedder and
compares them with the KB's stored chunk embeddings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from rag_support import KB, REFUND_Q, ask, copy_home, in_process, open_ws, template

from prodline.errors import NotFound
from prodline.workspace import Workspace


@pytest.fixture
def ws(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Iterator[Workspace]:
    with open_ws(copy_home(template(tmp_path_factory), tmp_path / "home")) as opened:
        yield opened


def test_rag_report_over_served_calls(ws: Workspace) -> None:
    questions = [
        REFUND_Q,
        "How long does express shipping take?",
        "Is accidental damage covered by the warranty?",
        "Do international orders pay customs fees?",
    ]
    with in_process(ws, k=3) as http:
        for q in questions:
            assert http.post("/v1/chat/completions", json=ask(q)).status_code == 200
        assert http.post("/v1/retrieve", json={"query": questions[0], "k": 2}).status_code == 200
    calls = ws.calls.read(KB)
    assert len(calls) == 5
    for scores, chunk_ids in zip(calls["retrieval_scores"], calls["chunk_ids"], strict=True):
        assert len(scores) == len(chunk_ids) > 0 and list(scores) == sorted(scores, reverse=True)
    report = ws.rag_report(KB, threshold=0.5, window=2)
    assert report.calls == 5 and report.answers == 4
    assert [w.calls for w in report.windows] == [2, 2, 1]
    assert report.retrieval["top"]["count"] == 5
    drift = report.embedding_drift
    assert drift is not None and drift.queries == 5
    assert drift.chunks == len(ws.kbs.chunk_embeddings(KB)) and 0 < drift.p_value <= 1
    assert 0.3 < drift.coverage_mean <= 1.0  # on-topic questions sit near some chunk
    assert ws.rag_report(KB, embeddings=False).embedding_drift is None
    with pytest.raises(NotFound):
        ws.rag_report("no-such-kb")

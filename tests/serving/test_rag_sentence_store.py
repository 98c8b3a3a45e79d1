"""Chat on a freshly ingested KB embeds only the question: the retrieved chunks' sentences
were embedded at ingest (``kb_sentences``) and preloaded into the server's cache. The
scores come out as they do when every piece is embedded at answer time."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from rag_support import KB, PII_Q, REFUND_Q, copy_home, open_ws, template

from prodline.serving.rag.embedcache import CachedEmbed
from prodline.serving.rag.runtime import Answer, RagRuntime
from prodline.serving.rag.schema import ChatRequest
from prodline.workspace import Workspace

QUESTIONS = [
    REFUND_Q,
    PII_Q,
    "How long does standard shipping take?",
    "What does the warranty not cover?",
    "Do international orders pay customs fees?",
]


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    home = copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("sentences") / "home")
    with open_ws(home) as ws:
        yield ws


def _chat(runtime: RagRuntime, question: str) -> Answer:
    req = ChatRequest(model=KB, messages=[{"role": "user", "content": question}])
    asked = runtime.ask(req, uuid.uuid4().hex, 0.0)
    return runtime.grade(asked, runtime.complete(asked))


def _counting(runtime: RagRuntime) -> list[list[str]]:
    seen: list[list[str]] = []
    model = runtime.embedder
    real = model.embed

    def embed(texts: Sequence[str]) -> npt.NDArray[np.float32]:
        seen.append(list(texts))
        return real(texts)

    runtime.embed.embedder = type("Counting", (), {"embed": staticmethod(embed), "dim": 384})()
    return seen


def _scores(answer: Answer) -> dict[str, Any]:
    g = answer.grounded
    return {
        "text": answer.completion.text,
        "score": g.score,
        "answer_relevance": g.answer_relevance,
        "context_relevance": g.context_relevance,
        "flagged": g.flagged,
        "supports": [s.support for s in g.sentences],
    }


def test_a_chat_embeds_only_its_question(ws: Workspace) -> None:
    runtime = RagRuntime(ws, KB)
    runtime._warm()
    seen = _counting(runtime)
    for question in QUESTIONS:
        seen.clear()
        answer = _chat(runtime, question)
        assert answer.completion.provider == "extractive"
        assert seen == [[question]], f"{question!r} embedded more than the question: {seen}"


def test_scores_match_embedding_everything_at_answer_time(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = RagRuntime(ws, KB)
    with_store = [_scores(_chat(stored, q)) for q in QUESTIONS]
    monkeypatch.setattr(CachedEmbed, "preload", lambda self, db, hits: 0)  # a KB from before
    fresh = RagRuntime(ws, KB)
    seen = _counting(fresh)
    without = [_scores(_chat(fresh, q)) for q in QUESTIONS]
    assert sum(map(len, seen)) > 3 * len(QUESTIONS)  # really embedded the context again
    for a, b in zip(with_store, without, strict=True):
        assert a["text"] == b["text"] and a["flagged"] == b["flagged"]
        for key in ("score", "answer_relevance", "context_relevance"):
            assert a[key] == pytest.approx(b[key], abs=1e-6), key
        assert a["supports"] == pytest.approx(b["supports"], abs=1e-6)

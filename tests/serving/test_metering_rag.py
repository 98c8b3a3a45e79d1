"""Metering and hard budgets on the RAG server: chat (plain and streamed) and retrieval
calls are metered with tokens, provider/model, CPU ms, KB and team; a spent budget with
``on_exceed = "route"`` sends the call to its cheaper provider and says so in
``route_reason``; one with ``refuse`` answers 429 in the OpenAI error shape."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from live_support import run_live
from rag_support import HOST, KB, Live, ask, copy_home, free_port, metric, open_ws, template

from prodline.llm import Completion, Gateway, LlmConfig, LlmRequest, ProviderConfig
from prodline.llm.providers import ExtractiveProvider
from prodline.serving.rag import RagOptions, create_rag_app
from prodline.workspace import Workspace

PRICES = """currency: USD
tokens:
  extractive/extractive: {input: 0, output: 0}
  pricey/big-model: {input: 0, output: 1.0}
compute:
  cpu_core_hour: 0
  gpu_hour: 0
  memory_gb_hour: 0
"""
OUT_TOKENS = 40  # what the pricey provider reports: 0.04 USD a call
QUESTION = "How long do refunds take to be issued?"


class Pricey:
    """A self-hosted "big model": the extractive answer, reported as 40 output tokens."""

    config = ProviderConfig(name="pricey", kind="openai", model="big-model", self_hosted=True)

    def __init__(self) -> None:
        self.inner = ExtractiveProvider()

    def complete(self, request: LlmRequest) -> Completion:
        done = self.inner.complete(request)
        return dataclasses.replace(done, model="big-model", output_tokens=OUT_TOKENS)

    def stream(self, request: LlmRequest) -> Iterator[str | Completion]:
        yield self.complete(request)

    def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_home(template(tmp_path_factory), tmp_path_factory.mktemp("rag-meter") / "home")


@contextlib.contextmanager
def serve(ws: Workspace, gateway: Gateway | None = None) -> Iterator[Live]:
    port = free_port()
    app = create_rag_app(ws, KB, options=RagOptions(k=3), address=(HOST, port), gateway=gateway)
    with run_live(app, port) as live:
        yield live


def _scan(ws: Workspace) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return ws.costs.meter.scan(now - timedelta(hours=1), now + timedelta(hours=1)).to_pylist()


def test_chat_and_retrieve_calls_are_metered_with_tokens_and_cpu(home: Path) -> None:
    with open_ws(home) as ws:
        with serve(ws) as live, live.client() as client:
            plain = client.post("/v1/chat/completions", json=ask(QUESTION))
            assert plain.status_code == 200, plain.text
            streamed = client.post("/v1/chat/completions", json=ask(QUESTION, stream=True))
            assert streamed.status_code == 200 and "[DONE]" in streamed.text
            found = client.post("/v1/retrieve", json={"query": "customs fees", "k": 2})
            assert found.status_code == 200
            time.sleep(0.3)  # the RAG log flushes every 0.05 s
            text = client.get("/metrics").text
        records = _scan(ws)
    by_kind = {kind: [r for r in records if r["kind"] == kind] for kind in ("chat", "retrieve")}
    assert len(by_kind["chat"]) == 2 and len(by_kind["retrieve"]) == 1
    assert plain.json()["request_id"] in {r["request_id"] for r in by_kind["chat"]}
    for r in by_kind["chat"]:
        assert (r["provider"], r["llm_model"]) == ("extractive", "extractive")
        assert r["input_tokens"] > 0 and r["output_tokens"] > 0
    for r in records:
        assert r["kb"] == KB and r["team"] == "support" and r["model"] == ""
        assert r["cpu_ms"] > 0 and r["latency_ms"] > 0 and r["rows"] == 1
    labels = {"route": "extractive/extractive", "team": "support"}
    assert metric(text, "prodline_tokens_total", direction="input", **labels) == sum(
        r["input_tokens"] for r in by_kind["chat"]
    )
    assert metric(text, "prodline_compute_ms_total", **labels) > 0


def test_a_spent_budget_routes_to_the_cheaper_provider_or_refuses(home: Path) -> None:
    config = LlmConfig(
        providers={"pricey": Pricey.config, "extractive": ExtractiveProvider().config},
        fallback=("pricey", "extractive"),
    )
    gateway = Gateway(config, providers={"pricey": Pricey()})
    body = ask(QUESTION, max_tokens=50)  # estimate: 50 output tokens = 0.05 USD
    with open_ws(home) as ws:
        ws.costs.prices.set(PRICES)
        ws.costs.budgets.create(
            "desk-cap", scope_kind="kb", scope=KB, period="day", amount_usd=0.06, hard=True,
            on_exceed="route", route_to="extractive",
        )  # fmt: skip
        with serve(ws, gateway) as live, live.client() as client:
            first = client.post("/v1/chat/completions", json=body).json()
            assert first["provider"] == "pricey", first
            second = client.post("/v1/chat/completions", json=body).json()
            assert second["provider"] == "extractive"
            reason = second["route_reason"]
            assert reason.startswith("budget 'desk-cap' is spent (on_exceed = route)"), reason

            ws.costs.budgets.delete("desk-cap")
            ws.costs.budgets.create(
                "desk-stop", scope_kind="kb", scope=KB, period="week", amount_usd=0.01, hard=True
            )
            live.app.state.runtime.costs.watch.refresh()  # as the server does every 5 s
            refused = client.post("/v1/chat/completions", json=body)
            assert refused.status_code == 429, refused.text
            error = refused.json()["error"]
            assert error["code"] == "budget_exceeded" and error["type"] == "invalid_request_error"
            assert error["details"]["budget"] == "desk-stop" and "'desk-stop'" in error["message"]
        spent = ws.costs.budgets.status("desk-stop")
        assert spent.reserved_usd == 0 and spent.spent_usd == 0
        records = [r for r in _scan(ws) if r["provider"] == "pricey"]
        assert [r["output_tokens"] for r in records] == [OUT_TOKENS]

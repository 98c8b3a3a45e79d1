"""``prodline cost``: price tables, reports (JSON and HTML) and route comparisons through
the CLI; a bad price table or flag is one line and exit 2."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from prodline.workspace import Workspace

CLI = Callable[..., Any]

PRICES = """
tokens:
  openai/gpt-4o-mini: {input: 1.0, output: 2.0}
  local/llama: {input: 0, output: 0}
compute: {cpu_core_hour: 3.6, gpu_hour: 36}
"""

LLM = """
[llm.providers.openai]
kind = "openai"
model = "gpt-4o-mini"

[llm.providers.local]
kind = "openai"
model = "llama"
base_url = "http://127.0.0.1:8000/v1"
self_hosted = true
"""


@pytest.fixture
def home(cli: CLI, tmp_path: Path) -> Path:
    assert cli("init").code == 0
    (tmp_path / "prices.yaml").write_text(PRICES)
    return Path(os.environ["PRODLINE_HOME"])


def test_prices_set_list_show(cli: CLI, home: Path, tmp_path: Path) -> None:
    r = cli("cost", "prices", "show")
    assert r.code == 2 and "prodline cost prices set FILE" in r.err
    r = cli("cost", "prices", "set", str(tmp_path / "prices.yaml"), "--effective", "2026-01-01")
    assert r.code == 0, r.err
    assert "price version 1 in force from 2026-01-01T00:00:00+00:00" in r.out
    listed = json.loads(cli("cost", "prices", "list", "--json").out)
    assert [v["version"] for v in listed] == [1]
    shown = json.loads(cli("cost", "prices", "show", "1", "--json").out)
    assert shown["tokens"]["openai/gpt-4o-mini"] == {"input": 1.0, "output": 2.0}
    assert "openai/gpt-4o-mini" in cli("cost", "prices", "show").out
    r = cli("cost", "prices", "set", str(tmp_path / "prices.yaml"), "--effective", "2025-01-01")
    assert r.code == 2 and "before price version 1" in r.err
    assert cli("cost", "prices", "show", "7").code == 2


@pytest.mark.parametrize(
    ("text", "key"),
    [
        (PRICES.replace("input: 1.0", "input: -1.0"), "tokens.openai/gpt-4o-mini.input"),
        (PRICES.replace("output: 2.0", "output: cheap"), "tokens.openai/gpt-4o-mini.output"),
        (PRICES.replace(", gpu_hour: 36", ""), "compute.gpu_hour"),
    ],
)
def test_a_bad_price_table_is_one_line(
    cli: CLI, home: Path, tmp_path: Path, text: str, key: str
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    r = cli("cost", "prices", "set", str(bad))
    assert r.code == 2 and key in r.err and r.err.count("\n") == 1, r.err
    assert json.loads(cli("cost", "prices", "list", "--json").out) == []


def test_report_and_compare(cli: CLI, home: Path, tmp_path: Path) -> None:
    assert (
        cli(
            "cost", "prices", "set", str(tmp_path / "prices.yaml"), "--effective", "2026-01-01"
        ).code
        == 0
    )
    toml = home / "prodline.toml"
    toml.write_text((toml.read_text() if toml.exists() else "") + LLM)
    now = datetime.now(UTC)
    with Workspace.open(home) as ws:
        ws.kbs.create("help", owner="support")
        ws.costs.meter.write(
            [
                {
                    "ts": now - timedelta(hours=1),
                    "kind": "chat",
                    "team": "support",
                    "kb": "help",
                    "provider": "openai",
                    "llm_model": "gpt-4o-mini",
                    "input_tokens": 1000,
                    "output_tokens": 1000,
                    "cpu_ms": 1000,
                    "latency_ms": 120,
                },
                {
                    "ts": now - timedelta(hours=2),
                    "kind": "predict",
                    "team": "risk",
                    "model": "credit",
                    "version": 1,
                    "cpu_ms": 500,
                },
            ]
        )
    report = json.loads(cli("cost", "report", "--by", "team", "--period", "1d", "--json").out)
    assert [(r["key"], round(r["cost_usd"], 9)) for r in report["rows"]] == [
        ("support", 3.001),
        ("risk", 0.0005),
    ]
    out = tmp_path / "costs.html"
    r = cli("cost", "report", "--by", "provider", "--html", str(out))
    assert r.code == 0 and "openai/gpt-4o-mini" in r.out and "total $3.001500" in r.out
    assert "https://" not in out.read_text() and "<svg" in out.read_text()
    r = cli("cost", "report", "--by", "colour")
    assert r.code == 2 and "by must be one of" in r.err
    result = json.loads(cli("cost", "compare", "--kb", "help", "--period", "7d", "--json").out)
    rows = {row["route"]: row for row in result["routes"]}
    assert set(rows) == {"openai", "local", "extractive"}  # extractive always exists
    assert rows["openai"]["cost_per_1k_requests"] == pytest.approx(3001.0)
    assert rows["openai"]["p50_latency_ms"] == 120.0
    assert rows["local"]["cost_usd"] == pytest.approx(0.001) and rows["local"]["allowed"]
    assert rows["extractive"]["cost_usd"] is None  # no price for extractive/extractive
    assert "openai" in cli("cost", "compare", "--kb", "help").out
    assert cli("cost", "compare", "--kb", "nope").code == 2

"""Shared bits of the cost tests: a price table with round numbers and record builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)

# USD per 1,000 tokens; compute per hour: 1 CPU-hour = 3.6 USD, so 1,000 CPU ms = 0.001 USD.
PRICES = """
currency: USD
tokens:
  cloud/gpt: {input: 1.0, output: 2.0}
  local/llama: {input: 0, output: 0}
compute:
  cpu_core_hour: 3.6
  gpu_hour: 36
  memory_gb_hour: 0.006
"""

PRICES_V2 = PRICES.replace("{input: 1.0, output: 2.0}", "{input: 10.0, output: 20.0}")


def rec(hours_ago: float, **fields: Any) -> dict[str, Any]:
    """A chat record ``hours_ago`` before NOW (fields override the defaults)."""
    base: dict[str, Any] = {
        "ts": NOW - timedelta(hours=hours_ago),
        "kind": "chat",
        "request_id": f"r{hours_ago}",
        "team": "support",
        "kb": "help",
        "provider": "cloud",
        "llm_model": "gpt",
    }
    base.update(fields)
    return base

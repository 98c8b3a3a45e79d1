"""Cost report speed: ``ws.costs.report(by=...)`` over 10,000,000 metered records.

Fills a workspace's meter with synthetic records (numpy-generated columns, written as 50
parquet segments through ``Meter.write_table``: the same files and ``meter_segments`` rows
the servers produce) spread over 30 days, 8 teams, 40 models, 12 KBs, 6 provider/models
(one without a price: its records are unknown) and 200 token users, with two price
versions (the second in force for the last 10 days). Then times the report for each
``by`` (team, model, kb, provider, token) over the 30-day period: scan the overlapping
segments, price each record by the version in force at its ts, group.

Baseline, in the same run on the same files: the same aggregation in pandas — read the
parquet files (``pd.read_parquet``), ``merge_asof`` each record to its price version,
merge the token prices on (version, provider, model), compute the cost and
``groupby(key).sum()``. Each line prints both times (the report's best of 3 after one
untimed warm-up report, whose time is printed too; pandas once) and the ratio; the target
is a report in <= 2 s.

Run: ``.venv/bin/python bench/cost_report.py [--rows 10000000] [--segments 50]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from prodline.cost.meter import METER_SCHEMA
from prodline.workspace import Workspace

TARGET_S = 2.0
RUN = Path(__file__).resolve().parent / ".out" / "cost_report"
NOW = datetime(2026, 11, 30, tzinfo=UTC)
ROUTES = [
    ("openai", "gpt-4o-mini", 0.00015, 0.0006),
    ("openai", "gpt-4o", 0.0025, 0.01),
    ("anthropic", "claude-haiku", 0.0008, 0.004),
    ("local-vllm", "llama-3.1-8b", 0.0, 0.0),
    ("extractive", "extractive", 0.0, 0.0),
    ("azure", "gpt-4o-mini", None, None),  # no price: unknown
]
BY_COLUMN = {"team": "team", "model": "model", "kb": "kb", "token": "token_user"}


def _prices(scale: float) -> str:
    lines = ["currency: USD", "tokens:"]
    for provider, model, pin, pout in ROUTES:
        if pin is not None and pout is not None:
            lines.append(f"  {provider}/{model}: {{input: {pin * scale}, output: {pout * scale}}}")
    lines += ["compute:", "  cpu_core_hour: 0.048", "  gpu_hour: 2.5", "  memory_gb_hour: 0.006"]
    return "\n".join(lines) + "\n"


def _segment(rng: np.random.Generator, n: int, start_us: int, span_us: int) -> pa.Table:
    def pick(values: list[str]) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(
            pa.array(rng.integers(0, len(values), n, dtype=np.int32)), pa.array(values)
        )

    llm = rng.random(n) < 0.6  # 60% LLM calls, 40% predictions
    route = np.where(llm, rng.integers(0, len(ROUTES), n), -1)
    providers = ["", *[r[0] for r in ROUTES]]
    models = ["", *[r[1] for r in ROUTES]]
    ts = np.sort(start_us + rng.integers(0, span_us, n))
    kb = np.where(llm, rng.integers(1, 13, n), 0)
    model = np.where(llm, 0, rng.integers(1, 41, n))
    return pa.table(
        {
            "ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
            "kind": pa.array(np.where(llm, "chat", "predict")),
            "request_id": pa.array(np.char.add("r", np.arange(n).astype(str))),
            "team": pick([f"team-{i}" for i in range(8)]),
            "model": pa.array([""] + [f"model-{i}" for i in range(1, 41)]).take(model),
            "version": pa.array(rng.integers(1, 5, n, dtype=np.int32)),
            "kb": pa.array([""] + [f"kb-{i}" for i in range(1, 13)]).take(kb),
            "token_user": pick([f"user-{i}" for i in range(200)]),
            "provider": pa.array(providers).take(route + 1),
            "llm_model": pa.array(models).take(route + 1),
            "input_tokens": pa.array(np.where(llm, rng.integers(50, 4000, n), 0)),
            "output_tokens": pa.array(np.where(llm, rng.integers(10, 800, n), 0)),
            "cpu_ms": pa.array(rng.gamma(2.0, 3.0, n)),
            "gpu_ms": pa.array(np.where(route == 3, rng.gamma(2.0, 40.0, n), 0.0)),
            "rows": pa.array(np.ones(n, dtype=np.int32)),
            "latency_ms": pa.array(rng.gamma(2.0, 50.0, n)),
        }
    ).cast(METER_SCHEMA)


def fill(ws: Workspace, rows: int, segments: int) -> None:
    """Two price versions and ``rows`` records in ``segments`` parquet files over 30 days."""
    ws.costs.prices.set(_prices(1.0), effective=NOW - timedelta(days=40))
    ws.costs.prices.set(_prices(0.8), effective=NOW - timedelta(days=10))
    rng = np.random.default_rng(11)
    start = int((NOW - timedelta(days=30)).timestamp() * 1e6)
    span = int(timedelta(days=30).total_seconds() * 1e6) // segments
    for i in range(segments):
        n = rows // segments + (1 if i < rows % segments else 0)
        ws.costs.meter.write_table(_segment(rng, n, start + i * span, span))


def pandas_report(ws: Workspace, by: str) -> pd.DataFrame:
    """The same aggregation in pandas: read, merge_asof to versions, merge prices, group."""
    start, end = NOW - timedelta(days=30), NOW + timedelta(microseconds=1)
    paths = [ws.home / "meter" / p for p in ws.costs.meter.segments(start, end)]
    key = ["provider", "llm_model"] if by == "provider" else [BY_COLUMN[by]]
    cols = ["ts", "provider", "llm_model", "input_tokens", "output_tokens", "cpu_ms", "gpu_ms"]
    frame = pd.concat(
        [pd.read_parquet(p, columns=list(dict.fromkeys(cols + key))) for p in paths],
        ignore_index=True,
    )
    frame = frame[(frame["ts"] >= start) & (frame["ts"] < end)].sort_values("ts")
    versions = ws.costs.prices.versions()
    starts = pd.DataFrame(
        {
            "ts": pd.to_datetime([v.effective_from for v in versions], utc=True).astype(
                frame["ts"].dtype
            ),
            "version": [v.version for v in versions],
            "cpu_h": [v.compute["cpu_core_hour"] for v in versions],
            "gpu_h": [v.compute["gpu_hour"] for v in versions],
        }
    )
    frame = pd.merge_asof(frame, starts, on="ts")
    prices = pd.DataFrame(
        [
            (v.version, *route.split("/", 1), p[0], p[1])
            for v in versions
            for route, p in v.tokens.items()
        ],
        columns=["version", "provider", "llm_model", "p_in", "p_out"],
    )
    frame = frame.merge(prices, on=["version", "provider", "llm_model"], how="left")
    frame.loc[frame["provider"] == "", ["p_in", "p_out"]] = 0.0
    unknown = frame["p_in"].isna() | frame["version"].isna()
    cost = (
        frame["input_tokens"] / 1000 * frame["p_in"]
        + frame["output_tokens"] / 1000 * frame["p_out"]
        + frame["cpu_ms"] / 3.6e6 * frame["cpu_h"]
        + frame["gpu_ms"] / 3.6e6 * frame["gpu_h"]
    )
    frame["cost"] = cost.where(~unknown, 0.0)
    frame["unknown"] = unknown.astype(int)
    frame["requests"] = 1
    return frame.groupby(key, observed=True)[
        ["requests", "input_tokens", "output_tokens", "cpu_ms", "cost", "unknown"]
    ].sum()


def _same(report: Any, baseline: pd.DataFrame, by: str) -> bool:
    """Every group's cost, requests and unknown count agree with pandas."""
    ours = {r.key: (r.cost_usd, r.requests, r.unknown) for r in report.groups}
    theirs = {}
    for key, row in baseline.iterrows():  # one row per group
        name = "/".join(key) if by == "provider" else str(key)
        name = "(none)" if name in ("", "/") else name
        theirs[name] = (float(row["cost"]), int(row["requests"]), int(row["unknown"]))
    return ours.keys() == theirs.keys() and all(
        abs(ours[k][0] - theirs[k][0]) <= 1e-9 * max(1.0, theirs[k][0])
        and ours[k][1:] == theirs[k][1:]
        for k in ours
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--segments", type=int, default=50)
    args = parser.parse_args()
    print(f"# load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs")
    shutil.rmtree(RUN, ignore_errors=True)
    ws = Workspace.open(RUN / "home", actor="bench")
    t0 = time.perf_counter()
    fill(ws, args.rows, args.segments)
    print(
        f"filled {args.rows:,} metered records in {args.segments} parquet segments "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    t0 = time.perf_counter()
    ws.costs.report(by="team", period="30d", now=NOW)
    print(
        f"first report in this process: {time.perf_counter() - t0:.2f} s "
        "(cold: the allocator's first page faults); then each by, best of 3:"
    )
    print(f"{'by':9} {'report s':>9} {'pandas s':>9} {'pandas/report':>14}  total USD  target")
    worst, slowest = 0.0, float("inf")
    for by in ("team", "model", "kb", "provider", "token"):
        ours = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            report = ws.costs.report(by=by, period="30d", now=NOW)
            ours = min(ours, time.perf_counter() - t0)
        t0 = time.perf_counter()
        baseline = pandas_report(ws, by)
        theirs = time.perf_counter() - t0
        worst, slowest = max(worst, ours), min(slowest, theirs / ours)
        print(
            f"{by:9} {ours:9.2f} {theirs:9.2f} {theirs / ours:13.1f}x  "
            f"{report.total_usd:10.2f}  <= {TARGET_S:.0f} s "
            f"{'ok' if ours <= TARGET_S else 'MISSED'}"
            + (
                "; every group as pandas"
                if _same(report, baseline, by)
                else "; DIFFERS from pandas"
            )
        )
    missing = ", ".join(f"{m['route']} in v{m['price_version']}" for m in report.missing)
    print(
        f"{report.requests:,} records, {report.unknown:,} of unknown cost "
        f"(no price for {missing}), price versions {report.price_versions}"
    )
    ws.close()
    shutil.rmtree(RUN, ignore_errors=True)  # 10M records: ~300 MB
    print(
        f"ratio: the report is >= {slowest:.1f}x faster than pandas on every by; slowest "
        f"report {worst:.2f} s (target <= {TARGET_S:.0f} s: "
        f"{'ok' if worst <= TARGET_S else 'MISSED'})"
    )


if __name__ == "__main__":
    main()

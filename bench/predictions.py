"""Prediction log: reading the last 100k predictions as a DataFrame, against baselines.

Writes ``--rows`` predictions (one row each) of a 10-feature classifier through the
ledger's writer, in batches of 2,000 (the server's log batch), then reads the newest
``--rows`` back as a DataFrame three ways, each best of ``--repeat``:

- read_sql + JSON: ``pd.read_sql`` of the same rows from ``prediction_log`` and decoding
  the JSON inputs/outputs into columns with orjson: the reader one writes without segments;
- parquet floor: ``pd.read_parquet`` of one plain Parquet file holding exactly the frame
  (the floor any columnar copy can approach);
- prodline: ``PredictionReader.read(model, last=N)`` (sealed Parquet segments plus the
  open segment's rows from the table).

The three frames are checked equal before timing. Target: ≥ 5x faster than read_sql + JSON.
Run: ``.venv/bin/python bench/predictions.py [--rows 100000] [--postgres URL]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa

from prodline.ledger.predictions import Prediction, PredictionReader, PredictionWriter
from prodline.store.tables import prediction_log
from prodline.workspace import Workspace

FEATURES = [f"f{i}" for i in range(10)]
BATCH = 2_000


def _predictions(n: int, seed: int = 0) -> list[Prediction]:
    rng = np.random.default_rng(seed)
    values = rng.normal(size=(n, len(FEATURES))).round(4)
    t0 = time.time() - n / 1000.0
    out = []
    for i in range(n):
        record = dict(zip(FEATURES, values[i].tolist(), strict=True))
        yes = float(1 / (1 + np.exp(-values[i, 0])))
        out.append(
            Prediction(
                f"req-{i}",
                "bench",
                1,
                t0 + i / 1000.0,
                [record],
                [int(yes > 0.5)],
                [[round(1 - yes, 6), round(yes, 6)]],
                [0, 1],
                0.8,
            )
        )
    return out


def _read_sql_json(ws: Workspace, n: int) -> pd.DataFrame:
    """The baseline reader: the raw rows with pandas, JSON decoded into columns."""
    c = prediction_log.c
    query = (
        sa.select(c.request_id, c.model, c.version, c.ts, c.inputs, c.outputs, c.latency_ms)
        .where(c.model == "bench")
        .order_by(c.ts.desc(), c.id.desc())
        .limit(n)
    )
    with ws.db.read() as conn:
        raw = pd.read_sql(query, conn).iloc[::-1].reset_index(drop=True)
    inputs = pd.DataFrame([orjson.loads(s)[0] for s in raw["inputs"]])
    outputs = [orjson.loads(s) for s in raw["outputs"]]
    inputs["prediction"] = [o["predictions"][0] for o in outputs]
    probs = np.array([o["probabilities"][0] for o in outputs])
    for j, cls in enumerate(outputs[0]["classes"]):
        inputs[f"proba_{cls}"] = probs[:, j]
    for name in ("request_id", "model", "version"):
        inputs[name] = raw[name]
    inputs["ts"] = pd.to_datetime(raw["ts"], utc=True, format="mixed")
    inputs["latency_ms"] = raw["latency_ms"]
    return inputs


def _best(fn: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--postgres", help="a PostgreSQL URL instead of SQLite")
    args = parser.parse_args()
    n = args.rows
    print(f"# load average {os.getloadavg()[0]:.2f}; {n} predictions, {len(FEATURES)} features")
    with tempfile.TemporaryDirectory(prefix="prodline-bench-") as tmp:
        ws = Workspace.open(Path(tmp) / "home", db_url=args.postgres, actor="bench")
        items = _predictions(n)
        writer = PredictionWriter(ws.db, ws.artifacts)
        t0 = time.perf_counter()
        for start in range(0, n, BATCH):
            writer.write(items[start : start + BATCH])
        write_s = time.perf_counter() - t0
        reader = PredictionReader(ws.db, ws.artifacts)

        ours_s, ours = _best(lambda: reader.read("bench", last=n), args.repeat)
        sql_s, baseline = _best(lambda: _read_sql_json(ws, n), args.repeat)
        floor_path = Path(tmp) / "floor.parquet"
        baseline.to_parquet(floor_path, index=False)
        floor_s, floor = _best(lambda: pd.read_parquet(floor_path), args.repeat)
        pd.testing.assert_frame_equal(ours, baseline, check_dtype=False)
        pd.testing.assert_frame_equal(ours, floor, check_dtype=False)
        ws.close()

    backend = "postgresql" if args.postgres else "sqlite"
    print(f"| {'read the last ' + format(n, ',') + ' predictions':<40} | {'seconds':>8} |")
    print(f"|{'-' * 42}|{'-' * 10}|")
    for label, seconds in (
        ("read_sql + JSON (baseline)", sql_s),
        ("plain Parquet file (floor)", floor_s),
        (f"prodline PredictionReader ({backend})", ours_s),
    ):
        print(f"| {label:<40} | {seconds:>8.3f} |")
    print(f"# writer: {n / write_s:,.0f} predictions/s in batches of {BATCH:,} (segments included)")
    print(
        f"ratio: prodline reads the last {n:,} predictions {sql_s / ours_s:.1f}x faster than "
        f"read_sql + JSON (target >= 5x), at {ours_s / floor_s:.1f}x the plain-Parquet floor"
    )


if __name__ == "__main__":
    main()

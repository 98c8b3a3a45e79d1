"""Audit log throughput: batched append and full-chain verify, against raw baselines.

Baselines, measured in the same run on the same machine:
- append: plain ``sqlite3`` ``executemany`` of the same rows into an identical table,
  with no hashing, no checkpoint and no anchor (the floor a hash chain can approach);
- verify: a bare ``SELECT`` of the same rows with no hashing (the read floor).

Targets (issue #2): append >= 20k events/s (batched API), verify >= 200k events/s.
Run: ``.venv/bin/python bench/audit.py [--events 200000] [--batch 5000] [--postgres URL]``
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

from prodline.workspace import Workspace


def _events(n: int, start: int = 0) -> list[tuple[str, str, dict[str, object]]]:
    return [
        ("bench.event", f"thing:{i}", {"i": i, "note": "x" * 40}) for i in range(start, start + n)
    ]


def bench_prodline(home: Path, n: int, batch: int, db_url: str | None) -> tuple[float, float]:
    ws = Workspace.open(home, db_url=db_url, actor="bench")
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        ws.audit.append_many(_events(min(batch, n - start), start))
    append_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = ws.audit.verify()
    verify_s = time.perf_counter() - t0
    assert result.ok and result.events == n, str(result)
    ws.close()
    return n / append_s, n / verify_s


def bench_raw_sqlite(path: Path, n: int, batch: int) -> tuple[float, float]:
    con = sqlite3.connect(path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    con.execute(
        "CREATE TABLE ev (seq INTEGER PRIMARY KEY, ts TEXT, actor TEXT, action TEXT, "
        "subject TEXT, payload TEXT, prev_hash TEXT, hash TEXT)"
    )
    t0 = time.perf_counter()
    for start in range(0, n, batch):
        rows = [
            (i + 1, "2026-01-01T00:00:00", "bench", a, s, str(p), "0" * 64, "0" * 64)
            for i, (a, s, p) in enumerate(_events(min(batch, n - start), start), start)
        ]
        con.execute("BEGIN IMMEDIATE")
        con.executemany("INSERT INTO ev VALUES (?,?,?,?,?,?,?,?)", rows)
        con.execute("COMMIT")
    append_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    count = sum(1 for _ in con.execute("SELECT * FROM ev ORDER BY seq"))
    read_s = time.perf_counter() - t0
    assert count == n
    con.close()
    return n / append_s, n / read_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument(
        "--postgres", default=None, help="also run on this PostgreSQL URL (an empty database)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        raw_append, raw_read = bench_raw_sqlite(Path(tmp) / "raw.db", args.events, args.batch)
        ours_append, ours_verify = bench_prodline(Path(tmp) / "home", args.events, args.batch, None)
        rows = [
            ("raw sqlite3 (no hashing)", raw_append, raw_read),
            ("prodline audit (SQLite)", ours_append, ours_verify),
        ]
        if args.postgres:
            pg_append, pg_verify = bench_prodline(
                Path(tmp) / "pg", args.events, args.batch, args.postgres
            )
            rows.append(("prodline audit (PostgreSQL)", pg_append, pg_verify))
    print(f"{args.events:,} events, batches of {args.batch:,}")
    print(f"{'':30} {'append ev/s':>14} {'verify/read ev/s':>18}")
    for label, append, verify in rows:
        print(f"{label:30} {append:>14,.0f} {verify:>18,.0f}")
    print(
        f"ratio: prodline/raw append = {ours_append / raw_append:.2f}x, "
        f"verify/raw read = {ours_verify / raw_read:.2f}x"
    )
    print(
        f"ratio: append {ours_append / 20_000:.2f}x of target 20k/s; "
        f"verify {ours_verify / 200_000:.2f}x of target 200k/s"
    )


if __name__ == "__main__":
    main()

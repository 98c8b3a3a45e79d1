"""Feedback ingestion: labels per second through ``ws.feedback.add_many``, against a plain
``executemany`` INSERT of the same rows.

Logs ``--rows`` one-row predictions through the ledger's writer, then sends one label per
prediction in batches of ``--batch`` three ways, each into an empty table:

- plain executemany: the same (request_id, row, label JSON, model, version, received_at,
  actor) rows inserted with the driver's ``executemany`` into a copy of ``feedback``
  without its unique key: no lookup, no upsert, no audit (the floor);
- prodline, new labels: ``ws.feedback.add_many``: validates every record, looks up each
  request id in the prediction log (rows per request), finds labels already stored,
  upserts (last one wins) and appends one audit event per batch, in one transaction;
- prodline, replacing: the same labels sent again (every one a duplicate, so the
  ``feedback.replaced`` event lists each replaced value).

Target: ≥ 20,000 labels/s in batches. Run:
``.venv/bin/python bench/feedback.py [--rows 100000] [--batch 10000] [--postgres URL]``
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import sqlalchemy as sa

from prodline.ledger.predictions import Prediction, PredictionWriter
from prodline.store.tables import feedback
from prodline.workspace import Workspace

OUT = Path(__file__).resolve().parent / ".out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument(
        "--postgres", help="a PostgreSQL server URL (a fresh database is made on it)"
    )
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    home = Path(tempfile.mkdtemp(prefix="feedback-", dir=OUT))
    db_url = fresh_postgres(args.postgres) if args.postgres else None
    ws = Workspace.open(home, db_url=db_url, actor="bench")
    backend = "postgresql" if args.postgres else "sqlite"
    print(f"# feedback ingestion: {args.rows:,} labels, batches of {args.batch:,}, {backend}")
    print(f"# load average: {os.getloadavg()[0]:.2f}")

    writer = PredictionWriter(ws.db, ws.artifacts)
    now = time.time()
    for start in range(0, args.rows, 2_000):
        writer.write(
            [
                Prediction(f"req-{i}", "clf", 1, now, [{"x": float(i)}], [i % 2], None, None, 1.0)
                for i in range(start, min(start + 2_000, args.rows))
            ]
        )
    writer.close()
    labels = [{"request_id": f"req-{i}", "label": (i * 7) % 2} for i in range(args.rows)]
    batches = [labels[i : i + args.batch] for i in range(0, len(labels), args.batch)]

    baseline = plain_executemany(ws, batches)
    t0 = time.perf_counter()
    accepted = sum(ws.feedback.add_many(b).accepted for b in batches)
    new = time.perf_counter() - t0
    assert accepted == args.rows, accepted
    t0 = time.perf_counter()
    replaced = sum(ws.feedback.add_many(b).duplicates for b in batches)
    again = time.perf_counter() - t0
    assert replaced == args.rows, replaced
    assert ws.feedback.count("clf") == args.rows
    ws.close()

    rows = [
        ("plain executemany (floor)", baseline),
        ("prodline add_many, new labels", new),
        ("prodline add_many, replacing", again),
    ]
    print(f"{'path':<32} {'seconds':>8} {'labels/s':>10}")
    for name, seconds in rows:
        print(f"{name:<32} {seconds:>8.3f} {args.rows / seconds:>10,.0f}")
    rate = args.rows / new
    print(
        f"ratio: prodline new-label rate / plain executemany = {baseline / new:.2f}x "
        f"({rate:,.0f} labels/s; target >= 20,000: {'met' if rate >= 20_000 else 'MISSED'})"
    )


def plain_executemany(ws: Workspace, batches: list[list[dict[str, object]]]) -> float:
    """Seconds to insert the rows with the driver's executemany into an unkeyed copy."""
    copy = sa.Table(
        "feedback_bench_copy",
        sa.MetaData(),
        *(
            sa.Column(c.name, c.type, nullable=c.nullable)
            for c in feedback.columns
            if c.name != "id"
        ),
    )
    with ws.db.tx() as conn:
        copy.drop(conn, checkfirst=True)
        copy.create(conn)
    names = [c.name for c in copy.columns]
    postgres = not ws.db.is_sqlite
    mark = "%s" if postgres else "?"
    sql = f"INSERT INTO {copy.name} ({', '.join(names)}) VALUES ({', '.join([mark] * len(names))})"
    t0 = time.perf_counter()
    for batch in batches:
        now = datetime.now(UTC)
        stamp = now if postgres else now.strftime("%Y-%m-%d %H:%M:%S.%f")
        params = [
            (r["request_id"], 0, orjson.dumps(r["label"]).decode(), "clf", 1, stamp, "bench")
            for r in batch
        ]
        with ws.db.tx() as conn:
            conn.exec_driver_sql(sql, params)
    return time.perf_counter() - t0


def fresh_postgres(url: str) -> str:
    """A fresh database ``prodline_bench_feedback`` on the server of ``url`` (never the
    database the URL names, which may hold someone's data); its URL."""
    server = sa.make_url(url)
    engine = sa.create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("DROP DATABASE IF EXISTS prodline_bench_feedback")
        conn.exec_driver_sql("CREATE DATABASE prodline_bench_feedback")
    engine.dispose()
    return server.set(database="prodline_bench_feedback").render_as_string(hide_password=False)


if __name__ == "__main__":
    main()

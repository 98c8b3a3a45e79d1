"""Control-plane latency: list endpoints and dashboard pages over a big workspace.

Fills a workspace store (SQLite by default, PostgreSQL with ``--db-url``, an empty
database) with 1,000 model versions (half on one model; bulk-inserted into the store's
tables as copies of one really registered version), 1,000,000 audit events (through the
real batched ``append_many``, so the hash chain and its signed checkpoints stay valid:
``verify()`` runs on the result) and 5,000 review items (``ws.reviews.submit_many``), then
starts the control-plane server (``prodline.api.server.ControlPlane``, auth on) and
measures p50/p95 of each list endpoint (bearer token) and dashboard page (session
cookie) over real HTTP: httpx, keep-alive, one request at a time. The audit filters
include a 1% action, a rare action and a rare actor (they scan the log without an index:
migration 0015) and a subject prefix.

Baseline, measured in the same run on the same store: the query behind each endpoint run
directly through SQLAlchemy Core (no HTTP, auth, JSON or HTML). Each line prints
``API p50 / raw p50`` and the API p50 against the target (p50 <= 20 ms); the ``floor``
line is ``GET /healthz`` (an HTTP round trip with no auth and no database).

Run: ``.venv/bin/python bench/control_plane.py [--events 1000000] [--versions 1000]
[--reviews 5000] [--requests 100] [--db-url postgresql+psycopg://...]``
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa

from prodline.store import tables as t
from prodline.workspace import Workspace

TARGET_MS = 20.0
BIG = "fraud-scorer"  # the model holding half of the versions
# (action, share of events): a realistic mix; "alias.rollback" is the rare one filtered on.
MIX = [
    ("prediction.batch_logged", 40),
    ("feedback.added", 20),
    ("monitor.ran", 15),
    ("model.registered", 8),
    ("dataset.registered", 6),
    ("review.decided", 5),
    ("alias.promote", 4),
    ("gate.checked", 1),
    ("alias.rollback", 1),
]
COMMON = "alias.rollback"  # 1% of events
RARE = "token.created"  # once, at the newest end: the scan goes through the whole log
RARE_ACTOR = "eve"  # three events, the oldest ones


def _actions(n: int) -> list[str]:
    """``n`` actions in MIX proportions, interleaved (every 100-event block has the mix)."""
    block = [a for a, share in MIX for _ in range(share)]
    return [block[(i * 37) % 100] for i in range(n)]


# -- fill ------------------------------------------------------------------------------
def fill(ws: Workspace, *, versions: int, events: int, reviews: int) -> dict[str, float]:
    """Bulk-fill ``ws``; returns seconds per step."""
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    took: dict[str, float] = {}
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    frame["label"] = (frame.x1 + frame.x2 > 0).astype(int)
    ws.datasets.register(frame, name="transactions", owner="risk", source="bench")
    model = LogisticRegression().fit(frame[["x1", "x2"]], frame["label"])
    first = ws.models.register(model, name=BIG, trained_on=["transactions@1"], target="label")
    with ws.db.read() as conn:
        proto = conn.execute(
            sa.select(t.model_versions).where(t.model_versions.c.version == first.version)
        ).one()
    _bulk_models(ws, proto, versions)
    took["models"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    _bulk_audit(ws, events - ws.audit.count())
    took["audit"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    _bulk_reviews(ws, reviews)
    took["reviews"] = time.perf_counter() - t0
    return took


def _bulk_models(ws: Workspace, proto: Any, total: int) -> None:
    """``total`` versions: half on BIG, the rest 5 per model; production on each newest."""
    now = datetime.now(UTC)
    big_versions = total // 2
    small_models = (total - big_versions) // 5
    base = {
        "flavor": proto.flavor,
        "artifact": proto.artifact,
        "filename": proto.filename,
        "signature": proto.signature,
        "params": {},
        "tags": {"team": "risk"},
        "git_commit": None,
        "description": "",
        "status": "active",
        "created_by": "bench",
    }
    with ws.db.tx() as conn:
        big_id = conn.execute(sa.select(t.models.c.id).where(t.models.c.name == BIG)).scalar_one()
        conn.execute(
            t.models.insert(),
            [
                {
                    "name": f"model-{i:04d}",
                    "owner": f"team-{i % 7}",
                    "risk_level": ("minimal", "limited", "high")[i % 3],
                    "created_by": "bench",
                    "created_at": now,
                }
                for i in range(small_models)
            ],
        )
        ids = {r.name: r.id for r in conn.execute(sa.select(t.models.c.name, t.models.c.id))}
        rows = [
            base
            | {
                "model_id": big_id,
                "version": v,
                "metrics": {"auc": 0.7 + v / 10_000},
                "created_at": now - timedelta(minutes=big_versions - v),
            }
            for v in range(2, big_versions + 1)
        ]
        rows += [
            base
            | {
                "model_id": ids[f"model-{i:04d}"],
                "version": v,
                "metrics": {"auc": 0.8},
                "created_at": now,
            }
            for i in range(small_models)
            for v in range(1, 6)
        ]
        conn.execute(t.model_versions.insert(), rows)
        conn.execute(
            t.aliases.insert(),
            [
                {"model_id": mid, "alias": "production", "version": newest, "revision": 1}
                | {"updated_at": now}
                for mid, newest in [(big_id, big_versions)]
                + [(ids[f"model-{i:04d}"], 5) for i in range(small_models)]
            ],
        )
        conn.execute(
            t.alias_history.insert(),
            [
                {
                    "model_id": big_id,
                    "alias": "production",
                    "action": "promote",
                    "from_version": v - 1,
                    "to_version": v,
                    "actor": "bench",
                    "at": now,
                }
                for v in range(2, big_versions + 1)
            ],
        )


def _bulk_audit(ws: Workspace, n: int, batch: int = 20_000) -> None:
    """Through ``append_many`` (the real batched path): chain, checkpoints, anchor valid."""
    ws.audit.append_many([("user.login", "user:eve", {"i": i}) for i in range(3)], actor=RARE_ACTOR)
    n -= 3
    actions = _actions(n)
    actors = ["ada", "grace", "linus", "barbara", "ken", "svc-scorer"]
    done = 0
    while done < n:
        size = min(batch, n - done)
        events = [
            (actions[i], f"model:model-{i % 100:04d}@{i % 5 + 1}", {"i": i, "rows": 100})
            for i in range(done, done + size)
        ]
        ws.audit.append_many(events, actor=actors[(done // batch) % len(actors)])
        done += size


def _bulk_reviews(ws: Workspace, n: int) -> None:
    """Review items through ``ws.reviews.submit_many`` (the servers' intake path)."""
    records = [
        {
            "kind": "model",
            "subject": BIG,
            "version": 1,
            "mode": "after",
            "reason": f"confidence 0.{50 + i % 10} < 0.60",
            "request_id": f"req-{i}",
            "input": [{"x1": 0.1, "x2": -0.2}],
            "output": [{"prediction": i % 2}],
            "score": 0.5 + (i % 10) / 100,
        }
        for i in range(n)
    ]
    for start in range(0, n, 1000):
        ws.reviews.submit_many(records[start : start + 1000])


# -- measuring --------------------------------------------------------------------------
def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95


def time_calls(call: Callable[[], object], n: int, warmup: int = 5) -> tuple[float, float]:
    """p50, p95 in ms of ``call`` run ``n`` times after ``warmup`` runs."""
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        samples.append((time.perf_counter() - t0) * 1000)
    return _percentiles(samples)


Query = Callable[[sa.Connection], object]


def endpoints(ws: Workspace) -> list[tuple[str, str, Query]]:
    """(label, path, the query behind it straight through SQLAlchemy Core) per endpoint."""
    ev, mv, rv = t.audit_events, t.model_versions, t.review_items
    with ws.db.read() as conn:
        big_id = conn.execute(sa.select(t.models.c.id).where(t.models.c.name == BIG)).scalar_one()
        top = int(conn.execute(sa.select(sa.func.max(ev.c.seq))).scalar_one())
    deep = top // 2

    def audit(*where: Any) -> Query:
        query = sa.select(ev).where(*where).order_by(ev.c.seq.desc()).limit(51)
        return lambda conn: conn.execute(query).all()

    def models(conn: sa.Connection) -> object:
        return conn.execute(sa.select(t.models).order_by(t.models.c.name).limit(50)).all()

    def versions(conn: sa.Connection) -> object:
        return conn.execute(
            sa.select(mv).where(mv.c.model_id == big_id).order_by(mv.c.version.desc()).limit(50)
        ).all()

    def reviews(conn: sa.Connection) -> object:
        return conn.execute(
            sa.select(rv).where(rv.c.status == "open").order_by(rv.c.id).limit(50)
        ).all()

    def overview(conn: sa.Connection) -> object:
        conn.execute(sa.select(sa.func.count()).select_from(t.models)).scalar_one()
        return audit()(conn)

    def model_page(conn: sa.Connection) -> object:
        conn.execute(sa.select(t.aliases).where(t.aliases.c.model_id == big_id)).all()
        return versions(conn)

    api = "/api/v1"
    return [
        ("models", f"{api}/models", models),
        (f"versions of {BIG}", f"{api}/models/{BIG}/versions", versions),
        ("audit first page", f"{api}/audit/events", audit()),
        ("audit deep (before=)", f"{api}/audit/events?before={deep}", audit(ev.c.seq < deep)),
        (f"audit action {COMMON} (1%)", f"{api}/audit/events?action={COMMON}",
         audit(ev.c.action == COMMON)),
        (f"audit action {RARE} (rare)", f"{api}/audit/events?action={RARE}",
         audit(ev.c.action == RARE)),
        (f"audit actor {RARE_ACTOR} (rare)", f"{api}/audit/events?actor={RARE_ACTOR}",
         audit(ev.c.actor == RARE_ACTOR)),
        (f"audit subject model:{BIG}", f"{api}/audit/events?subject=model:{BIG}",
         audit(ev.c.subject.startswith(f"model:{BIG}", autoescape=True))),
        ("reviews open", f"{api}/reviews?status=open", reviews),
        ("page /", "/", overview),
        (f"page /models/{BIG}", f"/models/{BIG}", model_page),
        ("page /audit", "/audit", audit()),
    ]  # fmt: skip


@contextmanager
def control_plane(ws: Workspace) -> Iterator[str]:
    """The control-plane server on a free port, with auth; yields its base URL."""
    from prodline.api.server import ControlPlane

    server = ControlPlane(ws, host="127.0.0.1", port=0, auth=True, scheduler=False)
    server.start()
    try:
        yield str(server.url)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--versions", type=int, default=1_000)
    parser.add_argument("--reviews", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--db-url", default=None, help="a PostgreSQL URL (an empty database)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(Path(tmp) / "home", args)


def run(home: Path, args: argparse.Namespace) -> None:
    """Fill, verify the chain, serve, measure, print."""
    ws = Workspace.open(home, db_url=args.db_url, actor="bench")
    took = fill(ws, versions=args.versions, events=args.events, reviews=args.reviews)
    backend = "SQLite" if ws.db.is_sqlite else "PostgreSQL"
    print(
        f"filled ({backend}): {args.versions:,} model versions in {took['models']:.1f} s; "
        f"{ws.audit.count():,} audit events in {took['audit']:.1f} s "
        f"({args.events / took['audit']:,.0f} ev/s, hash-chained, signed checkpoints); "
        f"{args.reviews:,} review items in {took['reviews']:.1f} s"
    )
    t0 = time.perf_counter()
    verdict = ws.audit.verify()
    print(f"audit verify: {verdict} in {time.perf_counter() - t0:.1f} s")
    ws.identity.add_user("admin", "admin")
    _, token = ws.identity.create_token("admin")
    table = endpoints(ws)
    n = args.requests
    misses = []
    with control_plane(ws) as url:
        bearer = {"Authorization": f"Bearer {token}"}
        api = httpx.Client(base_url=url, timeout=60, headers=bearer)
        browser = httpx.Client(base_url=url, timeout=60)  # pages: the session cookie
        form = browser.get("/login").text  # an anonymous session carries the form's CSRF token
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
        login = browser.post(
            "/login", data={"token": token, "csrf_token": csrf.group(1) if csrf else ""}
        )
        if login.status_code >= 400:
            print(f"dashboard login failed: HTTP {login.status_code} {login.text[:100]!r}")
        print(f"{n} requests each, one at a time; raw = the same query through SQLAlchemy Core")
        floor, _ = time_calls(lambda: api.get("/healthz").raise_for_status(), n)
        print(f"floor: GET /healthz p50 {floor:.2f} ms (HTTP round trip, no auth, no database)")
        print(f"{'endpoint':34} {'p50 ms':>8} {'p95 ms':>8} {'raw p50':>8} {'API/raw':>8}  target")
        for label, path, query in table:
            client = browser if label.startswith("page") else api
            try:
                first = client.get(path)
            except httpx.HTTPError as exc:
                misses.append(label)
                print(f"{label:34} {type(exc).__name__}: {exc}")
                continue
            if first.status_code != 200:
                misses.append(label)
                print(f"{label:34} HTTP {first.status_code}: {first.text[:100]!r}")
                continue

            def get(path: str = path, client: httpx.Client = client) -> None:
                client.get(path).raise_for_status()

            slow = first.elapsed.total_seconds() > 0.2  # a scan: fewer rounds, same stats
            rounds = max(10, n // 10) if slow else n
            p50, p95 = time_calls(get, rounds)
            with ws.db.read() as conn:
                raw50, _ = time_calls(lambda q=query, c=conn: q(c), rounds)
            ok = p50 <= TARGET_MS
            misses += [] if ok else [label]
            print(
                f"{label:34} {p50:8.2f} {p95:8.2f} {raw50:8.2f} {p50 / raw50:7.1f}x  "
                f"{p50 / TARGET_MS:.2f}x of {TARGET_MS:.0f} ms {'ok' if ok else 'MISSED'}"
            )
        api.close()
        browser.close()
    print(
        f"ratio: {len(table) - len(misses)}/{len(table)} within p50 <= {TARGET_MS:.0f} ms"
        + (f"; missed: {', '.join(misses)}" if misses else "")
    )
    ws.close()


if __name__ == "__main__":
    main()

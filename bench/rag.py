"""RAG serving benchmark: ``prodline serve rag`` chat completions vs. in-process search.

A demo-sized knowledge base (the repo's README.md plus 50 generated support-desk
policies, ~150-200 chunks) is built once under ``bench/.out/rag/`` and reused while its
documents are unchanged. Then, in the same run:

- ``in-process search``: ``ws.kbs.search(kb, question, k=5)`` in this process: the
  baseline, the retrieval every answer starts with (embed the query, FAISS + BM25, fuse);
- ``retrieve @c1``: ``POST /v1/retrieve`` on the real server (HTTP + the same search);
- ``chat @c1`` / ``chat @c10``: ``POST /v1/chat/completions`` with the offline
  extractive answerer: retrieve, answer, score groundedness, log and audit;
- ``chat stream @c1``: the same with ``stream: true``, timed to ``data: [DONE]``.

The server is ``prodline serve rag`` in its own process (uvloop, httptools, one worker);
the load comes from httpx clients in this process (threads for c10). Every question is
distinct within a row (no cache can answer it), every answer must be 200 from the
extractive answerer, and a row with errors is flagged and left out of the ratio.

Run::

    .venv/bin/python bench/rag.py                  # 300 requests per row, ~2-4 min
    .venv/bin/python bench/rag.py --requests 100   # quicker
    .venv/bin/python bench/rag.py --fresh          # rebuild the knowledge base
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import httpx
import orjson
from rich.console import Console
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RUN = BENCH_DIR / ".out" / "rag"
KB = "bench-support"
HOST = "127.0.0.1"
SEED = 0
TARGET_P50_MS = 50.0
# Distinct warm-up questions before measuring: they bring the server to steady state, where
# its sentence-embedding cache holds the KB's chunk sentences (questions are never reused).
WARM = 100

console = Console(width=110)

PRODUCTS = ["kettle", "blender", "toaster", "oven", "fridge"]
AREAS = [
    ("returns", "Returns"),
    ("shipping", "Shipping"),
    ("warranty", "Warranty"),
    ("billing", "Billing"),
    ("repairs", "Repairs"),
    ("installation", "Installation"),
    ("subscriptions", "Subscriptions"),
    ("gift cards", "Gift cards"),
    ("loyalty points", "Loyalty points"),
    ("accounts", "Accounts"),
]
QUESTIONS = [
    "How long does {area} for the {product} take?",
    "How much does {area} for a {product} cost?",
    "Who do I contact about {area} for my {product}?",
    "What are the rules for {area} on a {product}?",
    "Is there a fee for {area} on the {product}?",
    "When are {product} {area} requests handled?",
    "What do I need before {area} for a {product}?",
    "Can {area} for a {product} be done online?",
    "What happens after I ask for {area} on my {product}?",
    "Are there exceptions to {area} for the {product}?",
    "What documents does {product} {area} require?",
    "How do I start {area} for a damaged {product}?",
    "Which team handles {area} for the {product} line?",
    "What is the deadline for {area} on a {product}?",
]


class BenchError(Exception):
    """A part of the benchmark could not run; the message says why and what to do."""


@dataclass
class Row:
    name: str
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    seconds: float = 0.0
    note: str = ""

    @property
    def valid(self) -> bool:
        return self.errors == 0 and bool(self.latencies_ms)

    def pct(self, q: float) -> float | None:
        if not self.latencies_ms:
            return None
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]

    @property
    def rps(self) -> float | None:
        return len(self.latencies_ms) / self.seconds if self.seconds else None


# --------------------------------------------------------------------------- corpus


def write_docs(folder: Path) -> None:
    """50 support-desk policies (5 products x 10 areas), seeded, 3 sections each."""
    rng = random.Random(SEED)
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "README.md", folder / "README.md")
    for product in PRODUCTS:
        for area, title in AREAS:
            days, fee = rng.randint(2, 30), rng.choice([0, 5, 10, 15, 25, 40])
            team, window = (
                rng.choice(["support", "logistics", "finance", "field"]),
                rng.randint(14, 90),
            )
            text = f"""# {title} for the {product}

{title} for the {product} is handled by the {team} team. Requests are answered within \
{rng.randint(1, 3)} business days, and most cases are closed within {days} days.

## Costs and fees

{title} for a {product} costs {"nothing" if fee == 0 else f"${fee}"} for members. \
Customers without a membership pay a handling fee of ${fee + 10}. Fees are charged to the \
original payment method.

## Rules and exceptions

Ask for {area} within {window} days of delivery. Bring the order number and a photo of \
the {product}. Damage from misuse is not covered, and {area} for refurbished {product}s \
follows the outlet terms instead.
"""
            (folder / f"{area.replace(' ', '-')}-{product}.md").write_text(text, encoding="utf-8")


def questions(n: int, seed: int) -> list[str]:
    combos = [
        lead + q.format(area=a, product=p)
        for lead in ("", "Hi! ", "Quick question: ", "Please tell me: ")
        for q in QUESTIONS
        for a, _ in AREAS
        for p in PRODUCTS
    ]
    random.Random(seed).shuffle(combos)
    if n > len(combos):
        raise BenchError(f"only {len(combos)} distinct questions; ask for fewer requests")
    return combos[:n]


def corpus_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def build_kb(home: Path, docs: Path, fresh: bool) -> tuple[int, float]:
    """Create and ingest the KB unless one for the same documents exists; (chunks, secs)."""
    from prodline.workspace import Workspace

    stamp = RUN / "CORPUS"
    write_docs(docs)
    digest = corpus_digest(docs)
    if fresh or not stamp.exists() or stamp.read_text() != digest:
        shutil.rmtree(home, ignore_errors=True)
    started = time.perf_counter()
    with Workspace.open(home, actor="bench") as ws:
        if not any(kb.name == KB for kb in ws.kbs.list()):
            ws.kbs.create(KB, owner="support", description="bench/rag.py demo corpus")
            ws.kbs.ingest(KB, [docs])
        chunks = ws.kbs.get(KB).chunks
    stamp.write_text(digest)
    return chunks, time.perf_counter() - started


# --------------------------------------------------------------------------- measurement


def bench_search(home: Path, qs: list[str]) -> Row:
    from prodline.serving.rag.server import limit_torch_threads
    from prodline.workspace import Workspace

    row = Row("in-process search")
    limit_torch_threads()  # the cap the server runs with, so both sides embed alike
    with Workspace.open(home, actor="bench") as ws:
        for q in qs[:10]:  # warm-up: model, indexes
            ws.kbs.search(KB, q, k=5)
        started = time.perf_counter()
        for q in qs:
            t0 = time.perf_counter()
            hits = ws.kbs.search(KB, q, k=5)
            row.latencies_ms.append((time.perf_counter() - t0) * 1000)
            row.errors += not hits
        row.seconds = time.perf_counter() - started
    row.note = "ws.kbs.search(k=5): embed query, vector + BM25, fuse"
    return row


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def start_server(home: Path, port: int, log: TextIO) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    env["PRODLINE_HOME"] = str(home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "prodline.cli.main", "serve", "rag", KB, "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"prodline serve rag exited ({proc.returncode}); see {log.name}")
        try:
            if httpx.get(f"http://{HOST}:{port}/readyz", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(proc)
    raise BenchError(f"prodline serve rag did not get ready in 180 s; see {log.name}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


Call = Callable[[httpx.Client, str], bool]


def chat_call(client: httpx.Client, q: str) -> bool:
    body = {"model": KB, "messages": [{"role": "user", "content": q}]}
    resp = client.post("/v1/chat/completions", json=body)
    if resp.status_code != 200:
        return False
    doc = resp.json()
    return bool(doc["provider"] == "extractive" and doc["choices"][0]["message"]["content"])


def stream_call(client: httpx.Client, q: str) -> bool:
    body = {"model": KB, "messages": [{"role": "user", "content": q}], "stream": True}
    with client.stream("POST", "/v1/chat/completions", json=body) as resp:
        if resp.status_code != 200:
            return False
        last = ""
        for line in resp.iter_lines():
            if line:
                last = line
    return last == "data: [DONE]"


def retrieve_call(client: httpx.Client, q: str) -> bool:
    resp = client.post("/v1/retrieve", json={"query": q, "k": 5})
    return resp.status_code == 200 and bool(resp.json()["hits"])


def run_load(name: str, url: str, call: Call, qs: list[str], concurrency: int) -> Row:
    row = Row(name)
    lock = threading.Lock()
    chunks = [qs[i::concurrency] for i in range(concurrency)]

    def worker(mine: list[str]) -> None:
        with httpx.Client(base_url=url, timeout=60) as client:
            for q in mine:
                t0 = time.perf_counter()
                try:
                    ok = call(client, q)
                except httpx.HTTPError:
                    ok = False
                ms = (time.perf_counter() - t0) * 1000
                with lock:
                    row.latencies_ms.append(ms)
                    row.errors += not ok

    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    row.seconds = time.perf_counter() - started
    return row


def server_metrics(url: str) -> dict[str, float]:
    text = httpx.get(f"{url}/metrics").text
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(("prodline_rag_log_shed_total", "prodline_rag_flagged_total")):
            key, value = line.rsplit(" ", 1)
            out[key.split("{")[0]] = float(value)
    return out


# --------------------------------------------------------------------------- report


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(rows: list[Row], header: str) -> None:
    console.print(header, highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("path")
    for col in ("requests", "p50 ms", "p99 ms", "req/s", "errors"):
        table.add_column(col, justify="right")
    for r in rows:
        flag = "" if r.valid else " !"
        table.add_row(
            r.name,
            str(len(r.latencies_ms)),
            fmt(r.pct(0.5), ".2f") + flag,
            fmt(r.pct(0.99), ".2f"),
            fmt(r.rps, ",.1f"),
            str(r.errors),
        )
    console.print(table)
    for r in rows:
        if r.note:
            console.print(f"{r.name}: {r.note}", highlight=False)
    if any(not r.valid for r in rows):
        console.print("! = had errors or wrong answers: left out of the ratio")
    by = {r.name: r for r in rows}
    chat, base = by.get("chat @c1"), by.get("in-process search")
    if chat and base and chat.valid and base.valid:
        p50, b50 = chat.pct(0.5) or 0.0, base.pct(0.5) or 0.0
        line = (
            f"ratio: p50 = {p50:.1f} ms (target <= {TARGET_P50_MS:g} ms); "
            f"endpoint/in-process search p50 = {p50 / b50:.1f}x"
        )
    else:
        line = "ratio: n/a (a row had errors)"
    console.print(line, highlight=False, soft_wrap=True)


def logged_calls(home: Path) -> int:
    """Rows of the KB's call log (the ledger's ``llm_calls`` table)."""
    from prodline.workspace import Workspace

    with Workspace.open(home) as ws:
        return len(ws.calls.read(KB))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per row (<= 500)")
    parser.add_argument("--concurrency", type=int, default=10, help="clients in the c10 row")
    parser.add_argument("--fresh", action="store_true", help="rebuild the knowledge base")
    args = parser.parse_args(argv)
    if not 10 <= args.requests <= 500 or not 1 <= args.concurrency <= 64:
        parser.error("--requests must be in [10, 500] and --concurrency in [1, 64]")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    load_at_start = os.getloadavg()[0]
    RUN.mkdir(parents=True, exist_ok=True)
    home, docs = RUN / "home", RUN / "docs"
    n = args.requests
    pool = questions(WARM + 4 * n, SEED)
    warm, rows_qs = pool[:WARM], [pool[WARM + i * n : WARM + (i + 1) * n] for i in range(4)]
    try:
        chunks, build_s = build_kb(home, docs, args.fresh)
        rows = [bench_search(home, rows_qs[0])]
        before = logged_calls(home)
        port = free_port()
        url = f"http://{HOST}:{port}"
        with open(RUN / "server.log", "w") as log:
            proc = start_server(home, port, log)
            try:
                run_load("warm-up", url, chat_call, warm, 1)
                rows.append(run_load("retrieve @c1", url, retrieve_call, rows_qs[0], 1))
                rows.append(run_load("chat @c1", url, chat_call, rows_qs[1], 1))
                rows.append(
                    run_load(
                        f"chat @c{args.concurrency}", url, chat_call, rows_qs[2], args.concurrency
                    )
                )
                rows.append(run_load("chat stream @c1", url, stream_call, rows_qs[3], 1))
                seen = server_metrics(url)
            finally:
                stop_server(proc)
    except BenchError as exc:
        console.print(f"[red]bench failed:[/] {exc}", markup=True, highlight=False)
        return 1
    logged = logged_calls(home) - before
    header = (
        f"rag bench: KB '{KB}' = README.md + 50 generated docs, {chunks} chunks "
        f"(ready in {build_s:.1f} s); {n} distinct questions per row; extractive answerer; "
        f"server: prodline serve rag (1 worker, uvloop/httptools) in its own process; "
        f"load average at start {load_at_start:.2f} on {os.cpu_count()} cpus; "
        f"RAG calls logged {logged}, "
        f"shed {seen.get('prodline_rag_log_shed_total', 0):g}, "
        f"flagged {seen.get('prodline_rag_flagged_total', 0):g}"
    )
    report(rows, header)
    (RUN / "results.json").write_bytes(
        orjson.dumps(
            {r.name: {"p50": r.pct(0.5), "p99": r.pct(0.99), "errors": r.errors} for r in rows}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

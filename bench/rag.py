"""RAG serving benchmark: ``prodline serve rag`` chat completions vs. in-process search.

The knowledge base is a real documentation set nobody here wrote: CPython's
``pydoc_data`` topics (``prodline.rag.eval_questions.write_pydoc_corpus``, 79 Markdown
files, ~920 chunks), built once under ``bench/.out/rag/`` with the default embedder and
reused while the documents are unchanged. Then, in the same run:

- ``in-process search``: ``ws.kbs.search(kb, question, k=5)`` in this process: the
  baseline, the retrieval every answer starts with (embed the query, FAISS + BM25, fuse,
  rerank);
- ``retrieve @c1``: ``POST /v1/retrieve`` on the real server (HTTP + the same search);
- ``chat @c1`` / ``chat @c10``: ``POST /v1/chat/completions`` with the offline
  extractive answerer: retrieve, answer, score faithfulness and relevance, log, audit;
- ``chat stream @c1``: the same with ``stream: true``, timed to ``data: [DONE]``;
- ``chat @c1, no stored sentences``: today's path, measured first on its own server over
  a copy of the KB whose ``kb_sentences`` rows are deleted (as a KB ingested before
  migration 0013): every chat embeds the retrieved chunks' sentences at answer time.

Every question is distinct across the whole run (no cache can answer one from another):
the shipped ``pydoc_topics`` questions, then questions generated from the topics'
headings and sentences, shuffled with a fixed seed. There is no chat warm-up: the
server loads the model and indexes at start, and each server gets 5 ``/v1/retrieve``
calls on unrelated questions (HTTP path, thread pool) that touch no chunk sentences.
The server's sentence cache starts empty and fills only as the measured chats go.

The server is ``prodline serve rag`` in its own process (uvloop, httptools, one worker);
the load comes from httpx clients in this process (threads for c10). Every answer must
be 200 from the extractive answerer, and a row with errors is flagged and left out of
the ratios.

Run::

    .venv/bin/python bench/rag.py                  # 200 requests per row, ~3-4 min
    .venv/bin/python bench/rag.py --requests 50    # quicker
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
KB = "bench-pydoc"
HOST = "127.0.0.1"
SEED = 0
TARGET_P50_MS = 150.0  # issue 12: offline chat p50 on a real corpus
TARGET_RATIO = 1.3  # issue 12: chat p50 with the new stages <= 1.3x today's
BEFORE_REQUESTS = 40  # today's path embeds at answer time (~1 s a chat): fewer suffice
# Unrelated questions sent to /v1/retrieve before measuring (never to chat): they warm the
# HTTP path and the thread pool and retrieve chunks, but embed no chunk sentence.
WARM_RETRIEVES = [
    "How long should pasta boil?",
    "Which planet has the most moons?",
    "What is a good stretch for the lower back?",
    "When was the printing press invented?",
    "How do I repot an orchid?",
]

console = Console(width=110)

HEADING_QUESTIONS = [
    "What does the Python reference say about {h}?",
    "How does {h} work?",
    "Can you explain {h}?",
    "What are the rules for {h}?",
    "Give me an overview of {h}.",
    "What should I know about {h} in Python?",
    "Quick question: what is {h}?",
    "Please summarise {h}.",
]
SENTENCE_QUESTIONS = ["Is it true that {s}?", "Why is it that {s}?", "What does it mean that {s}?"]


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
    """CPython's pydoc topics as Markdown (the corpus of the shipped evaluation set)."""
    from prodline.rag.eval_questions import write_pydoc_corpus

    shutil.rmtree(folder, ignore_errors=True)
    write_pydoc_corpus(folder)


def _heading(line: str) -> str:
    return line.lstrip("#").strip().replace('"', "")


def questions(n: int, docs: Path, seed: int) -> list[str]:
    """``n`` distinct questions: the shipped set first, then ones built from the topics'
    headings and prose sentences, shuffled with ``seed``."""
    from prodline.core.text import passage_sentences
    from prodline.rag.eval_questions import load_questions, resolve_question_set

    shipped = [q.question for q in load_questions(resolve_question_set("pydoc_topics"))]
    made: list[str] = []
    for path in sorted(docs.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        heads = [_heading(line) for line in text.splitlines() if line.startswith("#")]
        made.extend(t.format(h=h) for h in heads if h for t in HEADING_QUESTIONS)
        for sentence, _ in passage_sentences(text):
            words = sentence.rstrip(".").split()
            if 8 <= len(words) <= 24 and sentence.endswith(".") and "\n" not in sentence:
                claim = " ".join([words[0].lower() if words[0].istitle() else words[0], *words[1:]])
                made.extend(t.format(s=claim) for t in SENTENCE_QUESTIONS)
    rng = random.Random(seed)
    rng.shuffle(made)
    pool = list(dict.fromkeys([*shipped, *made]))
    rng.shuffle(pool)
    if n > len(pool):
        raise BenchError(f"only {len(pool)} distinct questions; ask for fewer requests")
    return pool[:n]


def corpus_digest(folder: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def build_kb(home: Path, legacy: Path, docs: Path, fresh: bool) -> tuple[int, int, float]:
    """Create and ingest the KB unless one for the same documents exists, and its copy
    without stored sentences (``legacy``); (chunks, sentence rows, seconds)."""
    import sqlalchemy as sa

    from prodline.store.tables import kb_sentences
    from prodline.workspace import Workspace

    stamp = RUN / "CORPUS"
    write_docs(docs)
    digest = corpus_digest(docs)
    if fresh or not stamp.exists() or stamp.read_text() != digest:
        shutil.rmtree(home, ignore_errors=True)
        shutil.rmtree(legacy, ignore_errors=True)
        stamp.unlink(missing_ok=True)
    started = time.perf_counter()
    with Workspace.open(home, actor="bench") as ws:
        if not any(kb.name == KB for kb in ws.kbs.list()):
            ws.kbs.create(KB, owner="python-docs", description="bench/rag.py: pydoc topics")
            ws.kbs.ingest(KB, [docs])
        chunks = ws.kbs.get(KB).chunks
        with ws.db.read() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(kb_sentences)).scalar_one()
    seconds = time.perf_counter() - started
    if not legacy.exists():
        shutil.copytree(home, legacy)
        with Workspace.open(legacy, actor="bench") as ws, ws.tx() as conn:
            conn.execute(kb_sentences.delete())  # as a KB ingested before migration 0013
    stamp.write_text(digest)
    return chunks, int(rows), seconds


# --------------------------------------------------------------------------- measurement


def bench_search(home: Path, qs: list[str]) -> Row:
    from prodline.serving.rag.server import limit_torch_threads
    from prodline.workspace import Workspace

    row = Row("in-process search")
    limit_torch_threads()  # the cap the server runs with, so both sides embed alike
    with Workspace.open(home, actor="bench") as ws:
        for q in WARM_RETRIEVES:  # warm-up: model, indexes (unrelated questions)
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


def report(rows: list[Row], header: str) -> list[str]:
    """Print the table and the ratio lines; returns the ratio lines."""
    console.print(header, highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("path")
    for col in ("requests", "p50 ms", "p95 ms", "p99 ms", "req/s", "errors"):
        table.add_column(col, justify="right")
    for r in rows:
        flag = "" if r.valid else " !"
        table.add_row(
            r.name,
            str(len(r.latencies_ms)),
            fmt(r.pct(0.5), ".2f") + flag,
            fmt(r.pct(0.95), ".2f"),
            fmt(r.pct(0.99), ".2f"),
            fmt(r.rps, ",.1f"),
            str(r.errors),
        )
    console.print(table)
    for r in rows:
        if r.note:
            console.print(f"{r.name}: {r.note}", highlight=False)
    if any(not r.valid for r in rows):
        console.print("! = had errors or wrong answers: left out of the ratios")
    by = {r.name: r for r in rows}
    chat, base, before = by.get("chat @c1"), by.get("in-process search"), by.get(BEFORE)
    lines = []
    if chat and chat.valid:
        p50, p95 = chat.pct(0.5) or 0.0, chat.pct(0.95) or 0.0
        verdict = "met" if p50 <= TARGET_P50_MS else "MISSED"
        lines.append(
            f"chat @c1: p50 = {p50:.1f} ms, p95 = {p95:.1f} ms "
            f"(target p50 <= {TARGET_P50_MS:g} ms: {verdict})"
        )
        if base and base.valid:
            lines.append(
                f"ratio: endpoint/in-process search p50 = {p50 / (base.pct(0.5) or 1.0):.1f}x"
            )
        if before and before.valid:
            b50 = before.pct(0.5) or 1.0
            verdict = "met" if p50 <= TARGET_RATIO * b50 else "MISSED"
            lines.append(
                f"ratio: chat p50 with stored sentences / without (today's path, "
                f"p50 {b50:.1f} ms, p95 {before.pct(0.95) or 0.0:.1f} ms) = {p50 / b50:.2f}x "
                f"(target <= {TARGET_RATIO:g}x: {verdict})"
            )
    if not lines:
        lines.append("ratio: n/a (a row had errors)")
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)
    return lines


def logged_calls(home: Path) -> int:
    """Rows of the KB's call log (the ledger's ``llm_calls`` table)."""
    from prodline.workspace import Workspace

    with Workspace.open(home) as ws:
        return len(ws.calls.read(KB))


BEFORE = "chat @c1, no stored sentences"


def serve(home: Path, log_name: str, rows: list[tuple[str, Call, list[str], int]]) -> list[Row]:
    """Start a server on ``home``, warm it with unrelated retrieves, run ``rows``."""
    port = free_port()
    url = f"http://{HOST}:{port}"
    out = []
    with open(RUN / log_name, "w") as log:
        proc = start_server(home, port, log)
        try:
            run_load("warm-up", url, retrieve_call, WARM_RETRIEVES, 1)
            for name, call, qs, concurrency in rows:
                out.append(run_load(name, url, call, qs, concurrency))
            seen = server_metrics(url)
        finally:
            stop_server(proc)
    if out:
        out[0].note = (
            f"server: {len(WARM_RETRIEVES)} unrelated /v1/retrieve calls first (no chat); "
            f"shed {seen.get('prodline_rag_log_shed_total', 0):g}, "
            f"flagged {seen.get('prodline_rag_flagged_total', 0):g}"
        )
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per row (<= 500)")
    parser.add_argument(
        "--before",
        type=int,
        default=BEFORE_REQUESTS,
        help="requests in the row without stored sentences (0: skip it)",
    )
    parser.add_argument("--concurrency", type=int, default=10, help="clients in the c10 row")
    parser.add_argument("--fresh", action="store_true", help="rebuild the knowledge base")
    args = parser.parse_args(argv)
    if not 10 <= args.requests <= 500 or not 1 <= args.concurrency <= 64:
        parser.error("--requests must be in [10, 500] and --concurrency in [1, 64]")
    if not 0 <= args.before <= 500:
        parser.error("--before must be in [0, 500]")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    load_at_start = os.getloadavg()[0]
    RUN.mkdir(parents=True, exist_ok=True)
    home, legacy, docs = RUN / "home", RUN / "home-no-sentences", RUN / "docs"
    n = args.requests
    try:
        chunks, sentences, build_s = build_kb(home, legacy, docs, args.fresh)
        pool = questions(5 * n + args.before, docs, SEED)
        qs = [pool[i * n : (i + 1) * n] for i in range(5)]
        rows = [bench_search(home, qs[0])]
        if args.before:
            rows += serve(legacy, "server-before.log", [(BEFORE, chat_call, pool[5 * n :], 1)])
        before = logged_calls(home)
        rows += serve(
            home,
            "server.log",
            [
                ("retrieve @c1", retrieve_call, qs[1], 1),
                ("chat @c1", chat_call, qs[2], 1),
                (f"chat @c{args.concurrency}", chat_call, qs[3], args.concurrency),
                ("chat stream @c1", stream_call, qs[4], 1),
            ],
        )
    except BenchError as exc:
        console.print(f"[red]bench failed:[/] {exc}", markup=True, highlight=False)
        return 1
    logged = logged_calls(home) - before
    header = (
        f"rag bench: KB '{KB}' = CPython pydoc topics (79 files), {chunks} chunks, "
        f"{sentences} stored sentence vectors (ready in {build_s:.1f} s); {len(pool)} distinct "
        f"questions across the run, no chat warm-up; extractive answerer; server: prodline "
        f"serve rag (1 worker, uvloop/httptools) in its own process; load average at start "
        f"{load_at_start:.2f} on {os.cpu_count()} cpus; RAG calls logged {logged}"
    )
    lines = report(rows, header)
    (RUN / "results.json").write_bytes(
        orjson.dumps(
            {
                "rows": {
                    r.name: {
                        "p50": r.pct(0.5),
                        "p95": r.pct(0.95),
                        "p99": r.pct(0.99),
                        "errors": r.errors,
                    }
                    for r in rows
                },
                "lines": lines,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

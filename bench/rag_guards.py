"""RAG chat latency with every guard on vs. every guard off, in the same run.

Two ``prodline serve rag`` processes serve copies of the same knowledge base (the pydoc
topics KB ``bench/rag.py`` builds, with its stored sentence embeddings): one with the
defaults of ``[guard]`` (input guard on every question, canary in the system prompt,
prompt-leak and PII checks on every answer, groundedness guard), one with ``[guard]
input = false, canary = false`` and every action ``off``. Requests alternate between
them one at a time (c1), each question distinct and sent to one server only, so drift in
the machine's load hits both alike; no chat warm-up (one retrieval each loads the model
and indexes). Target: guards on / off p50 <= 1.2x.

Run::

    .venv/bin/python bench/rag_guards.py                  # 200 requests per server
    .venv/bin/python bench/rag_guards.py --requests 60    # quicker
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import rag as ragbench

RUN = ragbench.RUN.parent / "rag_guards"
TARGET = 1.2
GUARDS_OFF = """[guard]
input = false
canary = false

[guard.actions]
injection = "off"
pii_output = "off"
prompt_leak = "off"
groundedness = "off"
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="requests per server")
    args = parser.parse_args(argv)
    if not 10 <= args.requests <= 500:
        parser.error("--requests must be in [10, 500]")
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    RUN.mkdir(parents=True, exist_ok=True)
    docs = ragbench.RUN / "docs"
    chunks, _, _ = ragbench.build_kb(
        ragbench.RUN / "home", ragbench.RUN / "home-no-sentences", docs, False
    )
    homes = {"on": RUN / "home-on", "off": RUN / "home-off"}
    for name, home in homes.items():
        shutil.rmtree(home, ignore_errors=True)
        shutil.copytree(ragbench.RUN / "home", home)
        (home / "prodline.toml").write_text(GUARDS_OFF if name == "off" else "", encoding="utf-8")
    n = args.requests
    pool = ragbench.questions(2 * n, docs, seed=7)
    qs = {"on": pool[:n], "off": pool[n:]}
    rows = {name: ragbench.Row(f"chat @c1 guards {name}") for name in homes}
    load = os.getloadavg()[0]
    procs: dict[str, object] = {}
    try:
        urls = {}
        for name, home in homes.items():
            port = ragbench.free_port()
            log = open(RUN / f"server-{name}.log", "w")  # noqa: SIM115 (closed with the run)
            procs[name] = ragbench.start_server(home, port, log)
            urls[name] = f"http://{ragbench.HOST}:{port}"
        clients = {name: httpx.Client(base_url=url, timeout=60) for name, url in urls.items()}
        for client in clients.values():  # model and indexes; touches no chunk sentences
            client.post("/v1/retrieve", json={"query": "warm up", "k": 1})
        started = time.perf_counter()
        for i in range(n):
            for name in ("on", "off") if i % 2 else ("off", "on"):
                t0 = time.perf_counter()
                ok = ragbench.chat_call(clients[name], qs[name][i])
                rows[name].latencies_ms.append((time.perf_counter() - t0) * 1000)
                rows[name].errors += not ok
        for row in rows.values():
            row.seconds = time.perf_counter() - started
    except ragbench.BenchError as exc:
        print(f"bench failed: {exc}")
        return 1
    finally:
        for proc in procs.values():
            ragbench.stop_server(proc)  # type: ignore[arg-type]
    on, off = rows["on"], rows["off"]
    print(
        f"rag guards bench: KB '{ragbench.KB}' ({chunks} chunks), {n} distinct questions per "
        f"server, alternating, extractive answerer; load average at start {load:.2f} on "
        f"{os.cpu_count()} cpus"
    )
    for row in (off, on):
        print(
            f"{row.name:<22} p50 {ragbench.fmt(row.pct(0.5), '.1f')} ms  "
            f"p95 {ragbench.fmt(row.pct(0.95), '.1f')} ms  errors {row.errors}"
        )
    p_on, p_off = on.pct(0.5), off.pct(0.5)
    if not (on.valid and off.valid and p_on and p_off):
        print("a row had errors: no ratio (see the server logs under bench/.out/rag_guards)")
        return 1
    ratio = p_on / p_off
    verdict = "meets" if ratio <= TARGET else "misses"
    print(f"guards on / off p50: {ratio:.2f}x ({verdict} the <= {TARGET}x target)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Metering benchmark: what metering costs both servers, on vs off, in the same run.

- **Model server**: two ``prodline serve bench@production`` (set up as ``bench/serving.py``
  does, each in its own home), one with ``[cost] metering = true``, one with ``false``,
  both pinned to the same core and loaded at the same time by two ``wrk`` (c10, pinned to
  another core): whatever else runs on the machine slows both alike. Per round the
  on/off req/s ratio, and over all ``--rounds`` together (what is compared with the
  target: on >= 0.98x off; rounds in which the meter writes its segment count too).
  Also printed: each server's CPU time per request (``/proc/<pid>/stat``, all threads,
  the meter's writer work included) and the metering work measured directly in process
  on 50,000 prediction-log records (µs per request, on and off).
- **RAG server**: ``prodline serve rag`` over a small knowledge base (extractive answerer),
  chat p50 at one client, metering on and off in turn, ``--rag-rounds`` times each,
  alternating which goes first; the median p50s are compared (target: on <= 1.02x off).
  The clients and server start are ``bench/rag.py``'s.

Metering on must have written metered records and metering off none, or the run is
void. Everything is written under ``bench/.out/metering/``; the last line is ``ratio:``.

Run::

    .venv/bin/python bench/metering.py                       # ~3 min
    .venv/bin/python bench/metering.py --only model --rounds 15 --duration 5
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import rag as rb
import serving as sb

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RUN = BENCH_DIR / ".out" / "metering"
KB = "bench-meter"
MODEL_TARGET, RAG_TARGET = 0.98, 1.02
TOPICS = {
    "refunds": "Refunds are issued within {n} days of receiving the returned item.",
    "shipping": "Standard shipping takes {n} business days within the country.",
    "warranty": "Every appliance carries a {n} year warranty against manufacturing defects.",
    "returns": "Items can be returned within {n} days if unused and in their packaging.",
    "payments": "Card payments settle within {n} business days of the order.",
    "support": "Support answers email within {n} hours on working days.",
    "exchanges": "An exchange ships within {n} days once the returned item arrives.",
    "gift cards": "Gift cards stay valid for {n} years and cannot be refunded.",
}
ASKS = (
    "How long do {t} take?",
    "What is the policy on {t}?",
    "Tell me about {t}.",
    "What should I know about {t}?",
    "Explain {t} to me.",
    "Quick question about {t}: how does it work?",
)


def set_metering(home: Path, on: bool) -> None:
    """Write ``[cost] metering`` into ``home``'s prodline.toml (other tables kept)."""
    path = home / "prodline.toml"
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    text = text.split("\n[cost]\n")[0].rstrip("\n")
    path.write_text(f"{text}\n\n[cost]\nmetering = {str(on).lower()}\n", encoding="utf-8")


def metered(home: Path) -> int:
    """Metered records in ``home`` (all of them)."""
    from datetime import UTC, datetime, timedelta

    from prodline.workspace import Workspace

    with Workspace.open(home, actor="bench") as ws:
        now = datetime.now(UTC)
        return ws.costs.meter.scan(now - timedelta(days=1), now + timedelta(days=1)).num_rows


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


# --------------------------------------------------------------------------- model server


def direct_cost_us(n: int = 50_000) -> tuple[float, float]:
    """``(on, off)``: µs of metering work per request, measured in this process on ``n``
    prediction-log records (the writer thread's work: columns, prices, Prometheus, the
    meter segment; off: what remains with metering off), plus the two CPU-clock reads a
    request's batch takes when on (a batch of one request: the worst case)."""
    import tempfile
    import types

    from prometheus_client import CollectorRegistry

    from prodline.serving.budgeting import BudgetWatch
    from prodline.serving.metering import MeterSink, metered_predictions
    from prodline.workspace import Workspace

    served = types.SimpleNamespace(name="bench", version=1)
    parsed = types.SimpleNamespace(rows=1)
    batch = [
        (f"req-{i}", time.time(), parsed, types.SimpleNamespace(
            served=served, token_user="", reservation=None, cpu_ms=0.05), 0.4)
        for i in range(2_000)
    ]  # fmt: skip
    out = []
    with tempfile.TemporaryDirectory() as tmp, Workspace.open(tmp, actor="bench") as ws:
        for enabled in (True, False):
            watch = BudgetWatch(ws, team="bench", model="bench")
            watch.refresh()
            sink = MeterSink(ws, watch, CollectorRegistry(), enabled=enabled)
            sink.add(*metered_predictions(batch, "bench"), final=True)  # warm-up
            start = time.thread_time_ns()
            for _ in range(n // len(batch)):
                sink.add(*metered_predictions(batch, "bench"))
            sink.flush()
            out.append((time.thread_time_ns() - start) / 1e3 / n)
    clock0 = time.perf_counter_ns()
    for _ in range(100_000):
        time.thread_time_ns()
    clock_us = (time.perf_counter_ns() - clock0) / 1e3 / 100_000
    return out[0] + 2 * clock_us, out[1]


def median(values: list[float]) -> float:
    return statistics.median(values)


def model_server(on: bool) -> tuple[sb.Server, Path, object, object]:
    """A ``prodline serve`` set up by ``bench/serving.py`` in its own home, metering on
    or off; (server, home, inputs, expected answers)."""
    sb.RUN = RUN / "model" / ("on" if on else "off")
    (sb.RUN / "logs").mkdir(parents=True)
    model, inputs = sb.make_model(sb.RUN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model.predict(inputs)
    base = sb.prodline_server(ROOT / ".venv" / "bin" / "prodline")
    home = Path(base.env["PRODLINE_HOME"])
    set_metering(home, on)
    server = dataclasses.replace(base, name=f"prodline metering {'on' if on else 'off'}")
    return server, home, inputs, expected


def bench_model(args: argparse.Namespace) -> tuple[list[str], bool, str]:
    cores = len(os.sched_getaffinity(0))
    sb.PIN = shutil.which("taskset") is not None and cores >= 2 and not args.no_pin
    pair = {on: model_server(on) for on in (True, False)}
    procs: dict[bool, subprocess.Popen[bytes]] = {}
    ports = {on: sb.free_port() for on in pair}
    rps: dict[bool, list[float]] = {True: [], False: []}
    cpu: dict[bool, list[float]] = {True: [], False: []}
    counts = {on: metered(home) for on, (_, home, _, _) in pair.items()}
    with contextlib.ExitStack() as stack:
        logs = {}
        for on, (server, _, inputs, expected) in pair.items():
            folder = RUN / "model" / ("on" if on else "off") / "logs"
            slog = stack.enter_context((folder / "server.log").open("w"))
            logs[on] = stack.enter_context((folder / "wrk.log").open("w"))
            sb.RUN = folder.parent  # where start() runs and write_lua() writes
            procs[on] = sb.start(server.argv(ports[on]), server.env, slog)
            sb.wait_ready(procs[on], ports[on], server, folder / "server.log")
            a, b = inputs[0]  # type: ignore[index]
            sb.check_answer(ports[on], server, float(a), float(b), int(expected[0]))  # type: ignore[index]
        luas = {}
        for on, (server, _, inputs, _) in pair.items():
            sb.RUN = RUN / "model" / ("on" if on else "off")
            luas[on] = sb.write_lua(server, inputs)  # type: ignore[arg-type]
        try:
            together(lambda on: sb.wrk(ports[on], luas[on], 10, args.warmup, logs[on]))
            for round_no in range(args.rounds):
                before = {on: process_cpu_s(procs[on].pid) for on in pair}
                runs = together(lambda on: sb.wrk(ports[on], luas[on], 10, args.duration, logs[on]))
                for on, run in runs.items():
                    if run["status"] or any(
                        run[k] for k in ("connect", "read", "write", "timeout")
                    ):
                        raise sb.BenchError(f"metering {on}: errors under load; see {RUN}/model")
                    rps[on].append(run["requests"] / (run["duration_us"] / 1e6))
                    spent = process_cpu_s(procs[on].pid) - before[on]
                    cpu[on].append(spent * 1e6 / max(1.0, run["requests"]))
                print(
                    f"  round {round_no + 1}: metering on {rps[True][-1]:,.0f} req/s "
                    f"({cpu[True][-1]:.0f} µs CPU/req), off {rps[False][-1]:,.0f} req/s "
                    f"({cpu[False][-1]:.0f} µs CPU/req)"
                )
        finally:
            for proc in procs.values():
                sb.stop(proc)
    counts = {on: metered(home) - counts[on] for on, (_, home, _, _) in pair.items()}
    ratios = [on / off for on, off in zip(rps[True], rps[False], strict=True)]
    ratio = sum(rps[True]) / sum(rps[False])  # all rounds: those with a meter write count
    cpu_ratio = median(cpu[False]) / median(cpu[True])
    added_on, added_off = direct_cost_us()
    added = max(0.0, added_on - added_off)
    direct = median(cpu[False]) / (median(cpu[False]) + added)
    void = counts[True] == 0 or counts[False] != 0
    ok = ratio >= MODEL_TARGET and not void
    lines = [
        f"model server, metering on and off side by side (both servers on one core, "
        f"{'pinned' if sb.PIN else 'not pinned'}; wrk c10 each, at the same time, "
        f"{args.duration:g} s x {args.rounds} rounds): on {median(rps[True]):,.0f} req/s, "
        f"off {median(rps[False]):,.0f} req/s; on/off per round "
        f"{', '.join(f'{r:.3f}' for r in ratios)}: all rounds {ratio:.3f}x "
        f"(target >= {MODEL_TARGET}x) {verdict(ok)}",
        f"model server CPU per request (all threads): on {median(cpu[True]):.1f} µs, off "
        f"{median(cpu[False]):.1f} µs ({cpu_ratio:.3f}x); metering work measured directly in "
        f"process: {added_on:.2f} µs/request on, {added_off:.2f} off: on/off {direct:.4f}x; "
        f"records metered on {counts[True]:,}, off {counts[False]:,}",
    ]
    summary = f"model server throughput {ratio:.3f}x (CPU {cpu_ratio:.3f}x, direct {direct:.4f}x)"
    return lines, ok, summary


def together(call: Callable[[bool], dict[str, float]]) -> dict[bool, dict[str, float]]:
    """``call(True)`` and ``call(False)`` at the same time (two wrk processes)."""
    with ThreadPoolExecutor(2) as pool:
        futures = {on: pool.submit(call, on) for on in (True, False)}
        return {on: future.result() for on, future in futures.items()}


# --------------------------------------------------------------------------- RAG server


def questions(n: int) -> list[str]:
    """``n`` distinct questions (a repeat of the base set gets a suffix: no cache hits)."""
    base = [a.format(t=t) for t in TOPICS for a in ASKS]
    out = base * (n // len(base) + 1)
    return [q if i < len(base) else f"{q} (case {i // len(base)})" for i, q in enumerate(out)][:n]


def build_kb(home: Path) -> None:
    from prodline.workspace import Workspace

    docs = RUN / "docs"
    docs.mkdir(parents=True)
    for i, (topic, text) in enumerate(TOPICS.items()):
        body = "\n\n".join(text.format(n=i + k) for k in range(1, 4))
        (docs / f"{topic.replace(' ', '-')}.md").write_text(f"# {topic.title()}\n\n{body}\n")
    with Workspace.open(home, actor="bench") as ws:
        ws.kbs.create(KB, owner="support", description="bench/metering.py")
        ws.kbs.ingest(KB, [docs])


def bench_rag(args: argparse.Namespace) -> tuple[list[str], bool, str]:
    rb.RUN = RUN / "rag"
    rb.RUN.mkdir(parents=True)
    rb.KB = KB
    home = rb.RUN / "home"
    build_kb(home)
    qs = questions(args.requests)
    p50s: dict[bool, list[float]] = {True: [], False: []}
    counts = {True: 0, False: 0}
    for round_no in range(args.rag_rounds):
        for on in (True, False) if round_no % 2 == 0 else (False, True):
            set_metering(home, on)
            before = metered(home)
            name = f"chat @c1 metering {'on' if on else 'off'}"
            (row,) = rb.serve(home, f"server-{round_no}-{on}.log", [(name, rb.chat_call, qs, 1)])
            counts[on] += metered(home) - before
            if not row.valid:
                raise rb.BenchError(f"{name}: {row.errors} failed calls; see {rb.RUN}")
            p50s[on].append(row.pct(0.5) or 0.0)
    best = {on: median(values) for on, values in p50s.items()}
    ratio = best[True] / best[False]
    void = counts[True] == 0 or counts[False] != 0
    ok = ratio <= RAG_TARGET and not void
    lines = [
        f"RAG server (chat @c1, {args.requests} questions x {args.rag_rounds} rounds, median p50; "
        f"extractive): metering on p50 {best[True]:.2f} ms, off {best[False]:.2f} ms; "
        f"on/off = {ratio:.3f}x (target <= {RAG_TARGET}x) {verdict(ok)}; records metered on "
        f"{counts[True]:,}, off {counts[False]:,}"
    ]
    return lines, ok, f"RAG chat p50 {ratio:.3f}x"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--only", choices=("model", "rag"), help="one server only")
    parser.add_argument("--rounds", type=int, default=9, help="measured rounds (1-15)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds per wrk warm-up")
    parser.add_argument("--requests", type=int, default=150, help="chat calls per RAG run")
    parser.add_argument("--rag-rounds", type=int, default=3, help="RAG runs per mode (1-9)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/wrk to cores")
    args = parser.parse_args(argv)
    if not 1 <= args.rounds <= 15 or not 0 < args.duration <= 30 or not 0 < args.warmup <= 30:
        parser.error("--rounds must be in [1, 15], --duration and --warmup in (0, 30]")
    if not 20 <= args.requests <= 500 or not 1 <= args.rag_rounds <= 9:
        parser.error("--requests must be in [20, 500], --rag-rounds in [1, 9]")
    if args.only != "rag" and shutil.which("wrk") is None:
        print(f"wrk (the load generator) is not installed; install it with: {sb.WRK_INSTALL}")
        return 2
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    shutil.rmtree(RUN, ignore_errors=True)
    RUN.mkdir(parents=True)
    load = os.getloadavg()[0]
    lines = [f"metering bench: load average at start {load:.2f} on {os.cpu_count()} cpus"]
    ok = True
    ratios = []
    try:
        for part, run in (("model", bench_model), ("rag", bench_rag)):
            if args.only in (None, part):
                more, passed, ratio = run(args)
                lines += more
                ratios.append(ratio)
                ok = ok and passed
    except (sb.BenchError, rb.BenchError) as exc:
        print(f"bench failed: {exc}")
        return 1
    finally:
        for proc in list(sb._live):
            sb.stop(proc)
    lines.append(f"ratio: metering on/off: {'; '.join(ratios)} {verdict(ok)}")
    for line in lines:
        print(line)
    (RUN / "results.json").write_text(json.dumps({"lines": lines, "pass": ok}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

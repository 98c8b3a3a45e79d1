"""Hardening benchmark: model-server throughput with the hardening layer on vs off, same run.

``prodline serve bench@production`` (the same seeded 2-feature LogisticRegression and wrk
load as ``bench/serving.py``, whose helpers this reuses), set up through the real CLI in
one fresh home per variant, differing only in the ``[server]`` table of prodline.toml:

- ``off``: ``enabled = false``: no hardening layer at all (the fast path as before);
- ``on``: the model server's defaults: body limit and UTF-8/depth/surrogate checks on
  every body, the in-flight cap (256), the 30 s deadline, security headers;
- ``on+rate``: the same plus a rate limit every request goes through (one client, so
  ``rate_limit_per_min`` is set far above what wrk can send: the bucket is taken on every
  request and never empty).

Variants are measured in turns (``--rounds``, default 2, interleaved so drift hits each
alike); each row is the median of its rounds. wrk on a shared machine varies by more
than the 5% at stake, so the layer is also timed in process (the middleware around a
no-op app, best of 7 x 20,000 calls, pinned), and its microseconds are set against the
``off`` server's time per request. Target, on the last lines: ``on`` and ``on+rate``
>= 0.95x ``off`` throughput. Output under ``bench/.out/hardening/``.

Run::

    .venv/bin/python bench/hardening.py                 # ~2 min
    .venv/bin/python bench/hardening.py --duration 10 --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from rich.table import Table

import serving as sv

VARIANTS = {
    "off": "[server]\nenabled = false\n",
    "on": "",
    "on+rate": "[server]\nrate_limit_per_min = 1000000000\n",
}
TARGET = 0.95


def variant_server(cli: Path, name: str, toml: str) -> sv.Server:
    """``prodline serve`` in a fresh home with ``toml`` as its prodline.toml."""
    home = sv.RUN / f"{name}-home"
    home.mkdir()
    env = {**os.environ, "PRODLINE_HOME": str(home)}
    env.pop("PRODLINE_TOKEN", None)
    with (sv.RUN / "logs" / f"{name}-setup.log").open("w") as log:
        for argv in (
            ["init"],
            ["data", "add", "train.csv", "--name", "bench-data", "--owner", "bench",
             "--source", "synthetic"],
            ["model", "register", "model.skops", "--name", "bench", "--trained-on",
             "bench-data@1"],
            ["promote", "bench@1", "--to", "production"],
        ):  # fmt: skip
            sv.run_cli([str(cli), *argv], env, log)
    (home / "prodline.toml").write_text(toml, encoding="utf-8")
    return sv.Server(
        name,
        lambda port: [
            str(cli),
            "serve",
            "bench@production",
            "--host",
            sv.HOST,
            "--port",
            str(port),
        ],
        env,
        ready_path="/readyz",
        predict_path="/v1/models/bench/predict",
        body=sv.inputs_body,
        startup_timeout=60,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per warm-up run")
    parser.add_argument("--rounds", type=int, default=2, help="measurements per variant")
    parser.add_argument("--prodline", type=Path, default=sv.ROOT / ".venv" / "bin" / "prodline")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/wrk to cores")
    args = parser.parse_args(argv)
    if not 0 < args.duration <= sv.MAX_DURATION or not 1 <= args.rounds <= 10:
        parser.error(f"--duration in (0, {sv.MAX_DURATION:g}] s, --rounds in 1..10")
    if shutil.which("wrk") is None:
        sv.console.print(
            f"wrk (the load generator) is not installed; install it with: {sv.WRK_INSTALL}"
        )
        return 2
    if not args.prodline.exists():
        sv.console.print(f"prodline CLI not found at {args.prodline}; pass --prodline PATH")
        return 2
    sv.PIN = (
        not args.no_pin
        and shutil.which("taskset") is not None
        and len(os.sched_getaffinity(0)) >= 2
    )
    sv.LOAD_AT_START = os.getloadavg()[0]
    sv.RUN = sv.OUT / "hardening"
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    shutil.rmtree(sv.RUN, ignore_errors=True)
    (sv.RUN / "logs").mkdir(parents=True)
    model, inputs = sv.make_model(sv.RUN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model.predict(inputs)

    runs: dict[str, list[sv.Result]] = {name: [] for name in VARIANTS}
    try:
        servers = {
            name: variant_server(args.prodline, name, toml) for name, toml in VARIANTS.items()
        }
        for turn in range(args.rounds):
            for name, server in servers.items():
                sv.console.print(
                    f"[bold]{name} (round {turn + 1}/{args.rounds})...[/]", highlight=False
                )
                server.name = f"{name}-{turn + 1}"  # its own log files per round
                result = sv.bench_server(server, inputs, expected, args.duration, args.warmup)
                result.name = name
                runs[name].append(result)
    except (sv.BenchError, subprocess.SubprocessError, OSError) as exc:
        sv.console.print(f"[red]FAILED:[/] {exc}", markup=True, highlight=False)
        return 1
    except KeyboardInterrupt:
        sv.console.print("interrupted: servers stopped, no table")
        return 130
    finally:
        for proc in list(sv._live):
            sv.stop(proc)

    results = {name: _median(name, rs) for name, rs in runs.items()}
    overhead = layer_overhead_us()
    report(results, overhead, args)
    return 0 if all(r.valid for r in results.values()) else 1


def _median(name: str, results: list[sv.Result]) -> sv.Result:
    def med(values: list[float | None]) -> float | None:
        known = [v for v in values if v is not None]
        return statistics.median(known) if known else None

    rps = [r.rps for r in results]
    return sv.Result(
        name,
        rps=med(rps),
        p50_ms=med([r.p50_ms for r in results]),
        p99_ms=med([r.p99_ms for r in results]),
        non2xx=sum(r.non2xx or 0 for r in results),
        sock_errors=sum(r.sock_errors for r in results),
        note="req/s per round: " + ", ".join(f"{v:,.0f}" for v in rps if v is not None),
    )


def layer_overhead_us(calls: int = 20_000, repeats: int = 7) -> dict[str, float]:
    """Microseconds the hardening layer adds to one predict-sized request, in process:
    the middleware around a no-op app vs the no-op app, best of ``repeats`` (noise only
    ever adds time)."""
    from prometheus_client import CollectorRegistry

    from prodline.serving.hardening import HardeningMiddleware
    from prodline.serving.limits import ServerLimits

    body = json.dumps(sv.inputs_body(0.5, -1.25)).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {"type": "http", "method": "POST", "path": "/v1/models/bench/predict",
             "headers": head, "client": (sv.HOST, 50000)}  # fmt: skip
    start = {"type": "http.response.start", "status": 200, "headers": head[:1]}

    async def noop(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        await send(dict(start))
        await send({"type": "http.response.body", "body": b"{}"})

    def layer(table: dict[str, Any]) -> Any:
        limits = ServerLimits.from_table(table, server="model")
        return HardeningMiddleware(
            noop, limits=limits, render=lambda e, s: b"{}", registry=CollectorRegistry()
        )

    apps = {"off": noop, "on": layer({}), "on+rate": layer({"rate_limit_per_min": 10**9})}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Any) -> None:
        return None

    async def measure() -> dict[str, float]:
        best = {name: float("inf") for name in apps}
        for _ in range(repeats):
            for name, app in apps.items():
                t0 = time.perf_counter()
                for _ in range(calls):
                    await app(dict(scope), receive, send)
                best[name] = min(best[name], (time.perf_counter() - t0) / calls * 1e6)
        return best

    with sv.pinned(sv.SERVER_CPU):
        best = asyncio.run(measure())
    return {name: best[name] - best["off"] for name in ("on", "on+rate")}


def report(results: dict[str, sv.Result], overhead: dict[str, float], args: Any) -> None:
    header = sv.environment_line(args.duration).replace("serving bench", "hardening bench")
    sv.console.print(f"{header}; median of {args.rounds} rounds", highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("model server")
    for col in ("req/s @c10", "p50 ms @c1", "p99 ms @c1", "non-2xx", "layer µs/request"):
        table.add_column(col, justify="right")
    for name, r in results.items():
        errs = str(r.non2xx or 0) + (f" (+{r.sock_errors} socket)" if r.sock_errors else "")
        table.add_row(
            name + ("" if r.valid else " !"),
            sv.fmt(r.rps, ",.0f"),
            sv.fmt(r.p50_ms, ".3f"),
            sv.fmt(r.p99_ms, ".3f"),
            errs,
            "-" if name == "off" else f"{overhead[name]:.1f}",
        )
    sv.console.print(table)
    for r in results.values():
        sv.console.print(f"{r.name}: {r.note}", highlight=False)
    off = results["off"]
    per_request_us = 1e6 / off.rps if off.valid and off.rps else None
    for name in ("on", "on+rate"):
        r = results[name]
        if not (r.valid and off.valid and r.rps and off.rps and per_request_us):
            sv.console.print(f"ratio: hardening {name}/off throughput = n/a (errors)")
            continue
        measured = r.rps / off.rps
        implied = per_request_us / (per_request_us + overhead[name])
        verdicts = ["met" if v >= TARGET else "MISSED" for v in (measured, implied)]
        sv.console.print(
            f"ratio: hardening {name}/off throughput = {measured:.2f}x with wrk "
            f"({verdicts[0]}); {implied:.3f}x from the layer's {overhead[name]:.1f} µs in "
            f"process on a {per_request_us:.0f} µs request ({verdicts[1]}); target >= {TARGET}x",
            highlight=False,
            soft_wrap=True,
        )
    (sv.RUN / "results.json").write_text(
        json.dumps(
            {"runs": {k: vars(v) for k, v in results.items()}, "layer_us": overhead}, indent=2
        ),
        encoding="utf-8",
    )


if __name__ == "__main__":
    sys.exit(main())

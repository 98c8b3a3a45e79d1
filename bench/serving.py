"""Serving benchmark: ``prodline serve`` vs MLflow, a minimal FastAPI app and in-process predict.

One worker per server, the same seeded 2-feature LogisticRegression, the same load generator
(``wrk``, one thread, pinned to its own core), one server at a time, only on 127.0.0.1:

- ``inprocess``: ``model.predict`` on a 1-row ndarray and on a 1-row DataFrame (the limit);
- ``prodline``: ``prodline serve bench@production``, set up through the real CLI;
- ``auth``: the same with ``--auth token``, every request carrying a ``service`` user's
  bearer token (target: >= 0.9x the throughput without auth);
- ``review``: the same with a human-review policy in hold mode at threshold 0, so nothing is
  held (0% hold): what a review policy costs the hot path (target: >= 0.95x without);
- ``durable``: the same with ``--durable-log`` (an answer waits for its log record's commit;
  requests in flight share one commit), next to the default's in-memory log queue;
- ``minimal``: ``bench/serving_minimal_app.py`` under uvicorn (parse JSON, predict, reply);
- ``mlflow``: ``mlflow models serve`` from its own venv in ``bench/.out/mlflow-venv``.

Each server gets a warm-up run before each measurement: req/s at 10 connections, then p50/p99
latency at 1 connection. Every server's answer to one request is checked against the in-process
prediction first; a run with non-2xx answers or socket errors is flagged and left out of the
ratios, so a server returning errors cannot look fast. Everything is written under
``bench/.out/serving/``; servers are killed at the end, also on Ctrl-C.

Run::

    .venv/bin/python bench/serving.py                      # everything, ~3 min (+ MLflow venv once)
    .venv/bin/python bench/serving.py --only inprocess,minimal,mlflow --duration 5
    .venv/bin/python bench/serving.py --skip-mlflow
    .venv/bin/python bench/serving.py --only prodline,review --rounds 3   # the review ratio
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import skops.io as sio
from rich.console import Console
from rich.table import Table
from sklearn.linear_model import LogisticRegression

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
OUT = BENCH_DIR / ".out"
RUN = OUT / "serving"
MLFLOW_VENV = OUT / "mlflow-venv"
# 3.18.0 is on PyPI but its mlflow-skinny==3.18.0 is not yet, so pip cannot resolve it.
MLFLOW_VERSION = "3.17.2"
PARTS = ("inprocess", "prodline", "review", "auth", "durable", "minimal", "mlflow")
ALIASES = {
    "minimal-fastapi": "minimal",
    "fastapi": "minimal",
    "in-process": "inprocess",
    "prodline-durable": "durable",
    "prodline-review": "review",
}
DURABLE = "prodline --durable-log"
AUTHED = "prodline --auth token"
REVIEWED = "prodline +review (hold 0%)"
SET_REVIEW_POLICY = """\
from prodline.workspace import Workspace
with Workspace.open() as ws:  # PRODLINE_HOME
    ws.reviews.set_policy("model", "bench", mode="hold", threshold=0.0)
"""
FEATURES = ["x1", "x2"]
SEED = 0
N_BODIES = 64  # distinct request bodies, cycled by wrk, so no answer can be cached
HOST = "127.0.0.1"
SERVER_CPU, LOADGEN_CPU = 0, 1
MAX_DURATION = 30.0
MAX_ROUNDS = 5
WRK_INSTALL = "apt-get update && apt-get install -y wrk"
LOAD_AT_START = 0.0  # 1-minute load average when main() starts: a busy machine skews the table
PIN = True  # pin servers to SERVER_CPU and wrk to LOADGEN_CPU; main() may turn it off

console = Console(width=110)


class BenchError(Exception):
    """A part of the benchmark could not run; the message says why and what to do."""


@dataclass
class Result:
    name: str
    rps: float | None = None  # req/s at c10 (in-process: calls/s of one thread)
    p50_ms: float | None = None
    p99_ms: float | None = None
    non2xx: int | None = None
    sock_errors: int = 0
    failure: str | None = None
    note: str = ""

    @property
    def valid(self) -> bool:
        return self.failure is None and not self.non2xx and not self.sock_errors


@dataclass
class Server:
    name: str
    argv: Callable[[int], list[str]]
    env: dict[str, str]
    ready_path: str
    predict_path: str
    body: Callable[[float, float], dict[str, Any]]
    startup_timeout: float
    headers: dict[str, str] = field(default_factory=dict)  # sent with every predict request


# --------------------------------------------------------------------------- model and data


def make_model(run: Path) -> tuple[LogisticRegression, np.ndarray]:
    """Train the seeded model and write train.csv, model.skops and model.pkl under ``run``."""
    rng = np.random.default_rng(SEED)
    x = rng.normal(size=(2000, 2))
    label = (x[:, 0] - 0.5 * x[:, 1] + rng.normal(scale=0.5, size=2000) > 0).astype(int)
    data = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": label})
    model = LogisticRegression().fit(data[FEATURES], data["label"])
    data.to_csv(run / "train.csv", index=False)
    sio.dump(model, run / "model.skops")
    (run / "model.pkl").write_bytes(pickle.dumps(model))
    inputs = np.random.default_rng(SEED + 1).normal(size=(N_BODIES, 2)).round(4)
    return model, inputs


def inputs_body(a: float, b: float) -> dict[str, Any]:
    return {"inputs": [{"x1": a, "x2": b}]}


def mlflow_body(a: float, b: float) -> dict[str, Any]:
    return {"dataframe_records": [{"x1": a, "x2": b}]}


# --------------------------------------------------------------------------- in-process


def bench_inprocess(model: LogisticRegression, inputs: np.ndarray, seconds: float) -> list[Result]:
    """Time single-row predict calls, each including building its input, for ``seconds``."""
    pairs = [(float(a), float(b)) for a, b in inputs]
    variants: dict[str, Callable[[float, float], Any]] = {
        "in-process ndarray": lambda a, b: model.predict(np.array([[a, b]])),
        "in-process DataFrame": lambda a, b: model.predict(pd.DataFrame([{"x1": a, "x2": b}])),
    }
    results = []
    with pinned(SERVER_CPU), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="X does not have valid feature names")
        for name, call in variants.items():
            for a, b in pairs * 4:  # warm-up
                call(a, b)
            times: list[int] = []
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline and len(times) < 200_000:
                for a, b in pairs:
                    t0 = time.perf_counter_ns()
                    call(a, b)
                    times.append(time.perf_counter_ns() - t0)
            arr = np.array(times) / 1e3  # µs
            mean = float(arr.mean())
            results.append(
                Result(
                    name,
                    rps=1e6 / mean,
                    p50_ms=float(np.percentile(arr, 50)) / 1e3,
                    p99_ms=float(np.percentile(arr, 99)) / 1e3,
                    note=f"{mean:.1f} µs/call over {len(arr)} calls",
                )
            )
    return results


@contextlib.contextmanager
def pinned(cpu: int) -> Iterator[None]:
    """Pin this process to ``cpu`` for the block when pinning is on, like the servers."""
    before = os.sched_getaffinity(0)
    if PIN:
        os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)


# --------------------------------------------------------------------------- processes


_live: list[subprocess.Popen[bytes]] = []


def start(argv: list[str], env: dict[str, str], log: TextIO) -> subprocess.Popen[bytes]:
    """Start a server in its own process group (so all its children can be killed), pinned."""
    if PIN:
        argv = ["taskset", "-c", str(SERVER_CPU), *argv]
    proc = subprocess.Popen(
        argv, cwd=RUN, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    _live.append(proc)
    return proc


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it after 10 s."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    if proc in _live:
        _live.remove(proc)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 15) -> str:
    text = path.read_text(errors="replace").splitlines() if path.exists() else []
    return "\n".join("    " + line for line in text[-lines:])


def request(
    port: int,
    method: str,
    path: str,
    body: bytes | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=5)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        headers.update(extra or {})
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen[bytes], port: int, server: Server, log: Path) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < server.startup_timeout:
        if proc.poll() is not None:
            raise BenchError(
                f"{server.name} exited with code {proc.returncode} before it was ready; "
                f"log {log}:\n{tail(log)}"
            )
        with contextlib.suppress(OSError, http.client.HTTPException):
            if request(port, "GET", server.ready_path)[0] == 200:
                return time.monotonic() - t0
        time.sleep(0.1)
    raise BenchError(
        f"{server.name}: GET {server.ready_path} was not 200 within "
        f"{server.startup_timeout:.0f} s; log {log}:\n{tail(log)}"
    )


def find_predictions(obj: Any) -> list[Any] | None:
    """Find the list of predictions in a server's JSON answer, whatever it nests it under."""
    if isinstance(obj, list):
        if obj and all(isinstance(v, int | float | str | bool) for v in obj):
            return obj
        if obj and all(isinstance(v, dict) and len(v) == 1 for v in obj):
            return [next(iter(v.values())) for v in obj]
    if isinstance(obj, dict):
        for key in ("predictions", "outputs", "prediction", "output", "predict", "results"):
            if key in obj and (found := find_predictions(obj[key])) is not None:
                return found
        for value in obj.values():
            if (found := find_predictions(value)) is not None:
                return found
    return None


def check_answer(port: int, server: Server, a: float, b: float, expected: int) -> None:
    """One request before the load: 200 and the in-process prediction, or the run is void."""
    body = json.dumps(server.body(a, b)).encode()
    status, raw = request(port, "POST", server.predict_path, body, server.headers)
    if status != 200:
        raise BenchError(
            f"{server.name}: POST {server.predict_path} answered {status}: {raw[:300]!r}"
        )
    preds = find_predictions(json.loads(raw))
    if preds is None or len(preds) != 1 or int(float(preds[0])) != expected:
        raise BenchError(
            f"{server.name}: answer {raw[:300]!r} does not hold the in-process prediction "
            f"[{expected}] for x1={a}, x2={b}"
        )


# --------------------------------------------------------------------------- wrk

LUA_TEMPLATE = """\
-- generated by bench/serving.py: POST {n} distinct bodies in turn, report JSON in done()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {{
{bodies}
}}
local reqs = {{}}
local i = 0
init = function(args)
  for k, body in ipairs(bodies) do
    reqs[k] = wrk.format(nil, "{path}", nil, body)
  end
end
request = function()
  i = i % #reqs + 1
  return reqs[i]
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {{"requests": %.0f, "duration_us": %.0f, "status": %.0f, "connect": %.0f, '
    .. '"read": %.0f, "write": %.0f, "timeout": %.0f, "p50_us": %.0f, "p99_us": %.0f}}\\n',
    summary.requests, summary.duration, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def write_lua(server: Server, inputs: np.ndarray) -> Path:
    bodies = ",\n".join(f"  [[{json.dumps(server.body(float(a), float(b)))}]]" for a, b in inputs)
    path = RUN / f"{server.name.replace(' ', '_')}.lua"
    lua = LUA_TEMPLATE.format(n=len(inputs), bodies=bodies, path=server.predict_path)
    extra = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in server.headers.items())
    path.write_text(lua.replace('wrk.method = "POST"\n', 'wrk.method = "POST"\n' + extra, 1))
    return path


def wrk(port: int, lua: Path, connections: int, seconds: float, log: TextIO) -> dict[str, float]:
    argv = [
        "wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
        "--latency", "-s", str(lua), f"http://{HOST}:{port}/",
    ]  # fmt: skip
    if PIN:
        argv = ["taskset", "-c", str(LOADGEN_CPU), *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 30)
    log.write(f"$ {' '.join(argv)}\n{out.stdout}{out.stderr}\n")
    log.flush()
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            return json.loads(line.removeprefix("BENCH_RESULT "))
    raise BenchError(f"wrk gave no result (exit {out.returncode}): {out.stderr.strip()[:300]}")


def bench_server(
    server: Server, inputs: np.ndarray, expected: np.ndarray, duration: float, warmup: float
) -> Result:
    logs = RUN / "logs"
    stem = server.name.replace(" ", "_")
    server_log, wrk_log = logs / f"{stem}.log", logs / f"{stem}.wrk.log"
    port = free_port()
    with server_log.open("w") as slog, wrk_log.open("w") as wlog:
        proc = start(server.argv(port), server.env, slog)
        try:
            ready_s = wait_ready(proc, port, server, server_log)
            check_answer(port, server, float(inputs[0, 0]), float(inputs[0, 1]), int(expected[0]))
            lua = write_lua(server, inputs)
            wrk(port, lua, 10, warmup, wlog)
            c10 = wrk(port, lua, 10, duration, wlog)
            wrk(port, lua, 1, warmup, wlog)
            c1 = wrk(port, lua, 1, duration, wlog)
        finally:
            stop(proc)
    sock = sum(int(r[k]) for r in (c10, c1) for k in ("connect", "read", "write", "timeout"))
    return Result(
        server.name,
        rps=c10["requests"] / (c10["duration_us"] / 1e6),
        p50_ms=c1["p50_us"] / 1e3,
        p99_ms=c1["p99_us"] / 1e3,
        non2xx=int(c10["status"] + c1["status"]),
        sock_errors=sock,
        note=f"ready in {ready_s:.1f} s; {int(c10['requests'] + c1['requests'])} requests",
    )


# --------------------------------------------------------------------------- the servers


def run_cli(argv: list[str], env: dict[str, str], log: TextIO) -> str:
    log.write(f"$ {' '.join(argv)}\n")
    log.flush()
    out = subprocess.run(
        argv, cwd=RUN, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    log.write(out.stdout + out.stderr)
    log.flush()
    if out.returncode != 0:
        raise BenchError(
            f"`{' '.join(Path(argv[0]).name if i == 0 else a for i, a in enumerate(argv))}` "
            f"exited {out.returncode}: {(out.stderr or out.stdout).strip()[-500:]}"
        )
    return out.stdout


def prodline_server(
    cli: Path, *, durable: bool = False, auth: bool = False, review: bool = False
) -> Server:
    """``prodline serve`` in a fresh home; ``durable``: with ``--durable-log`` (each answer
    waits for its log record's commit, shared by the requests in flight); ``auth``: with
    ``--auth token``, every request carrying a ``service`` user's bearer token; ``review``:
    with a hold-mode review policy at threshold 0 (every answer scored, none held)."""
    if not cli.exists():
        raise BenchError(
            f"prodline CLI not found at {cli}: install the package into the venv "
            f"(`.venv/bin/pip install -e .`) or pass --prodline PATH; "
            f"or leave prodline out with --only inprocess,minimal,mlflow"
        )
    label = (
        "prodline-durable"
        if durable
        else "prodline-auth"
        if auth
        else "prodline-review"
        if review
        else "prodline"
    )
    home = RUN / f"{label}-home"
    home.mkdir()
    env = {**os.environ, "PRODLINE_HOME": str(home)}
    env.pop("PRODLINE_TOKEN", None)
    setup_log = RUN / "logs" / f"{label}-setup.log"
    with setup_log.open("w") as log:
        for argv in (
            ["init"],
            ["data", "add", "train.csv", "--name", "bench-data", "--owner", "bench",
             "--source", "synthetic"],
            ["model", "register", "model.skops", "--name", "bench", "--trained-on",
             "bench-data@1"],
            ["promote", "bench@1", "--to", "production"],
        ):  # fmt: skip
            run_cli([str(cli), *argv], env, log)
        headers: dict[str, str] = {}
        if auth:  # an admin runs the server; the load generator holds a service token
            add = [str(cli), "user", "add", "bench-admin", "--role", "admin", "--token", "--json"]
            env["PRODLINE_TOKEN"] = json.loads(run_cli(add, env, log))["token"]
            add = [str(cli), "user", "add", "bench-app", "--role", "service", "--token", "--json"]
            headers["Authorization"] = f"Bearer {json.loads(run_cli(add, env, log))['token']}"
        if review:  # the venv's python, next to the CLI
            run_cli([str(cli.parent / "python"), "-c", SET_REVIEW_POLICY], env, log)
    flags = ["--durable-log"] if durable else ["--auth", "token"] if auth else []
    return Server(
        DURABLE if durable else AUTHED if auth else REVIEWED if review else "prodline",
        lambda port: [
            *(str(cli), "serve", "bench@production", "--host", HOST, "--port", str(port)),
            *flags,
        ],
        env,
        ready_path="/readyz",
        predict_path="/v1/models/bench/predict",
        body=inputs_body,
        startup_timeout=60,
        headers=headers,
    )


def minimal_server() -> Server:
    return Server(
        "minimal-fastapi",
        lambda port: [
            *(sys.executable, "-m", "uvicorn", "serving_minimal_app:app"),
            *("--app-dir", str(BENCH_DIR), "--host", HOST, "--port", str(port)),
            *("--workers", "1", "--no-access-log", "--log-level", "warning"),
        ],
        {**os.environ, "BENCH_MODEL": str(RUN / "model.skops")},
        ready_path="/readyz",
        predict_path="/v1/models/bench/predict",
        body=inputs_body,
        startup_timeout=30,
    )


MLFLOW_SAVE = """\
import pickle, sys
import pandas as pd, mlflow.sklearn
from mlflow.models import infer_signature
model = pickle.loads(open(sys.argv[1], "rb").read())
x = pd.read_csv(sys.argv[2])[["x1", "x2"]]
mlflow.sklearn.save_model(
    model, sys.argv[3], signature=infer_signature(x, model.predict(x)),
    pip_requirements=sys.argv[4:],
)
"""


def mlflow_env() -> dict[str, str]:
    # MLflow execs `uvicorn` from PATH, so its venv goes first; no network: no telemetry.
    path = f"{MLFLOW_VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
    return {
        **os.environ,
        "PATH": path,
        "VIRTUAL_ENV": str(MLFLOW_VENV),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }


def ensure_mlflow_venv(version: str) -> Path:
    """Create (once) a venv with MLflow and this venv's scikit-learn/numpy/pandas versions."""
    pins = [f"mlflow=={version}"] + [
        f"{dist}=={metadata.version(dist)}" for dist in ("scikit-learn", "numpy", "pandas")
    ]
    python, marker = MLFLOW_VENV / "bin" / "python", MLFLOW_VENV / ".bench-pins"
    if marker.exists() and marker.read_text().split() == pins and python.exists():
        return python
    console.print(f"[bold]setting up {MLFLOW_VENV} with {' '.join(pins)} (one-off, minutes)")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True, timeout=300)
    log = OUT / "mlflow-venv-install.log"
    with log.open("w") as f:
        rc = subprocess.run(
            [str(python), "-m", "pip", "install", *pins],
            stdout=f, stderr=subprocess.STDOUT, timeout=1800, check=False,
        ).returncode  # fmt: skip
    if rc != 0:
        raise BenchError(f"pip install {' '.join(pins)} failed (exit {rc}); see {log}")
    marker.write_text("\n".join(pins))
    return python


def mlflow_server(version: str) -> Server:
    python = ensure_mlflow_venv(version)
    model_dir = RUN / "mlflow-model"
    sklearn_pin = f"scikit-learn=={metadata.version('scikit-learn')}"
    with (RUN / "logs" / "mlflow-save.log").open("w") as log:
        run_cli(
            [str(python), "-c", MLFLOW_SAVE, "model.pkl", "train.csv", str(model_dir), sklearn_pin],
            mlflow_env(),
            log,
        )
    mlflow = str(MLFLOW_VENV / "bin" / "mlflow")
    return Server(
        "mlflow",
        lambda port: [
            *(mlflow, "models", "serve", "-m", str(model_dir), "--env-manager", "local"),
            *("--host", HOST, "--port", str(port), "--workers", "1"),
        ],
        mlflow_env(),
        ready_path="/ping",
        predict_path="/invocations",
        body=mlflow_body,
        startup_timeout=120,
    )


# --------------------------------------------------------------------------- report


def fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def ratio(
    results: dict[str, Result],
    num: str,
    den: str,
    key: Callable[[Result], float | None],
    digits: int = 1,
) -> str:
    for name in (num, den):
        r = results.get(name)
        if r is None:
            return f"n/a ({name} not run)"
        if not r.valid:
            return f"n/a ({name} {'failed' if r.failure else 'answered errors'})"
    a, b = key(results[num]), key(results[den])
    return "n/a" if a is None or not b else f"{a / b:.{digits}f}x"


def report(results: dict[str, Result], header: str) -> None:
    console.print(header, highlight=False, soft_wrap=True)
    table = Table()
    table.add_column("server")
    for col in ("req/s @c10", "p50 ms @c1", "p99 ms @c1", "non-2xx"):
        table.add_column(col, justify="right")
    for r in results.values():
        if r.failure:
            table.add_row(r.name, "FAILED", "-", "-", "-")
            continue
        errs = "-" if r.non2xx is None else str(r.non2xx)
        if r.sock_errors:
            errs += f" (+{r.sock_errors} socket)"
        flag = "" if r.valid else " !"
        table.add_row(
            r.name, fmt(r.rps, ",.0f") + flag, fmt(r.p50_ms, ".3f"), fmt(r.p99_ms, ".3f"), errs
        )
    console.print(table)
    for r in results.values():
        if r.failure:
            console.print(f"[red]{r.name} FAILED:[/] {r.failure}", markup=True, highlight=False)
        elif r.note:
            console.print(f"{r.name}: {r.note}", highlight=False)
    if any(r.name.startswith("in-process") for r in results.values()):
        console.print(
            "in-process rows: req/s = calls/s of one thread; p50/p99 = one predict call.",
            highlight=False,
        )
    if any(not r.valid and not r.failure for r in results.values()):
        console.print("! = answered non-2xx or had socket errors: left out of the ratios")

    prod = results.get("prodline")
    p50 = f"{prod.p50_ms:.2f} ms" if prod and prod.valid and prod.p50_ms else "n/a"

    def rps(r: Result) -> float | None:
        return r.rps

    def lat(r: Result) -> float | None:
        return r.p50_ms

    mini, ndarray = "minimal-fastapi", "in-process ndarray"
    lines = [
        f"ratio: minimal-fastapi/mlflow throughput = {ratio(results, mini, 'mlflow', rps)}",
        f"ratio: mlflow/minimal-fastapi p50 = {ratio(results, 'mlflow', mini, lat)}",
        f"ratio: prodline/in-process ndarray p50 = {ratio(results, 'prodline', ndarray, lat)}",
        f"ratio: prodline/mlflow throughput = {ratio(results, 'prodline', 'mlflow', rps)} "
        f"(target >= 4x); prodline/minimal-fastapi = {ratio(results, 'prodline', mini, rps)} "
        f"(target >= 1x); prodline p50 = {p50} (target <= 1.5 ms)",
        f"ratio: {DURABLE}/prodline throughput = {ratio(results, DURABLE, 'prodline', rps)}, "
        f"p50 = {ratio(results, DURABLE, 'prodline', lat)} (durable: no acknowledged "
        "prediction lost to kill -9)",
        f"ratio: {AUTHED}/prodline throughput = {ratio(results, AUTHED, 'prodline', rps)} "
        f"(target >= 0.9x), p50 = {ratio(results, AUTHED, 'prodline', lat)}",
        f"ratio: {REVIEWED}/prodline throughput = "
        f"{ratio(results, REVIEWED, 'prodline', rps, 2)} (target >= 0.95x), "
        f"p50 = {ratio(results, REVIEWED, 'prodline', lat, 2)}",
    ]
    for line in lines:
        console.print(line, highlight=False, soft_wrap=True)


def environment_line(duration: float, rounds: int = 1) -> str:
    have = [m for m in ("uvloop", "httptools") if _importable(m)]
    loop = "uvloop" if "uvloop" in have else "asyncio"
    http_impl = "httptools" if "httptools" in have else "h11"
    best_of = f" (each server's best of {rounds} rounds)" if rounds > 1 else ""
    return (
        f"serving bench: {duration:g} s per run{best_of}, wrk -t1 (c10 and c1), 1 worker each, "
        f"{'pinned: server cpu0, wrk cpu1' if PIN else 'not pinned'}; "
        f".venv uvicorn: {loop}/{http_impl}; load average at start {LOAD_AT_START:.2f}"
    )


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


# --------------------------------------------------------------------------- main


def best(kept: Result | None, new: Result) -> Result:
    """The better of two runs of one server: a valid run over an invalid one, then the
    higher throughput (``--rounds``: each server's best run is what the table shows)."""
    if kept is None or (not kept.valid and (new.valid or kept.failure)):
        return new
    if new.valid and (new.rps or 0.0) > (kept.rps or 0.0):
        return new
    return kept


def parse_parts(text: str) -> list[str]:
    parts = [ALIASES.get(p.strip(), p.strip()) for p in text.split(",") if p.strip()]
    unknown = sorted(set(parts) - set(PARTS))
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown part(s) {', '.join(unknown)}; choose from {', '.join(PARTS)}"
        )
    return parts


def main(argv: list[str] | None = None) -> int:
    global PIN, LOAD_AT_START
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds per warm-up run")
    parser.add_argument("--only", type=parse_parts, help=f"comma list of {','.join(PARTS)}")
    parser.add_argument("--skip", type=parse_parts, default=[], help="comma list to leave out")
    parser.add_argument("--skip-mlflow", action="store_true", help="same as --skip mlflow")
    parser.add_argument("--mlflow-version", default=MLFLOW_VERSION)
    parser.add_argument("--prodline", type=Path, default=ROOT / ".venv" / "bin" / "prodline")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server/wrk to cores")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="measure every server this many times, in turn, and keep each one's best run "
        "(steadier ratios on a busy machine)",
    )
    args = parser.parse_args(argv)
    if not 0 < args.duration <= MAX_DURATION or not 0 < args.warmup <= MAX_DURATION:
        parser.error(f"--duration and --warmup must be in (0, {MAX_DURATION:g}] seconds")
    if not 1 <= args.rounds <= MAX_ROUNDS:
        parser.error(f"--rounds must be between 1 and {MAX_ROUNDS}")
    skip = set(args.skip) | ({"mlflow"} if args.skip_mlflow else set())
    parts = [p for p in PARTS if p in (args.only or PARTS) and p not in skip]
    PIN = (
        not args.no_pin
        and shutil.which("taskset") is not None
        and len(os.sched_getaffinity(0)) >= 2
    )
    if set(parts) - {"inprocess"} and shutil.which("wrk") is None:
        console.print(f"wrk (the load generator) is not installed; install it with: {WRK_INSTALL}")
        return 2

    LOAD_AT_START = os.getloadavg()[0]
    # Ctrl-C (even where SIGINT came in ignored) and SIGTERM unwind so the servers get killed.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    shutil.rmtree(RUN, ignore_errors=True)
    (RUN / "logs").mkdir(parents=True)
    model, inputs = make_model(RUN)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = model.predict(inputs)

    results: dict[str, Result] = {}
    builders: dict[str, Callable[[], Server]] = {
        "prodline": lambda: prodline_server(args.prodline),
        "durable": lambda: prodline_server(args.prodline, durable=True),
        "auth": lambda: prodline_server(args.prodline, auth=True),
        "review": lambda: prodline_server(args.prodline, review=True),
        "minimal": minimal_server,
        "mlflow": lambda: mlflow_server(args.mlflow_version),
    }
    names = {
        "prodline": "prodline",
        "durable": DURABLE,
        "auth": AUTHED,
        "review": REVIEWED,
        "minimal": "minimal-fastapi",
        "mlflow": "mlflow",
    }
    servers: dict[str, Server] = {}  # built once; --rounds measures each again, in turn
    try:
        for round_no in range(args.rounds):
            for part in parts:
                console.print(f"[bold]{part}...[/]", highlight=False)
                if part == "inprocess":
                    if round_no == 0:
                        for r in bench_inprocess(model, inputs, min(args.duration, 3.0)):
                            results[r.name] = r
                    continue
                try:
                    if part not in servers:
                        servers[part] = builders[part]()
                    server = servers[part]
                    measured = bench_server(server, inputs, expected, args.duration, args.warmup)
                    results[server.name] = best(results.get(server.name), measured)
                except (BenchError, subprocess.SubprocessError, OSError, ValueError) as exc:
                    failed = Result(names[part], failure=str(exc))
                    results[names[part]] = best(results.get(names[part]), failed)
    except KeyboardInterrupt:
        console.print("interrupted: servers stopped, no table")
        return 130
    finally:
        for proc in list(_live):
            stop(proc)
    report(results, environment_line(args.duration, args.rounds))
    return 0 if all(r.failure is None for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())

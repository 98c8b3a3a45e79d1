"""How fast the ``prodline`` command answers, and how lean the model server starts.

Builds two workspaces in a temporary folder — an empty one (``prodline init``) and a
demo one (``prodline demo --no-servers``: the credit-risk and support-desk stories,
without starting servers) — then times, as a user's shell would see it (subprocess
wall clock, best of N), ``prodline --help``, ``--version`` and every list/show
command on both. Then it starts ``prodline serve credit-risk@production`` on the demo
workspace and reports the seconds until ``/readyz`` answers 200 and the server's
resident memory (``VmRSS`` from ``/proc/PID/status``) after 100 one-row requests, and
again after 100 more of 100 rows each: 10k predicted rows, so the prediction log has
sealed its first Parquet segment (pyarrow.parquet loaded, a DataFrame built), which is
what a server that has been up a while holds.

Baselines, run side by side: the targets of issue 6 (list/show ≤ 1.0 s, ``--help``
≤ 0.5 s, server start ≤ 3 s and ≤ 250 MB), the bare interpreter start
(``python -c pass``), and for memory a bare interpreter that imports only what any
scikit-learn pipeline on DataFrames needs (``import pandas, sklearn.pipeline``).

    .venv/bin/python bench/cli.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

BIN = Path(sys.executable).parent
PRODLINE = (
    [str(BIN / "prodline")]
    if (BIN / "prodline").exists()
    else [
        sys.executable,
        "-m",
        "prodline.cli.main",
    ]
)
LIST_SHOW = [
    ("data", "list"),
    ("data", "show", "german-credit"),
    ("model", "list"),
    ("model", "show", "credit-risk@production"),
    ("kb", "list"),
    ("kb", "show", "support-desk"),
    ("audit", "log"),
    ("audit", "verify"),
    ("lineage", "credit-risk@production"),
    ("model", "list", "--json"),
]
HELP_TARGET, LIST_TARGET, START_TARGET, RSS_TARGET_MB = 0.5, 1.0, 3.0, 250.0


def env_for(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRODLINE_")}
    return env | {"PRODLINE_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "120"}


def best_of(command: list[str], env: dict[str, str], runs: int) -> tuple[float, int]:
    """Fastest wall-clock time of ``runs`` runs, and the exit code."""
    best, code = float("inf"), 0
    for _ in range(runs):
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, check=False)
        best = min(best, time.perf_counter() - start)
        code = done.returncode
    return best, code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def start_server(env: dict[str, str]) -> tuple[float, float, float, bool]:
    """Seconds until ``/readyz`` is 200, RSS after 100 predictions and after 10k more
    predicted rows (a sealed log segment), and whether torch loaded."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [*PRODLINE, "serve", "credit-risk@production", "--port", str(port)]
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"server exited: {proc.stderr.read().decode()[-2000:]}")  # type: ignore[union-attr]
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        ready = time.perf_counter() - start
        record = {
            "sex": "female", "job": 2, "housing": "own", "saving_accounts": "little",
            "checking_account": "moderate", "credit_amount": 5951, "duration": 48,
            "purpose": "radio/TV", "age": 22,
        }  # fmt: skip
        with httpx.Client() as client:
            for _ in range(100):
                reply = client.post(
                    f"{url}/v1/models/credit-risk/predict", json={"inputs": [record]}
                )
                reply.raise_for_status()
            rss = rss_mb(proc.pid)
            for _ in range(100):
                reply = client.post(
                    f"{url}/v1/models/credit-risk/predict", json={"inputs": [record] * 100}
                )
                reply.raise_for_status()
        time.sleep(1.0)  # the log writer seals off the request path
        sealed = rss_mb(proc.pid)
        torch = "libtorch" in Path(f"/proc/{proc.pid}/maps").read_text()
        return ready, rss, sealed, torch
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def floor_rss_mb() -> float:
    """RSS of a bare interpreter holding what any scikit-learn DataFrame pipeline needs."""
    code = (
        "import pandas, sklearn.pipeline, sklearn.compose, sklearn.linear_model;"
        "print([l.split()[1] for l in open('/proc/self/status') if l.startswith('VmRSS')][0])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(done.stdout.strip()) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="best of this many runs")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        empty, demo = Path(tmp) / "empty", Path(tmp) / "demo"
        subprocess.run([*PRODLINE, "init"], env=env_for(empty), check=True, capture_output=True)
        print("building the demo workspace (prodline demo --no-servers)…", flush=True)
        built = time.perf_counter()
        subprocess.run(
            [*PRODLINE, "demo", "--no-servers"], env=env_for(demo), check=True, capture_output=True
        )
        print(f"  done in {time.perf_counter() - built:.0f} s", flush=True)

        python, _ = best_of([sys.executable, "-c", "pass"], env_for(empty), args.runs)
        rows: list[tuple[str, float, float, float, float, str]] = []
        for command, target in [(("--help",), HELP_TARGET), (("--version",), HELP_TARGET)] + [
            (c, LIST_TARGET) for c in LIST_SHOW
        ]:
            e, e_code = best_of([*PRODLINE, *command], env_for(empty), args.runs)
            d, d_code = best_of([*PRODLINE, *command], env_for(demo), args.runs)
            codes = "" if (e_code, d_code) == (0, 0) else f"exit {e_code}/{d_code}"
            rows.append(("prodline " + " ".join(command), target, python, e, d, codes))
        ready, rss, sealed, torch = start_server(env_for(demo))
        floor = floor_rss_mb()

    print()
    print(f"{'command':42} {'target':>7} {'python':>7} {'empty':>7} {'demo':>7}  note")
    for name, target, base, e, d, note in rows:
        flag = "" if max(e, d) <= target else "  OVER"
        print(f"{name:42} {target:7.2f} {base:7.3f} {e:7.3f} {d:7.3f}  {note}{flag}")
    print(f"{'model server start, s (to /readyz 200)':42} {START_TARGET:7.2f} {python:7.3f} "
          f"{'':>7} {ready:7.2f}")  # fmt: skip
    print(f"{'model server RSS, MB (after 100 requests)':42} {RSS_TARGET_MB:7.0f} {floor:7.0f} "
          f"{'':>7} {rss:7.0f}  python column: import pandas+sklearn only")  # fmt: skip
    print(f"{'  … after 10k more rows (a segment sealed)':42} {RSS_TARGET_MB:7.0f} "
          f"{floor:7.0f} {'':>7} {sealed:7.0f}")  # fmt: skip
    print(f"{'torch loaded in the model server':42} {'no':>7} {'':>7} {'':>7} "
          f"{'yes' if torch else 'no':>7}")  # fmt: skip

    worst_help = max(max(e, d) for n, _, _, e, d, _ in rows if n.endswith(("--help", "--version")))
    worst_list = max(max(e, d) for n, _, _, e, d, _ in rows if not n.endswith(("help", "version")))
    ratios = {
        "help": worst_help / HELP_TARGET,
        "list/show": worst_list / LIST_TARGET,
        "server start": ready / START_TARGET,
        "server RSS": rss / RSS_TARGET_MB,
    }
    met = all(r <= 1.0 for r in ratios.values()) and not torch
    print(
        "ratio: "
        + ", ".join(f"{k} {v:.2f}× target" for k, v in ratios.items())
        + f" (worst list/show {worst_list:.2f} s vs python -c pass {python:.3f} s); "
        + ("all targets met" if met else "NOT all targets met")
    )


if __name__ == "__main__":
    main()

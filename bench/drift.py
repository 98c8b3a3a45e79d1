"""Data drift: prodline's compute_drift against Evidently's data-drift preset, side by side.

Generates a reference and a current frame of ``N`` rows x 50 columns (40 numeric, 10
categorical; 8 numeric and 2 categorical columns shifted in the current one), then:

- numpy/scipy pass (baseline floor): per column ``scipy.stats.wasserstein_distance``
  over the std, and ``np.unique`` counts + ``scipy.spatial.distance.jensenshannon``;
- prodline: ``compute_drift(reference, current)`` (Evidently's defaults: > 1000
  reference rows → normalized Wasserstein for numeric, Jensen-Shannon for categorical);
- Evidently: ``Report([DataDriftPreset(per_column_stattest=...)])`` with each column's
  test forced to prodline's, run in its own venv (``bench/.out/evidently-venv``, made on
  the first run with ``evidently==0.7.23`` and ``pandas<3``), timing ``run`` + ``as_dict``.

Per-column verdicts are compared. Then the end-to-end case: drift of the newest 100k
rows of a model's prediction log against its training dataset version, through
``ws.drift("train@1", "m@production", last=100_000)`` (log read, the model scoring the
reference for prediction drift, the tests).

Targets: ≥ 20x Evidently with identical verdicts; 1M x 50 under 10 s; the prediction
log case ≤ 3 s. Run: ``.venv/bin/python bench/drift.py [--full] [--skip-evidently]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from prodline.monitor.drift import compute_drift

OUT = Path(__file__).resolve().parent / ".out" / "drift"
VENV = Path(__file__).resolve().parent / ".out" / "evidently-venv"
EVIDENTLY = "evidently==0.7.23"
NUMERIC = [f"num_{i}" for i in range(40)]
CATEGORICAL = [f"cat_{i}" for i in range(10)]
SHIFTED = NUMERIC[:8] + CATEGORICAL[:2]

_EVIDENTLY_SCRIPT = """
import json, sys, time
import pandas as pd
from evidently.legacy.metric_preset import DataDriftPreset
from evidently.legacy.pipeline.column_mapping import ColumnMapping
from evidently.legacy.report import Report
ref = pd.read_parquet(sys.argv[1]); cur = pd.read_parquet(sys.argv[2])
spec = json.loads(sys.argv[3])
mapping = ColumnMapping(numerical_features=spec["numeric"],
                        categorical_features=spec["categorical"])
t0 = time.perf_counter()
report = Report(metrics=[DataDriftPreset(per_column_stattest=spec["tests"],
                                         per_column_stattest_threshold=spec["thresholds"])])
report.run(reference_data=ref, current_data=cur, column_mapping=mapping)
result = report.as_dict()
seconds = time.perf_counter() - t0
cols = result["metrics"][1]["result"]["drift_by_columns"]
verdicts = {k: {"drift": bool(v["drift_detected"]), "score": float(v["drift_score"])}
            for k, v in cols.items()}
print(json.dumps({"seconds": seconds, "columns": verdicts}))
"""


def make_frames(n: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reference and current frames; the columns in SHIFTED move clearly."""
    rng = np.random.default_rng(seed)
    ref: dict[str, np.ndarray] = {}
    cur: dict[str, np.ndarray] = {}
    for i, name in enumerate(NUMERIC):
        loc, scale = float(i), 1.0 + i / 10
        ref[name] = rng.normal(loc, scale, n)
        shift = 0.5 * scale if name in SHIFTED else 0.0
        cur[name] = rng.normal(loc + shift, scale, n)
    for i, name in enumerate(CATEGORICAL):
        cats = np.array([f"c{i}_{k}" for k in range(4 + i % 4)])
        p = np.full(len(cats), 1 / len(cats))
        ref[name] = rng.choice(cats, n, p=p)
        if name in SHIFTED:
            q = np.linspace(1, 5, len(cats))
            p = q / q.sum()
        cur[name] = rng.choice(cats, n, p=p)
    return pd.DataFrame(ref), pd.DataFrame(cur)


def numpy_pass(ref: pd.DataFrame, cur: pd.DataFrame) -> float:
    """The floor: one scipy call per column on plain arrays."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    t0 = time.perf_counter()
    for name in NUMERIC:
        a, b = ref[name].to_numpy(), cur[name].to_numpy()
        wasserstein_distance(a, b) / max(float(np.std(a)), 0.001)
    for name in CATEGORICAL:
        keys = np.unique(np.concatenate([ref[name].to_numpy(), cur[name].to_numpy()]))
        r = np.array([(ref[name].to_numpy() == k).mean() for k in keys])
        c = np.array([(cur[name].to_numpy() == k).mean() for k in keys])
        jensenshannon(r, c)
    return time.perf_counter() - t0


def ensure_evidently() -> tuple[Path | None, str]:
    """The venv's python, installing Evidently on first use; (None, why) when it cannot."""
    python = VENV / "bin" / "python"
    check = [str(python), "-c", "import evidently.legacy.report"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python, ""
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", EVIDENTLY, "pandas<3"],
            capture_output=True,
            text=True,
            timeout=1200,
        )
    except (subprocess.SubprocessError, OSError) as exc:
        return None, f"could not create {VENV}: {exc}"
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return None, f"pip install {EVIDENTLY} 'pandas<3' failed: {' | '.join(tail)}"
    return python, ""


def run_evidently(
    python: Path, ref_path: Path, cur_path: Path, tests: dict[str, str], thresholds: dict
) -> dict:
    spec = {"numeric": NUMERIC, "categorical": CATEGORICAL, "tests": tests}
    spec["thresholds"] = thresholds
    done = subprocess.run(
        [str(python), "-c", _EVIDENTLY_SCRIPT, str(ref_path), str(cur_path), json.dumps(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def bench_size(n: int, python: Path | None, why: str) -> str:
    ref, cur = make_frames(n)
    OUT.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = OUT / f"ref_{n}.parquet", OUT / f"cur_{n}.parquet"
    ref.to_parquet(ref_path, index=False)
    cur.to_parquet(cur_path, index=False)
    base_s = numpy_pass(ref, cur)
    t0 = time.perf_counter()
    report = compute_drift(ref, cur)
    ours_s = time.perf_counter() - t0
    drifted = sorted(report.drifted)
    expected = sorted(SHIFTED)
    line = (
        f"| {n:>9,} x 50 | prodline {ours_s:7.3f} s | numpy/scipy pass {base_s:7.3f} s "
        f"({base_s / ours_s:5.1f}x) | drifted {len(drifted)}/50"
        f"{'' if drifted == expected else ' (expected ' + str(expected) + ')'}"
    )
    if python is None:
        return line + f" | evidently: not run ({why})"
    tests = {name: c.test for name, c in report.columns.items()}
    thresholds = {name: c.threshold for name, c in report.columns.items()}
    ev = run_evidently(python, ref_path, cur_path, tests, thresholds)
    agree = [
        name
        for name in report.columns
        if report.columns[name].drift == ev["columns"][name]["drift"]
    ]
    score_gap = max(
        abs((c.score if c.score is not None else c.p_value or 0.0) - ev["columns"][name]["score"])
        for name, c in report.columns.items()
    )
    return line + (
        f" | evidently {ev['seconds']:8.3f} s | ratio {ev['seconds'] / ours_s:6.1f}x | "
        f"verdicts agree {len(agree)}/50 | max score gap {score_gap:.1e}"
    )


def bench_log(rows: int = 100_000) -> str:
    """ws.drift over the newest ``rows`` logged predictions against the training version."""
    from sklearn.linear_model import LogisticRegression

    from prodline.ledger.predictions import Prediction, PredictionWriter
    from prodline.workspace import Workspace

    features = [f"f{i}" for i in range(10)]
    rng = np.random.default_rng(1)
    train = pd.DataFrame(rng.normal(size=(5_000, 10)), columns=features)
    train["y"] = (train["f0"] + rng.normal(size=5_000) > 0).astype(int)
    with tempfile.TemporaryDirectory(prefix="prodline-bench-") as tmp:
        ws = Workspace.open(Path(tmp) / "home", actor="bench")
        ws.datasets.register(train, name="train", owner="bench")
        model = LogisticRegression().fit(train[features], train["y"])
        mv = ws.models.register(model, name="m", trained_on=["train@1"], target="y", git_commit="")
        ws.promote("m", mv.version, "production")
        live = rng.normal(size=(rows, 10)).round(4)
        live[:, :3] += 0.5  # three inputs shift
        proba = model.predict_proba(pd.DataFrame(live, columns=features))
        writer = PredictionWriter(ws.db, ws.artifacts)
        t_first = time.time() - rows / 1000
        batch = []
        for i in range(rows):
            batch.append(
                Prediction(
                    f"r{i}",
                    "m",
                    mv.version,
                    t_first + i / 1000,
                    [dict(zip(features, live[i].tolist(), strict=True))],
                    [int(proba[i, 1] > 0.5)],
                    [proba[i].tolist()],
                    [0, 1],
                    0.5,
                )
            )
            if len(batch) == 2_000:
                writer.write(batch)
                batch = []
        writer.write(batch)
        writer.close()
        t0 = time.perf_counter()
        report = ws.drift("train@1", "m@production", last=rows)
        seconds = time.perf_counter() - t0
        ws.close()
    return (
        f"| log {rows:,} rows | ws.drift(train@1, m@production, last={rows:,}) {seconds:6.3f} s "
        f"(target <= 3 s) | drifted: {', '.join(report.drifted)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also 1M rows")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--skip-evidently", action="store_true")
    args = parser.parse_args()
    print(f"# load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; {EVIDENTLY}")
    python, why = (None, "--skip-evidently") if args.skip_evidently else ensure_evidently()
    sizes = [args.rows] + ([1_000_000] if args.full else [])
    for n in sizes:
        print(bench_size(n, python, why), flush=True)
    print(bench_log(), flush=True)


if __name__ == "__main__":
    main()

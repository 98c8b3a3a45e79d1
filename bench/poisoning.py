"""Data-poisoning scan: measured precision and recall on planted label flips and more.

Two real datasets: scikit-learn's bundled breast-cancer set (569 rows, 30 numeric
features; a learnable problem, ~97 % accuracy) and the German credit set that the demo
ships (1,000 rows, mixed features; a hard one, ~75 % accuracy). For each, over
``--seeds`` seeds:

- **clean**: the share of rows the scan flags with nothing planted (what a gate sees on
  an honest dataset);
- **flips**: ``--rate`` of the rows get their label flipped; precision and recall of
  the ``label_error`` part against the flipped rows;
- **copies**: 2 % of the rows are copied with the label flipped; recall of
  ``duplicate_conflict`` on the copies;
- **far values**: 1 % of the rows get one numeric feature set 10 standard deviations
  beyond its maximum; recall of ``outlier`` on them.

Means over seeds (min-max in brackets). Run: ``.venv/bin/python bench/poisoning.py``
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from prodline.data.poisoning import scan_poisoning

GERMAN = Path(__file__).resolve().parents[1] / "src/prodline/demo/data/german_credit.csv"


def datasets() -> dict[str, tuple[pd.DataFrame, str]]:
    """(frame, target) for each dataset."""
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer(as_frame=True).frame
    return {"breast_cancer": (cancer, "target"), "german_credit": (pd.read_csv(GERMAN), "risk")}


def flip(frame: pd.DataFrame, target: str, rate: float, seed: int) -> tuple[pd.DataFrame, set[int]]:
    """A copy with ``rate`` of the (binary) labels flipped, and the flipped positions."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(len(frame), round(rate * len(frame)), replace=False)
    out = frame.copy()
    out.loc[rows, target] = 1 - out.loc[rows, target]
    return out, set(rows.tolist())


def copies(frame: pd.DataFrame, target: str, seed: int) -> tuple[pd.DataFrame, set[int]]:
    """2 % of the rows appended again with the label flipped; the appended positions."""
    rng = np.random.default_rng(seed)
    picked = frame.iloc[rng.choice(len(frame), max(1, len(frame) // 50), replace=False)].copy()
    picked[target] = 1 - picked[target]
    out = pd.concat([frame, picked], ignore_index=True)
    return out, set(range(len(frame), len(out)))


def far_values(frame: pd.DataFrame, target: str, seed: int) -> tuple[pd.DataFrame, set[int]]:
    """1 % of the rows with one numeric feature set 10 std beyond its maximum."""
    rng = np.random.default_rng(seed)
    numeric = [c for c in frame.select_dtypes("number").columns if c != target]
    out = frame.astype({c: float for c in numeric})
    rows = rng.choice(len(frame), max(1, len(frame) // 100), replace=False)
    for row in rows.tolist():
        column = numeric[int(rng.integers(len(numeric)))]
        out.loc[row, column] = out[column].max() + 10 * out[column].std()
    return out, set(rows.tolist())


def _fmt(values: list[float]) -> str:
    return f"{np.mean(values):.2f} [{min(values):.2f}-{max(values):.2f}]"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--rate", type=float, default=0.05)
    parser.add_argument("--label-confidence", type=float, default=0.15)
    args = parser.parse_args()
    options = {"label_confidence": args.label_confidence}
    print(
        f"# load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; "
        f"{args.seeds} seeds; flips {args.rate:.0%}; label_confidence {args.label_confidence}"
    )
    print(
        "| dataset | clean share flagged | flips: label_error precision | recall "
        "| copies: duplicate_conflict recall | far values: outlier recall | s/scan |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, (frame, target) in datasets().items():
        clean, precision, recall, dup, out, seconds = [], [], [], [], [], []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            clean.append(scan_poisoning(frame, target, seed=seed, **options).share)
            seconds.append(time.perf_counter() - t0)
            flipped, truth = flip(frame, target, args.rate, seed)
            found = set(
                scan_poisoning(flipped, target, seed=seed, **options).rows_with("label_error")
            )
            precision.append(len(found & truth) / len(found) if found else 0.0)
            recall.append(len(found & truth) / len(truth))
            copied, planted = copies(frame, target, seed)
            report = scan_poisoning(copied, target, seed=seed, **options)
            dup.append(len(set(report.rows_with("duplicate_conflict")) & planted) / len(planted))
            moved, planted = far_values(frame, target, seed)
            report = scan_poisoning(moved, target, seed=seed, **options)
            out.append(len(set(report.rows_with("outlier")) & planted) / len(planted))
        print(
            f"| {name} ({len(frame)} rows) | {_fmt(clean)} | {_fmt(precision)} | {_fmt(recall)} "
            f"| {_fmt(dup)} | {_fmt(out)} | {np.mean(seconds):.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

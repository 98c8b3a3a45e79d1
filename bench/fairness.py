"""Fairness audit: prodline's one grouped pass against fairlearn's MetricFrame, same run.

Generates ``N`` decisions (default 1M) with three protected attributes: sex (2 values),
age band (5) and region (4), so their intersection has 40 groups, with a built-in bias
so the disparities are not zero. Every group has actual positives and negatives, so
every rate is defined for both tools.

- fairlearn: one ``MetricFrame`` per grouping (sex, age band, region, and the
  intersection sex x age band x region) with the four metrics of the audit
  (``selection_rate``, ``true_positive_rate``, ``false_positive_rate``, scikit-learn's
  ``accuracy_score``), then ``difference()`` / ``ratio()`` for the demographic-parity
  difference, equalized-odds difference and disparate-impact ratio;
- prodline: ``fairness_audit(y_true, y_pred, groups, min_group_size=1)`` (every group
  counts, as in fairlearn), best of 3.

Every per-group number and every disparity is compared; the last line prints the
ratio. Target: ≥ 20x fairlearn with identical numbers (to 1e-9).
Run: ``.venv/bin/python bench/fairness.py [--rows N]``
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import pandas as pd

from prodline.gates.fairness import FairnessReport, fairness_audit

ATTRIBUTES = {
    "sex": ["female", "male"],
    "age": ["<25", "25-34", "35-44", "45-54", "55+"],
    "region": ["north", "south", "east", "west"],
}


def make_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Outcomes, biased decisions and the three protected attributes."""
    rng = np.random.default_rng(seed)
    groups = pd.DataFrame({name: rng.choice(values, n) for name, values in ATTRIBUTES.items()})
    y_true = rng.integers(0, 2, n)
    bias = 0.1 * (groups["sex"] == "male").to_numpy() + 0.05 * (groups["age"] == "55+").to_numpy()
    y_pred = (rng.random(n) < 0.3 + bias + 0.3 * y_true).astype(np.int64)
    return y_true, y_pred, groups


def run_fairlearn(
    y_true: np.ndarray, y_pred: np.ndarray, groups: pd.DataFrame
) -> tuple[float, dict[str, tuple[pd.DataFrame, float, float, float]]]:
    """Seconds, and per grouping (by_group table, DP difference, EO difference, DI ratio)."""
    from fairlearn.metrics import (
        MetricFrame,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score

    metrics = {
        "selection_rate": selection_rate,
        "tpr": true_positive_rate,
        "fpr": false_positive_rate,
        "accuracy": accuracy_score,
    }
    out = {}
    t0 = time.perf_counter()
    for names in [[a] for a in ATTRIBUTES] + [list(ATTRIBUTES)]:
        frame = MetricFrame(
            metrics=metrics, y_true=y_true, y_pred=y_pred, sensitive_features=groups[names]
        )
        diff, ratio = frame.difference(), frame.ratio()
        out["&".join(names)] = (
            frame.by_group,
            float(diff["selection_rate"]),
            float(max(diff["tpr"], diff["fpr"])),
            float(ratio["selection_rate"]),
        )
    return time.perf_counter() - t0, out


def compare(
    report: FairnessReport, theirs: dict[str, tuple[pd.DataFrame, float, float, float]]
) -> tuple[int, float]:
    """(numbers compared, largest absolute gap) over every group rate and disparity."""
    compared, gap = 0, 0.0
    for grouping in report.groupings:
        by_group, dpd, eod, dir_ = theirs[grouping.name]
        if len(by_group) != len(grouping.groups):
            return compared, float("inf")
        for stats in grouping.groups:
            key = tuple(v for _, v in stats.values)
            row = by_group.loc[key if len(key) > 1 else key[0]]
            for metric in ("selection_rate", "tpr", "fpr", "accuracy"):
                gap = max(gap, abs(float(getattr(stats, metric)) - float(row[metric])))
                compared += 1
        for ours, other in (
            (grouping.demographic_parity_difference, dpd),
            (grouping.equalized_odds_difference, eod),
            (grouping.disparate_impact_ratio, dir_),
        ):
            gap = max(gap, abs(float(ours) - other) if ours is not None else float("inf"))
            compared += 1
    return compared, gap


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    import fairlearn

    print(
        f"# load average {os.getloadavg()[0]:.2f}; {os.cpu_count()} CPUs; "
        f"fairlearn {fairlearn.__version__}"
    )
    y_true, y_pred, groups = make_data(args.rows)
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        report = fairness_audit(y_true, y_pred, groups, min_group_size=1)
        times.append(time.perf_counter() - t0)
    ours = min(times)
    groups_n = sum(len(g.groups) for g in report.groupings)
    print(
        f"| {args.rows:,} rows x 3 attributes + intersection ({groups_n} groups) "
        f"| prodline fairness_audit {ours:7.3f} s",
        flush=True,
    )
    theirs_s, theirs = run_fairlearn(y_true, y_pred, groups)
    compared, gap = compare(report, theirs)
    agree = gap <= 1e-9
    print(
        f"| fairlearn MetricFrame x 4 groupings {theirs_s:7.3f} s "
        f"| numbers compared {compared} | max gap {gap:.1e} | identical: {'yes' if agree else 'NO'}"
    )
    print(
        f"ratio: {theirs_s / ours:.1f}x fairlearn's time "
        f"(target >= 20x, identical numbers: {'yes' if agree else 'NO'})"
    )


if __name__ == "__main__":
    main()

"""Concept drift: detection delay and false alarms of ADWIN, Page-Hinkley and DDM, against
a batch check of fixed windows, on error streams with a known change point.

Streams (each with ``--seeds`` seeds; the change at error-stream row 3,000 of 8,000):

- bernoulli: a model's 0/1 errors drawn directly, error rate 10 % then 30 %;
- SEA: river's ``ConceptDriftStream`` from SEA concept 0 to concept 3 (width 50); a
  decision tree (depth 6) fitted on 2,000 rows of the first concept predicts the next
  8,000, and its errors are the stream;
- Agrawal: the same with river's Agrawal generator, classification function 0 to 2;
- and each generator's **stationary** twin (no change) for false alarms.

Per detector (``prodline.monitor.concept``) and stream: mean delay (rows from the change
to the first detection at or after it), misses (no detection within 3,000 rows), false
alarms (detections before the change, plus every detection on the stationary twin).
The baseline is what a batch monitor does: every 500 rows, a two-proportion z-test of
the last 500 errors against the first 1,000 (alarm at p < 0.01); its delay counts to the
end of the first alarming window. Run: ``.venv/bin/python bench/concept.py [--seeds 5]``
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from prodline.monitor.concept import DETECTORS, detect_concept_drift

CHANGE = 3_000
ROWS = 8_000
TRAIN = 2_000
HORIZON = 3_000


def bernoulli(seed: int, drift: bool) -> np.ndarray:
    rng = np.random.default_rng(seed)
    after = 0.30 if drift else 0.10
    return np.r_[rng.random(CHANGE) < 0.10, rng.random(ROWS - CHANGE) < after].astype(float)


def generated(make: Callable[[int, bool], object]) -> Callable[[int, bool], np.ndarray]:
    def errors(seed: int, drift: bool) -> np.ndarray:
        from sklearn.tree import DecisionTreeClassifier

        rows = list(itertools.islice(make(seed, drift), TRAIN + ROWS))  # type: ignore[call-overload]
        x = pd.DataFrame([r[0] for r in rows])
        y = np.array([int(r[1]) for r in rows])
        model = DecisionTreeClassifier(max_depth=6, random_state=0).fit(x[:TRAIN], y[:TRAIN])
        return (model.predict(x[TRAIN:]) != y[TRAIN:]).astype(float)

    return errors


def sea(seed: int, drift: bool) -> object:
    from river.datasets import synth

    return synth.ConceptDriftStream(
        stream=synth.SEA(variant=0, seed=seed),
        drift_stream=synth.SEA(variant=3 if drift else 0, seed=seed + 1000),
        position=TRAIN + CHANGE,
        width=50,
        seed=seed,
    )


def agrawal(seed: int, drift: bool) -> object:
    from river.datasets import synth

    return synth.ConceptDriftStream(
        stream=synth.Agrawal(classification_function=0, seed=seed),
        drift_stream=synth.Agrawal(classification_function=2 if drift else 0, seed=seed + 1000),
        position=TRAIN + CHANGE,
        width=50,
        seed=seed,
    )


def batch_check(errors: np.ndarray, window: int = 500, alpha: float = 0.01) -> list[int]:
    """Row indices (window ends) where the last window's error rate differs from the
    first 1,000 rows' by a two-proportion z-test."""
    ref = errors[:1000]
    hits = []
    for end in range(1000 + window, len(errors) + 1, window):
        cur = errors[end - window : end]
        p = (ref.sum() + cur.sum()) / (len(ref) + len(cur))
        se = math.sqrt(max(p * (1 - p) * (1 / len(ref) + 1 / len(cur)), 1e-12))
        z = abs(cur.mean() - ref.mean()) / se
        if math.erfc(z / math.sqrt(2)) < alpha:
            hits.append(end - 1)
    return hits


def score(hits: list[int], drift: bool) -> tuple[int | None, int]:
    """(delay or None when missed, false alarms)."""
    if not drift:
        return None, len(hits)
    early = sum(1 for h in hits if h < CHANGE)
    after = [h for h in hits if CHANGE <= h < CHANGE + HORIZON]
    return (after[0] - CHANGE if after else None), early


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    streams = {"bernoulli": bernoulli, "SEA": generated(sea), "Agrawal": generated(agrawal)}
    methods = [*DETECTORS, "batch z-test (baseline)"]
    print(f"# concept drift: change at row {CHANGE} of {ROWS}, {args.seeds} seeds per stream")
    print(f"# load average: {os.getloadavg()[0]:.2f}")
    print(f"{'stream':<10} {'detector':<24} {'mean delay':>10} {'missed':>7} {'false alarms':>13}")
    delays: dict[str, list[int]] = {m: [] for m in methods}
    t0 = time.perf_counter()
    for stream, make in streams.items():
        found: dict[str, list[int]] = {m: [] for m in methods}
        missed = dict.fromkeys(methods, 0)
        alarms = dict.fromkeys(methods, 0)
        for seed in range(args.seeds):
            for drift in (True, False):
                errors = make(seed, drift)
                report = detect_concept_drift(errors)
                hits = {name: list(r.detections) for name, r in report.detectors.items()}
                hits["batch z-test (baseline)"] = batch_check(errors)
                for method in methods:
                    delay, false = score(hits[method], drift)
                    alarms[method] += false
                    if drift and delay is None:
                        missed[method] += 1
                    elif delay is not None:
                        found[method].append(delay)
        for method in methods:
            mean = f"{np.mean(found[method]):.0f}" if found[method] else "-"
            print(
                f"{stream:<10} {method:<24} {mean:>10} {missed[method]:>4}/{args.seeds:<2} "
                f"{alarms[method]:>13}"
            )
            delays[method].extend(found[method])
    best = min(DETECTORS, key=lambda d: np.mean(delays[d]) if delays[d] else math.inf)
    base = np.mean(delays["batch z-test (baseline)"])
    print(f"# {time.perf_counter() - t0:.1f} s")
    print(
        f"ratio: batch z-test mean delay / {best} mean delay = "
        f"{base / np.mean(delays[best]):.2f}x ({base:.0f} vs {np.mean(delays[best]):.0f} rows)"
    )


if __name__ == "__main__":
    main()

"""Concept-drift detectors find a known change in an error stream and stay quiet on a
stationary one; a real model's error stream on river's drifting generators."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from prodline.errors import InvalidInput
from prodline.monitor.concept import DETECTORS, detect_concept_drift
from prodline.monitor.performance import error_stream


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_detects_a_rise_in_error_rate_soon_after_the_change(seed: int) -> None:
    rng = np.random.default_rng(seed)
    stream = np.r_[rng.random(3000) < 0.1, rng.random(3000) < 0.35].astype(float)
    report = detect_concept_drift(stream)
    assert report.drift and report.binary
    for name in ("adwin", "page_hinkley"):
        result = report.detectors[name]
        assert result.first_index is not None, name
        assert 3000 <= result.first_index < 3400, (name, result.detections)
    # DDM may false-alarm before the change (see the module docstring); it finds it too
    assert any(3000 <= i < 3400 for i in report.detectors["ddm"].detections)


def test_quiet_on_stationary_streams() -> None:
    alarms = dict.fromkeys(DETECTORS, 0)
    for seed in range(10):
        rng = np.random.default_rng(100 + seed)
        stream = (rng.random(6000) < 0.15).astype(float)
        report = detect_concept_drift(stream)
        for name, result in report.detectors.items():
            alarms[name] += result.count
    assert alarms["adwin"] == 0 and alarms["page_hinkley"] == 0
    assert alarms["ddm"] <= 3  # 10 streams x 6,000 rows: DDM is the jumpiest


def test_quiet_stream_reports_no_drift() -> None:
    stream = (np.random.default_rng(101).random(4000) < 0.2).astype(float)
    report = detect_concept_drift(stream, detectors=["adwin", "page_hinkley"])
    assert not report.drift and report.to_dict()["drift"] is False


def test_regression_errors_skip_ddm_and_report_times() -> None:
    rng = np.random.default_rng(5)
    stream = np.abs(np.r_[rng.normal(0, 1, 2000), rng.normal(0, 3, 2000)])
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    ts = pd.Series([t0 + timedelta(seconds=i) for i in range(4000)])
    report = detect_concept_drift(stream, ts=ts)
    assert not report.binary
    assert report.detectors["ddm"].skipped and report.detectors["ddm"].count == 0
    adwin = report.detectors["adwin"]
    assert adwin.first_index is not None and 2000 <= adwin.first_index < 2300
    assert adwin.first_ts == t0 + timedelta(seconds=adwin.first_index)
    doc = report.to_dict()
    assert doc["drift"] is True and doc["detectors"]["adwin"]["first_ts"].startswith("2026-03-01")


def test_params_reach_river() -> None:
    rng = np.random.default_rng(0)
    stream = np.r_[rng.random(3000) < 0.1, rng.random(3000) < 0.35].astype(float)
    loose = detect_concept_drift(
        stream, detectors=["page_hinkley"], params={"page_hinkley": {"threshold": 10}}
    )
    strict = detect_concept_drift(
        stream, detectors=["page_hinkley"], params={"page_hinkley": {"threshold": 200}}
    )
    assert loose.detectors["page_hinkley"].params["threshold"] == 10
    assert (
        loose.detectors["page_hinkley"].first_index < strict.detectors["page_hinkley"].first_index
    )  # type: ignore[operator]


def test_a_real_models_errors_on_a_drifting_river_stream() -> None:
    """SEA concepts 0 → 3 at row 3000 (river's ConceptDriftStream): a tree fitted on the
    first concept errs more after the change, and the detectors see it."""
    from river.datasets import synth
    from sklearn.tree import DecisionTreeClassifier

    stream = synth.ConceptDriftStream(
        stream=synth.SEA(variant=0, seed=1),
        drift_stream=synth.SEA(variant=3, seed=2),
        position=3000,
        width=50,
        seed=3,
    )
    rows = list(itertools.islice(stream, 6000))
    x = pd.DataFrame([r[0] for r in rows])
    y = np.array([int(r[1]) for r in rows])
    model = DecisionTreeClassifier(max_depth=6, random_state=0).fit(x[:1000], y[:1000])
    frame = pd.DataFrame({"prediction": model.predict(x[1000:]), "label": y[1000:]})
    errors = error_stream(frame)
    assert errors[:2000].mean() < errors[2000:].mean()
    report = detect_concept_drift(errors)
    for name in DETECTORS:
        first = report.detectors[name].first_index
        assert first is not None and 1900 <= first < 2600, (name, report.detectors[name])


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"errors": [[0.0, 1.0]]}, "1-D"),
        ({"errors": [0.0, float("nan")]}, "NaN"),
        ({"errors": [0.0], "detectors": ["kswin"]}, "Unknown concept-drift detector"),
        ({"errors": [0.0], "params": {"adwn": {}}}, "unknown detector 'adwn'"),
        ({"errors": [0.0], "params": {"adwin": {"speed": 3}}}, "Bad parameters for adwin"),
        ({"errors": [0.0, 1.0], "ts": [datetime.now(UTC)]}, "one time per error"),
    ],
)
def test_bad_input(kwargs: dict, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        detect_concept_drift(**kwargs)

"""Performance per window and per version equals scikit-learn's metrics on the same rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import (
    accuracy_score,
    f1_score,
    mean_absolute_error,
    roc_auc_score,
    root_mean_squared_error,
)

from prodline.errors import InvalidInput
from prodline.monitor.performance import error_stream, parse_window, performance

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def binary_frame(n: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    p1 = np.clip(label * 0.35 + rng.random(n) * 0.65, 0, 1)
    return pd.DataFrame(
        {
            "prediction": (p1 > 0.5).astype(int),
            "proba_0": 1 - p1,
            "proba_1": p1,
            "label": label,
            "version": np.where(np.arange(n) < n // 2, 1, 2),
            "ts": [T0 + timedelta(minutes=i) for i in range(n)],
        }
    )


def test_binary_metrics_per_version_and_row_window_equal_sklearn() -> None:
    frame = binary_frame()
    report = performance(frame, window=100)
    assert set(report.versions) == {1, 2} and report.rows == 600
    for version, part in frame.groupby("version"):
        got = report.versions[version]
        assert got["accuracy"] == pytest.approx(accuracy_score(part.label, part.prediction))
        assert got["f1"] == pytest.approx(f1_score(part.label, part.prediction))
        assert got["roc_auc"] == pytest.approx(roc_auc_score(part.label, part.proba_1))
        assert got["f1_average"] == "binary" and got["rows"] == 300
    assert [w.rows for w in report.windows] == [100] * 6
    third = report.windows[2]  # version 1 rows 200-299
    part = frame.iloc[200:300]
    assert third.version == 1 and third.start == T0 + timedelta(minutes=200)
    assert third.metrics["accuracy"] == pytest.approx(accuracy_score(part.label, part.prediction))
    assert third.metrics["roc_auc"] == pytest.approx(roc_auc_score(part.label, part.proba_1))
    doc = report.to_dict()
    assert doc["versions"]["1"]["version"] == 1 and len(doc["windows"]) == 6
    assert doc["windows"][0]["start"].startswith("2026-01-01T00:00")


def test_time_windows_bucket_on_the_clock() -> None:
    frame = binary_frame(240)  # 4 hours, one row a minute, two versions
    report = performance(frame, window="1h")
    assert [(w.version, w.rows) for w in report.windows] == [(1, 60), (1, 60), (2, 60), (2, 60)]
    last = frame.iloc[180:]
    assert report.windows[-1].metrics["f1"] == pytest.approx(f1_score(last.label, last.prediction))
    assert performance(frame, window=timedelta(hours=2)).windows[0].rows == 120


def test_string_labels_positive_class_and_json_numbers() -> None:
    frame = pd.DataFrame(
        {
            "prediction": ["good", "bad", "good", "good", "bad"],
            "label": ["good", "bad", "bad", "good", "good"],
            "proba_bad": [0.1, 0.8, 0.3, 0.2, 0.6],
            "proba_good": [0.9, 0.2, 0.7, 0.8, 0.4],
        }
    )
    report = performance(frame)
    y, p = frame.label, frame.prediction
    assert report.metric("f1") == pytest.approx(f1_score(y, p, pos_label="good"))
    assert report.metric("roc_auc") == pytest.approx(roc_auc_score(y == "good", frame.proba_good))
    bad = performance(frame, positive="bad")
    assert bad.metric("f1") == pytest.approx(f1_score(y, p, pos_label="bad"))
    # labels from JSON arrive as Python objects; predictions as int64
    mixed = pd.DataFrame({"prediction": [1, 0, 1], "label": pd.Series([1, 1, 1], dtype=object)})
    assert performance(mixed).metric("accuracy") == pytest.approx(2 / 3)


def test_multiclass_macro_f1_and_ovr_auc() -> None:
    rng = np.random.default_rng(3)
    n = 300
    label = rng.integers(0, 3, n)
    proba = rng.dirichlet([1, 1, 1], n)
    proba[np.arange(n), label] += 0.5
    proba /= proba.sum(axis=1, keepdims=True)
    frame = pd.DataFrame(proba, columns=["proba_0", "proba_1", "proba_2"])
    frame["prediction"] = proba.argmax(axis=1)
    frame["label"] = label
    report = performance(frame)
    assert report.metric("f1_average") == "macro"
    assert report.metric("f1") == pytest.approx(f1_score(label, frame.prediction, average="macro"))
    assert report.metric("roc_auc") == pytest.approx(roc_auc_score(label, proba, multi_class="ovr"))


def test_auc_is_none_when_a_window_holds_one_class_or_no_probabilities() -> None:
    frame = pd.DataFrame({"prediction": [1, 1, 0], "label": [1, 1, 1], "proba_1": [0.9, 0.8, 0.4]})
    assert performance(frame).metric("roc_auc") is None
    assert performance(frame.drop(columns="proba_1")).metric("roc_auc") is None


def test_regression_mae_rmse() -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=200)
    pred = y + rng.normal(scale=0.5, size=200)
    frame = pd.DataFrame({"prediction": pred, "label": y})
    report = performance(frame, "regression", window=50)
    assert report.metric("mae") == pytest.approx(mean_absolute_error(y, pred))
    assert report.metric("rmse") == pytest.approx(root_mean_squared_error(y, pred))
    assert report.windows[1].metrics["mae"] == pytest.approx(
        mean_absolute_error(y[50:100], pred[50:100])
    )
    np.testing.assert_allclose(error_stream(frame, "regression"), np.abs(y - pred))


def test_error_stream_is_ordered_by_time() -> None:
    frame = pd.DataFrame(
        {"prediction": [1, 0, 1], "label": [1, 1, 0], "ts": [T0 + timedelta(s) for s in (2, 0, 1)]}
    )
    assert error_stream(frame).tolist() == [1.0, 1.0, 0.0]


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda f: performance(f, "ranking"), "task must be"),
        (lambda f: performance(f.drop(columns="label")), "no 'label' column"),
        (lambda f: performance(f, window=0), "at least 1 row"),
        (lambda f: performance(f, window="soon"), "30m, 1h or 1d"),
        (lambda f: performance(f.drop(columns="ts"), window="1h"), "needs a 'ts' column"),
        (lambda f: performance(f).metric("accuracy", 9), "versions with labels: \\[1, 2\\]"),
    ],
)
def test_bad_input(call: object, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        call(binary_frame(20))  # type: ignore[operator]


def test_parse_window() -> None:
    assert parse_window("15m") == ("time", 900.0)
    assert parse_window("1000") == ("rows", 1000)

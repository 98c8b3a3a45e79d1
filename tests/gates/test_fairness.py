"""The fairness audit against fairlearn (the oracle), small groups, intersections, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score

from prodline.errors import InvalidInput
from prodline.gates.fairness import fairness_audit, protected_groups

GERMAN = Path(__file__).resolve().parents[2] / "src/prodline/demo/data/german_credit.csv"
METRICS = {
    "selection_rate": selection_rate,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "accuracy": accuracy_score,
}


def _synthetic(n: int = 20_000, seed: int = 3) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    groups = pd.DataFrame(
        {
            "sex": rng.choice(["female", "male"], n, p=[0.4, 0.6]),
            "age": rng.choice(["<25", "25-44", "45+"], n),
            "region": rng.choice(["north", "south", "east", "west"], n),
        }
    )
    y_true = rng.integers(0, 2, n)
    bias = (groups["sex"] == "male").to_numpy() * 0.15 + (groups["age"] == "45+").to_numpy() * 0.1
    y_pred = (rng.random(n) < 0.35 + bias + 0.2 * y_true).astype(int)
    return y_true, y_pred, groups


def _assert_matches_fairlearn(report, y_true, y_pred, groups, attributes) -> None:  # type: ignore[no-untyped-def]
    features = groups[list(attributes)]
    frame = MetricFrame(
        metrics=METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=features
    ).by_group
    grouping = report.grouping(list(attributes))
    assert len(grouping.groups) == len(frame)
    for stats in grouping.groups:
        key = tuple(v for _, v in stats.values)
        row = frame.loc[key if len(key) > 1 else key[0]]
        for metric in METRICS:
            assert getattr(stats, metric) == pytest.approx(row[metric], abs=1e-9), (key, metric)
        assert stats.count == int((features == pd.Series(dict(stats.values))).all(axis=1).sum())
    kwargs = {"sensitive_features": features}
    assert grouping.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(y_true, y_pred, **kwargs), abs=1e-9
    )
    assert grouping.equalized_odds_difference == pytest.approx(
        equalized_odds_difference(y_true, y_pred, **kwargs), abs=1e-9
    )
    assert grouping.disparate_impact_ratio == pytest.approx(
        demographic_parity_ratio(y_true, y_pred, **kwargs), abs=1e-9
    )


def test_every_number_equals_fairlearn_per_attribute_and_intersection() -> None:
    y_true, y_pred, groups = _synthetic()
    report = fairness_audit(y_true, y_pred, groups, min_group_size=1)
    names = [g.name for g in report.groupings]
    assert names == ["sex", "age", "region", "sex&age&region"]
    assert len(report.grouping("sex&age&region").groups) == 24
    for attributes in (["sex"], ["age"], ["region"], ["sex", "age", "region"]):
        _assert_matches_fairlearn(report, y_true, y_pred, groups, attributes)
    assert report.overall.accuracy == pytest.approx(accuracy_score(y_true, y_pred), abs=1e-12)


def test_string_labels_and_a_real_dataset_match_fairlearn() -> None:
    frame = pd.read_csv(GERMAN)
    groups = protected_groups(frame)  # sex and age, tagged by the sensitivity scan
    assert list(groups.columns) == ["sex", "age"]
    assert set(groups["age"]) <= {"<25", "25-34", "35-44", "45-54", "55-64", "65+"}
    y_true = np.where(frame["risk"] == 1, "good", "bad")
    y_pred = np.where(frame["credit_amount"] < 4000, "good", "bad")
    report = fairness_audit(y_true, y_pred, groups, min_group_size=1, pos_label="good")
    features = groups
    mf = MetricFrame(
        metrics=lambda t, p: float(np.mean(p == "good")),
        y_true=y_true,
        y_pred=y_pred,
        sensitive_features=features,
    )
    assert report.grouping(["sex", "age"]).demographic_parity_difference == pytest.approx(
        mf.difference(), abs=1e-9
    )
    for stats in report.grouping("sex").groups:
        assert stats.selection_rate == pytest.approx(
            float(np.mean(y_pred[groups["sex"] == stats.values[0][1]] == "good")), abs=1e-12
        )


def test_small_groups_are_reported_not_dropped_and_left_out_of_the_spreads() -> None:
    y_true, y_pred, groups = _synthetic(n=3000)
    # A tiny group of 5 rows, all selected: it would dominate every spread.
    tiny = pd.DataFrame({"sex": ["other"] * 5, "age": ["<25"] * 5, "region": ["north"] * 5})
    groups = pd.concat([groups, tiny], ignore_index=True)
    y_true = np.concatenate([y_true, [1, 1, 0, 0, 1]])
    y_pred = np.concatenate([y_pred, [1, 1, 1, 1, 1]])
    report = fairness_audit(y_true, y_pred, groups, min_group_size=30)
    sex = report.grouping("sex")
    other = next(g for g in sex.groups if g.values == (("sex", "other"),))
    assert other.too_small and other.count == 5 and other.selection_rate == 1.0
    assert "sex=other" in sex.to_dict()["too_small_groups"]
    # The spreads equal fairlearn's on the rows of the large groups only.
    keep = (groups["sex"] != "other").to_numpy()
    assert sex.demographic_parity_difference == pytest.approx(
        demographic_parity_difference(
            y_true[keep], y_pred[keep], sensitive_features=groups.loc[keep, "sex"]
        ),
        abs=1e-9,
    )
    everything = fairness_audit(y_true, y_pred, groups, min_group_size=1).grouping("sex")
    assert everything.demographic_parity_difference > sex.demographic_parity_difference
    assert [g["too_small"] for g in report.to_dict()["groupings"][0]["groups"]] == [
        False,
        False,
        True,
    ]


def test_a_rate_without_rows_is_undefined_not_zero() -> None:
    groups = pd.DataFrame({"sex": ["f"] * 40 + ["m"] * 40})
    y_true = np.array([0] * 40 + [1, 0] * 20)  # group f has no actual positives
    y_pred = np.array([1, 0] * 40)
    sex = fairness_audit(y_true, y_pred, groups).grouping("sex")
    f = sex.groups[0]
    assert f.tpr is None and f.undefined == ["tpr"] and f.fpr == 0.5
    # Only the FPR spread can be measured: both groups have negatives.
    m = sex.groups[1]
    assert sex.equalized_odds_difference == pytest.approx(abs(m.fpr - f.fpr))  # type: ignore[operator]


def test_passed_names_each_breach_and_unknown_keys() -> None:
    y_true, y_pred, groups = _synthetic()
    report = fairness_audit(y_true, y_pred, groups)
    ok, reasons = report.passed({"demographic_parity_difference": 0.05})
    assert not ok
    assert any(r.startswith("sex: demographic-parity difference") for r in reasons)
    assert not any(r.startswith("region:") for r in reasons)  # region is unbiased
    assert report.passed({"demographic_parity_difference": 0.9, "disparate_impact_ratio": 0.1})[0]
    with pytest.raises(InvalidInput, match=r"Unknown fairness threshold.*'parity'"):
        report.passed({"parity": 0.1})


def test_an_attribute_that_cannot_be_compared_fails_the_gate() -> None:
    groups = pd.DataFrame({"sex": ["f"] * 50 + ["m"] * 3})
    report = fairness_audit([1, 0] * 26 + [1], [1] * 53, groups, min_group_size=30)
    ok, reasons = report.passed({"disparate_impact_ratio": 0.8})
    assert not ok and "not assessed" in reasons[0] and "sex" in report.to_dict()["not_assessed"]


def test_missing_attribute_and_no_tagged_attribute_are_clear_errors() -> None:
    frame = pd.read_csv(GERMAN)
    with pytest.raises(InvalidInput, match=r"'race' are not columns of the holdout.*sex"):
        protected_groups(frame, attributes=["sex", "race"])
    with pytest.raises(InvalidInput, match="tagged no column as age or sex"):
        protected_groups(frame[["job", "housing"]])
    named = protected_groups(frame, attributes=["housing"])
    assert list(named.columns) == ["housing"]


@pytest.mark.parametrize(
    ("y_pred", "message"),
    [
        ([0.2, 0.7, 0.9, 0.1], "holds scores, not decisions"),
        ([0, 1, 2, 1], "more than two distinct values"),
        ([0, 1, 1], "one entry per decision"),
    ],
)
def test_bad_decisions_are_refused(y_pred: list[float], message: str) -> None:
    groups = pd.DataFrame({"sex": ["f", "m", "f", "m"]})
    with pytest.raises(InvalidInput, match=message):
        fairness_audit([0, 1, 1, 0], y_pred, groups)


def test_too_many_groups_is_refused() -> None:
    groups = pd.DataFrame({"a": np.arange(200), "b": np.arange(200)})
    with pytest.raises(InvalidInput, match="band continuous columns"):
        fairness_audit(np.zeros(200), np.zeros(200), groups)

"""Tests for prodline.data.profile: schema types and the JSON drift-reference profile."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from prodline.data.profile import profile_dataframe, schema_of
from prodline.errors import InvalidInput

QUANTILE_KEYS = ["p01", "p05", "p25", "p50", "p75", "p95", "p99"]


def _mixed_frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    amount = rng.normal(1_000, 250, n)
    amount[::10] = np.nan
    return pd.DataFrame(
        {
            "amount": amount,
            "duration": rng.integers(4, 72, n),
            "job": rng.integers(0, 4, n),
            "flag": rng.random(n) < 0.3,
            "purpose": rng.choice(
                np.array(["car", "radio/TV", "education", None], dtype=object), n
            ),
            "when": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), "D"),
        }
    )


def _json_roundtrip(value: Any) -> Any:
    return json.loads(json.dumps(value, allow_nan=False))


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (pd.Series([1, 2], dtype="int64"), "integer"),
        (pd.Series([1, None], dtype="Int64"), "integer"),
        (pd.Series([1, 2], dtype="uint8"), "integer"),
        (pd.Series([1.5, None], dtype="float64"), "float"),
        (pd.Series([1.5], dtype="Float32"), "float"),
        (pd.Series([True, False]), "boolean"),
        (pd.Series([True, None], dtype="boolean"), "boolean"),
        (pd.Series(["a", None], dtype=object), "string"),
        (pd.Series(["a", None], dtype="string"), "string"),
        (pd.Series(pd.Categorical(["a", "b"])), "string"),
        (pd.Series(pd.Categorical([1, 2])), "string"),
        (pd.Series(pd.to_datetime(["2024-01-01"])), "datetime"),
        (pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("UTC")), "datetime"),
    ],
)
def test_schema_types(series: pd.Series, expected: str) -> None:
    assert schema_of(pd.DataFrame({"c": series})) == [{"name": "c", "type": expected}]


def test_schema_keeps_column_order_and_stringifies_names() -> None:
    frame = pd.DataFrame({"b": [1.0], "a": ["x"], 7: [True]})
    assert schema_of(frame) == [
        {"name": "b", "type": "float"},
        {"name": "a", "type": "string"},
        {"name": "7", "type": "boolean"},
    ]


def test_profile_is_strict_json() -> None:
    frame = _mixed_frame()
    frame.loc[0, "amount"] = np.inf
    profile = profile_dataframe(frame)
    assert _json_roundtrip(profile) == profile
    assert profile["rows"] == 200
    assert list(profile["columns"]) == list(frame.columns)


def test_numeric_column_profile() -> None:
    frame = _mixed_frame()
    col = profile_dataframe(frame, bins=8)["columns"]["amount"]
    values = frame["amount"].dropna()
    assert col["type"] == "float"
    assert col["missing"] == 20 and col["missing_share"] == pytest.approx(0.1)
    assert col["distinct"] == 180
    assert col["min"] == pytest.approx(values.min()) and col["max"] == pytest.approx(values.max())
    assert col["mean"] == pytest.approx(values.mean())
    assert col["std"] == pytest.approx(values.std())
    assert list(col["quantiles"]) == QUANTILE_KEYS
    qs = [col["quantiles"][k] for k in QUANTILE_KEYS]
    assert qs == sorted(qs)
    assert col["quantiles"]["p50"] == pytest.approx(values.median())
    assert len(col["histogram"]["edges"]) == 9 and len(col["histogram"]["counts"]) == 8
    assert sum(col["histogram"]["counts"]) == len(values)
    assert col["infinite"] == 0
    assert "top" not in col


@pytest.mark.parametrize("bins", [1, 5, 20, 50])
def test_histogram_counts_sum_to_non_missing_rows(bins: int) -> None:
    frame = _mixed_frame()
    profile = profile_dataframe(frame, bins=bins)
    for name in ("amount", "duration", "job"):
        col = profile["columns"][name]
        assert len(col["histogram"]["edges"]) == bins + 1
        assert sum(col["histogram"]["counts"]) == 200 - col["missing"]


def test_infinities_are_counted_and_left_out_of_the_statistics() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, np.inf, -np.inf, np.nan]})
    col = profile_dataframe(frame, bins=2)["columns"]["x"]
    assert col["infinite"] == 2
    assert (col["min"], col["max"], col["mean"]) == (1.0, 2.0, 1.5)
    assert sum(col["histogram"]["counts"]) == 2


def test_integer_columns() -> None:
    frame = _mixed_frame()
    columns = profile_dataframe(frame)["columns"]
    job, duration = columns["job"], columns["duration"]
    assert job["type"] == "integer" and isinstance(job["min"], int)
    # Few distinct values: a code, so it also gets a frequency table.
    assert sorted(job["top"]["values"]) == [0, 1, 2, 3]
    assert sum(job["top"]["counts"]) + job["top"]["other"] == 200
    assert duration["distinct"] > 20 and "top" not in duration


def test_big_integers_keep_exact_min_and_max() -> None:
    big = 2**62 + 1  # big and big - 2 are the same float64
    col = profile_dataframe(pd.DataFrame({"id": [big, big - 2]}))["columns"]["id"]
    assert (col["min"], col["max"]) == (big - 2, big)
    assert sum(col["histogram"]["counts"]) == 2


def test_histogram_of_a_range_too_wide_for_float64() -> None:
    col = profile_dataframe(pd.DataFrame({"x": [-1e308, 0.0, 1e308]}), bins=4)["columns"]["x"]
    assert col["histogram"]["counts"] == [1, 0, 1, 1]
    assert col["histogram"]["edges"][0] == -1e308 and col["histogram"]["edges"][-1] == 1e308


def test_nullable_integer_with_missing() -> None:
    frame = pd.DataFrame({"n": pd.array([1, None, 3, 3], dtype="Int64")})
    col = profile_dataframe(frame)["columns"]["n"]
    assert (col["missing"], col["distinct"], col["min"], col["max"]) == (1, 2, 1, 3)
    assert col["top"] == {"values": [3, 1], "counts": [2, 1], "other": 0}
    assert _json_roundtrip(col) == col


def test_string_top_table() -> None:
    frame = pd.DataFrame({"s": ["b", "a", "a", "c", "c", "c", None, "d"]})
    col = profile_dataframe(frame, top=2)["columns"]["s"]
    assert col["type"] == "string"
    assert col["top"] == {"values": ["c", "a"], "counts": [3, 2], "other": 2}
    assert (col["missing"], col["distinct"]) == (1, 4)


def test_top_ties_are_ordered_by_value() -> None:
    frame = pd.DataFrame({"s": ["z", "y", "x", "y", "z", "x"]})
    col = profile_dataframe(frame)["columns"]["s"]
    assert col["top"]["values"] == ["x", "y", "z"]


def test_top_zero_puts_everything_in_other() -> None:
    col = profile_dataframe(pd.DataFrame({"s": ["a", "b"]}), top=0)["columns"]["s"]
    assert col["top"] == {"values": [], "counts": [], "other": 2}


def test_category_ignores_unused_categories() -> None:
    cat = pd.Categorical(["a", "a", "b"], categories=["a", "b", "never"])
    col = profile_dataframe(pd.DataFrame({"c": cat}))["columns"]["c"]
    assert col["top"] == {"values": ["a", "b"], "counts": [2, 1], "other": 0}


def test_mixed_objects_are_profiled_as_text() -> None:
    frame = pd.DataFrame({"o": ["1", 1, [1, 2], None]})
    col = profile_dataframe(frame)["columns"]["o"]
    assert col["top"] == {"values": ["1", "[1, 2]"], "counts": [2, 1], "other": 0}
    assert _json_roundtrip(col) == col


def test_boolean_column() -> None:
    frame = pd.DataFrame({"b": pd.array([True, True, False, None], dtype="boolean")})
    col = profile_dataframe(frame)["columns"]["b"]
    assert col["type"] == "boolean"
    assert col["top"] == {"values": [True, False], "counts": [2, 1], "other": 0}
    assert col["missing"] == 1 and "histogram" not in col


def test_datetime_column() -> None:
    frame = pd.DataFrame(
        {"t": pd.to_datetime(pd.Series(["2024-03-01", None, "2023-12-31 08:00"]), format="ISO8601")}
    )
    col = profile_dataframe(frame)["columns"]["t"]
    assert col == {
        "type": "datetime",
        "missing": 1,
        "missing_share": pytest.approx(1 / 3),
        "distinct": 2,
        "min": "2023-12-31T08:00:00",
        "max": "2024-03-01T00:00:00",
    }


def test_empty_frame() -> None:
    assert profile_dataframe(pd.DataFrame()) == {"rows": 0, "columns": {}}


def test_frame_with_columns_but_no_rows() -> None:
    frame = pd.DataFrame({"x": pd.Series([], dtype=float), "s": pd.Series([], dtype=object)})
    profile = profile_dataframe(frame)
    x, s = profile["columns"]["x"], profile["columns"]["s"]
    assert (x["missing"], x["missing_share"], x["distinct"]) == (0, 0.0, 0)
    assert x["histogram"] is None and x["mean"] is None
    assert s["top"] == {"values": [], "counts": [], "other": 0}
    assert _json_roundtrip(profile) == profile


@pytest.mark.parametrize(
    ("series", "type_"),
    [
        (pd.Series([np.nan, np.nan]), "float"),
        (pd.Series([None, None], dtype="Int64"), "integer"),
        (pd.Series([None, None], dtype=object), "string"),
        (pd.Series([pd.NaT, pd.NaT]), "datetime"),
    ],
)
def test_all_missing_column(series: pd.Series, type_: str) -> None:
    profile = profile_dataframe(pd.DataFrame({"c": series}))
    col = profile["columns"]["c"]
    assert col["type"] == type_
    assert (col["missing"], col["missing_share"], col["distinct"]) == (2, 1.0, 0)
    if type_ in ("float", "integer"):
        assert col["min"] is None and col["std"] is None and col["histogram"] is None
        assert col["quantiles"] == dict.fromkeys(QUANTILE_KEYS)
    if type_ == "datetime":
        assert col["min"] is None and col["max"] is None
    assert _json_roundtrip(profile) == profile


def test_single_value_has_no_std() -> None:
    col = profile_dataframe(pd.DataFrame({"x": [4.0]}))["columns"]["x"]
    assert col["std"] is None and col["mean"] == 4.0
    assert sum(col["histogram"]["counts"]) == 1


def test_profile_is_deterministic() -> None:
    frame = _mixed_frame()
    assert json.dumps(profile_dataframe(frame)) == json.dumps(profile_dataframe(frame))


@pytest.mark.parametrize(
    ("frame", "kwargs", "message"),
    [
        ({"a": [1]}, {}, "Expected a pandas DataFrame, got dict."),
        (pd.DataFrame({"a": [1]}), {"bins": 0}, "bins must be at least 1, got 0."),
        (pd.DataFrame({"a": [1]}), {"top": -1}, "top must be zero or more, got -1."),
        (
            pd.DataFrame([[1, 2]], columns=["a", "a"]),
            {},
            "Column names must be unique; rename the duplicates: a.",
        ),
    ],
)
def test_invalid_input(frame: object, kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(InvalidInput) as err:
        profile_dataframe(frame, **kwargs)  # type: ignore[arg-type]
    assert err.value.message == message


def test_schema_rejects_non_frames() -> None:
    with pytest.raises(InvalidInput, match=r"Expected a pandas DataFrame, got str\."):
        schema_of("not a frame")  # type: ignore[arg-type]

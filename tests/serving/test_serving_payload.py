"""Payload parsing: three body shapes, one result; every problem names its field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

import prodline.serving
from prodline.errors import InvalidInput
from prodline.serving import create_app
from prodline.serving.payload import InputSpec, Parsed, parse, records_of, to_arrays
from prodline.workspace import Workspace

SPEC = InputSpec.from_signature([{"name": "x1", "type": "float"}, {"name": "x2", "type": "float"}])
MIXED = InputSpec.from_signature(
    [
        {"name": "color", "type": "string"},
        {"name": "n", "type": "integer"},
        {"name": "flag", "type": "boolean"},
    ]
)
ROWS = [{"x1": 0.5, "x2": -1.0}, {"x1": 2, "x2": 3.25}]


def body(doc: object) -> bytes:
    return orjson.dumps(doc)


def test_package_all_is_sorted_and_importable() -> None:
    assert prodline.serving.__all__ == sorted(prodline.serving.__all__)
    for name in prodline.serving.__all__:
        assert hasattr(prodline.serving, name)


@pytest.mark.parametrize(
    "doc",
    [
        {"inputs": ROWS},
        {"dataframe_records": ROWS},
        {"dataframe_split": {"columns": ["x1", "x2"], "data": [[0.5, -1.0], [2, 3.25]]}},
        {
            "dataframe_split": {
                "columns": ["x2", "x1"],
                "data": [[-1.0, 0.5], [3.25, 2]],
                "index": [0, 1],
            }
        },
        {"inputs": {"x1": [0.5, 2], "x2": [-1.0, 3.25]}},
        {"dataframe_records": ROWS, "params": {}},
    ],
    ids=["inputs", "records", "split", "split-reordered", "inputs-columns", "empty-params"],
)
def test_every_shape_gives_the_same_columns(doc: object) -> None:
    parsed = parse(body(doc), SPEC)
    assert parsed.rows == 2
    arrays = to_arrays(SPEC, [parsed])
    np.testing.assert_array_equal(arrays["x1"], [0.5, 2.0])
    np.testing.assert_array_equal(arrays["x2"], [-1.0, 3.25])
    assert arrays["x1"].dtype == np.float64
    assert records_of(SPEC, parsed) == [{"x1": 0.5, "x2": -1.0}, {"x1": 2, "x2": 3.25}]


def test_mixed_types_become_typed_arrays() -> None:
    parsed = parse(body({"inputs": [{"color": "red", "n": 3, "flag": True}]}), MIXED)
    arrays = to_arrays(MIXED, [parsed, parsed])
    assert arrays["color"].dtype == object and list(arrays["color"]) == ["red", "red"]
    assert arrays["n"].dtype == np.int64 and arrays["flag"].dtype == np.bool_


def test_batches_concatenate_in_order() -> None:
    a = parse(body({"inputs": ROWS}), SPEC)
    b = parse(body({"inputs": [{"x1": 9.0, "x2": 8.0}]}), SPEC)
    arrays = to_arrays(SPEC, [a, b])
    np.testing.assert_array_equal(arrays["x1"], [0.5, 2.0, 9.0])


BAD: list[tuple[object, str, str]] = [
    # (body, field, words the message must contain)
    ({"inputs": [{"x1": 1.0}]}, "inputs[0].x2", "missing column 'x2'"),
    ({"inputs": [{"x1": 1.0, "x2": "a"}]}, "inputs[0].x2", "must be a float, got string"),
    ({"inputs": [ROWS[0], {"x1": 1.0, "x2": None}]}, "inputs[1].x2", "got null"),
    ({"inputs": [{"x1": True, "x2": 1.0}]}, "inputs[0].x1", "got boolean"),
    ({"inputs": [{"x1": 1.0, "x2": 2.0, "x3": 3.0}]}, "inputs[0].x3", "Unexpected field 'x3'"),
    ({"inputs": [{"x1": 1.0, "x3": 3.0}]}, "inputs[0].x2", "missing column 'x2'"),
    ({"inputs": []}, "inputs", "empty"),
    ({"inputs": [ROWS[0], [1.0, 2.0]]}, "inputs[1]", "must be an object"),
    ({"inputs": "x"}, "inputs", "array of records"),
    ({"dataframe_records": [{"x1": 1.0, "x2": [1]}]}, "dataframe_records[0].x2", "got array"),
    (
        {"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, 2.0], [1.0]]}},
        "dataframe_split.data[1]",
        "array of 2 values",
    ),
    (
        {"dataframe_split": {"columns": ["x1"], "data": [[1.0]]}},
        "dataframe_split.columns",
        "missing column 'x2'",
    ),
    (
        {"dataframe_split": {"columns": ["x1", "x2", "z"], "data": [[1.0, 2.0, 3.0]]}},
        "dataframe_split.columns[2]",
        "Unexpected field 'z'",
    ),
    (
        {"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, "b"]]}},
        "dataframe_split.data[0][1]",
        "column 'x2'",
    ),
    ({"dataframe_split": {"columns": ["x1", "x2"], "data": []}}, "dataframe_split.data", "empty"),
    (
        {"dataframe_split": {"columns": ["x1", "x2"], "rows": []}},
        "dataframe_split.rows",
        "Unexpected field",
    ),
    ({"inputs": {"x1": [1.0, 2.0], "x2": [1.0]}}, "inputs.x2", "same length"),
    ({"inputs": ROWS, "dataframe_records": ROWS}, "dataframe_records", "only one"),
    ({"instances": ROWS}, "instances", "Unexpected field 'instances'"),
    ({"inputs": ROWS, "params": {"k": 1}}, "params", "no params"),
    ({}, "body", "none of inputs"),
    ([1, 2], "body", "must be a JSON object"),
]


@pytest.mark.parametrize(("doc", "field", "words"), BAD, ids=[b[1] + ":" + b[2] for b in BAD])
def test_validation_errors_name_the_field(doc: object, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse(body(doc), SPEC)
    assert info.value.details == {"field": field}
    assert words in info.value.message


@pytest.mark.parametrize(
    ("doc", "field", "words"),
    [
        ({"inputs": [{"color": 1, "n": 1, "flag": True}]}, "inputs[0].color", "must be a string"),
        ({"inputs": [{"color": "a", "n": 1.5, "flag": True}]}, "inputs[0].n", "an integer"),
        ({"inputs": [{"color": "a", "n": 2**63, "flag": True}]}, "inputs[0].n", "64-bit"),
        ({"inputs": [{"color": "a", "n": 1, "flag": 1}]}, "inputs[0].flag", "a boolean"),
    ],
)
def test_types_are_strict(doc: object, field: str, words: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse(body(doc), MIXED)
    assert info.value.details == {"field": field}
    assert words in info.value.message


@pytest.mark.parametrize("raw", [b"", b"{", b'{"inputs": [}', b"\xff\xfe", b"inputs=1"])
def test_malformed_json_is_a_clear_error(raw: bytes) -> None:
    with pytest.raises(InvalidInput) as info:
        parse(raw, SPEC)
    assert info.value.details == {"field": "body"}
    assert "not valid JSON" in info.value.message


def test_parsed_from_columns_builds_records() -> None:
    parsed = Parsed([[1.0, 2.0], [3.0, 4.0]], 2)
    assert records_of(SPEC, parsed) == [{"x1": 1.0, "x2": 3.0}, {"x1": 2.0, "x2": 4.0}]


# -- every column type, served as in process (regression: datetime became string) ------


def _typed_frame(n: int = 40, seed: int = 3) -> pd.DataFrame:
    """One column of each type; the label hangs on the date, so a lost date shows."""
    rng = np.random.default_rng(seed)
    days = pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 6, n), unit="D")
    when = days + pd.to_timedelta(rng.integers(0, 24, n), unit="h")
    age = rng.normal(40, 10, n).round(1)
    age[rng.random(n) < 0.2] = np.nan
    frame = pd.DataFrame(
        {
            "when": when,
            "city": rng.choice(["Oslo", "Lima", "Pune"], n),
            "amount": rng.normal(size=n).round(3),
            "count": rng.integers(0, 9, n),
            "flag": rng.random(n) < 0.5,
            "age": age,
        }
    )
    frame["label"] = ((days.day % 3 == 0) ^ (frame["amount"] > 1.0)).astype(int)
    return frame


def _wire(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as a client sends it: ISO strings for datetimes, null for gaps."""
    out = frame.astype(object)
    out["when"] = frame["when"].dt.strftime("%Y-%m-%dT%H:%M:%S")
    return out.where(frame.notna(), None)


def _typed_docs(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    wire = _wire(frame)
    records = wire.to_dict(orient="records")
    split = wire.to_dict(orient="split")
    return {
        "inputs": {"inputs": records},
        "inputs-columns": {"inputs": wire.to_dict(orient="list")},
        "dataframe_records": {"dataframe_records": records},
        "dataframe_split": {
            "dataframe_split": {"columns": split["columns"], "data": split["data"]}
        },
    }


@pytest.fixture(scope="module")
def typed_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Workspace, Pipeline]]:
    home = tmp_path_factory.mktemp("typed") / "home"
    frame = _typed_frame()
    features = frame.drop(columns="label")
    pipe = Pipeline(
        [
            (
                "prep",
                ColumnTransformer(
                    [
                        (
                            "when",
                            OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
                            ["when"],
                        ),
                        ("city", OneHotEncoder(handle_unknown="ignore"), ["city"]),
                        ("age", SimpleImputer(), ["age"]),
                    ],
                    remainder="passthrough",
                ),
            ),
            ("gbm", GradientBoostingClassifier(n_estimators=30, random_state=0)),
        ]
    ).fit(features, frame["label"])
    with pytest.MonkeyPatch.context() as mp:
        for var in ("PRODLINE_HOME", "PRODLINE_DB_URL", "PRODLINE_AUDIT_KEY", "PRODLINE_ARTIFACTS"):
            mp.delenv(var, raising=False)
        ws = Workspace.open(home, actor="tester")
        ws.datasets.register(frame, name="typed", owner="tests", source="synthetic")
        ws.models.register(pipe, name="typed", trained_on=["typed@1"], target="label")
        yield ws, pipe
        ws.close()


def test_the_signature_keeps_datetime_and_nullable(typed_model: tuple[Workspace, Pipeline]) -> None:
    ws, _ = typed_model
    assert ws.datasets.get("typed@1").schema[0] == {"name": "when", "type": "datetime"}
    signature = {c["name"]: c for c in ws.models.get("typed", 1).signature}
    assert signature["when"] == {"name": "when", "type": "datetime"}
    assert signature["age"] == {"name": "age", "type": "float", "nullable": True}
    assert not any(c.get("nullable") for name, c in signature.items() if name != "age")


@pytest.mark.parametrize(
    "shape", ["inputs", "inputs-columns", "dataframe_records", "dataframe_split"]
)
def test_served_predictions_equal_in_process_ones_for_every_column_type(
    typed_model: tuple[Workspace, Pipeline], shape: str
) -> None:
    ws, pipe = typed_model
    rows = _typed_frame().drop(columns="label").iloc[::2].reset_index(drop=True)
    assert rows["age"].isna().any() and rows["when"].dt.hour.nunique() > 1
    expected = pipe.predict(rows).tolist()
    with TestClient(create_app(ws, "typed", "1")) as client:
        response = client.post("/v1/models/typed/predict", json=_typed_docs(rows)[shape])
    assert response.status_code == 200, response.text
    assert response.json()["predictions"] == expected


def test_a_datetime_column_is_parsed_once_into_datetime64() -> None:
    spec = InputSpec.from_signature(
        [{"name": "when", "type": "datetime"}, {"name": "age", "type": "float", "nullable": True}]
    )
    doc = {
        "inputs": [
            {"when": "2024-05-17", "age": None},
            {"when": "2024-05-17T09:30:00+02:00", "age": 3},
            {"when": "2024-05-17 10:00:00.5", "age": 1.5},
        ]
    }
    arrays = to_arrays(spec, [parse(body(doc), spec)])
    assert arrays["when"].dtype == np.dtype("datetime64[ns]")
    assert arrays["when"].astype(str).tolist() == [
        "2024-05-17T00:00:00.000000000",
        "2024-05-17T07:30:00.000000000",
        "2024-05-17T10:00:00.500000000",
    ]
    np.testing.assert_array_equal(arrays["age"], [np.nan, 3.0, 1.5])


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "when",
            "17/05/2024",
            'inputs[0].when must be an ISO-8601 date-time string such as "2024-05-17" or '
            '"2024-05-17T09:30:00", got "17/05/2024".',
        ),
        (
            "when",
            17,
            "inputs[0].when must be an ISO-8601 date-time string, got integer 17.",
        ),
        ("when", None, "inputs[0].when must be an ISO-8601 date-time string, got null null."),
        ("age", "old", 'inputs[0].age must be a float or null, got string "old".'),
    ],
)
def test_datetime_and_null_errors_name_the_field(column: str, value: Any, message: str) -> None:
    spec = InputSpec.from_signature(
        [{"name": "when", "type": "datetime"}, {"name": "age", "type": "float", "nullable": True}]
    )
    record = {"when": "2024-05-17", "age": 1.0, column: value}
    with pytest.raises(InvalidInput) as caught:
        parse(body({"inputs": [record]}), spec)
    assert str(caught.value) == message
    assert caught.value.details == {"field": f"inputs[0].{column}"}


@pytest.mark.parametrize(
    ("kind", "values", "expected", "dtype"),
    [
        ("float", [1.5, None], [1.5, np.nan], np.float64),
        ("integer", [2, None], [2.0, np.nan], np.float64),
        ("integer", [2, 3], [2, 3], np.int64),
        ("boolean", [True, None], [1.0, np.nan], np.float64),
        ("string", ["a", None], ["a", np.nan], object),
        ("datetime", ["2024-01-02", None], ["2024-01-02", "NaT"], "datetime64[ns]"),
    ],
)
def test_null_in_a_nullable_column_becomes_a_gap(
    kind: str, values: list[Any], expected: list[Any], dtype: Any
) -> None:
    spec = InputSpec.from_signature([{"name": "c", "type": kind, "nullable": True}])
    parsed = parse(body({"inputs": {"c": values}}), spec)
    array = to_arrays(spec, [parsed])["c"]
    assert array.dtype == np.dtype(dtype)
    if kind == "string":
        assert array[0] == "a" and array[1] is not None and np.isnan(array[1])
    else:
        np.testing.assert_array_equal(array, np.array(expected, dtype=dtype))


def test_null_in_a_column_that_is_not_nullable_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"inputs\[0\].x1 must be a float, got null null."):
        parse(body({"inputs": [{"x1": None, "x2": 1.0}]}), SPEC)

"""Payload parsing: three body shapes, one result; every problem names its field."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

import prodline.serving
from prodline.errors import InvalidInput
from prodline.serving.payload import InputSpec, Parsed, parse, records_of, to_arrays

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

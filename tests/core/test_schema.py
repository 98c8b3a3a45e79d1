"""The column-type vocabulary and Signature shared by profiles, registry, flavors and serving."""

from __future__ import annotations

import doctest
from typing import Any

import numpy as np
import pandas as pd
import pytest

from prodline.core import schema
from prodline.core.schema import (
    COLUMN_TYPES,
    Column,
    Signature,
    column_type_of,
    columns_from_schema,
)
from prodline.errors import InvalidInput


def test_the_five_types() -> None:
    assert COLUMN_TYPES == ("integer", "float", "boolean", "string", "datetime")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("", "float"), "Column name must be a non-empty string, got ''."),
        ((3, "float"), "Column name must be a non-empty string, got 3."),
        (
            ("x", "double"),
            "Column 'x' has type 'double'; use one of integer, float, boolean, string, datetime.",
        ),
        (("x", "float", "yes"), "Column 'x' has nullable='yes'; use true or false."),
    ],
)
def test_bad_columns_are_refused(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Column(*args)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("stored", "column"),
    [
        ({"name": "x", "type": "float"}, Column("x", "float", False)),
        ({"name": "x", "type": "float", "nullable": False}, Column("x", "float", False)),
        ({"name": "x", "type": "datetime", "nullable": True}, Column("x", "datetime", True)),
    ],
)
def test_stored_signatures_read_back_old_rows_included(
    stored: dict[str, Any], column: Column
) -> None:
    signature = Signature.from_list([stored])
    assert signature.inputs == (column,)
    again = Signature.from_list(signature.to_list())
    assert again == signature


def test_to_list_writes_nullable_only_when_true() -> None:
    signature = Signature((Column("a", "integer"), Column("b", "string", nullable=True)))
    assert signature.to_list() == [
        {"name": "a", "type": "integer"},
        {"name": "b", "type": "string", "nullable": True},
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("x", "A signature must be a list of {'name': ..., 'type': ...} items."),
        ([{"name": "x"}], "Signature item 0 must be a mapping with 'name' and 'type', got"),
        (
            [{"name": "x", "type": "float"}, {"name": "x", "type": "float"}],
            "Signature lists column(s) 'x' more than once.",
        ),
    ],
)
def test_bad_signatures_are_refused(data: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        Signature.from_list(data)
    assert str(caught.value).startswith(message)


@pytest.mark.parametrize(
    ("types", "numeric"),
    [(("integer", "float", "boolean"), True), (("float", "string"), False), (("datetime",), False)],
)
def test_numeric(types: tuple[Any, ...], numeric: bool) -> None:
    signature = Signature(tuple(Column(f"c{i}", t) for i, t in enumerate(types)))
    assert signature.numeric is numeric


def test_with_nullable_adds_or_sets() -> None:
    signature = Signature((Column("a", "float", True), Column("b", "float")))
    assert [c.nullable for c in signature.with_nullable(["b"]).inputs] == [True, True]
    assert [c.nullable for c in signature.with_nullable(["b"], only=True).inputs] == [False, True]


@pytest.mark.parametrize(
    ("series", "expected"),
    [
        (pd.Series([True, False]), "boolean"),
        (pd.Series([1, 2], dtype="int32"), "integer"),
        (pd.Series([1, None], dtype="Int64"), "integer"),
        (pd.Series([1.5, None]), "float"),
        (pd.Series(pd.to_datetime(["2024-01-01", None])), "datetime"),
        (pd.Series(pd.to_datetime(["2024-01-01"]).tz_localize("UTC")), "datetime"),
        (pd.Series(["a", None]), "string"),
        (pd.Series(["a"], dtype="category"), "string"),
        (pd.Series([pd.Timedelta(1, "D")]), "string"),
    ],
)
def test_column_type_of_pandas_and_numpy_dtypes(series: pd.Series, expected: str) -> None:
    assert column_type_of(series.dtype) == expected


def test_column_type_of_numpy() -> None:
    assert column_type_of(np.dtype("datetime64[ns]")) == "datetime"
    assert column_type_of(np.dtype("uint8")) == "integer"


def test_columns_from_schema_drops_the_target_and_marks_gaps() -> None:
    table = [
        {"name": "age", "type": "float"},
        {"name": "when", "type": "datetime"},
        {"name": "odd", "type": "interval"},  # an unknown type from an older profile
        {"name": "label", "type": "integer"},
    ]
    profile = {"columns": {"age": {"missing": 2}, "when": {"missing": 0}}}
    got = columns_from_schema(table, exclude=["label"], profile=profile)
    assert got == [
        Column("age", "float", True),
        Column("when", "datetime", False),
        Column("odd", "string", False),
    ]
    assert columns_from_schema(table[:1]) == [Column("age", "float", False)]


def test_module_examples_run() -> None:
    assert doctest.testmod(schema).failed == 0


def test_the_old_homes_reexport_the_core_names() -> None:
    from prodline.data import profile
    from prodline.models import flavors

    assert flavors.Column is Column and flavors.Signature is Signature
    assert profile.ColumnType is schema.ColumnType

"""Parse and validate a predict request body into columns, with plain Python (no pandas).

Three body shapes are accepted, so clients written for MLflow serving work unchanged:

- ``{"inputs": [{"x1": 1.0, "x2": 2}, ...]}`` (records; also ``{"inputs": {"x1": [...]}}``)
- ``{"dataframe_records": [{"x1": 1.0, "x2": 2}, ...]}``
- ``{"dataframe_split": {"columns": ["x1", "x2"], "data": [[1.0, 2], ...]}}``

Every value is checked against the model signature; the first problem raises
``InvalidInput`` whose ``field`` names it the way a client would write it
(``inputs[0].x2``, ``dataframe_split.data[3][1]``). The result is columnar Python lists;
``to_arrays`` turns the lists of a whole batch into NumPy arrays once, typed as the
model saw its training data: ``datetime`` columns take ISO-8601 strings and become
``datetime64[ns]`` (an offset is converted to UTC), and ``null`` in a nullable column
becomes NaN (NaT for datetimes), as pandas reads a gap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NoReturn

import numpy as np
import orjson

from prodline.errors import InvalidInput

__all__ = [
    "InputSpec",
    "Parsed",
    "SAMPLE_VALUES",
    "parse",
    "records_of",
    "to_arrays",
]

SHAPES = ("inputs", "dataframe_records", "dataframe_split")
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1
_ALLOWED: dict[str, frozenset[type]] = {
    "float": frozenset({float, int}),
    "integer": frozenset({int}),
    "boolean": frozenset({bool}),
    "string": frozenset({str}),
    "datetime": frozenset({str}),
}
_DTYPES: dict[str, Any] = {
    "float": np.float64,
    "integer": np.int64,
    "boolean": np.bool_,
    "string": object,
    "datetime": "datetime64[ns]",
}
_ARTICLE = {
    "float": "a float",
    "integer": "an integer",
    "boolean": "a boolean",
    "string": "a string",
    "datetime": "an ISO-8601 date-time string",
}
_NULL = frozenset({type(None)})
# A valid value of each type, for warming a model up before the first request.
SAMPLE_VALUES: dict[str, Any] = {
    "float": 0.0,
    "integer": 0,
    "boolean": False,
    "string": "",
    "datetime": "1970-01-01T00:00:00",
}


@dataclass(frozen=True)
class InputSpec:
    """The columns a model takes, precomputed for the validation loop."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    allowed: tuple[frozenset[type], ...]
    nullable: tuple[bool, ...] = ()

    @classmethod
    def from_signature(cls, signature: Sequence[Mapping[str, Any]]) -> InputSpec:
        """Precompute the checks for a stored signature (``Signature.to_list()`` form)."""
        names = tuple(str(c["name"]) for c in signature)
        kinds = tuple(str(c["type"]) if c["type"] in _ALLOWED else "string" for c in signature)
        nullable = tuple(bool(c.get("nullable", False)) for c in signature)
        allowed = tuple(
            _ALLOWED[k] | _NULL if null else _ALLOWED[k]
            for k, null in zip(kinds, nullable, strict=True)
        )
        return cls(names, kinds, allowed, nullable)

    def describe(self) -> str:
        """The columns as a message shows them: ``age (float or null), sex (string)``."""
        return ", ".join(
            f"{n} ({k}{' or null' if self.is_nullable(j) else ''})"
            for j, (n, k) in enumerate(zip(self.names, self.kinds, strict=True))
        )

    def is_nullable(self, j: int) -> bool:
        """Whether column ``j`` accepts ``null``."""
        return bool(self.nullable) and self.nullable[j]


@dataclass
class Parsed:
    """A validated request: one list of values per signature column, in signature order."""

    columns: list[list[Any]]
    rows: int
    records: list[dict[str, Any]] | None = None  # the request's own records, when it sent them


def parse(body: bytes, spec: InputSpec) -> Parsed:
    """Validate a request body against ``spec``; raise ``InvalidInput`` naming the field."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"The request body is not valid JSON: {exc}. Send an object such "
            'as {"inputs": [{...}]}.',
            field="body",
        ) from None
    if type(doc) is not dict:
        raise InvalidInput(
            f"The request body must be a JSON object with one of "
            f"{', '.join(SHAPES)}; got {_json_type(doc)}.",
            field="body",
        )
    if len(doc) == 1 and "inputs" in doc:  # the common case, without the checks below
        return _from_inputs(doc["inputs"], spec)
    return _dispatch(doc, spec)


def _dispatch(doc: dict[str, Any], spec: InputSpec) -> Parsed:
    shapes = [key for key in doc if key in SHAPES]
    for key, value in doc.items():
        if key == "params" and value in (None, {}):
            continue
        if key not in SHAPES:
            hint = (
                "this model takes no params"
                if key == "params"
                else f"use one of {', '.join(SHAPES)}"
            )
            raise InvalidInput(f"Unexpected field '{key}' in the request body; {hint}.", field=key)
    if not shapes:
        raise InvalidInput(
            f'The request body has none of {", ".join(SHAPES)}; send e.g. {{"inputs": [{{...}}]}}.',
            field="body",
        )
    if len(shapes) > 1:
        raise InvalidInput(f"Send only one of {', '.join(shapes)}.", field=shapes[1])
    key = shapes[0]
    if key == "inputs":
        return _from_inputs(doc[key], spec)
    if key == "dataframe_records":
        return _from_records(doc[key], spec, key)
    return _from_split(doc[key], spec)


def _from_inputs(value: Any, spec: InputSpec) -> Parsed:
    if type(value) is dict:
        return _from_column_dict(value, spec)
    return _from_records(value, spec, "inputs")


def _from_records(records: Any, spec: InputSpec, where: str) -> Parsed:
    if type(records) is not list:
        raise InvalidInput(
            f"{where} must be an array of records (objects), got {_json_type(records)}.",
            field=where,
        )
    if not records:
        raise InvalidInput(f"{where} is empty; send at least one record.", field=where)
    names, allowed, width = spec.names, spec.allowed, len(spec.names)
    columns: list[list[Any]] = [[] for _ in names]
    for i, record in enumerate(records):
        if type(record) is not dict:
            raise InvalidInput(
                f"{where}[{i}] must be an object of column values, got {_json_type(record)}.",
                field=f"{where}[{i}]",
            )
        if len(record) != width:
            _record_keys_error(record, spec, f"{where}[{i}]")
        for j, name in enumerate(names):
            try:
                value = record[name]
            except KeyError:
                _record_keys_error(record, spec, f"{where}[{i}]")
            if type(value) not in allowed[j] or (
                type(value) is int and not _INT_MIN <= value <= _INT_MAX
            ):
                raise _type_error(value, spec, j, f"{where}[{i}].{name}")
            columns[j].append(value)
    _check_datetimes(columns, spec, lambda i, j: f"{where}[{i}].{names[j]}")
    return Parsed(columns, len(records), records)


def _from_column_dict(value: dict[str, Any], spec: InputSpec) -> Parsed:
    for key in value:
        if key not in spec.names:
            raise _extra_error(key, spec, f"inputs.{key}")
    columns: list[list[Any]] = []
    rows = -1
    for j, name in enumerate(spec.names):
        where = f"inputs.{name}"
        if name not in value:
            raise InvalidInput(
                f"inputs is missing column '{name}'; the model takes {spec.describe()}.",
                field=where,
            )
        values = value[name]
        if type(values) is not list:
            raise InvalidInput(
                f"{where} must be an array of values, got {_json_type(values)}.", field=where
            )
        if rows == -1:
            rows = len(values)
        elif len(values) != rows:
            raise InvalidInput(
                f"{where} has {len(values)} values but {spec.names[0]} has "
                f"{rows}; every column needs the same length.",
                field=where,
            )
        _check_values(values, j, spec, lambda i, w=where: f"{w}[{i}]")
        columns.append(values)
    if rows <= 0:
        raise InvalidInput("inputs is empty; send at least one row.", field="inputs")
    _check_datetimes(columns, spec, lambda i, j: f"inputs.{spec.names[j]}[{i}]")
    return Parsed(columns, rows)


def _from_split(split: Any, spec: InputSpec) -> Parsed:
    base = "dataframe_split"
    if type(split) is not dict:
        raise InvalidInput(
            f"{base} must be an object with columns and data, got {_json_type(split)}.", field=base
        )
    for key in split:
        if key not in ("columns", "data", "index"):
            raise InvalidInput(
                f"Unexpected field '{key}' in {base}; it takes columns, data "
                "and (optionally) index.",
                field=f"{base}.{key}",
            )
    cols, data = split.get("columns"), split.get("data")
    if type(cols) is not list or not all(type(c) is str for c in cols):
        raise InvalidInput(
            f"{base}.columns must be an array of column names.", field=f"{base}.columns"
        )
    for k, col in enumerate(cols):
        if col not in spec.names:
            raise _extra_error(col, spec, f"{base}.columns[{k}]")
        if col in cols[:k]:
            raise InvalidInput(f"{base}.columns names '{col}' twice.", field=f"{base}.columns[{k}]")
    for name in spec.names:
        if name not in cols:
            raise InvalidInput(
                f"{base}.columns is missing column '{name}'; the model takes {spec.describe()}.",
                field=f"{base}.columns",
            )
    if type(data) is not list:
        raise InvalidInput(
            f"{base}.data must be an array of rows, got {_json_type(data)}.", field=f"{base}.data"
        )
    if not data:
        raise InvalidInput(f"{base}.data is empty; send at least one row.", field=f"{base}.data")
    width = len(cols)
    for i, row in enumerate(data):
        if type(row) is not list or len(row) != width:
            got = f"{len(row)} values" if type(row) is list else _json_type(row)
            raise InvalidInput(
                f"{base}.data[{i}] must be an array of {width} values (one per column), got {got}.",
                field=f"{base}.data[{i}]",
            )
    position = {c: k for k, c in enumerate(cols)}
    columns: list[list[Any]] = []
    for j, name in enumerate(spec.names):
        k = position[name]
        values = [row[k] for row in data]
        _check_values(values, j, spec, lambda i, k=k: f"{base}.data[{i}][{k}]")
        columns.append(values)
    _check_datetimes(columns, spec, lambda i, j: f"{base}.data[{i}][{position[spec.names[j]]}]")
    return Parsed(columns, len(data))


def _check_values(values: list[Any], j: int, spec: InputSpec, field: Any) -> None:
    allowed = spec.allowed[j]
    for i, value in enumerate(values):
        if type(value) not in allowed or (type(value) is int and not _INT_MIN <= value <= _INT_MAX):
            raise _type_error(value, spec, j, field(i), spec.names[j])


def _record_keys_error(record: dict[str, Any], spec: InputSpec, where: str) -> NoReturn:
    for name in spec.names:
        if name not in record:
            raise InvalidInput(
                f"{where} is missing column '{name}'; the model takes {spec.describe()}.",
                field=f"{where}.{name}",
            )
    extra = next(k for k in record if k not in spec.names)
    raise _extra_error(extra, spec, f"{where}.{extra}")


def _extra_error(key: str, spec: InputSpec, field: str) -> InvalidInput:
    return InvalidInput(
        f"Unexpected field '{key}' ({field}); the model takes only {spec.describe()}.", field=field
    )


def _type_error(
    value: Any, spec: InputSpec, j: int, field: str, column: str | None = None
) -> InvalidInput:
    of = f" (column '{column}')" if column else ""
    kind = spec.kinds[j]
    if type(value) is int and kind in ("integer", "float"):
        return InvalidInput(
            f"{field}{of} is {value}, outside the 64-bit integer range.", field=field
        )
    shown = _shown(value)
    wanted = _ARTICLE[kind] + (" or null" if spec.is_nullable(j) else "")
    return InvalidInput(
        f"{field}{of} must be {wanted}, got {_json_type(value)} {shown}.", field=field
    )


def _shown(value: Any) -> str:
    shown = orjson.dumps(value).decode()
    return shown if len(shown) <= 40 else shown[:37] + "..."


def _check_datetimes(
    columns: list[list[Any]], spec: InputSpec, field: Callable[[int, int], str]
) -> None:
    """Every value of a datetime column must parse as ISO 8601 (they are strings by now)."""
    for j, kind in enumerate(spec.kinds):
        if kind != "datetime":
            continue
        for i, value in enumerate(columns[j]):
            if value is not None and _parse_datetime(value) is None:
                where = field(i, j)
                raise InvalidInput(
                    f"{where} must be {_ARTICLE['datetime']} such as "
                    f'"2024-05-17" or "2024-05-17T09:30:00", got {_shown(value)}.',
                    field=where,
                )


def _parse_datetime(text: str) -> datetime | None:
    """An ISO-8601 string as a naive datetime (an offset converted to UTC); else ``None``."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    for kind, name in (
        (bool, "boolean"),
        (int, "integer"),
        (float, "number"),
        (str, "string"),
        (list, "array"),
        (dict, "object"),
    ):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def to_arrays(spec: InputSpec, parts: Sequence[Parsed]) -> dict[str, np.ndarray]:
    """Merge the columns of several validated requests into one NumPy array per column."""
    out: dict[str, np.ndarray] = {}
    for j, name in enumerate(spec.names):
        if len(parts) == 1:
            values = parts[0].columns[j]
        else:
            values = []
            for part in parts:
                values.extend(part.columns[j])
        out[name] = _array(values, spec.kinds[j], spec.is_nullable(j))
    return out


def _array(values: list[Any], kind: str, nullable: bool) -> np.ndarray:
    """One column as the dtype the model was trained on; nulls as NaN or NaT."""
    if kind == "datetime":
        moments = [None if v is None else _parse_datetime(v) for v in values]
        return np.array(
            [np.datetime64("NaT") if m is None else np.datetime64(m, "ns") for m in moments],
            dtype="datetime64[ns]",
        )
    if not nullable or None not in values:
        return np.array(values, dtype=_DTYPES[kind])
    if kind == "string":
        return np.array([np.nan if v is None else v for v in values], dtype=object)
    # float, integer and boolean: a gap makes the column float, as in pandas
    return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)


def records_of(spec: InputSpec, parsed: Parsed) -> list[dict[str, Any]]:
    """The request's rows as records (what the prediction log stores as ``inputs``)."""
    if parsed.records is not None:
        return parsed.records
    return [dict(zip(spec.names, row, strict=True)) for row in zip(*parsed.columns, strict=True)]

"""Column types and signatures: the one vocabulary of profiles, registry, flavors and serving.

Five column types cover every dataset and model input: ``integer``, ``float``,
``boolean``, ``string`` and ``datetime``. A :class:`Column` is a name, a type and
whether it may be missing (``nullable``); a :class:`Signature` is the ordered input
columns of a model. Signatures are stored as plain lists (``to_list``/``from_list``);
rows written before ``nullable`` existed read back as not nullable.

Examples
--------
>>> sig = Signature.from_list(
...     [{"name": "age", "type": "float", "nullable": True}, {"name": "sex", "type": "string"}]
... )
>>> sig.names, sig.numeric
(('age', 'sex'), False)
>>> sig.to_list()
[{'name': 'age', 'type': 'float', 'nullable': True}, {'name': 'sex', 'type': 'string'}]
>>> schema = [{"name": "age", "type": "float"}, {"name": "when", "type": "datetime"}]
>>> profile = {"columns": {"age": {"missing": 3}, "when": {"missing": 0}}}
>>> [c.to_dict() for c in columns_from_schema(schema, profile=profile)]
[{'name': 'age', 'type': 'float', 'nullable': True}, {'name': 'when', 'type': 'datetime'}]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from prodline.errors import InvalidInput

__all__ = [
    "COLUMN_TYPES",
    "Column",
    "ColumnType",
    "NUMERIC_TYPES",
    "Signature",
    "column_type_of",
    "columns_from_schema",
]

ColumnType = Literal["integer", "float", "boolean", "string", "datetime"]
COLUMN_TYPES: tuple[ColumnType, ...] = get_args(ColumnType)
NUMERIC_TYPES: frozenset[str] = frozenset({"integer", "float", "boolean"})


@dataclass(frozen=True)
class Column:
    """One named, typed input column; ``nullable`` columns accept missing values.

    Examples
    --------
    >>> Column("age", "integer")
    Column(name='age', type='integer', nullable=False)
    """

    name: str
    type: ColumnType
    nullable: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"Column name must be a non-empty string, got {self.name!r}.")
        if self.type not in COLUMN_TYPES:
            raise InvalidInput(
                f"Column '{self.name}' has type {self.type!r}; "
                f"use one of {', '.join(COLUMN_TYPES)}."
            )
        if not isinstance(self.nullable, bool):
            raise InvalidInput(
                f"Column '{self.name}' has nullable={self.nullable!r}; use true or false."
            )

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form; ``nullable`` appears only when true, as stored before it."""
        out: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.nullable:
            out["nullable"] = True
        return out


@dataclass(frozen=True)
class Signature:
    """The ordered input columns a model scores.

    Examples
    --------
    >>> sig = Signature.from_list([{"name": "x", "type": "float"}])
    >>> sig.to_list()
    [{'name': 'x', 'type': 'float'}]
    >>> sig.names
    ('x',)
    """

    inputs: tuple[Column, ...]

    def __post_init__(self) -> None:
        names = [c.name for c in self.inputs]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            listed = ", ".join(f"'{name}'" for name in duplicates)
            raise InvalidInput(f"Signature lists column(s) {listed} more than once.")

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in signature order."""
        return tuple(c.name for c in self.inputs)

    @property
    def numeric(self) -> bool:
        """Whether every column is integer, float or boolean."""
        return all(c.type in NUMERIC_TYPES for c in self.inputs)

    def with_nullable(self, names: Iterable[str], *, only: bool = False) -> Signature:
        """A copy with the columns in ``names`` nullable; ``only`` makes the rest not."""
        wanted = set(names)
        return Signature(
            tuple(
                replace(c, nullable=c.name in wanted or (c.nullable and not only))
                for c in self.inputs
            )
        )

    def to_list(self) -> list[dict[str, Any]]:
        """Return the JSON-ready form: ``[{"name": ..., "type": ...}, ...]``."""
        return [c.to_dict() for c in self.inputs]

    @classmethod
    def from_list(cls, data: Sequence[Mapping[str, Any]]) -> Signature:
        """Build a signature from its :meth:`to_list` form.

        Parameters
        ----------
        data : sequence of mappings
            Each item has a ``name``, a ``type`` (one of :data:`COLUMN_TYPES`) and
            optionally ``nullable`` (false when absent, as in signatures stored before it).

        Returns
        -------
        Signature

        Raises
        ------
        InvalidInput
            If an item is not a mapping with a valid name and type.
        """
        if isinstance(data, str | bytes) or not isinstance(data, Sequence):
            raise InvalidInput("A signature must be a list of {'name': ..., 'type': ...} items.")
        columns = []
        for i, item in enumerate(data):
            if not isinstance(item, Mapping) or "name" not in item or "type" not in item:
                raise InvalidInput(
                    f"Signature item {i} must be a mapping with 'name' and 'type', got {item!r}."
                )
            columns.append(Column(item["name"], item["type"], item.get("nullable", False)))
        return cls(tuple(columns))


def column_type_of(dtype: Any) -> ColumnType:
    """Map a NumPy or pandas dtype to one of the five column types.

    Booleans are checked before integers because NumPy counts ``bool`` as a number.
    Everything that is not boolean, numeric or datetime (object, category, string,
    timedelta, ...) is ``"string"``.

    Examples
    --------
    >>> import numpy as np
    >>> [column_type_of(np.dtype(t)) for t in ("bool", "int32", "float64", "M8[ns]", "O")]
    ['boolean', 'integer', 'float', 'datetime', 'string']
    """
    from pandas.api import types  # lazy: the CLI reads signatures without pandas

    if types.is_bool_dtype(dtype):
        return "boolean"
    if types.is_integer_dtype(dtype):
        return "integer"
    if types.is_float_dtype(dtype):
        return "float"
    if types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return "string"


def columns_from_schema(
    schema: Sequence[Mapping[str, Any]],
    *,
    exclude: Iterable[str] = (),
    profile: Mapping[str, Any] | None = None,
) -> list[Column]:
    """Turn a dataset schema (``[{"name", "type"}]``) into model input columns.

    Parameters
    ----------
    schema : sequence of mappings
        A dataset version's schema.
    exclude : iterable of str
        Columns that are not inputs (the target).
    profile : mapping, optional
        The dataset's profile; a column with missing values in it is ``nullable``.

    Returns
    -------
    list of Column
        Unknown types (from older profiles) become ``"string"``.
    """
    skipped = set(exclude)
    stats = (profile or {}).get("columns", {})
    out = []
    for item in schema:
        name = str(item["name"])
        if name in skipped:
            continue
        kind = item.get("type")
        missing = (stats.get(name) or {}).get("missing") or 0
        out.append(Column(name, kind if kind in COLUMN_TYPES else "string", missing > 0))
    return out

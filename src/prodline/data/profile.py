"""Schema and statistical profile of a DataFrame, kept as the reference for drift checks.

A profile is plain JSON: ints, floats, strings, lists and ``None`` (never NaN or
infinity), so it can be stored next to a dataset version, diffed, and compared later
with the profile of live traffic. Numeric columns keep quantiles and a fixed-edge
histogram (the edges are reused to bin new data for PSI-style comparisons);
categorical columns keep a top-k frequency table plus an ``other`` bucket. Integer
columns with few distinct values get both, because such columns are usually codes
whose category shares drift, not their mean.

Example
-------
>>> import pandas as pd
>>> frame = pd.DataFrame({"age": [22, 35, 35, None], "sex": ["f", "m", "m", "f"]})
>>> schema_of(frame)
[{'name': 'age', 'type': 'float'}, {'name': 'sex', 'type': 'string'}]
>>> prof = profile_dataframe(frame, bins=4)
>>> prof["rows"], prof["columns"]["age"]["missing"], prof["columns"]["sex"]["top"]["values"]
(4, 1, ['f', 'm'])
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from prodline.core.schema import ColumnType, column_type_of
from prodline.errors import InvalidInput

if TYPE_CHECKING:  # imported where a frame is profiled: reading stored profiles needs neither
    import numpy as np
    import pandas as pd

__all__ = ["ColumnType", "column_type", "profile_dataframe", "schema_of"]

_QUANTILES: tuple[tuple[str, float], ...] = (
    ("p01", 0.01),
    ("p05", 0.05),
    ("p25", 0.25),
    ("p50", 0.50),
    ("p75", 0.75),
    ("p95", 0.95),
    ("p99", 0.99),
)
# Integer columns with at most this many distinct values also get a frequency table.
_LOW_CARDINALITY = 20


def column_type(series: pd.Series) -> ColumnType:
    """The column type of a series (see :func:`prodline.core.schema.column_type_of`)."""
    return column_type_of(series.dtype)


def schema_of(df: pd.DataFrame) -> list[dict[str, str]]:
    """Describe the columns of ``df`` in order.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame to describe.

    Returns
    -------
    list of dict
        ``[{"name": ..., "type": ColumnType}, ...]`` in column order; column names
        are turned into strings.
    """
    _check_frame(df)
    return [{"name": str(name), "type": column_type(col)} for name, col in df.items()]


def profile_dataframe(df: pd.DataFrame, *, bins: int = 20, top: int = 20) -> dict[str, Any]:
    """Compute a JSON-serializable statistical profile of ``df``.

    Parameters
    ----------
    df : pandas.DataFrame
        The frame to profile.
    bins : int, default 20
        Number of histogram bins for numeric columns.
    top : int, default 20
        Number of most frequent values kept for string, boolean and low-cardinality
        integer columns; the rest are counted in ``other``.

    Returns
    -------
    dict
        ``{"rows": n, "columns": {name: {...}}}``. Every column has ``type``,
        ``missing``, ``missing_share`` and ``distinct`` (non-missing distinct values).
        Numeric columns add ``min``, ``max``, ``mean``, ``std`` (sample, ddof=1),
        ``quantiles`` and ``histogram``; float columns add ``infinite`` (count of
        ``±inf``, which the statistics leave out); string, boolean and integer columns
        with at most 20 distinct values add ``top``; datetime columns add ISO-8601
        ``min`` and ``max``. Statistics of a column without values are ``None``.

    Raises
    ------
    InvalidInput
        If ``df`` is not a DataFrame, has duplicate column names, or ``bins``/``top``
        are out of range.
    """
    _check_frame(df)
    if bins < 1:
        raise InvalidInput(f"bins must be at least 1, got {bins}.", bins=bins)
    if top < 0:
        raise InvalidInput(f"top must be zero or more, got {top}.", top=top)
    rows = len(df)
    columns: dict[str, Any] = {}
    for name, series in df.items():
        columns[str(name)] = _profile_column(series, rows=rows, bins=bins, top=top)
    return {"rows": rows, "columns": columns}


def _check_frame(df: object) -> None:
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(f"Expected a pandas DataFrame, got {type(df).__name__}.")
    if df.columns.duplicated().any():
        dupes = sorted({str(c) for c in df.columns[df.columns.duplicated()]})
        raise InvalidInput(
            f"Column names must be unique; rename the duplicates: {', '.join(dupes)}.",
            columns=dupes,
        )


def _profile_column(series: pd.Series, *, rows: int, bins: int, top: int) -> dict[str, Any]:
    kind = column_type(series)
    values = series.dropna()
    if kind == "string" and values.dtype == object:
        # Mixed objects (and unhashable ones such as lists) are compared by their text.
        values = values.map(str)
    missing = rows - len(values)
    out: dict[str, Any] = {
        "type": kind,
        "missing": int(missing),
        "missing_share": float(missing / rows) if rows else 0.0,
        "distinct": int(values.nunique()),
    }
    if kind in ("integer", "float"):
        import numpy as np

        with np.errstate(over="ignore", invalid="ignore"):  # overflows end up as None
            out.update(_numeric_stats(values, kind=kind, bins=bins))
        if kind == "integer" and out["distinct"] <= _LOW_CARDINALITY:
            out["top"] = _top_table(values, top=top, cast=int)
    elif kind == "boolean":
        out["top"] = _top_table(values, top=top, cast=bool)
    elif kind == "string":
        out["top"] = _top_table(values, top=top, cast=str)
    else:
        out["min"] = values.min().isoformat() if len(values) else None
        out["max"] = values.max().isoformat() if len(values) else None
    return out


def _numeric_stats(values: pd.Series, *, kind: ColumnType, bins: int) -> dict[str, Any]:
    import numpy as np

    data = values.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = data[np.isfinite(data)]
    out: dict[str, Any] = {}
    if kind == "float":
        out["infinite"] = int(data.size - finite.size)
    if finite.size == 0:
        out.update(min=None, max=None, mean=None, std=None)
        out["quantiles"] = {label: None for label, _ in _QUANTILES}
        out["histogram"] = None
        return out
    if kind == "integer":
        # Exact even beyond 2**53, where the float copy would round.
        out["min"], out["max"] = int(values.min()), int(values.max())
    else:
        out["min"], out["max"] = float(finite.min()), float(finite.max())
    out["mean"] = _finite_or_none(float(finite.mean()))
    out["std"] = _finite_or_none(float(finite.std(ddof=1))) if finite.size > 1 else None
    qs = np.quantile(finite, [q for _, q in _QUANTILES])
    out["quantiles"] = {label: float(q) for (label, _), q in zip(_QUANTILES, qs, strict=True)}
    counts, edges = _histogram(finite, bins)
    out["histogram"] = {"edges": [float(e) for e in edges], "counts": [int(c) for c in counts]}
    return out


def _histogram(finite: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    try:
        return np.histogram(finite, bins=bins)
    except ValueError:
        # float64 cannot split the range into `bins` parts: too narrow (IDs near 2**62
        # that round to one value) or too wide (max - min overflows). Halving keeps the
        # width finite; equal edges are allowed and put every value in the last bin.
        lo, hi = float(finite.min()), float(finite.max())
        return np.histogram(finite, bins=2 * np.linspace(lo / 2, hi / 2, bins + 1))


def _top_table(values: pd.Series, *, top: int, cast: type) -> dict[str, Any]:
    counts = values.value_counts(dropna=True)
    counts = counts[counts > 0]  # categoricals list unused categories with count 0
    # Sort by count, then by text, so ties come out the same on every run.
    pairs = sorted(
        ((cast(value), int(count)) for value, count in counts.items()),
        key=lambda pair: (-pair[1], str(pair[0])),
    )
    kept = pairs[:top]
    return {
        "values": [value for value, _ in kept],
        "counts": [count for _, count in kept],
        "other": int(len(values) - sum(count for _, count in kept)),
    }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None

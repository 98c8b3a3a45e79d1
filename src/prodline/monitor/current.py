"""Resolve a drift comparison's two sides in a workspace, then run :mod:`drift` on them.

The reference is a dataset version's canonical Parquet copy (``ws.datasets.load``;
the registered CSV is never re-read). The current side is a DataFrame, a CSV/Parquet
file, or ``MODEL@ALIAS``: the rows logged for the version the alias points to now
(``ws.predictions.read(model, version=..., last=..., since=...)``). For a model, only
its signature columns are compared (the reference's others, e.g. the target, are
listed in ``left_out``), and its outputs too: the reference outputs are the same
version's predictions on the reference rows, so a shift in what it predicts is seen
against what it predicted on its own data.

Reached as ``ws.drift(...)``; this module only calls the workspace's services.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from prodline.errors import InvalidInput
from prodline.monitor.drift import DriftOptions, DriftReport, compute_drift, output_columns

if TYPE_CHECKING:
    import pandas as pd

    from prodline.workspace import Workspace

__all__ = ["drift_against", "read_frame"]

_FILE_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": ",", ".parquet": "", ".pq": ""}


def drift_against(
    ws: Workspace,
    reference: str,
    current: str | os.PathLike[str] | pd.DataFrame,
    *,
    last: int | None = None,
    since: datetime | timedelta | None = None,
    options: DriftOptions | None = None,
) -> DriftReport:
    """``ws.drift``: see :meth:`prodline.Workspace.drift`."""
    import pandas as pd

    if "@" not in str(reference):
        raise InvalidInput(
            f"Reference '{reference}' must name a dataset version: write {reference}@1.",
            field="reference",
        )
    ref_frame = ws.datasets.load(reference)
    if isinstance(current, pd.DataFrame):
        return compute_drift(ref_frame, current, options=options)
    text = os.fspath(current)
    path = Path(text)
    if path.suffix.lower() in _FILE_SUFFIXES or path.exists():
        if last is not None or since is not None:
            raise InvalidInput(
                "--last and --since select a window of a model's prediction log; "
                f"'{text}' is a file: drop them or give MODEL@ALIAS.",
                field="current",
            )
        return compute_drift(ref_frame, read_frame(path), options=options)
    if "@" not in text:
        raise InvalidInput(
            f"Current '{text}' is neither a file nor MODEL@ALIAS; give a .csv/.parquet "
            "file or a model alias such as credit-risk@production.",
            field="current",
        )
    return _model_window(ws, ref_frame, text, last=last, since=since, options=options)


def read_frame(path: Path) -> pd.DataFrame:
    """A CSV/TSV/Parquet file as a DataFrame; a clear error for a missing or bad one."""
    import pandas as pd
    import pyarrow as pa

    if not path.is_file():
        raise InvalidInput(f"File '{path}' does not exist.", field="current")
    suffix = path.suffix.lower()
    if suffix not in _FILE_SUFFIXES:
        raise InvalidInput(
            f"'{path.name}' has an unsupported format; give a .csv, .tsv or .parquet file.",
            field="current",
        )
    try:
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path, sep=_FILE_SUFFIXES[suffix])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"'{path.name}' is not a well-formed file: {exc}.") from exc
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"'{path.name}' is not a readable Parquet file: {exc}.") from exc


def _model_window(
    ws: Workspace,
    ref_frame: pd.DataFrame,
    ref: str,
    *,
    last: int | None,
    since: datetime | timedelta | None,
    options: DriftOptions | None,
) -> DriftReport:
    import numpy as np
    import pandas as pd

    name, _, alias = ref.partition("@")
    mv = ws.models.get(name, alias)
    moment = datetime.now(UTC) - since if isinstance(since, timedelta) else since
    window = ws.predictions.read(name, version=mv.version, last=last, since=moment)
    if window.empty:
        span = f" in the last {since}" if isinstance(since, timedelta) else ""
        raise InvalidInput(
            f"Model {mv.ref} ({name}@{alias}) has no logged predictions{span}; serve some "
            "traffic first, or widen --since/--last.",
            field="current",
        )
    inputs = [c["name"] for c in mv.signature]
    missing = [c for c in inputs if c not in ref_frame.columns]
    if missing:
        raise InvalidInput(
            f"Model {mv.ref} takes column(s) {', '.join(missing)} that the reference lacks; "
            f"compare it with the dataset it was trained on ({', '.join(mv.trained_on)}).",
            field="reference",
        )
    left_out = {
        str(c): f"not an input of model {mv.ref}" for c in ref_frame.columns if c not in inputs
    }
    predictor = ws.models.load_predictor(mv)
    scored = predictor.predict({c: ref_frame[c].to_numpy() for c in inputs})
    reference = ref_frame[inputs].copy()
    reference["prediction"] = np.asarray(scored.predictions)
    if scored.probabilities is not None and scored.classes is not None:
        for j, cls in enumerate(scored.classes):
            reference[f"proba_{cls}"] = np.asarray(scored.probabilities)[:, j]
    outputs = [c for c in output_columns(window) if c in reference.columns]
    current = window[[*inputs, *outputs]]
    label = [] if pd.api.types.is_float_dtype(reference["prediction"].dtype) else ["prediction"]
    return compute_drift(
        reference[[*inputs, *outputs]],
        current,
        categorical=label,
        options=options,
        left_out=left_out,
    )

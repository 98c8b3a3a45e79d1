"""What every model flavor shares: signatures, predictions, and telling flavors apart.

A *flavor* is a file format plus the code that scores it. prodline accepts two, both
safe to open: scikit-learn models saved with skops (no pickle) and ONNX graphs. Python
pickles (``pickle``, ``joblib``, ``torch.save``) are recognised and refused, because
opening one runs whatever code it names.
"""

from __future__ import annotations

import bz2
import lzma
import pickletools
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from prodline.core.schema import COLUMN_TYPES, NUMERIC_TYPES, Column, ColumnType, Signature
from prodline.errors import InvalidInput, UnsafeModel

__all__ = [
    "COLUMN_TYPES",
    "Column",
    "ColumnType",
    "NUMERIC_TYPES",
    "Prediction",
    "Predictor",
    "Signature",
    "detect_flavor",
    "gather_columns",
    "infer_signature",
    "load_predictor",
]

FLAVORS = ("onnx", "sklearn")

ACCEPTED_FORMATS = (
    "Accepted formats: a scikit-learn model saved with skops "
    "(skops.io.dump(model, 'model.skops')) or an ONNX model "
    "(skl2onnx.to_onnx(model, X) written with .SerializeToString())."
)

_HEAD_BYTES = 64
_SCAN_BYTES = 1 << 20


@dataclass(frozen=True, eq=False)
class Prediction:
    """What a predictor returns for a batch of ``n`` rows.

    ``predictions`` has shape ``(n,)``. For classifiers that expose them,
    ``probabilities`` has shape ``(n, len(classes))`` and column ``j`` belongs to
    ``classes[j]``; otherwise both are ``None``.
    """

    predictions: np.ndarray
    probabilities: np.ndarray | None
    classes: list[Any] | None


@runtime_checkable
class Predictor(Protocol):
    """A loaded model, ready to score columns."""

    flavor: str
    signature: Signature

    def predict(self, columns: Mapping[str, np.ndarray]) -> Prediction:
        """Score one batch given as one 1-D array per signature column."""
        ...


def gather_columns(
    columns: Mapping[str, Any], names: Sequence[str], source: str
) -> tuple[list[np.ndarray], int]:
    """Pick ``names`` out of ``columns`` as 1-D arrays of one common length.

    Extra columns are ignored, so callers may pass a whole record.

    Raises
    ------
    InvalidInput
        If a column is missing, not one-dimensional, or of a different length.
    """
    missing = [name for name in names if name not in columns]
    if missing:
        raise InvalidInput(
            f"Model '{source}' needs input column(s) {_quoted(missing)}; "
            f"it expects {_quoted(names)}.",
            missing=missing,
        )
    arrays = [np.asarray(columns[name]) for name in names]
    n = arrays[0].shape[0] if arrays and arrays[0].ndim == 1 else -1
    for name, array in zip(names, arrays, strict=True):
        if array.ndim != 1:
            raise InvalidInput(
                f"Input column '{name}' must be one-dimensional, got shape {array.shape}."
            )
        if array.shape[0] != n:
            raise InvalidInput(
                f"Input columns must have the same length; '{names[0]}' has {n} rows "
                f"and '{name}' has {array.shape[0]}."
            )
    return arrays, max(n, 0)


def detect_flavor(path: Path) -> Literal["sklearn", "onnx"]:
    """Tell which flavor a model file is, from its content rather than its name.

    Parameters
    ----------
    path : Path
        The model file.

    Returns
    -------
    {"sklearn", "onnx"}
        ``"sklearn"`` for a skops archive, ``"onnx"`` for an ONNX graph.

    Raises
    ------
    UnsafeModel
        If the file is (or contains) a Python pickle, including joblib files.
    InvalidInput
        If the file cannot be read or is in no accepted format.
    """
    path = Path(path)
    try:
        with path.open("rb") as handle:
            head = handle.read(_HEAD_BYTES)
    except OSError as exc:
        raise InvalidInput(f"Cannot read model file '{path.name}': {exc.strerror}.") from None
    if not head:
        raise InvalidInput(f"Model file '{path.name}' is empty. {ACCEPTED_FORMATS}")
    if head.startswith(b"PK"):
        return _zip_flavor(path)
    if _looks_like_pickle(path, head):
        raise UnsafeModel(_pickle_message(path.name))
    from prodline.models.flavors.onnx import onnx_load_error

    problem = onnx_load_error(path)
    if problem is None:
        return "onnx"
    if _parses_as_pickle(path):
        raise UnsafeModel(_pickle_message(path.name))
    raise InvalidInput(
        f"'{path.name}' is not a model file prodline can load ({problem}). {ACCEPTED_FORMATS}"
    )


def load_predictor(path: Path, flavor: str, signature: Signature | None) -> Predictor:
    """Open a model file of a known flavor, ready to score.

    Parameters
    ----------
    path : Path
        The model file.
    flavor : {"sklearn", "onnx"}
        As returned by :func:`detect_flavor` when the model was registered.
    signature : Signature or None
        The recorded input columns; ``None`` infers them from the model itself.

    Returns
    -------
    Predictor

    Raises
    ------
    UnsafeModel
        If loading would run untrusted code.
    InvalidInput
        If the file is unreadable, or the signature does not fit the model.
    """
    if flavor == "sklearn":
        from prodline.models.flavors.sklearn import SklearnPredictor

        return SklearnPredictor.load(Path(path), signature)
    if flavor == "onnx":
        from prodline.models.flavors.onnx import OnnxPredictor

        return OnnxPredictor.load(Path(path), signature)
    raise InvalidInput(f"Unknown model flavor {flavor!r}; use one of {', '.join(FLAVORS)}.")


def infer_signature(
    path: Path, flavor: str, candidate_columns: Sequence[Column] | None
) -> Signature | None:
    """Work out a model's input columns from the model file.

    Parameters
    ----------
    path : Path
        The model file.
    flavor : {"sklearn", "onnx"}
        The model's flavor.
    candidate_columns : sequence of Column or None
        The training dataset's feature columns, used for names and types the model
        file does not record.

    Returns
    -------
    Signature or None
        ``None`` when the file records no column names and the candidates do not fit.
        A scikit-learn model's column is nullable when the model imputes or natively
        handles its missing values; an ONNX model's when the candidate column is (the
        training data had gaps).
    """
    candidates = tuple(candidate_columns) if candidate_columns else None
    if flavor == "sklearn":
        from prodline.models.flavors._nulls import nullable_columns
        from prodline.models.flavors.sklearn import load_sklearn, sklearn_signature

        estimator = load_sklearn(Path(path))
        signature = sklearn_signature(estimator, candidates)
        if signature is None:
            return None
        # The pipeline's structure decides: gaps in the training data say nothing when
        # the rows with them were dropped before fitting.
        return signature.with_nullable(nullable_columns(estimator, signature.names), only=True)
    if flavor == "onnx":
        from prodline.models.flavors.onnx import onnx_signature, open_session

        return onnx_signature(open_session(Path(path)), candidates)
    raise InvalidInput(f"Unknown model flavor {flavor!r}; use one of {', '.join(FLAVORS)}.")


def _zip_flavor(path: Path) -> Literal["sklearn"]:
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        raise InvalidInput(
            f"'{path.name}' looks like a zip archive but is truncated or corrupt. "
            f"{ACCEPTED_FORMATS}"
        ) from None
    if any(name.endswith((".pkl", ".pickle")) for name in members):
        raise UnsafeModel(_pickle_message(path.name))
    if "schema.json" in members:
        return "sklearn"
    raise InvalidInput(
        f"'{path.name}' is a zip archive but not a skops model (no schema.json). {ACCEPTED_FORMATS}"
    )


def _looks_like_pickle(path: Path, head: bytes) -> bool:
    """Pickle protocol 2+ starts with 0x80; joblib may wrap it in a compressor."""
    if head[:1] == b"\x80":
        return True
    decompressor = _decompressor(head)
    if decompressor is None:
        return False
    with path.open("rb") as handle:
        data = handle.read(_SCAN_BYTES)  # a bz2 block must arrive whole
    try:
        return bool(decompressor.decompress(data, 1) == b"\x80")
    except (zlib.error, OSError, lzma.LZMAError, EOFError, ValueError):
        return False


def _decompressor(head: bytes) -> Any:
    if head[:2] == b"\x1f\x8b":
        return zlib.decompressobj(16 + zlib.MAX_WBITS)
    if head[:1] == b"\x78":
        return zlib.decompressobj()
    if head[:3] == b"BZh":
        return bz2.BZ2Decompressor()
    if head[:6] == b"\xfd7zXZ\x00" or head[:3] == b"\x5d\x00\x00":
        return lzma.LZMADecompressor()
    return None


def _parses_as_pickle(path: Path) -> bool:
    """Spot protocol 0/1 pickles by decoding opcodes; nothing is executed."""
    with path.open("rb") as handle:
        data = handle.read(_SCAN_BYTES)
    try:
        return any(op.name == "STOP" for op, _, _ in pickletools.genops(data))
    except Exception:
        return False


def _pickle_message(name: str) -> str:
    return (
        f"'{name}' is a Python pickle; loading it could run arbitrary code. "
        "Save the model with skops instead: skops.io.dump(model, 'model.skops')"
    )


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)

"""ONNX models: scored by onnxruntime on one CPU thread, its errors translated at the boundary.

One worker scores one request at a time, so a single intra- and inter-op thread gives
the lowest latency and no thread-pool wake-ups. Two input layouts are understood:
one tensor ``[N, k]`` holding every column (``skl2onnx.to_onnx(model, X)`` on an
array), or one ``[N, 1]`` input per column (``to_onnx`` on a DataFrame). Classifier
probabilities come either as ZipMap output (a list of dicts) or as a plain tensor.

onnxruntime raises its own exception classes, which derive from ``Exception`` only;
none of them leaves this module: malformed files and rejected inputs become
:class:`~prodline.errors.InvalidInput`, failures while running become
:class:`~prodline.errors.IntegrityError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state

from prodline.errors import IntegrityError, InvalidInput, ProdlineError
from prodline.models.flavors.base import (
    Column,
    ColumnType,
    Prediction,
    Signature,
    gather_columns,
)

__all__ = ["OnnxPredictor", "onnx_load_error", "onnx_signature", "open_session"]

_ORT_REJECTIONS = ("InvalidArgument", "InvalidGraph", "InvalidProtobuf", "NoSuchFile", "NotFound")
_REJECTED_INPUT: tuple[type[Exception], ...] = (
    *(getattr(ort_state, name) for name in _ORT_REJECTIONS if hasattr(ort_state, name)),
    ValueError,
    TypeError,
    KeyError,
)

_DTYPES: dict[str, Any] = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(float16)": np.float16,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(int16)": np.int16,
    "tensor(int8)": np.int8,
    "tensor(uint64)": np.uint64,
    "tensor(uint32)": np.uint32,
    "tensor(uint16)": np.uint16,
    "tensor(uint8)": np.uint8,
    "tensor(bool)": np.bool_,
    "tensor(string)": object,
}
_KIND_TO_TYPE: dict[str, ColumnType] = {
    "f": "float",
    "i": "integer",
    "u": "integer",
    "b": "boolean",
    "O": "string",
}
_CLASS_LABEL_ATTRIBUTES = ("classlabels_ints", "classlabels_int64s", "classlabels_strings")


def open_session(path: Path) -> ort.InferenceSession:
    """Open an ONNX file for low-latency CPU scoring.

    Raises
    ------
    InvalidInput
        If the file is missing, not ONNX, truncated, or uses unsupported operators.
    """
    path = Path(path)
    try:
        return _session(path)
    except Exception as exc:
        raise InvalidInput(
            f"'{path.name}' is not a readable ONNX model ({_reason(exc, path)}). "
            "Re-export it, e.g. skl2onnx.to_onnx(model, X).SerializeToString()."
        ) from None


def onnx_load_error(path: Path) -> str | None:
    """Why onnxruntime cannot open ``path``, or ``None`` when it can."""
    try:
        _session(Path(path))
    except Exception as exc:
        return _reason(exc, path)
    return None


def onnx_signature(
    session: ort.InferenceSession, candidates: Sequence[Column] | None
) -> Signature | None:
    """Infer input columns from an ONNX graph.

    One input per column gives names and types from the graph. A single ``[N, k]``
    tensor takes the candidates' names when ``k`` matches, else ``x0`` … ``x{k-1}``.
    """
    inputs = session.get_inputs()
    if len(inputs) == 1 and len(inputs[0].shape) == 2:
        width = inputs[0].shape[1]
        column_type = _column_type(inputs[0].type)
        if candidates and (width == len(candidates) or not isinstance(width, int)):
            return Signature(tuple(candidates))
        if width == 1:
            return Signature((Column(inputs[0].name, column_type),))
        if isinstance(width, int):
            return Signature(tuple(Column(f"x{i}", column_type) for i in range(width)))
        return None
    return Signature(tuple(Column(i.name, _column_type(i.type)) for i in inputs))


class OnnxPredictor:
    """An onnxruntime session behind the ``Predictor`` protocol."""

    flavor = "onnx"

    def __init__(
        self,
        session: ort.InferenceSession,
        signature: Signature,
        *,
        source: str = "model",
        classes: list[Any] | None = None,
    ) -> None:
        self.session = session
        self.signature = signature
        self.source = source
        self._classes = classes
        inputs = session.get_inputs()
        self._tensor = len(inputs) == 1 and len(inputs[0].shape) == 2
        self._names = signature.names if self._tensor else tuple(i.name for i in inputs)
        self._feeds = [(i.name, _dtype(i.type, source), len(i.shape)) for i in inputs]
        self._check_inputs(inputs)
        outputs = session.get_outputs()
        proba = next((o for o in outputs if _is_probability(o.name, o.type)), None)
        label = next((o for o in outputs if o is not proba), None)
        if label is None:
            raise InvalidInput(f"ONNX model '{source}' has no prediction output.")
        self._outputs = [label.name] + ([proba.name] if proba is not None else [])
        self._zipmap = proba is not None and proba.type.startswith("seq(map(")

    @classmethod
    def load(cls, path: Path, signature: Signature | None) -> OnnxPredictor:
        """Open an ONNX file; ``signature=None`` infers it from the graph."""
        session = open_session(path)
        if signature is None:
            signature = onnx_signature(session, None)
        if signature is None:
            raise InvalidInput(
                f"ONNX model '{path.name}' has an input of unknown width; pass its signature."
            )
        has_proba = any(_is_probability(o.name, o.type) for o in session.get_outputs())
        classes = _graph_classes(path) if has_proba else None
        return cls(session, signature, source=path.name, classes=classes)

    def predict(self, columns: Mapping[str, np.ndarray]) -> Prediction:
        """Score one batch given as one 1-D array per signature column."""
        arrays, n = gather_columns(columns, self._names, self.source)
        if self._tensor:
            name, dtype, _ = self._feeds[0]
            feed = {name: self._stack(arrays, n, dtype)}
        else:
            feed = {
                name: self._cast(array, dtype, name).reshape((n, 1) if rank == 2 else (n,))
                for (name, dtype, rank), array in zip(self._feeds, arrays, strict=True)
            }
        try:
            results = self.session.run(self._outputs, feed)
        except Exception as exc:
            raise _translate(exc, self.source) from None
        labels = np.asarray(results[0])
        if labels.ndim == 2 and labels.shape[1] == 1:
            labels = labels.ravel()
        if len(results) == 1:
            return Prediction(labels, None, None)
        return self._with_probabilities(labels, results[1], n)

    def _with_probabilities(self, labels: np.ndarray, raw: Any, n: int) -> Prediction:
        classes = self._classes
        if not self._zipmap:
            proba = np.asarray(raw)
            return Prediction(labels, proba, list(classes) if classes is not None else None)
        if raw:  # ZipMap's own keys are authoritative; the graph's only serve empty batches
            classes = list(raw[0])
        classes = classes or []
        proba = np.empty((n, len(classes)), dtype=np.float32)
        for i, row in enumerate(raw):
            proba[i] = [row[c] for c in classes]
        return Prediction(labels, proba, list(classes))

    def _stack(self, arrays: list[np.ndarray], n: int, dtype: Any) -> np.ndarray:
        out = np.empty((n, len(arrays)), dtype=dtype)
        for j, array in enumerate(arrays):
            try:
                out[:, j] = array
            except (ValueError, TypeError):
                raise _bad_column(self._names[j], dtype, array) from None
        return out

    def _cast(self, array: np.ndarray, dtype: Any, name: str) -> np.ndarray:
        try:
            return array.astype(dtype, copy=False)
        except (ValueError, TypeError):
            raise _bad_column(name, dtype, array) from None

    def _check_inputs(self, inputs: list[Any]) -> None:
        wanted = set(self.signature.names)
        if self._tensor:
            width = inputs[0].shape[1]
            if isinstance(width, int) and width != len(self.signature.inputs):
                raise InvalidInput(
                    f"ONNX model '{self.source}' takes {width} columns in input "
                    f"'{inputs[0].name}' but its signature lists {len(self.signature.inputs)}."
                )
            return
        wide = [i.name for i in inputs if i.shape[1:] not in ([], [1])]
        if wide:
            raise InvalidInput(
                f"ONNX model '{self.source}' mixes several inputs with multi-column input(s) "
                f"{', '.join(wide)}; export one input per column or a single [N, k] tensor."
            )
        if wanted != set(self._names):
            raise InvalidInput(
                f"The signature ({', '.join(self.signature.names)}) does not match the inputs "
                f"of ONNX model '{self.source}' ({', '.join(self._names)})."
            )


def _session(path: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])


def _dtype(onnx_type: str, source: str) -> Any:
    try:
        return _DTYPES[onnx_type]
    except KeyError:
        raise InvalidInput(
            f"ONNX model '{source}' has an input of type {onnx_type}, which prodline cannot feed."
        ) from None


def _column_type(onnx_type: str) -> ColumnType:
    dtype = _DTYPES.get(onnx_type, np.float32)
    return _KIND_TO_TYPE.get(np.dtype(dtype).kind, "float")


def _is_probability(name: str, onnx_type: str) -> bool:
    return onnx_type.startswith("seq(map(") or "prob" in name.lower()


def _graph_classes(path: Path) -> list[Any] | None:
    """Class labels recorded in the graph (needs the optional ``onnx`` package)."""
    try:
        import onnx
    except ImportError:
        return None
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:
        return None
    found: list[Any] | None = None
    for node in model.graph.node:
        for attribute in node.attribute:
            if attribute.name == "classlabels_strings":
                found = [label.decode() for label in attribute.strings]
            elif attribute.name in _CLASS_LABEL_ATTRIBUTES:
                found = list(attribute.ints)
    return found


def _bad_column(name: str, dtype: Any, array: np.ndarray) -> InvalidInput:
    wanted = _KIND_TO_TYPE.get(np.dtype(dtype).kind, str(np.dtype(dtype)))
    return InvalidInput(
        f"Input column '{name}' must hold {wanted} values, got {array[:3].tolist()!r}."
    )


def _reason(exc: Exception, path: Path | None = None) -> str:
    """onnxruntime's message, short: no ``[ONNXRuntimeError] : 7 :`` prefix, no full path."""
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : ", "", str(exc)).strip()
    if path is not None:
        text = text.replace(str(path), path.name)
    return text or type(exc).__name__


def _translate(exc: Exception, source: str) -> ProdlineError:
    if isinstance(exc, ProdlineError):
        return exc
    if isinstance(exc, _REJECTED_INPUT):
        return InvalidInput(f"ONNX model '{source}' rejected the input: {_reason(exc)}")
    return IntegrityError(
        f"ONNX model '{source}' failed while scoring: {_reason(exc)}. The file may be "
        "corrupt or need a newer onnxruntime; re-export and register it again."
    )

"""Model flavors: open model files safely and score them fast.

Two flavors are accepted: scikit-learn models saved with skops and ONNX graphs.
Python pickles are refused. :func:`detect_flavor` tells them apart by content,
:func:`infer_signature` works out the input columns, and :func:`load_predictor`
returns a :class:`Predictor`.

The flavor modules load on first use (``OnnxPredictor`` imports onnxruntime,
``SklearnPredictor`` scikit-learn), so importing this package stays cheap for
commands that only read the registry.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from prodline.core.lazy import lazy_exports
from prodline.models.flavors.base import (
    Column,
    ColumnType,
    Prediction,
    Predictor,
    Signature,
    detect_flavor,
    infer_signature,
    load_predictor,
)
from prodline.models.flavors.sklearn import save_sklearn

if TYPE_CHECKING:
    from prodline.models.flavors.onnx import OnnxPredictor
    from prodline.models.flavors.sklearn import SklearnPredictor

__all__ = [
    "Column",
    "ColumnType",
    "OnnxPredictor",
    "Prediction",
    "Predictor",
    "Signature",
    "SklearnPredictor",
    "detect_flavor",
    "infer_signature",
    "load_predictor",
    "save_sklearn",
]

_LAZY = {
    "OnnxPredictor": "prodline.models.flavors.onnx",
    "SklearnPredictor": "prodline.models.flavors.sklearn",
}


__getattr__ = lazy_exports(__name__, _LAZY, globals())

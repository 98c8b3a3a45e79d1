"""Model flavors: open model files safely and score them fast.

Two flavors are accepted: scikit-learn models saved with skops and ONNX graphs.
Python pickles are refused. :func:`detect_flavor` tells them apart by content,
:func:`infer_signature` works out the input columns, and :func:`load_predictor`
returns a :class:`Predictor`.
"""

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
from prodline.models.flavors.onnx import OnnxPredictor
from prodline.models.flavors.sklearn import SklearnPredictor, save_sklearn

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

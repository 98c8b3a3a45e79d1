"""scikit-learn models: saved with skops, opened only when every type is trusted, scored fast.

Loading never unpickles. skops lists the types a file would build; we trust only
scikit-learn, NumPy and SciPy types plus a few plain builtins, and refuse the rest.

Scoring is shaped by how scikit-learn 1.9 validates input, measured per call
(logistic regression, 2 columns, 1 row: ~0.2 ms a call, nearly all of it validation):

* Labels and probabilities cost one estimator call, not two. For classifiers whose
  ``predict`` is the argmax of a score that ``predict_proba`` maps monotonically
  (logistic regression, trees, forests), labels are read off the probabilities; a
  row whose top probabilities tie falls back to ``predict``, so labels always equal
  the estimator's own.
* Numeric columns go in as one float64 matrix; building and validating a DataFrame
  costs several times the model (~1.8 ms against ~0.4 ms for both calls). An
  estimator fitted on a DataFrame would then warn "X does not have valid feature
  names" on every call, and filtering warnings per call is neither free nor
  thread-safe. Instead, at load, the predictor checks column names itself, drops the
  fitted copy of the names, and proves on a probe batch that the matrix scores as a
  DataFrame does, without warnings; if not, it keeps DataFrames.
* Any string column means DataFrames (a ColumnTransformer selects by name).

Importing this module is cheap: skops and scikit-learn load on first use, and skops
without the walk over every scikit-learn module that would drag torch into a model
server (see :func:`_skops_io`).
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping, Sequence
from copy import deepcopy
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pandas as pd

from prodline.errors import InvalidInput, UnsafeModel
from prodline.models.flavors.base import Column, Prediction, Signature, gather_columns

__all__ = [
    "TRUSTED_BUILTINS",
    "SklearnPredictor",
    "load_sklearn",
    "save_sklearn",
    "sklearn_signature",
    "untrusted_types",
]

TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.")
TRUSTED_BUILTINS = frozenset(
    {
        "builtins.bytearray",
        "builtins.bytes",
        "builtins.complex",
        "builtins.frozenset",
        "builtins.range",
        "builtins.set",
        "builtins.slice",
    }
)

_skops_lock = threading.Lock()
_INPUT_ERRORS = (ValueError, TypeError, KeyError, IndexError)
_PROBE_ROWS = {"integer": [0, 1], "float": [0.0, 1.0], "boolean": [False, True]}


def save_sklearn(model: Any, path: Path) -> None:
    """Save a scikit-learn model with skops, the format :func:`load_sklearn` opens.

    Raises
    ------
    InvalidInput
        If skops cannot represent the model.
    """
    try:
        _skops_io().dump(model, Path(path))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"skops cannot save this {type(model).__name__}: {exc}") from exc


def untrusted_types(path: Path) -> list[str]:
    """Types in a skops file that prodline will not build, sorted.

    Raises
    ------
    InvalidInput
        If the file is not a readable skops archive.
    """
    return sorted(name for name in _reported_types(Path(path)) if not _is_trusted(name))


def load_sklearn(path: Path) -> Any:
    """Load a skops file, building only trusted types.

    Raises
    ------
    UnsafeModel
        If the file holds a type outside scikit-learn, NumPy, SciPy and plain builtins.
    InvalidInput
        If the file is not a readable skops archive.
    """
    path = Path(path)
    reported = _reported_types(path)
    refused = sorted(name for name in reported if not _is_trusted(name))
    if refused:
        raise UnsafeModel(
            f"'{path.name}' contains types prodline does not trust: {', '.join(refused)}. "
            "Building them could run arbitrary code. Review them with "
            f"skops.io.get_untrusted_types(file='{path.name}'), then save a model made "
            "only of scikit-learn, NumPy and SciPy types.",
            untrusted_types=refused,
        )
    try:
        return _skops_io().load(path, trusted=reported)
    except Exception as exc:
        raise InvalidInput(f"'{path.name}' could not be loaded by skops: {exc}") from None


def sklearn_signature(estimator: Any, candidates: Sequence[Column] | None) -> Signature | None:
    """Infer input columns from a fitted estimator.

    Names come from ``feature_names_in_`` (types from ``candidates``, else ``"string"``
    for columns feeding an encoder with text categories and ``"float"`` otherwise).
    Without names, the candidates are used when their count matches
    ``n_features_in_``; otherwise the columns are unknown and ``None`` is returned.
    """
    by_name = {c.name: c for c in candidates or ()}
    names = getattr(estimator, "feature_names_in_", None)
    if names is not None:
        text = _text_columns(estimator)
        return Signature(
            tuple(
                by_name.get(str(n)) or Column(str(n), "string" if str(n) in text else "float")
                for n in names
            )
        )
    if candidates and getattr(estimator, "n_features_in_", None) == len(candidates):
        return Signature(tuple(candidates))
    return None


class SklearnPredictor:
    """A fitted scikit-learn estimator or pipeline behind the ``Predictor`` protocol.

    Parameters
    ----------
    estimator : fitted estimator or pipeline
        The model to score with.
    signature : Signature
        Its input columns; names must match ``feature_names_in_`` when it has them.
    source : str
        How error messages name the model, usually its file name.
    copy : bool
        The fast path may drop ``feature_names_in_`` from the estimator (see the
        module docstring). With ``copy=True`` it works on a deep copy, so the
        caller's estimator never changes; :meth:`load` owns its estimator and skips it.
    """

    flavor = "sklearn"

    def __init__(
        self, estimator: Any, signature: Signature, *, source: str = "model", copy: bool = True
    ) -> None:
        if copy and signature.numeric and hasattr(estimator, "feature_names_in_"):
            estimator = deepcopy(estimator)
        if not hasattr(estimator, "predict"):
            raise InvalidInput(
                f"'{source}' holds a {type(estimator).__name__}, which cannot predict; "
                "register a fitted estimator or pipeline."
            )
        self.estimator = estimator
        self.signature = signature
        self.source = source
        self._types = {c.name: c.type for c in signature.inputs}
        self._order = _column_order(estimator, signature, source)
        self._classes = _probability_classes(estimator)
        self._argmax = self._classes is not None and type(_final_step(estimator)) in (
            _argmax_classifiers()
        )
        self._dtype: type = np.float64 if signature.numeric else object
        self._use_matrix = self._choose_matrix_route()

    @classmethod
    def load(cls, path: Path, signature: Signature | None) -> SklearnPredictor:
        """Load a skops file; ``signature=None`` infers it from the estimator."""
        estimator = load_sklearn(path)
        if signature is None:
            signature = sklearn_signature(estimator, None)
        if signature is None:
            raise InvalidInput(
                f"Model '{path.name}' records no input column names; pass its signature, "
                "e.g. Signature.from_list([{'name': 'x0', 'type': 'float'}, ...])."
            )
        return cls(estimator, signature, source=path.name, copy=False)

    def predict(self, columns: Mapping[str, np.ndarray]) -> Prediction:
        """Score one batch given as one 1-D array per signature column."""
        arrays, n = gather_columns(columns, self._order, self.source)
        features = self._matrix(arrays, n) if self._use_matrix else self._frame(arrays)
        return self._score(features)

    def _matrix(self, arrays: list[np.ndarray], n: int) -> np.ndarray:
        out: np.ndarray = np.empty((n, len(arrays)), dtype=self._dtype)
        for j, array in enumerate(arrays):
            try:
                out[:, j] = array
            except (ValueError, TypeError):
                name = self._order[j]
                raise InvalidInput(
                    f"Input column '{name}' must hold {self._types[name]} values, "
                    f"got {array[:3].tolist()!r}."
                ) from None
        return out

    def _frame(self, arrays: list[np.ndarray]) -> pd.DataFrame:
        data = {}
        for name, array in zip(self._order, arrays, strict=True):
            text = self._types[name] == "string" and array.dtype.kind != "O"
            data[name] = array.astype(object) if text else array
        return pd.DataFrame(data, copy=False)

    def _score(self, features: Any) -> Prediction:
        estimator, classes = self.estimator, self._classes
        try:
            if classes is None:
                return Prediction(_flat(estimator.predict(features)), None, None)
            proba = np.asarray(estimator.predict_proba(features))
            if self._argmax and not _has_ties(proba):
                labels = classes.take(proba.argmax(axis=1))
            else:
                labels = np.asarray(estimator.predict(features))
        except _INPUT_ERRORS as exc:
            raise InvalidInput(f"Model '{self.source}' could not score the input: {exc}") from exc
        return Prediction(labels, proba, classes.tolist())

    def _choose_matrix_route(self) -> bool:
        if getattr(self.estimator, "feature_names_in_", None) is None:
            return True  # fitted on arrays: give it arrays
        if not self.signature.numeric:
            return False
        probe = [np.asarray(_PROBE_ROWS[self._types[name]]) for name in self._order]
        try:
            expected = self._score(self._frame(probe))
        except Exception:
            return False  # cannot even score the probe; keep the faithful route
        stripped = _drop_feature_names(self.estimator, self._order)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                got = self._score(self._matrix(probe, 2))
            ok = _same(expected, got) and not any("feature names" in str(w.message) for w in caught)
        except Exception:
            ok = False
        if not ok:
            for owner, names in stripped:
                owner.feature_names_in_ = names
        return ok


def _reported_types(path: Path) -> list[str]:
    """The types skops itself would not build from this file."""
    try:
        return list(_skops_io().get_untrusted_types(file=path))
    except Exception as exc:
        raise InvalidInput(f"'{path.name}' is not a readable skops file: {exc}") from None


@cache
def _skops_io() -> ModuleType:
    """``skops.io``, imported without walking every scikit-learn module.

    At import, skops builds its default list of trusted types by calling
    ``sklearn.utils.all_estimators()``, which imports every scikit-learn package (the
    array-API adapter for torch included): a second and a half, ~90 MB, and torch in a
    process that never touches a tensor. prodline never relies on that list — it
    decides trust itself (:func:`_is_trusted`) and passes skops the exact types to
    build — so the walk is skipped by answering it with an empty list while skops
    loads. skops' own default list is then empty, which only makes skops stricter for
    anyone else in the process who calls it without ``trusted=``.
    """
    import sklearn.utils

    with _skops_lock:
        walk = sklearn.utils.all_estimators
        sklearn.utils.all_estimators = _no_estimators
        try:
            import skops.io
        finally:
            sklearn.utils.all_estimators = walk
    return skops.io


def _no_estimators(type_filter: Any = None) -> list[tuple[str, type]]:
    return []


@cache
def _argmax_classifiers() -> tuple[type, ...]:
    """Classifiers whose ``predict`` is ``classes_[argmax(score)]`` and whose
    ``predict_proba`` is a row-wise non-decreasing map of the same score."""
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier

    return (
        DecisionTreeClassifier,
        ExtraTreeClassifier,
        ExtraTreesClassifier,
        LogisticRegression,
        RandomForestClassifier,
    )


def _is_trusted(name: str) -> bool:
    return name.startswith(TRUSTED_PREFIXES) or name in TRUSTED_BUILTINS


def _final_step(estimator: Any) -> Any:
    from sklearn.pipeline import Pipeline

    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[-1][1]
    return estimator


def _first_step(estimator: Any) -> Any:
    from sklearn.pipeline import Pipeline

    while isinstance(estimator, Pipeline):
        estimator = estimator.steps[0][1]
    return estimator


def _column_order(estimator: Any, signature: Signature, source: str) -> tuple[str, ...]:
    """Columns in the order the estimator was fitted on, checked against the signature."""
    fitted = getattr(estimator, "feature_names_in_", None)
    if fitted is None:
        width = getattr(estimator, "n_features_in_", None)
        if width is not None and width != len(signature.inputs):
            raise InvalidInput(
                f"Model '{source}' takes {width} input columns but its signature lists "
                f"{len(signature.inputs)}: {', '.join(signature.names)}."
            )
        return signature.names
    order = tuple(str(name) for name in fitted)
    missing = [name for name in order if name not in signature.names]
    unexpected = [name for name in signature.names if name not in order]
    if missing or unexpected:
        raise InvalidInput(
            f"The signature does not match the columns model '{source}' was trained on "
            f"({', '.join(order)}): missing {missing or 'none'}, unexpected "
            f"{unexpected or 'none'}.",
            missing=missing,
            unexpected=unexpected,
        )
    return order


def _probability_classes(estimator: Any) -> np.ndarray | None:
    if not hasattr(estimator, "predict_proba"):
        return None
    classes = getattr(estimator, "classes_", None)
    return classes if isinstance(classes, np.ndarray) and classes.ndim == 1 else None


def _text_columns(estimator: Any) -> set[str]:
    """Input columns that feed an encoder whose fitted categories are text."""
    from sklearn.compose import ColumnTransformer

    first = _first_step(estimator)
    if isinstance(first, ColumnTransformer):
        found: set[str] = set()
        for _, transformer, columns in getattr(first, "transformers_", []):
            categories = getattr(_first_step(transformer), "categories_", None)
            if categories is not None and isinstance(columns, list | tuple | np.ndarray):
                found.update(
                    c for c, cats in zip(columns, categories, strict=False) if _is_text(c, cats)
                )
        return found
    names = getattr(first, "feature_names_in_", None)
    categories = getattr(first, "categories_", None)
    if names is None or categories is None:
        return set()
    return {str(n) for n, cats in zip(names, categories, strict=False) if _is_text(n, cats)}


def _is_text(column: Any, categories: Any) -> bool:
    return isinstance(column, str) and np.asarray(categories).dtype.kind in "OSU"


def _drop_feature_names(root: Any, order: Sequence[str]) -> list[tuple[Any, np.ndarray]]:
    """Delete ``feature_names_in_`` equal to ``order`` anywhere in the estimator tree."""
    from sklearn.base import BaseEstimator

    wanted = np.asarray(order, dtype=object)
    dropped: list[tuple[Any, np.ndarray]] = []
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, BaseEstimator):
            names = vars(node).get("feature_names_in_")
            if names is not None and np.array_equal(names, wanted):
                dropped.append((node, names))
                del node.feature_names_in_
            stack.extend(vars(node).values())
        elif isinstance(node, list | tuple):
            stack.extend(node)
        elif isinstance(node, dict):
            stack.extend(node.values())
    return dropped


def _has_ties(proba: np.ndarray) -> bool:
    """Whether any row's top probability is shared, where argmax and predict may part."""
    if proba.ndim != 2:
        return True
    if proba.shape[1] == 2:  # ndarray methods: np.any() costs microseconds in dispatch
        return bool((proba[:, 0] == proba[:, 1]).any())
    top = proba.max(axis=1, keepdims=True)
    return bool(((proba == top).sum(axis=1) > 1).any())


def _flat(values: Any) -> np.ndarray:
    array = np.asarray(values)
    return array.ravel() if array.ndim == 2 and array.shape[1] == 1 else array


def _same(a: Prediction, b: Prediction) -> bool:
    def close(x: np.ndarray | None, y: np.ndarray | None) -> bool:
        if x is None or y is None:
            return x is y
        if x.shape != y.shape:
            return False
        if x.dtype.kind in "fc" and y.dtype.kind in "fc":
            return bool(np.allclose(x, y, rtol=1e-9, atol=1e-12))
        return bool(np.array_equal(x, y))

    return close(a.predictions, b.predictions) and close(a.probabilities, b.probabilities)

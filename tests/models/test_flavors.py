"""Model flavors: safe loading, signature inference and predictions equal to the estimator's."""

from __future__ import annotations

import functools
import operator
import pickle
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import joblib
import numpy as np
import onnx
import pandas as pd
import pytest
import skops.io
from onnx import TensorProto, helper
from onnxruntime.capi import onnxruntime_pybind11_state as ort_state
from skl2onnx import to_onnx
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

import prodline.models.flavors as flavors
import prodline.models.flavors.sklearn as sklearn_flavor
from prodline.errors import IntegrityError, InvalidInput, ProdlineError, UnsafeModel
from prodline.models.flavors import (
    Column,
    OnnxPredictor,
    Predictor,
    Signature,
    SklearnPredictor,
    detect_flavor,
    infer_signature,
    load_predictor,
    save_sklearn,
)
from prodline.models.flavors.sklearn import load_sklearn, untrusted_types

NUMERIC = [Column("a", "float"), Column("b", "float")]
MIXED = [Column("a", "float"), Column("c", "string"), Column("n", "integer")]
PICKLE_MESSAGE = (
    "is a Python pickle; loading it could run arbitrary code. "
    "Save the model with skops instead: skops.io.dump(model, 'model.skops')"
)


class Doubler(TransformerMixin, BaseEstimator):
    """A custom transformer: skops would have to import this module to build it."""

    def fit(self, X: Any, y: Any = None) -> Doubler:
        return self

    def transform(self, X: Any) -> Any:
        return np.asarray(X) * 2


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 80
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "c": rng.choice(["red", "green", "blue"], n),
            "n": rng.integers(0, 5, n),
        }
    )
    df["y"] = ((df.a + df.b + (df.c == "red")) > 0.5).astype(int)
    return df


def columns_of(df: pd.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    return {name: df[name].to_numpy() for name in names}


def mixed_pipeline(handle_unknown: str = "ignore") -> Pipeline:
    encode = ColumnTransformer(
        [
            ("cat", OneHotEncoder(handle_unknown=handle_unknown), ["c"]),
            ("num", StandardScaler(), ["a", "n"]),
        ]
    )
    return Pipeline([("encode", encode), ("model", LogisticRegression())])


def saved(tmp_path: Path, model: Any, name: str = "model.skops") -> Path:
    path = tmp_path / name
    save_sklearn(model, path)
    return path


def saved_onnx(tmp_path: Path, model: Any, sample: Any, name: str, **options: Any) -> Path:
    path = tmp_path / name
    path.write_bytes(to_onnx(model, sample, options=options or None).SerializeToString())
    return path


def test_all_is_sorted() -> None:
    assert flavors.__all__ == sorted(flavors.__all__)


# --- signatures -----------------------------------------------------------------------


def test_signature_round_trips_through_a_list() -> None:
    data = [{"name": "age", "type": "integer"}, {"name": "city", "type": "string"}]
    signature = Signature.from_list(data)
    assert signature.to_list() == data
    assert signature.names == ("age", "city")
    assert not signature.numeric


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("age", "must be a list"),
        ([{"name": "age"}], "with 'name' and 'type'"),
        ([{"name": "age", "type": "date"}], "has type 'date'; use one of"),
        ([{"name": "", "type": "float"}], "non-empty string"),
        ([{"name": "x", "type": "float"}, {"name": "x", "type": "float"}], "'x' more than once"),
    ],
)
def test_signature_rejects_malformed_lists(data: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Signature.from_list(data)


# --- scikit-learn ---------------------------------------------------------------------


def test_numeric_model_fitted_on_a_frame_scores_matrices_without_warnings(
    tmp_path: Path, frame: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = LogisticRegression().fit(frame[["a", "b"]], frame.y)
    path = saved(tmp_path, model)
    assert infer_signature(path, "sklearn", None) == Signature(tuple(NUMERIC))
    predictor = load_predictor(path, "sklearn", None)
    assert isinstance(predictor, Predictor)

    def no_pandas(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("numeric models must not build DataFrames")

    monkeypatch.setattr(sklearn_flavor, "pd", SimpleNamespace(DataFrame=no_pandas))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = predictor.predict(columns_of(frame, ["b", "a"]))
    monkeypatch.undo()
    np.testing.assert_array_equal(result.predictions, model.predict(frame[["a", "b"]]))
    np.testing.assert_allclose(result.probabilities, model.predict_proba(frame[["a", "b"]]))
    assert result.probabilities is not None and result.probabilities.shape == (len(frame), 2)
    assert result.classes == [0, 1]


def test_model_fitted_on_arrays_takes_candidate_columns(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    X = frame[["a", "b"]].to_numpy()
    model = LogisticRegression().fit(X, frame.y)
    path = saved(tmp_path, model)
    assert infer_signature(path, "sklearn", NUMERIC) == Signature(tuple(NUMERIC))
    assert infer_signature(path, "sklearn", NUMERIC[:1]) is None
    assert infer_signature(path, "sklearn", None) is None
    with pytest.raises(InvalidInput, match="records no input column names; pass its signature"):
        load_predictor(path, "sklearn", None)
    result = load_predictor(path, "sklearn", Signature(tuple(NUMERIC))).predict(
        columns_of(frame, ["a", "b"])
    )
    np.testing.assert_array_equal(result.predictions, model.predict(X))


def test_mixed_pipeline_scores_frames_and_infers_string_columns(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    model = mixed_pipeline().fit(frame[["a", "c", "n"]], frame.y)
    path = saved(tmp_path, model)
    assert infer_signature(path, "sklearn", MIXED) == Signature(tuple(MIXED))
    inferred = infer_signature(path, "sklearn", None)
    assert inferred is not None and inferred.to_list() == [
        {"name": "a", "type": "float"},
        {"name": "c", "type": "string"},
        {"name": "n", "type": "float"},
    ]
    result = load_predictor(path, "sklearn", Signature(tuple(MIXED))).predict(
        columns_of(frame, ["a", "c", "n"])
    )
    np.testing.assert_array_equal(result.predictions, model.predict(frame[["a", "c", "n"]]))
    np.testing.assert_allclose(result.probabilities, model.predict_proba(frame[["a", "c", "n"]]))


@pytest.mark.parametrize(
    ("make_model", "target"),
    [
        (lambda: RandomForestClassifier(n_estimators=4, random_state=0), "y"),
        (lambda: LogisticRegression(), "three_classes"),
        (lambda: LogisticRegression(), "text_labels"),
        (lambda: LinearRegression(), "a"),
    ],
    ids=["forest", "multiclass", "text-labels", "regressor"],
)
def test_predictions_equal_the_estimator(
    tmp_path: Path, frame: pd.DataFrame, make_model: Callable[[], Any], target: str
) -> None:
    y = {
        "y": frame.y,
        "three_classes": pd.cut(frame.a, [-np.inf, -0.5, 0.5, np.inf], labels=False),
        "text_labels": np.where(frame.y == 1, "yes", "no"),
        "a": frame.a * 2 - frame.b,
    }[target]
    X = frame[["a", "b"]]
    model = make_model().fit(X, y)
    result = load_predictor(saved(tmp_path, model), "sklearn", None).predict(
        columns_of(frame, ["a", "b"])
    )
    np.testing.assert_array_equal(result.predictions, model.predict(X))
    if hasattr(model, "predict_proba"):
        np.testing.assert_allclose(result.probabilities, model.predict_proba(X))
        assert result.classes == model.classes_.tolist()
    else:
        assert result.probabilities is None and result.classes is None
        assert result.predictions.shape == (len(frame),)


def test_tied_probabilities_fall_back_to_the_estimators_own_labels(
    tmp_path: Path, frame: pd.DataFrame
) -> None:
    model = LogisticRegression().fit(frame[["a", "b"]], frame.y)
    model.coef_[:] = 0.0
    model.intercept_[:] = 1e-17  # decision > 0, yet both probabilities round to 0.5
    result = load_predictor(saved(tmp_path, model), "sklearn", None).predict(
        {"a": np.zeros(3), "b": np.zeros(3)}
    )
    assert model.predict(pd.DataFrame({"a": [0.0], "b": [0.0]}))[0] == 1
    np.testing.assert_array_equal(result.predictions, [1, 1, 1])


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"a": np.array([1.0])}, "needs input column\\(s\\) 'b'"),
        ({"a": np.array(["x"]), "b": np.array([1.0])}, "'a' must hold float values"),
        ({"a": np.array([1.0, 2.0]), "b": np.array([1.0])}, "must have the same length"),
        ({"a": np.ones((1, 2)), "b": np.array([1.0])}, "must be one-dimensional"),
    ],
)
def test_sklearn_rejects_bad_columns(
    tmp_path: Path, frame: pd.DataFrame, columns: dict[str, np.ndarray], message: str
) -> None:
    model = LogisticRegression().fit(frame[["a", "b"]], frame.y)
    predictor = load_predictor(saved(tmp_path, model), "sklearn", None)
    with pytest.raises(InvalidInput, match=message):
        predictor.predict(columns)


def test_estimator_errors_become_invalid_input(tmp_path: Path, frame: pd.DataFrame) -> None:
    model = mixed_pipeline(handle_unknown="error").fit(frame[["a", "c", "n"]], frame.y)
    predictor = load_predictor(saved(tmp_path, model), "sklearn", None)
    columns = {"a": np.array([0.1]), "c": np.array(["purple"]), "n": np.array([1])}
    with pytest.raises(InvalidInput, match="could not score the input: Found unknown categories"):
        predictor.predict(columns)


def test_signature_must_match_the_training_columns(tmp_path: Path, frame: pd.DataFrame) -> None:
    model = LogisticRegression().fit(frame[["a", "b"]], frame.y)
    signature = Signature((Column("a", "float"), Column("z", "float")))
    with pytest.raises(InvalidInput, match="missing \\['b'\\], unexpected \\['z'\\]"):
        load_predictor(saved(tmp_path, model), "sklearn", signature)


@pytest.mark.parametrize(
    ("model", "refused"),
    [
        (Pipeline([("double", Doubler()), ("model", LogisticRegression())]), "Doubler"),
        (
            Pipeline(
                [
                    ("clip", FunctionTransformer(functools.partial(np.clip, a_min=-1, a_max=1))),
                    ("model", LogisticRegression()),
                ]
            ),
            "functools.partial",
        ),
    ],
    ids=["custom-class", "partial"],
)
def test_untrusted_types_are_refused(
    tmp_path: Path, frame: pd.DataFrame, model: Pipeline, refused: str
) -> None:
    model.fit(frame[["a", "b"]].to_numpy(), frame.y)
    path = tmp_path / "model.skops"
    skops.io.dump(model, path)
    assert detect_flavor(path) == "sklearn"
    for attempt in (
        lambda: load_predictor(path, "sklearn", Signature(tuple(NUMERIC))),
        lambda: infer_signature(path, "sklearn", NUMERIC),
    ):
        with pytest.raises(UnsafeModel, match=refused) as caught:
            attempt()
        assert "skops.io.get_untrusted_types" in caught.value.message
        assert any(refused in name for name in caught.value.details["untrusted_types"])


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        ({"kinds": frozenset({1, 2}), "window": slice(0, 2)}, []),
        (FunctionTransformer(np.log1p), []),
        (operator.add, ["_operator.add"]),
    ],
    ids=["allowed-builtins", "numpy-function", "operator"],
)
def test_only_sklearn_numpy_scipy_and_plain_builtins_are_trusted(
    tmp_path: Path, obj: Any, expected: list[str]
) -> None:
    path = tmp_path / "object.skops"
    skops.io.dump(obj, path)
    assert untrusted_types(path) == expected
    if not expected:
        load_sklearn(path)


# --- ONNX -----------------------------------------------------------------------------


def test_onnx_single_tensor(tmp_path: Path, frame: pd.DataFrame) -> None:
    X = frame[["a", "b"]].to_numpy(np.float32)
    model = LogisticRegression().fit(X, frame.y)
    path = saved_onnx(tmp_path, model, X[:1], "model.onnx")
    assert detect_flavor(path) == "onnx"
    assert infer_signature(path, "onnx", NUMERIC) == Signature(tuple(NUMERIC))
    positional = Signature((Column("x0", "float"), Column("x1", "float")))
    assert infer_signature(path, "onnx", None) == positional
    assert infer_signature(path, "onnx", MIXED) == positional
    predictor = load_predictor(path, "onnx", Signature(tuple(NUMERIC)))
    assert isinstance(predictor, OnnxPredictor) and isinstance(predictor, Predictor)
    result = predictor.predict(columns_of(frame, ["a", "b"]))
    np.testing.assert_array_equal(result.predictions, model.predict(X))
    np.testing.assert_allclose(result.probabilities, model.predict_proba(X), atol=1e-5)
    assert result.classes == [0, 1]


def test_onnx_per_column_inputs(tmp_path: Path, frame: pd.DataFrame) -> None:
    X = frame[["a", "c", "n"]]
    model = mixed_pipeline().fit(X, frame.y)
    path = saved_onnx(tmp_path, model, X[:1].astype({"a": np.float32}), "pipeline.onnx")
    signature = infer_signature(path, "onnx", None)
    assert signature == Signature(tuple(MIXED))
    result = load_predictor(path, "onnx", signature).predict(columns_of(frame, ["a", "c", "n"]))
    np.testing.assert_array_equal(result.predictions, model.predict(X))
    np.testing.assert_allclose(result.probabilities, model.predict_proba(X), atol=1e-5)
    assert result.classes == [0, 1]


@pytest.mark.parametrize(
    ("make_model", "labels", "options"),
    [
        (LogisticRegression, "y", {"zipmap": False}),
        (LogisticRegression, "text", {}),
        (lambda: RandomForestClassifier(n_estimators=4, random_state=0), "y", {}),
        (LinearRegression, "a", {}),
    ],
    ids=["tensor-probabilities", "text-labels", "forest", "regressor"],
)
def test_onnx_outputs(
    tmp_path: Path,
    frame: pd.DataFrame,
    make_model: Callable[[], Any],
    labels: str,
    options: dict[str, Any],
) -> None:
    X = frame[["a", "b"]].to_numpy(np.float32)
    y = {"y": frame.y, "text": np.where(frame.y == 1, "yes", "no"), "a": frame.a}[labels]
    model = make_model().fit(X, y)
    path = saved_onnx(tmp_path, model, X[:1], "model.onnx", **options)
    result = load_predictor(path, "onnx", None).predict({"x0": X[:, 0], "x1": X[:, 1]})
    assert result.predictions.shape == (len(frame),)
    if labels == "a":
        np.testing.assert_allclose(result.predictions, model.predict(X), rtol=1e-4, atol=1e-5)
        assert result.probabilities is None and result.classes is None
        return
    np.testing.assert_array_equal(result.predictions, model.predict(X))
    np.testing.assert_allclose(result.probabilities, model.predict_proba(X), atol=1e-5)
    assert result.classes == model.classes_.tolist()


def reshape_graph(tmp_path: Path) -> Path:
    """A valid graph that fails inside onnxruntime unless fed exactly two rows."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [None, 2])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, None)
    shape = helper.make_tensor("shape", TensorProto.INT64, [2], [2, 2])
    graph = helper.make_graph(
        [helper.make_node("Reshape", ["X", "shape"], ["Y"])], "g", [x], [y], [shape]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "reshape.onnx"
    onnx.save(model, str(path))
    return path


def test_onnx_runtime_failures_do_not_leak(tmp_path: Path) -> None:
    predictor = load_predictor(reshape_graph(tmp_path), "onnx", None)
    with pytest.raises(IntegrityError, match="failed while scoring: FAIL") as caught:
        predictor.predict({"x0": np.zeros(1), "x1": np.zeros(1)})
    assert not isinstance(caught.value.__cause__, Exception)


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (ort_state.InvalidArgument("bad dims"), InvalidInput),
        (ort_state.Fail("kernel failed"), IntegrityError),
        (ort_state.RuntimeException("oops"), IntegrityError),
        (ValueError("Required inputs are missing"), InvalidInput),
    ],
)
def test_onnx_errors_are_translated(
    tmp_path: Path, frame: pd.DataFrame, raised: Exception, expected: type[ProdlineError]
) -> None:
    X = frame[["a", "b"]].to_numpy(np.float32)
    path = saved_onnx(tmp_path, LogisticRegression().fit(X, frame.y), X[:1], "model.onnx")
    predictor = OnnxPredictor.load(path, None)

    class Failing:
        def run(self, *args: Any) -> None:
            raise raised

    predictor.session = Failing()  # type: ignore[assignment]
    with pytest.raises(expected, match=r"model\.onnx"):
        predictor.predict({"x0": X[:2, 0], "x1": X[:2, 1]})


@pytest.mark.parametrize(
    ("columns", "message"),
    [
        ({"x0": np.array(["a"]), "x1": np.array([1.0])}, "'x0' must hold float values"),
        ({"x0": np.array([1.0])}, "needs input column\\(s\\) 'x1'"),
    ],
)
def test_onnx_rejects_bad_columns(
    tmp_path: Path, frame: pd.DataFrame, columns: dict[str, np.ndarray], message: str
) -> None:
    X = frame[["a", "b"]].to_numpy(np.float32)
    path = saved_onnx(tmp_path, LogisticRegression().fit(X, frame.y), X[:1], "model.onnx")
    with pytest.raises(InvalidInput, match=message):
        load_predictor(path, "onnx", None).predict(columns)


def test_onnx_signature_must_fit_the_graph(tmp_path: Path, frame: pd.DataFrame) -> None:
    X = frame[["a", "b"]].to_numpy(np.float32)
    path = saved_onnx(tmp_path, LogisticRegression().fit(X, frame.y), X[:1], "model.onnx")
    with pytest.raises(InvalidInput, match="takes 2 columns in input 'X'"):
        load_predictor(path, "onnx", Signature((Column("a", "float"),)))


# --- telling files apart --------------------------------------------------------------


def write_pickle(path: Path, model: Any) -> None:
    path.write_bytes(pickle.dumps(model))


def write_old_pickle(path: Path, model: Any) -> None:
    path.write_bytes(pickle.dumps({"weights": [1, 2]}, protocol=0))


def write_torch_like(path: Path, model: Any) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps(model))


def joblib_writer(compress: Any) -> Callable[[Path, Any], None]:
    return lambda path, model: joblib.dump(model, path, compress=compress)


def write_garbage(path: Path, model: Any) -> None:
    path.write_bytes(b"this is not a model at all\n" * 10)


def write_plain_zip(path: Path, model: Any) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")


def write_truncated_skops(path: Path, model: Any) -> None:
    save_sklearn(model, path)
    path.write_bytes(path.read_bytes()[:200])


def write_truncated_onnx(path: Path, model: Any) -> None:
    data = to_onnx(model, np.zeros((1, 2), np.float32)).SerializeToString()
    path.write_bytes(data[: len(data) // 2])


def write_empty(path: Path, model: Any) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(
    ("write", "error", "message"),
    [
        (write_pickle, UnsafeModel, PICKLE_MESSAGE),
        (write_old_pickle, UnsafeModel, PICKLE_MESSAGE),
        (write_torch_like, UnsafeModel, PICKLE_MESSAGE),
        (joblib_writer(0), UnsafeModel, PICKLE_MESSAGE),
        (joblib_writer(3), UnsafeModel, PICKLE_MESSAGE),
        (joblib_writer(("gzip", 3)), UnsafeModel, PICKLE_MESSAGE),
        (joblib_writer(("bz2", 3)), UnsafeModel, PICKLE_MESSAGE),
        (joblib_writer(("xz", 3)), UnsafeModel, PICKLE_MESSAGE),
        (joblib_writer(("lzma", 3)), UnsafeModel, PICKLE_MESSAGE),
        (write_garbage, InvalidInput, "is not a model file prodline can load"),
        (write_plain_zip, InvalidInput, "zip archive but not a skops model"),
        (write_truncated_skops, InvalidInput, "truncated or corrupt"),
        (write_truncated_onnx, InvalidInput, "INVALID_PROTOBUF"),
        (write_empty, InvalidInput, "is empty"),
    ],
    ids=[
        "pickle",
        "pickle-protocol-0",
        "torch-like-zip",
        "joblib",
        "joblib-zlib",
        "joblib-gzip",
        "joblib-bz2",
        "joblib-xz",
        "joblib-lzma",
        "garbage",
        "plain-zip",
        "truncated-skops",
        "truncated-onnx",
        "empty",
    ],
)
def test_detect_flavor_refuses_pickles_and_unknown_files(
    tmp_path: Path,
    frame: pd.DataFrame,
    write: Callable[[Path, Any], None],
    error: type[ProdlineError],
    message: str,
) -> None:
    path = tmp_path / "suspect.bin"
    write(path, LogisticRegression().fit(frame[["a", "b"]].to_numpy(np.float32), frame.y))
    with pytest.raises(error) as caught:
        detect_flavor(path)
    assert "'suspect.bin'" in caught.value.message
    assert message in caught.value.message
    if error is InvalidInput and "empty" not in message:
        assert "Accepted formats" in caught.value.message


def test_detect_flavor_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"Cannot read model file 'absent\.onnx'"):
        detect_flavor(tmp_path / "absent.onnx")


@pytest.mark.parametrize("flavor", ["sklearn", "onnx"])
def test_unreadable_files_fail_cleanly_for_each_flavor(tmp_path: Path, flavor: str) -> None:
    path = tmp_path / "broken.model"
    path.write_bytes(b"\x08\x07garbage")
    for attempt in (
        lambda: load_predictor(path, flavor, None),
        lambda: infer_signature(path, flavor, None),
    ):
        with pytest.raises(InvalidInput, match=r"'broken\.model'"):
            attempt()


def test_unknown_flavor_is_refused(tmp_path: Path) -> None:
    with pytest.raises(
        InvalidInput, match="Unknown model flavor 'torch'; use one of onnx, sklearn"
    ):
        load_predictor(tmp_path / "model.pt", "torch", None)


def test_sklearn_predictor_leaves_the_callers_estimator_alone(frame: pd.DataFrame) -> None:
    model = LogisticRegression().fit(frame[["a", "b"]], frame.y)
    predictor = SklearnPredictor(model, Signature(tuple(NUMERIC)))
    assert isinstance(predictor, Predictor)
    assert predictor.flavor == "sklearn"
    assert model.feature_names_in_.tolist() == ["a", "b"]
    result = predictor.predict(columns_of(frame, ["a", "b"]))
    np.testing.assert_array_equal(result.predictions, model.predict(frame[["a", "b"]]))


# -- nullable columns: what a fitted pipeline does with a missing value -----------------


def _nan_frame() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame(
        {
            "a": rng.normal(size=60),
            "b": rng.normal(size=60),
            "c": rng.choice(["x", "y"], size=60),
            "label": rng.integers(0, 2, 60),
        }
    )


def _branches(a: Any, b: Any, model: Any) -> Pipeline:
    prep = ColumnTransformer(
        [("a", a, ["a"]), ("b", b, ["b"]), ("c", OneHotEncoder(handle_unknown="ignore"), ["c"])]
    )
    return Pipeline([("prep", prep), ("model", model)])


NULLABLE_CASES = [
    ("plain LR", LogisticRegression(), set()),
    ("imputer first", Pipeline([("imp", SimpleImputer()), ("lr", LogisticRegression())]), None),
    (
        "scaler passes NaN to LR",
        Pipeline([("s", StandardScaler()), ("lr", LogisticRegression())]),
        set(),
    ),
    ("NaN-tolerant model", HistGradientBoostingClassifier(max_iter=5), None),
    (
        "imputer on one branch",
        _branches(SimpleImputer(), StandardScaler(), LogisticRegression()),
        {"a"},
    ),
    (
        "imputed branch inside a pipeline",
        _branches(
            Pipeline([("imp", SimpleImputer()), ("s", StandardScaler())]),
            "drop",
            LogisticRegression(),
        ),
        {"a", "b"},  # a dropped column is never read
    ),
    (
        "tree after passing branches",
        _branches(StandardScaler(), "passthrough", HistGradientBoostingClassifier(max_iter=5)),
        {"a", "b", "c"},
    ),
]


@pytest.mark.parametrize(
    ("case", "model", "expected"), NULLABLE_CASES, ids=[c[0] for c in NULLABLE_CASES]
)
def test_nullable_columns_follow_the_pipeline(
    tmp_path: Path, case: str, model: Any, expected: set[str] | None
) -> None:
    frame = _nan_frame()
    numeric = case in ("plain LR", "imputer first", "scaler passes NaN to LR", "NaN-tolerant model")
    features = frame[["a", "b"]] if numeric else frame[["a", "b", "c"]]
    model.fit(features, frame["label"])
    path = tmp_path / "m.skops"
    save_sklearn(model, path)
    candidates = [Column("a", "float", True), Column("b", "float"), Column("c", "string")]
    signature = infer_signature(path, "sklearn", candidates[: len(features.columns)])
    assert signature is not None
    wanted = set(features.columns) if expected is None else expected
    assert {c.name for c in signature.inputs if c.nullable} == wanted
    # What the signature promises holds: NaN in a nullable column scores.
    for name in wanted & {"a", "b"}:
        gappy = features.head(3).copy()
        gappy[name] = np.nan
        model.predict(gappy)

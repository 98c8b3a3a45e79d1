"""Model registry contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import multiprocessing as mp
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from prodline.errors import Conflict, IntegrityError, InvalidInput, NotFound, UnsafeModel
from prodline.workspace import Workspace


def _setup(ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]) -> None:
    ws.datasets.register(frame, name="points", owner="ml")
    for model, auc in zip(fitted, (0.9, 0.8), strict=True):
        ws.models.register(
            model,
            name="clf",
            trained_on=["points@1"],
            target="label",
            metrics={"auc": auc},
            risk_level="minimal",  # the registry here; gates are tested in tests/gates
        )


def test_register_records_signature_lineage_and_metadata(
    ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _setup(ws, frame, fitted)
    mv = ws.models.get("clf", 1)
    assert (mv.version, mv.flavor, mv.risk_level, mv.status) == (1, "sklearn", "minimal", "active")
    assert mv.signature == [{"name": "x1", "type": "float"}, {"name": "x2", "type": "float"}]
    assert mv.trained_on == ("points@1",)
    assert mv.metrics == {"auc": 0.9}
    assert ws.models.get("clf").version == 2
    tree = ws.lineage.upstream("model:clf@1")
    assert [p.id for p in tree.parents] == ["dataset:points@1"]
    actions = [e.action for e in ws.audit.events()]
    assert actions.count("model.registered") == 2


def test_loaded_model_predicts_like_the_original(
    ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _setup(ws, frame, fitted)
    predictor = ws.models.load_predictor(ws.models.get("clf@2"))
    cols = {"x1": frame["x1"].to_numpy(), "x2": frame["x2"].to_numpy()}
    out = predictor.predict(cols)
    np.testing.assert_array_equal(out.predictions, fitted[1].predict(frame[["x1", "x2"]]))
    assert out.probabilities is not None and out.probabilities.shape == (200, 2)


def test_promote_rollback_and_history(
    ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _setup(ws, frame, fitted)
    ws.models.register(fitted[0], name="clf", trained_on=["points@1"], target="label")
    ws.promote("clf", 1, "production")
    ws.promote("clf", 2, "production")
    ws.promote("clf", 3, "production")
    assert ws.models.get("clf", "production").version == 3
    assert ws.rollback("clf", "production").version == 2
    assert ws.rollback("clf", "production").version == 1
    with pytest.raises(Conflict, match="no earlier version"):
        ws.rollback("clf", "production")
    history = ws.models.alias_history("clf", "production")
    assert [(h.action, h.from_version, h.to_version) for h in history] == [
        ("promote", None, 1),
        ("promote", 1, 2),
        ("promote", 2, 3),
        ("rollback", 3, 2),
        ("rollback", 2, 1),
    ]
    assert ws.models.aliases("clf") == {"production": 1}
    assert ws.lineage.upstream("alias:clf@production").parents[0].id == "model:clf@1"
    assert ws.audit.verify().ok


def test_archive_blocks_promotion(
    ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _setup(ws, frame, fitted)
    ws.promote("clf", 2, "production")
    with pytest.raises(Conflict, match="held by alias"):
        ws.models.archive("clf", 2)
    assert ws.models.archive("clf", 1).status == "archived"
    with pytest.raises(Conflict, match="archived"):
        ws.promote("clf", 1, "staging")


def test_stale_expected_revision_conflicts(
    ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _setup(ws, frame, fitted)
    ws.promote("clf", 1, "production", expected_revision=0)
    ws.promote("clf", 2, "production", expected_revision=1)
    with pytest.raises(Conflict, match="moved by someone else"):
        ws.promote("clf", 1, "production", expected_revision=1)
    assert ws.models.get("clf@production").version == 2


def _race(
    home: str, db_url: str, version: int, barrier: mp.synchronize.Barrier, results: mp.Queue[str]
) -> None:
    ws = Workspace.open(home, db_url=db_url, actor=f"racer{version}")
    state = ws.models.alias_state("clf", "production")
    barrier.wait()
    try:
        ws.promote("clf", version, "production", expected_revision=state[1] if state else 0)
        results.put("won")
    except Conflict:
        results.put("conflict")
    finally:
        ws.close()


def test_two_processes_promoting_one_alias_exactly_one_wins(
    ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _setup(ws, frame, fitted)
    ws.promote("clf", 1, "production")
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_race, args=(str(ws.home), ws.db.url, v, barrier, results))
        for v in (1, 2)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    outcomes = sorted(results.get(timeout=5) for _ in procs)
    assert outcomes == ["conflict", "won"]
    assert len(ws.models.alias_history("clf", "production")) == 2
    assert ws.audit.verify().ok


def test_unknown_things_say_what_exists(
    ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    with pytest.raises(NotFound, match="no models are registered yet"):
        ws.models.get("clf")
    _setup(ws, frame, fitted)
    with pytest.raises(NotFound, match="models are: clf"):
        ws.models.get("nope")
    with pytest.raises(NotFound, match="has no version 7; versions are 1–2"):
        ws.models.get("clf", 7)
    with pytest.raises(NotFound, match="no alias 'prod'; it has no aliases yet"):
        ws.models.get("clf", "prod")
    with pytest.raises(NotFound, match="has no version 9"):
        ws.promote("clf", 9, "production")


def test_pickles_and_untrusted_types_are_refused(
    sqlite_ws: Workspace, tmp_path: Path, fitted: list[LogisticRegression]
) -> None:
    bad = tmp_path / "model.pkl"
    bad.write_bytes(pickle.dumps(fitted[0]))
    with pytest.raises(UnsafeModel, match="pickle"):
        sqlite_ws.models.register(bad, name="clf")
    assert sqlite_ws.models.list() == [] and sqlite_ws.audit.count() == 0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"risk_level": "extreme"}, InvalidInput, "not one of minimal, limited, high"),
        ({"metrics": {"auc": "high"}}, InvalidInput, "must be a number"),
        ({"trained_on": ["nope@1"]}, NotFound, "Dataset 'nope' does not exist"),
        ({"name": "bad name"}, InvalidInput, "not valid"),
    ],
)
def test_bad_registration_arguments(
    sqlite_ws: Workspace,
    fitted: list[LogisticRegression],
    kwargs: dict[str, object],
    error: type[Exception],
    message: str,
) -> None:
    args: dict[str, object] = {"name": "clf"} | kwargs
    with pytest.raises(error, match=message):
        sqlite_ws.models.register(fitted[0], **args)  # type: ignore[arg-type]
    assert sqlite_ws.audit.count() == 0


def test_corrupted_model_artifact_is_named(
    sqlite_ws: Workspace, frame: pd.DataFrame, fitted: list[LogisticRegression]
) -> None:
    _setup(sqlite_ws, frame, fitted)
    mv = sqlite_ws.models.get("clf", 1)
    blob = sqlite_ws.artifacts.root / mv.artifact[:2] / mv.artifact
    blob.write_bytes(blob.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(IntegrityError, match=r"model clf@1.*corrupted"):
        sqlite_ws.models.load_predictor(mv)


def test_unreachable_database_is_a_clear_error(tmp_path: Path) -> None:
    from prodline.errors import StoreUnavailable

    with pytest.raises(StoreUnavailable, match="Cannot reach the metadata database"):
        Workspace.open(tmp_path, db_url="postgresql+psycopg://nobody@127.0.0.1:1/none")


def test_onnx_model_registers_with_signature_from_dataset_and_serves(
    ws: Workspace, frame: pd.DataFrame, tmp_path: Path
) -> None:
    from skl2onnx import to_onnx

    model = LogisticRegression().fit(frame[["x1", "x2"]].to_numpy(), frame["label"])
    sample = frame[["x1", "x2"]].to_numpy()[:1].astype(np.float32)
    path = tmp_path / "model.onnx"
    path.write_bytes(to_onnx(model, sample, options={"zipmap": False}).SerializeToString())
    ws.datasets.register(frame, name="points", owner="ml")
    mv = ws.models.register(path, name="onnx-clf", trained_on=["points@1"], target="label")
    assert mv.flavor == "onnx"
    assert [c["name"] for c in mv.signature] == ["x1", "x2"]
    out = ws.models.load_predictor(mv).predict(
        {"x1": frame["x1"].to_numpy(), "x2": frame["x2"].to_numpy()}
    )
    np.testing.assert_array_equal(out.predictions, model.predict(frame[["x1", "x2"]].to_numpy()))

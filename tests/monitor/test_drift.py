"""compute_drift, prediction_drift, ws.drift and `prodline drift`: defaults, overrides, errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from prodline.errors import InvalidInput
from prodline.ledger.predictions import Prediction, PredictionWriter
from prodline.monitor.drift import DriftOptions, compute_drift, prediction_drift
from prodline.workspace import Workspace


def frames(n: int, *, shift: float = 0.0, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    p = [0.5, 0.3, 0.2] if not shift else [0.2, 0.3, 0.5]
    return pd.DataFrame(
        {
            "x": rng.normal(shift, 1.0, n),
            "k": rng.integers(0, 100, n),
            "c": rng.choice(["a", "b", "c"], n, p=p),
        }
    )


def test_small_reference_uses_ks_and_chi_squared() -> None:
    report = compute_drift(frames(500), frames(800, shift=1.0, seed=1))
    assert {n: c.test for n, c in report.columns.items()} == {
        "x": "ks",
        "k": "ks",
        "c": "chisquare",
    }
    assert report.columns["x"].drift and report.columns["c"].drift
    assert not report.columns["k"].drift
    assert report.share == pytest.approx(2 / 3) and report.dataset_drift
    body = report.to_dict()
    assert set(body) == {"dataset_drift", "share", "columns"}
    assert set(body["columns"]["x"]) == {
        "type",
        "test",
        "statistic",
        "p_value",
        "threshold",
        "drift",
    }
    json.dumps(body)  # plain JSON


def test_large_reference_uses_wasserstein_and_jensen_shannon() -> None:
    report = compute_drift(frames(2000), frames(3000, seed=1))
    assert report.columns["x"].test == "wasserstein" and report.columns["c"].test == "jensenshannon"
    assert set(report.to_dict()["columns"]["x"]) == {
        "type",
        "test",
        "statistic",
        "score",
        "threshold",
        "drift",
    }
    assert not report.dataset_drift and report.share == 0.0


def test_every_test_and_threshold_is_configurable() -> None:
    options = DriftOptions(
        columns={"x": ("psi", 0.5), "c": ("jensenshannon", None), "k": (None, 0.9)},
        drift_share=0.3,
    )
    report = compute_drift(frames(500), frames(500, shift=0.3, seed=2), options=options)
    assert report.columns["x"].test == "psi" and report.columns["x"].threshold == 0.5
    assert report.columns["c"].threshold == 0.1
    assert report.columns["k"].test == "ks" and report.columns["k"].threshold == 0.9
    assert report.drift_share == 0.3


def test_prediction_drift_treats_labels_as_categories() -> None:
    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"prediction": rng.integers(0, 2, 400), "proba_1": rng.random(400)})
    cur = pd.DataFrame({"prediction": np.ones(400, dtype=int), "proba_1": rng.random(400) ** 0.2})
    cur["extra"] = 1.0
    report = prediction_drift(ref, cur)
    assert list(report.columns) == ["prediction", "proba_1"]
    assert report.columns["prediction"].test == "chisquare" and report.columns["prediction"].drift
    assert report.columns["proba_1"].test == "ks" and report.columns["proba_1"].drift


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda r, c: (r, c.drop(columns="x").assign(y=1.0)),
            "only in the reference: x; only in the current window: y",
        ),
        (lambda r, c: (r, c.assign(x=c["x"].astype(str))), "Column type changed: 'x' is numeric"),
        (
            lambda r, c: (r, c.head(10)),
            "The current window has 10 rows; drift tests need at least 30",
        ),
        (lambda r, c: (r.head(5), c), "The reference has 5 rows; drift tests need at least 30"),
    ],
)
def test_bad_input_names_the_thing(change, message: str) -> None:
    ref, cur = change(frames(100), frames(100, seed=1))
    with pytest.raises(InvalidInput, match=message.replace("(", r"\(")):
        compute_drift(ref, cur)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (lambda: DriftOptions(columns={"x": ("kss", None)}), "Unknown drift test 'kss'"),
        (lambda: DriftOptions(drift_share=0.0), "drift_share must be in"),
    ],
)
def test_bad_options(options, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        options()


def test_a_test_that_does_not_fit_the_column_type() -> None:
    with pytest.raises(InvalidInput, match="Test 'ks' does not apply to categorical column 'c'"):
        compute_drift(frames(100), frames(100), options=DriftOptions(columns={"c": ("ks", None)}))


def test_all_null_and_constant_columns_are_reported_not_fatal() -> None:
    ref, cur = frames(100), frames(100, seed=1)
    ref["empty"], cur["empty"] = np.nan, np.nan
    ref["const"], cur["const"] = 3.0, 3.0
    ref["sparse"], cur["sparse"] = np.nan, np.nan
    cur.loc[:4, "sparse"] = 1.0
    ref["sparse"] = np.arange(100.0)
    report = compute_drift(ref, cur)
    empty = report.columns["empty"]
    assert empty.statistic is None and not empty.drift
    assert "all values missing" in (empty.note or "")
    assert "needs 30" in (report.columns["sparse"].note or "")
    assert not report.columns["const"].drift and "constant" in (report.columns["const"].note or "")
    assert report.to_dict()["columns"]["empty"]["p_value"] is None
    assert report.share == 0.0  # untested columns do not count


# -- ws.drift and the CLI ---------------------------------------------------------------
FEATURES = ["a", "b"]


@pytest.fixture
def ws(tmp_path: Path):
    rng = np.random.default_rng(0)
    train = pd.DataFrame(rng.normal(size=(400, 2)), columns=FEATURES)
    train["y"] = (train["a"] > 0).astype(int)
    workspace = Workspace.open(tmp_path / "home", actor="test")
    workspace.datasets.register(train, name="train", owner="o")
    model = LogisticRegression().fit(train[FEATURES], train["y"])
    mv = workspace.models.register(
        model, name="m", trained_on=["train@1"], target="y", git_commit=""
    )
    workspace.promote("m", mv.version, "production")
    live = rng.normal(size=(300, 2))
    live[:, 0] += 2.0  # 'a' shifts, so predictions shift too
    proba = model.predict_proba(pd.DataFrame(live, columns=FEATURES))
    writer = PredictionWriter(workspace.db, workspace.artifacts, segment_rows=100)
    writer.write(
        [
            Prediction(
                f"r{i}",
                "m",
                1,
                1_700_000_000 + i,
                [dict(zip(FEATURES, live[i].tolist(), strict=True))],
                [int(proba[i, 1] > 0.5)],
                [proba[i].tolist()],
                [0, 1],
                1.0,
            )
            for i in range(300)
        ]
    )
    writer.close()
    yield workspace
    workspace.close()


def test_ws_drift_on_a_model_window(ws: Workspace) -> None:
    report = ws.drift("train@1", "m@production", last=200)
    assert report.rows_current == 200
    assert list(report.columns) == ["a", "b", "prediction", "proba_0", "proba_1"]
    assert report.columns["a"].drift and not report.columns["b"].drift
    assert report.columns["prediction"].type == "categorical" and report.columns["prediction"].drift
    assert report.left_out == {"y": "not an input of model m@1"}


def test_ws_drift_on_a_file_and_a_frame(ws: Workspace, tmp_path: Path) -> None:
    frame = ws.datasets.load("train@1")
    frame.to_csv(tmp_path / "cur.csv", index=False)
    assert not ws.drift("train@1", tmp_path / "cur.csv").dataset_drift
    assert not ws.drift("train@1", frame.sample(frac=1.0, random_state=0)).dataset_drift
    with pytest.raises(InvalidInput, match="only in the reference: y"):
        ws.drift("train@1", frame.drop(columns="y"))
    with pytest.raises(InvalidInput, match="neither a file nor MODEL@ALIAS"):
        ws.drift("train@1", "nothing-here")
    with pytest.raises(InvalidInput, match="no logged predictions"):
        ws.drift(
            "train@1", "m@production", since=pd.Timestamp("2100-01-01", tz="UTC").to_pydatetime()
        )


def _cli(args: list[str], home: Path, capsys, monkeypatch) -> tuple[int, str, str]:
    from prodline.cli.main import run

    monkeypatch.setenv("PRODLINE_HOME", str(home))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setattr(sys, "argv", ["prodline", *args])
    code = 0
    try:
        run()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_drift_json_and_table(ws: Workspace, tmp_path: Path, capsys, monkeypatch) -> None:
    home = ws.home
    code, out, err = _cli(
        ["drift", "train@1", "m@production", "--last", "300", "--json"], home, capsys, monkeypatch
    )
    assert code == 0, err
    body = json.loads(out)
    assert set(body) == {"dataset_drift", "share", "columns"}
    assert body["columns"]["a"]["drift"] is True and "y: not an input" in err
    code, out, _ = _cli(
        [
            "drift",
            "train@1",
            "m@production",
            "--test",
            "a=psi",
            "--threshold",
            "a=0.2",
            "--share",
            "0.9",
        ],
        home,
        capsys,
        monkeypatch,
    )
    assert code == 0
    assert "psi" in out and "left out: y" in out and "dataset: no drift" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train@1", "m@production", "--since", "soon"], "is not a duration"),
        (["train@1", "m@production", "--test", "a=nope"], "Unknown drift test 'nope'"),
        (["train@1", "m@staging"], "staging"),
        (["train", "m@production"], "must name a dataset version"),
    ],
)
def test_cli_mistakes_print_one_line(ws: Workspace, capsys, monkeypatch, args, message) -> None:
    code, _, err = _cli(["drift", *args], ws.home, capsys, monkeypatch)
    assert code == 2 and message in err and err.count("\n") == 1, err

"""Every CLI command, its JSON output, and one-line errors with exit code 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
import typer
from sklearn.linear_model import LogisticRegression

from prodline.cli.main import app

if TYPE_CHECKING:
    from conftest import Result

CLI = Callable[..., "Result"]


def _commands() -> list[tuple[str, Any]]:
    root = typer.main.get_command(app)
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, cmd: Any) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append((prefix, cmd))

    walk("", root)
    return found


def test_every_command_has_help_with_an_example() -> None:
    names = {name for name, _ in _commands()}
    assert {
        "init",
        "data add",
        "data list",
        "data show",
        "model register",
        "model list",
        "model show",
        "model archive",
        "promote",
        "rollback",
        "serve",
        "audit log",
        "audit verify",
        "lineage",
        "demo",
    } <= names
    for name, cmd in _commands():
        assert cmd.help and "Example:" in cmd.help, f"'{name}' lacks an Example: in its help"


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(120, 2))
    frame = pd.DataFrame({"x1": x[:, 0], "x2": x[:, 1], "label": (x[:, 0] > 0).astype(int)})
    csv = tmp_path / "points.csv"
    frame.to_csv(csv, index=False)
    out = {"csv": csv}
    for i, c in enumerate((1.0, 0.05), start=1):
        model = LogisticRegression(C=c).fit(frame[["x1", "x2"]], frame["label"])
        out[f"m{i}"] = tmp_path / f"m{i}.skops"
        sio.dump(model, out[f"m{i}"])
    return out


def _story(cli: CLI, files: dict[str, Path]) -> None:
    assert cli("init").code == 0
    r = cli(
        "data",
        "add",
        str(files["csv"]),
        "--name",
        "points",
        "--owner",
        "ml",
        "--source",
        "synthetic",
    )
    assert r.code == 0, r.err
    for key in ("m1", "m2"):
        r = cli(
            "model",
            "register",
            str(files[key]),
            "--name",
            "clf",
            "--trained-on",
            "points@1",
            "--metric",
            "auc=0.9",
            "--param",
            "C=1",
            "--tag",
            "team=ml",
            "--risk",
            "minimal",
        )
        assert r.code == 0, r.err


def test_full_story_through_the_cli(cli: CLI, files: dict[str, Path]) -> None:
    _story(cli, files)
    data = json.loads(cli("data", "list", "--json").out)
    assert [d["ref"] for d in data] == ["points@1"]
    shown = json.loads(cli("data", "show", "points@1", "--json").out)
    assert shown["rows"] == 120 and "profile" in shown and shown["owner"] == "ml"
    assert "points@1" in cli("data", "show", "points").out
    models = json.loads(cli("model", "list", "--json").out)
    assert models[0]["name"] == "clf" and models[0]["version"] == 2
    assert cli("promote", "clf@1", "--to", "production").code == 0
    r = cli("promote", "clf@2", "--to", "production")
    assert r.code == 0 and "was v1" in r.out
    shown = json.loads(cli("model", "show", "clf@production", "--json").out)
    assert shown["version"] == 2 and shown["trained_on"] == ["points@1"]
    assert shown["metrics"] == {"auc": 0.9} and shown["tags"] == {"team": "ml"}
    r = cli("rollback", "clf", "--alias", "production")
    assert r.code == 0 and "v1" in r.out
    assert json.loads(cli("model", "show", "clf@production", "--json").out)["version"] == 1
    assert "versions of clf" in cli("model", "show", "clf").out
    assert cli("model", "archive", "clf@2").code == 0
    log = json.loads(cli("audit", "log", "--json", "--limit", "100").out)
    actions = [e["action"] for e in log]
    assert actions.count("alias.promote") == 2 and "alias.rollback" in actions
    assert "model.archived" in actions and "dataset.registered" in actions
    assert "alias.promote" in cli("audit", "log").out
    r = cli("audit", "verify")
    assert r.code == 0 and f"ok, {len(log)} events" in r.out


def test_lineage_tree_and_openlineage(cli: CLI, files: dict[str, Path]) -> None:
    _story(cli, files)
    cli("promote", "clf@2", "--to", "production")
    tree = cli("lineage", "clf@production").out
    for text in (
        "alias clf@production",
        "model clf v2",
        "dataset points v1",
        "owner=ml",
        "source synthetic",
    ):
        assert text in tree, tree
    r = cli("lineage", "clf@production", "--openlineage")
    assert r.code == 0, r.err
    events = [json.loads(line) for line in r.out.strip().splitlines()]
    train = next(e for e in events if e["job"]["name"] == "train/clf")
    assert train["eventType"] == "COMPLETE"
    assert train["inputs"][0]["name"] == "dataset:points@1"
    assert train["inputs"][0]["facets"]["ownership"]["owners"][0]["name"] == "ml"
    assert {f["name"] for f in train["inputs"][0]["facets"]["schema"]["fields"]} >= {"x1", "x2"}
    assert any(e["job"]["name"] == "promote/clf" for e in events)


def test_tampered_audit_log_exits_1(cli: CLI, files: dict[str, Path], tmp_path: Path) -> None:
    import sqlite3

    _story(cli, files)
    con = sqlite3.connect(tmp_path / "home" / "prodline.db")
    con.execute("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2")
    con.commit()
    con.close()
    r = cli("audit", "verify")
    assert r.code == 1 and "event #2" in r.out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("data", "show", "nope"), "Dataset 'nope' does not exist"),
        (("data", "show", "points@9"), "has no version 9; versions are 1"),
        (("data", "add", "missing.csv", "--name", "x", "--owner", "o"), "does not exist"),
        (("model", "show", "nope"), "Model 'nope' does not exist; models are: clf"),
        (("model", "show", "clf@7"), "Model 'clf' has no version 7; versions are 1–2"),
        (("model", "show", "clf@staging"), "has no alias 'staging'"),
        (("model", "show", "clf@"), "not a valid model reference"),
        (("promote", "clf", "--to", "production"), "needs a version or alias"),
        (("promote", "clf@5", "--to", "production"), "has no version 5"),
        (("rollback", "clf", "--alias", "production"), "no alias 'production' to roll back"),
        (("model", "register", "{m1}", "--name", "clf", "--metric", "auc"), "key=value"),
        (("model", "register", "{m1}", "--name", "clf", "--metric", "auc=x"), "not a number"),
        (("model", "register", "{m1}", "--name", "clf", "--risk", "huge"), "not one of"),
        (
            ("model", "register", "{m1}", "--name", "clf", "--trained-on", "points"),
            "needs a version or alias",
        ),
        (("model", "register", "{pkl}", "--name", "clf"), "is a Python pickle"),
        (("data", "add", "{badcsv}", "--name", "bad", "--owner", "o"), "not a well-formed CSV"),
        (("lineage", "ghost@1"), "Model 'ghost' does not exist"),
        (("model", "list", "--bogus"), "No such option"),
    ],
)
def test_user_mistakes_are_one_line_and_exit_2(
    cli: CLI, files: dict[str, Path], tmp_path: Path, args: tuple[str, ...], message: str
) -> None:
    _story(cli, files)
    pkl = tmp_path / "model.pkl"
    pkl.write_bytes(b"\x80\x04\x95" + b"\x00" * 20)
    badcsv = tmp_path / "bad.csv"
    badcsv.write_text('a,b\n1,"2\n')
    filled = [a.format(m1=files["m1"], pkl=pkl, badcsv=badcsv) for a in args]
    before = cli("audit", "verify").out
    r = cli(*filled)
    assert r.code == 2, (r.out, r.err)
    assert message in r.err, r.err
    assert "Traceback" not in r.err + r.out
    assert len([line for line in r.err.strip().splitlines() if line.strip()]) <= 3
    assert cli("audit", "verify").out == before  # nothing was written


def test_promoting_an_archived_version_is_exit_2(cli: CLI, files: dict[str, Path]) -> None:
    _story(cli, files)
    assert cli("model", "archive", "clf@1").code == 0
    r = cli("promote", "clf@1", "--to", "production")
    assert r.code == 2 and "archived" in r.err


def test_unreachable_database_is_exit_2(cli: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("init").code == 0  # the home folder exists; its database URL is wrong
    monkeypatch.setenv("PRODLINE_DB_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    r = cli("data", "list")
    assert r.code == 2 and "Cannot reach the metadata database" in r.err
    assert "nobody@127.0.0.1:1" in r.err and "Traceback" not in r.err

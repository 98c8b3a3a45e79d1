"""What a new user met in their first hour: colours, --version, typos, --json, the README."""

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

import prodline
from prodline.cli.main import app

if TYPE_CHECKING:
    from conftest import Result

CLI = Callable[..., "Result"]
README = Path(__file__).resolve().parents[2] / "README.md"


def _commands() -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []

    def walk(prefix: str, cmd: Any) -> None:
        if hasattr(cmd, "commands"):
            for name, sub in cmd.commands.items():
                walk(f"{prefix} {name}".strip(), sub)
        else:
            found.append((prefix, cmd))

    walk("", typer.main.get_command(app))
    return found


@pytest.fixture
def model_ws(cli: CLI, tmp_path: Path) -> CLI:
    """A workspace with dataset d@1 and model m@1 (promoted to production)."""
    x = np.random.default_rng(0).normal(size=(60, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0).astype(int)})
    frame.to_csv(tmp_path / "d.csv", index=False)
    sio.dump(LogisticRegression().fit(frame[["a", "b"]], frame["y"]), tmp_path / "m.skops")
    assert cli("init").code == 0
    assert cli("data", "add", str(tmp_path / "d.csv"), "--name", "d", "--owner", "o").code == 0
    for _ in range(2):
        r = cli(
            "model", "register", str(tmp_path / "m.skops"), "--name", "m", "--trained-on", "d@1"
        )
        assert r.code == 0, r.err
    assert cli("promote", "m@1", "--to", "production").code == 0
    return cli


def test_every_command_is_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    missing = [name for name, _ in _commands() if f"prodline {name}" not in text]
    assert not missing, f"commands the README never shows: {missing}"


def test_colour_follows_the_environment_at_call_time(
    cli: CLI, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert cli("init").code == 0
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")  # what a terminal would get
    assert "\x1b[" in cli("audit", "verify").out
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("NO_COLOR", "1")  # set after the console was first used
    r = cli("audit", "verify")
    assert r.code == 0 and "ok, " in r.out and "\x1b[" not in r.out + r.err


def test_version(cli: CLI) -> None:
    r = cli("--version")
    assert r.code == 0 and r.out.strip() == f"prodline {prodline.__version__}"


def test_a_missing_workspace_is_refused_not_created(cli: CLI, tmp_path: Path) -> None:
    for args in (("model", "list"), ("data", "show", "x"), ("audit", "verify"), ("kb", "list")):
        r = cli(*args)
        assert r.code == 2, args
        assert r.err.count("\n") == 1 and "prodline init" in r.err
        assert str(tmp_path / "home") in r.err
    assert not (tmp_path / "home").exists()


def test_init_is_idempotent_and_says_where(cli: CLI, tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = cli("init")
    assert first.code == 0 and str(home) in first.out and "created" in first.out
    key = (home / "keys" / "audit.key").read_bytes()
    again = cli("init", "--json")
    assert again.code == 0
    assert json.loads(again.out) == {"home": str(home), "database": "sqlite", "created": False}
    assert (home / "keys" / "audit.key").read_bytes() == key
    assert cli("model", "list", "--json").out.strip() == "[]"


def test_a_new_alias_needs_create(model_ws: CLI) -> None:
    cli = model_ws
    r = cli("promote", "m@2", "--to", "prod")
    assert r.code == 2 and "production" in r.err and "--create" in r.err
    assert "prod" not in json.loads(cli("model", "show", "m", "--json").out)["all_aliases"]
    r = cli("promote", "m@2", "--to", "shadow", "--create", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out) == {"model": "m", "alias": "shadow", "version": 2, "previous": None}


def test_state_changes_take_json(model_ws: CLI) -> None:
    cli = model_ws
    r = cli("promote", "m@2", "--to", "production", "--json")
    assert json.loads(r.out) == {"model": "m", "alias": "production", "version": 2, "previous": 1}
    r = cli("rollback", "m", "--alias", "production", "--json")
    assert json.loads(r.out) == {"model": "m", "alias": "production", "version": 1, "previous": 2}
    archived = json.loads(cli("model", "archive", "m@2", "--json").out)
    assert archived["version"] == 2 and archived["status"] == "archived"
    verify = json.loads(cli("audit", "verify", "--json").out)
    assert verify["ok"] is True and verify["message"].startswith("ok, ")
    tree = json.loads(cli("lineage", "m@production", "--json").out)
    assert tree["id"] == "alias:m@production"
    model = tree["parents"][0]
    assert model["relation"] == "points_to" and model["facts"]["version"] == 1
    assert model["parents"][0]["facts"]["name"] == "d"


def test_every_state_change_and_list_show_takes_json() -> None:
    for name, cmd in _commands():
        if name in {"serve", "worker", "demo", "kb remove"}:  # long-running or interactive
            continue
        flags = {opt for param in cmd.params for opt in getattr(param, "opts", [])}
        assert "--json" in flags, f"'prodline {name}' has no --json"


def test_demo_files_writes_the_tour_inputs(cli: CLI, tmp_path: Path) -> None:
    r = cli("demo", "--files", str(tmp_path / "tour"))
    assert r.code == 0, r.err
    names = sorted(p.name for p in (tmp_path / "tour").iterdir())
    assert names == ["gb.skops", "german_credit.csv", "handbook", "lr.skops"]
    assert not (tmp_path / "home").exists()  # no workspace was touched
    assert cli("init").code == 0
    r = cli("model", "register", str(tmp_path / "tour" / "lr.skops"), "--name", "lr")
    assert r.code == 0, r.err


def test_risk_and_owner_live_on_the_model(model_ws: CLI) -> None:
    r = model_ws("model", "update", "m", "--risk", "high", "--owner", "team", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["risk_level"] == "high"
    shown = json.loads(model_ws("model", "show", "m@1", "--json").out)
    assert (shown["risk_level"], shown["owner"]) == ("high", "team")
    r = model_ws("model", "update", "m")
    assert r.code == 2 and "Nothing to change" in r.err
    r = model_ws("model", "update", "m", "--risk", "extreme")
    assert r.code == 2 and "not one of minimal, limited, high" in r.err

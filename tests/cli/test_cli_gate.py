"""``prodline gate``: policy, check, justify, approve (four-eyes), override, show."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LogisticRegression

if TYPE_CHECKING:
    from conftest import Result

CLI = Callable[..., "Result"]


@pytest.fixture
def gated(cli: CLI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CLI:
    """m@1 (limited risk, registered by 'ana') and a holdout h@1."""
    for name, seed in (("d", 0), ("h", 1)):
        x = np.random.default_rng(seed).normal(size=(200, 2))
        frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0).astype(int)})
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
        if name == "d":
            model = LogisticRegression().fit(frame[["a", "b"]], frame["y"])
            sio.dump(model, tmp_path / "m.skops")
    monkeypatch.setenv("PRODLINE_ACTOR", "ana")
    assert cli("init").code == 0
    for name in ("d", "h"):
        assert (
            cli("data", "add", str(tmp_path / f"{name}.csv"), "--name", name, "--owner", "o").code
            == 0
        )
    r = cli(
        "model",
        "register",
        str(tmp_path / "m.skops"),
        "--name",
        "m",
        "--trained-on",
        "d@1",
        "--target",
        "y",
        "--risk",
        "limited",
    )
    assert r.code == 0, r.err
    return cli


def test_policy_check_and_promote(gated: CLI, monkeypatch: pytest.MonkeyPatch) -> None:
    shown = json.loads(gated("gate", "policy", "limited", "--json").out)
    assert shown["protected_aliases"] == ["production"] and "evaluation" in shown["checks"]
    refused = gated("promote", "m@1", "--to", "production")
    assert refused.code == 2 and "evaluation: no recorded result" in refused.err
    r = gated("gate", "check", "m@1", "--holdout", "h@1", "--json")
    assert r.code == 0, r.out + r.err
    report = json.loads(r.out)
    assert report["passed"] and report["met"] == {"evaluation": True, "sensitivity": True}
    assert gated("promote", "m@1", "--to", "production").code == 0
    text = gated("gate", "show", "m@1")
    assert text.code == 0 and "passes" in text.out and "gate:evaluation" in text.out
    assert "limited@" in gated("gate", "policy").out
    show = json.loads(gated("gate", "show", "m@1", "--json").out)
    kinds = [e["kind"] for e in show["records"]]
    assert kinds[0] == "gate:decision"  # the refused promotion, recorded too
    assert kinds[1:3] == ["gate:evaluation", "gate:sensitivity"] and kinds[-1] == "gate:decision"


def test_four_eyes_and_override(
    gated: CLI, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    own = gated("gate", "approve", "m@1", "--note", "mine")
    assert own.code == 2 and "four-eyes" in own.err and len(own.err.strip().splitlines()) == 1
    monkeypatch.setenv("PRODLINE_ACTOR", "rita")
    assert gated("gate", "approve", "m@1", "--note", "reviewed").code == 0
    r = gated("gate", "override", "m@1", "--to", "production", "--reason", "incident 42", "--json")
    assert r.code == 0, r.err
    assert json.loads(r.out)["aliases"] == ["production"]


def test_an_unknown_policy_key_is_one_line(gated: CLI, tmp_path: Path) -> None:
    policies = tmp_path / "home" / "policies"
    policies.mkdir()
    (policies / "limited.yaml").write_text("checks:\n  evaluation:\n    minimum: {auc: 0.7}\n")
    r = gated("gate", "policy", "limited")
    assert r.code == 2 and "checks.evaluation.minimum" in r.err
    assert len(r.err.strip().splitlines()) == 1

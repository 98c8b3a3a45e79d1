"""Promotion gates: policies, checks into evidence, four-eyes sign-off, override, decisions."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from prodline import Workspace
from prodline.errors import Conflict, GateFailed, InvalidInput
from prodline.gates.decision import _open_override
from prodline.gates.policy import load_policy

AUDIT_SEX = "checks:\n  fairness:\n    attributes: [sex]\n"


@dataclasses.dataclass
class FakeScan:
    """What data/poisoning's report offers the gate: a suspect share and a JSON form."""

    share: float

    def to_dict(self) -> dict[str, Any]:
        return {"share": self.share, "suspects": []}


def _frame(seed: int, n: int = 800) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.normal(50, 15, n)
    return pd.DataFrame(
        {
            "sex": rng.choice(["female", "male"], n),
            "age": rng.integers(19, 75, n),
            "income": income,
            "approved": np.where(income + rng.normal(0, 8, n) > 50, "yes", "no"),
        }
    )


def _model(frame: pd.DataFrame, features: list[str]) -> Any:
    cats = [c for c in features if frame[c].dtype == object]
    nums = [c for c in features if c not in cats]
    pre = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), cats), ("passthrough", nums)
    )
    return make_pipeline(pre, LogisticRegression(max_iter=500)).fit(
        frame[features], frame["approved"]
    )


@pytest.fixture
def setup(make_ws: Callable[..., Workspace], tmp_path: Path) -> Callable[..., Workspace]:
    """A workspace with training + holdout data and credit@1 (given risk), by 'ana'."""

    def make(risk: str = "high", features: tuple[str, ...] = ("sex", "income")) -> Workspace:
        ws = make_ws(home=tmp_path / "home", actor="ana")
        (ws.home / "policies").mkdir()  # audit by sex alone: sex x age bands is noise here
        (ws.home / "policies" / "high.yaml").write_text(AUDIT_SEX)
        train, holdout = _frame(1), _frame(2)
        ws.datasets.register(train, name="loans", owner="credit")
        ws.datasets.register(holdout, name="loans-holdout", owner="credit")
        ws.models.register(
            _model(train, list(features)),
            name="credit",
            trained_on=["loans@1"],
            target="approved",
            risk_level=risk,
            git_commit="",
        )
        ws.gates._src = dataclasses.replace(  # the poisoning scan (8c) as its interface
            ws.gates._src, scan_poisoning=lambda frame, target: FakeScan(0.01)
        )
        return ws

    return make


def test_minimal_risk_promotes_with_no_checks(setup: Callable[..., Workspace]) -> None:
    ws = setup("minimal")
    assert ws.promote("credit", 1, "production").aliases == ("production",)
    assert load_policy("minimal", ws.home).checks == {}


def test_high_risk_is_refused_naming_each_unmet_check_and_how(
    setup: Callable[..., Workspace],
) -> None:
    ws = setup()
    with pytest.raises(GateFailed) as err:
        ws.promote("credit", 1, "production")
    text = str(err.value)
    for check in ("evaluation", "fairness", "poisoning", "sensitivity", "signoff"):
        assert f"{check}:" in text
    assert "prodline gate check credit@1 --holdout" in text
    assert "prodline gate approve credit@1" in text
    assert ws.models.alias_state("credit", "production") is None
    assert ws.promote("credit", 1, "staging").aliases == ("staging",)  # not protected
    decision = ws.evidence.list("model:credit@1", "gate:decision")[-1]
    assert decision.passed is False and decision.summary["policy"].startswith("high@")


def test_checks_justify_and_a_second_person_pass_the_gate(
    setup: Callable[..., Workspace], make_ws: Callable[..., Workspace]
) -> None:
    ws = setup()
    report = ws.gates.check("credit@1", holdout="loans-holdout@1")
    assert report.met == {
        "evaluation": True,
        "fairness": True,
        "poisoning": True,
        "sensitivity": False,  # trained on 'sex', tagged PII, and nobody said why yet
        "signoff": False,
    }
    kinds = [e.kind for e in ws.evidence.list("model:credit@1")]
    assert {"gate:evaluation", "gate:fairness", "gate:poisoning", "gate:sensitivity"} <= set(kinds)
    evaluation = ws.evidence.list("model:credit@1", "gate:evaluation")[-1]
    assert evaluation.summary["candidate"]["auc"] > 0.7 and evaluation.summary["rows"] == 800
    downstream = dict(ws.lineage.downstream("model:credit@1"))
    assert f"evidence:evaluation@{evaluation.id}" in downstream

    ws.gates.justify("credit@1", "sex is audited for fairness, not used to decide alone")
    with pytest.raises(Conflict, match="four-eyes"):
        ws.gates.approve("credit@1", "looks fine to me")  # ana registered it
    rita = make_ws(home=ws.home, actor="rita")
    approval = rita.gates.approve("credit@1", "read the fairness audit")
    assert approval.created_by == "rita"
    status = ws.gates.status("credit@1")
    assert status.passed, status.reasons
    assert ws.promote("credit", 1, "production").aliases == ("production",)
    decision = ws.evidence.list("model:credit@1", "gate:decision")[-1]
    assert decision.passed and decision.summary["evidence"]["signoff"] == approval.id
    assert decision.summary["policy"] == load_policy("high", ws.home).version


def test_champion_on_the_same_rows_and_thresholds(
    setup: Callable[..., Workspace], make_ws: Callable[..., Workspace]
) -> None:
    ws = setup("limited")
    ws.gates.check("credit@1", holdout="loans-holdout@1")
    ws.gates.justify("credit@1", "needed")
    ws.promote("credit", 1, "production")
    weaker = _model(_frame(1), ["sex", "age"])  # no income: close to a coin toss
    ws.models.register(
        weaker, name="credit", trained_on=["loans@1"], target="approved", git_commit=""
    )
    report = ws.gates.check("credit@2", holdout="loans-holdout@1")
    assert not report.met["evaluation"]
    assert any("worse than the current holder v1" in r for r in report.reasons)
    with pytest.raises(GateFailed, match="worse than the current holder v1"):
        ws.promote("credit", 2, "production")


def test_admin_override_is_recorded_and_spent_once(setup: Callable[..., Workspace]) -> None:
    ws = setup()
    with pytest.raises(InvalidInput, match="reason"):
        ws.gates.override("credit@1", "production", "  ")
    mv = ws.gates.override("credit@1", "production", "regulator-approved hotfix, ticket 42")
    assert mv.aliases == ("production",)
    override = ws.evidence.list("model:credit@1", "gate:override")[-1]
    assert override.summary["reason"] == "regulator-approved hotfix, ticket 42"
    assert any("signoff" in r for r in override.summary["unmet"])
    decision = ws.evidence.list("model:credit@1", "gate:decision")[-1]
    assert decision.passed and decision.summary["override"] == override.id
    evidence = ws.evidence.list("model:credit@1")
    assert _open_override(evidence, "production") is None  # spent by its promotion


def test_a_protected_attribute_missing_from_the_holdout(
    setup: Callable[..., Workspace], tmp_path: Path
) -> None:
    ws = setup()
    (ws.home / "policies" / "high.yaml").write_text(
        "checks:\n  fairness:\n    attributes: [sex, ethnicity]\n"
    )
    with pytest.raises(InvalidInput, match="'ethnicity'"):
        ws.gates.check("credit@1", holdout="loans-holdout@1")
    assert ws.evidence.list("model:credit@1") == []  # nothing half-recorded


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("protected_alias: [production]\n", "Unknown policy key protected_alias"),
        ("checks:\n  fairnes: {}\n", "Unknown policy key checks.fairnes"),
        ("checks:\n  fairness:\n    min_group_sise: 5\n", "checks.fairness.min_group_sise"),
        ("checks:\n  poisoning:\n    max_share: lots\n", "max_share .* must be int or float"),
        ("checks:\n  evaluation:\n    min: {auc: high}\n", "auc is not a number"),
        ("level: minimal\n", "says level 'minimal'"),
        ("checks: [a\n", "not valid YAML"),
    ],
)
def test_unknown_or_bad_policy_keys_are_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "high.yaml").write_text(text)
    with pytest.raises(InvalidInput, match=message):
        load_policy("high", tmp_path)


def test_overrides_merge_and_change_the_version(tmp_path: Path) -> None:
    shipped = load_policy("high", tmp_path)
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "high.yaml").write_text(
        "protected_aliases: [production, eu-prod]\nchecks:\n  poisoning: null\n"
        "  fairness:\n    min_disparate_impact_ratio: 0.9\n"
    )
    mine = load_policy("high", tmp_path)
    assert mine.version != shipped.version and mine.protected("eu-prod")
    assert "poisoning" not in mine.checks
    assert mine.checks["fairness"]["min_disparate_impact_ratio"] == 0.9
    assert mine.checks["fairness"]["max_equalized_odds_difference"] == 0.25  # kept


def test_a_policy_change_in_flight_uses_one_version(
    setup: Callable[..., Workspace], make_ws: Callable[..., Workspace], monkeypatch: Any
) -> None:
    ws = setup()
    ws.gates.check("credit@1", holdout="loans-holdout@1")
    ws.gates.justify("credit@1", "needed")
    make_ws(home=ws.home, actor="rita").gates.approve("credit@1", "ok")
    before = load_policy("high", ws.home).version
    real = ws.evidence.list

    def edit_policy_then_read(*args: Any, **kwargs: Any) -> Any:
        policies = ws.home / "policies"
        (policies / "high.yaml").write_text(AUDIT_SEX + "  poisoning:\n    max_share: 0.0\n")
        return real(*args, **kwargs)

    monkeypatch.setattr(ws.evidence, "list", edit_policy_then_read)
    ws.promote("credit", 1, "production")  # decided under the snapshot taken first
    monkeypatch.undo()
    decision = ws.evidence.list("model:credit@1", "gate:decision")[-1]
    assert decision.passed and decision.summary["policy"] == before
    after = load_policy("high", ws.home).version
    assert after != before
    status = ws.gates.status("credit@1")
    assert status.policy == after and not status.met["poisoning"]
    assert any("recorded only under another policy version" in r for r in status.reasons)


def test_kb_with_pii_needs_a_justification_before_serving(sqlite_ws: Workspace) -> None:
    ws = sqlite_ws
    sources = [{"source": "hr.md", "sensitivity": "pii", "kinds": ["email"]}]

    @dataclasses.dataclass
    class KB:
        name: str = "desk"
        version: int = 3

    ws.gates._src = dataclasses.replace(
        ws.gates._src, kb=lambda name: KB(), kb_sources=lambda name: sources
    )
    ws.gates.require_kb("desk")  # not protected: served as before
    (ws.home / "policies").mkdir()
    (ws.home / "policies" / "kb.yaml").write_text("protected_kbs: [desk]\n")
    with pytest.raises(GateFailed, match="prodline gate justify kb:desk"):
        ws.gates.require_kb("desk")
    ws.gates.justify("kb:desk", "HR answers need contact emails")
    ws.gates.require_kb("desk")
    assert ws.evidence.list("kb:desk@3", "gate:justification")[0].created_by == ws.actor

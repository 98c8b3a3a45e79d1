"""Continuous training: a run trains, registers a candidate, compares, promotes or waits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from prodline.core.promotion import PolicyDecision, PromotionRequest
from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.pipelines import PipelineSettings
from prodline.workspace import Workspace

Setup = Callable[..., Workspace]


def _register(ws: Workspace, path: Path, fn: str = "good", **settings: object) -> None:
    ws.pipelines.register(
        "retrain",
        entrypoint=f"{path}:{fn}",
        dataset="d",
        model="m",
        settings=PipelineSettings(**settings),  # type: ignore[arg-type]
    )


def test_auto_run_promotes_a_better_candidate_with_lineage_and_audit(
    ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    setup(ws)
    _register(ws, pipeline_file, promote="auto", margin=0.05)
    run = ws.pipelines.run("retrain")

    assert run.status == "succeeded", run.error
    assert run.candidate_version == 2 and run.champion_version == 1
    assert run.decision is not None and run.decision.startswith("promoted v2 to production")
    m = run.metrics
    assert m["metric"] == "auc" and m["holdout_rows"] == 120
    assert m["candidate"]["auc"] > 0.9 and m["champion"]["auc"] == pytest.approx(0.5)
    assert m["improvement"] == pytest.approx(m["candidate"]["auc"] - 0.5)
    assert ws.models.alias_state("m", "production") == (2, 2)
    candidate = ws.models.get("m", 2)
    assert candidate.tags == {"candidate": "true", "pipeline_run": "retrain@1"}
    assert candidate.trained_on == ("d@1",) and candidate.metrics["train_rows"] == 480.0

    ids = {n.id for n in ws.lineage.upstream("model:m@2").walk()}
    assert {"run:retrain@1", "dataset:d@1"} <= ids
    assert any(i.startswith("code:retrain@") for i in ids)
    actions = [e.action for e in ws.audit.events(limit=100)]
    for action in (
        "pipeline.registered",
        "pipeline.run_started",
        "model.registered",
        "pipeline.candidate_registered",
        "alias.promote",
        "pipeline.run_finished",
    ):
        assert action in actions, action
    assert ws.audit.verify().ok


def test_manual_leaves_the_candidate_awaiting_approval_then_approve_promotes(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws)
    _register(ws, pipeline_file, promote="manual")
    run = ws.pipelines.run("retrain")
    assert run.status == "awaiting_approval" and "promote is manual" in (run.decision or "")
    assert ws.models.alias_state("m", "production") == (1, 1)
    approved = ws.pipelines.approve("retrain", run.number)
    assert approved.status == "succeeded" and "approved by tester" in (approved.decision or "")
    assert ws.models.alias_state("m", "production") == (2, 2)
    with pytest.raises(Conflict, match="not awaiting approval"):
        ws.pipelines.approve("retrain", run.number)


def test_a_candidate_that_does_not_beat_the_champion_is_not_promoted(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws)
    _register(ws, pipeline_file, fn="weak", promote="auto")
    run = ws.pipelines.run("retrain")
    assert run.status == "succeeded" and run.decision is not None
    assert run.decision.startswith("kept the champion") and "does not beat" in run.decision
    assert ws.models.alias_state("m", "production") == (1, 1)


def test_the_promotion_policy_applies_to_pipeline_runs(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    class SignOff:
        def decide(self, request: PromotionRequest) -> PolicyDecision:
            return PolicyDecision(False, ("a person must sign off",), "high-risk")

    ws = setup(sqlite_ws)
    _register(ws, pipeline_file, promote="auto")
    ws.policy = SignOff()  # type: ignore[assignment]
    run = ws.pipelines.run("retrain")
    assert run.status == "awaiting_approval"
    assert "policy refused" in (run.decision or "") and "sign off" in (run.decision or "")
    assert ws.models.alias_state("m", "production") == (1, 1)


def test_a_pipeline_that_raises_fails_with_its_traceback_and_the_alias_untouched(
    ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    setup(ws)
    _register(ws, pipeline_file, fn="broken", promote="auto")
    run = ws.pipelines.run("retrain")
    assert run.status == "failed" and run.finished_at is not None
    assert run.error is not None and "Traceback" in run.error
    assert "RuntimeError: feature store unreachable while training on d@1" in run.error
    assert "my_pipelines.py" in run.error
    assert "alias untouched" in (run.decision or "")
    assert ws.models.alias_state("m", "production") == (1, 1)
    assert [v.version for v in ws.models.versions("m")] == [1]
    assert "pipeline.run_failed" in [e.action for e in ws.audit.events(limit=50)]


def test_one_trigger_key_starts_one_run(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws)
    _register(ws, pipeline_file, promote="manual")
    first = ws.pipelines.run("retrain", trigger="alert", trigger_key="alert:7:retrain")
    again = ws.pipelines.run("retrain", trigger="alert", trigger_key="alert:7:retrain")
    assert again.number == first.number == 1
    assert [v.version for v in ws.models.versions("m")] == [1, 2]
    assert len(ws.pipelines.runs("retrain")) == 1


def test_holdout_dataset_and_explicit_dataset_version(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path, make_frame: Callable[..., Any]
) -> None:
    frame = make_frame
    ws = setup(sqlite_ws)
    ws.datasets.register(frame(seed=1), name="d", owner="team")
    ws.datasets.register(frame(200, seed=2), name="holdout", owner="team")
    _register(ws, pipeline_file, promote="manual", holdout_dataset="holdout@1")
    run = ws.pipelines.run("retrain", dataset="d@1")
    assert run.dataset == "d@1" and run.metrics["holdout_rows"] == 200
    assert run.metrics["holdout"] == "holdout@1"
    assert ws.models.get("m", 2).metrics["train_rows"] == 600.0
    assert ws.pipelines.run("retrain").dataset == "d@2"  # the newest by default
    with pytest.raises(InvalidInput, match="trains on dataset 'd', not 'other'"):
        ws.pipelines.run("retrain", dataset="other@1")
    with pytest.raises(NotFound, match="no version 9"):
        ws.pipelines.run("retrain", dataset="d@9")


def test_first_run_of_a_new_model_becomes_the_champion(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws, champion=False)
    _register(ws, pipeline_file, promote="auto")
    run = ws.pipelines.run("retrain")
    assert run.status == "succeeded" and run.champion_version is None
    assert "no champion" in (run.decision or "")
    assert ws.models.alias_state("m", "production") == (1, 1)


@pytest.mark.parametrize(
    ("entrypoint", "message"),
    [
        ("no_such_module_xyz:train", "'no_such_module_xyz:train' does not import: ModuleNotFound"),
        ("{file}:missing", "has no function 'missing'"),
        ("{file}:undecorated", "is not a pipeline; decorate the function"),
        ("{dir}/nope.py:train", "does not exist"),
        ("train", "must look like module:function"),
    ],
)
def test_entrypoints_that_do_not_import_are_refused_by_name(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path, entrypoint: str, message: str
) -> None:
    ws = setup(sqlite_ws)
    text = entrypoint.format(file=pipeline_file, dir=pipeline_file.parent)
    with pytest.raises(InvalidInput, match=message) as info:
        ws.pipelines.register("retrain", entrypoint=text, dataset="d", model="m")
    assert text in info.value.message
    assert ws.pipelines.list() == []


def test_a_module_path_entrypoint_imports(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws = setup(sqlite_ws)
    monkeypatch.syspath_prepend(str(pipeline_file.parent))
    p = ws.pipelines.register("retrain", entrypoint="my_pipelines:good", dataset="d", model="m")
    assert p.settings.target == "y"  # from the decorator
    assert ws.pipelines.run("retrain").status == "awaiting_approval"


def test_a_run_on_an_alias_that_does_not_exist_is_refused(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws)
    ws.pipelines.register(
        "retrain", entrypoint=f"{pipeline_file}:good", dataset="d", model="m", alias="prod"
    )
    with pytest.raises(NotFound, match="has no alias 'prod' \\(its aliases are: production\\)"):
        ws.pipelines.run("retrain")
    assert ws.pipelines.runs("retrain") == []
    with pytest.raises(NotFound, match="Pipeline 'nope' does not exist; pipelines are: retrain"):
        ws.pipelines.run("nope")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"promote": "sometimes"}, "promote must be 'auto' or 'manual'"),
        ({"triggers": ("hourly",)}, "Trigger 'hourly' is not known"),
        ({"triggers": ("schedule:soon",)}, "Schedule 'soon' is not a period"),
        ({"holdout_split": 1.5}, "holdout split must be between 0 and 1"),
    ],
)
def test_bad_settings_are_refused(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path, settings: dict, message: str
) -> None:
    ws = setup(sqlite_ws)
    with pytest.raises(InvalidInput, match=message):
        _register(ws, pipeline_file, **settings)


def test_registering_twice_needs_replace(
    sqlite_ws: Workspace, setup: Setup, pipeline_file: Path
) -> None:
    ws = setup(sqlite_ws)
    _register(ws, pipeline_file)
    with pytest.raises(Conflict, match="already exists; pass --replace"):
        _register(ws, pipeline_file)
    ws.pipelines.register(
        "retrain",
        entrypoint=f"{pipeline_file}:weak",
        dataset="d",
        model="m",
        replace_existing=True,
    )
    assert ws.pipelines.get("retrain").entrypoint.endswith(":weak")

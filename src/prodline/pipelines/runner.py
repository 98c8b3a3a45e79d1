"""One pipeline run, start to end: train → register the candidate → compare → decide.

The steps, each recorded: the pipeline function trains on the dataset version (minus
the holdout rows, when the holdout is a split); the fitted model is registered as a new
version tagged ``candidate`` with lineage ``dataset → run → model`` and the code's git
commit; candidate and champion (the version the alias holds) are scored on the same
holdout rows; then the candidate is promoted through ``Workspace.promote`` (so the
promotion policy applies) when the settings say ``auto`` and it beats the champion by
the margin, or left ``awaiting_approval``. Any exception ends the run ``failed`` with
its traceback, before the alias was touched (promotion is the last step).
"""

from __future__ import annotations

import traceback
from typing import TYPE_CHECKING

from prodline.core.refs import node
from prodline.errors import Conflict, GateFailed
from prodline.pipelines.decorator import TrainingData, code_reference, load_entrypoint
from prodline.pipelines.evaluate import Comparison, compare, split_holdout
from prodline.pipelines.liveness import Heartbeat
from prodline.store.tables import pipeline_runs

if TYPE_CHECKING:
    from prodline.pipelines.entities import Pipeline, PipelineRun
    from prodline.pipelines.service import Pipelines

__all__ = ["execute"]


def execute(service: Pipelines, p: Pipeline, run: PipelineRun) -> PipelineRun:
    """Carry out the started ``run`` of ``p``; returns it finished (never left running)."""
    ws = service._ws
    parts = service.parts
    run_id = _run_id(service, run)
    beat = Heartbeat(ws.db, run_id, service.heartbeat_interval).start()
    service._active.add(run_id)
    candidate: int | None = None
    try:
        state = parts.alias_state(p.model, p.alias)
        champion, revision = (state[0], state[1]) if state else (None, 0)
        function = load_entrypoint(p.entrypoint)
        code = code_reference(p.entrypoint)
        settings = p.settings
        target = settings.target or function.target
        assert target is not None  # register() refuses a pipeline without one
        assert run.dataset is not None
        frame = parts.load_dataset(run.dataset)
        if settings.holdout_dataset:
            train = frame
            holdout = parts.load_dataset(parts.dataset_ref(settings.holdout_dataset))
            holdout_from = parts.dataset_ref(settings.holdout_dataset)
        else:
            train, holdout = split_holdout(frame, settings.holdout_split, settings.seed)
            holdout_from = f"{settings.holdout_split:.0%} of {run.dataset} (seed {settings.seed})"
        result = function(TrainingData(train, run.dataset, target))
        candidate = parts.register_model(
            result.model,
            name=p.model,
            trained_on=[run.dataset],
            target=target,
            metrics=dict(result.metrics),
            params={"pipeline": p.name, "run": run.number, "entrypoint": p.entrypoint},
            tags={"candidate": "true", "pipeline_run": run.ref},
            git_commit=code["git_commit"] or "",
            description=f"candidate from pipeline run {run.ref}",
        )
        with ws.tx() as conn:
            conn.execute(
                pipeline_runs.update()
                .where(pipeline_runs.c.id == run_id)
                .values(
                    candidate_version=candidate,
                    champion_version=champion,
                    git_commit=code["git_commit"],
                )
            )
            run_node = node("run", p.name, run.number)
            code_ref = code["git_commit"] or (code["sha256"] or "unknown")[:12]
            ws.lineage.record(conn, node("code", p.name, code_ref), run_node, "code")
            ws.lineage.record(conn, run_node, node("model", p.model, candidate), "produced")
            ws.audit.record(
                conn,
                "pipeline.candidate_registered",
                f"run:{run.ref}",
                {"model": f"{p.model}@{candidate}", "code": code, "dataset": run.dataset},
            )
        comparison = compare(
            parts.predict,
            p.model,
            candidate,
            champion,
            holdout,
            target=target,
            metric=settings.metric,
            margin=settings.margin,
        )
        status, decision = _decide(service, p, comparison, revision)
        metrics = comparison.to_dict() | {"holdout": holdout_from, "training": result.metrics}
        return service._finish(
            run,
            status=status,
            decision=decision,
            metrics=metrics,
            candidate_version=candidate,
            champion_version=champion,
        )
    except BaseException as exc:
        service._finish(
            run,
            status="failed",
            error=traceback.format_exc(),
            decision=f"alias untouched: {type(exc).__name__}: {exc}"[:2000],
            candidate_version=candidate,
        )
        if not isinstance(exc, Exception):
            raise
        return service.run_info(run.pipeline, run.number)
    finally:
        service._active.discard(run_id)
        beat.stop()


def _decide(
    service: Pipelines, p: Pipeline, comparison: Comparison, revision: int
) -> tuple[str, str]:
    """(status, decision) after the comparison; promotes when the settings say so."""
    summary = comparison.summary()
    version = comparison.candidate.version
    if not comparison.candidate_wins:
        return "succeeded", f"kept the champion: {summary}"
    if p.settings.promote != "auto":
        return "awaiting_approval", (
            f"{summary}; promote is manual: approve with `prodline pipeline approve` "
            f"or `prodline promote {p.model}@{version} --to {p.alias}`"
        )
    try:
        service.parts.promote(p.model, version, p.alias, revision)
    except GateFailed as exc:
        return "awaiting_approval", f"{summary}; the promotion policy refused: {exc.message}"
    except Conflict as exc:
        return "awaiting_approval", f"{summary}; the alias moved during the run: {exc.message}"
    return "succeeded", f"promoted v{version} to {p.alias}: {summary}"


def _run_id(service: Pipelines, run: PipelineRun) -> int:
    import sqlalchemy as sa

    with service._ws.db.read() as conn:
        return int(
            conn.execute(
                sa.select(pipeline_runs.c.id).where(pipeline_runs.c.trigger_key == run.trigger_key)
            ).scalar_one()
        )

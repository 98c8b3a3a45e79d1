"""The pipelines service (``ws.pipelines``): register pipelines, run them, read their runs.

What comes from other parts arrives as callables in :class:`Collaborators`, handed in
by the Workspace: this part never imports the datasets or models parts. A run is
started (one row, unique by trigger key: a second start with the same key returns the
first run) and then executed by :mod:`prodline.pipelines.runner`.
"""

from __future__ import annotations

import builtins
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.core.refs import check_name, node, parse_ref
from prodline.errors import Conflict, InvalidInput, NotFound
from prodline.pipelines import triggers as trig
from prodline.pipelines.decorator import load_entrypoint
from prodline.pipelines.entities import RUN_STATUSES, Pipeline, PipelineRun, PipelineSettings
from prodline.pipelines.evaluate import Predict
from prodline.pipelines.liveness import HOST, death_reason
from prodline.store.tables import pipeline_runs, pipelines

if TYPE_CHECKING:
    import pandas as pd

    from prodline.workspace import Workspace

__all__ = ["Collaborators", "Pipelines"]


@dataclass(frozen=True)
class Collaborators:
    """What runs need from the datasets and models parts, as plain callables.

    ``dataset_ref("D")`` / ``dataset_ref("D@3")`` → ``"D@3"`` (newest when bare; raises
    ``NotFound``); ``dataset_versions("D")`` → version numbers (``[]`` when none);
    ``load_dataset("D@3")`` → its rows; ``register_model(model, name=..., trained_on=...,
    target=..., metrics=..., params=..., tags=..., git_commit=..., description=...)`` →
    the new version number; ``model_aliases("M")`` → ``{alias: version}`` or ``None``
    when the model does not exist; ``alias_state(M, alias)`` → ``(version, revision)``
    or ``None``; ``predict(M, version, frame)`` → (predictions, probabilities, classes);
    ``promote(M, version, alias, expected_revision)`` goes through ``Workspace.promote``.
    """

    dataset_ref: Callable[[str], str]
    dataset_versions: Callable[[str], builtins.list[int]]
    load_dataset: Callable[[str], pd.DataFrame]
    register_model: Callable[..., int]
    model_aliases: Callable[[str], dict[str, int] | None]
    alias_state: Callable[[str, str], tuple[int, int] | None]
    predict: Predict
    promote: Callable[[str, int, str, int], Any]


class Pipelines:
    """Register, run and list continuous-training pipelines (reached as ``ws.pipelines``)."""

    def __init__(
        self,
        ws: Workspace,
        parts: Collaborators,
        *,
        stale_after: timedelta = timedelta(seconds=60),
        heartbeat_interval: float = 5.0,
    ) -> None:
        self._ws = ws
        self.parts = parts
        self.stale_after = stale_after
        self.heartbeat_interval = heartbeat_interval
        self._active: set[int] = set()  # run ids executing in this process

    # -- registering -------------------------------------------------------------------
    def register(
        self,
        name: str,
        *,
        entrypoint: str,
        dataset: str,
        model: str,
        alias: str = "production",
        settings: PipelineSettings | None = None,
        replace_existing: bool = False,
    ) -> Pipeline:
        """Register (or with ``replace_existing``, change) the pipeline ``name``.

        The entrypoint is imported now, so a typo fails here and not at 3 a.m.; the
        target comes from ``settings.target`` or the decorator's ``target``.

        Raises
        ------
        InvalidInput
            A bad name, entrypoint (naming it and why it does not import), trigger or
            a pipeline without a target.
        Conflict
            If ``name`` exists and ``replace_existing`` is false.
        """
        self._ws.authorize("pipeline.register")
        check_name("Pipeline", name)
        check_name("Dataset", dataset)
        check_name("Model", model)
        check_name("Alias", alias)
        settings = settings or PipelineSettings()
        function = load_entrypoint(entrypoint)
        target = settings.target or function.target
        if not target:
            raise InvalidInput(
                f"Pipeline '{name}' has no target column; pass --target COLUMN or declare "
                "@prodline.pipeline(target=...).",
                field="target",
            )
        for text in settings.triggers:
            trig.parse_trigger(text)
        if settings.holdout_dataset:
            parse_ref(settings.holdout_dataset, what="dataset")
        settings = replace(settings, target=target)
        versions = self.parts.dataset_versions(dataset)
        stored = settings.to_dict() | {"dataset_from": (max(versions) + 1) if versions else 1}
        now = datetime.now(UTC)
        values = {
            "entrypoint": entrypoint,
            "dataset": dataset,
            "model": model,
            "alias": alias,
            "settings": stored,
            "updated_at": now,
        }
        with self._ws.tx() as conn:
            row = conn.execute(sa.select(pipelines).where(pipelines.c.name == name)).first()
            if row is not None and not replace_existing:
                raise Conflict(
                    f"Pipeline '{name}' already exists; pass --replace (replace_existing=True) "
                    "to change it.",
                    field="name",
                )
            if row is None:
                conn.execute(
                    pipelines.insert().values(
                        name=name, created_by=self._ws.actor, created_at=now, **values
                    )
                )
            else:
                conn.execute(pipelines.update().where(pipelines.c.id == row.id).values(**values))
            self._ws.audit.record(
                conn,
                "pipeline.updated" if row is not None else "pipeline.registered",
                f"pipeline:{name}",
                {k: v for k, v in values.items() if k != "updated_at"},
            )
        return self.get(name)

    # -- reading -----------------------------------------------------------------------
    def get(self, name: str) -> Pipeline:
        """The pipeline ``name``.

        Raises
        ------
        NotFound
            Naming the pipelines that exist.
        """
        with self._ws.db.read() as conn:
            row = conn.execute(sa.select(pipelines).where(pipelines.c.name == name)).first()
        if row is None:
            known = [p.name for p in self.list()]
            listed = f"pipelines are: {', '.join(known)}" if known else "none is registered yet"
            raise NotFound(
                f"Pipeline '{name}' does not exist; {listed}. Register it with "
                "`prodline pipeline register`.",
                field="name",
            )
        return _pipeline(row)

    def list(self) -> builtins.list[Pipeline]:
        """Every pipeline, by name."""
        with self._ws.db.read() as conn:
            rows = conn.execute(sa.select(pipelines).order_by(pipelines.c.name)).all()
        return [_pipeline(r) for r in rows]

    def runs(
        self, name: str | None = None, *, status: str | None = None, limit: int = 50
    ) -> builtins.list[PipelineRun]:
        """Runs, newest first (of one pipeline with ``name``); dead "running" runs are
        marked failed first, so what this returns never shows a dead run as running."""
        if status is not None and status not in RUN_STATUSES:
            raise InvalidInput(
                f"Run status '{status}' is not one of {', '.join(RUN_STATUSES)}.",
                field="status",
            )
        self.reap()
        query = _runs_query().order_by(pipeline_runs.c.id.desc()).limit(limit)
        if name is not None:
            self.get(name)
            query = query.where(pipelines.c.name == name)
        if status is not None:
            query = query.where(pipeline_runs.c.status == status)
        with self._ws.db.read() as conn:
            return [_run(r) for r in conn.execute(query).all()]

    def run_info(self, name: str, number: int) -> PipelineRun:
        """Run ``number`` of pipeline ``name``."""
        self.reap()
        with self._ws.db.read() as conn:
            row = conn.execute(
                _runs_query().where(pipelines.c.name == name, pipeline_runs.c.number == number)
            ).first()
        if row is None:
            self.get(name)
            raise NotFound(f"Pipeline '{name}' has no run {number}.", field="run")
        return _run(row)

    def find_run(self, trigger_key: str) -> PipelineRun | None:
        """The run a trigger key started, if any."""
        with self._ws.db.read() as conn:
            row = conn.execute(
                _runs_query().where(pipeline_runs.c.trigger_key == trigger_key)
            ).first()
        return _run(row) if row else None

    def rollback_guards(self) -> builtins.list[tuple[str, str, dict[str, Any]]]:
        """(model, alias, guard settings) for every pipeline that sets a rollback guard."""
        return [
            (p.model, p.alias, p.settings.rollback.to_dict())
            for p in self.list()
            if p.settings.rollback is not None
        ]

    # -- liveness ----------------------------------------------------------------------
    def reap(self, *, now: datetime | None = None) -> builtins.list[PipelineRun]:
        """Mark failed every "running" run whose process died; returns those runs."""
        now = now or datetime.now(UTC)
        with self._ws.db.read() as conn:
            rows = conn.execute(_runs_query().where(pipeline_runs.c.status == "running")).all()
        dead = []
        for row in rows:
            if row.id in self._active and row.host == HOST and row.pid == os.getpid():
                continue
            reason = death_reason(row, now, self.stale_after)
            if reason is None:
                continue
            with self._ws.tx() as conn:
                changed = conn.execute(
                    pipeline_runs.update()
                    .where(pipeline_runs.c.id == row.id, pipeline_runs.c.status == "running")
                    .values(
                        status="failed",
                        finished_at=now,
                        error=f"The run died without finishing: {reason}.",
                        decision="alias untouched",
                    )
                ).rowcount
                if changed:
                    self._ws.audit.record(
                        conn,
                        "pipeline.run_abandoned",
                        f"run:{row.pipeline_name}@{row.number}",
                        {"reason": reason, "pid": row.pid, "host": row.host},
                    )
                    dead.append(row.id)
        if not dead:
            return []
        with self._ws.db.read() as conn:
            found = conn.execute(_runs_query().where(pipeline_runs.c.id.in_(dead))).all()
        return [_run(r) for r in found]

    # -- running -----------------------------------------------------------------------
    def run(
        self,
        name: str,
        *,
        dataset: str | None = None,
        trigger: str = "manual",
        trigger_key: str | None = None,
    ) -> PipelineRun:
        """Run pipeline ``name`` now, in this process; returns the finished run.

        ``dataset`` (``D@V``) overrides the newest version of the pipeline's dataset.
        A ``trigger_key`` already used returns that earlier run instead of starting
        another (one alert never starts two retrainings). A failure inside the run
        (the pipeline raises, a bad model, …) does not raise: the run ends ``failed``
        with the traceback and the alias is untouched.

        Raises
        ------
        NotFound
            No such pipeline or dataset version, or the model has versions but no such
            alias (there is no champion to compare with).
        """
        self._ws.authorize("pipeline.run")
        from prodline.pipelines.runner import execute

        key = trigger_key or f"manual:{name}:{uuid.uuid4().hex}"
        done = self.find_run(key)
        if done is not None:
            return done
        p = self.get(name)
        ref = self._dataset_ref(p, dataset)
        self._check_alias(p)
        started = self._start(p, trigger, key, ref)
        if started is None:  # another process took the key first
            found = self.find_run(key)
            assert found is not None
            return found
        return execute(self, p, started)

    def approve(self, name: str, number: int) -> PipelineRun:
        """Promote the candidate of a run ``awaiting_approval`` (through ``ws.promote``)."""
        self._ws.authorize("pipeline.approve")
        run = self.run_info(name, number)
        if run.status != "awaiting_approval" or run.candidate_version is None:
            raise Conflict(
                f"Run {run.ref} is {run.status}, not awaiting approval; nothing to approve.",
                field="run",
            )
        p = self.get(name)
        state = self.parts.alias_state(p.model, p.alias)
        self.parts.promote(p.model, run.candidate_version, p.alias, state[1] if state else 0)
        decision = (
            f"{run.decision}; approved by {self._ws.actor}: promoted v{run.candidate_version} "
            f"to {p.alias}"
        )
        with self._ws.tx() as conn:
            conn.execute(
                pipeline_runs.update()
                .where(pipeline_runs.c.trigger_key == run.trigger_key)
                .values(status="succeeded", decision=decision)
            )
            self._ws.audit.record(
                conn,
                "pipeline.run_approved",
                f"run:{run.ref}",
                {"model": p.model, "version": run.candidate_version, "alias": p.alias},
            )
        return self.run_info(name, number)

    def on_alert(self, alert: Any) -> builtins.list[PipelineRun]:
        """Start the pipelines whose trigger is ``alert:<the alert's monitor>``."""
        self._ws.authorize("pipeline.run")
        return trig.on_alert(self, alert)

    def tick(self, *, now: datetime | None = None) -> builtins.list[PipelineRun]:
        """The worker's periodic call: reap dead runs, then run new-dataset and due
        scheduled triggers (each at most once, by trigger key)."""
        self._ws.authorize("pipeline.run")
        return trig.tick(self, now=now or datetime.now(UTC))

    # -- internals ---------------------------------------------------------------------
    def _dataset_ref(self, p: Pipeline, dataset: str | None) -> str:
        if dataset is None:
            return self.parts.dataset_ref(p.dataset)
        name, version = parse_ref(dataset, what="dataset")
        if name != p.dataset:
            raise InvalidInput(
                f"Pipeline '{p.name}' trains on dataset '{p.dataset}', not '{name}'; "
                f"give --dataset {p.dataset}@VERSION.",
                field="dataset",
            )
        return self.parts.dataset_ref(f"{name}@{version}" if version else name)

    def _check_alias(self, p: Pipeline) -> None:
        held = self.parts.model_aliases(p.model)
        if held is None or p.alias in held:
            return  # a first run of a new model has no champion; otherwise the alias holds one
        known = f"its aliases are: {', '.join(sorted(held))}" if held else "it has no aliases"
        raise NotFound(
            f"Pipeline '{p.name}' promotes to '{p.model}@{p.alias}', but model '{p.model}' "
            f"has no alias '{p.alias}' ({known}); promote a champion first "
            f"(prodline promote {p.model}@N --to {p.alias} --create) or register the "
            "pipeline with another --alias.",
            field="alias",
        )

    def _start(self, p: Pipeline, trigger: str, key: str, ref: str) -> PipelineRun | None:
        now = datetime.now(UTC)
        try:
            with self._ws.tx() as conn:
                if conn.execute(
                    sa.select(pipeline_runs.c.id).where(pipeline_runs.c.trigger_key == key)
                ).first():
                    return None
                pid_row = conn.execute(
                    sa.select(pipelines.c.id).where(pipelines.c.name == p.name).with_for_update()
                ).one()
                number = (
                    conn.execute(
                        sa.select(sa.func.max(pipeline_runs.c.number)).where(
                            pipeline_runs.c.pipeline_id == pid_row.id
                        )
                    ).scalar()
                    or 0
                ) + 1
                state = self.parts.alias_state(p.model, p.alias)
                conn.execute(
                    pipeline_runs.insert().values(
                        pipeline_id=pid_row.id,
                        number=number,
                        trigger=trigger,
                        trigger_key=key,
                        status="running",
                        started_at=now,
                        pid=os.getpid(),
                        host=HOST,
                        heartbeat_at=now,
                        dataset=ref,
                        champion_version=state[0] if state else None,
                        metrics={},
                        actor=self._ws.actor,
                    )
                )
                self._ws.lineage.record(
                    conn, node("dataset", *ref.split("@")), node("run", p.name, number), "input"
                )
                self._ws.audit.record(
                    conn,
                    "pipeline.run_started",
                    f"run:{p.name}@{number}",
                    {"trigger": trigger, "trigger_key": key, "dataset": ref, "pid": os.getpid()},
                )
        except sa.exc.IntegrityError:
            return None
        return self.run_info(p.name, number)

    def _finish(self, run: PipelineRun, **values: Any) -> PipelineRun:
        """Write the run's outcome (status, decision, metrics, error) and audit it."""
        values.setdefault("finished_at", datetime.now(UTC))
        with self._ws.tx() as conn:
            conn.execute(
                pipeline_runs.update()
                .where(pipeline_runs.c.trigger_key == run.trigger_key)
                .values(**values)
            )
            status = values.get("status")
            payload: Mapping[str, Any] = {
                "status": status,
                "decision": values.get("decision"),
                "candidate": values.get("candidate_version", run.candidate_version),
                "champion": run.champion_version,
                "metrics": values.get("metrics"),
            }
            if values.get("error"):
                payload = dict(payload) | {"error": str(values["error"]).strip().splitlines()[-1]}
            action = "pipeline.run_failed" if status == "failed" else "pipeline.run_finished"
            self._ws.audit.record(conn, action, f"run:{run.ref}", dict(payload))
        return self.run_info(run.pipeline, run.number)


def _runs_query() -> sa.Select[Any]:
    return sa.select(pipeline_runs, pipelines.c.name.label("pipeline_name")).join(
        pipelines, pipelines.c.id == pipeline_runs.c.pipeline_id
    )


def _pipeline(row: Any) -> Pipeline:
    stored = dict(row.settings)
    return Pipeline(
        name=row.name,
        entrypoint=row.entrypoint,
        dataset=row.dataset,
        model=row.model,
        alias=row.alias,
        settings=PipelineSettings.from_dict(stored),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        dataset_from=int(stored.get("dataset_from", 1)),
    )


def _run(row: Any) -> PipelineRun:
    return PipelineRun(
        pipeline=row.pipeline_name,
        number=row.number,
        trigger=row.trigger,
        trigger_key=row.trigger_key,
        status=row.status,
        started_at=row.started_at,
        finished_at=row.finished_at,
        pid=row.pid,
        host=row.host,
        heartbeat_at=row.heartbeat_at,
        dataset=row.dataset,
        candidate_version=row.candidate_version,
        champion_version=row.champion_version,
        metrics=dict(row.metrics or {}),
        decision=row.decision,
        error=row.error,
        git_commit=row.git_commit,
        actor=row.actor,
    )

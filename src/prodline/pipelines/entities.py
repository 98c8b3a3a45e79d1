"""Plain data of continuous training: pipelines, their settings, their runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prodline.errors import InvalidInput

__all__ = [
    "LOWER_IS_BETTER",
    "RUN_STATUSES",
    "Pipeline",
    "PipelineRun",
    "PipelineSettings",
    "RollbackGuard",
]

RUN_STATUSES = ("running", "succeeded", "failed", "awaiting_approval", "skipped")
"""A run is ``running`` until it ends as one of the others."""

LOWER_IS_BETTER = frozenset({"mae", "rmse", "mse", "log_loss"})
"""Metrics where a smaller value wins; every other metric is higher-is-better."""


@dataclass(frozen=True)
class RollbackGuard:
    """When to roll a promoted version back: it does ``margin`` worse than the version
    before it on ``metric``, over at least ``min_labels`` labelled predictions each."""

    metric: str = "accuracy"
    margin: float = 0.05
    min_labels: int = 200

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"metric": self.metric, "margin": self.margin, "min_labels": self.min_labels}


@dataclass(frozen=True)
class PipelineSettings:
    """How a pipeline's runs decide and when they start.

    ``promote`` is ``auto`` (promote a candidate that beats the champion by ``margin`` on
    ``metric``) or ``manual`` (leave it awaiting a person). The holdout is either a
    dataset ref (``holdout_dataset``) or a seeded split of the training version
    (``holdout_split``). ``metric=None`` picks ROC AUC for binary classifiers with
    probabilities, accuracy for other classifiers, RMSE for regressors.
    """

    promote: str = "manual"
    target: str | None = None
    metric: str | None = None
    margin: float = 0.0
    holdout_split: float = 0.2
    holdout_dataset: str | None = None
    seed: int = 0
    triggers: tuple[str, ...] = ()
    rollback: RollbackGuard | None = None

    def __post_init__(self) -> None:
        if self.promote not in ("auto", "manual"):
            raise InvalidInput(
                f"promote must be 'auto' or 'manual', got '{self.promote}'.", field="promote"
            )
        if not 0.0 < self.holdout_split < 1.0:
            raise InvalidInput(
                f"holdout split must be between 0 and 1 (e.g. 0.2), got {self.holdout_split}.",
                field="holdout",
            )
        if self.margin < 0:
            raise InvalidInput(f"margin must be 0 or more, got {self.margin}.", field="margin")
        if self.rollback is not None and (self.rollback.min_labels < 1 or self.rollback.margin < 0):
            raise InvalidInput("rollback needs min_labels ≥ 1 and margin ≥ 0.", field="rollback")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as stored in the ``settings`` column."""
        return {
            "promote": self.promote,
            "target": self.target,
            "metric": self.metric,
            "margin": self.margin,
            "holdout_split": self.holdout_split,
            "holdout_dataset": self.holdout_dataset,
            "seed": self.seed,
            "triggers": list(self.triggers),
            "rollback": self.rollback.to_dict() if self.rollback else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PipelineSettings:
        """Read the stored form back (unknown keys are ignored)."""
        guard = data.get("rollback")
        return cls(
            promote=str(data.get("promote", "manual")),
            target=data.get("target"),
            metric=data.get("metric"),
            margin=float(data.get("margin", 0.0)),
            holdout_split=float(data.get("holdout_split", 0.2)),
            holdout_dataset=data.get("holdout_dataset"),
            seed=int(data.get("seed", 0)),
            triggers=tuple(data.get("triggers", ())),
            rollback=RollbackGuard(**guard) if guard else None,
        )


@dataclass(frozen=True)
class Pipeline:
    """A registered pipeline: which code trains which model on which dataset."""

    name: str
    entrypoint: str
    dataset: str
    model: str
    alias: str
    settings: PipelineSettings
    created_by: str
    created_at: datetime
    updated_at: datetime
    dataset_from: int = 1  # the dataset trigger fires for versions from this one on

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` output)."""
        return {
            "name": self.name,
            "entrypoint": self.entrypoint,
            "dataset": self.dataset,
            "model": self.model,
            "alias": self.alias,
            "settings": self.settings.to_dict(),
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class PipelineRun:
    """One run of a pipeline: what started it, what it trained on, what it decided."""

    pipeline: str
    number: int
    trigger: str
    trigger_key: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    pid: int | None
    host: str | None
    heartbeat_at: datetime | None
    dataset: str | None
    candidate_version: int | None
    champion_version: int | None
    metrics: dict[str, Any] = field(default_factory=dict)
    decision: str | None = None
    error: str | None = None
    git_commit: str | None = None
    actor: str = ""

    @property
    def ref(self) -> str:
        """``pipeline@number``, as lineage names the run (``run:pipeline@number``)."""
        return f"{self.pipeline}@{self.number}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` output)."""
        return {
            "pipeline": self.pipeline,
            "number": self.number,
            "ref": self.ref,
            "trigger": self.trigger,
            "trigger_key": self.trigger_key,
            "status": self.status,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "pid": self.pid,
            "host": self.host,
            "heartbeat_at": self.heartbeat_at.isoformat() if self.heartbeat_at else None,
            "dataset": self.dataset,
            "candidate_version": self.candidate_version,
            "champion_version": self.champion_version,
            "metrics": self.metrics,
            "decision": self.decision,
            "error": self.error,
            "git_commit": self.git_commit,
            "actor": self.actor,
        }

"""Continuous training: pipelines registered by module path, their runs and triggers.

``@prodline.pipeline(name=...)`` marks a training function; ``ws.pipelines`` registers
it with a dataset, model and alias, runs it (by hand, on an alert, a new dataset
version or a schedule) and promotes the candidate through ``ws.promote`` when it beats
the champion, or leaves it awaiting a person.
"""

from prodline.pipelines.decorator import (
    PipelineFunction,
    TrainingData,
    TrainingResult,
    load_entrypoint,
    pipeline,
)
from prodline.pipelines.entities import (
    RUN_STATUSES,
    Pipeline,
    PipelineRun,
    PipelineSettings,
    RollbackGuard,
)
from prodline.pipelines.service import Collaborators, Pipelines
from prodline.pipelines.triggers import Trigger, parse_trigger

__all__ = [
    "RUN_STATUSES",
    "Collaborators",
    "Pipeline",
    "PipelineFunction",
    "PipelineRun",
    "PipelineSettings",
    "Pipelines",
    "RollbackGuard",
    "TrainingData",
    "TrainingResult",
    "Trigger",
    "load_entrypoint",
    "parse_trigger",
    "pipeline",
]

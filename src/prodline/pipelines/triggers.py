"""What starts a pipeline run, besides a person: alerts, new dataset versions, schedules.

A pipeline lists its triggers as text:

- ``alert:<monitor>`` — an alert raised by that monitor (drift, performance drop; not
  the ``rollback`` alerts auto-rollback raises) starts a run; key
  ``monitor:<monitor>:<monitor run id>:<pipeline>`` (``alert:<alert id>:<pipeline>`` for
  an alert raised outside a monitor run), so one alert — or the several alerts of one
  monitor run — never starts two retrainings;
- ``dataset`` — a new version of the pipeline's dataset (newer than the newest when the
  pipeline was registered) starts a run on it; key ``dataset:<pipeline>:<D@V>``;
- ``schedule:<every>`` (``30s``, ``10m``, ``6h``, ``1d``) — a run per period; key
  ``schedule:<pipeline>:<period>`` (periods counted from the pipeline's registration):
  a worker that was down for five periods runs the missed work once, not five times.

The worker (``prodline worker``) calls :func:`on_alert` for each new alert and
:func:`tick` on every loop; both go through ``Pipelines.run``, whose trigger key makes
a repeated call a no-op.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from prodline.core.refs import check_name
from prodline.errors import InvalidInput, ProdlineError

if TYPE_CHECKING:
    from prodline.pipelines.entities import Pipeline, PipelineRun
    from prodline.pipelines.service import Pipelines

__all__ = ["Trigger", "on_alert", "parse_every", "parse_trigger", "tick"]

_EVERY = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Trigger:
    """A parsed trigger: ``kind`` is alert, dataset or schedule."""

    kind: str
    monitor: str | None = None
    every: timedelta | None = None


def parse_every(text: str) -> timedelta:
    """``"10m"`` → 10 minutes; units s, m, h, d.

    Raises
    ------
    InvalidInput
        Naming the accepted form.
    """
    match = _EVERY.fullmatch(text.strip())
    if not match or int(match.group(1)) < 1:
        raise InvalidInput(
            f"Schedule '{text}' is not a period; write a number and s, m, h or d "
            "(e.g. 30m, 6h, 1d).",
            field="trigger",
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def parse_trigger(text: str) -> Trigger:
    """Parse ``alert:<monitor>``, ``dataset`` or ``schedule:<every>``.

    Raises
    ------
    InvalidInput
        Naming the three forms.
    """
    kind, _, arg = text.partition(":")
    if kind == "dataset" and not arg:
        return Trigger("dataset")
    if kind == "alert" and arg:
        return Trigger("alert", monitor=check_name("Monitor", arg))
    if kind == "schedule" and arg:
        return Trigger("schedule", every=parse_every(arg))
    raise InvalidInput(
        f"Trigger '{text}' is not known; use alert:<monitor>, dataset or schedule:<every> "
        "(e.g. alert:credit-drift, schedule:1d).",
        field="trigger",
    )


def _triggers(p: Pipeline, kind: str) -> list[Trigger]:
    return [t for t in map(parse_trigger, p.settings.triggers) if t.kind == kind]


def on_alert(service: Pipelines, alert: Any) -> list[PipelineRun]:
    """Run every pipeline triggered by ``alert``'s monitor (at most once per alert)."""
    monitor = getattr(alert, "monitor", None)
    if not monitor or getattr(alert, "kind", "") == "rollback":
        return []
    run_id = getattr(alert, "run_id", None)
    runs = []
    for p in service.list():
        if any(t.monitor == monitor for t in _triggers(p, "alert")):
            # the alerts of one monitor run (drift and a performance drop) retrain once
            key = (
                f"monitor:{monitor}:{run_id}:{p.name}"
                if run_id is not None
                else f"alert:{getattr(alert, 'id', '?')}:{p.name}"
            )
            runs.append(_safely(service, p, "alert", key))
    return [r for r in runs if r is not None]


def tick(service: Pipelines, *, now: datetime) -> list[PipelineRun]:
    """Reap dead runs; run pipelines with a new dataset version or a due schedule."""
    service.reap(now=now)
    runs: list[PipelineRun | None] = []
    for p in service.list():
        if _triggers(p, "dataset"):
            versions = service.parts.dataset_versions(p.dataset)
            if versions and max(versions) >= p.dataset_from:
                ref = f"{p.dataset}@{max(versions)}"
                runs.append(_safely(service, p, "dataset", f"dataset:{p.name}:{ref}", ref))
        for t in _triggers(p, "schedule"):
            assert t.every is not None
            period = (now - p.created_at) // t.every  # periods since registration
            if period < 1:
                continue
            key = f"schedule:{p.name}:{int(t.every.total_seconds())}s:{period}"
            runs.append(_safely(service, p, "schedule", key))
    return [r for r in runs if r is not None]


def _safely(
    service: Pipelines, p: Pipeline, trigger: str, key: str, dataset: str | None = None
) -> PipelineRun | None:
    """Start one triggered run; a refusal (no alias, missing dataset) is not fatal to
    the worker: it is left for ``prodline pipeline show`` to explain via the audit log."""
    if service.find_run(key) is not None:
        return None
    try:
        return service.run(p.name, dataset=dataset, trigger=trigger, trigger_key=key)
    except ProdlineError as exc:
        with service._ws.tx() as conn:
            service._ws.audit.record(
                conn,
                "pipeline.trigger_refused",
                f"pipeline:{p.name}",
                {"trigger": trigger, "trigger_key": key, "reason": exc.message},
            )
        return None

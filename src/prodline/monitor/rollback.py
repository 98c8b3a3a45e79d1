"""Auto-rollback: a newly promoted version that does worse on real labels goes back.

After a promotion, the alias's new version and the version it replaced are compared on
labelled predictions (``ws.feedback.read``; the metric from
:func:`prodline.monitor.performance.performance`): the new version's since the
promotion, the previous version's just before it (as many of its newest labelled rows
as the new version has, and at least ``min_labels``). When both have ``min_labels``
labelled predictions and the new version is worse by ``margin`` or more, the alias
rolls back through ``Workspace.rollback`` (audited; the promotion policy is asked)
and a ``rollback`` alert says why, with the numbers. The alias's latest move is then a
rollback, so the same promotion is never rolled back twice.

Which aliases are guarded comes from the pipelines that set a rollback guard
(``prodline pipeline register --rollback-margin 0.05 --rollback-min-labels 200``);
``check`` guards any alias on demand.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prodline.errors import InvalidInput
from prodline.monitor.performance import performance

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["AutoRollback", "RollbackCheck", "RollbackSources"]

_LOWER_IS_BETTER = frozenset({"mae", "rmse"})


@dataclass(frozen=True)
class RollbackSources:
    """What auto-rollback needs from other parts, handed in by the Workspace.

    ``last_move(model, alias)`` → ``(action, from_version, to_version, at)`` of the
    alias's latest move, or ``None``; ``rollback(model, alias)`` → the version the alias
    holds afterwards (``Workspace.rollback``); ``guards()`` → ``(model, alias,
    {"metric", "margin", "min_labels"})`` for every guarded alias.
    """

    last_move: Callable[[str, str], tuple[str, int | None, int, datetime] | None]
    rollback: Callable[[str, str], int]
    guards: Callable[[], Sequence[tuple[str, str, Mapping[str, Any]]]]


@dataclass(frozen=True)
class RollbackCheck:
    """What one check saw and did."""

    model: str
    alias: str
    metric: str
    margin: float
    min_labels: int
    current: int | None = None
    previous: int | None = None
    current_value: float | None = None
    previous_value: float | None = None
    current_labels: int = 0
    previous_labels: int = 0
    rolled_back: bool = False
    reason: str = ""
    alert_id: int | None = None

    @property
    def drop(self) -> float | None:
        """How much worse the current version is (positive = worse), in metric units."""
        if self.current_value is None or self.previous_value is None:
            return None
        if self.metric in _LOWER_IS_BETTER:
            return self.current_value - self.previous_value
        return self.previous_value - self.current_value

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the alert's payload)."""
        return {
            "model": self.model,
            "alias": self.alias,
            "metric": self.metric,
            "margin": self.margin,
            "min_labels": self.min_labels,
            "current_version": self.current,
            "previous_version": self.previous,
            "current_value": self.current_value,
            "previous_value": self.previous_value,
            "current_labels": self.current_labels,
            "previous_labels": self.previous_labels,
            "drop": self.drop,
            "rolled_back": self.rolled_back,
            "reason": self.reason,
        }


class AutoRollback:
    """Roll back promotions that real labels show to be worse (``ws.auto_rollback``)."""

    def __init__(self, ws: Workspace, sources: RollbackSources) -> None:
        self._ws = ws
        self._sources = sources

    def check(
        self,
        model: str,
        alias: str = "production",
        *,
        metric: str = "accuracy",
        margin: float = 0.05,
        min_labels: int = 200,
        task: str = "classification",
    ) -> RollbackCheck:
        """Compare the alias's newly promoted version with the one before; roll back if
        it is worse by ``margin`` over at least ``min_labels`` labelled predictions each.
        """
        if min_labels < 1 or margin < 0:
            raise InvalidInput("min_labels must be ≥ 1 and margin ≥ 0.", field="min_labels")
        base = RollbackCheck(model, alias, metric, margin, min_labels)
        move = self._sources.last_move(model, alias)
        if move is None or move[0] != "promote" or move[1] is None:
            return _with(base, reason="no promotion to watch (the alias's latest move is not one)")
        _, previous, current, at = move
        assert previous is not None
        base = _with(base, current=current, previous=previous)
        new = self._ws.feedback.read(model, version=current, since=at)
        old = self._ws.feedback.read(model, version=previous, until=at)
        old = old.tail(max(min_labels, len(new)))
        base = _with(base, current_labels=len(new), previous_labels=len(old))
        if len(new) < min_labels or len(old) < min_labels:
            return _with(
                base,
                reason=f"waiting for labels: v{current} has {len(new)}, v{previous} has "
                f"{len(old)}, {min_labels} each needed",
            )
        kind = "regression" if task == "regression" else "classification"
        now_value = _metric(new, metric, current, kind)
        was_value = _metric(old, metric, previous, kind)
        checked = _with(base, current_value=now_value, previous_value=was_value)
        drop = checked.drop
        if drop is None or drop <= 0 or drop < margin:
            return _with(
                checked,
                reason=f"v{current} {metric}={now_value:.4f} vs v{previous} "
                f"{was_value:.4f}: within the margin {margin:g}",
            )
        reason = (
            f"v{current} {metric}={now_value:.4f} over {len(new)} labelled predictions is "
            f"{drop:.4f} below v{previous}'s {was_value:.4f} over {len(old)} (margin {margin:g})"
        )
        self._sources.rollback(model, alias)
        done = _with(checked, rolled_back=True, reason=reason)
        alert = self._ws.alerts.add(
            "rollback",
            f"Rolled back {model}@{alias} from v{current} to v{previous}: {reason}.",
            subject=f"model:{model}@{alias}",
            severity="critical",
            payload=done.to_dict(),
        )
        return _with(done, alert_id=alert.id)

    def check_all(self) -> builtins.list[RollbackCheck]:
        """Check every guarded alias (the worker calls this periodically)."""
        out = []
        for model, alias, guard in self._sources.guards():
            out.append(
                self.check(
                    model,
                    alias,
                    metric=str(guard.get("metric", "accuracy")),
                    margin=float(guard.get("margin", 0.05)),
                    min_labels=int(guard.get("min_labels", 200)),
                )
            )
        return out


def _with(check: RollbackCheck, **changes: Any) -> RollbackCheck:
    from dataclasses import replace

    return replace(check, **changes)


def _metric(frame: Any, metric: str, version: int, task: Any) -> float:
    value = performance(frame, task).metric(metric, version)
    if value is None:
        raise InvalidInput(
            f"Metric '{metric}' cannot be computed on the labelled predictions of "
            f"v{version}; use accuracy or f1 (classifiers), mae or rmse (regressors).",
            field="metric",
        )
    return float(value)

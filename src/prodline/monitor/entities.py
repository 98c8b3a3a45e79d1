"""Monitor and MonitorRun entities, and the window and schedule specs they are made from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prodline.errors import InvalidInput

__all__ = [
    "Monitor",
    "MonitorRun",
    "monitor_from_row",
    "parse_duration",
    "parse_window",
    "run_from_row",
]

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d+)\s*([smhd])")


def parse_duration(text: str, *, what: str = "duration") -> int:
    """``"90s"``, ``"10m"``, ``"1h"``, ``"2d"`` → seconds.

    >>> parse_duration("10m")
    600
    """
    found = _DURATION.fullmatch(str(text).strip().lower())
    if not found or int(found.group(1)) < 1:
        raise InvalidInput(
            f"{what} '{text}' is not a duration; write a number and a unit: 30s, 10m, 1h or 2d.",
            field=what,
        )
    return int(found.group(1)) * _UNITS[found.group(2)]


def parse_window(text: str | int) -> tuple[int | None, int | None]:
    """``"1000"`` → (1000 rows, None); ``"1h"`` → (None, 3600 seconds).

    >>> parse_window("1000"), parse_window("1h")
    ((1000, None), (None, 3600))
    """
    value = str(text).strip()
    if value.isdigit():
        if int(value) < 1:
            raise InvalidInput("window must be at least 1 row.", field="window")
        return int(value), None
    if _DURATION.fullmatch(value.lower()) is None:
        raise InvalidInput(
            f"window '{text}' is neither a number of rows (1000) nor a duration (1h, 30m).",
            field="window",
        )
    return None, parse_duration(value, what="window")


@dataclass(frozen=True)
class Monitor:
    """A monitor's settings and schedule."""

    name: str
    model: str | None
    alias: str | None
    reference: str | None
    kb: str | None
    window_rows: int | None
    window_seconds: int | None
    checks: tuple[str, ...]
    every_seconds: int | None
    config: dict[str, Any]
    enabled: bool
    created_by: str
    created_at: datetime
    next_run_at: datetime | None
    last_run_at: datetime | None

    @property
    def target(self) -> str:
        """What it watches: ``MODEL@ALIAS`` or ``kb:NAME``."""
        return f"{self.model}@{self.alias}" if self.model else f"kb:{self.kb}"

    @property
    def window(self) -> str:
        """The window as typed: ``1000`` rows or a duration such as ``1h``."""
        if self.window_rows is not None:
            return str(self.window_rows)
        return _format_seconds(self.window_seconds or 0)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "name": self.name,
            "target": self.target,
            "model": self.model,
            "alias": self.alias,
            "reference": self.reference,
            "kb": self.kb,
            "window": self.window,
            "checks": list(self.checks),
            "every": _format_seconds(self.every_seconds) if self.every_seconds else None,
            "config": self.config,
            "enabled": self.enabled,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "next_run_at": self.next_run_at.isoformat() if self.next_run_at else None,
            "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
        }


@dataclass(frozen=True)
class MonitorRun:
    """One run of a monitor: its verdict, summary, report artifact and alert count."""

    id: int
    monitor: str
    status: str
    model_version: int | None
    started_at: datetime
    finished_at: datetime
    summary: dict[str, Any]
    report_artifact: str | None
    alerts: int
    runner: str

    def to_dict(self) -> dict[str, Any]:
        """Plain data for ``--json``."""
        return {
            "id": self.id,
            "monitor": self.monitor,
            "status": self.status,
            "model_version": self.model_version,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
            "summary": self.summary,
            "report_artifact": self.report_artifact,
            "alerts": self.alerts,
            "runner": self.runner,
        }


def _format_seconds(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def monitor_from_row(row: Any) -> Monitor:
    """A Monitor from its ``monitors`` row."""
    return Monitor(
        name=row.name,
        model=row.model,
        alias=row.alias,
        reference=row.reference,
        kb=row.kb,
        window_rows=row.window_rows,
        window_seconds=row.window_seconds,
        checks=tuple(row.checks or ()),
        every_seconds=row.every_seconds,
        config=dict(row.config or {}),
        enabled=bool(row.enabled),
        created_by=row.created_by,
        created_at=row.created_at,
        next_run_at=row.next_run_at,
        last_run_at=row.last_run_at,
    )


def run_from_row(row: Any, name: str) -> MonitorRun:
    """A MonitorRun from its ``monitor_runs`` row and its monitor's name."""
    return MonitorRun(
        id=int(row.id),
        monitor=name,
        status=row.status,
        model_version=row.model_version,
        started_at=row.started_at,
        finished_at=row.finished_at,
        summary=dict(row.summary or {}),
        report_artifact=row.report_artifact,
        alerts=int(row.alerts),
        runner=row.runner,
    )

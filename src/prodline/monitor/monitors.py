"""Monitors: named, scheduled checks over a served model's (or knowledge base's) window.

A monitor watches ``MODEL@ALIAS`` (the version the alias holds at run time) or a
knowledge base, over a window of its log — the last N rows (``window="1000"``) or a
duration (``window="1h"``) — and runs its checks (:mod:`prodline.monitor.checks`).
Each run, in one transaction: a ``monitor_runs`` row with the summary, the summary as
evidence on the model version (``ws.evidence``, kind ``monitor``), the HTML report as
an artifact, a ``monitor.run`` audit event, the lineage edge ``model:M@V`` →
``monitor:NAME@RUN``, and one alert per failed check (``ws.alerts``: audited,
queued for the webhooks). A monitor with ``every`` is run by the worker
(``prodline worker``) when ``next_run_at`` comes; ``claim_due`` moves ``next_run_at`` to
*now* + ``every`` before the run, so a schedule survives restarts and runs missed while
no worker was up are run once, not once per missed period.

What comes from other parts — the alias's version, the reference dataset, the
knowledge base — is handed in by the Workspace as :class:`MonitorSources` callables.
"""

from __future__ import annotations

import builtins
import functools
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from prodline.core.refs import check_name, node, parse_ref
from prodline.errors import Conflict, InvalidInput, NotFound, ProdlineError
from prodline.monitor.checks import KB_CHECKS, MODEL_CHECKS, CheckContext, CheckResult
from prodline.monitor.entities import (
    Monitor,
    MonitorRun,
    monitor_from_row,
    parse_duration,
    parse_window,
    run_from_row,
)
from prodline.monitor.report import render_report
from prodline.store.tables import monitor_runs, monitors

if TYPE_CHECKING:
    import pandas as pd

    from prodline.monitor.alerts import Alerts
    from prodline.workspace import Workspace

__all__ = ["Monitor", "MonitorRun", "MonitorSources", "Monitors", "parse_duration", "parse_window"]


@dataclass(frozen=True)
class MonitorSources:
    """What a monitor needs from other parts, injected by the Workspace as callables."""

    model_version: Callable[[str, str], int]
    """``(model, alias) -> version`` the alias holds now; raises NotFound naming the aliases."""
    dataset_ref: Callable[[str], str]
    """``"name"`` or ``"name@v"`` → ``"name@v"`` of an existing version; raises NotFound."""
    load_dataset: Callable[[str], pd.DataFrame]
    """``"name@v"`` → the version's canonical data."""
    model_metrics: Callable[[str, int], Mapping[str, Any]] = lambda name, version: {}
    """``(model, version) -> metrics`` registered with the version (performance floors)."""
    kb_exists: Callable[[str], object] = lambda name: None
    rag_report: Callable[..., Any] | None = None
    """``(kb, *, last, since, threshold, window, embeddings) -> RagReport`` (monitor.rag)."""
    """Raise NotFound when the knowledge base does not exist."""
    extra: Mapping[str, Callable[..., Any]] = field(default_factory=dict)
    """More loaders for checks added later (e.g. a KB's chunk embeddings), by name."""


class Monitors:
    """Create, list and run monitors; the worker claims the due ones through here."""

    def __init__(self, ws: Workspace, sources: MonitorSources, alerts: Alerts) -> None:
        self._ws = ws
        self._sources = sources
        self._alerts = alerts

    # -- settings --------------------------------------------------------------------
    def create(
        self,
        name: str,
        *,
        model: str | None = None,
        reference: str | None = None,
        kb: str | None = None,
        window: str | int = "1000",
        checks: Sequence[str] | None = None,
        every: str | int | None = None,
        config: Mapping[str, Any] | None = None,
    ) -> Monitor:
        """Create a monitor on ``model`` (``"M@ALIAS"``) or on knowledge base ``kb``.

        Raises
        ------
        InvalidInput
            A bad name, window, schedule or check, or a check that needs a reference.
        NotFound
            The alias, the reference dataset (version) or the knowledge base.
        Conflict
            A monitor of that name exists.
        """
        self._ws.authorize("monitor.create")
        check_name("Monitor", name)
        if (model is None) == (kb is None):
            raise InvalidInput(
                f"Monitor '{name}' needs exactly one target: --model MODEL@ALIAS or --kb KB.",
                field="model",
            )
        model_name = alias = None
        if model is not None:
            model_name, alias = parse_ref(model, what="model", need_ref=True)
            if alias is not None and alias.isdigit():
                raise InvalidInput(
                    f"Monitor '{name}' must watch an alias, not version {alias}: write "
                    f"{model_name}@production (the alias moves; the monitor follows it).",
                    field="model",
                )
            try:
                self._sources.model_version(model_name, str(alias))
            except NotFound as exc:
                raise NotFound(
                    f"Cannot create monitor '{name}' on {model}: {exc.message}", field="model"
                ) from exc
        else:
            self._sources.kb_exists(str(kb))
        known = MODEL_CHECKS if model is not None else KB_CHECKS
        chosen = tuple(checks) if checks else _default_checks(model is not None, reference)
        unknown = [c for c in chosen if c not in known]
        if unknown or not chosen:
            raise InvalidInput(
                f"Monitor '{name}': unknown check(s) {', '.join(unknown) or '(none given)'}; "
                f"a {'model' if model else 'knowledge-base'} monitor knows "
                f"{', '.join(known) or 'none yet'}.",
                field="checks",
            )
        if "data_drift" in chosen and not reference:
            raise InvalidInput(
                f"Monitor '{name}': data_drift compares with a reference; add --reference "
                "DATASET@VERSION (e.g. the model's training data).",
                field="reference",
            )
        pinned = self._sources.dataset_ref(reference) if reference else None
        rows, seconds = parse_window(window)
        every_s = (
            None
            if every is None
            else every
            if isinstance(every, int)
            else parse_duration(every, what="every")
        )
        if every_s is not None and every_s < 1:
            raise InvalidInput("every must be at least 1 second.", field="every")
        now = datetime.now(UTC)
        values = {
            "name": name,
            "model": model_name,
            "alias": alias,
            "reference": pinned,
            "kb": kb,
            "window_rows": rows,
            "window_seconds": seconds,
            "checks": list(chosen),
            "every_seconds": every_s,
            "config": dict(config or {}),
            "enabled": True,
            "created_by": self._ws.actor,
            "created_at": now,
            "next_run_at": now if every_s else None,
            "last_run_at": None,
        }
        with self._ws.tx() as conn:
            if conn.execute(sa.select(monitors.c.id).where(monitors.c.name == name)).first():
                raise Conflict(
                    f"Monitor '{name}' already exists; pick another name or inspect it with "
                    f"prodline monitor show {name}."
                )
            conn.execute(monitors.insert().values(**values))
            self._ws.audit.record(
                conn,
                "monitor.create",
                f"monitor:{name}",
                {k: v for k, v in values.items() if k not in ("created_at", "next_run_at")},
            )
        return self.get(name)

    def get(self, name: str) -> Monitor:
        """One monitor by name."""
        with self._ws.db.read() as conn:
            row = conn.execute(sa.select(monitors).where(monitors.c.name == name)).first()
        if row is None:
            raise NotFound(f"Monitor '{name}' does not exist; {self._known()}.")
        return monitor_from_row(row)

    def list(self) -> builtins.list[Monitor]:
        """Every monitor, by name."""
        with self._ws.db.read() as conn:
            rows = conn.execute(sa.select(monitors).order_by(monitors.c.name)).all()
        return [monitor_from_row(r) for r in rows]

    def runs(self, name: str, *, limit: int = 20) -> builtins.list[MonitorRun]:
        """The monitor's runs, newest first."""
        monitor = self.get(name)
        with self._ws.db.read() as conn:
            rows = conn.execute(
                sa.select(monitor_runs)
                .join(monitors, monitors.c.id == monitor_runs.c.monitor_id)
                .where(monitors.c.name == monitor.name)
                .order_by(monitor_runs.c.id.desc())
                .limit(limit)
            ).all()
        return [run_from_row(r, monitor.name) for r in rows]

    def last_run(self, name: str) -> MonitorRun:
        """The newest run; NotFound when it never ran."""
        found = self.runs(name, limit=1)
        if not found:
            raise NotFound(
                f"Monitor '{name}' has not run yet; run it with prodline monitor run {name}."
            )
        return found[0]

    def report_html(self, name: str) -> bytes:
        """The HTML report of the monitor's newest run."""
        run = self.last_run(name)
        if run.report_artifact is None:
            raise NotFound(f"Run {run.id} of monitor '{name}' has no report (it ended in error).")
        return self._ws.artifacts.read_bytes(run.report_artifact, name=f"monitor {name} report")

    # -- scheduling ------------------------------------------------------------------
    def claim_due(self, *, now: datetime | None = None) -> builtins.list[Monitor]:
        """Monitors whose ``next_run_at`` has come, each moved to ``now + every`` first.

        Moving the schedule from *now* (not from the missed time) is what runs a
        monitor once after any outage, however many periods it missed. The move is a
        conditional update, so two callers never claim the same run.
        """
        moment = now or datetime.now(UTC)
        with self._ws.db.read() as conn:
            due = conn.execute(
                sa.select(monitors)
                .where(
                    monitors.c.enabled.is_(True),
                    monitors.c.every_seconds.is_not(None),
                    monitors.c.next_run_at <= moment,
                )
                .order_by(monitors.c.next_run_at)
            ).all()
        claimed = []
        for row in due:
            with self._ws.db.tx() as conn:
                done = conn.execute(
                    monitors.update()
                    .where(monitors.c.id == row.id, monitors.c.next_run_at <= moment)
                    .values(next_run_at=moment + timedelta(seconds=row.every_seconds))
                )
            if done.rowcount == 1:
                claimed.append(monitor_from_row(row))
        return claimed

    def reschedule(self, name: str, next_run_at: datetime) -> None:
        """Set when the worker runs the monitor next (e.g. to run it now)."""
        with self._ws.db.tx() as conn:
            done = conn.execute(
                monitors.update().where(monitors.c.name == name).values(next_run_at=next_run_at)
            )
        if done.rowcount != 1:
            raise NotFound(f"Monitor '{name}' does not exist; {self._known()}.")

    # -- running ---------------------------------------------------------------------
    def run(self, name: str, *, runner: str = "") -> MonitorRun:
        """Run the monitor's checks over its window now, record the run and raise alerts.

        A check that cannot run is reported in the summary (status ``error``) and the
        other checks still run. The alias resolving to no version makes the run an
        ``error`` too, recorded rather than raised, so a schedule keeps going.
        """
        self._ws.authorize("monitor.run")
        monitor = self.get(name)
        started = datetime.now(UTC)
        version: int | None = None
        results: builtins.list[CheckResult] = []
        window_info: dict[str, Any] = {}
        try:
            version = self._version(monitor)
            window, window_info, loaders = self._window(monitor, started, version)
            ctx = CheckContext(monitor, window, version, loaders)
            table = MODEL_CHECKS if monitor.model else KB_CHECKS
            for check in monitor.checks:
                results.append(_run_check(check, table.get(check), ctx))
        except ProdlineError as exc:
            results.append(CheckResult("monitor", "error", exc.message))
        status = _status(results)
        summary = _json_ready(
            {
                "monitor": monitor.name,
                "target": monitor.target,
                "version": version,
                "reference": monitor.reference,
                "window": window_info,
                "status": status,
                "checks": {r.check: r.to_dict() for r in results},
            }
        )
        title = f"Monitor {monitor.name} on {monitor.target} — {started:%Y-%m-%d %H:%M:%S} UTC"
        charts = [chart for r in results for chart in r.charts]
        html = render_report(title, summary, charts).encode("utf-8")
        artifact = self._ws.artifacts.put_bytes(html)
        return self._record(monitor, version, started, status, summary, artifact, results, runner)

    def _version(self, monitor: Monitor) -> int | None:
        if monitor.model is None:
            return None
        return self._sources.model_version(monitor.model, str(monitor.alias))

    def _window(
        self, monitor: Monitor, now: datetime, version: int | None
    ) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Callable[[], Any]]]:
        ws = self._ws
        rows, seconds = monitor.window_rows, monitor.window_seconds
        since = now - timedelta(seconds=seconds) if seconds else None
        if monitor.model is None:
            window = ws.calls.read(monitor.kb, since=since, last=rows)
        else:
            window = ws.predictions.read(monitor.model, since=since, last=rows)
        info: dict[str, Any] = {"rows": len(window), "spec": monitor.window}
        if len(window) and "ts" in window.columns:
            info["from"], info["to"] = str(window["ts"].min()), str(window["ts"].max())
        model, kb = monitor.model, monitor.kb

        def previous() -> pd.DataFrame:
            if model is None:
                return window.iloc[0:0]
            if seconds:
                assert since is not None
                return ws.predictions.read(
                    model, since=since - timedelta(seconds=seconds), until=since
                )
            both = ws.predictions.read(model, last=2 * int(rows or 0))
            return both.iloc[: max(len(both) - len(window), 0)]

        loaders: dict[str, Callable[[], Any]] = {
            "reference": lambda: self._sources.load_dataset(str(monitor.reference)),
            "previous": previous,
            "labelled": lambda: ws.feedback.read(str(model), since=since, last=rows),
            "calls": lambda: ws.calls.read(kb, since=since, last=rows),
            "rag": lambda: self._rag(monitor, since, len(window)),
            "model_metrics": lambda: (
                dict(self._sources.model_metrics(str(model), version)) if version else {}
            ),
        }
        for key, extra in self._sources.extra.items():
            loaders[key] = functools.partial(extra, monitor)
        return window, info, loaders

    def _rag(self, monitor: Monitor, since: datetime | None, rows: int) -> Any:
        if self._sources.rag_report is None:
            raise InvalidInput("This workspace has no RAG monitoring wired in.")
        settings = dict(monitor.config.get("groundedness") or {})
        return self._sources.rag_report(
            str(monitor.kb),
            last=monitor.window_rows,
            since=since,
            threshold=float(settings.get("threshold", 0.5)),
            window=max(rows // 10, 1),
            embeddings="rag_drift" in monitor.checks,
        )

    def _record(
        self,
        monitor: Monitor,
        version: int | None,
        started: datetime,
        status: str,
        summary: dict[str, Any],
        artifact: str,
        results: Sequence[CheckResult],
        runner: str,
    ) -> MonitorRun:
        failed = [r for r in results if r.status == "failed" and r.alert_kind]
        finished = datetime.now(UTC)
        subject = (
            node("model", str(monitor.model), version)
            if monitor.model and version is not None
            else node("kb", str(monitor.kb), "live")
            if monitor.kb
            else f"monitor:{monitor.name}"
        )
        with self._ws.tx() as conn:
            monitor_id = conn.execute(
                sa.select(monitors.c.id).where(monitors.c.name == monitor.name)
            ).scalar_one()
            run_id = int(
                conn.execute(
                    monitor_runs.insert().values(
                        monitor_id=monitor_id,
                        status=status,
                        model_version=version,
                        started_at=started,
                        finished_at=finished,
                        summary=summary,
                        report_artifact=artifact,
                        alerts=len(failed),
                        runner=runner,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            conn.execute(
                monitors.update().where(monitors.c.id == monitor_id).values(last_run_at=started)
            )
            run_node = node("monitor", monitor.name, run_id)
            self._ws.evidence.record(
                conn, subject, "monitor", summary, passed=status == "passed", artifact=artifact
            )
            self._ws.audit.record(
                conn,
                "monitor.run",
                run_node,
                {
                    "status": status,
                    "version": version,
                    "checks": {r.check: r.status for r in results},
                    "alerts": len(failed),
                    "report": artifact,
                },
            )
            if subject != f"monitor:{monitor.name}":
                self._ws.lineage.record(conn, subject, run_node, "monitored_by")
            for result in failed:
                self._alerts.record(
                    conn,
                    str(result.alert_kind),
                    f"{monitor.name} on {monitor.target}: {result.message}",
                    subject=subject,
                    severity=result.severity,
                    payload={"check": result.check, "run": run_id, **result.to_dict()},
                    monitor=monitor.name,
                    run_id=run_id,
                )
        return MonitorRun(
            run_id,
            monitor.name,
            status,
            version,
            started,
            finished,
            summary,
            artifact,
            len(failed),
            runner,
        )

    def _known(self) -> str:
        names = [m.name for m in self.list()]
        return f"monitors are: {', '.join(names)}" if names else "no monitors exist yet"


def _default_checks(is_model: bool, reference: str | None) -> tuple[str, ...]:
    if not is_model:
        return tuple(KB_CHECKS)[:1]
    return ("data_drift", "prediction_drift") if reference else ("prediction_drift",)


def _run_check(
    name: str, check: Callable[[CheckContext], CheckResult] | None, ctx: CheckContext
) -> CheckResult:
    if check is None:  # a check removed since the monitor was created
        return CheckResult(name, "error", f"check '{name}' is not known to this prodline")
    if ctx.window.empty:
        return CheckResult(name, "skipped", "the window has no rows yet")
    try:
        return check(ctx)
    except ProdlineError as exc:
        return CheckResult(name, "error", exc.message)
    except Exception as exc:  # a bug in one check must not lose the others' results
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return CheckResult(name, "error", f"check crashed: {detail}")


def _status(results: Sequence[CheckResult]) -> str:
    statuses = {r.status for r in results}
    if "failed" in statuses:
        return "failed"
    if "error" in statuses:
        return "error"
    return "passed"


def _json_ready(value: Any) -> Any:
    """Plain JSON: NumPy scalars as Python numbers, NaN and infinities as None."""
    import math

    import numpy as np

    if isinstance(value, Mapping):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)

"""The worker: the one long-lived process per workspace that runs scheduled work.

``prodline worker`` (and later ``prodline server``) runs :class:`Worker` in a loop.
Every tick (default 1 s) it

1. takes or renews the lease ``scheduler`` in the store (``store.leases``); a worker
   that does not hold it does nothing but wait, so two workers never run the same
   schedule (the lease expires ``ttl_s`` after its holder's last renewal; SIGTERM
   releases it at once);
2. runs the monitors that are due (``ws.monitors.claim_due``: ``next_run_at`` lives in
   the store, so a schedule survives restarts, and a monitor that missed several
   periods while no worker ran is run once, then scheduled from now);
3. delivers pending webhooks (``ws.alerts.deliver_due``: retries with backoff);
4. hands each new alert to the ``on_alert`` hooks, once (``alerts.dispatched_at``);
5. runs the periodic steps registered with ``every``.

Hooks for other parts (how pipelines react to alerts — issue 7, piece 7d)
-------------------------------------------------------------------------
Register in :func:`build_worker`, the one place ``prodline worker`` builds its worker
(add one line there, e.g. ``install_pipeline_triggers(worker)``)::

    worker.on_alert(callback)          # callback(ws, alert: monitor.alerts.Alert) -> None
    worker.every("pipelines", 60, fn)  # fn(ws) -> None, every 60 s while holding the lease

An alert hook sees every alert recorded after the worker first ran (by any process:
``prodline monitor run``, auto-rollback, another monitor), oldest first, exactly once
per workspace — the alert is marked dispatched after all hooks ran, so a crash in the
middle hands it over again on the next tick: make hooks idempotent (e.g. a unique
trigger key per alert id). A hook that raises is logged and does not stop the others
or the loop. Hooks and steps run in the worker's thread while it holds the lease.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prodline.store.leases import Leases

if TYPE_CHECKING:
    from prodline.monitor.alerts import Alert
    from prodline.workspace import Workspace

__all__ = ["LEASE", "Tick", "Worker", "build_worker"]

log = logging.getLogger("prodline.worker")

LEASE = "scheduler"
"""The name of the lease a worker must hold to run scheduled work."""

AlertHook = Callable[["Workspace", "Alert"], None]
Step = Callable[["Workspace"], None]


@dataclass
class Tick:
    """What one pass of the loop did."""

    held: bool
    runs: list[tuple[str, str]] = field(default_factory=list)
    """(monitor, status) per monitor run."""
    deliveries: int = 0
    dispatched: int = 0
    steps: list[str] = field(default_factory=list)


@dataclass
class _Periodic:
    name: str
    seconds: float
    step: Step
    next_at: float = 0.0


class Worker:
    """Run due monitors, webhook deliveries and hooks while holding the scheduler lease."""

    def __init__(
        self,
        ws: Workspace,
        *,
        tick_s: float = 1.0,
        ttl_s: float = 30.0,
        holder: str | None = None,
        echo: Callable[[str], None] | None = None,
    ) -> None:
        self.ws = ws
        self.tick_s = tick_s
        self.ttl_s = ttl_s
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._echo = echo or (lambda line: log.info("%s", line))
        self._leases = Leases(ws.db)
        self._alert_hooks: list[AlertHook] = []
        self._steps: list[_Periodic] = []
        self._stop = threading.Event()
        self._held: bool | None = None  # unknown until the first tick

    # -- registration ----------------------------------------------------------------
    def on_alert(self, callback: AlertHook) -> None:
        """Call ``callback(ws, alert)`` once for every new alert (see the module docstring)."""
        self._alert_hooks.append(callback)

    def every(self, name: str, seconds: float, step: Step) -> None:
        """Call ``step(ws)`` every ``seconds`` (first on the next tick) while holding the lease."""
        if seconds <= 0:
            raise ValueError(f"every: seconds must be positive, got {seconds}")
        self._steps.append(_Periodic(name, float(seconds), step))

    # -- the loop --------------------------------------------------------------------
    def hold(self) -> bool:
        """Take or renew the lease; say so when that changes."""
        held = self._leases.acquire(LEASE, self.holder, ttl_s=self.ttl_s)
        if held != self._held:
            if held:
                self._echo(f"worker {self.holder} holds the scheduler lease")
            else:
                other = self._leases.holder(LEASE) or "another worker"
                self._echo(f"worker {self.holder} waits: the scheduler lease is held by {other}")
        self._held = held
        return held

    def tick(self) -> Tick:
        """One pass: monitors due, webhook deliveries, alert hooks, periodic steps."""
        if not self.hold():
            return Tick(held=False)
        done = Tick(held=True)
        for monitor in self.ws.monitors.claim_due(now=datetime.now(UTC)):
            if self._stop.is_set() or not self.hold():
                break
            try:
                run = self.ws.monitors.run(monitor.name, runner=self.holder)
            except Exception:  # one broken monitor must not stop the schedule
                log.exception("monitor %s failed to run", monitor.name)
                done.runs.append((monitor.name, "crashed"))
                continue
            done.runs.append((monitor.name, run.status))
            self._echo(
                f"monitor {monitor.name}: run {run.id} {run.status}"
                + (f", {run.alerts} alert(s)" if run.alerts else "")
            )
        if self._stop.is_set():
            return done
        try:
            done.deliveries = self.ws.alerts.deliver_due()
        except Exception:
            log.exception("webhook delivery failed")
        done.dispatched = self._dispatch()
        now = time.monotonic()
        for periodic in self._steps:
            if now >= periodic.next_at and not self._stop.is_set():
                periodic.next_at = now + periodic.seconds
                try:
                    periodic.step(self.ws)
                    done.steps.append(periodic.name)
                except Exception:
                    log.exception("worker step %s failed", periodic.name)
        return done

    def _dispatch(self) -> int:
        new = self.ws.alerts.undispatched()
        for alert in new:
            for hook in self._alert_hooks:
                try:
                    hook(self.ws, alert)
                except Exception:
                    log.exception("alert hook %r failed on alert %s", hook, alert.id)
        self.ws.alerts.mark_dispatched([a.id for a in new])
        return len(new)

    def run(self, *, max_ticks: int | None = None) -> None:
        """Tick until ``stop()`` (or SIGTERM/SIGINT via ``install_signal_handlers``)."""
        ticks = 0
        try:
            while not self._stop.is_set():
                started = time.monotonic()
                try:
                    self.tick()
                except Exception:  # the store was briefly unreachable, say: keep going
                    log.exception("worker tick failed")
                ticks += 1
                if max_ticks is not None and ticks >= max_ticks:
                    break
                self._stop.wait(max(self.tick_s - (time.monotonic() - started), 0.0))
        finally:
            if self._held:
                self._leases.release(LEASE, self.holder)
                self._held = None
                self._echo(f"worker {self.holder} released the scheduler lease")

    def stop(self, *_: Any) -> None:
        """Ask the loop to end after the current step; the lease is released on the way out."""
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """Make SIGTERM and SIGINT stop the loop cleanly (main thread only)."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)


def build_worker(ws: Workspace, **options: Any) -> Worker:
    """The worker ``prodline worker`` runs: monitors, webhooks, and the parts' hooks.

    Parts that react to alerts or run on a schedule register here (one line each).
    """
    worker = Worker(ws, **options)
    ws.pipelines.reap()  # runs whose process died while no worker ran: failed, not running
    worker.on_alert(_retrain_on_alert)
    worker.every("pipelines", 10, _pipeline_triggers)
    worker.every("auto-rollback", 30, _auto_rollback)
    worker.every("reviews", 15, _review_upkeep)
    return worker


def _retrain_on_alert(ws: Workspace, alert: Alert) -> None:
    """Pipelines with the trigger ``alert:<monitor>`` retrain (once per alert, by key)."""
    ws.pipelines.on_alert(alert)


def _pipeline_triggers(ws: Workspace) -> None:
    """New dataset versions and due schedules start pipeline runs; dead runs are reaped."""
    ws.pipelines.tick()


def _review_upkeep(ws: Workspace) -> None:
    """Review items pending past their SLA raise an alert; decisions go to their webhooks."""
    ws.reviews.check_sla()
    ws.reviews.deliver_webhooks()


def _auto_rollback(ws: Workspace) -> None:
    """Roll back guarded aliases whose new version does worse on labelled predictions."""
    ws.auto_rollback.check_all()

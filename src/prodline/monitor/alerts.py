"""Alerts: recorded and audited in the store, delivered to webhooks with retries.

An alert is a fact ("data drift on credit-risk@production: 7 of 12 columns drifted")
raised by a monitor run, by auto-rollback or by anything else that watches the
workspace. Recording it is one row plus one audit event, in the caller's transaction,
and one *delivery* row per webhook configured in ``prodline.toml``::

    [alerts]
    webhooks = ["https://hooks.example.com/prodline"]
    max_attempts = 5        # tries per webhook before it is marked undelivered
    backoff_seconds = 2.0   # wait after the 1st failure; doubles after each one
    timeout_seconds = 5.0   # per HTTP request

Delivery is an HTTP ``POST`` of the alert as JSON (``Alert.to_dict()``); any 2xx
answer delivers it. A failure (refused connection, timeout, non-2xx) is retried after
``backoff_seconds * 2**(attempt - 1)``; after ``max_attempts`` the delivery is marked
``undelivered`` and audited, with the last error. Deliveries are attempted by
``deliver_due()`` — the worker calls it every tick, ``prodline monitor run`` flushes
once — and each attempt is claimed first with a compare-and-swap on its attempt count,
so two processes never post the same attempt twice. Webhook URLs often carry a secret
in their path: messages, the audit log and the CLI show only ``scheme://host/…``.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.errors import InvalidInput, NotFound
from prodline.store.tables import alert_deliveries, alerts

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["SEVERITIES", "Alert", "AlertOptions", "Alerts", "Delivery", "redact_url"]

SEVERITIES = ("info", "warning", "critical")
"""How urgent an alert is, least first."""

_CLAIM_S = 30.0
"""How long a claimed attempt keeps others off the delivery (beyond its HTTP timeout)."""


def redact_url(url: str) -> str:
    """``scheme://host[:port]/…``: a webhook URL without the path that may hold its secret."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{host}{port}{rest}"


@dataclass(frozen=True)
class AlertOptions:
    """Where alerts go and how hard delivery tries: the ``[alerts]`` table of prodline.toml."""

    webhooks: tuple[str, ...] = ()
    max_attempts: int = 5
    backoff_seconds: float = 2.0
    timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        for url in self.webhooks:
            parts = urlsplit(url) if isinstance(url, str) else None
            if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
                raise InvalidInput(
                    f"prodline.toml [alerts] webhooks: {url!r} is not an http(s) URL; write "
                    'e.g. webhooks = ["https://hooks.example.com/prodline"].',
                    field="webhooks",
                )
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise InvalidInput("prodline.toml [alerts] max_attempts must be a whole number.")
        if self.max_attempts < 1:
            raise InvalidInput("prodline.toml [alerts] max_attempts must be at least 1.")
        for name in ("backoff_seconds", "timeout_seconds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise InvalidInput(f"prodline.toml [alerts] {name} must be a positive number.")

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> AlertOptions:
        """Build from the ``[alerts]`` table, naming any key it does not know."""
        known = {"webhooks", "max_attempts", "backoff_seconds", "timeout_seconds"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise InvalidInput(
                f"prodline.toml [alerts] has unknown key(s) {', '.join(unknown)}; "
                f"known keys are {', '.join(sorted(known))}."
            )
        hooks = table.get("webhooks", [])
        if isinstance(hooks, str) or not isinstance(hooks, list | tuple):
            raise InvalidInput(
                'prodline.toml [alerts] webhooks must be a list: webhooks = ["https://…"].'
            )
        return cls(
            webhooks=tuple(hooks),
            max_attempts=table.get("max_attempts", 5),
            backoff_seconds=table.get("backoff_seconds", 2.0),
            timeout_seconds=table.get("timeout_seconds", 5.0),
        )

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based): doubling."""
        return float(self.backoff_seconds) * 2 ** (attempt - 1)


@dataclass(frozen=True)
class Alert:
    """One raised alert: what happened, to what, how bad, with the numbers in ``payload``."""

    id: int
    kind: str
    severity: str
    subject: str
    message: str
    payload: dict[str, Any] = field(default_factory=dict)
    monitor: str | None = None
    run_id: int | None = None
    created_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON a webhook receives and ``prodline alerts list --json`` prints."""
        return {
            "id": self.id,
            "kind": self.kind,
            "severity": self.severity,
            "subject": self.subject,
            "message": self.message,
            "payload": self.payload,
            "monitor": self.monitor,
            "run_id": self.run_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
        }


@dataclass(frozen=True)
class Delivery:
    """One alert's delivery to one webhook: pending, delivered or undelivered."""

    id: int
    alert_id: int
    url: str
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: datetime | None
    delivered_at: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """Plain data, the URL shown without its path (it may hold a secret)."""
        return {
            "id": self.id,
            "alert_id": self.alert_id,
            "url": redact_url(self.url),
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "next_attempt_at": self.next_attempt_at.isoformat() if self.next_attempt_at else None,
            "delivered_at": self.delivered_at.isoformat() if self.delivered_at else None,
        }


class Alerts:
    """Record alerts (audited) and deliver them to the configured webhooks."""

    def __init__(self, ws: Workspace, options: AlertOptions | None = None) -> None:
        self._ws = ws
        self.options = options or AlertOptions.from_table(ws.settings.alerts)

    # -- recording -------------------------------------------------------------------
    def record(
        self,
        conn: Connection,
        kind: str,
        message: str,
        *,
        subject: str,
        severity: str = "warning",
        payload: Mapping[str, Any] | None = None,
        monitor: str | None = None,
        run_id: int | None = None,
    ) -> Alert:
        """Record an alert in ``conn``'s transaction: its row, its audit event, its deliveries."""
        if severity not in SEVERITIES:
            raise InvalidInput(
                f"Alert severity '{severity}' is not known; use one of {', '.join(SEVERITIES)}.",
                field="severity",
            )
        if not kind:
            raise InvalidInput("An alert needs a kind, e.g. data_drift.", field="kind")
        now = datetime.now(UTC)
        body = dict(payload or {})
        alert_id = int(
            conn.execute(
                alerts.insert().values(
                    monitor=monitor,
                    run_id=run_id,
                    kind=kind,
                    severity=severity,
                    subject=subject,
                    message=message,
                    payload=body,
                    created_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        )
        for url in self.options.webhooks:
            conn.execute(
                alert_deliveries.insert().values(
                    alert_id=alert_id, url=url, status="pending", attempts=0, next_attempt_at=now
                )
            )
        self._ws.audit.record(
            conn,
            "alert.raised",
            subject,
            {
                "alert": alert_id,
                "kind": kind,
                "severity": severity,
                "message": message,
                "monitor": monitor,
                "webhooks": [redact_url(u) for u in self.options.webhooks],
            },
        )
        return Alert(alert_id, kind, severity, subject, message, body, monitor, run_id, now)

    def add(
        self,
        kind: str,
        message: str,
        *,
        subject: str,
        severity: str = "warning",
        payload: Mapping[str, Any] | None = None,
        monitor: str | None = None,
    ) -> Alert:
        """Record an alert in a transaction of its own (``record`` joins the caller's)."""
        self._ws.authorize("monitor.alert")
        with self._ws.tx() as conn:
            return self.record(
                conn,
                kind,
                message,
                subject=subject,
                severity=severity,
                payload=payload,
                monitor=monitor,
            )

    # -- reading ---------------------------------------------------------------------
    def list(
        self,
        *,
        monitor: str | None = None,
        kind: str | None = None,
        after_id: int | None = None,
        limit: int = 100,
    ) -> builtins.list[Alert]:
        """Alerts, newest first (oldest first when ``after_id`` is given, to follow the log)."""
        query = sa.select(alerts)
        if monitor is not None:
            query = query.where(alerts.c.monitor == monitor)
        if kind is not None:
            query = query.where(alerts.c.kind == kind)
        if after_id is not None:
            query = query.where(alerts.c.id > after_id).order_by(alerts.c.id)
        else:
            query = query.order_by(alerts.c.id.desc())
        with self._ws.db.read() as conn:
            rows = conn.execute(query.limit(limit)).all()
        return [_alert(r) for r in rows]

    def get(self, alert_id: int) -> Alert:
        """One alert by id."""
        with self._ws.db.read() as conn:
            row = conn.execute(sa.select(alerts).where(alerts.c.id == alert_id)).first()
        if row is None:
            raise NotFound(f"Alert {alert_id} does not exist; list them with prodline alerts list.")
        return _alert(row)

    def deliveries(self, alert_id: int | None = None) -> builtins.list[Delivery]:
        """Webhook deliveries (of one alert, or all), oldest first."""
        query = sa.select(alert_deliveries).order_by(alert_deliveries.c.id)
        if alert_id is not None:
            query = query.where(alert_deliveries.c.alert_id == alert_id)
        with self._ws.db.read() as conn:
            return [_delivery(r) for r in conn.execute(query).all()]

    # -- hooks (the worker hands new alerts to pipelines and other reactions) ----------
    def undispatched(self, limit: int = 100) -> builtins.list[Alert]:
        """Alerts not yet handed to the worker's hooks, oldest first."""
        query = (
            sa.select(alerts).where(alerts.c.dispatched_at.is_(None)).order_by(alerts.c.id)
        ).limit(limit)
        with self._ws.db.read() as conn:
            return [_alert(r) for r in conn.execute(query).all()]

    def mark_dispatched(self, ids: Sequence[int]) -> None:
        """Record that the hooks have seen these alerts."""
        if not ids:
            return
        with self._ws.db.tx() as conn:
            conn.execute(
                alerts.update()
                .where(alerts.c.id.in_(list(ids)), alerts.c.dispatched_at.is_(None))
                .values(dispatched_at=datetime.now(UTC))
            )

    # -- delivering ------------------------------------------------------------------
    def deliver_due(self, *, now: datetime | None = None) -> int:
        """Make one attempt at every pending delivery that is due; return how many were tried."""
        moment = now or datetime.now(UTC)
        with self._ws.db.read() as conn:
            due = conn.execute(
                sa.select(alert_deliveries)
                .where(
                    alert_deliveries.c.status == "pending",
                    alert_deliveries.c.next_attempt_at <= moment,
                )
                .order_by(alert_deliveries.c.next_attempt_at, alert_deliveries.c.id)
                .limit(100)
            ).all()
        tried = 0
        for row in due:
            if self._claim(row.id, row.attempts):
                self._attempt(_delivery(row), row.attempts + 1)
                tried += 1
        return tried

    def pending(self) -> int:
        """How many deliveries are still pending."""
        with self._ws.db.read() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).where(alert_deliveries.c.status == "pending")
            ).scalar_one()
        return int(count)

    def flush(self, *, timeout_s: float = 30.0) -> int:
        """Deliver until nothing is pending or ``timeout_s`` passes, waiting out backoffs.

        For one-shot commands that have no worker behind them; returns pending left.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            self.deliver_due()
            with self._ws.db.read() as conn:
                nxt = conn.execute(
                    sa.select(sa.func.min(alert_deliveries.c.next_attempt_at)).where(
                        alert_deliveries.c.status == "pending"
                    )
                ).scalar()
            if nxt is None:
                return 0
            wait = (nxt - datetime.now(UTC)).total_seconds()
            if time.monotonic() + max(wait, 0) > deadline:
                return self.pending()
            time.sleep(max(wait, 0.01))

    def _claim(self, delivery_id: int, seen_attempts: int) -> bool:
        hold = datetime.now(UTC) + timedelta(seconds=self.options.timeout_seconds + _CLAIM_S)
        with self._ws.db.tx() as conn:
            done = conn.execute(
                alert_deliveries.update()
                .where(
                    alert_deliveries.c.id == delivery_id,
                    alert_deliveries.c.status == "pending",
                    alert_deliveries.c.attempts == seen_attempts,
                )
                .values(attempts=seen_attempts + 1, next_attempt_at=hold)
            )
        return done.rowcount == 1

    def _attempt(self, delivery: Delivery, attempt: int) -> None:
        error = self._post(delivery)
        now = datetime.now(UTC)
        with self._ws.tx() as conn:
            if error is None:
                conn.execute(
                    alert_deliveries.update()
                    .where(alert_deliveries.c.id == delivery.id)
                    .values(status="delivered", delivered_at=now, next_attempt_at=None)
                )
                self._ws.audit.record(
                    conn,
                    "alert.delivered",
                    f"alert:{delivery.alert_id}",
                    {"url": redact_url(delivery.url), "attempts": attempt},
                )
            elif attempt >= self.options.max_attempts:
                conn.execute(
                    alert_deliveries.update()
                    .where(alert_deliveries.c.id == delivery.id)
                    .values(status="undelivered", last_error=error, next_attempt_at=None)
                )
                self._ws.audit.record(
                    conn,
                    "alert.undelivered",
                    f"alert:{delivery.alert_id}",
                    {"url": redact_url(delivery.url), "attempts": attempt, "error": error},
                )
            else:
                retry = now + timedelta(seconds=self.options.backoff(attempt))
                conn.execute(
                    alert_deliveries.update()
                    .where(alert_deliveries.c.id == delivery.id)
                    .values(last_error=error, next_attempt_at=retry)
                )

    def _post(self, delivery: Delivery) -> str | None:
        """POST the alert; None when a 2xx came back, else the error in one line."""
        import httpx

        body = self.get(delivery.alert_id).to_dict()
        try:
            response = httpx.post(
                delivery.url,
                json=body,
                timeout=self.options.timeout_seconds,
                headers={"x-prodline-alert-id": str(delivery.alert_id)},
            )
        except httpx.HTTPError as exc:
            text = str(exc).splitlines()[0] if str(exc) else ""
            text = text.replace(delivery.url, redact_url(delivery.url))
            return f"{type(exc).__name__}: {text}"[:500]
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}: {response.text[:200]}"


def _alert(row: Any) -> Alert:
    return Alert(
        id=int(row.id),
        kind=row.kind,
        severity=row.severity,
        subject=row.subject,
        message=row.message,
        payload=dict(row.payload or {}),
        monitor=row.monitor,
        run_id=row.run_id,
        created_at=row.created_at,
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=int(row.id),
        alert_id=int(row.alert_id),
        url=row.url,
        status=row.status,
        attempts=int(row.attempts),
        last_error=row.last_error,
        next_attempt_at=row.next_attempt_at,
        delivered_at=row.delivered_at,
    )

"""A running pipeline run proves it is alive: pid, host and a heartbeat in its row.

While a run trains, a daemon thread bumps ``heartbeat_at`` every few seconds. Whoever
lists runs (or a worker starting up) looks at the rows still marked ``running``: one
whose process is gone from this host, or whose heartbeat is older than the staleness
limit, died without finishing and is marked ``failed`` with that reason. So a run never
stays "running" after ``kill -9``, an OOM kill or a reboot.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from prodline.errors import StoreUnavailable
from prodline.store.db import Database
from prodline.store.tables import pipeline_runs

__all__ = ["HOST", "Heartbeat", "death_reason", "process_alive"]

HOST = socket.gethostname()[:255]
"""This machine's name, as recorded in a run's ``host``."""


def process_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    except OSError:
        return False
    return True


def death_reason(row: Any, now: datetime, stale_after: timedelta) -> str | None:
    """Why the ``running`` run ``row`` is dead, or ``None`` if it may still be alive."""
    if row.host == HOST and row.pid is not None and not process_alive(int(row.pid)):
        return f"its process (pid {row.pid} on {row.host}) is gone"
    beat = row.heartbeat_at or row.started_at
    if now - beat > stale_after:
        return (
            f"no heartbeat from pid {row.pid} on {row.host} since {beat:%Y-%m-%d %H:%M:%S} UTC "
            f"(limit {stale_after.total_seconds():.0f} s)"
        )
    return None


class Heartbeat:
    """Bump one run's ``heartbeat_at`` every ``interval`` seconds until stopped."""

    def __init__(self, db: Database, run_id: int, interval: float = 5.0) -> None:
        self._db = db
        self._run_id = run_id
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def start(self) -> Heartbeat:
        """Start beating; returns ``self``."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop beating and wait for the thread."""
        self._stop.set()
        self._thread.join(timeout=self._interval + 5)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                with self._db.tx() as conn:
                    conn.execute(
                        pipeline_runs.update()
                        .where(
                            pipeline_runs.c.id == self._run_id,
                            pipeline_runs.c.status == "running",
                        )
                        .values(heartbeat_at=datetime.now(UTC))
                    )
            except (
                sa.exc.SQLAlchemyError,
                StoreUnavailable,
            ):  # a busy database: the next beat retries
                continue

"""A server's periodic re-read of something in the store (a review policy, budgets).

Subclasses set ``interval`` and implement ``refresh()`` (blocking: it runs in a worker
thread, never on the event loop); ``start()`` reads once, then every ``interval`` seconds
in a background task until ``stop()``. ``refresh`` handles its own store errors (the
watchers log them and keep what they last read).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

__all__ = ["Refreshing"]


class Refreshing:
    """Base of the watchers: ``start``/``stop`` around a periodic ``refresh``."""

    interval: float
    task_name = "refresh"
    _task: asyncio.Task[None] | None = None

    def refresh(self) -> Any:
        """Re-read from the store (blocking)."""
        raise NotImplementedError

    async def start(self) -> None:
        """Read now, then every ``interval`` seconds in a background task."""
        await asyncio.to_thread(self.refresh)
        self._task = asyncio.get_running_loop().create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Stop the background task."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await asyncio.to_thread(self.refresh)

"""Hot reload: notice a promote or rollback of the served alias and switch within a second.

A background task reads the alias's (version, revision) every ``interval`` seconds in a
worker thread (on SQLite every read begins with a brief write lock, so it must never run
on the event loop). When the revision moves, the new version is loaded and warmed up off
the loop, then swapped in as one reference: requests validated before the swap finish
on the old model, the next ones get the new one, and none fails during the switch.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from prodline.serving.served import ServedModel, load_served

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["AliasWatcher"]

log = logging.getLogger("prodline.serving")


class AliasWatcher:
    """Poll ``name@alias`` and call ``swap`` with the newly loaded model when it moves."""

    def __init__(
        self,
        ws: Workspace,
        subject: str,
        current: Callable[[], ServedModel],
        swap: Callable[[ServedModel], None],
        interval: float = 0.25,
    ) -> None:
        self._ws = ws
        self._subject = subject
        self._current = current
        self._swap = swap
        self.interval = interval
        self._seen = current().revision
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        served = self._current()
        if served.revision == 0:  # served by version number: nothing moves
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name="alias-watcher")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:  # a store hiccup must not end the watcher
                log.exception("alias watcher: cannot check %s", self._subject)

    async def check(self) -> bool:
        """Read the alias once and switch if it moved; True when a switch happened."""
        old = self._current()
        state = await asyncio.to_thread(self._ws.models.alias_state, old.name, old.alias)
        if state is None or state[1] == self._seen:
            return False
        version, revision = state
        if version == old.version:
            self._seen = revision
            return False
        try:
            new = await asyncio.to_thread(
                load_served, self._ws, old.name, old.alias, version, revision
            )
        except Exception as exc:
            self._seen = revision  # do not retry a broken version every tick
            log.error("alias watcher: cannot load %s@%s: %s", old.name, version, exc)
            await asyncio.to_thread(
                self._ws.audit.append,
                "server.model_switch_failed",
                self._subject,
                {"from_version": old.version, "to_version": version, "error": str(exc)},
            )
            return False
        self._swap(new)
        self._seen = revision
        await asyncio.to_thread(
            self._ws.audit.append,
            "server.model_switched",
            self._subject,
            {"from_version": old.version, "to_version": version, "revision": revision},
        )
        return True

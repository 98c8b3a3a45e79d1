"""Costs: price tables, the meter, budgets, KPIs and reports (being built for issue 11)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prodline.workspace import Workspace

__all__ = ["Costs"]


class Costs:
    """Reached as ``ws.costs``."""

    def __init__(self, ws: Workspace) -> None:
        self._ws = ws

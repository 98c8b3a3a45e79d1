"""Pagination of every list: ``page`` (from 1) and ``size`` (1..200, default 50).

A list answers ``{"items": [...], "page", "size", "total"}``. The audit log, which may
hold millions of events, answers ``{"items", "page", "size", "next"}`` instead: ``next``
is the ``before=SEQ`` cursor of the following page (``null`` on the last), so a client
walking it never makes the database count or skip rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Query

from prodline.errors import InvalidInput

__all__ = ["DEFAULT_SIZE", "MAX_SIZE", "Page", "page_params", "paged"]

DEFAULT_SIZE = 50
"""Items per page when ``size`` is not given."""

MAX_SIZE = 200
"""The largest ``size`` a list accepts."""

T = TypeVar("T")


@dataclass(frozen=True)
class Page:
    """Which slice of a list a request asks for.

    Examples
    --------
    >>> Page(page=3, size=20).offset
    40
    >>> Page(page=1, size=2).body(["a", "b"], total=5)
    {'items': ['a', 'b'], 'page': 1, 'size': 2, 'total': 5}
    >>> Page(size=500)
    Traceback (most recent call last):
    ...
    prodline.errors.InvalidInput: size must be between 1 and 200, got 500.
    """

    page: int = 1
    size: int = DEFAULT_SIZE

    def __post_init__(self) -> None:
        if self.page < 1:
            raise InvalidInput(f"page must be 1 or more, got {self.page}.", field="page")
        if not 1 <= self.size <= MAX_SIZE:
            raise InvalidInput(
                f"size must be between 1 and {MAX_SIZE}, got {self.size}.", field="size"
            )

    @property
    def offset(self) -> int:
        """Rows before this page."""
        return (self.page - 1) * self.size

    @property
    def end(self) -> int:
        """Rows up to the end of this page."""
        return self.page * self.size

    def body(self, items: Sequence[Any], total: int) -> dict[str, Any]:
        """The JSON answer for this page's ``items`` out of ``total``."""
        return {"items": list(items), "page": self.page, "size": self.size, "total": total}


def page_params(
    page: int = Query(1, description="Page number, from 1."),
    size: int = Query(DEFAULT_SIZE, description=f"Items per page, 1..{MAX_SIZE}."),
) -> Page:
    """The FastAPI dependency reading ``page`` and ``size`` (4xx naming the field)."""
    return Page(page, size)


def paged(page: Page, items: Sequence[T], render: Callable[[T], Any]) -> dict[str, Any]:
    """One page of a list held in memory (a part's ``list()``), rendered per item."""
    return page.body([render(i) for i in items[page.offset : page.end]], len(items))

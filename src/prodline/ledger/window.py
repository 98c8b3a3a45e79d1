"""The one check of a log reader's window (``since``, ``until``, ``last``)."""

from __future__ import annotations

from datetime import datetime

from prodline.errors import InvalidInput

__all__ = ["check_window"]


def check_window(
    since: datetime | None, until: datetime | None, last: int | None, *, unit: str
) -> None:
    """Refuse naive datetimes and a ``last`` that is not a positive count of ``unit``.

    >>> check_window(None, None, 10, unit="rows")
    >>> check_window(None, None, 0, unit="rows")
    Traceback (most recent call last):
    ...
    prodline.errors.InvalidInput: last must be a positive number of rows, got 0.
    """
    for name, moment in (("since", since), ("until", until)):
        if moment is not None and moment.tzinfo is None:
            raise InvalidInput(
                f"{name} must be a timezone-aware datetime (e.g. "
                "datetime.now(UTC) - timedelta(hours=1)); got a naive one.",
                field=name,
            )
    if last is not None and (isinstance(last, bool) or last < 1):
        raise InvalidInput(f"last must be a positive number of {unit}, got {last}.", field="last")

"""The bodies of ``POST /v1/feedback`` (labels) and ``POST /v1/events`` (business events
of KPIs): one record or a batch, checked for shape before it is stored.

``{"request_id": "...", "label": ..., "row": 0}`` or
``{"feedback": [{"request_id", "label", "row"?}, ...]}``. Shape errors raise
``InvalidInput`` naming the field (``body``, ``feedback``, ``feedback[3]``); the fields
of each record are checked by ``ws.feedback.add_many``.
"""

from __future__ import annotations

from typing import Any

import orjson

from prodline.errors import InvalidInput

__all__ = ["MAX_FEEDBACK", "parse_events", "parse_feedback"]

MAX_FEEDBACK = 100_000
"""Labels per request at most (a bigger batch is split by the client)."""

_FIELDS = {"request_id", "label", "row"}


def parse_feedback(body: bytes) -> tuple[list[dict[str, Any]], bool]:
    """The records of a feedback body and whether it was the single-label form.

    Examples
    --------
    >>> parse_feedback(b'{"request_id": "a-1", "label": 1}')
    ([{'request_id': 'a-1', 'label': 1}], True)
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f"The body is not valid JSON ({exc}); send "
            '{"request_id": "...", "label": ...} or {"feedback": [...]}.',
            field="body",
        ) from exc
    if not isinstance(doc, dict):
        raise InvalidInput(
            'The body must be a JSON object: {"request_id": "...", "label": ...} or '
            f'{{"feedback": [...]}}; got {type(doc).__name__}.',
            field="body",
        )
    if "feedback" in doc:
        extra = sorted(set(doc) - {"feedback"})
        if extra:
            raise InvalidInput(
                f"Unexpected field {extra[0]!r} beside 'feedback'; put each label's "
                "request_id, label and row inside the list.",
                field=extra[0],
            )
        records = doc["feedback"]
        if not isinstance(records, list) or not records:
            raise InvalidInput(
                "feedback must be a non-empty list of {request_id, label, row?} objects.",
                field="feedback",
            )
        if len(records) > MAX_FEEDBACK:
            raise InvalidInput(
                f"feedback holds {len(records)} labels; send at most {MAX_FEEDBACK} per request.",
                field="feedback",
            )
        for i, record in enumerate(records):
            if isinstance(record, dict):
                _no_extra(record, f"feedback[{i}].")
        return records, False
    if "request_id" not in doc and "label" not in doc:
        raise InvalidInput(
            'The body needs request_id and label ({"request_id": "...", "label": 1}) or '
            'a list under "feedback".',
            field="request_id",
        )
    _no_extra(doc, "")
    return [doc], True


def _no_extra(record: dict[str, Any], prefix: str) -> None:
    extra = sorted(set(record) - _FIELDS)
    if extra:
        raise InvalidInput(
            f"Unexpected field {prefix}{extra[0]}; a label has request_id, label and "
            "optionally row.",
            field=f"{prefix}{extra[0]}",
        )


def parse_events(body: bytes) -> list[dict[str, Any]]:
    """The events of a ``POST /v1/events`` body: ``{"kpi", "value", "ts"?}`` or
    ``{"events": [...]}``; each event's fields are checked by ``ws.costs.kpis``.

    Examples
    --------
    >>> parse_events(b'{"events": [{"kpi": "resolved", "value": 1}]}')
    [{'kpi': 'resolved', 'value': 1}]
    """
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(
            f'The body is not valid JSON ({exc}); send {{"kpi": "...", "value": 1}} or '
            '{"events": [...]}.',
            field="body",
        ) from exc
    if not isinstance(doc, dict):
        raise InvalidInput(
            'The body must be a JSON object: {"kpi": "...", "value": 1} or {"events": [...]}; '
            f"got {type(doc).__name__}.",
            field="body",
        )
    records = doc.get("events", [doc])
    if not isinstance(records, list):
        raise InvalidInput('events must be a list of {"kpi", "value", "ts"?}.', field="events")
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise InvalidInput(
                f'events[{i}] must be an object {{"kpi", "value", "ts"?}}.', field=f"events[{i}]"
            )
    return records

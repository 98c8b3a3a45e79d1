"""Review policies: validation, the SLA syntax, and their rows in ``review_policies``.

One policy per model or knowledge base. Setting or clearing one bumps the table's
``revision`` (a cleared policy keeps its row, inactive), so ``max(revision)`` is a cheap
version number that the servers poll to refresh their cached policies.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.errors import InvalidInput
from prodline.review.entities import KINDS, MODES, ReviewPolicy
from prodline.store.tables import review_policies

__all__ = [
    "DEFAULT_SLA_S",
    "check_kind",
    "check_policy",
    "parse_sla",
    "policy_from_row",
    "read_policies",
    "read_policy",
    "read_version",
    "redact_webhook",
    "write_policy",
]

DEFAULT_SLA_S = 4 * 3600.0
"""SLA of items whose subject has no policy (four hours)."""

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_SLA = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def parse_sla(value: str | float | int) -> float:
    """Seconds from ``"30m"``, ``"4h"``, ``"2d"``, ``"90s"`` or a plain number of seconds.

    >>> parse_sla("30m"), parse_sla("2d"), parse_sla(45)
    (1800.0, 172800.0, 45.0)
    """
    if isinstance(value, bool):
        raise InvalidInput("sla must be a duration like 30m, 4h or 2d.", field="sla")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _SLA.match(str(value))
        if match is None:
            raise InvalidInput(
                f"sla '{value}' is not a duration; write e.g. 30m, 4h, 2d or a number of seconds.",
                field="sla",
            )
        seconds = float(match.group(1)) * _UNITS[match.group(2) or "s"]
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidInput("sla must be a positive duration, e.g. 4h.", field="sla")
    return seconds


def check_kind(kind: str) -> str:
    """``kind`` if it is ``model`` or ``kb``, else InvalidInput naming the field."""
    if kind not in KINDS:
        raise InvalidInput(
            f"Review kind '{kind}' is not known; use one of {', '.join(KINDS)}.", field="kind"
        )
    return kind


def _share(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name} must be a number between 0 and 1.", field=name)
    if not 0.0 <= float(value) <= 1.0:
        raise InvalidInput(f"{name} {value} is outside 0..1; give e.g. 0.6.", field=name)
    return float(value)


def check_policy(
    kind: str,
    subject: str,
    *,
    mode: str,
    threshold: float | None,
    sample_rate: float,
    sla: str | float | int,
    webhook: str | None,
) -> ReviewPolicy:
    """A validated policy; InvalidInput naming the first bad field otherwise."""
    check_kind(kind)
    if not isinstance(subject, str) or not subject:
        raise InvalidInput("A review policy needs the model or KB name.", field="subject")
    if mode not in MODES:
        raise InvalidInput(
            f"Review mode '{mode}' is not known; use hold (the answer waits) or after (it "
            "goes out and is reviewed later).",
            field="mode",
        )
    if kind == "kb" and mode == "hold":
        raise InvalidInput(
            "RAG answers are reviewed after the fact: use mode after for a knowledge base.",
            field="mode",
        )
    if webhook is not None:
        parts = urlsplit(webhook) if isinstance(webhook, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInput(
                f"webhook {webhook!r} is not an http(s) URL; give e.g. "
                "https://hooks.example.com/reviews.",
                field="webhook",
            )
    return ReviewPolicy(
        kind=kind,
        subject=subject,
        mode=mode,
        threshold=None if threshold is None else _share(threshold, "threshold"),
        sample_rate=_share(sample_rate, "sample_rate"),
        sla_s=parse_sla(sla),
        webhook=webhook,
    )


def redact_webhook(url: str | None) -> str | None:
    """``scheme://host[:port]/…``: a webhook URL without the path that may hold a secret."""
    if url is None:
        return None
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if parts.path not in ("", "/") or parts.query else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}{rest}"


def policy_from_row(row: Any) -> ReviewPolicy:
    """The entity for one ``review_policies`` row."""
    return ReviewPolicy(
        kind=row.kind,
        subject=row.subject,
        mode=row.mode,
        threshold=None if row.threshold is None else float(row.threshold),
        sample_rate=float(row.sample_rate),
        sla_s=float(row.sla_s),
        webhook=row.webhook,
    )


def read_policy(conn: Connection, kind: str, subject: str) -> ReviewPolicy | None:
    """The active policy of ``kind``/``subject``, or None."""
    row = conn.execute(
        sa.select(review_policies).where(
            review_policies.c.kind == kind,
            review_policies.c.subject == subject,
            review_policies.c.active.is_(True),
        )
    ).first()
    return None if row is None else policy_from_row(row)


def read_policies(conn: Connection) -> list[ReviewPolicy]:
    """Every active policy, by kind then subject."""
    rows = conn.execute(
        sa.select(review_policies)
        .where(review_policies.c.active.is_(True))
        .order_by(review_policies.c.kind, review_policies.c.subject)
    ).all()
    return [policy_from_row(r) for r in rows]


def read_version(conn: Connection) -> int:
    """The policies' revision: grows on every set and clear (0 before the first)."""
    value = conn.execute(sa.select(sa.func.max(review_policies.c.revision))).scalar()
    return int(value or 0)


def write_policy(
    conn: Connection, kind: str, subject: str, values: Mapping[str, Any] | None, actor: str
) -> bool:
    """Upsert the policy (``values`` from ``to_dict``) or deactivate it (``None``).

    Returns False when clearing a policy that is not active (nothing changed).
    """
    revision = read_version(conn) + 1
    now = datetime.now(UTC)
    key = (review_policies.c.kind == kind, review_policies.c.subject == subject)
    existing = conn.execute(sa.select(review_policies.c.active).where(*key)).first()
    if values is None:
        if existing is None or not existing.active:
            return False
        conn.execute(
            review_policies.update()
            .where(*key)
            .values(active=False, revision=revision, updated_by=actor, updated_at=now)
        )
        return True
    body = {k: values[k] for k in ("mode", "threshold", "sample_rate", "sla_s", "webhook")}
    stamp = {"active": True, "revision": revision, "updated_by": actor, "updated_at": now}
    if existing is None:
        conn.execute(review_policies.insert().values(kind=kind, subject=subject, **body, **stamp))
    else:
        conn.execute(review_policies.update().where(*key).values(**body, **stamp))
    return True

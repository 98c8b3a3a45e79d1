"""Recorded evidence: immutable results of checks, the facts promotion policies read.

A monitor run, a gate's evaluation or a fairness audit leaves one ``evidence`` row: the
``subject`` it is about (``model:credit-risk@2``, ``monitor:credit-drift``), the
``kind`` of check (``performance``, ``data_drift``, ``gate:evaluation``), a JSON
``summary`` of what was measured, whether it ``passed`` (``None`` when the check has no
verdict of its own), and the sha256 of a full report in the artifact store, if any.

Rows are never updated or deleted: a later check records a new row. ``record`` runs in
the caller's transaction (``with ws.tx() as conn:``) and appends the
``evidence.recorded`` audit event there, so the evidence, the change it justifies and
its audit event commit together or not at all.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.errors import InvalidInput, NotFound
from prodline.ledger.audit import AuditLog
from prodline.store.db import Database
from prodline.store.tables import evidence

__all__ = ["Evidence", "EvidenceLog"]

_SHA256_LEN = 64


@dataclass(frozen=True)
class Evidence:
    """One recorded check: what it was about, what it measured, whether it passed."""

    id: int
    subject: str
    kind: str
    summary: Mapping[str, Any] = field(hash=False)
    passed: bool | None
    artifact: str | None
    created_by: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``created_at`` as ISO-8601 UTC)."""
        return {
            "id": self.id,
            "subject": self.subject,
            "kind": self.kind,
            "summary": dict(self.summary),
            "passed": self.passed,
            "artifact": self.artifact,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


class EvidenceLog:
    """Append and read evidence; reached as ``ws.evidence``.

    Examples
    --------
    >>> import tempfile, prodline
    >>> ws = prodline.Workspace.open(tempfile.mkdtemp(), actor="ci")
    >>> with ws.tx() as conn:
    ...     ev = ws.evidence.record(
    ...         conn, "model:demo@1", "evaluation", {"accuracy": 0.91}, passed=True
    ...     )
    >>> [(e.kind, e.passed, e.summary["accuracy"]) for e in ws.evidence.list("model:demo@1")]
    [('evaluation', True, 0.91)]
    >>> ws.close()
    """

    def __init__(
        self, db: Database, audit: AuditLog, authorize: Callable[[str], None] | None = None
    ) -> None:
        self._db = db
        self._audit = audit
        self._authorize = authorize

    def record(
        self,
        conn: Connection,
        subject: str,
        kind: str,
        summary: Mapping[str, Any],
        *,
        passed: bool | None = None,
        artifact: str | None = None,
        actor: str | None = None,
    ) -> Evidence:
        """Insert one evidence row and its ``evidence.recorded`` audit event in ``conn``'s
        transaction.

        Parameters
        ----------
        conn
            An open write transaction (``with ws.tx() as conn:``).
        subject, kind
            What the check is about and which check it was (non-empty text).
        summary
            JSON-ready measurements; NaN and infinities are stored as ``null``.
        passed
            The check's verdict, or ``None`` when it has none.
        artifact
            sha256 of a full report already put in the artifact store.
        actor
            Who recorded it; the workspace's actor by default.

        Raises
        ------
        InvalidInput
            An empty subject or kind, a summary that is not a JSON object, or an artifact
            that is not a sha256 hex digest.
        """
        if self._authorize is not None:
            self._authorize("evidence.record")
        for name, value, limit in (("subject", subject, 500), ("kind", kind, 100)):
            if not isinstance(value, str) or not value.strip() or len(value) > limit:
                raise InvalidInput(
                    f"Evidence {name} must be non-empty text of at most {limit} characters, "
                    f"got {value!r}.",
                    field=name,
                )
        if not isinstance(summary, Mapping):
            raise InvalidInput(
                "Evidence summary must be a mapping (a JSON object), "
                f"got {type(summary).__name__}.",
                field="summary",
            )
        if passed is not None and not isinstance(passed, bool):
            raise InvalidInput(
                f"passed must be True, False or None, got {passed!r}.", field="passed"
            )
        if artifact is not None and (
            len(artifact) != _SHA256_LEN or any(c not in "0123456789abcdef" for c in artifact)
        ):
            raise InvalidInput(
                f"Evidence artifact must be the sha256 hex digest of a stored artifact, "
                f"got {artifact!r}.",
                field="artifact",
            )
        clean = _json_ready(summary)
        who = actor or self._audit.actor
        now = datetime.now(UTC)
        result = conn.execute(
            evidence.insert().values(
                subject=subject,
                kind=kind,
                summary=clean,
                passed=passed,
                artifact=artifact,
                created_by=who,
                created_at=now,
            )
        )
        key = result.inserted_primary_key
        assert key is not None
        ev = Evidence(int(key[0]), subject, kind, clean, passed, artifact, who, now)
        self._audit.record(
            conn,
            "evidence.recorded",
            subject,
            {"evidence_id": ev.id, "kind": kind, "passed": passed, "artifact": artifact},
            actor=who,
        )
        return ev

    def get(self, evidence_id: int) -> Evidence:
        """The evidence row ``evidence_id``; ``NotFound`` if there is none."""
        with self._db.read() as conn:
            row = conn.execute(sa.select(evidence).where(evidence.c.id == evidence_id)).first()
        if row is None:
            raise NotFound(f"There is no evidence #{evidence_id}; list it with ws.evidence.list().")
        return _entity(row)

    def list(
        self,
        subject: str | None = None,
        kind: str | None = None,
        *,
        last: int | None = None,
    ) -> builtins.list[Evidence]:
        """Evidence matching ``subject`` and ``kind`` (when given), oldest first.

        ``last`` keeps only the newest N. A ``subject`` ending in ``*`` matches by prefix
        (``"monitor:credit-drift*"``).
        """
        query = sa.select(evidence)
        if subject is not None:
            if subject.endswith("*"):
                query = query.where(evidence.c.subject.startswith(subject[:-1], autoescape=True))
            else:
                query = query.where(evidence.c.subject == subject)
        if kind is not None:
            query = query.where(evidence.c.kind == kind)
        if last is not None:
            if isinstance(last, bool) or last < 1:
                raise InvalidInput(f"last must be a positive count, got {last}.", field="last")
            query = query.order_by(evidence.c.id.desc()).limit(last)
        else:
            query = query.order_by(evidence.c.id)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        out = [_entity(r) for r in rows]
        return out[::-1] if last is not None else out


def _entity(row: Any) -> Evidence:
    return Evidence(
        id=int(row.id),
        subject=row.subject,
        kind=row.kind,
        summary=dict(row.summary or {}),
        passed=row.passed,
        artifact=row.artifact,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def _json_ready(summary: Mapping[str, Any]) -> dict[str, Any]:
    """Round-trip through JSON: NumPy values become plain ones, NaN/inf become None."""

    def default(value: Any) -> Any:
        if hasattr(value, "tolist"):
            return value.tolist()
        if hasattr(value, "isoformat"):
            return value.isoformat()
        raise TypeError(f"cannot store {type(value).__name__} in an evidence summary")

    def finite(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {k: finite(v) for k, v in value.items()}
        if isinstance(value, list):
            return [finite(v) for v in value]
        return value

    try:
        text = orjson.dumps(
            finite(dict(summary)),
            default=default,
            option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS,
        )
    except TypeError as exc:
        raise InvalidInput(f"Evidence summary is not JSON-ready: {exc}.", field="summary") from exc
    loaded: dict[str, Any] = orjson.loads(text)
    return loaded

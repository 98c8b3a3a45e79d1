"""Data minimisation and retention for the prediction log.

A model's policy says, per input column, what the prediction log keeps: ``keep`` (the
default for every column not named), ``hash`` (a keyed hash: HMAC-SHA256 under a key
derived from the workspace key, so equal values still group together but cannot be
reversed or recomputed without the key) or ``drop``; and how many ``days`` records are
kept. The policy is applied by the log's writer before a record is written (in its own
thread, off the request path: serving does not wait for it), so a hashed or dropped
value never reaches the table or a Parquet segment.

``purge`` deletes the records older than each model's retention period, from the table
and from the sealed Parquet segments (rewritten without them, or deleted when wholly
expired), and records one ``retention.purged`` audit event per model in the same
transaction. The audit chain covers that event, never the purged payloads, so
``audit verify`` stays green.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import io
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from prodline.errors import InvalidInput, NotFound
from prodline.store.tables import prediction_log, prediction_segments, retention_policies

if TYPE_CHECKING:
    from prodline.ledger.predictions import Prediction
    from prodline.store.db import Database
    from prodline.workspace import Workspace

__all__ = ["ACTIONS", "Minimizer", "PurgeResult", "Retention", "RetentionPolicy", "pseudonym"]

ACTIONS = ("keep", "hash", "drop")
"""What the prediction log may do with an input column."""

_MAX_DAYS = 36_500
_KEY_LABEL = b"prodline prediction-log pseudonyms v1"


def derive_key(workspace_key: bytes) -> bytes:
    """The pseudonym key: HMAC of a fixed label under the workspace key (never stored)."""
    return hmac.new(workspace_key, _KEY_LABEL, hashlib.sha256).digest()


def pseudonym(key: bytes, value: Any) -> str | None:
    """The keyed hash of ``value`` as logged: ``h:`` and 32 hex digits; None stays None.

    >>> pseudonym(b"k", "female") == pseudonym(b"k", "female") != pseudonym(b"k2", "female")
    True
    """
    if value is None:
        return None
    raw = value.encode() if isinstance(value, str) else orjson.dumps(value)
    return "h:" + hmac.new(key, raw, hashlib.sha256).hexdigest()[:32]


@dataclass(frozen=True)
class RetentionPolicy:
    """What the prediction log keeps of one model's inputs, and for how long."""

    model: str
    columns: Mapping[str, str] = field(hash=False)
    days: int | None
    updated_by: str
    updated_at: datetime

    @property
    def hashed(self) -> tuple[str, ...]:
        """Columns logged as keyed hashes."""
        return tuple(sorted(c for c, a in self.columns.items() if a == "hash"))

    @property
    def dropped(self) -> tuple[str, ...]:
        """Columns never logged."""
        return tuple(sorted(c for c, a in self.columns.items() if a == "drop"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``--json`` output, audit payloads, compliance documents)."""
        return {
            "model": self.model,
            "columns": dict(sorted(self.columns.items())),
            "days": self.days,
            "updated_by": self.updated_by,
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class PurgeResult:
    """What one model's purge removed (or, with ``dry_run``, would remove)."""

    model: str
    cutoff: datetime
    requests: int
    segments_deleted: int
    segments_rewritten: int
    rows_removed_from_segments: int
    dry_run: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "model": self.model,
            "cutoff": self.cutoff.isoformat(),
            "requests": self.requests,
            "segments_deleted": self.segments_deleted,
            "segments_rewritten": self.segments_rewritten,
            "rows_removed_from_segments": self.rows_removed_from_segments,
            "dry_run": self.dry_run,
        }


class Minimizer:
    """Applies the stored policies to prediction records before the writer writes them.

    Policies are read from the store at most every ``ttl`` seconds (a policy change
    reaches a running server within that time), so a batch costs one dict lookup per
    model, plus the hashing of the named columns where a policy has any.
    """

    def __init__(self, db: Database, key: bytes, *, ttl: float = 2.0) -> None:
        self._db = db
        self._key = key
        self._ttl = ttl
        self._policies: dict[str, RetentionPolicy] = {}
        self._read_at = -float("inf")

    def policy(self, model: str) -> RetentionPolicy | None:
        """The model's policy as of at most ``ttl`` seconds ago."""
        now = time.monotonic()
        if now - self._read_at > self._ttl:
            self._policies = {p.model: p for p in _read_all(self._db)}
            self._read_at = now
        return self._policies.get(model)

    def apply(self, batch: Sequence[Prediction]) -> list[Prediction]:
        """``batch`` with each record's hashed columns hashed and dropped ones removed."""
        out: list[Prediction] = []
        for p in batch:
            policy = self.policy(p.model)
            if policy is None or not (policy.hashed or policy.dropped):
                out.append(p)
                continue
            out.append(p._replace(inputs=self.records(policy, p.inputs)))
        return out

    def records(
        self, policy: RetentionPolicy, records: Iterable[Mapping[str, Any]]
    ) -> list[dict[str, Any]]:
        """The records as the log may keep them under ``policy``."""
        hashed, dropped, key = set(policy.hashed), set(policy.dropped), self._key
        return [
            {
                name: pseudonym(key, value) if name in hashed else value
                for name, value in record.items()
                if name not in dropped
            }
            for record in records
        ]

    def cutoff(self, model: str, now: datetime | None = None) -> datetime | None:
        """Records of ``model`` logged before this moment are expired (None: kept forever)."""
        policy = self.policy(model)
        if policy is None or policy.days is None:
            return None
        return (now or datetime.now(UTC)) - timedelta(days=policy.days)


class Retention:
    """Set, read and enforce prediction-log policies; reached as ``ws.retention``.

    ``model_columns(name)`` (handed in by the workspace) gives the input columns of a
    model's latest version, raising ``NotFound`` for an unknown model.
    """

    def __init__(
        self, ws: Workspace, key: bytes, model_columns: Callable[[str], Sequence[str]]
    ) -> None:
        self._ws = ws
        self._key = derive_key(key)
        self._model_columns = model_columns

    def set(
        self,
        model: str,
        columns: Mapping[str, str] | None = None,
        *,
        days: int | None = None,
        replace: bool = False,
    ) -> RetentionPolicy:
        """Set ``model``'s policy (audited as ``retention.set``).

        ``columns`` maps input columns to ``keep``/``hash``/``drop``; they merge into the
        current policy unless ``replace``. ``days`` sets the retention period (``None``
        keeps the current one; 0 is refused).

        Raises
        ------
        InvalidInput
            An unknown action, a column the model does not take, or days out of range.
        NotFound
            An unknown model.
        """
        self._ws.authorize("retention.purge")  # the table has one right for both
        known = list(self._model_columns(model))
        changes = dict(columns or {})
        for column, action in changes.items():
            if action not in ACTIONS:
                raise InvalidInput(
                    f"'{column}={action}': the action must be one of {', '.join(ACTIONS)}.",
                    field="columns",
                )
            if known and column not in known:
                raise InvalidInput(
                    f"Model '{model}' has no input column '{column}'; its columns are "
                    f"{', '.join(known)}.",
                    field="columns",
                )
        if days is not None and (isinstance(days, bool) or not 1 <= days <= _MAX_DAYS):
            raise InvalidInput(
                f"days must be a whole number from 1 to {_MAX_DAYS}, got {days!r}.", field="days"
            )
        current = self._get(model)
        merged = {} if replace or current is None else dict(current.columns)
        merged.update(changes)
        merged = {c: a for c, a in sorted(merged.items()) if a != "keep"}
        keep_days = days if days is not None else (current.days if current else None)
        now = datetime.now(UTC)
        row = {"columns": merged, "days": keep_days, "updated_by": self._ws.actor}
        with self._ws.tx() as conn:
            if current is None:
                conn.execute(retention_policies.insert().values(model=model, updated_at=now, **row))
            else:
                conn.execute(
                    retention_policies.update()
                    .where(retention_policies.c.model == model)
                    .values(updated_at=now, **row)
                )
            self._ws.audit.record(
                conn,
                "retention.set",
                f"model:{model}",
                {
                    "from": current.to_dict() if current else None,
                    "columns": merged,
                    "days": keep_days,
                },
            )
        return self.get(model)

    def get(self, model: str) -> RetentionPolicy:
        """``model``'s policy; ``NotFound`` when it has none."""
        policy = self._get(model)
        if policy is None:
            raise NotFound(
                f"Model '{model}' has no retention policy; set one with "
                f"`prodline retention set {model} --column COLUMN=hash --days 90`."
            )
        return policy

    def list(self) -> builtins.list[RetentionPolicy]:
        """Every model's policy, by model name."""
        return _read_all(self._ws.db)

    def minimizer(self, *, ttl: float = 2.0) -> Minimizer:
        """A :class:`Minimizer` for a prediction-log writer (serving uses one)."""
        return Minimizer(self._ws.db, self._key, ttl=ttl)

    def pseudonym(self, value: Any) -> str | None:
        """The keyed hash the log holds for ``value`` (to look a person's records up)."""
        return pseudonym(self._key, value)

    def purge(
        self,
        model: str | None = None,
        *,
        now: datetime | None = None,
        dry_run: bool = False,
    ) -> builtins.list[PurgeResult]:
        """Remove the prediction records older than each policy's retention period.

        Only models whose policy has ``days``; ``model`` limits it to one. Each model's
        deletion and its ``retention.purged`` audit event commit together; the Parquet
        files of deleted or rewritten segments are removed after the commit.
        """
        self._ws.authorize("retention.purge")
        if model is not None:
            self.get(model)
        moment = now or datetime.now(UTC)
        results = []
        for policy in self.list():
            if policy.days is None or (model is not None and policy.model != model):
                continue
            results.append(self._purge_one(policy, moment - timedelta(days=policy.days), dry_run))
        return results

    def _purge_one(self, policy: RetentionPolicy, cutoff: datetime, dry_run: bool) -> PurgeResult:
        log, seg = prediction_log.c, prediction_segments.c
        expired = sa.and_(log.model == policy.model, log.ts < cutoff)
        with self._ws.db.read() as conn:
            requests = int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(prediction_log).where(expired)
                ).scalar_one()
            )
            segments = conn.execute(
                sa.select(seg.id, seg.artifact, seg.ts_min, seg.ts_max).where(
                    seg.model == policy.model, seg.artifact.is_not(None), seg.ts_min < cutoff
                )
            ).all()
        whole = [s for s in segments if s.ts_max is not None and s.ts_max < cutoff]
        partial = [s for s in segments if s not in whole]
        if dry_run:
            return PurgeResult(policy.model, cutoff, requests, len(whole), len(partial), 0, True)
        rewritten = [(s, *self._rewrite(s.artifact, cutoff)) for s in partial]
        removed = sum(dropped for _, _, _, dropped in rewritten)
        result = PurgeResult(
            policy.model, cutoff, requests, len(whole), len(partial), removed, False
        )
        with self._ws.tx() as conn:
            conn.execute(prediction_log.delete().where(expired))
            if whole:
                conn.execute(prediction_segments.delete().where(seg.id.in_([s.id for s in whole])))
            for s, _sha, kept, _ in rewritten:
                conn.execute(prediction_segments.update().where(seg.id == s.id).values(**kept))
            self._ws.audit.record(
                conn,
                "retention.purged",
                f"model:{policy.model}",
                result.to_dict() | {"days": policy.days},
            )
        for s in whole:
            self._ws.artifacts.delete(s.artifact)
        for s, sha, _, _ in rewritten:
            if sha != s.artifact:
                self._ws.artifacts.delete(s.artifact)
        return result

    def _rewrite(self, sha: str, cutoff: datetime) -> tuple[str, dict[str, Any], int]:
        """Write a segment's Parquet copy without its expired rows: (new sha, new row
        values, rows removed)."""
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pq.read_table(self._ws.artifacts.path(sha, name="prediction log segment"))
        frame = table.to_pandas()
        keep = frame[frame["ts"] >= pd.Timestamp(cutoff)]
        sink = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(keep, preserve_index=False), sink)
        new = self._ws.artifacts.put_bytes(sink.getvalue())
        values = {
            "artifact": new,
            "rows": len(keep),
            "requests": int(keep["request_id"].nunique()),
            "ts_min": keep["ts"].min().to_pydatetime() if len(keep) else None,
        }
        return new, values, len(frame) - len(keep)

    def _get(self, model: str) -> RetentionPolicy | None:
        with self._ws.db.read() as conn:
            row = conn.execute(
                sa.select(retention_policies).where(retention_policies.c.model == model)
            ).first()
        return None if row is None else _entity(row)


def _read_all(db: Database) -> builtins.list[RetentionPolicy]:
    with db.read() as conn:
        rows = conn.execute(
            sa.select(retention_policies).order_by(retention_policies.c.model)
        ).all()
    return [_entity(r) for r in rows]


def _entity(row: Any) -> RetentionPolicy:
    return RetentionPolicy(
        model=row.model,
        columns=dict(row.columns or {}),
        days=row.days,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
    )

"""Hash-chained, signed audit log.

Each event stores the sha256 of the previous event, so editing, deleting, inserting or
reordering any event breaks the chain at that point. A chain alone cannot catch someone
who rewrites the tail and recomputes every hash, or who truncates it, so each append
transaction also writes a *checkpoint*: (seq, hash) signed with HMAC-SHA256 under a
workspace key that is never stored in the database, and the newest checkpoint is also
written to an anchor file beside the key, outside the database. ``verify()`` checks the
chain, every checkpoint signature, that the last event is signed, and that the anchor's
event is still there with the same hash.

Not protected: an attacker who holds both database write access *and* the workspace key
(or who restores an older copy of the database and of the anchor file together).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from prodline.errors import IntegrityError, InvalidInput
from prodline.store.db import Database
from prodline.store.tables import audit_checkpoints, audit_events, audit_head

__all__ = ["AuditEvent", "AuditLog", "VerifyResult", "load_or_create_key"]

GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditEvent:
    """One recorded state change."""

    seq: int
    ts: str
    actor: str
    action: str
    subject: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields, hashes included, for ``prodline audit`` and the API."""
        return {
            "seq": self.seq,
            "ts": self.ts,
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "payload": self.payload,
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of ``AuditLog.verify``; ``str()`` is the line the CLI prints."""

    ok: bool
    events: int
    first_bad_seq: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"ok, {self.events} events"
        where = f"event #{self.first_bad_seq}" if self.first_bad_seq is not None else "log"
        return f"tampered: {where}: {self.reason}"


def event_hash(
    seq: int, ts: str, actor: str, action: str, subject: str, payload: str, prev: str
) -> str:
    body = "\x1f".join((str(seq), ts, actor, action, subject, payload, prev))
    return hashlib.sha256(body.encode()).hexdigest()


def _chain_break(count: int, expected_seq: int, seq: int) -> VerifyResult:
    if seq != expected_seq:
        bad = min(seq, expected_seq)
        return VerifyResult(
            False,
            count,
            bad,
            f"expected event #{expected_seq} here, found #{seq} (deleted or reordered)",
        )
    return VerifyResult(
        False,
        count,
        seq,
        "its previous-hash link is broken (an event before it was changed, removed or inserted)",
    )


def load_or_create_key(path: Path) -> bytes:
    """The signing key: ``PRODLINE_AUDIT_KEY`` (hex) or a 0600 file made on first use."""
    env = os.environ.get("PRODLINE_AUDIT_KEY")
    if env:
        return _hex_key(
            env.strip(),
            "PRODLINE_AUDIT_KEY",
            "set it to hex digits, e.g. the output of "
            "python -c 'import secrets; print(secrets.token_hex(32))'",
        )
    if path.exists():
        return _hex_key(
            path.read_text().strip(),
            f"the key file {path}",
            "restore it from a backup (a new key cannot verify old checkpoints)",
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key.hex())
    return key


def _hex_key(text: str, where: str, fix: str) -> bytes:
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if not key:
        raise InvalidInput(f"The audit signing key in {where} is not hexadecimal; {fix}.")
    return key


class AuditLog:
    """Append events inside the caller's transaction (``record``) or on their own."""

    def __init__(self, db: Database, key: bytes, anchor_path: Path, actor: str) -> None:
        self._db = db
        self._key = key
        self._anchor_path = anchor_path
        self.actor = actor

    # -- writing ---------------------------------------------------------------------
    def record(
        self,
        conn: Connection,
        action: str,
        subject: str,
        payload: Mapping[str, Any] | None = None,
        *,
        actor: str | None = None,
    ) -> AuditEvent:
        """Append one event in ``conn``'s transaction: it commits with the state change."""
        return self._record_many(conn, [(action, subject, payload or {})], actor)[0]

    def append(
        self,
        action: str,
        subject: str,
        payload: Mapping[str, Any] | None = None,
        *,
        actor: str | None = None,
    ) -> AuditEvent:
        """Append one event in its own transaction, then move the anchor file to it.

        Use ``record`` instead when the event describes a change made in an open
        transaction, so that both commit or neither does.
        """
        with self._db.tx() as conn:
            event = self.record(conn, action, subject, payload, actor=actor)
        self._write_anchor(event.seq, event.hash)
        return event

    def append_many(
        self,
        events: Iterable[tuple[str, str, Mapping[str, Any]]],
        *,
        actor: str | None = None,
        before: Callable[[Connection], object] | None = None,
    ) -> int:
        """Append a batch in one transaction with one checkpoint (the fast path).

        ``before(conn)`` runs first in the same transaction: the rows the events describe
        (a batch of log records, say) commit with them or not at all.
        """
        batch = list(events)
        if not batch:
            return 0
        with self._db.tx() as conn:
            if before is not None:
                before(conn)
            written = self._record_many(conn, batch, actor)
        self._write_anchor(written[-1].seq, written[-1].hash)
        return len(written)

    def _record_many(
        self,
        conn: Connection,
        batch: list[tuple[str, str, Mapping[str, Any]]],
        actor: str | None,
    ) -> list[AuditEvent]:
        seq, prev = self._lock_head(conn)
        who = actor or self.actor
        ts = datetime.now(UTC).isoformat(timespec="microseconds")
        rows: list[dict[str, Any]] = []
        out: list[AuditEvent] = []
        for action, subject, payload in batch:
            seq += 1
            text = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS, default=str).decode()
            digest = event_hash(seq, ts, who, action, subject, text, prev)
            rows.append(
                {
                    "seq": seq,
                    "ts": ts,
                    "actor": who,
                    "action": action,
                    "subject": subject,
                    "payload": text,
                    "prev_hash": prev,
                    "hash": digest,
                }
            )
            out.append(AuditEvent(seq, ts, who, action, subject, dict(payload), prev, digest))
            prev = digest
        conn.execute(audit_events.insert(), rows)
        conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=seq, hash=prev))
        conn.execute(
            audit_checkpoints.insert().values(
                seq=seq, hash=prev, signature=self._sign(seq, prev), ts=ts
            )
        )
        if "prodline_anchor" in conn.info:  # inside Workspace.tx: anchored after commit
            conn.info["prodline_anchor"].append((seq, prev))
        return out

    def _lock_head(self, conn: Connection) -> tuple[int, str]:
        query = sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
        if not self._db.is_sqlite:
            query = query.with_for_update()
        row = conn.execute(query).one()  # seeded by the first migration
        return int(row.seq), str(row.hash)

    def _sign(self, seq: int, digest: str) -> str:
        return hmac.new(self._key, f"{seq}:{digest}".encode(), hashlib.sha256).hexdigest()

    def write_anchor(self, pending: list[tuple[int, str]]) -> None:
        """After a caller's transaction committed, move the anchor to its newest event."""
        if pending:
            self._write_anchor(*max(pending))

    def _write_anchor(self, seq: int, digest: str) -> None:
        """Keep the newest signed head outside the database; never move it backwards."""
        path = self._anchor_path
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            current = self._read_anchor()
            if current is not None and current["seq"] >= seq:
                return
            tmp = path.with_suffix(".tmp")
            data = {"seq": seq, "hash": digest, "signature": self._sign(seq, digest)}
            tmp.write_text(json.dumps(data))
            os.replace(tmp, path)

    def _read_anchor(self) -> dict[str, Any] | None:
        try:
            return dict(json.loads(self._anchor_path.read_text()))
        except FileNotFoundError:
            return None
        except (ValueError, OSError) as exc:
            raise IntegrityError(f"Audit anchor '{self._anchor_path}' is unreadable.") from exc

    # -- reading ---------------------------------------------------------------------
    def events(
        self,
        *,
        limit: int | None = None,
        action: str | None = None,
        subject: str | None = None,
    ) -> list[AuditEvent]:
        """Newest first."""
        query = sa.select(audit_events).order_by(audit_events.c.seq.desc())
        if action:
            query = query.where(audit_events.c.action == action)
        if subject:
            query = query.where(audit_events.c.subject.like(f"{subject}%"))
        if limit:
            query = query.limit(limit)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [
            AuditEvent(
                r.seq,
                r.ts,
                r.actor,
                r.action,
                r.subject,
                json.loads(r.payload),
                r.prev_hash,
                r.hash,
            )
            for r in rows
        ]

    def count(self) -> int:
        """How many events the log holds."""
        with self._db.read() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(audit_events)).scalar_one()
            )

    def verify(self) -> VerifyResult:
        """Recompute the chain and check signed checkpoints and the outside anchor."""
        anchor = self._read_anchor()
        anchor_seq = int(anchor["seq"]) if anchor else -1
        with self._db.read() as conn:
            checkpoints = {
                int(r.seq): (str(r.hash), str(r.signature))
                for r in conn.execute(sa.select(audit_checkpoints))
            }
            # The raw DBAPI cursor: row objects from SQLAlchemy would cost more than hashing.
            cursor = conn.connection.cursor()
            # The database joins the hashed fields (one string per row instead of seven).
            sep = "char(31)" if self._db.is_sqlite else "chr(31)"
            cast = "seq" if self._db.is_sqlite else "CAST(seq AS TEXT)"
            body_sql = f" || {sep} || ".join(
                (cast, "ts", "actor", "action", "subject", "payload", "prev_hash")
            )
            cursor.execute(
                f"SELECT seq, {body_sql}, prev_hash, hash FROM audit_events ORDER BY seq"
            )
            expected_seq, prev, count = 1, GENESIS, 0
            hashes: dict[int, str] = {}
            sha = hashlib.sha256
            wanted = set(checkpoints) | {anchor_seq}
            while rows := cursor.fetchmany(10_000):
                for seq, body, prev_hash, stored in rows:
                    if prev_hash != prev or seq != expected_seq:
                        return _chain_break(count, expected_seq, seq)
                    if sha(body.encode()).hexdigest() != stored:
                        fields = body.split("\x1f")
                        return VerifyResult(
                            False,
                            count,
                            seq,
                            f"its content ({fields[3]} "
                            f"{fields[4]}) does not match its hash (edited)",
                        )
                    if seq in wanted:
                        hashes[seq] = stored
                    prev = stored
                    expected_seq += 1
                    count += 1
            cursor.close()
        return self._verify_signatures(count, checkpoints, hashes, anchor)

    def _verify_signatures(
        self,
        count: int,
        checkpoints: dict[int, tuple[str, str]],
        hashes: dict[int, str],
        anchor: dict[str, Any] | None,
    ) -> VerifyResult:
        for seq in sorted(checkpoints):
            digest, signature = checkpoints[seq]
            if not hmac.compare_digest(signature, self._sign(seq, digest)):
                return VerifyResult(
                    False,
                    count,
                    seq,
                    "its checkpoint signature is invalid "
                    "(forged, or signed with another workspace key)",
                )
            if seq > count:
                return VerifyResult(
                    False,
                    count,
                    count + 1,
                    f"a signed checkpoint names "
                    f"event #{seq} but the log ends at #{count} (truncated)",
                )
            if hashes.get(seq) != digest:
                return VerifyResult(
                    False,
                    count,
                    seq,
                    "it differs from its signed checkpoint (the tail was rewritten)",
                )
        if count and count not in checkpoints:
            last = max(checkpoints, default=0)
            return VerifyResult(
                False,
                count,
                last + 1,
                "events after the last signed "
                f"checkpoint (#{last}) are not signed (appended outside prodline)",
            )
        if anchor is None:
            if count:
                return VerifyResult(
                    False,
                    count,
                    None,
                    f"the anchor file {self._anchor_path} "
                    "is missing, so truncation cannot be ruled out",
                )
            return VerifyResult(True, 0)
        seq, digest = int(anchor["seq"]), str(anchor["hash"])
        if not hmac.compare_digest(str(anchor.get("signature", "")), self._sign(seq, digest)):
            return VerifyResult(False, count, None, "the anchor file's signature is invalid")
        if seq > count:
            return VerifyResult(
                False,
                count,
                count + 1,
                f"the anchor records event #{seq} but the log ends at #{count} (truncated)",
            )
        if hashes.get(seq) != digest:
            return VerifyResult(
                False,
                count,
                seq,
                "it differs from the anchor outside the database (the tail was rewritten)",
            )
        return VerifyResult(True, count)

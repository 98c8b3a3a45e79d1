"""Audit log: chain, signed checkpoints, outside anchor; on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from prodline.cli.main import run
from prodline.errors import InvalidInput
from prodline.ledger.audit import event_hash
from prodline.store.tables import audit_checkpoints, audit_events, audit_head
from prodline.workspace import Workspace


def _fill(ws: Workspace, n: int = 6) -> None:
    for i in range(n):
        ws.audit.append("test.event", f"thing:{i}", {"i": i})


def test_empty_log_verifies(ws: Workspace) -> None:
    result = ws.audit.verify()
    assert result.ok and result.events == 0
    assert str(result) == "ok, 0 events"


def test_append_and_verify(ws: Workspace) -> None:
    _fill(ws)
    ws.audit.append_many([("bulk", f"b:{i}", {"i": i}) for i in range(100)])
    result = ws.audit.verify()
    assert result.ok, str(result)
    assert str(result) == "ok, 106 events"
    newest = ws.audit.events(limit=1)[0]
    assert newest.seq == 106 and newest.action == "bulk" and newest.actor == "tester"


def test_events_are_chained(ws: Workspace) -> None:
    _fill(ws, 3)
    events = list(reversed(ws.audit.events()))
    assert events[0].prev_hash == "0" * 64
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash


def _edit(ws: Workspace, stmt: sa.Executable) -> None:
    with ws.db.tx() as conn:
        conn.execute(stmt)


def test_edited_event_is_named(ws: Workspace) -> None:
    _fill(ws)
    _edit(
        ws,
        audit_events.update().where(audit_events.c.seq == 3).values(payload=json.dumps({"i": 999})),
    )
    result = ws.audit.verify()
    assert not result.ok and result.first_bad_seq == 3
    assert "edited" in str(result)


def test_deleted_event_is_named(ws: Workspace) -> None:
    _fill(ws)
    _edit(ws, audit_events.delete().where(audit_events.c.seq == 4))
    result = ws.audit.verify()
    assert not result.ok and result.first_bad_seq == 4


def test_reordered_events_are_caught(ws: Workspace) -> None:
    _fill(ws)
    with ws.db.tx() as conn:
        rows = {
            r.seq: r
            for r in conn.execute(sa.select(audit_events).where(audit_events.c.seq.in_([2, 3])))
        }
        for seq, other in ((2, 3), (3, 2)):
            src = rows[other]
            conn.execute(
                audit_events.update()
                .where(audit_events.c.seq == seq)
                .values(
                    ts=src.ts,
                    actor=src.actor,
                    action=src.action,
                    subject=src.subject,
                    payload=src.payload,
                    prev_hash=src.prev_hash,
                    hash=src.hash,
                )
            )
    result = ws.audit.verify()
    assert not result.ok and result.first_bad_seq == 2


def test_inserted_event_is_caught(ws: Workspace) -> None:
    _fill(ws)
    with ws.db.tx() as conn:
        conn.execute(
            audit_events.update()
            .where(audit_events.c.seq >= 4)
            .values(seq=audit_events.c.seq + 100)
        )
        prev = conn.execute(
            sa.select(audit_events.c.hash).where(audit_events.c.seq == 3)
        ).scalar_one()
        digest = event_hash(4, "2026-01-01T00:00:00", "mallory", "fake", "x", "{}", prev)
        conn.execute(
            audit_events.insert().values(
                seq=4,
                ts="2026-01-01T00:00:00",
                actor="mallory",
                action="fake",
                subject="x",
                payload="{}",
                prev_hash=prev,
                hash=digest,
            )
        )
        for seq in range(104, 107):
            conn.execute(
                audit_events.update().where(audit_events.c.seq == seq).values(seq=seq - 99)
            )
    result = ws.audit.verify()
    assert not result.ok and result.first_bad_seq == 5


def _rewrite_tail_from(ws: Workspace, start: int) -> None:
    """What a careful attacker does: change an event and recompute every later hash."""
    with ws.db.tx() as conn:
        rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.seq)).all()
        prev = rows[start - 2].hash if start > 1 else "0" * 64
        for row in rows[start - 1 :]:
            payload = '{"i":-1}' if row.seq == start else row.payload
            digest = event_hash(row.seq, row.ts, row.actor, row.action, row.subject, payload, prev)
            conn.execute(
                audit_events.update()
                .where(audit_events.c.seq == row.seq)
                .values(payload=payload, prev_hash=prev, hash=digest)
            )
            prev = digest
        conn.execute(audit_head.update().values(hash=prev))


def test_rewritten_tail_is_caught_by_signed_checkpoints(ws: Workspace) -> None:
    _fill(ws)
    _rewrite_tail_from(ws, 4)
    result = ws.audit.verify()
    assert not result.ok and result.first_bad_seq == 4
    assert "rewritten" in str(result)


def test_rewritten_tail_with_checkpoints_deleted_is_caught_by_anchor(ws: Workspace) -> None:
    _fill(ws)
    _rewrite_tail_from(ws, 4)
    _edit(ws, audit_checkpoints.delete().where(audit_checkpoints.c.seq >= 4))
    result = ws.audit.verify()
    assert not result.ok
    assert result.first_bad_seq is not None and result.first_bad_seq >= 4


def test_truncated_tail_is_caught(ws: Workspace) -> None:
    _fill(ws)
    _edit(ws, audit_events.delete().where(audit_events.c.seq >= 5))
    _edit(ws, audit_checkpoints.delete().where(audit_checkpoints.c.seq >= 5))
    result = ws.audit.verify()
    assert not result.ok and "truncated" in str(result)


def test_forged_checkpoint_signature_is_caught(ws: Workspace) -> None:
    _fill(ws)
    _edit(
        ws,
        audit_checkpoints.update().where(audit_checkpoints.c.seq == 2).values(signature="0" * 64),
    )
    result = ws.audit.verify()
    assert not result.ok and result.first_bad_seq == 2


def test_missing_anchor_is_reported(ws: Workspace) -> None:
    _fill(ws, 2)
    (ws.home / "audit.anchor").unlink()
    result = ws.audit.verify()
    assert not result.ok and "anchor" in str(result)


def test_audit_event_commits_with_state_change(sqlite_ws: Workspace) -> None:
    with pytest.raises(RuntimeError), sqlite_ws.tx() as conn:
        sqlite_ws.audit.record(conn, "doomed", "x", {})
        raise RuntimeError("boom")
    assert sqlite_ws.audit.count() == 0
    assert sqlite_ws.audit.verify().ok


def test_concurrent_appenders_keep_one_chain(
    make_ws: Callable[..., Workspace], db_url: str
) -> None:
    import threading

    workspaces = [make_ws(db_url=db_url) for _ in range(3)]

    def work(w: Workspace, k: int) -> None:
        for i in range(20):
            w.audit.append("concurrent", f"w{k}:{i}", {})

    threads = [threading.Thread(target=work, args=(w, k)) for k, w in enumerate(workspaces)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = workspaces[0].audit.verify()
    assert result.ok, str(result)
    assert result.events == 60


@pytest.mark.parametrize("key", ["zz", "not hex at all", "abc"])
def test_a_non_hex_audit_key_is_one_clear_line_and_exit_2(
    key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PRODLINE_AUDIT_KEY", key)
    with pytest.raises(InvalidInput, match="PRODLINE_AUDIT_KEY is not hexadecimal"):
        Workspace.open(tmp_path / "home")
    monkeypatch.setenv("PRODLINE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(sys, "argv", ["prodline", "data", "list"])
    with pytest.raises(SystemExit) as exited:
        run()
    out = capsys.readouterr()
    lines = (out.out + out.err).strip().splitlines()
    assert exited.value.code == 2
    assert len(lines) == 1 and "not hexadecimal" in lines[0] and "internal error" not in lines[0]


def test_a_corrupted_key_file_names_the_file(tmp_path: Path) -> None:
    Workspace.open(tmp_path / "home").close()
    key_file = tmp_path / "home" / "keys" / "audit.key"
    key_file.write_text("not-a-key\n")
    with pytest.raises(InvalidInput, match=f"key file {key_file} is not hexadecimal"):
        Workspace.open(tmp_path / "home")

"""Migration 0015 (audit indexes for filtered pages) up and down on SQLite and PostgreSQL:
existing events and the hash chain are untouched, a filtered newest-first page is read
through the new index, and the downgrade gives the 0014 schema back."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from migration_support import index_names, migrate

from prodline.store.db import Database
from prodline.store.tables import audit_events
from prodline.workspace import Workspace

INDEXES = {"ix_audit_events_action_seq", "ix_audit_events_actor_seq"}


def test_migration_0015_adds_the_audit_indexes_and_back(db_url: str, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "home", db_url=db_url, actor="ada")
    ws.audit.append_many([("bench.event", f"thing:{i}", {"i": i}) for i in range(50)])
    ws.audit.append("token.revoked", "user:bob", {"token_id": 1})
    ws.close()
    db = Database(db_url)
    assert index_names(db, "audit_events") >= INDEXES

    migrate(db, "0014", down=True)
    assert not INDEXES & index_names(db, "audit_events")
    migrate(db, "0015")
    assert index_names(db, "audit_events") >= INDEXES
    db.dispose()

    ws = Workspace.open(tmp_path / "home", db_url=db_url, actor="ada")
    assert ws.audit.verify().ok
    assert [e.subject for e in ws.audit.events(action="token.revoked")] == ["user:bob"]
    ws.close()


def test_a_rare_action_page_reads_the_index(db_url: str, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "home", db_url=db_url)
    query = (
        sa.select(audit_events)
        .where(audit_events.c.action == "token.revoked", audit_events.c.seq < 1000)
        .order_by(audit_events.c.seq.desc())
        .limit(51)
    )
    with ws.db.read() as conn:
        sql = str(query.compile(conn, compile_kwargs={"literal_binds": True}))
        if ws.db.is_sqlite:
            plan = " ".join(str(r[-1]) for r in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")  # an empty table otherwise
            plan = " ".join(str(r[0]) for r in conn.exec_driver_sql(f"EXPLAIN {sql}"))
    ws.close()
    assert "ix_audit_events_action_seq" in plan, plan

"""Migration 0017 (audit subject index) up and down on SQLite and PostgreSQL, and a
subject-prefix page read through it."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from migration_support import index_names, migrate

from prodline.store.db import Database
from prodline.workspace import Workspace

INDEX = "ix_audit_events_subject_seq"


def test_migration_0017_adds_the_subject_index_and_back(db_url: str, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "home", db_url=db_url, actor="ada")
    ws.audit.append_many([("bench.event", f"thing:{i}", {"i": i}) for i in range(50)])
    ws.close()
    db = Database(db_url)
    assert INDEX in index_names(db, "audit_events")
    migrate(db, "0016", down=True)
    assert INDEX not in index_names(db, "audit_events")
    migrate(db, "0017")
    assert INDEX in index_names(db, "audit_events")
    db.dispose()
    ws = Workspace.open(tmp_path / "home", db_url=db_url, actor="ada")
    assert ws.audit.verify().ok
    ws.close()


def test_a_subject_prefix_page_reads_the_index(db_url: str, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "home", db_url=db_url, actor="ada")
    ws.audit.append_many([("bench.event", f"thing:{i}", {"i": i}) for i in range(300)])
    ws.audit.append("model.updated", "model:credit-risk", {})
    with ws.db.read() as conn:
        if ws.db.is_sqlite:
            sql = (
                "EXPLAIN QUERY PLAN SELECT seq FROM audit_events WHERE subject >= 'model:credit'"
                " AND subject < 'model:creditz' ORDER BY seq DESC LIMIT 51"
            )
            plan = " ".join(str(r[-1]) for r in conn.execute(sa.text(sql)))
        else:
            conn.execute(sa.text("ANALYZE audit_events"))
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))
            sql = (
                "EXPLAIN SELECT seq FROM audit_events WHERE subject LIKE 'model:credit%'"
                " ORDER BY seq DESC LIMIT 51"
            )
            plan = " ".join(str(r[0]) for r in conn.execute(sa.text(sql)))
    ws.close()
    assert INDEX in plan, plan

"""Migration 0014 adds the review tables and their indexes, and goes back down, on both
metadata backends."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from prodline.store.db import Database
from prodline.store.migrate import alembic_config

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat()


def test_migration_0014_adds_the_review_queue_and_back(db_url: str) -> None:
    db = Database(db_url)
    cfg = alembic_config()
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0013")
        assert "review_items" not in sa.inspect(conn).get_table_names()
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0014")
    with db.tx() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO review_items (kind, subject, mode, reason, input, output, status, "
                "created_at, due_at) VALUES ('model', 'm', 'hold', 'r', '[1]', '[2]', 'open', "
                ":ts, :ts)"
            ),
            {"ts": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO review_policies (kind, subject, mode, sla_s, revision, updated_by, "
                "updated_at) VALUES ('model', 'm', 'hold', 60, 1, 'me', :ts)"
            ),
            {"ts": NOW},
        )
    with db.read() as conn:
        inspector = sa.inspect(conn)
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("review_items")}
        assert indexes["ix_review_items_status"] == ["status", "id"]
        assert indexes["ix_review_items_subject"] == ["kind", "subject", "status"]
        row = conn.execute(sa.text("SELECT comment, webhook_attempts FROM review_items")).one()
        assert tuple(row) == ("", 0)
        active = conn.execute(sa.text("SELECT active, sample_rate FROM review_policies")).one()
        assert bool(active[0]) and active[1] == 0
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")
    with db.read() as conn:
        names = sa.inspect(conn).get_table_names()
        assert "review_items" not in names and "review_policies" not in names
        assert "kb_sentences" in names
    db.dispose()

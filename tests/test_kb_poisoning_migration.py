"""Migration 0012 (injection scan columns, per-KB policies) up and down, with data, on
SQLite and PostgreSQL: existing chunks come out unscanned and unquarantined, existing
KBs get the default policies, and the downgrade gives the 0011 schema back intact."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command

from prodline.store.db import Database
from prodline.store.migrate import alembic_config

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat()


def _columns(db: Database, table: str) -> set[str]:
    with db.read() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


def test_migration_0012_adds_the_guard_columns_and_back(db_url: str) -> None:
    db = Database(db_url)
    cfg = alembic_config()
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0011")
        conn.execute(
            sa.text(
                "INSERT INTO kbs (id, name, owner, description, embedder, generation, "
                "created_by, created_at) VALUES (1, 'old', 'team', '', 'minilm', 3, 'me', :ts)"
            ),
            {"ts": NOW},
        )
        conn.execute(sa.text("INSERT INTO kb_owners (id, name) VALUES (1, 'team')"))
        conn.execute(
            sa.text(
                "INSERT INTO kb_sources (id, kb_id, source, title, owner_id, content_sha256, "
                "modified_at, ingested_at, chunks, sensitivity, kinds) VALUES "
                "(1, 1, 'a.md', 'A', 1, 'h', :ts, :ts, 1, 'none', '[]')"
            ),
            {"ts": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO kb_chunks (id, kb_id, source_id, ordinal, title, heading, text, "
                "token_count, content_sha256, sensitivity, kinds, embedding, ingested_at) "
                "VALUES (1, 1, 1, 0, 'A', '', 'some text', 2, 'c', 'none', '[]', :e, :ts)"
            ),
            {"ts": NOW, "e": b"\x00\x00\x80\x3f"},
        )
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0012")
    with db.read() as conn:
        chunk = conn.execute(
            sa.text("SELECT injection_risk, injection_flagged, quarantined, text FROM kb_chunks")
        ).one()
        kb = conn.execute(sa.text("SELECT privacy, injection_policy, generation FROM kbs")).one()
    assert chunk.injection_risk is None and chunk.text == "some text"
    assert not chunk.injection_flagged and not chunk.quarantined
    assert tuple(kb) == ("route", "quarantine", 3)
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0011")
    assert {"injection_risk", "injection_flagged", "quarantined"}.isdisjoint(
        _columns(db, "kb_chunks")
    )
    assert {"privacy", "injection_policy"}.isdisjoint(_columns(db, "kbs"))
    with db.read() as conn:
        assert conn.execute(sa.text("SELECT text FROM kb_chunks")).scalar_one() == "some text"
        assert conn.execute(sa.text("SELECT generation FROM kbs")).scalar_one() == 3
    db.dispose()

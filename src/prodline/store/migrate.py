"""Bring a database to the newest schema with Alembic (run on every workspace open)."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from prodline.store.db import Database

__all__ = ["alembic_config", "upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def upgrade(db: Database) -> None:
    """Apply pending migrations; a no-op (one cheap query) when already current."""
    cfg = alembic_config()
    head = ScriptDirectory.from_config(cfg).get_current_head()
    with db.read() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return
    with db.tx() as conn:
        if not db.is_sqlite:  # two processes opening a fresh database: one migrates
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

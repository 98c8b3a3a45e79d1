"""Bring a database to the newest schema with Alembic (run on every workspace open)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from prodline.store.db import Database

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["alembic_config", "head_revision", "upgrade"]

_MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config() -> Config:
    """Alembic's configuration for prodline's migrations folder."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    return cfg


def head_revision() -> str:
    """The newest revision id, read from the file names (``NNNN_title.py``, revision NNNN).

    Cheaper than importing Alembic, which every command would pay on open; a test checks
    that it agrees with Alembic's own head.
    """
    return max(p.name.split("_", 1)[0] for p in (_MIGRATIONS / "versions").glob("[0-9]*_*.py"))


def _current_revision(db: Database) -> str | None:
    with db.read() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(db: Database) -> None:
    """Apply pending migrations; a no-op (one cheap query) when already current."""
    if _current_revision(db) == head_revision():
        return
    from alembic import command

    cfg = alembic_config()
    with db.tx() as conn:
        if not db.is_sqlite:  # two processes opening a fresh database: one migrates
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")

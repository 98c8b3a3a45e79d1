"""Helpers of the migration tests: move a database to a revision, list a table's indexes."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command

from prodline.store.db import Database
from prodline.store.migrate import alembic_config

__all__ = ["index_names", "migrate"]


def migrate(db: Database, revision: str, *, down: bool = False) -> None:
    """Upgrade (or with ``down``, downgrade) ``db`` to ``revision`` in one transaction."""
    cfg = alembic_config()
    with db.tx() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def index_names(db: Database, table: str) -> set[str]:
    """The names of ``table``'s indexes."""
    with db.read() as conn:
        return {str(i["name"]) for i in sa.inspect(conn).get_indexes(table)}

"""knowledge-base injection scan results and per-KB guard policies

``kb_chunks.injection_risk`` is the input guard's score of the chunk (NULL: ingested
before this migration, not scanned yet); ``injection_flagged`` records that the guard's
verdict was not "allow", so a policy change can re-apply to stored chunks without
rescanning; ``quarantined`` keeps a flagged chunk out of chat context. ``kbs.privacy``
(route | redact | refuse) is how sensitive context may reach a provider that is not
self-hosted; ``kbs.injection_policy`` (tag | quarantine | block) what ingest does with a
flagged chunk.

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ADD COLUMN, and DROP COLUMN as SQL (SQLite has it since 3.35): Alembic would
# "move and copy" the tables on SQLite, and dropping ``kbs`` fails while kb_sources and
# kb_chunks reference it.
def _columns() -> list[tuple[str, sa.Column[Any]]]:
    return [
        ("kb_chunks", sa.Column("injection_risk", sa.Float(), nullable=True)),
        (
            "kb_chunks",
            sa.Column("injection_flagged", sa.Boolean(), nullable=False, server_default=sa.false()),
        ),
        (
            "kb_chunks",
            sa.Column("quarantined", sa.Boolean(), nullable=False, server_default=sa.false()),
        ),
        ("kbs", sa.Column("privacy", sa.String(10), nullable=False, server_default="route")),
        (
            "kbs",
            sa.Column(
                "injection_policy", sa.String(12), nullable=False, server_default="quarantine"
            ),
        ),
    ]


def upgrade() -> None:
    for table, column in _columns():
        op.add_column(table, column)


def downgrade() -> None:
    for table, column in reversed(_columns()):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")

"""audit log index for subject-prefix pages

The control plane filters audit pages by a subject prefix (``model:credit-risk``).
Without an index that is a scan of the whole log: about 470 ms per page at 1,000,000
events on SQLite (bench/control_plane.py). ``(subject, seq)`` serves the prefix as a
range on SQLite; on PostgreSQL the ``varchar_pattern_ops`` operator class lets
``LIKE 'prefix%'`` use the btree whatever the database's collation. Index only.

Revision ID: 0017
Revises: 0016
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017"
down_revision: str | Sequence[str] | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_audit_events_subject_seq",
        "audit_events",
        ["subject", "seq"],
        postgresql_ops={"subject": "varchar_pattern_ops"},
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_subject_seq", table_name="audit_events")

"""audit log indexes for filtered pages

The control plane lists audit events newest first, filtered by exact ``action`` or
``actor`` (``/api/v1/audit/events?action=...``, the dashboard's audit page). Without an
index, a rare action or actor (``token.revoked``, one person) makes the database walk the
whole log backwards: about 130 ms per page at 1,000,000 events on SQLite. With
``(action, seq)`` and ``(actor, seq)`` it seeks straight to the newest match and reads
the page in index order (bench/control_plane.py). Indexes only: no data changes.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_audit_events_action_seq", "audit_events", ["action", "seq"])
    op.create_index("ix_audit_events_actor_seq", "audit_events", ["actor", "seq"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_actor_seq", table_name="audit_events")
    op.drop_index("ix_audit_events_action_seq", table_name="audit_events")

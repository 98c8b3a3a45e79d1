"""human review: policies per model or knowledge base, and the review queue

``review_policies`` holds one policy per (kind, subject): hold or after mode, the score
threshold, the sample rate, the SLA and the decision webhook. A cleared policy keeps its
row (``active`` false) so ``revision`` only grows. ``review_items`` is the queue: the
input and output under review, the claim, the decision and its webhook delivery.

Revision ID: 0014
Revises: 0013
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "review_policies",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("sample_rate", sa.Float(), nullable=False, server_default="0"),
        sa.Column("sla_s", sa.Float(), nullable=False),
        sa.Column("webhook", sa.String(2000), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
        sa.UniqueConstraint("kind", "subject", name="uq_review_policy_subject"),
    )
    op.create_table(
        "review_items",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("mode", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("request_id", sa.String(200), nullable=True),
        sa.Column("input", _JSON, nullable=True),
        sa.Column("output", _JSON, nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("claimed_by", sa.String(200), nullable=True),
        sa.Column("claimed_at", _TS, nullable=True),
        sa.Column("final_output", _JSON, nullable=True),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decided_at", _TS, nullable=True),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("due_at", _TS, nullable=False),
        sa.Column("sla_alerted_at", _TS, nullable=True),
        sa.Column("webhook", sa.String(2000), nullable=True),
        sa.Column("webhook_status", sa.String(20), nullable=True),
        sa.Column("webhook_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("webhook_next_at", _TS, nullable=True),
        sa.Column("webhook_error", sa.Text(), nullable=True),
    )
    op.create_index("ix_review_items_status", "review_items", ["status", "id"])
    op.create_index("ix_review_items_subject", "review_items", ["kind", "subject", "status"])
    op.create_index(
        "ix_review_items_webhook", "review_items", ["webhook_status", "webhook_next_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_review_items_webhook", table_name="review_items")
    op.drop_index("ix_review_items_subject", table_name="review_items")
    op.drop_index("ix_review_items_status", table_name="review_items")
    op.drop_table("review_items")
    op.drop_table("review_policies")

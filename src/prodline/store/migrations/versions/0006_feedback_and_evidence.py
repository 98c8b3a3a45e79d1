"""feedback labels on logged predictions; evidence records

``feedback`` holds one label per predicted row (``request_id``, ``row``), the latest
wins; ``evidence`` holds immutable records of checks (gate results, monitor runs).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("label", _JSON, nullable=False),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("received_at", _TS, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.UniqueConstraint("request_id", "row", name="uq_feedback_request_row"),
    )
    op.create_index("ix_feedback_model_received", "feedback", ["model", "received_at"])
    op.create_table(
        "evidence",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("summary", _JSON, nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=True),
        sa.Column("artifact", sa.String(64), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_evidence_subject_kind", "evidence", ["subject", "kind"])


def downgrade() -> None:
    op.drop_table("evidence")
    op.drop_table("feedback")

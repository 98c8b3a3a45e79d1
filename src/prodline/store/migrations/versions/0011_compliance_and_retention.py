"""compliance classification and prediction-log retention

``retention_policies`` holds one row per model: what the prediction log keeps of each
named input column (``keep``, ``hash``: a keyed hash, ``drop``) and for how many days
its records are kept. The Annex III classification needs no table: its answers are
evidence and its result the registered model's ``risk_level``.

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "retention_policies",
        sa.Column("model", sa.String(200), primary_key=True),
        sa.Column("columns", _JSON, nullable=False),
        sa.Column("days", sa.Integer(), nullable=True),
        sa.Column("updated_by", sa.String(200), nullable=False),
        sa.Column("updated_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("retention_policies")

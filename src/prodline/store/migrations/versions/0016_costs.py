"""costs: price versions, meter segments, budgets and their spend, KPIs and their events

``price_versions`` holds every price table ever set (never edited: a new table is a new
version with its ``effective_from``). ``meter_segments`` indexes the parquet files of
metered records under ``<home>/meter/`` by their ts range. ``budgets`` and
``budget_spend`` (one row per budget and period: spent and reserved USD) back budget
enforcement; ``kpis`` and ``kpi_events`` the business KPIs that ROI is computed from.

Revision ID: 0016
Revises: 0015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "price_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.Integer(), nullable=False, unique=True),
        sa.Column("effective_from", _TS, nullable=False),
        sa.Column("body", _JSON, nullable=False),
        sa.Column("source_sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "meter_segments",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("min_ts", _TS, nullable=False),
        sa.Column("max_ts", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_meter_segments_ts", "meter_segments", ["min_ts", "max_ts"])
    op.create_table(
        "budgets",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False, unique=True),
        sa.Column("scope_kind", sa.String(10), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("period", sa.String(10), nullable=False),
        sa.Column("amount_usd", sa.Float(), nullable=False),
        sa.Column("soft_share", sa.Float(), nullable=False, server_default="0.8"),
        sa.Column("hard", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("on_exceed", sa.String(10), nullable=False, server_default="refuse"),
        sa.Column("route_to", sa.String(200), nullable=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("deleted_at", _TS, nullable=True),
    )
    op.create_table(
        "budget_spend",
        sa.Column("budget_id", sa.Integer(), nullable=False),
        sa.Column("period_start", _TS, nullable=False),
        sa.Column("spent_usd", sa.Float(), nullable=False, server_default="0"),
        sa.Column("reserved_usd", sa.Float(), nullable=False, server_default="0"),
        sa.Column("soft_alerted_at", _TS, nullable=True),
        sa.Column("hard_alerted_at", _TS, nullable=True),
        sa.ForeignKeyConstraint(["budget_id"], ["budgets.id"]),
        sa.PrimaryKeyConstraint("budget_id", "period_start"),
    )
    op.create_table(
        "kpis",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("definition", sa.Text(), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("aggregate", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("direction", sa.String(4), nullable=False),
        sa.Column("value_per_unit_usd", sa.Float(), nullable=False, server_default="0"),
        sa.Column("window", sa.String(10), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_table(
        "kpi_events",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("kpi_id", sa.Integer(), nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("source", sa.String(50), nullable=False),
        sa.Column("recorded_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(["kpi_id"], ["kpis.id"]),
    )
    op.create_index("ix_kpi_events_kpi_ts", "kpi_events", ["kpi_id", "ts"])


def downgrade() -> None:
    op.drop_index("ix_kpi_events_kpi_ts", table_name="kpi_events")
    op.drop_table("kpi_events")
    op.drop_table("kpis")
    op.drop_table("budget_spend")
    op.drop_table("budgets")
    op.drop_index("ix_meter_segments_ts", table_name="meter_segments")
    op.drop_table("meter_segments")
    op.drop_table("price_versions")

"""monitors, their runs, alerts, webhook deliveries, scheduler leases

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "monitors",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("alias", sa.String(100), nullable=True),
        sa.Column("reference", sa.String(220), nullable=True),
        sa.Column("kb", sa.String(200), nullable=True),
        sa.Column("window_rows", sa.Integer(), nullable=True),
        sa.Column("window_seconds", sa.Integer(), nullable=True),
        sa.Column("checks", _JSON, nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=True),
        sa.Column("config", _JSON, nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("next_run_at", _TS, nullable=True),
        sa.Column("last_run_at", _TS, nullable=True),
    )
    op.create_table(
        "monitor_runs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("monitor_id", sa.Integer(), sa.ForeignKey("monitors.id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("model_version", sa.Integer(), nullable=True),
        sa.Column("started_at", _TS, nullable=False),
        sa.Column("finished_at", _TS, nullable=False),
        sa.Column("summary", _JSON, nullable=False),
        sa.Column("report_artifact", sa.String(64), nullable=True),
        sa.Column("alerts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("runner", sa.String(200), nullable=False, server_default=""),
    )
    op.create_index("ix_monitor_runs_monitor", "monitor_runs", ["monitor_id", "id"])
    op.create_table(
        "alerts",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("monitor", sa.String(200), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("severity", sa.String(20), nullable=False),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("payload", _JSON, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.Column("dispatched_at", _TS, nullable=True),
    )
    op.create_index("ix_alerts_monitor", "alerts", ["monitor", "id"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("alert_id", _ID, sa.ForeignKey("alerts.id"), nullable=False),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("next_attempt_at", _TS, nullable=True),
        sa.Column("delivered_at", _TS, nullable=True),
    )
    op.create_index("ix_alert_deliveries_alert_id", "alert_deliveries", ["alert_id"])
    op.create_index("ix_alert_deliveries_due", "alert_deliveries", ["status", "next_attempt_at"])
    op.create_table(
        "leases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, unique=True),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("expires_at", _TS, nullable=False),
        sa.Column("acquired_at", _TS, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("leases")
    op.drop_table("alert_deliveries")
    op.drop_table("alerts")
    op.drop_table("monitor_runs")
    op.drop_table("monitors")

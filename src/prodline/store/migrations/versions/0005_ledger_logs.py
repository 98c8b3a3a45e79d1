"""ledger logs: typed prediction log with columnar segments, and the LLM/RAG call log

``prediction_log.ts`` becomes a real UTC timestamp (it was ISO-8601 text), indexed with
the model so that time windows are range scans; existing rows are converted in place.
``prediction_segments`` lists the Parquet copies of the log, and ``llm_calls`` replaces
the RAG server's JSON-lines file.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite keeps its text column (a copy into DATETIME would cast '2026-...' to 2026);
        # only the text changes to the form SQLAlchemy reads back: UTC, space-separated.
        op.execute(
            "UPDATE prediction_log SET ts = replace(substr(ts, 1, 26), 'T', ' ') "
            "WHERE ts LIKE '%T%'"
        )
    else:
        op.alter_column(
            "prediction_log",
            "ts",
            existing_type=sa.String(40),
            type_=_TS,
            existing_nullable=False,
            postgresql_using="ts::timestamptz",
        )
    with op.batch_alter_table("prediction_log") as batch_op:
        batch_op.add_column(sa.Column("segment_id", sa.Integer(), nullable=True))
        batch_op.create_index("ix_prediction_log_segment_id", ["segment_id"])
        batch_op.create_index("ix_prediction_log_model_ts", ["model", "ts"])
    op.create_table(
        "prediction_segments",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("requests", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("rows", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("ts_min", _TS, nullable=True),
        sa.Column("ts_max", _TS, nullable=True),
        sa.Column("artifact", sa.String(64), nullable=True),
        sa.Column("created_at", _TS, nullable=False),
    )
    op.create_index("ix_prediction_segments_model_ts", "prediction_segments", ["model", "ts_max"])
    # Rows logged before segments join one open segment per model: read from the table,
    # found by segment id like the newest rows (no NULL case for the reader to scan for).
    op.execute(
        sa.text(
            "INSERT INTO prediction_segments (model, requests, rows, created_at) "
            "SELECT model, 0, 0, :now FROM prediction_log GROUP BY model"
        ).bindparams(sa.bindparam("now", datetime.now(UTC), type_=_TS))
    )
    op.execute(
        "UPDATE prediction_log SET segment_id = (SELECT s.id FROM prediction_segments s "
        "WHERE s.model = prediction_log.model)"
    )
    op.create_table(
        "llm_calls",
        sa.Column("id", _ID, primary_key=True),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("ts", _TS, nullable=False),
        sa.Column("kb", sa.String(200), nullable=True),
        sa.Column("endpoint", sa.String(20), nullable=False),
        sa.Column("provider", sa.String(100), nullable=True),
        sa.Column("model", sa.String(200), nullable=True),
        sa.Column("route", sa.String(500), nullable=True),
        sa.Column("route_reason", sa.Text(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("output_tokens", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("cost_usd", sa.Float(), nullable=False, server_default="0"),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("groundedness", sa.Float(), nullable=True),
        sa.Column("flagged", sa.Boolean(), nullable=True),
        sa.Column("sensitivity", sa.String(10), nullable=False, server_default="none"),
        sa.Column("question", sa.Text(), nullable=True),
        sa.Column("chunk_ids", _JSON, nullable=False),
        sa.Column("details", _JSON, nullable=False),
    )
    op.create_index("ix_llm_calls_request_id", "llm_calls", ["request_id"])
    op.create_index("ix_llm_calls_kb_ts", "llm_calls", ["kb", "ts"])
    op.create_index("ix_llm_calls_provider_ts", "llm_calls", ["provider", "ts"])


def downgrade() -> None:
    op.drop_table("llm_calls")
    op.drop_table("prediction_segments")
    with op.batch_alter_table("prediction_log") as batch_op:
        batch_op.drop_index("ix_prediction_log_model_ts")
        batch_op.drop_index("ix_prediction_log_segment_id")
        batch_op.drop_column("segment_id")
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "UPDATE prediction_log SET ts = replace(ts, ' ', 'T') || '+00:00' "
            "WHERE ts NOT LIKE '%+00:00'"
        )
    else:
        op.alter_column(
            "prediction_log",
            "ts",
            existing_type=_TS,
            type_=sa.String(40),
            existing_nullable=False,
            postgresql_using="to_char(ts AT TIME ZONE 'UTC', "
            '\'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"\')',
        )

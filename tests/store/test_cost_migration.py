"""Migration 0016 adds the cost tables (price versions, meter segments, budgets, budget
spend, KPIs, KPI events) and goes back down, on both metadata backends."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from migration_support import migrate

from prodline.store.db import Database

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).isoformat()
TABLES = {"price_versions", "meter_segments", "budgets", "budget_spend", "kpis", "kpi_events"}


def test_migration_0016_adds_the_cost_tables_and_back(db_url: str) -> None:
    db = Database(db_url)
    migrate(db, "0015")
    with db.read() as conn:
        assert not TABLES & set(sa.inspect(conn).get_table_names())
    migrate(db, "0016")
    with db.tx() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO budgets (name, scope_kind, scope, period, amount_usd, created_by, "
                "created_at) VALUES ('b', 'team', 'risk', 'month', 100, 'me', :ts)"
            ),
            {"ts": NOW},
        )
        conn.execute(
            sa.text("INSERT INTO budget_spend (budget_id, period_start) VALUES (1, :ts)"),
            {"ts": NOW},
        )
        conn.execute(
            sa.text(
                "INSERT INTO meter_segments (path, rows, min_ts, max_ts, created_at) "
                "VALUES ('2026/01/02/x.parquet', 3, :ts, :ts, :ts)"
            ),
            {"ts": NOW},
        )
    with db.read() as conn:
        inspector = sa.inspect(conn)
        assert set(inspector.get_table_names()) >= TABLES
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes("kpi_events")}
        assert indexes["ix_kpi_events_kpi_ts"] == ["kpi_id", "ts"]
        row = conn.execute(sa.text("SELECT soft_share, hard, on_exceed FROM budgets")).one()
        assert (row[0], bool(row[1]), row[2]) == (0.8, False, "refuse")
        spend = conn.execute(sa.text("SELECT spent_usd, reserved_usd FROM budget_spend")).one()
        assert tuple(spend) == (0, 0)
    migrate(db, "0015", down=True)
    with db.read() as conn:
        names = set(sa.inspect(conn).get_table_names())
        assert not TABLES & names
        assert "review_items" in names
    db.dispose()

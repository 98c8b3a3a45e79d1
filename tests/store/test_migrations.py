"""The migrations build exactly the schema ``store/tables.py`` describes, on both backends."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from prodline.store.tables import metadata
from prodline.workspace import Workspace

# SQLite keeps prediction_log.ts in its original text column (migration 0005 says why);
# UTCDateTime reads and writes the same text there, so the declared type does not matter.
KNOWN = {("sqlite", "modify_type", "prediction_log", "ts")}


def test_migrated_schema_matches_the_table_definitions(db_url: str, tmp_path: Path) -> None:
    ws = Workspace.open(tmp_path / "home", db_url=db_url)
    with ws.db.read() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diffs = compare_metadata(context, metadata)
    ws.close()
    dialect = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    unexpected = [
        d
        for d in diffs
        if not (isinstance(d, list) and (dialect, d[0][0], d[0][2], d[0][3]) in KNOWN)
    ]
    assert unexpected == []

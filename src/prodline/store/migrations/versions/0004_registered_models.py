"""registered-model entity: owner, description and risk level on the model

Risk level moves from each version to the registered model, so a new version can no
longer lower the class that governance keys on; existing models take the highest level
any of their versions recorded. The models part stops joining the datasets part's
tables: the datasets a version was trained on are kept as (name, version) refs.

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RANK = {"minimal": 0, "limited": 1, "high": 2}


def upgrade() -> None:
    for column in (
        sa.Column("owner", sa.String(200), nullable=False, server_default=""),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("risk_level", sa.String(20), nullable=False, server_default="minimal"),
        sa.Column("created_by", sa.String(200), nullable=False, server_default=""),
    ):
        op.add_column("models", column)
    op.create_table(
        "model_training_data",
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("dataset_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("model_version_id", "dataset", "dataset_version"),
    )

    conn = op.get_bind()
    versions = conn.execute(
        sa.text(
            "SELECT model_id, version, risk_level, created_by FROM model_versions "
            "ORDER BY model_id, version"
        )
    ).all()
    facts: dict[int, tuple[str, str]] = {}
    for model_id, _version, risk, created_by in versions:
        risk_so_far, first_by = facts.get(model_id, ("minimal", created_by))
        if _RANK.get(risk, 0) > _RANK.get(risk_so_far, 0):
            risk_so_far = risk
        facts[model_id] = (risk_so_far, first_by)
    for model_id, (risk, first_by) in facts.items():
        conn.execute(
            sa.text(
                "UPDATE models SET risk_level = :risk, created_by = :by, owner = :by WHERE id = :id"
            ),
            {"risk": risk, "by": first_by, "id": model_id},
        )
    conn.execute(
        sa.text(
            "INSERT INTO model_training_data (model_version_id, dataset, dataset_version) "
            "SELECT mvd.model_version_id, d.name, dv.version FROM model_version_datasets mvd "
            "JOIN dataset_versions dv ON dv.id = mvd.dataset_version_id "
            "JOIN datasets d ON d.id = dv.dataset_id"
        )
    )
    op.drop_table("model_version_datasets")
    # Native DROP COLUMN (SQLite >= 3.35): a batch copy of model_versions would trip the
    # foreign keys that point at it.
    op.execute("ALTER TABLE model_versions DROP COLUMN risk_level")


def downgrade() -> None:
    op.add_column(
        "model_versions",
        sa.Column("risk_level", sa.String(20), nullable=False, server_default="minimal"),
    )
    conn = op.get_bind()
    conn.execute(
        sa.text(
            "UPDATE model_versions SET risk_level = "
            "(SELECT m.risk_level FROM models m WHERE m.id = model_versions.model_id)"
        )
    )
    op.create_table(
        "model_version_datasets",
        sa.Column("model_version_id", sa.Integer(), nullable=False),
        sa.Column("dataset_version_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_version_id"], ["dataset_versions.id"]),
        sa.ForeignKeyConstraint(["model_version_id"], ["model_versions.id"]),
        sa.PrimaryKeyConstraint("model_version_id", "dataset_version_id"),
    )
    conn.execute(
        sa.text(
            "INSERT INTO model_version_datasets (model_version_id, dataset_version_id) "
            "SELECT t.model_version_id, dv.id FROM model_training_data t "
            "JOIN datasets d ON d.name = t.dataset "
            "JOIN dataset_versions dv ON dv.dataset_id = d.id AND dv.version = t.dataset_version"
        )
    )
    op.drop_table("model_training_data")
    for column in ("created_by", "risk_level", "description", "owner"):
        op.execute(f"ALTER TABLE models DROP COLUMN {column}")

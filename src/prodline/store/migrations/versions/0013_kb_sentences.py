"""knowledge-base sentence embeddings stored at ingest

``kb_sentences`` holds, per chunk, the pieces an offline chat embeds (the answerer's
sentences and code blocks, the scorer's context sentences, the chunk itself): the
sha256 of each piece's text and its float32 vector, so chat embeds only the question.
Chunks ingested before this migration have no rows; chat embeds their pieces at answer
time, as before. Rows go with their chunk (ON DELETE CASCADE, and ingest deletes them
explicitly, since SQLite enforces foreign keys only when asked).

Revision ID: 0013
Revises: 0012
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kb_sentences",
        sa.Column(
            "chunk_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("ordinal", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["chunk_id"], ["kb_chunks.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("chunk_id", "ordinal"),
    )


def downgrade() -> None:
    op.drop_table("kb_sentences")

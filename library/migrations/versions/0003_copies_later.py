"""copies made after cataloguing: their state on the original, and its sample peak

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("media_file") as batch:
        batch.add_column(sa.Column("sample_peak_dbfs", sa.Double(), nullable=True))
        # On originals only: pending | done | failed (the copies of earlier scans exist).
        batch.add_column(sa.Column("copies", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("copies_error", sa.Text(), nullable=True))
        batch.create_index("ix_media_file_copies", ["copies"])
    op.execute("UPDATE media_file SET copies = 'done' WHERE kind = 'original'")


def downgrade() -> None:
    with op.batch_alter_table("media_file") as batch:
        batch.drop_index("ix_media_file_copies")
        batch.drop_column("copies_error")
        batch.drop_column("copies")
        batch.drop_column("sample_peak_dbfs")

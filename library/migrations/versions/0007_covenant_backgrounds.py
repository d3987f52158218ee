"""a covenant's backgrounds: photos or video loops its clips are shown over, per covenant or topic

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-14 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "covenant_background",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("covenant_id", sa.Integer(), nullable=False),
        sa.Column("topic", sa.String(length=50), nullable=False),
        sa.Column("source_name", sa.String(length=500), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("store_path", sa.String(length=200), nullable=False),
        sa.Column("mime", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Double(), nullable=True),
        sa.Column("integrated_lufs", sa.Double(), nullable=True),
        sa.Column("true_peak_dbtp", sa.Double(), nullable=True),
        sa.Column("loudness_range_lu", sa.Double(), nullable=True),
        sa.ForeignKeyConstraint(
            ["covenant_id"],
            ["covenant.id"],
            name=op.f("fk_covenant_background_covenant_id_covenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_covenant_background")),
        sa.UniqueConstraint(
            "covenant_id", "topic", name=op.f("uq_covenant_background_covenant_id")
        ),
    )
    with op.batch_alter_table("covenant_background") as batch_op:
        batch_op.create_index(batch_op.f("ix_covenant_background_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("covenant_background") as batch_op:
        batch_op.drop_index(batch_op.f("ix_covenant_background_sha256"))
    op.drop_table("covenant_background")

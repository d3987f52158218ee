"""work claimed by running commands, so concurrent runs share a data folder safely

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 14:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "work_claim",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_claim")),
        sa.UniqueConstraint("kind", "key", name=op.f("uq_work_claim_kind")),
    )
    op.create_index(op.f("ix_work_claim_owner"), "work_claim", ["owner"])


def downgrade() -> None:
    op.drop_index(op.f("ix_work_claim_owner"), table_name="work_claim")
    op.drop_table("work_claim")

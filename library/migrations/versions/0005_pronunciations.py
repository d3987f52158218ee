"""a covenant's pronunciation list: how its own words are said, across its versions

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10 09:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pronunciation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("covenant_id", sa.Integer(), nullable=False),
        sa.Column("word", sa.String(length=50), nullable=False),
        sa.Column("reading", sa.String(length=300), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["covenant_id"],
            ["covenant.id"],
            name=op.f("fk_pronunciation_covenant_id_covenant"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pronunciation")),
        sa.UniqueConstraint("covenant_id", "word", name=op.f("uq_pronunciation_covenant_id")),
    )


def downgrade() -> None:
    op.drop_table("pronunciation")

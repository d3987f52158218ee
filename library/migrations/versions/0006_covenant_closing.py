"""a covenant version's closing: the signature, date and unnumbered 附则 sentences after the last clause

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-12 10:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Versions imported before this kept no closing: theirs is empty until a re-import.
    with op.batch_alter_table("covenant_version") as batch:
        batch.add_column(sa.Column("closing", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("covenant_version") as batch:
        batch.drop_column("closing")

"""device health (last seen, player, cache, clock), play logs, screen pairing codes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 21:00:29.090376

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "play_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("play_id", sa.String(length=64), nullable=False),
        sa.Column("item_id", sa.String(length=100), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.String(length=500), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["device.id"],
            name=op.f("fk_play_log_device_id_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_play_log")),
        sa.UniqueConstraint("device_id", "play_id", name=op.f("uq_play_log_device_id")),
    )
    with op.batch_alter_table("play_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_play_log_started_at"), ["started_at"], unique=False)

    op.create_table(
        "screen_pairing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("credential", sa.String(length=100), nullable=True),
        sa.Column("collected", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["device.id"],
            name=op.f("fk_screen_pairing_device_id_device"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_screen_pairing")),
        sa.UniqueConstraint("code", name=op.f("uq_screen_pairing_code")),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("player_version", sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column("cache_bytes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("free_bytes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("clock_offset_s", sa.Double(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_column("clock_offset_s")
        batch_op.drop_column("free_bytes")
        batch_op.drop_column("cache_bytes")
        batch_op.drop_column("player_version")
        batch_op.drop_column("last_seen_at")

    op.drop_table("screen_pairing")
    with op.batch_alter_table("play_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_play_log_started_at"))

    op.drop_table("play_log")

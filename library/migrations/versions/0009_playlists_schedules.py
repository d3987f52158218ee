"""playlists and schedules: ordered items (clause, recording, pause) and their targets

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 18:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _made() -> sa.Column:
    return sa.Column("created_at", sa.DateTime(timezone=True), nullable=False)


def _fk(table: str, column: str, other: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{other}.id"], name=op.f(f"fk_{table}_{column}_{other}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "playlist",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("shuffle", sa.Boolean(), nullable=False),
        _made(),
        _fk("playlist", "village_id", "village"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlist")),
        sa.UniqueConstraint("village_id", "name", name=op.f("uq_playlist_village_id")),
    )
    with op.batch_alter_table("playlist") as batch_op:
        batch_op.create_index(batch_op.f("ix_playlist_name"), ["name"], unique=False)
    op.create_table(
        "playlist_item",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playlist_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("clause_key", sa.String(length=100), nullable=True),
        sa.Column("recording_id", sa.Integer(), nullable=True),
        sa.Column("pause_s", sa.Double(), nullable=True),
        sa.Column("repeat", sa.Integer(), nullable=False),
        _fk("playlist_item", "playlist_id", "playlist"),
        _fk("playlist_item", "recording_id", "recording"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_playlist_item")),
        sa.UniqueConstraint("playlist_id", "position", name=op.f("uq_playlist_item_playlist_id")),
    )
    op.create_table(
        "schedule",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("playlist_id", sa.Integer(), nullable=False),
        sa.Column("rrule", sa.Text(), nullable=False),
        sa.Column("window_start", sa.String(length=5), nullable=False),
        sa.Column("window_end", sa.String(length=5), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("layer", sa.String(length=20), nullable=False),
        sa.Column("overrun", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _made(),
        _fk("schedule", "playlist_id", "playlist"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule")),
    )
    op.create_table(
        "schedule_target",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("schedule_id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=True),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        _fk("schedule_target", "schedule_id", "schedule"),
        _fk("schedule_target", "village_id", "village"),
        _fk("schedule_target", "zone_id", "zone"),
        _fk("schedule_target", "device_id", "device"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_target")),
    )
    with op.batch_alter_table("schedule_target") as batch_op:
        for column in ("village_id", "zone_id", "device_id"):
            batch_op.create_index(
                batch_op.f(f"ix_schedule_target_{column}"), [column], unique=False
            )


def downgrade() -> None:
    with op.batch_alter_table("schedule_target") as batch_op:
        for column in ("village_id", "zone_id", "device_id"):
            batch_op.drop_index(batch_op.f(f"ix_schedule_target_{column}"))
    op.drop_table("schedule_target")
    op.drop_table("schedule")
    op.drop_table("playlist_item")
    with op.batch_alter_table("playlist") as batch_op:
        batch_op.drop_index(batch_op.f("ix_playlist_name"))
    op.drop_table("playlist")

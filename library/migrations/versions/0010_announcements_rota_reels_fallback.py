"""announcements, the gong-round rota, stored reels, device fallbacks, playlist item kinds

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 19:36:29.646198

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        "reel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("clause_key", sa.String(length=100), nullable=False),
        sa.Column("recording_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["recording_id"],
            ["recording.id"],
            name=op.f("fk_reel_recording_id_recording"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reel")),
        sa.UniqueConstraint("clause_key", "recording_id", name=op.f("uq_reel_clause_key")),
    )
    op.create_table(
        "announcement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("dong_text", sa.Text(), nullable=True),
        sa.Column("person", sa.String(length=100), nullable=True),
        sa.Column("intro", sa.String(length=10), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_on", sa.Date(), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("inputs_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["village.id"],
            name=op.f("fk_announcement_village_id_village"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement")),
    )
    op.create_table(
        "reel_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reel_id", sa.Integer(), nullable=False),
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
            ["reel_id"], ["reel.id"], name=op.f("fk_reel_file_reel_id_reel"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reel_file")),
    )
    with op.batch_alter_table("reel_file", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_reel_file_reel_id"), ["reel_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reel_file_sha256"), ["sha256"], unique=False)

    op.create_table(
        "announcement_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
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
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_announcement_file_announcement_id_announcement"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_announcement_file")),
    )
    with op.batch_alter_table("announcement_file", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_announcement_file_announcement_id"), ["announcement_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_announcement_file_sha256"), ["sha256"], unique=False)

    op.create_table(
        "rota",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("village_id", sa.Integer(), nullable=False),
        sa.Column("zone_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("at", sa.String(length=5), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("intro", sa.String(length=10), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["village_id"],
            ["village.id"],
            name=op.f("fk_rota_village_id_village"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zone.id"], name=op.f("fk_rota_zone_id_zone"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rota")),
        sa.UniqueConstraint("village_id", "name", name=op.f("uq_rota_village_id")),
    )
    op.create_table(
        "rota_member",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rota_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcement.id"],
            name=op.f("fk_rota_member_announcement_id_announcement"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rota_id"], ["rota.id"], name=op.f("fk_rota_member_rota_id_rota"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rota_member")),
        sa.UniqueConstraint("rota_id", "name", name=op.f("uq_rota_member_rota_id")),
    )
    op.create_table(
        "rota_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rota_id", sa.Integer(), nullable=False),
        sa.Column("on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["rota_member.id"],
            name=op.f("fk_rota_change_member_id_rota_member"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["rota_id"], ["rota.id"], name=op.f("fk_rota_change_rota_id_rota"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rota_change")),
        sa.UniqueConstraint("rota_id", "on", name=op.f("uq_rota_change_rota_id")),
    )
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(sa.Column("fallback_playlist_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_device_fallback_playlist_id_playlist"),
            "playlist",
            ["fallback_playlist_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("playlist", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announcement_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_playlist_announcement_id"), ["announcement_id"], unique=False
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_playlist_announcement_id_announcement"),
            "announcement",
            ["announcement_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("playlist_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("covenant_slug", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("reel_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("announcement_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("list_kind", sa.String(length=20), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_playlist_item_announcement_id_announcement"),
            "announcement",
            ["announcement_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_playlist_item_reel_id_reel"),
            "reel",
            ["reel_id"],
            ["id"],
            ondelete="CASCADE",
        )

    with op.batch_alter_table("schedule", schema=None) as batch_op:
        # Existing schedules are programmes, which loop.
        batch_op.add_column(
            sa.Column("loop", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.alter_column(
            "window_start",
            existing_type=sa.VARCHAR(length=5),
            type_=sa.String(length=8),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "window_end",
            existing_type=sa.VARCHAR(length=5),
            type_=sa.String(length=8),
            existing_nullable=False,
        )


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table("schedule", schema=None) as batch_op:
        batch_op.alter_column(
            "window_end",
            existing_type=sa.String(length=8),
            type_=sa.VARCHAR(length=5),
            existing_nullable=False,
        )
        batch_op.alter_column(
            "window_start",
            existing_type=sa.String(length=8),
            type_=sa.VARCHAR(length=5),
            existing_nullable=False,
        )
        batch_op.drop_column("loop")

    with op.batch_alter_table("playlist_item", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_playlist_item_reel_id_reel"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_playlist_item_announcement_id_announcement"), type_="foreignkey"
        )
        batch_op.drop_column("list_kind")
        batch_op.drop_column("announcement_id")
        batch_op.drop_column("reel_id")
        batch_op.drop_column("covenant_slug")

    with op.batch_alter_table("playlist", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_playlist_announcement_id_announcement"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_playlist_announcement_id"))
        batch_op.drop_column("announcement_id")

    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_device_fallback_playlist_id_playlist"), type_="foreignkey"
        )
        batch_op.drop_column("fallback_playlist_id")

    op.drop_table("rota_change")
    op.drop_table("rota_member")
    op.drop_table("rota")
    with op.batch_alter_table("announcement_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_announcement_file_sha256"))
        batch_op.drop_index(batch_op.f("ix_announcement_file_announcement_id"))

    op.drop_table("announcement_file")
    with op.batch_alter_table("reel_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reel_file_sha256"))
        batch_op.drop_index(batch_op.f("ix_reel_file_reel_id"))

    op.drop_table("reel_file")
    op.drop_table("announcement")
    op.drop_table("reel")

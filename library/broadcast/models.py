"""SQLAlchemy models of places, devices, playlists and schedules.

Kept apart from library/models.py (which would pass 600 lines) and imported at its end, so
`library.models.Base.metadata` — what Alembic and tests/test_store.py compare — holds them.
Villages are linked to covenants and recordings by name (they carry a village name string,
and the access rule says `village:村名`), so a village's name is unique within its township.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..models import Base, utcnow

DEFAULT_TZ = "Asia/Shanghai"
DEVICE_KINDS = ("loudspeaker", "screen", "stream")
ITEM_KINDS = ("clause", "recording", "pause")
LAYERS = ("emergency", "interrupt", "scheduled", "rotation", "default")
OVERRUNS = ("finish", "cut")


class County(Base):
    """A county (县), the top of the place tree."""

    __tablename__ = "county"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    townships: Mapped[list[Township]] = relationship(
        back_populates="county", order_by="Township.name", cascade="all, delete-orphan"
    )


class Township(Base):
    """A township (乡镇) of a county."""

    __tablename__ = "township"
    __table_args__ = (UniqueConstraint("county_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(ForeignKey("county.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    county: Mapped[County] = relationship(back_populates="townships")
    villages: Mapped[list[Village]] = relationship(
        back_populates="township", order_by="Village.name", cascade="all, delete-orphan"
    )


class Village(Base):
    """A village (村) of a township, with the IANA time zone its schedules are kept in."""

    __tablename__ = "village"
    __table_args__ = (UniqueConstraint("township_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    township_id: Mapped[int] = mapped_column(ForeignKey("township.id", ondelete="CASCADE"))
    # The link to covenants, recordings and `village:村名` viewers; indexed for lookups by name.
    name: Mapped[str] = mapped_column(String(100), index=True)
    tz: Mapped[str] = mapped_column(String(64), default=DEFAULT_TZ)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    township: Mapped[Township] = relationship(back_populates="villages")
    zones: Mapped[list[Zone]] = relationship(
        back_populates="village", order_by="Zone.name", cascade="all, delete-orphan"
    )
    devices: Mapped[list[Device]] = relationship(
        back_populates="village", order_by="Device.name", cascade="all, delete-orphan"
    )


class Zone(Base):
    """A part of a village (寨 or 组) that a broadcast may be aimed at."""

    __tablename__ = "zone"
    __table_args__ = (UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[Village] = relationship(back_populates="zones")


# Which zones of its village a device serves (none: the whole village).
device_zone = Table(
    "device_zone",
    Base.metadata,
    Column("device_id", ForeignKey("device.id", ondelete="CASCADE"), primary_key=True),
    Column("zone_id", ForeignKey("zone.id", ondelete="CASCADE"), primary_key=True),
)


class Device(Base):
    """A loudspeaker, screen or stream in one village; its secret token is kept only hashed.

    `token_hash` is sha256(salt + token) in hex with a per-token random `token_salt` (see
    library/broadcast/devices.py for why this and not a server-keyed HMAC).
    """

    __tablename__ = "device"
    __table_args__ = (UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))  # one of DEVICE_KINDS
    enabled: Mapped[bool] = mapped_column(default=True)
    token_salt: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64))
    token_set_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[Village] = relationship(back_populates="devices")
    zones: Mapped[list[Zone]] = relationship(secondary=device_zone, order_by="Zone.name")


class Playlist(Base):
    """A named, ordered list of clauses, recordings and pauses: one village's or county-wide.

    The name is unique within its village, and among county-wide lists (village_id NULL);
    SQLite's unique index lets NULLs repeat, so library/broadcast/programme.py checks that.
    """

    __tablename__ = "playlist"
    __table_args__ = (UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int | None] = mapped_column(ForeignKey("village.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100), index=True)
    shuffle: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[Village | None] = relationship()
    items: Mapped[list[PlaylistItem]] = relationship(
        back_populates="playlist", order_by="PlaylistItem.position", cascade="all, delete-orphan"
    )


class PlaylistItem(Base):
    """One entry of a playlist: a clause (by key: its newest version), a recording or a pause."""

    __tablename__ = "playlist_item"
    __table_args__ = (UniqueConstraint("playlist_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlist.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))  # one of ITEM_KINDS
    clause_key: Mapped[str | None] = mapped_column(String(100))
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    pause_s: Mapped[float | None]
    repeat: Mapped[int] = mapped_column(default=1)

    playlist: Mapped[Playlist] = relationship(back_populates="items")


class Schedule(Base):
    """A playlist in a recurring local-time window on some targets, at one layer.

    Mapped onto `library.broadcast.rules.Schedule`; the window is kept as "HH:MM" text and an
    end equal to the start means a whole day (the CLI spells that `all-day`).
    """

    __tablename__ = "schedule"

    id: Mapped[int] = mapped_column(primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlist.id", ondelete="CASCADE"))
    rrule: Mapped[str] = mapped_column(Text)
    window_start: Mapped[str] = mapped_column(String(5))
    window_end: Mapped[str] = mapped_column(String(5))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    layer: Mapped[str] = mapped_column(String(20))  # one of LAYERS
    overrun: Mapped[str] = mapped_column(String(10))  # one of OVERRUNS
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    playlist: Mapped[Playlist] = relationship()
    targets: Mapped[list[ScheduleTarget]] = relationship(
        back_populates="schedule", order_by="ScheduleTarget.id", cascade="all, delete-orphan"
    )


class ScheduleTarget(Base):
    """One target of a schedule: exactly one of a village, a zone or a device."""

    __tablename__ = "schedule_target"

    id: Mapped[int] = mapped_column(primary_key=True)
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedule.id", ondelete="CASCADE"))
    village_id: Mapped[int | None] = mapped_column(
        ForeignKey("village.id", ondelete="CASCADE"), index=True
    )
    zone_id: Mapped[int | None] = mapped_column(
        ForeignKey("zone.id", ondelete="CASCADE"), index=True
    )
    device_id: Mapped[int | None] = mapped_column(
        ForeignKey("device.id", ondelete="CASCADE"), index=True
    )

    schedule: Mapped[Schedule] = relationship(back_populates="targets")
    village: Mapped[Village | None] = relationship()
    zone: Mapped[Zone | None] = relationship()
    device: Mapped[Device | None] = relationship()

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

from ..models import Base, StoredFile, utcnow

DEFAULT_TZ = "Asia/Shanghai"
DEVICE_KINDS = ("loudspeaker", "screen", "stream")
ITEM_KINDS = ("clause", "covenant", "recording", "reel", "announcement", "list", "pause")
# Announcement kinds: what a cultural worker types, and the village lists (reviewed, expiring,
# village-protocol only) and the rota's per-household calls.
ANNOUNCEMENT_KINDS = ("notice", "oneoff", "recurring", "emergency", "praise", "warning", "rota")
LIST_KINDS = ("praise", "warning")
INTROS = ("gong", "chime", "none")
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
    # What the device loops by itself when no schedule covers the time (layer `fallback`).
    fallback_playlist_id: Mapped[int | None] = mapped_column(
        ForeignKey("playlist.id", ondelete="SET NULL")
    )
    # Health, from the device's own reports (POST /api/v1/device/heartbeat and any request).
    last_seen_at: Mapped[datetime | None]
    player_version: Mapped[str | None] = mapped_column(String(50))
    cache_bytes: Mapped[int | None]
    free_bytes: Mapped[int | None]
    clock_offset_s: Mapped[float | None]

    village: Mapped[Village] = relationship(back_populates="devices")
    zones: Mapped[list[Zone]] = relationship(secondary=device_zone, order_by="Zone.name")
    fallback_playlist: Mapped[Playlist | None] = relationship(foreign_keys=[fallback_playlist_id])


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
    # Set on the one-item playlist an announcement schedules itself with; such playlists are
    # the announcement's own, hidden from `playlist` commands and deleted with it.
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcement.id", ondelete="CASCADE"), index=True
    )

    village: Mapped[Village | None] = relationship()
    items: Mapped[list[PlaylistItem]] = relationship(
        back_populates="playlist", order_by="PlaylistItem.position", cascade="all, delete-orphan"
    )


class PlaylistItem(Base):
    """One entry of a playlist: a clause (by key: its newest version), a whole covenant (its
    newest version's clauses in order), a recording, a reel, an announcement, a village list
    (its reviewed, unexpired entries) or a pause."""

    __tablename__ = "playlist_item"
    __table_args__ = (UniqueConstraint("playlist_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    playlist_id: Mapped[int] = mapped_column(ForeignKey("playlist.id", ondelete="CASCADE"))
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))  # one of ITEM_KINDS
    clause_key: Mapped[str | None] = mapped_column(String(100))
    recording_id: Mapped[int | None] = mapped_column(ForeignKey("recording.id", ondelete="CASCADE"))
    covenant_slug: Mapped[str | None] = mapped_column(String(80))
    # A stored reel (library.models.Reel, the catalogue's).
    reel_id: Mapped[int | None] = mapped_column(ForeignKey("reel.id", ondelete="CASCADE"))
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcement.id", ondelete="CASCADE")
    )
    list_kind: Mapped[str | None] = mapped_column(String(20))  # one of LIST_KINDS
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
    # "HH:MM", or "HH:MM:SS" for an announcement made to start now.
    window_start: Mapped[str] = mapped_column(String(8))
    window_end: Mapped[str] = mapped_column(String(8))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    layer: Mapped[str] = mapped_column(String(20))  # one of LAYERS
    overrun: Mapped[str] = mapped_column(String(10))  # one of OVERRUNS
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Programmes loop through their window; an announcement plays once per window.
    loop: Mapped[bool] = mapped_column(default=True)

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


class Announcement(Base):
    """A text a cultural worker typed for the loudspeakers, rendered with a gong or chime intro.

    `kind` is one of ANNOUNCEMENT_KINDS. Praise and warning entries (表扬榜, 黑榜) name a
    `person`, must be reviewed by someone other than `created_by` before they play, expire on
    `expires_on` (inclusive) and are village-protocol only. A `voice` file (a person's own
    recording, as Dong-language announcements need) replaces synthesis; the text is then its
    subtitle. `stopped_at` ends an announcement at once (an emergency called off).
    """

    __tablename__ = "announcement"

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text)
    dong_text: Mapped[str | None] = mapped_column(Text)
    person: Mapped[str | None] = mapped_column(String(100))
    intro: Mapped[str] = mapped_column(String(10), default="gong")  # one of INTROS
    created_by: Mapped[str] = mapped_column(String(100))
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None]
    expires_on: Mapped[date | None]
    stopped_at: Mapped[datetime | None]
    # sha256 of every render input: the same text, voice and intro are not rendered twice.
    inputs_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[Village] = relationship()
    files: Mapped[list[AnnouncementFile]] = relationship(
        back_populates="announcement", order_by="AnnouncementFile.id", cascade="all, delete-orphan"
    )

    def file(self, kind: str) -> AnnouncementFile | None:
        """The stored file of this kind (audio-loudspeaker, video-16x9, voice, …), if any."""
        return next((f for f in self.files if f.kind == kind), None)


class AnnouncementFile(StoredFile, Base):
    """A rendered output of an announcement, or the voice recording it was made from."""

    __tablename__ = "announcement_file"

    id: Mapped[int] = mapped_column(primary_key=True)
    announcement_id: Mapped[int] = mapped_column(
        ForeignKey("announcement.id", ondelete="CASCADE"), index=True
    )

    announcement: Mapped[Announcement] = relationship(back_populates="files")


class Rota(Base):
    """A gong-round rota (鸣锣喊寨轮值): households take the evening call in turn.

    Each evening at `at` (village time) from `starts_on` the duty holder's call plays on the
    village's devices (or one zone's), at the interrupt layer. The turn passes in `position`
    order to the next active member; a skipped evening passes no turn, a swap names who calls
    that evening instead without moving the order (library/broadcast/rota.py).
    """

    __tablename__ = "rota"
    __table_args__ = (UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    village_id: Mapped[int] = mapped_column(ForeignKey("village.id", ondelete="CASCADE"))
    zone_id: Mapped[int | None] = mapped_column(ForeignKey("zone.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    at: Mapped[str] = mapped_column(String(5))  # "HH:MM"
    starts_on: Mapped[date]
    template: Mapped[str] = mapped_column(Text)
    intro: Mapped[str] = mapped_column(String(10), default="gong")
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    village: Mapped[Village] = relationship()
    zone: Mapped[Zone | None] = relationship()
    members: Mapped[list[RotaMember]] = relationship(
        back_populates="rota", order_by="RotaMember.position", cascade="all, delete-orphan"
    )
    changes: Mapped[list[RotaChange]] = relationship(
        back_populates="rota", order_by="RotaChange.on", cascade="all, delete-orphan"
    )


class RotaMember(Base):
    """A household (by its head, 户主) on a rota, with its rendered call."""

    __tablename__ = "rota_member"
    __table_args__ = (UniqueConstraint("rota_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rota_id: Mapped[int] = mapped_column(ForeignKey("rota.id", ondelete="CASCADE"))
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    announcement_id: Mapped[int | None] = mapped_column(
        ForeignKey("announcement.id", ondelete="SET NULL")
    )

    rota: Mapped[Rota] = relationship(back_populates="members")
    announcement: Mapped[Announcement | None] = relationship()


class RotaChange(Base):
    """One evening's exception: `skip` (no call, no turn passes) or `swap` (member calls)."""

    __tablename__ = "rota_change"
    __table_args__ = (UniqueConstraint("rota_id", "on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rota_id: Mapped[int] = mapped_column(ForeignKey("rota.id", ondelete="CASCADE"))
    on: Mapped[date]
    kind: Mapped[str] = mapped_column(String(10))  # skip or swap
    member_id: Mapped[int | None] = mapped_column(ForeignKey("rota_member.id", ondelete="CASCADE"))

    rota: Mapped[Rota] = relationship(back_populates="changes")
    member: Mapped[RotaMember | None] = relationship()


class PlayLog(Base):
    """One play a device reports: its own id (unique per device, so retries store it once)."""

    __tablename__ = "play_log"
    __table_args__ = (UniqueConstraint("device_id", "play_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"))
    play_id: Mapped[str] = mapped_column(String(64))
    item_id: Mapped[str] = mapped_column(String(100), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(12))  # completed, interrupted, skipped, failed
    detail: Mapped[str] = mapped_column(String(500), default="")
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScreenPairing(Base):
    """A short code a kiosk screen shows until a cultural worker pairs it with a device.

    `credential` holds the device's new credential only between pairing and the screen's
    next poll, which takes it and clears it (a credential is handed over once).
    """

    __tablename__ = "screen_pairing"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    expires_at: Mapped[datetime]
    device_id: Mapped[int | None] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"))
    credential: Mapped[str | None] = mapped_column(String(100))
    collected: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

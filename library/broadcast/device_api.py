"""What the device API (web/api_v1.py) asks of the library, split by job: who a device is
and the media it may fetch (here), its schedule snapshot (device_snapshot), its emergency
poll (device_emergency), the plays and health it reports (device_reports), and screen pairing
(screen_pairing).

Credentials are `<device id>.<token>`: the id finds the device, the token is checked against
its salted hash in constant time. What a poll needs of its device is kept in memory
(`DeviceCard`) until the change count moves (library/changes.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from .. import models as lib
from ..access import Viewer, may
from ..db import Database
from ..errors import LibraryError
from ..models import is_row_id
from ..store import MediaStore
from .devices import token_matches
from .models import AnnouncementFile, Device

SETTINGS = {"schedule_poll_s": 60, "emergency_poll_s": 10, "horizon_h": 48, "clock_warn_s": 5}


class DeviceApiError(LibraryError):
    """A request a device made that cannot be honoured; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def parse_credential(credential: str) -> tuple[int, str] | None:
    """(device id, token) from "<id>.<token>", or None when it is not of that shape."""
    head, dot, token = (credential or "").strip().partition(".")
    if not dot or not head.isdigit() or not token or len(token) > 200:
        return None
    device_id = int(head)
    return (device_id, token) if is_row_id(device_id) else None


@dataclass(frozen=True)
class DeviceCard:
    """What the API needs of a device at every request, kept in memory while nothing changes."""

    id: int
    name: str
    kind: str
    village_id: int
    village: str
    tz: str
    zone_ids: tuple[int, ...]
    zones: tuple[str, ...]
    token_salt: str = field(repr=False)
    token_hash: str = field(repr=False)


def authenticate(db: Database, credential: str) -> DeviceCard | None:
    """The enabled device this credential belongs to, or None (the token compared in
    constant time with its salted hash)."""
    parsed = parse_credential(credential)
    if parsed is None:
        return None
    device_id, token = parsed
    card = _cards(db).get(device_id)
    return card if card and token_matches(token, card.token_salt, card.token_hash) else None


def _cards(db: Database) -> dict[int, DeviceCard]:
    """Every enabled device by id, read in one query whenever the change count moves (a new
    token, a disabled device, a moved zone all move it): a poll checks its credential
    without touching the database, and a change costs one read, not one per device."""
    count = db.changes.current()
    return db.changes.cache("device cards", 2).get_or_make(count, "all", lambda: _read_cards(db))


def _read_cards(db: Database) -> dict[int, DeviceCard]:
    with db.session() as session:
        rows = session.scalars(
            select(Device)
            .where(Device.enabled.is_(True))
            .options(joinedload(Device.village), selectinload(Device.zones))
        )
        return {
            row.id: DeviceCard(
                row.id,
                row.name,
                row.kind,
                row.village_id,
                row.village.name,
                row.village.tz,
                tuple(z.id for z in row.zones),
                tuple(z.name for z in row.zones),
                row.token_salt,
                row.token_hash,
            )
            for row in rows
        }


def device_body(device: DeviceCard, now: datetime) -> dict[str, Any]:
    """`GET /api/v1/device`: who the device is and how it should poll."""
    return {
        "id": device.id,
        "name": device.name,
        "kind": device.kind,
        "village": device.village,
        "zones": list(device.zones),
        "tz": device.tz,
        "server_time": as_iso(now),
        "settings": dict(SETTINGS),
    }


def media_path(
    db: Database, store: MediaStore, device: DeviceCard, sha256: str
) -> tuple[Path, str] | None:
    """(path, mime) of a stored file with this sha256 that the device's village may have."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return None
    with db.session() as session:
        found = _media_row(session, device, sha256)
    if found is None:
        return None
    path = store.path(found[0])
    return (path, found[1]) if path.is_file() else None


def _media_row(session: Session, device: DeviceCard, sha256: str) -> tuple[str, str] | None:
    """(store path, mime) of the first file with this sha256 the device may have."""
    viewer = Viewer("device", village=device.village)
    row: lib.StoredFile | None = session.scalar(
        select(lib.SegmentFile).where(lib.SegmentFile.sha256 == sha256).limit(1)
    )
    if row is None:
        found = session.scalar(
            select(AnnouncementFile).where(AnnouncementFile.sha256 == sha256).limit(1)
        )
        if found is not None and found.announcement.village_id == device.village_id:
            row = found if found.kind != "voice" else None
    if row is None:
        copy = session.scalar(select(lib.MediaFile).where(lib.MediaFile.sha256 == sha256).limit(1))
        if copy is not None and copy.kind in ("web", "loudspeaker"):
            row = copy if may(viewer, copy.recording, "broadcast") else None
    if row is None:
        reel_file = session.scalar(
            select(lib.ReelFile).where(lib.ReelFile.sha256 == sha256).limit(1)
        )
        if reel_file is not None:
            recording = session.get(lib.Recording, reel_file.reel.recording_id)
            row = (
                reel_file if recording is not None and may(viewer, recording, "broadcast") else None
            )
    return (row.store_path, row.mime) if row is not None else None


def as_iso(moment: datetime, device: DeviceCard | None = None) -> str:
    """RFC 3339 with milliseconds, in the device's village time when a device is given."""
    if device is not None:
        from zoneinfo import ZoneInfo

        moment = moment.astimezone(ZoneInfo(device.tz))
    return moment.isoformat(timespec="milliseconds")


def as_aware(moment: datetime) -> datetime:
    """A time read back from SQLite (naive, UTC) made aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

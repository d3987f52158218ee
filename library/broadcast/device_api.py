"""What the device API (web/api_v1.py) asks of the library, split by job: who a device is
and the media it may fetch (here), its schedule snapshot and emergencies
(device_snapshot), the plays and health it reports (device_reports), and screen pairing
(screen_pairing).

Credentials are `<device id>.<token>`: the id finds the row, the token is checked against
its salted hash in constant time (devices.verify_token).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import models as lib
from ..access import Viewer, may
from ..errors import LibraryError
from ..models import is_row_id
from ..store import MediaStore
from .devices import verify_token
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


def authenticate(session: Session, credential: str) -> Device | None:
    """The enabled device this credential belongs to, or None."""
    parsed = parse_credential(credential)
    if parsed is None or not verify_token(session, *parsed):
        return None
    return session.get(Device, parsed[0])


def device_body(device: Device, now: datetime) -> dict[str, Any]:
    """`GET /api/v1/device`: who the device is and how it should poll."""
    return {
        "id": device.id,
        "name": device.name,
        "kind": device.kind,
        "village": device.village.name,
        "zones": [z.name for z in device.zones],
        "tz": device.village.tz,
        "server_time": as_iso(now),
        "settings": dict(SETTINGS),
    }


def media_path(
    session: Session, store: MediaStore, device: Device, sha256: str
) -> tuple[Path, str] | None:
    """(path, mime) of a stored file with this sha256 that the device's village may have."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        return None
    viewer = Viewer("device", village=device.village.name)
    row = session.scalar(select(lib.SegmentFile).where(lib.SegmentFile.sha256 == sha256).limit(1))
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
    if row is None:
        return None
    path = store.path(row.store_path)
    return (path, row.mime) if path.is_file() else None


def as_iso(moment: datetime, device: Device | None = None) -> str:
    """RFC 3339 with milliseconds, in the device's village time when a device is given."""
    if device is not None:
        from zoneinfo import ZoneInfo

        moment = moment.astimezone(ZoneInfo(device.village.tz))
    return moment.isoformat(timespec="milliseconds")


def as_aware(moment: datetime) -> datetime:
    """A time read back from SQLite (naive, UTC) made aware."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

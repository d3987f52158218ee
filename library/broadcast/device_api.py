"""What the device API (web/api_v1.py) asks of the library: who a device is, its snapshot,
its emergencies, the media it may fetch, the plays and heartbeats it reports.

Credentials are `<device id>.<token>`: the id finds the row, the token is checked against
its salted hash in constant time (devices.verify_token). A snapshot is the device's
timeline from now rounded down to the hour for 48 hours; its version — the ETag — is a hash
of the device's rules version and that start, so a poll with an unchanged version costs the
rules lookup and nothing more, and any change to a rule that reaches the device, a consent
withdrawn, an announcement stopped or a clause re-rendered gives a new version at once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from .. import models as lib
from ..access import Viewer, may
from ..db import Database
from ..errors import LibraryError
from ..models import is_row_id, utcnow
from ..store import MediaStore
from .device_rules import DeviceRules, load_device_rules
from .devices import find_device, new_token, verify_token
from .models import AnnouncementFile, Device, PlayLog, Schedule, ScheduleTarget, ScreenPairing
from .rules import rules_version
from .timeline import TimelineItem

SETTINGS = {"schedule_poll_s": 60, "emergency_poll_s": 10, "horizon_h": 48, "clock_warn_s": 5}
HORIZON = timedelta(hours=48)
EMERGENCY_AHEAD = timedelta(hours=1)
PLAY_STATUSES = ("completed", "interrupted", "skipped", "failed")
PLAYS_MAX = 500
PAIRING_S = 600
# A device's last_seen is written at most this often from polls (a write per poll would make
# every one of a county's emergency polls take SQLite's write lock).
SEEN_EVERY_S = 60.0
STALE_AFTER = timedelta(minutes=15)


class DeviceApiError(LibraryError):
    """A request a device made that cannot be honoured; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Snapshot:
    """A device's next 48 hours as the API sends it: its version and the encoded JSON.

    Kept encoded: a county's cached snapshots as dicts of ~540 items each took over a GiB
    (scripts/bench_devices.py); as UTF-8 JSON they take a fifth of that.
    """

    version: str
    data: bytes

    @property
    def body(self) -> dict[str, Any]:
        """The snapshot decoded (for tests and tools; the API sends `data`)."""
        return json.loads(self.data)


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
        "server_time": _iso(now),
        "settings": dict(SETTINGS),
    }


_cache: OrderedDict[str, Snapshot] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_MAX = 2048


def schedule_snapshot(session: Session, device: Device, now: datetime) -> Snapshot:
    """The device's timeline for 48 hours from the current hour, with its version."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = start + HORIZON
    found = load_device_rules(session, str(device.id), _days(device, start, end))
    version = hashlib.sha256(
        f"{rules_version(found.device, found.schedules)}|{start.isoformat()}".encode()
    ).hexdigest()[:32]
    with _cache_lock:
        cached = _cache.get(version)
        if cached is not None:
            _cache.move_to_end(version)
            return cached
    items = found.timeline(start, end)
    body = {
        "version": version,
        "generated_at": _iso(now),
        "start": _iso(start, device),
        "end": _iso(end, device),
        "tz": device.village.tz,
        "items": _items(session, device, found, items),
    }
    snapshot = Snapshot(version, json.dumps(body, ensure_ascii=False).encode())
    with _cache_lock:
        _cache[version] = snapshot
        while len(_cache) > CACHE_MAX:
            _cache.popitem(last=False)
    return snapshot


# The county's live emergency schedules are read at most this often, by one thread for all;
# an emergency issued or stopped reaches a device within this plus its 10 s poll.
EMERGENCY_READ_S = 2.0
# Devices alike (same village, zones, kind, and not targeted by name) share the emergency
# items worked out for one of them, for this long or until an emergency rule changes.
EMERGENCY_REUSE_S = 30.0
_emergency_lock = threading.Lock()
_emergency_state: dict[str, Any] = {"read": -1e9, "stamp": (), "reach": frozenset()}
_emergency_items: dict[tuple, tuple[float, list[tuple[datetime, datetime, dict[str, Any]]]]] = {}


def emergency_body(session: Session, device: Device, now: datetime) -> dict[str, Any]:
    """`GET /api/v1/device/emergency`: emergency items overlapping now … now + 1 h.

    Every device polls it every 10 seconds, so the common answer — no emergency reaches this
    device — comes from a county-wide list of live emergency rules read at most every 2 s;
    only a device an emergency reaches works its emergency timeline out, shared by devices
    alike for up to 30 s.
    """
    stamp, reach = _live_emergencies(session, now)
    mine = {("v", device.village_id), ("d", device.id), *(("z", z.id) for z in device.zones)}
    if reach.isdisjoint(mine):
        return {"active": False, "server_time": _iso(now), "items": []}
    key = (
        stamp,
        device.kind == "screen",
        device.village_id,
        tuple(sorted(z.id for z in device.zones)),
        device.id if ("d", device.id) in reach else None,
    )
    clock = time.monotonic()
    with _emergency_lock:
        cached = _emergency_items.get(key)
    if cached is None or clock - cached[0] > EMERGENCY_REUSE_S:
        start = now.astimezone(UTC)
        found = load_device_rules(session, str(device.id), None, layers=("emergency",))
        items = [
            i
            for i in found.timeline(start, start + EMERGENCY_AHEAD + timedelta(seconds=60))
            if i.layer.name == "EMERGENCY"
        ]
        bodies = _items(session, device, found, items)
        cached = (clock, [(i.start, i.end, b) for i, b in zip(items, bodies, strict=True)])
        with _emergency_lock:
            if len(_emergency_items) > CACHE_MAX:
                _emergency_items.clear()
            _emergency_items[key] = cached
    horizon = now + EMERGENCY_AHEAD
    current = [b for start, end, b in cached[1] if end > now and start < horizon]
    return {"active": bool(current), "server_time": _iso(now), "items": current}


def _live_emergencies(session: Session, now: datetime) -> tuple[tuple, frozenset]:
    """(a stamp of the live emergency rules, the places they reach), re-read every 2 s.

    Live: not ended before yesterday; a one-off (COUNT=1, what `announce --kind emergency`
    makes) only when it opens from yesterday on. Stopping an emergency raises its schedule's
    version, so the stamp changes with it.
    """
    clock = time.monotonic()
    with _emergency_lock:
        if clock - _emergency_state["read"] < EMERGENCY_READ_S:
            return _emergency_state["stamp"], _emergency_state["reach"]
    yesterday = now.date() - timedelta(days=1)
    rows = session.execute(
        select(Schedule.id, Schedule.version, Schedule.rrule, Schedule.starts_on).where(
            Schedule.layer == "emergency",
            or_(Schedule.ends_on.is_(None), Schedule.ends_on >= yesterday),
        )
    ).all()
    live = [
        (r.id, r.version)
        for r in rows
        if not ("COUNT=1" in r.rrule.upper() and r.starts_on < yesterday)
    ]
    reach: set[tuple[str, int]] = set()
    if live:
        targets = session.execute(
            select(
                ScheduleTarget.village_id, ScheduleTarget.zone_id, ScheduleTarget.device_id
            ).where(ScheduleTarget.schedule_id.in_([i for i, _ in live]))
        )
        for village_id, zone_id, device_id in targets:
            if village_id:
                reach.add(("v", village_id))
            if zone_id:
                reach.add(("z", zone_id))
            if device_id:
                reach.add(("d", device_id))
    stamp = tuple(sorted(live))
    with _emergency_lock:
        _emergency_state.update(read=clock, stamp=stamp, reach=frozenset(reach))
    return stamp, frozenset(reach)


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


def record_plays(db: Database, device_id: int, plays: list[Any]) -> list[str]:
    """Store the reported plays once each (by the device's own ids); the ids acknowledged."""
    rows = [_play_row(device_id, n, play) for n, play in enumerate(_as_list(plays))]
    ids = list(dict.fromkeys(r.play_id for r in rows))
    for attempt in range(2):
        try:
            with db.session(write=True) as session:
                known = set(
                    session.scalars(
                        select(PlayLog.play_id).where(
                            PlayLog.device_id == device_id, PlayLog.play_id.in_(ids)
                        )
                    )
                )
                added: set[str] = set()
                for row in rows:
                    if row.play_id not in known and row.play_id not in added:
                        session.add(row)
                        added.add(row.play_id)
            return ids
        except IntegrityError:
            if attempt:  # a concurrent retry of the same batch stored them meanwhile
                raise
            rows = [_play_row(device_id, n, play) for n, play in enumerate(_as_list(plays))]
    return ids


def heartbeat(db: Database, device_id: int, report: Any, now: datetime) -> dict[str, Any]:
    """Store a device's health report; its clock's offset from the server's, in seconds."""
    if not isinstance(report, dict):
        raise DeviceApiError("请求体应为 JSON 对象 / the body must be a JSON object")
    offset = None
    if report.get("clock") is not None:
        offset = (_parse_time(report["clock"], "clock") - now).total_seconds()
    with db.session(write=True) as session:
        device = session.get(Device, device_id)
        assert device is not None
        device.last_seen_at = now
        device.player_version = _text(report.get("player_version"), "player_version", 50)
        device.cache_bytes = _count(report.get("cache_bytes"), "cache_bytes")
        device.free_bytes = _count(report.get("free_bytes"), "free_bytes")
        device.clock_offset_s = offset
    return {"server_time": _iso(now), "clock_offset_s": offset}


_seen: dict[int, float] = {}
_seen_pending: dict[int, datetime] = {}
_seen_lock = threading.Lock()
_seen_writer: dict[str, Any] = {"thread": None}


def note_seen(db: Database, device_id: int, now: datetime) -> None:
    """Record that a device polled; written in batches by a background thread.

    A write per poll in the request's own thread made every request wait for SQLite's write
    lock behind the others (scripts/bench_devices.py: latencies of seconds at 88 % CPU), so
    polls only note the time here, and one thread writes them all every SEEN_EVERY_S.
    """
    stamp = now.timestamp()
    with _seen_lock:
        if stamp - _seen.get(device_id, 0.0) < SEEN_EVERY_S:
            return
        _seen[device_id] = stamp
        _seen_pending[device_id] = now
        thread = _seen_writer["thread"]
        if thread is None or not thread.is_alive():
            thread = threading.Thread(
                target=_write_seen, args=(db,), name="kuanyue-last-seen", daemon=True
            )
            _seen_writer["thread"] = thread
            thread.start()


def _write_seen(db: Database) -> None:
    """Write the noted last-seen times in one transaction, then wait for more; ends when idle."""
    while True:
        time.sleep(min(SEEN_EVERY_S, 5.0))
        with _seen_lock:
            batch = dict(_seen_pending)
            _seen_pending.clear()
        if not batch:
            return
        try:
            with db.session(write=True) as session:
                for device_id, moment in batch.items():
                    device = session.get(Device, device_id)
                    if device is not None:
                        device.last_seen_at = moment
        except Exception:  # noqa: BLE001 - a lost last-seen must never stop the API
            import logging

            logging.getLogger(__name__).exception("last-seen times not written")


# --- screen pairing ---------------------------------------------------------------------------


def new_pairing(db: Database, now: datetime) -> tuple[str, int]:
    """A fresh six-digit code for a kiosk screen to show, and its lifetime in seconds."""
    with db.session(write=True) as session:
        session.execute(
            ScreenPairing.__table__.delete().where(ScreenPairing.expires_at < now)  # type: ignore[attr-defined]
        )
        for _ in range(20):
            code = f"{secrets.randbelow(10**6):06d}"
            if session.scalar(select(ScreenPairing.id).where(ScreenPairing.code == code)) is None:
                session.add(ScreenPairing(code=code, expires_at=now + timedelta(seconds=PAIRING_S)))
                return code, PAIRING_S
    raise DeviceApiError("配对码用尽，请稍后再试 / no pairing code free; try again", 503)


def pair_screen(db: Database, code: str, device_ref: str, now: datetime | None = None) -> str:
    """Pair the screen showing `code` with screen device `device_ref` (its token is renewed)."""
    now = now or datetime.now(UTC)
    with db.session(write=True) as session:
        pairing = session.scalar(select(ScreenPairing).where(ScreenPairing.code == code.strip()))
        if pairing is None or _aware(pairing.expires_at) < now or pairing.device_id:
            raise DeviceApiError(
                f"配对码无效或已过期（CODE）：{code} / pairing code unknown or expired: {code}"
            )
        device = find_device(session, device_ref)
        if device.kind != "screen":
            raise DeviceApiError(
                f"{device.name} 不是屏幕（DEVICE）/ {device.name} is not a screen (DEVICE)"
            )
        token = new_token(device)
        pairing.device_id = device.id
        pairing.credential = f"{device.id}.{token}"
        return device.name


def collect_pairing(db: Database, code: str, now: datetime) -> str | None:
    """The credential for the screen showing `code`, handed over once; None while unpaired.

    DeviceApiError(404) when the code is unknown, expired or already collected.
    """
    with db.session(write=True) as session:
        pairing = session.scalar(select(ScreenPairing).where(ScreenPairing.code == code.strip()))
        if pairing is None or pairing.collected or _aware(pairing.expires_at) < now:
            raise DeviceApiError("配对码无效或已过期 / pairing code unknown or expired", 404)
        if pairing.credential is None:
            return None
        credential = pairing.credential
        pairing.credential, pairing.collected = None, True
        return credential


# --- health -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Health:
    """A device's health as `device list` shows it."""

    last_seen_at: datetime | None
    player_version: str | None
    cache_bytes: int | None
    free_bytes: int | None
    clock_offset_s: float | None
    plays_today: int
    stale: bool  # never seen, or silent for longer than STALE_AFTER


def device_health(session: Session, devices: list[Device], now: datetime) -> dict[int, Health]:
    """Health of each device: its last report, plays since its village's midnight, staleness."""
    from zoneinfo import ZoneInfo

    out: dict[int, Health] = {}
    for device in devices:
        local = now.astimezone(ZoneInfo(device.village.tz))
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        plays = session.scalar(
            select(func.count(PlayLog.id)).where(
                PlayLog.device_id == device.id, PlayLog.started_at >= midnight
            )
        )
        seen = _aware(device.last_seen_at) if device.last_seen_at else None
        out[device.id] = Health(
            seen,
            device.player_version,
            device.cache_bytes,
            device.free_bytes,
            device.clock_offset_s,
            int(plays or 0),
            seen is None or now - seen > STALE_AFTER,
        )
    return out


# --- helpers ------------------------------------------------------------------------------------


def _items(
    session: Session, device: Device, rules: DeviceRules, items: list[TimelineItem]
) -> list[dict[str, Any]]:
    # A snapshot holds ~550 items, and this loop was half a cold snapshot's cost: what
    # repeats (a file's part, a schedule's reason) is made once per snapshot.
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(device.village.tz)
    files = _files(session, {i.media.sha256 for i in items if i.media})
    screen = device.kind == "screen"
    media_parts: dict[str, tuple[dict[str, Any], str | None, str]] = {}
    reasons: dict[tuple, str] = {}
    out = []
    for item in items:
        media = item.media
        why_key = (item.schedule_id, item.layer, item.match, item.rule)
        why = reasons.get(why_key)
        if why is None:
            why = reasons[why_key] = item.why
        start, end = item.start.astimezone(zone), item.end.astimezone(zone)
        entry: dict[str, Any] = {
            "id": _item_id(item),
            "start": start.isoformat(timespec="milliseconds"),
            "end": end.isoformat(timespec="milliseconds"),
            "layer": item.layer.name.lower(),
            "kind": media.kind if media else "silence",
            "title": "静音 / silence",
            "why": why,
            "cut": item.cut,
            "media": None,
            "vtt": None,
        }
        if media is not None:
            part = media_parts.get(media.sha256)
            if part is None:
                mime, vtt = files.get(media.sha256, ("application/octet-stream", None))
                body = {
                    "url": f"/api/v1/media/{media.sha256}",
                    "sha256": media.sha256,
                    "bytes": media.size,
                    "duration_s": round(media.duration_s, 3),
                    "mime": mime,
                }
                vtt_url = f"/api/v1/media/{vtt}" if vtt is not None and screen else None
                part = media_parts[media.sha256] = (
                    body,
                    vtt_url,
                    rules.labels.get(media.sha256, ""),
                )
            entry["media"], entry["vtt"], entry["title"] = part
        out.append(entry)
    return out


def _files(session: Session, shas: set[str]) -> dict[str, tuple[str, str | None]]:
    """sha256 → (mime, sha256 of the WebVTT subtitles made with it, if any)."""
    out: dict[str, tuple[str, str | None]] = {}
    if not shas:
        return out
    for row in session.scalars(select(lib.SegmentFile).where(lib.SegmentFile.sha256.in_(shas))):
        vtt = row.segment.file("subtitles-vtt")
        out[row.sha256] = (row.mime, vtt.sha256 if vtt is not None else None)
    for row in session.scalars(select(AnnouncementFile).where(AnnouncementFile.sha256.in_(shas))):
        vtt = row.announcement.file("subtitles-vtt")
        out.setdefault(row.sha256, (row.mime, vtt.sha256 if vtt is not None else None))
    for model in (lib.MediaFile, lib.ReelFile):
        for row in session.scalars(select(model).where(model.sha256.in_(shas))):
            out.setdefault(row.sha256, (row.mime, None))
    return out


def _item_id(item: TimelineItem) -> str:
    """Stable across polls: the same play of the same thing at the same time."""
    what = item.media.sha256 if item.media else "silence"
    text = f"{item.schedule_id}|{item.start.timestamp():.3f}|{what}"
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _days(device: Device, start: datetime, end: datetime):  # noqa: ANN202 - (date, date)
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(device.village.tz)
    return start.astimezone(zone).date(), end.astimezone(zone).date()


def _iso(moment: datetime, device: Device | None = None) -> str:
    if device is not None:
        from zoneinfo import ZoneInfo

        moment = moment.astimezone(ZoneInfo(device.village.tz))
    return moment.isoformat(timespec="milliseconds")


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _as_list(plays: Any) -> list[Any]:
    if not isinstance(plays, list):
        raise DeviceApiError("plays 应为数组 / `plays` must be an array")
    if len(plays) > PLAYS_MAX:
        raise DeviceApiError(f"一次最多 {PLAYS_MAX} 条 / at most {PLAYS_MAX} plays per batch", 413)
    return plays


def _play_row(device_id: int, n: int, play: Any) -> PlayLog:
    if not isinstance(play, dict):
        raise DeviceApiError(f"plays[{n}] 应为对象 / plays[{n}] must be an object")
    play_id = play.get("id")
    if not isinstance(play_id, str) or not 1 <= len(play_id) <= 64 or not _encodable(play_id):
        raise DeviceApiError(f"plays[{n}].id 应为 1–64 字符 / plays[{n}].id must be 1–64 chars")
    status = play.get("status")
    if status not in PLAY_STATUSES:
        raise DeviceApiError(
            f"plays[{n}].status 应为 {'/'.join(PLAY_STATUSES)} / plays[{n}].status is invalid"
        )
    start = _parse_time(play.get("start"), f"plays[{n}].start")
    end = _parse_time(play.get("end"), f"plays[{n}].end")
    if end < start:
        raise DeviceApiError(f"plays[{n}].end 早于 start / plays[{n}].end is before its start")
    return PlayLog(
        device_id=device_id,
        play_id=play_id,
        item_id=_text(play.get("item_id"), f"plays[{n}].item_id", 100) or "",
        sha256=_text(play.get("sha256"), f"plays[{n}].sha256", 64) or "",
        started_at=start,
        ended_at=end,
        status=status,
        detail=_text(play.get("detail"), f"plays[{n}].detail", 500) or "",
        received_at=utcnow(),
    )


def _parse_time(value: Any, field: str) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or not isinstance(value, str):
        raise DeviceApiError(
            f"{field} 应为带时区的 RFC 3339 时间 / {field} must be an RFC 3339 time with an offset"
        )
    return moment


def _text(value: Any, field: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > limit or not _encodable(value):
        raise DeviceApiError(f"{field} 应为不超过 {limit} 字的文本 / {field}: text ≤ {limit}")
    return value


def _encodable(value: str) -> bool:
    """Whether the text can be stored: JSON may carry lone surrogates, UTF-8 cannot."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _count(value: Any, field: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**62:
        raise DeviceApiError(f"{field} 应为非负整数 / {field} must be a non-negative integer")
    return value

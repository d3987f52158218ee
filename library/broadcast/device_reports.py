"""What devices report through the API: plays (stored once each), heartbeats, last seen,
and the health `kuanyue device list` shows from them."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import Database
from ..models import utcnow
from .device_api import DeviceApiError, as_aware, as_iso
from .models import Device, PlayLog

PLAY_STATUSES = ("completed", "interrupted", "skipped", "failed")
PLAYS_MAX = 500
# A device's last_seen is written at most this often from polls (a write per poll would make
# every one of a county's emergency polls take SQLite's write lock).
SEEN_EVERY_S = 60.0
STALE_AFTER = timedelta(minutes=15)


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
    return {"server_time": as_iso(now), "clock_offset_s": offset}


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
        seen = as_aware(device.last_seen_at) if device.last_seen_at else None
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

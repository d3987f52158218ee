"""A device's 48-hour schedule snapshot and its emergency poll, for the device API.

A snapshot is the device's timeline from now rounded down to the hour for 48 hours; its
version — the ETag — is a hash of the device's rules version and that start, so a poll with
an unchanged version costs the rules lookup and nothing more, and any change to a rule that
reaches the device, a consent withdrawn, an announcement stopped or a clause re-rendered
gives a new version at once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import models as lib
from .device_api import as_iso
from .device_rules import DeviceRules, load_device_rules, rules_for_range
from .models import AnnouncementFile, Device, Schedule, ScheduleTarget
from .rules import rules_version
from .timeline import TimelineItem

HORIZON = timedelta(hours=48)
EMERGENCY_AHEAD = timedelta(hours=1)


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


_cache: OrderedDict[str, Snapshot] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_MAX = 2048


def schedule_snapshot(session: Session, device: Device, now: datetime) -> Snapshot:
    """The device's timeline for 48 hours from the current hour, with its version."""
    start = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = start + HORIZON
    found = rules_for_range(session, str(device.id), start, end)
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
        "generated_at": as_iso(now),
        "start": as_iso(start, device),
        "end": as_iso(end, device),
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
        return {"active": False, "server_time": as_iso(now), "items": []}
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
    return {"active": bool(current), "server_time": as_iso(now), "items": current}


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

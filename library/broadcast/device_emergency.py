"""The device API's emergency poll: what emergency items reach a device now and in the hour
ahead, cheap enough for a county's devices to ask every 10 seconds."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select

from ..db import Database
from .device_api import DeviceCard, as_iso
from .device_rules import load_device_rules
from .device_snapshot import item_bodies, rules_memo
from .models import PlaylistItem, Schedule, ScheduleTarget

EMERGENCY_AHEAD = timedelta(hours=1)

# Devices alike — the same emergency schedules reach them the same way, the same kind of
# device, the same time zone (and village, when a recording's access could differ) — share
# the emergency items worked out for one of them, for this long or until the count moves.
EMERGENCY_REUSE_S = 30


@dataclass(frozen=True)
class _Live:
    """The county's live emergency schedules: who they reach, and how."""

    reach: dict[tuple[str, int], tuple[tuple[int, int], ...]]  # place → (schedule id, how)
    by_village: bool  # some play a recording, whose access depends on the village


def emergency_body(db: Database, device: DeviceCard, now: datetime) -> dict[str, Any]:
    """`GET /api/v1/device/emergency`: emergency items overlapping now … now + 1 h.

    Every device polls it every 10 seconds, so the common answer — no emergency reaches this
    device — comes from the county's live emergency schedules, read once per change count;
    only a device an emergency reaches works its emergency timeline out, shared by devices
    alike for up to 30 s.
    """
    count = db.changes.current()
    yesterday = now.date() - timedelta(days=1)
    live = db.changes.cache("live emergencies", 4).get_or_make(
        count, yesterday, lambda: _live_emergencies(db, yesterday)
    )
    places = [("v", device.village_id), ("d", device.id), *(("z", z) for z in device.zone_ids)]
    reaching = tuple(sorted(hit for place in places for hit in live.reach.get(place, ())))
    if not reaching:
        return {"active": False, "server_time": as_iso(now), "items": []}
    since = int(now.timestamp()) // EMERGENCY_REUSE_S * EMERGENCY_REUSE_S
    alike = (
        since,
        reaching,
        device.kind == "screen",
        device.tz,
        device.village_id if live.by_village else None,
    )
    timed = db.changes.cache("emergency items", 4096).get_or_make(
        count, alike, lambda: _emergency_items(db, count, device, since)
    )
    horizon = now + EMERGENCY_AHEAD
    current = [b for start, end, b in timed if end > now and start < horizon]
    return {"active": bool(current), "server_time": as_iso(now), "items": current}


def _emergency_items(
    db: Database, count: int, device: DeviceCard, since: int
) -> list[tuple[datetime, datetime, dict[str, Any]]]:
    """The device's emergency items (with their times) from `since` for as long as they are
    shared and the hour ahead."""
    start = datetime.fromtimestamp(since, UTC)
    end = start + timedelta(seconds=EMERGENCY_REUSE_S) + EMERGENCY_AHEAD
    with db.session() as session:
        memo = rules_memo(db, count)
        found = load_device_rules(session, str(device.id), layers=("emergency",), memo=memo)
        items = [i for i in found.timeline(start, end) if i.layer.name == "EMERGENCY"]
        bodies = item_bodies(session, device, found, items, memo)
    return [(i.start, i.end, b) for i, b in zip(items, bodies, strict=True)]


def _live_emergencies(db: Database, yesterday: date) -> _Live:
    """The live emergency schedules and the places they reach.

    Live: not ended before yesterday; a one-off (COUNT=1, what `announce --kind emergency`
    makes) only when it opens from yesterday on. Stopping an emergency changes its schedule,
    which moves the change count, so this is read again.
    """
    reach: dict[tuple[str, int], list[tuple[int, int]]] = {}
    by_village = False
    with db.session() as session:
        rows = session.execute(
            select(Schedule.id, Schedule.rrule, Schedule.starts_on, Schedule.playlist_id).where(
                Schedule.layer == "emergency",
                or_(Schedule.ends_on.is_(None), Schedule.ends_on >= yesterday),
            )
        ).all()
        live = [r for r in rows if not ("COUNT=1" in r.rrule.upper() and r.starts_on < yesterday)]
        if live:
            targets = session.execute(
                select(
                    ScheduleTarget.schedule_id,
                    ScheduleTarget.village_id,
                    ScheduleTarget.zone_id,
                    ScheduleTarget.device_id,
                ).where(ScheduleTarget.schedule_id.in_([r.id for r in live]))
            )
            # How a schedule reaches a place decides its precedence over others (rules.Target).
            for schedule_id, village_id, zone_id, device_id in targets:
                for how, (kind, place) in enumerate(
                    (("v", village_id), ("z", zone_id), ("d", device_id))
                ):
                    if place:
                        reach.setdefault((kind, place), []).append((schedule_id, how))
            by_village = (
                session.scalar(
                    select(PlaylistItem.id)
                    .where(
                        PlaylistItem.playlist_id.in_([r.playlist_id for r in live]),
                        PlaylistItem.kind.in_(("recording", "reel")),
                    )
                    .limit(1)
                )
                is not None
            )
    return _Live({k: tuple(v) for k, v in reach.items()}, by_village)

"""Schedules: a playlist in recurring local-time windows on villages, zones or devices.

Windows are "HH:MM-HH:MM" in the village's time; an end before the start runs past
midnight. An end equal to the start is refused as a likely slip, except `all-day` (or
`00:00-24:00`), which is stored as 00:00-00:00, the rules' whole day. A recording in the
playlist must be one every target village may broadcast. Every write is one transaction:
nothing is half-saved; an edit raises the schedule's version, so a device's rules version
(and its ETag) changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any

from dateutil.rrule import rrulestr
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import models as lib
from ..db import Database
from ..models import is_row_id
from .devices import find_device
from .models import LAYERS, OVERRUNS, Device, Playlist, Schedule, ScheduleTarget, Zone
from .places import find_village
from .programme import ProgrammeError, find_playlist, find_recording, may_broadcast

_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
ALL_DAY = ("all-day", "00:00-24:00")


@dataclass(frozen=True)
class ScheduleInfo:
    """A schedule as `schedule list` shows it."""

    id: int
    playlist: str
    rrule: str
    window: str
    starts_on: date
    ends_on: date | None
    layer: str
    overrun: str
    targets: tuple[str, ...]
    version: int = 1


def parse_window(text: str) -> tuple[str, str]:
    """("HH:MM", "HH:MM") from "HH:MM-HH:MM" or `all-day`; ProgrammeError naming --window."""
    text = text.strip()
    if text in ALL_DAY:
        return "00:00", "00:00"
    match = _WINDOW.match(text)
    bad = ProgrammeError(
        f"时段（--window）无效：{text!r}，应如 19:30-20:30 或 all-day / invalid --window"
        f" {text!r}: use HH:MM-HH:MM (an end before the start runs past midnight) or all-day"
    )
    if not match:
        raise bad
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
        raise bad
    if (h1, m1) == (h2, m2):
        raise ProgrammeError(
            f"时段（--window）开始和结束相同：{text}；全天请写 all-day / --window starts and"
            f" ends at the same time: {text}; for a whole day write all-day"
        )
    return f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"


def add_schedule(
    db: Database,
    playlist_ref: str,
    *,
    rrule: str,
    window: str,
    starts_on: date,
    ends_on: date | None = None,
    villages: tuple[str, ...] = (),
    zones: tuple[str, ...] = (),
    devices: tuple[str, ...] = (),
    layer: str = "scheduled",
    overrun: str = "finish",
) -> ScheduleInfo:
    """Schedule a playlist on existing targets; ProgrammeError naming the bad field."""
    start, end = _check_rule(window, rrule, starts_on, ends_on, layer, overrun)
    with db.session(write=True) as session:
        playlist = find_playlist(session, playlist_ref)
        targets = _checked_targets(session, playlist, villages, zones, devices)
        schedule = Schedule(
            playlist=playlist,
            rrule=rrule.strip(),
            window_start=start,
            window_end=end,
            starts_on=starts_on,
            ends_on=ends_on,
            layer=layer,
            overrun=overrun,
            targets=targets,
        )
        session.add(schedule)
        session.flush()
        return _schedule_info(schedule)


class _Keep:
    """The default of an edit's fields: keep what the schedule has."""

    def __repr__(self) -> str:
        return "KEEP"


KEEP: Any = _Keep()


def edit_schedule(
    db: Database,
    schedule_ref: int | str,
    *,
    window: str | None = None,
    rrule: str | None = None,
    starts_on: date | None = None,
    ends_on: date | None = KEEP,
    layer: str | None = None,
    overrun: str | None = None,
    villages: tuple[str, ...] | None = None,
    zones: tuple[str, ...] | None = None,
    devices: tuple[str, ...] | None = None,
) -> ScheduleInfo:
    """Change a schedule in place and raise its version by one; ProgrammeError naming the field.

    Fields left out (None; `ends_on` KEEP, since None clears the last day) keep their value.
    Giving any of `villages`, `zones`, `devices` replaces every target with those given, and
    the targets are checked as `add_schedule` checks them (the playlist's village, and every
    recording or reel in it broadcastable in each target village). The new rule as a whole
    is checked as a new one would be: an --until before a kept --from is refused too.
    """
    changes = (window, rrule, starts_on, layer, overrun, villages, zones, devices)
    if all(v is None for v in changes) and ends_on is KEEP:
        raise ProgrammeError(
            "没有要修改的内容，请给出 --window、--rrule、--from、--until、--layer、--overrun 或"
            " 目标 / nothing to change: give --window, --rrule, --from, --until, --layer,"
            " --overrun or targets"
        )
    with db.session(write=True) as session:
        schedule = _find_schedule(session, schedule_ref)
        if window is None:
            window = _window_text(schedule)
        new_ends = schedule.ends_on if ends_on is KEEP else ends_on
        start, end = _check_rule(
            window,
            schedule.rrule if rrule is None else rrule,
            schedule.starts_on if starts_on is None else starts_on,
            new_ends,
            schedule.layer if layer is None else layer,
            schedule.overrun if overrun is None else overrun,
        )
        if (villages, zones, devices) != (None, None, None):
            schedule.targets = _checked_targets(
                session, schedule.playlist, villages or (), zones or (), devices or ()
            )
        schedule.window_start, schedule.window_end = start, end
        if rrule is not None:
            schedule.rrule = rrule.strip()
        if starts_on is not None:
            schedule.starts_on = starts_on
        schedule.ends_on = new_ends
        if layer is not None:
            schedule.layer = layer
        if overrun is not None:
            schedule.overrun = overrun
        schedule.version += 1  # devices' rules_version (and their ETag) change with it
        session.flush()
        return _schedule_info(schedule)


def delete_schedule(db: Database, schedule_ref: int | str) -> ScheduleInfo:
    """Delete a schedule (its targets go with it); what it was, for the caller to show."""
    with db.session(write=True) as session:
        schedule = _find_schedule(session, schedule_ref)
        info = _schedule_info(schedule)
        session.delete(schedule)
        return info


def _find_schedule(session: Session, ref: int | str) -> Schedule:
    """A programme schedule by id; ProgrammeError naming ID for none or an announcement's."""
    text = str(ref).strip()
    number = int(text) if text.isdigit() else 0
    schedule = session.get(Schedule, number) if is_row_id(number) else None
    if schedule is None:
        raise ProgrammeError(f"找不到时间表（ID）：{text} / no schedule {text} (ID)")
    if schedule.playlist.announcement_id is not None:
        raise ProgrammeError(
            f"时间表 {text} 属于通知 {schedule.playlist.announcement_id}，请修改该通知 / schedule"
            f" {text} belongs to announcement {schedule.playlist.announcement_id}: change the"
            " announcement instead (ID)"
        )
    return schedule


def _window_text(schedule: Schedule) -> str:
    if schedule.window_start == schedule.window_end:
        return "all-day"
    return f"{schedule.window_start[:5]}-{schedule.window_end[:5]}"


def _check_rule(
    window: str, rrule: str, starts_on: date, ends_on: date | None, layer: str, overrun: str
) -> tuple[str, str]:
    """The window's ("HH:MM", "HH:MM") once the rule's fields are valid; ProgrammeError else."""
    start, end = parse_window(window)
    if layer not in LAYERS:
        raise ProgrammeError(f"层级（--layer）无效：{layer} / invalid --layer {layer!r}")
    if overrun not in OVERRUNS:
        raise ProgrammeError(f"超时策略（--overrun）无效：{overrun} / invalid --overrun")
    if ends_on is not None and ends_on < starts_on:
        raise ProgrammeError("结束日期（--until）早于开始日期（--from）/ --until is before --from")
    check_rrule(rrule, starts_on, time.fromisoformat(start))
    return start, end


def _checked_targets(
    session: Session,
    playlist: Playlist,
    villages: tuple[str, ...],
    zones: tuple[str, ...],
    devices: tuple[str, ...],
) -> list[ScheduleTarget]:
    """The targets, once they exist and the playlist may play in each of their villages."""
    if not (villages or zones or devices):
        raise ProgrammeError(
            "请给出目标（--village、--zone 或 --device）/ give a target: --village, --zone or"
            " --device"
        )
    targets = find_targets(session, villages, zones, devices)
    for target_village in {village_of(t) for t in targets}:
        if playlist.village is not None and playlist.village.id != target_village.id:
            raise ProgrammeError(
                f"播放列表 {playlist.name} 属于{playlist.village.name}，不能排到"
                f"{target_village.name} / playlist {playlist.name} belongs to"
                f" {playlist.village.name}, not {target_village.name} (target)"
            )
        check_broadcast_in(session, playlist, target_village.name)
    return targets


def check_broadcast_in(session: Session, playlist: Playlist, village: str) -> None:
    """ProgrammeError unless every recording (and reel's recording) of `playlist` may be
    broadcast in `village` now."""
    for item in playlist.items:
        recording_id = item.recording_id
        if item.kind == "reel" and item.reel_id is not None:
            reel = session.get(lib.Reel, item.reel_id)
            recording_id = reel.recording_id if reel is not None else None
        if item.kind not in ("recording", "reel") or recording_id is None:
            continue
        recording = find_recording(session, str(recording_id))
        if not may_broadcast(recording, village):
            raise ProgrammeError(
                f"录音 {recording.id} 不能在{village}广播 / recording {recording.id} may not be"
                f" broadcast in {village} (target)"
            )


def list_schedules(db: Database, village: str | None = None) -> list[ScheduleInfo]:
    """Every schedule, or those reaching one village (directly, by a zone or a device)."""
    with db.session() as session:
        query = select(Schedule).order_by(Schedule.id)
        if village is not None:
            found = find_village(session, village)
            query = query.where(Schedule.id.in_(schedules_reaching(found.id, None, ())))
        return [_schedule_info(s) for s in session.scalars(query)]


def schedules_reaching(village_id: int, device_id: int | None, zone_ids: tuple[int, ...]):  # noqa: ANN202
    """A select of the ids of schedules with a target on this village, zone or device."""
    hits = [ScheduleTarget.village_id == village_id]
    if device_id is not None:
        hits.append(ScheduleTarget.device_id == device_id)
        hits.append(ScheduleTarget.zone_id.in_(zone_ids))
    else:  # every schedule touching the village: its zones and devices too
        hits.append(
            ScheduleTarget.zone_id.in_(select(Zone.id).where(Zone.village_id == village_id))
        )
        hits.append(
            ScheduleTarget.device_id.in_(select(Device.id).where(Device.village_id == village_id))
        )
    return select(ScheduleTarget.schedule_id).where(or_(*hits))


def check_rrule(text: str, starts_on: date, at: time) -> None:
    """ProgrammeError naming --rrule unless dateutil reads `text` as a recurrence."""
    problem = ""
    if not text.strip():
        problem = "empty"
    elif "DTSTART" in text.upper():
        problem = "DTSTART is set by --from and --window"
    else:
        try:
            rrulestr(text.strip(), dtstart=datetime.combine(starts_on, at), forceset=True)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
            problem = str(exc) or type(exc).__name__
    if problem:
        raise ProgrammeError(
            f"重复规则（--rrule）无效：{text!r}（应如 FREQ=DAILY）/ invalid --rrule {text!r}:"
            f" {problem}"
        )


def find_targets(
    session: Session, villages: tuple[str, ...], zones: tuple[str, ...], devices: tuple[str, ...]
) -> list[ScheduleTarget]:
    """Schedule targets for village names, "村名/寨名" zones and device refs."""
    out = [ScheduleTarget(village=find_village(session, v)) for v in villages]
    for ref in zones:
        village_ref, _, zone_name = ref.rpartition("/")
        if not village_ref:
            raise ProgrammeError(f"寨/组（--zone）应写成 村名/寨名：{ref} / write --zone as V/Z")
        village = find_village(session, village_ref)
        zone = next((z for z in village.zones if z.name == zone_name.strip()), None)
        if zone is None:
            raise ProgrammeError(
                f"{village.name} 没有寨/组（--zone）：{zone_name} / no zone {zone_name} in"
                f" {village.name}"
            )
        out.append(ScheduleTarget(zone=zone))
    out.extend(ScheduleTarget(device=find_device(session, d)) for d in devices)
    return out


def village_of(target: ScheduleTarget):  # noqa: ANN201 - a Village
    """The village a target lies in."""
    if target.village is not None:
        return target.village
    if target.zone is not None:
        return target.zone.village
    assert target.device is not None
    return target.device.village


def _target_text(target: ScheduleTarget) -> str:
    if target.village is not None:
        return f"村 village {target.village.name}"
    if target.zone is not None:
        return f"寨/组 zone {target.zone.village.name}/{target.zone.name}"
    assert target.device is not None
    return f"设备 device {target.device.id} {target.device.name}"


def _schedule_info(schedule: Schedule) -> ScheduleInfo:
    window = f"{schedule.window_start}-{schedule.window_end}"
    return ScheduleInfo(
        id=schedule.id,
        playlist=schedule.playlist.name,
        rrule=schedule.rrule,
        window="all-day" if schedule.window_start == schedule.window_end else window,
        starts_on=schedule.starts_on,
        ends_on=schedule.ends_on,
        layer=schedule.layer,
        overrun=schedule.overrun,
        targets=tuple(_target_text(t) for t in schedule.targets),
        version=schedule.version,
    )

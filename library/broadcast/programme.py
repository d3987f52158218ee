"""Playlists and schedules in the database, mapped onto `rules` for a device's timeline.

A playlist item is a clause (by key: always the newest covenant version's clause and its
newest rendered segment), a recording, or a pause. A device plays the file made for it: a
loudspeaker (and a stream, which carries sound only) the clause's `audio-loudspeaker` file
and the recording's `loudspeaker` copy; a screen the clause's `video-16x9` file and the
recording's `web` copy. A clause is never cut mid-sentence; a recording may be cut.

A recording enters a playlist only when it may be broadcast now (a broadcast consent not
withdrawn, a protocol that allows broadcast, and the playlist's village admitted by
`library.access.may`), and a schedule only when every target village is admitted. The
timeline asks the same rule again at every call, so a withdrawal takes a recording off the
air at once; items whose file is not rendered yet are left out too.

Windows are "HH:MM-HH:MM" in the village's time; an end before the start runs past
midnight. An end equal to the start is refused as a likely slip, except `all-day` (or
`00:00-24:00`), which is stored as 00:00-00:00, the rules' whole day. Every write is one
transaction: nothing is half-saved.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from dateutil.rrule import rrulestr
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from .. import models as lib
from ..access import Viewer, broadcastable, may
from ..db import Database
from ..errors import LibraryError
from . import rules
from .devices import find_device
from .models import (
    LAYERS,
    OVERRUNS,
    Device,
    Playlist,
    PlaylistItem,
    Schedule,
    ScheduleTarget,
    Zone,
)
from .places import clean_name, find_village
from .timeline import TimelineItem, timeline

_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
ALL_DAY = ("all-day", "00:00-24:00")


class ProgrammeError(LibraryError):
    """A playlist or schedule that cannot be made as asked; the message names the field."""


@dataclass(frozen=True)
class ItemInfo:
    """A playlist entry as `playlist show` lists it."""

    position: int
    kind: str
    label: str
    repeat: int
    duration_s: float | None  # one play on a loudspeaker; None when not rendered


@dataclass(frozen=True)
class PlaylistInfo:
    """A playlist with its items and their total loudspeaker duration."""

    name: str
    village: str | None
    shuffle: bool
    items: tuple[ItemInfo, ...]

    @property
    def total_s(self) -> float:
        """Seconds of one pass on a loudspeaker (repeats counted, unrendered items left out)."""
        return sum((i.duration_s or 0.0) * i.repeat for i in self.items)


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


@dataclass(frozen=True)
class PlanLine:
    """One timeline item with what plays in words and the playlist it comes from."""

    item: TimelineItem
    what: str
    playlist: str


# --- playlists ----------------------------------------------------------------------------------


def create_playlist(db: Database, name: str, village: str | None, shuffle: bool) -> PlaylistInfo:
    """Make an empty playlist, one village's or county-wide; ProgrammeError if it exists."""
    name = clean_name(name, "播放列表名", "playlist name")
    with db.session(write=True) as session:
        found = find_village(session, village) if village else None
        village_id = found.id if found is not None else None
        same_place = (
            Playlist.village_id.is_(None)
            if village_id is None
            else Playlist.village_id == village_id
        )
        clash = session.scalar(select(Playlist.id).where(Playlist.name == name, same_place))
        if clash is not None:
            raise ProgrammeError(f"播放列表已存在：{name} / playlist exists: {name} (NAME)")
        playlist = Playlist(name=name, village=found, shuffle=shuffle)
        session.add(playlist)
        session.flush()
        return _playlist_info(playlist, session)


def add_item(
    db: Database, playlist_ref: str, kind: str, value: str, repeat: int = 1
) -> PlaylistInfo:
    """Append a clause (key), recording (id) or pause (seconds) to a playlist."""
    if repeat < 1:
        raise ProgrammeError("重复次数（--repeat）至少为 1 / --repeat must be at least 1")
    with db.session(write=True) as session:
        playlist = find_playlist(session, playlist_ref)
        item = PlaylistItem(kind=kind, repeat=repeat, position=len(playlist.items) + 1)
        if kind == "clause":
            if newest_clause(session, value.strip()) is None:
                raise ProgrammeError(f"找不到条款（KEY）：{value} / no clause with key {value!r}")
            item.clause_key = value.strip()
        elif kind == "recording":
            recording = _recording(session, value)
            where = playlist.village.name if playlist.village is not None else None
            if not _may_broadcast(recording, where):
                raise ProgrammeError(
                    f"录音 {recording.id} 不能广播（需广播授权且未撤回{f'，并允许{where}' if where else ''}）"
                    f" / recording {recording.id} may not be broadcast"
                    f"{f' in {where}' if where else ''} (ID: it needs a broadcast consent"
                    " that is not withdrawn and a public or village protocol)"
                )
            item.recording_id = recording.id
        elif kind == "pause":
            try:
                seconds = float(value)
            except ValueError:
                seconds = 0.0
            if not 0 < seconds <= 86400:
                raise ProgrammeError(
                    f"停顿秒数（SECONDS）须为正数：{value} / pause SECONDS must be a positive"
                    f" number: {value}"
                )
            item.pause_s = seconds
        else:
            raise ProgrammeError(f"未知条目类型：{kind} / unknown item kind {kind!r}")
        playlist.items.append(item)
        session.flush()
        return _playlist_info(playlist, session)


def show_playlist(db: Database, playlist_ref: str) -> PlaylistInfo:
    """A playlist's items with their loudspeaker durations."""
    with db.session() as session:
        playlist = find_playlist(session, playlist_ref)
        return _playlist_info(playlist, session)


def find_playlist(session: Session, ref: str) -> Playlist:
    """The playlist named `ref` ("名" or "村名/名"); ProgrammeError if none or ambiguous."""
    village, _, name = ref.strip().rpartition("/")
    query = select(Playlist).where(Playlist.name == name.strip())
    if village:
        query = query.where(Playlist.village_id == find_village(session, village).id)
    found = list(session.scalars(query))
    if not found:
        raise ProgrammeError(f"找不到播放列表：{ref} / no playlist {ref}")
    if len(found) > 1:
        where = "、".join(f"{p.village.name if p.village else '全县'}/{p.name}" for p in found)
        raise ProgrammeError(
            f"有几个播放列表叫 {ref}，请写成 村名/名：{where} / several playlists are called"
            f" {ref}; write village/name: {where}"
        )
    return found[0]


# --- schedules ----------------------------------------------------------------------------------


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
    start, end = parse_window(window)
    if layer not in LAYERS:
        raise ProgrammeError(f"层级（--layer）无效：{layer} / invalid --layer {layer!r}")
    if overrun not in OVERRUNS:
        raise ProgrammeError(f"超时策略（--overrun）无效：{overrun} / invalid --overrun")
    if ends_on is not None and ends_on < starts_on:
        raise ProgrammeError("结束日期（--until）早于开始日期（--from）/ --until is before --from")
    _check_rrule(rrule, starts_on, time.fromisoformat(start))
    if not (villages or zones or devices):
        raise ProgrammeError(
            "请给出目标（--village、--zone 或 --device）/ give a target: --village, --zone or"
            " --device"
        )
    with db.session(write=True) as session:
        playlist = find_playlist(session, playlist_ref)
        targets = _targets(session, villages, zones, devices)
        for target_village in {_village_of(t) for t in targets}:
            if playlist.village is not None and playlist.village.id != target_village.id:
                raise ProgrammeError(
                    f"播放列表 {playlist.name} 属于{playlist.village.name}，不能排到"
                    f"{target_village.name} / playlist {playlist.name} belongs to"
                    f" {playlist.village.name}, not {target_village.name} (target)"
                )
            for item in playlist.items:
                if item.kind == "recording" and item.recording_id is not None:
                    recording = _recording(session, str(item.recording_id))
                    if not _may_broadcast(recording, target_village.name):
                        raise ProgrammeError(
                            f"录音 {recording.id} 不能在{target_village.name}广播 / recording"
                            f" {recording.id} may not be broadcast in {target_village.name}"
                            " (target)"
                        )
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


def list_schedules(db: Database, village: str | None = None) -> list[ScheduleInfo]:
    """Every schedule, or those reaching one village (directly, by a zone or a device)."""
    with db.session() as session:
        query = select(Schedule).order_by(Schedule.id)
        if village is not None:
            found = find_village(session, village)
            query = query.where(Schedule.id.in_(schedules_reaching(found.id, None, ())))
        return [_schedule_info(s) for s in session.scalars(query)]


# --- the device's timeline -----------------------------------------------------------------------


def device_timeline(
    session: Session, device_ref: str, start: datetime, end: datetime
) -> list[TimelineItem]:
    """What device `device_ref` plays in [start, end), from the schedules that reach it."""
    device, schedules, _, _ = load_device_rules(session, device_ref)
    return timeline(device, schedules, start, end)


def day_plan(db: Database, device_ref: str, day: date) -> tuple[str, str, list[PlanLine]]:
    """(device name, its time zone, the day's items in words) for one local date."""
    from zoneinfo import ZoneInfo

    with db.session() as session:
        device, schedules, labels, names = load_device_rules(session, device_ref)
        zone = ZoneInfo(device.tz)
        start = datetime.combine(day, time(), zone)
        end = datetime.combine(day + timedelta(days=1), time(), zone)
        items = timeline(device, schedules, start, end)
        name = find_device(session, device_ref).name
    lines = [
        PlanLine(
            i,
            labels.get(i.media.sha256, i.media.sha256[:12]) if i.media else "静音 / silence",
            names.get(i.schedule_id, i.schedule_id),
        )
        for i in items
    ]
    return name, device.tz, lines


def load_device_rules(
    session: Session, device_ref: str
) -> tuple[rules.Device, list[rules.Schedule], dict[str, str], dict[str, str]]:
    """The device as rules, the schedules reaching it, media labels and playlist names."""
    row = find_device(session, device_ref)
    zone_ids = tuple(z.id for z in row.zones)
    device = rules.Device(
        id=f"d{row.id}",
        kind=row.kind,
        village=f"v{row.village_id}",
        zones=frozenset(f"z{z}" for z in zone_ids),
        tz=row.village.tz,
    )
    viewer = Viewer("device", village=row.village.name)
    labels: dict[str, str] = {}
    names: dict[str, str] = {}
    out: list[rules.Schedule] = []
    reaching = select(Schedule).where(
        Schedule.id.in_(schedules_reaching(row.village_id, row.id, zone_ids))
    )
    for schedule in session.scalars(reaching.order_by(Schedule.id)):
        items = [
            mapped
            for item in schedule.playlist.items
            if (mapped := _rule_item(session, item, row, viewer, labels)) is not None
        ]
        if not items:
            continue  # nothing playable (yet) here: the window stays free for lower layers
        names[str(schedule.id)] = schedule.playlist.name
        out.append(_rule_schedule(schedule, items))
    return device, out, labels, names


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


def _rule_schedule(schedule: Schedule, items: list[rules.PlaylistItem]) -> rules.Schedule:
    created = schedule.created_at
    targets = schedule.targets
    return rules.Schedule(
        id=str(schedule.id),
        playlist=rules.Playlist(
            id=str(schedule.playlist_id), items=tuple(items), shuffle=schedule.playlist.shuffle
        ),
        recurrence=schedule.rrule,
        window_start=time.fromisoformat(schedule.window_start),
        window_end=time.fromisoformat(schedule.window_end),
        starts_on=schedule.starts_on,
        ends_on=schedule.ends_on,
        target=rules.Target(
            villages=frozenset(f"v{t.village_id}" for t in targets if t.village_id),
            zones=frozenset(f"z{t.zone_id}" for t in targets if t.zone_id),
            devices=frozenset(f"d{t.device_id}" for t in targets if t.device_id),
        ),
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        layer=rules.Layer[schedule.layer.upper()],
        overrun="cut" if schedule.overrun == "cut" else "finish",
        version=schedule.version,
    )


def _rule_item(
    session: Session, item: PlaylistItem, device: Device, viewer: Viewer, labels: dict[str, str]
) -> rules.PlaylistItem | None:
    """The item as rules for this device, or None when it may not or cannot play here now."""
    if item.kind == "pause":
        return rules.PlaylistItem(pause_s=item.pause_s or 0.0, repeat=item.repeat)
    screen = device.kind == "screen"
    media: rules.Media | None = None
    if item.kind == "clause" and item.clause_key:
        clause = newest_clause(session, item.clause_key)
        found = newest_segment_file(clause, "video-16x9" if screen else "audio-loudspeaker")
        if clause is not None and found is not None:
            file, seconds = found
            kind: rules.MediaKind = "video" if screen else "audio"
            media = rules.Media(file.sha256, file.size, seconds, kind, cuttable=False)
            labels[file.sha256] = f"条款 {clause.label} / clause {clause.key}"
    elif item.kind == "recording" and item.recording_id is not None:
        recording = session.get(lib.Recording, item.recording_id)
        if recording is None or not may(viewer, recording, "broadcast"):
            return None
        copy = next(
            (f for f in recording.files if f.kind == ("web" if screen else "loudspeaker")), None
        )
        if copy is not None and copy.duration_s:
            rec_kind: rules.MediaKind = "video" if copy.mime.startswith("video/") else "audio"
            media = rules.Media(copy.sha256, copy.size, copy.duration_s, rec_kind, cuttable=True)
            from ..catalogue.recordings import title

            labels[copy.sha256] = f"录音 #{recording.id} {title(recording)} / recording"
    if media is None:
        return None
    return rules.PlaylistItem(media=media, repeat=item.repeat)


# --- helpers ------------------------------------------------------------------------------------


def newest_clause(session: Session, key: str) -> lib.Clause | None:
    """The newest version's clause with this key."""
    return session.scalar(
        select(lib.Clause)
        .join(lib.CovenantVersion)
        .where(lib.Clause.key == key)
        .order_by(lib.CovenantVersion.number.desc())
        .limit(1)
    )


def newest_segment_file(
    clause: lib.Clause | None, kind: str
) -> tuple[lib.SegmentFile, float] | None:
    """The newest segment's file of `kind` and its seconds, if rendered."""
    if clause is None:
        return None
    for segment in reversed(clause.segments):
        if (file := segment.file(kind)) is not None:
            seconds = file.duration_s or segment.duration_s
            return (file, seconds) if seconds and seconds > 0 else None
    return None


def _recording(session: Session, value: str) -> lib.Recording:
    recording_id = int(value) if value.strip().isdigit() else 0
    recording = session.get(lib.Recording, recording_id) if lib.is_row_id(recording_id) else None
    if recording is None:
        raise ProgrammeError(f"找不到录音（ID）：{value} / no recording {value}")
    return recording


def _may_broadcast(recording: lib.Recording, village: str | None) -> bool:
    """The access rule's broadcast answer: for a village's devices, or (None) anywhere."""
    if village is None:
        return broadcastable(recording)
    return may(Viewer("device", village=village), recording, "broadcast")


def _check_rrule(text: str, starts_on: date, at: time) -> None:
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


def _targets(
    session: Session, villages: tuple[str, ...], zones: tuple[str, ...], devices: tuple[str, ...]
) -> list[ScheduleTarget]:
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


def _village_of(target: ScheduleTarget):  # noqa: ANN202 - a Village
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
    )


def _playlist_info(playlist: Playlist, session: Session) -> PlaylistInfo:
    items = []
    for item in playlist.items:
        seconds: float | None = None
        if item.kind == "pause":
            label, seconds = f"停顿 / pause {item.pause_s:g} s", item.pause_s
        elif item.kind == "clause" and item.clause_key:
            clause = newest_clause(session, item.clause_key)
            found = newest_segment_file(clause, "audio-loudspeaker")
            seconds = found[1] if found else None
            label = f"条款 / clause {item.clause_key}"
        else:
            recording = session.get(lib.Recording, item.recording_id)
            files = recording.files if recording is not None else []
            copy = next((f for f in files if f.kind == "loudspeaker"), None)
            seconds = copy.duration_s if copy is not None else None
            label = f"录音 / recording #{item.recording_id}"
        items.append(ItemInfo(item.position, item.kind, label, item.repeat, seconds))
    village = playlist.village.name if playlist.village is not None else None
    return PlaylistInfo(playlist.name, village, playlist.shuffle, tuple(items))

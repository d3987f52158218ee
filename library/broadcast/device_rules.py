"""The database's programme mapped onto `rules` for one device, and its day plan in words.

A device plays the file made for it: a loudspeaker (and a stream, which carries sound only)
a clause's `audio-loudspeaker` file, a recording's `loudspeaker` copy, a reel's and an
announcement's loudspeaker audio; a screen the `video-16x9` clip, the recording's `web` copy
and the reel's video. Narration (clauses, reels, announcements) is never cut mid-sentence; a
recording may be cut.

Everything that can change without the rules changing is asked again at every call: a
recording's consent and access (a withdrawal takes it off the air at once), a clause's newest
version, a list entry's review and expiry (an expiring item carries `until`, which the pure
timeline applies per window), a stopped announcement. Items whose file is not rendered yet are
left out, and a schedule with nothing playable here is left out so lower layers keep the air.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from .. import models as lib
from ..access import Viewer, may
from ..db import Database
from . import rules
from .devices import find_device
from .models import Announcement, Playlist, PlaylistItem, Schedule, ScheduleTarget
from .programme import newest_clause, newest_segment_file
from .schedules import schedules_reaching
from .timeline import TimelineItem, timeline


@dataclass(frozen=True)
class PlanLine:
    """One timeline item with what plays in words and the playlist it comes from."""

    item: TimelineItem
    what: str
    playlist: str


@dataclass(frozen=True)
class DeviceRules:
    """A device as rules, the schedules reaching it, and words for the plan."""

    device: rules.Device
    schedules: list[rules.Schedule]
    labels: dict[str, str]  # media sha256 → what it is, in words
    names: dict[str, str]  # rules schedule id → the playlist, announcement or rota name

    def timeline(self, start: datetime, end: datetime) -> list[TimelineItem]:
        """The device's timeline over [start, end)."""
        return timeline(self.device, self.schedules, start, end)


def device_timeline(
    session: Session, device_ref: str, start: datetime, end: datetime
) -> list[TimelineItem]:
    """What device `device_ref` plays in [start, end), from the rules that reach it."""
    return rules_for_range(session, device_ref, start, end).timeline(start, end)


def rules_for_range(
    session: Session, device_ref: str, start: datetime, end: datetime
) -> DeviceRules:
    """The device's rules with the rota spelled out for the local days [start, end) touches."""
    days = local_days(find_device(session, device_ref).village.tz, start, end)
    return load_device_rules(session, device_ref, days)


def local_days(tz: str, start: datetime, end: datetime) -> tuple[date, date]:
    """The first and last local dates in time zone `tz` that [start, end) touches."""
    zone = ZoneInfo(tz)
    return start.astimezone(zone).date(), end.astimezone(zone).date()


def day_plan(db: Database, device_ref: str, day: date) -> tuple[str, str, list[PlanLine]]:
    """(device name, its time zone, the day's items in words) for one local date."""
    with db.session() as session:
        found = load_device_rules(session, device_ref, (day, day))
        zone = ZoneInfo(found.device.tz)
        start = datetime.combine(day, time(), zone)
        items = found.timeline(start, start + timedelta(days=1))
        name = find_device(session, device_ref).name
    lines = [
        PlanLine(
            i,
            found.labels.get(i.media.sha256, i.media.sha256[:12]) if i.media else "静音 / silence",
            found.names.get(i.schedule_id, i.schedule_id),
        )
        for i in items
    ]
    return name, found.device.tz, lines


def load_device_rules(
    session: Session,
    device_ref: str,
    days: tuple[date, date] | None = None,
    *,
    layers: tuple[str, ...] | None = None,
    memo: dict[tuple, Any] | None = None,
) -> DeviceRules:
    """The device's rules; a rota's evenings are spelled out for local dates `days` (inclusive).

    `days` None means yesterday to the day after tomorrow in the village's time, what a
    48-hour snapshot from now needs. `layers` keeps only schedules of those layers (the rota
    and the fallback only when theirs, interrupt and fallback, are named): the emergency poll
    reads just the emergency schedules. `memo` keeps each schedule's targets and each
    playlist item's files (per kind of device, and per village for recordings) across calls,
    for as long as the caller knows nothing changed (the device API: the change count,
    library/changes.py).
    """
    row = find_device(session, device_ref)
    zone_ids = tuple(z.id for z in row.zones)
    tz = row.village.tz
    if days is None:
        today = datetime.now(ZoneInfo(tz)).date()
        days = (today, today + timedelta(days=2))
    device_kind = row.kind
    viewer = Viewer("device", village=row.village.name)
    labels: dict[str, str] = {}
    names: dict[str, str] = {}
    out: list[rules.Schedule] = []
    reaching = (
        select(Schedule)
        .where(Schedule.id.in_(schedules_reaching(row.village_id, row.id, zone_ids)))
        .options(selectinload(Schedule.playlist).selectinload(Playlist.items))
    )
    if layers is not None:
        reaching = reaching.where(Schedule.layer.in_(layers))
    schedules = list(session.scalars(reaching.order_by(Schedule.id)))
    targets = _targets(session, [s.id for s in schedules], {} if memo is None else memo)
    for schedule in schedules:
        playlist = schedule.playlist
        items = list(playlist_rules(session, playlist, device_kind, viewer, labels, memo))
        if not _playable(playlist, items):
            continue
        names[str(schedule.id)] = playlist.name
        out.append(_rule_schedule(schedule, items, targets[schedule.id]))
    from .rota import rota_rules  # the rota maps its evenings with this module's helpers

    if layers is None or "interrupt" in layers:
        first = days[0] - timedelta(days=1)
        for rule, name in rota_rules(session, row, first, days[1], labels):
            names[rule.id] = name
            out.append(rule)
    fallback = None
    if row.fallback_playlist is not None and (layers is None or "fallback" in layers):
        items = list(
            playlist_rules(session, row.fallback_playlist, device_kind, viewer, labels, memo)
        )
        if _playable(row.fallback_playlist, items):
            fallback = rules.Playlist(
                id=str(row.fallback_playlist.id),
                items=tuple(items),
                shuffle=row.fallback_playlist.shuffle,
            )
            names[f"fallback:d{row.id}"] = row.fallback_playlist.name
    device = rules.Device(
        id=f"d{row.id}",
        kind=device_kind,
        village=f"v{row.village_id}",
        zones=frozenset(f"z{z}" for z in zone_ids),
        tz=tz,
        fallback=fallback,
    )
    return DeviceRules(device, out, labels, names)


def _playable(playlist: Playlist, items: list[rules.PlaylistItem]) -> bool:
    """Whether a playlist has something to play here; if not, its window stays free for lower
    layers rather than holding silence. A playlist of nothing but pauses is deliberate quiet
    and is kept; one whose files are all unplayable (not rendered yet, consent withdrawn, a
    stopped emergency that leaves only its pause) is not."""
    if any(i.media is not None for i in items):
        return True
    return bool(items) and all(item.kind == "pause" for item in playlist.items)


def playlist_rules(
    session: Session,
    playlist: Playlist,
    device_kind: str,
    viewer: Viewer | None,
    labels: dict[str, str],
    memo: dict[tuple, Any] | None = None,
) -> Iterator[rules.PlaylistItem]:
    """The playlist's items as rules for this kind of device; `viewer` None skips access."""
    for item in playlist.items:
        if item.kind == "pause":
            yield rules.PlaylistItem(pause_s=item.pause_s or 0.0, repeat=item.repeat)
            continue
        files: Iterable[tuple[rules.Media, date | None]]
        if memo is None:
            files = item_media(session, item, device_kind, viewer, labels, playlist)
        else:
            # Only a recording's access depends on who asks (the device's village).
            asks = viewer if item.kind in ("recording", "reel") else None
            key = ("item media", item.id, device_kind, asks)
            kept = memo.get(key)
            if kept is None:
                own: dict[str, str] = {}
                found = tuple(item_media(session, item, device_kind, viewer, own, playlist))
                kept = memo[key] = (found, own)
            files, their_labels = kept
            labels.update(their_labels)
        for media, until in files:
            yield rules.PlaylistItem(media=media, repeat=item.repeat, until=until)


def item_media(
    session: Session,
    item: PlaylistItem,
    device_kind: str,
    viewer: Viewer | None,
    labels: dict[str, str],
    playlist: Playlist | None = None,
) -> Iterator[tuple[rules.Media, date | None]]:
    """The files one playlist item plays on this kind of device, each with its last day."""
    screen = device_kind == "screen"
    if item.kind == "clause" and item.clause_key:
        found = _clause_media(session, newest_clause(session, item.clause_key), screen, labels)
        if found is not None:
            yield found, None
    elif item.kind == "covenant" and item.covenant_slug:
        covenant = session.scalar(
            select(lib.Covenant).where(lib.Covenant.slug == item.covenant_slug)
        )
        current = covenant.current if covenant is not None else None
        for clause in current.clauses if current is not None else ():
            found = _clause_media(session, clause, screen, labels)
            if found is not None:
                yield found, None
    elif item.kind == "recording" and item.recording_id is not None:
        recording = session.get(lib.Recording, item.recording_id)
        if recording is not None and (viewer is None or may(viewer, recording, "broadcast")):
            found = _recording_media(recording, screen, labels)
            if found is not None:
                yield found, None
    elif item.kind == "reel" and item.reel_id is not None:
        reel = session.get(lib.Reel, item.reel_id)
        recording = session.get(lib.Recording, reel.recording_id) if reel is not None else None
        allowed = recording is not None and (viewer is None or may(viewer, recording, "broadcast"))
        file = reel.file("video" if screen else "audio-loudspeaker") if allowed and reel else None
        if reel is not None and file is not None and file.duration_s:
            labels[file.sha256] = f"教唱短片 / reel {reel.clause_key} + #{reel.recording_id}"
            yield _media(file, "video" if screen else "audio", cuttable=False), None
    elif item.kind == "announcement" and item.announcement_id is not None:
        announcement = session.get(Announcement, item.announcement_id)
        if announcement is not None:
            found = announcement_media(announcement, screen, labels)
            if found is not None:
                yield found, announcement.expires_on
    elif item.kind == "list" and item.list_kind and playlist and playlist.village_id:
        from .announcements import list_entries

        for entry in list_entries(session, playlist.village_id, item.list_kind):
            found = announcement_media(entry, screen, labels)
            if found is not None:
                yield found, entry.expires_on


def announcement_media(
    announcement: Announcement, screen: bool, labels: dict[str, str]
) -> rules.Media | None:
    """The announcement's file for a screen or a loudspeaker, unless stopped or unrendered."""
    if announcement.stopped_at is not None:
        return None
    if announcement.kind in ("praise", "warning") and not announcement.reviewed_by:
        return None  # a list entry plays only once a second person has reviewed it
    file = announcement.file("video-16x9" if screen else "audio-loudspeaker")
    if file is None or not file.duration_s:
        return None
    from .announcements import short_title

    labels[file.sha256] = short_title(announcement)
    return _media(file, "video" if screen else "audio", cuttable=False)


def _clause_media(
    session: Session, clause: lib.Clause | None, screen: bool, labels: dict[str, str]
) -> rules.Media | None:
    found = newest_segment_file(clause, "video-16x9" if screen else "audio-loudspeaker")
    if clause is None or found is None:
        return None
    file, seconds = found
    labels[file.sha256] = f"条款 {clause.label} / clause {clause.key}"
    return rules.Media(file.sha256, file.size, seconds, "video" if screen else "audio")


def _recording_media(
    recording: lib.Recording, screen: bool, labels: dict[str, str]
) -> rules.Media | None:
    copy = next(
        (f for f in recording.files if f.kind == ("web" if screen else "loudspeaker")), None
    )
    if copy is None or not copy.duration_s:
        return None
    from ..catalogue.recordings import title

    labels[copy.sha256] = f"录音 #{recording.id} {title(recording)} / recording"
    kind: rules.MediaKind = "video" if copy.mime.startswith("video/") else "audio"
    return _media(copy, kind, cuttable=True)


def _media(file: lib.StoredFile, kind: rules.MediaKind, *, cuttable: bool) -> rules.Media:
    return rules.Media(file.sha256, file.size, float(file.duration_s or 0), kind, cuttable)


def _targets(
    session: Session, schedule_ids: list[int], memo: dict[tuple, Any]
) -> dict[int, rules.Target]:
    """Each schedule's targets as rules; kept in `memo`, since a county-wide schedule (an
    emergency for every village) has hundreds that every device would read again."""
    out = {i: kept for i in schedule_ids if (kept := memo.get(("targets", i))) is not None}
    wanted = [i for i in schedule_ids if i not in out]
    if wanted:
        places: dict[int, tuple[set[str], set[str], set[str]]] = {
            i: (set(), set(), set()) for i in wanted
        }
        rows = session.execute(
            select(
                ScheduleTarget.schedule_id,
                ScheduleTarget.village_id,
                ScheduleTarget.zone_id,
                ScheduleTarget.device_id,
            ).where(ScheduleTarget.schedule_id.in_(wanted))
        )
        for schedule_id, village_id, zone_id, device_id in rows:
            villages, zones, devices = places[schedule_id]
            if village_id:
                villages.add(f"v{village_id}")
            if zone_id:
                zones.add(f"z{zone_id}")
            if device_id:
                devices.add(f"d{device_id}")
        for i, (villages, zones, devices) in places.items():
            target = rules.Target(frozenset(villages), frozenset(zones), frozenset(devices))
            out[i] = memo[("targets", i)] = target
    return out


def _rule_schedule(
    schedule: Schedule, items: list[rules.PlaylistItem], target: rules.Target
) -> rules.Schedule:
    created = schedule.created_at
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
        target=target,
        created_at=created if created.tzinfo else created.replace(tzinfo=UTC),
        layer=rules.Layer[schedule.layer.upper()],
        overrun="cut" if schedule.overrun == "cut" else "finish",
        version=schedule.version,
        loop=schedule.loop,
    )

"""A village's programme for one local day, as the public may see it (the `/v/<village>` page).

Each enabled device's timeline (`device_rules.load_device_rules`) is worked out for the
day in the village's time zone and summed up per window: an unbroken run of one schedule on
one device (a looping hour is one entry, not a hundred lines) with its name, the distinct
public things it plays in order (three or more consecutive clauses as 第一条…第十四条) and
how many times it goes round (×3). Windows are merged per village: the same window opening
at the same moment on several devices is one entry naming those devices, so a resident
reads one programme, not one per loudspeaker, and still sees where it plays. A public
interruption (an emergency cutting in) splits a window into two entries around it; one the
public may not know (a gong-round call) does not, so the page does not show where it was.

Only what the public may see is named. A clause is public (published covenants are); a
recording, or a reel's song, only when `library.access.may` lets the public see it, so
village-only and restricted recordings never appear (not even as a placeholder; a window
with nothing public in it is left out). An announcement appears only when it is a notice, a
one-off, a recurring or an emergency announcement (`PUBLIC_KINDS`); praise and warning
lists (表扬榜, 黑榜) and the gong-round rota's household calls are village-protocol only and
never appear here, whatever playlist or rule plays them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import models as lib
from ..access import Viewer, may
from .device_rules import load_device_rules
from .models import Announcement, AnnouncementFile, Schedule, Village
from .places import PlaceError, find_village
from .timeline import TimelineItem

# Announcement kinds the public page may show; every other kind (praise, warning, rota, and
# any kind added later) stays off it.
PUBLIC_KINDS = ("notice", "oneoff", "recurring", "emergency")
NOTICE_ZH = {"notice": "通知", "oneoff": "通知", "recurring": "通知", "emergency": "紧急通知"}


@dataclass(frozen=True)
class ProgrammeItem:
    """One public thing a window plays: clauses, a recording, a reel or an announcement."""

    kind: str  # "clause", "recording", "reel" or "notice"
    label: str  # 第一条, 第一条…第十四条, a recording's title, a notice's text
    text: str = ""  # a single clause's text start; a reel's song title
    recording_id: int | None = None  # a recording's or a reel's song, for a link


@dataclass(frozen=True)
class ProgrammeWindow:
    """One window of a village's day: when, its name, what it plays, on which devices."""

    start: datetime  # in the village's time zone
    end: datetime
    kind: str  # "programme" (a playlist) or "notice" (an announcement's own schedule)
    title: str  # the playlist's name, or 通知 / 紧急通知
    items: tuple[ProgrammeItem, ...]
    loops: int  # how many times the window goes round its playlist (at least 1)
    devices: tuple[str, ...]


@dataclass(frozen=True)
class VillageDay:
    """A village's public programme for one local date."""

    village: str
    tz: str
    day: date
    windows: tuple[ProgrammeWindow, ...]


# A played thing as the public may know it: (kind, sort key, label, text, recording id), with
# the sort key telling consecutive clauses of one covenant version apart.
_Thing = tuple[str, tuple[int, int], str, str, int | None]


def find_village_or_none(session: Session, ref: str) -> Village | None:
    """The village named `ref`, or None when there is none or the name is ambiguous."""
    try:
        return find_village(session, ref)
    except PlaceError:
        return None


def village_programme(session: Session, village: Village, day: date) -> VillageDay:
    """What plays in `village` on local date `day`, public items only, merged over devices."""
    zone = ZoneInfo(village.tz)
    start = datetime.combine(day, time(), zone)
    end = datetime.combine(day + timedelta(days=1), time(), zone)
    things: dict[str, _Thing | None] = {}  # sha256 → what it is, if public
    merged: dict[tuple[datetime, str, str], dict] = {}
    for device in sorted(village.devices, key=lambda d: d.id):
        if not device.enabled:
            continue
        found = load_device_rules(session, str(device.id), (day, day))
        for run in _windows(session, found.timeline(start, end), things):
            window = _window(session, run, found.names, things, zone, device.name)
            if window is None:
                continue
            key = (window["start"], window["kind"], window["title"])
            if key not in merged:
                merged[key] = window
                continue
            into = merged[key]  # the same window on another device (a screen plays videos)
            into["devices"].append(device.name)
            into["end"] = max(into["end"], window["end"])
            into["loops"] = max(into["loops"], window["loops"])
            into["things"].extend(t for t in window["things"] if t not in into["things"])
    windows = tuple(
        ProgrammeWindow(
            w["start"],
            w["end"],
            w["kind"],
            w["title"],
            tuple(_items(w["things"])),
            w["loops"],
            tuple(w["devices"]),
        )
        for w in sorted(merged.values(), key=lambda w: (w["start"], w["kind"], w["title"]))
    )
    return VillageDay(village.name, village.tz, day, windows)


def _runs(items: list[TimelineItem]) -> Iterator[list[TimelineItem]]:
    """Unbroken runs of one schedule: each is a window, or the part of one not interrupted."""
    run: list[TimelineItem] = []
    for item in items:
        if run and (item.schedule_id != run[-1].schedule_id or item.start != run[-1].end):
            yield run
            run = []
        run.append(item)
    if run:
        yield run


def _windows(
    session: Session, items: list[TimelineItem], things: dict[str, _Thing | None]
) -> Iterator[list[TimelineItem]]:
    """Runs with something public in them; a run interrupted only by things the public may
    not know (a rota call) is kept whole, so the page does not show where they were."""
    groups: list[list[TimelineItem]] = []
    bridged = False  # whether only hidden runs lie, back to back, after groups[-1]
    last_end = None
    for run in _runs(items):
        back_to_back = run[0].start == last_end
        last_end = run[-1].end
        if groups and bridged and back_to_back and groups[-1][0].schedule_id == run[0].schedule_id:
            groups[-1].extend(run)
        elif any(_known(session, i, things) for i in run):
            groups.append(list(run))
            bridged = True
        else:
            bridged = bridged and back_to_back
    return iter(groups)


def _known(session: Session, item: TimelineItem, things: dict[str, _Thing | None]) -> bool:
    """Whether the public may know what `item` plays (looked up once per file)."""
    if item.media is None:
        return False
    sha = item.media.sha256
    if sha not in things:
        things[sha] = _public_thing(session, sha)
    return things[sha] is not None


def _window(
    session: Session,
    run: list[TimelineItem],
    names: dict[str, str],
    things: dict[str, _Thing | None],
    zone: ZoneInfo,
    device: str,
) -> dict | None:
    """A run on `device` summed up (start, end, kind, title, public things, loops, devices), or None when
    nothing in it is public."""
    played: list[str] = []  # sha256 of each play, hidden ones too, so loops count right
    for item in run:
        if item.media is None:
            continue
        sha = item.media.sha256
        _known(session, item, things)
        if not played or played[-1] != sha:  # a repeat in a row (or a resumed one) is one play
            played.append(sha)
    public = [sha for sha in played if things[sha] is not None]
    if not public:
        return None
    distinct = list(dict.fromkeys(things[sha] for sha in public))
    schedule_id = run[0].schedule_id
    notice = _announcement_of(session, schedule_id)
    if notice is not None:
        kind, title = "notice", NOTICE_ZH.get(notice.kind, "通知")
    else:
        kind, title = "programme", names.get(schedule_id, "")
    return {
        "start": run[0].start.astimezone(zone),
        "end": run[-1].end.astimezone(zone),
        "kind": kind,
        "title": title,
        "things": distinct,
        "loops": max(1, played.count(public[0])),
        "devices": [device],
    }


def _announcement_of(session: Session, schedule_id: str) -> Announcement | None:
    """The announcement whose own schedule this is, if it is one."""
    if not schedule_id.isdigit() or not lib.is_row_id(int(schedule_id)):
        return None
    schedule = session.get(Schedule, int(schedule_id))
    if schedule is None or schedule.playlist.announcement_id is None:
        return None
    return session.get(Announcement, schedule.playlist.announcement_id)


def _public_thing(session: Session, sha256: str) -> _Thing | None:
    """What a played file is, if the public may know it: a clause, a public recording, a reel
    of a public recording, a public kind of announcement; None for anything else."""
    announcement_file = session.scalar(
        select(AnnouncementFile).where(AnnouncementFile.sha256 == sha256).limit(1)
    )
    if announcement_file is not None:
        # Checked first: a village-only list entry or rota call is never named, even if the
        # same bytes were stored for something else.
        announcement = announcement_file.announcement
        if announcement.kind not in PUBLIC_KINDS:
            return None
        text = " ".join(announcement.text.split())
        return ("notice", (0, announcement.id), text, "", None)
    segment_file = session.scalar(
        select(lib.SegmentFile).where(lib.SegmentFile.sha256 == sha256).limit(1)
    )
    if segment_file is not None:
        clause = segment_file.segment.clause
        text = " ".join(clause.text_zh.split())
        text = text if len(text) <= 40 else text[:40] + "…"
        return ("clause", (clause.version_id, clause.number), clause.label, text, None)
    from ..catalogue.recordings import title

    media = session.scalar(select(lib.MediaFile).where(lib.MediaFile.sha256 == sha256).limit(1))
    if media is not None:
        if not may(Viewer.PUBLIC, media.recording, "show"):
            return None
        return ("recording", (0, 0), title(media.recording), "", media.recording.id)
    reel_file = session.scalar(select(lib.ReelFile).where(lib.ReelFile.sha256 == sha256).limit(1))
    if reel_file is not None:
        reel = reel_file.reel
        recording = session.get(lib.Recording, reel.recording_id)
        if recording is None or not may(Viewer.PUBLIC, recording, "show"):
            return None
        from .programme import newest_clause

        newest = newest_clause(session, reel.clause_key)
        label = newest.label if newest is not None else reel.clause_key
        return ("reel", (0, 0), label, title(recording), recording.id)
    return None


def _items(things: list[_Thing]) -> Iterator[ProgrammeItem]:
    """Things as items, three or more consecutive clauses of one version as one range."""
    index = 0
    while index < len(things):
        kind, (version, number), label, text, recording_id = things[index]
        last = index
        while (
            kind == "clause"
            and last + 1 < len(things)
            and things[last + 1][0] == "clause"
            and things[last + 1][1] == (version, things[last][1][1] + 1)
        ):
            last += 1
        if last - index >= 2:
            yield ProgrammeItem("clause", f"{label}…{things[last][2]}")
        else:
            for thing in things[index : last + 1]:
                yield ProgrammeItem(thing[0], thing[2], thing[3], thing[4])
        index = last + 1

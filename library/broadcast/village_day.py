"""A village's programme for one local day, as the public may see it (the `/v/<village>` page).

Each enabled device's timeline (`device_rules.load_device_rules`) is worked out for the
day in the village's time zone, and items are merged per village: the same thing starting at
the same moment on several devices is one line naming those devices, so a resident reads one
programme, not one per loudspeaker, and still sees where it plays. Pauses and silence are left
out. A clause is public; a recording is listed only when `library.access.may` lets the public
see it, so village-only and restricted recordings never appear (not even as a placeholder).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import models as lib
from ..access import Viewer, may
from .device_rules import load_device_rules
from .models import Village
from .places import PlaceError, find_village


@dataclass(frozen=True)
class ProgrammeLine:
    """One public item of a village's day: when, what, and on which devices."""

    start: datetime  # in the village's time zone
    end: datetime
    kind: str  # "clause" or "recording"
    label: str  # clause label (第一条) or recording title
    text: str  # the clause's text start; "" for a recording
    recording_id: int | None
    devices: tuple[str, ...]


@dataclass(frozen=True)
class VillageDay:
    """A village's public programme for one local date."""

    village: str
    tz: str
    day: date
    lines: tuple[ProgrammeLine, ...]


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
    merged: dict[tuple[datetime, str], tuple[ProgrammeLine, list[str]]] = {}
    for device in sorted(village.devices, key=lambda d: d.id):
        if not device.enabled:
            continue
        found = load_device_rules(session, str(device.id), (day, day))
        for item in found.timeline(start, end):
            if item.media is None:
                continue
            line = _public_line(session, item.media.sha256, item.start.astimezone(zone))
            if line is None:
                continue
            line = ProgrammeLine(
                line.start,
                item.end.astimezone(zone),
                line.kind,
                line.label,
                line.text,
                line.recording_id,
                (),
            )
            key = (line.start, line.label + line.text)
            merged.setdefault(key, (line, []))[1].append(device.name)
    lines = tuple(
        ProgrammeLine(
            line.start, line.end, line.kind, line.label, line.text, line.recording_id, tuple(names)
        )
        for line, names in sorted(merged.values(), key=lambda pair: pair[0].start)
    )
    return VillageDay(village.name, village.tz, day, lines)


def _public_line(session: Session, sha256: str, at: datetime) -> ProgrammeLine | None:
    """The clause or public recording behind a played file, or None if the public may not see it."""
    segment_file = session.scalar(
        select(lib.SegmentFile).where(lib.SegmentFile.sha256 == sha256).limit(1)
    )
    if segment_file is not None:
        clause = segment_file.segment.clause
        text = " ".join(clause.text_zh.split())
        text = text if len(text) <= 40 else text[:40] + "…"
        return ProgrammeLine(at, at, "clause", clause.label, text, None, ())
    media = session.scalar(select(lib.MediaFile).where(lib.MediaFile.sha256 == sha256).limit(1))
    if media is None or not may(Viewer.PUBLIC, media.recording, "show"):
        return None
    from ..catalogue.recordings import title

    return ProgrammeLine(at, at, "recording", title(media.recording), "", media.recording.id, ())

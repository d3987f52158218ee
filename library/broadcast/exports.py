"""Playlists as extended M3U8 and schedules as iCalendar (RFC 5545), written by hand.

`playlist_m3u8` lists each item's file for one kind of device (the same file the timeline
plays): a file the public site serves is given as its `/media/<name>` URL, any other (a
recording's loudspeaker copy, which the site never serves) as its path in the media store.
Pauses, unrendered items and the village-only praise and warning lists are
comments: those lists are never exported. `schedules_ics` gives one VEVENT per schedule in
the village's own time zone (TZID, with a fixed-offset VTIMEZONE), its window as DTSTART and
DTEND, the stored RRULE and EXDATE, and the playlist's name as SUMMARY; lines end in CRLF and
are folded at 75 octets. `write_atomically` writes either: a temporary name, then a rename.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import models as lib
from ..access import Viewer, media_file_for
from ..db import Database
from .announcements import short_title
from .models import Announcement, PlaylistItem, Schedule
from .places import find_village
from .programme import ProgrammeError, find_playlist, newest_clause, newest_segment_file
from .schedules import schedules_reaching

DEVICE_KINDS = ("loudspeaker", "screen")


def playlist_m3u8(
    db: Database,
    playlist_ref: str,
    device_kind: str = "loudspeaker",
    store_root: Path | None = None,
) -> str:
    """The playlist as extended M3U8 text for a loudspeaker or a screen."""
    if device_kind not in DEVICE_KINDS:
        raise ProgrammeError(
            f"设备类型（--device-kind）无效：{device_kind} / invalid --device-kind"
        )
    screen = device_kind == "screen"
    lines = ["#EXTM3U"]
    with db.session() as session:
        playlist = find_playlist(session, playlist_ref)
        where = playlist.village.name if playlist.village is not None else "全县 county"
        lines.append(f"#PLAYLIST:{playlist.name}（{where}，{device_kind}）")
        for item in playlist.items:
            if item.kind == "pause":
                lines.extend([f"# 停顿 / pause {item.pause_s:g} s"] * item.repeat)
                continue
            if item.kind == "list":
                # Praise and warning lists are village-protocol only: never exported.
                lines.append(
                    f"# 村内榜单，不导出 / village-only list, not exported: {item.list_kind}"
                )
                continue
            entries = list(_entries(session, item, screen))
            if not entries:
                lines.append(f"# 未渲染 / not rendered: {item.kind} {_item_ref(item)}")
            for seconds, title, file in entries:
                served = media_file_for(session, Viewer.PUBLIC, file.public_name)
                if served is not None or store_root is None:
                    where_file = f"/media/{file.public_name}"
                else:
                    where_file = str(store_root / file.store_path)
                for _ in range(item.repeat):
                    lines.append(f"#EXTINF:{seconds:.3f},{_one_line(title)}")
                    lines.append(where_file)
    return "\n".join(lines) + "\n"


def _entries(
    session: Session, item: PlaylistItem, screen: bool
) -> Iterator[tuple[float, str, lib.StoredFile]]:
    """(seconds, title, stored file) of each file one playlist item plays on a device kind."""
    if item.kind in ("clause", "covenant"):
        if item.kind == "clause":
            clauses = [newest_clause(session, item.clause_key or "")]
        else:
            slug = item.covenant_slug or ""
            covenant = session.scalar(select(lib.Covenant).where(lib.Covenant.slug == slug))
            current = covenant.current if covenant is not None else None
            clauses = list(current.clauses) if current is not None else []
        for clause in clauses:
            found = newest_segment_file(clause, "video-16x9" if screen else "audio-loudspeaker")
            if clause is not None and found is not None:
                yield found[1], f"{clause.label} {_start(clause.text_zh)}", found[0]
    elif item.kind == "recording":
        recording = session.get(lib.Recording, item.recording_id)
        if recording is not None:
            from ..catalogue.recordings import title as recording_title

            kind = "web" if screen else "loudspeaker"
            copy = next((f for f in recording.files if f.kind == kind), None)
            if copy is not None and copy.duration_s:
                yield copy.duration_s, recording_title(recording), copy
    elif item.kind == "reel":
        reel = session.get(lib.Reel, item.reel_id)
        file = reel.file("video" if screen else "audio-loudspeaker") if reel else None
        if reel is not None and file is not None and file.duration_s:
            yield file.duration_s, f"教唱短片 / reel {reel.clause_key}", file
    elif item.kind == "announcement":
        announcement = session.get(Announcement, item.announcement_id)
        call = (
            announcement.file("video-16x9" if screen else "audio-loudspeaker")
            if announcement
            else None
        )
        if announcement is not None and call is not None and call.duration_s:
            yield call.duration_s, short_title(announcement), call


def _item_ref(item: PlaylistItem) -> str:
    return str(
        item.clause_key
        or item.covenant_slug
        or item.recording_id
        or item.reel_id
        or item.announcement_id
    )


def schedules_ics(db: Database, village: str | None = None, now: datetime | None = None) -> str:
    """Every schedule (or those reaching `village`) as an iCalendar text with CRLF lines."""
    stamp = (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    events: list[list[str]] = []
    zones: set[str] = set()
    with db.session() as session:
        query = select(Schedule).order_by(Schedule.id)
        chosen = find_village(session, village) if village is not None else None
        if chosen is not None:
            query = query.where(Schedule.id.in_(schedules_reaching(chosen.id, None, ())))
        for schedule in session.scalars(query):
            tz = chosen.tz if chosen is not None else _first_tz(schedule)
            zones.add(tz)
            events.append(_vevent(schedule, tz, stamp))
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Kuanyue//Programme//ZH",
        "CALSCALE:GREGORIAN",
    ]
    for tz in sorted(zones):
        lines.extend(_vtimezone(tz))
    for event in events:
        lines.extend(event)
    lines.append("END:VCALENDAR")
    return "".join(fold(line) + "\r\n" for line in lines)


def fold(line: str) -> str:
    """One content line folded at 75 octets (RFC 5545 §3.1), never inside a UTF-8 character."""
    out: list[str] = []
    current, size, limit = "", 0, 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append(current)
            current, size, limit = "", 0, 74  # a continuation line starts with one space
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def write_atomically(path: Path | str, text: str) -> Path:
    """Write `text` (UTF-8, newlines as given) to `path` via a temporary name and a rename."""
    from media_pipeline.files import atomic_output

    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_bytes(text.encode("utf-8"))
    return path


def _vevent(schedule: Schedule, tz: str, stamp: str) -> list[str]:
    """The VEVENT lines of one schedule in time zone `tz`."""
    start = time.fromisoformat(schedule.window_start)
    end = time.fromisoformat(schedule.window_end)
    first = datetime.combine(schedule.starts_on, start)
    last = datetime.combine(schedule.starts_on, end)
    if last <= first:  # past midnight, or 00:00-00:00: a whole day
        last += timedelta(days=1)
    lines = [
        "BEGIN:VEVENT",
        f"UID:schedule-{schedule.id}-v{schedule.version}@kuanyue",
        f"DTSTAMP:{stamp}",
        f"DTSTART;TZID={tz}:{first:%Y%m%dT%H%M%S}",
        f"DTEND;TZID={tz}:{last:%Y%m%dT%H%M%S}",
        f"SUMMARY:{_text(schedule.playlist.name)}",
        f"CATEGORIES:{schedule.layer.upper()}",
    ]
    for raw in schedule.rrule.replace("\\n", "\n").splitlines():
        line = raw.strip()
        upper = line.upper()
        if not line:
            continue
        if upper.startswith("EXDATE"):
            days = sorted(_exdate_day(v.strip(), tz) for v in line.split(":", 1)[1].split(","))
            values = ",".join(f"{d:%Y%m%d}T{start:%H%M%S}" for d in days)
            lines.append(f"EXDATE;TZID={tz}:{values}")
        elif upper.startswith(("RDATE", "EXRULE")):
            lines.append(line)
        else:
            rule = line.split(":", 1)[1] if upper.startswith("RRULE") else line
            if (
                schedule.ends_on is not None
                and "UNTIL=" not in rule.upper()
                and "COUNT=" not in rule.upper()
            ):
                until = datetime.combine(schedule.ends_on, start, ZoneInfo(tz)).astimezone(UTC)
                rule += f";UNTIL={until:%Y%m%dT%H%M%SZ}"
            lines.append(f"RRULE:{rule}")
    lines.append("END:VEVENT")
    return lines


def _vtimezone(tz: str) -> list[str]:
    """A VTIMEZONE with the zone's current standard offset (exact for zones without DST)."""
    offset = datetime.now(ZoneInfo(tz)).utcoffset() or timedelta()
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    text = f"{sign}{abs(minutes) // 60:02d}{abs(minutes) % 60:02d}"
    return [
        "BEGIN:VTIMEZONE",
        f"TZID:{tz}",
        "BEGIN:STANDARD",
        "DTSTART:19700101T000000",
        f"TZOFFSETFROM:{text}",
        f"TZOFFSETTO:{text}",
        "END:STANDARD",
        "END:VTIMEZONE",
    ]


def _exdate_day(value: str, tz: str) -> date:
    """The local date an EXDATE value names (as the timeline reads it)."""
    if value.upper().endswith("Z"):
        moment = datetime.strptime(value[:15], "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
        return moment.astimezone(ZoneInfo(tz)).date()
    return datetime.strptime(value[:8], "%Y%m%d").date()


def _first_tz(schedule: Schedule) -> str:
    """The time zone of the schedule's first target's village."""
    for target in schedule.targets:
        if target.village is not None:
            return target.village.tz
        if target.zone is not None:
            return target.zone.village.tz
        if target.device is not None:
            return target.device.village.tz
    return "Asia/Shanghai"


def _text(value: str) -> str:
    """An iCalendar TEXT value: backslash, semicolon, comma and newline escaped."""
    return value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _start(text: str, length: int = 20) -> str:
    """The first `length` characters of a clause's text on one line."""
    flat = _one_line(text)
    return flat if len(flat) <= length else flat[:length] + "…"

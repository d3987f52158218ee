"""Announcements: typed by a cultural worker, rendered with a gong or chime, scheduled.

Kinds (models.ANNOUNCEMENT_KINDS):
- `oneoff`: now or at a local time, optionally repeated `repeat` times `every` minutes;
- `recurring`: an RFC 5545 rule (FREQ=WEEKLY;BYDAY=MO …) at a local time;
- `notice` (通知): daily at one or more times until its expiry (required);
- `emergency` (fire, flood, a missing child): the emergency layer, cutting into everything on
  its targets, looping (with a pause between calls) for `for_minutes` or until stopped;
- `praise` (表扬榜) and `warning` (黑榜/黄榜) list entries: they name a person, expire on a
  date, play only once someone other than their author has reviewed them, and only through
  a village playlist's `list` item — village-protocol only, never on a public page or in an
  export;
- `rota`: a gong-round household's call, made by library/broadcast/rota.py.

An announcement is rendered once, when it is made (media_pipeline.announcement: a few
seconds of work), stored like a clause's segment, and scheduled through its own one-item
playlist (hidden from `playlist` commands) and a schedule at the interrupt layer (emergency:
emergency), playing once per window so the programme below resumes after it. A person's own
recording (`voice`, as Dong-language announcements need) replaces synthesis; the typed text
becomes its subtitle. Stopping an announcement takes it off every device's timeline at once.
Everything is checked before rendering and written in one transaction: a bad field costs no
render and leaves nothing half-saved.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from media_pipeline.jobs import RenderOptions
from media_pipeline.tools import DEFAULT_TOOLS, Tools

from ..db import Database
from ..models import utcnow
from ..store import MediaStore, file_row, sha256_file
from .models import (
    ANNOUNCEMENT_KINDS,
    INTROS,
    LIST_KINDS,
    Announcement,
    AnnouncementFile,
    Playlist,
    PlaylistItem,
    Schedule,
)
from .places import find_village
from .programme import ProgrammeError
from .schedules import check_rrule, find_targets, village_of

if TYPE_CHECKING:
    # Imported where a render is made: the timeline and the stream only need short_title,
    # and the pipeline's import (jieba, numpy, pydub) costs about a second.
    from media_pipeline.announcement import AnnouncementJob

KIND_ZH = {
    "notice": "通知",
    "oneoff": "广播",
    "recurring": "定时广播",
    "emergency": "紧急通知",
    "praise": "表扬榜",
    "warning": "黑榜",
    "rota": "鸣锣喊寨",
}
KIND_EN = {
    "notice": "notice",
    "oneoff": "announcement",
    "recurring": "recurring announcement",
    "emergency": "emergency",
    "praise": "praise list",
    "warning": "rule-breaking list",
    "rota": "gong round",
}
# What an emergency says first, by its cause.
EMERGENCY_HEADINGS = {
    "fire": "紧急通知：火警",
    "flood": "紧急通知：洪水",
    "missing": "紧急通知：寻人",
    "other": "紧急通知",
}
TEXT_MAX = 500
EMERGENCY_GAP_S = 20.0  # between an emergency's calls, so people can act and listen again
EMERGENCY_MAX_MIN = 24 * 60
# A single-play window is the announcement's length plus this, rounded up to the minute:
# long enough to finish after a late start, short enough to hand the air straight back.
WINDOW_SLACK_S = 60.0
# Announcements need the loudspeakers' audio, the web audio for phones and the screens' clip.
RENDER_PROFILES = ("loudspeaker", "web")
RENDER_VIDEOS = ("16x9",)


@dataclass(frozen=True)
class When:
    """When an announcement plays, in the village's local time.

    `at` None is now; a bare time is today's. `times` are a notice's daily times. `rrule` is a recurring rule.
    `until` is the last local day (an expiry); `for_minutes` an emergency's length.
    """

    at: datetime | time | None = None
    times: tuple[time, ...] = ()
    rrule: str | None = None
    repeat: int = 1
    every_min: int = 0
    until: date | None = None
    for_minutes: int = 30


@dataclass(frozen=True)
class Render:
    """How to render: the speech options, the synthesis cache and the external tools."""

    options: RenderOptions
    cache_dir: Path
    tools: Tools = DEFAULT_TOOLS


@dataclass(frozen=True)
class AnnouncementInfo:
    """An announcement as `announce list` and `announce show` present it."""

    id: int
    kind: str
    village: str
    title: str
    text: str
    person: str | None
    created_by: str
    reviewed_by: str | None
    expires_on: date | None
    stopped: bool
    duration_s: float | None
    schedules: tuple[int, ...]


def short_title(announcement: Announcement) -> str:
    """「通知 #3：明天上午停电…」 / notice, for plans, lists and playlists."""
    text = " ".join(announcement.text.split())
    text = text if len(text) <= 16 else text[:16] + "…"
    kind = announcement.kind
    who = f"（{announcement.person}）" if announcement.person else ""
    return f"{KIND_ZH[kind]} #{announcement.id}{who}：{text} / {KIND_EN[kind]}"


def list_entries(session: Session, village_id: int, kind: str) -> list[Announcement]:
    """A village list's reviewed, not stopped entries; the timeline applies their expiry."""
    query = (
        select(Announcement)
        .where(
            Announcement.village_id == village_id,
            Announcement.kind == kind,
            Announcement.reviewed_by.is_not(None),
            Announcement.stopped_at.is_(None),
        )
        .order_by(Announcement.id)
    )
    return list(session.scalars(query))


def announce(
    db: Database,
    store: MediaStore,
    render: Render,
    *,
    village: str,
    kind: str,
    text: str,
    created_by: str,
    when: When = When(),
    zones: Sequence[str] = (),
    devices: Sequence[str] = (),
    intro: str = "gong",
    voice: Path | None = None,
    dong_text: str | None = None,
    person: str | None = None,
    emergency: str = "other",
    now: datetime | None = None,
) -> AnnouncementInfo:
    """Check, render, store and schedule one announcement; ProgrammeError naming a bad field."""
    text = _clean_text(text)
    created_by = _who(created_by, "--by")
    if kind not in ANNOUNCEMENT_KINDS or kind == "rota":
        raise ProgrammeError(f"通知类型（--kind）无效：{kind} / invalid --kind {kind!r}")
    if intro not in INTROS:
        raise ProgrammeError(f"开头（--intro）应为 gong、chime 或 none：{intro} / invalid --intro")
    if emergency not in EMERGENCY_HEADINGS:
        raise ProgrammeError(f"紧急类型无效：{emergency} / invalid emergency cause {emergency!r}")
    if kind in LIST_KINDS:
        if not (person or "").strip():
            raise ProgrammeError("表扬榜/黑榜须写人名（--person）/ list entries need --person")
        if when.until is None:
            raise ProgrammeError("表扬榜/黑榜须有截止日期（--until）/ list entries need --until")
    if kind == "notice" and when.until is None:
        raise ProgrammeError("通知须有截止日期（--until）/ a notice needs --until (its expiry)")
    with db.session() as session:
        place = find_village(session, village)
        tz, village_name, village_id = place.tz, place.name, place.id
        # Zones and devices are named within the village unless a reference says otherwise.
        zones = tuple(z if "/" in z else f"{village_name}/{z}" for z in zones)
        devices = tuple(
            d if "/" in d or d.strip().isdigit() else f"{village_name}/{d}" for d in devices
        )
        find_targets(session, (), zones, devices)  # fail before rendering
    local_now = (
        (now or datetime.now(ZoneInfo(tz)))
        .astimezone(ZoneInfo(tz))
        .replace(tzinfo=None, microsecond=0)
    )
    windows = [] if kind in LIST_KINDS else _windows(kind, when, local_now)
    voice_sha = _voice_sha(voice) if voice is not None else None
    heading = EMERGENCY_HEADINGS[emergency] if kind == "emergency" else KIND_ZH[kind]
    from media_pipeline.announcement import AnnouncementJob

    job = AnnouncementJob(
        key=f"announcement-{kind}",
        text_zh=text,
        heading=heading,
        village=village_name,
        kind_label=f"{KIND_ZH[kind]} / {KIND_EN[kind]}",
        text_dong=(dong_text or "").strip() or None,
        intro=intro,
        voice=str(voice) if voice is not None else None,
        voice_sha256=voice_sha,
        options=announcement_options(render.options),
    )
    files = render_and_store(store, render, job)
    if voice is not None:
        files.append(_voice_row(store, voice))
    with db.session(write=True) as session:
        row = Announcement(
            village_id=village_id,
            kind=kind,
            text=text,
            dong_text=job.text_dong,
            person=(person or "").strip() or None,
            intro=intro,
            created_by=created_by,
            expires_on=when.until,
            inputs_hash=job.inputs_hash(),
            files=files,
        )
        session.add(row)
        session.flush()
        if windows:
            _schedule(session, row, windows, when, zones, devices)
        session.flush()
        return _info(session, row)


def review(db: Database, announcement_id: int, reviewer: str) -> AnnouncementInfo:
    """Record a second person's review of a praise or warning entry, so it may play."""
    reviewer = _who(reviewer, "--by")
    with db.session(write=True) as session:
        row = _find(session, announcement_id)
        if row.kind not in LIST_KINDS:
            raise ProgrammeError(
                f"只有表扬榜/黑榜条目需要审核：#{row.id} / only praise and warning entries are"
                " reviewed (ID)"
            )
        if reviewer.casefold() == row.created_by.casefold():
            raise ProgrammeError(
                f"须由另一个人审核（--by 不能是 {row.created_by}）/ the review must be by someone"
                f" other than its author {row.created_by} (--by)"
            )
        row.reviewed_by, row.reviewed_at = reviewer, utcnow()
        return _info(session, row)


def stop(db: Database, announcement_id: int) -> AnnouncementInfo:
    """Take an announcement off every timeline now (an emergency called off, a notice withdrawn)."""
    with db.session(write=True) as session:
        row = _find(session, announcement_id)
        if row.stopped_at is None:
            row.stopped_at = utcnow()
        for schedule in _schedules_of(session, row):
            schedule.version += 1  # devices' rules versions (their ETags) change with it
        return _info(session, row)


def list_announcements(
    db: Database, village: str | None = None, kind: str | None = None
) -> list[AnnouncementInfo]:
    """Announcements (not the rota's calls), newest first, optionally of one village or kind."""
    with db.session() as session:
        query = select(Announcement).where(Announcement.kind != "rota")
        if village is not None:
            query = query.where(Announcement.village_id == find_village(session, village).id)
        if kind is not None:
            query = query.where(Announcement.kind == kind)
        rows = session.scalars(query.order_by(Announcement.id.desc()))
        return [_info(session, r) for r in rows]


def render_and_store(
    store: MediaStore, render: Render, job: AnnouncementJob
) -> list[AnnouncementFile]:
    """Render `job` in a scratch folder and move its outputs into the store as file rows."""
    from media_pipeline.announcement import render_announcement

    with tempfile.TemporaryDirectory(prefix="kuanyue-announce-") as scratch:
        out = render_announcement(job, render.cache_dir, Path(scratch), render.tools)
        return [file_row(store, made, AnnouncementFile()) for made in out.files]


# --- timing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Window:
    rrule: str
    start: datetime  # local, naive: the first opening
    length_s: float | None  # None: the announcement's own length plus slack
    ends_on: date | None
    layer: str
    loop: bool


def _windows(kind: str, when: When, now: datetime) -> list[_Window]:
    """The schedule windows `when` asks for; ProgrammeError naming the field that is wrong."""
    at = when.at if when.at is not None else now
    if isinstance(at, time):
        at = datetime.combine(now.date(), at)
    at = at.replace(microsecond=0, tzinfo=None)
    if when.until is not None and when.until < at.date():
        raise ProgrammeError("截止日期（--until）已过 / --until is in the past")
    if kind == "emergency":
        if not 1 <= when.for_minutes <= EMERGENCY_MAX_MIN:
            raise ProgrammeError(
                f"紧急广播时长（--for）应在 1–{EMERGENCY_MAX_MIN} 分钟 / --for must be 1–"
                f"{EMERGENCY_MAX_MIN} minutes"
            )
        return [_Window("FREQ=DAILY;COUNT=1", at, when.for_minutes * 60.0, None, "emergency", True)]
    if kind == "notice":
        times = when.times or (at.time(),)
        start_day = at.date()
        out = []
        for t in sorted(set(times)):
            day = (
                start_day if t >= now.time() or start_day > now.date() else start_day + timedelta(1)
            )
            first = datetime.combine(day, t)
            out.append(_Window("FREQ=DAILY", first, None, when.until, "interrupt", False))
        return out
    if kind == "recurring":
        if not when.rrule:
            raise ProgrammeError(
                "定时广播须有重复规则（--rrule）/ a recurring announcement needs --rrule"
            )
        check_rrule(when.rrule, at.date(), at.time())
        return [_Window(when.rrule.strip(), at, None, when.until, "interrupt", False)]
    # oneoff
    if when.at is not None and at < now - timedelta(minutes=1):
        raise ProgrammeError(f"时间（--at）已过：{at:%Y-%m-%d %H:%M} / --at is in the past")
    if when.repeat < 1 or (when.repeat > 1 and when.every_min < 1):
        raise ProgrammeError(
            "重复（--repeat）须配间隔（--every 分钟）/ --repeat needs --every MINUTES"
        )
    rule = "FREQ=DAILY;COUNT=1"
    if when.repeat > 1:
        rule = f"FREQ=MINUTELY;INTERVAL={when.every_min};COUNT={when.repeat}"
    return [_Window(rule, at, None, when.until, "interrupt", False)]


def _schedule(
    session: Session,
    row: Announcement,
    windows: list[_Window],
    when: When,
    zones: Sequence[str],
    devices: Sequence[str],
) -> None:
    """The announcement's own playlist and one schedule per window, on its targets."""
    playlist = Playlist(name=short_title(row), village_id=row.village_id, announcement_id=row.id)
    playlist.items.append(PlaylistItem(kind="announcement", announcement_id=row.id, position=1))
    if row.kind == "emergency":
        playlist.items.append(PlaylistItem(kind="pause", pause_s=EMERGENCY_GAP_S, position=2))
    session.add(playlist)
    audio = row.file("audio-loudspeaker")
    seconds = (audio.duration_s if audio is not None else None) or 0.0
    for window in windows:
        targets = find_targets(session, (), tuple(zones), tuple(devices))
        if not targets:
            targets = find_targets(session, (row.village.name,), (), ())
        for target in targets:
            if village_of(target).id != row.village_id:
                raise ProgrammeError(
                    f"目标不在{row.village.name}（--zone/--device）/ a target is outside"
                    f" {row.village.name} (--zone/--device)"
                )
        length = window.length_s or math.ceil((seconds + WINDOW_SLACK_S) / 60.0) * 60.0
        length = min(length, 24 * 3600.0 - 1)
        if when.repeat > 1 and when.every_min * 60 < length:
            raise ProgrammeError(
                f"间隔（--every）至少 {math.ceil(length / 60)} 分钟，要容下一遍广播 / --every must be"
                f" at least {math.ceil(length / 60)} minutes, one play of the announcement"
            )
        end = window.start + timedelta(seconds=length)
        session.add(
            Schedule(
                playlist=playlist,
                rrule=window.rrule,
                window_start=window.start.time().isoformat(timespec="seconds"),
                window_end=end.time().isoformat(timespec="seconds"),
                starts_on=window.start.date(),
                ends_on=window.ends_on,
                layer=window.layer,
                overrun="finish",
                loop=window.loop,
                targets=targets,
            )
        )


# --- helpers ------------------------------------------------------------------------------------


def announcement_options(options: RenderOptions) -> RenderOptions:
    """The render options with the outputs announcements need (no music bed)."""
    from dataclasses import replace

    return replace(options, profiles=RENDER_PROFILES, video_sizes=RENDER_VIDEOS, music_bed=None)


def _voice_row(store: MediaStore, voice: Path) -> AnnouncementFile:
    """The person's recording itself, kept (copied, not moved) beside what was made from it."""
    from media_pipeline.files import MadeFile

    made = MadeFile("voice", str(voice), "application/octet-stream")
    return file_row(store, made, AnnouncementFile(), move=False)


def _voice_sha(voice: Path) -> str:
    """The recording's sha256; ProgrammeError naming --voice and the file if it cannot be read
    (a FIFO or a device is refused at once, never waited on)."""
    try:
        return sha256_file(voice)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise ProgrammeError(
            f"录音（--voice）无法读取：{voice}（{reason}）/ cannot read the --voice file {voice}"
        ) from None


def _clean_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise ProgrammeError("通知内容（TEXT）不能为空 / the announcement TEXT is empty")
    if len(text) > TEXT_MAX:
        raise ProgrammeError(
            f"通知内容（TEXT）太长（最多 {TEXT_MAX} 字）/ TEXT is too long (at most {TEXT_MAX})"
        )
    return text


def _who(name: str, field: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ProgrammeError(f"请写明是谁（{field}）/ say who ({field})")
    return name[:100]


def _find(session: Session, announcement_id: int) -> Announcement:
    from ..models import is_row_id

    row = session.get(Announcement, announcement_id) if is_row_id(announcement_id) else None
    if row is None:
        raise ProgrammeError(
            f"找不到通知（ID）：{announcement_id} / no announcement {announcement_id}"
        )
    return row


def _schedules_of(session: Session, row: Announcement) -> list[Schedule]:
    return list(
        session.scalars(select(Schedule).join(Playlist).where(Playlist.announcement_id == row.id))
    )


def _info(session: Session, row: Announcement) -> AnnouncementInfo:
    audio = row.file("audio-loudspeaker")
    return AnnouncementInfo(
        id=row.id,
        kind=row.kind,
        village=row.village.name,
        title=short_title(row),
        text=row.text,
        person=row.person,
        created_by=row.created_by,
        reviewed_by=row.reviewed_by,
        expires_on=row.expires_on,
        stopped=row.stopped_at is not None,
        duration_s=audio.duration_s if audio is not None else None,
        schedules=tuple(s.id for s in _schedules_of(session, row)),
    )

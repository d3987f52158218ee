"""Teaching reels: a clause's narrated card followed by the recording span that sings it.

A reel is made of an MP4 for screens and an MP3 for loudspeakers, so its recording must be
one the maker may both stream and broadcast (`library.access.may`), asked when the reel is
planned. `compose_reel` writes a reel to a folder; `store_reel` keeps it in the content
store as a `Reel` row with its files, for playlists.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import false, select
from sqlalchemy.orm import Session, selectinload

from media_pipeline.files import MadeFile
from media_pipeline.tools import DEFAULT_TOOLS, Tools

from ..access import Viewer, can_see_track, may, visible_recordings
from ..db import Database
from ..errors import LibraryError
from ..models import (
    Clause,
    ClauseSpan,
    CovenantVersion,
    Recording,
    Reel,
    ReelFile,
    Segment,
    TextTrack,
    is_row_id,
)
from ..store import MediaStore, file_row

if TYPE_CHECKING:
    from media_pipeline.recordings.reel import ReelResult


@dataclass(frozen=True)
class ReelPlan:
    """Everything needed to compose a reel, as plain values."""

    clause_key: str
    recording_id: int
    card: Path
    source: Path
    is_video: bool
    still: Path | None
    start_s: float
    end_s: float
    lyrics: tuple[tuple[float, float, str | None, str | None], ...]  # (start, end, zh, dong)


def _card(session: Session, store: MediaStore, clause_key: str) -> Path:
    clause = session.scalar(
        select(Clause)
        .join(CovenantVersion)
        .where(Clause.key == clause_key)
        .order_by(CovenantVersion.number.desc())
        .limit(1)
        .options(selectinload(Clause.segments).selectinload(Segment.files))
    )
    if clause is None:
        raise LibraryError(
            f"找不到条款 {clause_key!r} / no clause {clause_key!r} (see kuanyue covenant show)"
        )
    video = next(
        (s.file("video-16x9") for s in reversed(clause.segments) if s.file("video-16x9")), None
    )
    if video is None:
        slug = clause_key.rsplit("-", 1)[0]
        raise LibraryError(
            f"条款 {clause_key} 还没有视频，请先运行 kuanyue render --covenant {slug} / "
            f"clause {clause_key} has no video yet: run kuanyue render --covenant {slug}"
        )
    return store.path(video.store_path)


def _lyrics(viewer: Viewer, tracks: list[TextTrack], start: float, end: float) -> tuple:
    """Timed lines inside [start, end] from the tracks the viewer may read, Dong paired with Chinese."""
    timed = [
        t
        for t in tracks
        if can_see_track(viewer, t) and any(ln.start_s is not None for ln in t.lines)
    ]
    dong_tracks = [t for t in timed if t.lang != "zh-Hans"]
    zh_tracks = [t for t in timed if t.lang == "zh-Hans"]
    base = (dong_tracks or zh_tracks)[:1]
    if not base:
        return ()
    other = zh_tracks[:1] if dong_tracks else []
    out = []
    for line in base[0].lines:
        line_start = line.start_s
        if line_start is None:
            continue
        line_end = _line_end(line)
        if line_end <= start or line_start >= end:
            continue
        zh = None
        if other:
            # The Chinese line that overlaps this Dong line the most.
            best = max(
                other[0].lines, default=None, key=lambda z: _overlap(z, line_start, line_end)
            )
            zh = (
                best.text if best is not None and _overlap(best, line_start, line_end) > 0 else None
            )
        dong, zh = (line.text, zh) if dong_tracks else (None, line.text)
        out.append((max(line_start, start), min(line_end, end), zh, dong))
    return tuple(out)


def _line_end(line) -> float:  # noqa: ANN001 - a TextLine
    # The last line of an LRC file has no end: give it a few seconds, as players do.
    return line.end_s if line.end_s is not None else line.start_s + 4.0


def _overlap(line, start: float, end: float) -> float:  # noqa: ANN001
    if line.start_s is None:
        return 0.0
    line_end = _line_end(line)
    return max(0.0, min(end, line_end) - max(start, line.start_s))


def plan_reel(
    session: Session,
    store: MediaStore,
    clause_key: str,
    viewer: Viewer,
    recording_id: int | None = None,
) -> ReelPlan:
    """Choose the span that teaches the clause, and gather its parts.

    Only spans of recordings `viewer` may see are considered, and of those only recordings
    that may be streamed and broadcast now: a reel ends in a loudspeaker MP3. A span the
    viewer may see but not use is refused with the reason; one it may not see is not there.
    """
    card = _card(session, store, clause_key)
    query = (
        select(ClauseSpan)
        .join(Recording)
        .where(ClauseSpan.clause_key == clause_key, visible_recordings(viewer))
        .order_by(ClauseSpan.relation != "teaches", ClauseSpan.id)
        .options(
            selectinload(ClauseSpan.recording).selectinload(Recording.files),
            selectinload(ClauseSpan.recording)
            .selectinload(Recording.tracks)
            .selectinload(TextTrack.lines),
            selectinload(ClauseSpan.recording).selectinload(Recording.stewards),
            selectinload(ClauseSpan.recording).selectinload(Recording.consents),
        )
    )
    if recording_id is not None:
        query = query.where(
            ClauseSpan.recording_id == recording_id if is_row_id(recording_id) else false()
        )
    seen = session.scalars(query).all()
    usable = [
        linked
        for linked in seen
        if may(viewer, linked.recording, "stream") and may(viewer, linked.recording, "broadcast")
    ]
    if not seen:
        raise LibraryError(
            f"没有可用的录音片段与条款 {clause_key} 关联 / no recording span you may use is linked to "
            f"{clause_key}: kuanyue catalogue link ID --clause {clause_key} --from MM:SS --to MM:SS"
        )
    if not usable:
        ids = ", ".join(f"#{n}" for n in dict.fromkeys(linked.recording_id for linked in seen))
        raise LibraryError(
            f"与条款 {clause_key} 关联的录音（{ids}）现在不能广播或不能播放：短片的大喇叭 MP3 "
            f"需要有效的广播授权（受限录音不能广播），且没有撤回的授权 / the recordings linked to "
            f"{clause_key} ({ids}) may not be broadcast or streamed now: a reel's loudspeaker MP3 "
            f"needs a valid broadcast consent on a public or village recording, and no consent "
            f"withdrawn (kuanyue catalogue show ID)"
        )
    span = usable[0]
    recording = span.recording
    files = {f.kind: f for f in recording.files}
    original = files["original"]
    # The web copy plays everywhere and is already conformed; the original is the fallback.
    source = files.get("web", original)
    is_video = source.mime.startswith("video/")
    still = files.get("poster") or files.get("waveform")
    return ReelPlan(
        clause_key=clause_key,
        recording_id=recording.id,
        card=card,
        source=store.path(source.store_path),
        is_video=is_video,
        still=store.path(still.store_path) if still and not is_video else None,
        start_s=span.start_s,
        end_s=span.end_s,
        lyrics=_lyrics(viewer, recording.tracks, span.start_s, span.end_s),
    )


def make_clause_reel(
    plan: ReelPlan, out_dir: Path, *, font: str = "Noto Sans CJK SC", tools: Tools = DEFAULT_TOOLS
) -> tuple[Path, Path]:
    """Compose the planned reel into `out_dir`: an MP4 for screens and an MP3 for loudspeakers."""
    result = _compose(plan, Path(out_dir), font, tools)
    return result.video, result.audio


def _compose(plan: ReelPlan, out_dir: Path, font: str, tools: Tools) -> ReelResult:
    from media_pipeline.recordings.reel import Excerpt, LyricLine, make_reel

    stem = f"reel-{plan.clause_key}-{plan.recording_id}"
    return make_reel(
        plan.card,
        Excerpt(plan.source, plan.start_s, plan.end_s, plan.is_video, plan.still),
        [LyricLine(*line) for line in plan.lyrics],
        out_dir / f"{stem}.mp4",
        out_dir / f"{stem}.mp3",
        font=font,
        tools=tools,
    )


def compose_reel(
    db: Database,
    store: MediaStore,
    clause_key: str,
    viewer: Viewer,
    out_dir: Path,
    *,
    recording_id: int | None = None,
    font: str = "Noto Sans CJK SC",
    tools: Tools = DEFAULT_TOOLS,
    planned: Callable[[ReelPlan], None] | None = None,
) -> tuple[Path, Path]:
    """Plan the reel as `viewer` may see it, then compose it (MP4, MP3) into `out_dir`.

    `planned` hears the plan before the slow composing starts. The plan is made in a session
    of its own, closed before any media work.
    """
    with db.session() as session:
        plan = plan_reel(session, store, clause_key, viewer, recording_id)
    if planned:
        planned(plan)
    return make_clause_reel(plan, out_dir, font=font, tools=tools)


REEL_KINDS = (("video", "video/mp4"), ("audio-loudspeaker", "audio/mpeg"))


def store_reel(
    db: Database,
    store: MediaStore,
    clause_key: str,
    viewer: Viewer,
    recording_id: int | None = None,
    *,
    font: str = "Noto Sans CJK SC",
    tools: Tools = DEFAULT_TOOLS,
    planned: Callable[[ReelPlan], None] | None = None,
) -> int:
    """The id of the stored reel of `clause_key` (and `recording_id`, else the first usable
    span's recording): composed in a scratch folder and put into the content store as a `Reel`
    with its `video` (MP4) and `audio-loudspeaker` (MP3) files, unless it is stored already.

    `viewer` is who makes it: the plan (and so the access check, stream and broadcast) is
    theirs, asked every time, also when the reel exists. A stored reel is shared by every
    playlist that plays it, so its burned-in lyrics are not the maker's but those its audience
    may read (`_audience`): a maker who may read a restricted track does not put it on every
    screen. `planned` hears the plan before the slow composing starts.
    """
    with db.session() as session:
        plan = plan_reel(session, store, clause_key, viewer, recording_id)
        existing = _stored(session, clause_key, plan.recording_id)
        if existing is not None:
            return existing
        recording = session.get(Recording, plan.recording_id)
        assert recording is not None  # planned from it a moment ago
        lyrics = _lyrics(_audience(recording), recording.tracks, plan.start_s, plan.end_s)
        plan = dataclasses.replace(plan, lyrics=lyrics)
    if planned:
        planned(plan)
    with tempfile.TemporaryDirectory(prefix="kuanyue-reel-") as scratch:
        result = _compose(plan, Path(scratch), font, tools)
        made = {
            "video": MadeFile("video", str(result.video), "video/mp4", result.duration_s),
            "audio-loudspeaker": MadeFile(
                "audio-loudspeaker", str(result.audio), "audio/mpeg", result.duration_s
            ),
        }
        with db.session(write=True) as session:
            # Someone may have stored it meanwhile: theirs stands, ours is never recorded
            # (and the store's garbage collection takes the files if they were new).
            existing = _stored(session, clause_key, plan.recording_id)
            if existing is not None:
                return existing
            reel = session.scalar(
                select(Reel).where(
                    Reel.clause_key == clause_key, Reel.recording_id == plan.recording_id
                )
            )
            if reel is None:
                reel = Reel(clause_key=clause_key, recording_id=plan.recording_id)
                session.add(reel)
            for kind, _mime in REEL_KINDS:
                old = reel.file(kind)
                if old is not None:  # a reel left with one file: both are made again
                    reel.files.remove(old)
            session.flush()
            reel.files.extend(file_row(store, made[kind], ReelFile()) for kind, _ in REEL_KINDS)
            session.flush()
            return reel.id


def _stored(session: Session, clause_key: str, recording_id: int) -> int | None:
    """The id of the reel of this clause and recording if both its files are stored."""
    reel = session.scalar(
        select(Reel).where(Reel.clause_key == clause_key, Reel.recording_id == recording_id)
    )
    if reel is None or any(reel.file(kind) is None for kind, _ in REEL_KINDS):
        return None
    return reel.id


def _audience(recording: Recording) -> Viewer:
    """Who may be shown a stored reel of `recording`: the public for a public recording, the
    recording's village for a village one (the only protocols that may be broadcast)."""
    if recording.protocol == "village" and recording.village:
        return Viewer("resident", village=recording.village)
    return Viewer.PUBLIC

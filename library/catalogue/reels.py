"""Teaching reels: a clause's narrated card followed by the recording span that sings it.

A reel is made of an MP4 for screens and an MP3 for loudspeakers, so its recording must be
one the maker may both stream and broadcast (`library.access.may`), asked when the reel is
planned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import false, select
from sqlalchemy.orm import Session, selectinload

from media_pipeline.tools import DEFAULT_TOOLS, Tools

from ..access import Viewer, can_see_track, may, visible_recordings
from ..db import Database
from ..errors import LibraryError
from ..models import (
    Clause,
    ClauseSpan,
    CovenantVersion,
    Recording,
    Segment,
    TextTrack,
    is_row_id,
)
from ..store import MediaStore


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
    from media_pipeline.recordings.reel import Excerpt, LyricLine, make_reel

    out_dir = Path(out_dir)
    stem = f"reel-{plan.clause_key}-{plan.recording_id}"
    result = make_reel(
        plan.card,
        Excerpt(plan.source, plan.start_s, plan.end_s, plan.is_video, plan.still),
        [LyricLine(*line) for line in plan.lyrics],
        out_dir / f"{stem}.mp4",
        out_dir / f"{stem}.mp3",
        font=font,
        tools=tools,
    )
    return result.video, result.audio


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

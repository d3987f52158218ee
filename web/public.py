"""Public pages for residents: covenants, clauses with video, audio and downloads."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from library.access import Viewer, can_see_track, visible_recordings
from library.catalogue.recordings import LOAD_ALL
from library.catalogue.recordings import title as recording_title
from library.covenants.versions import get_covenant
from library.errors import CovenantNotFound
from library.models import (
    Clause,
    ClauseSpan,
    Covenant,
    CovenantVersion,
    MediaFile,
    Recording,
    Segment,
    SegmentFile,
)

bp = Blueprint("public", __name__)

DOWNLOADS = (
    ("video-16x9", _l("视频 16:9")),
    ("video-9x16", _l("竖屏视频 9:16")),
    ("audio-loudspeaker", _l("大喇叭 MP3")),
    ("audio-web", _l("手机 Opus")),
    ("audio-archive", _l("存档 FLAC")),
    ("subtitles-srt", _l("字幕 SRT")),
    ("subtitles-vtt", _l("字幕 WebVTT")),
    ("subtitles-ass", _l("字幕 ASS")),
)


def _db():
    return current_app.extensions["kuanyue.db"]


# Originals stay in the archive; pages stream the derived copies and show the pictures.
PUBLIC_KINDS = ("web", "waveform", "peaks", "poster")


def viewer() -> Viewer:
    """Who is asking. Pages have no sign-in yet, so every visitor is the public."""
    return Viewer.PUBLIC


@bp.get("/recordings")
def recordings():  # noqa: ANN201 - Flask view
    """Recordings the visitor may see, with a search box."""
    from library.search import search

    query = request.args.get("q", "").strip()
    with _db().session() as session:
        hits = search(session, query, viewer(), limit=200)
        by_id = {
            r.id: r
            for r in session.scalars(
                select(Recording)
                .where(Recording.id.in_([h.recording_id for h in hits]))
                .options(
                    selectinload(Recording.texts),
                    selectinload(Recording.genre),
                    selectinload(Recording.files),
                )
            )
        }
        items = [(h, by_id[h.recording_id]) for h in hits if h.recording_id in by_id]
        return render_template("recordings.html", items=items, query=query)


@bp.get("/recordings/<int:recording_id>")
def recording(recording_id: int):  # noqa: ANN201 - Flask view
    """One recording: player with waveform, lyrics side by side, linked clauses."""
    who = viewer()
    with _db().session() as session:
        rec = session.scalar(
            select(Recording)
            .where(Recording.id == recording_id, visible_recordings(who))
            .options(*LOAD_ALL)
        )
        if rec is None:
            abort(404)  # not "forbidden": a hidden recording does not exist for this visitor
        tracks = [t for t in rec.tracks if can_see_track(who, t)]
        files = {f.kind: f for f in rec.files if f.kind in PUBLIC_KINDS}
        keys = [s.clause_key for s in rec.spans]
        clauses = {
            c.key: c
            for c in session.scalars(
                select(Clause)
                .join(CovenantVersion)
                .join(Covenant)
                .where(Clause.key.in_(keys), Covenant.published)
            )
        }
        return render_template(
            "recording.html", rec=rec, tracks=tracks, files=files, clauses=clauses
        )


@bp.get("/")
def index():  # noqa: ANN201 - Flask view
    """All published covenants."""
    with _db().session() as session:
        covenants = session.scalars(
            select(Covenant)
            .where(Covenant.published)
            .order_by(Covenant.village)
            .options(selectinload(Covenant.versions).selectinload(CovenantVersion.clauses))
        ).all()
        return render_template("index.html", covenants=covenants)


@bp.get("/c/<slug>")
def covenant(slug: str):  # noqa: ANN201 - Flask view
    """A covenant's current version, each clause with its media."""
    with _db().session() as session:
        try:
            cov = get_covenant(session, slug)
        except CovenantNotFound:
            abort(404)
        if not cov.published:
            abort(404)
        version = cov.current
        clauses = (
            session.scalars(
                select(Clause)
                .where(Clause.version_id == version.id)
                .order_by(Clause.position)
                .options(selectinload(Clause.segments).selectinload(Segment.files))
            ).all()
            if version
            else []
        )
        # The recordings that sing each clause, as far as this visitor may see them.
        sung: dict[str, list[tuple[ClauseSpan, str]]] = {}
        spans = session.scalars(
            select(ClauseSpan)
            .join(Recording)
            .where(
                ClauseSpan.clause_key.in_([c.key for c in clauses]), visible_recordings(viewer())
            )
            .options(selectinload(ClauseSpan.recording).selectinload(Recording.texts))
        )
        for span in spans:
            sung.setdefault(span.clause_key, []).append((span, recording_title(span.recording)))
        return render_template(
            "covenant.html",
            covenant=cov,
            version=version,
            clauses=clauses,
            downloads=DOWNLOADS,
            sung=sung,
        )


_MEDIA_NAME = re.compile(r"^([0-9a-f]{64})(\.[a-z0-9]{1,5})?$")


@bp.get("/media/<name>")
def media(name: str):  # noqa: ANN201 - Flask view
    """A stored file by content hash, with HTTP range requests, if the visitor may have it."""
    match = _MEDIA_NAME.match(name)
    if not match:
        abort(404)
    with _db().session() as session:
        # Published covenants are public; recordings' files pass the one access filter.
        row = session.scalar(
            select(SegmentFile)
            .join(Segment)
            .join(Clause)
            .join(CovenantVersion)
            .join(Covenant)
            .where(SegmentFile.sha256 == match.group(1), Covenant.published)
            .limit(1)
        ) or session.scalar(
            select(MediaFile)
            .join(Recording)
            .where(
                MediaFile.sha256 == match.group(1),
                MediaFile.kind.in_(PUBLIC_KINDS),
                visible_recordings(viewer()),
            )
            .limit(1)
        )
    if row is None:
        abort(404)
    path = current_app.extensions["kuanyue.store"].path(row.store_path)
    if not path.exists():
        abort(404)
    # Content-addressed: the bytes behind a name never change, so caches may keep them.
    return send_file(path, mimetype=row.mime, conditional=True, max_age=31536000, etag=row.sha256)

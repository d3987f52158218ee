"""Public pages for residents: covenants, clauses with video, audio and downloads."""

from __future__ import annotations

import re

from flask import Blueprint, abort, current_app, render_template, send_file
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from library.covenants import get_covenant
from library.errors import CovenantNotFound
from library.models import Clause, Covenant, CovenantVersion, Segment, SegmentFile

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
        return render_template(
            "covenant.html", covenant=cov, version=version, clauses=clauses, downloads=DOWNLOADS
        )


_MEDIA_NAME = re.compile(r"^([0-9a-f]{64})(\.[a-z0-9]{1,5})?$")


@bp.get("/media/<name>")
def media(name: str):  # noqa: ANN201 - Flask view
    """A stored file by content hash, with HTTP range requests; only files of published covenants."""
    match = _MEDIA_NAME.match(name)
    if not match:
        abort(404)
    with _db().session() as session:
        # The access rule of this issue: published covenants are public, nothing else is served.
        row = session.scalar(
            select(SegmentFile)
            .join(Segment)
            .join(Clause)
            .join(CovenantVersion)
            .join(Covenant)
            .where(SegmentFile.sha256 == match.group(1), Covenant.published)
            .limit(1)
        )
    if row is None:
        abort(404)
    path = current_app.extensions["kuanyue.store"].path(row.store_path)
    if not path.exists():
        abort(404)
    # Content-addressed: the bytes behind a name never change, so caches may keep them.
    return send_file(path, mimetype=row.mime, conditional=True, max_age=31536000, etag=row.sha256)

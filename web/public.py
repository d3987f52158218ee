"""Public pages for residents: covenants, clauses with video, audio and downloads.

Each view parses the request, calls one library function (`library.covenants.queries`,
`library.catalogue.queries`, `library.access.media_file_for`, and for a village's programme
`library.broadcast.village_day`) and renders what it returns;
the queries and the access rule live in the library.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, send_file
from flask_babel import lazy_gettext as _l
from werkzeug.http import parse_range_header

from library.access import Viewer, media_file_for
from library.broadcast.village_day import find_village_or_none, village_programme
from library.catalogue.queries import recording_list, recording_page
from library.covenants.display import display_lines, script_lang
from library.covenants.queries import covenant_page, published_covenants
from library.covenants.rendering import clause_heading

bp = Blueprint("public", __name__)
YEAR = 365 * 86400

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

# Language tags and performer roles as a reader names them (templates show these, never codes).
LANG_NAMES = {
    "zh-Hans": _l("简体中文"),
    "zh-Hant": _l("繁体中文"),
    "kmc-Latn": _l("南部侗语（拉丁字母）"),
    "doc-Latn": _l("北部侗语（拉丁字母）"),
}
ROLE_NAMES = {
    "lead": _l("领唱"),
    "chorus": _l("合唱"),
    "musician": _l("乐手"),
    "actor": _l("演员"),
    "recorder": _l("录制者"),
}

# Presentation helpers the templates share: the clause's 第一条 heading (as its video titles
# it), the display text (as its subtitles show it), its script's tag, readable names.
bp.add_app_template_filter(clause_heading, "clause_heading")
bp.add_app_template_filter(display_lines, "display")
bp.add_app_template_filter(script_lang, "script_lang")
bp.add_app_template_filter(lambda code: LANG_NAMES.get(code, code), "lang_name")
bp.add_app_template_filter(lambda role: ROLE_NAMES.get(role, role), "role_name")


def _db():
    return current_app.extensions["kuanyue.db"]


def viewer() -> Viewer:
    """Who is asking. Pages have no sign-in yet, so every visitor is the public."""
    return Viewer.PUBLIC


@bp.get("/recordings")
def recordings():  # noqa: ANN201 - Flask view
    """Recordings the visitor may see, with a search box."""
    query = request.args.get("q", "").strip()
    with _db().session() as session:
        listing = recording_list(session, viewer(), query)
        return render_template("recordings.html", listing=listing, query=query)


@bp.get("/recordings/<int:recording_id>")
def recording(recording_id: int):  # noqa: ANN201 - Flask view
    """One recording: player with waveform, lyrics side by side, linked clauses."""
    with _db().session() as session:
        page = recording_page(session, viewer(), recording_id)
        if page is None:
            abort(404)  # not "forbidden": a hidden recording does not exist for this visitor
        return render_template(
            "recording.html",
            rec=page.recording,
            tracks=page.tracks,
            files=page.files,
            streamable=page.streamable,
            clauses=page.clauses,
        )


@bp.get("/")
def index():  # noqa: ANN201 - Flask view
    """All published covenants."""
    with _db().session() as session:
        return render_template("index.html", covenants=published_covenants(session))


@bp.get("/c/<slug>")
def covenant(slug: str):  # noqa: ANN201 - Flask view
    """A covenant's current version, each clause with its media."""
    with _db().session() as session:
        page = covenant_page(session, viewer(), slug)
        if page is None:
            abort(404)
        return render_template(
            "covenant.html",
            covenant=page.covenant,
            version=page.version,
            clauses=page.clauses,
            downloads=DOWNLOADS,
            sung=page.sung,
        )


@bp.get("/v/<village>")
def village(village: str):  # noqa: ANN201 - Flask view
    """A village's programme for today and tomorrow in its own time (`?date=` picks today)."""
    from datetime import date, datetime, timedelta
    from zoneinfo import ZoneInfo

    with _db().session() as session:
        place = find_village_or_none(session, village)
        if place is None:
            abort(404)
        try:
            today = date.fromisoformat(request.args.get("date", ""))
        except ValueError:
            today = datetime.now(ZoneInfo(place.tz)).date()
        days = [village_programme(session, place, today + timedelta(days=n)) for n in (0, 1)]
        return render_template("village.html", village=place.name, tz=place.tz, days=days)


def _ignore_unusable_range() -> None:
    """Drop a Range header we would not honour, so the whole file is sent (RFC 9110 §14.2).

    Werkzeug answers 416 to a malformed Range and to several ranges (it sends no
    multipart/byteranges); a server may ignore either, and a player then still gets its file.
    A well-formed single range beyond the end stays a 416.
    """
    header = request.headers.get("Range")
    if header is None:
        return
    parsed = parse_range_header(header)
    if parsed is None or parsed.units != "bytes" or len(parsed.ranges) != 1:
        request.environ.pop("HTTP_RANGE", None)


@bp.get("/media/<name>")
def media(name: str):  # noqa: ANN201 - Flask view
    """A stored file by content hash, with HTTP range requests, if the visitor may have it."""
    with _db().session() as session:
        served = media_file_for(session, viewer(), name)
    if served is None:
        abort(404)
    row = served.row
    path = current_app.extensions["kuanyue.store"].path(row.store_path)
    if not path.exists():
        abort(404)
    _ignore_unusable_range()
    response = send_file(path, mimetype=row.mime, conditional=True, etag=row.sha256)
    # Content-addressed: the bytes behind a name never change, so shared caches may keep a
    # file anyone may have. Any other must be asked for again each time, so that a recording
    # made restricted (or a consent withdrawn) does not live on in a cache.
    response.headers["Cache-Control"] = (
        f"public, max-age={YEAR}, immutable" if served.public else "private, no-cache"
    )
    response.headers.pop("Expires", None)
    return response

"""Rendering a covenant end to end: real espeak-ng, ffmpeg and SQLite; generated media only."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import webvtt

from library.covenants.rendering import RenderOptions, render_covenant
from library.covenants.versions import import_covenant
from library.models import Clause, Covenant, CovenantVersion, Segment
from library.store import sha256_file
from media_pipeline import tools
from tests.conftest import SMALL_COVENANT, make_library

pytestmark = pytest.mark.slow

KINDS = {
    "audio-loudspeaker",
    "audio-web",
    "audio-archive",
    "subtitles-srt",
    "subtitles-vtt",
    "subtitles-ass",
    "video-16x9",
    "poster-16x9",
    "video-9x16",
    "poster-9x16",
}


def current_segments(db, slug):
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    with db.session() as session:
        clauses = session.scalars(
            select(Clause)
            .join(CovenantVersion)
            .join(Covenant)
            .where(Covenant.slug == slug)
            .where(
                CovenantVersion.number
                == select(CovenantVersion.number)
                .join(Covenant)
                .where(Covenant.slug == slug)
                .order_by(CovenantVersion.number.desc())
                .limit(1)
                .scalar_subquery()
            )
            .order_by(Clause.position)
            .options(selectinload(Clause.segments).selectinload(Segment.files))
        ).all()
        return {c.key: c.segments[-1] if c.segments else None for c in clauses}


def test_every_clause_has_every_output_in_the_store(rendered):
    segments = current_segments(rendered.db, rendered.slug)
    assert len(segments) == 3
    for key, seg in segments.items():
        assert seg is not None, key
        assert {f.kind for f in seg.files} == KINDS
        assert seg.engine == "espeak" and seg.voice == "cmn-latn-pinyin"
        for f in seg.files:
            path = rendered.store.path(f.store_path)
            assert sha256_file(path) == f.sha256 and path.stat().st_size == f.size
        for kind in ("audio-loudspeaker", "audio-web", "audio-archive"):
            f = seg.file(kind)
            assert abs(f.integrated_lufs - (-16.0)) <= 1.0 and f.true_peak_dbtp <= -1.0, (
                kind,
                f.integrated_lufs,
            )
    assert not list(rendered.store.root.rglob("*.part"))
    assert not any((rendered.store.root.parent / "tmp").iterdir())


def speech_intervals(path):
    """Audible stretches of a file, found by ffmpeg's silencedetect (independent of our timings)."""
    proc = subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-af",
            "silencedetect=noise=-40dB:d=0.12",
            "-f",
            "null",
            "-",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    starts = [float(x) for x in re.findall(r"silence_start: ([\d.]+)", proc.stderr)]
    ends = [float(x) for x in re.findall(r"silence_end: ([\d.]+)", proc.stderr)]
    return starts, ends


def seconds(timestamp):
    """'00:00:02.800' → 2.8 (webvtt-py's *_in_seconds round down to whole seconds)."""
    h, m, s = timestamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def test_cues_match_the_audio_within_40ms(rendered):
    seg = current_segments(rendered.db, rendered.slug)[f"{rendered.slug}-01"]
    vtt = webvtt.read(str(rendered.store.path(seg.file("subtitles-vtt").store_path)))
    silence_starts, silence_ends = speech_intervals(
        rendered.store.path(seg.file("audio-archive").store_path)
    )
    assert len(vtt.captions) >= 3
    for caption in vtt.captions:
        start, end = seconds(caption.start), seconds(caption.end)
        # speech begins where a silence ends, and stops where the next silence starts
        assert min(abs(start - t) for t in silence_ends) <= 0.040, (caption.text, start)
        assert min(abs(end - t) for t in silence_starts) <= 0.040, (caption.text, end)
    assert "Kgal nyenc" in vtt.captions[1].text or "Kgal nyenc" in vtt.captions[0].text


def test_video_duration_matches_audio(rendered):
    seg = current_segments(rendered.db, rendered.slug)[f"{rendered.slug}-02"]
    for fmt, size in (("16x9", (1280, 720)), ("9x16", (720, 1280))):
        out = subprocess.run(
            [
                "ffprobe",
                "-v",
                "error",
                "-show_streams",
                "-show_format",
                "-of",
                "json",
                str(rendered.store.path(seg.file(f"video-{fmt}").store_path)),
            ],
            capture_output=True,
            check=True,
        ).stdout
        info = json.loads(out)
        video = next(s for s in info["streams"] if s["codec_type"] == "video")
        audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
        assert (video["codec_name"], video["pix_fmt"], audio["codec_name"]) == (
            "h264",
            "yuv420p",
            "aac",
        )
        assert (video["width"], video["height"]) == size
        assert abs(float(video["duration"]) - seg.duration_s) <= 0.1
        assert abs(float(audio["duration"]) - seg.duration_s) <= 0.1


def test_second_render_starts_no_program(rendered):
    before = dict(tools.CALLS)
    report = render_covenant(
        rendered.db,
        rendered.store,
        rendered.slug,
        RenderOptions(),
        cache_dir=rendered.config.cache_dir,
        workers=1,
    )
    assert dict(tools.CALLS) == before
    assert report.skipped == [f"{rendered.slug}-0{i}" for i in (1, 2, 3)]
    assert report.rendered == [] and report.synthesised == 0


def test_changed_clause_rerenders_alone(tmp_path):
    config, db, store = make_library(tmp_path)
    source = tmp_path / "yanjiao.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    slug = import_covenant(db, source).covenant.slug
    options = RenderOptions(profiles=("web",), video_sizes=())
    first = render_covenant(db, store, slug, options, cache_dir=config.cache_dir, workers=1)
    assert len(first.rendered) == 3

    source.write_text(SMALL_COVENANT.replace("违者罚款200元", "违者罚款500元"), encoding="utf-8")
    result = import_covenant(db, source)
    assert [c.kind for c in result.changes] == ["unchanged", "changed", "unchanged"]
    second = render_covenant(db, store, slug, options, cache_dir=config.cache_dir, workers=1)
    assert second.rendered == [f"{slug}-02"]
    assert sorted(second.skipped) == [f"{slug}-01", f"{slug}-03"]
    # Only the changed phrase is synthesised again; 第二条 and the unchanged phrase come from the cache.
    assert second.synthesised == 1


def test_interrupted_render_keeps_finished_clauses(tmp_path):
    config, db, store = make_library(tmp_path)
    source = tmp_path / "yanjiao.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    slug = import_covenant(db, source).covenant.slug
    options = RenderOptions(profiles=("loudspeaker",), video_sizes=())

    def interrupt(key, status):
        raise KeyboardInterrupt  # as if Ctrl-C arrived right after the first clause was saved

    with pytest.raises(KeyboardInterrupt):
        render_covenant(
            db, store, slug, options, cache_dir=config.cache_dir, workers=1, progress=interrupt
        )
    done = {k for k, s in current_segments(db, slug).items() if s is not None}
    assert done == {f"{slug}-01"}
    assert not list(store.root.rglob("*.part")) and not any((store.root.parent / "tmp").iterdir())
    resumed = render_covenant(db, store, slug, options, cache_dir=config.cache_dir, workers=2)
    assert resumed.skipped == [f"{slug}-01"] and sorted(resumed.rendered) == [
        f"{slug}-02",
        f"{slug}-03",
    ]


def test_gtts_without_network_falls_back_to_espeak(tmp_path, no_internet):
    """Offline, gTTS fails and espeak takes over, announced."""
    # The network failure is injected (no_internet, tests/conftest.py): the render's real gTTS
    # request fails at the socket as on an offline machine, so this passes on any machine.
    config, db, store = make_library(tmp_path)
    source = tmp_path / "yanjiao.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    slug = import_covenant(db, source).covenant.slug
    warnings: list[str] = []
    report = render_covenant(
        db,
        store,
        slug,
        RenderOptions(engine="gtts", gtts_timeout=2, profiles=("web",), video_sizes=()),
        cache_dir=config.cache_dir,
        workers=1,
        keys={f"{slug}-03"},
        warn=warnings.append,
    )
    assert report.rendered == [f"{slug}-03"]
    assert no_internet  # gTTS did try the network, in this process (workers=1)
    assert any("espeak" in w for w in warnings)
    assert current_segments(db, slug)[f"{slug}-03"].engine == "espeak"


def test_missing_subtitle_font_is_refused_before_rendering(tmp_path):
    from media_pipeline.errors import ToolMissing

    config, db, store = make_library(tmp_path)
    source = tmp_path / "yanjiao.txt"
    source.write_text(SMALL_COVENANT, encoding="utf-8")
    slug = import_covenant(db, source).covenant.slug
    with pytest.raises(ToolMissing, match="fonts-noto-cjk"):
        render_covenant(
            db,
            store,
            slug,
            RenderOptions(font="No Such Font Family"),
            cache_dir=config.cache_dir,
            workers=1,
        )

"""Render one clause: text → phrases → speech → narration → mastered audio, subtitles, video."""

from __future__ import annotations

import time
from pathlib import Path

from .audio import assemble_narration
from .files import MadeFile
from .jobs import VIDEO_SIZES, ClauseJob, ClauseOutput
from .loudness import video_audio_wav
from .profiles import PROFILES
from .speech import SynthesisCache, create_engine
from .subtitles import build_cues, write_subtitles
from .text import split_phrases
from .tools import DEFAULT_TOOLS, Tools
from .video import TitleCard, render_video


def render_clause(
    job: ClauseJob, cache_dir: Path, workdir: Path, tools: Tools = DEFAULT_TOOLS
) -> ClauseOutput:
    """Render every output of one clause into `workdir` and describe them.

    The engine is used as the job names it, with no fallback: whether an online engine is
    reachable is decided once per run by the caller (library.covenants.rendering.preflight),
    not again in every worker. An unreachable engine fails this clause with EngineUnavailable.
    """
    started = time.perf_counter()
    options = job.options
    engine = create_engine(
        options.engine,
        options.voice,
        piper_model=Path(options.piper_model) if options.piper_model else None,
        gtts_timeout=options.gtts_timeout,
        fallback=None,
        tools=tools,
    )
    cache = SynthesisCache(cache_dir)
    body = split_phrases(job.text_zh)
    phrases = [*split_phrases(job.clause_label), *body]
    results = [cache.synthesize(engine, p.spoken) for p in phrases]
    narration = assemble_narration(
        [r.wav for r in results],
        [p.pause_after_ms for p in phrases],
        workdir / "narration.wav",
        chime=options.chime,
        music_bed=Path(options.music_bed) if options.music_bed else None,
        tools=tools,
    )
    files: list[MadeFile] = []
    for name in options.profiles:
        profile = PROFILES[name]
        out = profile.apply(narration.wav, workdir / f"audio-{name}.{profile.extension}", tools)
        files.append(
            _audio_file(f"audio-{name}", out.path, profile.mime, out.duration_s, out.loudness)
        )

    timings = [(t.start_ms, t.end_ms) for t in narration.phrases]
    n_heading = len(phrases) - len(body)
    # The Dong line belongs to the clause's text, not to its spoken heading (第三条).
    cues = [
        *build_cues([p.display for p in phrases[:n_heading]], timings[:n_heading]),
        *build_cues([p.display for p in body], timings[n_heading:], job.text_dong),
    ]
    srt, vtt, ass = workdir / "subtitles.srt", workdir / "subtitles.vtt", workdir / "subtitles.ass"
    write_subtitles(cues, srt, vtt, ass, size=VIDEO_SIZES["16x9"], font=options.font)
    files += [
        MadeFile("subtitles-srt", str(srt), "application/x-subrip"),
        MadeFile("subtitles-vtt", str(vtt), "text/vtt"),
        MadeFile("subtitles-ass", str(ass), "text/x-ssa"),
    ]

    if options.video_sizes:
        video_wav = workdir / "video-audio.wav"
        video_audio_wav(narration.wav, video_wav, tools)
        title = TitleCard(
            job.village,
            job.covenant_title,
            job.clause_label,
            job.topic,
            card_ms=narration.speech_start_ms,
        )
        for fmt in options.video_sizes:
            result = render_video(
                video_wav,
                cues,
                title,
                workdir / f"video-{fmt}.mp4",
                workdir / f"poster-{fmt}.jpg",
                size=VIDEO_SIZES[fmt],
                font=options.font,
                tools=tools,
            )
            files.append(MadeFile(f"video-{fmt}", str(result.path), "video/mp4", result.duration_s))
            files.append(MadeFile(f"poster-{fmt}", str(result.poster), _image_mime(result.poster)))

    last = results[-1]
    return ClauseOutput(
        key=job.key,
        files=tuple(files),
        duration_s=narration.duration_ms / 1000,
        engine=last.engine,
        voice=last.voice,
        seconds=time.perf_counter() - started,
        synthesised=sum(not r.cached for r in results),
    )


def _audio_file(kind: str, path: Path, mime: str, duration_s: float, loudness) -> MadeFile:  # noqa: ANN001
    return MadeFile(
        kind,
        str(path),
        mime,
        duration_s,
        loudness.integrated_lufs,
        loudness.true_peak_dbtp,
        loudness.loudness_range_lu,
    )


def _image_mime(path: Path) -> str:
    return "image/png" if path.suffix.lower() == ".png" else "image/jpeg"

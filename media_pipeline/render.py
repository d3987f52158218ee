"""Render one clause: text → phrases → speech → narration → mastered audio, subtitles, video.

ffmpeg runs per clause (each ~80 ms of start-up before it reads a byte): one renders every
audio chain to meter it, one writes every audio file and the videos' AAC
(master_many.py), one renders both videos and meters the lossy audio files
(video.render_videos). espeak-ng runs once per phrase not yet in the synthesis cache.
`prepare` loads the text dictionaries, for a parent process to call before it forks its
workers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

from .audio import Narration, assemble_narration
from .files import MadeFile
from .jobs import VIDEO_SIZES, ClauseJob, ClauseOutput, RenderOptions
from .loudness import Loudness
from .master_many import Target, master_many
from .profiles import PROFILES
from .speech import SynthesisCache, create_engine
from .subtitles import Cue, build_cues, write_subtitles
from .text import display_text, pinyin_for_speech, split_phrases
from .tools import DEFAULT_TOOLS, Tools
from .video import AUDIO_CODEC_ARGS, TitleCard, VideoResult, render_videos


def prepare() -> None:
    """Load what every clause needs (jieba's and pypinyin's dictionaries) into this process.

    A worker forked after this shares them instead of loading its own (~1 s each).
    """
    for phrase in split_phrases("第一条 村规民约，人人遵守。"):
        pinyin_for_speech(phrase.spoken)


def render_clause(
    job: ClauseJob,
    cache_dir: Path,
    workdir: Path,
    tools: Tools = DEFAULT_TOOLS,
    *,
    threads: int | None = None,
) -> ClauseOutput:
    """Render every output of one clause into `workdir` and describe them.

    `threads`: encoder threads for each video (None: x264's own choice, one per core and a
    half). A caller rendering several clauses at once gives each its share of the cores:
    x264 spends ~10 % more CPU keeping threads in step than it saves where cores are busy.

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
    cache = SynthesisCache(cache_dir, scratch=workdir)
    body = split_phrases(job.text_zh, readings=job.readings)
    phrases = [*split_phrases(job.clause_label, readings=job.readings), *body]
    results = [cache.synthesize(engine, p.spoken) for p in phrases]
    narration = assemble_narration(
        [r.wav for r in results],
        [p.pause_after_ms for p in phrases],
        workdir / "narration.wav",
        intro=options.intro_sound,
        music_bed=Path(options.music_bed) if options.music_bed else None,
        tools=tools,
    )
    timings = [(t.start_ms, t.end_ms) for t in narration.phrases]
    n_heading = len(phrases) - len(body)
    # The Dong line belongs to the clause's text, not to its spoken heading (第三条).
    heading_cues = build_cues([p.display for p in phrases[:n_heading]], timings[:n_heading])
    cues = [
        *heading_cues,
        *build_cues([p.display for p in body], timings[n_heading:], job.text_dong),
    ]
    title = TitleCard(
        job.village,
        job.covenant_title,
        job.clause_label,
        job.topic,
        card_ms=narration.speech_start_ms,
        chapter=display_text(job.chapter or ""),
        section=display_text(job.section or ""),
    )
    files = render_outputs(
        narration,
        cues,
        title,
        options,
        workdir,
        # The clip shows the whole clause with its punctuation, the spoken phrase lit.
        text="".join(p.display for p in body),
        heading_cues=len(heading_cues),
        background=Path(job.background) if job.background else None,
        threads=threads,
        tools=tools,
    )

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


def write_subtitle_files(cues: Sequence[Cue], workdir: Path, font: str) -> list[MadeFile]:
    """Write the cues as subtitles.srt, .vtt and .ass (styled for 16:9 burn-in) in `workdir`."""
    srt, vtt, ass = workdir / "subtitles.srt", workdir / "subtitles.vtt", workdir / "subtitles.ass"
    write_subtitles(cues, srt, vtt, ass, size=VIDEO_SIZES["16x9"], font=font)
    return [
        MadeFile("subtitles-srt", str(srt), "application/x-subrip"),
        MadeFile("subtitles-vtt", str(vtt), "text/vtt"),
        MadeFile("subtitles-ass", str(ass), "text/x-ssa"),
    ]


def render_outputs(
    narration: Narration,
    cues: Sequence[Cue],
    title: TitleCard,
    options: RenderOptions,
    workdir: Path,
    *,
    text: str,
    heading_cues: int,
    background: Path | None = None,
    threads: int | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> list[MadeFile]:
    """Everything made from an assembled narration and its cues: every audio profile of
    `options`, the subtitles and the videos with their posters, in that order.

    Shared by clauses and announcements (media_pipeline.announcement): one narration WAV
    in, the files described out; `text` and `heading_cues` are render_videos' own.
    """
    subtitle_files = write_subtitle_files(cues, workdir, options.font)

    # Every audio profile, and the videos' AAC, mastered together from the one narration.
    targets = [
        PROFILES[name].target(workdir / f"audio-{name}.{PROFILES[name].extension}")
        for name in options.profiles
    ]
    video_audio = workdir / "video-audio.m4a"
    videos: list[VideoResult] = []

    def render_videos_and_meter(lossy: Sequence[Path]) -> list[Loudness]:
        # The videos' run also meters the lossy audio files: one program start fewer.
        outputs = [
            (VIDEO_SIZES[fmt], workdir / f"video-{fmt}.mp4", workdir / f"poster-{fmt}.jpg")
            for fmt in options.video_sizes
        ]
        run = render_videos(
            video_audio,
            cues,
            title,
            outputs,
            font=options.font,
            duration_ms=narration.duration_ms,
            copy_audio=True,
            threads=threads,
            meter=lossy,
            text=text,
            heading_cues=heading_cues,
            background=background,
            tools=tools,
        )
        videos.extend(run.videos)
        return run.metered

    if options.video_sizes:
        # Its level follows the web and archive files it shares a chain with (not re-metered).
        targets.append(Target(video_audio, AUDIO_CODEC_ARGS, 48000, verify=False))
    mastered = master_many(
        narration.wav,
        targets,
        source_lufs=narration.integrated_lufs,
        meter=render_videos_and_meter if options.video_sizes else None,
        tools=tools,
    )
    if options.video_sizes and not videos:  # nothing lossy to meter: render them now
        render_videos_and_meter([])
    files: list[MadeFile] = [
        _audio_file(f"audio-{name}", made.path, PROFILES[name].mime, made.duration_s, made.loudness)
        for name, made in zip(options.profiles, mastered, strict=False)
    ]
    files += subtitle_files
    for fmt, result in zip(options.video_sizes, videos, strict=True):
        files.append(MadeFile(f"video-{fmt}", str(result.path), "video/mp4", result.duration_s))
        files.append(MadeFile(f"poster-{fmt}", str(result.poster), _image_mime(result.poster)))
    return files


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

"""Teaching reel: a clause's narrated card, then the span of a recording that sings it.

The design card gives compositions that edit real footage to moviepy; this is one. Steps:

1. Conform (ffmpeg, one pass per input). moviepy's reader assumes a constant frame rate and
   maps frame N to N / fps, but our clause cards are variable-frame-rate by design (see
   video.py) and phones record VFR too: read directly, a card plays its first frames for its
   whole length. So each part is first turned into what moviepy reads correctly: the span
   cut out (input seeking, so an hour-long recording is not decoded from its start),
   letterboxed to the reel's size with square pixels, constant frame rate, lossless x264
   (qp 0, the only lossy encode is the final one) and 48 kHz PCM in the reel's channel
   layout. An audio-only recording gives a WAV and its still (poster or waveform)
   letterboxed over black (alpha flattened) as one PNG.
2. Level. The card was mastered to −16 LUFS; the card's conform pass meters it as it sits in
   the reel (same channel layout), the span is metered the same way, and the span gets the
   one static gain that matches them: dynamics are kept. Where that gain would push peaks
   over −1.5 dBTP (the card's ceiling: AAC adds overshoot) a true-peak limiter takes the tops
   off, and the gain is capped so it never has to take more than MAX_LIMITING_DB.
3. Compose (moviepy): card → black pause of gap_s → excerpt, with fades to and from black
   (and audio fades: a declick on the card, longer on the excerpt, which is cut mid-song).
4. Encode. moviepy writes the mix as a WAV, then pipes frames to its own ffmpeg, which gets
   the lyrics burned in by libass through `-vf ass=…` in that same encode (no second pass):
   the ASS comes from media_pipeline.subtitles, so lyrics look like the clause subtitles (a
   Dong line above the Chinese, "Noto Sans CJK SC" chosen by family name, which also avoids
   the Japanese face 0 of the .ttc that a TextClip given the file would use). H.264 yuv420p,
   AAC, +faststart. The loudspeaker copy is the same WAV through PROFILES["loudspeaker"].

moviepy starts ffmpeg itself. By default moviepy 2 runs imageio-ffmpeg's bundled binary (a
different build from the one everything else uses); `_load_moviepy` points it at the ffmpeg
that `Tools` names (Debian's /usr/bin/ffmpeg, or KUANYUE_FFMPEG through the settings).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

from ..errors import PipelineError, SubtitleError
from ..files import atomic_output
from ..loudness import METER, Loudness, mastering_filters, parse_ebur128_summary
from ..profiles import PROFILES
from ..subtitles import Cue, build_cues, to_ass
from ..tools import DEFAULT_TOOLS, Tools
from .probe import duration_s as probed_duration_s
from .probe import probe, streams

SAMPLE_RATE = 48000
# Video fades to and from black at each join.
FADE_S = 0.3
# The card's narration may end right at its last frame: only a declick there.
CARD_AUDIO_FADE_S = 0.05
# The excerpt is cut out of a running song, so its sound fades in and out audibly.
EXCERPT_AUDIO_FADE_S = 0.3
# The card's ceiling (video.py masters the narration to −1.5 dBTP for the AAC that follows).
TRUE_PEAK_DBTP = -1.5
# A quiet recording with loud transients gets at most this much taken off its peaks; beyond
# that the gain is capped instead (the excerpt then plays a little under the card).
MAX_LIMITING_DB = 4.0
# Loudness to aim the excerpt at if the card is silent (nothing to match).
DEFAULT_LUFS = -16.0
# ebur128 reports -70 LUFS (its absolute gate) for silence.
_SILENT_LUFS = -69.0
# A span may end this far past the probed duration (container and stream ends differ a little).
_END_SLACK_S = 0.05
AUDIO_ONLY_FPS = 25.0
_MAX_FPS = 30.0


@dataclass(frozen=True)
class LyricLine:
    """One sung line: times (s) relative to the recording, Chinese and/or Dong text."""

    start_s: float
    end_s: float
    zh: str | None
    dong: str | None


@dataclass(frozen=True)
class Excerpt:
    """A span of a recording; `still` (poster or waveform PNG) is shown if it is audio-only."""

    path: Path
    start_s: float
    end_s: float
    is_video: bool
    still: Path | None = None


@dataclass(frozen=True)
class ReelResult:
    """The reel for screens (MP4), its audio for loudspeakers, and its duration (s)."""

    video: Path
    audio: Path
    duration_s: float


def lyric_cues(
    lyrics: Sequence[LyricLine], start_s: float, end_s: float, offset_s: float
) -> list[Cue]:
    """Cues for the lines overlapping [start_s, end_s], clipped to it, moved to start at offset_s."""
    cues: list[Cue] = []
    for line in sorted(lyrics, key=lambda x: x.start_s):
        if line.end_s <= line.start_s:
            raise SubtitleError(
                f"歌词时间无效：{line.start_s}–{line.end_s} s / "
                f"lyric line ends before it starts: {line.start_s}–{line.end_s} s"
            )
        a, b = max(line.start_s, start_s), min(line.end_s, end_s)
        zh, dong = (line.zh or "").strip(), (line.dong or "").strip()
        if b <= a or not (zh or dong):
            continue
        times = (round((a - start_s + offset_s) * 1000), round((b - start_s + offset_s) * 1000))
        if zh:
            # build_cues wraps the Chinese, splits a line too long for one cue, spreads the Dong.
            cues += build_cues([zh], [times], dong or None)
        else:
            # Dong alone: it is the only line, so it takes the main style.
            cues.append(Cue(*times, (dong,)))
    return cues


def reel_fps(info: dict[str, Any]) -> float:
    """The reel's frame rate: the recording's (halved while above 30), or 25 for audio."""
    video = streams(info, "video")
    rate = Fraction(0)
    for key in ("avg_frame_rate", "r_frame_rate"):
        if video and not rate:
            with contextlib.suppress(ValueError, ZeroDivisionError):  # "0/0" when unknown
                rate = Fraction(video[0].get(key) or "0")
    if rate < 10:
        return AUDIO_ONLY_FPS
    while rate > _MAX_FPS:
        rate /= 2
    # moviepy's writer passes fps as "%.02f"; conforming at the same value keeps them in step.
    return round(float(rate), 2)


def excerpt_gain_db(reference: Loudness, excerpt: Loudness) -> float:
    """Static gain that brings the excerpt to the card's loudness, capped to spare its peaks."""
    if excerpt.integrated_lufs <= _SILENT_LUFS:
        return 0.0  # a silent span: no level to match
    target = reference.integrated_lufs if reference.integrated_lufs > _SILENT_LUFS else DEFAULT_LUFS
    gain = target - excerpt.integrated_lufs
    return min(gain, TRUE_PEAK_DBTP + MAX_LIMITING_DB - excerpt.true_peak_dbtp)


def _fit_filters(size: tuple[int, int], fps: float) -> str:
    """Square pixels, letterboxed into `size` with the aspect kept, at a constant frame rate."""
    w, h = size
    return ",".join(
        [
            "scale=trunc(iw*sar/2)*2:ih",
            "setsar=1",
            f"scale={w}:{h}:force_original_aspect_ratio=decrease:force_divisible_by=2",
            f"pad={w}:{h}:(ow-iw)/2:(oh-ih)/2:black",
            f"fps={fps}",
            "format=yuv420p",
        ]
    )


def _span_input(path: Path, start_s: float, end_s: float) -> list[str]:
    # Input seeking: ffmpeg jumps near start_s and decodes accurately from there.
    return ["-ss", f"{start_s:.3f}", "-t", f"{end_s - start_s:.3f}", "-i", str(path)]


def _audio_format(channels: int) -> str:
    layout = "stereo" if channels >= 2 else "mono"
    return f"aformat=channel_layouts={layout},aresample={SAMPLE_RATE}"


def measure_span_argv(path: Path, start_s: float, end_s: float, channels: int) -> list[str]:
    """ffmpeg arguments that meter [start_s, end_s] of `path` in the reel's channel layout."""
    return [
        "-nostats", *_span_input(path, start_s, end_s), "-map", "0:a:0",
        "-af", f"{_audio_format(channels)},{METER}", "-f", "null", "-",
    ]  # fmt: skip


def conform_card_argv(
    src: Path, out: Path, *, size: tuple[int, int], fps: float, channels: int
) -> list[str]:
    """ffmpeg arguments: the card as CFR lossless video at `size`, PCM audio, metered."""
    graph = (
        f"[0:v:0]{_fit_filters(size, fps)}[v];"
        f"[0:a:0]{_audio_format(channels)},asplit[a][m];[m]{METER},anullsink"
    )
    return [
        "-nostats", "-i", str(src), "-filter_complex", graph, "-map", "[v]", "-map", "[a]",
        "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-c:a", "pcm_s16le", str(out),
    ]  # fmt: skip


def conform_excerpt_argv(
    excerpt: Excerpt,
    out: Path,
    still_out: Path | None,
    *,
    size: tuple[int, int],
    fps: float,
    channels: int,
    gain_db: float,
) -> list[str]:
    """ffmpeg arguments: the span levelled; as CFR lossless video, or as WAV plus still PNG."""
    audio = ",".join(
        [
            _audio_format(channels),
            *mastering_filters(
                gain_db=gain_db,
                pre_filters=(),
                makeup_db=0.0,
                ceiling_dbtp=TRUE_PEAK_DBTP,
                sample_rate=SAMPLE_RATE,
            ),
        ]
    )
    args = ["-nostats", *_span_input(excerpt.path, excerpt.start_s, excerpt.end_s)]
    if excerpt.is_video:
        return [
            *args, "-map", "0:v:0", "-map", "0:a:0", "-vf", _fit_filters(size, fps), "-af", audio,
            "-c:v", "libx264", "-preset", "ultrafast", "-qp", "0", "-c:a", "pcm_s16le", str(out),
        ]  # fmt: skip
    args += ["-map", "0:a:0", "-af", audio, "-c:a", "pcm_s16le", str(out)]
    if excerpt.still is None or still_out is None:
        return args
    w, h = size
    # Overlay on black rather than pad: a waveform PNG's transparent pixels become black.
    graph = (
        f"[1:v]scale=trunc(iw*sar/2)*2:ih,setsar=1,"
        f"scale={w}:{h}:force_original_aspect_ratio=decrease[s];"
        f"color=black:s={w}x{h}:d=1[bg];[bg][s]overlay=(W-w)/2:(H-h)/2,format=rgb24[p]"
    )
    return [
        *args, "-i", str(excerpt.still), "-filter_complex", graph, "-map", "[p]",
        "-frames:v", "1", "-update", "1", str(still_out),
    ]  # fmt: skip


def encoder_params(ass: Path) -> list[str]:
    """Output options for moviepy's ffmpeg: lyrics burned by libass, H.264 High, AAC, faststart."""
    return [
        # moviepy's frames are RGB; libass draws on them, swscale converts with BT.601 (tagged
        # so, like the clause videos). moviepy appends "-pix_fmt yuva420p", which libx264
        # cannot take; ffmpeg then picks yuv420p, the format this chain already ends in.
        "-vf", f"ass={ass},format=yuv420p",
        "-crf", "20", "-profile:v", "high",
        "-colorspace", "smpte170m", "-color_primaries", "bt709", "-color_trc", "bt709",
        "-color_range", "tv",
        "-b:a", "128k", "-ar", str(SAMPLE_RATE),
        "-movflags", "+faststart",
    ]  # fmt: skip


def _load_moviepy(tools: Tools) -> ModuleType:
    """Import moviepy, made to run the ffmpeg `tools` names, never its bundled one."""
    exe = tools.binary("ffmpeg")
    if "moviepy.config" not in sys.modules:
        # moviepy.config reads FFMPEG_BINARY once, at import; unset, it would run
        # imageio-ffmpeg's bundled build to validate it. Set only for that import.
        previous = os.environ.get("FFMPEG_BINARY")
        os.environ["FFMPEG_BINARY"] = exe
        try:
            import moviepy  # noqa: F401
        finally:
            if previous is None:
                del os.environ["FFMPEG_BINARY"]
            else:
                os.environ["FFMPEG_BINARY"] = previous
    import moviepy

    # Its reader and writer modules copied the name at import (`from moviepy.config import
    # FFMPEG_BINARY`) and look it up on every call: rebind it in each, so an earlier import
    # elsewhere or a KUANYUE_FFMPEG changed since is honoured too.
    for name, module in list(sys.modules.items()):
        if name.startswith("moviepy") and hasattr(module, "FFMPEG_BINARY"):
            module.FFMPEG_BINARY = exe  # type: ignore[attr-defined]
    return moviepy


def _require_file(path: Path, what_zh: str, what_en: str) -> None:
    if not Path(path).is_file():
        raise PipelineError(f"找不到{what_zh}：{path} / {what_en} not found: {path}")


def _check_span(excerpt: Excerpt, info: dict[str, Any]) -> None:
    start, end = excerpt.start_s, excerpt.end_s
    if end <= start:
        raise PipelineError(
            f"片段结束时间须晚于开始时间：{start}–{end} s / span must end after it starts: "
            f"{start}–{end} s"
        )
    length = probed_duration_s(info)
    if start < 0 or end > length + _END_SLACK_S:
        raise PipelineError(
            f"片段 {start}–{end} s 超出录音长度 {length:.2f} s：{excerpt.path} / span "
            f"{start}–{end} s lies outside the recording ({length:.2f} s): {excerpt.path}"
        )
    if excerpt.is_video and not streams(info, "video"):
        raise PipelineError(
            f"录音没有视频流：{excerpt.path} / recording has no video stream: {excerpt.path}"
        )
    if not streams(info, "audio"):
        raise PipelineError(
            f"录音没有音频流：{excerpt.path} / recording has no audio stream: {excerpt.path}"
        )


def make_reel(
    clause_video: Path,
    excerpt: Excerpt,
    lyrics: Sequence[LyricLine],
    out_mp4: Path,
    out_audio: Path,
    *,
    size: tuple[int, int] = (1280, 720),
    font: str = "Noto Sans CJK SC",
    gap_s: float = 0.5,
    tools: Tools = DEFAULT_TOOLS,
) -> ReelResult:
    """Compose card → pause → subtitled excerpt into an MP4 and a loudspeaker MP3 (atomic)."""
    w, h = size
    if w <= 0 or h <= 0 or w % 2 or h % 2:
        raise PipelineError(f"画幅须为正偶数：{w}×{h} / frame size must be even: {w}×{h}")
    if gap_s < 0:
        raise PipelineError(f"间隔不能为负：{gap_s} / gap_s must not be negative: {gap_s}")
    _require_file(clause_video, "条款视频", "clause video")
    _require_file(excerpt.path, "录音文件", "recording")
    if excerpt.still is not None:
        _require_file(excerpt.still, "录音配图", "still image")
    card_info, info = probe(clause_video, tools), probe(excerpt.path, tools)
    if not (streams(card_info, "video") and streams(card_info, "audio")):
        raise PipelineError(
            f"条款视频须有画面和声音：{clause_video} / clause video needs video and audio: "
            f"{clause_video}"
        )
    _check_span(excerpt, info)
    # Validate lyrics before any rendering; the real offset is known after conforming.
    lyric_cues(lyrics, excerpt.start_s, excerpt.end_s, 0.0)
    fps = reel_fps(info) if excerpt.is_video else AUDIO_ONLY_FPS
    channels = min(2, int(streams(info, "audio")[0].get("channels") or 1))
    mp = _load_moviepy(tools)

    with tempfile.TemporaryDirectory(prefix="kuanyue-reel-") as tmp_dir:
        tmp = Path(tmp_dir)
        card_mkv, part_file = (
            tmp / "card.mkv",
            tmp / ("part.mkv" if excerpt.is_video else "part.wav"),
        )
        still = tmp / "still.png" if excerpt.still is not None else None
        proc = tools.ffmpeg(
            *conform_card_argv(clause_video, card_mkv, size=size, fps=fps, channels=channels)
        )
        card_loudness = parse_ebur128_summary(proc.stderr.decode("utf-8", "replace"))
        proc = tools.ffmpeg(
            *measure_span_argv(excerpt.path, excerpt.start_s, excerpt.end_s, channels)
        )
        gain = excerpt_gain_db(
            card_loudness, parse_ebur128_summary(proc.stderr.decode("utf-8", "replace"))
        )
        tools.ffmpeg(
            *conform_excerpt_argv(
                excerpt, part_file, still, size=size, fps=fps, channels=channels, gain_db=gain
            )
        )

        with contextlib.ExitStack() as clips:
            # moviepy warns when its reader pads the last frame; that is expected here.
            clips.enter_context(warnings.catch_warnings())
            warnings.filterwarnings("ignore", message=".*bytes wanted but 0 bytes read.*")
            # Matroska rounds the end up by a few ms; the known lengths keep moviepy from
            # asking for a frame past the last one and make the reel's length exact.
            span = excerpt.end_s - excerpt.start_s
            card = clips.enter_context(mp.VideoFileClip(str(card_mkv), audio_fps=SAMPLE_RATE))
            card = card.with_duration(
                min(card.duration, probed_duration_s(card_info) or card.duration)
            )
            if excerpt.is_video:
                part = clips.enter_context(mp.VideoFileClip(str(part_file), audio_fps=SAMPLE_RATE))
            else:
                sound = clips.enter_context(mp.AudioFileClip(str(part_file), fps=SAMPLE_RATE))
                picture = (
                    mp.ImageClip(str(still))
                    if still is not None
                    else mp.ColorClip(size, color=(0, 0, 0))
                )
                part = picture.with_audio(sound)
            part = part.with_duration(min(part.duration or span, span))
            card = card.with_effects(
                [mp.vfx.FadeOut(FADE_S), mp.afx.AudioFadeOut(CARD_AUDIO_FADE_S)]
            )
            part = part.with_effects(
                [
                    mp.vfx.FadeIn(FADE_S),
                    mp.vfx.FadeOut(FADE_S),
                    mp.afx.AudioFadeIn(EXCERPT_AUDIO_FADE_S),
                    mp.afx.AudioFadeOut(EXCERPT_AUDIO_FADE_S),
                ]
            )
            pause = [mp.ColorClip(size, color=(0, 0, 0), duration=gap_s)] if gap_s else []
            reel = mp.concatenate_videoclips([card, *pause, part])

            ass = tmp / "lyrics.ass"
            cues = lyric_cues(lyrics, excerpt.start_s, excerpt.end_s, card.duration + gap_s)
            ass.write_text(to_ass(cues, size=size, font=font), encoding="utf-8")
            mix = tmp / "mix.wav"
            try:
                reel.audio.write_audiofile(
                    str(mix), fps=SAMPLE_RATE, nbytes=2, codec="pcm_s16le", logger=None
                )
                # Both outputs are renamed into place only when both are written: never half a pair.
                with atomic_output(out_mp4) as tmp_mp4, atomic_output(out_audio) as tmp_mp3:
                    reel.write_videofile(
                        str(tmp_mp4),
                        fps=fps,
                        codec="libx264",
                        preset="veryfast",
                        audio=str(mix),
                        audio_codec="aac",
                        ffmpeg_params=encoder_params(ass),
                        logger=None,
                    )
                    PROFILES["loudspeaker"].apply(mix, tmp_mp3, tools)
            except OSError as exc:
                raise PipelineError(
                    f"moviepy 合成失败 / moviepy failed to write the reel: {exc}"
                ) from exc
            duration = float(reel.duration)
    return ReelResult(Path(out_mp4), Path(out_audio), duration)

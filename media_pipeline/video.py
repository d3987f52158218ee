"""Subtitled clause videos: indigo background, title card and subtitles by libass, H.264/AAC.

How it is fast. A clause video is a still picture that changes only when a cue starts or
ends or the title card gives way to the header, so the graph renders each distinct picture
exactly once: a single background frame (a soft diamond lattice on an indigo gradient,
computed by `geq` at quarter size and scaled up) is looped once per change, `setpts` moves
frame N to the instant of change N, `ass` (libass) draws the subtitles as they stand at that
instant, and x264 encodes the few frames with `-fps_mode passthrough` so the file is
variable-frame-rate. Every frame is an IDR keyframe (a seek never decodes more than one), and a
closing frame 40 ms before the end makes the video track as long as the audio. The poster
comes out of the same ffmpeg run (a `split` of frame 0). One ffmpeg process per video.

Measured on the 2-core dev machine (30 s, 8 cues, 1280×720; wall time → multiple of real time):
  moviepy: ImageClip + TextClip per cue + CompositeVideoClip, libx264    ~55 s  →  0.55×
  ffmpeg: color source at 25 fps + subtitles filter + libx264 default     4.9 s  →  6×
  this graph, x264 veryfast + stillimage, AAC default `twoloop` coder    1.7 s  → 18×
  this graph, x264 veryfast + stillimage, AAC `fast` coder               0.79 s → 38×
  this graph, x264 ultrafast + CABAC + 8x8dct, AAC `fast` (chosen)      0.70 s → 43×
  video and audio in two parallel ffmpeg runs, then a remux              0.70 s (no gain: dropped)
What remains is ffmpeg start-up (~0.1 s), geq + libass font loading (~0.1 s), ~20 intra frames
(~0.15 s) and the AAC encoder (~0.3 s), whose `fast` coder is 3× quicker than `twoloop` on
speech. ultrafast alone would drop to Constrained Baseline; with CABAC and 8x8 transforms on
it stays High profile and its files were smaller than veryfast's (no psy tuning spending bits
on the lattice). Fades and animations are avoided on purpose: they make every frame different.

Seeking: Chromium shows the right picture after any seek. Because a picture lasts until the
next change, "precise" seeks in ffmpeg (-ss) and mpv (--hr-seek) drop it and show the next
change's picture; keyframe seeks (every frame is one) are exact there.
"""

from __future__ import annotations

import tempfile
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from .errors import PipelineError
from .files import atomic_output
from .probe import duration_s as probed_duration_s
from .probe import probe
from .subtitles import Cue, ass_time, to_ass
from .tools import ffmpeg as run_ffmpeg

# Each frame lasts this long unless the next change comes sooner; it is also the closing
# frame's length and the shortest gap kept between changes (≤ 25 changes a second keeps the
# stream inside H.264 level 4.0's frame-rate limits for any decoder that checks).
FRAME_MS = 40
_FPS = 1000 // FRAME_MS

# Dong indigo cloth: deep blue-violet, lighter at the top, with a faint woven diamond lattice.
_LATTICE = "(lte(abs(mod(X+Y,12)-6),0.5)+lte(abs(mod(X-Y+1200,12)-6),0.5))"
_BACKGROUND = {
    "r": f"20+14*(1-Y/H)+4*{_LATTICE}",
    "g": f"24+16*(1-Y/H)+4*{_LATTICE}",
    "b": f"50+30*(1-Y/H)+7*{_LATTICE}",
}


@dataclass(frozen=True)
class TitleCard:
    """Shown large while the opening chime plays (card_ms), then as a small header."""

    village: str
    covenant: str
    clause_label: str
    topic: str
    card_ms: int


@dataclass(frozen=True)
class VideoResult:
    """A rendered video, its poster, duration (s) and frame size."""

    path: Path
    poster: Path
    duration_s: float
    size: tuple[int, int]


def frame_times(cues: Sequence[Cue], card_ms: int, duration_ms: int) -> list[int]:
    """The instants (ms) at which the picture changes, ending with the closing frame.

    Times are rounded like the ASS file rounds them, so libass sees each change exactly.
    Of two changes closer than FRAME_MS the later one wins: its picture is the one that stays.
    """
    closing = duration_ms - FRAME_MS
    if closing <= 0:
        raise PipelineError(f"音频太短：{duration_ms} ms / audio too short: {duration_ms} ms")
    changes = {ass_time(card_ms)} | {ass_time(t) for c in cues for t in (c.start_ms, c.end_ms)}
    kept = [closing]
    for t in sorted((t for t in changes if 0 < t < closing), reverse=True):
        if kept[-1] - t >= FRAME_MS:
            kept.append(t)
    return [0, *reversed(kept)]


def _setpts_expr(times: Sequence[int]) -> str:
    # A flat sum rather than nested if(): no nesting depth limit, one term per frame.
    return "+".join(f"{t}*eq(N,{n})" for n, t in enumerate(times) if t) or "0"


def build_render_argv(
    audio: Path,
    ass: Path,
    out_mp4: Path,
    poster: Path,
    *,
    size: tuple[int, int],
    times: Sequence[int],
) -> list[str]:
    """ffmpeg arguments (without the program name) that render one video and its poster."""
    w, h = size
    background = (
        ffmpeg.input(f"color=c=black:s={w // 4}x{h // 4}:r={_FPS}:d={FRAME_MS / 1000}", f="lavfi")
        .filter("format", "gbrp")
        .filter("geq", **_BACKGROUND)
        # Converted to YUV once, before the loop: libass then blends straight into YUV. ffmpeg
        # 5.1 blends with BT.601 coefficients, so the whole picture is BT.601 and tagged so.
        .filter("scale", w, h, flags="bicubic", out_color_matrix="bt601", out_range="tv")
        .filter("format", "yuv420p")
        .filter("loop", loop=len(times) - 1, size=1, start=0)
        .filter("settb", "1/1000")
        .filter("setpts", _setpts_expr(times))
        .filter("ass", str(ass))
        .split()
    )
    mp4 = ffmpeg.output(
        background[0],
        ffmpeg.input(str(audio)).audio,
        str(out_mp4),
        **{
            "c:v": "libx264",
            # ultrafast with CABAC and 8x8 transforms back on: High profile, and on these
            # frames both faster and smaller than veryfast (see the module docstring).
            "preset": "ultrafast",
            "x264-params": "cabac=1:8x8dct=1",
            "tune": "stillimage",
            "crf": 22,
            "g": 1,  # every frame a keyframe: frames are few and seeking must be exact
            "profile:v": "high",
            "level:v": "4.0",
            "fps_mode": "passthrough",
            # Millisecond timestamps end to end; otherwise the encoder inherits the source's
            # 1/25 s time base and moves every change onto a 40 ms grid.
            "enc_time_base:v": "1:1000",
            "video_track_timescale": 1000,
            "colorspace": "smpte170m",
            "color_primaries": "bt709",
            "color_trc": "bt709",
            "color_range": "tv",
            "c:a": "aac",
            "aac_coder": "fast",
            "b:a": "96k",
            "ar": 48000,
            "movflags": "+faststart",
        },
    )
    image_opts = {"q:v": 2} if poster.suffix.lower() in (".jpg", ".jpeg") else {}
    # Only frame 0 (the title card) flows into the poster branch.
    first = background[1].trim(end_frame=1)
    still = ffmpeg.output(first, str(poster), **{"frames:v": 1, "update": 1, **image_opts})
    return ["-v", "error", *ffmpeg.merge_outputs(mp4, still).get_args()]


def audio_duration_ms(audio: Path) -> int:
    """Length of the audio in ms: read from the WAV header, or by ffprobe for other files."""
    try:
        with wave.open(str(audio), "rb") as wav:
            return round(wav.getnframes() * 1000 / wav.getframerate())
    except (wave.Error, EOFError):
        # e.g. WAVE_FORMAT_EXTENSIBLE or float WAVs, which Python 3.11's wave cannot read
        return round(probed_duration_s(probe(audio)) * 1000)


def render_video(
    audio: Path,
    cues: Sequence[Cue],
    title: TitleCard,
    out_mp4: Path,
    poster: Path,
    *,
    size: tuple[int, int] = (1280, 720),
    font: str = "Noto Sans CJK SC",
) -> VideoResult:
    """Render the subtitled clause video (H.264/AAC MP4, faststart) and its title poster."""
    w, h = size
    if w % 4 or h % 4 or w <= 0 or h <= 0:
        raise PipelineError(
            f"画幅须为 4 的倍数：{w}×{h} / frame size must be multiples of 4: {w}×{h}"
        )
    if not Path(audio).is_file():
        raise PipelineError(f"找不到音频：{audio} / audio not found: {audio}")
    duration_ms = audio_duration_ms(Path(audio))
    times = frame_times(cues, title.card_ms, duration_ms)
    # A private directory keeps the ASS path free of characters the filter syntax would need escaped.
    with tempfile.TemporaryDirectory(prefix="kuanyue-video-") as tmp:
        ass = Path(tmp) / "burn.ass"
        ass.write_text(to_ass(cues, size=size, font=font, title=title), encoding="utf-8")
        with atomic_output(out_mp4) as tmp_mp4, atomic_output(poster) as tmp_poster:
            run_ffmpeg(
                *build_render_argv(Path(audio), ass, tmp_mp4, tmp_poster, size=size, times=times)
            )
    return VideoResult(Path(out_mp4), Path(poster), duration_ms / 1000, (w, h))

"""Subtitled clause videos: indigo background, title card and subtitles by libass, H.264/AAC.

How it is fast. A clause video is a still picture that changes only when a cue starts or
ends or the title card gives way to the header, so the graph renders one background frame (a
soft diamond lattice on an indigo gradient, computed by `geq` at quarter size and scaled up),
loops it once per output frame, `setpts` moves frame N to its instant, `ass` (libass) draws the
subtitles as they stand then, and x264 encodes with `-fps_mode passthrough`: the file is
variable-frame-rate. Output frames are the changes (each an IDR keyframe, forced by
`-force_key_frames`, so cue boundaries are exact to the millisecond) plus repeats of the
current picture at least every REPEAT_MS, and an IDR at least every KEYFRAME_MAX_MS. With a
constant QP (`-qp`) a repeat of an unchanged picture is all skip blocks (~40 bytes); CRF would
spend kilobytes refining it. A closing frame 40 ms before the end makes the video track as long
as the audio. The poster comes out of the same run (a `split` of frame 0). One ffmpeg process.

Why repeats: a "precise" seek (mpv's hr-seek, its default for --start; ffmpeg's accurate -ss)
shows the first frame at or after the target. With one frame per change that was the NEXT
change's picture; with repeats it is at most REPEAT_MS late, i.e. the right picture unless a
change falls inside that window. Chromium seeks were always right.

Measured on the shared 2-core dev machine (30 s, 8 cues, 1280×720; best of 3, wall time →
multiple of real time; the machine was loaded by other jobs, so figures vary ±25 %):
  moviepy: ImageClip + TextClip per cue + CompositeVideoClip, libx264    ~54 s  →  0.56×
  ffmpeg: color source at 25 fps + subtitles filter + libx264 default     4.9 s  →  6×
  changes only, all-intra, x264 ultrafast + CABAC + 8x8dct, AAC `fast`   0.58 s → 52× (old: bad seeks)
  + repeats every 500 ms, IDR every 2 s                                  0.74 s → 41×
  + repeats every 250 ms, IDR every 2 s (chosen)                         0.93 s → 32×
  + repeats every 200 ms / 100 ms / 40 ms (25 fps)           1.1 / 2.1 / 3.4 s → 26× / 14× / 9×
  bench_render.py full run under load (chosen)                           1.33 s → 23×, 41× moviepy
A repeat costs ~3 ms (x264 still analyses every macroblock before skipping it); the graph and
libass cost little. Earlier findings kept: AAC's `fast` coder is 3× quicker than `twoloop` on
speech; ultrafast with CABAC and 8x8 transforms stays High profile; two parallel ffmpeg runs and
a remux gained nothing. qp 20 (I-frames ≈ 17) gives worst-frame PSNR 51.5 dB against a
lossless render (the old CRF 22 all-intra: 50.8 dB) in smaller files. setpts gets one term per
change, not per frame, summed as a balanced tree: ffmpeg's parser rejects flat sums of >~100
terms. Fades and animations are avoided on purpose: they make every frame different.
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
from .recordings.probe import duration_s as probed_duration_s
from .recordings.probe import probe
from .subtitles import Cue, ass_time, to_ass
from .tools import DEFAULT_TOOLS, Tools

# Each frame lasts this long unless the next change comes sooner; it is also the closing
# frame's length and the shortest gap kept between changes (≤ 25 changes a second keeps the
# stream inside H.264 level 4.0's frame-rate limits for any decoder that checks).
FRAME_MS = 40
_FPS = 1000 // FRAME_MS
# Between changes the picture is repeated at least this often, so that a precise seek (mpv's
# hr-seek, ffmpeg's accurate -ss), which shows the first frame at or after the target, lands at
# most this far after it: on the right picture unless a change falls inside that window.
REPEAT_MS = 250
# A keyframe at least this often (in time), so a seek between distant changes stays cheap.
KEYFRAME_MAX_MS = 2000

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


def _repeats(changes: Sequence[int], repeat_ms: int) -> list[tuple[int, int, int]]:
    """(start, end, frames) per interval between changes: the picture of `start` is shown by
    `frames` evenly spaced frames, so that no gap exceeds repeat_ms nor falls below FRAME_MS."""
    spans = []
    for a, b in zip(changes, changes[1:], strict=False):
        spans.append((a, b, max(1, min(-(-(b - a) // repeat_ms), (b - a) // FRAME_MS))))
    return spans


def repeat_times(changes: Sequence[int], repeat_ms: int = REPEAT_MS) -> list[int]:
    """Every frame's instant (ms): the changes and the repeats between them."""
    spans = _repeats(changes, repeat_ms)
    return [a + (b - a) * i // n for a, b, n in spans for i in range(n)] + list(changes[-1:])


def _balanced_sum(terms: Sequence[str]) -> str:
    # ffmpeg's expression parser rejects a flat sum of more than ~100 terms; nested groups of
    # eight keep both the chain and the parenthesis depth (log₈ n) far inside its limits.
    if len(terms) <= 8:
        return "+".join(terms) or "0"
    k = -(-len(terms) // 8)
    return "+".join(f"({_balanced_sum(terms[i : i + k])})" for i in range(0, len(terms), k))


def _setpts_expr(changes: Sequence[int], repeat_ms: int) -> str:
    """Frame N's time in ms, one term per interval between changes: exactly repeat_times()."""
    terms, first = [], 0
    for a, b, n in _repeats(changes, repeat_ms):
        # trunc() of the float quotient equals Python's // here: a true quotient that is not an
        # integer lies ≥ 1/n away from one, far beyond the division's rounding error.
        step = f"trunc((N-{first})*{b - a}/{n})" if n > 1 else ""
        value = "+".join(str(x) for x in (a, step) if x)
        if value:
            span = f"eq(N,{first})" if n == 1 else f"between(N,{first},{first + n - 1})"
            terms.append(f"{span}*({value})" if step else f"{span}*{value}")
        first += n
    if changes[-1]:
        terms.append(f"gte(N,{first})*{changes[-1]}")
    return _balanced_sum(terms)


def build_render_argv(
    audio: Path,
    ass: Path,
    out_mp4: Path,
    poster: Path,
    *,
    size: tuple[int, int],
    changes: Sequence[int],
    repeat_ms: int = REPEAT_MS,
) -> list[str]:
    """ffmpeg arguments (without the program name) that render one video and its poster.

    `changes` are the instants (ms) at which the picture changes (see frame_times); each is an
    IDR frame, and the repeats between them (see repeat_times) are P-frames of skip blocks.
    """
    w, h = size
    background = (
        ffmpeg.input(f"color=c=black:s={w // 4}x{h // 4}:r={_FPS}:d={FRAME_MS / 1000}", f="lavfi")
        .filter("format", "gbrp")
        .filter("geq", **_BACKGROUND)
        # Converted to YUV once, before the loop: libass then blends straight into YUV. ffmpeg
        # 5.1 blends with BT.601 coefficients, so the whole picture is BT.601 and tagged so.
        .filter("scale", w, h, flags="bicubic", out_color_matrix="bt601", out_range="tv")
        .filter("format", "yuv420p")
        .filter("loop", loop=len(repeat_times(changes, repeat_ms)) - 1, size=1, start=0)
        .filter("settb", "1/1000")
        .filter("setpts", _setpts_expr(changes, repeat_ms))
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
            "qp": 20,  # constant QP: a repeat of an unchanged picture is all skip blocks
            # IDR frames at every change (a seek then decodes only repeats of one picture)
            # and at least every KEYFRAME_MAX_MS; the repeats in between are P-frames.
            "force_key_frames": ",".join(f"{t / 1000:.3f}" for t in changes),
            "forced-idr": 1,
            "g": max(1, KEYFRAME_MAX_MS // repeat_ms),
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


def audio_duration_ms(audio: Path, tools: Tools = DEFAULT_TOOLS) -> int:
    """Length of the audio in ms: read from the WAV header, or by ffprobe for other files."""
    try:
        with wave.open(str(audio), "rb") as wav:
            return round(wav.getnframes() * 1000 / wav.getframerate())
    except (wave.Error, EOFError):
        # e.g. WAVE_FORMAT_EXTENSIBLE or float WAVs, which Python 3.11's wave cannot read
        return round(probed_duration_s(probe(audio, tools)) * 1000)


def render_video(
    audio: Path,
    cues: Sequence[Cue],
    title: TitleCard,
    out_mp4: Path,
    poster: Path,
    *,
    size: tuple[int, int] = (1280, 720),
    font: str = "Noto Sans CJK SC",
    tools: Tools = DEFAULT_TOOLS,
) -> VideoResult:
    """Render the subtitled clause video (H.264/AAC MP4, faststart) and its title poster."""
    w, h = size
    if w % 4 or h % 4 or w <= 0 or h <= 0:
        raise PipelineError(
            f"画幅须为 4 的倍数：{w}×{h} / frame size must be multiples of 4: {w}×{h}"
        )
    if not Path(audio).is_file():
        raise PipelineError(f"找不到音频：{audio} / audio not found: {audio}")
    duration_ms = audio_duration_ms(Path(audio), tools)
    changes = frame_times(cues, title.card_ms, duration_ms)
    # A private directory keeps the ASS path free of characters the filter syntax would need escaped.
    with tempfile.TemporaryDirectory(prefix="kuanyue-video-") as tmp:
        ass = Path(tmp) / "burn.ass"
        ass.write_text(to_ass(cues, size=size, font=font, title=title), encoding="utf-8")
        with atomic_output(out_mp4) as tmp_mp4, atomic_output(poster) as tmp_poster:
            tools.ffmpeg(
                *build_render_argv(
                    Path(audio), ass, tmp_mp4, tmp_poster, size=size, changes=changes
                )
            )
    return VideoResult(Path(out_mp4), Path(poster), duration_ms / 1000, (w, h))

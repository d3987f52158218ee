"""Clause videos: a title card, then the whole clause with the spoken phrase lit, H.264/AAC.

What the pictures show is `clip_layout`'s (ASS events, drawn by libass); the background is
`clip_background`'s (the indigo pattern, or a photo that drifts by one step at each change).

How it is fast. A clause video is a still picture that changes only when a cue starts (a
phrase stays lit until the next one starts: clip_layout.hold_cues) or the title card gives
way to the header, so the graph draws each picture once: the
background (a soft diamond lattice on an indigo gradient) is computed in numpy at quarter
size and read as one raw frame, scaled up, `loop`ed to one frame per change, `setpts` moves
frame N to the Nth change, and `ass` (libass) draws the subtitles as they stand then. Then
one `loop` per interval repeats its picture (references to the same frame: no copy, no
drawing), a second `setpts` moves every frame to its instant, and x264 encodes with
`-fps_mode passthrough`: the file is variable-frame-rate. Output frames are the changes (each
an IDR keyframe, forced by `-force_key_frames`, so cue boundaries are exact to the
millisecond) plus repeats of the current picture at least every REPEAT_MS, and an IDR at
least every KEYFRAME_MAX_MS. With a constant QP (`-qp`) a repeat of an unchanged picture is
all skip blocks (~40 bytes); CRF would spend kilobytes refining it. A closing frame 40 ms
before the end makes the video track as long as the audio. The poster comes out of the same
run (a `split` of frame 0).

Audio. A clause's AAC is encoded once, beside its audio profiles (loudness.master_many), and
copied into every size, all rendered by one ffmpeg (`render_videos`, copy_audio), which also
meters the clause's lossy audio files. Audio that still needs encoding (`render_video` of a
WAV) is encoded by a second ffmpeg running beside the first, which sends it the videos
through a pipe (build_piped_argvs): one ffmpeg encodes AAC in the thread that feeds x264,
one after the other, and the AAC of 30 s costs about as much as the video.

Why repeats: a "precise" seek (mpv's hr-seek, its default for --start; ffmpeg's accurate -ss)
shows the first frame at or after the target. With one frame per change that was the NEXT
change's picture; with repeats it is at most REPEAT_MS late, i.e. the right picture unless a
change falls inside that window. Chromium seeks were always right.

Measured on the shared 2-core dev machine (30 s, 8 cues, 1280×720; best of 3, wall time →
multiple of real time; earlier rows with the machine loaded by other jobs, ±25 %):
  moviepy: ImageClip + TextClip per cue + CompositeVideoClip, libx264    ~54 s  →  0.56×
  ffmpeg: color source at 25 fps + subtitles filter + libx264 default     4.9 s  →  6×
  changes only, all-intra, x264 ultrafast + CABAC + 8x8dct, AAC `fast`   0.58 s → 52× (old: bad seeks)
  + repeats every 500 ms, IDR every 2 s                                  0.74 s → 41×
  + repeats every 250 ms, IDR every 2 s (chosen)                         0.93 s → 32×
  + repeats every 200 ms / 100 ms / 40 ms (25 fps)           1.1 / 2.1 / 3.4 s → 26× / 14× / 9×
  2026-12-03, idle machine: that render (libass on every frame, geq)    0.60 s → 50× (moviepy 0.97×)
  each picture drawn once, numpy background                             0.54 s → 55×
  + the AAC encoded by a second ffmpeg beside it                        0.44 s → 67×
  + an IDR at least every 4 s rather than 2 s (chosen)                  0.40 s → 74×, 77× moviepy
  the clip layout (whole clause large, spoken phrase lit; ~10 pictures)  0.57 s → 53×
    (libass blends ~10 ms of large type per picture; no drop shadow: −30 ms; a photo: 41×)
Counted in instructions (valgrind) for a 26 s clause at 720p, 113 frames, before the change to
one drawing per picture: x264 1.86 G (a repeat costs 12 M, a keyframe 29 M: x264 still
analyses every macroblock before skipping it, and no x264 setting tried — stillimage,
threads, sliced threads, CAVLC, B-frames — made repeats cheaper), `ass` blending into every
frame 1.1 G, the `geq` background 0.28 G, AAC 1.9 G, program start 0.2 G. Drawing each
picture once, the numpy background and one AAC per clause leave x264 as most of the work.
Keyframes at least every 4 s rather than 2 s saved 7 % of x264's work and 16 % of the bytes;
P-frames instead of IDRs at the changes would save 11 % and 26 % more, at the cost of cue
starts that a keyframe seek can land on. Earlier findings kept: AAC's `fast` coder is 3×
quicker than `twoloop` on speech; ultrafast with CABAC and 8x8 transforms stays High profile
(CAVLC is 15 % faster and 30 % larger); qp 20 (I-frames ≈ 17) gives worst-frame PSNR 51.5 dB
against a lossless render (the old CRF 22 all-intra: 50.8 dB) in smaller files. setpts gets
one term per change, not per frame, summed as a balanced tree: ffmpeg's parser rejects flat
sums of >~100 terms. Fades and animations are avoided on purpose: they make every frame
different.
"""

from __future__ import annotations

import os
import tempfile
import wave
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from .clip_background import background_frame as background_frame
from .clip_background import background_still, pan_size, photo_frame
from .clip_layout import Header, clip_ass, hold_cues
from .errors import PipelineError
from .files import atomic_output
from .loudness import Loudness, meter_inputs, parse_meters
from .recordings.probe import duration_s as probed_duration_s
from .recordings.probe import probe
from .subtitles import Cue, ass_time
from .tools import DEFAULT_TOOLS, Tools

# Each frame lasts this long unless the next change comes sooner; it is also the closing
# frame's length and the shortest gap kept between changes (≤ 25 changes a second keeps the
# stream inside H.264 level 4.0's frame-rate limits for any decoder that checks).
FRAME_MS = 40
# Between changes the picture is repeated at least this often, so that a precise seek (mpv's
# hr-seek, ffmpeg's accurate -ss), which shows the first frame at or after the target, lands at
# most this far after it: on the right picture unless a change falls inside that window.
REPEAT_MS = 250
# A keyframe at least this often (in time), so a seek between distant changes stays cheap:
# it decodes at most this long a run of repeats (all skip blocks: a few ms). 4 s rather than
# 2 s: on the sample covenant the extra keyframes were 7 % of x264's work and 16 % of the bytes.
KEYFRAME_MAX_MS = 4000

# The narration's audio in the video: AAC-LC, 48 kHz. The `fast` coder is 3× quicker than
# `twoloop` on speech. loudness.master_many encodes it with these arguments when it masters
# the clause's audio; render_video encodes it so only when given other audio.
AUDIO_CODEC_ARGS = ("-c:a", "aac", "-aac_coder", "fast", "-b:a", "96k", "-ar", "48000")


@dataclass(frozen=True)
class TitleCard:
    """Shown large while the opening chime plays (card_ms), then as the header."""

    village: str
    covenant: str
    clause_label: str
    topic: str
    card_ms: int
    chapter: str = ""  # 第二章 村容村貌, where the covenant has chapters
    section: str = ""


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


def _changes_expr(changes: Sequence[int]) -> str:
    """Frame N's time in ms when there is one frame per change: changes[N]."""
    return _balanced_sum([f"eq(N,{i})*{t}" for i, t in enumerate(changes) if t])


@dataclass(frozen=True)
class Picture:
    """One video of a clause to render: frame size, its ASS file, background, outputs."""

    size: tuple[int, int]
    ass: Path
    background: Path  # background_frame(size), or photo_frame(…, size) if pan, in a file
    out_mp4: Path
    poster: Path
    pan: bool = False  # a photo at pan_size(size), its window moved at each change


def _pictures(
    pictures: Sequence[Picture], changes: Sequence[int], repeat_ms: int
) -> list[tuple[ffmpeg.nodes.FilterableStream, ffmpeg.nodes.OutputStream]]:
    """Per picture: its video stream (every frame at its instant) and its poster's output."""
    spans = _repeats(changes, repeat_ms)
    streams = []
    for picture in pictures:
        w, h = picture.size
        bw, bh = pan_size(picture.size) if picture.pan else (w // 4, h // 4)
        video = (
            ffmpeg.input(str(picture.background), f="rawvideo", pix_fmt="gbrp", s=f"{bw}x{bh}")
            # Converted to YUV once, before the loop: libass then blends straight into YUV.
            # ffmpeg 5.1 blends with BT.601 coefficients, so the picture is BT.601 and tagged so.
            .filter(
                "scale",
                *((bw, bh) if picture.pan else (w, h)),
                flags="bicubic",
                out_color_matrix="bt601",
                out_range="tv",
            )
            .filter("format", "yuv420p")
            # One frame per change, at the change: libass draws each picture once.
            .filter("loop", loop=len(changes) - 1, size=1, start=0)
            .filter("settb", "1/1000")
            .filter("setpts", _changes_expr(changes))
        )
        if picture.pan:
            # The photo's window drifts corner to corner over the clip, one step per change
            # (crop evaluates x and y per frame, and here frames are the changes): a slow
            # pan that leaves the repeats between changes identical, i.e. skip blocks.
            end_s = (changes[-1] + FRAME_MS) / 1000
            video = video.filter(
                "crop", w, h, x=f"(iw-ow)*t/{end_s:.3f}", y=f"(ih-oh)*t/{end_s:.3f}"
            )
        video = video.filter("ass", str(picture.ass))
        first = 0  # index of the interval's picture in the stream so far
        for _a, _b, n in spans:
            if n > 1:
                # The interval's picture, repeated (references, not copies). `loop` counts its
                # start from 1 (ffmpeg 5.1 to 8.0 compare it with the number of frames taken
                # in, this one included): start=first+1 loops the frame at index `first`.
                video = video.filter("loop", loop=n - 1, size=1, start=first + 1)
            first += n
        split = video.filter("setpts", _setpts_expr(changes, repeat_ms)).split()
        image_opts = {"q:v": 2} if picture.poster.suffix.lower() in (".jpg", ".jpeg") else {}
        # Only frame 0 (the title card) flows into the poster branch.
        still = split[1].trim(end_frame=1)
        poster = ffmpeg.output(
            still, str(picture.poster), **{"frames:v": 1, "update": 1, **image_opts}
        )
        streams.append((split[0], poster))
    return streams


def _video_options(
    changes: Sequence[int], repeat_ms: int, threads: int | None
) -> dict[str, str | int]:
    """x264 and timing options of every video stream (see the module docstring)."""
    return {
        "c:v": "libx264",
        # ultrafast with CABAC and 8x8 transforms back on: High profile, and on these frames
        # both faster and smaller than veryfast (see the docstring).
        "preset": "ultrafast",
        "x264-params": "cabac=1:8x8dct=1" + (f":threads={threads}" if threads else ""),
        "tune": "stillimage",
        "qp": 20,  # constant QP: a repeat of an unchanged picture is all skip blocks
        # IDR frames at every change (a seek then decodes only repeats of one picture) and
        # at least every KEYFRAME_MAX_MS; the repeats in between are P-frames.
        "force_key_frames": ",".join(f"{t / 1000:.3f}" for t in changes),
        "forced-idr": 1,
        "g": max(1, KEYFRAME_MAX_MS // repeat_ms),
        "profile:v": "high",
        "level:v": "4.0",
        "fps_mode": "passthrough",
        # Millisecond timestamps end to end; otherwise the encoder inherits the source's
        # 1/25 s time base and moves every change onto a 40 ms grid.
        "enc_time_base:v": "1:1000",
        "colorspace": "smpte170m",
        "color_primaries": "bt709",
        "color_trc": "bt709",
        "color_range": "tv",
    }


def _with_meters(args: list[str], meter: Sequence[Path]) -> list[str]:
    """`args` with `meter`'s files metered in the same run (loudness.meter_inputs)."""
    if not meter:
        return ["-v", "error", *args]
    # The meters print their summaries at info level.
    at = args.index("-filter_complex")
    inputs, chains = meter_inputs(meter, args[:at].count("-i"))
    graph = ";".join([args[at + 1], *chains])
    return [
        "-v",
        "info",
        "-nostats",
        *args[:at],
        *inputs,
        "-filter_complex",
        graph,
        *args[at + 2 :],
    ]


def build_renders_argv(
    audio: Path,
    pictures: Sequence[Picture],
    *,
    changes: Sequence[int],
    repeat_ms: int = REPEAT_MS,
    threads: int | None = None,
    meter: Sequence[Path] = (),
) -> list[str]:
    """ffmpeg arguments (without the program name) that render every picture's video and
    poster in one run, the audio (AAC made with AUDIO_CODEC_ARGS) copied into each video.

    `changes` are the instants (ms) at which the picture changes (see frame_times); each is an
    IDR frame, and the repeats between them (see repeat_times) are P-frames of skip blocks.
    `threads`: x264 threads per video (None: x264's default).
    `meter`: audio files to meter in the same run (loudness.meter_inputs; read the results
    with loudness.parse_meters).
    """
    sound = ffmpeg.input(str(audio)).audio
    outputs = []
    options = _video_options(changes, repeat_ms, threads)
    for picture, (video, poster) in zip(
        pictures, _pictures(pictures, changes, repeat_ms), strict=True
    ):
        mp4 = {**options, "video_track_timescale": 1000, "c:a": "copy", "movflags": "+faststart"}
        outputs += [ffmpeg.output(video, sound, str(picture.out_mp4), **mp4), poster]
    return _with_meters(ffmpeg.merge_outputs(*outputs).get_args(), meter)


def build_piped_argvs(
    audio: Path,
    pictures: Sequence[Picture],
    *,
    changes: Sequence[int],
    repeat_ms: int = REPEAT_MS,
    threads: int | None = None,
    meter: Sequence[Path] = (),
) -> tuple[list[str], list[str]]:
    """ffmpeg arguments of two runs that together render every picture's video and poster,
    the audio encoded to AAC: run at once (Tools.ffmpeg_pipe), the first renders the videos
    (and posters) and writes their streams to `pipe:1` as Matroska, while the second encodes
    the audio and puts it beside each video stream in its MP4. One ffmpeg would encode the
    AAC in the thread that feeds x264, one after the other; two use two cores.
    """
    options = _video_options(changes, repeat_ms, threads)
    streams = _pictures(pictures, changes, repeat_ms)
    videos = ffmpeg.output(*(v for v, _ in streams), "pipe:1", format="matroska", **options)
    render = _with_meters(ffmpeg.merge_outputs(videos, *(p for _, p in streams)).get_args(), meter)
    mux = [
        "-v", "error", "-i", str(audio),
        # The videos arrive as they are encoded: start at once, without probing the pipe.
        "-probesize", "32", "-analyzeduration", "0", "-f", "matroska", "-i", "pipe:0",
    ]  # fmt: skip
    for k, picture in enumerate(pictures):
        mux += [
            "-map", f"1:v:{k}", "-map", "0:a:0", "-c:v", "copy", *AUDIO_CODEC_ARGS,
            "-video_track_timescale", "1000", "-movflags", "+faststart", str(picture.out_mp4),
        ]  # fmt: skip
    return render, mux


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
    duration_ms: int | None = None,
    copy_audio: bool = False,
    threads: int | None = None,
    text: str | None = None,
    background: Path | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> VideoResult:
    """Render the clause video (H.264/AAC MP4, faststart) and its title poster."""
    run = render_videos(
        audio,
        cues,
        title,
        [(size, out_mp4, poster)],
        font=font,
        duration_ms=duration_ms,
        copy_audio=copy_audio,
        threads=threads,
        text=text,
        background=background,
        tools=tools,
    )
    return run.videos[0]


@dataclass(frozen=True)
class VideoRun:
    """What one render_videos run made, and the loudness of the audio files it metered."""

    videos: list[VideoResult]
    metered: list[Loudness]


def render_videos(
    audio: Path,
    cues: Sequence[Cue],
    title: TitleCard,
    outputs: Sequence[tuple[tuple[int, int], Path, Path]],
    *,
    font: str = "Noto Sans CJK SC",
    duration_ms: int | None = None,
    copy_audio: bool = False,
    threads: int | None = None,
    meter: Sequence[Path] = (),
    text: str | None = None,
    heading_cues: int | None = None,
    background: Path | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> VideoRun:
    """Render one clause video and poster per (size, out_mp4, poster).

    `copy_audio`: `audio` is AAC encoded with AUDIO_CODEC_ARGS (as loudness.master_many makes
    it for a clause), copied into every video: one ffmpeg run. Otherwise the audio is encoded
    by a second ffmpeg running beside the first (build_piped_argvs).
    `duration_ms`: the audio's length if the caller knows it (else read from the file).
    `threads`: x264 threads per video (None: x264's default with copy_audio, else one core
    fewer than the machine has, the other being the audio encoder's).
    `meter`: audio files to meter (decoded, true peak included) in the same run, saving a
    program start of their own: a clause's lossy audio files (loudness.master_many `meter`).
    `text`: the clause's display text, punctuation included (else the cues' own text);
    `heading_cues`: how many leading cues read the clause label (None: those whose text is it).
    `background`: a photo (or a video, of which one still is used) shown darkened and
    slowly panned instead of the generated pattern.
    """
    for (w, h), _, _ in outputs:
        if w % 4 or h % 4 or w <= 0 or h <= 0:
            raise PipelineError(
                f"画幅须为 4 的倍数：{w}×{h} / frame size must be multiples of 4: {w}×{h}"
            )
    if not Path(audio).is_file():
        raise PipelineError(f"找不到音频：{audio} / audio not found: {audio}")
    if duration_ms is None:
        duration_ms = audio_duration_ms(Path(audio), tools)
    # A phrase stays lit until the next one starts: no change at a cue's own end.
    held = hold_cues(cues, duration_ms) if cues else []
    changes = frame_times(held, title.card_ms, duration_ms)
    header = Header(title.clause_label, title.topic, title.chapter, title.section)
    # A private directory keeps the ASS path free of characters the filter syntax would need escaped.
    with tempfile.TemporaryDirectory(prefix="kuanyue-video-") as tmp, ExitStack() as stack:
        photo = background_still(background, Path(tmp), tools) if background else None
        pictures = []
        for k, (size, out_mp4, poster) in enumerate(outputs):
            ass = Path(tmp) / f"burn{k}.ass"
            drawn = clip_ass(held, size=size, header=header, village=title.village,
                             covenant=title.covenant, card_ms=title.card_ms, text=text,
                             heading_cues=heading_cues, font=font)  # fmt: skip
            ass.write_text(drawn, encoding="utf-8")
            frame = Path(tmp) / f"background{k}.gbrp"
            frame.write_bytes(photo_frame(photo, size) if photo else background_frame(size))
            tmp_mp4 = stack.enter_context(atomic_output(out_mp4))
            tmp_poster = stack.enter_context(atomic_output(poster))
            pictures.append(Picture(size, ass, frame, tmp_mp4, tmp_poster, pan=photo is not None))
        if copy_audio:
            argv = build_renders_argv(
                Path(audio), pictures, changes=changes, threads=threads, meter=meter
            )
            rendered = tools.ffmpeg(*argv)
        else:
            if threads is None:
                # A core for the audio encoder beside: on 2 cores x264 with one thread and the
                # AAC with the other finish 4 % sooner than x264's own choice (3 threads).
                threads = max(1, (os.cpu_count() or 1) - 1)
            argvs = build_piped_argvs(
                Path(audio), pictures, changes=changes, threads=threads, meter=meter
            )
            rendered, _ = tools.ffmpeg_pipe(*argvs)
    videos = [
        VideoResult(Path(out_mp4), Path(poster), duration_ms / 1000, size)
        for size, out_mp4, poster in outputs
    ]
    metered = parse_meters(rendered.stderr.decode("utf-8", "replace")) if meter else []
    return VideoRun(videos, metered)

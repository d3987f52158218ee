"""Derived copies of a recording: a `web` copy for phones and a `loudspeaker` copy for horns.

The original is never touched; each copy is written atomically into `out_dir` as
`<stem>.web.<ext>` or `<stem>.loudspeaker.mp3`. Where a source already complies, its
streams are copied (no re-encode, so no generation loss and no time spent).

Web audio. AAC (MP4/M4A or ADTS) or Opus (Ogg/WebM/Matroska) at ≤ 160 kb/s and ≤ 2
channels is remuxed: AAC into M4A with the index up front (`+faststart`), Opus into Ogg.
Anything else (WAV, FLAC, MP3, Vorbis, AMR, …) is encoded to Ogg Opus at 64 kb/s, 48 kHz,
mono or stereo as recorded (music, so stereo is kept; over two channels are downmixed).
Opus, like the narration's web profile, so phones get one audio format (iOS 17+ in Safari).

Web loudness — a choice. Songs and drama keep their dynamics and their own level: no
normalisation up to −16 LUFS (that would need a limiter or compressor on quiet field
recordings and flatten a 大歌 that swells from one voice to the whole choir). One static
gain, never positive, is applied when re-encoding: enough to bring the true peak to
−1 dBTP after the encoder's own overshoot, and loud masters down to −14 LUFS (the level
YouTube and Spotify turn loud tracks down to at playback; browsers do no such thing).
Quiet recordings are left as they are. A remuxed copy keeps the original's level: it is
already lossy, so copying it adds no new clipping.

Web video. H.264 High (yuv420p, CRF 23, x264 `veryfast`) + AAC in MP4 with `+faststart`.
The short side becomes 720 if it is ≥ 720, else 480 — or the source's own size when that is
smaller (never upscaled), rounded down to even numbers, aspect kept. Over 30 fps is brought
down to 30 (phones shoot 60 fps; slow links pay for it). Rotated phone videos are turned
upright by ffmpeg's autorotate while decoding, and the output carries no rotation matrix.
AAC audio (≤ 160 kb/s, ≤ 2 channels) is copied even when the picture is re-encoded. A source
whose video is already H.264 (Baseline/Main/High) yuv420p, short side ≤ 720, ≤ 30 fps,
≤ MAX_COPY_VIDEO_KBPS, unrotated, with AAC or no audio, is remuxed into MP4 whatever its
container (MOV, 3GP, MKV). Metadata is dropped from web copies: phone files carry GPS
positions that a public copy must not.

Loudspeaker. The `loudspeaker` profile (profiles.py: mono MP3 64 kb/s 44.1 kHz,
band-limited, −16 LUFS, ≤ −1 dBTP) mastered from the first audio stream of any file ffmpeg
reads, video included. Copied instead only when the source is already a mono 44.1 kHz
64 kb/s MP3 measuring −16 ± 0.5 LUFS with true peak ≤ −1 dBTP — in practice a copy this
profile made. The band limit is not verified (that would need a spectrum), so a
full-band MP3 that happens to match is copied as it is; horns play it fine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import PipelineError, ToolFailed
from ..files import atomic_output
from ..loudness import Loudness, measure_loudness
from ..profiles import PROFILES
from ..tools import DEFAULT_TOOLS, Tools
from .probe import duration_s, probe

# Remux (no re-encode) audio at or under this bitrate; above it a phone on a slow link waits.
MAX_COPY_AUDIO_KBPS = 160
# Remux video at or under this bitrate; x264 CRF 23 `veryfast` gives 720p at ≈1.5–3 Mb/s,
# while phones record 720p at 5–10 Mb/s.
MAX_COPY_VIDEO_KBPS = 4000
WEB_OPUS_KBPS = 64
WEB_AAC_KBPS = 128
# Loud masters are turned down to this (see module doc); quiet ones are never raised.
WEB_LOUDNESS_CAP_LUFS = -14.0
WEB_TRUE_PEAK_DBTP = -1.0
# True peak the encoders add (as in loudness.py): planned for so the decoded copy stays ≤ −1.
_ENCODER_OVERSHOOT_DB = {"libopus": 1.0, "aac": 0.5}
_H264_PROFILES = {"Constrained Baseline", "Baseline", "Main", "High"}
_MAX_FPS = 30.0
# The loudspeaker copy is taken as is when it measures within this of the target (the
# tolerance loudness.master itself keeps to).
_LOUDSPEAKER_TOLERANCE_LU = 0.5
_LOUDSPEAKER_KBPS = 64


@dataclass(frozen=True)
class Derived:
    """A derived copy: which kind, where, its MIME type, whether it was re-encoded, duration."""

    kind: str
    path: Path
    mime: str
    reencoded: bool
    duration_s: float


# ---- reading ffprobe JSON -------------------------------------------------------------


def first_stream(info: dict[str, Any], kind: str) -> dict[str, Any] | None:
    """The first stream of a kind; for video, cover art (attached pictures) does not count."""
    for stream in info.get("streams", []):
        if stream.get("codec_type") != kind:
            continue
        if kind == "video" and stream.get("disposition", {}).get("attached_pic"):
            continue
        return stream
    return None


def rotation(stream: dict[str, Any]) -> int:
    """Display rotation of a video stream (0, 90, 180, 270), read as ffmpeg autorotate does."""
    for side in stream.get("side_data_list", []):
        if "rotation" in side:
            return round(-float(side["rotation"])) % 360
    return round(float(stream.get("tags", {}).get("rotate", 0))) % 360


def display_size(stream: dict[str, Any]) -> tuple[int, int]:
    """(width, height) of a video stream as shown, i.e. after its rotation."""
    width, height = int(stream["width"]), int(stream["height"])
    return (height, width) if rotation(stream) in (90, 270) else (width, height)


def frame_rate(stream: dict[str, Any]) -> float:
    """Average frame rate of a video stream (0.0 when unknown)."""
    for key in ("avg_frame_rate", "r_frame_rate"):
        num, _, den = str(stream.get(key, "0/0")).partition("/")
        if float(den or 1) and float(num or 0):
            return float(num) / float(den or 1)
    return 0.0


def bitrate_kbps(stream: dict[str, Any], info: dict[str, Any]) -> float:
    """A stream's bitrate in kb/s; the container's when the stream does not say (Ogg, ADTS)."""
    rate = stream.get("bit_rate") or info.get("format", {}).get("bit_rate")
    if rate:
        return float(rate) / 1000
    size = float(info.get("format", {}).get("size") or 0)
    seconds = duration_s(info)
    return 8 * size / seconds / 1000 if seconds else float("inf")


def target_short_side(short: int) -> int:
    """The web copy's short side: 720 from 720 up, else 480, never above the source's; even."""
    target = 720 if short >= 720 else min(480, short)
    return target - target % 2


def _audio_copy_target(info: dict[str, Any]) -> tuple[str, str, tuple[str, ...]] | None:
    """(extension, MIME, muxer args) when the audio can be remuxed as the web copy, else None."""
    audio = first_stream(info, "audio")
    if audio is None or int(audio.get("channels", 0)) > 2:
        return None
    if bitrate_kbps(audio, info) > MAX_COPY_AUDIO_KBPS:
        return None
    container = info.get("format", {}).get("format_name", "")
    codec = audio.get("codec_name")
    if codec == "aac" and (container.startswith("mov,mp4") or container == "aac"):
        return ".m4a", "audio/mp4", ("-movflags", "+faststart")
    if codec == "opus" and (container == "ogg" or container.startswith("matroska")):
        return ".opus", "audio/ogg", ()
    return None


def _audio_copyable_in_video(info: dict[str, Any]) -> bool:
    """Whether the source's audio can go into the MP4 web copy as it is."""
    audio = first_stream(info, "audio")
    return audio is None or (
        audio.get("codec_name") == "aac"
        and int(audio.get("channels", 0)) <= 2
        and bitrate_kbps(audio, info) <= MAX_COPY_AUDIO_KBPS
    )


def video_complies(info: dict[str, Any]) -> bool:
    """Whether a video source can be remuxed as the web copy (see module doc)."""
    video = first_stream(info, "video")
    if video is None:
        return False
    return (
        video.get("codec_name") == "h264"
        and video.get("profile") in _H264_PROFILES
        and video.get("pix_fmt") == "yuv420p"
        and min(display_size(video)) <= 720
        and frame_rate(video) <= _MAX_FPS + 0.5
        and rotation(video) == 0
        and bitrate_kbps(video, info) <= MAX_COPY_VIDEO_KBPS
        and _audio_copyable_in_video(info)
    )


def web_gain_db(loudness: Loudness, encoder: str) -> float:
    """The static gain (≤ 0 dB) for a re-encoded web copy (see module doc)."""
    ceiling = WEB_TRUE_PEAK_DBTP - _ENCODER_OVERSHOOT_DB.get(encoder, 0.0)
    return min(
        0.0,
        WEB_LOUDNESS_CAP_LUFS - loudness.integrated_lufs,
        ceiling - loudness.true_peak_dbtp,
    )


# ---- ffmpeg argument lists ------------------------------------------------------------


def _maps(info: dict[str, Any], *kinds: str) -> list[str]:
    """`-map` arguments for the first stream of each kind that the source has."""
    out = []
    for kind in kinds:
        stream = first_stream(info, kind)
        if stream is not None:
            out += ["-map", f"0:{stream['index']}"]
    return out


def remux_argv(
    src: Path, out: Path, info: dict[str, Any], kinds: tuple[str, ...], muxer: tuple[str, ...]
) -> list[str]:
    """ffmpeg arguments copying the first stream of each kind into `out`, metadata dropped."""
    return [
        "-i", str(src), *_maps(info, *kinds), "-c", "copy",
        "-map_metadata", "-1", "-map_chapters", "-1", *muxer, str(out),
    ]  # fmt: skip


def web_audio_argv(src: Path, out: Path, info: dict[str, Any], gain_db: float) -> list[str]:
    """ffmpeg arguments encoding the first audio stream to Ogg Opus for the web."""
    audio = first_stream(info, "audio") or {}
    filters = [f"volume={gain_db:.2f}dB"] if gain_db < 0 else []
    channels = ["-ac", "2"] if int(audio.get("channels", 0)) > 2 else []
    return [
        "-i", str(src), *_maps(info, "audio"), "-map_metadata", "-1", "-map_chapters", "-1",
        *(["-af", ",".join(filters)] if filters else []), *channels, "-ar", "48000",
        "-c:a", "libopus", "-b:a", f"{WEB_OPUS_KBPS}k", str(out),
    ]  # fmt: skip


def web_video_filters(video: dict[str, Any]) -> list[str]:
    """The video filters of the web copy: scale to the target size, cap the rate, yuv420p."""
    width, height = display_size(video)
    short = target_short_side(min(width, height))
    # -2 keeps the aspect and rounds the other side to an even number.
    size = f"-2:{short}" if width >= height else f"{short}:-2"
    filters = [f"scale={size}:flags=bicubic"]
    if frame_rate(video) > _MAX_FPS + 0.5:
        filters.append(f"fps={_MAX_FPS:g}")
    return [*filters, "format=yuv420p"]


def web_video_argv(
    src: Path, out: Path, info: dict[str, Any], *, audio_gain_db: float | None
) -> list[str]:
    """ffmpeg arguments encoding the web MP4; audio is copied when audio_gain_db is None."""
    video = first_stream(info, "video")
    if video is None:
        raise PipelineError(f"没有视频流：{src} / no video stream in {src}")
    audio = first_stream(info, "audio")
    if audio is None:
        audio_args: list[str] = []
    elif audio_gain_db is None:
        audio_args = ["-c:a", "copy"]
    else:
        channels = min(int(audio.get("channels", 2)), 2)
        gain = ["-af", f"volume={audio_gain_db:.2f}dB"] if audio_gain_db < 0 else []
        audio_args = [*gain, "-ac", str(channels), "-c:a", "aac", "-b:a", f"{WEB_AAC_KBPS}k"]
    return [
        "-i", str(src), *_maps(info, "video", "audio"),
        "-map_metadata", "-1", "-map_chapters", "-1",
        "-vf", ",".join(web_video_filters(video)),
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high",
        *audio_args, "-movflags", "+faststart", str(out),
    ]  # fmt: skip


# ---- deriving -------------------------------------------------------------------------


def derive_web(
    src: Path,
    out_dir: Path,
    *,
    info: dict | None = None,
    loudness: Loudness | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> Derived:
    """The web copy of an audio or video file (see module doc); `loudness` saves a metering."""
    src = Path(src)
    info = info if info is not None else _probe(src, tools)
    if first_stream(info, "video") is not None:
        return _derive_web_video(src, Path(out_dir), info, loudness, tools)
    if first_stream(info, "audio") is None:
        raise PipelineError(f"没有音频或视频流：{src} / no audio or video stream in {src}")
    copy = _audio_copy_target(info)
    if copy is not None:
        ext, mime, muxer = copy
        out = Path(out_dir) / f"{src.stem}.web{ext}"
        _run(tools, src, "web", remux_argv, out, info, ("audio",), muxer)
        return Derived("web", out, mime, False, _duration(out, tools))
    gain = web_gain_db(loudness or measure_loudness(src, tools), "libopus")
    out = Path(out_dir) / f"{src.stem}.web.opus"
    _run(tools, src, "web", web_audio_argv, out, info, gain)
    return Derived("web", out, "audio/ogg", True, _duration(out, tools))


def _derive_web_video(
    src: Path, out_dir: Path, info: dict[str, Any], loudness: Loudness | None, tools: Tools
) -> Derived:
    """The web MP4 of a video source: remuxed when it complies, else encoded."""
    out = out_dir / f"{src.stem}.web.mp4"
    if video_complies(info):
        _run(
            tools,
            src,
            "web",
            remux_argv,
            out,
            info,
            ("video", "audio"),
            ("-movflags", "+faststart"),
        )
        return Derived("web", out, "video/mp4", False, _duration(out, tools))
    gain = None
    if not _audio_copyable_in_video(info):
        gain = web_gain_db(loudness or measure_loudness(src, tools), "aac")
    _run(tools, src, "web", web_video_argv, out, info, audio_gain_db=gain)
    return Derived("web", out, "video/mp4", True, _duration(out, tools))


def loudspeaker_format_matches(info: dict[str, Any]) -> bool:
    """Whether the source is an audio-only MP3 in the loudspeaker profile's exact format."""
    profile = PROFILES["loudspeaker"]
    audio = first_stream(info, "audio")
    return (
        audio is not None
        and first_stream(info, "video") is None
        and audio.get("codec_name") == "mp3"
        and int(audio.get("channels", 0)) == profile.channels
        and int(audio.get("sample_rate", 0)) == profile.sample_rate
        and abs(bitrate_kbps(audio, info) - _LOUDSPEAKER_KBPS) < 1
    )


def loudspeaker_level_matches(loudness: Loudness) -> bool:
    """Whether a measured level is what the loudspeaker profile masters to."""
    profile = PROFILES["loudspeaker"]
    return (
        abs(loudness.integrated_lufs - profile.target_lufs) <= _LOUDSPEAKER_TOLERANCE_LU
        and loudness.true_peak_dbtp <= profile.true_peak_dbtp
    )


def derive_loudspeaker(
    src: Path,
    out_dir: Path,
    *,
    info: dict | None = None,
    loudness: Loudness | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> Derived:
    """The loudspeaker copy (mono MP3, band-limited, −16 LUFS) of any audio or video file."""
    src = Path(src)
    info = info if info is not None else _probe(src, tools)
    if first_stream(info, "audio") is None:
        raise PipelineError(f"没有音轨：{src} / no audio stream in {src}")
    profile = PROFILES["loudspeaker"]
    out = Path(out_dir) / f"{src.stem}.loudspeaker.{profile.extension}"
    # Metering costs a decode, so only a source already in the profile's format is metered.
    if loudspeaker_format_matches(info) and loudspeaker_level_matches(
        loudness or measure_loudness(src, tools)
    ):
        _run(tools, src, "loudspeaker", remux_argv, out, info, ("audio",), ())
        return Derived("loudspeaker", out, profile.mime, False, _duration(out, tools))
    try:
        mastered = profile.apply(src, out, tools)
    except ToolFailed as exc:
        raise _failed(src, "loudspeaker", exc) from exc
    return Derived("loudspeaker", out, profile.mime, True, mastered.duration_s)


def _probe(src: Path, tools: Tools) -> dict[str, Any]:
    """ffprobe JSON of `src`, with a clear error for missing or unreadable files."""
    if not src.is_file():
        raise PipelineError(f"找不到媒体文件：{src} / media file not found: {src}")
    try:
        return probe(src, tools)
    except ToolFailed as exc:
        raise PipelineError(
            f"无法读取媒体文件（不是媒体或已损坏）：{src} / cannot read media file "
            f"(not media, or damaged): {src}"
        ) from exc


def _run(
    tools: Tools,
    src: Path,
    kind: str,
    build: Callable[..., list[str]],
    out: Path,
    *args: Any,
    **kwargs: Any,
) -> None:
    """Build the ffmpeg arguments for a temporary name beside `out`, run, rename into place."""
    with atomic_output(out) as tmp:
        try:
            tools.ffmpeg(*build(src, tmp, *args, **kwargs))
        except ToolFailed as exc:
            raise _failed(src, kind, exc) from exc


def _failed(src: Path, kind: str, exc: ToolFailed) -> PipelineError:
    """A bilingual error naming the source, with ffmpeg's last words."""
    tail = exc.stderr.strip().splitlines()[-1:] or [""]
    return PipelineError(
        f"无法生成 {kind} 副本：{src} / cannot derive the {kind} copy of {src}: {tail[0]}"
    )


def _duration(path: Path, tools: Tools) -> float:
    """Duration of a written copy, from ffprobe."""
    return duration_s(probe(path, tools))

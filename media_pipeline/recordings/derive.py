"""Derived copies of a recording: a `web` copy for phones and a `loudspeaker` copy for horns.

The original is never touched; each copy is written atomically into `out_dir` as
`<stem>.web.<ext>` or `<stem>.loudspeaker.mp3`. Where a source already complies, its
streams are copied (no re-encode, so no generation loss and no time spent).

One decode. `derive_copies` builds one ffmpeg command that reads the source once and writes
every copy from it: the web copy (remuxed or encoded), the loudspeaker copy's shaped signal,
the poster of a video, and an EBU R128 meter of the source (true peak 4× oversampled) on
a branch of its own. The loudspeaker copy is finished by a second, short run (below); a
correction, when one is needed, adds a run. Nothing is probed or metered apart from that:
the caller passes the probe and the loudness cataloguing measured (`SourceLevel`), and the
copies' durations come from ffmpeg's `-progress` report.

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
already lossy, so copying it adds no new clipping. Cataloguing measures the sample peak,
not the true peak, so the gain plans for a true peak _TRUE_PEAK_ALLOWANCE_DB above the
sample peak; the run meters the true peak, and the rare copy that needed more is encoded
once more with the exact gain.

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
band-limited ≈150 Hz–7 kHz, gently compressed, −16 LUFS, ≤ −1 dBTP) mastered from the first
audio stream of any file ffmpeg reads, video included, the way loudness.master masters
narration but without its metering passes:
1. in the decode run: downmix to mono, one gain from the loudness cataloguing measured (so
   the compressor sees the recording at the target level), the profile's band limit and
   compressor — at 22.05 kHz, where these filters cost half and 7 kHz is well inside the
   band — and back to 44.1 kHz; the shaped signal goes to a temporary float file, and its
   loudness and sample peak are metered on the way;
2. a second run reads that file: the makeup gain the meter asks for, the limiter (only when
   the peaks could reach the ceiling), MP3. Band-limited to 7 kHz, a signal's true peak is
   at most _INTERSAMPLE_HEADROOM_DB over its 44.1 kHz sample peak, so a peak that stays under
   the ceiling by that much needs no limiter, and the level is exact. Otherwise the limiter
   runs at 2× the sample rate (88.2 kHz): for 7 kHz content that leaves < 0.3 dB of
   inter-sample peak, inside the limiter's margin; the output is metered in the same run and
   the makeup corrected once if the limiter took more than 0.5 LU.
What LAME does to level (its output decodes 0.4 dB quieter, peaks included) is planned for,
as in loudness.py. The copy is taken as it is (remuxed) only when the source is already a
mono 44.1 kHz 64 kb/s MP3 measuring −16 ± 0.5 LUFS with true peak ≤ −1 dBTP — in practice
a copy this profile made; the true peak metered in the run confirms it, or the copy is
mastered after all. The band limit is not verified (that would need a spectrum), so a
full-band MP3 that happens to match is copied as it is; horns play it fine.
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MediaError, PipelineError, ToolFailed
from ..files import MadeFile, atomic_output
from ..loudness import (
    Loudness,
    format_filters,
    measure_loudness,
    parse_ebur128_summary,
    parse_out_time_s,
)
from ..profiles import PROFILES
from ..tools import DEFAULT_TOOLS, Tools
from .analysis import (
    decode_error,
    poster_argv,
    poster_input_args,
    poster_output_args,
    poster_time_s,
)
from .probe import duration_s, media_url, probe

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
# Where only the sample peak is known, the true peak is planned this far above it (what
# music at 44.1/48 kHz usually shows), and a web copy is encoded again only when the metered
# true peak asks for a gain lower by more than _WEB_GAIN_TOLERANCE_DB.
_TRUE_PEAK_ALLOWANCE_DB = 0.3
_WEB_GAIN_TOLERANCE_DB = 0.2
# The loudspeaker copy is taken as is when it measures within this of the target (the
# tolerance loudness.master keeps to), and its makeup is corrected when further off.
_LOUDSPEAKER_TOLERANCE_LU = 0.5
_LOUDSPEAKER_KBPS = 64
# LAME's output decodes this much quieter, peaks included (measured in loudness.py).
_LAME_GAIN_DB = -0.4
# The limiter's ceiling sits this far under the true-peak target (as in loudness.py).
_LIMIT_MARGIN_DB = 0.3
_LIMITER_OVERSAMPLING = 2
# A signal band-limited to B Hz and sampled at fs peaks at most 1/cos(π·B/fs) above its
# largest sample (Bernstein's inequality). B = 8 kHz: the 7 kHz low-pass and its skirt.
_INTERSAMPLE_HEADROOM_DB = -20 * math.log10(math.cos(math.pi * 8000 / 44100))
# The band limit and compressor run at this rate: 7 kHz is well inside its 11 kHz band, and
# the filters cost half what they do at 44.1 kHz (the output is resampled to 44.1 kHz).
_SHAPING_RATE = 22050
# ebur128 reports −70 LUFS (its absolute gate) for silence; there is nothing to master.
_SILENCE_LUFS = -69.0


@dataclass(frozen=True)
class SourceLevel:
    """A source's loudness as already measured: by cataloguing (libav's ebur128, sample peak
    only) or by `measure_loudness` (true peak too). Plain values, from the catalogue's row."""

    integrated_lufs: float
    loudness_range_lu: float = 0.0
    sample_peak_dbfs: float | None = None
    true_peak_dbtp: float | None = None

    @classmethod
    def metered(cls, loudness: Loudness) -> SourceLevel:
        """The level of an ffmpeg ebur128 metering (true peak known)."""
        return cls(
            loudness.integrated_lufs, loudness.loudness_range_lu, None, loudness.true_peak_dbtp
        )

    def planned(self) -> Loudness:
        """The loudness to plan gains with: the true peak when known, else the sample peak
        plus _TRUE_PEAK_ALLOWANCE_DB (0 dBTP when neither is known)."""
        if self.true_peak_dbtp is not None:
            peak = self.true_peak_dbtp
        elif self.sample_peak_dbfs is not None:
            peak = self.sample_peak_dbfs + _TRUE_PEAK_ALLOWANCE_DB
        else:
            peak = 0.0
        return Loudness(self.integrated_lufs, self.loudness_range_lu, peak)


@dataclass(frozen=True)
class DerivedCopies:
    """The copies made in one go, and the source's loudness as metered while making them."""

    made: tuple[MadeFile, ...]
    source: Loudness | None = None  # None when the source was not metered (or has no audio)


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


# ---- ffmpeg arguments -----------------------------------------------------------------

# The source's loudness and true peak, metered on a branch of the decode run.
SOURCE_METER = "ebur128@source=peak=true:framelog=verbose,anullsink"


def _maps(info: dict[str, Any], *kinds: str) -> list[str]:
    """`-map` arguments for the first stream of each kind that the source has."""
    out = []
    for kind in kinds:
        stream = first_stream(info, kind)
        if stream is not None:
            out += ["-map", f"0:{stream['index']}"]
    return out


def remux_args(info: dict[str, Any], kinds: tuple[str, ...], muxer: tuple[str, ...]) -> list[str]:
    """Output arguments copying the first stream of each kind, metadata dropped."""
    return [
        *_maps(info, *kinds), "-c", "copy", "-map_metadata", "-1", "-map_chapters", "-1", *muxer,
    ]  # fmt: skip


def gain_filter(gain_db: float) -> str:
    """A static gain (only ever down) as a filter; `anull` passes the audio as it is."""
    return f"volume={gain_db:.2f}dB" if gain_db < 0 else "anull"


def web_audio_args(info: dict[str, Any], source: str) -> list[str]:
    """Output arguments encoding the audio of filter label `source` to Ogg Opus for the web."""
    audio = first_stream(info, "audio") or {}
    channels = ["-ac", "2"] if int(audio.get("channels", 0)) > 2 else []
    return [
        "-map", source, "-map_metadata", "-1", "-map_chapters", "-1", *channels,
        "-ar", "48000", "-c:a", "libopus", "-b:a", f"{WEB_OPUS_KBPS}k",
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


def web_video_args(info: dict[str, Any], audio_source: str | None) -> list[str]:
    """Output arguments encoding the web MP4; its audio is encoded to AAC from filter label
    `audio_source`, or copied when that is None."""
    video = first_stream(info, "video")
    if video is None:
        raise PipelineError("没有视频流 / no video stream")
    audio = first_stream(info, "audio")
    if audio is None:
        audio_args: list[str] = []
    elif audio_source is None:
        audio_args = ["-map", f"0:{audio['index']}", "-c:a", "copy"]
    else:
        channels = min(int(audio.get("channels", 2)), 2)
        audio_args = [
            "-map", audio_source, "-ac", str(channels), "-c:a", "aac", "-b:a", f"{WEB_AAC_KBPS}k",
        ]  # fmt: skip
    return [
        "-map", f"0:{video['index']}", *audio_args, "-map_metadata", "-1", "-map_chapters", "-1",
        "-vf", ",".join(web_video_filters(video)),
        "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-profile:v", "high",
        "-movflags", "+faststart",
    ]  # fmt: skip


def loudspeaker_shaping(gain_db: float) -> list[str]:
    """Step 1 of the loudspeaker copy: mono, the gain, band limit and compressor (at
    _SHAPING_RATE, see module doc), then the profile's 44.1 kHz."""
    profile = PROFILES["loudspeaker"]
    return [
        *format_filters(_SHAPING_RATE, profile.channels),
        f"volume={gain_db:.2f}dB",
        *profile.filters,
        f"aresample={profile.sample_rate}",
    ]


def loudspeaker_finish_argv(
    shaped: Path, out: Path, *, makeup_db: float, ceiling_dbtp: float | None, threads: int = 0
) -> list[str]:
    """Step 2: ffmpeg arguments reading the shaped float signal, applying the makeup gain and
    (unless `ceiling_dbtp` is None) the oversampled limiter, metered, and encoding the MP3."""
    profile = PROFILES["loudspeaker"]
    rate = profile.sample_rate
    chain = f"volume={makeup_db:.2f}dB"
    if ceiling_dbtp is None:
        graph = f"[0:a]{chain}[out]"
    else:
        # level=0: alimiter otherwise "auto-levels" its output up to the limit;
        # latency=1 removes its 5 ms lookahead delay, so timing is unchanged.
        limiter = f"alimiter=limit={ceiling_dbtp:.2f}dB:attack=5:release=80:level=0:latency=1"
        up = f"aresample={_LIMITER_OVERSAMPLING * rate}"
        graph = (
            f"[0:a]{chain},{up},{limiter},aresample={rate},asplit[out][m];"
            "[m]ebur128@output=peak=sample:framelog=verbose,anullsink"
        )
    threading = _threads(threads)
    return [
        "-nostats", "-progress", "pipe:1", *threading,
        "-f", "f32le", "-ar", str(rate), "-ac", "1", "-i", media_url(shaped),
        "-filter_complex", graph, "-map", "[out]", "-map_metadata", "-1",
        *profile.codec_args, *threading, media_url(out),
    ]  # fmt: skip


def meter_summary(stderr: str, name: str) -> Loudness:
    """The summary of the meter `ebur128@name` in ffmpeg's stderr (its peak: the true peak
    or the sample peak, as the meter was set). The last one: ffmpeg also logs an empty
    summary for a first configuration of the graph that it discards."""
    start = stderr.rfind(f"[ebur128@{name} @")
    if start < 0:
        raise PipelineError(
            f"ffmpeg 输出中没有响度摘要（{name}）/ no ebur128 summary ({name}) in ffmpeg output"
        )
    end = stderr.find("\n[", start + 1)
    return parse_ebur128_summary(stderr[start : end if end >= 0 else None])


def _threads(threads: int) -> list[str]:
    return ["-threads", str(threads)] if threads else []


class _Command:
    """One ffmpeg run being put together: the source as input 0, a filter graph fed by its
    first audio stream (decoded once, split to every branch), more inputs, and outputs."""

    def __init__(self, src: Path, info: dict[str, Any], threads: int) -> None:
        audio = first_stream(info, "audio")
        self._audio = "" if audio is None else f"[0:{audio['index']}]"
        self._threads = threads
        self._inputs = [*_threads(threads), "-i", media_url(src)]
        self._count = 1
        self._taps: list[str] = []
        self._outputs: list[str] = []

    def add_input(self, args: list[str]) -> int:
        """Add an input (its options, ending in `-i URL`); return its index."""
        self._inputs += [*_threads(self._threads), *args]
        self._count += 1
        return self._count - 1

    def tap(self, chain: str) -> None:
        """Feed the decoded audio into `chain`: filters ending in an output label or a sink."""
        self._taps.append(chain)

    def output(self, args: list[str], out: Path) -> None:
        """Add an output: its arguments (maps, codecs, muxer options), written to `out`."""
        self._outputs += [*args, *_threads(self._threads), media_url(out)]

    def argv(self) -> list[str]:
        graph = []
        if self._taps:
            pads = [f"[a{i}]" for i in range(len(self._taps))]
            graph = [f"{self._audio}asplit={len(pads)}{''.join(pads)}"]
            graph += [pad + chain for pad, chain in zip(pads, self._taps, strict=True)]
        n = str(self._threads)
        threading = ["-filter_threads", n, "-filter_complex_threads", n] if self._threads else []
        return [
            "-nostats", "-progress", "pipe:1", *threading, *self._inputs,
            *(["-filter_complex", ";".join(graph)] if graph else []), *self._outputs,
        ]  # fmt: skip


# ---- deriving -------------------------------------------------------------------------


def web_audio_encoder(info: dict[str, Any]) -> str | None:
    """The encoder of the web copy's audio, or None when its audio is copied (or absent)."""
    if first_stream(info, "video") is not None:
        return None if _audio_copyable_in_video(info) else "aac"
    return None if _audio_copy_target(info) is not None else "libopus"


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


def derive_copies(
    src: Path,
    out_dir: Path,
    *,
    info: dict | None = None,
    level: SourceLevel | None = None,
    web: bool = True,
    loudspeaker: bool = True,
    poster: Path | None = None,
    meter_source: bool = False,
    threads: int = 0,
    tools: Tools = DEFAULT_TOOLS,
) -> DerivedCopies:
    """The web and/or loudspeaker copies of `src` in `out_dir`, and a poster of a video at
    `poster`, from one decode (see module doc). Returns them poster, web, loudspeaker.

    `info` is the source's probe in ffprobe's shape and `level` its loudness as already
    measured; either is measured here when not given (ffprobe, ffmpeg's ebur128).
    `meter_source` asks for the source's true peak (and loudness) in the result; it is
    metered anyway when a gain was planned without it. `threads` (0: ffmpeg's choice) caps
    the threads of each decoder, encoder and filter graph.
    """
    src, out_dir = Path(src), Path(out_dir)
    info = info if info is not None else _probe(src, tools)
    audio, video = first_stream(info, "audio"), first_stream(info, "video")
    if audio is None and video is None:
        raise PipelineError(f"没有音频或视频流：{src} / no audio or video stream in {src}")
    if loudspeaker and audio is None:
        raise PipelineError(f"没有音轨：{src} / no audio stream in {src}")
    encoder = web_audio_encoder(info) if web else None
    if level is None and (loudspeaker or encoder):
        level = SourceLevel.metered(measure_loudness(src, tools))
    job = _Job(src, out_dir, info, level, threads, tools)
    return job.derive(web=web, loudspeaker=loudspeaker, poster=poster, meter=meter_source)


@dataclass
class _Web:
    """The plan for a web copy."""

    path: Path
    mime: str
    reencoded: bool
    muxer: tuple[str, ...] = ()
    encoder: str | None = None  # of the audio, when it is encoded
    gain_db: float = 0.0


class _Job:
    """The work of one derive_copies call: the decode run, the runs that finish or correct
    it, and the files made."""

    def __init__(
        self,
        src: Path,
        out_dir: Path,
        info: dict[str, Any],
        level: SourceLevel | None,
        threads: int,
        tools: Tools,
    ) -> None:
        self.src, self.out_dir, self.info, self.level = src, out_dir, info, level
        self.threads, self.tools = threads, tools

    def derive(
        self, *, web: bool, loudspeaker: bool, poster: Path | None, meter: bool
    ) -> DerivedCopies:
        src, info, level = self.src, self.info, self.level
        plan = self._plan_web() if web else None
        profile = PROFILES["loudspeaker"]
        speaker = self.out_dir / f"{src.stem}.loudspeaker.{profile.extension}"
        remux_speaker = (
            loudspeaker
            and level is not None
            and loudspeaker_format_matches(info)
            and loudspeaker_level_matches(level.planned())
        )
        # Gains planned from the sample peak are checked against the true peak in the run.
        unsure = level is not None and level.true_peak_dbtp is None
        meter = meter or (unsure and (bool(plan is not None and plan.encoder) or remux_speaker))
        if first_stream(info, "video") is None:
            poster = None
        made: list[MadeFile] = []
        with contextlib.ExitStack() as stack:
            # Every output is written under a temporary name, renamed when all are done.
            cmd = _Command(src, info, self.threads)
            if meter:
                cmd.tap(SOURCE_METER)
            if poster is not None:
                # The poster's output comes first: listed after the others, ffmpeg 5.1 goes
                # on decoding the poster's input long after its one frame (measured on a
                # 12 s clip: 0.36 s of CPU for the run instead of 0.11 s).
                poster_tmp = stack.enter_context(atomic_output(poster))
                at_s = poster_time_s(duration_s(info))
                index = cmd.add_input(poster_input_args(src, at_s))
                cmd.output(poster_output_args(1280, skip_black=True, source=index), poster_tmp)
            if plan is not None:
                web_tmp = stack.enter_context(atomic_output(plan.path))
                self._add_web(cmd, plan, web_tmp)
            if loudspeaker:
                speaker_tmp = stack.enter_context(atomic_output(speaker))
                shaped = stack.enter_context(_scratch_file(self.out_dir, src.stem, ".f32"))
                if remux_speaker:
                    cmd.output(remux_args(info, ("audio",), ()), speaker_tmp)
                else:
                    self._add_shaping(cmd, shaped)
            kinds = [kind for kind, on in (("web", web), ("loudspeaker", loudspeaker)) if on]
            proc = self._run(cmd, "、".join(kinds or ["poster"]))
            stderr = proc.stderr.decode("utf-8", "replace")
            seconds = _out_time(proc)
            source = meter_summary(stderr, "source") if meter else None

            if poster is not None:
                self._ensure_poster(poster_tmp, at_s)
                made.append(MadeFile("poster", str(poster), "image/jpeg"))
            if plan is not None:
                web_s = seconds
                if unsure and plan.encoder and source is not None:
                    web_s = self._correct_web(plan, web_tmp, source) or seconds
                made.append(
                    MadeFile("web", str(plan.path), plan.mime, web_s, reencoded=plan.reencoded)
                )
            if loudspeaker:
                if remux_speaker and source is not None and not loudspeaker_level_matches(source):
                    # Metered, the source is not at the profile's level after all: master it
                    # from the level just metered, in a run of its own.
                    remux_speaker = False
                    self.level = SourceLevel.metered(source)
                    again = _Command(src, info, self.threads)
                    self._add_shaping(again, shaped)
                    stderr = self._run(again, "loudspeaker").stderr.decode("utf-8", "replace")
                if not remux_speaker:
                    shaped_level = meter_summary(stderr, "shaped")
                    seconds = self._finish_speaker(shaped, speaker_tmp, shaped_level)
                made.append(
                    MadeFile(
                        "loudspeaker",
                        str(speaker),
                        profile.mime,
                        seconds,
                        reencoded=not remux_speaker,
                    )
                )
        return DerivedCopies(tuple(made), source)

    def _correct_web(self, plan: _Web, out: Path, source: Loudness) -> float | None:
        """Encode the web copy once more if its true peak, metered, asks for a lower gain
        than was planned from the sample peak; return the new copy's duration if so."""
        assert plan.encoder is not None
        exact = web_gain_db(source, plan.encoder)
        if exact >= plan.gain_db - _WEB_GAIN_TOLERANCE_DB:
            return None
        plan.gain_db = exact
        again = _Command(self.src, self.info, self.threads)
        self._add_web(again, plan, out)
        return _out_time(self._run(again, "web"))

    def _plan_web(self) -> _Web:
        src, info, out_dir = self.src, self.info, self.out_dir
        encoder = web_audio_encoder(info)
        gain = web_gain_db(self.level.planned(), encoder) if encoder and self.level else 0.0
        if first_stream(info, "video") is not None:
            path = out_dir / f"{src.stem}.web.mp4"
            return _Web(
                path,
                "video/mp4",
                not video_complies(info),
                ("-movflags", "+faststart"),
                encoder,
                gain,
            )
        copy = _audio_copy_target(info)
        if copy is not None:
            ext, mime, muxer = copy
            return _Web(out_dir / f"{src.stem}.web{ext}", mime, False, muxer)
        return _Web(out_dir / f"{src.stem}.web.opus", "audio/ogg", True, (), encoder, gain)

    def _add_web(self, cmd: _Command, plan: _Web, out: Path) -> None:
        info = self.info
        video = first_stream(info, "video") is not None
        if not plan.reencoded:
            cmd.output(
                remux_args(info, ("video", "audio") if video else ("audio",), plan.muxer), out
            )
            return
        if plan.encoder:
            cmd.tap(f"{gain_filter(plan.gain_db)}[web]")
        if video:
            cmd.output(web_video_args(info, "[web]" if plan.encoder else None), out)
        else:
            cmd.output(web_audio_args(info, "[web]"), out)

    def _add_shaping(self, cmd: _Command, shaped: Path) -> None:
        """Step 1 of the loudspeaker copy on a branch of `cmd` (see module doc)."""
        assert self.level is not None
        _require_sound(self.level.integrated_lufs, self.src)
        gain = _speaker_aim() - self.level.integrated_lufs
        chain = ",".join(loudspeaker_shaping(gain))
        cmd.tap(
            f"{chain},asplit[shaped][m];[m]ebur128@shaped=peak=sample:framelog=verbose,anullsink"
        )
        cmd.output(["-map", "[shaped]", "-c:a", "pcm_f32le", "-f", "f32le"], shaped)

    def _finish_speaker(self, shaped: Path, out: Path, level: Loudness) -> float:
        """Step 2 of the loudspeaker copy (see module doc); returns its duration in seconds.

        `level` is the shaped signal's loudness with its *sample* peak.
        """
        _require_sound(level.integrated_lufs, self.src)
        aim = _speaker_aim()
        profile = PROFILES["loudspeaker"]
        ceiling = profile.true_peak_dbtp - _LIMIT_MARGIN_DB - _LAME_GAIN_DB
        makeup = aim - level.integrated_lufs
        # The limiter (and the meter after it) only where the peaks could reach the ceiling.
        limit = level.true_peak_dbtp + makeup + _INTERSAMPLE_HEADROOM_DB > ceiling
        for attempt in range(2):
            argv = loudspeaker_finish_argv(
                shaped, out, makeup_db=makeup, ceiling_dbtp=ceiling if limit else None,
                threads=self.threads,
            )  # fmt: skip
            proc = self._run(argv, "loudspeaker")
            if not limit:
                break
            # The limiter lowers the loudness a little where it works: correct once if needed.
            error = (
                aim
                - meter_summary(proc.stderr.decode("utf-8", "replace"), "output").integrated_lufs
            )
            if attempt or abs(error) <= _LOUDSPEAKER_TOLERANCE_LU:
                break
            makeup += error
        return _out_time(proc)

    def _ensure_poster(self, tmp: Path, at_s: float) -> None:
        """Every frame searched was black (or none decoded): take the frame at `at_s` as it is."""
        if tmp.exists() and tmp.stat().st_size:
            return
        try:
            self.tools.ffmpeg(*poster_argv(self.src, tmp, at_s, 1280, skip_black=False))
        except ToolFailed as exc:
            raise decode_error(self.src, exc) from None
        if not (tmp.exists() and tmp.stat().st_size):
            raise MediaError(self.src, "corrupt", "没有可解码的画面 / no decodable video frame")

    def _run(self, cmd: _Command | list[str], kind: str):  # noqa: ANN202
        argv = cmd.argv() if isinstance(cmd, _Command) else cmd
        try:
            return self.tools.ffmpeg(*argv)
        except ToolFailed as exc:
            raise _failed(self.src, kind, exc) from exc


def _speaker_aim() -> float:
    """The loudness fed to LAME so that the decoded loudspeaker copy is on target."""
    return PROFILES["loudspeaker"].target_lufs - _LAME_GAIN_DB


def _require_sound(integrated_lufs: float, src: Path) -> None:
    """Refuse to master silence (ebur128 gates it all away; any gain would be arbitrary)."""
    if not integrated_lufs > _SILENCE_LUFS:
        raise PipelineError(
            f"音频无声，无法标准化：{src} / audio is silent, cannot normalise: {src}"
        )


def _out_time(proc: Any) -> float:
    return parse_out_time_s(proc.stdout.decode("utf-8", "replace"))


@contextlib.contextmanager
def _scratch_file(out_dir: Path, stem: str, suffix: str) -> Iterator[Path]:
    """A hidden temporary file beside the copies, removed afterwards whatever happens."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f".{stem}.{uuid.uuid4().hex[:8]}{suffix}"
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)


def derive_web(
    src: Path,
    out_dir: Path,
    *,
    info: dict | None = None,
    level: SourceLevel | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> MadeFile:
    """The web copy of an audio or video file (see module doc); `level` spares a metering."""
    copies = derive_copies(src, out_dir, info=info, level=level, loudspeaker=False, tools=tools)
    return copies.made[0]


def derive_loudspeaker(
    src: Path,
    out_dir: Path,
    *,
    info: dict | None = None,
    level: SourceLevel | None = None,
    tools: Tools = DEFAULT_TOOLS,
) -> MadeFile:
    """The loudspeaker copy (mono MP3, band-limited, −16 LUFS) of any audio or video file."""
    copies = derive_copies(src, out_dir, info=info, level=level, web=False, tools=tools)
    return copies.made[0]


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


def _failed(src: Path, kind: str, exc: ToolFailed) -> PipelineError:
    """A bilingual error naming the source, with ffmpeg's last words."""
    tail = exc.stderr.strip().splitlines()[-1:] or [""]
    return PipelineError(
        f"无法生成 {kind} 副本：{src} / cannot derive the {kind} copy of {src}: {tail[0]}"
    )

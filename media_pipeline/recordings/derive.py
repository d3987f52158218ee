"""Derived copies of a recording: a `web` copy for phones and a `loudspeaker` copy for horns.

The original is never touched; each copy is written atomically into `out_dir` as
`<stem>.web.<ext>` or `<stem>.loudspeaker.mp3`. Where a source already complies, its
streams are copied (no re-encode, so no generation loss and no time spent).

One decode. `derive_copies` builds one ffmpeg command that reads the source once and writes
every copy from it: the web copy (remuxed or encoded), the loudspeaker copy's shaped signal,
the poster of a video, and, where a gain depends on it, an EBU R128 meter of the source
(true peak 4× oversampled) on a branch of its own. The loudspeaker copy is finished by a
second, short run (below); a correction, when one is needed, adds a run. Nothing is probed
or metered apart from that: the caller passes the probe and the loudness cataloguing
measured (`SourceLevel`), and the copies' durations are read from the files (libav).

Several sources at once. `derive_many` puts many sources' work in the same two runs (each
ffmpeg start spends ~70 ms resolving the symbols of 200 shared libraries, which is more than
the copies of a short recording cost); every label and meter carries the source's tag. The
audio is decoded by `amovie` filters inside the graph, not by `-i` inputs, which ffmpeg 5.1
reads in a thread each when there are several, handing every packet over (see _Decode). A
source's own failure (silence, a black video) fails only it; a shared run that fails is run
again source by source, so each error names its file. Measured on the benchmark's 40
recordings in one process (CPU seconds): 2 runs each with `-i` 24.6, with `amovie` 23.0,
shared by 4 recordings on average 19.8. In-process encoding through PyAV was tried: its
bundled LAME and Opus ran 2–3× slower than Debian's ffmpeg.

Web audio. AAC (MP4/M4A or ADTS), Opus (Ogg/WebM/Matroska) or MP3 at ≤ 160 kb/s and ≤ 2
channels is remuxed: AAC into M4A with the index up front (`+faststart`), Opus into Ogg, MP3
as MP3 (every browser plays it; encoding it again would lose quality and take the longest
part of its copies' time). Anything else (WAV, FLAC, Vorbis, AMR, …) is encoded to Ogg Opus
at 64 kb/s, 48 kHz, mono or stereo as recorded (music, so stereo is kept; over two channels
are downmixed). Opus, like the narration's web profile (iOS 17+ in Safari).

Web loudness — a choice. Songs and drama keep their dynamics and their own level: no
normalisation up to −16 LUFS (that would need a limiter or compressor on quiet field
recordings and flatten a 大歌 that swells from one voice to the whole choir). One static
gain, never positive, is applied when re-encoding: enough to bring the true peak to
−1 dBTP after the encoder's own overshoot, and loud masters down to −14 LUFS (the level
YouTube and Spotify turn loud tracks down to at playback; browsers do no such thing).
Quiet recordings are left as they are. A remuxed copy keeps the original's level: it is
already lossy, so copying it adds no new clipping. Cataloguing measures the sample peak,
not the true peak, so the gain plans for a true peak _TRUE_PEAK_ALLOWANCE_DB above the
sample peak. Where the peak could decide the gain (a sample peak within
_TRUE_PEAK_WORST_DB of the ceiling, after the loudness cap's gain), the run meters the true
peak, and the rare copy that needed more is encoded once more with the exact gain; else the
true peak is not metered, as its 4× oversampling costs a third of such a run.

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
import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import MediaError, PipelineError, ToolFailed
from ..files import MadeFile, atomic_output
from ..loudness import (
    Loudness,
    format_filters,
    measure_loudness,
    parse_ebur128_summary,
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
# libopus complexity (default 10). 7 is the lowest that keeps its tonality analysis (music or
# speech, bandwidth, VBR boosts for tonal bands), where a song's quality lies; it encodes
# 15 % faster than 10 (8–10 only search CELT's choices more finely), and Opus is the
# largest part of a WAV's or FLAC's copies.
WEB_OPUS_COMPLEXITY = 7
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
# Music's true peak rarely exceeds its sample peak by 1 dB, heavily clipped masters by 3
# (at 44.1 kHz); a sample peak this far under the ceiling cannot decide the gain.
_TRUE_PEAK_WORST_DB = 3.0
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
    if codec == "mp3" and container == "mp3":
        return ".mp3", "audio/mpeg", ()
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


def peak_may_decide(level: SourceLevel, encoder: str) -> bool:
    """Whether the true peak, not known, could lower the web gain planned from the sample
    peak: i.e. whether it is worth metering (see module doc)."""
    if level.true_peak_dbtp is not None:
        return False  # known: the gain is exact
    if level.sample_peak_dbfs is None:
        return True
    worst = replace(level, true_peak_dbtp=level.sample_peak_dbfs + _TRUE_PEAK_WORST_DB)
    return web_gain_db(worst.planned(), encoder) < web_gain_db(level.planned(), encoder)


# ---- ffmpeg arguments -----------------------------------------------------------------


def _maps(info: dict[str, Any], kinds: tuple[str, ...], source: int) -> list[str]:
    """`-map` arguments for the first stream of each kind that input `source` has."""
    out = []
    for kind in kinds:
        stream = first_stream(info, kind)
        if stream is not None:
            out += ["-map", f"{source}:{stream['index']}"]
    return out


def remux_args(
    info: dict[str, Any], kinds: tuple[str, ...], muxer: tuple[str, ...], source: int = 0
) -> list[str]:
    """Output arguments copying the first stream of each kind of input `source`, metadata
    dropped."""
    return [
        *_maps(info, kinds, source), "-c", "copy", "-map_metadata", "-1", "-map_chapters", "-1",
        *muxer,
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
        "-compression_level", str(WEB_OPUS_COMPLEXITY),
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


def web_video_args(info: dict[str, Any], audio_source: str | None, source: int = 0) -> list[str]:
    """Output arguments encoding the web MP4 of input `source`; its audio is encoded to AAC
    from filter label `audio_source`, or copied when that is None."""
    video = first_stream(info, "video")
    if video is None:
        raise PipelineError("没有视频流 / no video stream")
    audio = first_stream(info, "audio")
    if audio is None:
        audio_args: list[str] = []
    elif audio_source is None:
        audio_args = ["-map", f"{source}:{audio['index']}", "-c:a", "copy"]
    else:
        channels = min(int(audio.get("channels", 2)), 2)
        audio_args = [
            "-map", audio_source, "-ac", str(channels), "-c:a", "aac", "-b:a", f"{WEB_AAC_KBPS}k",
        ]  # fmt: skip
    return [
        "-map", f"{source}:{video['index']}", *audio_args, "-map_metadata", "-1", "-map_chapters", "-1",
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


class _Run:
    """One ffmpeg run being put together: inputs, one filter graph and outputs. Several
    sources' work can share a run (derive_many); each source's labels carry its own tag."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._inputs: list[str] = []
        self._count = 0
        self._graph: list[str] = []
        self._first: list[str] = []
        self._outputs: list[str] = []

    def add_input(self, args: list[str]) -> int:
        """Add an input (its options, ending in `-i URL`); return its index."""
        self._inputs += [*_threads(self.threads), *args]
        self._count += 1
        return self._count - 1

    def add_chains(self, chains: list[str]) -> None:
        """Add filter chains (with their labels) to the run's graph."""
        self._graph += chains

    def output(self, args: list[str], out: Path, *, first: bool = False) -> None:
        """Add an output: its arguments (maps, codecs, muxer options), written to `out`;
        `first`: listed before the others."""
        (self._first if first else self._outputs).extend(
            [*args, *_threads(self.threads), media_url(out)]
        )

    def argv(self) -> list[str]:
        n = str(self.threads)
        threading = ["-filter_threads", n, "-filter_complex_threads", n] if self.threads else []
        graph = ["-filter_complex", ";".join(self._graph)] if self._graph else []
        return ["-nostats", *threading, *self._inputs, *graph, *self._first, *self._outputs]


def movie_source(path: Path, stream: int, threads: int) -> str:
    """An `amovie` filter reading stream `stream` of `path`, escaped for a filter graph."""
    # Two levels: the option parser unescapes the value, the graph parser the whole filter.
    value = re.sub(r"([\\':])", r"\\\1", media_url(path))
    args = re.sub(r"([\\'\[\],;])", r"\\\1", f"filename={value}")
    return f"amovie={args}:s={stream}:dec_threads={threads or 0}"


class _Decode:
    """A source's part of the decode run: an `amovie` filter that decodes its first audio
    stream once, split to every branch when the part is closed, and an input (`-i`) only
    for what copies or re-encodes its streams as they are.

    Why `amovie` and not `-i`: in a run of several inputs ffmpeg 5.1 reads each input in a
    thread of its own and hands every packet over to the main thread, which costs more
    than the shared run saves (4 three-minute AAC files: 1.92 s of CPU in one run with
    `-i`, 1.65 s in four runs, 1.53 s in one run with `amovie`)."""

    def __init__(self, run: _Run, src: Path, info: dict[str, Any], tag: str) -> None:
        self.run, self.src, self.tag = run, src, tag
        self._input: int | None = None
        self._audio = first_stream(info, "audio")
        self._taps: list[str] = []

    @property
    def input(self) -> int:
        """The source as an input of the run (added on first use)."""
        if self._input is None:
            self._input = self.run.add_input(["-i", media_url(self.src)])
        return self._input

    def tap(self, chain: str) -> None:
        """Feed the decoded audio into `chain`: filters ending in an output label or a sink."""
        self._taps.append(chain)

    def close(self) -> None:
        if not self._taps or self._audio is None:
            return
        pads = [f"[a{self.tag}_{i}]" for i in range(len(self._taps))]
        source = movie_source(self.src, int(self._audio["index"]), self.run.threads)
        self.run.add_chains(
            [f"{source},asplit={len(pads)}{''.join(pads)}"]
            + [pad + chain for pad, chain in zip(pads, self._taps, strict=True)]
        )


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


@dataclass(frozen=True)
class CopiesRequest:
    """What to make of one source: its web and/or loudspeaker copy in `out_dir`, a poster of
    a video at `poster`. `info` (ffprobe's shape) and `level` are measured when not given;
    `meter_source` asks for the source's true peak and loudness in the result."""

    src: Path
    out_dir: Path
    info: dict | None = None
    level: SourceLevel | None = None
    web: bool = True
    loudspeaker: bool = True
    poster: Path | None = None
    meter_source: bool = False


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
    `poster`, from one decode (see module doc and CopiesRequest). Returns them poster, web,
    loudspeaker. `threads` (0: ffmpeg's choice) caps the threads of each decoder, encoder
    and filter graph."""
    request = CopiesRequest(
        Path(src), Path(out_dir), info, level, web, loudspeaker, poster, meter_source
    )
    (result,) = derive_many([request], threads=threads, tools=tools)
    if isinstance(result, PipelineError):
        raise result
    return result


def derive_many(
    requests: Sequence[CopiesRequest], *, threads: int = 0, tools: Tools = DEFAULT_TOOLS
) -> list[DerivedCopies | PipelineError]:
    """Every request's copies (see derive_copies), in the same two ffmpeg runs for all of
    them: each run spends ~70 ms loading ffmpeg's libraries, more than a short recording's
    copies cost. A source that cannot be copied gets its error in its place; when it makes
    a shared run fail, each source is run again alone."""
    results: list[DerivedCopies | PipelineError | None] = [None] * len(requests)
    jobs: list[tuple[int, _Job]] = []
    for i, request in enumerate(requests):
        try:
            jobs.append((i, _Job.prepare(request, str(i), threads, tools)))
        except PipelineError as exc:
            results[i] = exc
    try:
        together = _derive_together([job for _i, job in jobs])
    except PipelineError as exc:
        if len(jobs) == 1:
            together = [exc]  # alone: the failure is the source's own
        else:
            together = [
                derive_many([requests[i]], threads=threads, tools=tools)[0] for i, _ in jobs
            ]
    for (i, _job), result in zip(jobs, together, strict=True):
        results[i] = result
    return [r for r in results if r is not None]


def _derive_together(jobs: list[_Job]) -> list[DerivedCopies | PipelineError]:
    """The decode run and the finishing run shared by `jobs`. A job's own failure after the
    decode run is its result; a failure before, or of a shared run, is raised, every job's
    files discarded (a job's part of a run is all or nothing, so planning is not split)."""
    outcome: dict[int, DerivedCopies | PipelineError] = {}

    def each(step: Callable[[_Job], DerivedCopies | None]) -> None:
        for n, job in enumerate(jobs):
            if n in outcome:
                continue
            try:
                made = step(job)
            except PipelineError as exc:
                job.discard(exc)
                outcome[n] = exc
            else:
                if made is not None:
                    outcome[n] = made

    if not jobs:
        return []
    tools, threads = jobs[0].tools, jobs[0].threads
    try:
        decode = _Run(threads)
        for job in jobs:
            job.plan(decode)
        kinds = "、".join(dict.fromkeys(k for job in jobs for k in job.kinds())) or "poster"
        stderr = _run_shared(decode, jobs, kinds, tools)
        each(lambda job: job.after_decode(stderr))
        finish = _Run(threads)
        each(lambda job: job.plan_finish(finish))
        if any(job.finishing for n, job in enumerate(jobs) if n not in outcome):
            stderr = _run_shared(finish, jobs, "loudspeaker", tools)
            each(lambda job: job.after_finish(stderr))
        each(lambda job: job.complete())
    except BaseException as exc:
        for n, job in enumerate(jobs):
            if n not in outcome:
                job.discard(exc)
        raise
    return [outcome[n] for n in range(len(jobs))]


def _run_shared(run: _Run, jobs: list[_Job], kind: str, tools: Tools) -> str:
    """Run a shared ffmpeg; its stderr. A failure is the source's own when it is alone."""
    try:
        return tools.ffmpeg(*run.argv()).stderr.decode("utf-8", "replace")
    except ToolFailed as exc:
        src = jobs[0].src if len(jobs) == 1 else Path(f"{len(jobs)} sources")
        raise _failed(src, kind, exc) from exc


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
    """The work for one source: its part of the decode run, the runs that correct it (alone,
    rarely), its part of the finishing run, and the files made (kept only when complete)."""

    def __init__(
        self, request: CopiesRequest, info: dict[str, Any], tag: str, threads: int, tools: Tools
    ) -> None:
        self.src, self.out_dir, self.info = request.src, request.out_dir, info
        self.level, self.tag, self.threads, self.tools = request.level, tag, threads, tools
        self.request = request
        self.stack = contextlib.ExitStack()
        self.finishing: _Finish | None = None
        self.made: list[MadeFile] = []
        self.source: Loudness | None = None

    @classmethod
    def prepare(cls, request: CopiesRequest, tag: str, threads: int, tools: Tools) -> _Job:
        """Check the request, probing and metering what it does not give."""
        src = Path(request.src)
        info = request.info if request.info is not None else _probe(src, tools)
        audio, video = first_stream(info, "audio"), first_stream(info, "video")
        if audio is None and video is None:
            raise PipelineError(f"没有音频或视频流：{src} / no audio or video stream in {src}")
        if request.loudspeaker and audio is None:
            raise PipelineError(f"没有音轨：{src} / no audio stream in {src}")
        job = cls(request, info, tag, threads, tools)
        encoder = web_audio_encoder(info) if request.web else None
        if request.level is None and (request.loudspeaker or encoder):
            job.level = SourceLevel.metered(measure_loudness(src, tools))
        if request.loudspeaker:
            # Checked here, not while planning: a job's part of a shared run is all or nothing.
            assert job.level is not None
            _require_sound(job.level.integrated_lufs, src)
        return job

    def kinds(self) -> list[str]:
        on = (("web", self.request.web), ("loudspeaker", self.request.loudspeaker))
        return [kind for kind, wanted in on if wanted]

    def plan(self, run: _Run) -> None:
        """Add this source's decode, copies, poster and meters to the decode run."""
        request, info, level, tag = self.request, self.info, self.level, self.tag
        self.plan_web = self._plan_web() if request.web else None
        self.remux_speaker = (
            request.loudspeaker
            and level is not None
            and loudspeaker_format_matches(info)
            and loudspeaker_level_matches(level.planned())
        )
        # A gain planned from the sample peak is checked against the true peak in the run,
        # where the true peak could decide it; so is a loudspeaker copy taken as it is.
        unsure = level is not None and level.true_peak_dbtp is None
        plan = self.plan_web
        self.check_web = bool(
            level is not None and plan is not None and plan.encoder
            and peak_may_decide(level, plan.encoder)
        )  # fmt: skip
        self.meter = request.meter_source or self.check_web or (unsure and self.remux_speaker)
        self.poster = request.poster if first_stream(info, "video") is not None else None
        part = _Decode(run, self.src, info, tag)
        if self.meter:
            # To a null output, not a sink in the graph: ffmpeg pulls frames from outputs,
            # and a meter may be the only branch of an `amovie` (the copies being remuxed).
            part.tap(f"ebur128@source{tag}=peak=true:framelog=verbose[meter{tag}]")
            run.output(["-map", f"[meter{tag}]", "-f", "null"], Path(os.devnull))
        if self.poster is not None:
            # Posters' outputs come first: listed after the others, ffmpeg 5.1 goes on
            # decoding a poster's input long after its one frame (measured on a 12 s
            # clip: 0.36 s of CPU for the run instead of 0.11 s).
            self.poster_tmp = self.stack.enter_context(atomic_output(self.poster))
            self.poster_at_s = poster_time_s(duration_s(info))
            index = run.add_input(poster_input_args(self.src, self.poster_at_s))
            poster_args = poster_output_args(1280, skip_black=True, source=index)
            run.output(poster_args, self.poster_tmp, first=True)
        if plan is not None:
            self.web_tmp = self.stack.enter_context(atomic_output(plan.path))
            self._add_web(part, plan, self.web_tmp)
        if request.loudspeaker:
            profile = PROFILES["loudspeaker"]
            self.speaker = self.out_dir / f"{self.src.stem}.loudspeaker.{profile.extension}"
            self.speaker_tmp = self.stack.enter_context(atomic_output(self.speaker))
            self.shaped = self.stack.enter_context(
                _scratch_file(self.out_dir, self.src.stem, ".w64")
            )
            if self.remux_speaker:
                run.output(remux_args(info, ("audio",), (), part.input), self.speaker_tmp)
            else:
                self._add_shaping(part, self.shaped)
        part.close()

    def after_decode(self, stderr: str) -> None:
        """Read this source's meters; make what the decode run could not (alone)."""
        tag = self.tag
        self.source = meter_summary(stderr, f"source{tag}") if self.meter else None
        if self.poster is not None:
            self._ensure_poster(self.poster_tmp, self.poster_at_s)
            self.made.append(MadeFile("poster", str(self.poster), "image/jpeg"))
        plan = self.plan_web
        if plan is not None:
            if self.check_web and self.source is not None:
                self._correct_web(plan, self.web_tmp, self.source)
            self.made.append(MadeFile("web", str(plan.path), plan.mime, reencoded=plan.reencoded))
        if not self.request.loudspeaker:
            return
        if (
            self.remux_speaker
            and self.source is not None
            and not loudspeaker_level_matches(self.source)
        ):
            # Metered, the source is not at the profile's level after all: master it from
            # the level just metered, in a run of its own.
            self.remux_speaker = False
            self.level = SourceLevel.metered(self.source)
            again = _Run(self.threads)
            part = _Decode(again, self.src, self.info, tag)
            self._add_shaping(part, self.shaped)
            part.close()
            stderr = self._run(again, "loudspeaker")
        if not self.remux_speaker:
            shaped = meter_summary(stderr, f"shaped{tag}")
            _require_sound(shaped.integrated_lufs, self.src)
            self.finishing = _Finish.plan(shaped)

    def plan_finish(self, run: _Run) -> None:
        """Add the loudspeaker copy's finishing to the finishing run (see module doc)."""
        if self.finishing is not None:
            self.finishing.add_to(run, self.shaped, self.speaker_tmp, self.tag)

    def after_finish(self, stderr: str) -> None:
        """Correct the makeup once (alone) where the limiter took more than the tolerance."""
        finishing = self.finishing
        if finishing is None or finishing.ceiling_dbtp is None:
            return
        # The limiter lowers the loudness a little where it works.
        error = _speaker_aim() - meter_summary(stderr, f"output{self.tag}").integrated_lufs
        if abs(error) > _LOUDSPEAKER_TOLERANCE_LU:
            finishing.makeup_db += error
            again = _Run(self.threads)
            finishing.add_to(again, self.shaped, self.speaker_tmp, self.tag)
            self._run(again, "loudspeaker")

    def complete(self) -> DerivedCopies:
        """Keep the files made (renamed into place), with their durations as written."""
        if self.request.loudspeaker:
            self.made.append(
                MadeFile(
                    "loudspeaker",
                    str(self.speaker),
                    PROFILES["loudspeaker"].mime,
                    reencoded=not self.remux_speaker,
                )
            )
        durations = {}
        if self.plan_web is not None:
            durations["web"] = _written_s(self.web_tmp)
        if self.request.loudspeaker:
            durations["loudspeaker"] = _written_s(self.speaker_tmp)
        made = [
            replace(f, duration_s=durations[f.kind]) if f.kind in durations else f
            for f in self.made
        ]
        self.stack.close()
        return DerivedCopies(tuple(made), self.source)

    def discard(self, exc: BaseException) -> None:
        """Remove every file this job began (a job that failed, or a run interrupted)."""
        self.stack.__exit__(type(exc), exc, exc.__traceback__)

    def _correct_web(self, plan: _Web, out: Path, source: Loudness) -> None:
        """Encode the web copy once more (alone) if its true peak, metered, asks for a lower
        gain than was planned from the sample peak."""
        assert plan.encoder is not None
        exact = web_gain_db(source, plan.encoder)
        if exact >= plan.gain_db - _WEB_GAIN_TOLERANCE_DB:
            return
        plan.gain_db = exact
        again = _Run(self.threads)
        part = _Decode(again, self.src, self.info, self.tag)
        self._add_web(part, plan, out)
        part.close()
        self._run(again, "web")

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

    def _add_web(self, part: _Decode, plan: _Web, out: Path) -> None:
        info, run, n = self.info, part.run, part.input
        video = first_stream(info, "video") is not None
        if not plan.reencoded:
            kinds = ("video", "audio") if video else ("audio",)
            run.output(remux_args(info, kinds, plan.muxer, n), out)
            return
        label = f"[web{self.tag}]"
        if plan.encoder:
            part.tap(f"{gain_filter(plan.gain_db)}{label}")
        if video:
            run.output(web_video_args(info, label if plan.encoder else None, n), out)
        else:
            run.output(web_audio_args(info, label), out)

    def _add_shaping(self, part: _Decode, shaped: Path) -> None:
        """Step 1 of the loudspeaker copy on a branch of the decode (see module doc)."""
        assert self.level is not None
        _require_sound(self.level.integrated_lufs, self.src)
        gain = _speaker_aim() - self.level.integrated_lufs
        chain, tag = ",".join(loudspeaker_shaping(gain)), self.tag
        part.tap(
            f"{chain},asplit[shaped{tag}][m{tag}];"
            f"[m{tag}]ebur128@shaped{tag}=peak=sample:framelog=verbose,anullsink"
        )
        # Wave64: float samples with a header `amovie` reads, and sizes past 4 GB.
        part.run.output(["-map", f"[shaped{tag}]", "-c:a", "pcm_f32le", "-f", "w64"], shaped)

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

    def _run(self, run: _Run, kind: str) -> str:
        try:
            return self.tools.ffmpeg(*run.argv()).stderr.decode("utf-8", "replace")
        except ToolFailed as exc:
            raise _failed(self.src, kind, exc) from exc


@dataclass
class _Finish:
    """Step 2 of the loudspeaker copy: the makeup gain, and the limiter's ceiling when the
    peaks could reach it (None: no limiter, the level is exact)."""

    makeup_db: float
    ceiling_dbtp: float | None

    @classmethod
    def plan(cls, shaped: Loudness) -> _Finish:
        """From the shaped signal's loudness, with its *sample* peak."""
        profile = PROFILES["loudspeaker"]
        ceiling = profile.true_peak_dbtp - _LIMIT_MARGIN_DB - _LAME_GAIN_DB
        makeup = _speaker_aim() - shaped.integrated_lufs
        limit = shaped.true_peak_dbtp + makeup + _INTERSAMPLE_HEADROOM_DB > ceiling
        return cls(makeup, ceiling if limit else None)

    def add_to(self, run: _Run, shaped: Path, out: Path, tag: str) -> None:
        """Read the shaped float signal, apply the makeup (and the oversampled limiter,
        metered as `output<tag>`) and encode the MP3."""
        profile = PROFILES["loudspeaker"]
        rate = profile.sample_rate
        chain = f"{movie_source(shaped, 0, run.threads)},volume={self.makeup_db:.2f}dB"
        if self.ceiling_dbtp is None:
            chains = [f"{chain}[out{tag}]"]
        else:
            # level=0: alimiter otherwise "auto-levels" its output up to the limit;
            # latency=1 removes its 5 ms lookahead delay, so timing is unchanged.
            limiter = (
                f"alimiter=limit={self.ceiling_dbtp:.2f}dB:attack=5:release=80:level=0:latency=1"
            )
            up = f"aresample={_LIMITER_OVERSAMPLING * rate}"
            chains = [
                f"{chain},{up},{limiter},aresample={rate},asplit[out{tag}][o{tag}]",
                f"[o{tag}]ebur128@output{tag}=peak=sample:framelog=verbose,anullsink",
            ]
        run.add_chains(chains)
        run.output(["-map", f"[out{tag}]", "-map_metadata", "-1", *profile.codec_args], out)


def _written_s(path: Path) -> float | None:
    """A made file's duration as its container tells it (read in-process)."""
    from .libav import probe_media

    try:
        return probe_media(path).duration_s
    except PipelineError:
        return None


def _speaker_aim() -> float:
    """The loudness fed to LAME so that the decoded loudspeaker copy is on target."""
    return PROFILES["loudspeaker"].target_lufs - _LAME_GAIN_DB


def _require_sound(integrated_lufs: float, src: Path) -> None:
    """Refuse to master silence (ebur128 gates it all away; any gain would be arbitrary)."""
    if not integrated_lufs > _SILENCE_LUFS:
        raise PipelineError(
            f"音频无声，无法标准化：{src} / audio is silent, cannot normalise: {src}"
        )


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

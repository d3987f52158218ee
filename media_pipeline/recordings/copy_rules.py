"""What a recording's copies must be: the web copy's and the loudspeaker copy's rules,
as ffmpeg arguments and filter chains; derive.py runs them.

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

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..errors import PipelineError
from ..loudness import Loudness, format_filters, parse_ebur128_summary
from ..profiles import PROFILES
from .probe import duration_s, media_url

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
# true peak asks for a gain lower by more than WEB_GAIN_TOLERANCE_DB.
_TRUE_PEAK_ALLOWANCE_DB = 0.3
# Music's true peak rarely exceeds its sample peak by 1 dB, heavily clipped masters by 3
# (at 44.1 kHz); a sample peak this far under the ceiling cannot decide the gain.
_TRUE_PEAK_WORST_DB = 3.0
WEB_GAIN_TOLERANCE_DB = 0.2
# The loudspeaker copy is taken as is when it measures within this of the target (the
# tolerance loudness.master keeps to), and its makeup is corrected when further off.
LOUDSPEAKER_TOLERANCE_LU = 0.5
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


def audio_copy_target(info: dict[str, Any]) -> tuple[str, str, tuple[str, ...]] | None:
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


# ---- the loudspeaker copy ------------------------------------------------------------


def web_audio_encoder(info: dict[str, Any]) -> str | None:
    """The encoder of the web copy's audio, or None when its audio is copied (or absent)."""
    if first_stream(info, "video") is not None:
        return None if _audio_copyable_in_video(info) else "aac"
    return None if audio_copy_target(info) is not None else "libopus"


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
        abs(loudness.integrated_lufs - profile.target_lufs) <= LOUDSPEAKER_TOLERANCE_LU
        and loudness.true_peak_dbtp <= profile.true_peak_dbtp
    )


@dataclass
class SpeakerFinish:
    """Step 2 of the loudspeaker copy: the makeup gain, and the limiter's ceiling when the
    peaks could reach it (None: no limiter, the level is exact)."""

    makeup_db: float
    ceiling_dbtp: float | None

    @classmethod
    def plan(cls, shaped: Loudness) -> SpeakerFinish:
        """From the shaped signal's loudness, with its *sample* peak."""
        profile = PROFILES["loudspeaker"]
        ceiling = profile.true_peak_dbtp - _LIMIT_MARGIN_DB - _LAME_GAIN_DB
        makeup = speaker_aim() - shaped.integrated_lufs
        limit = shaped.true_peak_dbtp + makeup + _INTERSAMPLE_HEADROOM_DB > ceiling
        return cls(makeup, ceiling if limit else None)

    def chains(self, shaped: Path, tag: str, threads: int = 0) -> list[str]:
        """Filter chains reading the shaped float signal, applying the makeup (and the
        oversampled limiter, metered as `output<tag>`), to the label `out<tag>`."""
        rate = PROFILES["loudspeaker"].sample_rate
        chain = f"{movie_source(shaped, 0, threads)},volume={self.makeup_db:.2f}dB"
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
        return chains

    @staticmethod
    def output_args(tag: str) -> list[str]:
        """Output arguments encoding label `out<tag>` to the loudspeaker MP3."""
        return ["-map", f"[out{tag}]", "-map_metadata", "-1", *PROFILES["loudspeaker"].codec_args]


def speaker_aim() -> float:
    """The loudness fed to LAME so that the decoded loudspeaker copy is on target."""
    return PROFILES["loudspeaker"].target_lufs - _LAME_GAIN_DB


def require_sound(integrated_lufs: float, src: Path) -> None:
    """Refuse to master silence (ebur128 gates it all away; any gain would be arbitrary)."""
    if not integrated_lufs > _SILENCE_LUFS:
        raise PipelineError(
            f"音频无声，无法标准化：{src} / audio is silent, cannot normalise: {src}"
        )


def movie_source(path: Path, stream: int, threads: int) -> str:
    """An `amovie` filter reading stream `stream` of `path`, escaped for a filter graph."""
    # Two levels: the option parser unescapes the value, the graph parser the whole filter.
    value = re.sub(r"([\\':])", r"\\\1", media_url(path))
    args = re.sub(r"([\\'\[\],;])", r"\\\1", f"filename={value}")
    return f"amovie={args}:s={stream}:dec_threads={threads or 0}"

"""A small ffprobe wrapper: raw JSON for storage, and a few typed helpers over it."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import MediaError, PipelineError, ToolFailed
from ..tools import DEFAULT_TOOLS, Tools


def probe_argv(path: Path | str) -> list[str]:
    """The ffprobe command that describes every stream and the container as JSON."""
    return [
        "ffprobe", "-v", "error", "-print_format", "json",
        "-show_format", "-show_streams", str(path),
    ]  # fmt: skip


def probe(path: Path | str, tools: Tools = DEFAULT_TOOLS) -> dict[str, Any]:
    """Run ffprobe on `path` and return its JSON (keys "format" and "streams")."""
    out = tools.run(probe_argv(path)).stdout
    try:
        return json.loads(out)
    except json.JSONDecodeError as exc:
        raise PipelineError(
            f"ffprobe 输出无法解析：{path} / unreadable ffprobe output for {path}"
        ) from exc


def streams(info: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    """The streams of one codec_type ("video", "audio", "subtitle") in file order."""
    return [s for s in info.get("streams", []) if s.get("codec_type") == kind]


def duration_s(info: dict[str, Any]) -> float:
    """Container duration in seconds (the longest stream), or 0.0 when unknown."""
    return float(info.get("format", {}).get("duration") or 0.0)


def stream_duration_s(stream: dict[str, Any]) -> float:
    """One stream's duration in seconds, or 0.0 when unknown."""
    return float(stream.get("duration") or 0.0)


def video_size(info: dict[str, Any]) -> tuple[int, int] | None:
    """(width, height) of the first video stream, or None if there is none."""
    video = streams(info, "video")
    return (int(video[0]["width"]), int(video[0]["height"])) if video else None


def media_url(path: Path | str) -> str:
    """`path` as an ffmpeg input/output URL that no file name can misread.

    Absolute with the `file:` protocol, so names that start with "-" or contain ":" (read
    as a protocol) or "%" are taken literally.
    """
    return f"file:{Path(path).absolute()}"


@dataclass(frozen=True)
class StreamInfo:
    """One audio or video stream of a recording, as ffprobe describes it."""

    kind: str  # "audio" | "video"
    codec: str
    sample_rate: int | None
    channels: int | None
    width: int | None
    height: int | None
    fps: float | None
    bit_rate: int | None
    # A cover picture embedded in an audio file (mp3/m4a artwork) is a one-frame "video".
    attached_pic: bool = False


@dataclass(frozen=True)
class MediaInfo:
    """What a probe of one recording found; `raw` is ffprobe's JSON (format and streams)."""

    path: Path
    container: str
    duration_s: float
    size: int
    streams: tuple[StreamInfo, ...]
    raw: dict[str, Any]

    @property
    def has_audio(self) -> bool:
        """True when the file has an audio stream."""
        return any(s.kind == "audio" for s in self.streams)

    @property
    def has_video(self) -> bool:
        """True when the file has a video stream (a cover picture counts)."""
        return any(s.kind == "video" for s in self.streams)

    @property
    def is_video(self) -> bool:
        """True when the file has moving pictures, not just an attached cover picture."""
        return any(s.kind == "video" and not s.attached_pic for s in self.streams)

    @property
    def audio(self) -> StreamInfo | None:
        """The first audio stream, or None."""
        return next((s for s in self.streams if s.kind == "audio"), None)

    @property
    def audio_duration_s(self) -> float:
        """The first audio stream's duration (a video's may differ), else the file's."""
        audio = streams(self.raw, "audio")
        return (
            stream_duration_s(audio[0]) if audio and audio[0].get("duration") else self.duration_s
        )

    @property
    def video(self) -> StreamInfo | None:
        """The first real (not cover picture) video stream, or None."""
        return next((s for s in self.streams if s.kind == "video" and not s.attached_pic), None)


# ffprobe messages that mean a recognised container is incomplete rather than not media.
_CORRUPT_MESSAGES = ("partial file", "truncat")
# Containers whose streams' bit rates come from a header or index that describes the
# whole file; for these, a file much smaller than rate × duration has lost its end. Ogg
# and Matroska are left out: their durations come from the data actually present.
_INDEXED = ("mov", "mp4", "m4a", "3gp", "mp3", "wav")
_TRUNCATED_RATIO = 1.2


def media_size(path: Path) -> int:
    """The size of a file about to be probed; MediaError when it is missing or empty."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise MediaError(path, "missing") from None
    if size == 0:
        raise MediaError(path, "empty")
    return size


def probe_media(path: Path | str, tools: Tools = DEFAULT_TOOLS) -> MediaInfo:
    """Probe one recording with one ffprobe run; raise MediaError if it cannot be used."""
    path = Path(path)
    media_size(path)
    try:
        raw = probe(media_url(path), tools)
    except ToolFailed as exc:
        lines = exc.stderr.strip().splitlines()
        detail = lines[-1].removeprefix(f"{media_url(path)}: ") if lines else ""
        corrupt = any(m in exc.stderr for m in _CORRUPT_MESSAGES) or (
            # An interrupted phone recording: an MP4/MOV that begins right (an "ftyp" box)
            # but lacks its index (the "moov" box, written last). Random bytes named .m4a
            # get the same message from ffprobe, but do not begin with ftyp.
            "moov atom not found" in exc.stderr and head(path)[4:8] == b"ftyp"
        )
        raise MediaError(path, "corrupt" if corrupt else "not-media", detail) from None
    except PipelineError as exc:
        raise MediaError(path, "not-media", str(exc)) from None
    info = media_info(path, raw)
    check_usable(info, decoders(tools))
    return info


def media_info(path: Path, raw: dict[str, Any]) -> MediaInfo:
    """A MediaInfo from ffprobe's JSON (pure: no check that the media is usable)."""
    fmt = raw.get("format", {})
    found = tuple(
        stream_info(s) for s in raw.get("streams", []) if s.get("codec_type") in ("audio", "video")
    )
    return MediaInfo(
        path=path,
        container=container_name(raw),
        duration_s=_duration(raw),
        size=int(fmt.get("size") or 0),
        streams=found,
        raw=raw,
    )


def stream_info(stream: dict[str, Any]) -> StreamInfo:
    """A StreamInfo from one ffprobe stream object."""
    return StreamInfo(
        kind=stream["codec_type"],
        codec=stream.get("codec_name") or "unknown",
        sample_rate=_int(stream.get("sample_rate")),
        channels=_int(stream.get("channels")),
        width=_int(stream.get("width")),
        height=_int(stream.get("height")),
        fps=(
            _rate(stream.get("avg_frame_rate")) or _rate(stream.get("r_frame_rate"))
            if stream["codec_type"] == "video" and not _attached(stream)
            else None
        ),
        bit_rate=_int(stream.get("bit_rate")),
        attached_pic=_attached(stream),
    )


def container_name(raw: dict[str, Any]) -> str:
    """A short container name ("m4a", "mp4", "mov", "3gp", "webm", "mp3", …).

    ffprobe names the whole ISO/QuickTime family "mov,mp4,m4a,3gp,3g2,mj2"; the brand tells
    them apart, and an MP4 without moving pictures is an M4A whatever its brand (Android
    phones write audio as "mp42" or "isom").
    """
    fmt = raw.get("format", {})
    names = str(fmt.get("format_name", "")).split(",")
    kinds = {s.get("codec_type") for s in raw.get("streams", []) if not _attached(s)}
    if "mov" in names:
        brand = str(fmt.get("tags", {}).get("major_brand", "")).strip().lower()
        if brand.startswith("qt"):
            return "mov"
        if brand.startswith(("3gp", "3g2")):
            return "3gp"
        return "mp4" if "video" in kinds else "m4a"
    if "matroska" in names:
        codecs = {s.get("codec_name") for s in raw.get("streams", [])}
        return "webm" if codecs <= {"vp8", "vp9", "av1", "opus", "vorbis"} else "matroska"
    return names[0]


def check_usable(info: MediaInfo, decodable: frozenset[str], *, stills: bool = False) -> None:
    """Raise MediaError unless `info` has a stream in a `decodable` codec, its data all there.

    `stills`: a picture (PNG, JPEG: one frame, no duration) is usable too.
    """
    playable = [s for s in info.streams if not s.attached_pic]
    if not playable:
        raise MediaError(info.path, "not-media", "没有音频或视频流 / no audio or video stream")
    known = [s for s in playable if s.codec in decodable]
    if not known:
        codecs = ", ".join(sorted({s.codec for s in playable}))
        raise MediaError(info.path, "unsupported", codecs)
    if info.duration_s <= 0 and not (stills and info.has_video):
        raise MediaError(info.path, "corrupt", "时长未知 / duration unknown")
    rates = [s.bit_rate or 0 for s in playable]
    if info.container in _INDEXED and all(rates):
        declared = sum(rates) * info.duration_s / 8
        if declared > _TRUNCATED_RATIO * info.size:
            raise MediaError(
                info.path,
                "corrupt",
                f"只有 {info.size} 字节，应约 {declared:.0f} 字节 / "
                f"{info.size} bytes where about {declared:.0f} are expected",
            )


@functools.cache
def decoders(tools: Tools = DEFAULT_TOOLS) -> frozenset[str]:
    """Codec names this ffmpeg can decode (asked once per process and program)."""
    out = tools.run(["ffmpeg", "-hide_banner", "-decoders"]).stdout.decode("utf-8", "replace")
    return parse_decoders(out)


_DECODER_LINE = re.compile(r"^ [VAS][.A-Z]{5} (\S+)\s.*?(?:\(codec (\S+)\))?\s*$", re.M)


def parse_decoders(listing: str) -> frozenset[str]:
    """Codec names from `ffmpeg -decoders` ("libopus … (codec opus)" counts as "opus")."""
    return frozenset(codec or name for name, codec in _DECODER_LINE.findall(listing) if name != "=")


def _duration(raw: dict[str, Any]) -> float:
    """The container's duration, else the longest stream's (0.0 when none is known)."""
    values = [raw.get("format", {}).get("duration")]
    values += [s.get("duration") for s in raw.get("streams", [])]
    for value in values:
        try:
            if value is not None and float(value) > 0:
                return float(value)
        except ValueError:
            continue
    return 0.0


def head(path: Path) -> bytes:
    """The first 12 bytes of a file (enough for an ISO box header)."""
    with path.open("rb") as file:
        return file.read(12)


def _attached(stream: dict[str, Any]) -> bool:
    return bool(stream.get("disposition", {}).get("attached_pic"))


def _int(value: Any) -> int | None:
    try:
        return int(value) if value not in (None, "", "N/A") else None
    except ValueError:
        return None


def _rate(value: Any) -> float | None:
    """A frame rate from ffprobe's "num/den" (None for "0/0")."""
    num, _, den = str(value or "").partition("/")
    try:
        rate = float(num) / float(den or 1)
    except (ValueError, ZeroDivisionError):
        return None
    return round(rate, 3) if rate > 0 else None

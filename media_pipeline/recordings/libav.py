"""Reading recordings in-process through libav (PyAV): a probe and one analysis pass.

Why in-process: Debian's ffmpeg and ffprobe link over 200 shared libraries and spend about
80 ms resolving symbols before they read a byte, which is more than decoding a minute of
audio costs. Cataloguing a folder runs a probe and an analysis per file, so those start-ups
would be most of the work; here the libraries are loaded once per worker process.

- `probe_media` describes the file in ffprobe's JSON shape (the keys and codec names
  ffprobe uses), so probe.py's checks and helpers read it unchanged.
- `analyse` decodes the first audio stream once, inside one libavfilter graph
  (amovie → ebur128 → mono 11025 Hz → silencedetect), and returns loudness, silence, the
  waveform's peak bins and the first FINGERPRINT_S of mono samples (the Chromaprint
  fingerprint's input). Only the graph's output (100 ms frames at 11025 Hz) crosses into
  Python, one frame at a time: what is kept of it is bounded (the loudness meter's
  histograms, the first and last silence, a fixed number of peak bins, two minutes of
  samples), so ten hours take no more memory than one minute.

A file is opened here, checked to be a regular file (a FIFO or a device would block the
decode or never end), and libav reads that open file through /proc/self/fd: what was
checked is what is read, and a name in any bytes (not UTF-8) never has to pass as text.

True peak is not measured here: its 4× oversampling would double the cost of the pass.
The sample peak is; the true peak is metered when the copies are made (derive.py).
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MediaError
from ..files import NotRegularFile, fd_path, open_regular
from ..tools import CALLS
from .analysis import SILENCE_MIN_S, SILENCE_NOISE_DB, Silence, check_decoded, silence_bounds
from .fingerprint import LENGTH_S as FINGERPRINT_S
from .probe import MediaInfo, check_usable, media_info, media_url
from .waveform import PCM_RATE, PeakBins

# The rate the analysis hands back: Chromaprint's own working rate, and fine enough for a
# waveform of 1,000–2,000 columns.
RATE = PCM_RATE
_ATTACHED_PIC = 1024  # AV_DISPOSITION_ATTACHED_PIC
_DISPOSITIONS = {"default": 1, "attached_pic": _ATTACHED_PIC}


@functools.cache
def _av() -> Any:
    """The `av` module, with libav's log routed to Python at warning level (for messages)."""
    import av
    import av.logging

    av.logging.set_level(av.logging.WARNING)
    # The messages explain refusals: the same one for a second file must not be dropped.
    av.logging.set_skip_repeated(False)
    return av


@dataclass(frozen=True)
class AnalysisPass:
    """What one decode of a recording's audio found."""

    integrated_lufs: float
    loudness_range_lu: float
    sample_peak_dbfs: float | None  # None for digital silence
    silence: Silence
    peaks: PeakBins  # the waveform: min/max bins of the mono samples at RATE
    head: np.ndarray  # the first FINGERPRINT_S (at most) of mono float32 at RATE
    decoded_s: float


@dataclass(frozen=True)
class _Source:
    """A recording opened for libav: the URL it reads, and the open file behind it."""

    url: str
    fd: int
    size: int

    def local(self, text: str, path: Path) -> str:
        """A libav message with the file's real URL in place of the /proc one."""
        return text.replace(self.url, media_url(path))


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[_Source]:
    """Open `path` if it is a regular file (MediaError otherwise) for libav to read."""
    try:
        fh = open_regular(path)
    except FileNotFoundError:
        raise MediaError(path, "missing") from None
    except NotRegularFile as exc:
        raise MediaError(path, "unreadable", str(exc)) from None
    except OSError as exc:
        raise MediaError(path, "unreadable", exc.strerror or str(exc)) from None
    with fh:
        size = os.fstat(fh.fileno()).st_size
        if size == 0:
            raise MediaError(path, "empty")
        link = fd_path(fh.fileno())
        yield _Source(f"file:{link}" if link else media_url(path), fh.fileno(), size)


def probe_media(path: Path | str, *, stills: bool = False) -> MediaInfo:
    """Probe a recording in-process; raise MediaError (with a reason) if it cannot be used.

    `stills`: a picture with no duration is usable (a clip background, not a recording).
    """
    av = _av()
    path = Path(path)
    CALLS["libav"] += 1
    with _opened(path) as source:
        try:
            with av.logging.Capture(local=False) as logs, av.open(source.url) as container:
                raw, decodable = _describe(container, source.size)
        except av.FFmpegError as exc:
            messages = "\n".join([*(message for _level, _name, message in logs), str(exc)])
            messages = source.local(messages, path)
            # An interrupted phone recording: an MP4/MOV that begins right (an "ftyp" box)
            # but lacks its index (the "moov" box, written last); random bytes do not.
            corrupt = "partial file" in messages or (
                "moov atom not found" in messages and os.pread(source.fd, 12, 0)[4:8] == b"ftyp"
            )
            lines = [line.strip() for line in messages.splitlines() if line.strip()]
            detail = lines[-1] if lines else str(exc)
            raise MediaError(path, "corrupt" if corrupt else "not-media", detail) from None
    info = media_info(path, raw)
    check_usable(info, decodable, stills=stills)
    return info


def video_rotation(path: Path | str, index: int) -> int:
    """The display rotation of video stream `index`, in ffprobe's terms (side_data "rotation").

    Degrees counter-clockwise in [-180, 180], 0 when the stream has no display matrix. PyAV
    does not expose a stream's side data, but libav attaches the display matrix to every
    decoded frame, so the first frame is decoded (a few milliseconds, no program started).
    """
    av = _av()
    CALLS["libav"] += 1
    with _opened(Path(path)) as source:
        try:
            with av.open(source.url) as container:
                for frame in container.decode(container.streams[index]):
                    return round(frame.rotation)
        except av.FFmpegError:
            pass  # undecodable video: the copies will say so; no rotation to read
    return 0


def _describe(container: Any, size: int) -> tuple[dict[str, Any], frozenset[str]]:
    """ffprobe-shaped JSON of an open container, and the codec names libav can decode."""
    streams, decodable = [], set()
    for stream in container.streams:
        ctx = stream.codec_context
        entry: dict[str, Any] = {
            "index": stream.index,
            "codec_type": stream.type,
            "codec_name": ctx.codec.canonical_name if ctx is not None else "unknown",
            "disposition": {
                k: int(bool(int(stream.disposition) & v)) for k, v in _DISPOSITIONS.items()
            },
            "tags": dict(stream.metadata),
        }
        if stream.duration is not None and stream.time_base is not None:
            entry["duration"] = f"{float(stream.duration * stream.time_base):.6f}"
        if ctx is not None:
            decodable.add(entry["codec_name"])
            if ctx.profile:
                entry["profile"] = ctx.profile
            if ctx.bit_rate:
                entry["bit_rate"] = str(ctx.bit_rate)
            if stream.type == "audio":
                entry.update(sample_rate=str(ctx.sample_rate), channels=ctx.channels)
                entry["channel_layout"] = ctx.layout.name
            elif stream.type == "video":
                entry.update(width=ctx.width, height=ctx.height, pix_fmt=ctx.pix_fmt)
                entry["avg_frame_rate"] = _ratio(stream.average_rate)
                entry["r_frame_rate"] = _ratio(stream.base_rate)
        streams.append(entry)
    fmt: dict[str, Any] = {
        "format_name": container.format.name,
        "nb_streams": len(streams),
        "size": str(size),
        "tags": dict(container.metadata),
        "probed_by": f"libav {'.'.join(map(str, _av().library_versions['libavformat']))}",
    }
    if container.duration:
        fmt["duration"] = f"{container.duration / 1e6:.6f}"
    if container.bit_rate:
        fmt["bit_rate"] = str(container.bit_rate)
    return {"streams": streams, "format": fmt}, frozenset(decodable)


def analyse(
    path: Path | str, duration_s: float | None = None, *, head_s: float = FINGERPRINT_S
) -> AnalysisPass:
    """Loudness, silence, waveform bins and the first `head_s` of RATE mono samples of
    path's first audio stream, from one decode in constant memory.

    `duration_s` is the probed audio duration: decoding that ends well short of it means
    the file lost its end, and MediaError("corrupt") is raised. It also sizes the waveform's
    bins (PeakBins merges them when the file runs longer, or when it is not given).
    """
    path = Path(path)
    spans: list[tuple[float, float | None]] = []
    meter: dict[str, str] = {}
    peaks = PeakBins(round(duration_s * RATE) if duration_s else None)
    head: list[np.ndarray] = []
    head_left = round(head_s * RATE)

    def note(found: Any) -> None:
        nonlocal meter
        if "lavfi.r128.I" in found:
            meter = found
        _note_silence(found, spans)

    def take(samples: np.ndarray) -> None:
        nonlocal head_left
        peaks.add(samples)
        if head_left > 0:
            head.append(samples[:head_left].copy())
            head_left -= len(head[-1])

    origin = _decode(
        path,
        [("ebur128", "peak=sample:metadata=1")],
        [("silencedetect", f"noise={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_S}")],
        note,
        take,
    )
    decoded_s = peaks.total / RATE
    check_decoded(path, decoded_s, duration_s)
    # silencedetect speaks in stream time, which starts late in files with an encoder delay
    # (MP3, AAC); the ffmpeg program shifts it to 0, and so do we.
    spans = [(max(0.0, s - origin), None if e is None else e - origin) for s, e in spans]
    peak = float(meter.get("lavfi.r128.sample_peak", 0.0))
    return AnalysisPass(
        integrated_lufs=float(meter.get("lavfi.r128.I", -70.0)),
        loudness_range_lu=float(meter.get("lavfi.r128.LRA", 0.0)),
        sample_peak_dbfs=round(20 * np.log10(peak), 2) if peak > 0 else None,
        silence=silence_bounds(spans, decoded_s),
        peaks=peaks,
        head=np.concatenate(head) if head else np.zeros(0, dtype=np.float32),
        decoded_s=decoded_s,
    )


def decode_mono(path: Path | str, *, seconds: float | None = None) -> np.ndarray:
    """The first `seconds` (default all) of path's first audio stream, mono float32 at RATE.

    All of it is held in memory (160 MB an hour): give `seconds` for anything long.
    """
    after = [("atrim", f"duration={seconds}")] if seconds else []
    chunks: list[np.ndarray] = []
    _decode(Path(path), [], after, lambda _found: None, chunks.append)
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def peak_bins(path: Path | str) -> PeakBins:
    """The waveform bins of path's first audio stream (one decode, constant memory)."""
    bins = PeakBins()
    _decode(Path(path), [], [], lambda _found: None, bins.add)
    return bins


Filters = list[tuple[str, str]]


def _decode(
    path: Path,
    before: Filters,
    after: Filters,
    note: Callable[[Any], None],
    take: Callable[[np.ndarray], object],
) -> float:
    """Run amovie → `before` → mono RATE → `after` → sink; hand each frame's metadata to
    `note` and its samples to `take`, frame by frame (nothing is gathered here).

    Returns the stream time (s) of the first sample.
    """
    av = _av()
    CALLS["libav"] += 1
    origin = None
    with _opened(path) as source:
        try:
            with av.logging.Capture(local=False) as logs:
                origin = _run_graph(av, source.url, before, after, note, take)
        except av.FFmpegError as exc:
            messages = [source.local(m.strip(), path) for _level, _name, m in logs if m.strip()]
            if any(
                "No audio stream" in m or "matches no streams" in m for m in [*messages, str(exc)]
            ):
                raise MediaError(path, "not-media", "没有音频流 / no audio stream") from None
            detail = messages[-1] if messages else source.local(str(exc), path)
            raise MediaError(path, "corrupt", detail) from None
    return origin or 0.0


def _run_graph(
    av: Any,
    url: str,
    before: Filters,
    after: Filters,
    note: Callable[[Any], None],
    take: Callable[[np.ndarray], object],
) -> float | None:
    origin = None
    graph = av.filter.Graph()
    # One thread, in the graph and in the decoder: a scan already runs a worker per core,
    # audio filters gain nothing from more, and each extra thread reserves ~70 MB of
    # address space (its stack and malloc arena) that would grow with the machine's cores.
    graph.threads = 1
    nodes = [graph.add("amovie", filename=url, dec_threads="1")]
    nodes += [graph.add(name, args) for name, args in before]
    nodes += [
        graph.add("aformat", "sample_fmts=flt:channel_layouts=mono"),
        # A short filter is plenty for a waveform and a fingerprint, and 4× cheaper.
        graph.add("aresample", f"{RATE}:filter_size=8:phase_shift=6"),
    ]
    nodes += [graph.add(name, args) for name, args in after]
    nodes.append(graph.add("abuffersink"))
    for upstream, downstream in zip(nodes, nodes[1:], strict=False):
        upstream.link_to(downstream)
    graph.configure()
    while True:
        try:
            frame = graph.pull()
        except (av.BlockingIOError, av.EOFError):
            break
        if origin is None:
            origin = float(frame.time or 0.0)
        found = frame.metadata
        if found:
            note(found)
        take(frame.to_ndarray().reshape(-1))
    return origin


def _note_silence(metadata: Any, spans: list[tuple[float, float | None]]) -> None:
    """Add silencedetect's start/end marks on one frame to `spans`; end None: ran to EOF.

    Only the first span and the latest are kept (all that leading and trailing silence
    need), so a long file of many pauses does not grow the list.
    """
    start, end = metadata.get("lavfi.silence_start"), metadata.get("lavfi.silence_end")
    # A frame is 100 ms and a silence at least SILENCE_MIN_S: a frame holding both marks
    # ends the open silence before starting the next.
    if end is not None and spans and spans[-1][1] is None:
        spans[-1] = (spans[-1][0], float(end))
        end = None
    if start is not None:
        spans.append((max(0.0, float(start)), float(end) if end is not None else None))
    del spans[1:-1]


def pcm16(samples: np.ndarray) -> bytes:
    """Little-endian 16-bit PCM of float samples in [-1, 1]."""
    return (np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()


def _ratio(rate: Fraction | None) -> str:
    return f"{rate.numerator}/{rate.denominator}" if rate else "0/0"

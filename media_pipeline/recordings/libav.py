"""Reading recordings in-process through libav (PyAV): a probe and one analysis pass.

Why in-process: Debian's ffmpeg and ffprobe link over 200 shared libraries and spend about
80 ms resolving symbols before they read a byte, which is more than decoding a minute of
audio costs. Cataloguing a folder runs a probe and an analysis per file, so those start-ups
would be most of the work; here the libraries are loaded once per worker process.

- `probe_media` describes the file in ffprobe's JSON shape (the keys and codec names
  ffprobe uses), so probe.py's checks and helpers read it unchanged.
- `analyse` decodes the first audio stream once, inside one libavfilter graph
  (amovie → ebur128 → mono 11025 Hz → silencedetect), and returns loudness, silence and
  the mono samples that the waveform and the Chromaprint fingerprint are made from.
  Only the graph's output (100 ms frames at 11025 Hz) crosses into Python.

True peak is not measured here: its 4× oversampling would double the cost of the pass.
The sample peak is; the true peak is metered when the copies are made (derive.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MediaError
from ..tools import CALLS
from .analysis import SILENCE_MIN_S, SILENCE_NOISE_DB, Silence, check_decoded, silence_bounds
from .probe import MediaInfo, check_usable, head, media_info, media_size, media_url
from .waveform import PCM_RATE

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
    samples: np.ndarray  # mono float32 at RATE
    decoded_s: float


def probe_media(path: Path | str) -> MediaInfo:
    """Probe a recording in-process; raise MediaError (with a reason) if it cannot be used."""
    av = _av()
    path = Path(path)
    CALLS["libav"] += 1
    size = media_size(path)
    try:
        with av.logging.Capture(local=False) as logs, av.open(media_url(path)) as container:
            raw, decodable = _describe(container, size)
    except av.FFmpegError as exc:
        messages = "\n".join([*(message for _level, _name, message in logs), str(exc)])
        # An interrupted phone recording: an MP4/MOV that begins right (an "ftyp" box) but
        # lacks its index (the "moov" box, written last); random bytes do not begin so.
        corrupt = "partial file" in messages or (
            "moov atom not found" in messages and head(path)[4:8] == b"ftyp"
        )
        lines = [line.strip() for line in messages.splitlines() if line.strip()]
        detail = lines[-1] if lines else str(exc)
        raise MediaError(path, "corrupt" if corrupt else "not-media", detail) from None
    info = media_info(path, raw)
    check_usable(info, decodable)
    return info


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


def analyse(path: Path | str, duration_s: float | None = None) -> AnalysisPass:
    """Loudness, silence and RATE mono samples of path's first audio stream, from one decode.

    `duration_s` is the probed audio duration: decoding that ends well short of it means
    the file lost its end, and MediaError("corrupt") is raised.
    """
    path = Path(path)
    spans: list[tuple[float, float | None]] = []
    meter: dict[str, str] = {}

    def note(found: Any) -> None:
        nonlocal meter
        if "lavfi.r128.I" in found:
            meter = found
        _note_silence(found, spans)

    samples, origin = _decode(
        path,
        [("ebur128", "peak=sample:metadata=1")],
        [("silencedetect", f"noise={SILENCE_NOISE_DB}dB:d={SILENCE_MIN_S}")],
        note,
    )
    decoded_s = len(samples) / RATE
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
        samples=samples,
        decoded_s=decoded_s,
    )


def decode_mono(path: Path | str, *, seconds: float | None = None) -> np.ndarray:
    """The first `seconds` (default all) of path's first audio stream, mono float32 at RATE."""
    after = [("atrim", f"duration={seconds}")] if seconds else []
    return _decode(Path(path), [], after, lambda _found: None)[0]


Filters = list[tuple[str, str]]


def _decode(
    path: Path, before: Filters, after: Filters, note: Callable[[Any], None]
) -> tuple[np.ndarray, float]:
    """Run amovie → `before` → mono RATE → `after` → sink; hand each frame's metadata to note.

    Returns the samples and the stream time (s) of the first one.
    """
    av = _av()
    CALLS["libav"] += 1
    chunks: list[np.ndarray] = []
    origin = None
    try:
        with av.logging.Capture(local=False) as logs:
            graph = av.filter.Graph()
            nodes = [graph.add("amovie", filename=str(path.absolute()))]
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
                chunks.append(frame.to_ndarray().reshape(-1))
    except av.FFmpegError as exc:
        messages = [m.strip() for _level, _name, m in logs if m.strip()]
        if any("No audio stream" in m or "matches no streams" in m for m in [*messages, str(exc)]):
            raise MediaError(path, "not-media", "没有音频流 / no audio stream") from None
        raise MediaError(path, "corrupt", messages[-1] if messages else str(exc)) from None
    samples = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return samples, origin or 0.0


def _note_silence(metadata: Any, spans: list[tuple[float, float | None]]) -> None:
    """Add silencedetect's start/end marks on one frame to `spans`; end None: ran to EOF."""
    start, end = metadata.get("lavfi.silence_start"), metadata.get("lavfi.silence_end")
    # A frame is 100 ms and a silence at least SILENCE_MIN_S: a frame holding both marks
    # ends the open silence before starting the next.
    if end is not None and spans and spans[-1][1] is None:
        spans[-1] = (spans[-1][0], float(end))
        end = None
    if start is not None:
        spans.append((max(0.0, float(start)), float(end) if end is not None else None))


def pcm16(samples: np.ndarray) -> bytes:
    """Little-endian 16-bit PCM of float samples in [-1, 1]."""
    return (np.clip(samples, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()


def _ratio(rate: Fraction | None) -> str:
    return f"{rate.numerator}/{rate.denominator}" if rate else "0/0"

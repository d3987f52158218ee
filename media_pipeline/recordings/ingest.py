"""All the media work on one recording file, in two halves.

`analyse_recording` is what cataloguing needs and runs in-process through libav: probe,
loudness, silence, waveform and fingerprint from one decode. `make_copies` is the encoding
(web and loudspeaker copies, poster) with the ffmpeg program, from the loudness cataloguing
measured; it takes far longer, so a scan can leave it for later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MediaError, PipelineError, ToolMissing
from ..files import MadeFile
from ..tools import DEFAULT_TOOLS, Tools
from .probe import StreamInfo

if TYPE_CHECKING:
    from .derive import SourceLevel


@dataclass(frozen=True)
class RecordingAnalysis:
    """What cataloguing learnt from an original file: probe, loudness, silence, fingerprint."""

    source: str
    container: str
    duration_s: float
    is_video: bool
    streams: tuple[StreamInfo, ...]
    probe: dict
    integrated_lufs: float
    loudness_range_lu: float
    sample_peak_dbfs: float | None
    leading_silence_s: float
    trailing_silence_s: float
    fingerprint: tuple[int, ...]
    produced: tuple[MadeFile, ...] = field(default_factory=tuple)
    seconds: float = 0.0


@dataclass(frozen=True)
class RecordingCopies:
    """The copies made from an original, the probe they were planned from, and the source's
    loudness with its true peak, metered while they were made."""

    probe: dict
    integrated_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float
    produced: tuple[MadeFile, ...]
    seconds: float = 0.0


def analyse_recording(src: Path, workdir: Path) -> RecordingAnalysis:
    """Probe and analyse `src` (never modified) in-process; its waveform goes to `workdir`.

    One decode gives loudness, silence, the waveform and the fingerprint. Raises MediaError
    (with a `reason`) for files that are empty, not media, corrupt or in a codec libav
    cannot decode. The copies are made later, by `make_copies`.
    """
    from . import libav
    from .fingerprint import fingerprint_samples
    from .waveform import write_waveform

    started = time.perf_counter()
    src, workdir = Path(src), Path(workdir)
    info = libav.probe_media(src)
    if not info.has_audio:
        raise MediaError(src, "not-media", "没有音轨，无法编目 / no audio stream to catalogue")
    found = libav.analyse(src, info.audio_duration_s)
    png, peaks = workdir / "waveform.png", workdir / "peaks.json"
    write_waveform(found.peaks, png, peaks, width=1200, height=160, peaks=1000, rate=libav.RATE)
    try:
        prints = fingerprint_samples(src, found.head, info.duration_s).values
    except ToolMissing:
        raise
    except PipelineError:
        # Too short (under about 3 s) to fingerprint: still a recording, only never compared.
        prints = ()
    return RecordingAnalysis(
        source=str(src),
        container=info.container,
        duration_s=info.duration_s,
        is_video=info.is_video,
        streams=info.streams,
        probe=info.raw,
        integrated_lufs=found.integrated_lufs,
        loudness_range_lu=found.loudness_range_lu,
        sample_peak_dbfs=found.sample_peak_dbfs,
        leading_silence_s=found.silence.leading_s,
        trailing_silence_s=found.silence.trailing_s,
        fingerprint=tuple(prints),
        produced=(
            MadeFile("waveform", str(png), "image/png"),
            MadeFile("peaks", str(peaks), "application/json"),
        ),
        seconds=time.perf_counter() - started,
    )


def make_copies(
    src: Path,
    workdir: Path,
    tools: Tools = DEFAULT_TOOLS,
    *,
    level: SourceLevel | None = None,
    threads: int = 0,
    loudspeaker: bool = True,
) -> RecordingCopies:
    """The `web` and `loudspeaker` copies of `src` (and a poster for video) in `workdir`.

    The slow half of ingest (encoding), run after cataloguing or by a later
    `kuanyue catalogue copies`. `level` is the loudness cataloguing measured (pass it: it
    spares a metering run). The probe is read again in-process (libav, with the rotation of
    a video, which the catalogue's reading lacks), and one ffmpeg run decodes the source once
    for every copy, the poster and the true peak (ebur128, 4× oversampled); a second, short
    run finishes the loudspeaker copy (derive.py). `threads` caps each ffmpeg's threads.
    `loudspeaker=False` makes no loudspeaker copy (for what may never be broadcast).
    """
    from . import libav
    from .derive import derive_copies, first_stream

    started = time.perf_counter()
    src, workdir = Path(src), Path(workdir)
    raw = libav.probe_media(src).raw
    video = first_stream(raw, "video")
    if video is not None:
        raw = with_rotation(raw, video["index"], libav.video_rotation(src, video["index"]))
    copies = derive_copies(
        src,
        workdir,
        info=raw,
        level=level,
        loudspeaker=loudspeaker,
        poster=workdir / "poster.jpg" if video is not None else None,
        meter_source=True,
        threads=threads,
        tools=tools,
    )
    source = copies.source
    assert source is not None  # metered: meter_source
    return RecordingCopies(
        probe=raw,
        integrated_lufs=source.integrated_lufs,
        loudness_range_lu=source.loudness_range_lu,
        true_peak_dbtp=source.true_peak_dbtp,
        produced=copies.made,
        seconds=time.perf_counter() - started,
    )


def with_rotation(raw: dict, index: int, rotation: int) -> dict:
    """A copy of probe JSON `raw` whose stream `index` carries `rotation` as ffprobe writes it."""
    if not rotation:
        return raw
    streams = [
        {**s, "side_data_list": [{"side_data_type": "Display Matrix", "rotation": rotation}]}
        if s.get("index") == index
        else s
        for s in raw["streams"]
    ]
    return {**raw, "streams": streams}

"""All the media work on one recording file, in two halves.

`analyse_recording` is what cataloguing needs and runs in-process through libav: probe,
loudness, silence, waveform and fingerprint from one decode. `make_copies` is the encoding
(web and loudspeaker copies, poster) with the ffmpeg and ffprobe programs; it takes far
longer, so a scan can leave it for later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import MediaError, PipelineError, ToolMissing
from ..files import MadeFile
from ..tools import DEFAULT_TOOLS, Tools
from .probe import StreamInfo


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
    """The copies made from an original, with ffprobe's JSON and the true-peak metering."""

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
    write_waveform(found.samples, png, peaks, width=1200, height=160, peaks=1000, rate=libav.RATE)
    try:
        prints = fingerprint_samples(src, found.samples, info.duration_s).values
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


def make_copies(src: Path, workdir: Path, tools: Tools = DEFAULT_TOOLS) -> RecordingCopies:
    """The `web` and `loudspeaker` copies of `src` (and a poster for video) in `workdir`.

    The slow half of ingest (encoding), run after cataloguing or by a later
    `kuanyue catalogue copies`. ffprobe's JSON replaces the catalogue's libav reading, and
    the true peak is metered here (ebur128 with 4× oversampling).
    """
    from ..loudness import measure_loudness
    from .analysis import poster_frame
    from .derive import derive_loudspeaker, derive_web
    from .probe import probe_media

    started = time.perf_counter()
    src, workdir = Path(src), Path(workdir)
    info = probe_media(src, tools)
    loudness = measure_loudness(src, tools)
    produced = []
    if info.is_video:
        poster = workdir / "poster.jpg"
        poster_frame(src, poster, duration_s=info.duration_s, tools=tools)
        produced.append(MadeFile("poster", str(poster), "image/jpeg"))
    for kind, make in (("web", derive_web), ("loudspeaker", derive_loudspeaker)):
        copy = make(src, workdir, info=info.raw, loudness=loudness, tools=tools)
        produced.append(
            MadeFile(kind, str(copy.path), copy.mime, copy.duration_s, reencoded=copy.reencoded)
        )
    return RecordingCopies(
        probe=info.raw,
        integrated_lufs=loudness.integrated_lufs,
        loudness_range_lu=loudness.loudness_range_lu,
        true_peak_dbtp=loudness.true_peak_dbtp,
        produced=tuple(produced),
        seconds=time.perf_counter() - started,
    )

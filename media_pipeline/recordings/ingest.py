"""All the media work on one recording file, in two halves.

`analyse_recording` is what cataloguing needs and runs in-process through libav: probe,
loudness, silence, waveform and fingerprint from one decode. `make_copies` is the encoding
(web and loudspeaker copies, poster) with the ffmpeg program, from the loudness cataloguing
measured; it takes far longer, so a scan can leave it for later.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import MediaError, PipelineError, ToolMissing
from ..files import MadeFile
from ..tools import DEFAULT_TOOLS, Tools
from .probe import StreamInfo

if TYPE_CHECKING:
    from ..loudness import Loudness
    from .copy_rules import SourceLevel


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
    loudness with its true peak when it was metered while they were made (else None)."""

    probe: dict
    produced: tuple[MadeFile, ...]
    source: Loudness | None = None
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


@dataclass(frozen=True)
class CopiesOf:
    """An original whose copies are wanted in `workdir` (its own folder: a poster is
    `poster.jpg` there), with the loudness cataloguing measured (else metered anew)."""

    src: Path
    workdir: Path
    level: SourceLevel | None = None
    loudspeaker: bool = True  # False for what may never be broadcast


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
    `kuanyue catalogue copies`; see make_many_copies. `level` is the loudness cataloguing
    measured (pass it: it spares a metering run). `loudspeaker=False` makes no loudspeaker
    copy (for what may never be broadcast).
    """
    (made,) = make_many_copies([CopiesOf(src, workdir, level, loudspeaker)], tools, threads=threads)
    if isinstance(made, PipelineError):
        raise made
    return made


def make_many_copies(
    wanted: Sequence[CopiesOf], tools: Tools = DEFAULT_TOOLS, *, threads: int = 0
) -> list[RecordingCopies | PipelineError]:
    """The copies of several originals, each result (or error) in its place.

    Each probe is read again in-process (libav, with the rotation of a video, which the
    catalogue's reading lacks). One ffmpeg run decodes every source once for all their
    copies and posters, and meters a true peak where a gain depends on it; a second, short
    run finishes every loudspeaker copy (derive.derive_many). `threads` caps each ffmpeg's
    threads.
    """
    from . import libav
    from .copy_rules import first_stream
    from .derive import CopiesRequest, derive_many

    started = time.perf_counter()
    results: list[RecordingCopies | PipelineError | None] = [None] * len(wanted)
    probes: dict[int, dict] = {}
    requests: list[CopiesRequest] = []
    for i, item in enumerate(wanted):
        src, workdir = Path(item.src), Path(item.workdir)
        try:
            raw = libav.probe_media(src).raw
            video = first_stream(raw, "video")
            if video is not None:
                raw = with_rotation(raw, video["index"], libav.video_rotation(src, video["index"]))
        except PipelineError as exc:
            results[i] = exc
            continue
        probes[i] = raw
        poster = workdir / "poster.jpg" if video is not None else None
        requests.append(
            CopiesRequest(
                src, workdir, raw, item.level, loudspeaker=item.loudspeaker, poster=poster
            )
        )
    derived = iter(derive_many(requests, threads=threads, tools=tools))
    seconds = (time.perf_counter() - started) / max(1, len(wanted))
    for i, raw in probes.items():
        copies = next(derived)
        results[i] = (
            copies
            if isinstance(copies, PipelineError)
            else RecordingCopies(raw, copies.made, copies.source, seconds)
        )
    return [r for r in results if r is not None]


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

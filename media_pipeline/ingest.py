"""All the media work on one recording file: probe, analyse, derive copies, fingerprint."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from .errors import MediaError, PipelineError, ToolMissing


@dataclass(frozen=True)
class ProducedFile:
    """A file made for a recording (a derived copy, waveform, peaks or poster)."""

    kind: str
    path: str
    mime: str
    duration_s: float | None = None
    reencoded: bool | None = None
    integrated_lufs: float | None = None
    true_peak_dbtp: float | None = None
    loudness_range_lu: float | None = None


@dataclass(frozen=True)
class StreamRow:
    """One stream of the original, as plain values."""

    index: int
    kind: str
    codec: str
    sample_rate: int | None
    channels: int | None
    width: int | None
    height: int | None
    fps: float | None


@dataclass(frozen=True)
class RecordingAnalysis:
    """What was learnt from an original file and what was made from it."""

    source: str
    container: str
    duration_s: float
    is_video: bool
    streams: tuple[StreamRow, ...]
    probe: dict
    integrated_lufs: float
    loudness_range_lu: float
    true_peak_dbtp: float
    leading_silence_s: float
    trailing_silence_s: float
    fingerprint: tuple[int, ...]
    produced: tuple[ProducedFile, ...] = field(default_factory=tuple)
    seconds: float = 0.0


def analyse_recording(src: Path, workdir: Path, *, derive: bool = True) -> RecordingAnalysis:
    """Probe and analyse `src` (never modified) and make its copies in `workdir`.

    Raises MediaError (with a `reason`) for files that are empty, not media, corrupt or
    in a codec this ffmpeg cannot decode.
    """
    from .analysis import analyse_and_waveform, poster_frame
    from .derive import derive_loudspeaker, derive_web
    from .fingerprint import fingerprint
    from .probe import probe_media

    started = time.perf_counter()
    src, workdir = Path(src), Path(workdir)
    info = probe_media(src)
    if not info.has_audio:
        raise MediaError(src, "not-media", "没有音轨，无法编目 / no audio stream to catalogue")
    png, peaks = workdir / "waveform.png", workdir / "peaks.json"
    # One decode gives loudness, silence and the waveform.
    loudness, silence = analyse_and_waveform(src, png, peaks, info.audio_duration_s)
    produced = [
        ProducedFile("waveform", str(png), "image/png"),
        ProducedFile("peaks", str(peaks), "application/json"),
    ]
    if info.is_video:
        poster = workdir / "poster.jpg"
        poster_frame(src, poster, duration_s=info.duration_s)
        produced.append(ProducedFile("poster", str(poster), "image/jpeg"))
    if derive:
        for kind, make in (("web", derive_web), ("loudspeaker", derive_loudspeaker)):
            copy = make(src, workdir, info=info.raw, loudness=loudness)
            produced.append(
                ProducedFile(kind, str(copy.path), copy.mime, copy.duration_s, copy.reencoded)
            )
    try:
        prints = fingerprint(src).values
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
        streams=tuple(
            StreamRow(i, s.kind, s.codec, s.sample_rate, s.channels, s.width, s.height, s.fps)
            for i, s in enumerate(info.streams)
        ),
        probe=info.raw,
        integrated_lufs=loudness.integrated_lufs,
        loudness_range_lu=loudness.loudness_range_lu,
        true_peak_dbtp=loudness.true_peak_dbtp,
        leading_silence_s=silence.leading_s,
        trailing_silence_s=silence.trailing_s,
        fingerprint=tuple(prints),
        produced=tuple(produced),
        seconds=time.perf_counter() - started,
    )

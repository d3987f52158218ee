"""Chromaprint fingerprints (fpcalc) and a similarity score for finding near-duplicate takes.

A near-duplicate is the same take copied from two phones: one copy trimmed by a second or
two, another codec or bitrate, a slightly different gain. Chromaprint hashes the chroma
(pitch-class) content of the audio into one 32-bit value per ≈0.124 s, so such copies give
almost the same values, shifted by the trim. `similarity` slides one fingerprint over the
other and keeps the best bit agreement, as AcoustID's comparison does:

    similarity = 1 − 2 × (differing bits / compared bits), clipped at 0

so identical audio scores 1 and unrelated audio ≈ 0 (random bits agree half the time; the
best of ~160 offsets lifts that a little). Measured on generated 40 s "songs" (pentatonic
notes with harmonics over noise; tests/test_fingerprint.py):
  one take, MP3 64k vs the WAV it came from                                    0.999
  one take, MP3 64k vs AAC 96k trimmed by 1.5 s and 3 dB quieter                0.970
  the same, but the other copy noisier, high-passed, trimmed 2.3 s, −6 dB,
    mono Opus 24k                                                              0.82
  one take vs itself played 2 % faster (a tape or a resampling slip)            0.69
  another melody on the same scale, same noise                                 0.26
  a held note vs the melody                                                    0.04
NEAR_DUPLICATE = 0.6 sits in the wide gap between. It only flags a pair for a person to
decide; nothing is ever merged or deleted on its strength.

Limits: only the first `length_s` (120) seconds are compared, so two recordings that share
their first two minutes match; an excerpt matches its take only if it starts within
MAX_OFFSET_S of the take's start; long digital silence fingerprints alike in every file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import PipelineError, ToolFailed
from .tools import ffmpeg, run

# Chromaprint works on 11025 Hz mono in frames of 4096 samples, one every 4096 // 3; a raw
# value needs 19 frames more than the first (its chroma filter and classifier windows).
RATE = 11025
_FRAME = 4096
_HOP = _FRAME // 3
_CONTEXT_FRAMES = 19
ITEM_S = _HOP / RATE
# A pair scoring at least this is flagged as a possible near-duplicate (see module doc).
NEAR_DUPLICATE = 0.6
# Copies trimmed differently are searched this far apart (s) at most.
MAX_OFFSET_S = 10.0

_DURATION_RE = re.compile(r"^\s*Duration: (\d+):(\d\d):(\d\d(?:\.\d+)?)", re.M)


@dataclass(frozen=True)
class Fingerprint:
    """Chromaprint's raw fingerprint: the file's duration and one 32-bit value per ≈0.124 s."""

    duration_s: float
    values: tuple[int, ...]


def decode_argv(path: Path, length_s: int) -> list[str]:
    """ffmpeg arguments decoding the first `length_s` s of audio as Chromaprint's raw input."""
    return [
        "-i", str(path), "-map", "0:a:0", "-t", str(length_s),
        "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-",
    ]  # fmt: skip


def fpcalc_argv(length_s: int) -> list[str]:
    """fpcalc reading raw 11025 Hz mono PCM from stdin, printing raw values as JSON."""
    return [
        "fpcalc", "-raw", "-json", "-length", str(length_s),
        "-format", "s16le", "-rate", str(RATE), "-channels", "1", "-",
    ]  # fmt: skip


def value_count(samples: int) -> int:
    """How many raw values Chromaprint makes from `samples` samples at 11025 Hz."""
    return max(0, (samples - _FRAME) // _HOP + 1 - _CONTEXT_FRAMES)


def parse_fpcalc_values(text: str) -> tuple[int, ...]:
    """The raw fingerprint values (unsigned 32-bit) from `fpcalc -raw -json` output."""
    return tuple(int(v) & 0xFFFFFFFF for v in json.loads(text)["fingerprint"])


def parse_input_duration_s(stderr: str) -> float | None:
    """The first input's duration from ffmpeg's stream listing ("Duration: 00:01:02.50")."""
    match = _DURATION_RE.search(stderr)
    if not match:
        return None
    hours, minutes, seconds = match.groups()
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def fingerprint(path: Path, *, length_s: int = 120) -> Fingerprint:
    """Fingerprint the first `length_s` seconds of the audio in `path` (any file ffmpeg reads).

    ffmpeg decodes and fpcalc only fingerprints: Debian 12's fpcalc 1.5.1 exits with status 3
    ("Error decoding audio frame (End of file)", chromaprint issue #122) whenever it reads to
    the end of its input, and tools.run treats that as failure. So the PCM is padded with
    silence, fpcalc is told to stop before the end, and the values that the padding touched
    are dropped (the rest are identical to an unpadded run's).
    """
    path = Path(path)
    if length_s <= 0:
        raise PipelineError(f"指纹长度必须为正数：{length_s} / length_s must be positive")
    if not path.is_file():
        raise PipelineError(f"找不到媒体文件：{path} / media file not found: {path}")
    try:
        decoded = ffmpeg(*decode_argv(path, length_s))
    except ToolFailed as exc:
        raise PipelineError(
            f"无法解码音频（不是媒体文件或没有音轨）：{path} / cannot decode audio "
            f"(not media, or no audio stream): {path}"
        ) from exc
    pcm = decoded.stdout
    samples = len(pcm) // 2
    # fpcalc stops after `stop_s` seconds, so one second of padding past that keeps it
    # from the end (short files get a short stop rather than a long padding to read).
    stop_s = min(length_s, samples // RATE + 1)
    padding = bytes(2 * ((stop_s + 1) * RATE - samples))
    try:
        proc = run(fpcalc_argv(stop_s), input=pcm + padding)
        values = parse_fpcalc_values(proc.stdout.decode("utf-8", "replace"))
    except ToolFailed as exc:
        raise PipelineError(
            f"无法计算音频指纹：{path} / cannot fingerprint {path}: {exc.stderr.strip()}"
        ) from exc
    except (ValueError, KeyError) as exc:
        raise PipelineError(
            f"fpcalc 输出无法解析：{path} / unreadable fpcalc output for {path}"
        ) from exc
    values = values[: value_count(samples)]
    if not values:
        raise PipelineError(
            f"音频太短（不足约 3 秒），无法计算指纹：{path} / audio too short "
            f"(under about 3 s) to fingerprint: {path}"
        )
    duration = parse_input_duration_s(decoded.stderr.decode("utf-8", "replace"))
    return Fingerprint(duration_s=duration or samples / RATE, values=values)


def similarity(a: Fingerprint, b: Fingerprint, *, max_offset_s: float = MAX_OFFSET_S) -> float:
    """How alike two fingerprints are, 0..1, at the best alignment within ±max_offset_s."""
    x = np.asarray(a.values, dtype=np.uint32)
    y = np.asarray(b.values, dtype=np.uint32)
    if not len(x) or not len(y):
        return 0.0
    # An alignment must compare at least half of the shorter fingerprint, so that a few
    # values overlapping at the far end of the search cannot score by chance.
    min_overlap = max(1, min(len(x), len(y)) // 2)
    limit = round(max_offset_s / ITEM_S)
    best_error = 1.0
    for offset in range(-limit, limit + 1):
        xs = x[offset:] if offset > 0 else x
        ys = y[-offset:] if offset < 0 else y
        n = min(len(xs), len(ys))
        if n < min_overlap:
            continue
        differing = int(np.bitwise_count(xs[:n] ^ ys[:n]).sum())
        best_error = min(best_error, differing / (32 * n))
    return max(0.0, 1.0 - 2.0 * best_error)


def is_near_duplicate(a: Fingerprint, b: Fingerprint, threshold: float = NEAR_DUPLICATE) -> bool:
    """Whether two fingerprints are alike enough to flag the pair for a person to check."""
    return similarity(a, b) >= threshold

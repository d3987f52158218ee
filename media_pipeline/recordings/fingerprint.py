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

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..errors import MediaError, PipelineError, ToolMissing

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
# `similarity` compares every this-many-th value (see there).
_STRIDE = 4
LENGTH_S = 120


@dataclass(frozen=True)
class Fingerprint:
    """Chromaprint's raw fingerprint: the file's duration and one 32-bit value per ≈0.124 s."""

    duration_s: float
    values: Sequence[int]  # a tuple, or a uint32 array when many comparisons follow


def value_count(samples: int) -> int:
    """How many raw values Chromaprint makes from `samples` samples at 11025 Hz."""
    return max(0, (samples - _FRAME) // _HOP + 1 - _CONTEXT_FRAMES)


@functools.cache
def _chromaprint() -> Any:
    """pyacoustid's ctypes binding of libchromaprint (Debian: libchromaprint1)."""
    try:
        import chromaprint
    except ImportError as exc:  # the package, or the shared library it loads
        raise ToolMissing(
            "libchromaprint", "Debian/Ubuntu: sudo apt-get install libchromaprint1"
        ) from exc
    return chromaprint


def raw_values(pcm: bytes) -> tuple[int, ...]:
    """Chromaprint's raw values (unsigned 32-bit) of 16-bit mono PCM at RATE Hz."""
    chromaprint = _chromaprint()
    printer = chromaprint.Fingerprinter()
    printer.start(RATE, 1)
    printer.feed(pcm)
    values, _algorithm = chromaprint.decode_fingerprint(printer.finish())
    return tuple(int(v) & 0xFFFFFFFF for v in values)


def fingerprint_samples(
    path: Path, samples: np.ndarray, duration_s: float, *, length_s: int = LENGTH_S
) -> Fingerprint:
    """Fingerprint the first `length_s` s of mono float `samples` at RATE (decoded from path)."""
    from .libav import pcm16

    values = raw_values(pcm16(samples[: length_s * RATE]))
    if not values:
        raise PipelineError(
            f"音频太短（不足约 3 秒），无法计算指纹：{path} / audio too short "
            f"(under about 3 s) to fingerprint: {path}"
        )
    return Fingerprint(duration_s=duration_s, values=values)


def fingerprint(path: Path, *, length_s: int = LENGTH_S) -> Fingerprint:
    """Fingerprint the first `length_s` seconds of the audio in `path` (any file libav reads)."""
    from .libav import decode_mono, probe_media

    path = Path(path)
    if length_s <= 0:
        raise PipelineError(f"指纹长度必须为正数：{length_s} / length_s must be positive")
    if not path.is_file():
        raise PipelineError(f"找不到媒体文件：{path} / media file not found: {path}")
    try:
        info = probe_media(path)
        if not info.has_audio:
            raise MediaError(path, "not-media", "没有音轨 / no audio stream")
        samples = decode_mono(path, seconds=length_s)
    except MediaError as exc:
        raise PipelineError(
            f"无法解码音频（不是媒体文件或没有音轨）：{path} / cannot decode audio "
            f"(not media, or no audio stream): {path} ({exc.detail or exc.reason})"
        ) from None
    return fingerprint_samples(path, samples, info.duration_s, length_s=length_s)


def similarity(a: Fingerprint, b: Fingerprint, *, max_offset_s: float = MAX_OFFSET_S) -> float:
    """How alike two fingerprints are, 0..1, at the best alignment within ±max_offset_s.

    Every alignment is scored at once (numpy, no Python loop), on every `_STRIDE`-th value
    of the overlap: that estimates the bit error to within a percent (thousands of bits),
    a hundred times finer than the gap NEAR_DUPLICATE sits in, and a scan compares each new
    recording with every catalogued one of similar length.
    """
    x = np.asarray(a.values, dtype=np.uint32)
    y = np.asarray(b.values, dtype=np.uint32)
    if not len(x) or not len(y):
        return 0.0
    # The same pair in either order is sampled alike, so the score is symmetric.
    if (len(y), y.tobytes()) > (len(x), x.tobytes()):
        x, y = y, x
    n, m, limit = len(x), len(y), round(max_offset_s / ITEM_S)
    # Row k of `windows` is x shifted by k − limit against every _STRIDE-th value of y:
    # x[j + k − limit] beside y[j], read through zero padding on both sides of x.
    padded = np.zeros(n + 2 * limit + m, dtype=np.uint32)
    padded[limit : limit + n] = x
    ys = y[::_STRIDE]
    size = padded.itemsize
    windows = as_strided(padded, (2 * limit + 1, len(ys)), (size, _STRIDE * size))
    total = np.bitwise_count(windows ^ ys).sum(axis=1, dtype=np.int64)
    # Where a row reads padding, the XOR is y's own bits: take them back out. The sampled
    # values of y that face x at offset o are those with index in [lo, hi).
    offsets = np.arange(-limit, limit + 1)
    first = np.minimum(-(-np.maximum(0, -offsets) // _STRIDE), len(ys))
    end = np.clip(-(-np.minimum(m, n - offsets) // _STRIDE), first, len(ys))
    bits = np.concatenate(([0], np.cumsum(np.bitwise_count(ys), dtype=np.int64)))
    differing = total - (bits[-1] - (bits[end] - bits[first]))
    compared = end - first
    # An alignment must compare at least half of the shorter fingerprint, so that a few
    # values overlapping at the far end of the search cannot score by chance.
    enough = compared * _STRIDE >= max(1, min(n, m) // 2)
    if not enough.any():
        return 0.0
    best_error = float((differing[enough] / (32 * compared[enough])).min())
    return max(0.0, 1.0 - 2.0 * best_error)


def is_near_duplicate(a: Fingerprint, b: Fingerprint, threshold: float = NEAR_DUPLICATE) -> bool:
    """Whether two fingerprints are alike enough to flag the pair for a person to check."""
    return similarity(a, b) >= threshold

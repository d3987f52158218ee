"""Waveform of a recording: peaks JSON (audiowaveform v2 format) and a PNG, from one decode.

The audio is decoded once to mono samples at 11025 Hz (libav.RATE; an hour is 160 MB of
float32), and the drawing and the peaks come from those with numpy: plenty for what a
waveform can show at 1,000–2,000 columns. Cataloguing gets the samples from its analysis
pass (media_pipeline.recordings.ingest); `waveform` decodes a file for itself.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from ..files import atomic_output

PCM_RATE = 11025  # the samples' rate; libav.RATE decodes at it
# Indigo (#4f46e5) bars on a transparent background read on light and dark pages alike.
COLOUR = (79, 70, 229, 255)


def min_max(samples: np.ndarray, buckets: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Per-bucket minimum and maximum of `samples`, and the samples per bucket.

    Buckets hold an equal whole number of samples (audiowaveform's samples_per_pixel), the
    last one padded with zeros; so there are at most `buckets` of them.
    """
    per = max(1, math.ceil(len(samples) / max(1, buckets)))
    count = max(1, math.ceil(len(samples) / per))
    padded = np.zeros(count * per, dtype=np.float32)
    padded[: len(samples)] = samples
    grid = padded.reshape(count, per)
    return grid.min(axis=1), grid.max(axis=1), per


def peaks_document(samples: np.ndarray, peaks: int, sample_rate: int = PCM_RATE) -> dict:
    """The audiowaveform v2 JSON (8-bit) that wavesurfer.js and peaks.js load."""
    low, high, per = min_max(samples, peaks)
    pairs = np.empty(2 * len(low), dtype=np.int64)
    pairs[0::2] = np.clip(np.floor(low * 128), -128, 127)
    pairs[1::2] = np.clip(np.ceil(high * 128), -128, 127)
    return {
        "version": 2,
        "channels": 1,
        "sample_rate": sample_rate,
        "samples_per_pixel": per,
        "bits": 8,
        "length": len(low),
        "data": pairs.tolist(),
    }


def draw(samples: np.ndarray, width: int, height: int) -> Image.Image:
    """Bars centred on the middle line, one per column, as tall as that column's peak."""
    low, high, _ = min_max(samples, width)
    peak = np.zeros(width, dtype=np.float32)
    peak[: len(low)] = np.maximum(np.abs(low), np.abs(high))
    middle = (height - 1) / 2
    # At least one pixel, so silence still shows as a line.
    half = np.maximum(np.minimum(peak, 1.0) * height / 2, 0.5)
    rows = np.arange(height, dtype=np.float32)[:, None]
    mask = np.abs(rows - middle) <= half[None, :]
    pixels = np.zeros((height, width, 4), dtype=np.uint8)
    pixels[mask] = COLOUR
    return Image.fromarray(pixels)  # (h, w, 4) uint8 → RGBA


def write_waveform(
    samples: np.ndarray,
    png: Path,
    peaks_json: Path,
    *,
    width: int,
    height: int,
    peaks: int,
    rate: int = PCM_RATE,
) -> None:
    """Write the PNG and the peaks JSON of `samples` (mono at `rate`), each atomically."""
    with atomic_output(png) as tmp:
        draw(samples, width, height).save(tmp, format="PNG", optimize=False)
    with atomic_output(peaks_json) as tmp:
        tmp.write_text(json.dumps(peaks_document(samples, peaks, rate), separators=(",", ":")))


def waveform(
    path: Path,
    png: Path,
    peaks_json: Path,
    *,
    width: int = 1200,
    height: int = 160,
    peaks: int = 1000,
) -> None:
    """Draw path's waveform to `png` and write its peaks to `peaks_json` (one decode)."""
    from .libav import RATE, decode_mono

    samples = decode_mono(Path(path))
    write_waveform(
        samples, Path(png), Path(peaks_json), width=width, height=height, peaks=peaks, rate=RATE
    )
